//! The `bigcommerce` field table (the fields a mapping set with `target:
//! bigcommerce` may write, with their types), the target's capabilities
//! (BigCommerce's limits on one product) and how the store's values
//! compare with desired ones.

use mapsync_core::current::CompareRules;
use mapsync_core::fields::{FieldTable, FieldType};
use mapsync_core::target::{Capabilities, Limits};
use mapsync_core::Entity;

/// `type` of a product.
pub const PRODUCT_TYPES: &[&str] = &["physical", "digital"];
/// `availability` of a product.
pub const AVAILABILITY: &[&str] = &["available", "disabled", "preorder"];
/// `condition` of a product.
pub const CONDITIONS: &[&str] = &["New", "Used", "Refurbished"];
/// `inventory_tracking` of a product.
pub const INVENTORY_TRACKING: &[&str] = &["none", "product", "variant"];

/// The prefix of a product's custom fields in the table
/// (`custom_fields.<name>`).
pub const CUSTOM_FIELD_PREFIX: &str = "custom_fields.";

const CATEGORY_FIELDS: &[(&str, FieldType)] = &[
    ("name", FieldType::Text),
    ("description", FieldType::Html),
    // The parent category's key (a category of the same mapping set).
    ("parent", FieldType::Text),
    ("is_visible", FieldType::Bool),
    ("sort_order", FieldType::Decimal),
    ("page_title", FieldType::Text),
    ("meta_description", FieldType::Text),
    ("custom_url", FieldType::Text),
    ("image_url", FieldType::Text),
];

const PRODUCT_FIELDS: &[(&str, FieldType)] = &[
    ("name", FieldType::Text),
    ("type", FieldType::Enum(PRODUCT_TYPES)),
    ("sku", FieldType::Text),
    ("price", FieldType::Decimal),
    ("sale_price", FieldType::Decimal),
    ("retail_price", FieldType::Decimal),
    ("cost_price", FieldType::Decimal),
    ("weight", FieldType::Decimal),
    ("width", FieldType::Decimal),
    ("height", FieldType::Decimal),
    ("depth", FieldType::Decimal),
    ("description", FieldType::Html),
    ("brand", FieldType::Text),
    ("is_visible", FieldType::Bool),
    ("availability", FieldType::Enum(AVAILABILITY)),
    ("condition", FieldType::Enum(CONDITIONS)),
    ("upc", FieldType::Text),
    ("mpn", FieldType::Text),
    ("gtin", FieldType::Text),
    ("search_keywords", FieldType::Text),
    ("page_title", FieldType::Text),
    ("meta_description", FieldType::Text),
    ("custom_url", FieldType::Text),
    ("inventory_tracking", FieldType::Enum(INVENTORY_TRACKING)),
    // `custom_fields.Material`: the product's custom field `Material`.
    ("custom_fields.*", FieldType::Text),
];

const VARIANT_FIELDS: &[(&str, FieldType)] = &[
    ("sku", FieldType::Text),
    ("price", FieldType::Decimal),
    ("sale_price", FieldType::Decimal),
    ("cost_price", FieldType::Decimal),
    ("weight", FieldType::Decimal),
    ("upc", FieldType::Text),
    ("mpn", FieldType::Text),
    ("gtin", FieldType::Text),
    ("purchasing_disabled", FieldType::Bool),
];

/// The fields of `target: bigcommerce` mapping sets.
pub const FIELDS: FieldTable = FieldTable {
    kind: "bigcommerce",
    category: CATEGORY_FIELDS,
    product: PRODUCT_FIELDS,
    variant: VARIANT_FIELDS,
};

/// Enum fields: the store keeps one spelling (`New`, `physical`); the
/// target sends the table's spelling and reads them back upper-cased, so
/// they compare without regard to case.
pub const ENUM_FIELDS: &[&str] = &["type", "availability", "condition", "inventory_tracking"];

/// How BigCommerce's values compare: decimals as numbers (the store
/// answers `12.5` for `12.50`, the neutral diff compares them as numbers),
/// enums without case, and fields the store always has a value for are
/// not cleared by an empty desired value.
pub const COMPARE_RULES: CompareRules = CompareRules {
    set_fields: &[],
    not_cleared: &[
        "custom_url",
        "type",
        "availability",
        "condition",
        "inventory_tracking",
    ],
    upper_case: ENUM_FIELDS,
    metafield_fields: &[],
    implied: &[],
};

/// Items of one metafield batch request (`POST`/`PUT`/`DELETE
/// /catalog/{products,variants,categories}/metafields`) as the emulated
/// store takes them (BigCommerce's files state no limit).
pub const METAFIELD_BATCH: usize = 250;

/// What the `bigcommerce` target declares of itself.
pub const CAPABILITIES: Capabilities = Capabilities {
    kind: "bigcommerce",
    entities: &[Entity::Category, Entity::Product],
    limits: Limits {
        // BigCommerce states no number of options; its 600 SKUs and 250
        // values an option bound them.
        options: 250,
        // "A product can have up to 600 SKUs".
        variants: 600,
        // The emulated store's limit (BigCommerce states none).
        images: 1000,
        metafields_per_write: METAFIELD_BATCH,
        write_batch: 1,
    },
    compare: COMPARE_RULES,
    fields: &FIELDS,
    marks_ownership: true,
    category_parent: Some("parent"),
};

/// The table's spelling of an enum value (`new` → `New`), or the value as
/// given when it is none of them (the store then refuses it).
pub fn enum_word(field: &str, value: &str) -> String {
    let words: &[&str] = match field {
        "type" => PRODUCT_TYPES,
        "availability" => AVAILABILITY,
        "condition" => CONDITIONS,
        "inventory_tracking" => INVENTORY_TRACKING,
        _ => &[],
    };
    words
        .iter()
        .find(|w| w.eq_ignore_ascii_case(value.trim()))
        .map(|w| w.to_string())
        .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_are_a_prefix_family() {
        assert!(mapsync_core::fields::prefix_matches(
            "custom_fields.*",
            "custom_fields.Material"
        ));
        assert!(!mapsync_core::fields::prefix_matches(
            "custom_fields.*",
            "custom_fields."
        ));
        assert_eq!(enum_word("condition", "used"), "Used");
        assert_eq!(enum_word("type", "x"), "x");
    }
}
