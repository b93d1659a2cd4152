//! The hash of each field mapsync last wrote to an item (ledger column
//! `fields`, migration 7): [`mapsync_core::diff::FieldHashes`] as
//! [`mapsync_core::diff::encode_field_hashes`] writes them. Written with a
//! [`crate::Change::Wrote`], cleared by a [`crate::Change::Success`] (what
//! was written field by field is then unknown), kept by a failure. Not
//! part of [`crate::LedgerRow`]: the planner loads millions of rows, and
//! needs these only for the items whose current state it reads.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use mapsync_core::diff::FieldHashes;
use mapsync_core::source::Entity;

use crate::{db_err, StateError, Store};

/// The JSON text stored for `fields`.
pub(crate) fn to_text(fields: &FieldHashes) -> String {
    mapsync_core::diff::encode_field_hashes(fields)
}

/// The field hashes stored as `text`; an unreadable value is no hashes
/// (then no drift is seen for the item until it is written again).
pub fn from_text(text: &str) -> Option<FieldHashes> {
    let found = mapsync_core::diff::decode_field_hashes(text);
    if found.is_none() {
        tracing::warn!("ignoring unreadable field hashes in the ledger");
    }
    found
}

impl Store {
    /// The field hashes of the items of `keys` that have them, by key.
    pub fn field_hashes(
        &self,
        channel: &str,
        entity: Entity,
        keys: &[String],
    ) -> Result<HashMap<String, FieldHashes>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading the field hashes", e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT fields FROM ledger WHERE channel = ?1 AND entity = ?2 AND key = ?3 \
                 AND fields IS NOT NULL",
            )
            .map_err(err)?;
        let mut out = HashMap::new();
        for key in keys {
            let text: Option<String> = stmt
                .query_row(params![channel, entity.as_str(), key], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if let Some(f) = text.as_deref().and_then(from_text) {
                out.insert(key.clone(), f);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, LedgerUpdate};

    fn hashes(pairs: &[(&str, &str)]) -> FieldHashes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Written with `Wrote`, kept by a failure, cleared by `Success`, gone
    /// with the row.
    #[test]
    fn field_hashes_follow_the_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let date = time::OffsetDateTime::now_utc();
        let f = hashes(&[("title", "aaaa"), ("variants[A].price", "bbbb")]);
        let up = |key: &str, change: Change| LedgerUpdate {
            entity: Entity::Product,
            key: key.into(),
            change,
        };
        store
            .record_many(
                "c",
                &[
                    up(
                        "A",
                        Change::Wrote {
                            target_id: "1".into(),
                            hash: "h".into(),
                            date,
                            fields: f.clone(),
                        },
                    ),
                    up(
                        "B",
                        Change::Success {
                            target_id: "2".into(),
                            hash: "h".into(),
                            date,
                        },
                    ),
                ],
            )
            .unwrap();
        let keys = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let got = store.field_hashes("c", Entity::Product, &keys).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got.get("A"), Some(&f));
        assert!(store
            .field_hashes("other", Entity::Product, &keys)
            .unwrap()
            .is_empty());
        // The row itself reads as before.
        let row = store.get("c", Entity::Product, "A").unwrap().unwrap();
        assert_eq!(row.hash.as_deref(), Some("h"));

        store
            .record_failure("c", Entity::Product, "A", None, "drift")
            .unwrap();
        let got = store.field_hashes("c", Entity::Product, &keys).unwrap();
        assert_eq!(got.get("A"), Some(&f), "a failure keeps them");

        store
            .record_success("c", Entity::Product, "A", "1", "h2", date)
            .unwrap();
        let got = store.field_hashes("c", Entity::Product, &keys).unwrap();
        assert!(got.is_empty(), "a success without them clears them");
    }
}
