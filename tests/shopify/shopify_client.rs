//! The HTTP client against a real local HTTP server: retries on THROTTLED,
//! 429 (Retry-After), 5xx, timeouts and dropped connections; no retry on
//! GraphQL errors or userErrors, nor on an ambiguous failure of a
//! non-idempotent mutation; the token never shows in errors; and the
//! cost-aware limiter keeps a real leaky bucket from running dry under
//! parallel callers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mapsync::connectors::shopify::documents;
use mapsync::connectors::shopify::{
    AccessToken, BucketLimits, ClientConfig, ShopLocation, ShopifyClient, ShopifyError,
    TransportKind,
};
use serde_json::{json, Value};

use crate::shopify_server::{self, cost_ext, ok, throttled, Reply, TestShop};

const TOKEN: &str = "shpat_0123456789abcdef_TEST_TOKEN";

fn make_client(shop: &TestShop, max_retries: u32) -> ShopifyClient {
    let mut config = ClientConfig::new(
        ShopLocation::url(&shop.url()).unwrap(),
        AccessToken::new(TOKEN),
    );
    config.max_retries = max_retries;
    config.backoff_base = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(20);
    config.timeout = Duration::from_secs(5);
    ShopifyClient::new(config).unwrap()
}

/// A script: answer `i` is `script[i]`, then `ok(shop)` forever.
fn scripted(script: Vec<Reply>) -> impl Fn(&shopify_server::Seen, usize) -> Reply + Send + Sync {
    let script = Mutex::new(script.into_iter().map(Some).collect::<Vec<_>>());
    move |_, i| {
        let mut s = script.lock().unwrap();
        match s.get_mut(i).and_then(Option::take) {
            Some(reply) => reply,
            None => Reply::Json(ok(
                json!({"shop": {"name": "Test", "myshopifyDomain": "t.myshopify.com", "currencyCode": "EUR"}}),
            )),
        }
    }
}

async fn shop_info(client: &ShopifyClient) -> Result<Value, ShopifyError> {
    client
        .execute::<Value>(&documents::SHOP_INFO, json!({}), 1)
        .await
        .map(|r| r.data)
}

fn assert_no_token(err: &ShopifyError) {
    assert!(
        !format!("{err}").contains(TOKEN),
        "Display leaks the token: {err}"
    );
    assert!(
        !format!("{err:?}").contains(TOKEN),
        "Debug leaks the token: {err:?}"
    );
}

#[tokio::test]
async fn sends_the_token_header_and_decodes_data() {
    let shop = TestShop::start(scripted(vec![])).await;
    let client = make_client(&shop, 3);
    let data = shop_info(&client).await.unwrap();
    assert_eq!(data["shop"]["name"], "Test");
    let seen = shop.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].token.as_deref(), Some(TOKEN));
    assert_eq!(seen[0].operation.as_deref(), Some("ShopInfo"));
    assert!(!format!("{client:?}").contains(TOKEN));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retried, stats.throttled), (1, 0, 0));
}

#[tokio::test]
async fn throttled_is_retried_after_the_bucket_refills() {
    let shop = TestShop::start(scripted(vec![
        Reply::Json(throttled(50.0, 1000.0, 10.0, 1000.0)),
        Reply::Json(throttled(50.0, 1000.0, 10.0, 1000.0)),
    ]))
    .await;
    let client = make_client(&shop, 3);
    shop_info(&client).await.unwrap();
    assert_eq!(shop.count(), 3);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retried, stats.throttled), (3, 2, 2));
}

#[tokio::test]
async fn throttled_too_often_gives_a_throttled_error() {
    let shop = TestShop::start(|_: &shopify_server::Seen, _| {
        Reply::Json(throttled(5.0, 1000.0, 1000.0, 1000.0))
    })
    .await;
    let client = make_client(&shop, 2);
    let err = shop_info(&client).await.unwrap_err();
    assert!(
        matches!(err, ShopifyError::Throttled { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(shop.count(), 3);
    assert_no_token(&err);
}

#[tokio::test]
async fn http_429_honours_retry_after() {
    let shop = TestShop::start(scripted(vec![Reply::TooMany("0.3".into())])).await;
    let client = make_client(&shop, 3);
    shop_info(&client).await.unwrap();
    let seen = shop.seen();
    assert_eq!(seen.len(), 2);
    // The second attempt waited for Retry-After (sleeps never end early).
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(290));
    let stats = client.stats();
    assert_eq!((stats.retried, stats.throttled), (1, 1));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_the_status() {
    let shop = TestShop::start(scripted(vec![
        Reply::Status(500, "boom".into()),
        Reply::Status(503, "unavailable".into()),
    ]))
    .await;
    let c = make_client(&shop, 3);
    shop_info(&c).await.unwrap();
    assert_eq!(shop.count(), 3);
    assert_eq!(c.stats().retried, 2);

    let always =
        TestShop::start(|_: &shopify_server::Seen, _| Reply::Status(502, "bad gateway".into()))
            .await;
    let c = make_client(&always, 2);
    let err = shop_info(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            ShopifyError::HttpStatus {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad gateway"));
    assert_eq!(always.count(), 3);
    assert_eq!(c.stats().failed, 1);
}

#[tokio::test]
async fn dropped_connections_are_retried_for_queries() {
    let shop = TestShop::start(scripted(vec![Reply::Drop, Reply::Drop])).await;
    let client = make_client(&shop, 3);
    shop_info(&client).await.unwrap();
    assert_eq!(shop.count(), 3);
    assert_eq!(client.stats().retried, 2);
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let shop =
        TestShop::start(|_: &shopify_server::Seen, _| Reply::Sleep(Duration::from_secs(10))).await;
    let mut config = ClientConfig::new(
        ShopLocation::url(&shop.url()).unwrap(),
        AccessToken::new(TOKEN),
    );
    config.timeout = Duration::from_millis(150);
    config.max_retries = 1;
    config.backoff_base = Duration::from_millis(1);
    let client = ShopifyClient::new(config).unwrap();
    let start = Instant::now();
    let err = shop_info(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            ShopifyError::Transport {
                kind: TransportKind::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(shop.count(), 2);
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn ambiguous_failure_of_a_create_is_not_retried_and_flagged() {
    let shop = TestShop::start(scripted(vec![Reply::Drop])).await;
    let client = make_client(&shop, 3);
    let err = client
        .execute::<Value>(
            &documents::PRODUCT_SET,
            json!({"input": {"title": "x"}, "synchronous": true, "variantsFirst": 1}),
            21,
        )
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(shop.count(), 1);
    assert_eq!(client.stats().retried, 0);

    // an idempotent mutation is retried
    let shop = TestShop::start(scripted(vec![Reply::Status(500, "oops".into())])).await;
    let client2 = make_client(&shop, 3);
    client2
        .execute::<Value>(
            &documents::PRODUCT_DELETE,
            json!({"id": "gid://shopify/Product/1"}),
            12,
        )
        .await
        .unwrap();
    assert_eq!(shop.count(), 2);
}

#[tokio::test]
async fn user_errors_are_returned_not_retried() {
    let shop = TestShop::start(|_: &shopify_server::Seen, _| {
        Reply::Json(ok(json!({"collectionCreate": {
            "collection": null,
            "userErrors": [{"field": ["input", "title"], "message": "Title can't be blank"}]
        }})))
    })
    .await;
    let client = make_client(&shop, 3);
    let answer = client
        .execute::<Value>(
            &documents::COLLECTION_CREATE,
            json!({"input": {"title": ""}}),
            12,
        )
        .await
        .unwrap();
    assert_eq!(
        answer.data["collectionCreate"]["userErrors"][0]["message"],
        "Title can't be blank"
    );
    assert_eq!(shop.count(), 1);
    assert_eq!(client.stats().retried, 0);
}

#[tokio::test]
async fn graphql_errors_are_not_retried() {
    let shop = TestShop::start(|_: &shopify_server::Seen, _| {
        Reply::Json(json!({
            "errors": [{"message": "Query cost is 1200, which exceeds the single query max cost limit (1000).",
                        "extensions": {"code": "MAX_COST_EXCEEDED"}}],
            "extensions": cost_ext(1200.0, None, 2000.0, 2000.0, 100.0)
        }))
    })
    .await;
    let client = make_client(&shop, 3);
    let err = shop_info(&client).await.unwrap_err();
    assert_eq!(err.graphql_codes(), vec!["MAX_COST_EXCEEDED"]);
    assert_eq!(shop.count(), 1);
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    // A misbehaving proxy that echoes the token back in every kind of answer.
    let echo = format!("bad token {TOKEN} for this shop");
    let e1 = echo.clone();
    let shop = TestShop::start(move |_: &shopify_server::Seen, i| match i {
        0 => Reply::Status(401, e1.clone()),
        1 => Reply::Status(500, e1.clone()),
        2 => Reply::Json(json!({"errors": [{"message": e1.clone()}]})),
        _ => Reply::Json(json!({"data": {"shop": e1.clone()}})),
    })
    .await;
    let client = make_client(&shop, 0);
    for _ in 0..4 {
        let err = client
            .execute::<Vec<String>>(&documents::SHOP_INFO, json!({}), 1)
            .await
            .unwrap_err();
        assert_no_token(&err);
    }
    let refused = TestShop::start(|_: &shopify_server::Seen, _| Reply::Drop).await;
    let err = shop_info(&make_client(&refused, 0)).await.unwrap_err();
    assert_no_token(&err);
}

#[tokio::test]
async fn the_limiter_keeps_a_real_bucket_from_running_dry() {
    // A leaky bucket of 120 points restoring 600/s; 8 callers send 40
    // requests of 30 points each (1200 points: ten bucketfuls).
    struct Bucket {
        available: f64,
        at: Instant,
        throttled: u32,
    }
    let bucket = Arc::new(Mutex::new(Bucket {
        available: 120.0,
        at: Instant::now(),
        throttled: 0,
    }));
    let b = bucket.clone();
    let shop = TestShop::start(move |seen: &shopify_server::Seen, _| {
        let cost = seen.variables["testCost"].as_f64().unwrap_or(1.0);
        let mut b = b.lock().unwrap();
        let now = Instant::now();
        b.available = (b.available + now.duration_since(b.at).as_secs_f64() * 600.0).min(120.0);
        b.at = now;
        if b.available < cost {
            b.throttled += 1;
            return Reply::Json(throttled(cost, 120.0, b.available, 600.0));
        }
        b.available -= cost;
        Reply::Json(json!({
            "data": {"shop": {"name": "x", "myshopifyDomain": "x", "currencyCode": "EUR"}},
            "extensions": cost_ext(cost, Some(cost), 120.0, b.available, 600.0)
        }))
    })
    .await;
    let mut config = ClientConfig::new(
        ShopLocation::url(&shop.url()).unwrap(),
        AccessToken::new(TOKEN),
    );
    config.concurrency = 8;
    // The client assumes a much larger bucket until the first answer.
    config.bucket = Some(BucketLimits {
        maximum: 2000.0,
        restore_rate: 100.0,
    });
    let client = ShopifyClient::new(config).unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                client
                    .execute::<Value>(
                        &documents::SHOP_INFO,
                        json!({"testCost": 30, "w": worker}),
                        30,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        bucket.lock().unwrap().throttled,
        0,
        "the server throttled us"
    );
    let stats = client.stats();
    assert_eq!((stats.requests, stats.throttled, stats.retried), (40, 0, 0));
    assert_eq!(stats.requested_cost, 1200);
}
