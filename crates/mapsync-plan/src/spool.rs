//! The document spool: documents of a plan's create and update items kept
//! on disk instead of in memory. Planning streams records through the
//! compiler and writes each document that apply may need to a temporary
//! file (one compact JSON [`PlannedDocument`] after another); a
//! [`DocumentSpool`] then reads them back in plan order, one at a time, for
//! rendering, the plan file and apply. The file lives in the project's
//! temporary folder (`mapsync_state::tmp`, `.mapsync/tmp/` by default),
//! named after the process that owns it, and is removed when the last
//! handle goes (a killed run's spool is removed by the next run). This
//! module only stores and reads documents: it decides nothing about which
//! ones.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use mapsync_state::tmp::{TmpError, TmpFile};

use serde::Serialize;

use super::document::{Control, Document};
use super::reconcile::PlannedDocument;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool file could not be created, written or read.
    #[error("document spool {path}: {source}")]
    Io {
        /// The spool file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A spooled document could not be written or read back.
    #[error("document spool {path}: {source}")]
    Json {
        /// The spool file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A position beyond the spool (a bug).
    #[error("document spool: no document at {0}")]
    Missing(u64),
}

/// Where one document is in the spool file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolRef {
    offset: u64,
    len: u32,
}

/// The spool file; removed when dropped.
#[derive(Debug)]
struct SpoolFile {
    path: PathBuf,
    /// Removes the file when the last handle goes.
    _file: TmpFile,
}

impl From<TmpError> for SpoolError {
    fn from(e: TmpError) -> SpoolError {
        SpoolError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl SpoolError {
    /// Whether the disk holding the spool (or the user's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            SpoolError::Io { source, .. } => mapsync_state::tmp::is_disk_full(source),
            SpoolError::Json { source, .. } => source
                .io_error_kind()
                .is_some_and(|k| k == std::io::ErrorKind::StorageFull),
            SpoolError::Missing(_) => false,
        }
    }
}

/// A borrowed [`PlannedDocument`]: same JSON, no copies.
#[derive(Serialize)]
struct PlannedDocumentRef<'a> {
    hash: &'a str,
    control: &'a Control,
    document: &'a Document,
}

/// Writes documents to a new spool file.
#[derive(Debug)]
pub struct SpoolWriter {
    file: Arc<SpoolFile>,
    out: BufWriter<File>,
    len: u64,
    buf: Vec<u8>,
}

impl SpoolWriter {
    /// A new, empty spool file in the project's temporary folder (the one
    /// `mapsync_state::tmp::install`ed; without one, the system's).
    pub fn create() -> Result<SpoolWriter, SpoolError> {
        let (tmp, f) = mapsync_state::tmp::create_file("spool.ndjson")?;
        Ok(SpoolWriter::with_file(tmp, f))
    }

    fn with_file(tmp: TmpFile, f: File) -> SpoolWriter {
        SpoolWriter {
            file: Arc::new(SpoolFile {
                path: tmp.path().to_path_buf(),
                _file: tmp,
            }),
            out: BufWriter::with_capacity(1 << 16, f),
            len: 0,
            buf: Vec::with_capacity(4096),
        }
    }

    /// One document as the spool stores it (a line of JSON), for
    /// [`SpoolWriter::push_line`]: lets other threads do the serialising.
    /// `document` is the document's canonical text (see
    /// `compile::document_hash_and_text`), valid JSON of the document, so
    /// the document is not serialised a second time.
    pub fn line(
        hash: &str,
        control: &Control,
        document: &[u8],
    ) -> Result<Vec<u8>, serde_json::Error> {
        let mut buf = Vec::with_capacity(document.len() + 256);
        buf.extend_from_slice(b"{\"hash\":");
        serde_json::to_writer(&mut buf, hash)?;
        buf.extend_from_slice(b",\"control\":");
        serde_json::to_writer(&mut buf, control)?;
        buf.extend_from_slice(b",\"document\":");
        buf.extend_from_slice(document);
        buf.extend_from_slice(b"}\n");
        Ok(buf)
    }

    /// Append a line made by [`SpoolWriter::line`]; returns where it is.
    pub fn push_line(&mut self, line: &[u8]) -> Result<SpoolRef, SpoolError> {
        self.out.write_all(line).map_err(|source| SpoolError::Io {
            path: self.file.path.clone(),
            source,
        })?;
        let at = SpoolRef {
            offset: self.len,
            len: u32::try_from(line.len()).unwrap_or(u32::MAX),
        };
        self.len += line.len() as u64;
        Ok(at)
    }

    /// Append one document; returns where it is.
    pub fn push(
        &mut self,
        hash: &str,
        control: &Control,
        document: &Document,
    ) -> Result<SpoolRef, SpoolError> {
        self.buf.clear();
        serde_json::to_writer(
            &mut self.buf,
            &PlannedDocumentRef {
                hash,
                control,
                document,
            },
        )
        .map_err(|source| SpoolError::Json {
            path: self.file.path.clone(),
            source,
        })?;
        self.buf.push(b'\n');
        self.out
            .write_all(&self.buf)
            .map_err(|source| SpoolError::Io {
                path: self.file.path.clone(),
                source,
            })?;
        let at = SpoolRef {
            offset: self.len,
            len: u32::try_from(self.buf.len()).unwrap_or(u32::MAX),
        };
        self.len += self.buf.len() as u64;
        Ok(at)
    }

    /// Flush, and give the documents at `refs` (in that order) as a
    /// [`DocumentSpool`].
    pub fn finish(mut self, refs: Vec<SpoolRef>) -> Result<DocumentSpool, SpoolError> {
        self.out.flush().map_err(|source| SpoolError::Io {
            path: self.file.path.clone(),
            source,
        })?;
        Ok(DocumentSpool {
            file: Some(self.file),
            refs,
        })
    }
}

/// Documents of a plan's create and update items, in plan order, read
/// from disk one at a time.
#[derive(Debug, Clone, Default)]
pub struct DocumentSpool {
    file: Option<Arc<SpoolFile>>,
    refs: Vec<SpoolRef>,
}

impl DocumentSpool {
    /// How many documents.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The documents in plan order (the create and update changes).
    pub fn iter(&self) -> SpoolIter<'_> {
        SpoolIter {
            spool: self,
            reader: None,
            at: 0,
            next: 0,
            buf: Vec::new(),
        }
    }

    /// Keep only the documents for which `keep(index)` holds (index in
    /// plan order).
    pub fn retain_indices(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut i = 0;
        self.refs.retain(|_| {
            let k = keep(i);
            i += 1;
            k
        });
    }

    /// The documents at `order` (indices into the current order), in that
    /// order: a plan whose changes moved (an unchanged item that became an
    /// update, an update held) puts its documents back in plan order.
    /// Indices out of range are skipped.
    pub fn select(&mut self, order: &[usize]) {
        self.refs = order
            .iter()
            .filter_map(|i| self.refs.get(*i).cloned())
            .collect();
    }

    /// A document line as [`SpoolIter::next_raw`] gives it.
    pub fn parse(&self, line: &[u8]) -> Result<PlannedDocument, SpoolError> {
        serde_json::from_slice(line).map_err(|source| SpoolError::Json {
            path: self.path(),
            source,
        })
    }

    fn path(&self) -> PathBuf {
        self.file
            .as_ref()
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }
}

/// Iterator of [`DocumentSpool::iter`].
#[derive(Debug)]
pub struct SpoolIter<'a> {
    spool: &'a DocumentSpool,
    reader: Option<BufReader<File>>,
    /// Offset of the reader.
    at: u64,
    next: usize,
    buf: Vec<u8>,
}

impl SpoolIter<'_> {
    /// The bytes of the document at `r` (one JSON line).
    fn read_bytes(&mut self, r: SpoolRef) -> Result<(), SpoolError> {
        let io = |source| SpoolError::Io {
            path: self.spool.path(),
            source,
        };
        if self.reader.is_none() {
            let Some(file) = &self.spool.file else {
                return Err(SpoolError::Missing(r.offset));
            };
            let f = File::open(&file.path).map_err(io)?;
            self.reader = Some(BufReader::with_capacity(1 << 16, f));
            self.at = 0;
        }
        let Some(reader) = self.reader.as_mut() else {
            return Err(SpoolError::Missing(r.offset));
        };
        if r.offset != self.at {
            let delta = i64::try_from(r.offset).unwrap_or(i64::MAX)
                - i64::try_from(self.at).unwrap_or(i64::MAX);
            reader.seek_relative(delta).map_err(io)?;
        }
        self.buf.resize(r.len as usize, 0);
        reader.read_exact(&mut self.buf).map_err(io)?;
        self.at = r.offset + u64::from(r.len);
        Ok(())
    }

    fn read(&mut self, r: SpoolRef) -> Result<PlannedDocument, SpoolError> {
        self.read_bytes(r)?;
        self.spool.parse(&self.buf)
    }

    /// The next document's line, unparsed (for [`DocumentSpool::parse`] on
    /// another thread).
    pub fn next_raw(&mut self) -> Option<Result<Vec<u8>, SpoolError>> {
        let r = *self.spool.refs.get(self.next)?;
        self.next += 1;
        Some(self.read_bytes(r).map(|()| std::mem::take(&mut self.buf)))
    }
}

impl SpoolIter<'_> {
    /// Pass over the next document without reading it.
    pub fn skip_one(&mut self) {
        self.next += 1;
    }
}

impl Iterator for SpoolIter<'_> {
    type Item = Result<PlannedDocument, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = *self.spool.refs.get(self.next)?;
        self.next += 1;
        Some(self.read(r))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.spool.refs.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

/// One source item as planning keeps it: what the rules need, and where
/// its document is in the spool when apply may need it. An unchanged item
/// keeps no document at all.
#[derive(Debug, Clone)]
pub enum SpooledItem {
    /// A record that compiled.
    Compiled {
        /// KeyField value (empty = missing).
        key: String,
        /// Control fields (select, mode, published, write-back values).
        control: Control,
        /// `hash::content_hash` of the document.
        hash: String,
        /// Where its document is, if it was spooled.
        spooled: Option<SpoolRef>,
        /// The compiler's warnings (an image left out...); boxed, as most
        /// items have none.
        warnings: Option<Box<Vec<mapsync_core::diag::Diagnostic>>>,
    },
    /// A record that could not be compiled or read.
    Invalid {
        /// Its key, when it has one.
        key: Option<String>,
        /// Where it is in the source, for messages.
        position: String,
        /// Why it is invalid.
        diagnostics: Vec<mapsync_core::diag::Diagnostic>,
    },
}

impl super::reconcile::ItemView for SpooledItem {
    fn raw_key(&self) -> Option<&str> {
        match self {
            SpooledItem::Compiled { key, .. } => Some(key.as_str()),
            SpooledItem::Invalid { key, .. } => key.as_deref(),
        }
    }
    fn compiled(&self) -> Option<(&Control, &str)> {
        match self {
            SpooledItem::Compiled { control, hash, .. } => Some((control, hash.as_str())),
            SpooledItem::Invalid { .. } => None,
        }
    }
    fn invalid(&self) -> Option<(&str, &[mapsync_core::diag::Diagnostic])> {
        match self {
            SpooledItem::Compiled { .. } => None,
            SpooledItem::Invalid {
                position,
                diagnostics,
                ..
            } => Some((position.as_str(), diagnostics.as_slice())),
        }
    }
    fn warnings(&self) -> &[mapsync_core::diag::Diagnostic] {
        match self {
            SpooledItem::Compiled {
                warnings: Some(w), ..
            } => w.as_slice(),
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_core::document::Entity;

    fn doc(key: &str) -> Document {
        Document {
            entity: Entity::Product,
            key: key.into(),
            fields: [("title".to_string(), serde_json::json!(format!("T {key}")))]
                .into_iter()
                .collect(),
            metafields: vec![],
            metafield_descriptions: vec![],
            images: vec![],
            options: vec![],
            variants: vec![],
            categories: vec!["C1".into()],
        }
    }

    #[test]
    fn documents_come_back_in_the_order_asked_and_the_file_goes() {
        let mut w = SpoolWriter::create().unwrap();
        let control = Control::default();
        let refs: Vec<SpoolRef> = ["a", "b", "c", "d"]
            .iter()
            .map(|k| w.push(&format!("h-{k}"), &control, &doc(k)).unwrap())
            .collect();
        // Plan order may skip documents and go back.
        let order = vec![refs[1], refs[3], refs[0]];
        let spool = w.finish(order).unwrap();
        let path = spool.path();
        let keys: Vec<String> = spool.iter().map(|d| d.unwrap().document.key).collect();
        assert_eq!(keys, ["b", "d", "a"]);
        let again: Vec<PlannedDocument> = spool.iter().map(Result::unwrap).collect();
        assert_eq!(again[1].hash, "h-d");
        assert_eq!(again[1].document, doc("d"));
        assert!(path.exists());
        drop(spool);
        assert!(!path.exists());
    }
}

/// Why a plan file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Not JSON, or not the shape of a plan file.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Its documents could not be written to the spool.
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// Reads a plan file (`plan --out`) as a stream: the plan into memory, its
/// documents one at a time into a new spool (in the project's temporary
/// folder), so a plan of a million creates is applied without holding its
/// documents.
/// Keys it does not know are skipped, as deserialising a
/// [`super::reconcile::PlanFile`] would.
pub fn read_plan_file(
    reader: impl Read,
) -> Result<(super::reconcile::Plan, DocumentSpool), PlanFileError> {
    let mut spool = SpoolWriter::create()?;
    let mut refs = Vec::new();
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, reader));
    let plan = serde::Deserializer::deserialize_map(
        &mut de,
        plan_file::FileVisitor {
            spool: &mut spool,
            refs: &mut refs,
            failed: &mut failed,
        },
    );
    if let Some(e) = failed {
        return Err(e.into());
    }
    let plan = plan?;
    de.end()?;
    Ok((plan, spool.finish(refs)?))
}

mod plan_file {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{SpoolError, SpoolRef, SpoolWriter};
    use crate::reconcile::{Plan, PlannedDocument};

    pub(super) struct FileVisitor<'a> {
        pub(super) spool: &'a mut SpoolWriter,
        pub(super) refs: &'a mut Vec<SpoolRef>,
        pub(super) failed: &'a mut Option<SpoolError>,
    }

    impl<'de> Visitor<'de> for FileVisitor<'_> {
        type Value = Plan;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapsync plan file (a JSON object)")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plan, A::Error> {
            let mut format_version = None;
            let mut profile = None;
            let mut created_at = None;
            let mut target_serial = None;
            let mut summary = None;
            let mut changes = None;
            let mut mass_delete = Vec::new();
            let mut reads = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "format_version" => format_version = Some(map.next_value()?),
                    "profile" => profile = Some(map.next_value()?),
                    "created_at" => created_at = Some(map.next_value()?),
                    "target_serial" => target_serial = Some(map.next_value()?),
                    "summary" => summary = Some(map.next_value()?),
                    "changes" => changes = Some(map.next_value()?),
                    "mass_delete" => mass_delete = map.next_value()?,
                    "reads" => reads = map.next_value()?,
                    "documents" => map.next_value_seed(Documents {
                        spool: &mut *self.spool,
                        refs: &mut *self.refs,
                        failed: &mut *self.failed,
                    })?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let missing = de::Error::missing_field;
            Ok(Plan {
                format_version: format_version.ok_or_else(|| missing("format_version"))?,
                profile: profile.ok_or_else(|| missing("profile"))?,
                created_at: created_at.ok_or_else(|| missing("created_at"))?,
                target_serial: target_serial.ok_or_else(|| missing("target_serial"))?,
                summary: summary.ok_or_else(|| missing("summary"))?,
                changes: changes.ok_or_else(|| missing("changes"))?,
                mass_delete,
                reads,
            })
        }
    }

    /// The `documents` array, pushed to the spool as it is read.
    struct Documents<'a> {
        spool: &'a mut SpoolWriter,
        refs: &'a mut Vec<SpoolRef>,
        failed: &'a mut Option<SpoolError>,
    }

    impl<'de> DeserializeSeed<'de> for Documents<'_> {
        type Value = ();

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Documents<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of planned documents")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(d) = seq.next_element::<PlannedDocument>()? {
                match self.spool.push(&d.hash, &d.control, &d.document) {
                    Ok(r) => self.refs.push(r),
                    Err(e) => {
                        let text = e.to_string();
                        *self.failed = Some(e);
                        return Err(de::Error::custom(text));
                    }
                }
            }
            Ok(())
        }
    }
}
