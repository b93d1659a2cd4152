//! Batch writes submitted to a target and not yet recorded: the handle the
//! platform gave the batch and, per line, the item it carries. A row is
//! written right after the submit and removed once every line's outcome is
//! in the ledger, so a run killed in between finds the batch, waits for it
//! and records its results instead of submitting the items again.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{db_err, rfc3339, StateError, Store};
use mapsync_core::source::Entity;

/// One line of a pending batch: the item it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLine {
    /// The item's key.
    pub key: String,
    /// Hash of the document the line writes (the ledger's hash on success).
    pub hash: String,
    /// `create` or `update`.
    pub action: String,
    /// The item's id in the target before the batch (updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

/// A batch submitted to the target whose outcomes are not recorded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBatch {
    /// The platform's handle of the batch.
    pub handle: String,
    /// The entity of its items.
    pub entity: Entity,
    /// Its lines, in line-number order.
    pub lines: Vec<BatchLine>,
    /// When it was submitted.
    pub submitted_at: String,
}

impl Store {
    /// Remembers a submitted batch until [`Store::forget_batch`].
    pub fn record_batch(
        &mut self,
        channel: &str,
        handle: &str,
        entity: Entity,
        lines: &[BatchLine],
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let lines = serde_json::to_string(lines).unwrap_or_else(|_| "[]".into());
        let at = rfc3339(at)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO batches (channel, handle, entity, keys, submitted_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![channel, handle, entity.as_str(), lines, at],
            )
            .map_err(|e| db_err(&self.path, self.busy, "recording a batch", e))?;
        Ok(())
    }

    /// The batches of `channel` whose outcomes are not recorded, oldest
    /// first. A row whose lines cannot be read (written by a newer
    /// version) comes back with no lines: its items are found again by
    /// their ownership markers.
    pub fn pending_batches(&self, channel: &str) -> Result<Vec<PendingBatch>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading batches", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT handle, entity, keys, submitted_at FROM batches \
                 WHERE channel = ?1 ORDER BY submitted_at, handle",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![channel], |r| {
                let entity: String = r.get(1)?;
                let lines: String = r.get(2)?;
                Ok((
                    r.get::<_, String>(0)?,
                    entity,
                    lines,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (handle, entity, lines, submitted_at) = row.map_err(err)?;
            let Ok(entity) = entity.parse::<Entity>() else {
                continue;
            };
            out.push(PendingBatch {
                handle,
                entity,
                lines: serde_json::from_str(&lines).unwrap_or_default(),
                submitted_at,
            });
        }
        Ok(out)
    }

    /// Drops a batch whose outcomes are recorded. Returns whether it was there.
    pub fn forget_batch(&mut self, channel: &str, handle: &str) -> Result<bool, StateError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM batches WHERE channel = ?1 AND handle = ?2",
                params![channel, handle],
            )
            .map_err(|e| db_err(&self.path, self.busy, "forgetting a batch", e))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_pending_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let lines = vec![
            BatchLine {
                key: "A".into(),
                hash: "h1".into(),
                action: "create".into(),
                target_id: None,
            },
            BatchLine {
                key: "B".into(),
                hash: "h2".into(),
                action: "update".into(),
                target_id: Some("gid://shopify/Product/2".into()),
            },
        ];
        let at = OffsetDateTime::now_utc();
        store
            .record_batch(
                "c",
                "gid://shopify/BulkOperation/1",
                Entity::Product,
                &lines,
                at,
            )
            .unwrap();
        assert!(store.pending_batches("other").unwrap().is_empty());
        let pending = store.pending_batches("c").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].handle, "gid://shopify/BulkOperation/1");
        assert_eq!(pending[0].entity, Entity::Product);
        assert_eq!(pending[0].lines, lines);
        assert!(store
            .forget_batch("c", "gid://shopify/BulkOperation/1")
            .unwrap());
        assert!(!store
            .forget_batch("c", "gid://shopify/BulkOperation/1")
            .unwrap());
        assert!(store.pending_batches("c").unwrap().is_empty());
    }
}
