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

// Write-side shapes of 2025-01 (the input builders in `input.rs` ask these).

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
