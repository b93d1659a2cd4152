//! Everything that differs between Shopify Admin API versions, in one place:
//! the default version, the endpoint path and per-version document tweaks.
//! It must not hold transport or business logic; other modules ask it.

use std::fmt;

/// The API version mapsync is written and tested against (the real schema
/// in `tests/data/shopify/admin_schema_2026-04.graphql.gz`).
pub const DEFAULT_API_VERSION: &str = "2026-04";

/// The versions mapsync speaks: every document it sends is validated
/// against the real schema of each (`tests/shopify/graphql_documents.rs`,
/// `tests/sync/requests_valid.rs`).
pub const SUPPORTED_API_VERSIONS: &[&str] = &["2026-04"];

/// Why mapsync will not talk to a shop in `version`, or `None` when it
/// speaks it. Shopify serves a stable version for about a year; older ones
/// are retired (a request to one gets the oldest supported version's
/// behaviour for documents written for another), newer ones are not known
/// to this mapsync.
pub fn unsupported_reason(version: &str) -> Option<String> {
    if SUPPORTED_API_VERSIONS.contains(&version) {
        return None;
    }
    let supported = SUPPORTED_API_VERSIONS.join(", ");
    let oldest = SUPPORTED_API_VERSIONS
        .first()
        .copied()
        .unwrap_or(DEFAULT_API_VERSION);
    Some(if version == "unstable" {
        format!("`unstable` changes without notice, and mapsync's documents are checked against stable versions only; this mapsync speaks {supported}")
    } else if version < oldest {
        format!("Shopify has retired API version {version} (a stable version is served for about a year, and a retired one answers with the oldest supported version's behaviour); this mapsync speaks {supported}")
    } else {
        format!("API version {version} is newer than this mapsync knows; it speaks {supported}")
    })
}

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

// Write-side shapes of 2026-04 (the input builders in `input.rs` ask these).

/// Metafield type of the ownership marker `mapsync.key`.
pub const MARKER_TYPE: &str = "single_line_text_field";

/// The inventory quantity name mapsync sets (`Quantity_<RefLoc>`).
pub const QUANTITY_NAME: &str = "available";

/// The `reason` of `inventorySetQuantities` (one of Shopify's fixed words).
pub const QUANTITY_REASON: &str = "correction";

/// The option Shopify gives a product without options.
pub const DEFAULT_OPTION_NAME: &str = "Title";
pub const DEFAULT_OPTION_VALUE: &str = "Default Title";

/// Unit of `inventory_item.weight` when the mapping gives no `weight_unit`.
pub const DEFAULT_WEIGHT_UNIT: &str = "KILOGRAMS";

/// Puts a variant's weight where this API version takes it: since 2024-07
/// it is `inventoryItem.measurement.weight { value, unit }` (the variant's
/// own `weight`/`weightUnit` inputs are gone).
pub fn put_variant_weight(
    _variant: &mut serde_json::Map<String, serde_json::Value>,
    inventory_item: &mut serde_json::Map<String, serde_json::Value>,
    value: f64,
    unit: &str,
) {
    inventory_item.insert(
        "measurement".into(),
        serde_json::json!({ "weight": { "value": value, "unit": unit } }),
    );
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
        assert_eq!(ApiVersion::default().as_str(), "2026-04");
        assert!(ApiVersion::parse("2025-04").is_ok());
        assert!(ApiVersion::parse("unstable").is_ok());
        for bad in ["2025-1", "2025-13", "25-01", "latest", "2025_01", ""] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ApiVersion::default().graphql_path(),
            "admin/api/2026-04/graphql.json"
        );
        assert!(ApiVersion::default().product_set_has_identifier());
        assert_eq!(unsupported_reason("2026-04"), None);
        assert!(unsupported_reason("2025-01").unwrap().contains("retired"));
        assert!(unsupported_reason("2027-01").unwrap().contains("newer"));
        assert!(unsupported_reason("unstable").is_some());
    }
}
