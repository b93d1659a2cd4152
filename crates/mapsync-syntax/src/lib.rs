//! The expression languages of mapping files: target expressions (the keys
//! of `map:`) and source expressions (their values), parsed by the pest
//! grammar in `grammar/mapsync.pest` into a typed AST with spans.
//!
//! Spans are byte ranges into the expression text; the caller maps them into
//! the YAML file. This module knows nothing of YAML, files or targets: it
//! does not decide whether a field exists or a metafield name is allowed.

use pest::Parser as _;
use pest_derive::Parser;

/// A byte range into an expression's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    fn of(p: &pest::iterators::Pair<'_, Rule>) -> Span {
        Span {
            start: p.as_span().start(),
            end: p.as_span().end(),
        }
    }
}

/// A piece of text with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text.
    pub text: String,
    /// Where it is in the expression.
    pub span: Span,
}

impl Word {
    fn of(p: &pest::iterators::Pair<'_, Rule>) -> Word {
        Word {
            text: p.as_str().to_string(),
            span: Span::of(p),
        }
    }
}

/// A parsed target expression (the left-hand side of `map:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A plain field path such as `title` or `inventory_item.cost`.
    Field(FieldPath),
    /// `Metafield|ns|key[|type][@description]`.
    Metafield(Metafield),
    /// `Quantity_<RefLoc>`.
    Quantity(Word),
    /// `Option|Name` or `Option|1`..`Option|3`.
    Option(OptionRef),
}

/// A dotted plain field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The segments, in order.
    pub segments: Vec<Word>,
}

impl FieldPath {
    /// The path joined with dots.
    pub fn dotted(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|w| w.text.as_str()).collect();
        parts.join(".")
    }
}

/// A metafield target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metafield {
    /// The namespace (case-sensitive).
    pub namespace: Word,
    /// The key (case-sensitive).
    pub key: Word,
    /// The type as written, if any (case-insensitive; resolved by the checker).
    pub ty: Option<Word>,
    /// The span of an `@description` suffix: this entry maps the description.
    pub description: Option<Span>,
}

/// An option target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionRef {
    /// `Option|Color`: an option named in the mapping.
    Named(Word),
    /// `Option|2`: the n-th name of `option_names` (as written; the checker
    /// enforces 1..=3).
    Index(u32, Span),
}

/// A parsed source expression (the right-hand side of `map:` or a `from:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `'Acme'`: a literal string (quotes removed, `''` unescaped).
    Literal(Word),
    /// A path into the record.
    Path(SourcePath),
}

/// A path into a source record: `Variants[*].Sku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePath {
    /// The segments, in order.
    pub segments: Vec<Segment>,
}

/// One path segment: a field name and its list indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The field name (may contain spaces).
    pub name: Word,
    /// `[n]` / `[*]` applied in order.
    pub indexes: Vec<Index>,
}

/// A list index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// `[n]`.
    At(usize),
    /// `[*]`: every element, empty values dropped.
    All,
}

impl SourcePath {
    /// The path as text, e.g. `Variants[*].Sku`.
    pub fn display(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&s.name.text);
            for ix in &s.indexes {
                match ix {
                    Index::At(n) => out.push_str(&format!("[{n}]")),
                    Index::All => out.push_str("[*]"),
                }
            }
        }
        out
    }

    /// Whether the path collects a list (`[*]` somewhere).
    pub fn is_collecting(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.indexes.contains(&Index::All))
    }
}

/// A syntax error in an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What went wrong, in words.
    pub message: String,
    /// Where (usually one character).
    pub span: Span,
}

#[derive(Parser)]
#[grammar = "../grammar/mapsync.pest"]
struct Grammar;

/// Parse a target expression.
pub fn parse_target(text: &str) -> Result<Target, SyntaxError> {
    let mut pairs = Grammar::parse(Rule::target, text).map_err(|e| convert(e, text))?;
    let inner = pairs
        .next()
        .and_then(|p| p.into_inner().next())
        .ok_or_else(|| empty(text))?;
    Ok(match inner.as_rule() {
        Rule::metafield => {
            let mut namespace = None;
            let mut key = None;
            let mut ty = None;
            let mut description = None;
            for p in inner.into_inner() {
                match p.as_rule() {
                    Rule::mf_namespace => namespace = Some(Word::of(&p)),
                    Rule::mf_key => key = Some(Word::of(&p)),
                    Rule::mf_type => ty = Some(Word::of(&p)),
                    Rule::mf_description => description = Some(Span::of(&p)),
                    _ => {}
                }
            }
            match (namespace, key) {
                (Some(namespace), Some(key)) => Target::Metafield(Metafield {
                    namespace,
                    key,
                    ty,
                    description,
                }),
                _ => return Err(empty(text)),
            }
        }
        Rule::quantity => {
            let loc = inner.into_inner().next().ok_or_else(|| empty(text))?;
            Target::Quantity(Word::of(&loc))
        }
        Rule::option => {
            let p = inner
                .into_inner()
                .find(|p| p.as_rule() != Rule::pipe)
                .ok_or_else(|| empty(text))?;
            match p.as_rule() {
                Rule::option_index => {
                    let span = Span::of(&p);
                    let n = p.as_str().parse::<u32>().unwrap_or(u32::MAX);
                    Target::Option(OptionRef::Index(n, span))
                }
                _ => Target::Option(OptionRef::Named(Word::of(&p))),
            }
        }
        _ => Target::Field(FieldPath {
            segments: inner.into_inner().map(|p| Word::of(&p)).collect(),
        }),
    })
}

/// Parse a source expression (a path or a quoted literal). Templates are
/// not source expressions: see [`is_template`].
pub fn parse_source(text: &str) -> Result<Source, SyntaxError> {
    if text.starts_with('\'') && (text.len() < 2 || !text.ends_with('\'')) {
        return Err(SyntaxError {
            message: "the literal opened with `'` is not closed".into(),
            span: Span { start: 0, end: 1 },
        });
    }
    let mut pairs = Grammar::parse(Rule::source, text).map_err(|e| convert(e, text))?;
    let inner = pairs
        .next()
        .and_then(|p| p.into_inner().next())
        .ok_or_else(|| empty(text))?;
    Ok(match inner.as_rule() {
        Rule::literal => {
            let t = inner.into_inner().next().ok_or_else(|| empty(text))?;
            Source::Literal(Word {
                text: t.as_str().replace("''", "'"),
                span: Span::of(&t),
            })
        }
        _ => Source::Path(path_of(inner)),
    })
}

/// Parse a source path only (no literal), as used by `from:`, `key:` and
/// the other path-valued settings.
pub fn parse_path(text: &str) -> Result<SourcePath, SyntaxError> {
    match parse_source(text)? {
        Source::Path(p) => Ok(p),
        Source::Literal(w) => Err(SyntaxError {
            message: "a quoted literal is not allowed here; write a field path".into(),
            span: Span {
                start: 0,
                end: w.span.end + 1,
            },
        }),
    }
}

/// Whether a value string is a minijinja template (`{{` or `{%`).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn path_of(p: pest::iterators::Pair<'_, Rule>) -> SourcePath {
    let segments = p
        .into_inner()
        .map(|seg| {
            let mut it = seg.into_inner();
            let name = it.next().map(|n| Word::of(&n)).unwrap_or(Word {
                text: String::new(),
                span: Span { start: 0, end: 0 },
            });
            let indexes = it
                .filter_map(|ix| ix.into_inner().next())
                .map(|ix| match ix.as_rule() {
                    Rule::index_all => Index::All,
                    _ => Index::At(ix.as_str().parse().unwrap_or(usize::MAX)),
                })
                .collect();
            Segment { name, indexes }
        })
        .collect();
    SourcePath { segments }
}

fn empty(text: &str) -> SyntaxError {
    SyntaxError {
        message: "empty expression".into(),
        span: Span {
            start: 0,
            end: text.len(),
        },
    }
}

fn rule_name(r: &Rule) -> &'static str {
    match r {
        Rule::target => "a target expression",
        Rule::metafield => "a metafield",
        Rule::metafield_kw => "`Metafield`",
        Rule::pipe => "`|`",
        Rule::mf_namespace => "a metafield namespace",
        Rule::mf_key => "a metafield key",
        Rule::mf_type => "a metafield type",
        Rule::mf_description => "`@description`",
        Rule::quantity => "`Quantity_<location>`",
        Rule::location_name => "a location name (letters, digits, `_`, `-`)",
        Rule::option => "`Option|<name>`",
        Rule::option_index => "an option position",
        Rule::option_name => "an option name",
        Rule::field => "a field name",
        Rule::field_segment => "a field name (letters, digits, `_`)",
        Rule::source => "a source expression",
        Rule::literal => "a quoted literal",
        Rule::literal_text => "literal text",
        Rule::path => "a field path",
        Rule::segment => "a path segment",
        Rule::segment_name => "a field name",
        Rule::index => "`[n]` or `[*]`",
        Rule::index_all => "`*`",
        Rule::index_number => "a list position",
        Rule::EOI => "the end of the expression",
        _ => "something else",
    }
}

fn convert(e: pest::error::Error<Rule>, text: &str) -> SyntaxError {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let pos = pos.min(text.len());
    let end = text[pos..]
        .chars()
        .next()
        .map(|c| pos + c.len_utf8())
        .unwrap_or(pos);
    let found = text[pos..]
        .chars()
        .next()
        .map(|c| format!("`{c}`"))
        .unwrap_or_else(|| "the end".to_string());
    let message = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
            let mut names: Vec<&str> = positives.iter().map(rule_name).collect();
            names.dedup();
            format!("expected {}, found {found}", join_or(&names))
        }
        ErrorVariant::CustomError { message } => message.clone(),
        _ => format!("unexpected {found}"),
    };
    SyntaxError {
        message,
        span: Span { start: pos, end },
    }
}

fn join_or(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metafield_with_description() {
        let t = parse_target("Metafield|Global|Size|integer@description").unwrap();
        let Target::Metafield(m) = t else { panic!() };
        assert_eq!(m.namespace.text, "Global");
        assert_eq!(m.key.text, "Size");
        assert_eq!(m.ty.unwrap().text, "integer");
        assert!(m.description.is_some());
    }

    #[test]
    fn metafield_key_may_hold_at_sign() {
        let Target::Metafield(m) = parse_target("Metafield|ns|a@b").unwrap() else {
            panic!()
        };
        assert_eq!(m.key.text, "a@b");
        assert!(m.description.is_none());
    }

    #[test]
    fn description_without_type() {
        let Target::Metafield(m) = parse_target("metafield|ns|key@description").unwrap() else {
            panic!()
        };
        assert_eq!(m.key.text, "key");
        assert!(m.ty.is_none());
        assert!(m.description.is_some());
    }

    #[test]
    fn paths_with_spaces_and_indexes() {
        let Source::Path(p) = parse_source("_rows[*].Image Src").unwrap() else {
            panic!()
        };
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].indexes, vec![Index::All]);
        assert_eq!(p.segments[1].name.text, "Image Src");
        assert_eq!(p.display(), "_rows[*].Image Src");
    }

    #[test]
    fn options_by_name_and_position() {
        assert!(matches!(
            parse_target("Option|1").unwrap(),
            Target::Option(OptionRef::Index(1, _))
        ));
        let Target::Option(OptionRef::Named(w)) = parse_target("option|Color").unwrap() else {
            panic!()
        };
        assert_eq!(w.text, "Color");
    }

    #[test]
    fn literal_unescapes_quotes() {
        let Source::Literal(w) = parse_source("'it''s'").unwrap() else {
            panic!()
        };
        assert_eq!(w.text, "it's");
    }

    #[test]
    fn error_points_at_character() {
        let e = parse_target("Metafield|ns").unwrap_err();
        assert_eq!(e.span.start, 12);
        let e = parse_source("Variants[x].Sku").unwrap_err();
        assert_eq!(e.span.start, 9);
    }
}
