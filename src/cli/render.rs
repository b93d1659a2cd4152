//! Rendering of diagnostics and reports: miette's graphical handler for
//! people (each diagnostic ending with its `mapsync explain CODE` hint),
//! the JSON documents of cli.md for tools, and SARIF 2.1.0 and GitHub
//! workflow commands for CI (docs/ci.md).

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

/// The line that ends every diagnostic a person reads: where the long
/// explanation of its code is (`mapsync explain CODE`, docs/diagnostics.md).
pub fn explain_hint(code: &str) -> String {
    format!("  explain: `mapsync explain {code}` shows a failing example and its fix\n")
}

/// One diagnostic as a person reads it: [`diagnostic`] and the
/// [`explain_hint`] of its code.
pub fn diagnostic_hinted(d: &Diagnostic, color: bool, width: usize) -> String {
    let mut out = diagnostic(d, color, width);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&explain_hint(d.code.name));
    out
}

/// The output formats of `mapsync validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ValidateFormat {
    /// Human-readable text, coloured on a terminal.
    #[default]
    Human,
    /// Exactly one JSON document on stdout (cli.md).
    Json,
    /// One SARIF 2.1.0 log (GitHub code scanning, GitLab, IDEs).
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...`): annotations
    /// on the changed lines of a pull request, no upload needed.
    Github,
}

/// Print the output of `mapsync validate` in `format`. `start` is where
/// the project was looked for (diagnostics without a place are put on
/// the project file in SARIF).
pub fn print_validate(
    diags: &Diagnostics,
    valid: bool,
    format: ValidateFormat,
    start: &std::path::Path,
) {
    match format {
        ValidateFormat::Human => out!("{}", validate_human(diags, valid, color_stdout())),
        ValidateFormat::Json => outln!("{}", validate_json(diags, valid)),
        ValidateFormat::Sarif => {
            let project = crate::config::find_project(start)
                .ok()
                .map(|p| crate::config::display_name(&p));
            outln!("{}", validate_sarif(diags, project.as_deref()))
        }
        ValidateFormat::Github => out!("{}", validate_github(diags, valid)),
    }
}

/// The `validate --format sarif` log: SARIF 2.1.0, one run of the
/// `mapsync` tool, one rule per code reported (its summary and long
/// explanation from docs/diagnostics.md), one result per diagnostic with
/// 1-based lines and columns in characters (`columnKind:
/// unicodeCodePoints`) relative to `%SRCROOT%` (the working directory).
/// A diagnostic without a place is put on line 1 of `project_file`, when
/// there is one (code scanning refuses results without a location).
pub fn validate_sarif(diags: &Diagnostics, project_file: Option<&str>) -> String {
    let mut rules: Vec<serde_json::Value> = Vec::new();
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut results = Vec::new();
    for d in diags.iter() {
        let index = match rule_ids.iter().position(|c| *c == d.code.name) {
            Some(i) => i,
            None => {
                rule_ids.push(d.code.name);
                rules.push(sarif_rule(d.code));
                rule_ids.len() - 1
            }
        };
        let mut text = d.message.clone();
        if let Some(label) = &d.label {
            text.push_str(&format!(" ({label})"));
        }
        if let Some(help) = &d.help {
            text.push_str(&format!("\nhelp: {help}"));
        }
        let mut result = json!({
            "ruleId": d.code.name,
            "ruleIndex": index,
            "level": sarif_level(d.severity),
            "message": { "text": text },
        });
        let location = match (&d.location, d.line_cols()) {
            (Some(loc), Some((l, c, el, ec))) => Some(sarif_location(
                &loc.file.name,
                json!({ "startLine": l, "startColumn": c, "endLine": el, "endColumn": ec }),
            )),
            _ => project_file.map(|f| sarif_location(f, json!({ "startLine": 1 }))),
        };
        if let Some(location) = location {
            result["locations"] = json!([location]);
        }
        if !d.related.is_empty() {
            let related: Vec<serde_json::Value> = d
                .related
                .iter()
                .enumerate()
                .map(|(i, (span, label))| {
                    let (l, c) = span.file.line_col(span.start);
                    let (el, ec) = span.file.line_col(span.end);
                    let mut r = sarif_location(
                        &span.file.name,
                        json!({ "startLine": l, "startColumn": c, "endLine": el, "endColumn": ec }),
                    );
                    r["id"] = json!(i);
                    r["message"] = json!({ "text": label });
                    r
                })
                .collect();
            result["relatedLocations"] = json!(related);
        }
        results.push(result);
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "mapsync",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A SARIF rule for a code: its summary, and its long explanation as help.
fn sarif_rule(code: crate::diag::Code) -> serde_json::Value {
    let level = if code.summary.contains("(warning") {
        "warning"
    } else {
        "error"
    };
    let mut rule = json!({
        "id": code.name,
        "name": code.name,
        "shortDescription": { "text": code.summary },
        "defaultConfiguration": { "level": level },
    });
    if let Some(e) = super::explain::explanation(code.name) {
        // The first paragraph: what the code means.
        let meaning: Vec<&str> = e
            .text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        rule["fullDescription"] = json!({ "text": meaning.join(" ") });
        rule["help"] = json!({ "text": e.text, "markdown": e.text });
    }
    rule
}

/// A SARIF `physicalLocation`: a relative path under `%SRCROOT%`, or an
/// absolute one as a `file://` URI.
fn sarif_location(file: &str, region: serde_json::Value) -> serde_json::Value {
    let path = file.replace('\\', "/");
    let artifact = if path.starts_with('/') {
        json!({ "uri": format!("file://{}", sarif_uri_escape(&path)) })
    } else {
        json!({ "uri": sarif_uri_escape(path.trim_start_matches("./")), "uriBaseId": "%SRCROOT%" })
    };
    json!({ "physicalLocation": { "artifactLocation": artifact, "region": region } })
}

/// Percent-encodes what a URI reference cannot hold as is.
fn sarif_uri_escape(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `validate --format github` output: one GitHub Actions workflow
/// command per diagnostic (`::error file=F,line=L,col=C,endLine=..,
/// endColumn=..,title=CODE::message`), which the runner turns into an
/// annotation on that line of the pull request, then the summary line.
pub fn validate_github(diags: &Diagnostics, valid: bool) -> String {
    let mut out = String::new();
    for d in diags.iter() {
        let mut props = Vec::new();
        if let (Some(loc), Some((l, c, el, ec))) = (&d.location, d.line_cols()) {
            props.push(format!("file={}", github_property(&loc.file.name)));
            props.push(format!("line={l}"));
            props.push(format!("col={c}"));
            props.push(format!("endLine={el}"));
            props.push(format!("endColumn={ec}"));
        }
        props.push(format!("title={}", github_property(d.code.name)));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        message.push_str(&format!("\nexplain: mapsync explain {}", d.code.name));
        out.push_str(&format!(
            "::{} {}::{}\n",
            sarif_level(d.severity),
            props.join(","),
            github_data(&message)
        ));
    }
    let (e, w) = (diags.errors(), diags.warnings());
    out.push_str(&format!(
        "{}: {e} error(s), {w} warning(s)\n",
        if valid { "valid" } else { "invalid" }
    ));
    out
}

/// A workflow command's message: `%`, CR and LF escaped.
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` escaped.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The human output of `validate`.
pub fn validate_human(diags: &Diagnostics, valid: bool, color: bool) -> String {
    let mut out = String::new();
    for d in diags.iter() {
        out.push_str(&diagnostic_hinted(d, color, 100));
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
/// streamed: the plan file (`--out`, written in the project's temporary
/// folder and moved over FILE),
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
        // Written in the project's temporary folder (removed on any exit,
        // or by the next run after a kill), then moved over `out`.
        let tmp = crate::state::tmp::temp_for(out, "plan.json");
        let cannot = |e: std::io::Error| {
            anyhow::Error::new(e).context(format!("cannot write the plan file {}", out.display()))
        };
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp.path()).map_err(cannot)?);
        plan_render::write_plan_file(&planned.plan, &planned.documents, &mut w)?;
        w.into_inner()
            .map_err(|e| cannot(e.into_error()))?
            .sync_all()
            .map_err(cannot)?;
        tmp.persist(out).map_err(cannot)?;
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
            crate::state::tmp::remove_own_files();
            std::process::exit(0)
        }
        Err(plan_render::RenderError::Json(e))
            if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) =>
        {
            crate::state::tmp::remove_own_files();
            std::process::exit(0)
        }
        other => Ok(other?),
    }
}
