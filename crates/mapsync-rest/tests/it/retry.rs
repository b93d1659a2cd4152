//! Retries: 5xx, timeouts, resets and broken bodies with backoff; 429 and
//! 503 after `Retry-After`; other 4xx final; the rate ceiling.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mapsync_core::source::{Entity, ReadScope};
use mapsync_rest::{RestError, RestErrorKind};
use serde_json::{json, Value};

use crate::fixture::{start, Fault, Server};
use crate::{catalog_ids, read_products, source};

fn paged(s: &Server, extra: Value) -> mapsync_rest::RestSource {
    source(
        &s.url,
        json!({
            "list": { "path": "/page", "records": "data" },
            "paging": { "style": "page", "size": "per_page", "max": 100 },
            "count": { "path": "/products/count", "value": "meta.count" }
        }),
        extra,
    )
}

fn kind_of(e: &mapsync_core::source::SourceError) -> RestErrorKind {
    match e {
        mapsync_core::source::SourceError::Connector(b) => {
            b.downcast_ref::<RestError>().expect("a RestError").kind
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn server_errors_are_retried_and_every_record_comes_once() {
    let s = start().await;
    let src = paged(&s, json!({}));
    s.fault(Fault::Status(503));
    s.fault(Fault::Status(500));
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    assert_eq!(s.count("/page"), 15);
    assert_eq!(src.requests(), 15);
}

#[tokio::test]
async fn failures_after_the_retries_are_fatal() {
    let s = start().await;
    let src = paged(&s, json!({ "retries": 2 }));
    for _ in 0..3 {
        s.fault(Fault::Status(502));
    }
    let r = read_products(&src).await;
    assert!(r.records.is_empty());
    let e = r.fatal.expect("fatal");
    assert_eq!(kind_of(&e), RestErrorKind::Unreachable);
    let text = e.to_string();
    assert!(
        text.contains("HTTP 502") && text.contains("after 3 attempts"),
        "{text}"
    );
    assert_eq!(s.count("/page"), 3);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let s = start().await;
    let src = paged(&s, json!({ "timeout": "300ms" }));
    s.fault(Fault::Delay(Duration::from_secs(2)));
    let started = Instant::now();
    assert_eq!(
        src.count(Entity::Product, ReadScope::Full).await.unwrap(),
        Some(1234)
    );
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.count("/products/count"), 2);

    // Always too slow: the message says so.
    let src = paged(&s, json!({ "timeout": "200ms", "retries": 1 }));
    s.fault(Fault::Delay(Duration::from_secs(2)));
    s.fault(Fault::Delay(Duration::from_secs(2)));
    let e = src
        .count(Entity::Product, ReadScope::Full)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RestErrorKind::Unreachable);
    assert!(e.message.contains("no answer within 200ms"), "{e}");
}

#[tokio::test]
async fn a_reset_connection_and_a_broken_body_are_retried() {
    let s = start().await;
    s.fx.drop_connections.store(1, Ordering::SeqCst);
    let src = paged(&s, json!({}));
    assert_eq!(
        src.count(Entity::Product, ReadScope::Full).await.unwrap(),
        Some(1234)
    );
    assert_eq!(
        s.fx.drop_connections.load(Ordering::SeqCst),
        0,
        "one connection was dropped"
    );
    s.fault(Fault::BreakBody);
    let r = read_products(&src).await;
    assert!(r.fatal.is_none(), "{:?}", r.fatal);
    assert_eq!(r.ids(), catalog_ids(0));
    assert_eq!(s.count("/page"), 14);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let s = start().await;
    let src = paged(&s, json!({}));
    s.fault(Fault::RetryAfter(429, "1".into()));
    let started = Instant::now();
    assert_eq!(
        src.count(Entity::Product, ReadScope::Full).await.unwrap(),
        Some(1234)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // An HTTP date, two seconds ahead (a whole-second clock: at least 1s).
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    s.fault(Fault::RetryAfter(503, at.format(fmt).unwrap()));
    let started = Instant::now();
    src.count(Entity::Product, ReadScope::Full).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn other_client_errors_are_final_at_once() {
    let s = start().await;
    let src = source(&s.url, json!({ "list": { "path": "/nowhere" } }), json!({}));
    let r = read_products(&src).await;
    let e = r.fatal.expect("fatal");
    assert_eq!(kind_of(&e), RestErrorKind::Status);
    let text = e.to_string();
    assert!(
        text.contains("HTTP 404 from GET") && text.contains("/nowhere"),
        "{text}"
    );
    assert!(
        text.contains("no such endpoint"),
        "the server's message: {text}"
    );
    assert_eq!(s.count("/nowhere"), 1);
    // A redirect to another host is not followed (credentials stay home).
    let src = source(&s.url, json!({ "list": { "path": "/away" } }), json!({}));
    let e = read_products(&src).await.fatal.expect("fatal").to_string();
    assert!(e.contains("HTTP 302"), "{e}");
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let s = start().await;
    let src = paged(&s, json!({ "rate_limit": "20/s" }));
    let started = Instant::now();
    for _ in 0..5 {
        src.count(Entity::Product, ReadScope::Full).await.unwrap();
    }
    // Five requests at 50ms intervals: the last starts after 200ms.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(195), "{took:?}");
}
