//! The BigCommerce REST Management API v3 client: `X-Auth-Token`, pacing
//! on the `X-Rate-Limit-*` headers (a pacer shared by every clone),
//! retries of 429 and 5xx, paging and batches (`batch`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use crate::error::BcError;

/// Largest page BigCommerce serves (`limit`).
pub const PAGE_LIMIT: usize = 250;
/// Paging stops with an error after this many pages (250 × 4000 = a
/// million items).
pub const MAX_PAGES: u32 = 4000;
/// Attempts of one request answered 5xx, or not answered while nothing
/// was sent.
pub const MAX_ATTEMPTS: u32 = 5;
/// Timeout of one attempt, unless the client is given another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of one request answered 429.
pub const MAX_THROTTLED: u32 = 8;

/// How to reach a store.
#[derive(Clone)]
pub struct BcConfig {
    /// The API base, `https://api.bigcommerce.com/stores/{hash}/v3` (or
    /// `{url}/stores/{hash}/v3` for an emulated store).
    pub base: Url,
    /// The API account's access token (`X-Auth-Token`).
    pub token: String,
    /// Requests per window, when known before the first answer says it
    /// (the plan's quota); without it the first requests are not held back.
    pub quota_hint: Option<u32>,
}

impl std::fmt::Debug for BcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcConfig")
            .field("base", &self.base.as_str())
            .field("token", &"<redacted>")
            .field("quota_hint", &self.quota_hint)
            .finish()
    }
}

/// One answer of the store (2xx).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The JSON body; `Null` without one.
    pub body: Value,
    /// `X-Request-Id`.
    pub request_id: Option<String>,
}

/// The client; cheap to clone, the clones share the connection pool and
/// the pacer.
#[derive(Clone)]
pub struct BcClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcClient")
            .field("base", &self.inner.base.as_str())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Inner {
    http: reqwest::Client,
    /// `X-Auth-Token`, sent with every request (the HTTP client is shared
    /// by the thread's clients of every store: [`shared_http`]).
    token: HeaderValue,
    base: Url,
    pacer: Arc<Pacer>,
    backoff: Duration,
    stats: Arc<Counters>,
    /// Timeout of one attempt.
    timeout: Duration,
    /// Attempts of a request answered 5xx or not answered.
    attempts: u32,
}

/// What a client and its clones have sent.
#[derive(Debug, Default)]
struct Counters {
    requests: std::sync::atomic::AtomicU64,
    throttled: std::sync::atomic::AtomicU64,
    retried: std::sync::atomic::AtomicU64,
}

/// Requests a client (and its clones) sent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Every attempt.
    pub requests: u64,
    /// Answers 429.
    pub throttled: u64,
    /// Attempts that were a retry.
    pub retried: u64,
}

tokio::task_local! {
    /// The attempts counter of the requests running in [`count_attempts`].
    static ATTEMPTS: Arc<std::sync::atomic::AtomicU32>;
}

/// Runs `f`, adding every attempt of the requests it sends (retries
/// included) to `counter`: what one item's write cost, apart from the
/// other items written at the same time on the same client.
pub async fn count_attempts<F: std::future::Future>(
    counter: Arc<std::sync::atomic::AtomicU32>,
    f: F,
) -> F::Output {
    ATTEMPTS.scope(counter, f).await
}

/// One file of a multipart form (`image_file`).
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The form field's name.
    pub field: String,
    /// The file name sent.
    pub file_name: String,
    /// Its MIME type.
    pub mime: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The HTTP client of this thread's BigCommerce clients, built once: a
/// run of the sync manager connects anew each time, and building a
/// `reqwest::Client` (its TLS configuration) each run cost more than the
/// run's few requests, which also found no open connection to reuse. Per
/// thread, because a connection is driven by a task of the runtime that
/// opened it, and the manager's run workers each have their own runtime on
/// their own thread. It carries no store's token: each request sends its
/// client's.
fn shared_http() -> Result<reqwest::Client, BcError> {
    thread_local! {
        static CLIENT: std::cell::RefCell<Option<reqwest::Client>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(c) = CLIENT.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
        // Reused between a run's requests, not kept (with its buffers)
        // between the sync manager's runs.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| BcError::Config {
            message: format!("HTTP client: {e}"),
        })?;
    CLIENT.with(|c| *c.borrow_mut() = Some(http.clone()));
    Ok(http)
}

impl BcClient {
    /// A client for `config` (no request is sent).
    pub fn new(config: BcConfig) -> Result<BcClient, BcError> {
        let cfg = |m: &str| BcError::Config { message: m.into() };
        if config.token.trim().is_empty() {
            return Err(cfg("the access token is empty"));
        }
        if !matches!(config.base.scheme(), "http" | "https") || config.base.cannot_be_a_base() {
            return Err(cfg("the API base must be an http(s) URL"));
        }
        let mut token = HeaderValue::from_str(&config.token)
            .map_err(|_| cfg("the access token is not a valid header value"))?;
        token.set_sensitive(true);
        let http = shared_http()?;
        Ok(BcClient {
            inner: Arc::new(Inner {
                http,
                token,
                base: config.base,
                pacer: Arc::new(Pacer::new(config.quota_hint)),
                backoff: Duration::from_millis(250),
                stats: Arc::default(),
                timeout: DEFAULT_TIMEOUT,
                attempts: MAX_ATTEMPTS,
            }),
        })
    }

    /// The same client (sharing the pacer and the counters) with `f`
    /// applied to its settings.
    fn with_inner(self, f: impl FnOnce(&mut Inner)) -> BcClient {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| (*shared).clone());
        f(&mut inner);
        BcClient {
            inner: Arc::new(inner),
        }
    }

    /// The same client with another timeout of one attempt (default 60 s;
    /// a zero duration keeps it).
    pub fn with_timeout(self, timeout: Duration) -> BcClient {
        self.with_inner(|i| {
            if !timeout.is_zero() {
                i.timeout = timeout;
            }
        })
    }

    /// The same client with another number of attempts of a request
    /// answered 5xx or not answered (default [`MAX_ATTEMPTS`]; at least 1).
    pub fn with_attempts(self, attempts: u32) -> BcClient {
        self.with_inner(|i| i.attempts = attempts.max(1))
    }

    /// The same client with another first backoff delay of retries (tests).
    pub fn with_backoff(self, first: Duration) -> BcClient {
        self.with_inner(|i| i.backoff = first)
    }

    /// The API base.
    pub fn base(&self) -> &Url {
        &self.inner.base
    }

    /// What this client and its clones have sent so far.
    pub fn stats(&self) -> ClientStats {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.inner.stats;
        ClientStats {
            requests: s.requests.load(Relaxed),
            throttled: s.throttled.load(Relaxed),
            retried: s.retried.load(Relaxed),
        }
    }

    fn count(&self, attempt: u32, throttled: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.inner.stats;
        s.requests.fetch_add(1, Relaxed);
        let _ = ATTEMPTS.try_with(|a| a.fetch_add(1, Relaxed));
        if attempt > 0 {
            s.retried.fetch_add(1, Relaxed);
        }
        if throttled {
            s.throttled.fetch_add(1, Relaxed);
        }
    }

    /// `POST path` with a multipart form: text `fields` and one `file`
    /// (an image upload). A create: retried only when the store cannot
    /// have applied it (429, 503, no connection); otherwise its error is
    /// `maybe_applied`.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, String)],
        file: &FilePart,
    ) -> Result<Answer, BcError> {
        let url = self.url(path, &[])?;
        let pacer = &self.inner.pacer;
        let mut attempt = 0u32;
        loop {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                form = form.text(k.to_string(), v.clone());
            }
            let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name(file.file_name.clone())
                .mime_str(&file.mime)
                .map_err(|e| BcError::Config {
                    message: format!("upload type: {e}"),
                })?;
            form = form.part(file.field.clone(), part);
            let slot = pacer.acquire().await;
            let res = self
                .inner
                .http
                .post(url.clone())
                .header("x-auth-token", self.inner.token.clone())
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .timeout(self.inner.timeout)
                .multipart(form)
                .send()
                .await;
            let resp = match res {
                Ok(r) => r,
                Err(e) => {
                    drop(slot);
                    self.count(attempt, false);
                    let unsent = e.is_connect();
                    attempt += 1;
                    if unsent && attempt < self.inner.attempts {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    return Err(BcError::Transport {
                        message: without_url(&e),
                        maybe_applied: !unsent,
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let limits = RateHeaders::read(&headers);
            pacer.observe(&limits, Instant::now());
            let request_id = header_str(&headers, "x-request-id");
            let raw = resp.bytes().await;
            drop(slot);
            self.count(attempt, status == 429);
            tracing::debug!(
                method = "POST",
                path,
                status,
                left = limits.left,
                "BigCommerce upload"
            );
            let raw = match raw {
                Ok(r) => r,
                Err(e) => {
                    return Err(BcError::Transport {
                        message: without_url(&e),
                        maybe_applied: true,
                    })
                }
            };
            let parsed: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(Answer {
                    status,
                    body: parsed,
                    request_id,
                });
            }
            attempt += 1;
            if (status == 429 || status == 503) && attempt < MAX_THROTTLED {
                let wait = limits
                    .reset_ms
                    .map(|ms| Duration::from_millis(ms.min(3_600_000)) + Duration::from_millis(20))
                    .unwrap_or_else(|| self.backoff(attempt));
                if status == 429 {
                    pacer.hold(Instant::now() + wait);
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            let mut err = BcError::from_answer(status, &parsed);
            if let BcError::Server { maybe_applied, .. } = &mut err {
                *maybe_applied = status != 503;
            }
            return Err(err);
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, BcError> {
        let base = self.inner.base.as_str().trim_end_matches('/');
        let path = path.trim_start_matches('/');
        let mut url = Url::parse(&format!("{base}/{path}")).map_err(|e| BcError::Config {
            message: format!("bad API path '{path}': {e}"),
        })?;
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// `GET path?query`, the body as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, BcError> {
        let a = self.send(Method::GET, path, query, None).await?;
        decode(a.body)
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, BcError> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Answer, BcError> {
        self.send(Method::PUT, path, &[], Some(body)).await
    }

    /// `DELETE path?query`.
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Answer, BcError> {
        self.send(Method::DELETE, path, query, None).await
    }

    /// Send one request: paced, 429 waited for and retried, 5xx and
    /// unsent requests retried with backoff; a non-2xx answer after that
    /// is a [`BcError`]. A `POST` (a create: not idempotent) is retried
    /// only when the store cannot have applied it (429, 503, no
    /// connection); after a 500, 502, 504 or a lost answer its error is
    /// `maybe_applied` (kind `OutcomeUnknown`): the caller looks the item
    /// up before creating it again.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, BcError> {
        self.exchange(method, path, query, body)
            .await
            .map_err(|(e, _)| e)
    }

    /// [`send`](Self::send), an error with the answer's body (`Null`
    /// without one).
    pub(crate) async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, (BcError, Value)> {
        let bare = |e: BcError| (e, Value::Null);
        let url = self.url(path, query).map_err(bare)?;
        let bytes = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| BcError::Decode {
                        message: format!("request body: {e}"),
                    })
                    .map_err(bare)?,
            ),
            None => None,
        };
        let pacer = &self.inner.pacer;
        let idempotent = method != Method::POST;
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            let slot = pacer.acquire().await;
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .header("x-auth-token", self.inner.token.clone())
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .timeout(self.inner.timeout);
            if let Some(b) = &bytes {
                req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            let sent = Instant::now();
            let res = req.send().await;
            let resp = match res {
                Ok(r) => r,
                Err(e) => {
                    drop(slot);
                    self.count(failures + throttled, false);
                    // Nothing reached the store when the connection failed;
                    // otherwise a write may have happened.
                    let unsent = e.is_connect();
                    failures += 1;
                    tracing::debug!(%method, path, error = %e, attempt = failures, "BigCommerce request failed");
                    if (unsent || idempotent) && failures < self.inner.attempts {
                        tokio::time::sleep(self.backoff(failures)).await;
                        continue;
                    }
                    return Err(bare(BcError::Transport {
                        message: without_url(&e),
                        maybe_applied: !unsent && method != Method::GET,
                    }));
                }
            };
            let status = resp.status().as_u16();
            self.count(failures + throttled, status == 429);
            let headers = resp.headers().clone();
            let limits = RateHeaders::read(&headers);
            pacer.observe(&limits, Instant::now());
            let request_id = header_str(&headers, "x-request-id");
            let text = resp.bytes().await;
            drop(slot);
            tracing::debug!(
                %method, path, status,
                request_id = request_id.as_deref().unwrap_or("-"),
                left = limits.left,
                ms = sent.elapsed().as_millis() as u64,
                "BigCommerce request"
            );
            let raw = match text {
                Ok(t) => t,
                Err(e) => {
                    failures += 1;
                    if idempotent && failures < self.inner.attempts {
                        tokio::time::sleep(self.backoff(failures)).await;
                        continue;
                    }
                    return Err(bare(BcError::Transport {
                        message: without_url(&e),
                        maybe_applied: method != Method::GET,
                    }));
                }
            };
            let parsed: Value = if raw.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&raw)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
            };
            if (200..300).contains(&status) {
                if matches!(parsed, Value::String(_)) {
                    return Err(bare(BcError::Decode {
                        message: format!("{method} {path}: the answer ({status}) is not JSON"),
                    }));
                }
                return Ok(Answer {
                    status,
                    body: parsed,
                    request_id,
                });
            }
            if status == 429 {
                throttled += 1;
                let retry_after = header_str(&headers, "x-retry-after")
                    .or_else(|| header_str(&headers, "retry-after"))
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(3600)));
                let reset = limits
                    .reset_ms
                    .map(|ms| Duration::from_millis(ms.min(3_600_000)));
                let wait = match (reset, retry_after) {
                    (None, None) => self.backoff(throttled),
                    (a, b) => a.max(b).unwrap_or_default() + Duration::from_millis(20),
                };
                tracing::debug!(
                    %method, path,
                    request_id = request_id.as_deref().unwrap_or("-"),
                    wait_ms = wait.as_millis() as u64,
                    "BigCommerce throttled the request (429)"
                );
                if throttled < MAX_THROTTLED {
                    pacer.hold(Instant::now() + wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            } else if matches!(status, 500 | 502 | 503 | 504) {
                failures += 1;
                if (idempotent || status == 503) && failures < self.inner.attempts {
                    tokio::time::sleep(self.backoff(failures)).await;
                    continue;
                }
            }
            let mut err = BcError::from_answer(status, &parsed);
            if let BcError::Server { maybe_applied, .. } = &mut err {
                *maybe_applied = !idempotent && status != 503;
            }
            tracing::debug!(
                %method, path, status,
                request_id = request_id.as_deref().unwrap_or("-"),
                error = %err,
                "BigCommerce refused the request"
            );
            return Err((err, parsed));
        }
    }

    /// The delay before retry `n` (1, 2, ...): doubling, at most 10 s,
    /// with a little jitter from the clock.
    fn backoff(&self, n: u32) -> Duration {
        let base = self
            .inner
            .backoff
            .saturating_mul(1 << n.saturating_sub(1).min(10));
        let base = base.min(Duration::from_secs(10));
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 1000)
            .unwrap_or(0);
        base + base / 4 * jitter / 1000
    }

    /// Every item of a listing: `page` = 1, 2, ... with `limit=250` (plus
    /// `query`), until a page is short or empty. `total_pages` is not
    /// trusted; more than [`MAX_PAGES`] pages, or a page answered twice, is
    /// an error.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, BcError> {
        self.get_all_limit(path, query, PAGE_LIMIT).await
    }

    /// [`get_all`](Self::get_all) with another page size (1..=250).
    pub async fn get_all_limit<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<T>, BcError> {
        let limit = limit.clamp(1, PAGE_LIMIT);
        let mut out = Vec::new();
        let mut previous: Option<Vec<Value>> = None;
        for page in 1..=MAX_PAGES {
            let mut q: Vec<(&str, String)> = query
                .iter()
                .filter(|(k, _)| *k != "page" && *k != "limit")
                .cloned()
                .collect();
            q.push(("page", page.to_string()));
            q.push(("limit", limit.to_string()));
            let a = self.send(Method::GET, path, &q, None).await?;
            let data = match a.body {
                Value::Object(mut m) => match m.remove("data") {
                    Some(Value::Array(d)) => d,
                    _ => {
                        return Err(BcError::Decode {
                            message: format!("GET {path} page {page}: no `data` array"),
                        })
                    }
                },
                _ => {
                    return Err(BcError::Decode {
                        message: format!("GET {path} page {page}: not a JSON object"),
                    })
                }
            };
            let n = data.len();
            if n > 0 && previous.as_ref() == Some(&data) {
                return Err(BcError::Paging {
                    path: path.into(),
                    message: format!("page {page} repeats page {}", page - 1),
                });
            }
            for item in &data {
                out.push(decode(item.clone())?);
            }
            if n < limit {
                return Ok(out);
            }
            previous = Some(data);
        }
        Err(BcError::Paging {
            path: path.into(),
            message: format!("more than {MAX_PAGES} pages"),
        })
    }
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, BcError> {
    serde_json::from_value(v).map_err(|e| BcError::Decode {
        message: e.to_string(),
    })
}

/// A transport error's text with its URL cut to the address and path, so
/// the user sees which server did not answer (the query is left out; the
/// token is in a header, never in the URL).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        let shown = format!("{}{}", u.origin().ascii_serialization(), u.path());
        s = s.replace(u.as_str(), &shown);
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The `X-Rate-Limit-*` headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub left: Option<u32>,
    pub quota: Option<u32>,
    pub reset_ms: Option<u64>,
    pub window_ms: Option<u64>,
}

impl RateHeaders {
    pub fn read(h: &HeaderMap) -> RateHeaders {
        let num = |n: &str| header_str(h, n).and_then(|s| s.parse::<u64>().ok());
        RateHeaders {
            left: num("x-rate-limit-requests-left").map(|v| v.min(u32::MAX as u64) as u32),
            quota: num("x-rate-limit-requests-quota").map(|v| v.min(u32::MAX as u64) as u32),
            reset_ms: num("x-rate-limit-time-reset-ms"),
            window_ms: num("x-rate-limit-time-window-ms"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the client knows of the store's window.
#[derive(Debug, Default)]
struct PaceState {
    /// Requests per window (from the answers, or the hint).
    quota: Option<u32>,
    /// Requests left in the current window, as the answers said (the
    /// lowest of the window's answers).
    left: Option<u32>,
    /// When the current window ends (by the client's clock; a little
    /// after the store's because the answer took its time).
    reset_at: Option<Instant>,
    /// The window's length.
    window: Option<Duration>,
    /// Requests sent and not answered yet.
    in_flight: u32,
}

enum Decision {
    Go,
    Wait(Duration),
}

impl PaceState {
    /// Whether a request may go now: the requests left must be more than
    /// those in flight (each of which may take one of them).
    fn decide(&mut self, now: Instant) -> Decision {
        if let Some(at) = self.reset_at {
            if at <= now {
                // A new window: the whole quota, as far as we know.
                self.reset_at = None;
                self.left = None;
            }
        }
        let left = self.left.or(self.quota);
        match left {
            Some(left) if left <= self.in_flight => match self.reset_at {
                Some(at) => Decision::Wait(at.saturating_duration_since(now)),
                // Only the hint or a past window: wait for answers.
                None => Decision::Wait(Duration::from_millis(50)),
            },
            _ => Decision::Go,
        }
    }

    fn observe(&mut self, h: &RateHeaders, now: Instant) {
        if let Some(q) = h.quota {
            self.quota = Some(q);
        }
        if let Some(w) = h.window_ms {
            self.window = Some(Duration::from_millis(w));
        }
        let (Some(left), Some(reset)) = (h.left, h.reset_ms) else {
            return;
        };
        let at = now + Duration::from_millis(reset);
        let tolerance = self
            .window
            .map(|w| w / 2)
            .unwrap_or(Duration::from_millis(500));
        match self.reset_at {
            // An answer of the same window: keep the lowest count (answers
            // arrive out of order).
            Some(cur) if at <= cur + tolerance && cur <= at + tolerance => {
                self.left = Some(self.left.map_or(left, |l| l.min(left)));
                self.reset_at = Some(cur.max(at));
            }
            // An answer of an earlier window, arriving late.
            Some(cur) if at + tolerance < cur => {}
            _ => {
                self.left = Some(left);
                self.reset_at = Some(at);
            }
        }
    }
}

/// The pacing shared by a client's clones.
struct Pacer {
    state: Mutex<PaceState>,
    /// Woken on every answer (a request in flight came back).
    answered: Notify,
}

/// A request in flight; dropping it (answered or cancelled) frees its place.
struct Slot<'a>(&'a Pacer);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = lock(&self.0.state);
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.0.answered.notify_waiters();
    }
}

impl Pacer {
    fn new(quota_hint: Option<u32>) -> Pacer {
        Pacer {
            state: Mutex::new(PaceState {
                quota: quota_hint.filter(|q| *q > 0),
                ..PaceState::default()
            }),
            answered: Notify::new(),
        }
    }

    async fn acquire(&self) -> Slot<'_> {
        loop {
            let answered = self.answered.notified();
            let wait = {
                let mut s = lock(&self.state);
                match s.decide(Instant::now()) {
                    Decision::Go => {
                        s.in_flight += 1;
                        return Slot(self);
                    }
                    Decision::Wait(d) => d,
                }
            };
            tracing::trace!(
                wait_ms = wait.as_millis() as u64,
                "pacing BigCommerce requests"
            );
            tokio::select! {
                _ = tokio::time::sleep(wait + Duration::from_millis(5)) => {}
                _ = answered => {}
            }
        }
    }

    fn observe(&self, h: &RateHeaders, now: Instant) {
        lock(&self.state).observe(h, now);
    }

    /// After a 429: nothing goes until `until` (the 429's own wait; the
    /// window's reset is not waited for besides: a 429 without rate-limit
    /// headers is not the quota's, and the next answer tells the window
    /// again).
    fn hold(&self, until: Instant) {
        let mut s = lock(&self.state);
        s.left = Some(0);
        s.reset_at = Some(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(left: u32, reset: u64) -> RateHeaders {
        RateHeaders {
            left: Some(left),
            quota: Some(10),
            reset_ms: Some(reset),
            window_ms: Some(30_000),
        }
    }

    #[test]
    fn requests_wait_when_those_in_flight_would_use_what_is_left() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        assert!(matches!(s.decide(t0), Decision::Go));
        s.observe(&headers(2, 10_000), t0);
        s.in_flight = 1;
        assert!(matches!(s.decide(t0), Decision::Go));
        s.in_flight = 2;
        match s.decide(t0) {
            Decision::Wait(d) => assert_eq!(d, Duration::from_secs(10)),
            Decision::Go => panic!("should wait"),
        }
        // A late answer of the same window with more left changes nothing.
        s.observe(&headers(5, 9_000), t0 + Duration::from_secs(1));
        assert_eq!(s.left, Some(2));
        // Past the reset, the window is new.
        assert!(matches!(
            s.decide(t0 + Duration::from_secs(11)),
            Decision::Go
        ));
        assert_eq!(s.left, None);
    }

    /// A 429 holds requests for its own wait, not until the window's
    /// reset far later.
    #[test]
    fn a_429_holds_for_its_wait_not_for_the_window() {
        let pacer = Pacer::new(None);
        let t0 = Instant::now();
        pacer.observe(&headers(8, 29_000), t0);
        pacer.hold(t0 + Duration::from_millis(300));
        let mut s = lock(&pacer.state);
        match s.decide(t0) {
            Decision::Wait(d) => assert!(d <= Duration::from_millis(300), "{d:?}"),
            Decision::Go => panic!("held"),
        }
        assert!(matches!(
            s.decide(t0 + Duration::from_millis(301)),
            Decision::Go
        ));
    }

    #[test]
    fn the_hint_holds_back_the_first_requests() {
        let mut s = PaceState {
            quota: Some(2),
            in_flight: 2,
            ..PaceState::default()
        };
        assert!(matches!(s.decide(Instant::now()), Decision::Wait(_)));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = BcConfig {
            base: Url::parse("https://api.bigcommerce.com/stores/abc/v3").unwrap(),
            token: "secret-token".into(),
            quota_hint: None,
        };
        assert!(!format!("{c:?}").contains("secret-token"));
        let client = BcClient::new(c).unwrap();
        assert!(!format!("{client:?}").contains("secret-token"));
    }
}
