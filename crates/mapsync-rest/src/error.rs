//! The errors of the `rest` connector. Every message is built from values
//! that went through the [`Redactor`](crate::redact::Redactor): URLs without
//! credentials or secret query values, and no resolved `${ENV}` secret.

use std::fmt;

/// What kind of failure a [`RestError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestErrorKind {
    /// The options cannot work (bad URL, template, duration...).
    Config,
    /// The server refused the credentials (HTTP 401/403, or the token
    /// endpoint refused the client).
    Auth,
    /// The server answered with an HTTP error retrying does not fix (4xx).
    Status,
    /// The server could not be reached, or kept failing (5xx, 429,
    /// timeouts, resets), after every retry.
    Unreachable,
    /// An answer is not what the options describe (not JSON, no record
    /// list at `records`, no number at `count.value`...).
    Body,
    /// Paging went wrong: the server repeats itself, or never ends.
    Paging,
    /// A write-back template failed for an item.
    Template,
    /// A write's answer was lost and whether it happened could not be
    /// checked (the target's create, when looking the item up fails too).
    OutcomeUnknown,
}

/// A failure of the `rest` connector: what, where (a URL without secrets)
/// and how to fix it.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}; {help}")]
pub struct RestError {
    /// The kind of failure.
    pub kind: RestErrorKind,
    /// What went wrong and where.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
}

impl fmt::Debug for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestError")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("message", &self.message)
            .field("help", &self.help)
            .finish()
    }
}

impl RestError {
    /// A new error.
    pub fn new(kind: RestErrorKind, message: impl Into<String>, help: impl Into<String>) -> Self {
        RestError {
            kind,
            message: message.into(),
            help: help.into(),
            status: None,
        }
    }

    /// An options error.
    pub fn config(message: impl Into<String>, help: impl Into<String>) -> Self {
        RestError::new(RestErrorKind::Config, message, help)
    }

    /// With the HTTP status the server answered.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

impl From<RestError> for mapsync_core::source::SourceError {
    fn from(e: RestError) -> Self {
        match e.kind {
            RestErrorKind::Config => mapsync_core::source::SourceError::Config {
                message: format!("`rest`: {}", e.message),
                help: e.help,
            },
            _ => mapsync_core::source::SourceError::Connector(Box::new(e)),
        }
    }
}
