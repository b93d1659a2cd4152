//! Rendering of diagnostics and reports: miette's graphical handler for
//! people, the JSON documents of cli.md for tools.

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde_json::json;

use crate::diag::{Diagnostic, Diagnostics, Severity};

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// Whether stderr gets colour: a terminal, and `NO_COLOR` unset.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// One diagnostic, rendered by miette (no colour unless asked; fixed width).
pub fn diagnostic(d: &Diagnostic, color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, d).is_err() {
        out = format!("{}: {}\n", d.code.name, d.message);
    }
    out
}

/// The human output of `validate`.
pub fn validate_human(diags: &Diagnostics, valid: bool, color: bool) -> String {
    let mut out = String::new();
    for d in diags.iter() {
        out.push_str(&diagnostic(d, color, 100));
        out.push('\n');
    }
    let (e, w) = (diags.errors(), diags.warnings());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if valid {
        out.push_str(&format!("valid ({})\n", plural(w, "warning")));
    } else {
        out.push_str(&format!(
            "invalid: {}, {}\n",
            plural(e, "error"),
            plural(w, "warning")
        ));
    }
    out
}

/// The `validate --format json` document of cli.md.
pub fn validate_json(diags: &Diagnostics, valid: bool) -> String {
    let items: Vec<serde_json::Value> = diags.iter().map(diagnostic_json).collect();
    let doc = json!({
        "format_version": 1,
        "valid": valid,
        "summary": { "errors": diags.errors(), "warnings": diags.warnings() },
        "diagnostics": items,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// One diagnostic as JSON.
pub fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    let mut v = json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "code": d.code.name,
        "message": d.message,
    });
    let obj = v.as_object_mut();
    if let Some(obj) = obj {
        if let Some(loc) = &d.location {
            obj.insert("file".into(), json!(loc.file.name));
        }
        if let Some((l, c, el, ec)) = d.line_cols() {
            obj.insert("line".into(), json!(l));
            obj.insert("column".into(), json!(c));
            obj.insert("end_line".into(), json!(el));
            obj.insert("end_column".into(), json!(ec));
        }
        if let Some(h) = &d.help {
            obj.insert("help".into(), json!(h));
        }
        if !d.related.is_empty() {
            let related: Vec<serde_json::Value> = d
                .related
                .iter()
                .map(|(span, label)| {
                    let (line, column) = span.file.line_col(span.start);
                    json!({ "file": span.file.name, "line": line, "column": column, "label": label })
                })
                .collect();
            obj.insert("related".into(), json!(related));
        }
    }
    v
}

/// The outputs of `mapsync plan` for a plan whose documents are spooled,
/// streamed: the plan file (`--out`, written to `FILE.tmp` and renamed),
/// then the JSON document (`json`) or the human view with the "Saved the
/// plan" line on stdout. The same bytes as rendering the in-memory plan.
/// A closed stdout (a pipe whose reader left) ends the process quietly,
/// like `emit`.
pub fn plan_outputs(
    planned: &crate::engine::SpooledPlan,
    json: bool,
    options: crate::plan::render::RenderOptions,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use crate::plan::render as plan_render;
    use std::io::Write;
    if let Some(out) = out {
        let tmp = out.with_extension("tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        plan_render::write_plan_file(&planned.plan, &planned.documents, &mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, out)?;
    }
    let stdout = std::io::stdout().lock();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout);
    let written = (|| -> Result<(), plan_render::RenderError> {
        if json {
            plan_render::write_json(&planned.plan, &planned.documents, &mut w)?;
            writeln!(w)?;
        } else {
            plan_render::write_human(&planned.plan, &planned.documents, options, &mut w)?;
            if let Some(out) = out {
                writeln!(
                    w,
                    "Saved the plan to {}; apply it with `mapsync apply {}`.",
                    out.display(),
                    out.display()
                )?;
            }
        }
        w.flush()?;
        Ok(())
    })();
    match written {
        Err(plan_render::RenderError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            std::process::exit(0)
        }
        Err(plan_render::RenderError::Json(e))
            if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) =>
        {
            std::process::exit(0)
        }
        other => Ok(other?),
    }
}
