//! Bulk imports and the reads of bulk operations: `bulkOperationRunMutation`
//! (API 2026-04) checks the mutation and the staged variables file and
//! hands the operation to the runner ([`crate::bulk`]); `bulkOperationCancel`;
//! `bulkOperation(id:)` and `bulkOperations(first:, query:, sortKey:)`.
//! Must not speak HTTP or compute cost.

use std::sync::OnceLock;

use async_graphql::{Context, Object, Result, SimpleObject, ID};

use super::errors::{BulkMutationErrorCode, BulkMutationUserError, UserError};
use super::inputs::BulkOperationsSortKeys;
use super::paging::{page, Key, PageArgs};
use super::types::{BulkOperationConnection, BulkOperationObj};
use super::{core, SandboxSchema};
use crate::bulkops::{variable_lines, BulkKind, BulkStatus};
use crate::model::{gid, now, parse_gid};
use crate::runtime::{lock, Core};
use crate::search::Search;

/// Shopify's `BulkOperationRunMutationPayload`.
#[derive(SimpleObject)]
#[graphql(name = "BulkOperationRunMutationPayload")]
pub struct BulkOperationRunMutationPayload {
    pub bulk_operation: Option<BulkOperationObj>,
    pub user_errors: Vec<BulkMutationUserError>,
}

impl BulkOperationRunMutationPayload {
    fn refused(code: BulkMutationErrorCode, field: Option<&str>, message: String) -> Self {
        BulkOperationRunMutationPayload {
            bulk_operation: None,
            user_errors: vec![BulkMutationUserError {
                code: Some(code),
                field: field.map(|f| vec![f.to_string()]),
                message,
            }],
        }
    }
}

/// Shopify's `BulkOperationCancelPayload`.
#[derive(SimpleObject)]
#[graphql(name = "BulkOperationCancelPayload")]
pub struct BulkOperationCancelPayload {
    pub bulk_operation: Option<BulkOperationObj>,
    pub user_errors: Vec<UserError>,
}

/// The resource of the staged uploads a bulk mutation reads.
const VARIABLES_RESOURCE: &str = "BULK_MUTATION_VARIABLES";

/// Why a mutation does not validate against the 2026-04 schema, if it does
/// not. Runs it on a schema without a store (nothing can be applied) and
/// without variables: the values of the variables are each line's own
/// business (an invalid line gets its `errors` in the result). A document
/// that validates fails inside its field (no store), with a path.
async fn schema_error(mutation: &str) -> Option<String> {
    static DETACHED: OnceLock<SandboxSchema> = OnceLock::new();
    let schema = DETACHED.get_or_init(super::build_detached);
    let resp = schema.execute(mutation).await;
    // Validation errors have no path; errors of the run (the missing
    // store) belong to the mutation field. A declared variable without a
    // value (`Variable key is not defined.`, also from a directive's
    // argument) is no fault of the document.
    let unset = |m: &str| {
        m.strip_prefix("Variable ")
            .and_then(|r| r.strip_suffix(" is not defined."))
            .is_some_and(|name| !name.contains([' ', '"']))
    };
    let invalid: Vec<String> = resp
        .errors
        .iter()
        .filter(|e| e.path.is_empty() && !unset(&e.message))
        .map(|e| e.message.clone())
        .collect();
    (!invalid.is_empty()).then(|| invalid.join("; "))
}

/// `bulkOperationRunMutation` (2026-04 only: its file comes from
/// `stagedUploadsCreate`).
#[derive(Default)]
pub struct BulkImportMutation;

#[Object]
impl BulkImportMutation {
    async fn bulk_operation_run_mutation(
        &self,
        ctx: &Context<'_>,
        mutation: String,
        staged_upload_path: String,
        client_identifier: Option<String>,
    ) -> Result<BulkOperationRunMutationPayload> {
        use BulkMutationErrorCode as Code;
        let core = core(ctx)?;
        let refused = BulkOperationRunMutationPayload::refused;
        if let Err(message) = crate::bulk::check_mutation(&mutation) {
            return Ok(refused(Code::InvalidMutation, Some("mutation"), message));
        }
        if let Some(message) = schema_error(&mutation).await {
            return Ok(refused(
                Code::InvalidMutation,
                Some("mutation"),
                format!("Invalid mutation: {message}"),
            ));
        }
        let path = staged_upload_path.trim();
        let st = core.snapshot();
        let Some(bytes) = st
            .staged
            .by_key(path)
            .filter(|t| t.resource == VARIABLES_RESOURCE)
            .and_then(|t| t.bytes.clone())
        else {
            return Ok(refused(
                Code::NoSuchFile,
                Some("stagedUploadPath"),
                format!(
                    "The JSONL file could not be found at {path}: upload it to a \
                     BULK_MUTATION_VARIABLES target of stagedUploadsCreate and pass the \
                     target's key parameter."
                ),
            ));
        };
        let lines = match variable_lines(&bytes) {
            Ok(lines) => lines.len() as u64,
            Err(message) => {
                return Ok(refused(
                    Code::InvalidStagedUploadFile,
                    Some("stagedUploadPath"),
                    message,
                ))
            }
        };
        let op = {
            let mut bulk = lock(&core.bulk);
            if let Some(running) = bulk.active(BulkKind::Mutation) {
                return Ok(refused(
                    Code::OperationInProgress,
                    None,
                    format!(
                        "A bulk mutation operation for this app and shop is already in progress: {}.",
                        gid("BulkOperation", running.id)
                    ),
                ));
            }
            let op = bulk.create(BulkKind::Mutation, mutation, now());
            op.staged_upload_path = Some(path.to_string());
            op.client_identifier = client_identifier;
            op.lines = lines;
            op.clone()
        };
        core.mirror_bulk();
        core.bulk_jobs
            .send(op.id)
            .map_err(|_| "the bulk operation runner has stopped")?;
        Ok(BulkOperationRunMutationPayload {
            bulk_operation: Some(BulkOperationObj(op)),
            user_errors: Vec::new(),
        })
    }
}

/// `bulkOperationCancel` (both API versions).
#[derive(Default)]
pub struct BulkCancelMutation;

#[Object]
impl BulkCancelMutation {
    async fn bulk_operation_cancel(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<BulkOperationCancelPayload> {
        let core = core(ctx)?;
        let (op, user_errors) = {
            let mut bulk = lock(&core.bulk);
            let op = match parse_gid(&id) {
                Some(("BulkOperation", n)) => bulk.ops.get_mut(&n),
                _ => None,
            };
            let Some(op) = op else {
                return Ok(BulkOperationCancelPayload {
                    bulk_operation: None,
                    user_errors: vec![UserError {
                        field: Some(vec!["id".into()]),
                        message: "Bulk operation does not exist".into(),
                    }],
                });
            };
            let errors = match op.status {
                BulkStatus::Created | BulkStatus::Running => {
                    op.status = BulkStatus::Canceling;
                    Vec::new()
                }
                BulkStatus::Canceling => Vec::new(),
                done => vec![UserError {
                    field: Some(vec!["id".into()]),
                    message: format!(
                        "A bulk operation cannot be canceled when it is {}",
                        done.search_name()
                    ),
                }],
            };
            (op.clone(), errors)
        };
        if op.kind == BulkKind::Mutation {
            core.mirror_bulk();
        }
        Ok(BulkOperationCancelPayload {
            bulk_operation: Some(BulkOperationObj(op)),
            user_errors,
        })
    }
}

/// `bulkOperation(id:)`.
pub(super) fn bulk_operation(core: &Core, id: &str) -> Option<BulkOperationObj> {
    match parse_gid(id) {
        Some(("BulkOperation", n)) => lock(&core.bulk).ops.get(&n).cloned().map(BulkOperationObj),
        _ => None,
    }
}

/// `currentBulkOperation(type:)`: the newest operation of that type.
pub(super) fn current(core: &Core, kind: BulkKind) -> Option<BulkOperationObj> {
    lock(&core.bulk).newest(kind).cloned().map(BulkOperationObj)
}

/// A timestamp's sort key for newest first (`2026-04-01T…` sorts after
/// `2026-05-01T…`; an absent one, an operation not completed, first).
fn newest_first(ts: &str) -> String {
    ts.bytes()
        .map(|b| char::from(b'~' - (b.clamp(b' ', b'~') - b' ')))
        .collect()
}

/// `bulkOperations`: newest first by `created_at` (or `completed_at`);
/// `query` filters on `status`, `operation_type`, `id` and `created_at`
/// (terms joined by AND).
pub(super) fn bulk_operations(
    core: &Core,
    args: &PageArgs,
    sort_key: Option<BulkOperationsSortKeys>,
    query: Option<&str>,
) -> Result<BulkOperationConnection> {
    let search = Search::parse(query.unwrap_or_default());
    let bulk = lock(&core.bulk);
    let mut items: Vec<(Key, BulkOperationObj)> = bulk
        .ops
        .values()
        .filter(|o| {
            search.matches(&|f| match f {
                "status" => Some(vec![o.status.search_name().to_string()]),
                "operation_type" => Some(vec![match o.kind {
                    BulkKind::Query => "query".to_string(),
                    BulkKind::Mutation => "mutation".to_string(),
                }]),
                "id" => Some(vec![o.id.to_string()]),
                "created_at" => Some(vec![o.created_at.clone()]),
                _ => None,
            })
        })
        .map(|o| {
            let ts = match sort_key.unwrap_or(BulkOperationsSortKeys::CreatedAt) {
                BulkOperationsSortKeys::CreatedAt => o.created_at.as_str(),
                BulkOperationsSortKeys::CompletedAt => o.completed_at.as_deref().unwrap_or(""),
            };
            (
                (newest_first(ts), u64::MAX - o.id),
                BulkOperationObj(o.clone()),
            )
        })
        .collect();
    drop(bulk);
    items.sort_by(|x, y| x.0.cmp(&y.0));
    if args.reverse {
        items.reverse();
    }
    Ok(BulkOperationConnection::from_page(page(
        items.into_iter(),
        args,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_timestamps_sort_first() {
        let mut v = vec![
            "2026-04-01T10:00:00Z",
            "2026-05-01T09:00:00Z",
            "",
            "2026-04-01T10:00:01Z",
        ];
        v.sort_by_key(|t| newest_first(t));
        assert_eq!(
            v,
            vec![
                "",
                "2026-05-01T09:00:00Z",
                "2026-04-01T10:00:01Z",
                "2026-04-01T10:00:00Z"
            ]
        );
    }
}
