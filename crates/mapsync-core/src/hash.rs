//! Content hashes of desired documents, stable across runs, machines and
//! object key order. The canonical form is JSON with object keys sorted (by
//! their UTF-8 bytes), no whitespace, strings escaped and numbers written
//! as serde_json writes them; it is built in one buffer and hashed in one
//! pass. This module only hashes: it does not decide what goes into a
//! document.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The algorithm tag every hash starts with.
pub const PREFIX: &str = "sha256:";

/// The content hash of `value`: `sha256:` and 64 lowercase hex digits.
///
/// Equal for documents that differ only in object key order; `1` and `1.0`
/// are different numbers (as serde_json writes them differently).
pub fn content_hash(value: &Value) -> String {
    let mut out = Canonical::new();
    out.value(value);
    out.finish()
}

/// The canonical text that [`content_hash`] hashes.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Canonical::new();
    out.value(value);
    String::from_utf8_lossy(&out.buf).into_owned()
}

/// A canonical-form writer, for types that write their own canonical form
/// without first becoming a [`Value`] (see `Document::write_canonical`).
/// The caller is responsible for writing object keys in sorted order;
/// [`Canonical::value`] sorts the keys of the values it is given. The
/// result is the same as [`content_hash`] of the equivalent `Value`.
///
/// The text is built in one buffer and hashed in one pass: appending small
/// pieces to a `Vec` is cheaper than feeding them to a hasher, and the
/// text is valid JSON of the value, so the plan's document spool stores it
/// as it is ([`Canonical::finish_with_text`]) instead of serialising the
/// document a second time.
pub struct Canonical {
    buf: Vec<u8>,
}

impl Default for Canonical {
    fn default() -> Self {
        Canonical::new()
    }
}

impl Canonical {
    /// An empty writer.
    pub fn new() -> Canonical {
        Canonical {
            buf: Vec::with_capacity(4096),
        }
    }

    /// Raw bytes (punctuation such as `{`, `,`, `:`).
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One raw byte (`,`, `{`...).
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// A JSON string, escaped as serde_json escapes it.
    #[inline]
    pub fn str(&mut self, s: &str) {
        write_str(s, &mut self.buf);
    }

    /// An object key and its colon.
    #[inline]
    pub fn key(&mut self, key: &str) {
        write_str(key, &mut self.buf);
        self.buf.push(b':');
    }

    /// An integer.
    pub fn int(&mut self, n: i64) {
        use std::io::Write;
        // Writing to a Vec cannot fail.
        let _ = write!(self.buf, "{n}");
    }

    /// A JSON value in canonical form.
    pub fn value(&mut self, v: &Value) {
        write_canonical(v, &mut self.buf);
    }

    /// A list of strings.
    pub fn strings(&mut self, items: &[String]) {
        self.byte(b'[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.byte(b',');
            }
            self.str(s);
        }
        self.byte(b']');
    }

    /// `sha256:` and 64 lowercase hex digits.
    pub fn finish(self) -> String {
        hash_text(&self.buf)
    }

    /// The hash and the canonical text it is the hash of.
    pub fn finish_with_text(self) -> (String, Vec<u8>) {
        (hash_text(&self.buf), self.buf)
    }
}

/// `sha256:` and the hex digest of `text`.
fn hash_text(text: &[u8]) -> String {
    let digest = Sha256::digest(text);
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    out.push_str(&hex::encode(digest));
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

#[inline]
fn write_str(s: &str, out: &mut Vec<u8>) {
    // Most strings need no escaping: write them as they are.
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // serde_json's escaping; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether a JSON string needs escapes: a control character, `"` or `\`.
/// Eight bytes at a time (the classic "has a byte less than n" and "has a
/// zero byte" word tricks: exact as a yes/no answer).
#[inline]
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(c) else {
            return true;
        };
        let x = u64::from_le_bytes(bytes);
        // A byte below 0x20 (all bytes' high bits are checked separately,
        // so bytes >= 0x80 do not count).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if control
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let v = json!({"b": [1, 2.5, "x\n"], "a": {"d": null, "c": true}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":true,"d":null},"b":[1,2.5,"x\n"]}"#
        );
    }

    #[test]
    fn hash_is_sha256_of_the_canonical_form() {
        let v = json!({"title": "Shirt", "tags": ["a", "b"]});
        let expected = hex::encode(Sha256::digest(canonical_json(&v).as_bytes()));
        assert_eq!(content_hash(&v), format!("sha256:{expected}"));
    }

    /// Strings are written exactly as serde_json writes them, whichever
    /// byte of an 8-byte word the special character sits in.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let specials = [
            '"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é', '😀', ' ', 'a',
        ];
        for len in 0..20 {
            for at in 0..len.max(1) {
                for c in specials {
                    let mut s: String = "abcdefghijklmnopqrstu".chars().take(len).collect();
                    if len > 0 {
                        s.replace_range(
                            s.char_indices().nth(at).map(|(i, _)| i).unwrap_or(0)..,
                            "",
                        );
                        s.push(c);
                        s.push_str("xyz");
                    }
                    let mut out = Vec::new();
                    write_str(&s, &mut out);
                    let expected = serde_json::to_string(&s).unwrap();
                    assert_eq!(String::from_utf8(out).unwrap(), expected, "{s:?}");
                    let naive = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
                    assert_eq!(needs_escape(s.as_bytes()), naive, "{s:?}");
                }
            }
        }
    }
}
