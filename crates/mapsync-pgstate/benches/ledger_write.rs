//! The ledger's write rate on PostgreSQL against SQLite: a run of N items
//! (default 100,000; `MAPSYNC_BENCH_ITEMS`) recorded through `record_many`
//! in the engine's group commits of 512 outcomes
//! (`mapsync_engine::exec::ledger`'s `MAX_BATCH`), once as creates (new
//! rows) and once as updates (a second run over the same items).
//!
//! PostgreSQL: `MAPSYNC_BENCH_PG_URL` if set, else a throwaway local
//! cluster with PostgreSQL's default durability (`fsync`,
//! `synchronous_commit` on) on loopback; SQLite: a file in a temp folder
//! (WAL, `synchronous = NORMAL`, the store's settings).
//!
//! `cargo bench -p mapsync-pgstate --bench ledger_write`

#[path = "../tests/support/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::time::{Duration, Instant};

use mapsync_core::source::Entity;
use mapsync_pgstate::{Change, LedgerUpdate, PgStore};
use time::OffsetDateTime;

/// The engine's ledger writer commits at most this many outcomes at once.
const CHUNK: usize = 512;

fn updates(n: usize, pass: u32) -> Vec<LedgerUpdate> {
    let now = OffsetDateTime::now_utc();
    (0..n)
        .map(|i| LedgerUpdate {
            entity: Entity::Product,
            key: format!("SKU-{i:08}"),
            change: Change::Success {
                target_id: format!("gid://shopify/Product/{}", 7_000_000_000u64 + i as u64),
                hash: format!("{:064x}", (i as u128) * 2_654_435_761 + u128::from(pass)),
                date: now,
            },
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("MAPSYNC_BENCH_ITEMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let passes = [("create", updates(n, 0)), ("update", updates(n, 1))];

    // SQLite.
    let dir = tempfile::tempdir().expect("a temp folder");
    let mut sqlite =
        mapsync_state::Store::open(&dir.path().join("state.db")).expect("SQLite store");
    let mut sqlite_rates = Vec::new();
    for (name, all) in &passes {
        let start = Instant::now();
        for chunk in all.chunks(CHUNK) {
            sqlite
                .record_many("bench", chunk)
                .expect("SQLite record_many");
        }
        let d = start.elapsed();
        println!(
            "sqlite   {name}: {n} items in {:.2} s = {:.0} items/s",
            d.as_secs_f64(),
            rate(n, d)
        );
        sqlite_rates.push(rate(n, d));
    }

    // PostgreSQL.
    let (_cluster, url) = match std::env::var("MAPSYNC_BENCH_PG_URL") {
        Ok(url) => (None, url),
        Err(_) => match cluster::start(true) {
            Ok(c) => {
                let url = rt
                    .block_on(c.create_db("ledger_write"))
                    .expect("a bench database");
                (Some(c), url)
            }
            Err(reason) => {
                println!("SKIPPED postgres: {reason}");
                return;
            }
        },
    };
    let pg = rt
        .block_on(PgStore::connect(&url))
        .expect("PostgreSQL store");
    for (i, (name, all)) in passes.iter().enumerate() {
        let start = Instant::now();
        rt.block_on(async {
            for chunk in all.chunks(CHUNK) {
                pg.record_many("bench", chunk)
                    .await
                    .expect("PostgreSQL record_many");
            }
        });
        let d = start.elapsed();
        let r = rate(n, d);
        println!(
            "postgres {name}: {n} items in {:.2} s = {r:.0} items/s ({:.2}x SQLite)",
            d.as_secs_f64(),
            r / sqlite_rates[i]
        );
    }
    let loaded = rt
        .block_on(pg.load("bench", Entity::Product))
        .expect("loading the ledger");
    assert_eq!(loaded.len(), n);
    let start = Instant::now();
    let again = rt
        .block_on(pg.load("bench", Entity::Product))
        .expect("load");
    let d = start.elapsed();
    let start = Instant::now();
    let sq = sqlite.load("bench", Entity::Product).expect("load");
    let ds = start.elapsed();
    println!(
        "load {n} rows: postgres {:.0} rows/s, sqlite {:.0} rows/s",
        rate(again.len(), d),
        rate(sq.len(), ds)
    );
    rt.block_on(pg.close());
}
