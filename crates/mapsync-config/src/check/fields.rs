//! The target fields a mapping may write, per entity context, with the
//! type their values are checked and coerced against. Shopify names in
//! snake_case, as users write them in `map:`.

/// Where a `map:` entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `entities.category.map`.
    Category,
    /// `entities.product.map`.
    Product,
    /// `entities.product.variants.map`.
    Variant,
}

impl Context {
    /// The YAML path of the `map:` for messages.
    pub fn map_path(self) -> &'static str {
        match self {
            Context::Category => "entities.category.map",
            Context::Product => "entities.product.map",
            Context::Variant => "entities.product.variants.map",
        }
    }
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Any text.
    Text,
    /// HTML text.
    Html,
    /// A handle: lower-case letters, digits and `-`.
    Handle,
    /// A decimal amount (prices: `50` and `50.00` are equal).
    Decimal,
    /// A boolean (`true/false/1/0/yes/no`).
    Bool,
    /// A list of strings (a list, or a comma-separated string).
    List,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// An ISO 3166-1 alpha-2 country code.
    Country,
    /// A harmonized system code: 6 to 13 digits.
    HsCode,
}

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

/// The fields of a context.
pub fn fields(ctx: Context) -> &'static [(&'static str, FieldType)] {
    match ctx {
        Context::Category => CATEGORY_FIELDS,
        Context::Product => PRODUCT_FIELDS,
        Context::Variant => VARIANT_FIELDS,
    }
}

/// The type of `name` in `ctx`, if it is a known field there.
pub fn lookup(ctx: Context, name: &str) -> Option<FieldType> {
    fields(ctx)
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// Check a literal (as text) against a field type.
pub fn check_literal(ty: FieldType, value: &str) -> Result<(), String> {
    let v = value.trim();
    match ty {
        FieldType::Text | FieldType::Html | FieldType::List => Ok(()),
        FieldType::Handle => {
            if !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                Ok(())
            } else {
                Err(format!(
                    "'{value}' is not a handle: use lower-case letters, digits and `-`"
                ))
            }
        }
        FieldType::Decimal => match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(()),
            _ => Err(format!("'{value}' is not a decimal number such as 12.50")),
        },
        FieldType::Bool => match parse_bool(v) {
            Some(_) => Ok(()),
            None => Err(format!(
                "'{value}' is not a boolean: use true/false, 1/0 or yes/no"
            )),
        },
        FieldType::Enum(words) => {
            if words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                Err(format!("'{value}' is not one of {}", words.join(", ")))
            }
        }
        FieldType::Country => {
            if v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()) {
                Ok(())
            } else {
                Err(format!(
                    "'{value}' is not a two-letter country code such as DK"
                ))
            }
        }
        FieldType::HsCode => {
            if (6..=13).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!(
                    "'{value}' is not a harmonized system code (6 to 13 digits)"
                ))
            }
        }
    }
}

/// Booleans as the mapping format coerces them: true/false/1/0/yes/no, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}
