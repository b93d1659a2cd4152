//! The hash of each field mapsync last wrote to an item (ledger column
//! `fields`, migration 0003), as in the SQLite store's `fields`
//! (`mapsync_core::diff::encode_field_hashes`), read only for the items
//! whose current state the planner reads (not part of `LedgerRow`).

use std::collections::HashMap;

use sqlx::Row;

use mapsync_core::diff::FieldHashes;
use mapsync_core::source::Entity;

use crate::{PgStateError, PgStore};

/// The JSON text stored for `fields`.
pub(crate) fn to_text(fields: &FieldHashes) -> String {
    mapsync_core::diff::encode_field_hashes(fields)
}

impl PgStore {
    /// The field hashes of the items of `keys` that have them, by key.
    pub async fn field_hashes(
        &self,
        channel: &str,
        entity: Entity,
        keys: &[String],
    ) -> Result<HashMap<String, FieldHashes>, PgStateError> {
        let err = self.err("reading the field hashes");
        let rows = sqlx::query(
            "SELECT key, fields FROM ledger \
             WHERE channel = $1 AND entity = $2 AND key = ANY($3::TEXT[]) AND fields IS NOT NULL",
        )
        .bind(channel)
        .bind(entity.as_str())
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(&err)?;
        let mut out = HashMap::new();
        for row in rows {
            let key: String = row.try_get(0).map_err(&err)?;
            let text: String = row.try_get(1).map_err(&err)?;
            match mapsync_core::diff::decode_field_hashes(&text) {
                Some(f) => {
                    out.insert(key, f);
                }
                None => tracing::warn!("ignoring unreadable field hashes in the ledger"),
            }
        }
        Ok(out)
    }
}
