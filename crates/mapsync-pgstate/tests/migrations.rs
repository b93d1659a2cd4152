//! Migrations of both stores: run once when several openers start
//! together on a fresh database, and a database newer than the binary
//! refused; PostgreSQL: another program's tables refused, and no password
//! in any message.

mod support;

use mapsync_pgstate::{migrations, PgStateError, PgStore};
use mapsync_state::{StateError, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_migrations_run_once() {
    let Some(url) = support::postgres_url("postgres_concurrent_migrations_run_once").await else {
        return;
    };
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let store = PgStore::connect_url(&mapsync_pgstate::PgUrl::parse(&url).unwrap())
                    .await
                    .unwrap();
                // `connect` migrated; again finds nothing to do.
                assert!(store.migrate().await.unwrap().is_empty());
                store
            })
        })
        .collect();
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap());
    }
    let store = &stores[0];
    assert_eq!(store.schema_version().await.unwrap(), migrations::LATEST);
    let rows: Vec<(i32, i64)> =
        sqlx::query_as("SELECT version, count(*) FROM schema_version GROUP BY version ORDER BY 1")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let expected: Vec<(i32, i64)> = (1..=migrations::LATEST as i32).map(|v| (v, 1)).collect();
    assert_eq!(rows, expected, "each version applied exactly once");
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn sqlite_concurrent_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version()))
        })
        .collect();
    for t in threads {
        let version = t.join().unwrap().unwrap().unwrap();
        assert_eq!(version, mapsync_state::migrations::LATEST);
    }
}

#[tokio::test]
async fn postgres_newer_database_is_refused() {
    let Some(url) = support::postgres_url("postgres_newer_database_is_refused").await else {
        return;
    };
    let store = PgStore::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version, name, applied_by) VALUES ($1, 'future', 'mapsync 99')")
        .bind(migrations::LATEST as i32 + 1)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let err = PgStore::connect(&url).await.unwrap_err();
    match &err {
        PgStateError::TooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, i64::from(migrations::LATEST) + 1);
            assert_eq!(*supported, migrations::LATEST);
        }
        other => panic!("expected TooNew, got {other}"),
    }
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("upgrade mapsync"), "{help}");
    // Nothing was changed by the refused binary.
    let store = PgStore::from_pool(sqlx::PgPool::connect(&url).await.unwrap(), &url);
    assert_eq!(
        store.schema_version().await.unwrap(),
        migrations::LATEST + 1
    );
    store.close().await;
}

#[tokio::test]
async fn sqlite_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    match Store::open(&path) {
        Err(StateError::TooNew { found, .. }) => assert_eq!(found, 99),
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn postgres_another_programs_database_is_refused() {
    let Some(url) = support::postgres_url("postgres_another_programs_database_is_refused").await
    else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE runs (id SERIAL PRIMARY KEY, what TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    match PgStore::connect(&url).await {
        Err(PgStateError::NotMapsync { reason, .. }) => {
            assert!(reason.contains("runs"), "{reason}")
        }
        other => panic!("expected NotMapsync, got {other:?}"),
    }
}

#[tokio::test]
async fn postgres_messages_show_no_password() {
    let Some(url) = support::postgres_url("postgres_messages_show_no_password").await else {
        return;
    };
    let secret = "s3cret-Pa55word";
    std::env::set_var("MAPSYNC_PGSTATE_TEST_PASSWORD", secret);
    // The test cluster trusts loopback: the password is sent and ignored.
    let with_env = format!("{url}?password_env=MAPSYNC_PGSTATE_TEST_PASSWORD");
    let store = PgStore::connect(&with_env).await.unwrap();
    let shown = format!("{store:?} {}", store.url());
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("password_env"), "{shown}");
    store.close().await;
    // A database that does not exist: the message names it, not the password.
    let missing = with_env.replace("/t", "/missing_t");
    let err = PgStore::connect(&missing).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, PgStateError::Connect { .. }), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("missing_t"), "{shown}");
}

/// A chunk is all or nothing: a row PostgreSQL refuses (text cannot hold
/// a NUL byte, which SQLite stores) leaves none of the chunk behind.
#[tokio::test]
async fn postgres_record_many_is_all_or_nothing() {
    use mapsync_core::source::Entity;
    use mapsync_pgstate::{Change, LedgerUpdate};
    let Some(store) = support::postgres("postgres_record_many_is_all_or_nothing").await else {
        return;
    };
    let update = |key: &str| LedgerUpdate {
        entity: Entity::Product,
        key: key.into(),
        change: Change::Failure {
            target_id: None,
            message: "m".into(),
        },
    };
    let err = store
        .record_many("c", &[update("A"), update("B\0")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PgStateError::Query {
                action: "updating the ledger",
                ..
            }
        ),
        "{err}"
    );
    assert!(store.load("c", Entity::Product).await.unwrap().is_empty());
    store.record_many("c", &[update("A")]).await.unwrap();
    assert_eq!(store.load("c", Entity::Product).await.unwrap().len(), 1);
    store.close().await;
}
