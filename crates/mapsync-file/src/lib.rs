//! The `file` source: catalog records from JSON, NDJSON, CSV and YAML files.
//!
//! NDJSON and CSV are streamed (memory bounded by one line or one CSV
//! group); JSON and YAML are read whole, then handed out one record at a
//! time. A malformed record becomes a [`ReadError::Invalid`] item with its
//! file and line, and reading goes on; a missing file, a syntax error in a
//! whole-document format or a bad top-level shape is a [`FileError`].
//! This module reads files only: it never writes back (SyncID & co.).

mod connector;
mod csv;
mod json;
mod ndjson;
mod options;
mod yaml;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use connector::FileConnector;
pub use options::{FileOptions, Format};

use mapsync_core::source::{
    Entity, InvalidRecord, Position, ReadError, RecordStream, Source, SourceError,
};

/// Why the `file` source cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The options in the profile are wrong.
    #[error("invalid `file` source: {message}; {help}")]
    Options {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// The file cannot be opened.
    #[error("cannot read source file {path}: {error}; {help}")]
    Open {
        /// The file, as resolved.
        path: PathBuf,
        /// The operating system's reason.
        error: io::Error,
        /// How to fix it.
        help: String,
    },
    /// Reading failed half-way (disk error, file removed...).
    #[error("reading source file {path} failed after line {line}: {error}; check the file and run again")]
    Read {
        /// The file, as resolved.
        path: PathBuf,
        /// The last line read.
        line: u64,
        /// The operating system's reason.
        error: io::Error,
    },
    /// A whole-document format (JSON, YAML) does not parse.
    #[error("{path} is not valid {format} (line {line}, column {column}): {message}; fix the file, or set `format:` if it is not {format}")]
    Syntax {
        /// The file, as resolved.
        path: PathBuf,
        /// The format it was read as.
        format: Format,
        /// 1-based line of the error.
        line: u64,
        /// 1-based column of the error.
        column: u64,
        /// The parser's message.
        message: String,
    },
    /// The file parses but is not shaped like a catalog.
    #[error("{path}: {message}; {help}")]
    Shape {
        /// The file, as resolved.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
}

/// A catalog file.
#[derive(Debug, Clone)]
pub struct FileSource {
    options: FileOptions,
    resolved: PathBuf,
    origin: Arc<str>,
}

impl From<FileError> for SourceError {
    fn from(e: FileError) -> SourceError {
        SourceError::Connector(Box::new(e))
    }
}

impl FileSource {
    /// A source for `options`, with relative paths taken from `base_dir`
    /// (the project directory). Nothing is opened yet.
    pub fn new(options: FileOptions, base_dir: &Path) -> FileSource {
        let resolved = options.resolve(base_dir);
        let origin: Arc<str> = Arc::from(options.path.as_str());
        FileSource {
            options,
            resolved,
            origin,
        }
    }

    /// Parses a profile's `source:` value and builds the source.
    pub fn from_value(value: &serde_json::Value, base_dir: &Path) -> Result<FileSource, FileError> {
        Ok(FileSource::new(FileOptions::from_value(value)?, base_dir))
    }

    /// The options.
    pub fn options(&self) -> &FileOptions {
        &self.options
    }

    /// The file that is read.
    pub fn path(&self) -> &Path {
        &self.resolved
    }

    /// Opens the records of `entity` (see [`Source::records`]).
    pub fn open(&self, entity: Entity) -> Result<RecordStream, FileError> {
        let ctx = Ctx {
            path: self.resolved.clone(),
            origin: self.origin.clone(),
            entity,
        };
        tracing::debug!(path = %self.resolved.display(), format = self.options.format.as_str(), entity = %entity, "opening file source");
        match self.options.format {
            Format::Json => json::open(ctx, self.options.entity),
            Format::Yaml => yaml::open(ctx, self.options.entity),
            Format::Ndjson | Format::Csv if self.options.entity != Some(entity) => {
                Ok(RecordStream::empty())
            }
            Format::Ndjson => Ok(RecordStream::from_raw(ndjson::NdjsonLines::new(
                ctx,
                open_reader(&self.resolved)?,
            ))),
            Format::Csv => csv::open(ctx, &self.options),
        }
    }
}

impl Source for FileSource {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn records(&self, entity: Entity) -> Result<RecordStream, SourceError> {
        Ok(self.open(entity)?)
    }

    fn supports_writeback(&self) -> bool {
        false
    }

    fn fingerprint(&self, _entity: Entity) -> Option<String> {
        fingerprint(&self.resolved, std::time::SystemTime::now())
    }
}

/// The file's identity, size, and modification and change times, as
/// [`Source::fingerprint`]; `None` when it cannot be read, or when it was
/// modified less than [`SETTLING`] before `now` (a file system whose clock
/// ticks in seconds could show a second write in that second as none).
fn fingerprint(path: &Path, now: std::time::SystemTime) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?;
    if now
        .duration_since(modified)
        .map_or(true, |age| age < SETTLING)
    {
        return None;
    }
    let since_epoch = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    };
    #[cfg(unix)]
    let identity = {
        use std::os::unix::fs::MetadataExt as _;
        format!(
            "{}:{}:{}.{}",
            meta.dev(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        )
    };
    #[cfg(not(unix))]
    let identity = String::new();
    Some(format!(
        "{}|{identity}|{}|{}",
        path.display(),
        meta.len(),
        since_epoch(modified)
    ))
}

/// How long after its last modification a file's fingerprint is trusted.
const SETTLING: std::time::Duration = std::time::Duration::from_secs(2);

/// What every reader needs to name what it reads.
#[derive(Debug, Clone)]
struct Ctx {
    path: PathBuf,
    origin: Arc<str>,
    entity: Entity,
}

impl Ctx {
    fn position(&self, line: Option<u64>, index: u64) -> Position {
        Position {
            origin: self.origin.clone(),
            line,
            index,
        }
    }

    fn invalid(
        &self,
        line: Option<u64>,
        index: u64,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> ReadError {
        ReadError::Invalid(Box::new(InvalidRecord {
            entity: self.entity,
            position: self.position(line, index),
            message: message.into(),
            help: help.into(),
        }))
    }

    fn shape(&self, message: impl Into<String>, help: impl Into<String>) -> FileError {
        FileError::Shape {
            path: self.path.clone(),
            message: message.into(),
            help: help.into(),
        }
    }

    fn read_error(&self, line: u64, error: io::Error) -> ReadError {
        ReadError::Fatal(SourceError::from(FileError::Read {
            path: self.path.clone(),
            line,
            error,
        }))
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn open_error(path: &Path, error: io::Error) -> FileError {
    let help = match error.kind() {
        io::ErrorKind::NotFound => {
            "check `path` in the profile's source (relative paths start at the project directory)"
        }
        io::ErrorKind::PermissionDenied => "make the file readable by the user running mapsync",
        _ => "check that `path` names a readable file",
    };
    FileError::Open {
        path: path.to_path_buf(),
        error,
        help: help.into(),
    }
}

fn open_file(path: &Path) -> Result<File, FileError> {
    let file = File::open(path).map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(|e| open_error(path, e))?;
    if meta.is_dir() {
        return Err(FileError::Open {
            path: path.to_path_buf(),
            error: io::Error::other("it is a directory"),
            help: "point `path` at a file".into(),
        });
    }
    Ok(file)
}

/// A buffered reader of the file with a leading UTF-8 BOM removed.
fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>, FileError> {
    let mut reader = BufReader::with_capacity(64 * 1024, open_file(path)?);
    let buf = reader.fill_buf().map_err(|e| open_error(path, e))?;
    if buf.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    Ok(Box::new(reader))
}

/// The whole file, without a leading UTF-8 BOM.
fn read_all(path: &Path) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    open_file(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| open_error(path, e))?;
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    Ok(bytes)
}

/// Counts newlines, to turn byte offsets into line numbers incrementally.
fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The `{categories, products}` key a whole-document file uses for `entity`,
/// and a message for keys that look like typos of it.
fn check_top_keys<'a>(ctx: &Ctx, keys: impl Iterator<Item = &'a str>) -> Result<(), FileError> {
    let mut known = false;
    let mut unknown = Vec::new();
    for key in keys {
        if key == "categories" || key == "products" {
            known = true;
        } else {
            unknown.push(key.to_string());
        }
    }
    if known {
        for key in &unknown {
            tracing::warn!(path = %ctx.path.display(), key = %key, "ignoring top-level key of a catalog file (only `categories` and `products` are read)");
        }
        return Ok(());
    }
    let hint = unknown
        .iter()
        .find_map(|k| options::closest(k, &["categories", "products"]).map(|c| (k, c)));
    let help = match hint {
        Some((k, c)) => format!("rename `{k}` to `{c}`"),
        None => "write `{ \"categories\": [...], \"products\": [...] }`, or a list of records with `entity:` in the source".into(),
    };
    Err(ctx.shape(
        "the top-level object has neither `categories` nor `products`",
        help,
    ))
}

fn need_entity(ctx: &Ctx) -> FileError {
    ctx.shape(
        "the file holds one list of records, but the source does not say which entity they are",
        "add `entity: product` (or `entity: category`) to the profile's source",
    )
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_file_changed_in_place_or_replaced_changes_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "[]").unwrap();
        let later = SystemTime::now() + Duration::from_secs(10);
        let first = fingerprint(&path, later).expect("a settled file has one");
        assert_eq!(fingerprint(&path, later), Some(first.clone()), "stable");
        // Same size, new content: the modification time moves.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, "{}").unwrap();
        let second = fingerprint(&path, later).unwrap();
        assert_ne!(first, second);
        // Replaced by another file (an editor's save-and-rename).
        let other = dir.path().join("q.json");
        std::fs::write(&other, "{}").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(fingerprint(&path, later).unwrap(), second);
    }

    #[test]
    fn a_file_just_written_or_missing_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        assert_eq!(fingerprint(&path, SystemTime::now()), None, "missing");
        std::fs::write(&path, "[]").unwrap();
        assert_eq!(fingerprint(&path, SystemTime::now()), None, "not settled");
    }
}
