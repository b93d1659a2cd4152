//! Keeping secrets out of messages, logs and record positions.
//!
//! The connector knows its secrets (the resolved `auth` values). Every URL
//! it shows goes through [`Redactor::url`]: no user info, query values
//! masked when their name looks like a credential (`token`, `api_key`,
//! `signature`...) or when they hold a known secret; every other text it
//! shows (a server's error body, a transport error) goes through
//! [`Redactor::text`], which masks the known secrets wherever they appear.

use std::fmt;

use url::Url;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Masks the connector's secrets in what it shows.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// Query parameter names whose values are masked in URLs shown to users.
const SECRET_NAMES: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "signature",
    "sig",
    "credential",
    "session",
    "code",
];

/// Whether a query parameter's name looks like it carries a credential.
pub fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

impl Redactor {
    /// A redactor for these secret values (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret masked (also in their URL-encoded
    /// forms).
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
            let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            if encoded != *s && out.contains(encoded.as_str()) {
                out = out.replace(encoded.as_str(), MASK);
            }
        }
        out
    }

    /// A URL as it may be shown: no user name or password, query values
    /// masked when their name looks secret or when they hold a secret.
    pub fn url(&self, url: &Url) -> String {
        let mut u = url.clone();
        if !u.username().is_empty() || u.password().is_some() {
            let _ = u.set_username("");
            let _ = u.set_password(None);
        }
        if u.query().is_some() {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let masked = pairs.iter().any(|(k, v)| {
                secret_name(k) || self.secrets.iter().any(|s| v.contains(s.as_str()))
            });
            if masked {
                let mut q = u.query_pairs_mut();
                q.clear();
                for (k, v) in &pairs {
                    let hide =
                        secret_name(k) || self.secrets.iter().any(|s| v.contains(s.as_str()));
                    q.append_pair(k, if hide { MASK } else { v });
                }
            }
        }
        u.set_fragment(None);
        self.text(u.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_names_values_and_userinfo() {
        let r = Redactor::new(["s3cr3t-canary".to_string()]);
        let u = Url::parse(
            "https://user:pw@pim.example.com/p?page=2&api_key=abc&x=s3cr3t-canary&access_token=t",
        )
        .unwrap();
        let shown = r.url(&u);
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("page=2"), "{shown}");
        assert!(shown.contains("api_key=***") || shown.contains("api_key=%2A%2A%2A"));
        assert_eq!(r.text("a s3cr3t-canary b"), "a *** b");
        assert_eq!(format!("{r:?}"), "Redactor(1 secrets)");
    }
}
