//! `ShopifyClient`: sends our validated GraphQL documents to one shop over
//! HTTPS (reqwest + rustls), one request id per attempt in the debug log,
//! through the cost-aware limiter, with retries per the retry policy, and
//! counts requests, throttles, retries and cost for the run report. It must
//! not interpret `data` beyond decoding it (the read side does), never retry
//! on GraphQL errors or `userErrors`, and never let the access token reach a
//! log line, an error or `Debug` output.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::{debug, warn};
use url::Url;

use super::config::{AccessToken, ClientConfig};
use super::documents::{Document, Kind};
use super::error::{GraphqlErrorInfo, ShopifyError, TransportKind};
use super::limiter::{CostLimiter, Reservation, ThrottleStatus};
use super::retry::{Failure, RetryPolicy};

/// Cost assumed for an operation nobody estimated and the server never priced.
const DEFAULT_ESTIMATE: u32 = 50;
/// How much of an error body is kept in an error message.
const BODY_EXCERPT: usize = 300;

/// A decoded answer.
#[derive(Debug, Clone)]
pub struct GraphqlResponse<T> {
    pub data: T,
    pub cost: Option<QueryCost>,
    /// Our id of the attempt that succeeded (also in the debug log).
    pub request_id: String,
    /// HTTP attempts this answer cost (1 + retries).
    pub attempts: u32,
}

/// `extensions.cost` of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    #[serde(default)]
    pub requested_query_cost: Option<f64>,
    #[serde(default)]
    pub actual_query_cost: Option<f64>,
    #[serde(default)]
    pub throttle_status: Option<ThrottleStatus>,
}

/// Counters for the run report.
#[derive(Debug, Default)]
pub struct ClientStats {
    requests: AtomicU64,
    throttled: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    requested_cost: AtomicU64,
    actual_cost: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// HTTP requests sent (every attempt).
    pub requests: u64,
    /// Answers that were THROTTLED or HTTP 429.
    pub throttled: u64,
    /// Attempts that were a retry.
    pub retried: u64,
    /// Operations that failed for good.
    pub failed: u64,
    /// Sum of `requestedQueryCost` over answers.
    pub requested_cost: u64,
    /// Sum of `actualQueryCost` over answers.
    pub actual_cost: u64,
}

impl ClientStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            requested_cost: self.requested_cost.load(Ordering::Relaxed),
            actual_cost: self.actual_cost.load(Ordering::Relaxed),
        }
    }
}

/// The HTTP client of one shop. Cheap to clone; clones share the limiter,
/// the counters and the connection pool.
#[derive(Clone)]
pub struct ShopifyClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    token: AccessToken,
    timeout: Duration,
    retry: RetryPolicy,
    /// Shared by every client of this endpoint in the process.
    limiter: Arc<CostLimiter>,
    permits: Semaphore,
    stats: ClientStats,
    run_id: String,
    next_id: AtomicU64,
    /// The last `requestedQueryCost` seen per operation, for callers that
    /// pass no estimate.
    learned: Mutex<std::collections::HashMap<&'static str, u32>>,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("token", &self.inner.token)
            .field("stats", &self.inner.stats.snapshot())
            .finish()
    }
}

/// One attempt's outcome when it did not succeed.
enum AttemptError {
    Retryable {
        failure: Failure,
        error: ShopifyError,
        /// Server-asked wait (Retry-After).
        wait: Option<Duration>,
        /// Requested cost reported with a THROTTLED answer.
        requested_cost: Option<u32>,
    },
    Fatal(ShopifyError),
}

/// What the server answered to one attempt, read to the end.
struct HttpAnswer {
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    text: String,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<RawError>>,
    #[serde(default)]
    extensions: Option<RawExtensions>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    path: Option<Vec<Value>>,
    #[serde(default)]
    extensions: Option<RawErrorExtensions>,
}

#[derive(Deserialize)]
struct RawErrorExtensions {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct RawExtensions {
    #[serde(default)]
    cost: Option<QueryCost>,
}

/// The cost limiter of a shop, one per endpoint URL in this process: two
/// profiles writing to one store (`mapsync run` runs them concurrently)
/// draw from one bucket model, so together they stay within its limit.
/// Held weakly: a limiter lives as long as a client of its shop.
fn shared_limiter(endpoint: &Url, bucket: Option<super::config::BucketLimits>) -> Arc<CostLimiter> {
    type Limiters = Mutex<std::collections::HashMap<String, std::sync::Weak<CostLimiter>>>;
    static LIMITERS: std::sync::OnceLock<Limiters> = std::sync::OnceLock::new();
    let mut map = LIMITERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(l) = map
        .get(endpoint.as_str())
        .and_then(std::sync::Weak::upgrade)
    {
        return l;
    }
    map.retain(|_, l| l.strong_count() > 0);
    let l = Arc::new(CostLimiter::new(bucket));
    map.insert(endpoint.as_str().to_string(), Arc::downgrade(&l));
    l
}

/// The HTTP client (its TLS configuration) for these settings, made once
/// per thread: a run of the sync manager every few seconds would otherwise
/// build a TLS configuration each time. Per thread, because a connection
/// is driven by a task of the runtime that opened it, and the manager's
/// run workers each have their own runtime on their own thread. An idle
/// connection closes after 5 s: reused between a run's requests, not kept
/// (with its buffers) between runs.
fn shared_http(
    connect_timeout: Duration,
    idle_per_host: usize,
) -> Result<reqwest::Client, ShopifyError> {
    type Clients = std::collections::HashMap<(Duration, usize), reqwest::Client>;
    thread_local! {
        static CLIENTS: std::cell::RefCell<Clients> = Default::default();
    }
    let key = (connect_timeout, idle_per_host);
    if let Some(c) = CLIENTS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(c);
    }
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(idle_per_host)
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| ShopifyError::Config(format!("cannot build the HTTP client: {e}")))?;
    CLIENTS.with(|m| m.borrow_mut().insert(key, http.clone()));
    Ok(http)
}

impl ShopifyClient {
    pub fn new(config: ClientConfig) -> Result<Self, ShopifyError> {
        let endpoint = config.location.endpoint(&config.api_version)?;
        let limiter = shared_limiter(&endpoint, config.bucket);
        let http = shared_http(
            config.timeout.min(Duration::from_secs(10)),
            config.concurrency.max(1),
        )?;
        let run_id: String = {
            let mut rng = rand::rng();
            (0..6)
                .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
                .collect()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                token: config.token,
                timeout: config.timeout,
                retry: RetryPolicy {
                    max_retries: config.max_retries,
                    base: config.backoff_base,
                    max: config.backoff_max,
                },
                limiter,
                permits: Semaphore::new(config.concurrency.max(1)),
                stats: ClientStats::default(),
                run_id,
                next_id: AtomicU64::new(1),
                learned: Mutex::new(Default::default()),
            }),
        })
    }

    /// The GraphQL endpoint this client posts to.
    pub fn endpoint(&self) -> &Url {
        &self.inner.endpoint
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The limiter's current idea of available points (`None`: no limit known).
    pub fn available_points(&self) -> Option<f64> {
        self.inner.limiter.available()
    }

    /// Sends `document` with `variables`, waiting for `estimated_cost` points
    /// (0: use the last cost the server reported for it), retrying per the
    /// policy, and decodes `data` into `T`.
    pub async fn execute<T: DeserializeOwned>(
        &self,
        document: &Document,
        variables: Value,
        estimated_cost: u32,
    ) -> Result<GraphqlResponse<T>, ShopifyError> {
        if matches!(document.kind, Kind::BulkQuery | Kind::BulkMutation) {
            return Err(ShopifyError::Config(format!(
                "{} is the body of a bulk operation; send it with bulkOperationRun{}",
                document.file,
                if document.kind == Kind::BulkQuery {
                    "Query"
                } else {
                    "Mutation"
                }
            )));
        }
        let body = serde_json::json!({
            "query": document.source,
            "operationName": document.name,
            "variables": variables,
        });
        let mut cost = if estimated_cost > 0 {
            estimated_cost
        } else {
            self.learned_cost(document.name).unwrap_or(DEFAULT_ESTIMATE)
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if attempt > 1 {
                self.inner.stats.retried.fetch_add(1, Ordering::Relaxed);
            }
            match self.attempt(document, &body, cost, attempt).await {
                Ok(mut response) => {
                    response.attempts = attempt;
                    return Ok(response);
                }
                Err(AttemptError::Fatal(error)) => {
                    self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(error);
                }
                Err(AttemptError::Retryable {
                    failure,
                    error,
                    wait,
                    requested_cost,
                }) => {
                    if let Some(requested) = requested_cost {
                        cost = cost.max(requested);
                    }
                    if !self
                        .inner
                        .retry
                        .should_retry(attempt, failure, document.idempotent)
                    {
                        self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                        return Err(match (failure, error) {
                            (Failure::Throttled, _) => ShopifyError::Throttled {
                                operation: document.name,
                                attempts: attempt,
                                requested_cost: cost,
                            },
                            (_, error) => error,
                        });
                    }
                    let delay = match (failure, wait) {
                        // The limiter waits for the points (or the 429 pause);
                        // a little jitter spreads the callers.
                        (Failure::Throttled, _) => {
                            Duration::from_millis(rand::rng().random_range(0..=20))
                        }
                        (_, Some(wait)) => wait,
                        _ => self.inner.retry.backoff(attempt),
                    };
                    warn!(
                        operation = document.name,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %error,
                        "shopify request failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn learned_cost(&self, operation: &'static str) -> Option<u32> {
        self.inner
            .learned
            .lock()
            .ok()
            .and_then(|m| m.get(operation).copied())
    }

    fn learn_cost(&self, operation: &'static str, requested: f64) {
        if let Ok(mut m) = self.inner.learned.lock() {
            m.insert(operation, requested.ceil().max(1.0) as u32);
        }
    }

    /// One HTTP attempt: wait its turn, send, classify the answer, decode `data`.
    async fn attempt<T: DeserializeOwned>(
        &self,
        document: &Document,
        body: &Value,
        cost: u32,
        attempt: u32,
    ) -> Result<GraphqlResponse<T>, AttemptError> {
        let (_permit, reservation) = self.wait_turn(cost).await?;
        let request_id = self.start_request(document, cost, attempt);
        let answer = match self.send(document, body, &request_id).await {
            Ok(answer) => answer,
            Err(e) => {
                return Err(self.transport_error(document, &request_id, attempt, e, reservation))
            }
        };
        if !answer.status.is_success() {
            self.inner.limiter.forget(reservation);
            return Err(self.status_failure(document, &request_id, attempt, &answer));
        }
        let raw: RawResponse = match serde_json::from_str(&answer.text) {
            Ok(raw) => raw,
            Err(e) => {
                self.inner.limiter.forget(reservation);
                return Err(AttemptError::Fatal(ShopifyError::Decode {
                    operation: document.name,
                    request_id,
                    message: self.redact(&format!("{e}")),
                }));
            }
        };
        let cost_info = raw.extensions.as_ref().and_then(|x| x.cost);
        self.record_cost(document, &request_id, cost_info, reservation);
        let errors = self.graphql_errors(raw.errors);
        self.check_graphql_errors(document, &request_id, errors, cost_info)?;
        self.decode_data(document, request_id, raw.data, cost_info, attempt)
    }

    /// Waits for a connection permit, then for `cost` points of the limiter.
    async fn wait_turn(
        &self,
        cost: u32,
    ) -> Result<(SemaphorePermit<'_>, Reservation), AttemptError> {
        let inner = &self.inner;
        let permit = inner
            .permits
            .acquire()
            .await
            .map_err(|_| AttemptError::Fatal(ShopifyError::Config("client closed".into())))?;
        let reservation = inner.limiter.acquire(cost).await;
        Ok((permit, reservation))
    }

    /// Names the next request, logs it and counts it as sent.
    fn start_request(&self, document: &Document, cost: u32, attempt: u32) -> String {
        let inner = &self.inner;
        let request_id = format!(
            "{}-{}",
            inner.run_id,
            inner.next_id.fetch_add(1, Ordering::Relaxed)
        );
        debug!(
            request_id = %request_id,
            operation = document.name,
            attempt,
            estimated_cost = cost,
            "shopify request"
        );
        inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        request_id
    }

    /// Posts `body` and reads the whole answer, logging its status and size.
    async fn send(
        &self,
        document: &Document,
        body: &Value,
        request_id: &str,
    ) -> Result<HttpAnswer, reqwest::Error> {
        let inner = &self.inner;
        let response = inner
            .http
            .post(inner.endpoint.clone())
            .header("X-Shopify-Access-Token", inner.token.expose())
            .header("X-Request-Id", request_id)
            .timeout(inner.timeout)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let server_request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await?;
        debug!(
            request_id = %request_id,
            server_request_id = server_request_id.as_deref().unwrap_or(""),
            operation = document.name,
            status = status.as_u16(),
            bytes = text.len(),
            "shopify answer"
        );
        Ok(HttpAnswer {
            status,
            retry_after,
            text,
        })
    }

    /// Classifies a non-2xx answer: 429 (pausing the limiter) and 5xx retry, the rest is fatal.
    fn status_failure(
        &self,
        document: &Document,
        request_id: &str,
        attempt: u32,
        answer: &HttpAnswer,
    ) -> AttemptError {
        let status = answer.status;
        if status.as_u16() == 429 {
            self.inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
            let wait = answer.retry_after.unwrap_or(Duration::from_secs(1));
            self.inner.limiter.pause_for(wait);
            return AttemptError::Retryable {
                failure: Failure::Throttled,
                error: self.http_error(
                    document,
                    request_id,
                    attempt,
                    status.as_u16(),
                    &answer.text,
                    false,
                ),
                wait: Some(wait),
                requested_cost: None,
            };
        }
        if status.is_server_error() {
            return AttemptError::Retryable {
                failure: Failure::Ambiguous,
                error: self.http_error(
                    document,
                    request_id,
                    attempt,
                    status.as_u16(),
                    &answer.text,
                    document.kind == Kind::Mutation,
                ),
                wait: answer.retry_after,
                requested_cost: None,
            };
        }
        AttemptError::Fatal(self.http_error(
            document,
            request_id,
            attempt,
            status.as_u16(),
            &answer.text,
            false,
        ))
    }

    /// Counts and learns an answer's `extensions.cost`, then settles the reservation with it.
    fn record_cost(
        &self,
        document: &Document,
        request_id: &str,
        cost_info: Option<QueryCost>,
        reservation: Reservation,
    ) {
        let inner = &self.inner;
        if let Some(c) = cost_info {
            if let Some(requested) = c.requested_query_cost {
                inner
                    .stats
                    .requested_cost
                    .fetch_add(requested.max(0.0) as u64, Ordering::Relaxed);
                self.learn_cost(document.name, requested);
            }
            if let Some(actual) = c.actual_query_cost {
                inner
                    .stats
                    .actual_cost
                    .fetch_add(actual.max(0.0) as u64, Ordering::Relaxed);
            }
            if let Some(t) = c.throttle_status {
                debug!(
                    request_id = %request_id,
                    requested = c.requested_query_cost,
                    actual = c.actual_query_cost,
                    available = t.currently_available,
                    maximum = t.maximum_available,
                    "shopify cost"
                );
            }
        }
        inner.limiter.settle(
            reservation,
            cost_info.and_then(|c| c.throttle_status),
            cost_info.and_then(|c| c.actual_query_cost),
        );
    }

    /// The answer's GraphQL `errors`, redacted, with their paths dotted.
    fn graphql_errors(&self, errors: Option<Vec<RawError>>) -> Vec<GraphqlErrorInfo> {
        errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| GraphqlErrorInfo {
                message: self.redact(&e.message),
                code: e.extensions.and_then(|x| x.code),
                path: e.path.map(|p| {
                    p.iter()
                        .map(|s| match s {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                }),
            })
            .collect()
    }

    /// Fails the attempt on GraphQL errors: retryable when THROTTLED, fatal otherwise.
    fn check_graphql_errors(
        &self,
        document: &Document,
        request_id: &str,
        errors: Vec<GraphqlErrorInfo>,
        cost_info: Option<QueryCost>,
    ) -> Result<(), AttemptError> {
        if errors
            .iter()
            .any(|e| e.code.as_deref() == Some("THROTTLED"))
        {
            self.inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(AttemptError::Retryable {
                failure: Failure::Throttled,
                error: ShopifyError::Graphql {
                    operation: document.name,
                    request_id: request_id.to_owned(),
                    errors,
                },
                wait: None,
                requested_cost: cost_info
                    .and_then(|c| c.requested_query_cost)
                    .map(|c| c.ceil().max(0.0) as u32),
            });
        }
        if !errors.is_empty() {
            return Err(AttemptError::Fatal(ShopifyError::Graphql {
                operation: document.name,
                request_id: request_id.to_owned(),
                errors,
            }));
        }
        Ok(())
    }

    /// Decodes an answer's `data` into `T`.
    fn decode_data<T: DeserializeOwned>(
        &self,
        document: &Document,
        request_id: String,
        data: Option<Value>,
        cost_info: Option<QueryCost>,
        attempt: u32,
    ) -> Result<GraphqlResponse<T>, AttemptError> {
        let data = match data {
            Some(data) if !data.is_null() => data,
            _ => {
                return Err(AttemptError::Fatal(ShopifyError::Decode {
                    operation: document.name,
                    request_id,
                    message: "answer has neither data nor errors".into(),
                }))
            }
        };
        match serde_json::from_value(data) {
            Ok(data) => Ok(GraphqlResponse {
                data,
                cost: cost_info,
                request_id,
                attempts: attempt,
            }),
            Err(e) => Err(AttemptError::Fatal(ShopifyError::Decode {
                operation: document.name,
                request_id,
                message: self.redact(&e.to_string()),
            })),
        }
    }

    fn transport_error(
        &self,
        document: &Document,
        request_id: &str,
        attempt: u32,
        error: reqwest::Error,
        reservation: Reservation,
    ) -> AttemptError {
        self.inner.limiter.forget(reservation);
        let kind = if error.is_timeout() {
            TransportKind::Timeout
        } else if error.is_connect() {
            TransportKind::Connect
        } else if error.is_request() || error.is_body() || error.is_decode() {
            TransportKind::Reset
        } else {
            TransportKind::Other
        };
        // reqwest's message plus its sources ("connection closed before
        // message completed"), without the URL's query (we have none) and
        // redacted in case a proxy echoed headers.
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        let failure = if kind == TransportKind::Connect {
            Failure::NotSent
        } else {
            Failure::Ambiguous
        };
        AttemptError::Retryable {
            failure,
            error: ShopifyError::Transport {
                operation: document.name,
                request_id: request_id.to_owned(),
                kind,
                message: self.redact(&message),
                attempts: attempt,
                outcome_unknown: failure == Failure::Ambiguous && document.kind == Kind::Mutation,
            },
            wait: None,
            requested_cost: None,
        }
    }

    fn http_error(
        &self,
        document: &Document,
        request_id: &str,
        attempt: u32,
        status: u16,
        body: &str,
        outcome_unknown: bool,
    ) -> ShopifyError {
        ShopifyError::HttpStatus {
            operation: document.name,
            request_id: request_id.to_owned(),
            status,
            body: self.redact(&excerpt(body, BODY_EXCERPT)),
            attempts: attempt,
            outcome_unknown,
        }
    }

    /// Removes the access token from a text that came from the outside.
    fn redact(&self, text: &str) -> String {
        let token = self.inner.token.expose();
        if token.len() >= 4 {
            text.replace(token, "<redacted>")
        } else {
            text.to_owned()
        }
    }

    /// GETs a URL without the access token (bulk results live on signed URLs,
    /// often on another host) and hands back the answer for streaming.
    pub async fn download(&self, url: &str) -> Result<reqwest::Response, ShopifyError> {
        let url = Url::parse(url).map_err(|e| ShopifyError::Bulk {
            id: String::new(),
            message: format!("bad result URL: {e}"),
        })?;
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| ShopifyError::Bulk {
                id: String::new(),
                message: self.redact(&format!("download failed: {}", e.without_url())),
            })?;
        if !response.status().is_success() {
            return Err(ShopifyError::Bulk {
                id: String::new(),
                message: format!("download failed: HTTP {}", response.status().as_u16()),
            });
        }
        Ok(response)
    }
}

impl ShopifyClient {
    /// POSTs a file to a staged upload target as a multipart form: the
    /// target's `parameters` as fields, then the bytes as `file`. Sent
    /// without the access token (the target is a signed URL, often on
    /// another host); transport failures are retried like requests.
    pub async fn upload_staged(
        &self,
        url: &str,
        parameters: &[(String, String)],
        filename: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<(), ShopifyError> {
        let url = Url::parse(url)
            .map_err(|e| ShopifyError::Config(format!("bad staged upload URL: {e}")))?;
        let mut last = None;
        let retry = &self.inner.retry;
        // Shared, not copied, by each attempt (a bulk file is 20 MB).
        let len = bytes.len() as u64;
        let bytes = bytes::Bytes::from(bytes);
        for attempt in 0..=retry.max_retries {
            if attempt > 0 {
                tokio::time::sleep(retry.backoff(attempt)).await;
            }
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in parameters {
                form = form.text(name.clone(), value.clone());
            }
            let part = reqwest::multipart::Part::stream_with_length(bytes.clone(), len)
                .file_name(filename.to_owned())
                .mime_str(mime)
                .map_err(|e| ShopifyError::Config(format!("bad MIME type `{mime}`: {e}")))?;
            form = form.part("file", part);
            match self
                .inner
                .http
                .post(url.clone())
                .multipart(form)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_server_error() => {
                    last = Some(format!("HTTP {}", r.status().as_u16()))
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    return Err(ShopifyError::Config(format!(
                        "the staged upload of {filename} was refused: HTTP {status}: {}",
                        excerpt(&text, 300)
                    )));
                }
                Err(e) => last = Some(self.redact(&e.without_url().to_string())),
            }
        }
        Err(ShopifyError::Config(format!(
            "the staged upload of {filename} failed after {} attempt(s): {}",
            retry.max_retries + 1,
            last.unwrap_or_default()
        )))
    }
}

/// `Retry-After` as seconds (Shopify sends `2.0`); HTTP dates are not used by
/// Shopify and fall back to the default wait.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Some(Duration::from_secs_f64(secs.min(600.0)))
    } else {
        None
    }
}

fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_values() {
        assert_eq!(parse_retry_after("2.0"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 1 "), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        assert_eq!(excerpt("abc", 10), "abc");
        assert_eq!(excerpt("ééé", 3), "é…");
    }
}
