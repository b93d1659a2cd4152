//! The mutations both API versions of the sandbox share, and the payload
//! types of every mutation (Shopify's names). Resolvers run the rules of
//! [`crate::ops`] on a draft through [`Core::mutate`]. Must not speak HTTP
//! or compute cost.

use std::sync::Arc;

use async_graphql::{Context, InputType, Object, Result, SimpleObject, ID};

use super::errors::*;
use super::inputs::*;
use super::types::*;
use super::{collection_obj, core, plan_name, product_obj, variant_obj};
use crate::bulkops::BulkKind;
use crate::model::{gid, now, Found, Store};
use crate::ops;
use crate::runtime::{lock, Core};

/// Shopify's `ProductSetOperation`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "ProductSetOperation")]
pub struct ProductSetOperationObj {
    pub id: ID,
    pub product: Option<ProductObj>,
    pub status: ProductOperationStatus,
    pub user_errors: Vec<ProductSetUserError>,
}

/// Shopify's `ProductSetPayload`.
#[derive(SimpleObject)]
#[graphql(name = "ProductSetPayload")]
pub struct ProductSetPayload {
    pub product: Option<ProductObj>,
    pub product_set_operation: Option<ProductSetOperationObj>,
    pub user_errors: Vec<ProductSetUserError>,
}

/// Shopify's `ProductUpdatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "ProductUpdatePayload")]
pub struct ProductUpdatePayload {
    pub product: Option<ProductObj>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `ProductDeletePayload`.
#[derive(SimpleObject)]
#[graphql(name = "ProductDeletePayload")]
pub struct ProductDeletePayload {
    pub deleted_product_id: Option<ID>,
    pub shop: ShopObj,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `Job`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Job")]
pub struct Job {
    pub done: bool,
    pub id: ID,
}

/// Shopify's `CollectionCreatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "CollectionCreatePayload")]
pub struct CollectionCreatePayload {
    pub collection: Option<CollectionObj>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `CollectionUpdatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "CollectionUpdatePayload")]
pub struct CollectionUpdatePayload {
    pub collection: Option<CollectionObj>,
    pub job: Option<Job>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `CollectionDeletePayload`.
#[derive(SimpleObject)]
#[graphql(name = "CollectionDeletePayload")]
pub struct CollectionDeletePayload {
    pub deleted_collection_id: Option<ID>,
    pub shop: ShopObj,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `CollectionAddProductsPayload`.
#[derive(SimpleObject)]
#[graphql(name = "CollectionAddProductsPayload")]
pub struct CollectionAddProductsPayload {
    pub collection: Option<CollectionObj>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `CollectionRemoveProductsPayload`.
#[derive(SimpleObject)]
#[graphql(name = "CollectionRemoveProductsPayload")]
pub struct CollectionRemoveProductsPayload {
    pub job: Option<Job>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `MetafieldsSetPayload`.
#[derive(SimpleObject)]
#[graphql(name = "MetafieldsSetPayload")]
pub struct MetafieldsSetPayload {
    pub metafields: Option<Vec<MetafieldObj>>,
    pub user_errors: Vec<MetafieldsSetUserError>,
}

/// Shopify's `MetafieldIdentifier`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "MetafieldIdentifier")]
pub struct MetafieldIdentifier {
    pub key: String,
    pub namespace: String,
    pub owner_id: ID,
}

/// Shopify's `MetafieldsDeletePayload`.
#[derive(SimpleObject)]
#[graphql(name = "MetafieldsDeletePayload")]
pub struct MetafieldsDeletePayload {
    pub deleted_metafields: Option<Vec<Option<MetafieldIdentifier>>>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `MetafieldDefinitionCreatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "MetafieldDefinitionCreatePayload")]
pub struct MetafieldDefinitionCreatePayload {
    pub created_definition: Option<MetafieldDefinitionObj>,
    pub user_errors: Vec<MetafieldDefinitionCreateUserError>,
}

/// Shopify's `MetafieldDefinitionUpdatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "MetafieldDefinitionUpdatePayload")]
pub struct MetafieldDefinitionUpdatePayload {
    pub updated_definition: Option<MetafieldDefinitionObj>,
    pub user_errors: Vec<MetafieldDefinitionUpdateUserError>,
}

/// Shopify's `PublishablePublishPayload` (without `publishable` and `shop`).
#[derive(SimpleObject)]
#[graphql(name = "PublishablePublishPayload")]
pub struct PublishablePublishPayload {
    pub user_errors: Vec<UserError>,
}

/// Shopify's `PublishableUnpublishPayload` (without `publishable` and `shop`).
#[derive(SimpleObject)]
#[graphql(name = "PublishableUnpublishPayload")]
pub struct PublishableUnpublishPayload {
    pub user_errors: Vec<UserError>,
}

/// Shopify's `InventoryChange`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "InventoryChange")]
pub struct InventoryChange {
    pub delta: i32,
    pub item: Option<InventoryItemObj>,
    pub ledger_document_uri: Option<String>,
    pub location: Option<LocationObj>,
    pub name: String,
    pub quantity_after_change: Option<i32>,
}

/// Shopify's `InventoryAdjustmentGroup`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "InventoryAdjustmentGroup")]
pub struct InventoryAdjustmentGroup {
    pub changes: Vec<InventoryChange>,
    pub created_at: DateTime,
    pub id: ID,
    pub reason: String,
    pub reference_document_uri: Option<String>,
}

/// Shopify's `InventorySetQuantitiesPayload`.
#[derive(SimpleObject)]
#[graphql(name = "InventorySetQuantitiesPayload")]
pub struct InventorySetQuantitiesPayload {
    pub inventory_adjustment_group: Option<InventoryAdjustmentGroup>,
    pub user_errors: Vec<InventorySetQuantitiesUserError>,
}

/// Shopify's `InventoryActivatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "InventoryActivatePayload")]
pub struct InventoryActivatePayload {
    pub inventory_level: Option<InventoryLevelObj>,
    pub user_errors: Vec<UserError>,
}

/// Shopify's `BulkOperationRunQueryPayload`.
#[derive(SimpleObject)]
#[graphql(name = "BulkOperationRunQueryPayload")]
pub struct BulkOperationRunQueryPayload {
    pub bulk_operation: Option<BulkOperationObj>,
    pub user_errors: Vec<BulkOperationUserError>,
}

pub(super) fn conv<C, T: From<UserErr<C>>>(errs: Vec<UserErr<C>>) -> Vec<T> {
    errs.into_iter().map(T::from).collect()
}

/// The mutations both API versions share (all but `productSet` and
/// `inventorySetQuantities`), merged into each version's `Mutation`.
#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    async fn product_update(
        &self,
        ctx: &Context<'_>,
        product: Option<ProductUpdateInput>,
        media: Option<Vec<CreateMediaInput>>,
    ) -> Result<ProductUpdatePayload> {
        let core = core(ctx)?;
        let input = product.unwrap_or_default();
        Ok(
            match core.mutate(|st| ops::product_update(st, &input, media.as_deref())) {
                Ok((pid, st)) => ProductUpdatePayload {
                    product: product_obj(&st, pid),
                    user_errors: Vec::new(),
                },
                Err(e) => ProductUpdatePayload {
                    product: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn product_delete(
        &self,
        ctx: &Context<'_>,
        input: ProductDeleteInput,
        synchronous: Option<bool>,
    ) -> Result<ProductDeletePayload> {
        let _ = synchronous;
        let core = core(ctx)?;
        Ok(match core.mutate(|st| ops::product_delete(st, &input.id)) {
            Ok((pid, st)) => ProductDeletePayload {
                deleted_product_id: Some(ID(gid("Product", pid))),
                shop: ShopObj {
                    st,
                    plan: plan_name(core),
                },
                user_errors: Vec::new(),
            },
            Err(e) => ProductDeletePayload {
                deleted_product_id: None,
                shop: ShopObj {
                    st: core.snapshot(),
                    plan: plan_name(core),
                },
                user_errors: conv(e),
            },
        })
    }

    async fn collection_create(
        &self,
        ctx: &Context<'_>,
        input: CollectionInput,
    ) -> Result<CollectionCreatePayload> {
        let core = core(ctx)?;
        Ok(match core.mutate(|st| ops::collection_create(st, &input)) {
            Ok((cid, st)) => CollectionCreatePayload {
                collection: collection_obj(&st, cid),
                user_errors: Vec::new(),
            },
            Err(e) => CollectionCreatePayload {
                collection: None,
                user_errors: conv(e),
            },
        })
    }

    async fn collection_update(
        &self,
        ctx: &Context<'_>,
        input: CollectionInput,
    ) -> Result<CollectionUpdatePayload> {
        let core = core(ctx)?;
        Ok(match core.mutate(|st| ops::collection_update(st, &input)) {
            Ok((cid, st)) => CollectionUpdatePayload {
                collection: collection_obj(&st, cid),
                job: None,
                user_errors: Vec::new(),
            },
            Err(e) => CollectionUpdatePayload {
                collection: None,
                job: None,
                user_errors: conv(e),
            },
        })
    }

    async fn collection_delete(
        &self,
        ctx: &Context<'_>,
        input: CollectionDeleteInput,
    ) -> Result<CollectionDeletePayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::collection_delete(st, &input.id)) {
                Ok((cid, st)) => CollectionDeletePayload {
                    deleted_collection_id: Some(ID(gid("Collection", cid))),
                    shop: ShopObj {
                        st,
                        plan: plan_name(core),
                    },
                    user_errors: Vec::new(),
                },
                Err(e) => CollectionDeletePayload {
                    deleted_collection_id: None,
                    shop: ShopObj {
                        st: core.snapshot(),
                        plan: plan_name(core),
                    },
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn collection_add_products(
        &self,
        ctx: &Context<'_>,
        id: ID,
        product_ids: Vec<ID>,
    ) -> Result<CollectionAddProductsPayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::collection_add_products(st, &id, &product_ids)) {
                Ok((cid, st)) => CollectionAddProductsPayload {
                    collection: collection_obj(&st, cid),
                    user_errors: Vec::new(),
                },
                Err(e) => CollectionAddProductsPayload {
                    collection: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn collection_remove_products(
        &self,
        ctx: &Context<'_>,
        id: ID,
        product_ids: Vec<ID>,
    ) -> Result<CollectionRemoveProductsPayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| {
                ops::collection_remove_products(st, &id, &product_ids)?;
                Ok(st.alloc())
            }) {
                Ok((job, _)) => CollectionRemoveProductsPayload {
                    job: Some(Job {
                        done: true,
                        id: ID(gid("Job", job)),
                    }),
                    user_errors: Vec::new(),
                },
                Err(e) => CollectionRemoveProductsPayload {
                    job: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn metafields_set(
        &self,
        ctx: &Context<'_>,
        metafields: Vec<MetafieldsSetInput>,
    ) -> Result<MetafieldsSetPayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::metafields_set(st, &metafields)) {
                Ok((refs, st)) => MetafieldsSetPayload {
                    metafields: Some(
                        refs.iter()
                            .filter_map(|r| {
                                ops::metafields_of(&st, r.owner)
                                    .iter()
                                    .find(|m| m.namespace == r.namespace && m.key == r.key)
                                    .map(|m| MetafieldObj {
                                        owner_type: r.owner.owner_type(),
                                        m: m.clone(),
                                    })
                            })
                            .collect(),
                    ),
                    user_errors: Vec::new(),
                },
                Err(e) => MetafieldsSetPayload {
                    metafields: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn metafields_delete(
        &self,
        ctx: &Context<'_>,
        metafields: Vec<MetafieldIdentifierInput>,
    ) -> Result<MetafieldsDeletePayload> {
        let core = core(ctx)?;
        let (deleted, _) = core
            .mutate(|st| Ok::<_, ()>(ops::metafields_delete(st, &metafields)))
            .map_err(|_| "metafieldsDelete failed")?;
        Ok(MetafieldsDeletePayload {
            deleted_metafields: Some(
                deleted
                    .into_iter()
                    .map(|d| {
                        d.map(|(owner, namespace, key)| MetafieldIdentifier {
                            key,
                            namespace,
                            owner_id: ID(owner),
                        })
                    })
                    .collect(),
            ),
            user_errors: Vec::new(),
        })
    }

    async fn metafield_definition_create(
        &self,
        ctx: &Context<'_>,
        definition: MetafieldDefinitionInput,
    ) -> Result<MetafieldDefinitionCreatePayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::metafield_definition_create(st, &definition)) {
                Ok((id, st)) => MetafieldDefinitionCreatePayload {
                    created_definition: st.metafield_definitions.get(&id).map(|d| {
                        MetafieldDefinitionObj {
                            st: st.clone(),
                            d: d.clone(),
                        }
                    }),
                    user_errors: Vec::new(),
                },
                Err(e) => MetafieldDefinitionCreatePayload {
                    created_definition: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn metafield_definition_update(
        &self,
        ctx: &Context<'_>,
        definition: MetafieldDefinitionUpdateInput,
    ) -> Result<MetafieldDefinitionUpdatePayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::metafield_definition_update(st, &definition)) {
                Ok((id, st)) => MetafieldDefinitionUpdatePayload {
                    updated_definition: st.metafield_definitions.get(&id).map(|d| {
                        MetafieldDefinitionObj {
                            st: st.clone(),
                            d: d.clone(),
                        }
                    }),
                    user_errors: Vec::new(),
                },
                Err(e) => MetafieldDefinitionUpdatePayload {
                    updated_definition: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn publishable_publish(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: Vec<PublicationInput>,
    ) -> Result<PublishablePublishPayload> {
        let core = core(ctx)?;
        Ok(PublishablePublishPayload {
            user_errors: match core.mutate(|st| ops::publishable_set(st, &id, &input, true)) {
                Ok(_) => Vec::new(),
                Err(e) => conv(e),
            },
        })
    }

    async fn publishable_unpublish(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: Vec<PublicationInput>,
    ) -> Result<PublishableUnpublishPayload> {
        let core = core(ctx)?;
        Ok(PublishableUnpublishPayload {
            user_errors: match core.mutate(|st| ops::publishable_set(st, &id, &input, false)) {
                Ok(_) => Vec::new(),
                Err(e) => conv(e),
            },
        })
    }

    async fn bulk_operation_run_query(
        &self,
        ctx: &Context<'_>,
        query: String,
    ) -> Result<BulkOperationRunQueryPayload> {
        let core = core(ctx)?;
        if let Err(message) = crate::bulk::check_query(&query) {
            return Ok(BulkOperationRunQueryPayload {
                bulk_operation: None,
                user_errors: vec![BulkOperationUserError {
                    code: Some(BulkOperationUserErrorCode::Invalid),
                    field: Some(vec!["query".into()]),
                    message,
                }],
            });
        }
        let op = {
            let mut bulk = lock(&core.bulk);
            if let Some(running) = bulk.active(BulkKind::Query) {
                return Ok(BulkOperationRunQueryPayload {
                    bulk_operation: None,
                    user_errors: vec![BulkOperationUserError {
                        code: Some(BulkOperationUserErrorCode::OperationInProgress),
                        field: None,
                        message: format!(
                            "A bulk query operation for this app and shop is already in progress: {}.",
                            gid("BulkOperation", running.id)
                        ),
                    }],
                });
            }
            bulk.create(BulkKind::Query, query.clone(), now()).clone()
        };
        // The id counter is persisted (ids are never reused).
        core.mirror_bulk();
        core.bulk_jobs
            .send(op.id)
            .map_err(|_| "the bulk operation runner has stopped")?;
        Ok(BulkOperationRunQueryPayload {
            bulk_operation: Some(BulkOperationObj(op)),
            user_errors: Vec::new(),
        })
    }
}

/// Run `productSet` on a target and build its payload (both API versions).
pub(super) fn run_product_set(
    core: &Core,
    input: &ProductSetInput,
    target: ops::ProductSetTarget<'_>,
    rules: &ops::ProductSetRules,
    synchronous: Option<bool>,
) -> ProductSetPayload {
    let sync = synchronous.unwrap_or(true);
    match core.mutate(|st| {
        let pid = ops::product_set(st, input, target, rules)?;
        let op = st.alloc();
        Ok((pid, op))
    }) {
        Ok(((pid, op), st)) => {
            let product = product_obj(&st, pid);
            ProductSetPayload {
                product: if sync { product.clone() } else { None },
                product_set_operation: (!sync).then(|| ProductSetOperationObj {
                    id: ID(gid("ProductSetOperation", op)),
                    product,
                    status: ProductOperationStatus::Complete,
                    user_errors: Vec::new(),
                }),
                user_errors: Vec::new(),
            }
        }
        Err(errs) => ProductSetPayload {
            product: None,
            product_set_operation: None,
            user_errors: conv(errs),
        },
    }
}

/// What an `inventorySetQuantities` answered: the adjustment group it made,
/// or its user errors. Kept as JSON for idempotent replays.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum InventoryAnswer {
    Applied {
        group: u64,
        created_at: String,
        reason: String,
        reference_document_uri: Option<String>,
        changes: Vec<ops::InvChange>,
    },
    Refused {
        errors: Vec<StoredError>,
    },
}

/// A user error as remembered (the code by its GraphQL name).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct StoredError {
    field: Vec<String>,
    message: String,
    code: Option<String>,
}

impl StoredError {
    /// A code-less user error to remember.
    pub(super) fn plain(e: UserErr<NoCode>) -> Self {
        StoredError {
            field: e.field,
            message: e.message,
            code: None,
        }
    }

    /// The code-less user error remembered.
    pub(super) fn into_plain(self) -> UserErr<NoCode> {
        UserErr {
            field: self.field,
            message: self.message,
            code: None,
        }
    }
}

impl InventoryAnswer {
    /// The answer of one run of the rules.
    pub(super) fn of(
        result: Result<
            (u64, Vec<ops::InvChange>),
            Vec<UserErr<InventorySetQuantitiesUserErrorCode>>,
        >,
        input: &InventorySetQuantitiesInput,
    ) -> Self {
        match result {
            Ok((group, changes)) => InventoryAnswer::Applied {
                group,
                created_at: now(),
                reason: input.reason.clone(),
                reference_document_uri: input.reference_document_uri.clone(),
                changes,
            },
            Err(errs) => InventoryAnswer::Refused {
                errors: errs
                    .into_iter()
                    .map(|e| StoredError {
                        field: e.field,
                        message: e.message,
                        code: e.code.as_ref().map(enum_name),
                    })
                    .collect(),
            },
        }
    }

    /// The payload, with items and locations read from `st`.
    pub(super) fn payload(self, st: &Arc<Store>) -> InventorySetQuantitiesPayload {
        match self {
            InventoryAnswer::Applied {
                group,
                created_at,
                reason,
                reference_document_uri,
                changes,
            } => InventorySetQuantitiesPayload {
                inventory_adjustment_group: Some(InventoryAdjustmentGroup {
                    changes: changes
                        .into_iter()
                        .map(|c| inventory_change(st, c))
                        .collect(),
                    created_at: DateTime(created_at),
                    id: ID(gid("InventoryAdjustmentGroup", group)),
                    reason,
                    reference_document_uri,
                }),
                user_errors: Vec::new(),
            },
            InventoryAnswer::Refused { errors } => InventorySetQuantitiesPayload {
                inventory_adjustment_group: None,
                user_errors: errors
                    .into_iter()
                    .map(|e| InventorySetQuantitiesUserError {
                        code: e.code.and_then(|c| {
                            InputType::parse(Some(async_graphql::Value::Enum(
                                async_graphql::Name::new(c),
                            )))
                            .ok()
                        }),
                        field: Some(e.field),
                        message: e.message,
                    })
                    .collect(),
            },
        }
    }
}

fn inventory_change(st: &Arc<Store>, c: ops::InvChange) -> InventoryChange {
    let item = match st.find(&gid("InventoryItem", c.item)) {
        Some(Found::InventoryItem { product, variant }) => {
            variant_obj(st, product, variant).map(InventoryItemObj)
        }
        _ => None,
    };
    InventoryChange {
        delta: i32::try_from(c.delta).unwrap_or(i32::MAX),
        item,
        ledger_document_uri: None,
        location: st.locations.get(&c.location).map(|l| LocationObj {
            st: st.clone(),
            loc: l.clone(),
        }),
        name: c.name,
        quantity_after_change: i32::try_from(c.after).ok(),
    }
}
