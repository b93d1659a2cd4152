//! mapsync-images: the image round trip of a target's product images.
//!
//! * [`pull`]: every product image of a target into a folder — each
//!   distinct file downloaded once, named by its SHA-256 under
//!   `files/xx/` — with the manifest ([`manifest`]): one NDJSON line per
//!   image, duplicates marked, resumable, downloads in parallel within the
//!   store's bound.
//! * [`publish`]: each manifest line's action (`skip`, `overwrite`,
//!   `append`, `copy`) through the target's image port, image by image;
//!   a file identical to what the store holds costs no request, each
//!   image is final once recorded in the state store.
//!
//! The target is reached only through the core's
//! [`mapsync_core::images::ImageStore`]: this crate names no platform and
//! does no I/O but its own folder's files and the state store's calls.

pub mod manifest;
pub mod publish;
pub mod pull;
pub mod uploads;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use mapsync_core::target::TargetError;

/// Why a pull or a publish stopped as a whole (one image's failure never
/// stops the others: it is in the summary or the log).
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// A file of the folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A manifest line is not what `images pull` writes.
    #[error("{path}:{line}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The target could not be read.
    #[error("target: {0}")]
    Target(#[from] TargetError),
    /// The state store failed.
    #[error("state store: {0}")]
    State(#[from] mapsync_state::StateError),
    /// The target has no image port.
    #[error("the `{0}` target has no image round trip yet")]
    Unsupported(String),
}

impl ImagesError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ImagesError {
        ImagesError::Io {
            path: path.into(),
            source,
        }
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Told how far a pull or publish is (a progress bar); every method is
/// called from the task driving the work.
pub trait Progress: Send + Sync {
    /// Products listed so far (a pull, before its downloads start).
    fn listed(&self, _products: u64) {}
    /// The number of steps is known (images to fetch or lines to publish).
    fn start(&self, _total: u64) {}
    /// One step ended; `failed` names what failed.
    fn step(&self, _failed: Option<&str>) {}
    /// The work ended.
    fn finish(&self) {}
}

/// No progress shown.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
