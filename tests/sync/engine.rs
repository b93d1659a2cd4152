//! The run's inputs through the real pieces: the demo profile's file
//! source, and its embedded sandbox reached by the `shopify` target code
//! over HTTP.

use std::path::Path;

use mapsync::config::connector::Role;
use mapsync::config::profile::{self, Endpoint};
use mapsync::connectors::shopify::ReadHint;
use mapsync::connectors::Entity;

#[tokio::test]
async fn demo_profile_reads_source_and_embedded_sandbox() {
    let registry = mapsync::registry();
    let mut p = profile::load(Path::new("mapsync.yaml"), "demo", |_| None, &registry).unwrap();
    assert_eq!(p.target.type_name(), "sandbox");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let options = serde_json::json!({"type": "sandbox", "state": state});
    p.target = Endpoint::resolve(&registry, Role::Target, "demo", dir.path(), options).unwrap();
    let cats = mapsync::engine::read_source(&p, Entity::Category)
        .await
        .unwrap();
    let prods = mapsync::engine::read_source(&p, Entity::Product)
        .await
        .unwrap();
    assert_eq!((cats.records.len(), prods.records.len()), (3, 8));
    assert!(cats.invalid.is_empty() && prods.invalid.is_empty());

    let connected = mapsync::engine::connect(&p).await.unwrap();
    let locations = connected.target.locations().await.unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0].name, "Shop location");
    let catalog = connected
        .target
        .read_catalog(ReadHint::default())
        .await
        .unwrap();
    assert!(catalog.products.is_empty() && catalog.categories.is_empty());
    connected.close().await.unwrap();
}
