//! The options of the `file` source as written in a profile's `source:`,
//! parsed from JSON-like values with messages that say what to change.
//! Owns only parsing and defaults; it does not touch the file.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::FileError;
use mapsync_core::source::Entity;

/// The formats the `file` source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON document: a list of records or `{categories, products}`.
    Json,
    /// One JSON object per line (streamed).
    Ndjson,
    /// Comma- (or `delimiter`-) separated values with a header row (streamed).
    Csv,
    /// One YAML document, shaped like the JSON one.
    Yaml,
}

impl Format {
    /// The name written in `format:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Yaml => "yaml",
        }
    }

    /// The name in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Ndjson => "NDJSON",
            Format::Csv => "CSV",
            Format::Yaml => "YAML",
        }
    }

    /// "a CSV", "an NDJSON"...
    pub fn with_article(self) -> &'static str {
        match self {
            Format::Json => "a JSON",
            Format::Ndjson => "an NDJSON",
            Format::Csv => "a CSV",
            Format::Yaml => "a YAML",
        }
    }

    fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" | "jsonlines" => Some(Format::Ndjson),
            "csv" | "tsv" => Some(Format::Csv),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The format a file extension stands for (`.json`, `.ndjson`/`.jsonl`,
    /// `.csv`/`.tsv`, `.yaml`/`.yml`; any letter case).
    pub fn from_path(path: &Path) -> Option<Format> {
        Format::parse(path.extension()?.to_str()?)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

/// The options of one `file` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// The path as written in the profile (used in positions and messages).
    pub path: String,
    /// The format (given, or inferred from the extension).
    pub format: Format,
    /// Which entity the records are, when the file holds one list.
    pub entity: Option<Entity>,
    /// CSV field delimiter (default `,`; `\t` for `.tsv`).
    pub delimiter: u8,
    /// CSV: rows with the same value in this column become one record.
    pub group_by: Option<String>,
}

const KEYS: &[&str] = &["type", "path", "format", "entity", "delimiter", "group_by"];

impl FileOptions {
    /// Parses the options from a profile's `source:` value (the `type` key,
    /// if present, must be `file`).
    pub fn from_value(value: &Value) -> Result<FileOptions, FileError> {
        let map = value.as_object().ok_or_else(|| {
            opt_err(
                format!("the source is {}, not a mapping", kind_of(value)),
                "write it as `source: { type: file, path: catalog.json }`",
            )
        })?;
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                let help = match closest(key, KEYS) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("the options are: {}", KEYS.join(", ")),
                };
                return Err(opt_err(format!("unknown option `{key}`"), help));
            }
        }
        if let Some(t) = map.get("type") {
            if t.as_str() != Some("file") {
                return Err(opt_err(
                    format!("`type` is {}, not `file`", show(t)),
                    "these are the options of the `file` source",
                ));
            }
        }
        let path = string(map, "path")?.ok_or_else(|| {
            opt_err(
                "`path` is missing",
                "add `path: catalog.json` (relative to the project directory)",
            )
        })?;
        if path.trim().is_empty() {
            return Err(opt_err(
                "`path` is empty",
                "give the catalog file, e.g. `path: catalog.json`",
            ));
        }
        let format = match string(map, "format")? {
            Some(f) => Format::parse(&f).ok_or_else(|| {
                opt_err(
                    format!("unknown format `{f}`"),
                    "use one of: json, ndjson, csv, yaml",
                )
            })?,
            None => Format::from_path(Path::new(&path)).ok_or_else(|| {
                opt_err(
                    format!("cannot tell the format of `{path}` from its extension"),
                    "add `format: json` (or ndjson, csv, yaml)",
                )
            })?,
        };
        let entity = match string(map, "entity")? {
            Some(e) => Some(parse_entity(&e)?),
            None => None,
        };
        let is_tsv = Path::new(&path)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
        let delimiter = match string(map, "delimiter")? {
            Some(d) => parse_delimiter(&d)?,
            None if is_tsv => b'\t',
            None => b',',
        };
        let group_by = string(map, "group_by")?;
        if format != Format::Csv {
            for key in ["delimiter", "group_by"] {
                if map.contains_key(key) {
                    return Err(opt_err(
                        format!("`{key}` is a CSV option but the format is {format}"),
                        format!("remove `{key}`, or set `format: csv`"),
                    ));
                }
            }
        }
        if matches!(&group_by, Some(g) if g.is_empty()) {
            return Err(opt_err(
                "`group_by` is empty",
                "name the CSV column whose equal values make one record, e.g. `group_by: Handle`",
            ));
        }
        if entity.is_none() && matches!(format, Format::Ndjson | Format::Csv) {
            return Err(opt_err(
                format!(
                    "{} file holds one entity, but `entity` is missing",
                    format.with_article()
                ),
                "add `entity: product` or `entity: category`",
            ));
        }
        Ok(FileOptions {
            path,
            format,
            entity,
            delimiter,
            group_by,
        })
    }

    /// The file to open: `path` joined to `base_dir` when relative.
    pub fn resolve(&self, base_dir: &Path) -> PathBuf {
        let p = Path::new(&self.path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        }
    }
}

fn parse_entity(e: &str) -> Result<Entity, FileError> {
    match e {
        "category" => Ok(Entity::Category),
        "product" => Ok(Entity::Product),
        "categories" | "Category" | "Categories" => Err(opt_err(
            format!("unknown entity `{e}`"),
            "did you mean `category`?",
        )),
        "products" | "Product" | "Products" => Err(opt_err(
            format!("unknown entity `{e}`"),
            "did you mean `product`?",
        )),
        _ => Err(opt_err(
            format!("unknown entity `{e}`"),
            "use `category` or `product`",
        )),
    }
}

fn parse_delimiter(d: &str) -> Result<u8, FileError> {
    let byte = match d {
        "tab" | "\\t" => Some(b'\t'),
        _ => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => {
                    Some(c as u8)
                }
                _ => None,
            }
        }
    };
    byte.ok_or_else(|| {
        opt_err(
            format!(
                "`delimiter` is {d:?}; it must be one ASCII character (not a quote or newline)"
            ),
            "use e.g. `delimiter: \";\"` or `delimiter: tab`",
        )
    })
}

fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, FileError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(opt_err(
            format!("`{key}` is {}, expected a string", kind_of(other)),
            format!("write `{key}` as text, e.g. `{key}: \"...\"`"),
        )),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => kind_of(other).to_string(),
    }
}

/// A short description of a JSON value's kind, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn opt_err(message: impl Into<String>, help: impl Into<String>) -> FileError {
    FileError::Options {
        message: message.into(),
        help: help.into(),
    }
}
