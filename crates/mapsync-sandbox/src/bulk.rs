//! Bulk operations: `bulkOperationRunQuery` runs its query in the background
//! without page limits or cost, flattens the result to JSONL as Shopify does
//! (one line per node; nodes of nested connections get their own lines with
//! `__parentId`) and keeps it for `GET /__sandbox/bulk/<id>.jsonl`.
//! Must not touch the store except through the schema.

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use serde_json::{Map, Value};

use super::gql::types::Unbounded;
use super::gql::SandboxSchema;
use super::model::now;
use super::runtime::{lock, Core};

/// Check a bulk query: it must parse and be a query operation.
pub fn check_query(query: &str) -> Result<(), String> {
    let doc = async_graphql::parser::parse_query(query)
        .map_err(|e| format!("Invalid bulk query: {e}"))?;
    let ops: Vec<OperationType> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op.node.ty],
        DocumentOperations::Multiple(m) => m.values().map(|op| op.node.ty).collect(),
    };
    if ops.len() != 1 || ops[0] != OperationType::Query {
        return Err("Bulk queries must contain exactly one query operation".into());
    }
    Ok(())
}

fn is_connection(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            (m.get("edges").is_some_and(Value::is_array)
                || m.get("nodes").is_some_and(Value::is_array))
                && m.keys()
                    .all(|k| k == "edges" || k == "nodes" || k == "pageInfo")
        }
        _ => false,
    }
}

fn nodes_of(conn: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(edges) = conn.get("edges").and_then(Value::as_array) {
        out.extend(edges.iter().filter_map(|e| e.get("node").cloned()));
    } else if let Some(nodes) = conn.get("nodes").and_then(Value::as_array) {
        out.extend(nodes.iter().cloned());
    }
    out
}

/// Flatten query data to JSONL; returns (text, objects, root objects).
pub fn to_jsonl(data: &Value) -> (String, u64, u64) {
    let mut out = String::new();
    let mut objects = 0u64;
    let mut roots = 0u64;
    if let Value::Object(top) = data {
        for v in top.values() {
            if is_connection(v) {
                for node in nodes_of(v) {
                    roots += 1;
                    emit(&node, None, &mut out, &mut objects);
                }
            } else if v.is_object() {
                roots += 1;
                emit(v, None, &mut out, &mut objects);
            }
        }
    }
    (out, objects, roots)
}

fn emit(node: &Value, parent: Option<&str>, out: &mut String, objects: &mut u64) {
    let Value::Object(map) = node else { return };
    let mut row = Map::new();
    let mut children = Vec::new();
    for (k, v) in map {
        if is_connection(v) {
            children.extend(nodes_of(v));
        } else {
            row.insert(k.clone(), v.clone());
        }
    }
    if let Some(p) = parent {
        row.insert("__parentId".into(), Value::String(p.to_string()));
    }
    *objects += 1;
    out.push_str(&Value::Object(row).to_string());
    out.push('\n');
    let id = map.get("id").and_then(Value::as_str).map(str::to_string);
    for c in children {
        emit(&c, id.as_deref(), out, objects);
    }
}

/// Run one bulk operation to completion.
pub async fn run(core: Arc<Core>, schema: SandboxSchema, id: u64) {
    let query = {
        let mut bulk = lock(&core.bulk);
        let Some(op) = bulk.ops.get_mut(&id) else {
            return;
        };
        op.status = "RUNNING";
        op.query.clone()
    };
    let resp = schema
        .execute(async_graphql::Request::new(query).data(Unbounded))
        .await;
    let data = resp.data.into_json().unwrap_or(Value::Null);
    let failed = !resp.errors.is_empty();
    let (text, objects, roots) = to_jsonl(&data);
    let base = core.base_url.get().cloned().unwrap_or_default();
    let mut bulk = lock(&core.bulk);
    let size = text.len() as u64;
    if !failed {
        bulk.results.insert(id, Arc::new(text.into_bytes()));
    }
    if let Some(op) = bulk.ops.get_mut(&id) {
        op.completed_at = Some(now());
        op.object_count = objects;
        op.root_object_count = roots;
        if failed {
            tracing::warn!(bulk_operation = id, errors = ?resp.errors, "bulk operation failed");
            op.status = "FAILED";
            op.error_code = Some("INTERNAL_SERVER_ERROR");
        } else {
            op.status = "COMPLETED";
            op.file_size = Some(size);
            op.url = (objects > 0).then(|| format!("{base}/__sandbox/bulk/{id}.jsonl"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_connections_get_parent_ids() {
        let data = serde_json::json!({
            "products": {"edges": [
                {"node": {"id": "gid://shopify/Product/1", "title": "A",
                  "variants": {"edges": [{"node": {"id": "gid://shopify/ProductVariant/2", "sku": "a"}}]}}},
                {"node": {"id": "gid://shopify/Product/3", "title": "B",
                  "variants": {"nodes": []}}}
            ]}
        });
        let (text, objects, roots) = to_jsonl(&data);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!((objects, roots), (3, 2));
        assert_eq!(
            lines[0],
            serde_json::json!({"id": "gid://shopify/Product/1", "title": "A"})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"id": "gid://shopify/ProductVariant/2", "sku": "a", "__parentId": "gid://shopify/Product/1"})
        );
        assert_eq!(lines[2]["id"], "gid://shopify/Product/3");
    }

    #[test]
    fn only_queries() {
        assert!(check_query("{ products { edges { node { id } } } }").is_ok());
        assert!(
            check_query("mutation { productDelete(input: {id: \"x\"}) { deletedProductId } }")
                .is_err()
        );
        assert!(check_query("{ products {").is_err());
    }
}
