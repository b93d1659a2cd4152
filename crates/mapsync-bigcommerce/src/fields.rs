//! The `bigcommerce` field table (the fields a mapping set with `target:
//! bigcommerce` may write, with their types), the target's capabilities
//! (BigCommerce's limits on one product) and how the store's values
//! compare with desired ones.

use mapsync_core::current::CompareRules;
use mapsync_core::fields::{FieldTable, FieldType};
use mapsync_core::rules::{Format, On, Rule, Scope};
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
    rules: RULES,
    // `GET /catalog/products?sku:in=` (the product's main SKU), `GET
    // /catalog/trees/categories?name=`.
    matchable: &[(Entity::Product, "sku"), (Entity::Category, "name")],
};

/// A decimal BigCommerce takes: not negative, at most 9,999,999,999.
const fn amount(on: On, field: &'static str) -> Rule {
    Rule::Decimal {
        on,
        field,
        min: Some(0),
        max: Some(9_999_999_999),
        scale: None,
    }
}

const fn at_most(on: On, field: &'static str, max: usize) -> Rule {
    Rule::MaxLength { on, field, max }
}

/// What BigCommerce refuses, checked before anything is sent
/// (docs/preflight.md maps each 409/422 of the emulated store to one of
/// these, or says why only the store can know). `type`, `weight` and
/// `price` are required by the API but never missing: the target sends
/// `physical`, 0 and the first variant's price when the document has none.
pub const RULES: &[Rule] = &[
    // 409 "A variant with the same option values exists".
    Rule::VariantsByOptions,
    // 422 "a product has at most 600 SKUs".
    Rule::VariantCount,
    // 422 "an option has at most 250 values".
    Rule::OptionValues { max: 250 },
    // 422 "name is required" / "must not be empty" / "1 to 50 characters".
    Rule::Required {
        on: On::Product,
        field: "name",
    },
    Rule::Required {
        on: On::Category,
        field: "name",
    },
    at_most(On::Product, "name", 250),
    at_most(On::Category, "name", 50),
    at_most(On::Product, "sku", 255),
    at_most(On::Variant, "sku", 255),
    at_most(On::Product, "upc", 14),
    at_most(On::Variant, "upc", 14),
    at_most(On::Product, "gtin", 14),
    at_most(On::Variant, "gtin", 14),
    at_most(On::Product, "mpn", 255),
    at_most(On::Variant, "mpn", 255),
    at_most(On::Product, "page_title", 255),
    at_most(On::Category, "page_title", 255),
    // 422 "1 to 250 characters" (a custom field's value).
    at_most(On::Product, "custom_fields.*", 250),
    // 422 "a product has at most 200 custom fields"; a name "1 to 250 characters".
    Rule::Family {
        on: On::Product,
        prefix: CUSTOM_FIELD_PREFIX,
        max_count: 200,
        max_name: 250,
    },
    // `POST /catalog/brands` (the target makes the brand it names):
    // 422 "1 to 255 characters".
    at_most(On::Product, "brand", 255),
    // 422 "must not be negative" / "is too large".
    amount(On::Product, "price"),
    amount(On::Product, "sale_price"),
    amount(On::Product, "retail_price"),
    amount(On::Product, "cost_price"),
    amount(On::Product, "weight"),
    amount(On::Product, "width"),
    amount(On::Product, "height"),
    amount(On::Product, "depth"),
    amount(On::Variant, "price"),
    amount(On::Variant, "sale_price"),
    amount(On::Variant, "cost_price"),
    amount(On::Variant, "weight"),
    // 422 custom_url.url "must be a path starting with '/'".
    Rule::Format {
        on: On::Product,
        field: "custom_url",
        format: Format::UrlPath,
    },
    Rule::Format {
        on: On::Category,
        field: "custom_url",
        format: Format::UrlPath,
    },
    // 409 "The variant SKU is a duplicate".
    Rule::Unique {
        on: On::Variant,
        field: "sku",
        scope: Scope::Product,
        ignore_case: false,
        within: None,
    },
    // 409 "The SKU is a duplicate of one of product N".
    Rule::Unique {
        on: On::Variant,
        field: "sku",
        scope: Scope::Run,
        ignore_case: false,
        within: None,
    },
    Rule::Unique {
        on: On::Product,
        field: "sku",
        scope: Scope::Run,
        ignore_case: false,
        within: None,
    },
    // 409 "A category with this name exists under the same parent".
    Rule::Unique {
        on: On::Category,
        field: "name",
        scope: Scope::Run,
        ignore_case: true,
        within: Some("parent"),
    },
    // 409 "The product name is a duplicate of product N".
    Rule::Unique {
        on: On::Product,
        field: "name",
        scope: Scope::Run,
        ignore_case: true,
        within: None,
    },
    // 409 "The URL is a duplicate of the one of product N".
    Rule::Unique {
        on: On::Product,
        field: "custom_url",
        scope: Scope::Run,
        ignore_case: false,
        within: None,
    },
    // 422 inventory "quantity must be between 0 and 1000000000".
    Rule::Quantity {
        min: 0,
        max: 1_000_000_000,
    },
    Rule::MetafieldValues,
    // 422 value "1 to 65535 characters" (a metafield's; empty ones are not sent).
    Rule::MetafieldLength { max: 65_535 },
    // 422 image_url "only http and https URLs are fetched" / "not a URL".
    Rule::ImageSources,
    // 422 "an image file is at most 8 MB".
    Rule::ImageBytes {
        max: 8 * 1024 * 1024,
    },
];

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
