//! Value rules every stage shares: what counts as empty, decimals in
//! canonical form (compared as numbers, hashed in one spelling), and
//! instants given as text.

use serde_json::Value;

/// Null, `""` and `[]` are empty.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// An instant given by a person or a source: RFC 3339
/// (`2027-01-31T12:00:00Z`) or a date (`2027-01-31`, its midnight UTC).
pub fn parse_instant(text: &str) -> Option<time::OffsetDateTime> {
    let t = text.trim();
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(t, &format)
                .ok()
                .map(|d| d.midnight().assume_utc())
        })
}

/// A decimal in its minimal canonical form: `50.00` → `50`, `012.50` →
/// `12.5`, `-0.0` → `0`, `1e3` → `1000`. `None` if it is not a finite
/// decimal number.
pub fn normalize_decimal(s: &str) -> Option<String> {
    let t = s.trim();
    if t.contains(['e', 'E']) {
        let x: f64 = t.parse().ok()?;
        if !x.is_finite() {
            return None;
        }
        let plain = format!("{x}");
        if plain.contains(['e', 'E']) {
            return None;
        }
        return normalize_decimal(&plain);
    }
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::with_capacity(int.len() + frac.len() + 2);
    if neg && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}
