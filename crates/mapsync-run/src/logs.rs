//! The manager's logs: one file a day in `logs.dir`
//! (`mapsync.log.YYYY-MM-DD`, `tracing-appender`'s daily rolling), files
//! older than `keep_days` removed (at start and every hour), lines as text
//! or JSON objects with `timestamp`, `level`, `profile`, `run_id`, `item`,
//! `request_id`, `message` (taken from the event and the spans around it).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use mapsync_config::schedule::LogFormat;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The daily files' name before the date.
pub const PREFIX: &str = "mapsync.log";

/// Lines waiting for the log file's writer thread, at most (32 bytes of
/// channel a line, allocated at start).
const LOG_BUFFERED_LINES: usize = 8_192;

/// Sets up logging: stderr (`stderr_level`, or `RUST_LOG`) and the daily
/// file (`info`, or `MAPSYNC_LOG`, e.g. `debug` for request ids). Keep the
/// guard: dropping it flushes the file.
pub fn init(
    dir: &Path,
    format: LogFormat,
    stderr_level: &str,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let stderr_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{stderr_level},mapsync::cli=off")));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_filter(stderr_filter);
    let file = std::fs::create_dir_all(dir)
        .ok()
        .and_then(|()| {
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(PREFIX)
                .build(dir)
                .ok()
        })
        .map(|w| {
            // tracing-appender's default of 128,000 lines preallocates and
            // initializes its channel's slots: 4 MB of the manager's memory
            // at rest (issue 13). The writer thread drains the lines as they
            // come (a few a run, a few hundred a second with `debug`); when
            // it falls behind by this many, lines are dropped, not waited for.
            tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_BUFFERED_LINES)
                .finish(w)
        });
    let file_filter =
        || EnvFilter::try_from_env("MAPSYNC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    match (file, format) {
        (Some((writer, guard)), LogFormat::Json) => {
            let layer = JsonLayer { writer }.with_filter(file_filter());
            let _ = tracing_subscriber::registry()
                .with(stderr)
                .with(layer)
                .try_init();
            Some(guard)
        }
        (Some((writer, guard)), LogFormat::Text) => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(file_filter());
            let _ = tracing_subscriber::registry()
                .with(stderr)
                .with(layer)
                .try_init();
            Some(guard)
        }
        (None, _) => {
            let _ = tracing_subscriber::registry().with(stderr).try_init();
            None
        }
    }
}

/// Removes the daily files of `dir` dated more than `keep_days` before
/// `today`; returns how many.
pub fn cleanup(dir: &Path, keep_days: u32, today: Date) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(date) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|d| d.strip_prefix('.'))
            .and_then(|d| Date::parse(d, format).ok())
        else {
            continue;
        };
        if (today - date).whole_days() > i64::from(keep_days)
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The fields of run.md's JSON lines that spans carry.
#[derive(Default, Clone)]
struct Carried {
    profile: Option<String>,
    run_id: Option<String>,
    item: Option<String>,
    request_id: Option<String>,
}

#[derive(Default)]
struct Fields {
    carried: Carried,
    message: String,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), value.to_string());
    }
}

impl Fields {
    fn put(&mut self, name: &str, value: String) {
        match name {
            "message" => self.message = value,
            "profile" => self.carried.profile = Some(value),
            "run_id" => self.carried.run_id = Some(value),
            "item" | "key" => self.carried.item = Some(value),
            "request_id" => self.carried.request_id = Some(value),
            other => {
                self.rest.insert(other.to_string(), value.into());
            }
        }
    }
}

/// Writes one JSON object a line.
struct JsonLayer<W> {
    writer: W,
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(f.carried);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut carried = Carried::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(c) = span.extensions().get::<Carried>() {
                    let c = c.clone();
                    carried.profile = c.profile.or(carried.profile);
                    carried.run_id = c.run_id.or(carried.run_id);
                    carried.item = c.item.or(carried.item);
                    carried.request_id = c.request_id.or(carried.request_id);
                }
            }
        }
        let mut f = Fields {
            carried,
            ..Fields::default()
        };
        event.record(&mut f);
        let mut message = f.message;
        // Other fields follow the message as `key=value`, as in text lines.
        for (k, v) in &f.rest {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            let _ = write!(message, " {k}={v}");
        }
        let line = serde_json::json!({
            "timestamp": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            "level": event.metadata().level().as_str(),
            "profile": f.carried.profile,
            "run_id": f.carried.run_id,
            "item": f.carried.item,
            "request_id": f.carried.request_id,
            "message": message,
        });
        let mut w = self.writer.make_writer();
        let _ = writeln!(w, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_removes_only_old_daily_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "mapsync.log.2026-11-01",
            "mapsync.log.2026-11-20",
            "mapsync.log.2026-11-30",
            "other.txt",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let today = Date::from_calendar_date(2026, time::Month::December, 1).unwrap();
        assert_eq!(cleanup(dir.path(), 10, today), 2);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["mapsync.log.2026-11-30", "other.txt"]);
    }
}
