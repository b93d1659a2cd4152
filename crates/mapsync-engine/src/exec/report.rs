//! The run report of `sync` and `apply` (cli.md, "the run report"): counts,
//! requests and one entry per item that had something to do or could not
//! be synced. Values only: rendering is `cli::render`'s job.

use serde::{Deserialize, Serialize};

use mapsync_core::document::Entity;
use mapsync_plan::reconcile::Action;

/// The report's `format_version`.
pub const FORMAT_VERSION: u32 = 1;

/// An item's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Done (or nothing to do).
    Ok,
    /// Not done; `message` says why (it is the item's SyncMsg).
    Failed,
}

/// One item of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemReport {
    /// Which entity.
    pub entity: Entity,
    /// The item's key (a target-only item's marker, if any).
    pub key: Option<String>,
    /// The planned action.
    pub action: Action,
    /// Whether it was done.
    pub status: Status,
    /// The item's id in the target after the run.
    pub target_id: Option<String>,
    /// Why it failed (SyncMsg), or a note (adopted after a lost answer).
    pub message: Option<String>,
    /// What kind of failure (refused, transient, gone, outcome_unknown,
    /// config, failed); absent when the item was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<mapsync_core::target::ErrorKind>,
    /// HTTP requests this item cost.
    pub requests: u32,
    /// Fields edited in the target since mapsync wrote them, written over
    /// by this run (`on_drift: overwrite`; the message names them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drift: usize,
    /// Two-way fields whose target value this run wrote to the source.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pulled: usize,
}

/// Counts of the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Items created.
    pub created: usize,
    /// Items updated.
    pub updated: usize,
    /// Items deleted.
    pub deleted: usize,
    /// Items unpublished.
    pub deactivated: usize,
    /// Items with nothing to do.
    pub unchanged: usize,
    /// Items a rule skipped.
    pub skipped: usize,
    /// Invalid source records.
    pub invalid: usize,
    /// Items whose change failed.
    pub failed: usize,
    /// Fields of the updated items edited in the store since mapsync
    /// wrote them (drift; each overwritten, kept or failing its item as
    /// `settings.on_drift` says). Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drift: usize,
    /// Two-way fields whose target value went back to the source (of the
    /// items done). Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pulled: usize,
    /// Items held by a two-way conflict (`conflict: manual`) until
    /// `mapsync resolve` picks a side; counted in `invalid` too. Absent
    /// when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Requests of the run (reads and writes, every attempt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// HTTP requests sent.
    pub total: u64,
    /// Answers that were THROTTLED or 429.
    pub throttled: u64,
    /// Attempts that were retries.
    pub retried: u64,
    /// Query cost the store charged.
    pub cost: u64,
}

/// The run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Profile name.
    pub profile: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// Counts.
    pub summary: RunSummary,
    /// Requests.
    pub requests: Requests,
    /// Items that had a change to make, failed or were invalid, in the
    /// order they finished within each phase.
    pub items: Vec<ItemReport>,
    /// Write-backs to the source (SyncID, SyncDate, SyncMsg), when the
    /// source takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writeback: Option<super::writeback::WritebackReport>,
}

impl RunReport {
    /// Exit code per cli.md: 0 all items succeeded, 3 some failed or were
    /// invalid.
    pub fn exit_code(&self) -> u8 {
        if self.summary.failed > 0 || self.summary.invalid > 0 {
            3
        } else {
            0
        }
    }
}

impl RunSummary {
    /// Count one finished item.
    pub fn add(&mut self, action: Action, status: Status) {
        if status == Status::Failed {
            self.failed += 1;
            return;
        }
        match action {
            Action::Create => self.created += 1,
            Action::Update => self.updated += 1,
            Action::Delete => self.deleted += 1,
            Action::Deactivate => self.deactivated += 1,
            Action::Unchanged => self.unchanged += 1,
            Action::Skip => self.skipped += 1,
            Action::Invalid => self.invalid += 1,
        }
    }
}
