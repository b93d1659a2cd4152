//! Diagnostics: what every checking stage reports to users. A diagnostic has
//! a stable code (listed once, in [`codes`] and `docs/diagnostics.md`), a
//! severity, a message, a span into a source file with a label, and help.
//!
//! Diagnostics are values: stages collect them into a [`Diagnostics`] list
//! and never stop at the first. Rendering (miette, JSON) happens in `cli`.

pub mod codes;

use std::fmt;
use std::sync::Arc;

pub use codes::Code;

/// A source file as read: its display name and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (relative where possible).
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A new shared source file.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<SourceFile> {
        Arc::new(SourceFile {
            name: name.into(),
            text: text.into(),
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A byte range in one source file.
#[derive(Debug, Clone)]
pub struct Span {
    /// The file.
    pub file: Arc<SourceFile>,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A location covering `start..end` of `file`.
    pub fn new(file: &Arc<SourceFile>, start: usize, end: usize) -> Span {
        Span {
            file: file.clone(),
            start,
            end: end.max(start),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Makes the file invalid.
    Error,
    /// Reported; fails only with `--deny-warnings`.
    Warning,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, if anywhere.
    pub location: Option<Span>,
    /// The label under the span.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places the finding involves, each with its label (e.g. the
    /// first of two conflicting definitions).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error with the given code and message.
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning with the given code and message.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Attach a location.
    pub fn at(mut self, location: Span) -> Diagnostic {
        self.location = Some(location);
        self
    }

    /// Attach a location if there is one.
    pub fn at_opt(mut self, location: Option<Span>) -> Diagnostic {
        self.location = location;
        self
    }

    /// Attach a label.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Attach another place the finding involves, if there is one.
    pub fn related(mut self, span: Option<Span>, label: impl Into<String>) -> Diagnostic {
        if let Some(span) = span {
            self.related.push((span, label.into()));
        }
        self
    }

    /// Attach help.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// 1-based (line, column, end_line, end_column) with an exclusive end.
    pub fn line_cols(&self) -> Option<(usize, usize, usize, usize)> {
        let loc = self.location.as_ref()?;
        let (l, c) = loc.file.line_col(loc.start);
        let (el, ec) = loc.file.line_col(loc.end);
        Some((l, c, el, ec))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.name))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.location
            .as_ref()
            .map(|l| &*l.file as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let loc = self.location.as_ref()?;
        let span = miette::LabeledSpan::new(self.label.clone(), loc.start, loc.end - loc.start);
        // miette shows one source: related places in other files are in
        // the message and the JSON output only.
        let same_file = self
            .related
            .iter()
            .filter(|(r, _)| Arc::ptr_eq(&r.file, &loc.file))
            .map(|(r, label)| {
                miette::LabeledSpan::new(Some(label.clone()), r.start, r.end - r.start)
            });
        Some(Box::new(std::iter::once(span).chain(same_file)))
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A collected list of diagnostics.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Add one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Add many.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.items.len() - self.errors()
    }

    /// Whether there is at least one error.
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// The diagnostics, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sort by file, position, then code, for stable output.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let ka = a.location.as_ref().map(|l| (l.file.name.clone(), l.start));
            let kb = b.location.as_ref().map(|l| (l.file.name.clone(), l.start));
            ka.cmp(&kb).then(a.code.name.cmp(b.code.name))
        });
    }

    /// Take the list.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// The closest candidate to `word`, if one is close enough to suggest.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}
