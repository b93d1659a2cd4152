//! `mapsync explain CODE`: the long explanation of a diagnostic code, with
//! a failing example and its fix.
//!
//! The explanations are the `## Explanations` part of docs/diagnostics.md,
//! compiled into the binary: one `### CODE` section per code of
//! `diag::codes::ALL`, each with a `Fails:` and a `Fix:` block. The docs
//! and the command cannot disagree, and `tests/cli` checks that every code
//! has its section (and no section names an unknown code).

use std::process::ExitCode;

use crate::diag::{codes, Diagnostic};

/// docs/diagnostics.md as built into the binary.
pub const DOC: &str = include_str!("../../docs/diagnostics.md");

/// The heading that starts the explanations in docs/diagnostics.md.
const PART: &str = "## Explanations";

/// Options of `mapsync explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A diagnostic code such as `metafield::namespace-length` (as printed
    /// by `validate`, `plan` or `sync`). Without one: every code and its
    /// summary.
    pub code: Option<String>,
}

/// One code's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The code.
    pub code: String,
    /// Its section of docs/diagnostics.md (Markdown), without the heading.
    pub text: String,
}

/// Every `### CODE` section of the explanations, in document order.
pub fn sections() -> Vec<Explanation> {
    let Some(start) = DOC.find(PART) else {
        return Vec::new();
    };
    let mut out: Vec<Explanation> = Vec::new();
    let mut in_fence = false;
    for line in DOC[start + PART.len()..].lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence {
            if let Some(code) = line.strip_prefix("### ") {
                out.push(Explanation {
                    code: code.trim().to_string(),
                    text: String::new(),
                });
                continue;
            }
            if line.starts_with("## ") {
                break;
            }
        }
        if let Some(last) = out.last_mut() {
            last.text.push_str(line);
            last.text.push('\n');
        }
    }
    for e in &mut out {
        e.text = e.text.trim().to_string();
        e.text.push('\n');
    }
    out
}

/// The explanation of `code`, if docs/diagnostics.md has one.
pub fn explanation(code: &str) -> Option<Explanation> {
    sections().into_iter().find(|e| e.code == code)
}

/// An explanation for a terminal: code fences dropped, their lines
/// indented by four spaces.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push_str("    ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `mapsync explain [CODE]`: 0, or 1 for a code mapsync does not have.
pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let Some(code) = args.code else {
        for c in codes::ALL {
            outln!("{:<40} {}", c.name, c.summary);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let code = code.trim().trim_matches('`');
    let known = codes::ALL.iter().find(|c| c.name == code);
    match (known, explanation(code)) {
        (Some(c), Some(e)) => {
            outln!("{}: {}\n", c.name, c.summary);
            out!("{}", for_terminal(&e.text));
            Ok(ExitCode::SUCCESS)
        }
        (Some(c), None) => {
            // A code added without its section: tests/cli fails first.
            outln!("{}: {}", c.name, c.summary);
            outln!("(no long explanation yet; see docs/diagnostics.md)");
            Ok(ExitCode::SUCCESS)
        }
        (None, _) => {
            let mut d = Diagnostic::error(
                codes::EXPLAIN_UNKNOWN_CODE,
                format!("`{code}` is not a diagnostic code of this mapsync"),
            );
            d = match crate::diag::suggest(code, codes::ALL.iter().map(|c| c.name)) {
                Some(s) => d.help(format!(
                    "did you mean `{s}`? `mapsync explain` lists every code"
                )),
                None => d.help("`mapsync explain` without a code lists every code"),
            };
            eprint!(
                "{}",
                super::render::diagnostic_hinted(&d, super::render::color_stderr(), 100)
            );
            Ok(ExitCode::from(1))
        }
    }
}
