//! `mapsync run`'s configuration: the project's `run:` section and each
//! profile's `schedule:` (`every`, `cron` with a time zone, `manual`).
//! Parsed here, next to the checks that report a broken one at `validate`,
//! so the manager and `validate` read them with the same code.
//!
//! Cron expressions are read by `croner` (POSIX/Vixie five-field patterns,
//! optional seconds, `@hourly` aliases, `L`/`#`/`W`), evaluated in the
//! `timezone:` given (an IANA name from `chrono-tz`; UTC when absent).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::check::mapping::parse_duration;
use crate::yaml::Node;
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};

/// When a profile runs.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every interval, counted from the end of the last run's start.
    Every(Duration),
    /// At the times a cron pattern matches, in a time zone.
    Cron {
        /// The pattern as written.
        pattern: String,
        /// The parsed pattern.
        cron: Box<croner::Cron>,
        /// The time zone it is read in.
        tz: chrono_tz::Tz,
    },
    /// Only when asked (status page, `POST /api/profiles/NAME/sync`).
    Manual,
}

impl Schedule {
    /// The next time the profile is due strictly after `after`; `None` for
    /// a manual schedule (or a pattern that never matches again).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        match self {
            Schedule::Every(d) => after.checked_add(*d),
            Schedule::Cron { cron, tz, .. } => {
                let utc: chrono::DateTime<chrono::Utc> = after.into();
                let local = utc.with_timezone(tz);
                let next = cron.find_next_occurrence(&local, false).ok()?;
                Some(next.with_timezone(&chrono::Utc).into())
            }
            Schedule::Manual => None,
        }
    }

    /// The longest wait between two runs, to cap the backoff of failed
    /// runs at (the interval; for cron, the gap after `now`).
    pub fn interval(&self, now: SystemTime) -> Option<Duration> {
        match self {
            Schedule::Every(d) => Some(*d),
            Schedule::Cron { .. } => {
                let a = self.next_after(now)?;
                let b = self.next_after(a)?;
                b.duration_since(a).ok()
            }
            Schedule::Manual => None,
        }
    }

    /// As written, for the status page: `every 15m`, `cron 0 */2 * * * (Europe/Copenhagen)`, `manual`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", human_duration(*d)),
            Schedule::Cron { pattern, tz, .. } => format!("cron {pattern} ({tz})"),
            Schedule::Manual => "manual".into(),
        }
    }
}

/// `30s`, `15m`, `2h`, `1d` (the largest unit that divides).
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// Log line format of `mapsync run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The `run:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// How often the configuration is read again.
    pub config_check: Duration,
    /// Where the health, metrics and status endpoints listen.
    pub listen: SocketAddr,
    /// The log directory (relative to the project directory when relative).
    pub log_dir: PathBuf,
    /// Text or JSON lines.
    pub log_format: LogFormat,
    /// Log files older than this many days are removed.
    pub keep_days: u32,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            config_check: Duration::from_secs(600),
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            log_dir: PathBuf::from(".mapsync/logs"),
            log_format: LogFormat::Text,
            keep_days: 30,
        }
    }
}

/// Read the `run:` section (defaults for what is absent or broken; the
/// checks below report what is broken).
pub fn run_settings(run: Option<&Node>) -> RunSettings {
    let mut s = RunSettings::default();
    let Some(run) = run else { return s };
    if let Some(d) = run
        .get("config_check")
        .and_then(Node::as_str)
        .and_then(parse_duration)
        .filter(|d| !d.is_zero())
    {
        s.config_check = d;
    }
    if let Some(a) = run
        .get("listen")
        .and_then(Node::as_str)
        .and_then(|t| SocketAddr::from_str(t).ok())
    {
        s.listen = a;
    }
    if let Some(logs) = run.get("logs") {
        if let Some(d) = logs.get("dir").and_then(Node::as_str) {
            s.log_dir = PathBuf::from(d);
        }
        if logs.get("format").and_then(Node::as_str) == Some("json") {
            s.log_format = LogFormat::Json;
        }
        if let Some(k) = logs
            .get("keep_days")
            .and_then(Node::scalar_text)
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|k| *k > 0)
        {
            s.keep_days = k;
        }
    }
    s
}

/// Why a `schedule:` cannot be used (each maps to a diagnostic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// None, or more than one, of `every`, `cron`, `manual`.
    #[error("a schedule needs exactly one of `every`, `cron` or `manual: true`")]
    Kind,
    /// `every:` is not a duration, or zero.
    #[error("`every: {0}` is not a positive duration")]
    Every(String),
    /// The cron pattern does not parse.
    #[error("`{pattern}` is not a cron pattern: {reason}")]
    Cron {
        /// As written.
        pattern: String,
        /// croner's reason.
        reason: String,
    },
    /// Not an IANA time zone name.
    #[error("unknown time zone `{0}`")]
    Timezone(String),
}

/// Parse a profile's `schedule:` node.
pub fn parse(node: &Node) -> Result<Schedule, ScheduleError> {
    let every = node.get("every");
    let cron = node.get("cron");
    let manual = node.get("manual").and_then(Node::scalar_text);
    let manual = manual.as_deref() == Some("true");
    let count = usize::from(every.is_some()) + usize::from(cron.is_some()) + usize::from(manual);
    if count != 1 {
        return Err(ScheduleError::Kind);
    }
    if let Some(e) = every {
        let text = e.scalar_text().unwrap_or_default();
        return parse_duration(&text)
            .filter(|d| !d.is_zero())
            .map(Schedule::Every)
            .ok_or(ScheduleError::Every(text));
    }
    if let Some(c) = cron {
        let pattern = c.scalar_text().unwrap_or_default();
        let parsed = croner::Cron::from_str(&pattern).map_err(|e| ScheduleError::Cron {
            pattern: pattern.clone(),
            reason: e.to_string(),
        })?;
        let tz = match node.get("timezone").and_then(Node::scalar_text) {
            None => chrono_tz::UTC,
            Some(t) => chrono_tz::Tz::from_str(&t).map_err(|_| ScheduleError::Timezone(t))?,
        };
        return Ok(Schedule::Cron {
            pattern,
            cron: Box::new(parsed),
            tz,
        });
    }
    Ok(Schedule::Manual)
}

/// Check a profile's `schedule:` (the schema has checked the keys' types).
pub fn check(profile: &str, node: &Node, diags: &mut Diagnostics) {
    if node.as_map().is_none() {
        return;
    }
    match parse(node) {
        Ok(_) => {}
        Err(ScheduleError::Kind) => {
            let manual_false =
                node.get("manual").and_then(Node::scalar_text).as_deref() == Some("false");
            diags.push(
                Diagnostic::error(
                    codes::SCHEDULE_KIND,
                    format!("profile `{profile}`: a schedule needs exactly one of `every`, `cron` or `manual: true`"),
                )
                .at_opt(node.loc())
                .label(if manual_false { "`manual: false` is not a schedule" } else { "one kind of schedule here" })
                .help("write `schedule: { every: 15m }`, `schedule: { cron: \"0 */2 * * *\", timezone: Europe/Copenhagen }` or `schedule: { manual: true }`; remove `schedule:` for a profile that `mapsync run` should not run"),
            );
        }
        Err(ScheduleError::Every(text)) => {
            diags.push(
                Diagnostic::error(
                    codes::SCHEDULE_EVERY,
                    format!("profile `{profile}`: `every: {text}` is not a positive duration"),
                )
                .at_opt(node.get("every").and_then(Node::loc))
                .label("not a duration above zero")
                .help("write a number and a unit (s, m, h, d), e.g. `every: 15m`"),
            );
        }
        Err(ScheduleError::Cron { reason, .. }) => {
            diags.push(
                Diagnostic::error(
                    codes::SCHEDULE_CRON,
                    format!("profile `{profile}`: the cron pattern does not parse: {reason}"),
                )
                .at_opt(node.get("cron").and_then(Node::loc))
                .label("not a cron pattern")
                .help("five fields: minute hour day-of-month month day-of-week, e.g. `0 */2 * * *` (every two hours); an optional sixth field in front is seconds"),
            );
        }
        Err(ScheduleError::Timezone(t)) => {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name());
            let mut help = match mapsync_core::diag::suggest(&t, names) {
                Some(s) => format!("did you mean `{s}`? "),
                None => String::new(),
            };
            help.push_str("write an IANA time zone name such as `Europe/Copenhagen` or `UTC`");
            diags.push(
                Diagnostic::error(
                    codes::SCHEDULE_TIMEZONE,
                    format!("profile `{profile}`: unknown time zone `{t}`"),
                )
                .at_opt(node.get("timezone").and_then(Node::loc))
                .label("not a time zone")
                .help(help),
            );
        }
    }
    if node.get("timezone").is_some() && node.get("cron").is_none() {
        diags.push(
            Diagnostic::warning(
                codes::SCHEDULE_TIMEZONE,
                format!("profile `{profile}`: `timezone` is only read with `cron`"),
            )
            .at_opt(node.get("timezone").and_then(Node::loc))
            .label("ignored")
            .help("remove `timezone`, or give a `cron` pattern it applies to"),
        );
    }
}

/// Check the project's `run:` section.
pub fn check_run(node: &Node, diags: &mut Diagnostics) {
    if let Some(c) = node.get("config_check") {
        if let Some(text) = c.as_str() {
            if parse_duration(text).is_some_and(|d| d.is_zero()) {
                diags.push(
                    Diagnostic::error(codes::PROJECT_RUN_OPTION, "`config_check` is zero")
                        .at_opt(c.loc())
                        .label("must be above zero")
                        .help("write how often the configuration is read again, e.g. `config_check: 10m`"),
                );
            }
        }
    }
    if let Some(l) = node.get("listen") {
        if let Some(text) = l.as_str() {
            if SocketAddr::from_str(text).is_err() {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_RUN_OPTION,
                        format!("`listen: {text}` is not an address and port"),
                    )
                    .at_opt(l.loc())
                    .label("not IP:PORT")
                    .help("write an IP address and a port, e.g. `127.0.0.1:9464` (loopback: only this machine can connect)"),
                );
            }
        }
    }
    if let Some(k) = node.get("logs").and_then(|l| l.get("keep_days")) {
        if k.scalar_text().as_deref() == Some("0") {
            diags.push(
                Diagnostic::error(codes::PROJECT_RUN_OPTION, "`keep_days` is zero")
                    .at_opt(k.loc())
                    .label("must be at least 1")
                    .help("write how many days of log files to keep, e.g. `keep_days: 30`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_runs() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let every = Schedule::Every(Duration::from_secs(2));
        assert_eq!(every.next_after(t0), Some(t0 + Duration::from_secs(2)));
        let cron = Schedule::Cron {
            pattern: "0 */2 * * *".into(),
            cron: Box::new(croner::Cron::from_str("0 */2 * * *").unwrap()),
            tz: chrono_tz::Europe::Copenhagen,
        };
        let next = cron.next_after(t0).unwrap();
        let dt: chrono::DateTime<chrono::Utc> = next.into();
        // 1_700_000_000 is 2023-11-14T22:13:20Z; Copenhagen is UTC+1 then,
        // so the next even local hour is 00:00 local = 23:00 UTC.
        assert_eq!(dt.to_rfc3339(), "2023-11-14T23:00:00+00:00");
        assert_eq!(cron.interval(t0), Some(Duration::from_secs(7200)));
        assert!(Schedule::Manual.next_after(t0).is_none());
        assert_eq!(human_duration(Duration::from_secs(900)), "15m");
    }
}
