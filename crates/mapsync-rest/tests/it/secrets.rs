//! A canary secret never shows: not in an error, a Debug output, a
//! record's position, a write-back result.

use mapsync_core::source::{Entity, ReadScope, Source, WriteBack, WritebackFields};
use serde_json::json;

use crate::fixture::{start, Auth};
use crate::{read_products, source};

const CANARY: &str = "CANARY-7f3a9-s3cr3t";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} shows the secret: {text}");
    assert!(
        !text.contains(&CANARY.replace('-', "%2D")),
        "{what} shows the secret encoded: {text}"
    );
}

#[tokio::test]
async fn a_canary_secret_never_shows() {
    let s = start().await;
    s.set_auth(Auth::Bearer(CANARY.into()));
    let mut shown: Vec<(String, String)> = Vec::new();
    let opts = |path: &str| {
        json!({
            "list": { "path": path, "records": "data", "query": { "api_key": CANARY, "q": format!("x{CANARY}y") } },
            "count": { "path": "/echo" }
        })
    };
    let extra = json!({ "auth": { "bearer": CANARY }, "writeback": { "product": { "path": "/echo/{{ key }}" } } });
    // A server that echoes the Authorization header and the query.
    let src = source(&s.url, opts("/echo"), extra.clone());
    shown.push(("source Debug".into(), format!("{src:?}")));
    let r = read_products(&src).await;
    let e = r.fatal.expect("fatal");
    shown.push(("read error".into(), format!("{e} / {e:?}")));
    let e = src
        .count(Entity::Product, ReadScope::Full)
        .await
        .unwrap_err();
    shown.push(("count error".into(), format!("{e} / {e:?}")));
    // Positions of records read with the secret in the query.
    let src2 = source(&s.url, opts("/mixed"), extra.clone());
    let r = read_products(&src2).await;
    assert_eq!(r.records.len(), 2);
    for rec in &r.records {
        shown.push((
            "position".into(),
            format!("{} {:?}", rec.position, rec.position),
        ));
    }
    for bad in &r.invalid {
        shown.push(("invalid record".into(), format!("{bad} {bad:?}")));
    }
    // Refused credentials: the server echoes what it got.
    let wrong = source(
        &s.url,
        json!({ "list": { "path": "/mixed", "records": "data" } }),
        json!({ "auth": { "bearer": format!("{CANARY}-old") } }),
    );
    let e = read_products(&wrong).await.fatal.expect("401");
    shown.push(("401".into(), format!("{e} / {e:?}")));
    // Write-back to an endpoint that echoes.
    s.fx.fail_keys.lock().unwrap().insert("K1".into());
    let w = src.writeback().unwrap();
    let out = w
        .write_back(
            Entity::Product,
            &WritebackFields {
                sync_id: Some("Id".into()),
                ..WritebackFields::default()
            },
            &[WriteBack {
                key: "K1".into(),
                sync_id: None,
                sync_date: None,
                sync_msg: String::new(),
                values: Default::default(),
            }],
        )
        .await;
    shown.push(("write-back".into(), format!("{:?}", out.items)));
    // Options errors and Debug of options.
    let opts = mapsync_rest::RestOptions::from_value(&json!({
        "type": "rest", "base_url": format!("ftp://{CANARY}@x"), "entities": {},
        "auth": { "basic": { "user": "u", "password": CANARY } }
    }))
    .unwrap();
    shown.push(("options Debug".into(), format!("{opts:?}")));
    let e = mapsync_rest::RestSource::new(&opts).unwrap_err();
    shown.push(("options error".into(), format!("{e} / {e:?}")));
    let e = mapsync_rest::RestSource::from_value(&json!({
        "type": "rest", "base_url": s.url, "entities": {}, "timeout": CANARY,
        "auth": { "oauth2": { "token_url": "/t", "client_id": "c", "client_secret": CANARY } }
    }))
    .unwrap_err();
    shown.push(("duration error".into(), format!("{e} / {e:?}")));
    for (what, text) in &shown {
        assert_clean(what, text);
    }
    // The checks saw what they should.
    assert!(shown[1].1.contains("HTTP 400"), "{}", shown[1].1);
    assert!(shown
        .iter()
        .any(|(w, t)| w == "position" && t.contains("api_key=***")));
    assert!(shown
        .iter()
        .any(|(w, t)| w == "401" && t.contains("HTTP 401")));
}
