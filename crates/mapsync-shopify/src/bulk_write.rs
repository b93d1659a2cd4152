//! Bulk imports: many products' `productSet` calls in one staged JSONL
//! that Shopify runs on its own (`bulkOperationRunMutation`), outside the
//! leaky bucket, with a result line per input line (`__lineNumber`). The
//! engine takes this path above the target's threshold
//! ([`mapsync_core::target::BatchWrite`]); this module builds the lines,
//! stages and submits the file, polls the operation and reads the result.
//!
//! A line is one product's whole change or the product takes the per-item
//! path: a product with an embedded image not in the store yet (uploaded
//! and followed until processed there), an update that needs a
//! compare-and-swap of quantities
//! (`inventorySetQuantities`) or stocks a level (`inventoryActivate`), and a
//! create when the ownership marker has no unique-values definition (a
//! bulk line cannot look a lost create up by marker), are not lines.
//! Creates are `productSet(identifier: {customId})` on the marker, updates
//! `productSet(identifier: {id})`: a line applied twice has the effect of
//! once.

use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::cost;
use super::documents;
use super::error::{ShopifyError, UserErrorInfo};
use super::input;
use super::model::{Product, MARKER_KEY, MARKER_NAMESPACE};
use super::read::ShopifyTarget;
use super::upload::StagedResource;
use mapsync_core::document::{Document, Entity};
use mapsync_core::target::{BatchOutcome, ErrorKind, TargetError, WriteContext};

/// Creates and updates of products from which they go through a bulk
/// import, unless the target's `bulk_import_threshold` says otherwise.
pub const DEFAULT_THRESHOLD: usize = 1000;
/// Lines of one import (Shopify documents no line limit; the file size is).
pub const MAX_LINES: usize = 100_000;
/// Bytes of one staged JSONL: Shopify takes at most 20 MB per file; a
/// margin is kept for the multipart framing.
pub const MAX_BYTES: usize = 20 * 1024 * 1024 - 64 * 1024;
/// How many times a submit waits for another bulk mutation to end.
const MAX_SUBMITS: u32 = 3;
/// The `clientIdentifier` of mapsync's imports.
const CLIENT_IDENTIFIER: &str = "mapsync";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    id: String,
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    object_count: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    partial_data_url: Option<String>,
}

impl Operation {
    fn running(&self) -> bool {
        matches!(self.status.as_str(), "CREATED" | "RUNNING" | "CANCELING")
    }

    fn done(&self) -> u64 {
        self.object_count
            .as_deref()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// One line of the result file.
#[derive(Debug, Deserialize)]
struct ResultLine {
    #[serde(rename = "__lineNumber")]
    line: Option<usize>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<Value>>,
}

impl ShopifyTarget {
    /// The bulk line of a product's create (`current` is `None`) or update,
    /// or `None` when it must take the per-item path.
    pub async fn bulk_line(
        &self,
        doc: &Document,
        current: Option<&Product>,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Option<Vec<u8>>, ShopifyError> {
        // Embedded images not in the store yet are uploaded and followed
        // until processed on the per-item path.
        if doc.entity != Entity::Product || !input::missing_embedded(doc, current).is_empty() {
            return Ok(None);
        }
        let refused = |e: input::InputError| ShopifyError::UserErrors {
            operation: documents::PRODUCT_SET_BULK.name,
            errors: vec![UserErrorInfo {
                field: None,
                message: format!("not sent: {e}"),
                code: None,
            }],
        };
        let (identifier, input) = match current {
            None => {
                let mut requests = 0;
                if !self.marker_upsert(&mut requests).await {
                    return Ok(None);
                }
                let input = input::product_create(doc, published, ctx).map_err(refused)?;
                let identifier = json!({ "customId": {
                    "namespace": MARKER_NAMESPACE, "key": MARKER_KEY, "value": doc.key,
                }});
                (identifier, input)
            }
            Some(p) => {
                let plan = input::product_update(p, doc, published, ctx).map_err(refused)?;
                if !plan.quantities.is_empty() || !plan.activations.is_empty() {
                    return Ok(None);
                }
                let Some(input) = plan.product_set else {
                    return Ok(None);
                };
                (json!({ "id": p.id }), input)
            }
        };
        let line = json!({ "identifier": identifier, "input": input });
        Ok(Some(serde_json::to_vec(&line).map_err(|e| {
            ShopifyError::Decode {
                operation: documents::PRODUCT_SET_BULK.name,
                request_id: String::new(),
                message: format!("cannot write the bulk line: {e}"),
            }
        })?))
    }

    fn submitted_before(&self, id: &str) -> bool {
        self.bulk_submitted
            .lock()
            .map(|s| s.contains(id))
            .unwrap_or(false)
    }

    fn remember_submit(&self, id: &str) {
        if let Ok(mut s) = self.bulk_submitted.lock() {
            s.insert(id.to_owned());
        }
    }

    /// Stages `lines` and starts the import; returns the operation id.
    /// When another bulk mutation is running (one runs at a time per shop),
    /// waits for it to end and submits again.
    pub async fn bulk_submit(&self, lines: Vec<u8>) -> Result<String, ShopifyError> {
        let mut requests = 0u32;
        let count = lines.iter().filter(|&&b| b == b'\n').count();
        let staged = self
            .stage_file(
                StagedResource::BulkMutationVariables,
                "mapsync-products.jsonl",
                "text/jsonl",
                lines,
                &mut requests,
            )
            .await?;
        let path = staged.key.ok_or_else(|| ShopifyError::Decode {
            operation: documents::STAGED_UPLOADS_CREATE.name,
            request_id: String::new(),
            message: "the staged target of the bulk variables has no `key` parameter".into(),
        })?;
        let vars = json!({
            "mutation": documents::PRODUCT_SET_BULK.source,
            "stagedUploadPath": path,
            "clientIdentifier": CLIENT_IDENTIFIER,
        });
        for attempt in 1..=MAX_SUBMITS {
            let answer = match self
                .client()
                .execute::<Value>(
                    &documents::BULK_OPERATION_RUN_MUTATION,
                    vars.clone(),
                    cost::bulk_operation_run_query(),
                )
                .await
            {
                Ok(a) => a,
                Err(e) if e.outcome_unknown() => {
                    // It may have started: a running import now is ours,
                    // unless it is one this process started before (then
                    // it ends first, and this file is submitted again:
                    // a line applied twice has the effect of once).
                    warn!(error = %e, "bulkOperationRunMutation answer lost; looking for the operation");
                    if let Some(op) = self.bulk_running().await? {
                        if !self.submitted_before(&op) {
                            self.remember_submit(&op);
                            return Ok(op);
                        }
                        self.bulk_poll(&op, &|_| {}).await?;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let payload = &answer.data["bulkOperationRunMutation"];
            let errors: Vec<UserErrorInfo> =
                serde_json::from_value(payload["userErrors"].clone()).unwrap_or_default();
            let in_progress = errors
                .iter()
                .any(|e| e.code.as_deref() == Some("OPERATION_IN_PROGRESS"));
            if in_progress && attempt < MAX_SUBMITS {
                if let Some(other) = self.bulk_running().await? {
                    info!(bulk_id = %other, "another bulk mutation is running; waiting for it to end");
                    self.bulk_poll(&other, &|_| {}).await?;
                }
                continue;
            }
            if !errors.is_empty() {
                return Err(ShopifyError::UserErrors {
                    operation: documents::BULK_OPERATION_RUN_MUTATION.name,
                    errors,
                });
            }
            let id = payload
                .pointer("/bulkOperation/id")
                .and_then(Value::as_str)
                .ok_or_else(|| ShopifyError::Decode {
                    operation: documents::BULK_OPERATION_RUN_MUTATION.name,
                    request_id: answer.request_id.clone(),
                    message: "the answer has no bulkOperation".into(),
                })?;
            info!(bulk_id = %id, lines = count, "bulk import started");
            self.remember_submit(id);
            return Ok(id.to_owned());
        }
        Err(ShopifyError::Bulk {
            id: String::new(),
            message: "another bulk mutation kept running; try again later".into(),
        })
    }

    /// The id of a bulk mutation running in the shop now, if any.
    pub async fn bulk_running(&self) -> Result<Option<String>, ShopifyError> {
        let answer = self
            .client()
            .execute::<Value>(
                &documents::BULK_MUTATIONS_RECENT,
                json!({}),
                cost::single_object(),
            )
            .await?;
        let newest = answer
            .data
            .pointer("/bulkOperations/nodes/0")
            .cloned()
            .and_then(|v| serde_json::from_value::<Operation>(v).ok());
        Ok(newest.filter(Operation::running).map(|op| op.id))
    }

    /// Polls the operation `id` until it ends.
    async fn bulk_poll(
        &self,
        id: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Operation, ShopifyError> {
        let options = &self.read_options().bulk;
        let deadline = tokio::time::Instant::now() + options.timeout;
        let mut wait = options.poll_interval;
        loop {
            let answer = self
                .client()
                .execute::<Value>(
                    &documents::BULK_OPERATION,
                    json!({ "id": id }),
                    cost::single_object(),
                )
                .await?;
            let op = answer
                .data
                .get("bulkOperation")
                .filter(|v| !v.is_null())
                .cloned()
                .ok_or_else(|| ShopifyError::Bulk {
                    id: id.to_owned(),
                    message: "not found (Shopify keeps bulk operations for 7 days)".into(),
                })?;
            let op: Operation = serde_json::from_value(op).map_err(|e| ShopifyError::Decode {
                operation: documents::BULK_OPERATION.name,
                request_id: answer.request_id.clone(),
                message: e.to_string(),
            })?;
            progress(op.done());
            if !op.running() {
                debug!(bulk_id = %id, status = %op.status, lines = op.done(), "bulk import ended");
                return Ok(op);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ShopifyError::Bulk {
                    id: id.to_owned(),
                    message: format!(
                        "still {} after {:?}; the next run takes its results",
                        op.status, options.timeout
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(options.poll_max);
        }
    }

    /// Waits for the import `id` to end and reads its result file.
    pub async fn bulk_wait(
        &self,
        id: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<BatchOutcome, ShopifyError> {
        let op = self.bulk_poll(id, progress).await?;
        let mut outcome = BatchOutcome::default();
        if op.status != "COMPLETED" {
            outcome.ended = Some(format!(
                "the bulk import ended {}{}",
                op.status,
                op.error_code
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ));
        }
        let Some(url) = op.url.clone().or(op.partial_data_url.clone()) else {
            return Ok(outcome);
        };
        let mut response = self.client().download(&url).await.map_err(|e| match e {
            ShopifyError::Bulk { message, .. } => ShopifyError::Bulk {
                id: id.to_owned(),
                message,
            },
            other => other,
        })?;
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|e| ShopifyError::Bulk {
                id: id.to_owned(),
                message: format!("result download broke off: {}", e.without_url()),
            })?;
            let Some(chunk) = chunk else { break };
            pending.extend_from_slice(&chunk);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                take_result_line(&mut outcome, &line, id)?;
            }
        }
        take_result_line(&mut outcome, &pending, id)?;
        info!(bulk_id = %id, status = %op.status, results = outcome.lines.len(), "bulk import results read");
        Ok(outcome)
    }
}

/// One result line into the outcome: the product id, or the line's
/// userErrors or GraphQL errors as a refusal.
fn take_result_line(
    outcome: &mut BatchOutcome,
    bytes: &[u8],
    id: &str,
) -> Result<(), ShopifyError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let line: ResultLine = serde_json::from_str(text).map_err(|e| ShopifyError::Bulk {
        id: id.to_owned(),
        message: format!("a result line is not JSON: {e}"),
    })?;
    let Some(n) = line.line else {
        return Err(ShopifyError::Bulk {
            id: id.to_owned(),
            message: "a result line has no __lineNumber".into(),
        });
    };
    outcome.lines.insert(n, line_result(&line));
    Ok(())
}

fn line_result(line: &ResultLine) -> Result<String, TargetError> {
    let operation = documents::PRODUCT_SET_BULK.name;
    if let Some(errors) = line.errors.as_ref().filter(|e| !e.is_empty()) {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| {
                e.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("error without a message")
                    .to_owned()
            })
            .collect();
        return Err(TargetError::new(
            ErrorKind::Refused,
            format!("{operation} (bulk import): {}", messages.join("; ")),
        ));
    }
    let payload = line
        .data
        .as_ref()
        .and_then(|d| d.get("productSet"))
        .cloned()
        .unwrap_or(Value::Null);
    let errors: Vec<UserErrorInfo> =
        serde_json::from_value(payload["userErrors"].clone()).unwrap_or_default();
    if !errors.is_empty() {
        return Err(ShopifyError::UserErrors { operation, errors }.into());
    }
    match payload.pointer("/product/id").and_then(Value::as_str) {
        Some(id) => Ok(id.to_owned()),
        None => Err(TargetError::new(
            ErrorKind::Failed,
            format!("{operation} (bulk import): the result line has no product id"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_become_outcomes_by_line_number() {
        let mut out = BatchOutcome::default();
        let text = concat!(
            r#"{"data":{"productSet":{"product":{"id":"gid://shopify/Product/7"},"userErrors":[]}},"__lineNumber":1}"#,
            "\n",
            r#"{"data":{"productSet":{"product":null,"userErrors":[{"field":["input","handle"],"message":"Handle has already been taken","code":"TAKEN"}]}},"__lineNumber":0}"#,
            "\n",
            r#"{"errors":[{"message":"Variable $input of type ProductSetInput! was provided invalid value"}],"__lineNumber":2}"#,
        );
        for l in text.lines() {
            take_result_line(&mut out, l.as_bytes(), "1").unwrap();
        }
        assert_eq!(out.lines[&1].as_ref().unwrap(), "gid://shopify/Product/7");
        let e = out.lines[&0].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(
            e.to_string().contains("Handle has already been taken"),
            "{e}"
        );
        let e = out.lines[&2].as_ref().unwrap_err();
        assert!(e.to_string().contains("invalid value"), "{e}");
        assert!(take_result_line(&mut out, b"{\"data\":{}}", "1").is_err());
        assert!(take_result_line(&mut out, b"   ", "1").is_ok());
    }
}
