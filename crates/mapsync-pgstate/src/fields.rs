//! The hash of each field mapsync last wrote to an item (ledger column
//! `fields`, migration 0003), as in the SQLite store's `fields`: a JSON
//! object from diff path to field hash, read only for the items whose
//! current state the planner reads (not part of `LedgerRow`).

use std::collections::HashMap;

use sqlx::Row;

use mapsync_core::diff::FieldHashes;
use mapsync_core::source::Entity;

use crate::{PgStateError, PgStore};

/// The JSON text stored for `fields`.
pub(crate) fn to_text(fields: &FieldHashes) -> String {
    serde_json::to_string(fields).unwrap_or_else(|_| "{}".into())
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
            match serde_json::from_str(&text) {
                Ok(f) => {
                    out.insert(key, f);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring unreadable field hashes in the ledger")
                }
            }
        }
        Ok(out)
    }
}
