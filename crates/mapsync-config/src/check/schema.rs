//! Structural validation against the shipped JSON Schemas (with the
//! `jsonschema` crate). Every schema error becomes a diagnostic pointing at
//! the node it concerns; unknown keys get a "did you mean".

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::schema::Which;
use crate::yaml::{Kind, Node};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};

fn compiled(which: Which) -> Option<&'static (Value, jsonschema::Validator)> {
    static PROJECT: OnceLock<Option<(Value, jsonschema::Validator)>> = OnceLock::new();
    static MAPPING: OnceLock<Option<(Value, jsonschema::Validator)>> = OnceLock::new();
    let cell = match which {
        Which::Project => &PROJECT,
        Which::Mapping => &MAPPING,
    };
    cell.get_or_init(|| {
        let schema: Value = serde_json::from_str(crate::schema::text(which)).ok()?;
        let validator = jsonschema::validator_for(&schema).ok()?;
        Some((schema, validator))
    })
    .as_ref()
}

/// Validate one file's root node against a schema.
pub fn validate(which: Which, root: &Node, diags: &mut Diagnostics) {
    let Some((schema, validator)) = compiled(which) else {
        diags.push(Diagnostic::error(
            codes::INTERNAL,
            "the embedded JSON Schema does not compile (a bug in mapsync)",
        ));
        return;
    };
    validate_against(schema, validator, root, "", diags);
}

/// Validate a connector's options (the node of a profile's `source:` or
/// `target:`, named `prefix` in messages, e.g. `profiles.demo.target`)
/// against the options schema the connector declares.
pub fn validate_options(
    schema_text: &'static str,
    node: &Node,
    prefix: &str,
    diags: &mut Diagnostics,
) {
    type Compiled = std::sync::Arc<(Value, jsonschema::Validator)>;
    static CACHE: OnceLock<std::sync::Mutex<Vec<(usize, Compiled)>>> = OnceLock::new();
    let key = schema_text.as_ptr() as usize;
    let cache = CACHE.get_or_init(Default::default);
    let found = {
        let guard = cache.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c.clone())
    };
    let compiled = match found {
        Some(c) => c,
        None => {
            let built = serde_json::from_str::<Value>(schema_text)
                .ok()
                .and_then(|v| jsonschema::validator_for(&v).ok().map(|c| (v, c)));
            let Some(built) = built else {
                diags.push(Diagnostic::error(
                    codes::INTERNAL,
                    format!("the options schema of `{prefix}`'s connector does not compile (a bug in mapsync)"),
                ));
                return;
            };
            let c = std::sync::Arc::new(built);
            let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
            guard.push((key, c.clone()));
            c
        }
    };
    validate_against(&compiled.0, &compiled.1, node, prefix, diags);
}

/// Every error of `validator` on `root` as a diagnostic pointing at the
/// node it concerns; paths in messages start with `prefix`.
fn validate_against(
    schema: &Value,
    validator: &jsonschema::Validator,
    root: &Node,
    prefix: &str,
    diags: &mut Diagnostics,
) {
    let instance = root.to_json();
    let mut seen = std::collections::HashSet::new();
    for err in validator.iter_errors(&instance) {
        let segments: Vec<String> = err
            .instance_path
            .as_str()
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let node = find(root, &segments);
        let at = std::iter::once(prefix)
            .filter(|p| !p.is_empty())
            .chain(segments.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(".");
        let where_ = if at.is_empty() {
            "the file".to_string()
        } else {
            format!("`{at}`")
        };
        let d = match &err.kind {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let allowed = properties_at(schema, &segments);
                    let key_node = node.and_then(|n| n.entry(key)).map(|(k, _)| k);
                    let mut d = Diagnostic::error(
                        codes::SCHEMA_UNKNOWN_KEY,
                        format!("unknown key `{key}` in {where_}"),
                    )
                    .at_opt(key_node.and_then(Node::loc))
                    .label("not a known key");
                    let suggestion = super::suggest(key, allowed.iter().map(String::as_str));
                    d = match suggestion {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None if !allowed.is_empty() => {
                            d.help(format!("known keys here: {}", allowed.join(", ")))
                        }
                        None => d,
                    };
                    if seen.insert((d.code.name, d.message.clone())) {
                        diags.push(d);
                    }
                }
                continue;
            }
            ValidationErrorKind::Required { property } => Diagnostic::error(
                codes::SCHEMA_REQUIRED,
                format!(
                    "{where_} needs the key `{}`",
                    property.as_str().unwrap_or_default()
                ),
            )
            .label("missing a required key")
            .help(required_help(property.as_str().unwrap_or_default())),
            ValidationErrorKind::Type { .. } => {
                let expected = expected_type(schema, &segments);
                Diagnostic::error(
                    codes::SCHEMA_TYPE,
                    format!(
                        "{where_} is {}, but it must be {expected}",
                        node.map(Node::kind_name).unwrap_or("a value")
                    ),
                )
                .label(format!("expected {expected}"))
                .help(description_at(schema, &segments).unwrap_or_else(|| {
                    format!("write {expected} here; `mapsync schema` prints the whole format")
                }))
            }
            ValidationErrorKind::Enum { options } => Diagnostic::error(
                codes::SCHEMA_ENUM,
                format!("{} is not allowed in {where_}", show(&err.instance)),
            )
            .label("not one of the allowed values")
            .help(enum_help(&err.instance, options)),
            ValidationErrorKind::Constant { expected_value } => Diagnostic::error(
                codes::SCHEMA_VERSION,
                format!(
                    "{where_} is {}, but this mapsync reads version {expected_value}",
                    show(&err.instance)
                ),
            )
            .label("unsupported version")
            .help(format!("write `mapsync: {expected_value}`")),
            ValidationErrorKind::Pattern { .. } => Diagnostic::error(
                codes::SCHEMA_FORMAT,
                format!("{} is not a valid value for {where_}", show(&err.instance)),
            )
            .label("wrong format")
            .help(
                description_at(schema, &segments)
                    .unwrap_or_else(|| "see `mapsync schema` for the expected format".into()),
            ),
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
                codes::SCHEMA_RANGE,
                format!(
                    "{} is out of range for {where_} (limit {limit})",
                    show(&err.instance)
                ),
            )
            .label("out of range")
            .help(description_at(schema, &segments).unwrap_or_default()),
            ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MaxLength { .. } => {
                Diagnostic::error(
                    codes::SCHEMA_RANGE,
                    format!("{} has the wrong length for {where_}", show(&err.instance)),
                )
                .label("wrong length")
                .help(description_at(schema, &segments).unwrap_or_default())
            }
            ValidationErrorKind::AnyOf { .. }
                if node.and_then(Node::as_map).is_some()
                    && segments.last().map(String::as_str) == Some("match") =>
            {
                Diagnostic::error(
                    codes::SCHEMA_TYPE,
                    format!("{where_} is neither a source path nor `{{ source, target }}`"),
                )
                .label("a path, or a mapping with `source` and `target`")
                .help("write `match: Sku` (the field `map:` maps Sku to) or `match: { source: Sku, target: sku }`")
            }
            ValidationErrorKind::AnyOf { .. } if node.and_then(Node::as_map).is_some() => {
                let keys = properties_at(schema, &segments);
                Diagnostic::error(
                    codes::SCHEMA_TYPE,
                    format!("{where_} is not a valid long-form value"),
                )
                .label("unknown key or bad value inside")
                .help(format!(
                    "the long form takes {}; `transform` items are trim, lower, upper or split(\"SEP\")",
                    keys.join(", ")
                ))
            }
            ValidationErrorKind::AnyOf { .. } => {
                let expected = expected_type(schema, &segments);
                Diagnostic::error(
                    codes::SCHEMA_TYPE,
                    format!(
                        "{where_} is {}, but it must be {expected}",
                        node.map(Node::kind_name).unwrap_or("a value")
                    ),
                )
                .label(format!("expected {expected}"))
                .help(description_at(schema, &segments).unwrap_or_default())
            }
            ValidationErrorKind::OneOfNotValid { .. }
            | ValidationErrorKind::OneOfMultipleValid { .. } => Diagnostic::error(
                codes::SCHEMA_ONE_OF,
                format!("{where_} must have exactly one of its alternatives"),
            )
            .label("ambiguous or incomplete")
            .help(description_at(schema, &segments).unwrap_or_default()),
            ValidationErrorKind::PropertyNames { .. } => Diagnostic::error(
                codes::SCHEMA_FORMAT,
                format!("a key in {where_} has a name that is not allowed"),
            )
            .label("bad name")
            .help("use letters, digits, `_` and `-` only"),
            _ => Diagnostic::error(codes::SCHEMA_OTHER, format!("{where_}: {err}")),
        };
        let d = if d.location.is_none() {
            d.at_opt(node.and_then(Node::loc))
        } else {
            d
        };
        let d = match &d.help {
            Some(h) if h.is_empty() => Diagnostic { help: None, ..d },
            _ => d,
        };
        if seen.insert((d.code.name, d.message.clone())) {
            diags.push(d);
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn required_help(key: &str) -> String {
    match key {
        "mapsync" => "start the file with `mapsync: 1`".into(),
        "from" => "say where the value comes from, e.g. `from: Images`".into(),
        _ => format!("add `{key}: ...`"),
    }
}

fn enum_help(value: &Value, options: &Value) -> String {
    let opts: Vec<String> = options
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    o.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| o.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(s) = value
        .as_str()
        .and_then(|v| super::suggest(v, opts.iter().map(String::as_str)))
    {
        return format!("did you mean `{s}`? allowed: {}", opts.join(", "));
    }
    format!("allowed: {}", opts.join(", "))
}

/// The node at a JSON-pointer-like path of keys and indexes.
pub fn find<'a>(root: &'a Node, segments: &[String]) -> Option<&'a Node> {
    let mut cur = root;
    for seg in segments {
        cur = match &cur.kind {
            Kind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.scalar_text().as_deref() == Some(seg.as_str()))
                .map(|(_, v)| v)?,
            Kind::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(name) = r.strip_prefix("#/$defs/") else {
            break;
        };
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(next) => s = next,
            None => break,
        }
    }
    s
}

/// The sub-schemas that apply at an instance path (following `$ref`,
/// `properties`, `additionalProperties`, `items` and object branches of
/// `anyOf`).
fn schemas_at<'a>(root: &'a Value, segments: &[String]) -> Vec<&'a Value> {
    let mut cur = vec![resolve(root, root)];
    for seg in segments {
        let mut next = Vec::new();
        for s in cur {
            let mut candidates = vec![s];
            if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
                candidates.extend(any.iter().map(|b| resolve(root, b)));
            }
            for c in candidates {
                if let Some(p) = c.get("properties").and_then(|p| p.get(seg)) {
                    next.push(resolve(root, p));
                } else if let Some(a) = c.get("additionalProperties").filter(|a| a.is_object()) {
                    next.push(resolve(root, a));
                } else if let Some(i) = c.get("items") {
                    if seg.parse::<usize>().is_ok() {
                        next.push(resolve(root, i));
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

/// The property names a schema allows at an instance path.
pub fn properties_at(root: &Value, segments: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in schemas_at(root, segments) {
        let mut candidates = vec![s];
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            candidates.extend(any.iter().map(|b| resolve(root, b)));
        }
        for c in candidates {
            if let Some(props) = c.get("properties").and_then(Value::as_object) {
                out.extend(props.keys().cloned());
            }
        }
    }
    out.dedup();
    out
}

fn description_at(root: &Value, segments: &[String]) -> Option<String> {
    let schemas = schemas_at(root, segments);
    schemas
        .iter()
        .find_map(|s| s.get("description").and_then(Value::as_str))
        .map(str::to_string)
}

fn expected_type(root: &Value, segments: &[String]) -> String {
    let mut names = Vec::new();
    for s in schemas_at(root, segments) {
        let mut branches = vec![s];
        if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
            branches = any.iter().map(|b| resolve(root, b)).collect();
        }
        for b in branches {
            match b.get("type") {
                Some(Value::String(t)) => names.push(type_word(t)),
                Some(Value::Array(ts)) => {
                    names.extend(ts.iter().filter_map(Value::as_str).map(type_word))
                }
                _ if b.get("enum").is_some() => names.push("one of the allowed words"),
                _ => {}
            }
        }
    }
    names.dedup();
    match names.as_slice() {
        [] => "something else".into(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn type_word(t: &str) -> &'static str {
    match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        _ => "a value",
    }
}
