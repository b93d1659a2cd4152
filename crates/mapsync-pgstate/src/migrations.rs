//! The schema as versioned SQL files (`migrations/NNNN_name.sql`),
//! append-only: never edit a released one, add the next.
//!
//! [`migrate`] applies the missing ones in one transaction that first
//! takes a transaction-scoped advisory lock, so workers starting together
//! wait for each other and the schema is migrated once: the first one
//! applies, the others find it done. The `schema_version` table lists
//! each applied version; a database with a version this binary does not
//! know (written by a newer mapsync) is refused.

use sqlx::{Connection, Executor, PgConnection};

use crate::PgStateError;

/// One migration: its version (the file's number), name and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The schema version it leads to.
    pub version: u32,
    /// The file's name.
    pub name: &'static str,
    /// Its statements.
    pub sql: &'static str,
}

/// The migrations, in order (`tests` checks they are the folder's files).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_ledger_and_runs.sql",
        sql: include_str!("../migrations/0001_ledger_and_runs.sql"),
    },
    Migration {
        version: 2,
        name: "0002_uploads_batches_writebacks_images.sql",
        sql: include_str!("../migrations/0002_uploads_batches_writebacks_images.sql"),
    },
    Migration {
        version: 3,
        name: "0003_ledger_field_hashes.sql",
        sql: include_str!("../migrations/0003_ledger_field_hashes.sql"),
    },
    Migration {
        version: 4,
        name: "0004_resolutions.sql",
        sql: include_str!("../migrations/0004_resolutions.sql"),
    },
];

/// The schema version this binary writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// The advisory lock key the migration holds ("msyn", the SQLite store's
/// application id).
pub const LOCK_KEY: i64 = 0x6D73_796E;

/// Tables of ours: a database that has one of them but no
/// `schema_version` is somebody else's.
const OUR_TABLES: &[&str] = &[
    "ledger",
    "runs",
    "uploads",
    "batches",
    "writebacks",
    "image_publish",
    "resolutions",
];

/// Brings the schema of the database `conn` is connected to up to
/// [`LATEST`]; returns the versions applied (empty when it was current).
pub async fn migrate(conn: &mut PgConnection, url: &str) -> Result<Vec<u32>, PgStateError> {
    let q = |action: &'static str| {
        move |error: sqlx::Error| PgStateError::Query {
            url: url.to_string(),
            action,
            error,
        }
    };
    let mut tx = conn
        .begin()
        .await
        .map_err(q("starting the schema migration"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(q("waiting for the schema migration lock"))?;
    let has_versions: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'schema_version')",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(q("reading the schema"))?;
    let current: i64 = if has_versions {
        sqlx::query_scalar("SELECT COALESCE(max(version), 0)::BIGINT FROM schema_version")
            .fetch_one(&mut *tx)
            .await
            .map_err(q("reading the schema version"))?
    } else {
        let theirs: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::TEXT FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY 1",
        )
        .bind(OUR_TABLES)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("reading the schema"))?;
        if !theirs.is_empty() {
            return Err(PgStateError::NotMapsync {
                url: url.to_string(),
                reason: format!(
                    "it has the table(s) {} but no mapsync schema_version",
                    theirs.join(", ")
                ),
            });
        }
        // A string without arguments goes as a simple query: several
        // statements in one.
        tx.execute(
            "CREATE TABLE schema_version (\
                 version    INTEGER PRIMARY KEY, \
                 name       TEXT NOT NULL, \
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
                 applied_by TEXT NOT NULL)",
        )
        .await
        .map_err(q("creating the schema_version table"))?;
        0
    };
    if current > i64::from(LATEST) {
        return Err(PgStateError::TooNew {
            url: url.to_string(),
            found: current,
            supported: LATEST,
        });
    }
    let mut applied = Vec::new();
    let missing: Vec<&Migration> = MIGRATIONS
        .iter()
        .filter(|m| i64::from(m.version) > current)
        .collect();
    for m in missing {
        tx.execute(m.sql).await.map_err(q("migrating the schema"))?;
        sqlx::query("INSERT INTO schema_version (version, name, applied_by) VALUES ($1, $2, $3)")
            .bind(i32::try_from(m.version).unwrap_or(i32::MAX))
            .bind(m.name)
            .bind(concat!("mapsync ", env!("CARGO_PKG_VERSION")))
            .execute(&mut *tx)
            .await
            .map_err(q("recording the schema version"))?;
        applied.push(m.version);
    }
    tx.commit()
        .await
        .map_err(q("committing the schema migration"))?;
    for v in &applied {
        tracing::info!(url = %url, version = v, "migrated the PostgreSQL state database");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_folders_files_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, names);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:04}_", i + 1)), "{}", m.name);
        }
    }
}
