//! Uploads by content hash, batches submitted and not yet recorded,
//! pending write-backs and the image publish progress: the SQLite store's
//! `uploads`, `batches`, `writebacks` and `images` modules on PostgreSQL.

use std::time::Duration;

use sqlx::Row;
use time::OffsetDateTime;

use crate::{
    parse_date, read_row, rfc3339, BatchLine, LedgerRow, PendingBatch, PgStateError, PgStore,
};
use mapsync_core::source::Entity;

impl PgStore {
    /// Where the file with content `hash` was uploaded for `channel`, when
    /// that was at most `max_age` ago.
    pub async fn upload_location(
        &self,
        channel: &str,
        hash: &str,
        max_age: Duration,
    ) -> Result<Option<String>, PgStateError> {
        let err = self.err("reading uploads");
        let row = sqlx::query(
            "SELECT location, uploaded_at FROM uploads WHERE channel = $1 AND hash = $2",
        )
        .bind(channel)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(&err)?;
        let Some(row) = row else { return Ok(None) };
        let location: String = row.try_get(0).map_err(&err)?;
        let at: &str = row.try_get(1).map_err(&err)?;
        let now = OffsetDateTime::now_utc();
        Ok(parse_date(at).and_then(|at| (now - at <= max_age).then_some(location)))
    }

    /// Remembers that the file with content `hash` was uploaded to
    /// `location` at `at` (replacing an older upload of it).
    pub async fn record_upload(
        &self,
        channel: &str,
        hash: &str,
        location: &str,
        at: OffsetDateTime,
    ) -> Result<(), PgStateError> {
        let at = rfc3339(at)?;
        sqlx::query(
            "INSERT INTO uploads (channel, hash, location, uploaded_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel, hash) DO UPDATE SET \
             location = excluded.location, uploaded_at = excluded.uploaded_at",
        )
        .bind(channel)
        .bind(hash)
        .bind(location)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording an upload"))?;
        Ok(())
    }

    /// Forgets the upload of `hash` (its location no longer works).
    pub async fn forget_upload(&self, channel: &str, hash: &str) -> Result<(), PgStateError> {
        sqlx::query("DELETE FROM uploads WHERE channel = $1 AND hash = $2")
            .bind(channel)
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(self.err("forgetting an upload"))?;
        Ok(())
    }

    /// Removes the uploads of `channel` older than `max_age` (or with an
    /// unreadable date); returns how many.
    pub async fn prune_uploads(
        &self,
        channel: &str,
        max_age: Duration,
    ) -> Result<usize, PgStateError> {
        let err = self.err("pruning uploads");
        let now = OffsetDateTime::now_utc();
        let rows = sqlx::query("SELECT hash, uploaded_at FROM uploads WHERE channel = $1")
            .bind(channel)
            .fetch_all(&self.pool)
            .await
            .map_err(&err)?;
        let (mut old, mut old_at): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for row in &rows {
            let hash: String = row.try_get(0).map_err(&err)?;
            let at: String = row.try_get(1).map_err(&err)?;
            if parse_date(&at).is_none_or(|at| now - at > max_age) {
                old.push(hash);
                old_at.push(at);
            }
        }
        if old.is_empty() {
            return Ok(0);
        }
        // Only the rows still as read: an upload recorded again meanwhile
        // (by another worker) stays.
        let done = sqlx::query(
            "DELETE FROM uploads u USING UNNEST($2::TEXT[], $3::TEXT[]) AS o(h, a) \
             WHERE u.channel = $1 AND u.hash = o.h AND u.uploaded_at = o.a",
        )
        .bind(channel)
        .bind(&old)
        .bind(&old_at)
        .execute(&self.pool)
        .await
        .map_err(&err)?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(old.len()))
    }

    /// Remembers a submitted batch until [`Self::forget_batch`].
    pub async fn record_batch(
        &self,
        channel: &str,
        handle: &str,
        entity: Entity,
        lines: &[BatchLine],
        at: OffsetDateTime,
    ) -> Result<(), PgStateError> {
        let lines = serde_json::to_string(lines).unwrap_or_else(|_| "[]".into());
        let at = rfc3339(at)?;
        sqlx::query(
            "INSERT INTO batches (channel, handle, entity, keys, submitted_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (channel, handle) DO UPDATE SET \
             entity = excluded.entity, keys = excluded.keys, submitted_at = excluded.submitted_at",
        )
        .bind(channel)
        .bind(handle)
        .bind(entity.as_str())
        .bind(lines)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording a batch"))?;
        Ok(())
    }

    /// The batches of `channel` whose outcomes are not recorded, oldest
    /// first. A row whose lines cannot be read comes back with no lines;
    /// one of an unknown entity is skipped.
    pub async fn pending_batches(&self, channel: &str) -> Result<Vec<PendingBatch>, PgStateError> {
        let err = self.err("reading batches");
        let rows = sqlx::query(
            "SELECT handle, entity, keys, submitted_at FROM batches \
             WHERE channel = $1 ORDER BY submitted_at, handle",
        )
        .bind(channel)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        let mut out = Vec::new();
        for row in &rows {
            let entity: &str = row.try_get(1).map_err(&err)?;
            let Ok(entity) = entity.parse::<Entity>() else {
                continue;
            };
            let lines: &str = row.try_get(2).map_err(&err)?;
            out.push(PendingBatch {
                handle: row.try_get(0).map_err(&err)?,
                entity,
                lines: serde_json::from_str(lines).unwrap_or_default(),
                submitted_at: row.try_get(3).map_err(&err)?,
            });
        }
        Ok(out)
    }

    /// Drops a batch whose outcomes are recorded. Returns whether it was there.
    pub async fn forget_batch(&self, channel: &str, handle: &str) -> Result<bool, PgStateError> {
        let done = sqlx::query("DELETE FROM batches WHERE channel = $1 AND handle = $2")
            .bind(channel)
            .bind(handle)
            .execute(&self.pool)
            .await
            .map_err(self.err("forgetting a batch"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Write-backs of `entity` still pending, with the ledger's values,
    /// in key order, at most `limit`, after `after` (a key; paging).
    pub async fn pending_writebacks(
        &self,
        channel: &str,
        entity: Entity,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, LedgerRow)>, PgStateError> {
        let err = self.err("reading pending write-backs");
        let rows = sqlx::query(
            "SELECT l.key, l.target_id, l.hash, l.sync_date, l.message, l.attempts \
             FROM writebacks w JOIN ledger l \
             ON l.channel = w.channel AND l.entity = w.entity AND l.key = w.key \
             WHERE w.channel = $1 AND w.entity = $2 AND w.key > $3 \
             ORDER BY w.key LIMIT $4",
        )
        .bind(channel)
        .bind(entity.as_str())
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, read_row(r, 1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(&err)
    }

    /// How many write-backs of `channel` are pending.
    pub async fn pending_writeback_count(&self, channel: &str) -> Result<u64, PgStateError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM writebacks WHERE channel = $1")
            .bind(channel)
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("reading pending write-backs"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The source took these items' values: their marks go.
    pub async fn writebacks_done(
        &self,
        channel: &str,
        entity: Entity,
        keys: &[String],
    ) -> Result<(), PgStateError> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM writebacks WHERE channel = $1 AND entity = $2 AND key = ANY($3)")
            .bind(channel)
            .bind(entity.as_str())
            .bind(keys)
            .execute(&self.pool)
            .await
            .map_err(self.err("clearing write-backs"))?;
        Ok(())
    }

    /// The outcome recorded for publish item `item` of `channel`, if done.
    pub async fn image_published(
        &self,
        channel: &str,
        item: &str,
    ) -> Result<Option<String>, PgStateError> {
        sqlx::query_scalar("SELECT outcome FROM image_publish WHERE channel = $1 AND item = $2")
            .bind(channel)
            .bind(item)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err("reading the image publish progress"))
    }

    /// Records that publish item `item` of `channel` is done with `outcome`.
    pub async fn record_image_published(
        &self,
        channel: &str,
        item: &str,
        outcome: &str,
        at: OffsetDateTime,
    ) -> Result<(), PgStateError> {
        let at = rfc3339(at)?;
        sqlx::query(
            "INSERT INTO image_publish (channel, item, outcome, done_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel, item) DO UPDATE SET \
             outcome = excluded.outcome, done_at = excluded.done_at",
        )
        .bind(channel)
        .bind(item)
        .bind(outcome)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording the image publish progress"))?;
        Ok(())
    }
}
