//! Test support: a small real HTTP server (axum on 127.0.0.1, random port)
//! that plays a Shopify shop for the client and read-side tests. A handler
//! closure decides each answer: JSON, an HTTP status, a 429 with
//! `Retry-After`, a long sleep (timeout) or a dropped connection. The server
//! records every request (token header, operation, variables).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// What the shop answers to one request.
pub enum Reply {
    /// HTTP 200 with this JSON body.
    Json(Value),
    /// Any status with a text body.
    Status(u16, String),
    /// HTTP 429 with `Retry-After`.
    TooMany(String),
    /// Answers only after this long (the client times out first).
    Sleep(Duration),
    /// Closes the connection without answering.
    Drop,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub token: Option<String>,
    pub operation: Option<String>,
    pub variables: Value,
    pub at: Instant,
}

pub type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct ServerState {
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
    files: Arc<Mutex<std::collections::HashMap<String, String>>>,
}

pub struct TestShop {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    files: Arc<Mutex<std::collections::HashMap<String, String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestShop {
    /// Starts a shop whose GraphQL endpoint is answered by `handler(request,
    /// index)` (index counts from 0 over all requests).
    pub async fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let files = Arc::new(Mutex::new(std::collections::HashMap::new()));
        let state = ServerState {
            handler: Arc::new(handler),
            seen: seen.clone(),
            files: files.clone(),
        };
        let app = Router::new()
            .route("/admin/api/{version}/graphql.json", post(graphql))
            .route("/files/{name}", get(file))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            seen,
            files,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `/files/{name}` (bulk results); returns its URL.
    pub fn put_file(&self, name: &str, body: String) -> String {
        self.files.lock().unwrap().insert(name.to_owned(), body);
        format!("{}/files/{name}", self.url())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn count_op(&self, op: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation.as_deref() == Some(op))
            .count()
    }
}

impl Drop for TestShop {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn graphql(State(state): State<ServerState>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let seen = Seen {
        token: headers
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        operation: request["operationName"].as_str().map(str::to_owned),
        variables: request["variables"].clone(),
        at: Instant::now(),
    };
    let index = {
        let mut all = state.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    match (state.handler)(&seen, index) {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Status(code, text) => (StatusCode::from_u16(code).unwrap(), text).into_response(),
        Reply::TooMany(after) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", after)],
            "Too Many Requests",
        )
            .into_response(),
        Reply::Sleep(d) => {
            tokio::time::sleep(d).await;
            axum::Json(json!({"data": null})).into_response()
        }
        // Unwinding out of the handler ends the connection task: the socket
        // closes without an answer. `resume_unwind` skips the panic hook, so
        // nothing is printed.
        Reply::Drop => std::panic::resume_unwind(Box::new("scripted connection drop")),
    }
}

async fn file(
    State(state): State<ServerState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("x-shopify-access-token") {
        return (StatusCode::BAD_REQUEST, "token sent to a file URL").into_response();
    }
    match state.files.lock().unwrap().get(&name) {
        Some(body) => body.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `extensions.cost` as Shopify sends it.
pub fn cost_ext(
    requested: f64,
    actual: Option<f64>,
    maximum: f64,
    available: f64,
    rate: f64,
) -> Value {
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate
            }
        }
    })
}

/// A THROTTLED answer.
pub fn throttled(requested: f64, maximum: f64, available: f64, rate: f64) -> Value {
    json!({
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": cost_ext(requested, None, maximum, available, rate)
    })
}

/// A successful answer with a generous bucket.
pub fn ok(data: Value) -> Value {
    json!({"data": data, "extensions": cost_ext(1.0, Some(1.0), 2000.0, 1999.0, 100.0)})
}
