//! `mapsync run` (the sync manager, `mapsync-run`), `mapsync runs` (past
//! runs from the state stores) and `mapsync status` (asks a running
//! manager).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::{render, Format};
use crate::config::profile::ProfileError;

/// Options of `mapsync run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Only these profiles (also without a `schedule:`: then only when asked).
    #[arg(long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// Run each due profile once, then exit (for cron and CI).
    #[arg(long, conflicts_with = "worker")]
    pub once: bool,
    /// Join the pool of workers sharing the profiles' PostgreSQL state
    /// database: scheduled runs become jobs there (a queue per store), any
    /// worker runs them, a dead worker's run is resumed by another
    /// (docs/scale.md; timings: MAPSYNC_WORKER_* variables).
    #[arg(long)]
    pub worker: bool,
    /// More log output on stderr (-v debug with request ids); the default is info.
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Options of `mapsync runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Only this profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// How many runs (newest first).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Options of `mapsync status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

fn load_all(project: Option<&Path>) -> anyhow::Result<crate::config::profile::LoadedProject> {
    let file = super::project_file(project)?;
    match crate::config::profile::load_all(&file, |n| std::env::var(n).ok(), &crate::registry()) {
        Ok(l) => Ok(l),
        Err(ProfileError::Invalid(diags)) => {
            super::print_diagnostics(&diags);
            anyhow::bail!("the project file has errors");
        }
        Err(e) => Err(e.into()),
    }
}

/// `mapsync run`.
pub fn run(project: Option<&Path>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let file = super::project_file(project)?;
    let loaded = load_all(project)?;
    for name in &args.profile {
        if !loaded.profiles.iter().any(|(n, _, _)| n == name) {
            let names = loaded.profiles.iter().map(|(n, _, _)| n.as_str());
            let hint = crate::diag::suggest(name, names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            anyhow::bail!("no profile `{name}` in {}{hint}", file.display());
        }
    }
    let level = if args.verbose > 0 { "debug" } else { "info" };
    let options = mapsync_run::Options {
        project_file: file,
        only: args.profile,
        worker: args.worker,
    };
    match mapsync_run::run(options, crate::registry(), args.once, level) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(mapsync_run::StartError::Project(ProfileError::Invalid(diags))) => {
            super::print_diagnostics(&diags);
            anyhow::bail!("the project file has errors");
        }
        Err(mapsync_run::StartError::Project(e)) => Err(e.into()),
        Err(mapsync_run::StartError::Worker(e)) => {
            // Its own stable code (`run::worker-queue`) and help; URLs
            // in it are redacted.
            let out = super::failure::render_diagnostic(
                &e,
                mapsync_run::pool::CODE,
                super::render::color_stderr(),
            );
            eprint!("{out}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// `mapsync runs`.
pub fn runs(project: Option<&Path>, args: RunsArgs) -> anyhow::Result<ExitCode> {
    let loaded = load_all(project)?;
    if let Some(p) = &args.profile {
        if !loaded.profiles.iter().any(|(n, _, _)| n == p) {
            anyhow::bail!("no profile `{p}` in {}", loaded.file.display());
        }
    }
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, profile, _) in &loaded.profiles {
        if args.profile.as_ref().is_some_and(|p| p != name) {
            continue;
        }
        let Ok(profile) = profile else { continue };
        // A profile that never ran may have no state store yet (an SQLite
        // file; a PostgreSQL database is the server's).
        let exists = crate::engine::state_pool(profile, 0).is_ok_and(|s| s.exists());
        if args.profile.is_none() && !exists {
            continue;
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        all.extend(
            mapsync_run::manager::runs_of(profile, args.limit).map_err(|e| anyhow::anyhow!(e))?,
        );
    }
    all.sort_by(|a, b| b["started_at"].as_str().cmp(&a["started_at"].as_str()));
    all.truncate(args.limit as usize);
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "runs": all }))?
        ),
        Format::Human => {
            if all.is_empty() {
                outln!("No runs yet.");
            }
            for r in &all {
                outln!("{}", run_line(r));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_line(r: &serde_json::Value) -> String {
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let rep = &r["report"];
    let sum = if rep["summary"].is_object() {
        &rep["summary"]
    } else {
        &r["summary"]
    };
    let status = r["status"].as_str().unwrap_or("?");
    let mut line = format!(
        "#{:<5} {:<12} {}  {:<8} {} created, {} updated, {} deleted, {} deactivated, {} unchanged, {} invalid, {} failed",
        n(&r["id"]),
        r["profile"].as_str().unwrap_or("?"),
        r["started_at"].as_str().unwrap_or("?"),
        status,
        n(&sum["created"]),
        n(&sum["updated"]),
        n(&sum["deleted"]),
        n(&sum["deactivated"]),
        n(&sum["unchanged"]),
        n(&sum["invalid"]),
        n(&sum["failed"]),
    );
    if rep["requests"].is_object() {
        line.push_str(&format!(
            "; {} requests ({} throttled)",
            n(&rep["requests"]["total"]),
            n(&rep["requests"]["throttled"])
        ));
    }
    if let Some(e) = rep["error"].as_str() {
        line.push_str(&format!("\n       error: {e}"));
    }
    for i in rep["failed_items"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            "\n       FAILED {} {} {}: {}",
            i["action"].as_str().unwrap_or("?"),
            i["entity"].as_str().unwrap_or("?"),
            i["key"].as_str().unwrap_or("-"),
            i["message"].as_str().unwrap_or("failed")
        ));
    }
    line
}

/// `mapsync status`.
pub fn status(project: Option<&Path>, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let file = super::project_file(project)?;
    let mut diags = crate::diag::Diagnostics::new();
    let project = crate::config::load_project(&file, &mut diags)?;
    let settings = crate::config::schedule::run_settings(
        project.parsed.root.as_ref().and_then(|r| r.get("run")),
    );
    let addr = settings.listen;
    let body = match mapsync_run::http_get(addr, "/api/status", Duration::from_secs(5)) {
        Ok((200, body)) => body,
        Ok((code, _)) => anyhow::bail!("the manager on {addr} answered HTTP {code}"),
        Err(e) => {
            eprintln!("no manager answers on {addr} ({e}); start one with `mapsync run`");
            return Ok(ExitCode::from(1));
        }
    };
    let status: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
        anyhow::anyhow!("the manager on {addr} answered something that is not its status: {e}")
    })?;
    match args.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&status)?),
        Format::Human => out!(
            "{}",
            status_human(&status, &addr.to_string(), render::color_stdout())
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn status_human(s: &serde_json::Value, addr: &str, _color: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mapsync run on http://{addr}/ since {}{}",
        s["started_at"].as_str().unwrap_or("?"),
        if s["shutting_down"] == true {
            " (shutting down)"
        } else {
            ""
        }
    );
    if s["config"]["status"] == "refused" {
        let _ = writeln!(
            out,
            "The last configuration reload was refused: {}",
            s["config"]["reason"].as_str().unwrap_or("?")
        );
        for d in s["config"]["diagnostics"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {}", mapsync_run::manager::diagnostic_line(d));
        }
    }
    for p in s["profiles"].as_array().into_iter().flatten() {
        let last = &p["last_run"]["report"];
        let _ = writeln!(
            out,
            "{:<14} {:<8} {:<28} next {}  last {}",
            p["name"].as_str().unwrap_or("?"),
            p["state"].as_str().unwrap_or("?"),
            p["schedule"].as_str().unwrap_or("?"),
            p["next_run"].as_str().unwrap_or("-"),
            last["outcome"].as_str().unwrap_or("-"),
        );
        if let Some(e) = last["error"].as_str() {
            let _ = writeln!(out, "               error: {e}");
        }
    }
    out
}
