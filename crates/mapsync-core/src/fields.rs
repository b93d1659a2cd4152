//! The vocabulary of target fields: the type a field's value must have,
//! how a literal is checked against it, and a connector's field table (the
//! fields a mapping may write, per entity context, as users write them in
//! `map:`). Each target connector declares its table in its
//! [`Capabilities`](crate::target::Capabilities); `validate` checks `map:`
//! keys against it and the compiler coerces values with it.

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
    /// Any JSON value, kept as the source gives it (a number stays a
    /// number): the free-form fields of a generic store API.
    Any,
    /// Text the target makes itself and never takes (a product's URL in
    /// the online store): it can only flow `to_source` (docs/two-way.md).
    ReadOnly,
}

/// The name of a field table entry that stands for every name the table
/// does not list (a target taking free-form fields, e.g. a generic store
/// API): `("*", FieldType::Any)`. Never shown as a known field.
pub const ANY_NAME: &str = "*";

/// What the name of a field table entry ends with when it stands for a
/// family of fields sharing a prefix (a platform's named custom fields):
/// `("custom_fields.*", FieldType::Text)` takes `custom_fields.Material`,
/// any non-empty rest after the prefix, with that entry's type.
pub const PREFIX_WILDCARD: &str = ".*";

/// Whether field `name` is one of the family a prefix entry (see
/// [`PREFIX_WILDCARD`]) stands for. `false` for any other entry.
pub fn prefix_matches(entry: &str, name: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) if entry.ends_with(PREFIX_WILDCARD) => name
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.trim().is_empty()),
        _ => false,
    }
}

/// The fields a target accepts, per `map:` context, with their types. A
/// context whose list holds [`ANY_NAME`] takes any other name too, with
/// that entry's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldTable {
    /// The mapping set's `target:` word this table is for (`shopify`, ...).
    pub kind: &'static str,
    /// `entities.category.map`.
    pub category: &'static [(&'static str, FieldType)],
    /// `entities.product.map`.
    pub product: &'static [(&'static str, FieldType)],
    /// `entities.product.variants.map`.
    pub variant: &'static [(&'static str, FieldType)],
}

/// Check a literal (as text) against a field type.
pub fn check_literal(ty: FieldType, value: &str) -> Result<(), String> {
    let v = value.trim();
    match ty {
        FieldType::Text
        | FieldType::Html
        | FieldType::List
        | FieldType::Any
        | FieldType::ReadOnly => Ok(()),
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
