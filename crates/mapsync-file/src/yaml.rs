//! YAML catalog files, shaped like the JSON ones (a list of records, or a
//! mapping with `categories` / `products`). Read whole with the project's
//! span-keeping YAML reader, so every record knows its line.

use std::sync::Arc;

use serde_json::Value;

use super::{check_top_keys, need_entity, newlines, read_all, Ctx, FileError};
use mapsync_config::yaml::{self, Kind, Node};
use mapsync_core::diag::SourceFile;
use mapsync_core::source::{Entity, Record, RecordItem, RecordStream};

/// Opens the records of `ctx.entity`. `declared` is the source's `entity:`.
pub(super) fn open(ctx: Ctx, declared: Option<Entity>) -> Result<RecordStream, FileError> {
    let bytes = read_all(&ctx.path)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + newlines(bytes.get(..at).unwrap_or_default());
            return Err(FileError::Syntax {
                path: ctx.path.clone(),
                format: super::Format::Yaml,
                line,
                column: 1
                    + (at
                        - bytes[..at]
                            .iter()
                            .rposition(|&b| b == b'\n')
                            .map_or(0, |i| i + 1)) as u64,
                message: "the file is not UTF-8 text".into(),
            });
        }
    };
    let file = SourceFile::new(ctx.path.display().to_string(), text);
    let root = yaml::parse(&file).map_err(|d| {
        let (line, column) = d
            .line_cols()
            .map(|(l, c, _, _)| (l as u64, c as u64))
            .unwrap_or((1, 1));
        FileError::Syntax {
            path: ctx.path.clone(),
            format: super::Format::Yaml,
            line,
            column,
            message: strip_yaml_prefix(&d.message),
        }
    })?;
    let list = match root.kind {
        Kind::Seq(items) => {
            let entity = declared.ok_or_else(|| need_entity(&ctx))?;
            (entity == ctx.entity).then_some(items)
        }
        Kind::Map(entries) => {
            if declared.is_some_and(|d| d != ctx.entity) {
                None
            } else {
                pick(&ctx, entries)?
            }
        }
        Kind::Null => return Err(ctx.shape(
            "the file is empty",
            "a YAML catalog is a list of records, or a mapping with `categories:` and `products:`",
        )),
        _ => return Err(ctx.shape(
            format!("the document is {}", root.kind.name()),
            "a YAML catalog is a list of records, or a mapping with `categories:` and `products:`",
        )),
    };
    let Some(items) = list else {
        return Ok(RecordStream::empty());
    };
    Ok(RecordStream::from_blocking(Items {
        ctx,
        file,
        items: items.into_iter(),
        line: 1,
        line_pos: 0,
        index: 0,
    }))
}

fn pick(ctx: &Ctx, entries: Vec<(Node, Node)>) -> Result<Option<Vec<Node>>, FileError> {
    let wanted = ctx.entity.plural();
    let keys: Vec<String> = entries
        .iter()
        .map(|(k, _)| k.scalar_text().unwrap_or_default())
        .collect();
    check_top_keys(ctx, keys.iter().map(String::as_str))?;
    let mut found = None;
    // Both lists are checked, whichever entity is read: a broken file
    // fails the same way for categories and products.
    for (key, (_, value)) in keys.iter().zip(entries) {
        let key = key.as_str();
        if key != "categories" && key != "products" {
            continue;
        }
        if keys.iter().filter(|k| *k == key).count() > 1 {
            return Err(ctx.shape(
                format!("the key `{key}` appears twice"),
                "merge the two lists into one",
            ));
        }
        let items = match value.kind {
            Kind::Seq(items) => items,
            Kind::Null => Vec::new(),
            other => {
                return Err(ctx.shape(
                    format!("`{key}` is {}, not a list of records", other.name()),
                    format!("write `{key}:` followed by `- ` items"),
                ))
            }
        };
        if key == wanted {
            found = Some(items);
        }
    }
    Ok(found)
}

struct Items {
    ctx: Ctx,
    file: Arc<SourceFile>,
    items: std::vec::IntoIter<Node>,
    line: u64,
    line_pos: usize,
    index: u64,
}

impl Iterator for Items {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        let node = self.items.next()?;
        let text = self.file.text.as_bytes();
        let start = node.start.min(text.len());
        if start >= self.line_pos {
            self.line += newlines(&text[self.line_pos..start]);
        } else {
            self.line = 1 + newlines(&text[..start]);
        }
        self.line_pos = start;
        let index = self.index;
        self.index += 1;
        let line = Some(self.line);
        if let Some(dup) = duplicate_key(&node) {
            return Some(Err(self.ctx.invalid(
                line,
                index,
                format!(
                    "{} {} has the field `{dup}` twice",
                    self.ctx.entity,
                    index + 1
                ),
                "remove one of the two",
            )));
        }
        Some(match node.to_json() {
            Value::Object(fields) => Ok(Record {
                entity: self.ctx.entity,
                position: self.ctx.position(line, index),
                fields,
            }),
            _ => Err(self.ctx.invalid(
                line,
                index,
                format!(
                    "{} {} is {}, not a mapping",
                    self.ctx.entity,
                    index + 1,
                    node.kind_name()
                ),
                "every item of the list must be a mapping of field names and values",
            )),
        })
    }
}

fn duplicate_key(node: &Node) -> Option<String> {
    let entries = node.as_map()?;
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .filter_map(|(k, _)| k.scalar_text())
        .find(|k| !seen.insert(k.clone()))
}

/// serde-saphyr's message without "invalid YAML: error: line L column C: ".
fn strip_yaml_prefix(message: &str) -> String {
    let m = message.trim_start_matches("invalid YAML: ");
    let m = m.trim_start_matches("error: ");
    match m
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, tail)) => tail.to_string(),
        None => m.to_string(),
    }
}
