//! Every auth style, and OAuth 2 client credentials: the token fetched on
//! first use, again before it expires, and once after a 401.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mapsync_core::source::{Entity, ReadScope};
use mapsync_rest::RestErrorKind;
use serde_json::{json, Value};

use crate::fixture::{start, Auth, Server};
use crate::source;

fn counted(s: &Server, auth: Value) -> mapsync_rest::RestSource {
    source(
        &s.url,
        json!({
            "list": { "path": "/mixed", "records": "data" },
            "count": { "path": "/products/count", "value": "meta.count" }
        }),
        json!({ "auth": auth }),
    )
}

async fn count(src: &mapsync_rest::RestSource) -> Result<Option<u64>, mapsync_rest::RestError> {
    src.count(Entity::Product, ReadScope::Full).await
}

#[tokio::test]
async fn bearer_header_and_basic_credentials_are_sent() {
    let s = start().await;
    s.set_auth(Auth::Bearer("tkn".into()));
    assert_eq!(
        count(&counted(&s, json!({"bearer": "tkn"}))).await.unwrap(),
        Some(1234)
    );
    let e = count(&counted(&s, json!({"bearer": "wrong"})))
        .await
        .unwrap_err();
    assert_eq!(e.kind, RestErrorKind::Auth);
    assert_eq!(e.status, Some(401));

    s.set_auth(Auth::Header("X-Api-Key".into(), "k-1".into()));
    let src = counted(&s, json!({"header": "X-Api-Key", "value": "k-1"}));
    assert_eq!(count(&src).await.unwrap(), Some(1234));

    s.set_auth(Auth::Basic("u".into(), "p w".into()));
    let src = counted(&s, json!({"basic": {"user": "u", "password": "p w"}}));
    assert_eq!(count(&src).await.unwrap(), Some(1234));
    // 401 without OAuth 2 is final: no retry.
    let n = s.count("/products/count");
    let src = counted(&s, json!({"basic": {"user": "u", "password": "nope"}}));
    assert_eq!(count(&src).await.unwrap_err().kind, RestErrorKind::Auth);
    assert_eq!(s.count("/products/count"), n + 1);
}

fn oauth(s: &Server, expires_in: u64, extra: Value) -> mapsync_rest::RestSource {
    s.set_auth(Auth::OAuth2 {
        client_id: "cid".into(),
        secret: "csecret".into(),
        expires_in,
    });
    let mut o =
        json!({"token_url": "/oauth/token", "client_id": "cid", "client_secret": "csecret"});
    if let (Value::Object(m), Value::Object(e)) = (&mut o, extra) {
        m.extend(e);
    }
    counted(s, json!({ "oauth2": o }))
}

#[tokio::test]
async fn oauth2_fetches_a_token_once_and_reuses_it() {
    let s = start().await;
    let src = oauth(&s, 3600, json!({"scope": "catalog:read"}));
    for _ in 0..3 {
        assert_eq!(count(&src).await.unwrap(), Some(1234));
    }
    // Reading records shares the token too.
    let r = crate::read(&src, Entity::Product, ReadScope::Full).await;
    assert!(r.fatal.is_none());
    assert_eq!(s.tokens_issued(), 1);
    let t = &s.seen("/oauth/token")[0];
    let body = String::from_utf8(t.body.to_vec()).unwrap();
    assert!(
        body.contains("grant_type=client_credentials") && body.contains("scope=catalog%3Aread"),
        "{body}"
    );
    let data = s.seen("/products/count");
    assert!(data
        .iter()
        .all(|q| q.headers["authorization"] == "Bearer tok-1"));
}

#[tokio::test]
async fn oauth2_refreshes_the_token_before_it_expires() {
    let s = start().await;
    let src = oauth(&s, 1, json!({}));
    count(&src).await.unwrap();
    // A fifth of its life before it runs out (0.8s), a new token is fetched
    // before the request: the server never sees an expired one.
    tokio::time::sleep(Duration::from_millis(850)).await;
    count(&src).await.unwrap();
    assert_eq!(s.tokens_issued(), 2);
    let auths: Vec<String> = s
        .seen("/products/count")
        .iter()
        .map(|q| q.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(auths, vec!["Bearer tok-1", "Bearer tok-2"]);
}

#[tokio::test]
async fn oauth2_fetches_a_new_token_once_after_a_401() {
    let s = start().await;
    let src = oauth(&s, 3600, json!({"client_auth": "basic"}));
    count(&src).await.unwrap();
    s.revoke_tokens();
    assert_eq!(count(&src).await.unwrap(), Some(1234));
    assert_eq!(s.tokens_issued(), 2);
    // 1 + (401, then again with the new token).
    assert_eq!(s.count("/products/count"), 3);
    // Refused again after the new token: final, no third token.
    s.fx.reject_tokens.store(true, Ordering::SeqCst);
    let e = count(&src).await.unwrap_err();
    assert_eq!(e.kind, RestErrorKind::Auth);
    assert_eq!(s.tokens_issued(), 3);
}

#[tokio::test]
async fn oauth2_with_a_wrong_secret_is_an_auth_error_without_the_secret() {
    let s = start().await;
    let src = oauth(&s, 3600, json!({"client_secret": "WRONG-canary-secret"}));
    let e = count(&src).await.unwrap_err();
    assert_eq!(e.kind, RestErrorKind::Auth);
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("client_id"), "{shown}");
    // The fixture echoes the secret it got; the message masks it.
    assert!(!shown.contains("WRONG-canary-secret"), "{shown}");
    assert_eq!(s.count("/products/count"), 0);
}
