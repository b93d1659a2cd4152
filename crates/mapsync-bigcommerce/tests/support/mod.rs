//! The emulated BigCommerce store and a client of it, as the port tests
//! (`images.rs`, `target.rs`) start them: requests recorded, one token,
//! short backoffs.

use std::time::Duration;

use mapsync_bigcommerce::{BcClient, BcConfig};
use mapsync_sandbox::bigcommerce::{self as sandbox, BcHandle};
use url::Url;

/// The store's token.
pub const TOKEN: &str = "test-token";

/// The emulated store, recording every request.
pub async fn store() -> BcHandle {
    sandbox::start(sandbox::BcConfig {
        record_requests: true,
        token: Some(TOKEN.into()),
        ..sandbox::BcConfig::default()
    })
    .await
    .expect("the emulated store starts")
}

/// A client of `h` with 10 ms backoffs.
pub fn client(h: &BcHandle) -> BcClient {
    BcClient::new(BcConfig {
        base: Url::parse(&h.api_url()).expect("api url"),
        token: TOKEN.into(),
        quota_hint: None,
    })
    .expect("client")
    .with_backoff(Duration::from_millis(10))
}
