//! A command's fatal error as a diagnostic: one message (the error's text,
//! each cause added once — never the same text twice), a stable code that
//! says which part failed, and help on what to do. Rendered with miette,
//! in colour only on a terminal.

use mapsync_config::profile::ProfileError;
use mapsync_config::ConfigError;
use mapsync_core::diag::codes;
use mapsync_core::source::SourceError;
use mapsync_core::target::{ErrorKind, TargetError};
use mapsync_engine::exec::run::RunError;
use mapsync_engine::exec::ExecError;
use mapsync_state::{ServerFailure, StateError};

/// A fatal error ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable code (docs/diagnostics.md, "Runtime errors").
    pub code: &'static str,
    /// What failed, causes included once.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl miette::Diagnostic for Failure {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}

/// The message of an error and its causes, each text once: a cause whose
/// text the message already holds (`target: X` caused by `X`) is not
/// repeated.
pub fn message(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// Classify a fatal error: its code and help.
pub fn classify(err: &anyhow::Error) -> Failure {
    let (code, help) = code_and_help(err);
    Failure {
        code,
        message: message(err),
        help: help.map(str::to_string),
    }
}

/// Whether a cause of `err` says the disk (or the user's quota) is full:
/// writing the spool, a temporary file, the plan file or the state store.
pub fn disk_full(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(mapsync_state::tmp::is_disk_full)
            || cause
                .downcast_ref::<StateError>()
                .is_some_and(StateError::is_disk_full)
            || cause
                .downcast_ref::<mapsync_plan::spool::SpoolError>()
                .is_some_and(mapsync_plan::spool::SpoolError::is_disk_full)
            || cause
                .downcast_ref::<mapsync_state::tmp::TmpError>()
                .is_some_and(mapsync_state::tmp::TmpError::is_disk_full)
    })
}

fn code_and_help(err: &anyhow::Error) -> (&'static str, Option<&'static str>) {
    if disk_full(err) {
        return (
            codes::RUN_DISK_FULL.name,
            Some("free space on the disk that holds the project's temporary folder (`tmp_dir:`, default .mapsync/tmp) and the state store (`state:`), then run again: a run that stopped before its first change changed nothing, and one that stopped midway recorded every item it finished (the next run resumes)"),
        );
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<TargetError>() {
            return target(e.kind);
        }
        if let Some(e) = cause.downcast_ref::<SourceError>() {
            return match e {
                SourceError::Config { .. } => (
                    codes::RUN_SOURCE_CONFIG.name,
                    Some("fix the profile's `source:` (`mapsync validate` checks it)"),
                ),
                SourceError::Connector(_) => (
                    codes::RUN_SOURCE.name,
                    Some("nothing was changed; fix the source and run again"),
                ),
            };
        }
        if let Some(StateError::Server { kind, .. }) = cause.downcast_ref::<StateError>() {
            match kind {
                ServerFailure::Unreachable => return (
                    codes::RUN_STATE_UNREACHABLE.name,
                    Some("check that PostgreSQL runs at the host and port of the profile's `state:` URL, that the database and user exist and that the password is in the environment (`password_env=NAME`, else PGPASSWORD); a run that stopped before its first change changed nothing, one that stopped midway recorded what it finished (the next run resumes)"),
                ),
                ServerFailure::PasswordEnv => return (
                    codes::RUN_ENV.name,
                    Some("export the variable the `state:` URL's `password_env=` names, holding the database user's password, before running; a password never goes in the URL or the project file"),
                ),
                _ => {}
            }
        }
        if cause.downcast_ref::<StateError>().is_some() {
            return (
                codes::RUN_STATE.name,
                Some("the state store (the profile's `state:`) could not be used; nothing was changed"),
            );
        }
        if let Some(e) = cause.downcast_ref::<ProfileError>() {
            return match e {
                ProfileError::Env { .. } => (
                    codes::RUN_ENV.name,
                    Some("export the variable (e.g. `export NAME=...`) before running; values never go in the project file"),
                ),
                ProfileError::Invalid(_) | ProfileError::UnknownType { .. } => (
                    codes::RUN_PROJECT.name,
                    Some("run `mapsync validate` to see every problem of the project file"),
                ),
                ProfileError::Unknown { .. } => (
                    codes::RUN_PROFILE.name,
                    Some("the profiles are the keys under `profiles:` in mapsync.yaml"),
                ),
                ProfileError::Config(_) => (codes::RUN_PROJECT.name, None),
            };
        }
        if cause.downcast_ref::<ConfigError>().is_some() {
            return (codes::RUN_PROJECT.name, None);
        }
        if let Some(RunError::Stale { .. }) = cause.downcast_ref::<RunError>() {
            return (codes::RUN_PLAN_STALE.name, None);
        }
        if let Some(e) = cause.downcast_ref::<ExecError>() {
            return match e {
                ExecError::Interrupted { .. } => (codes::RUN_INTERRUPTED.name, None),
                ExecError::MassDelete(_) => (codes::RUN_MASS_DELETE.name, None),
                _ => (codes::RUN_FAILED.name, None),
            };
        }
    }
    (codes::RUN_FAILED.name, None)
}

fn target(kind: ErrorKind) -> (&'static str, Option<&'static str>) {
    match kind {
        ErrorKind::Transient | ErrorKind::OutcomeUnknown => (
            codes::RUN_TARGET_UNREACHABLE.name,
            Some("the target could not be reached after the retries; check its address and the network, then run again (nothing is lost: finished items are recorded)"),
        ),
        ErrorKind::Denied => (
            codes::RUN_TARGET_DENIED.name,
            Some("the store refused the credentials; check the token the profile's `target.token` names and its access scopes"),
        ),
        ErrorKind::Config => (
            codes::RUN_TARGET_CONFIG.name,
            Some("fix the profile's `target:` (`mapsync validate` checks it)"),
        ),
        ErrorKind::Refused | ErrorKind::Gone | ErrorKind::Failed => (
            codes::RUN_TARGET.name,
            Some("the target failed; run again with -v for details, or see .mapsync/logs/"),
        ),
    }
}

/// Render a fatal error for stderr.
pub fn render(err: &anyhow::Error, color: bool) -> String {
    let failure = classify(err);
    render_diagnostic(&failure, failure.code, color)
}

/// Render one miette diagnostic with stable code `code` for stderr, as
/// every fatal error is rendered (100 columns, no links), followed by the
/// `mapsync explain` hint; plain `error[CODE]: message` if miette cannot.
pub fn render_diagnostic(d: &dyn miette::Diagnostic, code: &str, color: bool) -> String {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, d).is_err() {
        out = format!("error[{code}]: {d}\n");
    }
    out.push_str(&super::render::explain_hint(code));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like `EngineError::Target`: its text includes its cause's.
    #[derive(Debug)]
    struct Outer(TargetError);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "target: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let inner = TargetError::new(
            ErrorKind::Transient,
            "Locations (request 1): connection failed: refused",
        );
        let err = anyhow::Error::new(Outer(inner));
        let f = classify(&err);
        assert_eq!(
            f.message,
            "target: Locations (request 1): connection failed: refused"
        );
        assert_eq!(f.code, "run::target-unreachable");
        let text = render(&err, false);
        assert_eq!(text.matches("connection failed").count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "no colour codes: {text}");
    }

    #[test]
    fn a_full_disk_anywhere_in_the_chain_is_disk_full() {
        let io = std::io::Error::from_raw_os_error(28);
        let err = anyhow::Error::new(io).context("cannot write the plan file p.json");
        let f = classify(&err);
        assert_eq!(f.code, "run::disk-full");
        assert!(
            f.message.contains("No space left on device"),
            "{}",
            f.message
        );
        assert!(f.help.unwrap().contains("tmp_dir"));
    }

    #[test]
    fn a_new_cause_is_added() {
        let err = anyhow::anyhow!("disk full").context("cannot write the plan");
        assert_eq!(message(&err), "cannot write the plan: disk full");
        assert_eq!(classify(&err).code, "run::failed");
    }
}
