//! NDJSON catalog files: one JSON object per line, streamed line by line.
//! Blank lines are skipped; a line that is not a JSON object is an invalid
//! record, and reading goes on with the next line.

use std::io::BufRead;

use serde_json::Value;

use super::{json::strip_location, options::kind_of, Ctx};
use crate::connectors::{Record, RecordItem};

/// The records of an NDJSON file, in file order.
pub(super) struct NdjsonRecords {
    ctx: Ctx,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line: u64,
    index: u64,
    done: bool,
}

impl NdjsonRecords {
    pub(super) fn new(ctx: Ctx, reader: Box<dyn BufRead + Send>) -> NdjsonRecords {
        NdjsonRecords {
            ctx,
            reader,
            buf: Vec::with_capacity(4096),
            line: 0,
            index: 0,
            done: false,
        }
    }
}

impl Iterator for NdjsonRecords {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.ctx.read_error(self.line, e)));
                }
            }
            self.line += 1;
            let text = trim_end(&self.buf);
            if text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                continue;
            }
            let index = self.index;
            self.index += 1;
            let line = Some(self.line);
            // Checking UTF-8 once for the line and parsing a `str` is
            // faster than letting serde_json check each string of a slice.
            let Ok(text) = std::str::from_utf8(text) else {
                return Some(Err(self.ctx.invalid(
                    line,
                    index,
                    "the line is not UTF-8 text",
                    "save the file as UTF-8",
                )));
            };
            return Some(match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => Ok(Record {
                    entity: self.ctx.entity,
                    position: self.ctx.position(line, index),
                    fields,
                }),
                Ok(other) => Err(self.ctx.invalid(
                    line,
                    index,
                    format!("the line is {}, not a JSON object", kind_of(&other)),
                    "write one JSON object per line, e.g. {\"ItemNo\": \"A1\"}",
                )),
                Err(e) => Err(self.ctx.invalid(
                    line,
                    index,
                    format!(
                        "the line is not valid JSON (column {}): {}",
                        e.column(),
                        strip_location(&e.to_string())
                    ),
                    "write one complete JSON object per line; a record may not span lines",
                )),
            });
        }
    }
}

fn trim_end(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = bytes {
        bytes = rest;
    }
    bytes
}
