//! The manifest of a pulled folder: `manifest.ndjson`, one JSON object per
//! line and image, in the order of the store's products and their images
//! (docs/images.md; the contract's example line, field for field).

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ImagesError;

/// The manifest's file name in a pulled folder.
pub const FILE: &str = "manifest.ndjson";

/// What `publish` does with a line's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    #[default]
    Skip,
    /// Replace the image by the edited file, same position, variants, alt.
    Overwrite,
    /// Add the edited file to the product after its images.
    Append,
    /// Add the edited file to each product of `copy_to`.
    Copy,
}

impl Action {
    /// The word of the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Skip => "skip",
            Action::Overwrite => "overwrite",
            Action::Append => "append",
            Action::Copy => "copy",
        }
    }
}

/// One line of the manifest: one image of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// mapsync's key of the product (its ownership marker, else its handle).
    pub product_key: String,
    /// The store's id of the product.
    pub product_id: String,
    /// The SKU of the product's first variant.
    pub sku: Option<String>,
    /// The store's id of the image.
    pub image_id: String,
    /// 1-based position among the product's media.
    pub position: u32,
    /// SKUs of the variants linked to the image.
    pub variants: Vec<String>,
    /// Alt text.
    pub alt: Option<String>,
    /// Where the store says the image came from.
    pub source_url: Option<String>,
    /// The downloaded file, relative to the manifest (`files/9f/9f86….jpg`);
    /// `null` when it could not be downloaded.
    pub file: Option<String>,
    /// SHA-256 of the file's bytes.
    pub sha256: Option<String>,
    /// The file's size.
    pub bytes: Option<u64>,
    /// MIME type (from the bytes, else the store).
    pub content_type: Option<String>,
    /// Pixels, when the store says.
    pub width: Option<u32>,
    /// Pixels, when the store says.
    pub height: Option<u32>,
    /// The `image_id` of the first image with the same bytes in the store.
    pub duplicate_of: Option<String>,
    /// What `publish` does (`skip` as pulled).
    #[serde(default)]
    pub action: Action,
    /// The file to publish, relative to the manifest.
    #[serde(default)]
    pub edited_file: Option<String>,
    /// Product keys a `copy` adds the file to.
    #[serde(default)]
    pub copy_to: Vec<String>,
}

/// Reads a manifest.
pub fn read(path: &Path) -> Result<Vec<Line>, ImagesError> {
    let text = std::fs::read_to_string(path).map_err(|e| ImagesError::io(path, e))?;
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| ImagesError::Manifest {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        lines.push(line);
    }
    Ok(lines)
}

/// Writes a manifest at once (a temporary file renamed over it: a killed
/// pull leaves the previous one whole).
pub fn write(path: &Path, lines: &[Line]) -> Result<(), ImagesError> {
    let tmp = temp_path(path);
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(tmp.path()).map_err(|e| ImagesError::io(tmp.path(), e))?,
    );
    for line in lines {
        let text = serde_json::to_string(line).map_err(|e| ImagesError::Manifest {
            path: path.to_owned(),
            line: 0,
            message: e.to_string(),
        })?;
        writeln!(out, "{text}").map_err(|e| ImagesError::io(tmp.path(), e))?;
    }
    out.flush().map_err(|e| ImagesError::io(tmp.path(), e))?;
    drop(out);
    tmp.persist(path).map_err(|e| ImagesError::io(path, e))
}

/// Where a manifest is written before it replaces `path`: the project's
/// temporary folder (or beside `path` when none is installed); removed
/// when dropped unless persisted.
pub(crate) fn temp_path(path: &Path) -> mapsync_state::tmp::TmpFile {
    mapsync_state::tmp::temp_for(path, "manifest.part")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's example line (its ids made neutral) reads and writes
    /// field for field.
    #[test]
    fn the_contract_example_round_trips() {
        let text = r#"{"product_key":"P-1001","product_id":"gid://store/Product/7","sku":"P-1001","image_id":"gid://store/MediaImage/31","position":1,"variants":["P-1001-S"],"alt":"Front","source_url":"https://cdn.example/p1.jpg","file":"files/9f/9f86d0.jpg","sha256":"9f86d0","bytes":48213,"content_type":"image/jpeg","width":1200,"height":1200,"duplicate_of":null,"action":"skip","edited_file":null,"copy_to":[]}"#;
        let line: Line = serde_json::from_str(text).unwrap();
        assert_eq!(line.action, Action::Skip);
        assert_eq!(serde_json::to_string(&line).unwrap(), text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        write(&path, &[line.clone(), line.clone()]).unwrap();
        assert_eq!(read(&path).unwrap(), vec![line.clone(), line]);
    }

    #[test]
    fn a_bad_line_names_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "\n{\"product_key\": 1}\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
    }
}
