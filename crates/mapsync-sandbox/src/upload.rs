//! The upload targets of `stagedUploadsCreate`, served by the sandbox:
//! `POST /__sandbox/staged/{token}` with a multipart form (the target's
//! parameters as fields, then `file`), or `PUT` with the raw body, as the
//! real (signed, token-less) targets take them; `GET
//! /__sandbox/staged/{token}/{filename}` serves the file back. The token in
//! the URL is the credential, as the signature of a real target is. Must
//! not hold the rules of the files (those live in [`crate::staged`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::server::App;
use super::staged::{self, UploadError, MAX_UPLOAD_BYTES};

/// Most form fields a POST upload may carry besides the file.
const MAX_FIELDS: usize = 32;

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut resp = (status, message.into()).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn refused(e: UploadError) -> Response {
    match e {
        UploadError::NotFound => text(StatusCode::NOT_FOUND, "No such staged upload target."),
        UploadError::WrongMethod => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "This staged upload target takes the other HTTP method (see its httpMethod).",
        ),
        UploadError::TooLarge => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Files are limited to {MAX_UPLOAD_BYTES} bytes."),
        ),
        UploadError::SizeMismatch { expected, got } => text(
            StatusCode::BAD_REQUEST,
            format!("The file has {got} bytes; the target was made for fileSize {expected}."),
        ),
    }
}

/// Store the bytes, then persist the store before answering.
async fn store(app: &App, token: &str, method: &str, bytes: Vec<u8>) -> Result<(), Response> {
    app.core
        .mutate(|st| Arc::make_mut(&mut st.staged).upload(token, method, bytes))
        .map_err(refused)?;
    app.core.persist().await.map_err(|e| {
        tracing::error!(error = %e, "could not persist the store");
        text(StatusCode::INTERNAL_SERVER_ERROR, "state not persisted")
    })
}

/// The form's text fields and its `file`.
async fn read_form(mut form: Multipart) -> Result<(HashMap<String, String>, Vec<u8>), Response> {
    let bad = |m: String| text(StatusCode::BAD_REQUEST, m);
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("bad multipart form: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let mut buf = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| bad(format!("bad multipart form: {e}")))?
            {
                if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
                    return Err(refused(UploadError::TooLarge));
                }
                buf.extend_from_slice(&chunk);
            }
            file = Some(buf);
        } else if fields.len() < MAX_FIELDS {
            let value = field
                .text()
                .await
                .map_err(|e| bad(format!("bad form field {name}: {e}")))?;
            fields.insert(name, value);
        } else {
            return Err(bad(format!("more than {MAX_FIELDS} form fields")));
        }
    }
    let file = file.ok_or_else(|| bad("the form has no `file` field".into()))?;
    Ok((fields, file))
}

/// `POST /__sandbox/staged/{token}`: a multipart form with the target's
/// parameters and `file`. Answers `success_action_status` (201 with a
/// small XML body, as the real targets; 200; otherwise 204).
pub async fn post_form(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    form: Multipart,
) -> Response {
    let target = app.core.snapshot().staged.get(&token).cloned();
    let Some(target) = target else {
        return refused(UploadError::NotFound);
    };
    if target.http_method != "POST" {
        return refused(UploadError::WrongMethod);
    }
    let (fields, file) = match read_form(form).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("key") != Some(target.key.as_str())
        || field("policy") != Some(staged::policy(&target).as_str())
    {
        return text(
            StatusCode::FORBIDDEN,
            "Invalid according to Policy: the form must carry the target's `key` and `policy` parameters.",
        );
    }
    if let Err(resp) = store(&app, &token, "POST", file).await {
        return resp;
    }
    match field("success_action_status") {
        Some("201") => {
            let base = app.core.base_url.get().cloned().unwrap_or_default();
            let body = format!(
                "<?xml version='1.0' encoding='UTF-8'?><PostResponse><Location>{}</Location><Key>{}</Key></PostResponse>",
                staged::resource_url(&base, &target),
                target.key
            );
            let mut resp = (StatusCode::CREATED, body).into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/xml"));
            resp
        }
        Some("200") => StatusCode::OK.into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `PUT /__sandbox/staged/{token}`: the raw bytes; 200. A `Content-Type`
/// other than the target's `mimeType` is refused (403), as a signed URL is.
pub async fn put_raw(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = app.core.snapshot().staged.get(&token).cloned();
    let Some(target) = target else {
        return refused(UploadError::NotFound);
    };
    let sent = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
    if sent.is_some_and(|m| !m.eq_ignore_ascii_case(&target.mime_type)) {
        return text(
            StatusCode::FORBIDDEN,
            "The Content-Type differs from the target's mimeType.",
        );
    }
    match store(&app, &token, "PUT", body.to_vec()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(resp) => resp,
    }
}

/// `GET /__sandbox/staged/{token}/{filename}`: the uploaded file (404
/// before the upload).
pub async fn get_file(
    State(app): State<Arc<App>>,
    Path((token, _filename)): Path<(String, String)>,
) -> Response {
    let st = app.core.snapshot();
    let Some((bytes, mime)) = st
        .staged
        .get(&token)
        .and_then(|t| Some((t.bytes.clone()?, t.mime_type.clone())))
    else {
        return refused(UploadError::NotFound);
    };
    let mut resp = Response::new(Body::from(bytes.as_ref().clone()));
    if let Ok(v) = HeaderValue::from_str(&mime) {
        resp.headers_mut().insert("content-type", v);
    }
    resp
}
