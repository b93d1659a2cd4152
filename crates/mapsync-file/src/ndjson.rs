//! NDJSON catalog files: one JSON object per line, streamed line by line.
//! Blank lines are skipped; a line that is not a JSON object is an invalid
//! record, and reading goes on with the next line. Lines are read on the
//! thread that pulls and parsed where [`PendingLine::parse`] is called:
//! planning parses them on its compile threads.

use std::io::BufRead;
use std::sync::Arc;

use serde_json::Value;

use super::{json::strip_location, options::kind_of, Ctx};
use mapsync_core::source::{PendingRecord, RawRecord, Record, RecordItem};

/// The lines of an NDJSON file, in file order, not yet parsed: blank
/// lines skipped, read errors as they come. Each line parses into a record
/// with [`PendingLine::parse`], on whichever thread takes it.
pub(super) struct NdjsonLines {
    ctx: Arc<Ctx>,
    reader: Box<dyn BufRead + Send>,
    line: u64,
    index: u64,
    /// The length of the last line: the next one is probably alike.
    last_len: usize,
    done: bool,
}

impl NdjsonLines {
    pub(super) fn new(ctx: Ctx, reader: Box<dyn BufRead + Send>) -> NdjsonLines {
        NdjsonLines {
            ctx: Arc::new(ctx),
            reader,
            line: 0,
            index: 0,
            last_len: 1024,
            done: false,
        }
    }
}

/// One line of an NDJSON file, read but not parsed.
pub(crate) struct PendingLine {
    ctx: Arc<Ctx>,
    line: u64,
    index: u64,
    text: Vec<u8>,
}

impl Iterator for NdjsonLines {
    type Item = RawRecord;

    fn next(&mut self) -> Option<RawRecord> {
        loop {
            if self.done {
                return None;
            }
            let mut buf = Vec::with_capacity(self.last_len + self.last_len / 8);
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(n) => self.last_len = n,
                Err(e) => {
                    self.done = true;
                    return Some(RawRecord::item(Err(self.ctx.read_error(self.line, e))));
                }
            }
            self.line += 1;
            let text = trim_end(&buf);
            if text.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                continue;
            }
            let index = self.index;
            self.index += 1;
            return Some(RawRecord::pending(Box::new(PendingLine {
                ctx: self.ctx.clone(),
                line: self.line,
                index,
                text: buf,
            })));
        }
    }
}

impl PendingRecord for PendingLine {
    fn parse(self: Box<Self>) -> RecordItem {
        PendingLine::parse(*self)
    }
}

impl PendingLine {
    /// The line as a record, or why it is not one.
    pub(crate) fn parse(self) -> RecordItem {
        let ctx = &self.ctx;
        let index = self.index;
        let line = Some(self.line);
        // Checking UTF-8 once for the line and parsing a `str` is faster
        // than letting serde_json check each string of a slice.
        let Ok(text) = std::str::from_utf8(trim_end(&self.text)) else {
            return Err(ctx.invalid(
                line,
                index,
                "the line is not UTF-8 text",
                "save the file as UTF-8",
            ));
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(fields)) => Ok(Record {
                entity: ctx.entity,
                position: ctx.position(line, index),
                fields,
            }),
            Ok(other) => Err(ctx.invalid(
                line,
                index,
                format!("the line is {}, not a JSON object", kind_of(&other)),
                "write one JSON object per line, e.g. {\"ItemNo\": \"A1\"}",
            )),
            Err(e) => Err(ctx.invalid(
                line,
                index,
                format!(
                    "the line is not valid JSON (column {}): {}",
                    e.column(),
                    strip_location(&e.to_string())
                ),
                "write one complete JSON object per line; a record may not span lines",
            )),
        }
    }
}

fn trim_end(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = bytes {
        bytes = rest;
    }
    bytes
}
