//! The image round trip's publish progress: each manifest line's action
//! (named by the caller: the image, the action, the file's hash) once the
//! store has it, so a publish killed midway resumes after the last one and
//! publishing the same manifest again sends nothing.

use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{db_err, rfc3339, StateError, Store};

impl Store {
    /// The outcome recorded for publish item `item` of `channel`, if done.
    pub fn image_published(&self, channel: &str, item: &str) -> Result<Option<String>, StateError> {
        self.conn
            .prepare_cached("SELECT outcome FROM image_publish WHERE channel = ?1 AND item = ?2")
            .and_then(|mut s| s.query_row(params![channel, item], |r| r.get(0)).optional())
            .map_err(|e| {
                db_err(
                    &self.path,
                    self.busy,
                    "reading the image publish progress",
                    e,
                )
            })
    }

    /// Records that publish item `item` of `channel` is done with `outcome`.
    pub fn record_image_published(
        &mut self,
        channel: &str,
        item: &str,
        outcome: &str,
        at: OffsetDateTime,
    ) -> Result<(), StateError> {
        let at = rfc3339(at)?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO image_publish (channel, item, outcome, done_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![channel, item, outcome, at]))
            .map_err(|e| {
                db_err(
                    &self.path,
                    self.busy,
                    "recording the image publish progress",
                    e,
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_progress_is_kept_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(store.image_published("c", "a").unwrap(), None);
        store
            .record_image_published("c", "a", "overwritten", OffsetDateTime::now_utc())
            .unwrap();
        assert_eq!(
            store.image_published("c", "a").unwrap().as_deref(),
            Some("overwritten")
        );
        assert_eq!(store.image_published("d", "a").unwrap(), None);
    }
}
