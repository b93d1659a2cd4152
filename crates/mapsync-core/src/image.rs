//! Embedded images (base64 data in the source): their content key, their
//! bytes, and which image formats they may hold.
//!
//! The content key names an embedded image everywhere: the diff compares
//! it (`embedded:<key>`), a target names the file it uploads after it
//! ([`upload_name`], `mapsync-<key>.<ext>`) so that the file is recognised
//! in the target's current state ([`key_in_url`]) without any other
//! record, and the state store remembers uploads by it. It is the hex
//! digest of [`crate::hash::content_hash`] of the data as given (a JSON
//! string): the same text always has the same key.
//!
//! Data is checked as early as a record compiles: text that is not base64,
//! or bytes that are not a PNG, JPEG, GIF or WEBP image (by their first
//! bytes), make the record invalid. No I/O here.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};

/// What an upload's file name starts with.
pub const UPLOAD_PREFIX: &str = "mapsync-";

/// Hex digits of a content key.
const KEY_LEN: usize = 64;

/// The content key of embedded data `src`: 64 lowercase hex digits.
pub fn content_key(src: &str) -> String {
    let hash = crate::hash::content_hash(&serde_json::Value::String(src.to_owned()));
    hash.strip_prefix(crate::hash::PREFIX)
        .unwrap_or(&hash)
        .to_owned()
}

/// How an embedded image with content `key` is compared, on both sides of
/// the diff: `embedded:<key>` (a connector lists an uploaded embedded
/// image in `Current::images` this way).
pub fn diff_value(key: &str) -> String {
    format!("embedded:{key}")
}

/// An image format the targets take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF (87a or 89a).
    Gif,
    /// WEBP (RIFF container).
    Webp,
}

impl ImageFormat {
    /// The format of `bytes`, by their first bytes (the file signature).
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageFormat::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    /// The file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Gif => "gif",
            ImageFormat::Webp => "webp",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// Why embedded data is not an image a target takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataError {
    /// Not base64 (the decoder's reason).
    Base64(String),
    /// Decodes to nothing.
    Empty,
    /// Decodes to bytes that are no PNG, JPEG, GIF or WEBP image; the first
    /// bytes, in hex.
    NotAnImage(String),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Base64(e) => write!(f, "is not valid base64 ({e})"),
            DataError::Empty => f.write_str("is empty once decoded"),
            DataError::NotAnImage(start) => write!(
                f,
                "is not a PNG, JPEG, GIF or WEBP image (its bytes start with {start})"
            ),
        }
    }
}

impl std::error::Error for DataError {}

/// Standard alphabet; padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The bytes of embedded data: base64 (standard alphabet, padding
/// optional), line breaks and spaces ignored, an optional `data:…;base64,`
/// prefix (a data URL) skipped.
pub fn decode(src: &str) -> Result<Vec<u8>, DataError> {
    let mut text = src.trim();
    if let Some(rest) = text.strip_prefix("data:") {
        if let Some((_, data)) = rest.split_once(";base64,") {
            text = data;
        }
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = BASE64
        .decode(compact.as_bytes())
        .map_err(|e| DataError::Base64(e.to_string()))?;
    if bytes.is_empty() {
        return Err(DataError::Empty);
    }
    Ok(bytes)
}

/// The bytes of embedded data and their format, or why they are not an
/// image a target takes.
pub fn image(src: &str) -> Result<(ImageFormat, Vec<u8>), DataError> {
    let bytes = decode(src)?;
    match ImageFormat::sniff(&bytes) {
        Some(f) => Ok((f, bytes)),
        None => {
            let start: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Err(DataError::NotAnImage(start.join(" ")))
        }
    }
}

/// The file name an embedded image is uploaded as: `mapsync-<key>.<ext>`.
pub fn upload_name(key: &str, format: ImageFormat) -> String {
    format!("{UPLOAD_PREFIX}{key}.{}", format.extension())
}

/// The content key in a URL whose last path segment is an upload's file
/// name ([`upload_name`]). A suffix after the key (`mapsync-<key>_1.png`,
/// as stores add to keep names unique) is allowed; the query and fragment
/// are ignored.
pub fn key_in_url(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    let rest = name.strip_prefix(UPLOAD_PREFIX)?;
    let key = rest.get(..KEY_LEN)?;
    let after = &rest[KEY_LEN..];
    let is_key = key
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (is_key && (after.starts_with('.') || after.starts_with('_'))).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    #[test]
    fn keys_are_hex_digests_of_the_text() {
        let k = content_key(PNG);
        assert_eq!(k.len(), 64);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            format!("sha256:{k}"),
            crate::hash::content_hash(&serde_json::Value::String(PNG.into()))
        );
        assert_ne!(k, content_key("R0lGODlh"));
    }

    #[test]
    fn data_is_decoded_leniently_and_sniffed() {
        let (f, bytes) = image(PNG).unwrap();
        assert_eq!(f, ImageFormat::Png);
        assert_eq!(bytes.len(), 70);
        // Line breaks, no padding, a data URL.
        let wrapped = format!("{}\n{}", &PNG[..40], PNG[40..].trim_end_matches('='));
        assert_eq!(image(&wrapped).unwrap().1, bytes);
        assert_eq!(
            image(&format!("data:image/png;base64,{PNG}")).unwrap().1,
            bytes
        );
        assert!(matches!(image("not base64!"), Err(DataError::Base64(_))));
        assert_eq!(image(""), Err(DataError::Empty));
        let e = image("aGVsbG8gd29ybGQ=").unwrap_err();
        assert_eq!(
            e.to_string(),
            "is not a PNG, JPEG, GIF or WEBP image (its bytes start with 68 65 6c 6c 6f 20 77 6f)"
        );
        assert_eq!(ImageFormat::sniff(b"GIF89a.."), Some(ImageFormat::Gif));
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
    }

    #[test]
    fn upload_names_carry_the_key() {
        let k = content_key(PNG);
        let name = upload_name(&k, ImageFormat::Png);
        assert_eq!(name, format!("mapsync-{k}.png"));
        assert_eq!(
            key_in_url(&format!("https://x/tmp/1/{name}")),
            Some(k.as_str())
        );
        assert_eq!(
            key_in_url(&format!("https://cdn/files/mapsync-{k}_0b1c.png?v=3")),
            Some(k.as_str())
        );
        assert_eq!(key_in_url("https://cdn/files/mapsync-abc.png"), None);
        assert_eq!(key_in_url(&format!("https://x/mapsync-{k}")), None);
        assert_eq!(key_in_url(&format!("https://x/{k}.png")), None);
        let upper = k.to_ascii_uppercase();
        assert_eq!(key_in_url(&format!("https://x/mapsync-{upper}.png")), None);
    }
}
