//! State of the emulated PIM over real HTTP: the state file (written
//! before the answer, reloaded on start, winning over the seed), the seed
//! file and the demo seed, `/__sandbox/` snapshot, seed and reset, and the
//! bound on seeds.

mod pim_common;

use std::path::PathBuf;

use mapsync_sandbox::pim::{self, PimConfig};
use pim_common::{catalog, config, get, send, start, TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn the_state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("pim.json");
    let cfg = |catalog_: Value| PimConfig {
        state: Some(state.clone()),
        ..config(catalog_)
    };
    let pim = start(cfg(catalog(20))).await;
    // The seed is on disk from the start.
    assert!(state.exists());
    let base = pim.url();
    let (status, _) = send(
        Method::PATCH,
        &format!("{base}/products/P-00001"),
        json!({"ShopifyId": "gid://shopify/Product/1", "ShopifySyncMsg": ""}),
    )
    .await;
    assert_eq!(status, 200);
    // On disk before the answer: a crash now would keep it.
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(on_disk["writebacks"]["count"], 1);
    let (status, _) = send(
        Method::POST,
        &format!("{base}/products/P-00002/images"),
        json!({"url": "https://img.example/added.jpg"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        Method::POST,
        &format!("{base}/__sandbox/categories/C-9"),
        json!({"Name": "New category"}),
    )
    .await;
    assert_eq!(status, 201);
    let t: Value = reqwest::Client::new()
        .post(pim.token_url())
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
    let before = pim.snapshot();
    let log = pim.writebacks();
    pim.shutdown().await.unwrap();

    // The state file wins over the seed.
    let pim = start(cfg(catalog(3))).await;
    assert_eq!(pim.snapshot(), before);
    assert_eq!(pim.writebacks(), log);
    let (_, _, body) = get(&format!("{}/products/P-00001", pim.url())).await;
    assert_eq!(body["data"]["ShopifyId"], "gid://shopify/Product/1");
    // Image ids go on after the ones on disk.
    let (_, body) = send(
        Method::POST,
        &format!("{}/products/P-00004/images", pim.url()),
        json!({"url": "https://img.example/next.jpg"}),
    )
    .await;
    assert_eq!(body["data"]["id"], 22);
    // Issued tokens are not kept: the client asks for a new one.
    let r = reqwest::Client::new()
        .get(format!("{}/products", pim.url()))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    pim.shutdown().await.unwrap();

    // A broken state file is an error, not an empty PIM.
    std::fs::write(&state, b"{not json").unwrap();
    let err = pim::start(cfg(catalog(3))).await.unwrap_err();
    assert!(err.to_string().contains("pim.json"), "{err}");
}

#[tokio::test]
async fn control_endpoints_snapshot_seed_and_reset() {
    let pim = start(PimConfig {
        max_records: 50,
        ..config(catalog(10))
    })
    .await;
    let base = pim.url();
    let (status, _, snap) = get(&format!("{base}/__sandbox/snapshot")).await;
    assert_eq!(status, 200);
    assert_eq!(snap["products"].as_array().unwrap().len(), 10);
    assert_eq!(snap["products"][0]["Images"][0]["id"], 1);
    assert!(snap["categories"][0]["LastUpdated"].is_string());

    // Reset empties the PIM; the snapshot seeds it back as it was.
    let (status, _) = send(
        Method::POST,
        &format!("{base}/__sandbox/reset"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, body) = get(&format!("{base}/products/count")).await;
    assert_eq!(body["count"], 0);
    let (status, body) = send(
        Method::POST,
        &format!("{base}/__sandbox/seed"),
        snap.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"ok": true, "categories": 3, "products": 10, "images": 10})
    );
    let (_, _, again) = get(&format!("{base}/__sandbox/snapshot")).await;
    assert_eq!(again, snap);

    // Bounded, and checked: a refused seed changes nothing.
    for bad in [
        catalog(48),
        json!({"products": [{"Name": "no key"}]}),
        json!([1, 2]),
    ] {
        let (status, body) = send(Method::POST, &format!("{base}/__sandbox/seed"), bad).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_seed");
    }
    assert!(pim::start(PimConfig {
        max_records: 5,
        ..config(catalog(10))
    })
    .await
    .unwrap_err()
    .to_string()
    .contains("at most 5"));
    let (_, _, body) = get(&format!("{base}/products/count")).await;
    assert_eq!(body["count"], 10);

    // A PIM user deletes a record.
    let r = reqwest::Client::new()
        .delete(format!("{base}/__sandbox/products/P-00003"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _, _) = get(&format!("{base}/products/P-00003")).await;
    assert_eq!(status, 404);
    let (_, _, stats) = get(&format!("{base}/__sandbox/stats")).await;
    assert_eq!(stats["by_route"]["GET /products/{key}"]["404"], 1);
}

fn demo_seed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/pim-catalog.json")
}

#[tokio::test]
async fn the_demo_seed_has_the_demo_catalog_with_empty_writeback_fields() {
    let pim = pim::start(PimConfig {
        seed_file: Some(demo_seed()),
        token: Some(TOKEN.into()),
        ..PimConfig::default()
    })
    .await
    .unwrap();
    let base = pim.url();
    let (_, _, body) = get(&format!("{base}/products?include=images")).await;
    assert_eq!(body["meta"]["total"], 8);
    let first = &body["data"][0];
    assert_eq!(first["ItemNo"], "P-1001");
    assert_eq!(first["ShopifyId"], "");
    assert_eq!(first["ShopifySyncDate"], "");
    assert_eq!(first["ShopifySyncMsg"], "");
    assert_eq!(
        first["Images"][0]["url"],
        "https://cdn.example.com/img/P-1001-1.jpg"
    );
    // Fields keep the seed's order.
    let seed: Value = serde_json::from_slice(&std::fs::read(demo_seed()).unwrap()).unwrap();
    let (_, _, plain) = get(&format!("{base}/products/P-1001")).await;
    let names = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut want = names(&seed["products"][0]);
    want.retain(|k| k != "Images");
    assert_eq!(names(&plain["data"]), want);
    let (_, _, body) = get(&format!("{base}/categories")).await;
    assert_eq!(body["meta"]["total"], 3);
    assert_eq!(body["data"][0]["ShopifyId"], "");

    // The same records as examples/catalog.json, besides the PIM's fields.
    let demo: Value =
        serde_json::from_slice(&std::fs::read(demo_seed().with_file_name("catalog.json")).unwrap())
            .unwrap();
    let pim_seed: Value = serde_json::from_slice(&std::fs::read(demo_seed()).unwrap()).unwrap();
    for entity in ["categories", "products"] {
        let strip = |v: &Value| -> Vec<Value> {
            v[entity]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    for f in [
                        "ShopifyId",
                        "ShopifySyncDate",
                        "ShopifySyncMsg",
                        "LastUpdated",
                    ] {
                        r.as_object_mut().unwrap().remove(f);
                    }
                    r
                })
                .collect()
        };
        assert_eq!(strip(&pim_seed), strip(&demo), "{entity}");
    }
    // A missing seed file is an error.
    let err = pim::start(PimConfig {
        seed_file: Some(demo_seed().with_file_name("nope.json")),
        ..PimConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");
}
