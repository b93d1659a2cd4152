//! Test support: an HTTP proxy on loopback that forwards every request to
//! an upstream store and records each GraphQL body, so a test can check
//! what a client really sent (documents and variables) against a schema.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A running proxy.
pub struct Recorder {
    /// Base URL to give the client.
    pub url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Recorder {
    /// Every JSON body received so far, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
    bodies: Arc<Mutex<Vec<Value>>>,
}

/// Starts a proxy to `upstream` (a base URL) on the current runtime.
pub async fn start(upstream: &str) -> Recorder {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let state = Upstream {
        base: upstream.trim_end_matches('/').to_string(),
        http: reqwest::Client::new(),
        bodies: bodies.clone(),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Recorder { url, bodies }
}

async fn forward(
    State(up): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        up.bodies.lock().unwrap().push(v);
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = up
        .http
        .request(method, format!("{}{path}", up.base))
        .body(body.to_vec());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    match req.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    out.insert(name.clone(), value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
