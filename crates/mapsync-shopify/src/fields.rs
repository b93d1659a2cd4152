//! Shopify's field table: the target fields a mapping may write to a
//! Shopify store (or the emulated one), per entity context, in snake_case
//! as users write them in `map:`. Declared in the connector's
//! capabilities; `validate` and the compiler read it from there.

use mapsync_core::fields::{FieldTable, FieldType};

const SORT_ORDERS: &[&str] = &[
    "ALPHA_ASC",
    "ALPHA_DESC",
    "BEST_SELLING",
    "CREATED",
    "CREATED_DESC",
    "MANUAL",
    "PRICE_ASC",
    "PRICE_DESC",
];
const INVENTORY_POLICIES: &[&str] = &["DENY", "CONTINUE"];
const WEIGHT_UNITS: &[&str] = &["GRAMS", "KILOGRAMS", "OUNCES", "POUNDS"];

const CATEGORY_FIELDS: &[(&str, FieldType)] = &[
    ("title", FieldType::Text),
    ("handle", FieldType::Handle),
    ("body_html", FieldType::Html),
    ("sort_order", FieldType::Enum(SORT_ORDERS)),
    ("template_suffix", FieldType::Text),
    ("seo.title", FieldType::Text),
    ("seo.description", FieldType::Text),
];

const PRODUCT_FIELDS: &[(&str, FieldType)] = &[
    ("title", FieldType::Text),
    ("handle", FieldType::Handle),
    ("body_html", FieldType::Html),
    ("vendor", FieldType::Text),
    ("product_type", FieldType::Text),
    ("tags", FieldType::List),
    ("template_suffix", FieldType::Text),
    ("gift_card", FieldType::Bool),
    ("seo.title", FieldType::Text),
    ("seo.description", FieldType::Text),
    // The product's page in the online store (`onlineStoreUrl`; none while
    // it is not published there): read only, it flows `to_source`.
    ("online_store_url", FieldType::ReadOnly),
];

const VARIANT_FIELDS: &[(&str, FieldType)] = &[
    ("sku", FieldType::Text),
    ("price", FieldType::Decimal),
    ("compare_at_price", FieldType::Decimal),
    ("barcode", FieldType::Text),
    ("taxable", FieldType::Bool),
    ("inventory_policy", FieldType::Enum(INVENTORY_POLICIES)),
    ("inventory_item.cost", FieldType::Decimal),
    ("inventory_item.tracked", FieldType::Bool),
    ("inventory_item.requires_shipping", FieldType::Bool),
    ("inventory_item.country_code_of_origin", FieldType::Country),
    ("inventory_item.province_code_of_origin", FieldType::Text),
    ("inventory_item.harmonized_system_code", FieldType::HsCode),
    ("inventory_item.weight", FieldType::Decimal),
    ("inventory_item.weight_unit", FieldType::Enum(WEIGHT_UNITS)),
];

/// The table for mapping sets with `target: shopify` (the default).
pub const FIELDS: FieldTable = FieldTable {
    kind: "shopify",
    category: CATEGORY_FIELDS,
    product: PRODUCT_FIELDS,
    variant: VARIANT_FIELDS,
};
