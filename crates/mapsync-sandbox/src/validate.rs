//! Shopify's input rules as the sandbox enforces them: metafield namespace and
//! key syntax, metafield types and values, handles. Pure functions returning
//! a message for a `userErrors` entry; must not touch the store.

use serde_json::Value;

/// Metafield types the sandbox knows (Shopify's names); `list.` forms are
/// accepted for the types in [`LIST_TYPES`].
pub const TYPES: &[&str] = &[
    "single_line_text_field",
    "multi_line_text_field",
    "number_integer",
    "number_decimal",
    "boolean",
    "date",
    "date_time",
    "url",
    "json",
    "color",
    "weight",
    "volume",
    "dimension",
    "rating",
    "money",
    "product_reference",
    "variant_reference",
    "page_reference",
    "file_reference",
    "collection_reference",
    "metaobject_reference",
    "rich_text_field",
    "id",
];

/// Types that have a `list.` form.
pub const LIST_TYPES: &[&str] = &[
    "single_line_text_field",
    "number_integer",
    "number_decimal",
    "date",
    "date_time",
    "url",
    "color",
    "weight",
    "volume",
    "dimension",
    "rating",
    "product_reference",
    "variant_reference",
    "page_reference",
    "file_reference",
    "collection_reference",
    "metaobject_reference",
];

/// Types whose definitions may have the `uniqueValues` capability.
pub const UNIQUE_VALUE_TYPES: &[&str] = &["id", "single_line_text_field", "number_integer", "url"];

/// True if `t` is a metafield type Shopify accepts.
pub fn is_known_type(t: &str) -> bool {
    match t.strip_prefix("list.") {
        Some(base) => LIST_TYPES.contains(&base),
        None => TYPES.contains(&t),
    }
}

/// Check a namespace supplied by a client (current Admin API rules).
pub fn check_namespace(ns: &str) -> Result<(), String> {
    let n = ns.chars().count();
    if n < 3 {
        return Err("Namespace is too short (minimum is 3 characters)".into());
    }
    if n > 255 {
        return Err("Namespace is too long (maximum is 255 characters)".into());
    }
    if !ns.chars().all(is_name_char) {
        return Err(
            "Namespace contains one or more invalid characters (allowed: letters, digits, - and _)"
                .into(),
        );
    }
    if ns.contains("--") && !ns.starts_with("app--") {
        return Err("Namespace is reserved (`--` is reserved for shopify-- and app--)".into());
    }
    Ok(())
}

/// Check a metafield key.
pub fn check_key(key: &str) -> Result<(), String> {
    let n = key.chars().count();
    if n < 2 {
        return Err("Key is too short (minimum is 2 characters)".into());
    }
    if n > 64 {
        return Err("Key is too long (maximum is 64 characters)".into());
    }
    if !key.chars().all(is_name_char) {
        return Err(
            "Key contains one or more invalid characters (allowed: letters, digits, - and _)"
                .into(),
        );
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Resolve the app-reserved `$app` namespace forms.
pub fn resolve_namespace(ns: Option<&str>) -> String {
    match ns {
        None | Some("$app") => "app--1".into(),
        Some(s) => match s.strip_prefix("$app:") {
            Some(rest) => format!("app--1--{rest}"),
            None => s.to_string(),
        },
    }
}

/// Check a metafield value against its type. `exists` answers whether a
/// referenced global id exists (for the kinds the sandbox stores).
pub fn check_value(t: &str, value: &str, exists: &dyn Fn(&str) -> bool) -> Result<(), String> {
    if let Some(base) = t.strip_prefix("list.") {
        let v: Value =
            serde_json::from_str(value).map_err(|_| "Value must be a JSON array".to_string())?;
        let items = v
            .as_array()
            .ok_or_else(|| "Value must be a JSON array".to_string())?;
        for (i, item) in items.iter().enumerate() {
            let text = match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            check_value(base, &text, exists).map_err(|e| format!("Value at index {i}: {e}"))?;
        }
        return Ok(());
    }
    match t {
        "single_line_text_field" => {
            if value.contains('\n') || value.contains('\r') {
                return Err("Value must be a single line text string".into());
            }
            Ok(())
        }
        "multi_line_text_field" => Ok(()),
        "id" => check_id(value),
        "number_integer" => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| "Value must be an integer".to_string())?;
            if n.abs() > 9_007_199_254_740_991 {
                return Err("Value must be between -9007199254740991 and 9007199254740991".into());
            }
            Ok(())
        }
        "number_decimal" => check_decimal(value),
        "boolean" => match value {
            "true" | "false" => Ok(()),
            _ => Err("Value must be true or false".into()),
        },
        "date" => check_date(value),
        "date_time" => check_date_time(value),
        "url" => check_url(value),
        "json" => serde_json::from_str::<Value>(value)
            .map(|_| ())
            .map_err(|_| "Value must be valid JSON".into()),
        "color" => check_color(value),
        "weight" => check_measure(value, &["oz", "lb", "g", "kg"]),
        "volume" => check_measure(
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
        ),
        "dimension" => check_measure(value, &["in", "ft", "yd", "mm", "cm", "m"]),
        "rating" => check_rating(value),
        "money" => check_money(value),
        "product_reference" => check_ref(value, &["Product"], true, exists),
        "variant_reference" => check_ref(value, &["ProductVariant"], true, exists),
        "collection_reference" => check_ref(value, &["Collection"], true, exists),
        "page_reference" => check_ref(value, &["Page"], false, exists),
        "metaobject_reference" => check_ref(value, &["Metaobject"], false, exists),
        "file_reference" => check_ref(
            value,
            &["MediaImage", "GenericFile", "Video", "Model3d"],
            false,
            exists,
        ),
        "rich_text_field" => {
            let v: Value = serde_json::from_str(value)
                .map_err(|_| "Value must be a rich text JSON document".to_string())?;
            if v.get("type").and_then(Value::as_str) != Some("root") {
                return Err("Value must be a rich text JSON document with a root node".into());
            }
            Ok(())
        }
        other => Err(format!("Type '{other}' is not a valid metafield type")),
    }
}

/// An `id` value: one non-blank line of at most 255 characters.
fn check_id(value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.contains('\n') || value.contains('\r') {
        return Err("Value must be a non-blank single line string".into());
    }
    if value.chars().count() > 255 {
        return Err("Value is too long (maximum is 255 characters)".into());
    }
    Ok(())
}

fn check_decimal(value: &str) -> Result<(), String> {
    let err = || "Value must be a decimal number".to_string();
    let s = value.trim();
    let digits = s
        .strip_prefix('-')
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (digits.contains('.') && frac.is_empty()) {
        return Err(err());
    }
    let int_digits = int.trim_start_matches('0').len();
    if int_digits > 13 || frac.len() > 9 {
        return Err(
            "Value must be between -9999999999999.999999999 and 9999999999999.999999999".into(),
        );
    }
    Ok(())
}

fn check_date(value: &str) -> Result<(), String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &fmt)
        .map(|_| ())
        .map_err(|_| "Value must be a date in the format YYYY-MM-DD".into())
}

fn check_date_time(value: &str) -> Result<(), String> {
    let ok = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .is_ok()
        || time::PrimitiveDateTime::parse(
            value,
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
        .is_ok()
        || time::PrimitiveDateTime::parse(
            value,
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
        .is_ok();
    if ok {
        Ok(())
    } else {
        Err("Value must be an ISO 8601 date and time".into())
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let Some((scheme, rest)) = value.split_once(':') else {
        return Err("Value must be a valid URL".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if !["https", "http", "mailto", "sms", "tel"].contains(&scheme.as_str()) {
        return Err("Value must use one of the schemes https, http, mailto, sms, tel".into());
    }
    if rest.trim_start_matches('/').is_empty() || value.contains(char::is_whitespace) {
        return Err("Value must be a valid URL".into());
    }
    Ok(())
}

fn check_color(value: &str) -> Result<(), String> {
    let ok = value.strip_prefix('#').is_some_and(|h| {
        (h.len() == 3 || h.len() == 6) && h.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if ok {
        Ok(())
    } else {
        Err("Value must be a hex color code (#RGB or #RRGGBB)".into())
    }
}

fn number_of(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn check_measure(value: &str, units: &[&str]) -> Result<(), String> {
    let v: Value = serde_json::from_str(value)
        .map_err(|_| "Value must be a JSON object with value and unit".to_string())?;
    if number_of(v.get("value")).is_none() {
        return Err("Value must have a numeric `value`".into());
    }
    let unit = v.get("unit").and_then(Value::as_str).unwrap_or_default();
    if !units.contains(&unit) {
        return Err(format!("Unit must be one of {}", units.join(", ")));
    }
    Ok(())
}

fn check_rating(value: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(value)
        .map_err(|_| "Value must be a JSON object with value, scale_min, scale_max".to_string())?;
    let (Some(val), Some(min), Some(max)) = (
        number_of(v.get("value")),
        number_of(v.get("scale_min")),
        number_of(v.get("scale_max")),
    ) else {
        return Err("Value must be a JSON object with value, scale_min, scale_max".into());
    };
    if !(min <= val && val <= max) {
        return Err("Value must be between scale_min and scale_max".into());
    }
    Ok(())
}

fn check_money(value: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(value)
        .map_err(|_| "Value must be a JSON object with amount and currency_code".to_string())?;
    let amount = v.get("amount").map(|a| match a {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    match amount {
        Some(a) if check_decimal(&a).is_ok() => {}
        _ => return Err("Value must have a decimal `amount`".into()),
    }
    if v.get("currency_code").and_then(Value::as_str).is_none() {
        return Err("Value must have a `currency_code`".into());
    }
    Ok(())
}

fn check_ref(
    value: &str,
    kinds: &[&str],
    must_exist: bool,
    exists: &dyn Fn(&str) -> bool,
) -> Result<(), String> {
    match crate::model::parse_gid(value) {
        Some((kind, _)) if kinds.contains(&kind) => {
            if must_exist && !exists(value) {
                Err(format!("Value references a non-existent resource {value}"))
            } else {
                Ok(())
            }
        }
        _ => Err(format!(
            "Value must be a global id of type {}",
            kinds.join(" or ")
        )),
    }
}

/// Shopify's handleize: lower case, runs of other characters become `-`.
pub fn handleize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// First free handle among `base`, `base-1`, `base-2`, ...
pub fn unique_handle(base: &str, taken: &dyn Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    let mut n = 1u64;
    loop {
        let candidate = format!("{base}-{n}");
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn values_per_type() {
        let cases: &[(&str, &str, bool)] = &[
            ("number_integer", "42", true),
            ("number_integer", "9007199254740992", false),
            ("number_integer", "4.2", false),
            ("number_decimal", "-12.50", true),
            ("number_decimal", "12.", false),
            ("number_decimal", "99999999999999.1", false),
            ("boolean", "true", true),
            ("boolean", "1", false),
            ("date", "2024-02-29", true),
            ("date", "2023-02-29", false),
            ("date_time", "2024-01-01T10:00:00Z", true),
            ("date_time", "2024-01-01T10:00:00", true),
            ("date_time", "yesterday", false),
            ("url", "https://example.com/x", true),
            ("url", "ftp://example.com", false),
            ("json", "{\"a\":1}", true),
            ("json", "{a:1}", false),
            ("color", "#fff", true),
            ("color", "#ffff", false),
            ("weight", r#"{"value": 2.5, "unit": "kg"}"#, true),
            ("weight", r#"{"value": 2.5, "unit": "KILOGRAMS"}"#, false),
            ("volume", r#"{"value": 1, "unit": "us_fl_oz"}"#, true),
            ("dimension", r#"{"value": "3", "unit": "cm"}"#, true),
            (
                "rating",
                r#"{"value": "4", "scale_min": "1", "scale_max": "5"}"#,
                true,
            ),
            (
                "rating",
                r#"{"value": "6", "scale_min": "1", "scale_max": "5"}"#,
                false,
            ),
            (
                "money",
                r#"{"amount": "5.99", "currency_code": "USD"}"#,
                true,
            ),
            ("single_line_text_field", "a\nb", false),
            ("multi_line_text_field", "a\nb", true),
            ("list.number_integer", "[1, 2]", true),
            ("list.number_integer", "[1, \"x\"]", false),
            ("page_reference", "gid://shopify/Page/1", true),
            ("product_reference", "gid://shopify/Product/1", false),
            ("product_reference", "gid://shopify/Page/1", false),
            ("rich_text_field", r#"{"type":"root","children":[]}"#, true),
        ];
        for (t, v, ok) in cases {
            assert_eq!(check_value(t, v, &none).is_ok(), *ok, "{t} {v}");
        }
    }

    #[test]
    fn names() {
        assert!(check_namespace("custom").is_ok());
        assert!(check_namespace("ab").is_err());
        assert!(check_namespace("a--b").is_err());
        assert!(check_namespace("bad ns").is_err());
        assert!(check_key("k").is_err());
        assert!(check_key("size").is_ok());
        assert!(is_known_type("list.color"));
        assert!(!is_known_type("list.boolean"));
        assert!(!is_known_type("string"));
    }

    #[test]
    fn handles() {
        assert_eq!(handleize("  Blue T-Shirt (XL)! "), "blue-t-shirt-xl");
        let taken = |h: &str| h == "a" || h == "a-1";
        assert_eq!(unique_handle("a", &taken), "a-2");
        assert_eq!(unique_handle("b", &taken), "b");
    }
}
