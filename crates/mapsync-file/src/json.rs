//! JSON catalog files: a list of records, or `{categories: [...], products:
//! [...]}`. The file is read whole and checked once; records are then parsed
//! one list element at a time, so each keeps its line number and only one
//! record's `Value` exists at a time.

use serde::de::IgnoredAny;
use serde_json::Value;

use super::{check_top_keys, need_entity, newlines, options::kind_of, read_all, Ctx, FileError};
use mapsync_core::source::{Entity, Record, RecordItem, RecordStream};

/// Opens the records of `ctx.entity`. `declared` is the source's `entity:`.
pub(super) fn open(ctx: Ctx, declared: Option<Entity>) -> Result<RecordStream, FileError> {
    let bytes = read_all(&ctx.path)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ctx.shape(
            "the file is empty",
            "a JSON catalog is a list of records, or `{ \"categories\": [...], \"products\": [...] }`",
        ));
    }
    // One fast pass proves the whole document is JSON, so later failures
    // can only be shape problems.
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(&bytes) {
        return Err(syntax(&ctx, &e));
    }
    let start = skip_ws(&bytes, 0);
    let list_start = match bytes.get(start) {
        Some(b'[') => {
            let entity = declared.ok_or_else(|| need_entity(&ctx))?;
            (entity == ctx.entity).then_some(start)
        }
        Some(b'{') => {
            if declared.is_some_and(|d| d != ctx.entity) {
                None
            } else {
                find_list(&ctx, &bytes, start)?
            }
        }
        _ => {
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| syntax(&ctx, &e))?;
            return Err(ctx.shape(
                format!("the document is {}", kind_of(&value)),
                "a JSON catalog is a list of records, or `{ \"categories\": [...], \"products\": [...] }`",
            ));
        }
    };
    let Some(list_start) = list_start else {
        return Ok(RecordStream::empty());
    };
    let line = 1 + newlines(&bytes[..list_start]);
    Ok(RecordStream::from_blocking(Elements {
        ctx,
        bytes,
        pos: list_start + 1,
        line,
        line_pos: list_start,
        index: 0,
        done: false,
    }))
}

/// Finds the list of `ctx.entity` in a top-level object; `None` if absent.
/// Both lists are checked, whichever entity is read: a broken file fails
/// the same way for categories and products.
fn find_list(ctx: &Ctx, bytes: &[u8], start: usize) -> Result<Option<usize>, FileError> {
    let wanted = ctx.entity.plural();
    let mut pos = start + 1;
    let mut keys: Vec<String> = Vec::new();
    let mut found = None;
    loop {
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b'}') | None => break,
            Some(b',') => {
                pos += 1;
                continue;
            }
            _ => {}
        }
        let (key, end) = value_at::<String>(ctx, bytes, pos)?;
        pos = skip_ws(bytes, end);
        if bytes.get(pos) == Some(&b':') {
            pos = skip_ws(bytes, pos + 1);
        }
        let value_start = pos;
        let (_, end) = value_at::<IgnoredAny>(ctx, bytes, pos)?;
        pos = end;
        if key == "categories" || key == "products" {
            if keys.contains(&key) {
                return Err(ctx.shape(
                    format!("the key `{key}` appears twice"),
                    "merge the two lists into one",
                ));
            }
            if bytes.get(value_start) != Some(&b'[') {
                let value: Value = value_at(ctx, bytes, value_start)?.0;
                return Err(ctx.shape(
                    format!("`{key}` is {}, not a list of records", kind_of(&value)),
                    format!("write `\"{key}\": [ {{...}}, {{...}} ]`"),
                ));
            }
            if key == wanted {
                found = Some(value_start);
            }
        }
        keys.push(key);
    }
    check_top_keys(ctx, keys.iter().map(String::as_str))?;
    Ok(found)
}

/// The elements of one JSON list, one record at a time.
struct Elements {
    ctx: Ctx,
    bytes: Vec<u8>,
    /// Next byte to look at (after `[` or after the previous element).
    pos: usize,
    /// Line number of `line_pos`.
    line: u64,
    line_pos: usize,
    index: u64,
    done: bool,
}

impl Iterator for Elements {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        if self.done {
            return None;
        }
        let mut pos = skip_ws(&self.bytes, self.pos);
        if self.bytes.get(pos) == Some(&b',') {
            pos = skip_ws(&self.bytes, pos + 1);
        }
        if matches!(self.bytes.get(pos), Some(b']') | None) {
            self.done = true;
            return None;
        }
        self.line += newlines(self.bytes.get(self.line_pos..pos).unwrap_or_default());
        self.line_pos = pos;
        let index = self.index;
        self.index += 1;
        let (value, end) = match value_at::<Value>(&self.ctx, &self.bytes, pos) {
            Ok(v) => v,
            Err(e) => {
                // Cannot happen after the syntax check; end the stream cleanly.
                self.done = true;
                return Some(Err(mapsync_core::source::ReadError::Fatal(e.into())));
            }
        };
        self.pos = end;
        Some(match value {
            Value::Object(fields) => Ok(Record {
                entity: self.ctx.entity,
                position: self.ctx.position(Some(self.line), index),
                fields,
            }),
            other => Err(self.ctx.invalid(
                Some(self.line),
                index,
                format!(
                    "{} {} is {}, not an object",
                    self.ctx.entity,
                    index + 1,
                    kind_of(&other)
                ),
                "every element of the list must be an object of field names and values",
            )),
        })
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// Parses one value starting at `pos`; returns it and the offset after it.
fn value_at<'de, T: serde::Deserialize<'de>>(
    ctx: &Ctx,
    bytes: &'de [u8],
    pos: usize,
) -> Result<(T, usize), FileError> {
    let rest = bytes.get(pos..).unwrap_or_default();
    let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<T>();
    match stream.next() {
        Some(Ok(v)) => Ok((v, pos + stream.byte_offset())),
        Some(Err(e)) => Err(syntax_at(ctx, bytes, pos, &e)),
        None => Err(ctx.shape("unexpected end of the document", "fix the file")),
    }
}

fn syntax(ctx: &Ctx, e: &serde_json::Error) -> FileError {
    FileError::Syntax {
        path: ctx.path.clone(),
        format: super::Format::Json,
        line: e.line() as u64,
        column: (e.column() as u64).max(1),
        message: strip_location(&e.to_string()),
    }
}

fn syntax_at(ctx: &Ctx, bytes: &[u8], pos: usize, e: &serde_json::Error) -> FileError {
    let before = bytes.get(..pos).unwrap_or_default();
    let base_line = newlines(before);
    let column = if e.line() <= 1 {
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        (pos - line_start) as u64 + e.column() as u64
    } else {
        e.column() as u64
    };
    FileError::Syntax {
        path: ctx.path.clone(),
        format: super::Format::Json,
        line: base_line + e.line() as u64,
        column,
        message: strip_location(&e.to_string()),
    }
}

/// serde_json's message without its " at line L column C" suffix.
pub(super) fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
