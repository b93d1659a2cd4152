//! Every paging style reads every record exactly once, in order, and
//! stops where it should; loops and endless servers are fatal; a record
//! that is not an object is one invalid item.

use std::time::Duration;

use mapsync_core::source::{Entity, ReadScope, Source};
use serde_json::json;

use crate::fixture::{self, start, CATALOG};
use crate::{catalog_ids, read, read_products, source};

#[tokio::test]
async fn page_style_reads_every_record_once_in_order_and_stops_on_the_short_page() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "page": "page", "size": "per_page", "max": 100 }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    // 12 full pages and the short 13th; the body's total_pages (999) is
    // not believed.
    let seen = s.seen("/page");
    assert_eq!(seen.len(), 13);
    for (i, req) in seen.iter().enumerate() {
        assert_eq!(req.query["page"], (i + 1).to_string());
        assert_eq!(req.query["per_page"], "100");
    }
    // Positions: the page's URL and the record's index among all.
    let last = r.records.last().unwrap();
    assert_eq!(last.position.index, CATALOG as u64 - 1);
    assert_eq!(
        &*last.position.origin,
        format!("{}/page?page=13&per_page=100", s.url)
    );
    assert_eq!(last.position.line, None);
}

#[tokio::test]
async fn page_style_without_a_size_learns_it_from_the_first_page() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/page", "records": "data" }, "paging": { "style": "page" } }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    // 25 a page (the server's default): 49 full pages and a short one.
    assert_eq!(s.count("/page"), 50);
}

#[tokio::test]
async fn page_style_stops_on_an_empty_page() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "size": "per_page", "max": 100 },
            "since": { "param": "updated_since" }
        }),
        json!({}),
    );
    // 200 records changed since: two full pages, then an empty one.
    let t =
        std::time::UNIX_EPOCH + Duration::from_secs(1_735_689_600 + 60 * (CATALOG as u64 - 200));
    let r = read(&src, Entity::Product, ReadScope::Since(t)).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(CATALOG - 200));
    assert_eq!(s.count("/page"), 3);
}

#[tokio::test]
async fn offset_style_reads_every_record_once_in_order() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/offset", "records": "results" },
            "paging": { "style": "offset", "max": 100 }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    let offsets: Vec<String> = s
        .seen("/offset")
        .iter()
        .map(|q| q.query["offset"].clone())
        .collect();
    let expect: Vec<String> = (0..13).map(|i| (i * 100).to_string()).collect();
    assert_eq!(offsets, expect);
}

#[tokio::test]
async fn cursor_style_reads_every_record_once_in_order() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/cursor", "records": "data.items", "query": { "include": "images,variants" } },
            "paging": { "style": "cursor", "cursor": "meta.next_cursor", "param": "cursor" }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    let seen = s.seen("/cursor");
    assert_eq!(seen.len(), 13);
    assert!(!seen[0].query.contains_key("cursor"), "no cursor on page 1");
    assert_eq!(seen[1].query["cursor"], "c100");
    assert!(seen.iter().all(|q| q.query["include"] == "images,variants"));
}

#[tokio::test]
async fn link_style_follows_rel_next() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/link" }, "paging": { "style": "link" } }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    assert_eq!(s.count("/link"), 13);
}

#[tokio::test]
async fn next_url_style_follows_the_body_and_hides_secret_query_values() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/next", "records": "items" },
            "paging": { "style": "next_url", "next": "links.next" }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    assert_eq!(s.count("/next"), 13);
    let origin = &r.records.last().unwrap().position.origin;
    assert!(origin.contains("access_token=***"), "{origin}");
    assert!(!origin.contains("CANARY"), "{origin}");
}

#[tokio::test]
async fn a_cursor_seen_twice_is_fatal() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/loop", "records": "data.items" },
            "paging": { "style": "cursor", "cursor": "meta.next_cursor" }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert_eq!(
        r.records.len(),
        200,
        "both pages handed out before the error"
    );
    let e = r.fatal.expect("fatal").to_string();
    assert!(e.contains("cursor of page 2 again"), "{e}");
    assert!(e.contains("meta.next_cursor"), "{e}");
    assert_eq!(s.count("/loop"), 2);
}

#[tokio::test]
async fn a_server_ignoring_the_page_parameter_is_fatal() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/same", "records": "data" },
            "paging": { "style": "page", "page": "pg", "size": "per_page", "max": 100 }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    let e = r.fatal.expect("fatal").to_string();
    assert!(e.contains("same body"), "{e}");
    assert_eq!(s.count("/same"), 2);
}

#[tokio::test]
async fn the_page_cap_stops_an_endless_server() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/endless", "records": "data" },
            "paging": { "style": "page", "max_pages": 5 }
        }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert_eq!(r.records.len(), 50);
    let e = r.fatal.expect("fatal").to_string();
    assert!(
        e.contains("stopped after 5 pages") && e.contains("max_pages"),
        "{e}"
    );
    assert_eq!(s.count("/endless"), 5);
}

#[tokio::test]
async fn a_record_that_is_not_an_object_is_one_invalid_item() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/mixed", "records": "data" } }),
        json!({}),
    );
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), vec!["P0000", "P0001"]);
    assert_eq!(r.records[1].position.index, 3);
    assert_eq!(r.invalid.len(), 2);
    let bad = &r.invalid[0];
    assert_eq!(bad.entity, Entity::Product);
    assert_eq!(bad.position.index, 1);
    assert_eq!(&*bad.position.origin, format!("{}/mixed", s.url));
    assert_eq!(bad.message, "product 2 is a string, not an object");
    assert!(bad.help.contains("`data`"), "{}", bad.help);
    assert_eq!(r.invalid[1].message, "product 3 is a number, not an object");
}

#[tokio::test]
async fn a_wrong_records_path_is_fatal_and_names_the_keys() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/nolist", "records": "data" } }),
        json!({}),
    );
    let r = read_products(&src).await;
    let e = r.fatal.expect("fatal").to_string();
    assert!(
        e.contains("nothing at `data`") && e.contains("`dataa`"),
        "{e}"
    );
    assert!(e.contains("list.records"), "{e}");
}

#[tokio::test]
async fn an_entity_without_options_is_empty() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({ "list": { "path": "/mixed", "records": "data" } }),
        json!({}),
    );
    let r = read(&src, Entity::Category, ReadScope::Full).await;
    assert!(r.records.is_empty() && r.fatal.is_none());
    assert_eq!(s.fx.seen.lock().unwrap().len(), 0);
}

/// The producer reads one page ahead of the page it hands out, and the
/// channel holds less than a page: a slow consumer on page `c` never has
/// more than pages `c..=c+2` requested.
#[tokio::test]
async fn read_ahead_keeps_at_most_two_pages_ahead_of_a_slow_consumer() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "size": "per_page", "max": 100 }
        }),
        json!({}),
    );
    let mut stream = src.records(Entity::Product).unwrap();
    let mut consumed = 0usize;
    let mut max_ahead = 0usize;
    let mut prefetched = false;
    while let Some(item) = stream.next_item().await {
        item.unwrap();
        consumed += 1;
        if consumed.is_multiple_of(50) {
            // Give the producer every chance to run ahead.
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        let current_page = (consumed - 1) / 100; // 0-based
        let requested = s.count("/page");
        assert!(
            requested <= current_page + 3,
            "consumer on page {} while {} pages were requested",
            current_page + 1,
            requested
        );
        max_ahead = max_ahead.max(requested - (current_page + 1));
        prefetched |= requested > current_page + 1;
    }
    assert_eq!(consumed, CATALOG);
    assert!(prefetched, "the next page is fetched while one is consumed");
    assert!(max_ahead <= 2, "{max_ahead}");
}

/// `records` from a plain thread (no runtime): the reading task runs on a
/// background runtime and the stream is iterated blocking, as the planner
/// does.
#[test]
fn records_from_a_plain_thread_iterate_blocking() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(start());
    let url = s.url.clone();
    let ids = std::thread::spawn(move || {
        let src = source(
            &url,
            json!({
                "list": { "path": "/cursor", "records": "data.items" },
                "paging": { "style": "cursor", "cursor": "meta.next_cursor" }
            }),
            json!({}),
        );
        let stream = src.records(Entity::Product).unwrap();
        drop(src); // the stream does not need the source
        stream
            .map(|i| i.unwrap().fields["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert_eq!(ids, catalog_ids(0));
    drop(rt);
}

#[tokio::test]
async fn dropping_the_stream_stops_reading() {
    let s = start().await;
    let src = source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "size": "per_page", "max": 100 }
        }),
        json!({}),
    );
    let mut stream = src.records(Entity::Product).unwrap();
    for _ in 0..10 {
        stream.next_item().await.unwrap().unwrap();
    }
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.count("/page") <= 2, "{}", s.count("/page"));
    let _ = fixture::MAX_PAGE;
}
