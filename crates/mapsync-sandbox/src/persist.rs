//! The `--state FILE` of the sandbox: the store as JSON, loaded at start and
//! written atomically (temporary file in the same directory, fsync, rename).
//! Must not decide when to write; the core does.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::Store;
use super::SandboxError;

fn err(path: &Path, message: impl ToString) -> SandboxError {
    SandboxError::State {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Load a store; `None` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Store>, SandboxError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(path, e)),
    };
    let mut store: Store = serde_json::from_slice(&bytes).map_err(|e| err(path, e))?;
    store.reindex();
    Ok(Some(store))
}

/// Replace `path` with `bytes` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| err(path, e))?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert!(load(&path).unwrap().is_none());
        let mut s = Store::new();
        s.add_location("Warehouse");
        write_atomic(&path, &serde_json::to_vec(&s).unwrap()).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.locations.len(), 2);
        assert!(back.next_id >= s.next_id);
    }

    #[test]
    fn state_files_of_older_versions_load() {
        // A state file written before API 2026-04: no idempotency answers,
        // definitions without capabilities, no bulk operations.
        let mut s = Store::new();
        s.metafield_definitions.insert(
            5,
            crate::model::MetafieldDefinition {
                id: 5,
                namespace: "mapsync".into(),
                key: "key".into(),
                name: "Key".into(),
                description: None,
                owner_type: "PRODUCT".into(),
                type_name: "single_line_text_field".into(),
                pinned_position: None,
                unique_values: false,
            },
        );
        let mut json = serde_json::to_value(&s).unwrap();
        json.as_object_mut().unwrap().remove("idempotency");
        json.as_object_mut().unwrap().remove("bulk");
        json["metafield_definitions"]["5"]
            .as_object_mut()
            .unwrap()
            .remove("unique_values");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert!(back.idempotency.is_empty());
        assert!(back.bulk.ops.is_empty());
        assert!(!back.metafield_definitions[&5].unique_values);
    }

    #[test]
    fn idempotency_answers_survive_a_restart() {
        let mut s = Store::new();
        std::sync::Arc::make_mut(&mut s.idempotency).remember(crate::model::IdempotentAnswer {
            key: "k-1".into(),
            mutation: "inventorySetQuantities".into(),
            fingerprint: "f".into(),
            answer: serde_json::json!({"outcome": "applied"}),
            created_at: "2026-04-01T00:00:00Z".into(),
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, &serde_json::to_vec(&s).unwrap()).unwrap();
        let back = load(&path).unwrap().unwrap();
        let a = back.idempotency.find("k-1").unwrap();
        assert_eq!(a.answer["outcome"], "applied");
        assert!(back.idempotency.find("k-2").is_none());
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;
    use crate::model::Found;

    /// A state file as the sandbox wrote it before its maps became
    /// persistent (`BTreeMap`s, `Vec` members, a `VecDeque` of answers).
    fn old_state_file() -> serde_json::Value {
        let t = "2025-01-01T00:00:00Z";
        let mf = |id: u64, key: &str, value: &str| {
            serde_json::json!({"id": id, "namespace": "custom", "key": key,
                "type": "single_line_text_field", "value": value, "created_at": t, "updated_at": t})
        };
        let product = serde_json::json!({
                "id": 1002, "handle": "shirt", "title": "Shirt", "description_html": "", "vendor": "",
                "product_type": "", "tags": ["a"], "status": "ACTIVE", "seo_title": null,
                "seo_description": null, "template_suffix": null, "gift_card": false,
                "options": [{"id": 1003, "name": "Title", "values": [{"id": 1004, "name": "Default Title"}]}],
                "variants": [{"id": 1005, "sku": "S-1", "barcode": null, "price": "1.00",
                    "compare_at_price": null, "taxable": true, "inventory_policy": "DENY",
                    "option_values": ["Default Title"], "media_ids": [1008], "metafields": [],
                    "inventory_item": {"id": 1006, "tracked": true, "cost": null,
                        "country_code_of_origin": null, "harmonized_system_code": null,
                        "requires_shipping": true, "province_code_of_origin": null, "weight": null,
                        "levels": {"1001": {"id": 1007, "available": 3, "on_hand": 3, "updated_at": t}},
                        "created_at": t, "updated_at": t},
                    "created_at": t, "updated_at": t}],
                "media": [{"id": 1008, "alt": null, "original_source": "https://example.com/a.png",
                    "content_type": "IMAGE", "created_at": t, "status": "READY", "failure": null}],
                "metafields": [mf(1009, "sku", "S-1")],
                "collections": [1010],
                "created_at": t, "updated_at": t});
        serde_json::json!({
            "next_id": 2000,
            "shop": {"id": 1, "name": "s", "email": "s@example.com", "myshopify_domain": "s.myshopify.com",
                     "currency_code": "USD", "created_at": t, "metafields": []},
            "locations": {"1001": {"id": 1001, "name": "Shop location", "is_active": true, "created_at": t}},
            "products": {"1002": product},
            "collections": {"1010": {
                "id": 1010, "handle": "tops", "title": "Tops", "description_html": "",
                "sort_order": "MANUAL", "template_suffix": null, "seo_title": null,
                "seo_description": null, "image": null, "metafields": [], "products": [1002],
                "published": true, "created_at": t, "updated_at": t}},
            "metafield_definitions": {"1011": {"id": 1011, "namespace": "custom", "key": "sku",
                "name": "SKU", "description": null, "owner_type": "PRODUCT",
                "type": "single_line_text_field", "pinned_position": null, "unique_values": true}},
            "idempotency": {"entries": [{"key": "k-1", "mutation": "inventorySetQuantities",
                "fingerprint": "f", "answer": {"a": 1}, "created_at": t}]},
            "staged": {"targets": []},
            "bulk": {"next_id": 0, "ops": []}
        })
    }

    #[test]
    fn the_state_file_format_is_unchanged() {
        let old = old_state_file();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        let st = load(&path).unwrap().unwrap();
        assert_eq!(serde_json::to_value(&st).unwrap(), old);
        // The derived indexes are rebuilt.
        assert_eq!(st.product_handles.get("shirt"), Some(&1002));
        assert_eq!(st.collection_handles.get("tops"), Some(&1010));
        assert_eq!(
            st.find("gid://shopify/InventoryItem/1006"),
            Some(Found::InventoryItem {
                product: 1002,
                variant: 1005
            })
        );
        assert_eq!(
            st.find("gid://shopify/MediaImage/1008"),
            Some(Found::Media {
                product: 1002,
                media: 1008
            })
        );
        assert_eq!(st.product_by_metafield("custom", "sku", "S-1"), Some(1002));
        assert_eq!(st.product_by_metafield("custom", "sku", "S-2"), None);
        assert!(st.idempotency.find("k-1").is_some());
    }
}
