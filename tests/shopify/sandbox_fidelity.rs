//! Fidelity: every type, field, argument, input field and enum value the
//! sandbox's schema exposes exists in Shopify's real Admin API 2025-01
//! schema (tests/data/shopify/admin_schema_2025-01.json.gz) with a compatible
//! type, and every argument or input field the real schema requires is
//! accepted. Compared introspection JSON to introspection JSON.

use std::collections::HashMap;
use std::io::Read;

use mapsync::sandbox::gql::{build_detached, introspection::introspect};
use serde_json::Value;

const BUILTIN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];

fn real_schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/shopify/admin_schema_2025-01.json.gz"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["data"]["__schema"].clone()
}

fn types(schema: &Value) -> HashMap<String, Value> {
    schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

fn show(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", show(&t["ofType"])),
        Some("LIST") => format!("[{}]", show(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or("?").to_string(),
    }
}

/// Can a client expecting `real` read what `mine` returns?
fn out_ok(mine: &Value, real: &Value) -> bool {
    match (mine["kind"].as_str(), real["kind"].as_str()) {
        (Some("NON_NULL"), Some("NON_NULL")) => out_ok(&mine["ofType"], &real["ofType"]),
        (Some("NON_NULL"), _) => out_ok(&mine["ofType"], real),
        (_, Some("NON_NULL")) => false,
        (Some("LIST"), Some("LIST")) => out_ok(&mine["ofType"], &real["ofType"]),
        (a, b) => a == b && mine["name"] == real["name"],
    }
}

/// Does `mine` accept every value a client may send for `real`?
fn in_ok(mine: &Value, real: &Value) -> bool {
    match (mine["kind"].as_str(), real["kind"].as_str()) {
        (Some("NON_NULL"), Some("NON_NULL")) => in_ok(&mine["ofType"], &real["ofType"]),
        (Some("NON_NULL"), _) => false,
        (_, Some("NON_NULL")) => in_ok(mine, &real["ofType"]),
        (Some("LIST"), Some("LIST")) => in_ok(&mine["ofType"], &real["ofType"]),
        (a, b) => a == b && mine["name"] == real["name"],
    }
}

fn required(v: &Value) -> bool {
    v["type"]["kind"] == "NON_NULL" && v["defaultValue"].is_null()
}

fn by_name(list: &Value) -> HashMap<String, Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|x| (x["name"].as_str().unwrap().to_string(), x.clone()))
        .collect()
}

fn check_inputs(
    ctx: &str,
    mine: &Value,
    real: &Value,
    errs: &mut Vec<String>,
    checked: &mut usize,
) {
    let mine = by_name(mine);
    let real = by_name(real);
    for (name, m) in &mine {
        *checked += 1;
        match real.get(name) {
            None => errs.push(format!("{ctx}({name}): not in the real schema")),
            Some(r) if !in_ok(&m["type"], &r["type"]) => errs.push(format!(
                "{ctx}({name}): type {} does not accept the real {}",
                show(&m["type"]),
                show(&r["type"])
            )),
            _ => {}
        }
    }
    for (name, r) in &real {
        if required(r) && !mine.contains_key(name) {
            errs.push(format!(
                "{ctx}({name}): required by the real schema but missing"
            ));
        }
    }
}

#[tokio::test]
async fn sandbox_schema_is_a_compatible_subset_of_shopify_2025_01() {
    let real = real_schema();
    let mine_json = introspect(&build_detached()).await;
    let mine = &mine_json["__schema"];
    assert_eq!(mine["queryType"]["name"], real["queryType"]["name"]);
    assert_eq!(mine["mutationType"]["name"], real["mutationType"]["name"]);
    let real_types = types(&real);
    let mut errs = Vec::new();
    let mut checked = 0usize;
    for (name, t) in types(mine) {
        if name.starts_with("__") || BUILTIN.contains(&name.as_str()) {
            continue;
        }
        checked += 1;
        let Some(r) = real_types.get(&name) else {
            errs.push(format!("type {name}: not in the real schema"));
            continue;
        };
        if t["kind"] != r["kind"] {
            errs.push(format!(
                "type {name}: kind {} but real is {}",
                t["kind"], r["kind"]
            ));
            continue;
        }
        let real_fields = by_name(&r["fields"]);
        for f in t["fields"].as_array().into_iter().flatten() {
            checked += 1;
            let fname = f["name"].as_str().unwrap();
            let Some(rf) = real_fields.get(fname) else {
                errs.push(format!("{name}.{fname}: not in the real schema"));
                continue;
            };
            if !out_ok(&f["type"], &rf["type"]) {
                errs.push(format!(
                    "{name}.{fname}: returns {} but real returns {}",
                    show(&f["type"]),
                    show(&rf["type"])
                ));
            }
            check_inputs(
                &format!("{name}.{fname}"),
                &f["args"],
                &rf["args"],
                &mut errs,
                &mut checked,
            );
        }
        if t["kind"] == "INPUT_OBJECT" {
            check_inputs(
                &name,
                &t["inputFields"],
                &r["inputFields"],
                &mut errs,
                &mut checked,
            );
        }
        let real_values = by_name(&r["enumValues"]);
        for v in t["enumValues"].as_array().into_iter().flatten() {
            checked += 1;
            let vname = v["name"].as_str().unwrap();
            if !real_values.contains_key(vname) {
                errs.push(format!("{name}.{vname}: enum value not in the real schema"));
            }
        }
        let real_ifaces = by_name(&r["interfaces"]);
        for i in t["interfaces"].as_array().into_iter().flatten() {
            let iname = i["name"].as_str().unwrap();
            if !real_ifaces.contains_key(iname) {
                errs.push(format!(
                    "{name}: implements {iname}, the real type does not"
                ));
            }
        }
        let real_possible = by_name(&r["possibleTypes"]);
        for p in t["possibleTypes"].as_array().into_iter().flatten() {
            let pname = p["name"].as_str().unwrap();
            if !real_possible.contains_key(pname) {
                errs.push(format!(
                    "{name}: {pname} is not a possible type in the real schema"
                ));
            }
        }
    }
    assert!(
        errs.is_empty(),
        "{} fidelity problems:\n{}",
        errs.len(),
        errs.join("\n")
    );
    assert!(checked > 500, "checked only {checked} items");
}

#[tokio::test]
async fn sandbox_exposes_the_operations_of_the_spec() {
    let mine_json = introspect(&build_detached()).await;
    let t = types(&mine_json["__schema"]);
    let fields = |ty: &str| -> Vec<String> {
        t[ty]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
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
        "bulkOperationRunQuery",
    ] {
        assert!(mutations.contains(&m.to_string()), "mutation {m} missing");
    }
}
