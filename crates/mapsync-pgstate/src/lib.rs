//! The mapsync state store on PostgreSQL: the ledger, the run journal,
//! uploads, pending batches, pending write-backs, the image publish
//! progress and the `mapsync resolve` choices, with the same operations and meaning as the SQLite store
//! ([`mapsync_state::Store`]) and the same value types. For several
//! workers on several machines sharing their state (docs/scale.md).
//!
//! [`PgStore`] holds a connection pool (`sqlx::PgPool`); every method is
//! async and takes `&self`, so one store is shared by a run's tasks
//! (clone it: clones share the pool). [`PgStore::record_many`] applies a
//! chunk of outcomes in one transaction, a few statements over arrays
//! (`UNNEST`) rather than one round trip per item.
//!
//! Dates are stored as the SQLite store writes them, RFC 3339 text in UTC
//! (the same values come back to the nanosecond), reports as JSON text
//! (their keys keep their order), and keys compare byte by byte
//! (`COLLATE "C"`), so orders and paging agree with SQLite's.

mod error;
mod fields;
pub mod migrations;
mod resolutions;
mod runs;
mod tables;
mod url;

use std::collections::HashSet;
use std::fmt;

use futures::TryStreamExt;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub use error::PgStateError;
pub use url::{redact_raw, PgUrl, DEFAULT_MAX_CONNECTIONS};

pub use mapsync_state::{
    BatchLine, Change, Ledger, LedgerRow, LedgerUpdate, PendingBatch, Resolution, Run, RunId,
    RunStatus,
};

use mapsync_core::source::Entity;

/// Whether a `state:` URL names a PostgreSQL store.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The PostgreSQL state store: a connection pool and the database's
/// redacted URL (for messages). Clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    url: String,
}

impl fmt::Debug for PgStore {
    // Not the pool's: its options hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish()
    }
}

impl PgStore {
    /// Connects to the database a `state: postgres://` URL names and
    /// migrates it to the latest schema.
    pub async fn connect(url: &str) -> Result<PgStore, PgStateError> {
        PgStore::connect_url(&PgUrl::parse(url)?).await
    }

    /// [`Self::connect`] with a parsed URL.
    pub async fn connect_url(url: &PgUrl) -> Result<PgStore, PgStateError> {
        use sqlx::Connection as _;
        let shown = url.redacted();
        let options = url.connect_options()?;
        let connect_error = |error| PgStateError::Connect {
            url: shown.clone(),
            error,
        };
        // The first connection by hand: its error is the server's answer
        // (refused, no such host, a failed login) at once, where the pool
        // retries until its timeout and then says only that. It migrates,
        // then closes; the pool opens its own connections when used.
        let first = tokio::time::timeout(
            url.connect_timeout,
            sqlx::PgConnection::connect_with(&options),
        )
        .await;
        let mut conn = match first {
            Ok(connected) => connected.map_err(connect_error)?,
            Err(_) => {
                return Err(connect_error(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer in {} s", url.connect_timeout.as_secs()),
                ))))
            }
        };
        migrations::migrate(&mut conn, &shown).await?;
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(url.max_connections)
            .min_connections(0)
            .acquire_timeout(url.connect_timeout)
            .connect_lazy_with(options);
        let store = PgStore { pool, url: shown };
        tracing::debug!(url = %store.url, version = migrations::LATEST, "state database open");
        Ok(store)
    }

    /// A store over an existing pool (`url` is how messages name it:
    /// give it redacted). Does not migrate: call [`Self::migrate`].
    pub fn from_pool(pool: PgPool, url: &str) -> PgStore {
        PgStore {
            pool,
            url: redact_raw(url),
        }
    }

    /// The pool (for the job queue sharing the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The database's URL without secrets.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Applies the missing migrations (see [`migrations`]); returns the
    /// versions applied.
    pub async fn migrate(&self) -> Result<Vec<u32>, PgStateError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|error| PgStateError::Connect {
                url: self.url.clone(),
                error,
            })?;
        migrations::migrate(&mut conn, &self.url).await
    }

    /// The schema version of the database (the newest migration applied).
    pub async fn schema_version(&self) -> Result<u32, PgStateError> {
        let v: Option<i32> = sqlx::query_scalar("SELECT max(version) FROM schema_version")
            .fetch_one(&self.pool)
            .await
            .map_err(self.err("reading the schema version"))?;
        Ok(v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn err(&self, action: &'static str) -> impl Fn(sqlx::Error) -> PgStateError + '_ {
        move |error| PgStateError::Query {
            url: self.url.clone(),
            action,
            error,
        }
    }

    /// Every ledger row of `(channel, entity)`, by key.
    pub async fn load(&self, channel: &str, entity: Entity) -> Result<Ledger, PgStateError> {
        let err = self.err("loading the ledger");
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ledger WHERE channel = $1 AND entity = $2")
                .bind(channel)
                .bind(entity.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(&err)?;
        let mut map = Ledger::with_capacity_and_hasher(
            usize::try_from(count).unwrap_or(0),
            Default::default(),
        );
        let mut rows = sqlx::query(
            "SELECT key, target_id, hash, sync_date, message, attempts \
             FROM ledger WHERE channel = $1 AND entity = $2",
        )
        .bind(channel)
        .bind(entity.as_str())
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(&err)? {
            let key: String = row.try_get(0).map_err(&err)?;
            let ledger_row = read_row(&row, 1).map_err(&err)?;
            map.insert(key, ledger_row);
        }
        Ok(map)
    }

    /// The ledger row of one item.
    pub async fn get(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
    ) -> Result<Option<LedgerRow>, PgStateError> {
        let err = self.err("reading the ledger");
        let row = sqlx::query(
            "SELECT target_id, hash, sync_date, message, attempts FROM ledger \
             WHERE channel = $1 AND entity = $2 AND key = $3",
        )
        .bind(channel)
        .bind(entity.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(&err)?;
        row.map(|r| read_row(&r, 0)).transpose().map_err(&err)
    }

    /// The key and row of the item synced to `target_id`, if any (the
    /// smallest key when several are).
    pub async fn find_by_target(
        &self,
        channel: &str,
        entity: Entity,
        target_id: &str,
    ) -> Result<Option<(String, LedgerRow)>, PgStateError> {
        let err = self.err("reading the ledger");
        let row = sqlx::query(
            "SELECT key, target_id, hash, sync_date, message, attempts FROM ledger \
             WHERE channel = $1 AND entity = $2 AND target_id = $3 ORDER BY key LIMIT 1",
        )
        .bind(channel)
        .bind(entity.as_str())
        .bind(target_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(&err)?;
        row.map(|r| Ok((r.try_get::<String, _>(0)?, read_row(&r, 1)?)))
            .transpose()
            .map_err(&err)
    }

    /// Records a successful sync of one item.
    pub async fn record_success(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
        target_id: &str,
        hash: &str,
        date: OffsetDateTime,
    ) -> Result<(), PgStateError> {
        self.record_many(
            channel,
            &[LedgerUpdate {
                entity,
                key: key.to_string(),
                change: Change::Success {
                    target_id: target_id.to_string(),
                    hash: hash.to_string(),
                    date,
                },
            }],
        )
        .await
    }

    /// Records a failed sync of one item; keeps the known target id when
    /// `target_id` is `None`.
    pub async fn record_failure(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
        target_id: Option<&str>,
        message: &str,
    ) -> Result<(), PgStateError> {
        self.record_many(
            channel,
            &[LedgerUpdate {
                entity,
                key: key.to_string(),
                change: Change::Failure {
                    target_id: target_id.map(str::to_string),
                    message: message.to_string(),
                },
            }],
        )
        .await
    }

    /// Removes the row of an item deleted from the target. Returns whether
    /// there was one.
    pub async fn forget(
        &self,
        channel: &str,
        entity: Entity,
        key: &str,
    ) -> Result<bool, PgStateError> {
        let done =
            sqlx::query("DELETE FROM ledger WHERE channel = $1 AND entity = $2 AND key = $3")
                .bind(channel)
                .bind(entity.as_str())
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(self.err("updating the ledger"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Applies many updates in one transaction: all or none, in order.
    pub async fn record_many(
        &self,
        channel: &str,
        updates: &[LedgerUpdate],
    ) -> Result<(), PgStateError> {
        self.record_many_with(channel, updates, &|_| false).await
    }

    /// [`Self::record_many`], marking the write-back of each success or
    /// failure of an entity `mark` accepts as pending, in the same
    /// transaction.
    pub async fn record_many_marking(
        &self,
        channel: &str,
        updates: &[LedgerUpdate],
        mark: &(dyn Fn(Entity) -> bool + Sync),
    ) -> Result<(), PgStateError> {
        self.record_many_with(channel, updates, mark).await
    }

    async fn record_many_with(
        &self,
        channel: &str,
        updates: &[LedgerUpdate],
        mark: &(dyn Fn(Entity) -> bool + Sync),
    ) -> Result<(), PgStateError> {
        if updates.is_empty() {
            return Ok(());
        }
        let now = rfc3339(OffsetDateTime::now_utc())?;
        let err = self.err("updating the ledger");
        let mut tx = self.pool.begin().await.map_err(&err)?;
        // One statement per kind of change over arrays, in waves of
        // distinct items: an item twice in `updates` (failed, then
        // succeeded) is applied in order, as one statement could not.
        let mut start = 0;
        while start < updates.len() {
            let mut seen = HashSet::new();
            let mut end = start;
            while end < updates.len() && seen.insert((updates[end].entity, &updates[end].key)) {
                end += 1;
            }
            apply_wave(&mut tx, channel, &updates[start..end], mark, &now)
                .await
                .map_err(&err)?;
            start = end;
        }
        tx.commit().await.map_err(&err)
    }
}

/// The arrays of one wave (items distinct), by kind of change.
#[derive(Default)]
struct Wave<'a> {
    ok_entity: Vec<&'static str>,
    ok_key: Vec<&'a str>,
    ok_target: Vec<&'a str>,
    ok_hash: Vec<&'a str>,
    ok_date: Vec<String>,
    ok_fields: Vec<Option<String>>,
    fail_entity: Vec<&'static str>,
    fail_key: Vec<&'a str>,
    fail_target: Vec<Option<&'a str>>,
    fail_message: Vec<&'a str>,
    gone_entity: Vec<&'static str>,
    gone_key: Vec<&'a str>,
    mark_entity: Vec<&'static str>,
    mark_key: Vec<&'a str>,
}

async fn apply_wave(
    tx: &mut Transaction<'_, Postgres>,
    channel: &str,
    updates: &[LedgerUpdate],
    mark: &(dyn Fn(Entity) -> bool + Sync),
    now: &str,
) -> Result<(), sqlx::Error> {
    let mut w = Wave::default();
    for u in updates {
        let entity = u.entity.as_str();
        match &u.change {
            Change::Success {
                target_id,
                hash,
                date,
            }
            | Change::Wrote {
                target_id,
                hash,
                date,
                ..
            } => {
                w.ok_entity.push(entity);
                w.ok_key.push(&u.key);
                w.ok_target.push(target_id);
                w.ok_hash.push(hash);
                w.ok_date
                    .push(rfc3339(*date).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
                // A success without field hashes clears them.
                w.ok_fields.push(match &u.change {
                    Change::Wrote { fields, .. } => Some(fields::to_text(fields)),
                    _ => None,
                });
            }
            Change::Failure { target_id, message } => {
                w.fail_entity.push(entity);
                w.fail_key.push(&u.key);
                w.fail_target.push(target_id.as_deref());
                w.fail_message.push(message);
            }
            Change::Forget => {
                w.gone_entity.push(entity);
                w.gone_key.push(&u.key);
            }
        }
        if !matches!(u.change, Change::Forget) && mark(u.entity) {
            w.mark_entity.push(entity);
            w.mark_key.push(&u.key);
        }
    }
    if !w.ok_key.is_empty() {
        sqlx::query(
            "INSERT INTO ledger \
             (channel, entity, key, target_id, hash, sync_date, message, attempts, updated_at, fields) \
             SELECT $1, e, k, t, h, d, NULL, 0, $7, f \
             FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $8::TEXT[]) \
             AS u(e, k, t, h, d, f) \
             ON CONFLICT (channel, entity, key) DO UPDATE SET \
             target_id = excluded.target_id, hash = excluded.hash, sync_date = excluded.sync_date, \
             message = NULL, attempts = 0, updated_at = excluded.updated_at, fields = excluded.fields",
        )
        .bind(channel)
        .bind(&w.ok_entity)
        .bind(&w.ok_key)
        .bind(&w.ok_target)
        .bind(&w.ok_hash)
        .bind(&w.ok_date)
        .bind(now)
        .bind(&w.ok_fields)
        .execute(&mut **tx)
        .await?;
    }
    if !w.fail_key.is_empty() {
        sqlx::query(
            "INSERT INTO ledger \
             (channel, entity, key, target_id, hash, sync_date, message, attempts, updated_at) \
             SELECT $1, e, k, t, NULL, NULL, m, 1, $6 \
             FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) AS u(e, k, t, m) \
             ON CONFLICT (channel, entity, key) DO UPDATE SET \
             target_id = COALESCE(excluded.target_id, ledger.target_id), message = excluded.message, \
             attempts = ledger.attempts + 1, updated_at = excluded.updated_at",
        )
        .bind(channel)
        .bind(&w.fail_entity)
        .bind(&w.fail_key)
        .bind(&w.fail_target)
        .bind(&w.fail_message)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    if !w.gone_key.is_empty() {
        sqlx::query(
            "DELETE FROM ledger l USING UNNEST($2::TEXT[], $3::TEXT[]) AS u(e, k) \
             WHERE l.channel = $1 AND l.entity = u.e AND l.key = u.k",
        )
        .bind(channel)
        .bind(&w.gone_entity)
        .bind(&w.gone_key)
        .execute(&mut **tx)
        .await?;
    }
    if !w.mark_key.is_empty() {
        sqlx::query(
            "INSERT INTO writebacks (channel, entity, key) \
             SELECT $1, e, k FROM UNNEST($2::TEXT[], $3::TEXT[]) AS u(e, k) \
             ON CONFLICT DO NOTHING",
        )
        .bind(channel)
        .bind(&w.mark_entity)
        .bind(&w.mark_key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Reads `target_id, hash, sync_date, message, attempts` starting at column `at`.
pub(crate) fn read_row(row: &PgRow, at: usize) -> Result<LedgerRow, sqlx::Error> {
    let text = |i: usize| -> Result<Option<Box<str>>, sqlx::Error> {
        Ok(row.try_get::<Option<&str>, _>(at + i)?.map(Box::from))
    };
    let sync_date = match row.try_get::<Option<&str>, _>(at + 2)? {
        Some(s) => {
            let parsed = parse_date(s);
            if parsed.is_none() {
                tracing::warn!(date = %s, "ignoring an unreadable sync date in the ledger (the item will be synced)");
            }
            parsed
        }
        None => None,
    };
    let attempts: i64 = row.try_get(at + 4)?;
    Ok(LedgerRow {
        target_id: text(0)?,
        hash: text(1)?,
        sync_date,
        message: text(3)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

/// Dates are kept as the SQLite store writes them, and read with its
/// parser.
pub(crate) use mapsync_state::parse_date;

/// A date as RFC 3339 in UTC (the SQLite store's form).
pub(crate) fn rfc3339(date: OffsetDateTime) -> Result<String, PgStateError> {
    date.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| PgStateError::Date {
            date: date.to_string(),
            error: e.to_string(),
        })
}

/// The store's futures are `Send`: a run's tasks are spawned on Tokio's
/// threads. (Compiled, never run.)
#[allow(dead_code)]
fn futures_are_send(s: &PgStore, u: &PgUrl) {
    fn send<T: Send>(_: T) {}
    send(PgStore::connect("postgres://a@b/c"));
    send(PgStore::connect_url(u));
    send(s.migrate());
    send(s.load("c", Entity::Product));
    send(s.record_many("c", &[]));
    send(s.record_many_marking("c", &[], &|_| true));
    send(s.recent_runs("p", 1));
    send(s.pending_batches("c"));
    send(s.prune_uploads("c", std::time::Duration::ZERO));
    send(s.pending_writebacks("c", Entity::Product, None, 1));
    send(s.resolutions("c", Entity::Product, None));
    send(s.clear_resolutions("c", &[]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_to_the_nanosecond() {
        let d = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(parse_date(&rfc3339(d).unwrap()), Some(d));
        assert_eq!(
            parse_date("2026-01-02T04:04:05+01:00"),
            parse_date("2026-01-02T03:04:05Z")
        );
        assert_eq!(parse_date("nonsense"), None);
    }

    #[test]
    fn debug_shows_no_pool_options() {
        assert!(is_postgres_url("postgres://a@b/c"));
        assert!(is_postgres_url("postgresql://a@b/c"));
        assert!(!is_postgres_url("sqlite:.mapsync/state.db"));
    }
}
