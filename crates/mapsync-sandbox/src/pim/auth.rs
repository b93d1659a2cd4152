//! Bearer tokens of the emulated PIM: the static token of the
//! configuration, and tokens issued by `POST /oauth/token` (OAuth 2.0
//! client credentials, RFC 6749 §4.4) that expire after the configured
//! lifetime. Issued tokens live in memory only: a restarted PIM knows none
//! (the client gets `invalid_token` and asks for a new one).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::RngCore;

/// The most issued tokens held at once (the oldest go first).
pub const MAX_TOKENS: usize = 10_000;

/// What a bearer token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Valid,
    /// No `Authorization: Bearer` header.
    Missing,
    /// Unknown, or issued and expired.
    Invalid,
    Expired,
}

/// Issued tokens and their expiry.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: HashMap<String, Instant>,
    /// Tokens issued since the start.
    pub count: u64,
}

impl Tokens {
    /// A new token valid for `ttl`.
    pub fn issue(&mut self, ttl: Duration) -> String {
        let now = Instant::now();
        self.issued.retain(|_, exp| *exp > now);
        if self.issued.len() >= MAX_TOKENS {
            if let Some(oldest) = self
                .issued
                .iter()
                .min_by_key(|(_, exp)| **exp)
                .map(|(t, _)| t.clone())
            {
                self.issued.remove(&oldest);
            }
        }
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("pim_{}", hex::encode(bytes));
        self.issued.insert(token.clone(), now + ttl);
        self.count += 1;
        token
    }

    /// Check the bearer token of a request (`header` is the whole
    /// `Authorization` value) against the issued ones and `fixed`.
    pub fn check(&self, header: Option<&str>, fixed: Option<&str>) -> Check {
        let Some(token) = header.and_then(bearer) else {
            return Check::Missing;
        };
        if fixed.is_some_and(|f| f == token) {
            return Check::Valid;
        }
        match self.issued.get(token) {
            Some(exp) if *exp > Instant::now() => Check::Valid,
            Some(_) => Check::Expired,
            None => Check::Invalid,
        }
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client id and secret of `Basic base64(id:secret)` (RFC 6749
/// §2.3.1: each part form-urlencoded).
pub fn basic(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, b64) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space).
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The pairs of a form-urlencoded body or query string.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (form_decode(k), form_decode(v)),
            None => (form_decode(p), String::new()),
        })
        .collect()
}

/// Encode a query component (RFC 3986 unreserved characters kept).
pub fn query_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
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

    #[test]
    fn tokens_expire() {
        let mut t = Tokens::default();
        let a = t.issue(Duration::from_millis(30));
        assert_eq!(t.check(Some(&format!("Bearer {a}")), None), Check::Valid);
        assert_eq!(t.check(Some(&format!("bearer  {a} ")), None), Check::Valid);
        assert_eq!(t.check(Some("Bearer fixed"), Some("fixed")), Check::Valid);
        assert_eq!(t.check(Some("Bearer other"), Some("fixed")), Check::Invalid);
        assert_eq!(t.check(None, Some("fixed")), Check::Missing);
        assert_eq!(t.check(Some("Basic abc"), None), Check::Missing);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(t.check(Some(&format!("Bearer {a}")), None), Check::Expired);
    }

    #[test]
    fn forms_and_basic_decode() {
        assert_eq!(form_decode("a+b%2Bc%3D%zz%"), "a b+c=%zz%");
        assert_eq!(
            form_pairs("grant_type=client_credentials&client_id=m%40s&x"),
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("client_id".into(), "m@s".into()),
                ("x".into(), String::new())
            ]
        );
        // "mapsync:secret"
        assert_eq!(
            basic("Basic bWFwc3luYzpzZWNyZXQ="),
            Some(("mapsync".into(), "secret".into()))
        );
        assert_eq!(
            query_encode("2026-01-01T00:00:00+02:00"),
            "2026-01-01T00%3A00%3A00%2B02%3A00"
        );
    }
}
