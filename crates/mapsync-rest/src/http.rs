//! The HTTP side: one `reqwest` client (rustls), authentication, the
//! client-side rate ceiling, timeouts and retries.
//!
//! * Every attempt waits for the rate limiter, then has the configured
//!   timeout.
//! * 5xx, 408, timeouts, connection failures and resets are retried with
//!   exponential backoff and jitter; 429 and 503 wait for `Retry-After`
//!   (seconds or an HTTP date, at most [`MAX_RETRY_AFTER`]) when the server
//!   sends it. Each counts as a retry.
//! * 401 with `oauth2`: the token is fetched again, once, and the request
//!   sent again. Any other 4xx is final.
//! * Credentials go only to the base URL's origin (a `next` link to
//!   another host is refused; redirects are followed only within the
//!   origin), and messages show URLs through the [`Redactor`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mapsync_config::connector::Secret;
use rand::Rng as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;
use url::Url;

use crate::error::{RestError, RestErrorKind};
use crate::options::{AuthOptions, ClientOptions};
use crate::redact::Redactor;

/// The longest `Retry-After` honoured; a longer one waits this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How much of an error body a message quotes.
const DETAIL_CHARS: usize = 300;

/// A request to send (several times, if need be).
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, PATCH...
    pub method: Method,
    /// The full URL.
    pub url: Url,
    /// A body: JSON unless `content_type` says otherwise.
    pub body: Option<Vec<u8>>,
    /// The body's `Content-Type` when it is not JSON (an uploaded file).
    pub content_type: Option<String>,
    /// What it is for, in messages: "reading products", "write-back of
    /// product K1"...
    pub what: String,
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    /// The status (2xx).
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
    /// The URL that answered (after same-origin redirects).
    pub url: Url,
}

/// How requests authenticate.
enum Auth {
    None,
    Bearer(Secret),
    Header { name: HeaderName, value: Secret },
    Basic { user: String, password: Secret },
    OAuth2(Box<OAuth2>),
}

struct OAuth2 {
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: Option<String>,
    basic: bool,
    state: tokio::sync::Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    token: Option<Token>,
    generation: u64,
}

#[derive(Clone)]
struct Token {
    value: Secret,
    /// When to fetch a new one (before it expires).
    refresh_at: Option<Instant>,
    generation: u64,
}

/// The credential one attempt carries.
#[derive(Clone)]
enum Credential {
    None,
    Bearer(Secret, u64),
    Header(HeaderName, Secret),
    Basic(String, Secret),
}

/// The rate ceiling: attempts start at least `interval` apart.
struct Limiter {
    interval: Duration,
    next: std::sync::Mutex<Option<Instant>>,
}

impl Limiter {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = match *next {
                Some(n) if n > now => n,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The rate limiter of a server, one per `base_url` and rate in this
/// process: profiles that talk to one API (`mapsync run` runs them
/// concurrently) share its `rate_limit`. Held weakly: a limiter lives as
/// long as a client of its server.
fn shared_limiter(base: &Url, interval: Duration) -> std::sync::Arc<Limiter> {
    type Limiters =
        std::sync::Mutex<std::collections::HashMap<(String, Duration), std::sync::Weak<Limiter>>>;
    static LIMITERS: std::sync::OnceLock<Limiters> = std::sync::OnceLock::new();
    let mut map = LIMITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (base.as_str().to_string(), interval);
    if let Some(l) = map.get(&key).and_then(std::sync::Weak::upgrade) {
        return l;
    }
    map.retain(|_, l| l.strong_count() > 0);
    let l = std::sync::Arc::new(Limiter {
        interval,
        next: std::sync::Mutex::new(None),
    });
    map.insert(key, std::sync::Arc::downgrade(&l));
    l
}

/// The HTTP client of one `rest` source.
pub struct Http {
    client: reqwest::Client,
    /// For downloads from other servers: no credentials, no configured
    /// headers, redirects anywhere.
    plain: reqwest::Client,
    base: Url,
    auth: Auth,
    headers: HeaderMap,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
    /// Shared by every client of this `base_url` and rate in the process.
    limiter: Option<std::sync::Arc<Limiter>>,
    redactor: Redactor,
    sent: AtomicU64,
    retried: AtomicU64,
    throttled: AtomicU64,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.redactor.url(&self.base))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

/// What an attempt's failure means for the next one.
enum Failure {
    /// Retry after this wait (backoff, or the server's Retry-After).
    Retry(Option<Duration>, RestError),
    /// 401: the credentials were refused.
    Unauthorized(RestError),
    /// Final.
    Fatal(RestError),
}

impl Http {
    /// A client for these options.
    pub fn new(options: &ClientOptions<'_>, redactor: Redactor) -> Result<Http, RestError> {
        let base = parse_base(options.base_url, &redactor)?;
        let timeout =
            crate::options::duration(options.timeout, "timeout", Duration::from_secs(30))?;
        if timeout.is_zero() {
            return Err(RestError::config(
                "`timeout` is zero",
                "write a timeout such as `30s`",
            ));
        }
        let backoff =
            crate::options::duration(options.backoff, "backoff", Duration::from_millis(250))?;
        let limiter = match options.rate_limit {
            None => None,
            Some(r) => Some(shared_limiter(
                &base,
                crate::options::rate_interval(r).ok_or_else(|| {
                    RestError::config(
                        format!("`rate_limit` is `{r}`, not a rate"),
                        "write requests per unit, e.g. `10/s`, `600/m` or `2.5/s`",
                    )
                })?,
            )),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        for (k, v) in options.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                RestError::config(
                    format!("`headers.{k}` is not a header name"),
                    "use letters, digits and `-`",
                )
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                RestError::config(
                    format!("the value of `headers.{k}` is not a valid header value"),
                    "use printable ASCII without line breaks",
                )
            })?;
            headers.insert(name, value);
        }
        let auth = auth(options.auth, &base, &redactor)?;
        let origin = base.origin();
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 || attempt.url().origin() != origin {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| {
                RestError::config(
                    format!("cannot build the HTTP client: {}", e.without_url()),
                    "this is a bug in mapsync or the TLS setup of this machine",
                )
            })?;
        let plain = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| {
                RestError::config(
                    format!("cannot build the HTTP client: {}", e.without_url()),
                    "this is a bug in mapsync or the TLS setup of this machine",
                )
            })?;
        Ok(Http {
            client,
            plain,
            base,
            auth,
            headers,
            timeout,
            retries: options.retries.unwrap_or(3),
            backoff,
            limiter,
            redactor,
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The redactor for messages.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// HTTP requests sent so far (every attempt, token requests included).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Attempts that were a retry, so far.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Answers that said "slow down" (HTTP 429), so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Retries of a failed request (the `retries` option).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The wait before retry number `attempt` (1 for the first), with
    /// jitter, as between the attempts of [`Http::send`].
    pub fn backoff_for(&self, attempt: u32) -> Duration {
        self.backoff(attempt)
    }

    /// `path` (relative to the base URL, or an absolute URL of the base
    /// URL's origin) as a full URL.
    pub fn url(&self, path: &str) -> Result<Url, RestError> {
        join(&self.base, path, &self.redactor)
    }

    /// Whether credentials may go to `url`.
    pub fn same_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// The bytes at `url` (an image's URL), at most `limit` of them: on
    /// the server of `base_url` sent as every request is (credentials,
    /// rate ceiling, retries); elsewhere a plain GET without credentials
    /// or the configured headers, retried the same way.
    pub async fn download(
        &self,
        url: &Url,
        limit: usize,
        count: &mut u32,
    ) -> Result<Vec<u8>, RestError> {
        let what = "downloading an image";
        let too_large = |shown: &str| {
            RestError::new(
                RestErrorKind::Body,
                format!("{what}: {shown} is larger than {limit} bytes"),
                "an image this large is not downloaded; check the image's URL",
            )
        };
        let shown = self.redactor.url(url);
        if self.same_origin(url) {
            let req = Request {
                method: Method::GET,
                url: url.clone(),
                body: None,
                content_type: None,
                what: what.into(),
            };
            let reply = self.send(&req, count).await?;
            if reply.body.len() > limit {
                return Err(too_large(&shown));
            }
            return Ok(reply.body);
        }
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            *count += 1;
            self.sent.fetch_add(1, Ordering::Relaxed);
            let failure = match self.plain.get(url.clone()).send().await {
                Ok(resp) if resp.status().is_success() => {
                    if resp.content_length().is_some_and(|n| n > limit as u64) {
                        return Err(too_large(&shown));
                    }
                    match resp.bytes().await {
                        Ok(b) if b.len() > limit => return Err(too_large(&shown)),
                        Ok(b) => return Ok(b.to_vec()),
                        Err(e) => self.transport(what, &shown, &e),
                    }
                }
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    let msg = format!("{what}: HTTP {code} from GET {shown}");
                    if matches!(code, 408 | 429 | 500..=599) {
                        let wait = retry_after(resp.headers()).map(|d| d.min(MAX_RETRY_AFTER));
                        Failure::Retry(
                            wait,
                            RestError::new(
                                RestErrorKind::Unreachable,
                                msg,
                                "the image server keeps failing: try again later",
                            )
                            .with_status(code),
                        )
                    } else {
                        return Err(RestError::new(
                            RestErrorKind::Status,
                            msg,
                            "the image's URL does not serve it (any more)",
                        )
                        .with_status(code));
                    }
                }
                Err(e) => self.transport(what, &shown, &e),
            };
            match failure {
                Failure::Retry(wait, _) if attempt <= self.retries => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
                }
                Failure::Retry(_, e) | Failure::Fatal(e) | Failure::Unauthorized(e) => {
                    return Err(e)
                }
            }
        }
    }

    /// Send `req` with retries; `count` is increased by every HTTP request
    /// sent (token requests included).
    pub async fn send(&self, req: &Request, count: &mut u32) -> Result<Reply, RestError> {
        self.send_with(req, count, self.retries).await
    }

    /// Send `req` once: a failure that a retry might fix (a 5xx, 408, 429,
    /// a timeout or a reset) is returned as an error of kind
    /// `Unreachable` instead of being retried — for a request that must
    /// not be repeated blindly (a create whose answer may have been lost).
    /// A 401 with OAuth 2 still fetches a new token and sends it again.
    pub async fn send_once(&self, req: &Request, count: &mut u32) -> Result<Reply, RestError> {
        self.send_with(req, count, 0).await
    }

    async fn send_with(
        &self,
        req: &Request,
        count: &mut u32,
        retries: u32,
    ) -> Result<Reply, RestError> {
        if !self.same_origin(&req.url) {
            return Err(RestError::new(
                RestErrorKind::Config,
                format!(
                    "{}: {} is not on the server of `base_url` ({})",
                    req.what,
                    self.redactor.url(&req.url),
                    self.redactor.url(&self.base)
                ),
                "mapsync sends credentials only to the origin of `base_url`; check `base_url` and the paths",
            ));
        }
        let mut refreshed = false;
        loop {
            let cred = self.credential(count).await?;
            match self.attempts_with(req, &cred, count, false, retries).await {
                Err(Failure::Unauthorized(e)) => {
                    let Credential::Bearer(_, generation) = cred else {
                        return Err(e);
                    };
                    let Auth::OAuth2(o) = &self.auth else {
                        return Err(e);
                    };
                    if refreshed {
                        return Err(e);
                    }
                    refreshed = true;
                    tracing::info!(what = %req.what, "HTTP 401: fetching a new OAuth 2 token");
                    let mut state = o.state.lock().await;
                    if state.token.as_ref().map(|t| t.generation) == Some(generation) {
                        state.token = None;
                    }
                }
                Err(Failure::Retry(_, e) | Failure::Fatal(e)) => return Err(e),
                Ok(r) => return Ok(r),
            }
        }
    }

    /// The credential for the next attempt (fetching an OAuth 2 token when
    /// there is none or it is about to expire).
    async fn credential(&self, count: &mut u32) -> Result<Credential, RestError> {
        Ok(match &self.auth {
            Auth::None => Credential::None,
            Auth::Bearer(s) => Credential::Bearer(s.clone(), 0),
            Auth::Header { name, value } => Credential::Header(name.clone(), value.clone()),
            Auth::Basic { user, password } => Credential::Basic(user.clone(), password.clone()),
            Auth::OAuth2(o) => {
                let mut state = o.state.lock().await;
                let fresh = state
                    .token
                    .as_ref()
                    .filter(|t| t.refresh_at.is_none_or(|at| Instant::now() < at));
                if let Some(t) = fresh {
                    Credential::Bearer(t.value.clone(), t.generation)
                } else {
                    state.generation += 1;
                    let generation = state.generation;
                    let token = self.fetch_token(o, generation, count).await?;
                    let cred = Credential::Bearer(token.value.clone(), generation);
                    state.token = Some(token);
                    cred
                }
            }
        })
    }

    async fn fetch_token(
        &self,
        o: &OAuth2,
        generation: u64,
        count: &mut u32,
    ) -> Result<Token, RestError> {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if !o.basic {
            form.push(("client_id", &o.client_id));
            form.push(("client_secret", o.client_secret.expose()));
        }
        if let Some(s) = &o.scope {
            form.push(("scope", s));
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = Request {
            method: Method::POST,
            url: o.token_url.clone(),
            body: Some(body.into_bytes()),
            content_type: None,
            what: "fetching an OAuth 2 token".into(),
        };
        let cred = if o.basic {
            Credential::Basic(o.client_id.clone(), o.client_secret.clone())
        } else {
            Credential::None
        };
        let started = Instant::now();
        let reply = match self.attempts_with(&req, &cred, count, true, self.retries).await {
            Ok(r) => r,
            Err(Failure::Unauthorized(e)) => {
                return Err(RestError::new(
                    RestErrorKind::Auth,
                    e.message,
                    "the token endpoint refused the client: check `auth.oauth2.client_id` and the secret in `client_secret`",
                )
                .with_status(401))
            }
            Err(Failure::Retry(_, e) | Failure::Fatal(e)) => return Err(e),
        };
        let shown = self.redactor.url(&o.token_url);
        let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| {
            RestError::new(
                RestErrorKind::Auth,
                format!("the token endpoint {shown} did not answer with JSON"),
                "check `auth.oauth2.token_url`: it should answer {\"access_token\": ..., \"expires_in\": ...}",
            )
        })?;
        let Some(token) = v.get("access_token").and_then(|t| t.as_str()) else {
            return Err(RestError::new(
                RestErrorKind::Auth,
                format!("the answer of the token endpoint {shown} has no `access_token`"),
                "check `auth.oauth2.token_url` and the grant the server expects (client credentials)",
            ));
        };
        let expires_in = match v.get("expires_in") {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e9)));
        // Fetch a new token before this one runs out: a fifth of its life
        // early, at most 60s early.
        let refresh_at =
            expires_in.map(|life| started + life - (life / 5).min(Duration::from_secs(60)));
        tracing::debug!(token_url = %shown, ?expires_in, "OAuth 2 token fetched");
        Ok(Token {
            value: Secret::new(token),
            refresh_at,
            generation,
        })
    }

    /// Send with up to `retries` retries. `form`: the body is a form (the
    /// token request).
    async fn attempts_with(
        &self,
        req: &Request,
        cred: &Credential,
        count: &mut u32,
        form: bool,
        retries: u32,
    ) -> Result<Reply, Failure> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if let Some(l) = &self.limiter {
                l.wait().await;
            }
            *count += 1;
            self.sent.fetch_add(1, Ordering::Relaxed);
            let failure = match self.attempt(req, cred, form).await {
                Ok(reply) => return Ok(reply),
                Err(f) => f,
            };
            if let Failure::Retry(_, e) = &failure {
                if e.status == Some(429) {
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                }
            }
            match failure {
                Failure::Retry(wait, e) if attempt <= retries => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    let wait = wait.unwrap_or_else(|| self.backoff(attempt));
                    tracing::warn!(
                        what = %req.what,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "{}; retrying",
                        e.message
                    );
                    tokio::time::sleep(wait).await;
                }
                Failure::Retry(_, e) if attempt == 1 => return Err(Failure::Fatal(e)),
                Failure::Retry(_, e) => {
                    let tries = attempt;
                    return Err(Failure::Fatal(RestError {
                        kind: e.kind,
                        message: format!("{} (after {tries} attempts)", e.message),
                        help: e.help,
                        status: e.status,
                    }));
                }
                other => return Err(other),
            }
        }
    }

    /// One attempt.
    async fn attempt(
        &self,
        req: &Request,
        cred: &Credential,
        form: bool,
    ) -> Result<Reply, Failure> {
        let shown = self.redactor.url(&req.url);
        let mut rb = self
            .client
            .request(req.method.clone(), req.url.clone())
            .headers(self.headers.clone());
        rb = match cred {
            Credential::None => rb,
            Credential::Bearer(t, _) => rb.bearer_auth(t.expose()),
            Credential::Header(n, v) => rb.header(n.clone(), v.expose()),
            Credential::Basic(u, p) => rb.basic_auth(u, Some(p.expose())),
        };
        if let Some(body) = &req.body {
            let ct = if form {
                "application/x-www-form-urlencoded"
            } else {
                req.content_type.as_deref().unwrap_or("application/json")
            };
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, ct)
                .body(body.clone());
        }
        let what = &req.what;
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport(what, &shown, &e)),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        if status.is_success() {
            return match resp.bytes().await {
                Ok(b) => Ok(Reply {
                    status,
                    headers,
                    body: b.to_vec(),
                    url,
                }),
                Err(e) => Err(self.transport(what, &shown, &e)),
            };
        }
        let detail = match resp.bytes().await {
            Ok(b) => detail(&self.redactor, &b),
            Err(_) => String::new(),
        };
        let code = status.as_u16();
        let method = &req.method;
        let msg = format!("{what}: HTTP {code} from {method} {shown}{detail}");
        Err(match code {
            401 => Failure::Unauthorized(
                RestError::new(
                    RestErrorKind::Auth,
                    msg,
                    "the server refused the credentials: check `auth` and the variable it names",
                )
                .with_status(code),
            ),
            403 => Failure::Fatal(
                RestError::new(
                    RestErrorKind::Auth,
                    msg,
                    "the credentials are not allowed to do this: check the API user's rights",
                )
                .with_status(code),
            ),
            429 | 503 | 408 | 500..=599 => {
                let wait = retry_after(&headers).map(|d| d.min(MAX_RETRY_AFTER));
                Failure::Retry(
                    wait,
                    RestError::new(
                        RestErrorKind::Unreachable,
                        msg,
                        if code == 429 {
                            "the server keeps throttling: lower `rate_limit`, or raise `retries`"
                        } else {
                            "the server keeps failing: try again later, or raise `retries`/`timeout`"
                        },
                    )
                    .with_status(code),
                )
            }
            300..=399 => Failure::Fatal(
                RestError::new(
                    RestErrorKind::Status,
                    msg,
                    "the server redirects to another host (or too often); point `base_url` at the final address",
                )
                .with_status(code),
            ),
            404 => Failure::Fatal(
                RestError::new(
                    RestErrorKind::Status,
                    msg,
                    "check `base_url` and the `path` of this request",
                )
                .with_status(code),
            ),
            _ => Failure::Fatal(
                RestError::new(
                    RestErrorKind::Status,
                    msg,
                    "the server refused the request: check the path, the query and the body the options send",
                )
                .with_status(code),
            ),
        })
    }

    fn transport(&self, what: &str, shown: &str, e: &reqwest::Error) -> Failure {
        let reason = if e.is_timeout() {
            format!("no answer within {}", humantime(self.timeout))
        } else if e.is_connect() {
            format!("cannot connect ({})", chain(e, &self.redactor))
        } else {
            chain(e, &self.redactor)
        };
        let err = RestError::new(
            RestErrorKind::Unreachable,
            format!("{what}: {shown}: {reason}"),
            "check that the server is up and `base_url` is right; raise `timeout` or `retries` for a slow server",
        );
        if e.is_builder() || e.is_redirect() {
            Failure::Fatal(err)
        } else {
            Failure::Retry(None, err)
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(16);
        let ceiling = self.backoff.saturating_mul(1u32 << exp).min(MAX_BACKOFF);
        let ms = ceiling.as_millis().min(u128::from(u64::MAX)) as u64;
        if ms < 2 {
            return ceiling;
        }
        // "Equal jitter": between half and all of the ceiling.
        let half = ms / 2;
        Duration::from_millis(half + rand::rng().random_range(0..=half))
    }
}

/// The error and its causes, without the URL (reqwest puts it in its
/// message; ours is redacted), secrets masked.
fn chain(e: &reqwest::Error, redactor: &Redactor) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.contains(&s) {
            parts.push(s);
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(
            if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else if e.is_body() || e.is_decode() {
                "the answer broke off"
            } else {
                "request failed"
            }
            .to_string(),
        );
    }
    redactor.text(&parts.join(": "))
}

/// A duration as written in options.
pub fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The start of an error body, for a message (secrets masked).
fn detail(redactor: &Redactor, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut cut: String = text.chars().take(DETAIL_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    let cut = cut.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(": {}", redactor.text(&cut))
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(1e6)));
        }
    }
    let at = http_date(v)?;
    let now = time::OffsetDateTime::now_utc();
    let delta = at - now;
    Some(if delta.is_positive() {
        Duration::try_from(delta).unwrap_or(Duration::ZERO)
    } else {
        Duration::ZERO
    })
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(text: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, fmt)
        .ok()
        .map(|p| p.assume_utc())
        .or_else(|| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()
        })
}

/// The base URL, checked.
fn parse_base(text: &str, redactor: &Redactor) -> Result<Url, RestError> {
    let bad = || {
        RestError::config(
            format!("`base_url` `{}` is not an http(s) URL", redactor.text(text)),
            "write e.g. `https://pim.example.com/api/v1`",
        )
    };
    let u = Url::parse(text).map_err(|_| bad())?;
    if !(u.scheme() == "http" || u.scheme() == "https") || u.host().is_none() {
        return Err(bad());
    }
    if u.query().is_some() {
        return Err(RestError::config(
            "`base_url` has a query string",
            "put query parameters in `list.query`, and credentials in `auth`",
        ));
    }
    Ok(u)
}

/// `path` below `base` (the base's path is kept: base
/// `https://h/api/v1` and path `/products` give `https://h/api/v1/products`),
/// or an absolute URL as it is.
pub fn join(base: &Url, path: &str, redactor: &Redactor) -> Result<Url, RestError> {
    let bad = || {
        RestError::config(
            format!("`{}` is not a path or URL", redactor.text(path)),
            "write a path relative to `base_url`, e.g. `/products`",
        )
    };
    if path.starts_with("http://") || path.starts_with("https://") {
        return Url::parse(path).map_err(|_| bad());
    }
    let mut text = base.as_str().trim_end_matches('/').to_string();
    if !path.starts_with('/') && !path.starts_with('?') {
        text.push('/');
    }
    text.push_str(path);
    Url::parse(&text).map_err(|_| bad())
}

fn auth(a: Option<&AuthOptions>, base: &Url, redactor: &Redactor) -> Result<Auth, RestError> {
    let Some(a) = a else { return Ok(Auth::None) };
    let styles = [
        a.bearer.is_some(),
        a.header.is_some() || a.value.is_some(),
        a.basic.is_some(),
        a.oauth2.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if styles != 1 {
        return Err(RestError::config(
            "`auth` must name exactly one style",
            "write one of `{ bearer: ... }`, `{ header: X-Api-Key, value: ... }`, `{ basic: { user, password } }`, `{ oauth2: { token_url, client_id, client_secret } }`",
        ));
    }
    if let Some(b) = &a.bearer {
        return Ok(Auth::Bearer(Secret::new(b)));
    }
    if let Some(b) = &a.basic {
        return Ok(Auth::Basic {
            user: b.user.clone(),
            password: Secret::new(&b.password),
        });
    }
    if let Some(o) = &a.oauth2 {
        let token_url = join(base, &o.token_url, redactor).map_err(|_| {
            RestError::config(
                "`auth.oauth2.token_url` is not a path or an http(s) URL",
                "write a path relative to `base_url` (`/oauth/token`) or a full URL",
            )
        })?;
        let basic = match o.client_auth.as_deref() {
            None | Some("body") => false,
            Some("basic") => true,
            Some(other) => {
                return Err(RestError::config(
                    format!("`auth.oauth2.client_auth` is `{other}`"),
                    "write `body` (form fields, the default) or `basic`",
                ))
            }
        };
        return Ok(Auth::OAuth2(Box::new(OAuth2 {
            token_url,
            client_id: o.client_id.clone(),
            client_secret: Secret::new(&o.client_secret),
            scope: o.scope.clone(),
            basic,
            state: tokio::sync::Mutex::new(TokenState::default()),
        })));
    }
    let (Some(h), Some(v)) = (&a.header, &a.value) else {
        return Err(RestError::config(
            "`auth` with `header` needs both `header` and `value`",
            "write `{ header: X-Api-Key, value: \"${API_KEY}\" }`",
        ));
    };
    let name = HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
        RestError::config(
            format!("`auth.header` `{h}` is not a header name"),
            "write a header name such as `X-Api-Key`",
        )
    })?;
    if HeaderValue::from_str(v).is_err() {
        return Err(RestError::config(
            "the value of `auth.value` cannot be sent in a header",
            "check the variable it names: printable ASCII, no line breaks",
        ));
    }
    Ok(Auth::Header {
        name,
        value: Secret::new(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let text = later.format(fmt).unwrap();
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(&text).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn join_keeps_the_base_path() {
        let r = Redactor::default();
        let b = Url::parse("https://h.example/api/v1/").unwrap();
        assert_eq!(
            join(&b, "/products", &r).unwrap().as_str(),
            "https://h.example/api/v1/products"
        );
        assert_eq!(
            join(&b, "products?x=1", &r).unwrap().as_str(),
            "https://h.example/api/v1/products?x=1"
        );
        assert_eq!(
            join(&b, "https://auth.example/token", &r).unwrap().as_str(),
            "https://auth.example/token"
        );
    }
}
