//! The choices made with `mapsync resolve KEY FIELD --take source|target`
//! (table `resolutions`, migration 8): for a field flowing both ways with
//! `conflict: manual`, the side a person picked, per channel, entity, item
//! key and field. The field is named by its diff path (`vendor`,
//! `metafields[custom.material]`), the name `mapsync_plan::two_way`
//! keys an item's policies by, and the choice is what
//! [`mapsync_core::two_way::Policy::resolved`] takes.
//!
//! A choice replaces an earlier one for the same field; a run reads the
//! choices of the items it classifies ([`Store::resolutions`]) and clears
//! those it applied ([`Store::clear_resolutions`]) — only those: a choice
//! recorded again meanwhile stays for the next run.

use rusqlite::params;
use time::OffsetDateTime;

use mapsync_core::source::Entity;
use mapsync_core::two_way::Side;

use super::{db_err, parse_date, rfc3339, StateError, Store};

/// One recorded choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The item's entity.
    pub entity: Entity,
    /// The item's key.
    pub key: String,
    /// The field, by diff path.
    pub field: String,
    /// The side whose value is kept: `Source` pushes the source's value to
    /// the target, `Target` pulls the target's into the source.
    pub take: Side,
    /// When the choice was recorded (to the nanosecond: it identifies the
    /// choice when it is cleared).
    pub recorded_at: OffsetDateTime,
    /// The field hash ([`mapsync_core::diff`]'s) of the source's value the
    /// choice was made for, when known; `None`: the field's next conflict,
    /// whatever its values.
    pub source_hash: Option<String>,
    /// The same for the target's value.
    pub target_hash: Option<String>,
}

impl Resolution {
    /// Whether the choice is for a conflict between values with these
    /// hashes: it names no values, or the same ones. A choice made for
    /// values that changed again since does not apply (the conflict is a
    /// new one, for a person to look at again).
    pub fn applies_to(&self, source_hash: &str, target_hash: &str) -> bool {
        self.source_hash.as_deref().is_none_or(|h| h == source_hash)
            && self.target_hash.as_deref().is_none_or(|h| h == target_hash)
    }

    /// A choice from a row's text columns (entity, take and the RFC 3339
    /// date as stored, the same in SQLite and PostgreSQL), or `None`
    /// (with a warning) when it does not read as a choice this version
    /// knows: it is then ignored, never guessed.
    pub fn from_row_text(
        entity: &str,
        key: String,
        field: String,
        take: &str,
        recorded_at: &str,
        hashes: (Option<String>, Option<String>),
    ) -> Option<Resolution> {
        let (Ok(entity), Some(take), Some(recorded_at)) = (
            entity.parse::<Entity>(),
            Side::parse(take),
            parse_date(recorded_at),
        ) else {
            tracing::warn!(entity = %entity, take = %take, recorded_at = %recorded_at, "ignoring an unreadable `mapsync resolve` choice in the state store");
            return None;
        };
        Some(Resolution {
            entity,
            key,
            field,
            take,
            recorded_at,
            source_hash: hashes.0,
            target_hash: hashes.1,
        })
    }
}

const COLUMNS: &str = "entity, key, field, take, recorded_at, source_hash, target_hash";

/// A row of `COLUMNS`, or `None` (with a warning) when it does not read as
/// a choice this version knows: it is then ignored, never guessed.
fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Resolution>> {
    let (entity, take, at): (String, String, String) = (row.get(0)?, row.get(3)?, row.get(4)?);
    Ok(Resolution::from_row_text(
        &entity,
        row.get(1)?,
        row.get(2)?,
        &take,
        &at,
        (row.get(5)?, row.get(6)?),
    ))
}

impl Store {
    /// Records a choice for `channel`, replacing an earlier one for the
    /// same entity, key and field.
    pub fn record_resolution(
        &mut self,
        channel: &str,
        choice: &Resolution,
    ) -> Result<(), StateError> {
        let at = rfc3339(choice.recorded_at)?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO resolutions \
                 (channel, entity, key, field, take, recorded_at, source_hash, target_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    channel,
                    choice.entity.as_str(),
                    choice.key,
                    choice.field,
                    choice.take.as_str(),
                    at,
                    choice.source_hash,
                    choice.target_hash
                ])
            })
            .map_err(|e| db_err(&self.path, self.busy, "recording a resolve choice", e))?;
        Ok(())
    }

    /// The choices recorded for `channel` and `entity` and not yet cleared:
    /// of the items of `keys`, or of every item when `None`; in key, then
    /// field order.
    pub fn resolutions(
        &self,
        channel: &str,
        entity: Entity,
        keys: Option<&[String]>,
    ) -> Result<Vec<Resolution>, StateError> {
        let err = |e| db_err(&self.path, self.busy, "reading resolve choices", e);
        let mut out = Vec::new();
        match keys {
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM resolutions WHERE channel = ?1 AND entity = ?2 \
                         ORDER BY key, field"
                    ))
                    .map_err(err)?;
                let rows = stmt
                    .query_map(params![channel, entity.as_str()], read)
                    .map_err(err)?;
                for r in rows {
                    out.extend(r.map_err(err)?);
                }
            }
            Some(keys) => {
                let mut stmt = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM resolutions \
                         WHERE channel = ?1 AND entity = ?2 AND key = ?3 ORDER BY field"
                    ))
                    .map_err(err)?;
                let mut sorted: Vec<&String> = keys.iter().collect();
                sorted.sort();
                sorted.dedup();
                for key in sorted {
                    let rows = stmt
                        .query_map(params![channel, entity.as_str(), key], read)
                        .map_err(err)?;
                    for r in rows {
                        out.extend(r.map_err(err)?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Clears the choices a run applied, in one transaction: each one that
    /// is still as read (same entity, key, field and recording instant); a
    /// choice recorded again since stays. Returns how many went.
    pub fn clear_resolutions(
        &mut self,
        channel: &str,
        applied: &[Resolution],
    ) -> Result<usize, StateError> {
        let path = self.path.clone();
        let busy = self.busy;
        let err = |e| db_err(&path, busy, "clearing resolve choices", e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM resolutions WHERE channel = ?1 AND entity = ?2 AND key = ?3 \
                     AND field = ?4 AND recorded_at = ?5",
                )
                .map_err(err)?;
            for r in applied {
                let at = rfc3339(r.recorded_at)?;
                n += stmt
                    .execute(params![channel, r.entity.as_str(), r.key, r.field, at])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(
            1_700_000_000_000_000_000 + i128::from(s) * 1_000_000_001,
        )
        .unwrap()
    }

    fn choice(key: &str, field: &str, take: Side, s: i64) -> Resolution {
        Resolution {
            entity: Entity::Product,
            key: key.into(),
            field: field.into(),
            take,
            recorded_at: at(s),
            source_hash: None,
            target_hash: None,
        }
    }

    /// Recorded, replaced for the same field, listed by key, cleared only
    /// as applied; kept per channel and entity; the migration is there.
    #[test]
    fn choices_are_recorded_replaced_listed_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(store.schema_version().unwrap(), 8);
        assert!(store
            .resolutions("c", Entity::Product, None)
            .unwrap()
            .is_empty());
        let first = choice("B", "vendor", Side::Source, 0);
        store.record_resolution("c", &first).unwrap();
        let mut with_hashes = choice("A", "metafields[custom.material]", Side::Target, 1);
        with_hashes.source_hash = Some("aaaa".into());
        with_hashes.target_hash = Some("bbbb".into());
        store.record_resolution("c", &with_hashes).unwrap();
        store
            .record_resolution("other", &choice("B", "vendor", Side::Target, 2))
            .unwrap();
        let mut category = choice("B", "title", Side::Target, 2);
        category.entity = Entity::Category;
        store.record_resolution("c", &category).unwrap();

        let all = store.resolutions("c", Entity::Product, None).unwrap();
        assert_eq!(all, vec![with_hashes.clone(), first.clone()], "key order");
        // A second choice for the field replaces the first.
        let second = choice("B", "vendor", Side::Target, 3);
        store.record_resolution("c", &second).unwrap();
        let keys = ["B".to_string(), "Z".to_string(), "B".to_string()];
        let of_b = store
            .resolutions("c", Entity::Product, Some(&keys[..]))
            .unwrap();
        assert_eq!(of_b, vec![second.clone()]);
        assert_eq!(
            store.resolutions("c", Entity::Category, None).unwrap(),
            vec![category]
        );

        // Clearing the choice read before the second one leaves it.
        assert_eq!(store.clear_resolutions("c", &[first]).unwrap(), 0);
        assert_eq!(store.clear_resolutions("c", &[second]).unwrap(), 1);
        let left = store.resolutions("c", Entity::Product, None).unwrap();
        assert_eq!(left, vec![with_hashes]);
        assert_eq!(
            store
                .resolutions("other", Entity::Product, None)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_choice_with_hashes_applies_only_to_those_values() {
        let mut c = choice("A", "vendor", Side::Source, 0);
        assert!(c.applies_to("x", "y"), "no hashes: any conflict");
        c.source_hash = Some("x".into());
        c.target_hash = Some("y".into());
        assert!(c.applies_to("x", "y"));
        assert!(!c.applies_to("x", "z"));
        assert!(!c.applies_to("w", "y"));
    }

    #[test]
    fn an_unreadable_choice_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut store = Store::open(&path).unwrap();
        store
            .record_resolution("c", &choice("A", "vendor", Side::Source, 0))
            .unwrap();
        store
            .conn
            .execute(
                "INSERT INTO resolutions (channel, entity, key, field, take, recorded_at) \
                 VALUES ('c', 'product', 'B', 'vendor', 'both', '2026-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        let got = store.resolutions("c", Entity::Product, None).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].key, "A");
    }
}
