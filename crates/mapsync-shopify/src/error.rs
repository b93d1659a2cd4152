//! Errors of the `shopify` target, one enum for the module. Messages name the
//! operation and the request id (to find it in the debug log) and never
//! contain the access token: every text that came from the server passes
//! through the client's redaction before it lands here.

use std::fmt;

use mapsync_core::target::{ErrorKind, TargetError};

/// What went wrong talking to a shop.
#[derive(Debug, thiserror::Error)]
pub enum ShopifyError {
    /// The target configuration cannot work (bad shop name, URL, version).
    #[error("invalid shopify target: {0}")]
    Config(String),

    /// No HTTP answer: timeout, refused or reset connection, broken body.
    #[error("{operation} (request {request_id}): {kind} after {attempts} attempt(s): {message}")]
    Transport {
        operation: &'static str,
        request_id: String,
        kind: TransportKind,
        message: String,
        attempts: u32,
        /// The request may have been applied (it left this machine).
        outcome_unknown: bool,
    },

    /// An HTTP status other than 200 (after retries, for 429 and 5xx).
    #[error(
        "{operation} (request {request_id}): HTTP {status} after {attempts} attempt(s): {body}"
    )]
    HttpStatus {
        operation: &'static str,
        request_id: String,
        status: u16,
        /// The start of the answer's body, redacted.
        body: String,
        attempts: u32,
        outcome_unknown: bool,
    },

    /// The server answered with GraphQL `errors` (never retried).
    #[error("{operation} (request {request_id}): GraphQL error: {}", join_errors(.errors))]
    Graphql {
        operation: &'static str,
        request_id: String,
        errors: Vec<GraphqlErrorInfo>,
    },

    /// Still THROTTLED / 429 when the retries ran out.
    #[error("{operation}: still throttled after {attempts} attempt(s) (requested cost {requested_cost})")]
    Throttled {
        operation: &'static str,
        attempts: u32,
        requested_cost: u32,
    },

    /// The answer is not the JSON we asked for.
    #[error("{operation} (request {request_id}): cannot decode the answer: {message}")]
    Decode {
        operation: &'static str,
        request_id: String,
        message: String,
    },

    /// A mutation we rely on (bulk start) answered with `userErrors`.
    #[error("{operation}: refused: {}", join_user_errors(.errors))]
    UserErrors {
        operation: &'static str,
        errors: Vec<UserErrorInfo>,
    },

    /// A bulk operation failed, was canceled, expired or took too long.
    #[error("bulk operation {id}: {message}")]
    Bulk { id: String, message: String },
}

impl ShopifyError {
    /// What kind of failure this is for the engine: refused input is not
    /// retried, transient failures are tried again next run, a lost answer
    /// is looked up before anything is sent again.
    pub fn kind(&self) -> ErrorKind {
        match self {
            _ if self.outcome_unknown() => ErrorKind::OutcomeUnknown,
            Self::Config(_) => ErrorKind::Config,
            // Someone else changed the quantity: the next run reads it again.
            _ if self.is_stale_quantity() => ErrorKind::Transient,
            Self::UserErrors { .. } => ErrorKind::Refused,
            Self::Transport { .. } | Self::Throttled { .. } => ErrorKind::Transient,
            Self::HttpStatus { status, .. } if *status == 429 || *status >= 500 => {
                ErrorKind::Transient
            }
            Self::HttpStatus { status: 404, .. } => ErrorKind::Gone,
            Self::HttpStatus {
                status: 401 | 403, ..
            } => ErrorKind::Denied,
            Self::HttpStatus { .. }
            | Self::Graphql { .. }
            | Self::Decode { .. }
            | Self::Bulk { .. } => ErrorKind::Failed,
        }
    }

    /// Whether a compare-and-swap of inventory quantities found the store's
    /// quantity changed since it was read (`CHANGE_FROM_QUANTITY_STALE`).
    pub fn is_stale_quantity(&self) -> bool {
        match self {
            Self::UserErrors { errors, .. } => {
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e.code.as_deref() == Some("CHANGE_FROM_QUANTITY_STALE"))
            }
            _ => false,
        }
    }

    /// Whether the request may have been applied although no answer says so
    /// (timeout or reset after sending, 5xx). Only meaningful for mutations:
    /// the executor then looks the item up (by ownership marker) instead of
    /// sending the create again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Transport {
                outcome_unknown, ..
            }
            | Self::HttpStatus {
                outcome_unknown, ..
            } => *outcome_unknown,
            _ => false,
        }
    }

    /// The GraphQL error codes of a [`ShopifyError::Graphql`] (e.g. `MAX_COST_EXCEEDED`).
    pub fn graphql_codes(&self) -> Vec<&str> {
        match self {
            Self::Graphql { errors, .. } => {
                errors.iter().filter_map(|e| e.code.as_deref()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Kinds of transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the per-request timeout.
    Timeout,
    /// The connection could not be established (nothing was sent).
    Connect,
    /// The connection was closed or reset, or the body broke off.
    Reset,
    /// Anything else reqwest reports.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::Reset => "connection reset",
            Self::Other => "transport error",
        })
    }
}

/// One entry of a GraphQL `errors` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlErrorInfo {
    pub message: String,
    /// `extensions.code` (`THROTTLED`, `MAX_COST_EXCEEDED`, `ACCESS_DENIED`...).
    pub code: Option<String>,
    /// `path`, joined with dots.
    pub path: Option<String>,
}

/// One entry of a mutation's `userErrors`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct UserErrorInfo {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

fn join_errors(errors: &[GraphqlErrorInfo]) -> String {
    errors
        .iter()
        .map(|e| {
            let mut s = e.message.clone();
            if let Some(code) = &e.code {
                s = format!("{s} [{code}]");
            }
            if let Some(path) = &e.path {
                s = format!("{s} at {path}");
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn join_user_errors(errors: &[UserErrorInfo]) -> String {
    errors
        .iter()
        .map(|e| match &e.field {
            Some(field) if !field.is_empty() => format!("{}: {}", field.join("."), e.message),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ShopifyError> for TargetError {
    fn from(e: ShopifyError) -> TargetError {
        TargetError::new(e.kind(), e)
    }
}
