//! The HTTP face of the emulated PIM: the API routes behind one layer
//! (bearer auth, faults, latency, statistics), the token endpoint, the
//! five paging styles and `filter[<field>]` filters, write-backs and
//! images, the store API's writes (`POST` a record, `PUT` and `DELETE`
//! one), and the `/__sandbox/` control endpoints. Business rules live in
//! `store`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::auth::{self, form_pairs, query_encode, Check};
use super::faults::{known_target, PimFault, PimFaultKind, Scripted};
use super::store::{
    fmt_time, parse_time, Entity, PimStore, Refused, Start, DEFAULT_PER_PAGE, MAX_BATCH,
    MAX_PER_PAGE,
};
use super::{files, Pim, PimStats};
use crate::runtime::lock;
use crate::server::ConnKill;

type App = Arc<Pim>;

/// The largest body of `POST /__sandbox/seed`.
const SEED_LIMIT: usize = 1 << 30;

/// Build the router.
/// The list, count and per-record routes of one entity under `base`.
fn entity_routes(base: &str, e: Entity) -> Router<App> {
    Router::new()
        .route(
            base,
            get(move |s: State<App>, h: HeaderMap, q: RawQuery| list(s, e, h, q))
                .patch(move |s: State<App>, b: Bytes| batch_writeback(s, e, b))
                .post(move |s: State<App>, b: Bytes| create_record(s, e, b)),
        )
        .route(
            &format!("{base}/count"),
            get(move |s: State<App>, q: RawQuery| count(s, e, q)),
        )
        .route(
            &format!("{base}/{{key}}"),
            get(move |s: State<App>, p: Path<String>, q: RawQuery| get_one(s, e, p, q))
                .patch(move |s: State<App>, p: Path<String>, b: Bytes| writeback(s, e, p, b))
                .put(move |s: State<App>, p: Path<String>, b: Bytes| update_record(s, e, p, b))
                .delete(move |s: State<App>, p: Path<String>| delete_record(s, e, p)),
        )
}

pub(super) fn router(pim: App) -> Router {
    let api = Router::new()
        .route("/oauth/token", post(token))
        .merge(entity_routes("/categories", Entity::Category))
        .merge(entity_routes("/products", Entity::Product))
        .route("/products/{key}/images", get(list_images).post(add_image))
        .route("/images/count", get(count_images))
        .route(
            "/files",
            post(files::post_form).layer(DefaultBodyLimit::max(files::MAX_FILE_BYTES + 64 * 1024)),
        )
        .route(
            "/files/{name}",
            put(files::put_raw).layer(DefaultBodyLimit::max(files::MAX_FILE_BYTES)),
        )
        .route(
            "/images/{id}",
            get(get_image).put(put_image).delete(delete_image),
        )
        .route_layer(middleware::from_fn_with_state(pim.clone(), api_layer));
    let control = Router::new()
        // Served without credentials, as a CDN serves a store's files.
        .route("/files/{id}/{name}", get(files::get))
        .route("/__sandbox/files", get(list_files))
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/snapshot", get(snapshot))
        .route("/__sandbox/writebacks", get(writebacks))
        .route(
            "/__sandbox/seed",
            post(seed).layer(DefaultBodyLimit::max(SEED_LIMIT)),
        )
        .route("/__sandbox/reset", post(reset))
        .route(
            "/__sandbox/faults",
            post(script_faults).delete(clear_faults),
        )
        .route("/__sandbox/clock", get(get_clock).post(set_clock))
        .route(
            "/__sandbox/categories/{key}",
            post(|s: State<App>, h: HeaderMap, p: Path<String>, b: Bytes| {
                edit(s, Entity::Category, h, p, b)
            })
            .delete(|s: State<App>, h: HeaderMap, p: Path<String>| {
                remove(s, Entity::Category, h, p)
            }),
        )
        .route(
            "/__sandbox/products/{key}",
            post(|s: State<App>, h: HeaderMap, p: Path<String>, b: Bytes| {
                edit(s, Entity::Product, h, p, b)
            })
            .delete(|s: State<App>, h: HeaderMap, p: Path<String>| {
                remove(s, Entity::Product, h, p)
            }),
        );
    api.merge(control)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(pim)
}

// ---------------------------------------------------------------- answers

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &json!({"error": code, "message": message.to_string()}),
    )
}

fn refused(r: &Refused) -> Response {
    json_response(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
        &r.body(),
    )
}

async fn not_found(req: Request) -> Response {
    error(
        404,
        "not_found",
        format!("no route {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    error(
        405,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// A refusal built before the handler answers (boxed: a `Response` is large).
type Bad = Box<Response>;

/// The JSON object of a body, or the 400 that refuses it.
fn object_body(body: &Bytes) -> Result<Map<String, Value>, Bad> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Box::new(error(
            400,
            "invalid_body",
            "the body must be a JSON object",
        ))),
        Err(e) => Err(Box::new(error(
            400,
            "invalid_body",
            format!("the body is not JSON: {e}"),
        ))),
    }
}

/// Persist, then answer `resp`; a state file that cannot be written is a 500.
async fn persisted(pim: &Pim, resp: Response) -> Response {
    match pim.persist().await {
        Ok(()) => resp,
        Err(e) => {
            tracing::error!(error = %e, "could not persist the PIM");
            error(500, "state_not_persisted", e)
        }
    }
}

/// `http://host` of the request (its `Host`), else the bound address.
fn base(pim: &Pim, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| pim.base_url.clone())
}

// ---------------------------------------------------------------- the layer

fn record(pim: &Pim, route: &str, status: &str) {
    let mut s = lock(&pim.stats);
    s.requests += 1;
    *s.by_route
        .entry(route.to_string())
        .or_default()
        .entry(status.to_string())
        .or_default() += 1;
}

fn unauthorized(check: Check) -> Response {
    let (code, description) = match check {
        Check::Missing => (
            "unauthorized",
            "an Authorization: Bearer <token> header is required",
        ),
        Check::Expired => ("invalid_token", "the access token expired"),
        _ => ("invalid_token", "the access token is not valid"),
    };
    let mut resp = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": code, "error_description": description}),
    );
    let challenge = if check == Check::Missing {
        "Bearer realm=\"pim\"".to_string()
    } else {
        format!(
            "Bearer realm=\"pim\", error=\"invalid_token\", error_description=\"{description}\""
        )
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn check_bearer(pim: &Pim, headers: &HeaderMap) -> Check {
    let h = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    lock(&pim.tokens).check(h, pim.config.token.as_deref())
}

/// Control endpoints need a valid bearer token only when a static token
/// is configured.
fn control_denied(pim: &Pim, headers: &HeaderMap) -> Option<Response> {
    pim.config.token.as_ref()?;
    match check_bearer(pim, headers) {
        Check::Valid => None,
        other => Some(unauthorized(other)),
    }
}

fn fault_answer(f: &PimFault) -> Response {
    match f.kind {
        PimFaultKind::TooManyRequests => {
            let mut resp = error(
                429,
                "rate_limited",
                format!("too many requests; retry after {} s", f.retry_after),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(f.retry_after));
            resp
        }
        _ => {
            let status = StatusCode::from_u16(f.status)
                .ok()
                .filter(|s| s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(
                status.as_u16(),
                "server_error",
                status.canonical_reason().unwrap_or("Server Error"),
            )
        }
    }
}

async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.0.notify_one();
            std::future::pending::<Response>().await
        }
        None => error(500, "server_error", "connection reset"),
    }
}

/// Every API route: bearer token (not for the token endpoint), a fault if
/// one is due (before the request, or after it was applied), latency,
/// statistics.
async fn api_layer(
    State(pim): State<App>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let route = format!("{} {}", req.method(), matched.as_str());
    let kill = req.extensions().get::<ConnKill>().cloned();
    if route != "POST /oauth/token" {
        let check = check_bearer(&pim, req.headers());
        if check != Check::Valid {
            record(&pim, &route, "401");
            return unauthorized(check);
        }
    }
    let fault = lock(&pim.faults).draw_for(&route);
    if let Some(f) = &fault {
        let mut s = lock(&pim.stats);
        s.faults += 1;
        *s.faults_by_kind.entry(f.kind.name().into()).or_default() += 1;
    }
    let timeout = pim.config.fault_timeout;
    if let Some(f) = fault.filter(|f| !f.after || f.kind == PimFaultKind::TooManyRequests) {
        tracing::debug!(kind = f.kind.name(), %route, "fault injected before the request");
        match f.kind {
            PimFaultKind::Reset => {
                record(&pim, &route, "reset");
                return drop_connection(kill).await;
            }
            PimFaultKind::Timeout => {
                tokio::time::sleep(timeout).await;
                record(&pim, &route, "504");
                return error(
                    504,
                    "gateway_timeout",
                    "the upstream did not answer in time",
                );
            }
            _ => {
                let resp = fault_answer(&f);
                record(&pim, &route, resp.status().as_str());
                return resp;
            }
        }
    }
    let mut resp = next.run(req).await;
    if let Some(f) = fault {
        tracing::debug!(kind = f.kind.name(), %route, "fault injected after the request");
        match f.kind {
            PimFaultKind::Reset => {
                record(&pim, &route, "reset");
                return drop_connection(kill).await;
            }
            // The answer comes, too late for a client with a shorter timeout.
            PimFaultKind::Timeout => tokio::time::sleep(timeout).await,
            _ => resp = fault_answer(&f),
        }
    }
    if !pim.config.latency.is_zero() {
        tokio::time::sleep(pim.config.latency).await;
    }
    record(&pim, &route, resp.status().as_str());
    resp
}

// ---------------------------------------------------------------- token

/// `POST /oauth/token`: client credentials from the form body (or JSON),
/// or HTTP basic.
async fn token(State(pim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        let mut r = json_response(
            status,
            &json!({"error": code, "error_description": description}),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let pairs: Vec<(String, String)> = if is_json {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => m
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the body must be a form (or a JSON object)",
                )
            }
        }
    } else {
        form_pairs(&String::from_utf8_lossy(&body))
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match get("grant_type").as_deref() {
        Some("client_credentials") => {}
        None | Some("") => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            )
        }
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::basic);
    let creds = basic
        .clone()
        .or_else(|| Some((get("client_id")?, get("client_secret").unwrap_or_default())));
    let good = creds.is_some_and(|(id, secret)| {
        id == pim.config.client_id && secret == pim.config.client_secret
    });
    if !good {
        let mut r = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if basic.is_some() {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pim\""),
            );
        }
        return r;
    }
    let ttl = pim.config.token_ttl;
    let access = lock(&pim.tokens).issue(ttl);
    let expires_in = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    let mut r = ok(&json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

// ---------------------------------------------------------------- lists

/// How a list request pages.
#[derive(Debug, Clone, PartialEq)]
enum Style {
    /// `page` (1-based) and `per_page`.
    Page(usize),
    /// `offset` and `limit`.
    Offset(usize),
    /// `cursor` (absent or empty: the first page); the key it continues after.
    Cursor(Option<String>),
}

/// A parsed list request.
struct ListQuery {
    style: Style,
    size: usize,
    since: Option<time::OffsetDateTime>,
    /// `filter[<field>]=<value>`: records whose field has this value.
    filters: Vec<(String, String)>,
    images: bool,
    /// The parameters a next link carries over (all but the position).
    keep: Vec<(String, String)>,
}

const CURSOR_PREFIX: &str = "k1:";

fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

fn decode_cursor(c: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.trim().trim_end_matches('='))
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix(CURSOR_PREFIX)
        .map(str::to_string)
}

fn invalid(param: &str, message: impl std::fmt::Display) -> Bad {
    Box::new(json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_parameter", "parameter": param, "message": message.to_string()}),
    ))
}

fn since_of(pairs: &[(String, String)]) -> Result<Option<time::OffsetDateTime>, Bad> {
    match last(pairs, "updated_since") {
        None => Ok(None),
        Some(s) => parse_time(s).map(Some).ok_or_else(|| {
            invalid(
                "updated_since",
                format!("'{s}' is not an RFC 3339 time (2026-01-31T12:00:00Z)"),
            )
        }),
    }
}

/// The `filter[<field>]=<value>` parameters, as `(field, value)`.
fn filters_of(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            let field = k.strip_prefix("filter[")?.strip_suffix(']')?;
            (!field.is_empty()).then(|| (field.to_string(), v.clone()))
        })
        .collect()
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl ListQuery {
    fn parse(pairs: &[(String, String)], entity: Entity) -> Result<Self, Bad> {
        let page = last(pairs, "page");
        let offset = last(pairs, "offset");
        let cursor = last(pairs, "cursor");
        let per_page = last(pairs, "per_page");
        let limit = last(pairs, "limit");
        if [page, offset, cursor]
            .iter()
            .filter(|p| p.is_some())
            .count()
            > 1
        {
            return Err(invalid(
                "page",
                "use one of page, offset and cursor, not several",
            ));
        }
        if per_page.is_some() && limit.is_some() {
            return Err(invalid("limit", "use per_page or limit, not both"));
        }
        let (size_name, size) = match (per_page, limit) {
            (Some(v), _) => ("per_page", Some(v)),
            (_, Some(v)) => ("limit", Some(v)),
            _ => ("per_page", None),
        };
        let size = match size {
            None => DEFAULT_PER_PAGE,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        size_name,
                        format!("{size_name} must be between 1 and {MAX_PER_PAGE} (got '{v}')"),
                    ))
                }
            },
        };
        let style =
            if let Some(c) = cursor {
                if c.trim().is_empty() {
                    Style::Cursor(None)
                } else {
                    Style::Cursor(Some(decode_cursor(c).ok_or_else(|| {
                        Box::new(json_response(
                            StatusCode::BAD_REQUEST,
                            &json!({"error": "invalid_cursor", "parameter": "cursor",
                                "message": "the cursor is not one this API gave out"}),
                        ))
                    })?))
                }
            } else if let Some(o) = offset {
                Style::Offset(o.trim().parse().map_err(|_| {
                    invalid("offset", format!("offset must be 0 or more (got '{o}')"))
                })?)
            } else if let Some(p) = page {
                match p.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Style::Page(n),
                    _ => {
                        return Err(invalid(
                            "page",
                            format!("page must be 1 or more (got '{p}')"),
                        ))
                    }
                }
            } else if limit.is_some() {
                Style::Offset(0)
            } else {
                Style::Page(1)
            };
        let since = since_of(pairs)?;
        let images = entity == Entity::Product
            && pairs
                .iter()
                .filter(|(k, _)| k == "include")
                .flat_map(|(_, v)| v.split(','))
                .any(|v| v.trim().eq_ignore_ascii_case("images"));
        let keep = pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "page" | "offset" | "cursor"))
            .cloned()
            .collect();
        Ok(ListQuery {
            style,
            size,
            since,
            filters: filters_of(pairs),
            images,
            keep,
        })
    }

    /// The URL of the page after this one.
    fn next_url(
        &self,
        base: &str,
        path: &str,
        offset: usize,
        count: usize,
        cursor: &str,
    ) -> String {
        let position = match &self.style {
            Style::Page(p) => ("page", (p + 1).to_string()),
            Style::Offset(_) => ("offset", (offset + count).to_string()),
            Style::Cursor(_) => ("cursor", cursor.to_string()),
        };
        let query: Vec<String> = self
            .keep
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(std::iter::once((position.0, position.1.as_str())))
            .map(|(k, v)| format!("{}={}", query_encode(k), query_encode(v)))
            .collect();
        format!("{base}{path}?{}", query.join("&"))
    }
}

/// `GET /categories`, `GET /products`.
async fn list(
    State(pim): State<App>,
    entity: Entity,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let pairs = form_pairs(&raw);
    let q = match ListQuery::parse(&pairs, entity) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let path = format!("/{}", entity.plural());
    let base = base(&pim, &headers);
    let (data, total, offset, next_cursor) = {
        let st = lock(&pim.store);
        let table = st.table(entity);
        let start = match &q.style {
            Style::Page(p) => Start::Offset((p - 1).saturating_mul(q.size)),
            Style::Offset(o) => Start::Offset(*o),
            Style::Cursor(None) => Start::Offset(0),
            Style::Cursor(Some(k)) => Start::After(k),
        };
        let page = table.page_where(q.since, &q.filters, start, q.size);
        let data: Vec<Value> = page.items.iter().map(|r| r.render(q.images)).collect();
        let next = page
            .more
            .then(|| page.items.last().map(|r| encode_cursor(&r.key)))
            .flatten();
        (data, page.total, page.offset, next)
    };
    let next_url = next_cursor
        .as_deref()
        .map(|c| q.next_url(&base, &path, offset, data.len(), c));
    let self_url = if raw.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{raw}")
    };
    let body = json!({
        "data": data,
        "meta": {
            "total": total,
            "total_pages": total.div_ceil(q.size),
            "page": match q.style { Style::Page(p) => json!(p), _ => Value::Null },
            "per_page": q.size,
            "offset": offset,
            "limit": q.size,
            "next_cursor": next_cursor,
        },
        "links": {"self": self_url, "next": next_url},
    });
    let mut resp = ok(&body);
    if let Some(n) = &next_url {
        if let Ok(v) = HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

/// `GET /categories/count`, `GET /products/count`.
async fn count(State(pim): State<App>, entity: Entity, RawQuery(raw): RawQuery) -> Response {
    let pairs = form_pairs(&raw.unwrap_or_default());
    let since = match since_of(&pairs) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let n = lock(&pim.store)
        .table(entity)
        .count_where(since, &filters_of(&pairs));
    ok(&json!({ "count": n }))
}

/// `GET /categories/{key}`, `GET /products/{key}`.
async fn get_one(
    State(pim): State<App>,
    entity: Entity,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = form_pairs(&raw.unwrap_or_default());
    let images = entity == Entity::Product
        && pairs
            .iter()
            .filter(|(k, _)| k == "include")
            .flat_map(|(_, v)| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case("images"));
    match lock(&pim.store).table(entity).get(&key) {
        Some(r) => ok(&json!({"data": r.render(images)})),
        None => error(
            404,
            "not_found",
            format!("no {} with the key '{key}'", entity.singular()),
        ),
    }
}

// ---------------------------------------------------------------- write-back

/// `PATCH /categories/{key}`, `PATCH /products/{key}`: merge the fields.
async fn writeback(
    State(pim): State<App>,
    entity: Entity,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).writeback(entity, &key, &fields, now);
    match out {
        Ok(record) => persisted(&pim, ok(&json!({ "data": record }))).await,
        Err(r) => refused(&r),
    }
}

/// `PATCH /categories`, `PATCH /products`: `[{"key": K, "fields": {...}}]`,
/// each item on its own.
async fn batch_writeback(State(pim): State<App>, entity: Entity, body: Bytes) -> Response {
    let items = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(a)) => a,
        Ok(_) => {
            return error(
                400,
                "invalid_body",
                "the body must be a JSON list of {\"key\": ..., \"fields\": {...}}",
            )
        }
        Err(e) => return error(400, "invalid_body", format!("the body is not JSON: {e}")),
    };
    if items.len() > MAX_BATCH {
        return error(
            400,
            "batch_too_large",
            format!(
                "a batch has at most {MAX_BATCH} items (got {})",
                items.len()
            ),
        );
    }
    let now = pim.now();
    let mut results = Vec::with_capacity(items.len());
    let (mut updated, mut failed) = (0, 0);
    {
        let mut st = lock(&pim.store);
        for (i, item) in items.iter().enumerate() {
            let key = super::store::key_of(item.get("key"));
            let fields = item.get("fields").and_then(Value::as_object);
            let outcome = match (&key, fields) {
                (Some(k), Some(f)) => st.writeback(entity, k, f, now).map(|_| ()),
                _ => Err(Refused {
                    status: 400,
                    code: "invalid_item",
                    message: "an item is {\"key\": <text>, \"fields\": {...}}".into(),
                    field: None,
                }),
            };
            let mut res = json!({"index": i, "key": key});
            match outcome {
                Ok(()) => {
                    updated += 1;
                    res["status"] = json!(200);
                }
                Err(r) => {
                    failed += 1;
                    res["status"] = json!(r.status);
                    if let (Value::Object(m), Value::Object(b)) = (&mut res, r.body()) {
                        m.extend(b);
                    }
                }
            }
            results.push(res);
        }
    }
    let body = json!({"results": results, "updated": updated, "failed": failed});
    persisted(&pim, ok(&body)).await
}

// ---------------------------------------------------------------- store writes

/// `POST /categories`, `POST /products`: a new record; its key is the key
/// field of the body, or the next free number.
async fn create_record(State(pim): State<App>, entity: Entity, body: Bytes) -> Response {
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).create(entity, &fields, now);
    match out {
        Ok((key, record)) => {
            let mut resp = json_response(StatusCode::CREATED, &json!({ "data": record }));
            let location = format!("/{}/{}", entity.plural(), query_encode(&key));
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            persisted(&pim, resp).await
        }
        Err(r) => refused(&r),
    }
}

/// `PUT /categories/{key}`, `PUT /products/{key}`: the body's fields
/// replace the record's (a `null` removes one).
async fn update_record(
    State(pim): State<App>,
    entity: Entity,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).update(entity, &key, &fields, now);
    match out {
        Ok(record) => persisted(&pim, ok(&json!({ "data": record }))).await,
        Err(r) => refused(&r),
    }
}

/// `DELETE /categories/{key}`, `DELETE /products/{key}`.
async fn delete_record(
    State(pim): State<App>,
    entity: Entity,
    Path(key): Path<String>,
) -> Response {
    let gone = lock(&pim.store).delete(entity, &key);
    if gone {
        persisted(&pim, StatusCode::NO_CONTENT.into_response()).await
    } else {
        error(
            404,
            "not_found",
            format!("no {} with the key '{key}'", entity.singular()),
        )
    }
}

// ---------------------------------------------------------------- images

async fn list_images(State(pim): State<App>, Path(key): Path<String>) -> Response {
    match lock(&pim.store).images_of(&key) {
        Ok(list) => ok(&json!({"data": list, "meta": {"total": list.len()}})),
        Err(r) => refused(&r),
    }
}

async fn add_image(State(pim): State<App>, Path(key): Path<String>, body: Bytes) -> Response {
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).add_image(&key, &fields, now);
    match out {
        Ok(image) => {
            let mut resp = json_response(StatusCode::CREATED, &json!({ "data": image }));
            if let Ok(v) = HeaderValue::from_str(&format!("/images/{}", image["id"])) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            persisted(&pim, resp).await
        }
        Err(r) => refused(&r),
    }
}

fn image_id(id: &str) -> Result<u64, Bad> {
    id.parse::<u64>().map_err(|_| {
        Box::new(error(
            404,
            "not_found",
            format!("no image with the id {id}"),
        ))
    })
}

async fn get_image(State(pim): State<App>, Path(id): Path<String>) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match lock(&pim.store).image(id) {
        Ok(image) => ok(&json!({ "data": image })),
        Err(r) => refused(&r),
    }
}

async fn put_image(State(pim): State<App>, Path(id): Path<String>, body: Bytes) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).put_image(id, &fields, now);
    match out {
        Ok(image) => persisted(&pim, ok(&json!({ "data": image }))).await,
        Err(r) => refused(&r),
    }
}

async fn delete_image(State(pim): State<App>, Path(id): Path<String>) -> Response {
    let id = match image_id(&id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).delete_image(id, now);
    match out {
        Ok(()) => persisted(&pim, StatusCode::NO_CONTENT.into_response()).await,
        Err(r) => refused(&r),
    }
}

async fn count_images(State(pim): State<App>) -> Response {
    ok(&json!({"count": lock(&pim.store).image_count()}))
}

// ---------------------------------------------------------------- control

pub(super) fn stats_of(pim: &Pim) -> PimStats {
    let mut s = lock(&pim.stats).clone();
    s.writebacks = lock(&pim.store).writebacks.count;
    s.tokens_issued = lock(&pim.tokens).count;
    s
}

async fn stats(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    ok(&serde_json::to_value(stats_of(&pim)).unwrap_or_default())
}

async fn snapshot(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let v = lock(&pim.store).snapshot();
    ok(&v)
}

async fn list_files(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    ok(&json!({ "data": lock(&pim.files).all() }))
}

async fn writebacks(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let v = serde_json::to_value(&lock(&pim.store).writebacks).unwrap_or_default();
    ok(&v)
}

async fn seed(State(pim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(400, "invalid_seed", format!("the body is not JSON: {e}")),
    };
    let keys = pim.config.keys();
    let new = match PimStore::from_catalog(&v, &keys, pim.now(), pim.config.max_records) {
        Ok(s) => s,
        Err(e) => return error(400, "invalid_seed", e),
    };
    let body = json!({
        "ok": true,
        "categories": new.categories.len(),
        "products": new.products.len(),
        "images": new.image_count(),
    });
    lock(&pim.store).replace(new);
    persisted(&pim, ok(&body)).await
}

async fn reset(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let empty = PimStore::empty(&pim.config.keys());
    lock(&pim.store).replace(empty);
    persisted(&pim, ok(&json!({"ok": true}))).await
}

/// One scripted fault of `POST /__sandbox/faults`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedFault {
    kind: String,
    #[serde(default)]
    after: bool,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    route: Option<String>,
}

impl ScriptedFault {
    fn scripted(&self, default_retry: u64) -> Result<Scripted, String> {
        if let Some(r) = &self.route {
            if !known_target(r) {
                return Err(format!(
                    "unknown route '{r}' (a route such as \"GET /products\" or \"PATCH /products/{{key}}\", or one of read, writeback, images, store, write, token)"
                ));
            }
        }
        if let Some(s) = self.status {
            if !(500..=599).contains(&s) {
                return Err(format!("status {s}: a 5xx fault answers 500 to 599"));
            }
        }
        let fault = match self.kind.as_str() {
            "none" => None,
            k => {
                let kind = k
                    .parse::<PimFaultKind>()
                    .map_err(|_| format!("unknown fault '{k}' (5xx, timeout, reset, 429, none)"))?;
                Some(PimFault {
                    kind,
                    after: self.after && kind != PimFaultKind::TooManyRequests,
                    status: self.status.unwrap_or(500),
                    retry_after: self.retry_after.unwrap_or(default_retry),
                })
            }
        };
        Ok(Scripted {
            fault,
            route: self.route.clone(),
        })
    }
}

async fn script_faults(State(pim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let list: Vec<ScriptedFault> = match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => match serde_json::from_value(v) {
            Ok(f) => vec![f],
            Err(e) => return error(400, "invalid_fault", e),
        },
        Ok(v) => match serde_json::from_value(v) {
            Ok(l) => l,
            Err(e) => return error(400, "invalid_fault", e),
        },
        Err(e) => return error(400, "invalid_fault", format!("the body is not JSON: {e}")),
    };
    let faults = match list
        .iter()
        .map(|f| f.scripted(pim.config.retry_after))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(f) => f,
        Err(e) => return error(400, "invalid_fault", e),
    };
    let n = faults.len();
    let mut q = lock(&pim.faults);
    q.script(faults);
    ok(&json!({"scripted": n, "pending": q.pending()}))
}

async fn clear_faults(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let n = lock(&pim.faults).clear();
    ok(&json!({ "cleared": n }))
}

fn clock_body(pim: &Pim) -> Value {
    let c = *lock(&pim.clock);
    json!({"now": fmt_time(c.now()), "fixed": c.fixed.is_some()})
}

async fn get_clock(State(pim): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    ok(&clock_body(&pim))
}

/// `{"now": "<RFC 3339>"}` fixes the clock, `{"now": null}` goes back to
/// the system clock, `{"advance_secs": N}` moves it on.
async fn set_clock(State(pim): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let m = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let advance = match m.get("advance_secs") {
        None | Some(Value::Null) => 0,
        Some(v) => match v.as_i64() {
            Some(n) => n,
            None => return error(400, "invalid_body", "advance_secs must be an integer"),
        },
    };
    {
        let mut c = lock(&pim.clock);
        match m.get("now") {
            None => {}
            Some(Value::Null) => {
                c.fixed = None;
                c.offset = time::Duration::ZERO;
            }
            Some(Value::String(s)) => match parse_time(s) {
                Some(t) => c.fixed = Some(t),
                None => {
                    return error(
                        400,
                        "invalid_body",
                        format!("'{s}' is not an RFC 3339 time"),
                    )
                }
            },
            Some(_) => return error(400, "invalid_body", "now must be an RFC 3339 time or null"),
        }
        let d = time::Duration::seconds(advance);
        match &mut c.fixed {
            Some(t) => *t += d,
            None => c.offset += d,
        }
    }
    ok(&clock_body(&pim))
}

/// `POST /__sandbox/{categories,products}/{key}`: a PIM user's edit.
async fn edit(
    State(pim): State<App>,
    entity: Entity,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let fields = match object_body(&body) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = pim.now();
    let out = lock(&pim.store).edit(entity, &key, &fields, now);
    match out {
        Ok((record, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            persisted(&pim, json_response(status, &json!({ "data": record }))).await
        }
        Err(r) => refused(&r),
    }
}

/// `DELETE /__sandbox/{categories,products}/{key}`: a PIM user's delete.
async fn remove(
    State(pim): State<App>,
    entity: Entity,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if let Some(r) = control_denied(&pim, &headers) {
        return r;
    }
    let gone = lock(&pim.store).delete(entity, &key);
    if gone {
        persisted(&pim, StatusCode::NO_CONTENT.into_response()).await
    } else {
        error(
            404,
            "not_found",
            format!("no {} with the key '{key}'", entity.singular()),
        )
    }
}
