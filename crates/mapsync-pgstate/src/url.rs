//! `state: postgres://USER@HOST[:PORT]/DATABASE[?PARAMS]`: where the
//! PostgreSQL state store is. The password is never in the URL (it would
//! sit in project files and show in logs): it comes from the environment
//! variable `password_env=NAME` names, else from `PGPASSWORD`, else there
//! is none (trust, peer or certificate authentication). Every URL shown in
//! a message is [`PgUrl::redacted`].

use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::PgStateError;

/// The query parameters a state URL may carry.
const PARAMS: &[&str] = &[
    "password_env",
    "sslmode",
    "sslrootcert",
    "host",
    "options",
    "application_name",
    "max_connections",
    "connect_timeout",
];

/// The default most connections one process opens to the state database.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// A parsed `postgres://` state URL (no password: see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The host name or address (empty when `socket` is set).
    pub host: String,
    /// The port (5432 unless given).
    pub port: u16,
    /// The user, if given (else PostgreSQL's default: `PGUSER` or the
    /// operating-system user).
    pub user: Option<String>,
    /// The database, if given (else the user's name).
    pub database: Option<String>,
    /// The environment variable holding the password (`password_env=`).
    pub password_env: Option<String>,
    /// `sslmode=` (disable, allow, prefer, require, verify-ca, verify-full).
    pub sslmode: Option<String>,
    /// `sslrootcert=`: the CA certificates file for verify-ca/verify-full.
    pub sslrootcert: Option<PathBuf>,
    /// `host=/dir`: a Unix-domain socket directory instead of TCP (the
    /// URL's host is then ignored: `postgres://USER@localhost/DB?host=/run/postgresql`).
    pub socket: Option<PathBuf>,
    /// `options=`: server options, e.g. `-c search_path=mapsync`.
    pub options: Option<String>,
    /// `application_name=` (default `mapsync`).
    pub application_name: Option<String>,
    /// `max_connections=`: most connections this process opens.
    pub max_connections: u32,
    /// `connect_timeout=` in seconds (default 10).
    pub connect_timeout: Duration,
}

impl PgUrl {
    /// Parses a state URL (`postgres://` or `postgresql://`).
    pub fn parse(raw: &str) -> Result<PgUrl, PgStateError> {
        let bad = |message: String, help: &str| PgStateError::Url {
            url: redact_raw(raw),
            message,
            help: help.to_string(),
        };
        let url = url::Url::parse(raw).map_err(|e| {
            bad(
                format!("it is not a URL ({e})"),
                "write `postgres://USER@HOST[:PORT]/DATABASE`",
            )
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad(
                format!("`{}:` is not a PostgreSQL URL", url.scheme()),
                "write `postgres://USER@HOST[:PORT]/DATABASE`",
            ));
        }
        if url.password().is_some() {
            return Err(bad(
                "it holds a password, which would be kept in the project's files and shown in logs"
                    .into(),
                "remove the password from the URL and export it in the environment: \
                 PGPASSWORD, or a variable of your choice named by `?password_env=NAME`",
            ));
        }
        let decode = |s: &str| -> Result<String, PgStateError> {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| bad("an unreadable part".into(), "percent-encode it"))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let database = match url.path().trim_start_matches('/') {
            "" => None,
            d if d.contains('/') => {
                return Err(bad(
                    format!("`{d}` is not a database name"),
                    "write one database after the host: `postgres://USER@HOST/DATABASE`",
                ))
            }
            d => Some(decode(d)?),
        };
        let mut parsed = PgUrl {
            host: url.host_str().unwrap_or("").to_string(),
            port: url.port().unwrap_or(5432),
            user,
            database,
            password_env: None,
            sslmode: None,
            sslrootcert: None,
            socket: None,
            options: None,
            application_name: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connect_timeout: Duration::from_secs(10),
        };
        for (name, value) in url.query_pairs() {
            let value = value.into_owned();
            match name.as_ref() {
                "password_env" => {
                    if value.is_empty() || value.contains('=') {
                        return Err(bad(
                            format!("`password_env={value}` is not a variable name"),
                            "name the environment variable holding the password, e.g. `?password_env=MAPSYNC_DB_PASSWORD`",
                        ));
                    }
                    parsed.password_env = Some(value);
                }
                "sslmode" => {
                    if value.parse::<PgSslMode>().is_err() {
                        return Err(bad(
                            format!("`sslmode={value}` is not an SSL mode"),
                            "use disable, allow, prefer, require, verify-ca or verify-full",
                        ));
                    }
                    parsed.sslmode = Some(value);
                }
                "sslrootcert" => parsed.sslrootcert = Some(PathBuf::from(value)),
                "host" => parsed.socket = Some(PathBuf::from(value)),
                "options" => parsed.options = Some(value),
                "application_name" => parsed.application_name = Some(value),
                "max_connections" => {
                    parsed.max_connections = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            bad(
                                format!("`max_connections={value}` is not a positive number"),
                                "write e.g. `?max_connections=4`",
                            )
                        })?;
                }
                "connect_timeout" => {
                    let secs = value
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            bad(
                                format!(
                                    "`connect_timeout={value}` is not a positive number of seconds"
                                ),
                                "write e.g. `?connect_timeout=10`",
                            )
                        })?;
                    parsed.connect_timeout = Duration::from_secs(secs);
                }
                other => {
                    return Err(bad(
                        format!("unknown parameter `{other}`"),
                        &format!("known parameters: {}", PARAMS.join(", ")),
                    ))
                }
            }
        }
        if parsed.host.is_empty() && parsed.socket.is_none() {
            return Err(bad(
                "it names no host".into(),
                "write `postgres://USER@HOST/DATABASE`, or `postgres://USER@localhost/DATABASE?host=/run/postgresql` for a Unix socket",
            ));
        }
        Ok(parsed)
    }

    /// The URL without any secret, for messages and logs.
    pub fn redacted(&self) -> String {
        let mut s = String::from("postgres://");
        if let Some(user) = &self.user {
            s.push_str(user);
            s.push('@');
        }
        s.push_str(&self.host);
        if self.port != 5432 {
            s.push_str(&format!(":{}", self.port));
        }
        s.push('/');
        if let Some(db) = &self.database {
            s.push_str(db);
        }
        if let Some(socket) = &self.socket {
            s.push_str(&format!("?host={}", socket.display()));
        }
        s
    }

    /// The driver's connection options, with the password read from the
    /// environment now.
    pub fn connect_options(&self) -> Result<PgConnectOptions, PgStateError> {
        // Not `PgConnectOptions::new()`: that reads `~/.pgpass` and every
        // PG* variable; what the URL says is what is used.
        let mut opts = PgConnectOptions::new_without_pgpass()
            .port(self.port)
            .application_name(self.application_name.as_deref().unwrap_or("mapsync"));
        opts = match &self.socket {
            Some(dir) => opts.socket(dir),
            None => opts.host(&self.host),
        };
        if let Some(user) = &self.user {
            opts = opts.username(user);
        }
        if let Some(db) = &self.database {
            opts = opts.database(db);
        }
        let password = match &self.password_env {
            Some(var) => Some(std::env::var(var).map_err(|_| PgStateError::PasswordEnv {
                url: self.redacted(),
                var: var.clone(),
            })?),
            None => std::env::var("PGPASSWORD").ok(),
        };
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            opts = opts.password(&password);
        }
        if let Some(mode) = &self.sslmode {
            // Checked by `parse`.
            if let Ok(mode) = mode.parse::<PgSslMode>() {
                opts = opts.ssl_mode(mode);
            }
        }
        if let Some(cert) = &self.sslrootcert {
            opts = opts.ssl_root_cert(cert);
        }
        if let Some(options) = &self.options {
            opts = opts.options(parse_server_options(options));
        }
        Ok(opts)
    }
}

/// `-c name=value -c other=value` (or `--name=value`) as pairs.
fn parse_server_options(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut words = s.split_whitespace();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("-c").or_else(|| w.strip_prefix("--"))
        };
        if let Some((k, v)) = setting.and_then(|s| s.split_once('=')) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

/// A URL that could not be parsed, with whatever follows `user:` up to
/// the `@` of its authority replaced by `***`.
pub fn redact_raw(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_string();
    };
    let rest = &raw[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &raw[..start], &userinfo[..colon], &rest[at..])
                }
                None => raw.to_string(),
            }
        }
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_url_forms() {
        let u = PgUrl::parse("postgres://mapsync@db.internal/mapsync").unwrap();
        assert_eq!(u.host, "db.internal");
        assert_eq!(u.port, 5432);
        assert_eq!(u.user.as_deref(), Some("mapsync"));
        assert_eq!(u.database.as_deref(), Some("mapsync"));
        assert_eq!(u.redacted(), "postgres://mapsync@db.internal/mapsync");
        let u = PgUrl::parse(
            "postgresql://ops%40eu@10.0.0.5:6543/state?password_env=DB_PW&sslmode=verify-full&max_connections=8&options=-c%20search_path%3Dmapsync",
        )
        .unwrap();
        assert_eq!(u.user.as_deref(), Some("ops@eu"));
        assert_eq!(u.port, 6543);
        assert_eq!(u.password_env.as_deref(), Some("DB_PW"));
        assert_eq!(u.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(u.max_connections, 8);
        assert_eq!(
            parse_server_options(u.options.as_deref().unwrap()),
            vec![("search_path".to_string(), "mapsync".to_string())]
        );
        let u = PgUrl::parse("postgres://me@localhost/db?host=/run/postgresql").unwrap();
        assert_eq!(
            u.socket.as_deref(),
            Some(std::path::Path::new("/run/postgresql"))
        );
    }

    #[test]
    fn refuses_passwords_and_never_shows_them() {
        for raw in [
            "postgres://u:s3cret@h/db",
            "postgres://u:s3cret@h:99999/db",
            "postgres://u:s3cret@h/db?nope=1",
        ] {
            let e = PgUrl::parse(raw).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("u:***@h"), "{shown}");
        }
        let e = PgUrl::parse("postgres://u:s3cret@h/db").unwrap_err();
        let help = miette::Diagnostic::help(&e).unwrap().to_string();
        assert!(help.contains("PGPASSWORD"), "{help}");
    }

    #[test]
    fn refuses_unknown_parameters_and_bad_values() {
        for raw in [
            "postgres://u@h/db?sslmode=sometimes",
            "postgres://u@h/db?max_connections=0",
            "postgres://u@h/db?pool=3",
            "postgres://u@h/a/b",
            "postgres:///db",
            "mysql://u@h/db",
            "not a url",
        ] {
            assert!(PgUrl::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn the_password_comes_from_the_named_variable() {
        let u =
            PgUrl::parse("postgres://u@h/db?password_env=MAPSYNC_PGSTATE_TEST_UNSET_VAR").unwrap();
        let e = u.connect_options().unwrap_err();
        assert!(matches!(e, PgStateError::PasswordEnv { .. }), "{e}");
        assert!(e.to_string().contains("MAPSYNC_PGSTATE_TEST_UNSET_VAR"));
    }

    #[test]
    fn raw_redaction() {
        assert_eq!(redact_raw("postgres://a:b@c/d"), "postgres://a:***@c/d");
        assert_eq!(redact_raw("postgres://a@c/d"), "postgres://a@c/d");
        assert_eq!(redact_raw("postgres://a:b:c@@h"), "postgres://a:***@h");
        assert_eq!(redact_raw("nothing"), "nothing");
    }
}
