//! What the state tests share: the throwaway PostgreSQL cluster, the
//! SQLite store behind the same async method names as `PgStore`, and
//! `state_case!`, which runs one test body against both stores.

#![allow(dead_code)]

pub mod cluster;
pub mod sqlite;

use mapsync_pgstate::PgStore;

/// A `PgStore` on a new database of the test cluster, or `None` after
/// printing `SKIPPED <test>: <reason>` when there is no PostgreSQL.
pub async fn postgres(test: &str) -> Option<PgStore> {
    let url = postgres_url(test).await?;
    match PgStore::connect(&url).await {
        Ok(store) => Some(store),
        Err(e) => panic!("connecting to the test cluster's {url}: {e}"),
    }
}

/// The URL of a new database of the test cluster (not migrated), or
/// `None` after printing why the test is skipped.
pub async fn postgres_url(test: &str) -> Option<String> {
    let cluster = match tokio::task::spawn_blocking(cluster::cluster).await {
        Ok(Ok(c)) => c,
        Ok(Err(reason)) => {
            println!("SKIPPED {test}: {reason}");
            return None;
        }
        Err(e) => panic!("starting the test cluster: {e}"),
    };
    match cluster.create_db(test).await {
        Ok(url) => Some(url),
        Err(e) => panic!("{e}"),
    }
}

/// `state_case!(name, |s| async move { body })`: the body as two tests,
/// `name::sqlite` and `name::postgres`, with `s` the store.
#[macro_export]
macro_rules! state_case {
    ($name:ident, |$s:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, $s) = $crate::support::sqlite::open();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($s) =
                    $crate::support::postgres(concat!(stringify!($name), "::postgres")).await
                else {
                    return;
                };
                $body
                $s.close().await;
            }
        }
    };
}
