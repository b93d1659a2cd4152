//! Everything that differs between Shopify Admin API versions, in one place:
//! the default version, the endpoint path and per-version document tweaks.
//! It must not hold transport or business logic; other modules ask it.

use std::fmt;

/// The API version mapsync is written and tested against (the schema in
/// `tests/data/shopify/admin_schema_2025-01.json.gz`).
pub const DEFAULT_API_VERSION: &str = "2025-01";

/// A Shopify Admin API version, `YYYY-MM` or `unstable`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiVersion(String);

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Shopify API version `{0}`: expected YYYY-MM (e.g. {DEFAULT_API_VERSION}) or `unstable`")]
pub struct InvalidApiVersion(pub String);

impl ApiVersion {
    /// Parses `YYYY-MM` (months 01, 04, 07, 10 are Shopify's release months,
    /// but any month is accepted so a future cadence change does not break us)
    /// or `unstable`.
    pub fn parse(text: &str) -> Result<Self, InvalidApiVersion> {
        let ok = text == "unstable"
            || (text.len() == 7
                && text.as_bytes()[4] == b'-'
                && text[..4].bytes().all(|b| b.is_ascii_digit())
                && text[5..].bytes().all(|b| b.is_ascii_digit())
                && matches!(text[5..].parse::<u8>(), Ok(1..=12)));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidApiVersion(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Path of the GraphQL endpoint below the shop's base URL.
    pub fn graphql_path(&self) -> String {
        format!("admin/api/{}/graphql.json", self.0)
    }

    /// Whether `productSet` accepts an `identifier` argument (upsert by handle
    /// or unique metafield, added in 2025-04). With it a lost create answer
    /// cannot produce a duplicate; without it the executor adopts by marker.
    pub fn product_set_has_identifier(&self) -> bool {
        self.0 == "unstable" || self.0.as_str() >= "2025-04"
    }

    /// Whether `currentBulkOperation` is the way to poll a bulk query (it is
    /// deprecated in favour of `bulkOperations` in later versions but still
    /// answers).
    pub fn polls_current_bulk_operation(&self) -> bool {
        true
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self(DEFAULT_API_VERSION.to_owned())
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(ApiVersion::default().as_str(), "2025-01");
        assert!(ApiVersion::parse("2025-04").is_ok());
        assert!(ApiVersion::parse("unstable").is_ok());
        for bad in ["2025-1", "2025-13", "25-01", "latest", "2025_01", ""] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ApiVersion::default().graphql_path(),
            "admin/api/2025-01/graphql.json"
        );
        assert!(!ApiVersion::default().product_set_has_identifier());
    }
}
