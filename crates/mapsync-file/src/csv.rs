//! CSV catalog files: a header row, then one record per row (every cell a
//! string, an empty cell `""`), streamed. With `group_by: COLUMN`, rows with
//! the same value in that column become one record: the first row's fields
//! plus `_rows`, the list of all the group's rows (the first included).
//!
//! Grouping streams too: a first pass notes, per group value, the row that
//! ends the group, so a group is handed out as soon as its last row is read.
//! Memory is one group for files whose groups are consecutive rows; rows of
//! a group may also be scattered, at the cost of holding the open groups.
//! A row whose group value is empty is a record of its own (with `_rows`
//! holding just that row).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, Read};

use csv::ByteRecord;
use serde_json::Value;

use super::{open_reader, Ctx, FileError, FileOptions};
use mapsync_core::source::{Fields, ReadError, Record, RecordItem, RecordStream};

/// The list field that holds a group's rows.
pub const ROWS_FIELD: &str = "_rows";

pub(super) fn open(ctx: Ctx, options: &FileOptions) -> Result<RecordStream, FileError> {
    let rows = Rows::open(ctx.clone(), options)?;
    let Some(group_by) = &options.group_by else {
        return Ok(RecordStream::from_blocking(Ungrouped { rows, index: 0 }));
    };
    let col = rows
        .headers
        .iter()
        .position(|h| h == group_by)
        .ok_or_else(|| {
            let names: Vec<&str> = rows.headers.iter().map(String::as_str).collect();
            let help = match super::options::closest(group_by, &names) {
                Some(c) => format!("did you mean `group_by: {c}`?"),
                None => format!("the columns are: {}", names.join(", ")),
            };
            ctx.shape(
                format!("the `group_by` column `{group_by}` is not in the header row"),
                help,
            )
        })?;
    if rows.headers.iter().any(|h| h == ROWS_FIELD) {
        return Err(ctx.shape(
            format!("the file has a column named `{ROWS_FIELD}`, which `group_by` uses for the group's rows"),
            format!("rename the `{ROWS_FIELD}` column"),
        ));
    }
    let last = last_rows(rows, col)?;
    let rows = Rows::open(ctx, options)?;
    Ok(RecordStream::from_blocking(Grouped {
        rows,
        col,
        last,
        queue: VecDeque::new(),
        groups: HashMap::new(),
        index: 0,
        eof: false,
    }))
}

/// One data row, as read.
enum Row {
    Good {
        line: u64,
        fields: Fields,
    },
    Bad {
        line: u64,
        message: String,
        help: String,
    },
}

/// The data rows of a CSV file, with the header row read and checked.
struct Rows {
    ctx: Ctx,
    reader: csv::Reader<LineTracker>,
    headers: Vec<String>,
    record: ByteRecord,
    /// Data rows read so far (good and bad).
    ordinal: u64,
    line: u64,
    done: bool,
}

impl Rows {
    fn open(ctx: Ctx, options: &FileOptions) -> Result<Rows, FileError> {
        let reader = open_reader(&ctx.path)?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(LineTracker::new(reader));
        let mut record = ByteRecord::new();
        let has_header = reader.read_byte_record(&mut record).map_err(|e| {
            ctx.shape(
                format!("cannot read the header row: {e}"),
                "check that the file is a readable CSV file",
            )
        })?;
        if !has_header {
            return Err(ctx.shape(
                "the CSV file is empty",
                "a CSV catalog needs a header row naming the columns",
            ));
        }
        let mut headers: Vec<String> = Vec::with_capacity(record.len());
        for (i, cell) in record.iter().enumerate() {
            let name = std::str::from_utf8(cell).map_err(|_| {
                ctx.shape(
                    format!(
                        "the name of column {} in the header row is not UTF-8 text",
                        i + 1
                    ),
                    "save the file as UTF-8",
                )
            })?;
            if let Some(j) = headers.iter().position(|h| h == name) {
                return Err(ctx.shape(
                    format!(
                        "the column `{name}` appears twice in the header row (columns {} and {})",
                        j + 1,
                        i + 1
                    ),
                    "give every column a different name",
                ));
            }
            headers.push(name.to_string());
        }
        let looks_delimited = |h: &String| h.contains([',', ';', '\t', '|']);
        if headers.len() == 1 && headers.first().is_some_and(looks_delimited) {
            tracing::warn!(path = %ctx.path.display(), "the CSV header has one column; is `delimiter` right?");
        }
        Ok(Rows {
            ctx,
            reader,
            headers,
            record,
            ordinal: 0,
            line: 1,
            done: false,
        })
    }

    /// The next row, or a fatal read error.
    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        if self.done {
            return None;
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                return None;
            }
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    self.done = true;
                    let csv::ErrorKind::Io(io) = e.into_kind() else {
                        return None;
                    };
                    return Some(Err(self.ctx.read_error(self.line, io)));
                }
                self.ordinal += 1;
                return Some(Ok(Row::Bad {
                    line: self.line,
                    message: format!("the row cannot be read: {e}"),
                    help: "check the quoting of this row".into(),
                }));
            }
        }
        self.ordinal += 1;
        let line = match self.record.position() {
            Some(p) => self.reader.get_mut().line_at(p.byte()),
            None => self.line,
        };
        self.line = line;
        if let Some((message, help)) = problem(&self.record, &self.headers) {
            return Some(Ok(Row::Bad {
                line,
                message,
                help,
            }));
        }
        let mut fields = Fields::with_capacity(self.headers.len());
        for (name, cell) in self.headers.iter().zip(self.record.iter()) {
            let text = String::from_utf8_lossy(cell).into_owned();
            fields.insert(name.clone(), Value::String(text));
        }
        Some(Ok(Row::Good { line, fields }))
    }
}

/// Line numbers of CSV records. (The csv crate's own line numbers skip
/// blank lines and CRLF line ends; its byte offsets point just after the
/// previous record's first terminator byte.) Keeps the bytes from the last
/// record's start to the reader's read-ahead point: one record plus a
/// buffer.
struct LineTracker {
    inner: Box<dyn BufRead + Send>,
    window: VecDeque<u8>,
    /// File offset of `window[0]`.
    base: u64,
    /// 1-based line of `window[0]`.
    line: u64,
}

impl LineTracker {
    fn new(inner: Box<dyn BufRead + Send>) -> LineTracker {
        LineTracker {
            inner,
            window: VecDeque::new(),
            base: 0,
            line: 1,
        }
    }

    /// The line of the record the csv crate reports at byte `reported`.
    fn line_at(&mut self, reported: u64) -> u64 {
        while self.base < reported {
            let Some(b) = self.window.pop_front() else {
                break;
            };
            self.base += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        // Skip the rest of the previous terminator and blank lines.
        while let Some(&b) = self.window.front() {
            if b != b'\n' && b != b'\r' {
                break;
            }
            self.window.pop_front();
            self.base += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        self.line
    }
}

impl Read for LineTracker {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.extend(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// What is wrong with a data row, if anything.
fn problem(record: &ByteRecord, headers: &[String]) -> Option<(String, String)> {
    if record.len() != headers.len() {
        let cells = |n: usize| {
            if n == 1 {
                "1 cell".to_string()
            } else {
                format!("{n} cells")
            }
        };
        return Some((
            format!(
                "the row has {}, but the header row has {}",
                cells(record.len()),
                cells(headers.len())
            ),
            "quote cells that contain the delimiter, and give every row one cell per column".into(),
        ));
    }
    for (name, cell) in headers.iter().zip(record.iter()) {
        if std::str::from_utf8(cell).is_err() {
            return Some((
                format!("the cell in column `{name}` is not UTF-8 text"),
                "save the file as UTF-8".into(),
            ));
        }
    }
    None
}

/// First pass of grouping: for each group value, the ordinal of its last row.
fn last_rows(mut rows: Rows, col: usize) -> Result<HashMap<Vec<u8>, u64>, FileError> {
    let mut last = HashMap::new();
    loop {
        match rows.reader.read_byte_record(&mut rows.record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    let csv::ErrorKind::Io(io) = e.into_kind() else {
                        break;
                    };
                    return Err(FileError::Read {
                        path: rows.ctx.path.clone(),
                        line: rows.line,
                        error: io,
                    });
                }
                rows.ordinal += 1;
                continue;
            }
        }
        rows.ordinal += 1;
        if problem(&rows.record, &rows.headers).is_some() {
            continue;
        }
        if let Some(value) = rows.record.get(col).filter(|v| !v.is_empty()) {
            match last.get_mut(value) {
                Some(n) => *n = rows.ordinal,
                None => {
                    last.insert(value.to_vec(), rows.ordinal);
                }
            }
        }
    }
    Ok(last)
}

struct Ungrouped {
    rows: Rows,
    index: u64,
}

impl Iterator for Ungrouped {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        let row = match self.rows.next_row()? {
            Ok(row) => row,
            Err(fatal) => return Some(Err(fatal)),
        };
        let index = self.index;
        self.index += 1;
        Some(emit(&self.rows.ctx, row, index))
    }
}

fn emit(ctx: &Ctx, row: Row, index: u64) -> RecordItem {
    match row {
        Row::Good { line, fields } => Ok(Record {
            entity: ctx.entity,
            position: ctx.position(Some(line), index),
            fields,
        }),
        Row::Bad {
            line,
            message,
            help,
        } => Err(ctx.invalid(Some(line), index, message, help)),
    }
}

enum Slot {
    Row(Row),
    Group(String),
}

struct Group {
    line: u64,
    rows: Vec<Value>,
    complete: bool,
}

struct Grouped {
    rows: Rows,
    col: usize,
    last: HashMap<Vec<u8>, u64>,
    /// Items in first-row order, waiting for their group to complete.
    queue: VecDeque<Slot>,
    groups: HashMap<String, Group>,
    index: u64,
    eof: bool,
}

impl Grouped {
    /// Pops the front of the queue if it can be handed out.
    fn pop_ready(&mut self) -> Option<RecordItem> {
        let ready = match self.queue.front()? {
            Slot::Row(_) => true,
            Slot::Group(key) => self.eof || self.groups.get(key).is_none_or(|g| g.complete),
        };
        if !ready {
            return None;
        }
        let index = self.index;
        self.index += 1;
        let ctx = &self.rows.ctx;
        match self.queue.pop_front()? {
            Slot::Row(row) => Some(emit(ctx, row, index)),
            Slot::Group(key) => {
                let group = self.groups.remove(&key)?;
                let mut fields = match group.rows.first() {
                    Some(Value::Object(first)) => first.clone(),
                    _ => Fields::new(),
                };
                fields.insert(ROWS_FIELD.to_string(), Value::Array(group.rows));
                Some(Ok(Record {
                    entity: ctx.entity,
                    position: ctx.position(Some(group.line), index),
                    fields,
                }))
            }
        }
    }

    fn take_row(&mut self, row: Row) {
        let Row::Good { line, fields } = row else {
            self.queue.push_back(Slot::Row(row));
            return;
        };
        let name = self.rows.headers.get(self.col).map(String::as_str);
        let key = match name.and_then(|n| fields.get(n)) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                let mut fields = fields;
                let row = Value::Object(fields.clone());
                fields.insert(ROWS_FIELD.to_string(), Value::Array(vec![row]));
                self.queue.push_back(Slot::Row(Row::Good { line, fields }));
                return;
            }
        };
        let complete = self
            .last
            .get(key.as_bytes())
            .is_some_and(|&last| self.rows.ordinal >= last);
        match self.groups.get_mut(&key) {
            Some(group) => {
                group.rows.push(Value::Object(fields));
                group.complete = complete;
            }
            None => {
                self.groups.insert(
                    key.clone(),
                    Group {
                        line,
                        rows: vec![Value::Object(fields)],
                        complete,
                    },
                );
                self.queue.push_back(Slot::Group(key));
            }
        }
    }
}

impl Iterator for Grouped {
    type Item = RecordItem;

    fn next(&mut self) -> Option<RecordItem> {
        loop {
            if let Some(item) = self.pop_ready() {
                return Some(item);
            }
            if self.eof {
                return None;
            }
            match self.rows.next_row() {
                None => self.eof = true,
                Some(Err(fatal)) => {
                    self.eof = true;
                    self.queue.clear();
                    return Some(Err(fatal));
                }
                Some(Ok(row)) => self.take_row(row),
            }
        }
    }
}
