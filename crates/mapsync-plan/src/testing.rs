//! Mapping unit tests (`tests:` of a mapping set, run by `mapsync test`):
//! each test's `input` record is compiled and its `expect` compared as a
//! *subset* of the document's JSON view ([`document_view`], described in
//! docs/mapping-tests.md). Returns one [`TestOutcome`] per test with
//! readable differences. No I/O, no printing: rendering is the CLI's.

use serde_json::{Map, Value};

use mapsync_config::check::model::{Entity, MappingSet, TestCase};
use mapsync_core::diag::{Diagnostic, Severity};

use super::compile::{normalize_decimal, Compiler};
use super::document::Document;

/// The result of one mapping test.
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// Its entity.
    pub entity: Entity,
    /// Whether the document matched `expect`.
    pub passed: bool,
    /// What differed, one line each (`variants[0].price: expected "10", got "12"`).
    pub differences: Vec<String>,
    /// Diagnostics of the compiled input (errors make the test fail).
    pub diagnostics: Vec<Diagnostic>,
    /// The document's JSON view, when the input compiled.
    pub actual: Option<Value>,
}

/// Run every test of `set`, in order.
pub fn run_tests(set: &MappingSet) -> Vec<TestOutcome> {
    let cat = Compiler::new(set, Entity::Category).ok();
    let prod = Compiler::new(set, Entity::Product).ok();
    set.tests
        .iter()
        .map(|t| {
            let compiler = match t.entity {
                Entity::Category => cat.as_ref(),
                Entity::Product => prod.as_ref(),
            };
            let mut out = run_one(t, compiler);
            if let (Some(tw), Some(c)) = (&t.two_way, compiler) {
                two_way_expectations(set, t, tw, c, &mut out);
            }
            out
        })
        .collect()
}

/// `two_way:` of a test: the compiled record's two-way fields classified
/// against the values last synced (`synced`) and the target's (`target`,
/// else as synced), with the target's comparison rules, and each field's
/// action compared with `expect` (docs/mapping-tests.md).
fn two_way_expectations(
    set: &MappingSet,
    t: &TestCase,
    tw: &Value,
    compiler: &Compiler<'_>,
    out: &mut TestOutcome,
) {
    use mapsync_core::current::{Current, CurrentMetafield, Native};
    use mapsync_core::diff::{field_hash, field_key, FieldHashes};
    use mapsync_core::two_way::Side;
    let Some(entity) = (match t.entity {
        Entity::Category => set.category.as_ref(),
        Entity::Product => set.product.as_ref(),
    }) else {
        return;
    };
    let empty = Map::new();
    let input = t.input.as_object().unwrap_or(&empty);
    let Ok(compiled) = compiler.compile(input) else {
        return; // the input's errors are reported already
    };
    let object = |name: &str| tw.get(name).and_then(Value::as_object);
    let synced: FieldHashes = object("synced")
        .into_iter()
        .flatten()
        .map(|(path, v)| (field_key(path), field_hash(v)))
        .collect();
    let current = object("target").map(|fields| {
        let mut c = Current {
            entity: t.entity,
            id: "test".into(),
            marker: None,
            fields: Default::default(),
            metafields: Vec::new(),
            images: Vec::new(),
            variants: Vec::new(),
            categories: Vec::new(),
            native: Native::new(()),
        };
        for (path, v) in fields {
            let metafield = path
                .strip_prefix("metafields[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.split_once('.'));
            match metafield {
                Some((namespace, key)) => c.metafields.push(CurrentMetafield {
                    namespace: namespace.into(),
                    key: key.into(),
                    value: match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                }),
                None => {
                    c.fields.insert(path.clone(), v.clone());
                }
            }
        }
        c
    });
    let resolved: std::collections::BTreeMap<String, Side> = object("resolved")
        .into_iter()
        .flatten()
        .filter_map(|(path, v)| Some((path.clone(), Side::parse(v.as_str()?)?)))
        .collect();
    let specs = super::two_way::specs(entity);
    let newest = super::two_way::newest_side(
        compiled.control.updated_at.as_deref(),
        tw.get("target_updated_at").and_then(Value::as_str),
    );
    let policies = super::two_way::policies(&specs, newest, &resolved);
    let mut found = mapsync_core::diff::two_way(
        &compiled.document,
        current.as_ref(),
        &set.compare,
        &synced,
        &policies,
    );
    super::two_way::settle(&mut found, &synced);
    for (path, want) in object("expect").into_iter().flatten() {
        let want = want.as_str().unwrap_or_default();
        match found.iter().find(|f| &f.field == path) {
            Some(f) => {
                let got = serde_json::to_value(f.action).unwrap_or_default();
                if got.as_str() != Some(want) {
                    out.differences.push(format!(
                        "two_way.{path}: expected {want}, got {} ({}: source {}, target {})",
                        got.as_str().unwrap_or_default(),
                        serde_json::to_value(f.state)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        f.source,
                        if current.is_some() {
                            f.target.to_string()
                        } else {
                            "as synced".to_string()
                        }
                    ));
                }
            }
            None if specs.iter().any(|s| &s.path == path) => out.differences.push(format!(
                "two_way.{path}: expected {want}, but the field cannot be classified (give its value in `synced`, or the target's in `target`)"
            )),
            None => out.differences.push(format!(
                "two_way.{path}: not a two-way field of `{}` (two-way fields: {})",
                t.entity.as_str(),
                specs
                    .iter()
                    .map(|s| s.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    out.passed = out.differences.is_empty() && out.actual.is_some();
}

fn run_one(t: &TestCase, compiler: Option<&Compiler<'_>>) -> TestOutcome {
    let mut out = TestOutcome {
        name: t.name.clone(),
        entity: t.entity,
        passed: false,
        differences: Vec::new(),
        diagnostics: Vec::new(),
        actual: None,
    };
    let Some(compiler) = compiler else {
        out.differences.push(format!(
            "the mapping set does not map `{}`",
            t.entity.as_str()
        ));
        return out;
    };
    let empty = Map::new();
    let input = match &t.input {
        Value::Object(m) => m,
        Value::Null => &empty,
        other => {
            out.differences
                .push(format!("`input` must be a mapping of fields, not {other}"));
            return out;
        }
    };
    match compiler.compile(input) {
        Ok(c) => {
            let view = document_view(&c.document);
            out.differences = subset_differences(&t.expect, &view);
            out.passed = out.differences.is_empty();
            out.diagnostics = c.warnings;
            out.actual = Some(view);
        }
        Err(diags) => {
            for d in diags.iter().filter(|d| d.severity == Severity::Error) {
                out.differences.push(format!(
                    "the input is invalid: {} [{}]",
                    d.message, d.code.name
                ));
            }
            out.diagnostics = diags;
        }
    }
    out
}

/// The JSON view of a document that `expect` is compared with:
/// plain fields at top level by dotted name (`title`, `seo.title`), then
/// `key`, `options` (names), `variants` (each: `key`, its fields,
/// `options: {Name: Value}`, `quantities: {LOC: n}`,
/// `metafields: {namespace: {key: value}}`), `images` (`kind`, `src`,
/// `alt`, `variant`), `categories`, `metafields: {namespace: {key: value}}`
/// and `metafield_descriptions: {namespace: {key: text}}`.
pub fn document_view(doc: &Document) -> Value {
    let mut m = Map::new();
    for (k, v) in &doc.fields {
        m.insert(k.clone(), v.clone());
    }
    m.insert("key".into(), Value::String(doc.key.clone()));
    m.insert(
        "options".into(),
        Value::Array(doc.options.iter().cloned().map(Value::String).collect()),
    );
    let variants = doc
        .variants
        .iter()
        .map(|v| {
            let mut vm = Map::new();
            for (k, val) in &v.fields {
                vm.insert(k.clone(), val.clone());
            }
            vm.insert("key".into(), Value::String(v.key.clone()));
            vm.insert(
                "options".into(),
                Value::Object(
                    v.options
                        .iter()
                        .map(|(n, val)| (n.clone(), Value::String(val.clone())))
                        .collect(),
                ),
            );
            vm.insert(
                "quantities".into(),
                Value::Object(
                    v.quantities
                        .iter()
                        .map(|(l, q)| (l.clone(), Value::from(*q)))
                        .collect(),
                ),
            );
            vm.insert(
                "metafields".into(),
                nested(
                    v.metafields
                        .iter()
                        .map(|mf| (&mf.namespace, &mf.key, &mf.value)),
                ),
            );
            Value::Object(vm)
        })
        .collect();
    m.insert("variants".into(), Value::Array(variants));
    m.insert(
        "images".into(),
        serde_json::to_value(&doc.images).unwrap_or(Value::Null),
    );
    m.insert(
        "categories".into(),
        Value::Array(doc.categories.iter().cloned().map(Value::String).collect()),
    );
    m.insert(
        "metafields".into(),
        nested(
            doc.metafields
                .iter()
                .map(|mf| (&mf.namespace, &mf.key, &mf.value)),
        ),
    );
    m.insert(
        "metafield_descriptions".into(),
        nested(
            doc.metafield_descriptions
                .iter()
                .map(|d| (&d.namespace, &d.key, &d.description)),
        ),
    );
    Value::Object(m)
}

fn nested<'a>(items: impl Iterator<Item = (&'a String, &'a String, &'a String)>) -> Value {
    let mut out = Map::new();
    for (ns, key, value) in items {
        let entry = out
            .entry(ns.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(inner) = entry {
            inner.insert(key.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(out)
}

/// Where `expected` is not a subset of `actual`, one line per difference.
///
/// Objects: every expected key must match (extra actual keys are fine;
/// an expected `null` matches a missing key). Lists: same length, each
/// element compared as a subset. Scalars: equal, or equal as text
/// (`10` matches `"10"`), or equal as decimals (`"19.90"` matches `"19.9"`).
pub fn subset_differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", expected, Some(actual), &mut out);
    out
}

fn diff(path: &str, exp: &Value, act: Option<&Value>, out: &mut Vec<String>) {
    let here = if path.is_empty() { "(document)" } else { path };
    match (exp, act) {
        (Value::Null, None) | (Value::Null, Some(Value::Null)) => {}
        (_, None) => out.push(format!("{here}: expected {exp}, but it is missing")),
        (Value::Object(e), Some(Value::Object(a))) => {
            for (k, ev) in e {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&p, ev, a.get(k), out);
            }
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{here}: expected {} item(s), got {}: {}",
                    e.len(),
                    a.len(),
                    Value::Array(a.clone())
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), ev, Some(av), out);
            }
        }
        (e, Some(a)) => {
            if !scalar_eq(e, a) {
                out.push(format!("{here}: expected {e}, got {a}"));
            }
        }
    }
}

fn scalar_eq(e: &Value, a: &Value) -> bool {
    if e == a {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (text(e), text(a)) {
        (Some(x), Some(y)) => {
            x == y
                || matches!(
                    (normalize_decimal(&x), normalize_decimal(&y)),
                    (Some(p), Some(q)) if p == q
                )
        }
        _ => false,
    }
}
