//! A YAML document as a tree of nodes that keep their source spans, read
//! with serde-saphyr. Everything above this module works on [`Node`]s, so
//! every later diagnostic can point at the exact place in the file.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;

use mapsync_core::diag::{codes, Diagnostic, SourceFile, Span};

/// A YAML node with its location.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Byte range in the file (for scalars: the scalar as written,
    /// including quotes; for collections: at least their first token).
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The file the node was read from.
    pub file: Option<Arc<SourceFile>>,
}

/// The kinds of YAML node.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; duplicate keys are kept.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The string value, if this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of the first entry whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The first entry whose key is the string `key`.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))
    }

    /// A short name of the node's kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// Scalars as text (strings, numbers, booleans); `None` for the rest.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The node as JSON (mapping keys as strings; later duplicates win).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut m = serde_json::Map::new();
                for (k, v) in entries {
                    let key = k.scalar_text().unwrap_or_else(|| "<complex key>".into());
                    m.insert(key, v.to_json());
                }
                Value::Object(m)
            }
        }
    }

    /// The location of this node, if it was read from a file.
    pub fn loc(&self) -> Option<Span> {
        let file = self.file.as_ref()?;
        Some(Span::new(file, self.start, self.end))
    }

    /// Record `file` as the origin of this node and all below it.
    pub fn attach(&mut self, file: &Arc<SourceFile>) {
        self.file = Some(file.clone());
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.attach(file)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.attach(file);
                v.attach(file);
            }),
            _ => {}
        }
    }

    /// The location of bytes `start..end` of this scalar's *value*, mapped
    /// into the file: accounts for quotes around the scalar as written.
    /// Exact for plain and quoted scalars without escapes; otherwise the
    /// whole scalar.
    pub fn inner_loc(&self, start: usize, end: usize) -> Option<Span> {
        let file = self.file.as_ref()?;
        let written = file.text.get(self.start..self.end).unwrap_or("");
        let value = self.as_str().unwrap_or("");
        let quote = written.chars().next().filter(|c| *c == '"' || *c == '\'');
        let offset = usize::from(quote.is_some());
        let body = if quote.is_some() && written.len() >= 2 {
            &written[1..written.len() - 1]
        } else {
            written
        };
        Some(if body == value {
            Span::new(file, self.start + offset + start, self.start + offset + end)
        } else {
            Span::new(file, self.start, self.end)
        })
    }
}

impl Kind {
    /// A short name of the kind, for messages (`a mapping`, `a list`...).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Parse YAML text into a node tree. A syntax error becomes a diagnostic
/// pointing at the place the parser gave up.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
    };
    if file.text.trim().is_empty() {
        return Ok(Node {
            kind: Kind::Null,
            start: 0,
            end: 0,
            file: Some(file.clone()),
        });
    }
    let mut node =
        serde_saphyr::from_str_with_options::<Node>(&file.text, options).map_err(|e| {
            let (start, end) = e
                .location()
                .map(|l| {
                    let s = l.span();
                    let start = s
                        .byte_offset()
                        .map(|b| b as usize)
                        .unwrap_or_else(|| offset_of(&file.text, l.line(), l.column()));
                    (start, start + s.byte_len().unwrap_or(0).max(1) as usize)
                })
                .unwrap_or((0, 0));
            let end = end.min(file.text.len()).max(start.min(file.text.len()));
            let msg = first_line(&e.to_string());
            Box::new(
                Diagnostic::error(codes::YAML_SYNTAX, format!("invalid YAML: {msg}"))
                    .at(Span::new(file, start.min(file.text.len()), end))
                    .label("here")
                    .help("fix the YAML syntax; quote values that contain `: `, `#`, `{` or `[`"),
            )
        })?;
    node.attach(file);
    Ok(node)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = column.saturating_sub(1) as usize;
            return off + l.char_indices().nth(col).map(|(b, _)| b).unwrap_or(l.len());
        }
        off += l.len();
    }
    text.len()
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Kind>::deserialize(d)?;
        let span = spanned.referenced.span();
        let start = span.byte_offset().unwrap_or(0) as usize;
        let end = start + span.byte_len().unwrap_or(0) as usize;
        Ok(Node {
            kind: spanned.value,
            start,
            end,
            file: None,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(i64::try_from(v)
            .map(Kind::Int)
            .unwrap_or(Kind::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spans_of_keys_and_values() {
        let text = "a:\n  \"Metafield|x\": Name\n  b: [1, 'two']\n";
        let f = SourceFile::new("t.yaml", text);
        let n = parse(&f).unwrap();
        let a = n.get("a").unwrap();
        let (k, v) = &a.as_map().unwrap()[0];
        assert_eq!(&text[k.start..k.end], "\"Metafield|x\"");
        assert_eq!(&text[v.start..v.end], "Name");
        let loc = k.inner_loc(9, 10).unwrap();
        assert_eq!(&text[loc.start..loc.end], "|");
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let f = SourceFile::new("t.yaml", "a: 1\na: 2\n");
        let n = parse(&f).unwrap();
        assert_eq!(n.as_map().unwrap().len(), 2);
    }

    #[test]
    fn syntax_error_has_location() {
        let f = SourceFile::new("t.yaml", "a: [1, 2\nb: c\n");
        let e = parse(&f).unwrap_err();
        assert!(e.location.is_some());
    }
}
