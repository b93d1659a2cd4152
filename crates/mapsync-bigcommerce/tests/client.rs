//! The client against the emulated BigCommerce store, started in-process;
//! every request a test sends is checked against BigCommerce's OpenAPI
//! files.

use std::time::Duration;

use mapsync_bigcommerce::{BcClient, BcConfig, BcError, PRODUCT_BATCH};
use mapsync_core::target::ErrorKind;
use mapsync_sandbox::bigcommerce::faults::Scripted;
use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::{self as sandbox, BcFault, BcFaultKind, BcHandle};
use serde_json::{json, Value};
use url::Url;

const TOKEN: &str = "test-token";

async fn store(quota: Option<u32>, window: Duration) -> BcHandle {
    sandbox::start(sandbox::BcConfig {
        record_requests: true,
        token: Some(TOKEN.into()),
        quota,
        window,
        ..sandbox::BcConfig::default()
    })
    .await
    .expect("the emulated store starts")
}

fn client(h: &BcHandle, token: &str) -> BcClient {
    BcClient::new(BcConfig {
        base: Url::parse(&h.api_url()).expect("api url"),
        token: token.into(),
        quota_hint: None,
    })
    .expect("client")
    .with_backoff(Duration::from_millis(10))
}

fn product(name: &str) -> Value {
    json!({"name": name, "type": "physical", "weight": 1, "price": 10})
}

async fn create(c: &BcClient, name: &str) -> u64 {
    let a = c
        .post("/catalog/products", &product(name))
        .await
        .expect("product created");
    a.body["data"]["id"].as_u64().expect("an id")
}

/// Every recorded request is one the OpenAPI files describe.
fn assert_requests_valid(h: &BcHandle) {
    let spec = Spec::bundled().expect("the bundled OpenAPI files");
    let requests = h.requests();
    assert!(!requests.is_empty());
    for r in requests {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}", r.method, r.path);
        }
    }
}

#[tokio::test]
async fn a_wrong_token_is_denied() {
    let h = store(None, Duration::from_secs(30)).await;
    let e = client(&h, "wrong")
        .get::<Value>("/catalog/products", &[])
        .await
        .expect_err("refused");
    assert!(matches!(e, BcError::Denied { status: 401, .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Denied);
    assert_eq!(h.stats().unauthorized, 1, "a 401 is not retried");
}

#[tokio::test]
async fn products_are_created_and_listed_over_pages() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    for i in 0..7 {
        create(&c, &format!("Product {i}")).await;
    }
    let q = [("include_fields", "name".to_string())];
    let by3: Vec<Value> = c
        .get_all_limit("/catalog/products", &q, 3)
        .await
        .expect("listed");
    let names: Vec<&str> = by3.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names.len(), 7);
    assert_eq!(names[6], "Product 6");
    assert_eq!(h.stats().count("GET /catalog/products", "200"), 3);
    // A full last page: one more, empty page ends the listing.
    create(&c, "Product 7").await;
    let by4: Vec<Value> = c
        .get_all_limit("/catalog/products", &[], 4)
        .await
        .expect("listed");
    assert_eq!(by4.len(), 8);
    assert_eq!(h.stats().count("GET /catalog/products", "200"), 6);
    let all: Vec<Value> = c.get_all("/catalog/products", &[]).await.expect("listed");
    assert_eq!(all.len(), 8);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_duplicate_name_is_a_conflict_naming_the_field() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    create(&c, "Shirt").await;
    let e = c
        .post("/catalog/products", &product("Shirt"))
        .await
        .expect_err("a duplicate");
    match &e {
        BcError::Conflict { field, message } => {
            assert_eq!(field.as_deref(), Some("name"));
            assert!(message.contains("already in use"), "{message}");
        }
        other => panic!("not a conflict: {other:?}"),
    }
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert_eq!(
        h.stats().count("POST /catalog/products", "409"),
        1,
        "a 409 is not retried"
    );
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_partial_batch_is_read_item_by_item() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(create(&c, &format!("P{i}")).await);
    }
    let mut items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "price": 20}))
        .collect();
    // Item 1 takes the name of product 2: refused, the others saved.
    items[1] = json!({"id": ids[1], "name": "P2"});
    let results = c
        .put_batch("/catalog/products", &items, PRODUCT_BATCH)
        .await;
    assert_eq!(results.len(), 12);
    assert_eq!(h.stats().count("PUT /catalog/products", "207"), 1);
    assert_eq!(h.stats().count("PUT /catalog/products", "200"), 1);
    for (i, r) in results.iter().enumerate() {
        if i == 1 {
            let e = r.as_ref().expect_err("item 1 refused");
            assert!(
                matches!(e, BcError::Item { status: 409, field: Some(f), .. } if f == "name"),
                "{e:?}"
            );
            assert!(e.to_string().contains("already in use"), "{e}");
            assert_eq!(e.kind(), ErrorKind::Refused);
        } else {
            let v = r.as_ref().expect("saved");
            assert_eq!(v["id"].as_u64(), Some(ids[i]));
            assert_eq!(v["price"].as_f64(), Some(20.0));
        }
    }
    // A batch where every item fails: each with its own message.
    let bad = vec![
        json!({"id": ids[0], "name": "P3"}),
        json!({"id": ids[1], "name": "P4"}),
    ];
    let results = c.put_batch("/catalog/products", &bad, PRODUCT_BATCH).await;
    assert_eq!(results.len(), 2);
    for (r, name) in results.iter().zip(["P3", "P4"]) {
        let e = r.as_ref().expect_err("refused");
        assert!(e.to_string().contains(name), "{e}");
    }
    assert_requests_valid(&h);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    let fault = |status| Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Http5xx,
            after: false,
            status,
        }),
        route: None,
    };
    h.script_faults([fault(503), fault(500)]);
    let v: Value = c.get("/catalog/products", &[]).await.expect("third try");
    assert!(v["data"].is_array());
    assert_eq!(h.stats().faults, 2);
    // More failures than attempts: a transient server error.
    h.script_faults((0..mapsync_bigcommerce::client::MAX_ATTEMPTS).map(|_| fault(502)));
    let e = c
        .get::<Value>("/catalog/products", &[])
        .await
        .expect_err("gave up");
    assert!(matches!(e, BcError::Server { status: 502, .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_create_answered_500_is_not_sent_twice() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    // The store makes the product, then answers 500.
    h.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Http5xx,
            after: true,
            status: 500,
        }),
        route: None,
    }]);
    let e = c
        .post("/catalog/products", &product("Lost"))
        .await
        .expect_err("a 500");
    assert!(
        matches!(
            e,
            BcError::Server {
                status: 500,
                maybe_applied: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(h.stats().route_total("POST /catalog/products"), 1);
    let all: Vec<Value> = c.get_all("/catalog/products", &[]).await.expect("listed");
    assert_eq!(all.len(), 1, "made once");
    // A 503 was not processed: a create is retried.
    h.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Http5xx,
            after: false,
            status: 503,
        }),
        route: None,
    }]);
    create(&c, "Retried").await;
    assert_eq!(h.stats().count("POST /catalog/products", "503"), 1);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn a_429_is_waited_for_and_retried() {
    let h = store(Some(3), Duration::from_millis(800)).await;
    // Another client (its own pacer) uses the window up.
    let other = client(&h, TOKEN);
    for _ in 0..3 {
        other
            .get::<Value>("/catalog/products", &[])
            .await
            .expect("within the quota");
    }
    let c = client(&h, TOKEN);
    let v: Value = c
        .get("/catalog/products", &[])
        .await
        .expect("after the reset");
    assert!(v["data"].is_array());
    let s = h.stats();
    assert_eq!(s.throttled, 1);
    assert!(s.max_in_window <= 3);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn concurrent_requests_keep_to_a_small_quota() {
    let quota = 10;
    let h = store(Some(quota), Duration::from_millis(700)).await;
    let c = client(&h, TOKEN);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                c.get::<Value>("/catalog/products", &[("limit", "5".to_string())])
                    .await?;
            }
            Ok::<_, BcError>(())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("requests");
    }
    let s = h.stats();
    assert_eq!(s.requests, 40);
    assert_eq!(s.throttled, 0, "paced below the quota");
    assert!(s.max_in_window <= quota, "{}", s.max_in_window);
    assert_requests_valid(&h);
}

#[tokio::test]
async fn variants_go_in_batches_of_fifty() {
    let h = store(None, Duration::from_secs(30)).await;
    let c = client(&h, TOKEN);
    let mut body = product("Shirt");
    body["variants"] = (0..60)
        .map(|i| {
            json!({"sku": format!("SHIRT-{i}"), "price": 10,
                "option_values": [{"option_display_name": "Size", "label": format!("S{i}")}]})
        })
        .collect();
    let a = c.post("/catalog/products", &body).await.expect("created");
    let pid = a.body["data"]["id"].as_u64().expect("an id");
    let variants: Vec<Value> = c
        .get_all(&format!("/catalog/products/{pid}/variants"), &[])
        .await
        .expect("listed");
    assert_eq!(variants.len(), 60);
    let mut items: Vec<Value> = variants
        .iter()
        .map(|v| json!({"id": v["id"], "product_id": pid, "price": 12}))
        .collect();
    // One SKU taken by another variant: that item alone fails.
    items[55] = json!({"id": variants[55]["id"], "product_id": pid, "sku": "SHIRT-0"});
    let results = c
        .put_batch(
            "/catalog/variants",
            &items,
            mapsync_bigcommerce::VARIANT_BATCH,
        )
        .await;
    assert_eq!(results.len(), 60);
    assert_eq!(h.stats().route_total("PUT /catalog/variants"), 2);
    for (i, r) in results.iter().enumerate() {
        if i == 55 {
            let e = r.as_ref().expect_err("a duplicate SKU");
            assert_eq!(e.kind(), ErrorKind::Refused);
            assert!(e.to_string().contains("SHIRT-0"), "{e}");
        } else {
            let v = r.as_ref().expect("saved");
            assert_eq!(v["id"], variants[i]["id"]);
            assert_eq!(v["price"].as_f64(), Some(12.0));
        }
    }
    assert_requests_valid(&h);
}
