//! Bulk operations in the background. `bulkOperationRunQuery` runs its
//! query without page limits or cost and flattens the result to JSONL as
//! Shopify does (one line per node; nodes of nested connections get their
//! own lines with `__parentId`). `bulkOperationRunMutation` runs its
//! mutation once per line of the staged variables file, in order (up to
//! [`LINES_IN_FLIGHT`] at a time), each through the schema like a request
//! of its own (outside the leaky bucket), and writes one result line per
//! input line, in line order, with its `__lineNumber`. Results are kept
//! for `GET /__sandbox/bulk/<id>.jsonl`.
//! Must not touch the store except through the schema (and the bulk log
//! through [`Core::mirror_bulk`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::bulkops::{
    variable_lines, BulkKind, BulkOp, BulkStatus, Checkpoint, INTERNAL_SERVER_ERROR,
};
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

/// Mutations a bulk mutation may not run (bulk operations themselves, and
/// staged uploads).
pub const NOT_IN_BULK: &[&str] = &[
    "bulkOperationRunMutation",
    "bulkOperationRunQuery",
    "bulkOperationCancel",
    "stagedUploadsCreate",
];

/// Check a bulk mutation: it must parse and be one mutation operation with
/// exactly one root field, a mutation a bulk operation may run. Gives the
/// root field's name.
pub fn check_mutation(mutation: &str) -> Result<String, String> {
    use async_graphql::parser::types::Selection;
    let doc = async_graphql::parser::parse_query(mutation)
        .map_err(|e| format!("Invalid mutation: {e}"))?;
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(m) => m.values().map(|op| &op.node).collect(),
    };
    let [op] = ops.as_slice() else {
        return Err("Bulk mutations must contain exactly one mutation operation".into());
    };
    if op.ty != OperationType::Mutation {
        return Err("Bulk mutations must contain exactly one mutation operation".into());
    }
    let fields: Vec<&str> = op
        .selection_set
        .node
        .items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.as_str()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or("Bulk mutations must select their mutation field directly, without fragments")?;
    let [field] = fields.as_slice() else {
        return Err(format!(
            "Bulk mutations must contain exactly one mutation field; this one has {}",
            fields.len()
        ));
    };
    if NOT_IN_BULK.contains(field) {
        return Err(format!("{field} cannot be run in a bulk mutation"));
    }
    Ok(field.to_string())
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

/// Run one bulk operation (a query, or a mutation's lines) until it ends,
/// is canceled, or — a mutation — the sandbox stops (`stop`).
pub async fn run(core: Arc<Core>, schema: SandboxSchema, id: u64, stop: watch::Receiver<bool>) {
    let kind = lock(&core.bulk).ops.get(&id).map(|o| o.kind);
    match kind {
        Some(BulkKind::Query) => run_query(&core, &schema, id).await,
        Some(BulkKind::Mutation) => run_mutation(&core, &schema, id, stop).await,
        None => {}
    }
}

/// Mark a `CREATED` operation `RUNNING`; `None` when it is gone, or was
/// canceled before it started (then it is `CANCELED`).
fn start(core: &Core, id: u64) -> Option<BulkOp> {
    let mut bulk = lock(&core.bulk);
    let op = bulk.ops.get_mut(&id)?;
    if op.status == BulkStatus::Canceling {
        op.status = BulkStatus::Canceled;
        return None;
    }
    op.status = BulkStatus::Running;
    Some(op.clone())
}

async fn run_query(core: &Core, schema: &SandboxSchema, id: u64) {
    let Some(op) = start(core, id) else {
        return;
    };
    let resp = schema
        .execute(async_graphql::Request::new(op.query).data(Unbounded))
        .await;
    let data = resp.data.into_json().unwrap_or(Value::Null);
    let failed = !resp.errors.is_empty();
    let (text, objects, roots) = to_jsonl(&data);
    let mut bulk = lock(&core.bulk);
    let size = text.len() as u64;
    let canceled = bulk
        .ops
        .get(&id)
        .is_some_and(|o| o.status == BulkStatus::Canceling);
    if !failed && !canceled {
        bulk.results.insert(id, Arc::new(text.into_bytes()));
    }
    if let Some(op) = bulk.ops.get_mut(&id) {
        op.completed_at = Some(now());
        op.object_count = objects;
        op.root_object_count = roots;
        if canceled {
            op.status = BulkStatus::Canceled;
            op.completed_at = None;
        } else if failed {
            tracing::warn!(bulk_operation = id, errors = ?resp.errors, "bulk operation failed");
            op.status = BulkStatus::Failed;
            op.error_code = Some(INTERNAL_SERVER_ERROR.into());
        } else {
            op.status = BulkStatus::Completed;
            op.file_size = Some(size);
            op.has_url = objects > 0;
        }
    }
    bulk.trim();
}

/// How often a running bulk mutation writes its checkpoint (lines done and
/// their results) to the store.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How a bulk mutation's run ended.
enum End {
    Completed,
    Canceled,
    /// The sandbox stops: the operation resumes at the next start.
    Stopped,
    Failed(String),
}

/// The variables of each line of a bulk mutation's file (the staged upload
/// named by its `stagedUploadPath`).
fn variables_of(core: &Core, op: &BulkOp) -> Result<Arc<Vec<u8>>, String> {
    let path = op.staged_upload_path.as_deref().unwrap_or_default();
    core.snapshot()
        .staged
        .by_key(path)
        .and_then(|t| t.bytes.clone())
        .ok_or_else(|| format!("the variables file {path} is gone"))
}

/// One line of a bulk mutation's result: the line's response — `data`,
/// and `errors` when there are any (no `data` when no root field has any)
/// — with its `__lineNumber` (0-based).
pub fn result_line(resp: async_graphql::Response, line: usize) -> String {
    let mut out = Map::new();
    let data = resp.data.into_json().unwrap_or(Value::Null);
    let has_data = match &data {
        Value::Object(m) => m.values().any(|v| !v.is_null()),
        Value::Null => false,
        _ => true,
    };
    if has_data || resp.errors.is_empty() {
        out.insert("data".into(), data);
    }
    if !resp.errors.is_empty() {
        out.insert(
            "errors".into(),
            serde_json::to_value(&resp.errors).unwrap_or(Value::Null),
        );
    }
    out.insert("__lineNumber".into(), Value::from(line));
    let mut text = Value::Object(out).to_string();
    text.push('\n');
    text
}

/// Write a running bulk mutation's checkpoint into the store, then the
/// state file.
async fn checkpoint(core: &Core, id: u64, lines_done: u64, text: &[u8], stopped: bool) {
    {
        let mut bulk = lock(&core.bulk);
        bulk.checkpoints.insert(
            id,
            Checkpoint {
                lines_done,
                text: Arc::new(text.to_vec()),
            },
        );
        if stopped {
            bulk.stopped.insert(id);
        }
    }
    core.mirror_bulk();
    persist(core).await;
}

async fn persist(core: &Core) {
    if let Err(e) = core.persist().await {
        tracing::error!(error = %e, "could not persist the store");
    }
}

/// How many lines of a bulk mutation run at once, each on a task of its
/// own (with a `bulk_line_delay`, always one). Lines in flight together
/// may change the store in either order; their results are written, and
/// counted in `objectCount` and the checkpoint, in line order (the
/// checkpoint is the prefix of lines done).
///
/// Two: a line's JSON, validation and answer run beside the other line's
/// store change under the writer lock. With the mutation parsed once per
/// operation, two gave 8% more products per second end to end than one
/// (`cargo bench --bench e2e -- 100000`, 2 cores, mapsync filling the next
/// file at the same time); before that, parsing each line's mutation made
/// the lock wait dominate and two gave nothing.
pub const LINES_IN_FLIGHT: usize = 2;

/// The mutation of a bulk operation, parsed once for all its lines (the
/// text is kept for requests that cannot take the parsed form).
#[derive(Clone)]
struct Mutation {
    text: Arc<str>,
    parsed: Option<Arc<async_graphql::parser::types::ExecutableDocument>>,
}

impl Mutation {
    fn new(text: &str) -> Mutation {
        Mutation {
            text: Arc::from(text),
            parsed: async_graphql::parser::parse_query(text).ok().map(Arc::new),
        }
    }

    /// A request of this mutation with a line's variables.
    fn request(&self, vars: Value) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(&*self.text)
            .variables(async_graphql::Variables::from_json(vars));
        if let Some(doc) = &self.parsed {
            request.set_parsed_query((**doc).clone());
        }
        request
    }
}

/// Run one line of a bulk mutation on its own task; gives its result line.
fn spawn_line(
    schema: &SandboxSchema,
    mutation: &Mutation,
    line: &str,
    n: usize,
) -> tokio::task::JoinHandle<String> {
    let schema = schema.clone();
    let mutation = mutation.clone();
    let line = line.to_string();
    tokio::spawn(async move {
        let vars = serde_json::from_str::<Value>(&line).unwrap_or(Value::Null);
        let resp = schema.execute(mutation.request(vars)).await;
        result_line(resp, n)
    })
}

/// Run the lines of a bulk mutation from its checkpoint, each as a request
/// of its own (same schema, rules and writer lock; no bucket, no faults),
/// up to [`LINES_IN_FLIGHT`] at a time, then store the result. A stop or a
/// cancel launches no more lines and waits for those in flight, so the
/// checkpoint (or the partial result) has every line applied. A crash
/// (no clean stop) loses what was done after the last checkpoint: those
/// lines may have been applied and run again when the operation resumes.
async fn run_mutation(
    core: &Core,
    schema: &SandboxSchema,
    id: u64,
    mut stop: watch::Receiver<bool>,
) {
    let Some(op) = start(core, id) else {
        core.mirror_bulk();
        persist(core).await;
        return;
    };
    let (first, mut text) = {
        let mut bulk = lock(&core.bulk);
        bulk.stopped.remove(&id);
        let cp = bulk.checkpoints.get(&id).cloned();
        match cp {
            Some(c) => (c.lines_done, c.text.as_ref().clone()),
            None => (0, Vec::new()),
        }
    };
    let mut done = first;
    checkpoint(core, id, done, &text, false).await;
    let file = variables_of(core, &op);
    let delay = core.config.bulk_line_delay;
    let width = if delay.is_zero() { LINES_IN_FLIGHT } else { 1 };
    let mutation = Mutation::new(&op.query);
    let mut last = Instant::now();
    let end = 'lines: {
        let bytes = match file {
            Ok(b) => b,
            Err(e) => break 'lines End::Failed(e),
        };
        let lines = match variable_lines(&bytes) {
            Ok(l) => l,
            Err(e) => break 'lines End::Failed(e),
        };
        let mut next = done as usize;
        let mut in_flight = VecDeque::new();
        // Why no more lines are launched (those in flight still finish).
        let mut halt: Option<End> = None;
        loop {
            while halt.is_none() && in_flight.len() < width && next < lines.len() {
                if !delay.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => {}
                    }
                }
                if *stop.borrow() {
                    halt = Some(End::Stopped);
                    break;
                }
                let canceling = lock(&core.bulk)
                    .ops
                    .get(&id)
                    .is_none_or(|o| o.status == BulkStatus::Canceling);
                if canceling {
                    halt = Some(End::Canceled);
                    break;
                }
                in_flight.push_back((next, spawn_line(schema, &mutation, lines[next], next)));
                next += 1;
            }
            let Some((n, task)) = in_flight.pop_front() else {
                break 'lines halt.unwrap_or(End::Completed);
            };
            let line = match task.await {
                Ok(line) => line,
                Err(e) => {
                    let failed = async_graphql::Response::from_errors(vec![
                        async_graphql::ServerError::new("Internal error", None),
                    ]);
                    if halt.is_none() {
                        halt = Some(End::Failed(format!("line {n} did not finish: {e}")));
                    }
                    result_line(failed, n)
                }
            };
            text.extend_from_slice(line.as_bytes());
            done = n as u64 + 1;
            if let Some(o) = lock(&core.bulk).ops.get_mut(&id) {
                o.object_count = done;
                o.root_object_count = done;
            }
            lock(&core.stats).bulk_lines += 1;
            if last.elapsed() >= CHECKPOINT_EVERY {
                checkpoint(core, id, done, &text, false).await;
                last = Instant::now();
            }
        }
    };
    if let End::Stopped = end {
        checkpoint(core, id, done, &text, true).await;
        return;
    }
    let size = text.len() as u64;
    {
        let mut bulk = lock(&core.bulk);
        bulk.checkpoints.remove(&id);
        bulk.results.insert(id, Arc::new(text));
        if let Some(op) = bulk.ops.get_mut(&id) {
            match end {
                End::Completed => {
                    op.status = BulkStatus::Completed;
                    op.completed_at = Some(now());
                    op.file_size = Some(size);
                    op.has_url = true;
                }
                End::Canceled => {
                    op.status = BulkStatus::Canceled;
                    op.has_partial = true;
                }
                End::Failed(reason) => {
                    tracing::warn!(bulk_operation = id, %reason, "bulk mutation failed");
                    op.status = BulkStatus::Failed;
                    op.error_code = Some(INTERNAL_SERVER_ERROR.into());
                    op.has_partial = true;
                }
                End::Stopped => {}
            }
        }
        bulk.trim();
    }
    core.mirror_bulk();
    persist(core).await;
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
    fn one_mutation_field() {
        let set = "mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } userErrors { message } } }";
        assert_eq!(check_mutation(set).unwrap(), "productSet");
        for bad in [
            "{ shop { id } }",
            "mutation { productDelete(input: {id: \"x\"}) { deletedProductId } productDelete2: productDelete(input: {id: \"y\"}) { deletedProductId } }",
            "mutation { ...F } fragment F on Mutation { productDelete(input: {id: \"x\"}) { deletedProductId } }",
            "mutation { bulkOperationRunQuery(query: \"{ shop { id } }\") { userErrors { message } } }",
            "mutation A { productDelete(input: {id: \"x\"}) { deletedProductId } } mutation B { productDelete(input: {id: \"x\"}) { deletedProductId } }",
            "mutation {",
        ] {
            assert!(check_mutation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn result_lines_carry_their_line_number() {
        let ok = async_graphql::Response::new(async_graphql::Value::from_json(serde_json::json!({"productSet": {"product": {"id": "gid://shopify/Product/1"}, "userErrors": []}})).unwrap());
        assert_eq!(
            result_line(ok, 0),
            "{\"data\":{\"productSet\":{\"product\":{\"id\":\"gid://shopify/Product/1\"},\"userErrors\":[]}},\"__lineNumber\":0}\n"
        );
        let mut bad = async_graphql::Response::new(
            async_graphql::Value::from_json(serde_json::json!({"productSet": null})).unwrap(),
        );
        bad.errors
            .push(async_graphql::ServerError::new("Invalid value", None));
        let line: Value = serde_json::from_str(&result_line(bad, 2)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"errors": [{"message": "Invalid value"}], "__lineNumber": 2})
        );
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
