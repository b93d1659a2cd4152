//! The GraphQL documents the `shopify` target sends, loaded from `graphql/`
//! at compile time. Every file there is listed in [`ALL`] and validated
//! against the real Admin schema by `tests/shopify/graphql_documents.rs`. This module
//! must not build query text at run time: what is sent is what was validated.

/// Whether a document reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
    /// A query string passed to `bulkOperationRunQuery`, never sent directly.
    BulkQuery,
    /// A mutation string passed to `bulkOperationRunMutation` (run once per
    /// line of a staged JSONL), never sent directly.
    BulkMutation,
}

/// One GraphQL document (one operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document {
    /// Operation name (`ProductsReduced`); for bulk queries a label.
    pub name: &'static str,
    /// File name below `graphql/`.
    pub file: &'static str,
    pub source: &'static str,
    pub kind: Kind,
    /// Whether sending it twice has the same effect as once, so an answer
    /// lost to a timeout or reset may be retried blindly. Queries are.
    pub idempotent: bool,
}

macro_rules! doc {
    ($ident:ident, $name:literal, $file:literal, $kind:ident, $idem:literal) => {
        pub const $ident: Document = Document {
            name: $name,
            file: $file,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/graphql/", $file)),
            kind: Kind::$kind,
            idempotent: $idem,
        };
    };
}

// Reads.
doc!(SHOP_INFO, "ShopInfo", "shop_info.graphql", Query, true);
doc!(LOCATIONS, "Locations", "locations.graphql", Query, true);
doc!(
    CHANGE_TOKEN,
    "ChangeToken",
    "change_token.graphql",
    Query,
    true
);
doc!(
    PRODUCTS_REDUCED,
    "ProductsReduced",
    "products_reduced.graphql",
    Query,
    true
);
doc!(
    COLLECTIONS_REDUCED,
    "CollectionsReduced",
    "collections_reduced.graphql",
    Query,
    true
);
doc!(
    VARIANTS_BY_SKU,
    "VariantsBySku",
    "variants_by_sku.graphql",
    Query,
    true
);
doc!(
    PRODUCT_BY_IDENTIFIER,
    "ProductByIdentifier",
    "product_by_identifier.graphql",
    Query,
    true
);
doc!(
    PRODUCTS_FULL,
    "ProductsFull",
    "products_full.graphql",
    Query,
    true
);
doc!(
    VARIANTS_DETAIL,
    "VariantsDetail",
    "variants_detail.graphql",
    Query,
    true
);
doc!(
    COLLECTIONS_FULL,
    "CollectionsFull",
    "collections_full.graphql",
    Query,
    true
);
doc!(
    PRODUCT_VARIANTS_PAGE,
    "ProductVariantsPage",
    "product_variants_page.graphql",
    Query,
    true
);
doc!(
    PRODUCT_MEDIA_PAGE,
    "ProductMediaPage",
    "product_media_page.graphql",
    Query,
    true
);
doc!(
    PRODUCT_MEDIA_STATUS,
    "ProductMediaStatus",
    "product_media_status.graphql",
    Query,
    true
);
doc!(
    PRODUCT_COLLECTIONS_PAGE,
    "ProductCollectionsPage",
    "product_collections_page.graphql",
    Query,
    true
);
doc!(
    METAFIELDS_PAGE,
    "MetafieldsPage",
    "metafields_page.graphql",
    Query,
    true
);
doc!(
    INVENTORY_LEVELS_PAGE,
    "InventoryLevelsPage",
    "inventory_levels_page.graphql",
    Query,
    true
);
doc!(
    CURRENT_BULK_OPERATION,
    "CurrentBulkOperation",
    "current_bulk_operation.graphql",
    Query,
    true
);

// Bulk query bodies.
doc!(
    BULK_PRODUCTS_REDUCED,
    "bulk:products-reduced",
    "bulk_products_reduced.graphql",
    BulkQuery,
    true
);
doc!(
    BULK_COLLECTIONS_REDUCED,
    "bulk:collections-reduced",
    "bulk_collections_reduced.graphql",
    BulkQuery,
    true
);
doc!(
    BULK_PRODUCTS_FULL,
    "bulk:products-full",
    "bulk_products_full.graphql",
    BulkQuery,
    true
);

// Writes. A bulk start is not idempotent: a second one is refused while the
// first runs, and the executor must look before it retries.
doc!(
    BULK_OPERATION_RUN_QUERY,
    "BulkOperationRunQuery",
    "bulk_operation_run_query.graphql",
    Mutation,
    false
);
doc!(
    PRODUCT_SET,
    "ProductSet",
    "product_set.graphql",
    Mutation,
    false
);
doc!(
    PRODUCT_UPDATE,
    "ProductUpdate",
    "product_update.graphql",
    Mutation,
    true
);
doc!(
    PRODUCT_DELETE,
    "ProductDelete",
    "product_delete.graphql",
    Mutation,
    true
);
doc!(
    STAGED_UPLOADS_CREATE,
    "StagedUploadsCreate",
    "staged_uploads_create.graphql",
    Mutation,
    true
);
doc!(
    INVENTORY_ACTIVATE,
    "InventoryActivate",
    "inventory_activate.graphql",
    Mutation,
    true
);
doc!(
    INVENTORY_LEVEL,
    "InventoryLevel",
    "inventory_level.graphql",
    Query,
    true
);
doc!(
    INVENTORY_SET_QUANTITIES,
    "InventorySetQuantities",
    "inventory_set_quantities.graphql",
    Mutation,
    true
);
doc!(
    COLLECTION_CREATE,
    "CollectionCreate",
    "collection_create.graphql",
    Mutation,
    false
);
doc!(
    COLLECTION_UPDATE,
    "CollectionUpdate",
    "collection_update.graphql",
    Mutation,
    true
);
doc!(
    COLLECTION_DELETE,
    "CollectionDelete",
    "collection_delete.graphql",
    Mutation,
    true
);
doc!(
    COLLECTION_ADD_PRODUCTS,
    "CollectionAddProducts",
    "collection_add_products.graphql",
    Mutation,
    true
);
doc!(
    COLLECTION_REMOVE_PRODUCTS,
    "CollectionRemoveProducts",
    "collection_remove_products.graphql",
    Mutation,
    true
);
doc!(
    METAFIELDS_SET,
    "MetafieldsSet",
    "metafields_set.graphql",
    Mutation,
    true
);
doc!(
    METAFIELDS_DELETE,
    "MetafieldsDelete",
    "metafields_delete.graphql",
    Mutation,
    true
);
doc!(
    METAFIELD_DEFINITION_CREATE,
    "MetafieldDefinitionCreate",
    "metafield_definition_create.graphql",
    Mutation,
    false
);

doc!(
    METAFIELD_DEFINITION_BY_KEY,
    "MetafieldDefinitionByKey",
    "metafield_definition_by_key.graphql",
    Query,
    true
);
doc!(
    METAFIELD_DEFINITION_UPDATE,
    "MetafieldDefinitionUpdate",
    "metafield_definition_update.graphql",
    Mutation,
    true
);
doc!(
    PUBLICATIONS,
    "Publications",
    "publications.graphql",
    Query,
    true
);
doc!(
    PUBLISHABLE_UNPUBLISH,
    "PublishableUnpublish",
    "publishable_unpublish.graphql",
    Mutation,
    true
);
doc!(
    PUBLISHABLE_PUBLISH,
    "PublishablePublish",
    "publishable_publish.graphql",
    Mutation,
    true
);

// Bulk imports.
doc!(
    PRODUCT_SET_BULK,
    "ProductSetBulk",
    "product_set_bulk.graphql",
    BulkMutation,
    false
);
doc!(
    BULK_OPERATION_RUN_MUTATION,
    "BulkOperationRunMutation",
    "bulk_operation_run_mutation.graphql",
    Mutation,
    false
);
doc!(
    BULK_OPERATION,
    "BulkOperation",
    "bulk_operation.graphql",
    Query,
    true
);
doc!(
    BULK_MUTATIONS_RECENT,
    "BulkMutationsRecent",
    "bulk_mutations_recent.graphql",
    Query,
    true
);

// The image round trip.
doc!(
    PRODUCT_IMAGES_PAGE,
    "ProductImagesPage",
    "product_images_page.graphql",
    Query,
    true
);
doc!(
    PRODUCT_IMAGES,
    "ProductImages",
    "product_images.graphql",
    Query,
    true
);
doc!(
    FILE_UPDATE,
    "FileUpdate",
    "file_update.graphql",
    Mutation,
    true
);
doc!(
    PRODUCT_APPEND_MEDIA,
    "ProductAppendMedia",
    "product_append_media.graphql",
    Mutation,
    false
);

/// Every document in `graphql/`.
pub const ALL: &[Document] = &[
    SHOP_INFO,
    LOCATIONS,
    CHANGE_TOKEN,
    PRODUCTS_REDUCED,
    COLLECTIONS_REDUCED,
    VARIANTS_BY_SKU,
    PRODUCT_BY_IDENTIFIER,
    PRODUCTS_FULL,
    VARIANTS_DETAIL,
    COLLECTIONS_FULL,
    PRODUCT_VARIANTS_PAGE,
    PRODUCT_MEDIA_PAGE,
    PRODUCT_MEDIA_STATUS,
    PRODUCT_COLLECTIONS_PAGE,
    METAFIELDS_PAGE,
    INVENTORY_LEVELS_PAGE,
    CURRENT_BULK_OPERATION,
    BULK_PRODUCTS_REDUCED,
    BULK_COLLECTIONS_REDUCED,
    BULK_PRODUCTS_FULL,
    BULK_OPERATION_RUN_QUERY,
    PRODUCT_SET,
    PRODUCT_UPDATE,
    PRODUCT_DELETE,
    INVENTORY_SET_QUANTITIES,
    INVENTORY_LEVEL,
    INVENTORY_ACTIVATE,
    STAGED_UPLOADS_CREATE,
    COLLECTION_CREATE,
    COLLECTION_UPDATE,
    COLLECTION_DELETE,
    COLLECTION_ADD_PRODUCTS,
    COLLECTION_REMOVE_PRODUCTS,
    METAFIELDS_SET,
    METAFIELDS_DELETE,
    METAFIELD_DEFINITION_CREATE,
    METAFIELD_DEFINITION_BY_KEY,
    METAFIELD_DEFINITION_UPDATE,
    PUBLICATIONS,
    PUBLISHABLE_UNPUBLISH,
    PUBLISHABLE_PUBLISH,
    PRODUCT_SET_BULK,
    BULK_OPERATION_RUN_MUTATION,
    BULK_OPERATION,
    BULK_MUTATIONS_RECENT,
    PRODUCT_IMAGES_PAGE,
    PRODUCT_IMAGES,
    FILE_UPDATE,
    PRODUCT_APPEND_MEDIA,
];
