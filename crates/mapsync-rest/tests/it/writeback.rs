//! Write-back: one request per item with the default or a template body,
//! and batches answering per item or all-or-nothing.

use mapsync_core::source::{Entity, Source, WriteBack, WritebackFields};
use reqwest::Method;
use serde_json::{json, Value};

use crate::fixture::{start, Fault, Server};
use crate::source;

fn writer(s: &Server, writeback: Value) -> mapsync_rest::RestSource {
    source(
        &s.url,
        json!({ "list": { "path": "/mixed", "records": "data" } }),
        json!({ "writeback": writeback }),
    )
}

fn fields() -> WritebackFields {
    WritebackFields {
        sync_id: Some("ErpId".into()),
        sync_date: Some("SyncDate".into()),
        sync_msg: Some("SyncMsg".into()),
    }
}

fn item(key: &str, ok: bool) -> WriteBack {
    WriteBack {
        key: key.into(),
        sync_id: ok.then(|| format!("gid://shopify/Product/{key}")),
        sync_date: ok.then(|| "2025-02-01T10:00:00Z".to_string()),
        sync_msg: if ok {
            String::new()
        } else {
            "title is empty".into()
        },
        values: Default::default(),
    }
}

#[tokio::test]
async fn one_request_per_item_with_the_default_body() {
    let s = start().await;
    let src = writer(
        &s,
        json!({ "product": { "method": "PATCH", "path": "/products/{{ key }}" } }),
    );
    assert!(src.supports_writeback());
    let w = src.writeback().unwrap();
    assert_eq!(w.batch_size(), 1);
    assert!(w.writes_back(Entity::Product));
    assert!(!w.writes_back(Entity::Category));
    let only_two = WritebackFields {
        sync_msg: None,
        ..fields()
    };
    let out = w
        .write_back(Entity::Product, &only_two, &[item("A/B 1", true)])
        .await;
    assert_eq!(out.items, vec![Ok(())]);
    assert_eq!(out.requests, 1);
    let writes = s.writes();
    assert_eq!(writes[0].0, Method::PATCH);
    assert_eq!(writes[0].1, "/products/A%2FB%201");
    assert_eq!(
        writes[0].2,
        json!({"ErpId": "gid://shopify/Product/A/B 1", "SyncDate": "2025-02-01T10:00:00Z"})
    );
    // A failed create: SyncMsg set; SyncID and SyncDate, which the engine
    // does not have, left out (the source keeps its own).
    w.write_back(Entity::Product, &fields(), &[item("K9", false)])
        .await;
    assert_eq!(s.writes()[1].2, json!({"SyncMsg": "title is empty"}));
}

#[tokio::test]
async fn each_item_succeeds_or_fails_alone_and_retries_count() {
    let s = start().await;
    s.fx.fail_keys.lock().unwrap().insert("K2".into());
    let src = writer(&s, json!({ "product": { "path": "/products/{{ key }}" } }));
    let w = src.writeback().unwrap();
    s.fault(Fault::Status(503));
    let out = w
        .write_back(
            Entity::Product,
            &fields(),
            &[item("K1", true), item("K2", true), item("K3", true)],
        )
        .await;
    assert_eq!(out.items[0], Ok(()));
    let e = out.items[1].as_ref().unwrap_err();
    assert!(
        e.contains("HTTP 422") && e.contains("cannot update K2"),
        "{e}"
    );
    assert!(e.contains("write-back of product `K2`"), "{e}");
    assert_eq!(out.items[2], Ok(()));
    // K1 twice (503 then OK), K2 once (422 is final), K3 once.
    assert_eq!(out.requests, 4);
    let out = w
        .write_back(Entity::Category, &fields(), &[item("C1", true)])
        .await;
    assert!(out.items[0].is_err());
    assert_eq!(out.requests, 0);
}

#[tokio::test]
async fn a_template_body_replaces_the_default() {
    let s = start().await;
    let src = writer(
        &s,
        json!({
            "product": {
                "method": "PUT",
                "path": "/items/{{ key }}/sync",
                "body": { "sync": { "id": "{{ sync_id }}", "note": "mapsync: {{ sync_msg or 'ok' }}" }, "{{ fields.sync_date }}": "{{ sync_date }}", "source": "mapsync" }
            },
            "category": {
                "method": "POST",
                "path": "/categories/{{ key }}",
                "body": "{\"external\": {{ sync_id }}, \"keys\": [{{ key }}]}"
            }
        }),
    );
    let w = src.writeback().unwrap();
    let out = w
        .write_back(Entity::Product, &fields(), &[item("K1", true)])
        .await;
    assert_eq!(out.items, vec![Ok(())]);
    let (m, p, body) = s.writes()[0].clone();
    assert_eq!((m, p.as_str()), (Method::PUT, "/items/K1/sync"));
    assert_eq!(
        body,
        json!({"sync": {"id": "gid://shopify/Product/K1", "note": "mapsync: ok"}, "SyncDate": "2025-02-01T10:00:00Z", "source": "mapsync"})
    );
    let out = w
        .write_back(Entity::Category, &fields(), &[item("C \"1\"", false)])
        .await;
    assert_eq!(out.items, vec![Ok(())]);
    let (m, p, body) = s.writes()[1].clone();
    assert_eq!((m, p.as_str()), (Method::POST, "/categories/C%20%221%22"));
    assert_eq!(body, json!({"external": null, "keys": ["C \"1\""]}));
}

#[tokio::test]
async fn a_template_that_fails_fails_its_item_only() {
    let s = start().await;
    let src = writer(
        &s,
        json!({ "product": { "path": "/products/{{ key }}", "body": { "x": "{{ undefined_thing }}" } } }),
    );
    let out = src
        .writeback()
        .unwrap()
        .write_back(Entity::Product, &fields(), &[item("K1", true)])
        .await;
    assert!(
        out.items[0].as_ref().unwrap_err().contains("undefined"),
        "{:?}",
        out.items
    );
    assert_eq!(out.requests, 0);
}

#[tokio::test]
async fn batches_send_many_items_and_read_results_per_item() {
    let s = start().await;
    s.fx.fail_keys.lock().unwrap().insert("K3".into());
    let src = writer(
        &s,
        json!({ "product": {
            "path": "/products/{{ key }}",
            "batch": { "size": 2, "method": "POST", "path": "/bulk", "body": { "updates": "{{ items }}" }, "results": "data.results" }
        } }),
    );
    let w = src.writeback().unwrap();
    assert_eq!(w.batch_size(), 2);
    let items: Vec<WriteBack> = (1..=5).map(|i| item(&format!("K{i}"), i != 4)).collect();
    let out = w.write_back(Entity::Product, &fields(), &items).await;
    assert_eq!(out.requests, 3);
    assert_eq!(out.items.len(), 5);
    assert!(
        out.items[2]
            .as_ref()
            .unwrap_err()
            .contains("no such product"),
        "{:?}",
        out.items
    );
    for i in [0, 1, 3, 4] {
        assert_eq!(out.items[i], Ok(()), "{i}");
    }
    let writes = s.writes();
    assert_eq!(writes.len(), 3);
    assert_eq!(writes[0].0, Method::POST);
    assert_eq!(writes[0].1, "/bulk");
    assert_eq!(
        writes[0].2,
        json!({"updates": [
            {"key": "K1", "ErpId": "gid://shopify/Product/K1", "SyncDate": "2025-02-01T10:00:00Z", "SyncMsg": ""},
            {"key": "K2", "ErpId": "gid://shopify/Product/K2", "SyncDate": "2025-02-01T10:00:00Z", "SyncMsg": ""}
        ]})
    );
    assert_eq!(writes[2].2["updates"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_batch_without_results_succeeds_or_fails_whole() {
    let s = start().await;
    let src = writer(
        &s,
        json!({ "product": {
            "path": "/products/{{ key }}",
            "batch": { "size": 10, "path": "/bulk", "item": { "id": "{{ key }}", "erp": "{{ sync_id }}" } }
        } }),
    );
    let w = src.writeback().unwrap();
    let items = [item("K1", true), item("K2", true)];
    let out = w.write_back(Entity::Product, &fields(), &items).await;
    assert_eq!(out.items, vec![Ok(()), Ok(())]);
    assert_eq!(
        s.writes()[0].2,
        json!([{"id": "K1", "erp": "gid://shopify/Product/K1"}, {"id": "K2", "erp": "gid://shopify/Product/K2"}])
    );
    assert_eq!(
        s.writes()[0].0,
        Method::PATCH,
        "the entity's method by default"
    );
    s.fault(Fault::Status(400));
    let out = w.write_back(Entity::Product, &fields(), &items).await;
    assert_eq!(out.requests, 1);
    assert!(out
        .items
        .iter()
        .all(|r| r.as_ref().unwrap_err().contains("HTTP 400")));
}
