//! Rendering a [`Plan`]: the Terraform-like human view (`+` create,
//! `~` update, `-` delete, `!` deactivate, `·` skip/unchanged (verbose
//! only), `x` invalid; grouped by entity; attribute diffs under each item;
//! a counts line), the JSON document of cli.md, an [`Explanation`] in
//! words, and the `--detailed-exitcode` value. Returns strings; printing
//! is the CLI's job. Colour only when asked.

use std::fmt::Write as _;

use super::diff::{DiffEntry, DiffOp};
use super::reconcile::{by_entity, Action, Change, Explanation, Plan};

/// How to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours.
    pub color: bool,
    /// Show skipped and unchanged items too.
    pub verbose: bool,
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialisation failed.
    #[error("cannot write the plan as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

const RESET: &str = "\x1b[0m";

fn symbol(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("+", "\x1b[32m"),
        Action::Update => ("~", "\x1b[33m"),
        Action::Delete => ("-", "\x1b[31m"),
        Action::Deactivate => ("!", "\x1b[35m"),
        Action::Skip | Action::Unchanged => ("·", "\x1b[2m"),
        Action::Invalid => ("x", "\x1b[1;31m"),
    }
}

fn paint(o: RenderOptions, code: &str, s: &str) -> String {
    if o.color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_string()
    }
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn diff_line(o: RenderOptions, d: &DiffEntry) -> String {
    match d.op {
        DiffOp::Add => paint(
            o,
            "\x1b[32m",
            &format!("      + {} = {}", d.path, value(&d.after)),
        ),
        DiffOp::Remove => paint(
            o,
            "\x1b[31m",
            &format!("      - {} = {}", d.path, value(&d.before)),
        ),
        DiffOp::Change => paint(
            o,
            "\x1b[33m",
            &format!(
                "      ~ {}: {} -> {}",
                d.path,
                value(&d.before),
                value(&d.after)
            ),
        ),
    }
}

fn item_line(o: RenderOptions, c: &Change) -> String {
    let (sym, code) = symbol(c.action);
    let name = match (&c.key, &c.target_id) {
        (Some(k), Some(id)) => format!("{k} ({id})"),
        (Some(k), None) => k.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => "(no key)".into(),
    };
    let head = paint(o, code, &format!("  {sym} {} {name}", c.action.as_str()));
    format!("{head}  [{}] {}", c.rule, c.reason)
}

/// The human view.
pub fn human(plan: &Plan, o: RenderOptions) -> String {
    let mut out = String::new();
    for (entity, changes) in by_entity(plan) {
        let shown: Vec<&&Change> = changes
            .iter()
            .filter(|c| o.verbose || !matches!(c.action, Action::Skip | Action::Unchanged))
            .collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}:", entity.as_str());
        for c in shown {
            let _ = writeln!(out, "{}", item_line(o, c));
            for d in &c.diff {
                let _ = writeln!(out, "{}", diff_line(o, d));
            }
            for d in &c.diagnostics {
                let _ = writeln!(out, "      {} {}: {}", d.severity, d.code, d.message);
            }
        }
        out.push('\n');
    }
    for m in &plan.mass_delete {
        let _ = writeln!(
            out,
            "{}",
            paint(
                o,
                "\x1b[1;31m",
                &format!(
                    "Error: the plan removes {} of {} {} items; max_deletes {} allows {} (use --allow-mass-delete)",
                    m.planned,
                    m.target_items,
                    m.entity.as_str(),
                    m.limit,
                    m.allowed
                )
            )
        );
    }
    let s = plan.summary;
    if s.has_changes() || s.invalid > 0 {
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to delete, {} to deactivate; {} unchanged, {} skipped, {} invalid.",
            s.create, s.update, s.delete, s.deactivate, s.unchanged, s.skip, s.invalid
        );
    } else {
        let _ = writeln!(
            out,
            "No changes. {} unchanged, {} skipped.",
            s.unchanged, s.skip
        );
    }
    out
}

/// The JSON document of cli.md (`plan --format json`), pretty-printed.
pub fn json(plan: &Plan) -> Result<String, RenderError> {
    Ok(serde_json::to_string_pretty(plan)?)
}

/// `--explain KEY` in words.
pub fn explanation(e: &Explanation, o: RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {} list",
        e.entity.as_str(),
        e.key.as_deref().unwrap_or("(no key)"),
        e.list
    );
    for (i, c) in e.checks.iter().enumerate() {
        let mark = if c.matched {
            paint(o, "\x1b[32m", "yes")
        } else {
            paint(o, "\x1b[2m", "no ")
        };
        let _ = writeln!(out, "  {:>2}. {mark} {}  ({})", i + 1, c.rule, c.why);
    }
    let _ = writeln!(out, "=> {} by {}", e.action.as_str(), e.rule);
    out
}

/// `--detailed-exitcode`: 2 when the plan changes the target, else 0.
pub fn detailed_exit_code(plan: &Plan) -> i32 {
    if plan.summary.has_changes() {
        2
    } else {
        0
    }
}
