//! Bulk exports: start a `bulkOperationRunQuery`, poll
//! `currentBulkOperation` until it completes, download the JSONL result
//! (without the access token: it is a signed URL) and assemble its lines into
//! trees by `__parentId`. It must not know what the rows mean; the read side
//! turns trees into model values.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use tracing::{debug, info};

use super::client::ShopifyClient;
use super::cost;
use super::documents::{self, Document};
use super::error::{ShopifyError, UserErrorInfo};

/// One exported object with the objects of its nested connections.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkNode {
    /// The line's fields, without `__parentId`.
    pub value: Map<String, Value>,
    /// Lines whose `__parentId` is this object's id, in file order.
    pub children: Vec<BulkNode>,
}

impl BulkNode {
    pub fn id(&self) -> Option<&str> {
        self.value.get("id").and_then(Value::as_str)
    }

    /// The type in a `gid://shopify/<Type>/<n>` id (`ProductVariant`).
    pub fn gid_type(&self) -> Option<&str> {
        gid_type(self.id()?)
    }
}

/// The type part of a Shopify global id.
pub fn gid_type(id: &str) -> Option<&str> {
    id.strip_prefix("gid://shopify/")?.split('/').next()
}

/// Builds trees from JSONL lines fed one at a time; parents may come before
/// or after their children.
#[derive(Debug, Default)]
pub struct BulkAssembler {
    rows: Vec<(Map<String, Value>, Option<String>)>,
    lines: usize,
}

impl BulkAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one line (empty lines are skipped).
    pub fn push_line(&mut self, line: &str) -> Result<(), ShopifyError> {
        self.lines += 1;
        let line = line.trim();
        if line.is_empty() {
            return Ok(());
        }
        let mut value: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| ShopifyError::Bulk {
                id: String::new(),
                message: format!("JSONL line {}: {e}", self.lines),
            })?;
        let parent = match value.remove("__parentId") {
            Some(Value::String(p)) => Some(p),
            None | Some(Value::Null) => None,
            Some(other) => {
                return Err(ShopifyError::Bulk {
                    id: String::new(),
                    message: format!(
                        "JSONL line {}: __parentId is not a string: {other}",
                        self.lines
                    ),
                })
            }
        };
        self.rows.push((value, parent));
        Ok(())
    }

    /// Number of objects read so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The root objects in file order, each with its descendants.
    pub fn finish(self) -> Result<Vec<BulkNode>, ShopifyError> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, (value, _)) in self.rows.iter().enumerate() {
            if let Some(id) = value.get("id").and_then(Value::as_str) {
                index.insert(id, i);
            }
        }
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.rows.len()];
        let mut roots = Vec::new();
        for (i, (_, parent)) in self.rows.iter().enumerate() {
            match parent {
                None => roots.push(i),
                Some(p) => match index.get(p.as_str()) {
                    Some(&pi) if pi != i => children[pi].push(i),
                    _ => {
                        return Err(ShopifyError::Bulk {
                            id: String::new(),
                            message: format!("JSONL object {} has unknown parent {p}", i + 1),
                        })
                    }
                },
            }
        }
        let mut values: Vec<Option<Map<String, Value>>> =
            self.rows.into_iter().map(|(v, _)| Some(v)).collect();
        // Iterative post-order build (no recursion on remote data).
        let mut built: Vec<Option<BulkNode>> = (0..values.len()).map(|_| None).collect();
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((i, expanded)) = stack.pop() {
            if expanded {
                let kids = children[i]
                    .iter()
                    .filter_map(|&k| built[k].take())
                    .collect();
                built[i] = Some(BulkNode {
                    value: values[i].take().unwrap_or_default(),
                    children: kids,
                });
            } else {
                stack.push((i, true));
                for &k in children[i].iter().rev() {
                    stack.push((k, false));
                }
            }
        }
        Ok(roots.into_iter().filter_map(|r| built[r].take()).collect())
    }
}

/// Assembles a whole JSONL text.
pub fn assemble(text: &str) -> Result<Vec<BulkNode>, ShopifyError> {
    let mut assembler = BulkAssembler::new();
    for line in text.lines() {
        assembler.push_line(line)?;
    }
    assembler.finish()
}

/// How bulk exports are waited for.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    /// First wait between polls; doubles up to `poll_max`.
    pub poll_interval: Duration,
    pub poll_max: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for BulkOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            poll_max: Duration::from_secs(5),
            timeout: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkOperation {
    id: String,
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    object_count: Option<Value>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunPayload {
    #[serde(default)]
    bulk_operation: Option<BulkOperation>,
    #[serde(default)]
    user_errors: Vec<UserErrorInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunData {
    bulk_operation_run_query: Option<RunPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CurrentData {
    current_bulk_operation: Option<BulkOperation>,
}

/// Runs `query` (a [`documents::Kind::BulkQuery`]) as a bulk export and
/// returns the assembled result.
pub async fn run_bulk_query(
    client: &ShopifyClient,
    query: &Document,
    options: &BulkOptions,
) -> Result<Vec<BulkNode>, ShopifyError> {
    let id = start_bulk_query(client, query).await?;
    let Some(url) = wait_for_bulk(client, &id, options).await? else {
        // Shopify gives no file when nothing matched.
        return Ok(Vec::new());
    };
    download_bulk(client, &id, &url).await
}

/// Starts the bulk export of `query` and returns its operation id.
async fn start_bulk_query(
    client: &ShopifyClient,
    query: &Document,
) -> Result<String, ShopifyError> {
    let started = client
        .execute::<RunData>(
            &documents::BULK_OPERATION_RUN_QUERY,
            serde_json::json!({ "query": query.source }),
            cost::bulk_operation_run_query(),
        )
        .await?;
    let payload = started
        .data
        .bulk_operation_run_query
        .ok_or_else(|| ShopifyError::Bulk {
            id: String::new(),
            message: "bulkOperationRunQuery answered null".into(),
        })?;
    if !payload.user_errors.is_empty() {
        return Err(ShopifyError::UserErrors {
            operation: documents::BULK_OPERATION_RUN_QUERY.name,
            errors: payload.user_errors,
        });
    }
    let operation = payload.bulk_operation.ok_or_else(|| ShopifyError::Bulk {
        id: String::new(),
        message: "bulkOperationRunQuery returned no operation".into(),
    })?;
    let id = operation.id;
    info!(bulk_id = %id, query = query.name, "bulk export started");
    Ok(id)
}

/// Polls the bulk operation `id` until it completes; its result URL, if any.
async fn wait_for_bulk(
    client: &ShopifyClient,
    id: &str,
    options: &BulkOptions,
) -> Result<Option<String>, ShopifyError> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut wait = options.poll_interval;
    loop {
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(options.poll_max);
        let current = client
            .execute::<CurrentData>(
                &documents::CURRENT_BULK_OPERATION,
                serde_json::json!({}),
                cost::single_object(),
            )
            .await?;
        let op = current
            .data
            .current_bulk_operation
            .ok_or_else(|| ShopifyError::Bulk {
                id: id.to_owned(),
                message: "currentBulkOperation is null".into(),
            })?;
        if op.id != id {
            return Err(ShopifyError::Bulk {
                id: id.to_owned(),
                message: format!("another bulk operation ({}) replaced it", op.id),
            });
        }
        debug!(bulk_id = %id, status = %op.status, objects = ?op.object_count, "bulk export status");
        match op.status.as_str() {
            "COMPLETED" => return Ok(op.url),
            "FAILED" | "CANCELED" | "CANCELING" | "EXPIRED" => {
                return Err(ShopifyError::Bulk {
                    id: id.to_owned(),
                    message: format!(
                        "status {}{}",
                        op.status,
                        op.error_code.map(|c| format!(" ({c})")).unwrap_or_default()
                    ),
                })
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ShopifyError::Bulk {
                id: id.to_owned(),
                message: format!("not finished after {:?}", options.timeout),
            });
        }
    }
}

/// Streams the JSONL result at `url` into the assembler, line by line.
async fn download_bulk(
    client: &ShopifyClient,
    id: &str,
    url: &str,
) -> Result<Vec<BulkNode>, ShopifyError> {
    let mut response = client.download(url).await.map_err(|e| with_id(e, id))?;
    let mut assembler = BulkAssembler::new();
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| ShopifyError::Bulk {
            id: id.to_owned(),
            message: format!("download broke off: {}", e.without_url()),
        })?;
        let Some(chunk) = chunk else { break };
        pending.extend_from_slice(&chunk);
        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            push_bytes(&mut assembler, &line, id)?;
        }
    }
    push_bytes(&mut assembler, &pending, id)?;
    info!(bulk_id = %id, objects = assembler.len(), "bulk export downloaded");
    assembler.finish().map_err(|e| with_id(e, id))
}

fn push_bytes(assembler: &mut BulkAssembler, line: &[u8], id: &str) -> Result<(), ShopifyError> {
    let text = std::str::from_utf8(line).map_err(|e| ShopifyError::Bulk {
        id: id.to_owned(),
        message: format!("JSONL is not UTF-8: {e}"),
    })?;
    assembler.push_line(text).map_err(|e| with_id(e, id))
}

fn with_id(error: ShopifyError, id: &str) -> ShopifyError {
    match error {
        ShopifyError::Bulk { message, .. } => ShopifyError::Bulk {
            id: id.to_owned(),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_attach_to_parents_in_any_order() {
        let text = r#"{"id":"gid://shopify/ProductVariant/2","__parentId":"gid://shopify/Product/1"}
{"id":"gid://shopify/Product/1","title":"A"}
{"id":"gid://shopify/Product/3","title":"B"}

{"id":"gid://shopify/Metafield/9","__parentId":"gid://shopify/Product/1"}"#;
        let roots = assemble(text).unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0].children.len(), 2);
        assert_eq!(roots[0].children[0].gid_type(), Some("ProductVariant"));
        assert!(roots[0].children[0].value.get("__parentId").is_none());
        assert!(roots[1].children.is_empty());
    }

    #[test]
    fn orphans_and_bad_lines_are_errors() {
        assert!(assemble(r#"{"id":"a","__parentId":"nope"}"#).is_err());
        assert!(assemble("{not json").is_err());
        assert_eq!(gid_type("gid://shopify/MediaImage/5"), Some("MediaImage"));
        assert_eq!(gid_type("x"), None);
    }
}
