//! Staged uploads: the targets `stagedUploadsCreate` hands out, the bytes
//! uploaded to them (`/__sandbox/staged/{token}`), and what a file input's
//! `originalSource` naming one becomes (media that go UPLOADED → PROCESSING
//! → READY, or FAILED when the bytes are no image). Plain data in the
//! store, persisted with it, bounded in number and size. Must not speak
//! HTTP or GraphQL.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Largest file a target takes (bytes).
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Most targets the store keeps (the oldest go first, uploaded or not).
pub const MAX_TARGETS: usize = 200;
/// Most uploaded bytes the store keeps in all (the oldest files go first):
/// four full files, so a client may stage its next bulk file (or two)
/// while one runs.
pub const MAX_TOTAL_BYTES: usize = 4 * MAX_UPLOAD_BYTES;
/// Most targets one `stagedUploadsCreate` makes.
pub const MAX_TARGETS_PER_CALL: usize = 250;
/// The path of the upload endpoint under the store's URL.
pub const PATH: &str = "/__sandbox/staged/";

/// A staged upload target and, once uploaded, its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// The secret part of its URLs.
    pub token: String,
    /// `StagedUploadTargetGenerateUploadResource` (`IMAGE`, `FILE`, ...).
    pub resource: String,
    pub filename: String,
    pub mime_type: String,
    /// `POST` (a multipart form) or `PUT` (the raw body).
    pub http_method: String,
    /// The size the upload must have, when the input gave one.
    pub file_size: Option<u64>,
    /// The `key` parameter (a bulk mutation's `stagedUploadPath`).
    pub key: String,
    pub created_at: String,
    /// The uploaded bytes (base64 in the state file).
    #[serde(default, with = "bytes_b64")]
    pub bytes: Option<Arc<Vec<u8>>>,
}

mod bytes_b64 {
    use std::sync::Arc;

    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Option<Arc<Vec<u8>>>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(&**b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<Vec<u8>>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map(Arc::new)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// The targets of the store, oldest first, bounded by [`MAX_TARGETS`] and
/// [`MAX_TOTAL_BYTES`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Staged {
    #[serde(with = "crate::model::arc_deque")]
    targets: VecDeque<Arc<Target>>,
}

/// Why an upload is refused (the HTTP layer picks the status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// No such target (never made, or dropped since).
    NotFound,
    /// The target was made for the other method.
    WrongMethod,
    /// More than [`MAX_UPLOAD_BYTES`].
    TooLarge,
    /// The size differs from the target's `fileSize`.
    SizeMismatch { expected: u64, got: u64 },
}

impl Staged {
    /// Remember a new target, dropping the oldest beyond the bound.
    pub fn add(&mut self, target: Target) {
        self.targets.push_back(Arc::new(target));
        while self.targets.len() > MAX_TARGETS {
            self.targets.pop_front();
        }
    }

    /// The target of a token.
    pub fn get(&self, token: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.token == token).map(|t| &**t)
    }

    /// The target whose `key` is `key` (a bulk mutation's `stagedUploadPath`).
    pub fn by_key(&self, key: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.key == key).map(|t| &**t)
    }

    /// How many targets are kept.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when no target is kept.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Store the bytes of an upload (again: the last upload wins).
    pub fn upload(&mut self, token: &str, method: &str, bytes: Vec<u8>) -> Result<(), UploadError> {
        let pos = self
            .targets
            .iter()
            .position(|t| t.token == token)
            .ok_or(UploadError::NotFound)?;
        let target = &self.targets[pos];
        if !target.http_method.eq_ignore_ascii_case(method) {
            return Err(UploadError::WrongMethod);
        }
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(UploadError::TooLarge);
        }
        let got = bytes.len() as u64;
        if let Some(expected) = target.file_size.filter(|&n| n != got) {
            return Err(UploadError::SizeMismatch { expected, got });
        }
        let mut t = (**target).clone();
        t.bytes = Some(Arc::new(bytes));
        self.targets[pos] = Arc::new(t);
        self.trim_bytes(pos);
        Ok(())
    }

    /// Drop the bytes of the oldest files (never `keep`'s) while the total
    /// is above [`MAX_TOTAL_BYTES`].
    fn trim_bytes(&mut self, keep: usize) {
        let size = |t: &Target| t.bytes.as_ref().map_or(0, |b| b.len());
        let mut total: usize = self.targets.iter().map(|t| size(t)).sum();
        for i in 0..self.targets.len() {
            if total <= MAX_TOTAL_BYTES {
                break;
            }
            if i == keep || self.targets[i].bytes.is_none() {
                continue;
            }
            total -= size(&self.targets[i]);
            let mut t = (*self.targets[i]).clone();
            t.bytes = None;
            self.targets[i] = Arc::new(t);
        }
    }
}

/// The `policy` parameter of a POST target: a digest the form must carry
/// back (the real targets carry a signed policy).
pub fn policy(t: &Target) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}\n{}\n{:?}", t.token, t.key, t.file_size));
    hex::encode(digest)
}

/// Where the file goes: `{base}/__sandbox/staged/{token}`.
pub fn upload_url(base: &str, t: &Target) -> String {
    format!("{base}{PATH}{}", t.token)
}

/// What `originalSource` takes: `{base}/__sandbox/staged/{token}/{filename}`.
pub fn resource_url(base: &str, t: &Target) -> String {
    format!("{base}{PATH}{}/{}", t.token, encode_segment(&t.filename))
}

/// The token of a staged URL (`…/__sandbox/staged/{token}/{filename}`), if
/// `source` is one; any host (a restarted sandbox may listen elsewhere).
pub fn token_of(source: &str) -> Option<&str> {
    let (_, rest) = source.split_once(PATH)?;
    let token = rest.split(['/', '?', '#']).next()?;
    (!token.is_empty()).then_some(token)
}

/// Image formats the store processes, by their first bytes.
pub fn image_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Percent-encode a file name for a URL path segment.
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(token: &str, method: &str, size: Option<u64>) -> Target {
        Target {
            token: token.into(),
            resource: "IMAGE".into(),
            filename: "a.png".into(),
            mime_type: "image/png".into(),
            http_method: method.into(),
            file_size: size,
            key: format!("tmp/1/products/{token}/a.png"),
            created_at: String::new(),
            bytes: None,
        }
    }

    #[test]
    fn uploads_are_checked_and_bounded() {
        let mut s = Staged::default();
        s.add(target("t1", "POST", Some(3)));
        assert_eq!(
            s.upload("nope", "POST", vec![1]),
            Err(UploadError::NotFound)
        );
        assert_eq!(
            s.upload("t1", "PUT", vec![1]),
            Err(UploadError::WrongMethod)
        );
        assert_eq!(
            s.upload("t1", "POST", vec![1]),
            Err(UploadError::SizeMismatch {
                expected: 3,
                got: 1
            })
        );
        s.upload("t1", "post", vec![1, 2, 3]).unwrap();
        assert_eq!(s.get("t1").unwrap().bytes.as_deref(), Some(&vec![1, 2, 3]));
        for i in 0..MAX_TARGETS + 5 {
            s.add(target(&format!("n{i}"), "PUT", None));
        }
        assert_eq!(s.len(), MAX_TARGETS);
        assert!(s.get("t1").is_none());
    }

    #[test]
    fn total_bytes_are_bounded() {
        let mut s = Staged::default();
        for i in 0..6 {
            s.add(target(&format!("b{i}"), "PUT", None));
            s.upload(&format!("b{i}"), "PUT", vec![0; MAX_UPLOAD_BYTES])
                .unwrap();
        }
        assert!(s.get("b0").unwrap().bytes.is_none());
        assert!(s.get("b1").unwrap().bytes.is_none());
        assert!(s.get("b2").unwrap().bytes.is_some());
        assert!(s.get("b5").unwrap().bytes.is_some());
    }

    #[test]
    fn tokens_and_formats() {
        assert_eq!(
            token_of("http://127.0.0.1:9/__sandbox/staged/abc/x.png"),
            Some("abc")
        );
        assert_eq!(token_of("https://cdn.example.com/x.png"), None);
        assert_eq!(image_format(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_format(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_format(b"hello"), None);
        assert_eq!(encode_segment("a b/c.png"), "a%20b%2Fc.png");
    }
}
