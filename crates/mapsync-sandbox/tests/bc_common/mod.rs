//! Helpers of the emulated BigCommerce store's tests: start a store, call
//! it over HTTP, and check every request and answer against BigCommerce's
//! OpenAPI files.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::{self, BcConfig, BcHandle};
use serde_json::Value;

pub const TOKEN: &str = "test-token";

/// The OpenAPI files, loaded once per test binary.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::bundled().expect("the bundled OpenAPI files load"))
}

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A client of a running store that checks what it sends and receives.
pub struct Client {
    pub store: BcHandle,
    pub http: reqwest::Client,
    /// Check requests and answers against the OpenAPI files.
    pub check: bool,
    /// Answers whose status the files do not document, as `METHOD path status`.
    pub undocumented: Arc<Mutex<Vec<String>>>,
}

pub async fn start(config: BcConfig) -> Client {
    let store = bigcommerce::start(config).await.expect("the store starts");
    Client {
        store,
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap(),
        check: true,
        undocumented: Arc::new(Mutex::new(Vec::new())),
    }
}

pub fn config() -> BcConfig {
    BcConfig {
        token: Some(TOKEN.into()),
        quota: Some(100_000),
        ..BcConfig::default()
    }
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.store.api_url())
    }

    /// Call the API with a request the files do not allow (to see the
    /// store refuse it); the answer is still checked.
    pub async fn call_invalid(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, false).await
    }

    /// Call the API (path below `/stores/{hash}/v3`, with its query).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, self.check).await
    }

    async fn send(&self, method: &str, path: &str, body: Option<Value>, check: bool) -> Answer {
        if check {
            if let Err(e) = spec().check_request(method, path, body.as_ref()) {
                panic!("request {method} {path} does not match the OpenAPI files: {e:#?}");
            }
        }
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(m, self.url(path))
            .header("X-Auth-Token", TOKEN)
            .header("Accept", "application/json");
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("the store answers");
        self.answer(method, path, resp).await
    }

    /// A multipart image upload.
    pub async fn upload(
        &self,
        product: u64,
        name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
    ) -> Answer {
        let path = format!("/catalog/products/{product}/images");
        let mut form = reqwest::multipart::Form::new().part(
            "image_file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let resp = self
            .http
            .post(self.url(&path))
            .header("X-Auth-Token", TOKEN)
            .multipart(form)
            .send()
            .await
            .expect("the store answers");
        self.answer("POST", &path, resp).await
    }

    async fn answer(&self, method: &str, path: &str, resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("an answer body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {path}: answer is not JSON ({e}): {bytes:?}"))
        };
        for h in [
            "x-rate-limit-requests-left",
            "x-rate-limit-requests-quota",
            "x-rate-limit-time-reset-ms",
            "x-rate-limit-time-window-ms",
        ] {
            assert!(
                headers.contains_key(h),
                "{method} {path} → {status}: no {h} header"
            );
        }
        if self.check {
            if spec().documents(method, path, status) {
                if status != 204 {
                    if let Err(e) = spec().check_response(method, path, status, &body) {
                        panic!(
                            "answer {status} to {method} {path} does not match the OpenAPI files: {e:#?}\n{body:#}"
                        );
                    }
                }
            } else {
                self.undocumented
                    .lock()
                    .unwrap()
                    .push(format!("{method} {path} {status}"));
                if status >= 400 {
                    assert_v3_error(&body, status);
                }
            }
        }
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// A v3 error body: `{status, title, type, errors}`.
pub fn assert_v3_error(body: &Value, status: u16) {
    assert_eq!(body["status"], status, "v3 error body: {body}");
    assert!(body["title"].is_string(), "v3 error body: {body}");
    assert!(body["type"].is_string(), "v3 error body: {body}");
    assert!(body["errors"].is_object(), "v3 error body: {body}");
}

/// Serve `bytes` at `http://127.0.0.1:PORT/<anything>` (images by URL).
pub async fn image_server(bytes: &'static [u8]) -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/missing.png",
            get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
        )
        .route("/text.png", get(|| async { "not an image" }))
        .fallback(get(move || async move { bytes.to_vec() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
