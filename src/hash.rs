//! Content hashes of desired documents, stable across runs, machines and
//! object key order. The canonical form is JSON with object keys sorted (by
//! their UTF-8 bytes), no whitespace, strings escaped and numbers written
//! as serde_json writes them; it is streamed into SHA-256 without building
//! the whole text. This module only hashes: it does not decide what goes
//! into a document.

use std::io;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The algorithm tag every hash starts with.
pub const PREFIX: &str = "sha256:";

/// The content hash of `value`: `sha256:` and 64 lowercase hex digits.
///
/// Equal for documents that differ only in object key order; `1` and `1.0`
/// are different numbers (as serde_json writes them differently).
pub fn content_hash(value: &Value) -> String {
    let mut sink = HashSink::new();
    write_canonical(value, &mut sink);
    let digest = sink.finalize();
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    out.push_str(&hex::encode(digest));
    out
}

/// The canonical text that [`content_hash`] hashes (for tests and
/// debugging; hashing never builds it).
pub fn canonical_json(value: &Value) -> String {
    let mut sink = StringSink(Vec::new());
    write_canonical(value, &mut sink);
    String::from_utf8_lossy(&sink.0).into_owned()
}

/// A canonical-form writer feeding SHA-256, for types that write their own
/// canonical form without first becoming a [`Value`] (see
/// `Document::write_canonical`). The caller is responsible for writing
/// object keys in sorted order; [`Canonical::value`] sorts the keys of the
/// values it is given. The result is the same as [`content_hash`] of the
/// equivalent `Value`.
pub struct Canonical {
    sink: HashSink,
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
            sink: HashSink::new(),
        }
    }

    /// Raw bytes (punctuation such as `{`, `,`, `:`).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.sink.put(bytes);
    }

    /// A JSON string, escaped as serde_json escapes it.
    pub fn str(&mut self, s: &str) {
        write_str(s, &mut self.sink);
    }

    /// An object key and its colon.
    pub fn key(&mut self, key: &str) {
        write_str(key, &mut self.sink);
        self.sink.put(b":");
    }

    /// An integer.
    pub fn int(&mut self, n: i64) {
        self.sink.put(itoa_buf(n).as_bytes());
    }

    /// A JSON value in canonical form.
    pub fn value(&mut self, v: &Value) {
        write_canonical(v, &mut self.sink);
    }

    /// A list of strings.
    pub fn strings(&mut self, items: &[String]) {
        self.raw(b"[");
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.raw(b",");
            }
            self.str(s);
        }
        self.raw(b"]");
    }

    /// `sha256:` and 64 lowercase hex digits.
    pub fn finish(self) -> String {
        let digest = self.sink.finalize();
        let mut out = String::with_capacity(PREFIX.len() + 64);
        out.push_str(PREFIX);
        out.push_str(&hex::encode(digest));
        out
    }
}

/// The decimal text of an integer (as serde_json writes it).
fn itoa_buf(n: i64) -> String {
    n.to_string()
}

/// Where canonical bytes go. Writing into a hasher or a Vec cannot fail.
trait Sink: io::Write {
    fn put(&mut self, bytes: &[u8]);
}

/// SHA-256 fed through a small buffer: canonical text comes in many tiny
/// pieces, and one hasher update per piece costs more than the copy.
struct HashSink {
    hasher: Sha256,
    buf: [u8; HASH_BUF],
    len: usize,
}

const HASH_BUF: usize = 4096;

impl HashSink {
    fn new() -> HashSink {
        HashSink {
            hasher: Sha256::new(),
            buf: [0; HASH_BUF],
            len: 0,
        }
    }

    fn finalize(mut self) -> sha2::digest::Output<Sha256> {
        self.hasher.update(&self.buf[..self.len]);
        self.hasher.finalize()
    }
}

impl io::Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > HASH_BUF {
            self.hasher.update(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > HASH_BUF {
                self.hasher.update(bytes);
                return;
            }
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }
}

struct StringSink(Vec<u8>);

impl io::Write for StringSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for StringSink {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn write_canonical<S: Sink>(value: &Value, out: &mut S) {
    match value {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Number(n) => {
            if serde_json::to_writer(&mut *out, n).is_err() {
                out.put(b"null");
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_canonical(item, out);
            }
            out.put(b"]");
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.put(b"{");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_str(key, out);
                out.put(b":");
                write_canonical(item, out);
            }
            out.put(b"}");
        }
    }
}

fn write_str<S: Sink>(s: &str, out: &mut S) {
    // Most strings need no escaping: write them as they are.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.put(b"\"");
        out.put(s.as_bytes());
        out.put(b"\"");
        return;
    }
    // serde_json's escaping; writing to an infallible sink cannot fail.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.put(b"\"\"");
    }
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
}
