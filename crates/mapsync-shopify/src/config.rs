//! How to reach a shop: location (`shop:` or `url:`), access token, API
//! version, plan (rate-limit defaults) and client tuning (timeout, retries,
//! concurrency). It owns turning that into the GraphQL endpoint URL and
//! keeping the token out of `Debug` output. It must not read the environment
//! or project files: `config` resolves `${VAR}`s and hands us values.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::error::ShopifyError;
use super::version::ApiVersion;

/// Where the shop is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopLocation {
    /// `NAME.myshopify.com`, reached over HTTPS.
    Shop(String),
    /// Any base URL, e.g. `http://127.0.0.1:8099` for a sandbox.
    Url(Url),
}

impl ShopLocation {
    /// Parses the `shop:` value: `NAME.myshopify.com` (a bare `NAME` is
    /// completed). Letters, digits and `-`, lower-cased.
    pub fn shop(name: &str) -> Result<Self, ShopifyError> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("https://").unwrap_or(&name);
        let name = name.trim_end_matches('/');
        let host = if name.ends_with(".myshopify.com") {
            name.to_owned()
        } else {
            format!("{name}.myshopify.com")
        };
        let label = host.trim_end_matches(".myshopify.com");
        let ok = !label.is_empty()
            && !label.starts_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self::Shop(host))
        } else {
            Err(ShopifyError::Config(format!(
                "`shop: {name}` is not a NAME.myshopify.com domain"
            )))
        }
    }

    /// Parses the `url:` value (http or https).
    pub fn url(text: &str) -> Result<Self, ShopifyError> {
        let url = Url::parse(text)
            .map_err(|e| ShopifyError::Config(format!("`url: {text}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ShopifyError::Config(format!(
                "`url: {text}` must be an http(s) URL with a host"
            )));
        }
        Ok(Self::Url(url))
    }

    /// The GraphQL endpoint `{base}/admin/api/{version}/graphql.json`.
    pub fn endpoint(&self, version: &ApiVersion) -> Result<Url, ShopifyError> {
        let mut base = match self {
            Self::Shop(host) => Url::parse(&format!("https://{host}/"))
                .map_err(|e| ShopifyError::Config(format!("shop {host}: {e}")))?,
            Self::Url(url) => url.clone(),
        };
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.join(&version.graphql_path())
            .map_err(|e| ShopifyError::Config(format!("endpoint: {e}")))
    }
}

/// The Admin API access token. `Debug` never shows it and there is no
/// `Display`; only the client reads it, to set the header.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// The shop's plan: decides the rate-limit bucket assumed before the first
/// answer tells the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShopPlan {
    #[default]
    Standard,
    Advanced,
    Plus,
    Enterprise,
    Unlimited,
}

impl ShopPlan {
    pub fn parse(text: &str) -> Result<Self, ShopifyError> {
        Ok(match text {
            "standard" => Self::Standard,
            "advanced" => Self::Advanced,
            "plus" => Self::Plus,
            "enterprise" => Self::Enterprise,
            "unlimited" => Self::Unlimited,
            other => {
                return Err(ShopifyError::Config(format!(
                    "unknown plan `{other}` (standard, advanced, plus, enterprise, unlimited)"
                )))
            }
        })
    }

    /// Bucket size and restore rate (points per second), as Shopify documents
    /// them and the sandbox emulates; `None` for no limit.
    pub fn bucket(self) -> Option<BucketLimits> {
        let (maximum, restore_rate) = match self {
            Self::Standard => (2000.0, 100.0),
            Self::Advanced => (4000.0, 200.0),
            Self::Plus => (20000.0, 1000.0),
            Self::Enterprise => (40000.0, 2000.0),
            Self::Unlimited => return None,
        };
        Some(BucketLimits {
            maximum,
            restore_rate,
        })
    }
}

/// A leaky bucket's size and restore rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimits {
    pub maximum: f64,
    /// Points per second.
    pub restore_rate: f64,
}

/// Everything [`super::ShopifyClient`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub location: ShopLocation,
    pub token: AccessToken,
    pub api_version: ApiVersion,
    /// The bucket assumed until the first answer reports the real one.
    pub bucket: Option<BucketLimits>,
    /// Per-request timeout (connect + answer).
    pub timeout: Duration,
    /// Retries after the first attempt (THROTTLED, 429, 5xx, timeouts, resets).
    pub max_retries: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// First backoff delay; doubles each retry, with jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl ClientConfig {
    /// Defaults: API 2025-01, standard plan, 30 s timeout, 5 retries,
    /// 20 requests in flight (the seed's connector), backoff 500 ms → 30 s.
    pub fn new(location: ShopLocation, token: AccessToken) -> Self {
        Self {
            location,
            token,
            api_version: ApiVersion::default(),
            bucket: ShopPlan::Standard.bucket(),
            timeout: Duration::from_secs(30),
            max_retries: 5,
            concurrency: 20,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }

    pub fn with_plan(mut self, plan: ShopPlan) -> Self {
        self.bucket = plan.bucket();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let v = ApiVersion::default();
        let shop = ShopLocation::shop("Acme-EU.myshopify.com").unwrap();
        assert_eq!(
            shop.endpoint(&v).unwrap().as_str(),
            "https://acme-eu.myshopify.com/admin/api/2026-04/graphql.json"
        );
        assert_eq!(
            ShopLocation::shop("acme").unwrap(),
            ShopLocation::Shop("acme.myshopify.com".into())
        );
        assert!(ShopLocation::shop("evil.com/x").is_err());
        assert!(ShopLocation::shop("").is_err());
        let url = ShopLocation::url("http://127.0.0.1:8099").unwrap();
        assert_eq!(
            url.endpoint(&v).unwrap().as_str(),
            "http://127.0.0.1:8099/admin/api/2026-04/graphql.json"
        );
        let prefixed = ShopLocation::url("http://127.0.0.1:8099/proxy").unwrap();
        assert_eq!(
            prefixed.endpoint(&v).unwrap().as_str(),
            "http://127.0.0.1:8099/proxy/admin/api/2026-04/graphql.json"
        );
        assert!(ShopLocation::url("ftp://x").is_err());
    }

    #[test]
    fn token_is_not_in_debug() {
        let config = ClientConfig::new(
            ShopLocation::shop("a").unwrap(),
            AccessToken::new("shpat_secret"),
        );
        assert!(!format!("{config:?}").contains("shpat_secret"));
    }
}
