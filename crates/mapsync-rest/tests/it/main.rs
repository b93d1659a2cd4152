//! The `rest` source over real HTTP on loopback, against the fixture
//! server of `fixture.rs`; the `rest` target against the emulated store
//! (`mapsync-sandbox`'s PIM with its store routes).

mod auth;
mod fixture;
mod images;
mod incremental;
mod options;
mod paging;
mod retry;
mod secrets;
mod target;
mod writeback;

use mapsync_core::source::{
    Entity, InvalidRecord, ReadError, ReadScope, Record, Source, SourceError,
};
use mapsync_rest::RestSource;
use serde_json::{json, Value};

/// A source on `server` reading products from `product` (the entity's
/// options); `extra` is merged into the top level.
pub fn source(url: &str, product: Value, extra: Value) -> RestSource {
    let mut v = json!({
        "type": "rest",
        "base_url": url,
        "backoff": "1ms",
        "timeout": "5s",
        "entities": { "product": product },
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    RestSource::from_value(&v).unwrap_or_else(|e| panic!("options: {e}"))
}

/// Everything a read gave.
#[derive(Debug, Default)]
pub struct Read {
    pub records: Vec<Record>,
    pub invalid: Vec<InvalidRecord>,
    pub fatal: Option<SourceError>,
}

impl Read {
    pub fn ids(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| r.fields["id"].as_str().unwrap().to_string())
            .collect()
    }
}

pub async fn read(src: &RestSource, entity: Entity, scope: ReadScope) -> Read {
    let mut stream = src.records_in(entity, scope).unwrap();
    let mut out = Read::default();
    while let Some(item) = stream.next_item().await {
        match item {
            Ok(r) => out.records.push(r),
            Err(ReadError::Invalid(i)) => out.invalid.push(*i),
            Err(ReadError::Fatal(e)) => out.fatal = Some(e),
        }
    }
    out
}

pub async fn read_products(src: &RestSource) -> Read {
    read(src, Entity::Product, ReadScope::Full).await
}

/// The catalog's ids from `from` on.
pub fn catalog_ids(from: usize) -> Vec<String> {
    (from..fixture::CATALOG)
        .map(|i| format!("P{i:04}"))
        .collect()
}
