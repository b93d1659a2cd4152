//! What can go wrong talking to BigCommerce, and the kind of each failure
//! for the executor (`mapsync_core::target::ErrorKind`).

use mapsync_core::target::ErrorKind;
use serde_json::Value;

/// A failed request (after the client's retries), or one failed item of a
/// batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcError {
    /// 401/403: the token is wrong or lacks a scope.
    #[error("access denied ({status}): {message}")]
    Denied { status: u16, message: String },
    /// 404.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// 409: a duplicate (name, SKU, URL) or a missing reference; `field`
    /// is the one that collides, from the body's `errors`.
    #[error("conflict on {}: {message}", field.as_deref().unwrap_or("a field"))]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// 422: the input is invalid.
    #[error("invalid input: {message}")]
    Invalid { message: String },
    /// Still 429 after the client waited and retried.
    #[error("rate limited: {message}")]
    RateLimited { message: String },
    /// A 5xx answer, after retries. `maybe_applied`: a create the store
    /// may have made before failing (not retried).
    #[error("server error ({status}): {message}")]
    Server {
        status: u16,
        message: String,
        maybe_applied: bool,
    },
    /// Any other refused request (400, 405, 413, ...).
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    /// One item of a batch the store did not save (207, or an error
    /// answer listing items by index).
    #[error("{message}")]
    Item {
        status: u16,
        field: Option<String>,
        message: String,
    },
    /// The request could not be sent or its answer was lost.
    /// `maybe_applied`: a write that may have happened.
    #[error("transport error: {message}")]
    Transport {
        message: String,
        maybe_applied: bool,
    },
    /// An answer that is not the JSON expected.
    #[error("unexpected answer: {message}")]
    Decode { message: String },
    /// Paging did not end (more pages than the guard allows, or the same
    /// page twice).
    #[error("paging of {path} did not end: {message}")]
    Paging { path: String, message: String },
    /// The client's configuration (base URL, token).
    #[error("configuration: {message}")]
    Config { message: String },
}

impl BcError {
    /// The kind of failure, for the executor and the report.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BcError::Denied { .. } => ErrorKind::Denied,
            BcError::NotFound { .. } => ErrorKind::Gone,
            BcError::Conflict { .. } | BcError::Invalid { .. } | BcError::Http { .. } => {
                ErrorKind::Refused
            }
            BcError::Item { status, .. } => match status {
                404 => ErrorKind::Gone,
                429 | 500..=599 => ErrorKind::Transient,
                _ => ErrorKind::Refused,
            },
            BcError::RateLimited { .. } => ErrorKind::Transient,
            BcError::Server { maybe_applied, .. } | BcError::Transport { maybe_applied, .. } => {
                if *maybe_applied {
                    ErrorKind::OutcomeUnknown
                } else {
                    ErrorKind::Transient
                }
            }
            BcError::Decode { .. } | BcError::Paging { .. } => ErrorKind::Failed,
            BcError::Config { .. } => ErrorKind::Config,
        }
    }

    /// The HTTP status, when the store answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            BcError::Denied { status, .. }
            | BcError::Server { status, .. }
            | BcError::Http { status, .. }
            | BcError::Item { status, .. } => Some(*status),
            BcError::NotFound { .. } => Some(404),
            BcError::Conflict { .. } => Some(409),
            BcError::Invalid { .. } => Some(422),
            BcError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The error of a non-2xx answer with its (possibly empty or non-JSON)
    /// body.
    pub fn from_answer(status: u16, body: &Value) -> BcError {
        let message = readable(status, body);
        match status {
            401 | 403 => BcError::Denied { status, message },
            404 => BcError::NotFound { message },
            409 => BcError::Conflict {
                field: first_field(body),
                message,
            },
            422 => BcError::Invalid { message },
            429 => BcError::RateLimited { message },
            500..=599 => BcError::Server {
                status,
                message,
                maybe_applied: false,
            },
            _ => BcError::Http { status, message },
        }
    }
}

/// The `errors` object of a v3 error body, also when wrapped once more
/// (`{errors: {status, title, errors: {...}}}`, as the tree API answers).
pub(crate) fn error_map(body: &Value) -> Option<&serde_json::Map<String, Value>> {
    let e = body.get("errors")?.as_object()?;
    match e.get("errors").and_then(Value::as_object) {
        Some(inner) if e.contains_key("title") || e.contains_key("status") => Some(inner),
        _ => Some(e),
    }
}

fn title_of(body: &Value) -> Option<&str> {
    body.get("title")
        .and_then(Value::as_str)
        .or_else(|| body.get("errors")?.get("title")?.as_str())
        .filter(|t| !t.is_empty())
}

/// A message's text: a string as is, anything else as JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The title and each `field: message` of a v3 error body.
pub(crate) fn readable(status: u16, body: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(t) = title_of(body) {
        parts.push(t.to_string());
    }
    if let Some(errors) = error_map(body) {
        for (k, v) in errors {
            if k.is_empty() {
                parts.push(text(v));
            } else {
                parts.push(format!("{k}: {}", text(v)));
            }
        }
    }
    if parts.is_empty() {
        match body {
            Value::String(s) if !s.trim().is_empty() => {
                parts.push(s.chars().take(300).collect());
            }
            _ => parts.push(format!("HTTP status {status}")),
        }
    }
    parts.join("; ")
}

fn first_field(body: &Value) -> Option<String> {
    error_map(body)?
        .keys()
        .find(|k| !k.is_empty())
        .map(|k| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v3_body_reads_as_title_and_fields() {
        let body = json!({"status": 409, "title": "The product name is a duplicate",
            "type": "x", "errors": {"name": "Product name 'A' is already in use"}});
        let e = BcError::from_answer(409, &body);
        assert_eq!(
            e,
            BcError::Conflict {
                field: Some("name".into()),
                message:
                    "The product name is a duplicate; name: Product name 'A' is already in use"
                        .into()
            }
        );
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(e.to_string().contains("conflict on name"));
    }

    #[test]
    fn statuses_map_to_kinds() {
        let k = |s: u16| BcError::from_answer(s, &Value::Null).kind();
        assert_eq!(k(401), ErrorKind::Denied);
        assert_eq!(k(403), ErrorKind::Denied);
        assert_eq!(k(404), ErrorKind::Gone);
        assert_eq!(k(422), ErrorKind::Refused);
        assert_eq!(k(413), ErrorKind::Refused);
        assert_eq!(k(429), ErrorKind::Transient);
        assert_eq!(k(503), ErrorKind::Transient);
        assert_eq!(
            BcError::from_answer(500, &Value::Null).to_string(),
            "server error (500): HTTP status 500"
        );
    }

    #[test]
    fn a_wrapped_body_is_read_too() {
        let body = json!({"errors": {"status": 422, "title": "Bad tree",
            "errors": {"0.name": "name is required"}}, "meta": {}});
        assert_eq!(readable(422, &body), "Bad tree; 0.name: name is required");
    }
}
