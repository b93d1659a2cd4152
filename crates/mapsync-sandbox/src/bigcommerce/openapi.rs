//! BigCommerce's published OpenAPI files as a checker: which routes exist,
//! and whether a request or an answer matches the schemas they give.
//!
//! The files (`testdata/bigcommerce/*.yml`, OpenAPI 3.0.3) are read with
//! `serde-saphyr` and parsed with `openapiv3` (the structure: paths,
//! methods, parameters, request bodies, responses); the schemas are
//! checked with `jsonschema` after the OpenAPI 3.0 dialect is turned into
//! JSON Schema (`nullable`, boolean `exclusiveMinimum`, `oneOf` read as
//! `anyOf`), each with the
//! `#/components/...` it refers to, transitively. Used by the sandbox's
//! fidelity test and, through [`Spec::bundled`], by the BigCommerce
//! client's tests to check every request it sends.
//!
//! Paths are given as the API sees them below `/stores/{hash}/v3`
//! (`/catalog/products/12/variants?page=2`); a full URL or a path with
//! that prefix is accepted too.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openapiv3::{OpenAPI, Parameter, ReferenceOr};
use serde_json::{json, Map, Value};

/// Where the crate keeps its copy of the files.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bigcommerce")
}

/// One operation of a file.
#[derive(Debug, Clone)]
struct Op {
    /// Index of the file.
    file: usize,
    /// Lower-case method.
    method: String,
    /// The path template as written (`/catalog/products/{product_id}`).
    template: String,
    segments: Vec<Segment>,
    /// Declared query parameters.
    query: Vec<QueryParam>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param,
}

#[derive(Debug, Clone)]
struct QueryParam {
    name: String,
    schema: Option<Value>,
}

struct File {
    name: String,
    /// The document as JSON, schemas already in JSON Schema's dialect.
    doc: Value,
}

/// The loaded files.
pub struct Spec {
    files: Vec<File>,
    ops: Vec<Op>,
    validators: Mutex<HashMap<(usize, String, bool), Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field(
                "files",
                &self.files.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .field("operations", &self.ops.len())
            .finish()
    }
}

/// A route as an operation of the files: its file and path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The file name (`products_catalog.v3.yml`).
    pub file: String,
    /// Upper-case method.
    pub method: String,
    /// The path template as written in the file.
    pub template: String,
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn segments_of(template: &str) -> Vec<Segment> {
    split(template)
        .into_iter()
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

/// The API path below `/stores/{hash}/v3` and the query of `path`.
fn api_path(path: &str) -> (String, String) {
    let mut p = path;
    if let Some(i) = p.find("://") {
        p = &p[i + 3..];
        p = p.find('/').map(|i| &p[i..]).unwrap_or("/");
    }
    let (p, q) = match p.split_once('?') {
        Some((p, q)) => (p, q),
        None => (p, ""),
    };
    let p = match p.find("/v3/") {
        Some(i) if p.starts_with("/stores/") => &p[i + 3..],
        _ => p,
    };
    (p.to_string(), q.to_string())
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Turn OpenAPI 3.0's schema dialect into JSON Schema (2020-12), in place.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("nullable") == Some(&Value::Bool(true)) {
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = m.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            for (kw, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(b)) = m.get(kw).cloned() {
                    m.remove(kw);
                    if b {
                        if let Some(n) = m.remove(bound) {
                            m.insert(kw.into(), n);
                        }
                    }
                }
            }
            // The files use `oneOf` for alternatives that are not
            // exclusive (an image answer "as JSON" or "as multipart", two
            // open objects any answer satisfies both of): read as `anyOf`.
            if let Some(alts) = m.remove("oneOf") {
                m.insert("anyOf".into(), alts);
            }
            // `required: true` on a schema is OpenAPI's habit of the
            // parameter object, not a JSON Schema keyword.
            if m.get("required").is_some_and(|r| !r.is_array()) {
                m.remove("required");
            }
            for (k, child) in m.iter_mut() {
                // Examples are data, not schemas.
                if k == "example" || k == "examples" || k.starts_with("x-") {
                    continue;
                }
                to_json_schema(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// Properties the files list as required that a request cannot carry:
/// BigCommerce gives them (ids of what the request creates). OpenAPI 3.0
/// says a required `readOnly` property is required in answers only; these
/// are not marked `readOnly` in the files, but are the same case.
const REQUEST_ERRATA: &[(&str, &[&str])] = &[("productVariant_Full", &["id", "product_id"])];

/// A schema (with its `components`) as it applies to a request: required
/// `readOnly` properties, and those of [`REQUEST_ERRATA`], are not required.
fn for_requests(root: &mut Value) {
    fn read_only_names(m: &Map<String, Value>) -> Vec<String> {
        let mut names = Vec::new();
        let mut scan = |props: Option<&Value>| {
            if let Some(Value::Object(p)) = props {
                for (k, v) in p {
                    if v.get("readOnly") == Some(&Value::Bool(true)) {
                        names.push(k.clone());
                    }
                }
            }
        };
        scan(m.get("properties"));
        if let Some(Value::Array(all)) = m.get("allOf") {
            for s in all {
                scan(s.get("properties"));
            }
        }
        names
    }
    fn walk(v: &mut Value, errata: &[String]) {
        match v {
            Value::Object(m) => {
                let mut drop = read_only_names(m);
                drop.extend(errata.iter().cloned());
                if let Some(Value::Array(req)) = m.get_mut("required") {
                    req.retain(|r| r.as_str().is_none_or(|r| !drop.iter().any(|d| d == r)));
                }
                for (_, child) in m.iter_mut() {
                    walk(child, &[]);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, &[])),
            _ => {}
        }
    }
    walk(root, &[]);
    for (schema, props) in REQUEST_ERRATA {
        let ptr = format!("/components/schemas/{schema}");
        if let Some(s) = root.pointer_mut(&ptr) {
            let errata: Vec<String> = props.iter().map(|p| p.to_string()).collect();
            walk(s, &errata);
        }
    }
}

/// `#/components/...` references in `v`.
fn refs_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.insert(r.clone());
            }
            for (k, child) in m {
                if k == "example" || k == "examples" {
                    continue;
                }
                refs_in(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| refs_in(c, out)),
        _ => {}
    }
}

impl Spec {
    /// The copy of the files this crate holds (`testdata/bigcommerce`).
    pub fn bundled() -> Result<Spec, String> {
        Spec::load_dir(&bundled_dir())
    }

    /// Every `*.yml` file of `dir`.
    pub fn load_dir(dir: &Path) -> Result<Spec, String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(format!("{}: no OpenAPI files", dir.display()));
        }
        let mut files = Vec::new();
        for p in &paths {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((name, text));
        }
        Spec::from_texts(files)
    }

    /// Files given as `(name, YAML or JSON text)`.
    pub fn from_texts(texts: Vec<(String, String)>) -> Result<Spec, String> {
        let mut files = Vec::new();
        let mut ops = Vec::new();
        for (i, (name, text)) in texts.into_iter().enumerate() {
            let raw: Value = serde_saphyr::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
            let api: OpenAPI =
                serde_json::from_value(raw.clone()).map_err(|e| format!("{name}: {e}"))?;
            if !api.openapi.starts_with("3.0") {
                return Err(format!("{name}: OpenAPI {} is not 3.0", api.openapi));
            }
            for (template, item) in &api.paths.paths {
                let ReferenceOr::Item(item) = item else {
                    continue;
                };
                for (method, op) in item.iter() {
                    let mut query = Vec::new();
                    for p in item.parameters.iter().chain(op.parameters.iter()) {
                        let param = match p {
                            ReferenceOr::Item(p) => Some(p.clone()),
                            ReferenceOr::Reference { reference } => reference
                                .strip_prefix("#/components/parameters/")
                                .and_then(|n| api.components.as_ref()?.parameters.get(n))
                                .and_then(|p| p.as_item().cloned()),
                        };
                        if let Some(Parameter::Query { parameter_data, .. }) = param {
                            let schema = match &parameter_data.format {
                                openapiv3::ParameterSchemaOrContent::Schema(s) => {
                                    serde_json::to_value(s).ok()
                                }
                                _ => None,
                            };
                            query.push(QueryParam {
                                name: parameter_data.name.clone(),
                                schema,
                            });
                        }
                    }
                    ops.push(Op {
                        file: i,
                        method: method.to_string(),
                        template: template.clone(),
                        segments: segments_of(template),
                        query,
                    });
                }
            }
            let mut doc = raw;
            if let Some(c) = doc.get_mut("components") {
                to_json_schema(c);
            }
            if let Some(p) = doc.get_mut("paths") {
                to_json_schema(p);
            }
            files.push(File { name, doc });
        }
        Ok(Spec {
            files,
            ops,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Every operation, as `METHOD /template`.
    pub fn operations(&self) -> Vec<String> {
        self.ops
            .iter()
            .map(|o| format!("{} {}", o.method.to_uppercase(), o.template))
            .collect()
    }

    fn find(&self, method: &str, path: &str) -> Option<&Op> {
        let (path, _) = api_path(path);
        let parts = split(&path);
        let method = method.to_ascii_lowercase();
        self.ops
            .iter()
            .filter(|o| o.method == method && o.segments.len() == parts.len())
            .filter(|o| {
                o.segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Literal(l) => l == p,
                    Segment::Param => true,
                })
            })
            // The most literal segments wins: `/catalog/products/metafields`
            // before `/catalog/products/{product_id}`.
            .max_by_key(|o| {
                o.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// The operation a concrete request path is.
    pub fn operation(&self, method: &str, path: &str) -> Option<Operation> {
        self.find(method, path).map(|o| Operation {
            file: self.files[o.file].name.clone(),
            method: o.method.to_uppercase(),
            template: o.template.clone(),
        })
    }

    /// Whether a route template (axum's or OpenAPI's `{name}`s, names
    /// ignored) and method exist in the files.
    pub fn has_route(&self, method: &str, template: &str) -> bool {
        let want = segments_of(template);
        let method = method.to_ascii_lowercase();
        self.ops
            .iter()
            .any(|o| o.method == method && o.segments == want)
    }

    fn validator(
        &self,
        file: usize,
        pointer: &str,
        request: bool,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let key = (file, pointer.to_string(), request);
        if let Some(v) = crate::runtime::lock(&self.validators).get(&key) {
            return Ok(v.clone());
        }
        let doc = &self.files[file].doc;
        let schema = doc
            .pointer(pointer)
            .ok_or_else(|| format!("{}: no schema at {pointer}", self.files[file].name))?;
        // The schema with the components it refers to, transitively.
        let mut root = match schema.clone() {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("allOf".into(), json!([other]));
                m
            }
        };
        let mut seen = BTreeSet::new();
        let mut todo = BTreeSet::new();
        refs_in(schema, &mut todo);
        let mut components = json!({});
        while let Some(r) = todo.pop_first() {
            if !seen.insert(r.clone()) {
                continue;
            }
            let Some(ptr) = r.strip_prefix('#') else {
                return Err(format!("{}: external $ref {r}", self.files[file].name));
            };
            let target = doc
                .pointer(ptr)
                .ok_or_else(|| format!("{}: dangling $ref {r}", self.files[file].name))?;
            refs_in(target, &mut todo);
            // Rebuild the path below `components` in the copy.
            let parts: Vec<String> = ptr
                .split('/')
                .skip(2)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            let mut at = &mut components;
            for (i, part) in parts.iter().enumerate() {
                let m = match at {
                    Value::Object(m) => m,
                    _ => break,
                };
                if i + 1 == parts.len() {
                    m.insert(part.clone(), target.clone());
                    break;
                }
                at = m.entry(part.clone()).or_insert_with(|| json!({}));
            }
        }
        root.insert("components".into(), components);
        let mut root = Value::Object(root);
        if request {
            for_requests(&mut root);
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| format!("{}: schema at {pointer}: {e}", self.files[file].name))?;
        let v = Arc::new(validator);
        crate::runtime::lock(&self.validators).insert(key, v.clone());
        Ok(v)
    }

    fn check(&self, file: usize, pointer: &str, body: &Value, request: bool) -> Vec<String> {
        match self.validator(file, pointer, request) {
            Ok(v) => v
                .iter_errors(body)
                .take(20)
                .map(|e| format!("{} at '{}'", e, e.instance_path))
                .collect(),
            Err(e) => vec![e],
        }
    }

    /// The JSON schema pointer of a media type map (`content`): the JSON
    /// one, else the first.
    fn content_schema(doc: &Value, base: &str) -> Option<String> {
        let content = doc.pointer(&format!("{base}/content"))?.as_object()?;
        let mt = content
            .keys()
            .find(|k| k.contains("json"))
            .or_else(|| content.keys().next())?;
        let ptr = format!("{base}/content/{}/schema", pointer_escape(mt));
        doc.pointer(&ptr).map(|_| ptr)
    }

    /// Check a request: the path and method exist, the query parameters are
    /// declared (and their values fit their schemas), and the JSON body
    /// (if any) validates against the request body schema. Multipart
    /// bodies are not checked here: pass `None`.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        let Some(op) = self.find(method, path) else {
            return Err(vec![format!(
                "{} {path}: no such operation in the OpenAPI files",
                method.to_uppercase()
            )]);
        };
        let mut problems = Vec::new();
        let (_, query) = api_path(path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name);
            let value = percent_decode(value);
            match op.query.iter().find(|q| q.name == name) {
                None => problems.push(format!("query parameter '{name}' is not declared")),
                Some(q) => {
                    if let Some(s) = &q.schema {
                        let mut s = s.clone();
                        to_json_schema(&mut s);
                        // `x:in` filters are comma-separated lists even where
                        // the files give the schema of one element.
                        let list = (name.ends_with(":in") || name.ends_with(":not_in"))
                            && s.get("type").and_then(Value::as_str) != Some("array");
                        let values: Vec<Value> = if list {
                            value.split(',').map(|x| query_value(&s, x)).collect()
                        } else {
                            vec![query_value(&s, &value)]
                        };
                        if let Ok(val) = jsonschema::options()
                            .should_validate_formats(false)
                            .build(&s)
                        {
                            for v in &values {
                                for e in val.iter_errors(v) {
                                    problems.push(format!("query parameter '{name}': {e}"));
                                }
                            }
                        }
                    }
                }
            }
        }
        let doc = &self.files[op.file].doc;
        let base = format!(
            "/paths/{}/{}/requestBody",
            pointer_escape(&op.template),
            op.method
        );
        match (body, doc.pointer(&base)) {
            (Some(b), Some(rb)) => {
                // A `$ref`'d request body is read where it points.
                let base = match rb.get("$ref") {
                    Some(Value::String(r)) => r.trim_start_matches('#').to_string(),
                    _ => base,
                };
                if let Some(ptr) = Spec::content_schema(doc, &base) {
                    problems.extend(self.check(op.file, &ptr, b, true));
                }
            }
            (Some(_), None) => problems.push("the operation takes no request body".into()),
            (None, _) => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether the operation a request path is documents `status` (exactly,
    /// as a range like `4XX`, or as `default`).
    pub fn documents(&self, method: &str, path: &str, status: u16) -> bool {
        let Some(op) = self.find(method, path) else {
            return false;
        };
        let doc = &self.files[op.file].doc;
        let responses = format!(
            "/paths/{}/{}/responses",
            pointer_escape(&op.template),
            op.method
        );
        [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".into(),
        ]
        .iter()
        .any(|k| doc.pointer(&format!("{responses}/{k}")).is_some())
    }

    /// Check an answer: the operation documents `status` (or a range or
    /// `default`), and `body` validates against its schema. An answer
    /// without a documented body (204) passes with any `body`.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let Some(op) = self.find(method, path) else {
            return Err(vec![format!(
                "{} {path}: no such operation in the OpenAPI files",
                method.to_uppercase()
            )]);
        };
        let doc = &self.files[op.file].doc;
        let responses = format!(
            "/paths/{}/{}/responses",
            pointer_escape(&op.template),
            op.method
        );
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let key = [code.as_str(), range.as_str(), "default"]
            .into_iter()
            .find(|k| doc.pointer(&format!("{responses}/{k}")).is_some());
        let Some(key) = key else {
            return Err(vec![format!(
                "{} {}: status {status} is not documented",
                op.method.to_uppercase(),
                op.template
            )]);
        };
        let mut base = format!("{responses}/{key}");
        if let Some(Value::String(r)) = doc.pointer(&base).and_then(|v| v.get("$ref")) {
            base = r.trim_start_matches('#').to_string();
        }
        let problems = match Spec::content_schema(doc, &base) {
            Some(ptr) => self.check(op.file, &ptr, body, false),
            None => Vec::new(),
        };
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// A query value typed for its schema: numbers and booleans parsed, lists
/// split on commas.
fn query_value(schema: &Value, raw: &str) -> Value {
    let ty = |s: &Value| -> String {
        match s.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("string")
                .to_string(),
            _ => "string".into(),
        }
    };
    let scalar = |t: &str, s: &str| -> Value {
        match t {
            "integer" => s.parse::<i64>().map(Value::from).unwrap_or(json!(s)),
            "number" => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(json!(s)),
            "boolean" => match s {
                "true" | "1" => json!(true),
                "false" | "0" => json!(false),
                _ => json!(s),
            },
            _ => json!(s),
        }
    };
    match ty(schema).as_str() {
        "array" => {
            let item_t = schema
                .get("items")
                .map(ty)
                .unwrap_or_else(|| "string".into());
            Value::Array(
                raw.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| scalar(&item_t, s))
                    .collect(),
            )
        }
        t => scalar(t, raw),
    }
}

/// `%XX` and `+` of a query component.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(c) => {
                        out.push(c);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_conversion() {
        let mut s =
            json!({"type": "number", "nullable": true, "minimum": 0, "exclusiveMinimum": true});
        to_json_schema(&mut s);
        assert_eq!(
            s,
            json!({"type": ["number", "null"], "nullable": true, "exclusiveMinimum": 0})
        );
        assert_eq!(percent_decode("id%3Ain"), "id:in");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(
            api_path("http://h/stores/abc/v3/catalog/products?page=2").0,
            "/catalog/products"
        );
    }
}

#[cfg(test)]
mod bundled_tests {
    use super::*;

    #[test]
    fn the_bundled_files_load() {
        let spec = Spec::bundled().unwrap();
        assert!(spec.has_route("GET", "/catalog/products/{id}/variants"));
        assert!(!spec.has_route("GET", "/catalog/nothing"));
        let op = spec
            .operation("GET", "/catalog/products/metafields")
            .unwrap();
        assert_eq!(op.template, "/catalog/products/metafields");
        spec.check_request(
            "GET",
            "/stores/x/v3/catalog/products?include=variants%2Cimages&page=1&limit=250&sku=A",
            None,
        )
        .unwrap();
        assert!(spec
            .check_request("GET", "/catalog/products?bogus=1", None)
            .is_err());
        spec.check_request(
            "PUT",
            "/catalog/products",
            Some(&json!([{"id": 1, "price": 2.5}])),
        )
        .unwrap();
        assert!(spec
            .check_request(
                "POST",
                "/catalog/products",
                Some(&json!({"name": "x", "type": "physical", "weight": "heavy", "price": 1}))
            )
            .is_err());
        spec.check_response(
            "GET",
            "/catalog/products",
            200,
            &json!({"data": [], "meta": {"pagination": {"total": 0}}}),
        )
        .unwrap();
        assert!(spec
            .check_response("GET", "/catalog/products", 200, &json!({"data": {}}))
            .is_err());
    }
}
