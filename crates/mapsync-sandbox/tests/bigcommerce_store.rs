//! The emulated BigCommerce store's behaviour over HTTP: the token, the
//! quota window and its headers, faults (random and scripted, a lost
//! answer after the change), limits (600 SKUs, 250 option values, batch
//! sizes), bad input of every kind without a panic, persistence, control
//! endpoints.

mod bc_common;

use std::time::Duration;

use bc_common::{assert_v3_error, config, start, TOKEN};
use mapsync_sandbox::bigcommerce::faults::Scripted;
use mapsync_sandbox::bigcommerce::{self, BcConfig, BcFault, BcFaultKind, BcPlan};
use serde_json::{json, Value};

fn product(name: &str, sku: &str) -> Value {
    json!({"name": name, "type": "physical", "sku": sku, "price": 1, "weight": 1})
}

#[tokio::test]
async fn the_token_is_required() {
    let c = start(config()).await;
    let url = c.url("/catalog/products");
    for token in [None, Some("wrong")] {
        let mut req = c.http.get(&url);
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("x-rate-limit-requests-left"));
        let body: Value = r.json().await.unwrap();
        assert_v3_error(&body, 401);
    }
    // Another store hash is no store.
    let other = url.replace("/stores/sandbox/", "/stores/other/");
    let r = c
        .http
        .get(&other)
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Control endpoints want the token too when one is set.
    let r = c
        .http
        .get(format!("{}/__sandbox/stats", c.store.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let stats = c.store.stats();
    assert_eq!(stats.unauthorized, 2);
    // Without a configured token any non-empty one passes.
    let open = start(BcConfig::default()).await;
    let r = open
        .http
        .get(open.url("/catalog/products"))
        .header("X-Auth-Token", "anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = open
        .http
        .get(open.url("/catalog/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_quota_window_is_kept_with_its_headers() {
    let c = start(BcConfig {
        token: Some(TOKEN.into()),
        quota: Some(5),
        window: Duration::from_millis(1500),
        ..BcConfig::default()
    })
    .await;
    for left in (0..5).rev() {
        let a = c.call("GET", "/catalog/products", None).await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.header("x-rate-limit-requests-left").unwrap(),
            left.to_string()
        );
        assert_eq!(a.header("x-rate-limit-requests-quota").unwrap(), "5");
        assert_eq!(a.header("x-rate-limit-time-window-ms").unwrap(), "1500");
        let reset: u64 = a
            .header("x-rate-limit-time-reset-ms")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset <= 1500);
    }
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.status, 429);
    assert_v3_error(&a.body, 429);
    assert_eq!(a.header("x-rate-limit-requests-left").unwrap(), "0");
    assert!(a.header("x-retry-after").is_some());
    let reset: u64 = a
        .header("x-rate-limit-time-reset-ms")
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(reset + 50)).await;
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-rate-limit-requests-left").unwrap(), "4");
    let s = c.store.stats();
    assert_eq!((s.throttled, s.quota, s.max_in_window), (1, 5, 5));
    assert_eq!(s.count("GET /catalog/products", "429"), 1);
    assert_eq!(s.route_total("GET /catalog/products"), 7);
    // The plans' quotas.
    assert_eq!(BcPlan::Standard.quota(), 150);
    assert_eq!(BcPlan::Plus.quota(), 150);
    assert_eq!(BcPlan::Pro.quota(), 450);
    assert_eq!("pro".parse::<BcPlan>().unwrap(), BcPlan::Pro);
    assert!("gold".parse::<BcPlan>().is_err());
}

#[tokio::test]
async fn a_lost_answer_leaves_the_change_made() {
    let c = start(config()).await;
    c.store.script_faults([Scripted {
        fault: Some(BcFault {
            kind: BcFaultKind::Lost,
            after: true,
            status: 500,
        }),
        route: Some("POST /catalog/products".into()),
    }]);
    let r = c
        .http
        .post(c.url("/catalog/products"))
        .header("X-Auth-Token", TOKEN)
        .json(&product("Lost", "LOST-1"))
        .send()
        .await;
    assert!(r.is_err(), "the answer is lost: {r:?}");
    // The product was made: a retry is a duplicate, a search finds it.
    let a = c
        .call("POST", "/catalog/products", Some(product("Lost", "LOST-1")))
        .await;
    assert_eq!(a.status, 409);
    let a = c.call("GET", "/catalog/products?sku=LOST-1", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);

    // Scripted over HTTP: a 500 before the change, a 429 without headers.
    let faults = json!([
        {"kind": "5xx", "status": 503, "route": "products"},
        {"kind": "429", "route": "GET /catalog/variants"},
    ]);
    let r = c
        .http
        .post(format!("{}/__sandbox/faults", c.store.url()))
        .header("X-Auth-Token", TOKEN)
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = c
        .call("POST", "/catalog/products", Some(product("Five", "FIVE")))
        .await;
    assert_eq!(a.status, 503);
    assert_v3_error(&a.body, 503);
    let a = c.call("GET", "/catalog/products?sku=FIVE", None).await;
    assert_eq!(
        a.body["data"],
        json!([]),
        "a fault before the change makes none"
    );
    let r = c
        .http
        .get(c.url("/catalog/variants"))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(!r.headers().contains_key("x-rate-limit-requests-left"));
    let s = c.store.stats();
    assert_eq!(s.faults, 3);
    assert_eq!(s.faults_by_kind["lost"], 1);
    // A bad script is refused.
    let r = c
        .http
        .post(format!("{}/__sandbox/faults", c.store.url()))
        .header("X-Auth-Token", TOKEN)
        .json(&json!({"kind": "lightning"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn random_faults_repeat_for_a_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let c = start(BcConfig {
            token: Some(TOKEN.into()),
            quota: Some(10_000),
            fault_rate: 0.3,
            faults: bigcommerce::parse_bc_faults("5xx,429").unwrap(),
            fault_seed: seed,
            ..BcConfig::default()
        })
        .await;
        let mut out = Vec::new();
        for _ in 0..40 {
            let r = c
                .http
                .get(c.url("/catalog/products"))
                .header("X-Auth-Token", TOKEN)
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    }
    let a = run(11).await;
    assert_eq!(a, run(11).await);
    assert!(a.iter().any(|s| *s != 200) && a.contains(&200));
}

#[tokio::test]
async fn limits_hold() {
    let mut c = start(config()).await;
    c.check = false; // big bodies: the checks are made in the fidelity test
                     // 600 SKUs a product.
    let variants: Vec<Value> = (0..601)
        .map(|i| json!({"sku": format!("V-{i}"), "option_values": [{"option_display_name": "N", "label": format!("{i}")}]}))
        .collect();
    let mut p = product("Big", "BIG");
    p["variants"] = Value::Array(variants);
    let a = c.call("POST", "/catalog/products", Some(p.clone())).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body["errors"]["variants"].is_string());
    // 250 values an option.
    let variants: Vec<Value> = (0..251)
        .map(|i| json!({"sku": format!("W-{i}"), "option_values": [{"option_display_name": "N", "label": format!("{i}")}]}))
        .collect();
    p["variants"] = Value::Array(variants);
    let a = c.call("POST", "/catalog/products", Some(p.clone())).await;
    assert_eq!(a.status, 422, "{}", a.body);
    // 600 in two options is fine.
    let variants: Vec<Value> = (0..600)
        .map(|i| {
            json!({"sku": format!("X-{i}"), "option_values": [
                {"option_display_name": "A", "label": format!("{}", i / 20)},
                {"option_display_name": "B", "label": format!("{}", i % 20)}]})
        })
        .collect();
    p["variants"] = Value::Array(variants);
    let a = c.call("POST", "/catalog/products", Some(p)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["variants"].as_array().unwrap().len(), 600);
    let pid = a.body["data"]["id"].as_u64().unwrap();
    let a = c
        .call(
            "GET",
            &format!("/catalog/products/{pid}/variants?limit=1000&page=3"),
            None,
        )
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 100);
    assert_eq!(a.body["meta"]["pagination"]["per_page"], 250);
    // Batch sizes.
    let fifty_one: Vec<Value> = (0..51).map(|_| json!({"id": 1, "price": 1})).collect();
    let a = c
        .call("PUT", "/catalog/variants", Some(Value::Array(fifty_one)))
        .await;
    assert_eq!(a.status, 413);
    let items: Vec<Value> = (0..2001)
        .map(|_| json!({"location_id": 1, "sku": "X-1", "quantity": 1}))
        .collect();
    let a = c
        .call(
            "PUT",
            "/inventory/adjustments/absolute",
            Some(json!({"items": items})),
        )
        .await;
    assert_eq!(a.status, 413);
}

#[tokio::test]
async fn bad_input_is_refused_without_a_panic() {
    let mut c = start(config()).await;
    c.check = false;
    let a = c
        .call("POST", "/catalog/products", Some(product("Ok", "OK")))
        .await;
    assert_eq!(a.status, 200);
    let send = |method: &str, path: &str, body: &'static [u8]| {
        let req = c
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                c.url(path),
            )
            .header("X-Auth-Token", TOKEN)
            .header("Content-Type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    for (method, path, body, want) in [
        ("POST", "/catalog/products", &b"{not json"[..], 422),
        ("POST", "/catalog/products", b"[]", 422),
        ("POST", "/catalog/products", b"", 422),
        (
            "POST",
            "/catalog/products",
            b"{\"name\": 5, \"type\": \"x\", \"price\": \"a\", \"weight\": null}",
            422,
        ),
        ("PUT", "/catalog/products", b"{}", 422),
        ("PUT", "/catalog/products", b"[1, \"x\", null]", 422),
        ("PUT", "/catalog/products/1", b"{\"categories\": [-1]}", 422),
        (
            "PUT",
            "/catalog/products/1",
            b"{\"custom_url\": {\"url\": \"no-slash\"}}",
            422,
        ),
        (
            "PUT",
            "/catalog/products/1",
            b"{\"inventory_level\": 99999999999}",
            422,
        ),
        ("GET", "/catalog/products/abc", b"", 404),
        ("GET", "/catalog/products/99999999999999999999999", b"", 404),
        ("GET", "/catalog/products/0", b"", 404),
        ("GET", "/catalog/products?page=x", b"", 422),
        ("GET", "/catalog/products?id:in=1,x", b"", 422),
        ("DELETE", "/catalog/products", b"", 422),
        (
            "POST",
            "/catalog/products/1/variants",
            b"{\"sku\": \"V\", \"option_values\": [{\"id\": 5, \"option_id\": 6}]}",
            422,
        ),
        (
            "POST",
            "/catalog/products/1/options",
            b"{\"display_name\": \"C\", \"type\": \"nope\"}",
            422,
        ),
        ("POST", "/catalog/products/1/images", b"{}", 422),
        (
            "POST",
            "/catalog/products/1/images",
            b"{\"image_url\": \"ftp://x/y.png\"}",
            422,
        ),
        (
            "POST",
            "/catalog/products/1/images",
            b"{\"image_url\": \"http://127.0.0.1:1/y.png\"}",
            422,
        ),
        (
            "POST",
            "/catalog/products/1/custom-fields",
            b"{\"name\": \"\"}",
            422,
        ),
        (
            "PUT",
            "/inventory/adjustments/absolute",
            b"{\"items\": [{\"location_id\": 1, \"quantity\": 1}]}",
            422,
        ),
        (
            "PUT",
            "/inventory/adjustments/absolute",
            b"{\"items\": \"all\"}",
            422,
        ),
        (
            "POST",
            "/catalog/trees/categories",
            b"[{\"name\": \"A\", \"parent_id\": 777}]",
            422,
        ),
        ("PUT", "/catalog/trees", b"[{\"name\": \"\"}]", 422),
        ("GET", "/catalog/trees/5/categories", b"", 404),
        ("PATCH", "/catalog/products", b"{}", 405),
        ("GET", "/catalog/nothing", b"", 404),
    ] {
        let (status, body) = send(method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        // The tree API wraps its error body: `{errors: {status, ...}, meta}`.
        let err = if body.get("status").is_some() {
            &body
        } else {
            &body["errors"]
        };
        assert_v3_error(err, want);
    }
    // A body above the limit.
    let huge = vec![b' '; 13 * 1024 * 1024];
    let r = c
        .http
        .post(c.url("/catalog/products"))
        .header("X-Auth-Token", TOKEN)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // The store still answers, unchanged.
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_state_file_survives_a_restart_and_control_endpoints_work() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("bc.json");
    let cfg = BcConfig {
        state: Some(state.clone()),
        ..config()
    };
    let c = start(cfg.clone()).await;
    let a = c
        .call("POST", "/catalog/products", Some(product("Kept", "KEPT")))
        .await;
    assert_eq!(a.status, 200);
    let up = c.upload(1, "a.png", bc_common::PNG, &[]).await;
    assert_eq!(up.status, 200, "{}", up.body);
    let file_url = up.body["data"]["url_standard"]
        .as_str()
        .unwrap()
        .to_string();
    c.store.shutdown().await.unwrap();
    assert!(state.exists());

    let c = start(cfg).await;
    let a = c
        .call("GET", "/catalog/products?include=images", None)
        .await;
    assert_eq!(a.body["data"][0]["name"], "Kept");
    let path = file_url
        .split("/product_images/")
        .nth(1)
        .unwrap()
        .to_string();
    let r = c
        .http
        .get(format!("{}/product_images/{path}", c.store.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Ids go on after a restart.
    let a = c
        .call("POST", "/catalog/products", Some(product("Next", "NEXT")))
        .await;
    assert_eq!(a.body["data"]["id"], 2);

    let control = |p: &str| format!("{}/__sandbox/{p}", c.store.url());
    let snap: Value = c
        .http
        .get(control("snapshot"))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["products"].as_object().unwrap().len(), 2);
    let r = c
        .http
        .post(control("reset"))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.body["data"], json!([]));
    let a = c.call("GET", "/inventory/locations", None).await;
    assert_eq!(
        a.body["data"].as_array().unwrap().len(),
        1,
        "the default location is kept"
    );
    let r = c
        .http
        .post(control("seed"))
        .header("X-Auth-Token", TOKEN)
        .json(&snap)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let stats: Value = c
        .http
        .get(control("stats"))
        .header("X-Auth-Token", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["requests"].as_u64().unwrap() >= 4);
    assert!(
        stats["by_route"]["GET /catalog/products"]["200"]
            .as_u64()
            .unwrap()
            >= 3
    );
    let r = c
        .http
        .post(control("seed"))
        .header("X-Auth-Token", TOKEN)
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    c.store.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_route_answers_garbage_without_a_panic() {
    let mut c = start(config()).await;
    c.check = false;
    let a = c
        .call("POST", "/catalog/products", Some(product("Seed", "SEED")))
        .await;
    assert_eq!(a.status, 200);
    let bodies: [&[u8]; 8] = [
        b"",
        b"null",
        b"{}",
        b"[]",
        b"\"x\"",
        b"[{\"id\": 1}, {\"id\": \"1\"}, {\"id\": -1}, {}]",
        b"{\"name\": {\"deep\": [[[[1]]]]}, \"items\": [null], \"variants\": {}}",
        b"\xff\xfe\x00garbage",
    ];
    let ids = ["1", "0", "abc", "18446744073709551616", "%00"];
    let mut problems = Vec::new();
    for (method, template) in bigcommerce::routes() {
        for id in ids {
            let mut path = String::new();
            for seg in template.split('/').filter(|s| !s.is_empty()) {
                path.push('/');
                path.push_str(if seg.starts_with('{') { id } else { seg });
            }
            for body in bodies {
                let r = c
                    .http
                    .request(
                        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                        c.url(&path),
                    )
                    .header("X-Auth-Token", TOKEN)
                    .header("Content-Type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e})"));
                let status = r.status().as_u16();
                assert!(status < 500, "{method} {path} with {body:?}: {status}");
                let answer: Value = match r.bytes().await {
                    Ok(b) if !b.is_empty() => serde_json::from_slice(&b).unwrap(),
                    _ => Value::Null,
                };
                if status != 204 && bc_common::spec().documents(method, &path, status) {
                    if let Err(e) = bc_common::spec().check_response(method, &path, status, &answer)
                    {
                        problems.push(format!("{method} {path} {status}: {e:?} {answer}"));
                    }
                }
                if status >= 400 {
                    let v = answer;
                    match &v["errors"] {
                        // The batch metafield routes: an error per item.
                        Value::Array(items) if v.get("status").is_none() => {
                            for e in items {
                                assert!(e["status"].is_u64() && e["title"].is_string(), "{v}");
                            }
                        }
                        _ if v.get("status").is_none() => assert_v3_error(&v["errors"], status),
                        _ => assert_v3_error(&v, status),
                    }
                }
            }
        }
    }
    let a = c.call("GET", "/catalog/products", None).await;
    assert_eq!(a.status, 200);
    // Documented answers, refusals included, match the files.
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} answers do not match the OpenAPI files: {problems:#?}",
        problems.len()
    );
}

#[tokio::test]
async fn concurrent_requests_never_exceed_the_quota() {
    let c = start(BcConfig {
        token: Some(TOKEN.into()),
        quota: Some(10),
        ..BcConfig::default()
    })
    .await;
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let http = c.http.clone();
        let url = c.url("/catalog/products");
        tasks.push(tokio::spawn(async move {
            http.get(url)
                .header("X-Auth-Token", TOKEN)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => throttled += 1,
            other => panic!("status {other}"),
        }
    }
    assert_eq!((ok, throttled), (10, 15));
    let s = c.store.stats();
    assert_eq!((s.max_in_window, s.throttled, s.requests), (10, 15, 25));
}

/// A URL on a name reserved for examples is not fetched (no server answers
/// it): the store makes a PNG of its own, different per URL. `.invalid`
/// names are fetched, and fail.
#[tokio::test]
async fn example_image_urls_are_stand_ins_and_invalid_names_fail() {
    let c = start(config()).await;
    let p = c
        .call("POST", "/catalog/products", Some(product("Shirt", "S-1")))
        .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    let id = p.body["data"]["id"].as_u64().unwrap();
    let path = format!("/catalog/products/{id}/images");
    let mut urls = Vec::new();
    for url in [
        "https://cdn.example.com/img/a.jpg",
        "http://shop.example/b.png",
        "https://files.test/c.png",
    ] {
        let a = c.call("POST", &path, Some(json!({"image_url": url}))).await;
        assert_eq!(a.status, 200, "{url}: {:?}", a.body);
        urls.push(a.body["data"]["url_zoom"].as_str().unwrap().to_string());
    }
    let first = c.http.get(&urls[0]).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let a = first.bytes().await.unwrap();
    let b = c
        .http
        .get(&urls[1])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(a.starts_with(b"\x89PNG"), "a PNG stand-in");
    assert_ne!(a, b, "one stand-in per URL");
    let bad = c
        .call(
            "POST",
            &path,
            Some(json!({"image_url": "https://cdn.example.invalid/x.png"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert!(bad.body.to_string().contains("could not be downloaded"));
}

/// What a change token reads (`mapsync-bigcommerce`'s `target::token`):
/// `date_modified` moves with every edit of a product, sub-resources
/// deleted included; products sort by it; metafields filter by their
/// dates, given with or without a zone.
#[tokio::test]
async fn date_modified_moves_with_every_edit_and_filters_metafields() {
    let c = start(config()).await;
    let a = c
        .call("POST", "/catalog/products", Some(product("Shoe", "S-1")))
        .await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    let id = a.body["data"]["id"].as_u64().unwrap();
    let b = c
        .call("POST", "/catalog/products", Some(product("Boot", "B-1")))
        .await;
    assert_eq!(b.status, 200);
    let option = c
        .call(
            "POST",
            &format!("/catalog/products/{id}/options"),
            Some(json!({"display_name": "Color", "type": "radio_buttons",
                "option_values": [{"label": "Red", "sort_order": 0}]})),
        )
        .await;
    assert_eq!(option.status, 200, "{:#}", option.body);
    let oid = option.body["data"]["id"].as_u64().unwrap();
    let newest = |a: &Value| {
        (
            a["meta"]["pagination"]["total"].as_u64(),
            a["data"][0]["id"].as_u64(),
            a["data"][0]["date_modified"].as_str().map(str::to_string),
        )
    };
    let before = c
        .call("GET", &format!("/catalog/products/{id}"), None)
        .await
        .body["data"]["date_modified"]
        .as_str()
        .unwrap()
        .to_string();
    // Dates have second precision.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let del = c
        .call(
            "DELETE",
            &format!("/catalog/products/{id}/options/{oid}"),
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let list = c
        .call(
            "GET",
            "/catalog/products?sort=date_modified&direction=desc&limit=1&include_fields=date_modified",
            None,
        )
        .await;
    let (total, first, date) = newest(&list.body);
    assert_eq!((total, first), (Some(2), Some(id)), "{:#}", list.body);
    assert!(date.unwrap() > before, "a deleted option moves the date");

    let m = c
        .call(
            "POST",
            &format!("/catalog/products/{id}/metafields"),
            Some(json!({"namespace": "mapsync", "key": "key", "value": "P-1", "permission_set": "read"})),
        )
        .await;
    assert_eq!(m.status, 200, "{:#}", m.body);
    let count = |path: String| {
        let c = &c;
        async move {
            let a = c.call("GET", &path, None).await;
            assert_eq!(a.status, 200, "{path}: {:#}", a.body);
            a.body["meta"]["pagination"]["total"].as_u64()
        }
    };
    let base = "/catalog/products/metafields?namespace=mapsync&key=key";
    assert_eq!(
        count(format!("{base}&date_modified:min=2000-01-01T00:00:00")).await,
        Some(1)
    );
    assert_eq!(
        count(format!("{base}&date_modified:min=2999-01-01T00:00:00")).await,
        Some(0)
    );
    assert_eq!(
        count(format!("{base}&date_modified:min=2999-01-01")).await,
        Some(0)
    );
}
