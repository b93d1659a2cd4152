//! Incremental reads (`since:`) and the count endpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mapsync_core::source::{Entity, Incremental, ReadScope, Source};
use serde_json::{json, Value};

use crate::fixture::{start, Server, CATALOG};
use crate::{catalog_ids, read, source};

/// The instant of the catalog's record `i`.
fn at(i: usize) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600 + 60 * i as u64)
}

fn with_since(s: &Server, since: Value) -> mapsync_rest::RestSource {
    source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "size": "per_page", "max": 100 },
            "since": since,
            "count": { "path": "/products/count", "value": "meta.count" }
        }),
        json!({}),
    )
}

#[tokio::test]
async fn incremental_reads_send_the_instant_and_read_only_that() {
    let s = start().await;
    let src = with_since(
        &s,
        json!({ "param": "updated_since", "field": "LastUpdated" }),
    );
    assert_eq!(
        src.incremental(Entity::Product),
        Some(Incremental {
            overlap: Duration::from_secs(300),
            full_every: Duration::from_secs(86_400),
        })
    );
    assert_eq!(src.incremental(Entity::Category), None);
    // Sub-second precision is dropped (floored): never reads less.
    let t = at(1000) + Duration::from_millis(700);
    let r = read(&src, Entity::Product, ReadScope::Since(t)).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(1000));
    let seen = s.seen("/page");
    assert!(seen
        .iter()
        .all(|q| q.query["updated_since"] == "2025-01-01T16:40:00Z"));
    assert_eq!(
        src.count(Entity::Product, ReadScope::Since(t))
            .await
            .unwrap(),
        Some((CATALOG - 1000) as u64)
    );
    assert_eq!(
        src.count(Entity::Product, ReadScope::Full).await.unwrap(),
        Some(CATALOG as u64)
    );
    // A full read sends no instant.
    let before = s.count("/page");
    let r = read(&src, Entity::Product, ReadScope::Full).await;
    assert_eq!(r.records.len(), CATALOG);
    assert!(s.seen("/page")[before..]
        .iter()
        .all(|q| !q.query.contains_key("updated_since")));
}

#[tokio::test]
async fn the_instant_format_and_the_overlap_are_options() {
    let s = start().await;
    let src = with_since(
        &s,
        json!({ "param": "changed", "format": "unix", "overlap": "10m", "full_every": "7d" }),
    );
    assert_eq!(
        src.incremental(Entity::Product),
        Some(Incremental {
            overlap: Duration::from_secs(600),
            full_every: Duration::from_secs(7 * 86_400),
        })
    );
    read(&src, Entity::Product, ReadScope::Since(at(0))).await;
    assert_eq!(s.seen("/page")[0].query["changed"], "1735689600");
    let src = with_since(&s, json!({ "param": "d", "format": "date" }));
    read(&src, Entity::Product, ReadScope::Since(at(0))).await;
    assert_eq!(s.seen("/page").last().unwrap().query["d"], "2025-01-01");
}

#[tokio::test]
async fn with_only_a_field_mapsync_skips_older_records_itself() {
    let s = start().await;
    let src = with_since(&s, json!({ "field": "LastUpdated" }));
    let r = read(&src, Entity::Product, ReadScope::Since(at(1200))).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(1200));
    // Every page was read; positions keep counting the skipped records.
    assert_eq!(s.count("/page"), 13);
    assert_eq!(r.records[0].position.index, 1200);
}

#[tokio::test]
async fn without_since_an_incremental_read_is_a_full_one() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/page", "records": "data" }, "paging": { "style": "page", "size": "per_page", "max": 100 } }),
        json!({}),
    );
    assert_eq!(src.incremental(Entity::Product), None);
    let r = read(&src, Entity::Product, ReadScope::Since(at(1000))).await;
    assert_eq!(r.records.len(), CATALOG);
    // No count endpoint: no count.
    assert_eq!(
        src.count(Entity::Product, ReadScope::Full).await.unwrap(),
        None
    );
}
