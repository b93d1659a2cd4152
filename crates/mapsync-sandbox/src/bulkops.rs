//! Bulk operations as data: each operation (a `bulkOperationRunQuery` or a
//! `bulkOperationRunMutation`), its status and counts, the JSONL results
//! kept for the last [`MAX_KEPT`] finished operations (at most
//! [`MAX_RESULT_BYTES`] in all), and [`BulkLog`], the part the store
//! persists: the mutation operations with their results, and the id
//! counter. Pure; must not run GraphQL or speak HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Most finished operations kept (the oldest go first, with their results).
pub const MAX_KEPT: usize = 50;
/// Most result bytes kept in all; beyond, the oldest results expire
/// (status `EXPIRED`, no URL).
pub const MAX_RESULT_BYTES: usize = 64 * 1024 * 1024;
/// Most lines a bulk mutation's variables file may have.
pub const MAX_LINES: usize = 100_000;
/// Where results are served under the store's URL: `{path}{id}.jsonl`.
pub const RESULT_PATH: &str = "/__sandbox/bulk/";
/// The error code of an operation that could not finish.
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

/// `BulkOperationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkKind {
    #[default]
    Query,
    Mutation,
}

/// `BulkOperationStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkStatus {
    Created,
    Running,
    Canceling,
    Canceled,
    Completed,
    Failed,
    Expired,
}

impl BulkStatus {
    /// Not finished yet (it blocks another operation of its kind).
    pub fn active(self) -> bool {
        matches!(
            self,
            BulkStatus::Created | BulkStatus::Running | BulkStatus::Canceling
        )
    }

    /// The value of the `status:` search term (`running`, ...).
    pub fn search_name(self) -> &'static str {
        match self {
            BulkStatus::Created => "created",
            BulkStatus::Running => "running",
            BulkStatus::Canceling => "canceling",
            BulkStatus::Canceled => "canceled",
            BulkStatus::Completed => "completed",
            BulkStatus::Failed => "failed",
            BulkStatus::Expired => "expired",
        }
    }
}

/// A bulk operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkOp {
    pub id: u64,
    #[serde(default)]
    pub kind: BulkKind,
    /// The query, or the mutation each line of a bulk mutation runs.
    pub query: String,
    pub status: BulkStatus,
    #[serde(default)]
    pub error_code: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    /// Objects written (bulk query) or lines run (bulk mutation) so far.
    #[serde(default)]
    pub object_count: u64,
    #[serde(default)]
    pub root_object_count: u64,
    /// Size of the complete result (`url`).
    #[serde(default)]
    pub file_size: Option<u64>,
    /// A complete result is served (`url`).
    #[serde(default)]
    pub has_url: bool,
    /// A partial result is served (`partialDataUrl`).
    #[serde(default)]
    pub has_partial: bool,
    /// The staged upload `key` of a bulk mutation's variables.
    #[serde(default)]
    pub staged_upload_path: Option<String>,
    #[serde(default)]
    pub client_identifier: Option<String>,
    /// Lines of a bulk mutation's variables file.
    #[serde(default)]
    pub lines: u64,
}

impl BulkOp {
    /// A new operation, `CREATED`.
    pub fn new(id: u64, kind: BulkKind, query: String, created_at: String) -> Self {
        BulkOp {
            id,
            kind,
            query,
            status: BulkStatus::Created,
            error_code: None,
            created_at,
            completed_at: None,
            object_count: 0,
            root_object_count: 0,
            file_size: None,
            has_url: false,
            has_partial: false,
            staged_upload_path: None,
            client_identifier: None,
            lines: 0,
        }
    }

    /// The path of its result under the store's URL.
    pub fn result_path(&self) -> String {
        format!("{RESULT_PATH}{}.jsonl", self.id)
    }
}

/// What a running bulk mutation has written at its last checkpoint: lines
/// done and their result lines (what the state file keeps of it).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub lines_done: u64,
    pub text: Arc<Vec<u8>>,
}

/// The bulk operations of a sandbox (in memory; [`BulkState::log`] is
/// what the store persists).
#[derive(Debug, Default)]
pub struct BulkState {
    pub next_id: u64,
    pub ops: BTreeMap<u64, BulkOp>,
    /// Results served at `{RESULT_PATH}{id}.jsonl` (complete or partial).
    pub results: BTreeMap<u64, Arc<Vec<u8>>>,
    /// Running bulk mutations: their last checkpoint.
    pub checkpoints: BTreeMap<u64, Checkpoint>,
    /// Bulk mutations stopped between two lines by a shutdown: resumed
    /// from their checkpoint at the next start.
    pub stopped: BTreeSet<u64>,
}

impl BulkState {
    /// Make an operation (`CREATED`) with the next id.
    pub fn create(&mut self, kind: BulkKind, query: String, created_at: String) -> &mut BulkOp {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        self.ops
            .entry(id)
            .or_insert_with(|| BulkOp::new(id, kind, query, created_at))
    }

    /// The operation of a kind that is not finished, if any.
    pub fn active(&self, kind: BulkKind) -> Option<&BulkOp> {
        self.ops
            .values()
            .find(|o| o.kind == kind && o.status.active())
    }

    /// The newest operation of a kind.
    pub fn newest(&self, kind: BulkKind) -> Option<&BulkOp> {
        self.ops.values().rev().find(|o| o.kind == kind)
    }

    /// Keep at most [`MAX_KEPT`] finished operations and
    /// [`MAX_RESULT_BYTES`] of results (the oldest go, or expire, first).
    pub fn trim(&mut self) {
        let finished: Vec<u64> = self
            .ops
            .values()
            .filter(|o| !o.status.active())
            .map(|o| o.id)
            .collect();
        for id in finished
            .iter()
            .take(finished.len().saturating_sub(MAX_KEPT))
        {
            self.ops.remove(id);
            self.results.remove(id);
        }
        let mut total: usize = self.results.values().map(|r| r.len()).sum();
        let ids: Vec<u64> = self.results.keys().copied().collect();
        for id in ids {
            if total <= MAX_RESULT_BYTES {
                break;
            }
            let Some(op) = self.ops.get_mut(&id) else {
                continue;
            };
            if op.status.active() {
                continue;
            }
            if let Some(r) = self.results.remove(&id) {
                total -= r.len();
            }
            op.status = BulkStatus::Expired;
            op.has_url = false;
            op.has_partial = false;
        }
    }

    /// What the store persists: the bulk mutations (running ones as of
    /// their last checkpoint) and the id counter. Bulk queries live in
    /// memory only.
    pub fn log(&self) -> BulkLog {
        let ops = self
            .ops
            .values()
            .filter(|o| o.kind == BulkKind::Mutation)
            .map(|o| {
                let mut op = o.clone();
                let result = if op.status.active() {
                    let cp = self.checkpoints.get(&op.id);
                    op.object_count = cp.map_or(0, |c| c.lines_done);
                    op.root_object_count = op.object_count;
                    cp.map(|c| c.text.clone())
                } else {
                    self.results.get(&op.id).cloned()
                };
                BulkRecord {
                    stopped: self.stopped.contains(&op.id),
                    op,
                    result,
                }
            })
            .collect();
        BulkLog {
            next_id: self.next_id,
            ops,
        }
    }

    /// The state a sandbox starts with from its store's log, and the bulk
    /// mutations to resume. A mutation stopped cleanly by a shutdown
    /// (between two lines, its checkpoint written) is resumed from its
    /// checkpoint, one not started yet from its first line; one that was running when the sandbox ended otherwise
    /// is `FAILED` with `INTERNAL_SERVER_ERROR` (the lines of its partial
    /// result were run; later ones may have been applied too); one being
    /// canceled is `CANCELED`.
    pub fn restore(log: &BulkLog) -> (Self, Vec<u64>) {
        let mut state = BulkState {
            next_id: log.next_id.max(1),
            ..Default::default()
        };
        let mut resume = Vec::new();
        for rec in &log.ops {
            let mut op = rec.op.clone();
            state.next_id = state.next_id.max(op.id + 1);
            let text = rec.result.clone();
            match op.status {
                BulkStatus::Created | BulkStatus::Running
                    if op.kind == BulkKind::Mutation
                        && (rec.stopped || op.status == BulkStatus::Created) =>
                {
                    state.checkpoints.insert(
                        op.id,
                        Checkpoint {
                            lines_done: op.object_count,
                            text: text.unwrap_or_default(),
                        },
                    );
                    state.stopped.insert(op.id);
                    resume.push(op.id);
                }
                BulkStatus::Created | BulkStatus::Running | BulkStatus::Canceling => {
                    op.status = if op.status == BulkStatus::Canceling {
                        BulkStatus::Canceled
                    } else {
                        op.error_code = Some(INTERNAL_SERVER_ERROR.into());
                        BulkStatus::Failed
                    };
                    op.has_partial = true;
                    state.results.insert(op.id, text.unwrap_or_default());
                }
                _ => {
                    if let Some(t) = text {
                        state.results.insert(op.id, t);
                    }
                }
            }
            state.ops.insert(op.id, op);
        }
        state.trim();
        (state, resume)
    }
}

/// The bulk operations the store persists (absent from older state files).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BulkLog {
    /// The next operation id (never reused, bulk queries included).
    #[serde(default)]
    pub next_id: u64,
    #[serde(default)]
    pub ops: Vec<BulkRecord>,
}

/// A persisted bulk mutation and its result (complete, partial, or as of
/// its last checkpoint while running).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkRecord {
    #[serde(flatten)]
    pub op: BulkOp,
    #[serde(default, with = "jsonl_text", skip_serializing_if = "Option::is_none")]
    pub result: Option<Arc<Vec<u8>>>,
    /// Stopped cleanly between two lines by a shutdown.
    #[serde(default)]
    pub stopped: bool,
}

/// Serde of a JSONL result as text.
mod jsonl_text {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Option<Arc<Vec<u8>>>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&*String::from_utf8_lossy(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<Vec<u8>>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        Ok(text.map(|t| Arc::new(t.into_bytes())))
    }
}

/// The lines of a bulk mutation's variables file, each a JSON object;
/// the reason when the file is no such JSONL (not UTF-8, a line that is
/// not a JSON object, no line, more than [`MAX_LINES`]). A last line
/// break is no empty line.
pub fn variable_lines(bytes: &[u8]) -> Result<Vec<&str>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "The file is not UTF-8 text.".to_string())?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("The file has no lines.".into());
    }
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.len() > MAX_LINES {
        return Err(format!(
            "The file has {} lines; a bulk mutation takes at most {MAX_LINES}.",
            lines.len()
        ));
    }
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => {}
            _ => {
                return Err(format!(
                    "Unexpected file structure - expected JSONL: line {} is not a JSON object.",
                    i + 1
                ))
            }
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutation_op(state: &mut BulkState) -> u64 {
        state
            .create(BulkKind::Mutation, "mutation { x }".into(), "t".into())
            .id
    }

    #[test]
    fn lines_are_json_objects() {
        assert_eq!(variable_lines(b"{\"a\":1}\n{}\n").unwrap().len(), 2);
        assert_eq!(variable_lines(b"{\"a\":1}\r\n{}").unwrap().len(), 2);
        assert!(variable_lines(b"").is_err());
        assert!(variable_lines(b"{}\n\n{}").is_err());
        assert!(variable_lines(b"[1]").is_err());
        assert!(variable_lines(b"{\"a\":").is_err());
        assert!(variable_lines(&[0xff, 0xfe]).is_err());
        let many = "{}\n".repeat(MAX_LINES + 1);
        assert!(variable_lines(many.as_bytes()).is_err());
    }

    #[test]
    fn finished_operations_are_bounded() {
        let mut s = BulkState::default();
        for _ in 0..MAX_KEPT + 5 {
            let id = mutation_op(&mut s);
            s.ops.get_mut(&id).unwrap().status = BulkStatus::Completed;
            s.results.insert(id, Arc::new(b"{}\n".to_vec()));
        }
        let running = mutation_op(&mut s);
        s.trim();
        assert_eq!(s.ops.len(), MAX_KEPT + 1);
        assert_eq!(s.results.len(), MAX_KEPT);
        assert!(s.ops.contains_key(&running));
        assert!(!s.ops.contains_key(&1));
        let big = mutation_op(&mut s);
        s.ops.get_mut(&big).unwrap().status = BulkStatus::Completed;
        s.results
            .insert(big, Arc::new(vec![b' '; MAX_RESULT_BYTES]));
        s.trim();
        assert!(!s.ops.contains_key(&6));
        assert_eq!(s.ops[&7].status, BulkStatus::Expired);
        assert!(s.results.contains_key(&big));
    }

    #[test]
    fn restore_resumes_clean_stops_and_fails_the_others() {
        let mut s = BulkState::default();
        let query = s
            .create(BulkKind::Query, "{ shop { id } }".into(), "t".into())
            .id;
        let stopped = mutation_op(&mut s);
        let crashed = mutation_op(&mut s);
        let canceling = mutation_op(&mut s);
        let done = mutation_op(&mut s);
        for id in [stopped, crashed] {
            let op = s.ops.get_mut(&id).unwrap();
            op.status = BulkStatus::Running;
            op.object_count = 7;
            s.checkpoints.insert(
                id,
                Checkpoint {
                    lines_done: 2,
                    text: Arc::new(b"{\"__lineNumber\":0}\n{\"__lineNumber\":1}\n".to_vec()),
                },
            );
        }
        s.stopped.insert(stopped);
        s.ops.get_mut(&canceling).unwrap().status = BulkStatus::Canceling;
        let op = s.ops.get_mut(&done).unwrap();
        op.status = BulkStatus::Completed;
        op.has_url = true;
        s.results.insert(done, Arc::new(b"{}\n".to_vec()));

        let log = s.log();
        assert_eq!(log.ops.len(), 4, "bulk queries are not persisted");
        let json = serde_json::to_string(&log).unwrap();
        let back: BulkLog = serde_json::from_str(&json).unwrap();
        let (r, resume) = BulkState::restore(&back);
        assert_eq!(resume, vec![stopped]);
        assert_eq!(r.ops[&stopped].status, BulkStatus::Running);
        assert_eq!(r.ops[&stopped].object_count, 2);
        assert_eq!(r.checkpoints[&stopped].lines_done, 2);
        assert_eq!(r.ops[&crashed].status, BulkStatus::Failed);
        assert_eq!(
            r.ops[&crashed].error_code.as_deref(),
            Some(INTERNAL_SERVER_ERROR)
        );
        assert!(r.ops[&crashed].has_partial);
        assert_eq!(r.results[&crashed].len(), 38);
        assert_eq!(r.ops[&canceling].status, BulkStatus::Canceled);
        assert_eq!(&**r.results[&done], b"{}\n");
        assert!(!r.ops.contains_key(&query));
        assert!(r.next_id > done);
        // Older state files have no log.
        let empty: BulkLog = serde_json::from_str("{}").unwrap();
        assert_eq!(BulkState::restore(&empty).0.next_id, 1);
    }
}
