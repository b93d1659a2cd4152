//! Migrations: a database at every older schema version (built from the
//! migration list, and from fixtures of real older databases in
//! `tests/data/state/v<N>.sql`) opens, migrates to the latest version with
//! the same schema as a new database, and keeps its rows.

use std::path::Path;

use mapsync::connectors::Entity;
use mapsync::state::migrations::{APPLICATION_ID, LATEST, MIGRATIONS};
use mapsync::state::Store;
use time::macros::datetime;

/// The schema as SQLite stores it (whitespace collapsed), for comparison.
fn schema(path: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let sql: String = r.get(2)?;
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok((r.get(0)?, r.get(1)?, sql))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn fresh_schema() -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    Store::open(&path).unwrap();
    schema(&path)
}

#[test]
fn every_older_version_migrates_to_the_latest() {
    const { assert!(LATEST >= 2) };
    let fresh = fresh_schema();
    for version in 0..LATEST {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..version as usize] {
            conn.execute_batch(sql).unwrap();
        }
        if version > 0 {
            conn.execute_batch(&format!(
                "PRAGMA user_version = {version}; PRAGMA application_id = {APPLICATION_ID};
                 INSERT INTO ledger (channel, entity, key, target_id, hash, sync_date, attempts, updated_at)
                 VALUES ('c', 'product', 'P{version}', 'gid://x/{version}', 'sha256:0', '2026-01-01T00:00:00Z', 0, '2026-01-01T00:00:00Z');"
            ))
            .unwrap();
        }
        drop(conn);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            LATEST,
            "from version {version}"
        );
        assert_eq!(
            schema(&path),
            fresh,
            "schema after migrating from version {version}"
        );
        let rows = store.load("c", Entity::Product).unwrap();
        assert_eq!(
            rows.len(),
            usize::from(version > 0),
            "rows kept from version {version}"
        );
        // And the migrated database is usable.
        store
            .record_success(
                "c",
                Entity::Product,
                "new",
                "gid://x/new",
                "sha256:1",
                datetime!(2026-02-01 0:00 UTC),
            )
            .unwrap();
        let found = store
            .find_by_target("c", Entity::Product, "gid://x/new")
            .unwrap();
        assert_eq!(found.map(|(k, _)| k).as_deref(), Some("new"));
    }
}

#[test]
fn fixtures_of_older_databases_migrate_with_their_data() {
    let fresh = fresh_schema();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/state");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        seen += 1;
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("state.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(&std::fs::read_to_string(&path).unwrap())
            .unwrap();
        drop(conn);
        let store = Store::open(&db).unwrap();
        assert_eq!(schema(&db), fresh, "{}", path.display());
        let eu = store.load("eu", Entity::Product).unwrap();
        assert_eq!(eu.len(), 2, "{}", path.display());
        assert_eq!(eu["A1"].sync_date, Some(datetime!(2026-01-02 03:04:05 UTC)));
        assert_eq!(eu["A2"].message.as_deref(), Some("price must be a number"));
        assert_eq!(eu["A2"].attempts, 2);
        assert_eq!(
            store.load("us", Entity::Product).unwrap()["A1"]
                .target_id
                .as_deref(),
            Some("gid://shopify/Product/77")
        );
        assert_eq!(store.recent_runs("shop-eu", 5).unwrap().len(), 1);
    }
    assert!(seen >= 1, "no fixtures in {}", dir.display());
}
