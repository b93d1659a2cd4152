//! Fidelity: every type, field, argument, input field, enum value and
//! directive the sandbox's schema exposes exists in Shopify's real Admin API
//! 2026-04 schema (tests/data/shopify/admin_schema_2026-04.graphql.gz, read
//! by `shopify_schema::schema_of`) with a compatible type, and every argument
//! or input field the real schema requires is accepted. Both sides are
//! apollo-compiler schemas: the sandbox's from its own SDL.

use apollo_compiler::ast::{InputValueDefinition, Type};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Node, Schema};

use crate::shopify_schema::schema_of;

/// The API version the sandbox's current schema speaks.
const VERSION: &str = "2026-04";

const BUILTIN_SCALARS: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];
const BUILTIN_DIRECTIVES: &[&str] = &["skip", "include", "deprecated", "specifiedBy", "oneOf"];

fn sandbox_schema() -> Valid<Schema> {
    let sdl = mapsync::sandbox::gql::build_detached().sdl();
    Schema::parse_and_validate(sdl, "sandbox.graphql").expect("sandbox SDL is valid")
}

/// Can a client expecting `real` read what `mine` returns?
fn out_ok(mine: &Type, real: &Type) -> bool {
    if real.is_non_null() && !mine.is_non_null() {
        return false;
    }
    match (mine.clone().nullable(), real.clone().nullable()) {
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a), Type::List(b)) => out_ok(&a, &b),
        _ => false,
    }
}

/// Does `mine` accept every value a client may send for `real`?
fn in_ok(mine: &Type, real: &Type) -> bool {
    if mine.is_non_null() && !real.is_non_null() {
        return false;
    }
    match (mine.clone().nullable(), real.clone().nullable()) {
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a), Type::List(b)) => in_ok(&a, &b),
        _ => false,
    }
}

fn required(v: &InputValueDefinition) -> bool {
    v.ty.is_non_null() && v.default_value.is_none()
}

/// Compares argument or input-field lists.
fn check_inputs<'a>(
    ctx: &str,
    mine: impl Iterator<Item = &'a Node<InputValueDefinition>>,
    real: impl Iterator<Item = &'a Node<InputValueDefinition>> + Clone,
    errs: &mut Vec<String>,
    checked: &mut usize,
) {
    let mine: Vec<_> = mine.collect();
    for m in &mine {
        *checked += 1;
        match real.clone().find(|r| r.name == m.name) {
            None => errs.push(format!("{ctx}({}): not in the real schema", m.name)),
            Some(r) if !in_ok(&m.ty, &r.ty) => errs.push(format!(
                "{ctx}({}): type {} does not accept the real {}",
                m.name, m.ty, r.ty
            )),
            _ => {}
        }
    }
    for r in real.filter(|r| required(r)) {
        if !mine.iter().any(|m| m.name == r.name) {
            errs.push(format!(
                "{ctx}({}): required by the real schema but missing",
                r.name
            ));
        }
    }
}

fn kind(t: &ExtendedType) -> &'static str {
    match t {
        ExtendedType::Scalar(_) => "SCALAR",
        ExtendedType::Object(_) => "OBJECT",
        ExtendedType::Interface(_) => "INTERFACE",
        ExtendedType::Union(_) => "UNION",
        ExtendedType::Enum(_) => "ENUM",
        ExtendedType::InputObject(_) => "INPUT_OBJECT",
    }
}

/// Compares one named type of the sandbox with the real one.
fn check_type(
    name: &str,
    mine: &ExtendedType,
    real: &ExtendedType,
    errs: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    match (mine, real) {
        (ExtendedType::Object(m), ExtendedType::Object(r)) => {
            check_fields(name, &m.fields, &r.fields, errs, &mut checked);
            for i in &m.implements_interfaces {
                if !r.implements_interfaces.contains(i) {
                    errs.push(format!("{name}: implements {i}, the real type does not"));
                }
            }
        }
        (ExtendedType::Interface(m), ExtendedType::Interface(r)) => {
            check_fields(name, &m.fields, &r.fields, errs, &mut checked);
        }
        (ExtendedType::Union(m), ExtendedType::Union(r)) => {
            for p in m.members.iter().filter(|p| !r.members.contains(*p)) {
                errs.push(format!("{name}: {p} is not a member in the real schema"));
            }
        }
        (ExtendedType::Enum(m), ExtendedType::Enum(r)) => {
            for v in m.values.keys() {
                checked += 1;
                if !r.values.contains_key(v) {
                    errs.push(format!("{name}.{v}: enum value not in the real schema"));
                }
            }
        }
        (ExtendedType::InputObject(m), ExtendedType::InputObject(r)) => check_inputs(
            name,
            m.fields.values().map(|f| &f.node),
            r.fields.values().map(|f| &f.node),
            errs,
            &mut checked,
        ),
        (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
        _ => errs.push(format!(
            "type {name}: kind {} but real is {}",
            kind(mine),
            kind(real)
        )),
    }
    checked
}

type Fields = apollo_compiler::collections::IndexMap<
    apollo_compiler::Name,
    apollo_compiler::schema::Component<apollo_compiler::ast::FieldDefinition>,
>;

fn check_fields(
    name: &str,
    mine: &Fields,
    real: &Fields,
    errs: &mut Vec<String>,
    checked: &mut usize,
) {
    for (fname, f) in mine {
        *checked += 1;
        let Some(rf) = real.get(fname) else {
            errs.push(format!("{name}.{fname}: not in the real schema"));
            continue;
        };
        if !out_ok(&f.ty, &rf.ty) {
            errs.push(format!(
                "{name}.{fname}: returns {} but real returns {}",
                f.ty, rf.ty
            ));
        }
        check_inputs(
            &format!("{name}.{fname}"),
            f.arguments.iter(),
            rf.arguments.iter(),
            errs,
            checked,
        );
    }
}

fn check_directives(mine: &Schema, real: &Schema, errs: &mut Vec<String>, checked: &mut usize) {
    for (name, d) in &mine.directive_definitions {
        if BUILTIN_DIRECTIVES.contains(&name.as_str()) {
            continue;
        }
        *checked += 1;
        let Some(r) = real.directive_definitions.get(name) else {
            errs.push(format!("@{name}: directive not in the real schema"));
            continue;
        };
        for loc in d.locations.iter().filter(|l| !r.locations.contains(l)) {
            errs.push(format!(
                "@{name}: location {loc} not allowed by the real schema"
            ));
        }
        check_inputs(
            &format!("@{name}"),
            d.arguments.iter(),
            r.arguments.iter(),
            errs,
            checked,
        );
    }
}

#[test]
fn sandbox_schema_is_a_compatible_subset_of_shopify_2026_04() {
    let real = schema_of(VERSION);
    let mine = sandbox_schema();
    let root = |s: &Schema, m: bool| {
        let d = &s.schema_definition;
        let r = if m { &d.mutation } else { &d.query };
        r.as_ref().map(|n| n.name.to_string())
    };
    assert_eq!(root(&mine, false), root(real, false));
    assert_eq!(root(&mine, true), root(real, true));
    let mut errs = Vec::new();
    let mut checked = 0usize;
    for (name, t) in &mine.types {
        if name.starts_with("__") || BUILTIN_SCALARS.contains(&name.as_str()) {
            continue;
        }
        checked += 1;
        match real.types.get(name) {
            None => errs.push(format!("type {name}: not in the real schema")),
            Some(r) => checked += check_type(name, t, r, &mut errs),
        }
    }
    check_directives(&mine, real, &mut errs, &mut checked);
    assert!(
        errs.is_empty(),
        "{} fidelity problems against {VERSION}:\n{}",
        errs.len(),
        errs.join("\n")
    );
    assert!(checked > 500, "checked only {checked} items");
}

/// The mutations whose real description says the `@idempotent` key is
/// required in this version are exactly the ones the sandbox refuses
/// without it (among the mutations it exposes).
#[test]
fn idempotency_is_required_where_the_real_schema_says_so() {
    let real = schema_of(VERSION);
    let mine = sandbox_schema();
    let (Some(ExtendedType::Object(real_m)), Some(ExtendedType::Object(mine_m))) =
        (real.types.get("Mutation"), mine.types.get("Mutation"))
    else {
        panic!("no Mutation type");
    };
    let says_required = |f: &str| {
        real_m.fields.get(f).is_some_and(|d| {
            d.description.as_ref().is_some_and(|t| {
                t.contains(&format!("As of {VERSION}, the idempotency key is required"))
                    || t.contains(&format!(
                        "As of version `{VERSION}`, the idempotency key is required"
                    ))
            })
        })
    };
    let mut expected: Vec<&str> = mine_m
        .fields
        .keys()
        .map(|n| n.as_str())
        .filter(|n| says_required(n))
        .collect();
    expected.sort_unstable();
    let mut enforced = mapsync::sandbox::gql::IDEMPOTENT_MUTATIONS.to_vec();
    enforced.sort_unstable();
    assert!(expected.contains(&"inventorySetQuantities"));
    assert_eq!(enforced, expected);
}

#[test]
fn sandbox_exposes_the_operations_of_the_spec() {
    let mine = sandbox_schema();
    let fields = |ty: &str| -> Vec<String> {
        match mine.types.get(ty) {
            Some(ExtendedType::Object(o)) => o.fields.keys().map(|k| k.to_string()).collect(),
            _ => panic!("no object type {ty}"),
        }
    };
    let queries = fields("QueryRoot");
    for q in [
        "shop",
        "locations",
        "products",
        "product",
        "productByIdentifier",
        "collections",
        "collection",
        "nodes",
        "currentBulkOperation",
        "bulkOperation",
        "bulkOperations",
    ] {
        assert!(queries.contains(&q.to_string()), "query {q} missing");
    }
    let mutations = fields("Mutation");
    for m in [
        "productSet",
        "productUpdate",
        "productDelete",
        "collectionCreate",
        "collectionUpdate",
        "collectionDelete",
        "collectionAddProducts",
        "collectionRemoveProducts",
        "metafieldsSet",
        "metafieldsDelete",
        "metafieldDefinitionCreate",
        "inventorySetQuantities",
        "inventoryActivate",
        "bulkOperationRunQuery",
        "bulkOperationRunMutation",
        "bulkOperationCancel",
        "stagedUploadsCreate",
    ] {
        assert!(mutations.contains(&m.to_string()), "mutation {m} missing");
    }
}
