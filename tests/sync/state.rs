//! The SQLite ledger: what it stores, and how it fails.

use std::time::Duration;

use mapsync::connectors::Entity;
use mapsync::state::{
    parse_url, Change, LedgerUpdate, RunStatus, SharedStore, StateError, StateLocation, Store,
    DEFAULT_URL,
};
use serde_json::json;
use time::macros::datetime;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_url(DEFAULT_URL, dir.path()).unwrap();
    (dir, store)
}

#[test]
fn default_url_creates_the_database_and_its_directory_in_the_project() {
    let (dir, store) = temp_store();
    assert_eq!(store.path(), dir.path().join(".mapsync/state.db"));
    assert!(dir.path().join(".mapsync/state.db").is_file());
    assert_eq!(
        store.schema_version().unwrap(),
        mapsync::state::migrations::LATEST
    );
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn urls() {
    let p = std::path::Path::new("/proj");
    assert_eq!(
        parse_url("sqlite:state/x.db", p).unwrap(),
        StateLocation::Sqlite("/proj/state/x.db".into())
    );
    assert_eq!(
        parse_url("sqlite:///var/lib/mapsync.db", p).unwrap(),
        StateLocation::Sqlite("/var/lib/mapsync.db".into())
    );
    assert_eq!(
        parse_url("postgres://sync@db/mapsync?password_env=DB_PW", p).unwrap(),
        StateLocation::Postgres("postgres://sync@db/mapsync?password_env=DB_PW".into())
    );
    let errors: Vec<String> = ["sqlite:", "redis://x", "sqlite::memory:"]
        .iter()
        .map(|u| parse_url(u, p).unwrap_err().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "state URL `sqlite:`: the SQLite path is empty; write `sqlite:.mapsync/state.db` (relative to the project directory)",
            "state URL `redis://x`: unknown kind of state store; use `sqlite:PATH`, e.g. `sqlite:.mapsync/state.db`, or `postgres://USER@HOST/DATABASE`",
            "state URL `sqlite::memory:`: an in-memory database would forget everything at exit; use a file, e.g. `sqlite:.mapsync/state.db`",
        ]
    );
}

#[test]
fn success_failure_forget() {
    let (_dir, mut s) = temp_store();
    let d1 = datetime!(2026-01-02 03:04:05 +01:00);
    s.record_success(
        "eu",
        Entity::Product,
        "A1",
        "gid://shopify/Product/1",
        "sha256:aa",
        d1,
    )
    .unwrap();
    let row = s.get("eu", Entity::Product, "A1").unwrap().unwrap();
    assert_eq!(row.target_id.as_deref(), Some("gid://shopify/Product/1"));
    assert_eq!(row.hash.as_deref(), Some("sha256:aa"));
    assert_eq!(row.sync_date, Some(datetime!(2026-01-02 02:04:05 UTC)));
    assert_eq!((row.message, row.attempts), (None, 0));

    // Failures keep id, hash and date; count attempts; keep the last message.
    s.record_failure("eu", Entity::Product, "A1", None, "timeout")
        .unwrap();
    s.record_failure("eu", Entity::Product, "A1", None, "price is not a number")
        .unwrap();
    let row = s.get("eu", Entity::Product, "A1").unwrap().unwrap();
    assert_eq!(row.target_id.as_deref(), Some("gid://shopify/Product/1"));
    assert_eq!(row.hash.as_deref(), Some("sha256:aa"));
    assert_eq!(row.message.as_deref(), Some("price is not a number"));
    assert_eq!(row.attempts, 2);

    // A failure of a new item that was created before failing keeps the id.
    s.record_failure(
        "eu",
        Entity::Product,
        "B1",
        Some("gid://shopify/Product/5"),
        "media failed",
    )
    .unwrap();
    let row = s.get("eu", Entity::Product, "B1").unwrap().unwrap();
    assert_eq!(row.target_id.as_deref(), Some("gid://shopify/Product/5"));
    assert_eq!((row.hash, row.sync_date, row.attempts), (None, None, 1));

    // Success clears message and attempts.
    let d2 = datetime!(2026-02-01 00:00:00 UTC);
    s.record_success(
        "eu",
        Entity::Product,
        "A1",
        "gid://shopify/Product/1",
        "sha256:bb",
        d2,
    )
    .unwrap();
    let row = s.get("eu", Entity::Product, "A1").unwrap().unwrap();
    assert_eq!(
        (row.message, row.attempts, row.sync_date),
        (None, 0, Some(d2))
    );

    // Channels and entities are apart.
    assert!(s.get("us", Entity::Product, "A1").unwrap().is_none());
    assert!(s.get("eu", Entity::Category, "A1").unwrap().is_none());

    let found = s
        .find_by_target("eu", Entity::Product, "gid://shopify/Product/5")
        .unwrap();
    assert_eq!(found.map(|(k, _)| k), Some("B1".to_string()));
    assert!(s
        .find_by_target("us", Entity::Product, "gid://shopify/Product/5")
        .unwrap()
        .is_none());

    assert!(s.forget("eu", Entity::Product, "B1").unwrap());
    assert!(!s.forget("eu", Entity::Product, "B1").unwrap());
    let all = s.load("eu", Entity::Product).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["A1"]);
}

#[test]
fn record_many_and_load() {
    let (_dir, mut s) = temp_store();
    let date = datetime!(2026-03-01 12:00:00 UTC);
    let updates: Vec<LedgerUpdate> = (0..5000)
        .map(|i| LedgerUpdate {
            entity: if i % 2 == 0 {
                Entity::Product
            } else {
                Entity::Category
            },
            key: format!("K{i}"),
            change: if i % 10 == 9 {
                Change::Failure {
                    target_id: None,
                    message: format!("failed {i}"),
                }
            } else {
                Change::Success {
                    target_id: format!("gid://shopify/Product/{i}"),
                    hash: format!("sha256:{i:064x}"),
                    date,
                }
            },
        })
        .collect();
    s.record_many("eu", &updates).unwrap();
    let products = s.load("eu", Entity::Product).unwrap();
    let categories = s.load("eu", Entity::Category).unwrap();
    assert_eq!((products.len(), categories.len()), (2500, 2500));
    assert_eq!(categories["K9"].message.as_deref(), Some("failed 9"));
    assert_eq!(categories["K9"].target_id, None);
    assert_eq!(products["K4"].sync_date, Some(date));
    assert!(s.load("other", Entity::Product).unwrap().is_empty());

    let forget: Vec<LedgerUpdate> = (0..10)
        .map(|i| LedgerUpdate {
            entity: Entity::Product,
            key: format!("K{}", i * 2),
            change: Change::Forget,
        })
        .collect();
    s.record_many("eu", &forget).unwrap();
    assert_eq!(s.load("eu", Entity::Product).unwrap().len(), 2490);
}

#[test]
fn record_many_is_all_or_nothing() {
    let (_dir, mut s) = temp_store();
    // RFC 3339 has no negative years.
    let bad_date = time::Date::from_calendar_date(-1, time::Month::January, 1)
        .unwrap()
        .midnight()
        .assume_utc();
    let updates = vec![
        LedgerUpdate {
            entity: Entity::Product,
            key: "A".into(),
            change: Change::Failure {
                target_id: None,
                message: "x".into(),
            },
        },
        LedgerUpdate {
            entity: Entity::Product,
            key: "B".into(),
            change: Change::Success {
                target_id: "1".into(),
                hash: "h".into(),
                date: bad_date,
            },
        },
    ];
    let err = s.record_many("eu", &updates).unwrap_err();
    assert!(matches!(err, StateError::Date { .. }), "{err}");
    assert!(s.load("eu", Entity::Product).unwrap().is_empty());
}

#[test]
fn runs_journal() {
    let (_dir, mut s) = temp_store();
    let run = s
        .begin_run("demo", "demo", datetime!(2026-01-01 10:00:00 UTC))
        .unwrap();
    let runs = s.recent_runs("demo", 10).unwrap();
    assert_eq!(runs[0].status, RunStatus::Running);
    assert_eq!(runs[0].finished_at, None);
    s.finish_run(
        run,
        datetime!(2026-01-01 10:05:00 UTC),
        RunStatus::Partial,
        &json!({"created": 2, "failed": 1}),
    )
    .unwrap();
    let run2 = s
        .begin_run("demo", "demo", datetime!(2026-01-02 10:00:00 UTC))
        .unwrap();
    let runs = s.recent_runs("demo", 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, run2);
    assert_eq!(runs[1].status, RunStatus::Partial);
    assert_eq!(runs[1].summary, Some(json!({"created": 2, "failed": 1})));
    assert_eq!(
        runs[1].finished_at,
        Some(datetime!(2026-01-01 10:05:00 UTC))
    );
    assert!(s.recent_runs("other", 10).unwrap().is_empty());
}

#[test]
fn data_survives_reopening() {
    let (dir, mut s) = temp_store();
    s.record_success(
        "c",
        Entity::Category,
        "C1",
        "gid://1",
        "sha256:1",
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap();
    drop(s);
    let s = Store::open_url(DEFAULT_URL, dir.path()).unwrap();
    assert_eq!(s.load("c", Entity::Category).unwrap().len(), 1);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(
        &path,
        "this is a text file, not a database, but long enough to have a header",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not a mapsync state database (it is not an SQLite database); point `state:` at another file, or move this one away", path.display())
    );
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
        .unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StateError::NotMapsync { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("it holds tables of another program"),
        "{err}"
    );

    let path = dir.path().join("other2.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA application_id = 42;").unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(
        err.to_string().contains("its application id is 0x2a"),
        "{err}"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let (dir, s) = temp_store();
    let path = s.path().to_path_buf();
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(conn);
    let err = Store::open_url(DEFAULT_URL, dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the state database {} has schema version 99, but this mapsync knows versions up to {}; upgrade mapsync (or use another `state:` file)",
            path.display(),
            mapsync::state::migrations::LATEST
        )
    );
}

#[test]
fn a_locked_database_says_so() {
    let (_dir, mut s) = temp_store();
    let other = rusqlite::Connection::open(s.path()).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    s.set_busy_timeout(Duration::from_millis(50)).unwrap();
    let err = s
        .record_success(
            "eu",
            Entity::Product,
            "A1",
            "1",
            "h",
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is locked by another process (waited 50 ms)"),
        "{err}"
    );
    other.execute_batch("COMMIT;").unwrap();
    s.record_success(
        "eu",
        Entity::Product,
        "A1",
        "1",
        "h",
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap();
}

#[test]
fn an_unwritable_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let err = Store::open(&blocker.join("sub/state.db")).unwrap_err();
    assert!(matches!(err, StateError::CreateDir { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot create the directory"),
        "{err}"
    );
}

#[test]
fn two_stores_on_one_file_both_work() {
    let (dir, mut a) = temp_store();
    let mut b = Store::open_url(DEFAULT_URL, dir.path()).unwrap();
    a.record_success(
        "x",
        Entity::Product,
        "A",
        "1",
        "h",
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap();
    b.record_success(
        "x",
        Entity::Product,
        "B",
        "2",
        "h",
        datetime!(2026-01-01 0:00 UTC),
    )
    .unwrap();
    assert_eq!(a.load("x", Entity::Product).unwrap().len(), 2);
}

#[test]
fn shared_store_from_async_code() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    assert_send::<SharedStore>();
    let (_dir, s) = temp_store();
    let shared = SharedStore::new(s);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                shared
                    .call(move |s| {
                        s.record_success(
                            "a",
                            Entity::Product,
                            &format!("K{i}"),
                            "1",
                            "h",
                            datetime!(2026-01-01 0:00 UTC),
                        )
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        shared
            .call(|s| s.load("a", Entity::Product))
            .await
            .unwrap()
            .len()
    });
    assert_eq!(n, 8);
}
