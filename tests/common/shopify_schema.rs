//! Test support: the real Shopify Admin schema (introspection JSON in
//! `tests/data/shopify/`) converted to SDL so that apollo-compiler can build
//! and validate it, plus a calculated-query-cost walker that follows the rules
//! of `sandbox.md` (object 1, scalar/enum 0, connection `2 + first × node`,
//! mutation 10 + selection). It must not be used by `src/`: the shipped code
//! never needs the 2.4 MB schema at run time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::Value;

/// Path of the gzipped introspection result of an API version.
pub fn schema_path(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shopify")
        .join(format!("admin_schema_{version}.json.gz"))
}

/// The validated schema of API version 2025-01, built once per test binary.
pub fn admin_schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let sdl = introspection_to_sdl(&load_introspection(&schema_path("2025-01")))
            .expect("introspection converts to SDL");
        match Schema::parse_and_validate(sdl, "admin_schema_2025-01.graphql") {
            Ok(schema) => schema,
            Err(with_errors) => panic!("schema does not validate:\n{}", with_errors.errors),
        }
    })
}

/// Path of the gzipped SDL (with Shopify's descriptions) of an API version.
pub fn sdl_path(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shopify")
        .join(format!("admin_schema_{version}.graphql.gz"))
}

/// The validated schema of API version 2026-04 (the real SDL), built once
/// per test binary.
pub fn admin_schema_2026_04() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut sdl = String::new();
        let file = std::fs::File::open(sdl_path("2026-04")).expect("schema file");
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut sdl)
            .expect("gzipped SDL");
        match Schema::parse_and_validate(sdl, "admin_schema_2026-04.graphql") {
            Ok(schema) => schema,
            Err(with_errors) => panic!("schema does not validate:\n{}", with_errors.errors),
        }
    })
}

/// The validated schema of an API version mapsync has the real schema of.
pub fn schema_of(version: &str) -> &'static Valid<Schema> {
    match version {
        "2025-01" => admin_schema(),
        "2026-04" => admin_schema_2026_04(),
        other => panic!("no real schema of API version {other} in tests/data/shopify"),
    }
}

/// Reads a gzipped introspection JSON file.
pub fn load_introspection(path: &Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("introspection JSON")
}

const BUILTIN_SCALARS: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];
const BUILTIN_DIRECTIVES: &[&str] = &["skip", "include", "deprecated", "specifiedBy", "oneOf"];

/// Converts an introspection result (`{data: {__schema}}` or `{__schema}`)
/// into SDL text. Built-in scalars, built-in directives and introspection
/// types are left out (apollo-compiler defines them itself).
pub fn introspection_to_sdl(doc: &Value) -> Result<String, String> {
    let schema = doc
        .pointer("/data/__schema")
        .or_else(|| doc.get("__schema"))
        .ok_or("no __schema")?;
    let mut out = String::new();
    let root = |key: &str| {
        schema
            .get(key)
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    out.push_str("schema {\n");
    for (op, key) in [
        ("query", "queryType"),
        ("mutation", "mutationType"),
        ("subscription", "subscriptionType"),
    ] {
        if let Some(name) = root(key) {
            let _ = writeln!(out, "  {op}: {name}");
        }
    }
    out.push_str("}\n\n");

    for directive in schema["directives"].as_array().ok_or("directives")? {
        let name = directive["name"].as_str().ok_or("directive name")?;
        if BUILTIN_DIRECTIVES.contains(&name) {
            continue;
        }
        let locations: Vec<&str> = directive["locations"]
            .as_array()
            .ok_or("locations")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let repeatable = if directive["isRepeatable"].as_bool() == Some(true) {
            " repeatable"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "directive @{name}{}{repeatable} on {}\n",
            args_sdl(&directive["args"])?,
            locations.join(" | ")
        );
    }

    for ty in schema["types"].as_array().ok_or("types")? {
        let name = ty["name"].as_str().ok_or("type name")?;
        if name.starts_with("__") {
            continue;
        }
        let interfaces = || -> String {
            let names: Vec<&str> = ty["interfaces"]
                .as_array()
                .map(|a| a.iter().filter_map(|i| i["name"].as_str()).collect())
                .unwrap_or_default();
            if names.is_empty() {
                String::new()
            } else {
                format!(" implements {}", names.join(" & "))
            }
        };
        match ty["kind"].as_str().ok_or("kind")? {
            "SCALAR" => {
                if !BUILTIN_SCALARS.contains(&name) {
                    let _ = writeln!(out, "scalar {name}\n");
                }
            }
            kind @ ("OBJECT" | "INTERFACE") => {
                let keyword = if kind == "OBJECT" {
                    "type"
                } else {
                    "interface"
                };
                let _ = writeln!(out, "{keyword} {name}{} {{", interfaces());
                for field in ty["fields"].as_array().ok_or("fields")? {
                    let _ = writeln!(
                        out,
                        "  {}{}: {}{}",
                        field["name"].as_str().ok_or("field name")?,
                        args_sdl(&field["args"])?,
                        type_ref(&field["type"])?,
                        deprecated(field)
                    );
                }
                out.push_str("}\n\n");
            }
            "UNION" => {
                let members: Vec<&str> = ty["possibleTypes"]
                    .as_array()
                    .ok_or("possibleTypes")?
                    .iter()
                    .filter_map(|t| t["name"].as_str())
                    .collect();
                let _ = writeln!(out, "union {name} = {}\n", members.join(" | "));
            }
            "ENUM" => {
                let _ = writeln!(out, "enum {name} {{");
                for value in ty["enumValues"].as_array().ok_or("enumValues")? {
                    let _ = writeln!(
                        out,
                        "  {}{}",
                        value["name"].as_str().ok_or("enum value")?,
                        deprecated(value)
                    );
                }
                out.push_str("}\n\n");
            }
            "INPUT_OBJECT" => {
                let _ = writeln!(out, "input {name} {{");
                for field in ty["inputFields"].as_array().ok_or("inputFields")? {
                    let _ = writeln!(out, "  {}", input_value(field)?);
                }
                out.push_str("}\n\n");
            }
            other => return Err(format!("unknown kind {other} for {name}")),
        }
    }
    Ok(out)
}

fn deprecated(item: &Value) -> &'static str {
    if item["isDeprecated"].as_bool() == Some(true) {
        " @deprecated"
    } else {
        ""
    }
}

fn args_sdl(args: &Value) -> Result<String, String> {
    let args = match args.as_array() {
        Some(a) if !a.is_empty() => a,
        _ => return Ok(String::new()),
    };
    let parts: Result<Vec<String>, String> = args.iter().map(input_value).collect();
    Ok(format!("({})", parts?.join(", ")))
}

fn input_value(v: &Value) -> Result<String, String> {
    let mut s = format!(
        "{}: {}",
        v["name"].as_str().ok_or("input value name")?,
        type_ref(&v["type"])?
    );
    if let Some(default) = v["defaultValue"].as_str() {
        let _ = write!(s, " = {default}");
    }
    Ok(s)
}

fn type_ref(t: &Value) -> Result<String, String> {
    match t["kind"].as_str().ok_or("type kind")? {
        "NON_NULL" => Ok(format!("{}!", type_ref(&t["ofType"])?)),
        "LIST" => Ok(format!("[{}]", type_ref(&t["ofType"])?)),
        _ => Ok(t["name"].as_str().ok_or("type name")?.to_owned()),
    }
}

/// Parses and validates one executable document; the error is apollo's
/// rendered diagnostic.
pub fn validate_document(source: &str, path: &str) -> Result<Valid<ExecutableDocument>, String> {
    validate_document_for(
        mapsync::connectors::shopify::DEFAULT_API_VERSION,
        source,
        path,
    )
}

/// Parses and validates one executable document against an API version's
/// real schema.
pub fn validate_document_for(
    version: &str,
    source: &str,
    path: &str,
) -> Result<Valid<ExecutableDocument>, String> {
    ExecutableDocument::parse_and_validate(schema_of(version), source, path)
        .map_err(|with_errors| with_errors.errors.to_string())
}

/// Bounds for plain (non-connection) lists of objects, which have no `first`
/// argument: the cost walker multiplies by the largest size Shopify allows.
pub fn default_list_bounds() -> HashMap<&'static str, u64> {
    HashMap::from([
        ("options", 3),         // at most 3 options per product
        ("selectedOptions", 3), // one per option
        ("userErrors", 1),      // counted once, like Shopify
        ("mediaErrors", 1),
        ("field", 1),
    ])
}

/// Calculated query cost of the single operation in `doc`, with `variables`
/// giving `first` and list arguments (`ids`, `names`).
pub fn query_cost(doc: &Valid<ExecutableDocument>, variables: &Value) -> u64 {
    let op = doc
        .operations
        .iter()
        .next()
        .expect("document has one operation");
    let walker = CostWalker {
        doc,
        variables,
        bounds: default_list_bounds(),
    };
    let selection = walker.selection_cost(&op.selection_set);
    match op.operation_type {
        apollo_compiler::executable::OperationType::Mutation => 10 + selection,
        _ => selection,
    }
}

struct CostWalker<'a> {
    doc: &'a Valid<ExecutableDocument>,
    variables: &'a Value,
    bounds: HashMap<&'static str, u64>,
}

impl CostWalker<'_> {
    /// Cost of a selection set: the sum over fields; fragments on different
    /// types of an interface count the most expensive one.
    fn selection_cost(&self, set: &SelectionSet) -> u64 {
        let mut fields = 0;
        let mut fragments: Vec<u64> = Vec::new();
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => fields += self.field_cost(field),
                Selection::InlineFragment(inline) => {
                    fragments.push(self.selection_cost(&inline.selection_set))
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = &self.doc.fragments[&spread.fragment_name];
                    fragments.push(self.selection_cost(&fragment.selection_set))
                }
            }
        }
        fields + fragments.into_iter().max().unwrap_or(0)
    }

    fn field_cost(&self, field: &apollo_compiler::executable::Field) -> u64 {
        let ty = field.definition.ty.inner_named_type();
        let schema = admin_schema();
        let leaf = matches!(
            schema.types.get(ty),
            Some(ExtendedType::Scalar(_)) | Some(ExtendedType::Enum(_)) | None
        );
        if leaf {
            return 0;
        }
        if ty.as_str().ends_with("Connection") {
            let first = self
                .int_arg(field, "first")
                .unwrap_or_else(|| panic!("connection {} without `first`", field.name));
            // the node's cost: 1 for the node object plus what it selects
            let mut node = 0;
            for selection in &field.selection_set.selections {
                if let Selection::Field(inner) = selection {
                    match inner.name.as_str() {
                        "edges" => {
                            for s in &inner.selection_set.selections {
                                if let Selection::Field(n) = s {
                                    if n.name == "node" {
                                        node = node.max(1 + self.selection_cost(&n.selection_set));
                                    }
                                }
                            }
                        }
                        "nodes" => node = node.max(1 + self.selection_cost(&inner.selection_set)),
                        _ => {}
                    }
                }
            }
            return 2 + first * node;
        }
        let one = 1 + self.selection_cost(&field.selection_set);
        if field.definition.ty.is_list() {
            let n = self
                .list_arg_len(field)
                .or_else(|| self.bounds.get(field.name.as_str()).copied())
                .unwrap_or_else(|| panic!("no size bound for list field {}", field.name));
            n * one
        } else {
            one
        }
    }

    fn arg_value(&self, field: &apollo_compiler::executable::Field, name: &str) -> Option<Value> {
        let arg = field.arguments.iter().find(|a| a.name == name)?;
        if let Some(var) = arg.value.as_variable() {
            return self.variables.get(var.as_str()).cloned();
        }
        if let Some(i) = arg.value.to_i32() {
            return Some(Value::from(i));
        }
        if let Some(list) = arg.value.as_list() {
            return Some(Value::Array(vec![Value::Null; list.len()]));
        }
        None
    }

    fn int_arg(&self, field: &apollo_compiler::executable::Field, name: &str) -> Option<u64> {
        self.arg_value(field, name)?.as_u64()
    }

    /// Size of a list argument that decides the size of the returned list
    /// (`nodes(ids:)`, `quantities(names:)`).
    fn list_arg_len(&self, field: &apollo_compiler::executable::Field) -> Option<u64> {
        ["ids", "names"].iter().find_map(|arg| {
            self.arg_value(field, arg)
                .and_then(|v| v.as_array().map(|a| a.len() as u64))
        })
    }
}

/// Checks the JSON `variables` of a request against the variable
/// definitions of its (single) operation and the schema's input types, as a
/// GraphQL server coerces them: required values present and non-null, no
/// field an input object does not define, lists, enums and built-in
/// scalars of the right JSON kind (custom scalars take any JSON value but
/// an object). Every problem is listed with its path.
pub fn validate_variables(
    schema: &Valid<Schema>,
    doc: &Valid<ExecutableDocument>,
    variables: &Value,
) -> Result<(), String> {
    let op = doc
        .operations
        .iter()
        .next()
        .ok_or("document has no operation")?;
    let empty = serde_json::Map::new();
    let given = variables.as_object().unwrap_or(&empty);
    let mut problems = Vec::new();
    for def in &op.variables {
        let name = def.name.as_str();
        match given.get(name) {
            None if def.ty.is_non_null() && def.default_value.is_none() => {
                problems.push(format!("${name}: required, not given"))
            }
            None => {}
            Some(v) => check_value(schema, &def.ty, v, &format!("${name}"), &mut problems),
        }
    }
    for name in given.keys() {
        if !op.variables.iter().any(|d| d.name.as_str() == name) {
            problems.push(format!("${name}: not a variable of the operation"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn check_value(
    schema: &Valid<Schema>,
    ty: &apollo_compiler::ast::Type,
    v: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    use apollo_compiler::ast::Type;
    if v.is_null() {
        if ty.is_non_null() {
            problems.push(format!("{path}: null for a non-null {ty}"));
        }
        return;
    }
    match ty {
        Type::List(inner) | Type::NonNullList(inner) => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_value(schema, inner, item, &format!("{path}[{i}]"), problems);
                }
            }
            // Input coercion accepts one value for a list.
            None => check_value(schema, inner, v, path, problems),
        },
        Type::Named(name) | Type::NonNullNamed(name) => {
            check_named(schema, name.as_str(), v, path, problems)
        }
    }
}

fn check_named(
    schema: &Valid<Schema>,
    name: &str,
    v: &Value,
    path: &str,
    problems: &mut Vec<String>,
) {
    let kind_ok = match name {
        "String" | "ID" => v.is_string() || (name == "ID" && v.is_i64()),
        "Int" => v.is_i64() || v.is_u64(),
        "Float" => v.is_number(),
        "Boolean" => v.is_boolean(),
        _ => true,
    };
    if !kind_ok {
        problems.push(format!("{path}: {v} is not a {name}"));
        return;
    }
    match schema.types.get(name) {
        Some(ExtendedType::Enum(e)) => {
            let ok = v.as_str().is_some_and(|s| e.values.contains_key(s));
            if !ok {
                problems.push(format!("{path}: {v} is not a value of enum {name}"));
            }
        }
        Some(ExtendedType::InputObject(io)) => {
            let Some(obj) = v.as_object() else {
                problems.push(format!("{path}: {v} is not an input object {name}"));
                return;
            };
            for (field, def) in &io.fields {
                let sub = format!("{path}.{field}");
                match obj.get(field.as_str()) {
                    None if def.ty.is_non_null() && def.default_value.is_none() => {
                        problems.push(format!("{sub}: required field of {name} missing"))
                    }
                    None => {}
                    Some(x) => check_value(schema, &def.ty, x, &sub, problems),
                }
            }
            for key in obj.keys() {
                if !io.fields.contains_key(key.as_str()) {
                    problems.push(format!("{path}.{key}: {name} has no such field"));
                }
            }
        }
        Some(ExtendedType::Scalar(_)) => {
            if v.is_object() && !matches!(name, "JSON") {
                problems.push(format!("{path}: an object for scalar {name}"));
            }
        }
        Some(_) => problems.push(format!("{path}: {name} is not an input type")),
        None => problems.push(format!("{path}: no type {name} in the schema")),
    }
}
