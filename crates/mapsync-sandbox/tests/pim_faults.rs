//! Faults of the emulated PIM over real HTTP: each scripted kind (`5xx`,
//! `429` with `Retry-After`, `timeout`, `reset`), aimed at a route or a
//! group, struck after the change was applied, and seeded random faults
//! that repeat for a seed.

mod pim_common;

use std::time::{Duration, Instant};

use mapsync_sandbox::pim::{parse_pim_faults, PimConfig};
use pim_common::{catalog, client, config, get, send, start, TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

async fn script(base: &str, faults: Value) -> Value {
    let (status, body) = send(Method::POST, &format!("{base}/__sandbox/faults"), faults).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn scripted_faults_of_each_kind() {
    let pim = start(PimConfig {
        fault_timeout: Duration::from_millis(300),
        ..config(catalog(10))
    })
    .await;
    let base = pim.url();
    let products = format!("{base}/products");

    // 5xx with a chosen status, then the request goes through.
    script(&base, json!([{"kind": "5xx", "status": 503}])).await;
    let (status, _, body) = get(&products).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "server_error");
    assert_eq!(get(&products).await.0, 200);

    // 429 with Retry-After.
    script(&base, json!({"kind": "429", "retry_after": 7})).await;
    let (status, headers, body) = get(&products).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"], "rate_limited");

    // Timeout: a 504 after the delay.
    script(&base, json!([{"kind": "timeout"}])).await;
    let t = Instant::now();
    let (status, _, _) = get(&products).await;
    assert_eq!(status, 504);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Reset: the connection closes without an answer.
    script(&base, json!([{"kind": "reset"}])).await;
    let r = client().get(&products).bearer_auth(TOKEN).send().await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(get(&products).await.0, 200);

    // "none" lets one request through, the next fault strikes the one after.
    script(&base, json!([{"kind": "none"}, {"kind": "5xx"}])).await;
    assert_eq!(get(&products).await.0, 200);
    assert_eq!(get(&products).await.0, 500);

    // The token endpoint can fail too.
    script(&base, json!([{"kind": "5xx", "route": "token"}])).await;
    let r = client()
        .post(pim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mapsync"),
            ("client_secret", "secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);

    let s = pim.stats();
    assert_eq!(s.faults, 6);
    assert_eq!(s.faults_by_kind["5xx"], 3);
    assert_eq!(s.faults_by_kind["429"], 1);
    assert_eq!(s.faults_by_kind["timeout"], 1);
    assert_eq!(s.faults_by_kind["reset"], 1);
    assert_eq!(s.count("GET /products", "503"), 1);
    assert_eq!(s.count("GET /products", "429"), 1);
    assert_eq!(s.count("GET /products", "504"), 1);
    assert_eq!(s.count("GET /products", "reset"), 1);
    assert_eq!(s.count("POST /oauth/token", "500"), 1);

    // Bad scripts are refused.
    for bad in [
        json!([{"kind": "lightning"}]),
        json!([{"kind": "5xx", "route": "GET /nowhere"}]),
        json!([{"kind": "5xx", "status": 404}]),
        json!([{"kind": "5xx", "colour": "red"}]),
    ] {
        let (status, body) = send(
            Method::POST,
            &format!("{base}/__sandbox/faults"),
            bad.clone(),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"], "invalid_fault");
    }
}

#[tokio::test]
async fn a_fault_aimed_at_a_route_waits_for_it() {
    let pim = start(config(catalog(10))).await;
    let base = pim.url();
    let body = script(
        &base,
        json!([
            {"kind": "5xx", "route": "writeback"},
            {"kind": "429", "route": "GET /products/count"}
        ]),
    )
    .await;
    assert_eq!(body, json!({"scripted": 2, "pending": 2}));
    // Reads pass the write-back fault by.
    assert_eq!(get(&format!("{base}/products")).await.0, 200);
    assert_eq!(get(&format!("{base}/categories")).await.0, 200);
    assert_eq!(get(&format!("{base}/products/count")).await.0, 429);
    assert_eq!(get(&format!("{base}/products/count")).await.0, 200);
    let (status, _) = send(
        Method::PATCH,
        &format!("{base}/categories"),
        json!([{"key": "C-1", "fields": {"ShopifyId": "x"}}]),
    )
    .await;
    assert_eq!(status, 500);
    // Before the request: nothing applied.
    assert_eq!(pim.writebacks().count, 0);
    // A queue can be cleared.
    script(&base, json!([{"kind": "5xx", "route": "images"}])).await;
    let (status, body) = send(
        Method::DELETE,
        &format!("{base}/__sandbox/faults"),
        json!(null),
    )
    .await;
    assert_eq!((status.as_u16(), body), (200, json!({"cleared": 1})));
}

#[tokio::test]
async fn a_fault_after_a_write_applies_it_and_loses_the_answer() {
    let pim = start(PimConfig {
        fault_timeout: Duration::from_millis(400),
        ..config(catalog(10))
    })
    .await;
    let base = pim.url();
    script(
        &base,
        json!([
            {"kind": "reset", "after": true, "route": "PATCH /products/{key}"},
            {"kind": "5xx", "after": true, "route": "PATCH /products"},
            {"kind": "timeout", "after": true, "route": "POST /products/{key}/images"}
        ]),
    )
    .await;
    let r = client()
        .patch(format!("{base}/products/P-00001"))
        .bearer_auth(TOKEN)
        .json(&json!({"ShopifyId": "gid://shopify/Product/1"}))
        .send()
        .await;
    assert!(r.is_err(), "the answer is lost: {r:?}");
    let (status, _) = send(
        Method::PATCH,
        &format!("{base}/products"),
        json!([{"key": "P-00002", "fields": {"ShopifyId": "gid://shopify/Product/2"}}]),
    )
    .await;
    assert_eq!(status, 500);
    // A client that waits less than the delay gives up; the image is added.
    let r = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap()
        .post(format!("{base}/products/P-00001/images"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": "https://img.example/late.jpg"}))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));

    let log = pim.writebacks();
    assert_eq!(log.count, 2);
    assert_eq!(
        log.products["P-00001"].fields["ShopifyId"],
        "gid://shopify/Product/1"
    );
    assert_eq!(
        log.products["P-00002"].fields["ShopifyId"],
        "gid://shopify/Product/2"
    );
    let (_, _, body) = get(&format!("{base}/products/P-00001/images")).await;
    assert_eq!(body["data"][0]["url"], "https://img.example/late.jpg");
}

/// The outcome of each of `n` reads: a status, or `err`.
async fn outcomes(base: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = client()
            .get(format!("{base}/products?per_page=2"))
            .bearer_auth(TOKEN)
            .send()
            .await;
        out.push(match r {
            Ok(r) => r.status().as_str().to_string(),
            Err(_) => "err".into(),
        });
    }
    out
}

#[tokio::test]
async fn random_faults_repeat_for_a_seed() {
    let cfg = || PimConfig {
        fault_rate: 0.4,
        faults: parse_pim_faults("5xx,timeout,reset,429").unwrap(),
        fault_seed: 42,
        fault_timeout: Duration::from_millis(20),
        ..config(catalog(4))
    };
    let a = start(cfg()).await;
    let b = start(cfg()).await;
    let oa = outcomes(&a.url(), 60).await;
    let ob = outcomes(&b.url(), 60).await;
    assert_eq!(oa, ob);
    let faults = a.stats().faults;
    assert!(faults > 5 && faults < 45, "{faults} of 60");
    assert!(oa.iter().any(|o| o == "200"));
    assert!(oa.iter().any(|o| o == "429"));
    assert!(oa.iter().any(|o| o == "err"));
    assert_eq!(a.stats(), b.stats());
    // Another seed, other faults.
    let c = start(PimConfig {
        fault_seed: 7,
        ..cfg()
    })
    .await;
    assert_ne!(outcomes(&c.url(), 60).await, oa);
}
