//! Files uploaded to the emulated PIM, as a store's media library takes
//! them: `POST /files` (a multipart form whose `file` part carries the
//! bytes and their name) or `PUT /files/{name}` (the bytes as the body)
//! answer `201 {"data": {id, name, url, sha256, size, content_type}}`;
//! `GET /files/{id}/{name}` serves the bytes without credentials, as a
//! CDN does, so an image whose URL is that one is pulled back as it
//! arrived. Only images are taken (by their first bytes). The same bytes
//! under the same name are one file. Files live in memory: they are not
//! in the state file.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use sha2::Digest;

use super::Pim;
use crate::runtime::lock;
use crate::staged::{encode_segment, image_format};

/// The largest file taken.
pub const MAX_FILE_BYTES: usize = 20 << 20;

/// One uploaded file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PimFile {
    /// Its id (the first is 1).
    pub id: u64,
    /// Its name, as uploaded.
    pub name: String,
    /// Where it is served.
    pub url: String,
    /// SHA-256 of the bytes that arrived, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: usize,
    /// MIME type, from the bytes.
    pub content_type: String,
    #[serde(skip)]
    pub(crate) bytes: Arc<Vec<u8>>,
}

/// The files of a PIM.
#[derive(Debug, Default)]
pub(crate) struct Files {
    list: Vec<PimFile>,
}

impl Files {
    pub(crate) fn all(&self) -> Vec<PimFile> {
        self.list.clone()
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": code, "message": message.into()}).to_string();
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Keeps `bytes` as `name` and answers with the file.
fn keep(pim: &Pim, name: &str, bytes: Vec<u8>) -> Response {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\\']) || name.starts_with('.') {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "the file needs a name (without `/`, at most 255 bytes)",
        );
    }
    if bytes.len() > MAX_FILE_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("files are limited to {MAX_FILE_BYTES} bytes"),
        );
    }
    let Some(content_type) = image_format(&bytes) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_file",
            "the file is no image (PNG, JPEG, GIF or WebP)",
        );
    };
    let sha256 = hex(&sha2::Sha256::digest(&bytes));
    let file = {
        let mut files = lock(&pim.files);
        match files
            .list
            .iter()
            .find(|f| f.name == name && f.sha256 == sha256)
        {
            Some(f) => f.clone(),
            None => {
                let id = files.list.len() as u64 + 1;
                let f = PimFile {
                    id,
                    name: name.to_string(),
                    url: format!("{}/files/{id}/{}", pim.base_url, encode_segment(name)),
                    sha256,
                    size: bytes.len(),
                    content_type: content_type.to_string(),
                    bytes: Arc::new(bytes),
                };
                files.list.push(f.clone());
                f
            }
        }
    };
    let body = json!({ "data": file }).to_string();
    let mut resp = (StatusCode::CREATED, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&file.url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /files`: a multipart form with a `file` part.
pub(super) async fn post_form(State(pim): State<Arc<Pim>>, mut form: Multipart) -> Response {
    let bad = |m: String| error(StatusCode::BAD_REQUEST, "bad_request", m);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    "the form has no `file` part",
                )
            }
            Err(e) => return bad(format!("bad multipart form: {e}")),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_string();
        return match field.bytes().await {
            Ok(b) => keep(&pim, &name, b.to_vec()),
            Err(e) => bad(format!("bad multipart form: {e}")),
        };
    }
}

/// `PUT /files/{name}`: the bytes as the body.
pub(super) async fn put_raw(
    State(pim): State<Arc<Pim>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    keep(&pim, &name, body.to_vec())
}

/// `GET /files/{id}/{name}`: the bytes (no credentials needed).
pub(super) async fn get(
    State(pim): State<Arc<Pim>>,
    Path((id, name)): Path<(u64, String)>,
) -> Response {
    let found = lock(&pim.files)
        .list
        .iter()
        .find(|f| f.id == id && f.name == name)
        .cloned();
    match found {
        Some(f) => {
            let mut resp = (StatusCode::OK, f.bytes.as_ref().clone()).into_response();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
        None => error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}
