//! The sandbox's GraphQL schema: Shopify's `QueryRoot` and `Mutation` with
//! the operations of docs/sandbox.md, built on async-graphql. Resolvers read
//! a store snapshot and send changes through [`Core::mutate`] and the rules
//! in [`crate::ops`]. Must not speak HTTP or compute cost.

pub mod codes;
pub mod errors;
pub mod inputs;
pub mod introspection;
pub mod paging;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Object, Result, Schema, SimpleObject, ID};

use self::errors::*;
use self::inputs::*;
use self::paging::{page, Key};
use self::types::*;
use super::model::{gid, now, parse_gid, Found, Store};
use super::ops;
use super::runtime::{lock, BulkOp, Core};
use super::search::Search;

/// The schema type of the sandbox.
pub type SandboxSchema = Schema<QueryRoot, Mutation, EmptySubscription>;

/// Build the schema over a core.
pub fn build(core: Arc<Core>) -> SandboxSchema {
    Schema::build(QueryRoot, Mutation, EmptySubscription)
        .data(core)
        .limit_depth(30)
        .finish()
}

/// Build the schema without a core (introspection and cost tables only).
pub fn build_detached() -> SandboxSchema {
    Schema::build(QueryRoot, Mutation, EmptySubscription).finish()
}

fn core<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Core>> {
    ctx.data::<Arc<Core>>()
}

fn plan_name(core: &Core) -> &'static str {
    match core.config.plan {
        super::ShopPlan::Standard => "Basic",
        super::ShopPlan::Advanced => "Advanced",
        super::ShopPlan::Plus => "Shopify Plus",
        super::ShopPlan::Enterprise => "Enterprise",
        super::ShopPlan::Unlimited => "Development",
    }
}

fn product_obj(st: &Arc<Store>, id: u64) -> Option<ProductObj> {
    st.products.get(&id).map(|p| ProductObj {
        st: st.clone(),
        p: p.clone(),
    })
}

fn collection_obj(st: &Arc<Store>, id: u64) -> Option<CollectionObj> {
    st.collections.get(&id).map(|c| CollectionObj {
        st: st.clone(),
        c: c.clone(),
    })
}

fn variant_obj(st: &Arc<Store>, product: u64, variant: u64) -> Option<VariantObj> {
    let p = st.products.get(&product)?;
    let i = p.variants.iter().position(|v| v.id == variant)?;
    VariantObj::new(st.clone(), p.clone(), i)
}

fn node_of(core: &Core, st: &Arc<Store>, id: &str) -> Option<NodeObj> {
    if let Some(("BulkOperation", n)) = parse_gid(id) {
        return lock(&core.bulk)
            .ops
            .get(&n)
            .cloned()
            .map(|op| NodeObj::BulkOperation(BulkOperationObj(op)));
    }
    if let Some(("Metafield", n)) = parse_gid(id) {
        return find_metafield(st, n).map(NodeObj::Metafield);
    }
    Some(match st.find(id)? {
        Found::Product(p) => NodeObj::Product(product_obj(st, p)?),
        Found::Variant { product, variant } => {
            NodeObj::ProductVariant(variant_obj(st, product, variant)?)
        }
        Found::InventoryItem { product, variant } => {
            NodeObj::InventoryItem(InventoryItemObj(variant_obj(st, product, variant)?))
        }
        Found::Media { product, media } => NodeObj::MediaImage(MediaImageObj {
            m: st
                .products
                .get(&product)?
                .media
                .iter()
                .find(|m| m.id == media)?
                .clone(),
        }),
        Found::Collection(c) => NodeObj::Collection(collection_obj(st, c)?),
        Found::Location(l) => NodeObj::Location(LocationObj {
            st: st.clone(),
            loc: st.locations.get(&l)?.clone(),
        }),
        Found::MetafieldDefinition(d) => NodeObj::MetafieldDefinition(MetafieldDefinitionObj {
            st: st.clone(),
            d: st.metafield_definitions.get(&d)?.clone(),
        }),
        Found::Shop => NodeObj::Shop(ShopObj {
            st: st.clone(),
            plan: plan_name(core),
        }),
    })
}

fn find_metafield(st: &Store, id: u64) -> Option<MetafieldObj> {
    let hit = |list: &[super::model::Metafield], owner_type: &'static str| {
        list.iter().find(|m| m.id == id).map(|m| MetafieldObj {
            owner_type,
            m: m.clone(),
        })
    };
    for p in st.products.values() {
        if let Some(m) = hit(&p.metafields, "PRODUCT") {
            return Some(m);
        }
        for v in &p.variants {
            if let Some(m) = hit(&v.metafields, "PRODUCTVARIANT") {
                return Some(m);
            }
        }
    }
    for c in st.collections.values() {
        if let Some(m) = hit(&c.metafields, "COLLECTION") {
            return Some(m);
        }
    }
    hit(&st.shop.metafields, "SHOP")
}

fn product_field(p: &super::model::Product, field: &str) -> Option<Vec<String>> {
    Some(match field {
        "title" => vec![p.title.clone()],
        "handle" => vec![p.handle.clone()],
        "id" => vec![p.id.to_string()],
        "status" => vec![format!("{:?}", p.status).to_ascii_uppercase()],
        "vendor" => vec![p.vendor.clone()],
        "product_type" => vec![p.product_type.clone()],
        "tag" | "tags" => p.tags.clone(),
        "sku" => p.variants.iter().filter_map(|v| v.sku.clone()).collect(),
        "barcode" => p
            .variants
            .iter()
            .filter_map(|v| v.barcode.clone())
            .collect(),
        "updated_at" => vec![p.updated_at.clone()],
        "created_at" => vec![p.created_at.clone()],
        "collection_id" => p.collections.iter().map(|c| c.to_string()).collect(),
        _ => return None,
    })
}

/// Shopify's `QueryRoot`.
pub struct QueryRoot;

#[Object(name = "QueryRoot")]
impl QueryRoot {
    async fn shop(&self, ctx: &Context<'_>) -> Result<ShopObj> {
        let core = core(ctx)?;
        Ok(ShopObj {
            st: core.snapshot(),
            plan: plan_name(core),
        })
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `locations` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        sort_key: Option<LocationSortKeys>,
        query: Option<String>,
        include_inactive: Option<bool>,
    ) -> Result<LocationConnection> {
        let st = core(ctx)?.snapshot();
        let a = args(ctx, first, after, last, before, reverse);
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let by_name = !matches!(sort_key, Some(LocationSortKeys::Id));
        let mut items: Vec<(Key, LocationObj)> = st
            .locations
            .values()
            .filter(|l| l.is_active || include_inactive == Some(true))
            .filter(|l| {
                search.matches(&|f| match f {
                    "title" | "name" => Some(vec![l.name.clone()]),
                    "id" => Some(vec![l.id.to_string()]),
                    _ => None,
                })
            })
            .map(|l| {
                let key = if by_name {
                    l.name.clone()
                } else {
                    String::new()
                };
                (
                    (key, l.id),
                    LocationObj {
                        st: st.clone(),
                        loc: l.clone(),
                    },
                )
            })
            .collect();
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(LocationConnection::from_page(page(items.into_iter(), &a)?))
    }

    async fn location(&self, ctx: &Context<'_>, id: Option<ID>) -> Result<Option<LocationObj>> {
        let st = core(ctx)?.snapshot();
        let lid = match id {
            Some(id) => match st.find(&id) {
                Some(Found::Location(l)) => Some(l),
                _ => None,
            },
            None => st.primary_location(),
        };
        Ok(lid.and_then(|l| st.locations.get(&l)).map(|l| LocationObj {
            st: st.clone(),
            loc: l.clone(),
        }))
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `products` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        sort_key: Option<ProductSortKeys>,
        query: Option<String>,
    ) -> Result<ProductConnection> {
        let st = core(ctx)?.snapshot();
        let a = args(ctx, first, after, last, before, reverse);
        a.check()?;
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let keep = |p: &super::model::Product| {
            search.is_empty() || search.matches(&|f| product_field(p, f))
        };
        let obj = |p: &Arc<super::model::Product>| ProductObj {
            st: st.clone(),
            p: p.clone(),
        };
        let sort = sort_key.unwrap_or(ProductSortKeys::Id);
        if sort == ProductSortKeys::Id && !a.reverse && a.last.is_none() && a.before.is_none() {
            // Fast path: ids are the map order; start right after the cursor.
            let start = a.after_key()?.map(|k| k.1.saturating_add(1)).unwrap_or(0);
            let items = st
                .products
                .range(start..)
                .filter(|(_, p)| keep(p))
                .map(|(id, p)| ((String::new(), *id), obj(p)));
            return Ok(ProductConnection::from_page(page(items, &a)?));
        }
        let mut items: Vec<(Key, ProductObj)> = st
            .products
            .values()
            .filter(|p| keep(p))
            .map(|p| {
                let v = match sort {
                    ProductSortKeys::Title => p.title.to_lowercase(),
                    ProductSortKeys::UpdatedAt => p.updated_at.clone(),
                    ProductSortKeys::CreatedAt | ProductSortKeys::PublishedAt => {
                        p.created_at.clone()
                    }
                    ProductSortKeys::Vendor => p.vendor.to_lowercase(),
                    ProductSortKeys::ProductType => p.product_type.to_lowercase(),
                    ProductSortKeys::InventoryTotal => {
                        let t: i64 = p
                            .variants
                            .iter()
                            .flat_map(|v| v.inventory_item.levels.values())
                            .map(|l| l.available)
                            .sum();
                        format!("{:020}", i128::from(t) + i128::from(i64::MAX))
                    }
                    ProductSortKeys::Id | ProductSortKeys::Relevance => String::new(),
                };
                ((v, p.id), obj(p))
            })
            .collect();
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(ProductConnection::from_page(page(items.into_iter(), &a)?))
    }

    async fn products_count(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        limit: Option<i32>,
    ) -> Result<Count> {
        let st = core(ctx)?.snapshot();
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let n = st
            .products
            .values()
            .filter(|p| search.matches(&|f| product_field(p, f)))
            .count();
        Ok(match limit.and_then(|l| usize::try_from(l).ok()) {
            Some(l) if n > l => Count {
                count: i32::try_from(l).unwrap_or(i32::MAX),
                precision: CountPrecision::AtLeast,
            },
            _ => Count::exact(n),
        })
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ProductObj>> {
        let st = core(ctx)?.snapshot();
        Ok(match st.find(&id) {
            Some(Found::Product(p)) => product_obj(&st, p),
            _ => None,
        })
    }

    async fn product_by_identifier(
        &self,
        ctx: &Context<'_>,
        identifier: ProductIdentifierInput,
    ) -> Result<Option<ProductObj>> {
        let st = core(ctx)?.snapshot();
        let given = [
            identifier.id.is_some(),
            identifier.handle.is_some(),
            identifier.custom_id.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            return Err("Exactly one of id, handle or customId must be given".into());
        }
        let id = if let Some(id) = identifier.id {
            match st.find(&id) {
                Some(Found::Product(p)) => Some(p),
                _ => None,
            }
        } else if let Some(h) = identifier.handle {
            st.product_handles.get(h.as_str()).copied()
        } else if let Some(c) = identifier.custom_id {
            let ns = super::validate::resolve_namespace(c.namespace.as_deref());
            st.product_by_metafield(&ns, &c.key, &c.value)
        } else {
            None
        };
        Ok(id.and_then(|p| product_obj(&st, p)))
    }

    async fn product_by_handle(
        &self,
        ctx: &Context<'_>,
        handle: String,
    ) -> Result<Option<ProductObj>> {
        let st = core(ctx)?.snapshot();
        Ok(st
            .product_handles
            .get(handle.as_str())
            .and_then(|&p| product_obj(&st, p)))
    }

    async fn product_variant(&self, ctx: &Context<'_>, id: ID) -> Result<Option<VariantObj>> {
        let st = core(ctx)?.snapshot();
        Ok(match st.find(&id) {
            Some(Found::Variant { product, variant }) => variant_obj(&st, product, variant),
            _ => None,
        })
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `productVariants` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn product_variants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
    ) -> Result<ProductVariantConnection> {
        let st = core(ctx)?.snapshot();
        let a = args(ctx, first, after, last, before, reverse);
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let mut items: Vec<(Key, VariantObj)> = Vec::new();
        for p in st.products.values() {
            for (i, v) in p.variants.iter().enumerate() {
                let ok = search.matches(&|f| match f {
                    "sku" => Some(v.sku.clone().into_iter().collect()),
                    "barcode" => Some(v.barcode.clone().into_iter().collect()),
                    "id" => Some(vec![v.id.to_string()]),
                    "product_id" => Some(vec![p.id.to_string()]),
                    "title" => Some(vec![p.variant_title(v)]),
                    "updated_at" => Some(vec![v.updated_at.clone()]),
                    _ => None,
                });
                if ok {
                    if let Some(obj) = VariantObj::new(st.clone(), p.clone(), i) {
                        items.push(((String::new(), v.id), obj));
                    }
                }
            }
        }
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(ProductVariantConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }

    async fn inventory_item(&self, ctx: &Context<'_>, id: ID) -> Result<Option<InventoryItemObj>> {
        let st = core(ctx)?.snapshot();
        Ok(match st.find(&id) {
            Some(Found::InventoryItem { product, variant }) => {
                variant_obj(&st, product, variant).map(InventoryItemObj)
            }
            _ => None,
        })
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `collections` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        sort_key: Option<CollectionSortKeys>,
        query: Option<String>,
    ) -> Result<CollectionConnection> {
        let st = core(ctx)?.snapshot();
        let a = args(ctx, first, after, last, before, reverse);
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let sort = sort_key.unwrap_or(CollectionSortKeys::Id);
        let mut items: Vec<(Key, CollectionObj)> = st
            .collections
            .values()
            .filter(|c| {
                search.matches(&|f| {
                    Some(match f {
                        "title" => vec![c.title.clone()],
                        "handle" => vec![c.handle.clone()],
                        "id" => vec![c.id.to_string()],
                        "collection_type" => vec!["custom".into()],
                        "updated_at" => vec![c.updated_at.clone()],
                        _ => return None,
                    })
                })
            })
            .map(|c| {
                let v = match sort {
                    CollectionSortKeys::Title => c.title.to_lowercase(),
                    CollectionSortKeys::UpdatedAt => c.updated_at.clone(),
                    _ => String::new(),
                };
                (
                    (v, c.id),
                    CollectionObj {
                        st: st.clone(),
                        c: c.clone(),
                    },
                )
            })
            .collect();
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(CollectionConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }

    async fn collection(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CollectionObj>> {
        let st = core(ctx)?.snapshot();
        Ok(match st.find(&id) {
            Some(Found::Collection(c)) => collection_obj(&st, c),
            _ => None,
        })
    }

    async fn collection_by_handle(
        &self,
        ctx: &Context<'_>,
        handle: String,
    ) -> Result<Option<CollectionObj>> {
        let st = core(ctx)?.snapshot();
        Ok(st
            .collection_handles
            .get(handle.as_str())
            .and_then(|&c| collection_obj(&st, c)))
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `metafieldDefinitions` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn metafield_definitions(
        &self,
        ctx: &Context<'_>,
        owner_type: MetafieldOwnerType,
        namespace: Option<String>,
        key: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MetafieldDefinitionConnection> {
        let st = core(ctx)?.snapshot();
        let a = args(ctx, first, after, last, before, reverse);
        let owner = enum_name(&owner_type);
        let mut items: Vec<(Key, MetafieldDefinitionObj)> = st
            .metafield_definitions
            .values()
            .filter(|d| d.owner_type == owner)
            .filter(|d| namespace.as_deref().is_none_or(|n| d.namespace == n))
            .filter(|d| key.as_deref().is_none_or(|k| d.key == k))
            .map(|d| {
                (
                    (String::new(), d.id),
                    MetafieldDefinitionObj {
                        st: st.clone(),
                        d: d.clone(),
                    },
                )
            })
            .collect();
        if a.reverse {
            items.reverse();
        }
        Ok(MetafieldDefinitionConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }

    async fn publications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<PublicationConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let online_store = PublicationObj {
            id: ID(gid("Publication", ops::ONLINE_STORE_PUBLICATION)),
            name: "Online Store".into(),
            auto_publish: true,
            supports_future_publishing: true,
        };
        let items = vec![((String::new(), ops::ONLINE_STORE_PUBLICATION), online_store)];
        Ok(PublicationConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }

    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<NodeObj>> {
        let core = core(ctx)?;
        let st = core.snapshot();
        Ok(node_of(core, &st, &id))
    }

    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<NodeObj>>> {
        let core = core(ctx)?;
        if ids.len() > 250 {
            return Err("The ids argument accepts at most 250 ids".into());
        }
        let st = core.snapshot();
        Ok(ids.iter().map(|id| node_of(core, &st, id)).collect())
    }

    async fn current_bulk_operation(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] kind: Option<BulkOperationType>,
    ) -> Result<Option<BulkOperationObj>> {
        let core = core(ctx)?;
        if kind == Some(BulkOperationType::Mutation) {
            return Ok(None);
        }
        let bulk = lock(&core.bulk);
        Ok(bulk.ops.values().next_back().cloned().map(BulkOperationObj))
    }
}

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

/// Shopify's `BulkOperationRunQueryPayload`.
#[derive(SimpleObject)]
#[graphql(name = "BulkOperationRunQueryPayload")]
pub struct BulkOperationRunQueryPayload {
    pub bulk_operation: Option<BulkOperationObj>,
    pub user_errors: Vec<BulkOperationUserError>,
}

fn conv<C, T: From<UserErr<C>>>(errs: Vec<UserErr<C>>) -> Vec<T> {
    errs.into_iter().map(T::from).collect()
}

/// Shopify's `Mutation`.
pub struct Mutation;

#[Object(name = "Mutation")]
impl Mutation {
    async fn product_set(
        &self,
        ctx: &Context<'_>,
        input: ProductSetInput,
        synchronous: Option<bool>,
    ) -> Result<ProductSetPayload> {
        let core = core(ctx)?;
        let sync = synchronous.unwrap_or(true);
        match core.mutate(|st| {
            let pid = ops::product_set(st, &input)?;
            let op = st.alloc();
            Ok((pid, op))
        }) {
            Ok(((pid, op), st)) => {
                let product = product_obj(&st, pid);
                Ok(ProductSetPayload {
                    product: if sync { product.clone() } else { None },
                    product_set_operation: (!sync).then(|| ProductSetOperationObj {
                        id: ID(gid("ProductSetOperation", op)),
                        product,
                        status: ProductOperationStatus::Complete,
                        user_errors: Vec::new(),
                    }),
                    user_errors: Vec::new(),
                })
            }
            Err(errs) => Ok(ProductSetPayload {
                product: None,
                product_set_operation: None,
                user_errors: conv(errs),
            }),
        }
    }

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

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> Result<InventorySetQuantitiesPayload> {
        let core = core(ctx)?;
        Ok(
            match core.mutate(|st| ops::inventory_set_quantities(st, &input)) {
                Ok(((group, changes), st)) => {
                    let changes = changes
                        .into_iter()
                        .map(|c| {
                            let item = match st.find(&gid("InventoryItem", c.item)) {
                                Some(Found::InventoryItem { product, variant }) => {
                                    variant_obj(&st, product, variant).map(InventoryItemObj)
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
                        })
                        .collect();
                    InventorySetQuantitiesPayload {
                        inventory_adjustment_group: Some(InventoryAdjustmentGroup {
                            changes,
                            created_at: DateTime(now()),
                            id: ID(gid("InventoryAdjustmentGroup", group)),
                            reason: input.reason.clone(),
                            reference_document_uri: input.reference_document_uri.clone(),
                        }),
                        user_errors: Vec::new(),
                    }
                }
                Err(e) => InventorySetQuantitiesPayload {
                    inventory_adjustment_group: None,
                    user_errors: conv(e),
                },
            },
        )
    }

    async fn bulk_operation_run_query(
        &self,
        ctx: &Context<'_>,
        query: String,
    ) -> Result<BulkOperationRunQueryPayload> {
        let core = core(ctx)?;
        if let Err(message) = super::bulk::check_query(&query) {
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
            if bulk
                .ops
                .values()
                .any(|o| matches!(o.status, "CREATED" | "RUNNING"))
            {
                return Ok(BulkOperationRunQueryPayload {
                    bulk_operation: None,
                    user_errors: vec![BulkOperationUserError {
                        code: Some(BulkOperationUserErrorCode::OperationInProgress),
                        field: None,
                        message:
                            "A bulk query operation for this app and shop is already in progress"
                                .into(),
                    }],
                });
            }
            let id = bulk.next_id;
            bulk.next_id += 1;
            let op = BulkOp {
                id,
                query: query.clone(),
                status: "CREATED",
                error_code: None,
                created_at: now(),
                completed_at: None,
                object_count: 0,
                root_object_count: 0,
                file_size: None,
                url: None,
            };
            bulk.ops.insert(id, op.clone());
            op
        };
        core.bulk_jobs
            .send(op.id)
            .map_err(|_| "the bulk operation runner has stopped")?;
        Ok(BulkOperationRunQueryPayload {
            bulk_operation: Some(BulkOperationObj(op)),
            user_errors: Vec::new(),
        })
    }
}
