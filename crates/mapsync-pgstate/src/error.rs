//! Why the PostgreSQL state store cannot do what was asked. Every message
//! names the database by its redacted URL ([`crate::PgUrl::redacted`]):
//! never a password.

/// An error of the PostgreSQL state store.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PgStateError {
    /// The `state:` URL is not one mapsync can use.
    #[error("state URL `{url}`: {message}")]
    #[diagnostic(help("{help}"))]
    Url {
        /// The URL as written, without its password.
        url: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// The URL names an environment variable for the password that is not set.
    #[error("state database {url}: the password variable `{var}` is not set")]
    #[diagnostic(help(
        "export {var} with the database user's password in the environment of mapsync \
         (or remove `password_env` to use PGPASSWORD, or none)"
    ))]
    PasswordEnv {
        /// The redacted URL.
        url: String,
        /// The variable's name.
        var: String,
    },
    /// The database cannot be reached or refused the login.
    #[error("cannot connect to the state database {url}: {error}")]
    #[diagnostic(help(
        "check that PostgreSQL runs at this host and port, that the database exists, and \
         that the user's password is in the environment (`password_env` or PGPASSWORD)"
    ))]
    Connect {
        /// The redacted URL.
        url: String,
        /// The driver's reason.
        #[source]
        error: sqlx::Error,
    },
    /// The database holds tables of another program.
    #[error("the state database {url} is not a mapsync state database ({reason})")]
    #[diagnostic(help(
        "give mapsync a database (or a schema, `?options=-c search_path=NAME`) of its own"
    ))]
    NotMapsync {
        /// The redacted URL.
        url: String,
        /// Why we think so.
        reason: String,
    },
    /// The database was migrated by a newer mapsync.
    #[error(
        "the state database {url} has schema version {found}, but this mapsync knows \
         versions up to {supported}"
    )]
    #[diagnostic(help(
        "upgrade mapsync on this machine (every worker sharing a database must run the same \
         or a newer version), or point `state:` at another database"
    ))]
    TooNew {
        /// The redacted URL.
        url: String,
        /// The database's newest applied version.
        found: i64,
        /// What this binary knows.
        supported: u32,
    },
    /// Any other failure of a statement.
    #[error("state database {url}: {action} failed: {error}")]
    #[diagnostic(help(
        "check the PostgreSQL server's log; a run whose ledger could not be written is \
         resumed from the ledger by the next run"
    ))]
    Query {
        /// The redacted URL.
        url: String,
        /// What we were doing.
        action: &'static str,
        /// The driver's reason.
        #[source]
        error: sqlx::Error,
    },
    /// A date cannot be written as RFC 3339.
    #[error("cannot store the date {date}: {error}")]
    Date {
        /// The date.
        date: String,
        /// Why.
        error: String,
    },
}

impl PgStateError {
    /// Whether the server ran out of disk (SQLSTATE 53100 `disk_full`).
    pub fn is_disk_full(&self) -> bool {
        match self {
            PgStateError::Query { error, .. } | PgStateError::Connect { error, .. } => error
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|c| c == "53100"),
            _ => false,
        }
    }
}

impl PgStateError {
    /// The kind of failure the engine and the CLI tell apart
    /// ([`mapsync_state::ServerFailure`]).
    pub fn failure(&self) -> mapsync_state::ServerFailure {
        use mapsync_state::ServerFailure as F;
        if self.is_disk_full() {
            return F::DiskFull;
        }
        match self {
            PgStateError::Url { .. } => F::Url,
            PgStateError::PasswordEnv { .. } => F::PasswordEnv,
            PgStateError::Connect { .. } => F::Unreachable,
            PgStateError::NotMapsync { .. } | PgStateError::TooNew { .. } => F::Schema,
            // The server went away mid-run, or no connection could be had.
            PgStateError::Query {
                error: sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_),
                ..
            } => F::Unreachable,
            PgStateError::Query { .. } | PgStateError::Date { .. } => F::Other,
        }
    }
}

/// The engine's state errors are [`mapsync_state::StateError`]s: a
/// PostgreSQL failure travels whole as its `Server` variant.
impl From<PgStateError> for mapsync_state::StateError {
    fn from(error: PgStateError) -> Self {
        mapsync_state::StateError::Server {
            kind: error.failure(),
            error: Box::new(error),
        }
    }
}
