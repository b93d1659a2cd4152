//! Write-backs to the source (SyncID / SyncDate / SyncMsg) not yet
//! acknowledged, and what incremental reads need of the run journal.
//!
//! An item's write-back is marked pending in the same transaction that
//! records its outcome ([`Store::record_many_marking`]); the mark goes once
//! the source took the values ([`Store::writebacks_done`]). What is still
//! marked is sent again by the next run, with the ledger's values of then
//! ([`Store::pending_writebacks`]), until it succeeds.

use rusqlite::params;
use time::OffsetDateTime;

use super::{db_err, parse_date, read_row, LedgerRow, LedgerUpdate, RunId, StateError, Store};
use mapsync_core::source::Entity;

const MARK_SQL: &str =
    "INSERT OR IGNORE INTO writebacks (channel, entity, key) VALUES (?1, ?2, ?3)";

impl Store {
    /// [`Store::record_many`], marking the write-back of each success or
    /// failure of an entity `mark` accepts as pending, in the same
    /// transaction.
    pub fn record_many_marking(
        &mut self,
        channel: &str,
        updates: &[LedgerUpdate],
        mark: &dyn Fn(Entity) -> bool,
    ) -> Result<(), StateError> {
        self.record_many_with(channel, updates, Some(mark))
    }

    /// Write-backs of `entity` still pending, with the ledger's values,
    /// in key order, at most `limit`, after `after` (a key; paging).
    pub fn pending_writebacks(
        &self,
        channel: &str,
        entity: Entity,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, LedgerRow)>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading pending write-backs", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.key, l.target_id, l.hash, l.sync_date, l.message, l.attempts \
                 FROM writebacks w JOIN ledger l \
                 ON l.channel = w.channel AND l.entity = w.entity AND l.key = w.key \
                 WHERE w.channel = ?1 AND w.entity = ?2 AND w.key > ?3 \
                 ORDER BY w.key LIMIT ?4",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(
                params![channel, entity.as_str(), after.unwrap_or(""), limit],
                |r| Ok((r.get::<_, String>(0)?, read_row(r, 1)?)),
            )
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }

    /// How many write-backs of `channel` are pending.
    pub fn pending_writeback_count(&self, channel: &str) -> Result<u64, StateError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM writebacks WHERE channel = ?1",
                params![channel],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| db_err(&self.path, self.busy, "reading pending write-backs", e))
    }

    /// The source took these items' values: their marks go.
    pub fn writebacks_done(
        &mut self,
        channel: &str,
        entity: Entity,
        keys: &[String],
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let busy = self.busy;
        let err = |e| db_err(&path, busy, "clearing write-backs", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        {
            let mut del = tx
                .prepare_cached(
                    "DELETE FROM writebacks WHERE channel = ?1 AND entity = ?2 AND key = ?3",
                )
                .map_err(err)?;
            for k in keys {
                del.execute(params![channel, entity.as_str(), k])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Marks whether `run` read its source in full (a run that read any
    /// entity incrementally did not).
    pub fn set_full_read(&mut self, run: RunId, full: bool) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE runs SET full_read = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![run.0, i64::from(full)]))
            .map_err(|e| db_err(&self.path, self.busy, "journaling a run", e))?;
        Ok(())
    }

    /// When the last run of `profile` that finished (ok or partial)
    /// started, and when the last such run that read its source in full
    /// started.
    pub fn read_history(
        &self,
        profile: &str,
    ) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading runs", e);
        let query = |full_only: bool| -> Result<Option<OffsetDateTime>, StateError> {
            let sql = if full_only {
                "SELECT started_at FROM runs WHERE profile = ?1 AND status IN ('ok', 'partial') \
                 AND full_read = 1 ORDER BY id DESC LIMIT 1"
            } else {
                "SELECT started_at FROM runs WHERE profile = ?1 AND status IN ('ok', 'partial') \
                 ORDER BY id DESC LIMIT 1"
            };
            let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
            let mut rows = stmt.query(params![profile]).map_err(err)?;
            match rows.next().map_err(err)? {
                Some(row) => {
                    let s: String = row.get(0).map_err(err)?;
                    Ok(parse_date(&s))
                }
                None => Ok(None),
            }
        };
        Ok((query(false)?, query(true)?))
    }
}

/// Marks one item's write-back pending inside a ledger transaction.
pub(super) fn mark(
    tx: &rusqlite::Transaction<'_>,
    channel: &str,
    entity: Entity,
    key: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(MARK_SQL)?
        .execute(params![channel, entity.as_str(), key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, RunId, RunStatus};

    #[test]
    fn outcomes_mark_write_backs_until_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let now = OffsetDateTime::now_utc();
        let updates = vec![
            LedgerUpdate {
                entity: Entity::Product,
                key: "A".into(),
                change: Change::Success {
                    target_id: "t1".into(),
                    hash: "h".into(),
                    date: now,
                },
            },
            LedgerUpdate {
                entity: Entity::Product,
                key: "B".into(),
                change: Change::Failure {
                    target_id: None,
                    message: "refused".into(),
                },
            },
            LedgerUpdate {
                entity: Entity::Category,
                key: "C".into(),
                change: Change::Success {
                    target_id: "t2".into(),
                    hash: "h".into(),
                    date: now,
                },
            },
        ];
        store
            .record_many_marking("c", &updates, &|e| e == Entity::Product)
            .unwrap();
        let pending = store
            .pending_writebacks("c", Entity::Product, None, 10)
            .unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].0, "A");
        assert_eq!(pending[0].1.target_id.as_deref(), Some("t1"));
        assert_eq!(pending[1].1.message.as_deref(), Some("refused"));
        assert!(store
            .pending_writebacks("c", Entity::Category, None, 10)
            .unwrap()
            .is_empty());
        let after = store
            .pending_writebacks("c", Entity::Product, Some("A"), 10)
            .unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(store.pending_writeback_count("c").unwrap(), 2);
        store
            .writebacks_done("c", Entity::Product, &["A".to_string()])
            .unwrap();
        assert_eq!(store.pending_writeback_count("c").unwrap(), 1);
    }

    #[test]
    fn pruning_keeps_the_newest_runs_and_the_last_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let t = |s: i64| OffsetDateTime::from_unix_timestamp(1_700_000_000 + s).unwrap();
        // A full read, an incremental read, then 10 failed runs.
        let full = store.begin_run("p", "c", t(0)).unwrap();
        store
            .finish_run(full, t(1), RunStatus::Ok, &serde_json::json!({}))
            .unwrap();
        store.set_full_read(full, true).unwrap();
        let inc = store.begin_run("p", "c", t(10)).unwrap();
        store
            .finish_run(inc, t(11), RunStatus::Partial, &serde_json::json!({}))
            .unwrap();
        store.set_full_read(inc, false).unwrap();
        for i in 0..10 {
            let r = store.begin_run("p", "c", t(20 + i)).unwrap();
            store
                .finish_run(r, t(21 + i), RunStatus::Failed, &serde_json::json!({}))
                .unwrap();
        }
        let other = store.begin_run("q", "c", t(0)).unwrap();
        assert_eq!(store.prune_runs("p", 100).unwrap(), 0, "fewer than kept");
        let before = store.read_history("p").unwrap();
        assert_eq!(store.prune_runs("p", 3).unwrap(), 7);
        let left: Vec<RunId> = store
            .recent_runs("p", 100)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left.len(), 5, "3 newest, the last read, the last full read");
        assert!(
            left.contains(&full) && left.contains(&inc),
            "{left:?} {full:?} {inc:?}"
        );
        assert_eq!(store.read_history("p").unwrap(), before);
        assert_eq!(store.recent_runs("q", 10).unwrap()[0].id, other);
        assert_eq!(store.prune_runs("p", 3).unwrap(), 0);
    }

    #[test]
    fn read_history_knows_the_last_run_and_the_last_full_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(store.read_history("p").unwrap(), (None, None));
        let t1 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let t2 = OffsetDateTime::from_unix_timestamp(1_700_000_600).unwrap();
        let r1 = store.begin_run("p", "c", t1).unwrap();
        store
            .finish_run(r1, t1, crate::RunStatus::Ok, &serde_json::json!({}))
            .unwrap();
        let r2 = store.begin_run("p", "c", t2).unwrap();
        store.set_full_read(r2, false).unwrap();
        store
            .finish_run(r2, t2, crate::RunStatus::Partial, &serde_json::json!({}))
            .unwrap();
        let r3 = store.begin_run("p", "c", t2).unwrap();
        store
            .finish_run(r3, t2, crate::RunStatus::Failed, &serde_json::json!({}))
            .unwrap();
        assert_eq!(store.read_history("p").unwrap(), (Some(t2), Some(t1)));
    }
}
