//! A small catalog API over HTTP on loopback, for the `rest` connector's
//! tests: every paging style over one catalog, credentials of every auth
//! style, an OAuth 2 token endpoint, write-back endpoints, and faults
//! injected per request (statuses, Retry-After, delays, broken bodies,
//! dropped connections). Its own code: it shares nothing with the PIM
//! sandbox.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// Records in the catalog.
pub const CATALOG: usize = 1234;

/// The largest page the server gives.
pub const MAX_PAGE: usize = 100;

/// One request as the server saw it.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A fault for the next data request (token requests are not faulted).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (and an error body).
    Status(u16),
    /// Answer with this status and `Retry-After: value`.
    RetryAfter(u16, String),
    /// Wait this long before answering.
    Delay(Duration),
    /// Start the body, then break the connection.
    BreakBody,
}

/// Credentials the server wants.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Header(String, String),
    Basic(String, String),
    OAuth2 {
        client_id: String,
        secret: String,
        expires_in: u64,
    },
}

pub struct Fixture {
    pub catalog: Vec<Value>,
    pub seen: Mutex<Vec<Seen>>,
    pub faults: Mutex<VecDeque<Fault>>,
    pub auth: Mutex<Auth>,
    /// Tokens issued (in order) and the ones still valid.
    pub issued: Mutex<Vec<String>>,
    pub valid: Mutex<HashSet<String>>,
    /// New connections to drop at once (a reset before any answer).
    pub drop_connections: AtomicUsize,
    /// Keys whose write-back fails.
    pub fail_keys: Mutex<HashSet<String>>,
    /// Write-back requests: (method, path, body).
    pub writes: Mutex<Vec<(Method, String, Value)>>,
    pub base: Mutex<String>,
    /// Refuse every OAuth 2 token (a client that is not allowed in).
    pub reject_tokens: std::sync::atomic::AtomicBool,
}

pub struct Server {
    pub url: String,
    pub fx: Arc<Fixture>,
}

impl Server {
    /// Requests seen on `path` (token requests have their own path).
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.fx
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.seen(path).len()
    }

    pub fn fault(&self, f: Fault) {
        self.fx.faults.lock().unwrap().push_back(f);
    }

    pub fn set_auth(&self, a: Auth) {
        *self.fx.auth.lock().unwrap() = a;
    }

    /// Make every issued token invalid (the next request gets a 401).
    pub fn revoke_tokens(&self) {
        self.fx.valid.lock().unwrap().clear();
    }

    pub fn tokens_issued(&self) -> usize {
        self.fx.issued.lock().unwrap().len()
    }

    pub fn writes(&self) -> Vec<(Method, String, Value)> {
        self.fx.writes.lock().unwrap().clone()
    }
}

/// The catalog's record `i`: ids in order, one update a minute from
/// 2025-01-01T00:00:00Z.
pub fn record(i: usize) -> Value {
    let t = time::OffsetDateTime::from_unix_timestamp(1_735_689_600 + 60 * i as i64).unwrap();
    json!({
        "id": format!("P{i:04}"),
        "Name": format!("Product {i}"),
        "LastUpdated": t.format(&time::format_description::well_known::Rfc3339).unwrap(),
    })
}

struct Flaky {
    inner: tokio::net::TcpListener,
    fx: Arc<Fixture>,
}

impl axum::serve::Listener for Flaky {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.inner.accept().await else {
                continue;
            };
            let drop_it = self
                .fx
                .drop_connections
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if drop_it {
                drop(s);
                continue;
            }
            return (s, a);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

pub async fn start() -> Server {
    let fx = Arc::new(Fixture {
        catalog: (0..CATALOG).map(record).collect(),
        seen: Mutex::new(Vec::new()),
        faults: Mutex::new(VecDeque::new()),
        auth: Mutex::new(Auth::None),
        issued: Mutex::new(Vec::new()),
        valid: Mutex::new(HashSet::new()),
        drop_connections: AtomicUsize::new(0),
        fail_keys: Mutex::new(HashSet::new()),
        writes: Mutex::new(Vec::new()),
        base: Mutex::new(String::new()),
        reject_tokens: std::sync::atomic::AtomicBool::new(false),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    *fx.base.lock().unwrap() = url.clone();
    let app = Router::new().fallback(handle).with_state(fx.clone());
    let flaky = Flaky {
        inner: listener,
        fx: fx.clone(),
    };
    tokio::spawn(async move {
        let _ = axum::serve(flaky, app).await;
    });
    Server { url, fx }
}

fn query_map(q: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::to_vec(&v).unwrap(),
    )
        .into_response()
}

fn param(q: &HashMap<String, String>, k: &str, default: usize) -> usize {
    q.get(k).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn handle(
    State(fx): State<Arc<Fixture>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_query = uri.query().unwrap_or("").to_string();
    let q = query_map(&raw_query);
    let path = uri.path().to_string();
    fx.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        query: q.clone(),
        raw_query: raw_query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if path == "/oauth/token" {
        return token(&fx, &headers, &body);
    }
    if let Some(r) = check_auth(&fx, &headers) {
        return r;
    }
    let fault = fx.faults.lock().unwrap().pop_front();
    match fault {
        Some(Fault::Status(s)) => {
            return json_response(
                StatusCode::from_u16(s).unwrap(),
                json!({"error": format!("injected {s}")}),
            )
        }
        Some(Fault::RetryAfter(s, v)) => {
            let mut r = json_response(
                StatusCode::from_u16(s).unwrap(),
                json!({"error": "slow down"}),
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_str(&v).unwrap());
            return r;
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::BreakBody) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"data\": [")),
                Err(std::io::Error::other("broken")),
            ];
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap();
        }
        None => {}
    }
    let base = fx.base.lock().unwrap().clone();
    let cat = &fx.catalog;
    let since = q.get("updated_since").cloned();
    let filtered: Vec<Value>;
    let cat: &[Value] = if let Some(s) = &since {
        filtered = cat
            .iter()
            .filter(|r| r["LastUpdated"].as_str().unwrap() >= s.as_str())
            .cloned()
            .collect();
        &filtered
    } else {
        cat
    };
    let slice = |from: usize, n: usize| -> Vec<Value> {
        cat.iter()
            .skip(from)
            .take(n.min(MAX_PAGE))
            .cloned()
            .collect()
    };
    match (method.clone(), path.as_str()) {
        (Method::GET, "/page") => {
            let page = param(&q, "page", 1);
            let per = param(&q, "per_page", 25);
            // total_pages lies: the client must stop on the short page.
            json_response(
                StatusCode::OK,
                json!({"data": slice((page.max(1) - 1) * per.min(MAX_PAGE), per), "meta": {"total_pages": 999}}),
            )
        }
        (Method::GET, "/offset") => {
            let off = param(&q, "offset", 0);
            let lim = param(&q, "limit", 10);
            json_response(StatusCode::OK, json!({"results": slice(off, lim)}))
        }
        (Method::GET, "/cursor") => {
            let from = q
                .get("cursor")
                .map(|c| c.trim_start_matches('c').parse::<usize>().unwrap())
                .unwrap_or(0);
            let items = slice(from, 100);
            let next = from + items.len();
            let next = if next < cat.len() {
                json!(format!("c{next}"))
            } else {
                json!(null)
            };
            json_response(
                StatusCode::OK,
                json!({"data": {"items": items}, "meta": {"next_cursor": next}}),
            )
        }
        (Method::GET, "/link") => {
            let page = param(&q, "page", 1);
            let items = slice((page - 1) * 100, 100);
            let mut r = json_response(StatusCode::OK, json!(items));
            if page * 100 < cat.len() {
                let link = format!(
                    "</link?page=1>; rel=\"first\", </link?page={}>; rel=\"next\"",
                    page + 1
                );
                r.headers_mut()
                    .insert("link", HeaderValue::from_str(&link).unwrap());
            }
            r
        }
        (Method::GET, "/next") => {
            let page = param(&q, "page", 1);
            let items = slice((page - 1) * 100, 100);
            let next = if page * 100 < cat.len() {
                json!(format!(
                    "{base}/next?page={}&access_token=CANARY-IN-URL",
                    page + 1
                ))
            } else {
                json!(null)
            };
            json_response(
                StatusCode::OK,
                json!({"items": items, "links": {"next": next}}),
            )
        }
        (Method::GET, "/loop") => {
            // The next cursor is always "A": page 2 points at itself.
            let from = if q.contains_key("cursor") { 100 } else { 0 };
            json_response(
                StatusCode::OK,
                json!({"data": {"items": slice(from, 100)}, "meta": {"next_cursor": "A"}}),
            )
        }
        (Method::GET, "/same") => {
            // Ignores the page parameter.
            json_response(StatusCode::OK, json!({"data": slice(0, 100)}))
        }
        (Method::GET, "/endless") => {
            let page = param(&q, "page", 1);
            let items: Vec<Value> = (0..10)
                .map(|i| json!({"id": format!("E{page}-{i}")}))
                .collect();
            json_response(StatusCode::OK, json!({"data": items}))
        }
        (Method::GET, "/mixed") => json_response(
            StatusCode::OK,
            json!({"data": [record(0), "not a record", 3, record(1)]}),
        ),
        (Method::GET, "/nolist") => {
            json_response(StatusCode::OK, json!({"dataa": [record(0)], "meta": {}}))
        }
        (Method::GET, "/products/count") => {
            json_response(StatusCode::OK, json!({"meta": {"count": cat.len()}}))
        }
        (Method::GET, "/echo") => {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("invalid request with {auth} and query {raw_query}")}),
            )
        }
        (Method::GET, "/away") => Response::builder()
            .status(302)
            .header("location", "http://127.0.0.2:9/elsewhere")
            .body(Body::empty())
            .unwrap(),
        (Method::POST | Method::PATCH | Method::PUT, p) => write(&fx, method, p, &body),
        _ => json_response(StatusCode::NOT_FOUND, json!({"error": "no such endpoint"})),
    }
}

fn token(fx: &Fixture, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = query_map(std::str::from_utf8(body).unwrap_or(""));
    let Auth::OAuth2 {
        client_id,
        secret,
        expires_in,
    } = fx.auth.lock().unwrap().clone()
    else {
        return json_response(StatusCode::NOT_FOUND, json!({"error": "no oauth"}));
    };
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ok_form =
        form.get("client_id") == Some(&client_id) && form.get("client_secret") == Some(&secret);
    let ok_basic = basic.as_deref().is_some_and(|b| {
        use base64::Engine as _;
        let expect =
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        b == format!("Basic {expect}")
    });
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || !(ok_form || ok_basic)
    {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "got": form.get("client_secret")}),
        );
    }
    let mut issued = fx.issued.lock().unwrap();
    let t = format!("tok-{}", issued.len() + 1);
    issued.push(t.clone());
    fx.valid.lock().unwrap().insert(t.clone());
    json_response(
        StatusCode::OK,
        json!({"access_token": t, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

fn check_auth(fx: &Fixture, headers: &HeaderMap) -> Option<Response> {
    let get = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ok = match &*fx.auth.lock().unwrap() {
        Auth::None => true,
        Auth::Bearer(t) => get("authorization") == Some(format!("Bearer {t}")),
        Auth::Header(h, v) => get(h) == Some(v.clone()),
        Auth::Basic(u, p) => {
            use base64::Engine as _;
            let expect = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            get("authorization") == Some(format!("Basic {expect}"))
        }
        Auth::OAuth2 { .. } => get("authorization")
            .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
            .is_some_and(|t| {
                !fx.reject_tokens.load(Ordering::SeqCst) && fx.valid.lock().unwrap().contains(&t)
            }),
    };
    if ok {
        return None;
    }
    // Echo what was sent: the client must not repeat it.
    let sent = get("authorization").unwrap_or_default();
    Some(json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": format!("bad credentials: {sent}")}),
    ))
}

fn write(fx: &Fixture, method: Method, path: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    fx.writes
        .lock()
        .unwrap()
        .push((method, path.to_string(), v.clone()));
    let fail = fx.fail_keys.lock().unwrap().clone();
    if path == "/bulk" {
        let items = match &v {
            Value::Array(a) => a.clone(),
            Value::Object(m) => m
                .get("updates")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let results: Vec<Value> = items
            .iter()
            .map(|i| {
                let key = i["key"].as_str().unwrap_or("");
                if fail.contains(key) {
                    json!({"key": key, "error": "no such product"})
                } else {
                    json!({"key": key, "ok": true})
                }
            })
            .collect();
        return json_response(StatusCode::OK, json!({"data": {"results": results}}));
    }
    if let Some(key) = path.rsplit('/').next() {
        let key = url::form_urlencoded::parse(format!("k={key}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if fail.contains(&key) {
            return json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": format!("cannot update {key}")}),
            );
        }
    }
    json_response(StatusCode::OK, json!({"ok": true}))
}
