//! The `bigcommerce` source against the emulated store, started
//! in-process and seeded through its API: the records it gives (an insta
//! snapshot), the requests it costs, paging, incremental reads and a
//! refused token. Every request is checked against BigCommerce's OpenAPI
//! files.

use std::time::{Duration, SystemTime};

use mapsync_bigcommerce::source::{self, BcSource, SourceSettings};
use mapsync_bigcommerce::{BcClient, BcConfig};
use mapsync_config::connector::{Options, Role};
use mapsync_core::source::{Entity, ReadError, ReadScope, Source};
use mapsync_sandbox::bigcommerce::faults::Scripted;
use mapsync_sandbox::bigcommerce::openapi::Spec;
use mapsync_sandbox::bigcommerce::{self as sandbox, BcFault, BcFaultKind, BcHandle};
use serde_json::{json, Map, Value};
use url::Url;

const TOKEN: &str = "source-test-token";

/// A PNG file's first bytes: enough for the store to take it as an image.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
];

async fn store() -> BcHandle {
    sandbox::start(sandbox::BcConfig {
        record_requests: true,
        token: Some(TOKEN.into()),
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

fn options(values: Value) -> Options {
    let Value::Object(mut m) = values else {
        panic!("options are an object")
    };
    m.insert("type".into(), json!("bigcommerce"));
    Options::new(Role::Source, "bc", ".", m)
}

/// Every recorded request from `from` on is one the OpenAPI files describe.
fn assert_requests_valid(h: &BcHandle, from: usize) {
    let spec = Spec::bundled().expect("the bundled OpenAPI files");
    for r in &h.requests()[from..] {
        if let Err(problems) = spec.check_request(&r.method, &r.path, r.body.as_ref()) {
            panic!("{} {}: {problems:?}", r.method, r.path);
        }
    }
}

/// The requests recorded from `from` on, as `METHOD path?query`, sorted
/// (the source sends some of them concurrently).
fn requests_since(h: &BcHandle, from: usize) -> Vec<String> {
    let mut v: Vec<String> = h.requests()[from..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    v.sort();
    v
}

/// All records of `entity`, failing on any error item.
async fn read_all(src: &dyn Source, entity: Entity, scope: ReadScope) -> Vec<Map<String, Value>> {
    let mut stream = src.records_in(entity, scope).expect("a stream");
    let mut out = Vec::new();
    while let Some(item) = stream.next_item().await {
        let r = item.unwrap_or_else(|e| panic!("reading {entity}: {e}"));
        assert_eq!(r.entity, entity);
        assert_eq!(r.position.index, out.len() as u64);
        out.push(r.fields);
    }
    out
}

async fn post(c: &BcClient, path: &str, body: Value) -> Value {
    c.post(path, &body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
        .body["data"]
        .clone()
}

async fn upload(h: &BcHandle, product: u64, name: &str, sort_order: u32, description: &str) {
    let form = reqwest::multipart::Form::new()
        .part(
            "image_file",
            reqwest::multipart::Part::bytes(PNG.to_vec())
                .file_name(name.to_string())
                .mime_str("image/png")
                .expect("mime"),
        )
        .text("sort_order", sort_order.to_string())
        .text("description", description.to_string());
    let r = reqwest::Client::new()
        .post(format!("{}/catalog/products/{product}/images", h.api_url()))
        .header("X-Auth-Token", TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("upload sent");
    assert!(r.status().is_success(), "upload: {}", r.status());
}

/// Two categories (a parent and a child), a brand, a product with two
/// options × two values, two images, custom fields and metafields (the
/// ownership marker among them), and a simple product. Returns the ids of
/// (parent, child, shirt, mug).
async fn seed(h: &BcHandle, c: &BcClient) -> (u64, u64, u64, u64) {
    let apparel = post(
        c,
        "/catalog/trees/categories",
        json!([{"name": "Apparel", "parent_id": 0, "tree_id": 1, "description": "All apparel"}]),
    )
    .await[0]["category_id"]
        .as_u64()
        .expect("a category id");
    let shirts = post(
        c,
        "/catalog/trees/categories",
        json!([{"name": "Shirts", "parent_id": apparel, "tree_id": 1, "sort_order": 2}]),
    )
    .await[0]["category_id"]
        .as_u64()
        .expect("a category id");
    let brand = post(c, "/catalog/brands", json!({"name": "Acme"})).await["id"]
        .as_u64()
        .expect("a brand id");
    let mut variants = Vec::new();
    for (color, size, price) in [
        ("Red", "S", json!(30)),
        ("Red", "M", json!(30)),
        ("Blue", "S", json!(32)),
        ("Blue", "M", Value::Null),
    ] {
        let mut v = json!({
            "sku": format!("LS-{}-{size}", &color[..1]),
            "option_values": [
                {"option_display_name": "Color", "label": color},
                {"option_display_name": "Size", "label": size},
            ],
        });
        if !price.is_null() {
            v["price"] = price;
        }
        variants.push(v);
    }
    let shirt = post(
        c,
        "/catalog/products",
        json!({
            "name": "Linen Shirt", "type": "physical", "sku": "LS", "weight": 0.3,
            "price": 30, "sale_price": 25, "retail_price": 40,
            "description": "<p>A linen shirt.</p>",
            "brand_id": brand, "categories": [shirts, apparel],
            "page_title": "Linen Shirt | Acme", "meta_description": "Cool linen",
            "custom_url": {"url": "/linen-shirt/", "is_customized": true},
            "custom_fields": [
                {"name": "Material", "value": "Linen"},
                {"name": "Care", "value": "Cold wash"},
            ],
            "variants": variants,
        }),
    )
    .await;
    let shirt_id = shirt["id"].as_u64().expect("a product id");
    upload(h, shirt_id, "back.png", 2, "Back").await;
    upload(h, shirt_id, "front.png", 1, "Front").await;
    let mf = |ns: &str, key: &str, value: &str| json!({"namespace": ns, "key": key, "value": value, "permission_set": "read"});
    let pm = format!("/catalog/products/{shirt_id}/metafields");
    post(c, &pm, mf("custom", "fabric_weight", "140 gsm")).await;
    post(c, &pm, mf("mapsync", "key", "LS")).await;
    let variants = c
        .get::<Value>(&format!("/catalog/products/{shirt_id}/variants"), &[])
        .await
        .expect("variants")["data"]
        .clone();
    let red_s = variants
        .as_array()
        .and_then(|a| a.iter().find(|v| v["sku"] == "LS-R-S"))
        .and_then(|v| v["id"].as_u64())
        .expect("the LS-R-S variant");
    let vm = format!("/catalog/products/{shirt_id}/variants/{red_s}/metafields");
    post(c, &vm, mf("custom", "batch", "42")).await;
    post(c, &vm, mf("mapsync", "key", "LS-R-S")).await;
    let mug = post(
        c,
        "/catalog/products",
        json!({"name": "Mug", "type": "physical", "sku": "MUG", "weight": 0.5, "price": 9.5,
            "categories": [apparel]}),
    )
    .await["id"]
        .as_u64()
        .expect("a product id");
    (apparel, shirts, shirt_id, mug)
}

/// The records with what changes from run to run (the store's port,
/// times) replaced.
fn normalized(h: &BcHandle, v: Value) -> Value {
    let text = serde_json::to_string(&v)
        .expect("json")
        .replace(&h.url(), "http://store");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k.starts_with("date_") && x.as_str().is_some_and(|s| !s.is_empty()) {
                        *x = json!("<date>");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[tokio::test]
async fn a_catalog_reads_as_category_and_product_records() {
    let h = store().await;
    let c = client(&h, TOKEN);
    let (apparel, shirts, shirt_id, mug_id) = seed(&h, &c).await;
    let from = h.requests().len();
    let src = source::open(c.clone(), &options(json!({"store_hash": "x"}))).expect("opened");
    assert_eq!(src.kind(), "bigcommerce");
    assert!(!src.supports_writeback());

    let categories = read_all(src.as_ref(), Entity::Category, ReadScope::Full).await;
    assert_eq!(categories.len(), 2);
    let parent = &categories[0];
    let child = &categories[1];
    assert_eq!(parent["category_id"], json!(apparel));
    assert_eq!(parent["parent_key"], Value::Null);
    assert_eq!(child["category_id"], json!(shirts));
    assert_eq!(child["parent_id"], json!(apparel));
    assert_eq!(child["parent_key"], json!(apparel.to_string()));

    let products = read_all(src.as_ref(), Entity::Product, ReadScope::Full).await;
    assert_eq!(products.len(), 2);
    let shirt = &products[0];
    assert_eq!(shirt["id"], json!(shirt_id));
    assert_eq!(shirt["brand"], json!("Acme"));
    assert_eq!(shirt["categories"], json!([shirts, apparel]));
    assert_eq!(shirt["option_names"], json!(["Color", "Size"]));
    assert_eq!(
        shirt["custom_fields"],
        json!({"Material": "Linen", "Care": "Cold wash"})
    );
    assert_eq!(
        shirt["metafields"],
        json!({"custom": {"fabric_weight": "140 gsm"}})
    );
    assert_eq!(shirt["mapsync_key"], json!("LS"));
    let descriptions: Vec<&Value> = shirt["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| &i["description"])
        .collect();
    assert_eq!(descriptions, [&json!("Front"), &json!("Back")]);
    let urls = shirt["image_urls"].as_array().expect("urls");
    assert_eq!(urls.len(), 2);
    assert_eq!(urls[0], shirt["images"][0]["url"]);
    let vs = shirt["variants"].as_array().expect("variants");
    assert_eq!(vs.len(), 4);
    let red_s = vs.iter().find(|v| v["sku"] == "LS-R-S").expect("LS-R-S");
    assert_eq!(red_s["options"], json!({"Color": "Red", "Size": "S"}));
    assert_eq!(
        (&red_s["option_1_name"], &red_s["option_1_value"]),
        (&json!("Color"), &json!("Red"))
    );
    assert_eq!(
        (&red_s["option_2_name"], &red_s["option_2_value"]),
        (&json!("Size"), &json!("S"))
    );
    assert_eq!(red_s["metafields"], json!({"custom": {"batch": "42"}}));
    assert_eq!(red_s["mapsync_key"], json!("LS-R-S"));
    let blue_m = vs.iter().find(|v| v["sku"] == "LS-B-M").expect("LS-B-M");
    assert_eq!(blue_m["regular_price"], json!(30), "the product's price");
    let mug = &products[1];
    assert_eq!(mug["id"], json!(mug_id));
    assert_eq!(mug["brand"], Value::Null);
    assert_eq!(mug["option_names"], json!([]));
    assert_eq!(mug["variants"].as_array().map(Vec::len), Some(1));
    assert_eq!(mug["metafields"], json!({}));

    // The whole records.
    let all = normalized(&h, json!({"categories": categories, "products": products}));
    insta::with_settings!({snapshot_path => "data/source/snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("catalog", all);
    });

    // What it cost: one page of each listing.
    assert_eq!(
        requests_since(&h, from),
        [
            "GET /catalog/brands?include_fields=name&page=1&limit=250",
            "GET /catalog/products/metafields?include_fields=resource_id%2Cnamespace%2Ckey%2Cvalue&page=1&limit=250",
            "GET /catalog/products?include=variants%2Cimages%2Ccustom_fields&page=1&limit=250",
            "GET /catalog/trees/categories?page=1&limit=250",
            "GET /catalog/variants/metafields?include_fields=resource_id%2Cnamespace%2Ckey%2Cvalue&page=1&limit=250",
        ]
    );
    assert_requests_valid(&h, 0);
}

#[tokio::test]
async fn products_come_page_by_page() {
    let h = store().await;
    let c = client(&h, TOKEN);
    for i in 0..5 {
        post(
            &c,
            "/catalog/products",
            json!({"name": format!("P{i}"), "type": "physical", "weight": 1, "price": 10 + i}),
        )
        .await;
    }
    let from = h.requests().len();
    let src = BcSource::new(
        c.clone(),
        SourceSettings {
            page_size: 2,
            metafields: false,
            incremental: None,
        },
    );
    let products = read_all(&src, Entity::Product, ReadScope::Full).await;
    let names: Vec<&Value> = products.iter().map(|p| &p["name"]).collect();
    assert_eq!(
        names,
        [
            &json!("P0"),
            &json!("P1"),
            &json!("P2"),
            &json!("P3"),
            &json!("P4")
        ]
    );
    let product_pages = h.stats().count("GET /catalog/products", "200");
    assert_eq!(product_pages, 3, "2 + 2 + 1");
    // Without metafields, the listings of metafields are not asked for.
    assert!(requests_since(&h, from)
        .iter()
        .all(|r| !r.contains("metafields")));

    // A full last page: one more, empty page ends the listing.
    post(
        &c,
        "/catalog/products",
        json!({"name": "P5", "type": "physical", "weight": 1, "price": 1}),
    )
    .await;
    let products = read_all(&src, Entity::Product, ReadScope::Full).await;
    assert_eq!(products.len(), 6);
    assert_eq!(
        h.stats().count("GET /catalog/products", "200"),
        product_pages + 4
    );
    assert_requests_valid(&h, 0);
}

#[tokio::test]
async fn a_slow_consumer_holds_the_reading_back() {
    let h = store().await;
    let c = client(&h, TOKEN);
    for i in 0..20 {
        post(
            &c,
            "/catalog/products",
            json!({"name": format!("P{i}"), "type": "physical", "weight": 1, "price": 1}),
        )
        .await;
    }
    let src = BcSource::new(
        c,
        SourceSettings {
            page_size: 2,
            metafields: false,
            incremental: None,
        },
    );
    let mut stream = src.records(Entity::Product).expect("a stream");
    let first = stream
        .next_item()
        .await
        .expect("an item")
        .expect("a record");
    assert_eq!(first.fields["name"], json!("P0"));
    assert_eq!(first.position.line, None);
    assert!(first
        .position
        .origin
        .ends_with("/catalog/products (page 1)"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The page handed out, the one in the channel, the one fetched ahead.
    let pages = h.stats().count("GET /catalog/products", "200");
    assert!(pages <= 3, "{pages} of 10 pages read ahead of the consumer");
    let mut n = 1;
    while let Some(item) = stream.next_item().await {
        item.expect("a record");
        n += 1;
    }
    assert_eq!(n, 20);
    assert_eq!(h.stats().count("GET /catalog/products", "200"), 11);
}

#[tokio::test]
async fn a_page_that_keeps_failing_ends_the_stream_after_the_records_read() {
    let h = store().await;
    let c = client(&h, TOKEN);
    for i in 0..5 {
        post(
            &c,
            "/catalog/products",
            json!({"name": format!("P{i}"), "type": "physical", "weight": 1, "price": 1}),
        )
        .await;
    }
    let route = Some("GET /catalog/products".to_string());
    let mut script = vec![Scripted {
        fault: None,
        route: route.clone(),
    }];
    // Page 2 answers 500 to every attempt of the client.
    for _ in 0..5 {
        script.push(Scripted {
            fault: Some(BcFault {
                kind: BcFaultKind::Http5xx,
                after: false,
                status: 500,
            }),
            route: route.clone(),
        });
    }
    h.script_faults(script);
    let src = BcSource::new(
        c,
        SourceSettings {
            page_size: 2,
            metafields: false,
            incremental: None,
        },
    );
    let mut stream = src.records(Entity::Product).expect("a stream");
    let mut names = Vec::new();
    let mut fatal = None;
    while let Some(item) = stream.next_item().await {
        match item {
            Ok(r) => names.push(r.fields["name"].clone()),
            Err(ReadError::Fatal(e)) => fatal = Some(e.to_string()),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(names, [json!("P0"), json!("P1")]);
    let e = fatal.expect("a fatal error");
    assert!(
        e.contains("reading products") && e.contains("server error (500)"),
        "{e}"
    );
    assert_eq!(h.stats().count("GET /catalog/products", "500"), 5);
}

#[tokio::test]
async fn incremental_reads_ask_for_products_modified_since() {
    let h = store().await;
    let c = client(&h, TOKEN);
    post(
        &c,
        "/catalog/products",
        json!({"name": "Old", "type": "physical", "weight": 1, "price": 1}),
    )
    .await;
    let src = source::open(c.clone(), &options(json!({"incremental": true}))).expect("opened");
    assert!(src.incremental(Entity::Product).is_some());
    assert_eq!(src.incremental(Entity::Category), None);

    let future = SystemTime::now() + Duration::from_secs(3600);
    let from = h.requests().len();
    let none = read_all(src.as_ref(), Entity::Product, ReadScope::Since(future)).await;
    assert!(none.is_empty());
    let asked = requests_since(&h, from);
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with("GET /catalog/products?") && r.contains("date_modified%3Amin=")),
        "{asked:?}"
    );
    let past = SystemTime::now() - Duration::from_secs(3600);
    let some = read_all(src.as_ref(), Entity::Product, ReadScope::Since(past)).await;
    assert_eq!(some.len(), 1);

    // Without `incremental:`, a scope is read in full.
    let full = source::open(c, &options(json!({}))).expect("opened");
    assert_eq!(full.incremental(Entity::Product), None);
    let all = read_all(full.as_ref(), Entity::Product, ReadScope::Since(future)).await;
    assert_eq!(all.len(), 1);
    assert_requests_valid(&h, 0);
}

#[tokio::test]
async fn a_refused_token_ends_the_stream_with_one_fatal_error() {
    let h = store().await;
    let src = source::open(client(&h, "wrong-token"), &options(json!({}))).expect("opened");
    for entity in [Entity::Category, Entity::Product] {
        let mut stream = src.records(entity).expect("a stream");
        let first = stream.next_item().await.expect("an item");
        let e = match first {
            Err(ReadError::Fatal(e)) => e.to_string(),
            other => panic!("not a fatal error: {other:?}"),
        };
        assert!(e.contains("access denied"), "{e}");
        assert!(e.contains("check `token`"), "{e}");
        assert!(!e.contains("wrong-token"), "{e}");
        assert!(stream.next_item().await.is_none());
    }
}

#[test]
fn bad_options_are_a_config_error() {
    let c = BcClient::new(BcConfig {
        base: Url::parse("http://127.0.0.1:1/stores/x/v3").expect("url"),
        token: TOKEN.into(),
        quota_hint: None,
    })
    .expect("client");
    let e = source::open(c, &options(json!({"page_size": 0})))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("source.page_size"), "{e}");
}
