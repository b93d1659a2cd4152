//! `${NAME}` references in project files. [`references`] finds them (for
//! `validate`, which never needs the variables set); [`interpolate`]
//! replaces them when a profile is used. `$${` writes a literal `${`.

use std::ops::Range;

/// A problem with a `${...}` reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// `${` without a closing `}`.
    #[error("`${{` is not closed with `}}`")]
    Unclosed(Range<usize>),
    /// A name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error("`{0}` is not a valid environment variable name (letters, digits and `_`, not starting with a digit)")]
    BadName(String, Range<usize>),
    /// The variable is not set (only when interpolating).
    #[error("environment variable `{0}` is not set")]
    Unset(String, Range<usize>),
}

impl EnvError {
    /// Byte range of the offending reference in the string.
    pub fn range(&self) -> Range<usize> {
        match self {
            EnvError::Unclosed(r) | EnvError::BadName(_, r) | EnvError::Unset(_, r) => r.clone(),
        }
    }
}

/// A `${NAME}` reference: the name and the byte range of `${NAME}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The variable name.
    pub name: String,
    /// Where `${NAME}` is in the string.
    pub range: Range<usize>,
}

/// Find every reference in `s`, or the first malformed one.
pub fn references(s: &str) -> Result<Vec<Reference>, EnvError> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            i += 3;
            continue;
        }
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            let Some(close) = s[i + 2..].find('}') else {
                return Err(EnvError::Unclosed(i..s.len()));
            };
            let name = &s[i + 2..i + 2 + close];
            let range = i..i + 3 + close;
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(EnvError::BadName(name.to_string(), range));
            }
            out.push(Reference {
                name: name.to_string(),
                range: range.clone(),
            });
            i = range.end;
            continue;
        }
        i += 1;
    }
    Ok(out)
}

/// Replace every reference using `lookup`; `$${` becomes `${`.
pub fn interpolate(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let refs = references(s)?;
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for r in refs {
        out.push_str(&s[last..r.range.start].replace("$${", "${"));
        let value =
            lookup(&r.name).ok_or_else(|| EnvError::Unset(r.name.clone(), r.range.clone()))?;
        out.push_str(&value);
        last = r.range.end;
    }
    out.push_str(&s[last..].replace("$${", "${"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_replaces() {
        let s = "Bearer ${TOKEN} and $${LITERAL}";
        let refs = references(s).unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(&s[refs[0].range.clone()], "${TOKEN}");
        let out = interpolate(s, |n| (n == "TOKEN").then(|| "x".to_string())).unwrap();
        assert_eq!(out, "Bearer x and ${LITERAL}");
    }

    #[test]
    fn reports_bad_references() {
        assert!(matches!(references("${A"), Err(EnvError::Unclosed(_))));
        assert!(matches!(references("${1A}"), Err(EnvError::BadName(..))));
        assert!(matches!(
            interpolate("${NOPE}", |_| None),
            Err(EnvError::Unset(..))
        ));
    }
}
