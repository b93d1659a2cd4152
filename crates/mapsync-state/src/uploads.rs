//! Files uploaded to a target, by content hash (embedded images): where
//! the target keeps each one and when it was uploaded, so the same file is
//! uploaded once — for several items of a run, and by a run resumed after
//! being killed between an upload and the write that uses it.
//!
//! A target keeps staged files for a limited time (its upload targets
//! expire), so a lookup ignores entries older than the caller's `max_age`
//! (the engine uses [`MAX_AGE`], 24 hours) and [`Store::prune_uploads`]
//! removes them.

use std::time::Duration;

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{db_err, parse_date, rfc3339, StateError, Store};

/// How long an upload is used again: a day, well within the time a
/// target keeps a staged file.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

impl Store {
    /// Where the file with content `hash` was uploaded for `channel`, when
    /// that was at most `max_age` ago.
    pub fn upload_location(
        &self,
        channel: &str,
        hash: &str,
        max_age: Duration,
    ) -> Result<Option<String>, StateError> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT location, uploaded_at FROM uploads WHERE channel = ?1 AND hash = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![channel, hash], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| db_err(&self.path, self.busy, "reading uploads", e))?;
        let now = OffsetDateTime::now_utc();
        Ok(row.and_then(|(location, at)| {
            let at = parse_date(&at)?;
            (now - at <= max_age).then_some(location)
        }))
    }

    /// Remembers that the file with content `hash` was uploaded to
    /// `location` at `at` (replacing an older upload of it).
    pub fn record_upload(
        &mut self,
        channel: &str,
        hash: &str,
        location: &str,
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let at = rfc3339(at)?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO uploads (channel, hash, location, uploaded_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![channel, hash, location, at]))
            .map_err(|e| db_err(&self.path, self.busy, "recording an upload", e))?;
        Ok(())
    }

    /// Forgets the upload of `hash` (its location no longer works).
    pub fn forget_upload(&mut self, channel: &str, hash: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM uploads WHERE channel = ?1 AND hash = ?2")
            .and_then(|mut s| s.execute(params![channel, hash]))
            .map_err(|e| db_err(&self.path, self.busy, "forgetting an upload", e))?;
        Ok(())
    }

    /// Removes the uploads of `channel` older than `max_age`; returns how
    /// many.
    pub fn prune_uploads(&mut self, channel: &str, max_age: Duration) -> Result<usize, StateError> {
        let err = |e| db_err(&self.path, self.busy, "pruning uploads", e);
        let now = OffsetDateTime::now_utc();
        let old: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT hash, uploaded_at FROM uploads WHERE channel = ?1")
                .map_err(err)?;
            let rows = stmt
                .query_map(params![channel], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(err)?;
            let mut old = Vec::new();
            for row in rows {
                let (hash, at) = row.map_err(err)?;
                if parse_date(&at).is_none_or(|at| now - at > max_age) {
                    old.push(hash);
                }
            }
            old
        };
        if old.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM uploads WHERE channel = ?1 AND hash = ?2")
                .map_err(err)?;
            for hash in &old {
                stmt.execute(params![channel, hash]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(old.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_found_by_channel_and_hash_until_they_are_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("state.db")).unwrap();
        let now = OffsetDateTime::now_utc();
        assert_eq!(s.upload_location("shop", "h1", MAX_AGE).unwrap(), None);
        s.record_upload("shop", "h1", "https://up/1/a.png", now)
            .unwrap();
        s.record_upload(
            "shop",
            "h2",
            "https://up/2/b.png",
            now - time::Duration::hours(25),
        )
        .unwrap();
        assert_eq!(
            s.upload_location("shop", "h1", MAX_AGE).unwrap().as_deref(),
            Some("https://up/1/a.png")
        );
        assert_eq!(s.upload_location("other", "h1", MAX_AGE).unwrap(), None);
        assert_eq!(
            s.upload_location("shop", "h2", MAX_AGE).unwrap(),
            None,
            "too old"
        );
        // A new upload replaces the old one.
        s.record_upload("shop", "h2", "https://up/3/b.png", now)
            .unwrap();
        assert_eq!(
            s.upload_location("shop", "h2", MAX_AGE).unwrap().as_deref(),
            Some("https://up/3/b.png")
        );
        s.record_upload(
            "shop",
            "h3",
            "https://up/4/c.png",
            now - time::Duration::days(3),
        )
        .unwrap();
        assert_eq!(s.prune_uploads("shop", MAX_AGE).unwrap(), 1);
        s.forget_upload("shop", "h1").unwrap();
        assert_eq!(s.upload_location("shop", "h1", MAX_AGE).unwrap(), None);
        assert!(s.upload_location("shop", "h2", MAX_AGE).unwrap().is_some());
    }
}
