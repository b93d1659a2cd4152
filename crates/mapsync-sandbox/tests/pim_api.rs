//! The emulated PIM over real HTTP: OAuth 2.0 client credentials and token
//! expiry, bearer auth on every API route, the five paging styles (each
//! reads every record exactly once and stops), `updated_since`, counts,
//! write-back (single and batch, recorded), images.

mod pim_common;

use std::collections::BTreeSet;
use std::time::Duration;

use mapsync_sandbox::pim::PimConfig;
use pim_common::{catalog, client, config, get, keys, send, start, TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn client_credentials_give_tokens_that_expire() {
    let pim = start(PimConfig {
        token_ttl: Duration::from_millis(600),
        ..config(catalog(3))
    })
    .await;
    let url = pim.token_url();
    let c = client();

    // Form body.
    let r = c
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mapsync"),
            ("client_secret", "secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 1);
    let form_token = t["access_token"].as_str().unwrap().to_string();

    // HTTP basic.
    let t: Value = c
        .post(&url)
        .basic_auth("mapsync", Some("secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let basic_token = t["access_token"].as_str().unwrap().to_string();
    assert_ne!(basic_token, form_token);

    // Refusals, as RFC 6749 §5.2 has them.
    let r = c
        .post(&url)
        .basic_auth("mapsync", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = c
        .post(&url)
        .form(&[("grant_type", "password"), ("client_id", "mapsync")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    let products = format!("{}/products", pim.url());
    for token in [&form_token, &basic_token] {
        let r = c.get(&products).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = c
        .get(&products)
        .bearer_auth(&form_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "the access token expired");
    // The static token does not expire; a new token works again.
    assert_eq!(get(&products).await.0, 200);
    let t: Value = c
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mapsync"),
            ("client_secret", "secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = c
        .get(&products)
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(pim.stats().tokens_issued, 3);
}

#[tokio::test]
async fn every_api_route_needs_a_bearer_token() {
    let pim = start(config(catalog(4))).await;
    let base = pim.url();
    let c = client();
    let routes = [
        (Method::GET, "/categories"),
        (Method::GET, "/categories/count"),
        (Method::GET, "/categories/C-1"),
        (Method::PATCH, "/categories/C-1"),
        (Method::PATCH, "/categories"),
        (Method::GET, "/products"),
        (Method::GET, "/products/count"),
        (Method::GET, "/products/P-00000"),
        (Method::PATCH, "/products/P-00000"),
        (Method::PATCH, "/products"),
        (Method::GET, "/products/P-00000/images"),
        (Method::POST, "/products/P-00000/images"),
        (Method::GET, "/images/count"),
        (Method::GET, "/images/1"),
        (Method::PUT, "/images/1"),
        (Method::DELETE, "/images/1"),
    ];
    for (method, path) in routes {
        let r = c
            .request(method.clone(), format!("{base}{path}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{method} {path}");
        let r = c
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth("not-a-token")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_token");
    }
    // Nothing was written.
    assert_eq!(pim.writebacks().count, 0);
    assert_eq!(pim.stats().count("GET /products", "401"), 2);
    // Control endpoints need the static token when there is one.
    let r = c
        .get(format!("{base}/__sandbox/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Reads every product of a style, following what the style follows;
/// returns the keys and the pages read.
async fn read_all(base: &str, style: &str, query: &str) -> (Vec<String>, Vec<Value>) {
    let mut out = Vec::new();
    let mut pages = Vec::new();
    let sep = if query.is_empty() { "" } else { "&" };
    let mut url = match style {
        "page" => format!("{base}/products?page=1&per_page=100{sep}{query}"),
        "offset" => format!("{base}/products?offset=0&limit=100{sep}{query}"),
        "cursor" => format!("{base}/products?limit=100{sep}{query}"),
        _ => format!("{base}/products?per_page=100{sep}{query}"),
    };
    let mut n = 0;
    loop {
        n += 1;
        assert!(n < 100, "{style}: does not stop");
        let (status, headers, body) = get(&url).await;
        assert_eq!(status, 200, "{style} {url}: {body}");
        let got = keys(&body);
        let count = got.len();
        out.extend(got);
        let link = headers.get("link").map(|v| v.to_str().unwrap().to_string());
        let next = body["links"]["next"].as_str().map(str::to_string);
        let cursor = body["meta"]["next_cursor"].as_str().map(str::to_string);
        // A next page exists exactly when all three say so.
        assert_eq!(link.is_some(), next.is_some(), "{style}: {link:?} {next:?}");
        assert_eq!(cursor.is_some(), next.is_some());
        pages.push(body.clone());
        url = match style {
            "page" => {
                // Stop on a short or empty page, whatever total_pages says.
                if count < 100 {
                    break;
                }
                let p = body["meta"]["page"].as_u64().unwrap();
                format!("{base}/products?page={}&per_page=100{sep}{query}", p + 1)
            }
            "offset" => {
                if count < 100 {
                    break;
                }
                let o = body["meta"]["offset"].as_u64().unwrap() + count as u64;
                format!("{base}/products?offset={o}&limit=100{sep}{query}")
            }
            "cursor" => match cursor {
                Some(c) => format!("{base}/products?cursor={c}&limit=100{sep}{query}"),
                None => break,
            },
            "link" => match link {
                Some(l) => {
                    let l = l.strip_prefix('<').unwrap();
                    let (u, rel) = l.split_once('>').unwrap();
                    assert_eq!(rel, "; rel=\"next\"");
                    u.to_string()
                }
                None => break,
            },
            "next_url" => match next {
                Some(n) => n,
                None => break,
            },
            other => panic!("{other}"),
        };
    }
    (out, pages)
}

#[tokio::test]
async fn every_paging_style_reads_every_record_once() {
    let pim = start(config(catalog(1234))).await;
    let base = pim.url();
    let all: Vec<String> = (0..1234).map(|i| format!("P-{i:05}")).collect();
    for style in ["page", "offset", "cursor", "link", "next_url"] {
        let (got, pages) = read_all(&base, style, "").await;
        assert_eq!(got, all, "{style}: every record once, in key order");
        assert_eq!(pages.len(), 13, "{style}");
        let last = pages.last().unwrap();
        assert_eq!(
            last["data"].as_array().unwrap().len(),
            34,
            "{style}: short last page"
        );
        assert_eq!(last["meta"]["total"], 1234);
        assert_eq!(last["meta"]["total_pages"], 13);
        assert!(last["links"]["next"].is_null());
        assert!(last["meta"]["next_cursor"].is_null());
    }
    // Past the end: an empty page without a next one.
    for q in [
        "page=14&per_page=100",
        "offset=1234&limit=100",
        "page=999999999999",
    ] {
        let (status, headers, body) = get(&format!("{base}/products?{q}")).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"], json!([]), "{q}");
        assert!(body["links"]["next"].is_null() && headers.get("link").is_none());
    }
    // A page that ends exactly at the end has no next one either.
    let (_, _, body) = get(&format!("{base}/products?offset=1134&limit=100")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 100);
    assert!(body["links"]["next"].is_null());

    // The next link keeps the style and the other parameters.
    let (_, headers, body) =
        get(&format!("{base}/products?offset=0&limit=10&include=images")).await;
    let next = body["links"]["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!("{base}/products?limit=10&include=images&offset=10")
    );
    assert_eq!(headers["link"], format!("<{next}>; rel=\"next\""));
    assert_eq!(body["meta"]["page"], Value::Null);
    let (_, _, body) = get(&format!("{base}/products?page=2")).await;
    assert_eq!(body["meta"]["per_page"], 50);
    assert_eq!(body["meta"]["offset"], 50);
    assert_eq!(body["links"]["next"], format!("{base}/products?page=3"));
    let (_, _, body) = get(&format!("{base}/products?cursor=&per_page=5")).await;
    let c = body["meta"]["next_cursor"].as_str().unwrap();
    assert_eq!(
        body["links"]["next"],
        format!("{base}/products?per_page=5&cursor={c}")
    );

    // Categories page the same way.
    let (_, _, body) = get(&format!("{base}/categories?per_page=2")).await;
    assert_eq!(body["data"][0]["CategoryId"], "C-0");
    assert_eq!(body["meta"]["total"], 3);
    assert!(body["data"][0]["LastUpdated"].is_string());
}

#[tokio::test]
async fn paging_parameters_are_checked() {
    let pim = start(config(catalog(5))).await;
    let base = pim.url();
    for (q, param) in [
        ("per_page=101", "per_page"),
        ("limit=0", "limit"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("offset=-1", "offset"),
        ("page=1&offset=0", "page"),
        ("per_page=5&limit=5", "limit"),
        ("updated_since=yesterday", "updated_since"),
    ] {
        let (status, _, body) = get(&format!("{base}/products?{q}")).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["error"], "invalid_parameter", "{q}");
        assert_eq!(body["parameter"], param, "{q}");
    }
    let (status, _, body) = get(&format!("{base}/products?cursor=bm9wZQ")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_cursor");
    let (status, _, body) = get(&format!("{base}/nothing")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn updated_since_filters_lists_and_counts() {
    let pim = start(PimConfig {
        clock: Some(time::macros::datetime!(2026-04-01 12:00:00 UTC)),
        ..config(catalog(200))
    })
    .await;
    let base = pim.url();
    let (_, _, body) = get(&format!("{base}/products/count")).await;
    assert_eq!(body, json!({"count": 200}));
    // At or after: the second half changed on 2026-03-01T00:00:00Z.
    for since in [
        "2026-03-01T00:00:00Z",
        "2026-03-01T01:00:00%2B01:00",
        // An unencoded '+' reads as a space; the PIM takes it back.
        "2026-03-01T01:00:00+01:00",
    ] {
        let (status, _, body) = get(&format!("{base}/products/count?updated_since={since}")).await;
        assert_eq!(status, 200, "{since}");
        assert_eq!(body, json!({"count": 100}), "{since}");
    }
    let (_, _, body) = get(&format!(
        "{base}/products/count?updated_since=2026-03-01T00:00:01Z"
    ))
    .await;
    assert_eq!(body["count"], 0);
    let (status, _, _) = get(&format!("{base}/products/count?updated_since=soon")).await;
    assert_eq!(status, 400);
    for style in ["page", "offset", "cursor", "link", "next_url"] {
        let (got, pages) = read_all(&base, style, "updated_since=2026-02-01T00:00:00Z").await;
        let want: Vec<String> = (100..200).map(|i| format!("P-{i:05}")).collect();
        assert_eq!(got, want, "{style}");
        assert_eq!(pages[0]["meta"]["total"], 100);
    }

    // A PIM user edits a record: it is read again; a write-back is not.
    let (status, body) = send(
        Method::POST,
        &format!("{base}/__sandbox/products/P-00003"),
        json!({"Name": "Renamed"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["LastUpdated"], "2026-04-01T12:00:00Z");
    let (status, _) = send(
        Method::PATCH,
        &format!("{base}/products/P-00004"),
        json!({"ShopifyId": "gid://shopify/Product/4"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, body) = get(&format!(
        "{base}/products?updated_since=2026-04-01T00:00:00Z"
    ))
    .await;
    assert_eq!(keys(&body), vec!["P-00003"]);
    assert_eq!(body["data"][0]["Name"], "Renamed");
    let (_, _, body) = get(&format!(
        "{base}/products/count?updated_since=2026-04-01T00:00:00Z"
    ))
    .await;
    assert_eq!(body["count"], 1);
    // A new record, and the clock moved on.
    let (_, body) = send(
        Method::POST,
        &format!("{base}/__sandbox/clock"),
        json!({"advance_secs": 3600}),
    )
    .await;
    assert_eq!(body, json!({"now": "2026-04-01T13:00:00Z", "fixed": true}));
    let (status, body) = send(
        Method::POST,
        &format!("{base}/__sandbox/products/P-99999"),
        json!({"Name": "Brand new"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["data"]["LastUpdated"], "2026-04-01T13:00:00Z");
    let (_, _, body) = get(&format!(
        "{base}/products?updated_since=2026-04-01T12:30:00Z"
    ))
    .await;
    assert_eq!(keys(&body), vec!["P-99999"]);
    let (_, _, body) = get(&format!("{base}/products/count")).await;
    assert_eq!(body["count"], 201);
    let (_, _, body) = get(&format!("{base}/categories/count")).await;
    assert_eq!(body["count"], 3);
}

#[tokio::test]
async fn writebacks_single_and_batch_are_recorded() {
    let pim = start(config(catalog(6))).await;
    let base = pim.url();
    let (_, _, before) = get(&format!("{base}/products/P-00001")).await;

    let fields = json!({
        "ShopifyId": "gid://shopify/Product/11",
        "ShopifySyncDate": "2026-04-01T10:00:00Z",
        "ShopifySyncMsg": ""
    });
    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products/P-00001"),
        fields.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["ShopifyId"], "gid://shopify/Product/11");
    assert_eq!(body["data"]["Name"], "Product 1");
    // A write-back leaves LastUpdated alone.
    assert_eq!(body["data"]["LastUpdated"], before["data"]["LastUpdated"]);
    let (_, _, after) = get(&format!("{base}/products/P-00001")).await;
    assert_eq!(after["data"]["ShopifySyncDate"], "2026-04-01T10:00:00Z");

    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/categories/C-2"),
        json!({"ShopifyId": "gid://shopify/Collection/2"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products/P-77777"),
        fields.clone(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products/P-00001"),
        json!({"LastUpdated": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        (body["error"].clone(), body["field"].clone()),
        (json!("read_only_field"), json!("LastUpdated"))
    );
    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products/P-00001"),
        json!(["not", "an object"]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_body");

    // Batch: each item answered on its own, in order.
    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products"),
        json!([
            {"key": "P-00002", "fields": {"ShopifyId": "gid://shopify/Product/12", "ShopifySyncMsg": ""}},
            {"key": "P-55555", "fields": {"ShopifyId": "x"}},
            {"key": "P-00003", "fields": {"ItemNo": "P-3"}},
            {"fields": {}},
            {"key": "P-00001", "fields": {"ShopifySyncMsg": "Price can't be blank"}}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["updated"], 2);
    assert_eq!(body["failed"], 3);
    let statuses: Vec<_> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![(0, 200), (1, 404), (2, 422), (3, 400), (4, 200)]
    );
    assert_eq!(body["results"][1]["error"], "not_found");
    assert_eq!(body["results"][1]["key"], "P-55555");
    assert_eq!(body["results"][3]["error"], "invalid_item");
    let big: Vec<Value> = (0..101)
        .map(|_| json!({"key": "P-00001", "fields": {}}))
        .collect();
    let (status, body) = send(
        Method::PATCH,
        &format!("{base}/products"),
        Value::Array(big),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "batch_too_large");

    // Recorded: count, the last values per key.
    let log = pim.writebacks();
    assert_eq!(log.count, 4);
    let p1 = &log.products["P-00001"];
    assert_eq!(p1.count, 2);
    assert_eq!(p1.fields["ShopifyId"], "gid://shopify/Product/11");
    assert_eq!(p1.fields["ShopifySyncMsg"], "Price can't be blank");
    assert_eq!(
        p1.last,
        *json!({"ShopifySyncMsg": "Price can't be blank"})
            .as_object()
            .unwrap()
    );
    assert_eq!(
        log.products["P-00002"].fields["ShopifyId"],
        "gid://shopify/Product/12"
    );
    assert_eq!(log.categories["C-2"].count, 1);
    assert!(!log.products.contains_key("P-55555"));
    let (_, _, over_http) = get(&format!("{base}/__sandbox/writebacks")).await;
    assert_eq!(over_http, serde_json::to_value(&log).unwrap());
    assert_eq!(pim.stats().writebacks, 4);
    assert_eq!(pim.stats().count("PATCH /products", "200"), 1);
    assert_eq!(pim.stats().count("PATCH /products/{key}", "404"), 1);
}

#[tokio::test]
async fn images_are_listed_added_overwritten_and_deleted() {
    let pim = start(PimConfig {
        clock: Some(time::macros::datetime!(2026-04-02 08:00:00 UTC)),
        ..config(catalog(3))
    })
    .await;
    let base = pim.url();
    // Without include=images a product has no Images; with it, ids and positions.
    let (_, _, body) = get(&format!("{base}/products?per_page=3")).await;
    assert!(body["data"][0].get("Images").is_none());
    let (_, _, body) = get(&format!("{base}/products?per_page=3&include=images")).await;
    assert_eq!(
        body["data"][0]["Images"],
        json!([
            {"id": 1, "url": "https://img.example/0-1.jpg", "position": 1},
            {"id": 2, "url": "https://img.example/0-2.jpg", "position": 2}
        ])
    );
    assert_eq!(body["data"][1]["Images"], json!([]));
    let (_, _, body) = get(&format!("{base}/images/count")).await;
    assert_eq!(body["count"], 4);

    let (status, body) = send(
        Method::POST,
        &format!("{base}/products/P-00000/images"),
        json!({"url": "https://img.example/new.jpg", "position": 1}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["data"],
        json!({"id": 5, "url": "https://img.example/new.jpg", "position": 1, "product_id": "P-00000"})
    );
    let (status, body) = send(
        Method::PUT,
        &format!("{base}/images/1"),
        json!({"url": "https://img.example/edited.jpg"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["position"], 2);
    let r = client()
        .delete(format!("{base}/images/2"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, _, body) = get(&format!("{base}/products/P-00000/images")).await;
    assert_eq!(
        body["data"],
        json!([
            {"id": 5, "url": "https://img.example/new.jpg", "position": 1, "product_id": "P-00000"},
            {"id": 1, "url": "https://img.example/edited.jpg", "position": 2, "product_id": "P-00000"}
        ])
    );
    // Image changes are changes of the product.
    let (_, _, body) = get(&format!("{base}/products/P-00000")).await;
    assert_eq!(body["data"]["LastUpdated"], "2026-04-02T08:00:00Z");

    let (status, body) = send(
        Method::POST,
        &format!("{base}/products/P-00000/images"),
        json!({"url": "not a url"}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["field"].clone()),
        (422, json!("url"))
    );
    let (status, _) = send(
        Method::POST,
        &format!("{base}/products/P-404/images"),
        json!({"url": "https://x.example/a.jpg"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        Method::PUT,
        &format!("{base}/images/999"),
        json!({"url": "https://x.example/a.jpg"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{base}/images/abc")).await;
    assert_eq!(status, 404);
    let set: BTreeSet<u64> = pim.snapshot()["products"][0]["Images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(set, BTreeSet::from([1, 5]));
}
