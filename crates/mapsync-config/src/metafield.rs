//! Metafield rules: type names (Shopify's and the seed's aliases), the
//! namespace and key rules of both rule sets (`shopify`, `legacy`) and the
//! per-type value checks. Pure functions, used by `check` on literal values
//! and by the planner on record values. No I/O, no diagnostics rendering.

use std::fmt;

/// Which namespace/key rules apply (`settings.metafield_rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rules {
    /// The Admin API's current rules (default; written `shopify`).
    #[default]
    Current,
    /// The seed connector's rules.
    Legacy,
}

impl Rules {
    /// Parse `shopify` / `legacy`.
    pub fn parse(s: &str) -> Option<Rules> {
        match s {
            "shopify" => Some(Rules::Current),
            "legacy" => Some(Rules::Legacy),
            _ => None,
        }
    }

    /// Allowed (min, max) characters of a namespace.
    pub fn namespace_len(self) -> (usize, usize) {
        match self {
            Rules::Current => (3, 255),
            Rules::Legacy => (2, 20),
        }
    }

    /// Allowed (min, max) characters of a key.
    pub fn key_len(self) -> (usize, usize) {
        match self {
            Rules::Current => (2, 64),
            Rules::Legacy => (3, 30),
        }
    }

    /// Whether `c` may appear in a namespace or key.
    pub fn allows_char(self, c: char) -> bool {
        match self {
            Rules::Current => c.is_ascii_alphanumeric() || c == '-' || c == '_',
            Rules::Legacy => c.is_ascii_alphanumeric() || "_.~-@#*$".contains(c),
        }
    }

    /// The allowed characters, for messages.
    pub fn chars_text(self) -> &'static str {
        match self {
            Rules::Current => "A-Z a-z 0-9 - _",
            Rules::Legacy => "A-Z a-z 0-9 _ . ~ - @ # * $",
        }
    }

    /// The name as written in mapping files.
    pub fn name(self) -> &'static str {
        match self {
            Rules::Current => "shopify",
            Rules::Legacy => "legacy",
        }
    }

    /// Whose rules these are, for messages.
    pub fn owner(self) -> &'static str {
        match self {
            Rules::Current => "Shopify's",
            Rules::Legacy => "the legacy",
        }
    }

    /// How to switch to the other rules, for help texts.
    pub fn switch_help(self) -> &'static str {
        match self {
            Rules::Current => "set `metafield_rules: legacy` for the seed's rules",
            Rules::Legacy => "set `metafield_rules: shopify` for Shopify's current rules",
        }
    }
}

/// Help for a namespace with `--`.
pub const RESERVED_HELP: &str =
    "Shopify reserves `--` for `shopify--` and `app--` namespaces; use `-` or `_`";

/// The API version since which a deprecated metafield type is.
pub const DEPRECATED_SINCE: &str = "Shopify API 2021-07";

/// A problem with a namespace or key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// Too short or too long: (actual, min, max).
    Length(usize, usize, usize),
    /// A character that is not allowed, at this character index.
    Char(char, usize),
    /// A namespace containing `--` (reserved by Shopify).
    Reserved,
}

/// Which part of a metafield name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The namespace.
    Namespace,
    /// The key.
    Key,
}

/// Check a namespace or key against the rules; every problem is returned.
pub fn check_name(rules: Rules, part: Part, name: &str) -> Vec<NameProblem> {
    let mut out = Vec::new();
    let (min, max) = match part {
        Part::Namespace => rules.namespace_len(),
        Part::Key => rules.key_len(),
    };
    let n = name.chars().count();
    if n < min || n > max {
        out.push(NameProblem::Length(n, min, max));
    }
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !rules.allows_char(*c))
    {
        out.push(NameProblem::Char(c, i));
    }
    if part == Part::Namespace && rules == Rules::Current && name.contains("--") {
        out.push(NameProblem::Reserved);
    }
    out
}

/// The base value types of Shopify metafields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Base {
    /// `single_line_text_field`.
    SingleLineText,
    /// `multi_line_text_field`.
    MultiLineText,
    /// `rich_text_field` (JSON).
    RichText,
    /// `number_integer`.
    Integer,
    /// `number_decimal`.
    Decimal,
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
    /// `date_time`.
    DateTime,
    /// `url`.
    Url,
    /// `json`.
    Json,
    /// `color`.
    Color,
    /// `weight`.
    Weight,
    /// `volume`.
    Volume,
    /// `dimension`.
    Dimension,
    /// `rating`.
    Rating,
    /// `money`.
    Money,
    /// `product_reference`.
    ProductRef,
    /// `variant_reference`.
    VariantRef,
    /// `page_reference`.
    PageRef,
    /// `file_reference`.
    FileRef,
    /// `collection_reference`.
    CollectionRef,
    /// `metaobject_reference`.
    MetaobjectRef,
}

const BASES: &[(&str, Base)] = &[
    ("single_line_text_field", Base::SingleLineText),
    ("multi_line_text_field", Base::MultiLineText),
    ("rich_text_field", Base::RichText),
    ("number_integer", Base::Integer),
    ("number_decimal", Base::Decimal),
    ("boolean", Base::Boolean),
    ("date", Base::Date),
    ("date_time", Base::DateTime),
    ("url", Base::Url),
    ("json", Base::Json),
    ("color", Base::Color),
    ("weight", Base::Weight),
    ("volume", Base::Volume),
    ("dimension", Base::Dimension),
    ("rating", Base::Rating),
    ("money", Base::Money),
    ("product_reference", Base::ProductRef),
    ("variant_reference", Base::VariantRef),
    ("page_reference", Base::PageRef),
    ("file_reference", Base::FileRef),
    ("collection_reference", Base::CollectionRef),
    ("metaobject_reference", Base::MetaobjectRef),
];

/// The seed's type names (lower-cased) and what they mean. `string` is
/// deprecated (Shopify dropped it in 2021-07).
const ALIASES: &[(&str, Base)] = &[
    ("string", Base::SingleLineText),
    ("singlelinetext", Base::SingleLineText),
    ("multilinetext", Base::MultiLineText),
    ("pageref", Base::PageRef),
    ("productref", Base::ProductRef),
    ("variantref", Base::VariantRef),
    ("fileref", Base::FileRef),
    ("integer", Base::Integer),
    ("int", Base::Integer),
    ("decimal", Base::Decimal),
    ("datetime", Base::DateTime),
    ("bool", Base::Boolean),
];

/// A resolved metafield type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Type {
    /// The base type.
    pub base: Base,
    /// A `list.` type.
    pub list: bool,
}

impl Type {
    /// The default type when none is written.
    pub const DEFAULT: Type = Type {
        base: Base::SingleLineText,
        list: false,
    };

    /// The type as the mapping format and the API write it, e.g. `list.number_integer`.
    pub fn type_name(self) -> String {
        let base = BASES
            .iter()
            .find(|(_, b)| *b == self.base)
            .map(|(n, _)| *n)
            .unwrap_or("single_line_text_field");
        if self.list {
            format!("list.{base}")
        } else {
            base.to_string()
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.type_name())
    }
}

/// The outcome of resolving a type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A known type; `deprecated` for the seed's `string`.
    Known {
        /// The type.
        ty: Type,
        /// Whether the name is deprecated.
        deprecated: bool,
    },
    /// Unknown; the closest known name, if any is close.
    Unknown(Option<String>),
}

/// Resolve a type name as written (case-insensitive; Shopify's names, the
/// seed's aliases and `list.` forms).
pub fn resolve_type(name: &str) -> Resolved {
    let lower = name.trim().to_ascii_lowercase();
    let (list, base_name) = match lower.strip_prefix("list.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    if let Some((_, b)) = BASES.iter().find(|(n, _)| *n == base_name) {
        return Resolved::Known {
            ty: Type { base: *b, list },
            deprecated: false,
        };
    }
    if let Some((n, b)) = ALIASES.iter().find(|(n, _)| *n == base_name) {
        // Seed aliases have no list form.
        if !list {
            return Resolved::Known {
                ty: Type { base: *b, list },
                deprecated: *n == "string",
            };
        }
    }
    let candidates = BASES
        .iter()
        .map(|(n, _)| *n)
        .chain(ALIASES.iter().map(|(n, _)| *n));
    Resolved::Unknown(mapsync_core::diag::suggest(base_name, candidates).map(|s| {
        if list {
            format!("list.{s}")
        } else {
            s
        }
    }))
}

/// Every type name accepted, for help texts.
pub fn type_names() -> Vec<&'static str> {
    BASES.iter().map(|(n, _)| *n).collect()
}

const INT_MAX: i64 = 9_007_199_254_740_991;

/// Check a value (as text) against a type. `Err` says what is wrong.
pub fn check_value(ty: Type, value: &str) -> Result<(), String> {
    if ty.list {
        let parsed: serde_json::Value = serde_json::from_str(value)
            .map_err(|e| format!("a list value must be a JSON array: {e}"))?;
        let items = parsed
            .as_array()
            .ok_or_else(|| "a list value must be a JSON array".to_string())?;
        let one = Type {
            base: ty.base,
            list: false,
        };
        for (i, item) in items.iter().enumerate() {
            let text = match item {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            check_value(one, &text).map_err(|e| format!("item {i}: {e}"))?;
        }
        return Ok(());
    }
    match ty.base {
        Base::SingleLineText => {
            if value.contains('\n') {
                Err(
                    "a single-line text may not contain a line break; use multi_line_text_field"
                        .into(),
                )
            } else {
                Ok(())
            }
        }
        Base::MultiLineText => Ok(()),
        Base::Integer => {
            let v: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("'{value}' is not a whole number"))?;
            if v.abs() > INT_MAX {
                Err(format!(
                    "{v} is out of range: integers must be within ±9,007,199,254,740,991"
                ))
            } else {
                Ok(())
            }
        }
        Base::Decimal => check_decimal(value),
        Base::Boolean => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "false" | "0" | "1" => Ok(()),
            _ => Err(format!("'{value}' is not a boolean (true, false, 0 or 1)")),
        },
        Base::Date => time::Date::parse(
            value.trim(),
            &time::format_description::well_known::Iso8601::DEFAULT,
        )
        .map(|_| ())
        .map_err(|_| format!("'{value}' is not an ISO 8601 date such as 2021-02-02")),
        Base::DateTime => check_date_time(value),
        Base::Url => check_url(value),
        Base::Json | Base::RichText => serde_json::from_str::<serde_json::Value>(value)
            .map(|_| ())
            .map_err(|e| format!("not valid JSON: {e}")),
        Base::Color => {
            let hex = value.trim().strip_prefix('#').unwrap_or("");
            if (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err(format!("'{value}' is not a colour such as #fff or #ff0000"))
            }
        }
        Base::Weight => check_measure(value, &["oz", "lb", "g", "kg"], "weight"),
        Base::Volume => check_measure(
            value,
            &[
                "ml",
                "cl",
                "l",
                "m3",
                "us_fl_oz",
                "us_pt",
                "us_qt",
                "us_gal",
                "imp_fl_oz",
                "imp_pt",
                "imp_qt",
                "imp_gal",
            ],
            "volume",
        ),
        Base::Dimension => check_measure(value, &["in", "ft", "yd", "mm", "cm", "m"], "dimension"),
        Base::Rating => check_rating(value),
        Base::Money => {
            let v: serde_json::Value = serde_json::from_str(value).map_err(|_| {
                format!("'{value}' is not a money value such as {{\"amount\": \"5.99\", \"currency_code\": \"EUR\"}}")
            })?;
            let amount = v.get("amount").map(json_text).unwrap_or_default();
            check_decimal(&amount)?;
            match v.get("currency_code").and_then(|c| c.as_str()) {
                Some(c) if c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()) => Ok(()),
                _ => Err("a money value needs a three-letter currency_code such as EUR".into()),
            }
        }
        Base::ProductRef => check_gid(value, &["Product"]),
        Base::VariantRef => check_gid(value, &["ProductVariant"]),
        Base::PageRef => check_gid(value, &["OnlineStorePage", "Page"]),
        Base::FileRef => check_gid(value, &["MediaImage", "GenericFile", "Video"]),
        Base::CollectionRef => check_gid(value, &["Collection"]),
        Base::MetaobjectRef => check_gid(value, &["Metaobject"]),
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_decimal(value: &str) -> Result<(), String> {
    let v = value.trim();
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit());
    if !ok {
        return Err(format!("'{value}' is not a decimal number such as 10.4"));
    }
    let int_digits = int.trim_start_matches('0').len();
    if int_digits > 13 || frac.len() > 9 {
        return Err(format!(
            "'{value}' is out of range: decimals must be within ±9999999999999.999999999"
        ));
    }
    Ok(())
}

fn check_date_time(value: &str) -> Result<(), String> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let v = value.trim();
    if time::OffsetDateTime::parse(v, &Rfc3339).is_ok()
        || time::PrimitiveDateTime::parse(v, &Iso8601::DEFAULT).is_ok()
        || time::OffsetDateTime::parse(v, &Iso8601::DEFAULT).is_ok()
    {
        Ok(())
    } else {
        Err(format!(
            "'{value}' is not an ISO 8601 date and time such as 2021-01-01T12:30:00"
        ))
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let u = url::Url::parse(value.trim()).map_err(|_| format!("'{value}' is not a URL"))?;
    match u.scheme() {
        "https" | "http" | "mailto" | "sms" | "tel" => Ok(()),
        other => Err(format!(
            "URL scheme '{other}' is not allowed; use https, http, mailto, sms or tel"
        )),
    }
}

fn check_measure(value: &str, units: &[&str], what: &str) -> Result<(), String> {
    let example = format!("{{\"unit\": \"{}\", \"value\": 2.5}}", units[0]);
    let v: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| format!("a {what} must be JSON such as {example}"))?;
    let unit = v.get("unit").and_then(|u| u.as_str()).unwrap_or("");
    if !units.contains(&unit) {
        return Err(format!(
            "'{unit}' is not a {what} unit; use one of {}",
            units.join(", ")
        ));
    }
    match v.get("value") {
        Some(serde_json::Value::Number(_)) => Ok(()),
        Some(serde_json::Value::String(s)) if s.trim().parse::<f64>().is_ok() => Ok(()),
        _ => Err(format!("a {what} needs a numeric value, e.g. {example}")),
    }
}

fn check_rating(value: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| {
        "a rating must be JSON such as {\"value\": \"3.5\", \"scale_min\": \"1.0\", \"scale_max\": \"5.0\"}".to_string()
    })?;
    let num = |k: &str| -> Result<f64, String> {
        let x = v.get(k).ok_or_else(|| format!("a rating needs `{k}`"))?;
        json_text(x)
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("rating `{k}` is not a number"))
    };
    let (val, min, max) = (num("value")?, num("scale_min")?, num("scale_max")?);
    if min <= val && val <= max {
        Ok(())
    } else {
        Err(format!(
            "rating value {val} is outside its scale {min}..{max}"
        ))
    }
}

fn check_gid(value: &str, types: &[&str]) -> Result<(), String> {
    let v = value.trim();
    let ok = v
        .strip_prefix("gid://shopify/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(ty, id)| types.contains(&ty) && !id.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{value}' is not a reference such as gid://shopify/{}/1",
            types[0]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str, v: &str) -> bool {
        let Resolved::Known { ty, .. } = resolve_type(t) else {
            panic!("{t}")
        };
        check_value(ty, v).is_ok()
    }

    #[test]
    fn values_per_type() {
        assert!(ok("integer", "10"));
        assert!(!ok("integer", "9007199254740992"));
        assert!(ok("decimal", "10.4"));
        assert!(!ok("decimal", "99999999999999.1"));
        assert!(ok("Date", "2021-02-02"));
        assert!(!ok("Date", "02/02/2021"));
        assert!(ok("DateTime", "2021-01-01T12:30:00"));
        assert!(ok("Url", "https://www.shopify.com"));
        assert!(!ok("Url", "ftp://x.y"));
        assert!(ok("Json", r#"[{ "k": "v1" }]"#));
        assert!(ok("Bool", "1"));
        assert!(!ok("Bool", "yes"));
        assert!(ok("Color", "#fff123"));
        assert!(!ok("Color", "fff123"));
        assert!(ok("Weight", r#"{ "unit": "kg", "value": 2.5 }"#));
        assert!(!ok("Weight", r#"{ "unit": "stone", "value": 2.5 }"#));
        assert!(ok("Volume", r#"{ "unit": "ml", "value": 20.0 }"#));
        assert!(ok("Dimension", r#"{ "unit": "cm", "value": 25.0 }"#));
        assert!(ok(
            "Rating",
            r#"{ "value": "3.5", "scale_min": "1.0", "scale_max": "5.0" }"#
        ));
        assert!(!ok(
            "Rating",
            r#"{ "value": "6", "scale_min": "1.0", "scale_max": "5.0" }"#
        ));
        assert!(ok("ProductRef", "gid://shopify/Product/1"));
        assert!(!ok("VariantRef", "gid://shopify/Product/1"));
        assert!(ok("list.number_integer", "[1, 2]"));
    }

    #[test]
    fn names_per_rules() {
        assert_eq!(
            check_name(Rules::Current, Part::Namespace, "ab"),
            vec![NameProblem::Length(2, 3, 255)]
        );
        assert!(check_name(Rules::Legacy, Part::Namespace, "ab").is_empty());
        assert_eq!(
            check_name(Rules::Current, Part::Key, "a.b"),
            vec![NameProblem::Char('.', 1)]
        );
        assert!(check_name(Rules::Legacy, Part::Key, "a.b").is_empty());
        assert_eq!(
            check_name(Rules::Current, Part::Namespace, "app--x"),
            vec![NameProblem::Reserved]
        );
    }
}
