//! Every GraphQL document in `graphql/` is valid against the real Shopify
//! Admin schema of the version mapsync speaks (2026-04), is listed in `documents::ALL`, and the cost
//! formulas in `connectors::shopify::cost` agree with a cost walker over the
//! schema, so no request we build exceeds 1000 requested points.

use std::collections::BTreeSet;

use mapsync::connectors::shopify::cost::{self, FullReadShape, MAX_QUERY_COST};
use mapsync::connectors::shopify::documents::{self, Document, Kind};
use serde_json::json;

use crate::shopify_schema::{query_cost, validate_document};

fn graphql_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/mapsync-shopify/graphql")
}

#[test]
fn every_file_in_graphql_dir_is_valid_against_the_real_schema() {
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(graphql_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("graphql") {
            continue;
        }
        count += 1;
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(diagnostic) = validate_document(&source, &format!("graphql/{name}")) {
            failures.push(diagnostic);
        }
    }
    assert!(count >= 30, "only {count} documents found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_file_is_registered_with_its_operation_name_and_kind() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(graphql_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".graphql"))
        .collect();
    let registered: BTreeSet<String> = documents::ALL.iter().map(|d| d.file.to_owned()).collect();
    assert_eq!(on_disk, registered);
    for doc in documents::ALL {
        let valid = validate_document(doc.source, doc.file).unwrap();
        let op = valid.operations.iter().next().unwrap();
        match doc.kind {
            Kind::BulkQuery => {
                assert!(
                    op.name.is_none(),
                    "{}: bulk queries are anonymous",
                    doc.file
                );
                assert_eq!(
                    op.operation_type,
                    apollo_compiler::executable::OperationType::Query
                );
            }
            Kind::BulkMutation => {
                assert_eq!(
                    op.operation_type,
                    apollo_compiler::executable::OperationType::Mutation,
                    "{}",
                    doc.file
                );
                assert!(!doc.idempotent, "{}: never sent directly", doc.file);
            }
            Kind::Query | Kind::Mutation => {
                assert_eq!(
                    op.name.as_ref().map(|n| n.as_str()),
                    Some(doc.name),
                    "{}",
                    doc.file
                );
                let expected = if doc.kind == Kind::Query {
                    apollo_compiler::executable::OperationType::Query
                } else {
                    apollo_compiler::executable::OperationType::Mutation
                };
                assert_eq!(op.operation_type, expected, "{}", doc.file);
            }
        }
        if doc.kind == Kind::Query {
            assert!(doc.idempotent, "{}: queries are idempotent", doc.file);
        }
    }
}

#[test]
fn ownership_marker_is_read_under_the_constant_namespace_and_key() {
    for doc in [
        documents::PRODUCTS_REDUCED,
        documents::COLLECTIONS_REDUCED,
        documents::PRODUCT_BY_IDENTIFIER,
        documents::BULK_PRODUCTS_REDUCED,
        documents::BULK_COLLECTIONS_REDUCED,
    ] {
        assert!(
            doc.source
                .contains(r#"marker: metafield(namespace: "mapsync", key: "key")"#),
            "{}",
            doc.file
        );
    }
}

fn cost_of(doc: Document, variables: serde_json::Value) -> u32 {
    let valid = validate_document(doc.source, doc.file).unwrap();
    query_cost(&valid, &variables) as u32
}

fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("gid://shopify/Product/{i}"))
        .collect()
}

#[test]
fn cost_formulas_match_the_schema_walker() {
    for first in [1, 50, 250] {
        let vars = json!({"first": first});
        assert_eq!(
            cost_of(documents::PRODUCTS_REDUCED, vars.clone()),
            cost::products_reduced(first)
        );
        assert_eq!(
            cost_of(documents::COLLECTIONS_REDUCED, vars.clone()),
            cost::collections_reduced(first)
        );
        assert_eq!(
            cost_of(documents::LOCATIONS, vars.clone()),
            cost::locations(first)
        );
        assert_eq!(
            cost_of(
                documents::VARIANTS_BY_SKU,
                json!({"first": first, "query": "sku:A"})
            ),
            cost::variants_by_sku(first)
        );
        assert_eq!(
            cost_of(documents::PRODUCT_VARIANTS_PAGE, vars.clone()),
            cost::product_variants_page(first)
        );
        assert_eq!(
            cost_of(documents::PRODUCT_MEDIA_PAGE, vars.clone()),
            cost::product_media_page(first)
        );
        assert_eq!(
            cost_of(
                documents::PRODUCT_MEDIA_STATUS,
                json!({"id": "gid://shopify/Product/1", "first": first})
            ),
            cost::product_media_status(first)
        );
        assert_eq!(
            cost_of(documents::PRODUCT_COLLECTIONS_PAGE, vars.clone()),
            cost::id_list_page(first)
        );
        assert_eq!(
            cost_of(documents::METAFIELDS_PAGE, vars.clone()),
            cost::id_list_page(first)
        );
        assert_eq!(
            cost_of(documents::PRODUCT_SET, json!({"variantsFirst": first})),
            cost::product_set(first)
        );
    }
    assert_eq!(
        cost_of(documents::PRODUCT_BY_IDENTIFIER, json!({})),
        cost::product_by_identifier()
    );
    assert_eq!(
        cost_of(documents::CURRENT_BULK_OPERATION, json!({})),
        cost::single_object()
    );
    assert_eq!(
        cost_of(documents::SHOP_INFO, json!({})),
        cost::single_object()
    );
    assert_eq!(
        cost_of(documents::BULK_OPERATION_RUN_QUERY, json!({})),
        cost::bulk_operation_run_query()
    );

    let shapes = [
        FullReadShape::default(),
        FullReadShape::default().for_locations(7),
        FullReadShape {
            variants_first: 3,
            media_first: 1,
            metafields_first: 2,
            collections_first: 4,
            variant_metafields_first: 5,
            levels_first: 2,
            quantity_names: vec!["available".into(), "on_hand".into()],
            collection_metafields_first: 9,
        },
    ];
    for shape in &shapes {
        for n in [1usize, 3, 7] {
            let full = json!({
                "ids": ids(n),
                "variantsFirst": shape.variants_first,
                "mediaFirst": shape.media_first,
                "metafieldsFirst": shape.metafields_first,
                "collectionsFirst": shape.collections_first,
            });
            assert_eq!(
                cost_of(documents::PRODUCTS_FULL, full),
                cost::products_full(shape, n as u32)
            );
            let detail = json!({
                "ids": ids(n),
                "levelsFirst": shape.levels_first,
                "quantityNames": shape.quantity_names,
                "metafieldsFirst": shape.variant_metafields_first,
            });
            assert_eq!(
                cost_of(documents::VARIANTS_DETAIL, detail),
                cost::variants_detail(shape, n as u32)
            );
            let coll = json!({"ids": ids(n), "metafieldsFirst": shape.collection_metafields_first});
            assert_eq!(
                cost_of(documents::COLLECTIONS_FULL, coll),
                cost::collections_full(shape, n as u32)
            );
        }
        let levels = json!({"first": 10, "quantityNames": shape.quantity_names});
        assert_eq!(
            cost_of(documents::INVENTORY_LEVELS_PAGE, levels),
            cost::inventory_levels_page(shape, 10)
        );
    }
}

#[test]
fn default_batches_stay_at_or_under_1000_points() {
    let shape = FullReadShape::default().for_locations(3);
    let batch = cost::batch_size(cost::product_full_each(&shape));
    let vars = json!({
        "ids": ids(batch),
        "variantsFirst": shape.variants_first,
        "mediaFirst": shape.media_first,
        "metafieldsFirst": shape.metafields_first,
        "collectionsFirst": shape.collections_first,
    });
    let c = cost_of(documents::PRODUCTS_FULL, vars);
    assert!(c <= MAX_QUERY_COST && c > MAX_QUERY_COST / 2, "{c}");
    assert!(cost_of(documents::PRODUCTS_REDUCED, json!({"first": 250})) <= MAX_QUERY_COST);
    assert!(cost_of(documents::COLLECTIONS_REDUCED, json!({"first": 245})) <= MAX_QUERY_COST);
}

#[test]
fn an_invalid_document_fails_with_apollos_diagnostic() {
    let err = validate_document(
        "query Bad { products(first: 1) { edges { node { id published } } } }",
        "bad.graphql",
    )
    .unwrap_err();
    assert!(err.contains("published"), "{err}");
    assert!(err.contains("Product"), "{err}");
}

#[test]
fn the_real_2026_04_schema_parses() {
    let schema = crate::shopify_schema::admin_schema_2026_04();
    assert!(schema.types.contains_key("InventoryQuantityInput"));
    assert!(schema.directive_definitions.contains_key("idempotent"));
}

/// The inputs the builders make are valid variables of their documents
/// (as a server coerces them), not only the documents themselves.
#[test]
fn built_inputs_are_valid_variables_of_their_documents() {
    use mapsync::connectors::shopify::input::{self, QuantityChange};
    use mapsync::connectors::shopify::{WriteContext, DEFAULT_API_VERSION};

    let schema = crate::shopify_schema::schema_of(DEFAULT_API_VERSION);
    let check = |doc: &Document, vars: serde_json::Value| {
        let parsed = validate_document(doc.source, doc.file).unwrap();
        crate::shopify_schema::validate_variables(schema, &parsed, &vars)
            .unwrap_or_else(|e| panic!("{}: {e}", doc.name));
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/write/product_5x5x10.json");
    let product: mapsync::plan::document::Document =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ctx = WriteContext {
        locations: ["CPH", "AAR", "ODE", "OSL", "STO"]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), format!("gid://shopify/Location/{}", i + 1)))
            .collect(),
        ..Default::default()
    };
    let create = input::product_create(&product, None, &ctx).unwrap();
    check(
        &documents::PRODUCT_SET,
        json!({
            "identifier": {"customId": {"namespace": "mapsync", "key": "key", "value": "P-100"}},
            "input": create, "synchronous": true, "variantsFirst": 1,
        }),
    );
    // A bulk import line: the same identifier and input, as variables of
    // the bulk mutation.
    check(
        &documents::PRODUCT_SET_BULK,
        json!({
            "identifier": {"customId": {"namespace": "mapsync", "key": "key", "value": "P-100"}},
            "input": create,
        }),
    );
    let changes = [QuantityChange {
        inventory_item_id: "gid://shopify/InventoryItem/1".into(),
        location_id: "gid://shopify/Location/1".into(),
        quantity: 5,
        change_from: Some(3),
    }];
    check(
        &documents::INVENTORY_SET_QUANTITIES,
        json!({
            "input": input::set_quantities_input(&changes),
            "idempotencyKey": input::quantities_idempotency_key(&changes),
        }),
    );
}

#[test]
fn image_round_trip_cost_formulas_match_the_schema_walker() {
    use mapsync::connectors::shopify::images;
    for (first, media, variants) in [(1u32, 1u32, 1u32), (3, 50, 25), (2, 10, 5), (1, 250, 50)] {
        assert_eq!(
            cost_of(
                documents::PRODUCT_IMAGES_PAGE,
                json!({"first": first, "mediaFirst": media, "variantsFirst": variants})
            ),
            images::product_images_page(first, media, variants)
        );
        assert_eq!(
            cost_of(
                documents::PRODUCT_IMAGES,
                json!({"ids": ids(first as usize), "mediaFirst": media, "variantsFirst": variants})
            ),
            images::product_images(first, media, variants)
        );
    }
    assert_eq!(
        cost_of(documents::FILE_UPDATE, json!({"files": [{}]})),
        images::FILE_UPDATE_COST
    );
    assert_eq!(
        cost_of(documents::PRODUCT_APPEND_MEDIA, json!({})),
        images::PRODUCT_APPEND_MEDIA_COST
    );
}

#[test]
fn image_round_trip_variables_are_valid() {
    use mapsync::connectors::shopify::images;
    use mapsync::connectors::shopify::DEFAULT_API_VERSION;

    let schema = crate::shopify_schema::schema_of(DEFAULT_API_VERSION);
    let check = |doc: &Document, vars: serde_json::Value| {
        let parsed = validate_document(doc.source, doc.file).unwrap();
        crate::shopify_schema::validate_variables(schema, &parsed, &vars)
            .unwrap_or_else(|e| panic!("{}: {e}", doc.name));
    };
    check(
        &documents::PRODUCT_IMAGES_PAGE,
        images::page_variables(None, None),
    );
    check(
        &documents::PRODUCT_IMAGES_PAGE,
        images::page_variables(Some("cursor"), Some("updated_at:>='2026-01-01'")),
    );
    let media = "gid://shopify/MediaImage/1";
    let product = "gid://shopify/Product/1";
    let source = "https://shopify-staged-uploads.storage.googleapis.com/tmp/mapsync-img-a.png";
    check(
        &documents::FILE_UPDATE,
        images::overwrite_variables(media, source),
    );
    check(
        &documents::FILE_UPDATE,
        images::delete_variables(product, media),
    );
    check(
        &documents::PRODUCT_APPEND_MEDIA,
        images::append_variables(product, source, Some("Front")),
    );
    check(
        &documents::PRODUCT_APPEND_MEDIA,
        images::append_variables(product, source, None),
    );
}
