//! The choices of `mapsync resolve` (table `resolutions`, migration 0004):
//! the SQLite store's `resolutions` module on PostgreSQL, with the same
//! value type ([`Resolution`]) and meaning.

use sqlx::postgres::PgRow;
use sqlx::Row;

use mapsync_core::source::Entity;

use crate::{rfc3339, PgStateError, PgStore, Resolution};

/// The columns [`read`] takes, in its order.
macro_rules! columns {
    () => {
        "entity, key, field, take, recorded_at, source_hash, target_hash"
    };
}

/// A row of `columns!()`, or `None` (with a warning) when it does not read as
/// a choice this version knows: it is then ignored, never guessed.
fn read(row: &PgRow) -> Result<Option<Resolution>, sqlx::Error> {
    let (entity, take, at): (String, String, String) =
        (row.try_get(0)?, row.try_get(3)?, row.try_get(4)?);
    Ok(Resolution::from_row_text(
        &entity,
        row.try_get(1)?,
        row.try_get(2)?,
        &take,
        &at,
        (row.try_get(5)?, row.try_get(6)?),
    ))
}

impl PgStore {
    /// Records a choice for `channel`, replacing an earlier one for the
    /// same entity, key and field.
    pub async fn record_resolution(
        &self,
        channel: &str,
        choice: &Resolution,
    ) -> Result<(), PgStateError> {
        let at = rfc3339(choice.recorded_at)?;
        sqlx::query(
            "INSERT INTO resolutions \
             (channel, entity, key, field, take, recorded_at, source_hash, target_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (channel, entity, key, field) DO UPDATE SET \
             take = excluded.take, recorded_at = excluded.recorded_at, \
             source_hash = excluded.source_hash, target_hash = excluded.target_hash",
        )
        .bind(channel)
        .bind(choice.entity.as_str())
        .bind(&choice.key)
        .bind(&choice.field)
        .bind(choice.take.as_str())
        .bind(at)
        .bind(&choice.source_hash)
        .bind(&choice.target_hash)
        .execute(&self.pool)
        .await
        .map_err(self.err("recording a resolve choice"))?;
        Ok(())
    }

    /// The choices recorded for `channel` and `entity` and not yet cleared:
    /// of the items of `keys`, or of every item when `None`; in key, then
    /// field order (byte order, as SQLite's).
    pub async fn resolutions(
        &self,
        channel: &str,
        entity: Entity,
        keys: Option<&[String]>,
    ) -> Result<Vec<Resolution>, PgStateError> {
        let err = self.err("reading resolve choices");
        let rows = match keys {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM resolutions WHERE channel = $1 AND entity = $2 ORDER BY key, field"
                ))
                .bind(channel)
                .bind(entity.as_str())
                .fetch_all(&self.pool)
                .await
            }
            Some(keys) => {
                sqlx::query(concat!(
                    "SELECT ",
                    columns!(),
                    " FROM resolutions \
                     WHERE channel = $1 AND entity = $2 AND key = ANY($3::TEXT[]) \
                     ORDER BY key, field"
                ))
                .bind(channel)
                .bind(entity.as_str())
                .bind(keys)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.extend(read(row).map_err(&err)?);
        }
        Ok(out)
    }

    /// Clears the choices a run applied, in one statement: each one that
    /// is still as read (same entity, key, field and recording instant); a
    /// choice recorded again since stays. Returns how many went.
    pub async fn clear_resolutions(
        &self,
        channel: &str,
        applied: &[Resolution],
    ) -> Result<usize, PgStateError> {
        if applied.is_empty() {
            return Ok(0);
        }
        let mut entity = Vec::with_capacity(applied.len());
        let mut key = Vec::with_capacity(applied.len());
        let mut field = Vec::with_capacity(applied.len());
        let mut at = Vec::with_capacity(applied.len());
        for r in applied {
            entity.push(r.entity.as_str());
            key.push(r.key.as_str());
            field.push(r.field.as_str());
            at.push(rfc3339(r.recorded_at)?);
        }
        let done = sqlx::query(
            "DELETE FROM resolutions r \
             USING UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) AS a(e, k, f, t) \
             WHERE r.channel = $1 AND r.entity = a.e AND r.key = a.k AND r.field = a.f \
             AND r.recorded_at = a.t",
        )
        .bind(channel)
        .bind(&entity)
        .bind(&key)
        .bind(&field)
        .bind(&at)
        .execute(&self.pool)
        .await
        .map_err(self.err("clearing resolve choices"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(applied.len()))
    }
}
