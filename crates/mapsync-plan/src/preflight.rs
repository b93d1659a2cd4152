//! Pre-flight: a desired document checked against the rules its target
//! declares ([`mapsync_core::rules::Rule`], in `Capabilities::rules`)
//! before anything is sent. A document that breaks one is an `invalid`
//! item of the plan (the compiler returns the diagnostics as a record
//! that failed to map; `reconcile` names the rule `<entity>.record.preflight`);
//! nothing is sent for it and the rest of the run goes on.
//!
//! Rules of one document are checked here ([`check`]); rules of scope run
//! (a SKU unique in the store) need every item: [`unique_values`] gives
//! what each item keeps in its control values, and `reconcile` compares
//! them across the run. This module names no platform: the rules are data.

use std::collections::{BTreeMap, HashMap, HashSet};

use mapsync_core::diag::{codes, Diagnostic};
use mapsync_core::document::{Document, ImageKind};
use mapsync_core::rules::{Format, On, Rule, Scope};
use mapsync_core::target::Limits;
use mapsync_core::Entity;
use serde_json::Value;

/// Checks `doc` against `rules` (and `limits`, which the count rules
/// read); one error per broken rule instance, in rule order.
pub fn check(doc: &Document, rules: &[Rule], limits: &Limits) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in rules {
        check_rule(doc, rule, limits, &mut out);
    }
    out
}

/// The values of `doc` that `rules` of scope run keep unique in the store,
/// as (`<on>.<field>`, value) pairs, each pair once.
pub fn unique_values(doc: &Document, rules: &[Rule]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for rule in rules {
        let Rule::Unique {
            on,
            field,
            scope: Scope::Run,
            ignore_case,
            within,
        } = rule
        else {
            continue;
        };
        // The scope's value (e.g. the parent's key; none: the top).
        let scope = within.map(|w| {
            values(doc, *on, w)
                .first()
                .map(|f| f.text.clone())
                .unwrap_or_default()
        });
        let name = format!("{}.{field}", on.as_str());
        for v in values(doc, *on, field) {
            let text = if *ignore_case {
                v.text.to_lowercase()
            } else {
                v.text
            };
            let text = match &scope {
                Some(p) if p.is_empty() => format!("{text} (at the top)"),
                Some(p) => format!("{text} (under '{p}')"),
                None => text,
            };
            let pair = (name.clone(), text);
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// The diagnostic of items sharing a value the target keeps unique in the
/// store (`field` as [`unique_values`] names it).
pub fn unique_in_run(
    field: &str,
    value: &str,
    entity: Entity,
    keys: &[&str],
    holder: Option<&str>,
) -> Diagnostic {
    let (on, name) = field.split_once('.').unwrap_or(("", field));
    let others = keys
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Diagnostic::error(
        codes::PREFLIGHT_UNIQUE_IN_RUN,
        format!(
            "rule unique-in-run: the {on} `{name}` '{value}' is given by {} {} records of this run ({others}); the target keeps it unique and would refuse {}",
            keys.len(),
            entity.as_str(),
            match holder {
                Some(h) => format!("this one: '{h}' holds it in the store already"),
                None => "all but one".to_string(),
            }
        ),
    )
    .help(format!(
        "give each {on} its own `{name}` in the source; none of these items is sent until then"
    ))
}

fn applies(doc: &Document, on: On) -> bool {
    matches!(
        (doc.entity, on),
        (Entity::Category, On::Category)
            | (Entity::Product, On::Product)
            | (Entity::Product, On::Variant)
    )
}

/// A field's value where a rule looks: the document's (owner `None`) or
/// each variant's (owner = the variant's key).
struct Found<'d> {
    owner: Option<&'d str>,
    /// The field's name (one of a `prefix.*` family).
    field: &'d str,
    value: &'d Value,
    text: String,
}

fn values<'d>(doc: &'d Document, on: On, field: &str) -> Vec<Found<'d>> {
    if !applies(doc, on) {
        return Vec::new();
    }
    let one = |owner: Option<&'d str>, name: &'d str, v: &'d Value| {
        let text = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Found {
            owner,
            field: name,
            value: v,
            text,
        }
    };
    // `custom_fields.*`: every field of the family.
    let prefix = field.strip_suffix('*');
    let matching = move |fields: &'d BTreeMap<String, Value>| -> Vec<(&'d str, &'d Value)> {
        match prefix {
            Some(p) => fields
                .iter()
                .filter(|(k, _)| k.len() > p.len() && k.starts_with(p))
                .map(|(k, v)| (k.as_str(), v))
                .collect(),
            None => fields
                .get_key_value(field)
                .map(|(k, v)| (k.as_str(), v))
                .into_iter()
                .collect(),
        }
    };
    let mut out = Vec::new();
    match on {
        On::Variant => {
            for v in &doc.variants {
                for (k, x) in matching(&v.fields) {
                    out.push(one(Some(v.key.as_str()), k, x));
                }
            }
        }
        _ => {
            for (k, x) in matching(&doc.fields) {
                out.push(one(None, k, x));
            }
        }
    }
    out.retain(|f| !f.text.is_empty());
    out
}

/// `product 'P-1'` or `variant 'S' of product 'P-1'`.
fn whose(doc: &Document, owner: Option<&str>) -> String {
    match owner {
        Some(v) => format!("variant '{v}' of {} '{}'", doc.entity.as_str(), doc.key),
        None => format!("{} '{}'", doc.entity.as_str(), doc.key),
    }
}

fn error(rule: &Rule, message: String, help: impl Into<String>) -> Diagnostic {
    Diagnostic::error(rule.code(), format!("rule {}: {message}", rule.name())).help(help)
}

fn check_rule(doc: &Document, rule: &Rule, limits: &Limits, out: &mut Vec<Diagnostic>) {
    match *rule {
        Rule::VariantsByOptions => variants_by_options(doc, rule, out),
        Rule::VariantCount => {
            let n = doc.variants.len();
            if doc.entity == Entity::Product && n > limits.variants {
                out.push(error(
                    rule,
                    format!(
                        "product '{}' has {n} variants; the target allows at most {}",
                        doc.key, limits.variants
                    ),
                    "split the product, or filter its variants (`variants.filter`)",
                ));
            }
        }
        Rule::OptionValues { max } => {
            for name in &doc.options {
                let distinct: HashSet<&str> = doc
                    .variants
                    .iter()
                    .flat_map(|v| v.options.iter())
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                if distinct.len() > max {
                    out.push(error(
                        rule,
                        format!(
                            "option '{name}' of product '{}' has {} values; the target allows at most {max}",
                            doc.key,
                            distinct.len()
                        ),
                        "map fewer values to the option, or split the product",
                    ));
                }
            }
        }
        Rule::Required { on, field } => required(doc, rule, on, field, out),
        Rule::Decimal {
            on,
            field,
            min,
            max,
            scale,
        } => {
            for f in values(doc, on, field) {
                if let Some(why) = decimal_problem(&f.text, min, max, scale) {
                    out.push(error(
                        rule,
                        format!(
                            "`{}` of {} is {}: {why}",
                            f.field,
                            whose(doc, f.owner),
                            f.text
                        ),
                        decimal_help(min, max, scale),
                    ));
                }
            }
        }
        Rule::Format { on, field, format } => {
            for f in values(doc, on, field) {
                if let Some(why) = format_problem(&f.text, format) {
                    out.push(error(
                        rule,
                        format!(
                            "`{}` of {} is '{}': {why}",
                            f.field,
                            whose(doc, f.owner),
                            f.text
                        ),
                        match format {
                            Format::Handle => "use lower-case letters, digits, `-` and `_` (a `| lower` transform and a template that replaces spaces help)",
                            Format::UrlPath => "give a path such as `/blue-shirt/`: it starts with `/`, has no spaces, at most 255 characters",
                        },
                    ));
                }
            }
        }
        Rule::MaxLength { on, field, max } => {
            for f in values(doc, on, field) {
                let n = match f.value {
                    Value::String(s) => s.chars().count(),
                    _ => f.text.chars().count(),
                };
                if n > max {
                    out.push(error(
                        rule,
                        format!(
                            "`{}` of {} has {n} characters; the target takes at most {max}",
                            f.field,
                            whose(doc, f.owner)
                        ),
                        format!("shorten the value in the source, or map a shorter field (a template can cut it: `{{{{ X | truncate({max}) }}}}`)"),
                    ));
                }
            }
        }
        Rule::Unique {
            on,
            field,
            scope: Scope::Product,
            ignore_case,
            ..
        } => {
            let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            let found = values(doc, on, field);
            for f in &found {
                let text = if ignore_case {
                    f.text.to_lowercase()
                } else {
                    f.text.clone()
                };
                seen.entry(text).or_default().push(f.owner.unwrap_or(""));
            }
            for (value, owners) in seen {
                if owners.len() > 1 {
                    out.push(error(
                        rule,
                        format!(
                            "`{field}` '{value}' is given to {} {}s of {} '{}' ({})",
                            owners.len(),
                            on.as_str(),
                            doc.entity.as_str(),
                            doc.key,
                            owners
                                .iter()
                                .map(|o| format!("'{o}'"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        format!("give each {} its own `{field}` in the source", on.as_str()),
                    ));
                }
            }
        }
        Rule::ImageBytes { max } => {
            for (n, img) in doc.images.iter().enumerate() {
                if img.kind != ImageKind::Embedded {
                    continue;
                }
                // Base64 holds 3 bytes in 4 characters: most files are
                // measured without decoding them again.
                if img.src.len().div_ceil(4) * 3 <= max {
                    continue;
                }
                // Undecodable data is `record::image-data`'s.
                let Ok(bytes) = mapsync_core::image::decode(&img.src) else {
                    continue;
                };
                if bytes.len() > max {
                    out.push(error(
                        rule,
                        format!(
                            "image {} of {} '{}' is embedded data of {} bytes; the target takes files of at most {max} bytes",
                            n + 1,
                            doc.entity.as_str(),
                            doc.key,
                            bytes.len()
                        ),
                        "embed a smaller file (scale or compress it), or give the image by URL",
                    ));
                }
            }
        }
        Rule::MetafieldLength { max } => {
            let variants = doc
                .variants
                .iter()
                .flat_map(|v| v.metafields.iter().map(move |m| (Some(v.key.as_str()), m)));
            for (owner, m) in doc.metafields.iter().map(|m| (None, m)).chain(variants) {
                let n = m.value.chars().count();
                if n > max {
                    out.push(error(
                        rule,
                        format!(
                            "metafield `{}.{}` of {} has {n} characters; the target takes at most {max}",
                            m.namespace,
                            m.key,
                            whose(doc, owner)
                        ),
                        "shorten the value in the source, or split it over several metafields",
                    ));
                }
            }
        }
        // Compared across the run by `reconcile` (see `unique_values`).
        Rule::Unique {
            scope: Scope::Run, ..
        } => {}
        Rule::Family {
            on,
            prefix,
            max_count,
            max_name,
        } => {
            let family = format!("{prefix}*");
            let members = values(doc, on, &family);
            if members.len() > max_count {
                out.push(error(
                    rule,
                    format!(
                        "{} has {} `{family}` fields; the target takes at most {max_count}",
                        whose(doc, None),
                        members.len()
                    ),
                    format!("map at most {max_count} `{family}` fields (metafields can hold the others)"),
                ));
            }
            for f in &members {
                let name = f.field.strip_prefix(prefix).unwrap_or(f.field);
                if name.chars().count() > max_name {
                    out.push(error(
                        rule,
                        format!(
                            "the name of `{}` has {} characters; the target takes at most {max_name}",
                            f.field,
                            name.chars().count()
                        ),
                        "shorten the name in the mapping's key",
                    ));
                }
            }
        }
        Rule::Quantity { min, max } => {
            for v in &doc.variants {
                for (loc, q) in &v.quantities {
                    if *q < min || *q > max {
                        out.push(error(
                            rule,
                            format!(
                                "`Quantity_{loc}` of {} is {q}; the target takes {min} to {max}",
                                whose(doc, Some(&v.key))
                            ),
                            "fix the stock value in the source",
                        ));
                    }
                }
            }
        }
        // Checked value by value while the record compiles
        // (`record::metafield-value`, with the mapping's line).
        Rule::MetafieldValues => {}
        Rule::ImageSources => {
            for (n, img) in doc.images.iter().enumerate() {
                if img.kind == ImageKind::Embedded {
                    continue;
                }
                if !is_absolute_http(&img.src) {
                    out.push(error(
                        rule,
                        format!(
                            "image {} of {} '{}' is '{}', not an absolute http(s) URL",
                            n + 1,
                            doc.entity.as_str(),
                            doc.key,
                            short(&img.src)
                        ),
                        "give images as `https://...` URLs, or embed the file (`kind: embedded`, base64 data)",
                    ));
                }
            }
        }
    }
}

fn variants_by_options(doc: &Document, rule: &Rule, out: &mut Vec<Diagnostic>) {
    if doc.entity != Entity::Product || doc.variants.len() < 2 {
        return;
    }
    if doc.options.is_empty() {
        out.push(error(
            rule,
            format!(
                "product '{}' has {} variants but no option; the target tells variants apart by their option values and would refuse the product",
                doc.key,
                doc.variants.len()
            ),
            "map an option in `variants.map` (e.g. `Option|Size: Size`), or give the product a single variant",
        ));
        return;
    }
    let mut seen: HashMap<Vec<&str>, &str> = HashMap::new();
    for v in &doc.variants {
        let combo: Vec<&str> = v.options.iter().map(|(_, x)| x.as_str()).collect();
        if let Some(first) = seen.get(&combo) {
            let shown = v
                .options
                .iter()
                .map(|(n, x)| format!("{n}: {x}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(error(
                rule,
                format!(
                    "variants '{first}' and '{}' of product '{}' have the same option values ({shown}); the target could not tell them apart",
                    v.key, doc.key
                ),
                "map another option that tells them apart, or fix the option values in the source",
            ));
        } else {
            seen.insert(combo, v.key.as_str());
        }
    }
}

fn required(doc: &Document, rule: &Rule, on: On, field: &str, out: &mut Vec<Diagnostic>) {
    if !applies(doc, on) {
        return;
    }
    let missing: Vec<&str> = match on {
        On::Variant => doc
            .variants
            .iter()
            .filter(|v| !v.fields.contains_key(field))
            .map(|v| v.key.as_str())
            .collect(),
        _ if doc.fields.contains_key(field) => return,
        _ => vec![""],
    };
    for owner in missing {
        let who = whose(doc, (!owner.is_empty()).then_some(owner));
        out.push(error(
            rule,
            format!("{who} has no `{field}`, which the target requires"),
            format!(
                "map `{field}` in the {} entity (a `default:` covers records without it)",
                on.as_str()
            ),
        ));
    }
}

fn decimal_problem(
    text: &str,
    min: Option<i64>,
    max: Option<i64>,
    scale: Option<u8>,
) -> Option<String> {
    let Ok(x) = text.parse::<f64>() else {
        return Some("not a decimal number".into());
    };
    if let Some(m) = min {
        if x < m as f64 {
            return Some(format!("below {m}"));
        }
    }
    if let Some(m) = max {
        if x > m as f64 {
            return Some(format!("above {m}"));
        }
    }
    if let Some(s) = scale {
        let digits = text.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
        if digits > s as usize {
            return Some(format!("{digits} decimals, more than {s}"));
        }
    }
    None
}

fn decimal_help(min: Option<i64>, max: Option<i64>, scale: Option<u8>) -> String {
    let mut parts = Vec::new();
    match (min, max) {
        (Some(a), Some(b)) => parts.push(format!("between {a} and {b}")),
        (Some(a), None) => parts.push(format!("at least {a}")),
        (None, Some(b)) => parts.push(format!("at most {b}")),
        (None, None) => {}
    }
    if let Some(s) = scale {
        parts.push(format!("with at most {s} decimals"));
    }
    format!(
        "the target takes numbers {}; fix the value in the source",
        parts.join(", ")
    )
}

fn format_problem(text: &str, format: Format) -> Option<&'static str> {
    match format {
        Format::Handle => {
            if text.chars().count() > 255 {
                Some("longer than 255 characters")
            } else if !text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                Some("a handle has only lower-case letters, digits, `-` and `_`")
            } else if text.chars().all(|c| c == '-') {
                Some("a handle is not only dashes")
            } else {
                None
            }
        }
        Format::UrlPath => {
            if !text.starts_with('/') {
                Some("a URL path starts with `/`")
            } else if text.len() > 255 {
                Some("longer than 255 characters")
            } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Some("a URL path has no spaces")
            } else {
                None
            }
        }
    }
}

/// `http://host...` or `https://host...` (any case), with a host.
pub fn is_absolute_http(src: &str) -> bool {
    let s = src.trim();
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace())
}

fn short(s: &str) -> String {
    if s.chars().count() > 60 {
        let t: String = s.chars().take(57).collect();
        format!("{t}...")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_core::document::{Image, VariantDoc};

    /// A variant: key, option values, fields.
    type V<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)]);

    fn product(variants: &[V<'_>]) -> Document {
        Document {
            entity: Entity::Product,
            key: "P".into(),
            fields: BTreeMap::new(),
            metafields: Vec::new(),
            metafield_descriptions: Vec::new(),
            images: Vec::new(),
            options: variants
                .first()
                .map(|(_, o, _)| o.iter().map(|(n, _)| n.to_string()).collect())
                .unwrap_or_default(),
            variants: variants
                .iter()
                .map(|(k, o, f)| VariantDoc {
                    key: k.to_string(),
                    fields: f
                        .iter()
                        .map(|(n, v)| (n.to_string(), Value::String(v.to_string())))
                        .collect(),
                    options: o
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    quantities: BTreeMap::new(),
                    metafields: Vec::new(),
                })
                .collect(),
            categories: Vec::new(),
        }
    }

    fn codes_of(d: &[Diagnostic]) -> Vec<&str> {
        d.iter().map(|d| d.code.name).collect()
    }

    #[test]
    fn variants_without_options_are_refused() {
        let doc = product(&[("A", &[], &[]), ("B", &[], &[])]);
        let d = check(&doc, &[Rule::VariantsByOptions], &Limits::UNLIMITED);
        assert_eq!(codes_of(&d), ["preflight::variants-by-options"]);
        let one = product(&[("A", &[], &[])]);
        assert!(check(&one, &[Rule::VariantsByOptions], &Limits::UNLIMITED).is_empty());
        let same = product(&[("A", &[("Size", "S")], &[]), ("B", &[("Size", "S")], &[])]);
        let d = check(&same, &[Rule::VariantsByOptions], &Limits::UNLIMITED);
        assert!(d[0].message.contains("'A' and 'B'"), "{}", d[0].message);
    }

    #[test]
    fn decimals_formats_and_uniques() {
        let doc = product(&[
            ("A", &[("S", "1")], &[("price", "-1"), ("sku", "X")]),
            ("B", &[("S", "2")], &[("price", "1.123"), ("sku", "X")]),
        ]);
        let rules = [
            Rule::Decimal {
                on: On::Variant,
                field: "price",
                min: Some(0),
                max: None,
                scale: Some(2),
            },
            Rule::Unique {
                on: On::Variant,
                field: "sku",
                scope: Scope::Product,
                ignore_case: false,
                within: None,
            },
            Rule::Required {
                on: On::Product,
                field: "name",
            },
        ];
        let d = check(&doc, &rules, &Limits::UNLIMITED);
        assert_eq!(
            codes_of(&d),
            [
                "preflight::decimal",
                "preflight::decimal",
                "preflight::unique-in-product",
                "preflight::required"
            ]
        );
        let run = [Rule::Unique {
            on: On::Variant,
            field: "sku",
            scope: Scope::Run,
            ignore_case: false,
            within: None,
        }];
        assert_eq!(
            unique_values(&doc, &run),
            [("variant.sku".to_string(), "X".to_string())]
        );
    }

    #[test]
    fn families_scopes_and_image_sizes() {
        let mut doc = product(&[]);
        for i in 0..3 {
            doc.fields
                .insert(format!("custom_fields.F{i}"), Value::String("x".into()));
        }
        doc.fields
            .insert("custom_fields.".to_string() + &"L".repeat(9), "y".into());
        let family = Rule::Family {
            on: On::Product,
            prefix: "custom_fields.",
            max_count: 3,
            max_name: 8,
        };
        let d = check(&doc, &[family], &Limits::UNLIMITED);
        // Four members (one too many), one name too long.
        assert_eq!(codes_of(&d), ["preflight::family", "preflight::family"]);
        let long = Rule::MaxLength {
            on: On::Product,
            field: "custom_fields.*",
            max: 0,
        };
        assert_eq!(check(&doc, &[long], &Limits::UNLIMITED).len(), 4);

        let mut cat = product(&[]);
        cat.entity = Entity::Category;
        cat.fields.insert("name".into(), "Shirts".into());
        cat.fields.insert("parent".into(), "C-1".into());
        let scoped = Rule::Unique {
            on: On::Category,
            field: "name",
            scope: Scope::Run,
            ignore_case: true,
            within: Some("parent"),
        };
        assert_eq!(
            unique_values(&cat, &[scoped]),
            [(
                "category.name".to_string(),
                "shirts (under 'C-1')".to_string()
            )]
        );

        let mut img = product(&[]);
        img.images.push(Image {
            kind: ImageKind::Embedded,
            // 12 bytes.
            src: "iVBORw0KGgoAAAAA".into(),
            alt: None,
            variant: None,
        });
        let size = |max| check(&img, &[Rule::ImageBytes { max }], &Limits::UNLIMITED);
        assert_eq!(codes_of(&size(11)), ["preflight::image-size"]);
        assert!(size(12).is_empty());
    }

    #[test]
    fn handles_urls_and_images() {
        assert!(format_problem("blue-shirt_2", Format::Handle).is_none());
        assert!(format_problem("Blue Shirt", Format::Handle).is_some());
        assert!(format_problem("/blue/", Format::UrlPath).is_none());
        assert!(format_problem("blue", Format::UrlPath).is_some());
        assert!(is_absolute_http("HTTPS://cdn.example/a.png"));
        assert!(!is_absolute_http("/img/a.png"));
        assert!(!is_absolute_http("ftp://x/a.png"));
        assert!(!is_absolute_http("https:///a.png"));
        let mut doc = product(&[]);
        doc.images.push(Image {
            kind: ImageKind::Url,
            src: "images/a.png".into(),
            alt: None,
            variant: None,
        });
        let d = check(&doc, &[Rule::ImageSources], &Limits::UNLIMITED);
        assert_eq!(codes_of(&d), ["preflight::image-sources"]);
    }
}
