//! The run's inputs through the real pieces: the demo profile's file
//! source, and its embedded sandbox reached by the `shopify` target code
//! over HTTP.

use std::path::Path;

use mapsync::config::profile::{self, TargetConfig};
use mapsync::connectors::shopify::ReadHint;
use mapsync::connectors::Entity;

#[tokio::test]
async fn demo_profile_reads_source_and_embedded_sandbox() {
    let mut p = profile::load(Path::new("mapsync.yaml"), "demo", |_| None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    p.target = TargetConfig::Sandbox {
        state: dir.path().join("sandbox.json"),
        plan: None,
    };
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
