//! The sandbox's GraphQL schemas: Shopify's `QueryRoot` and `Mutation` with
//! the operations of docs/sandbox.md, built on async-graphql, for API
//! 2026-04 (the current version) and 2025-01 (`legacy`, which differs only
//! in `productSet` and `inventorySetQuantities`). Resolvers read a store
//! snapshot and send changes through [`Core::mutate`] and the rules in
//! [`crate::ops`]. Must not speak HTTP or compute cost.

pub mod bulk;
pub mod codes;
pub mod current;
pub mod errors;
pub mod files;
pub mod idempotent;
pub mod inputs;
pub mod introspection;
pub mod legacy;
pub mod mutation;
pub mod paging;
pub mod staged;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Object, Result, Schema, ID};

use self::current::Mutation;
use self::inputs::*;
use self::legacy::LegacyMutation;
use self::paging::{page, Key};
use self::types::*;
use super::bulkops::BulkKind;
use super::model::{gid, parse_gid, Found, Store};
use super::ops;
use super::runtime::{lock, Core};
use super::search::Search;

/// The mutations that need `@idempotent(key:)` in API 2026-04 (their
/// description in Shopify's schema says the key is required).
pub const IDEMPOTENT_MUTATIONS: &[&str] = &["inventorySetQuantities", "inventoryActivate"];

/// The schema of API 2026-04.
pub type SandboxSchema = Schema<QueryRoot, Mutation, EmptySubscription>;

/// The schema of API 2025-01.
pub type LegacySchema = Schema<QueryRoot, LegacyMutation, EmptySubscription>;

/// Build the 2026-04 schema over a core.
pub fn build(core: Arc<Core>) -> SandboxSchema {
    Schema::build(QueryRoot, Mutation::default(), EmptySubscription)
        .directive(idempotent::idempotent)
        .data(core)
        .limit_depth(30)
        .finish()
}

/// Build the 2025-01 schema over a core.
pub fn build_legacy(core: Arc<Core>) -> LegacySchema {
    Schema::build(QueryRoot, LegacyMutation::default(), EmptySubscription)
        .data(core)
        .limit_depth(30)
        .finish()
}

/// Build the 2026-04 schema without a core (introspection and cost tables only).
pub fn build_detached() -> SandboxSchema {
    Schema::build(QueryRoot, Mutation::default(), EmptySubscription)
        .directive(idempotent::idempotent)
        .finish()
}

/// Build the 2025-01 schema without a core (introspection only).
pub fn build_detached_legacy() -> LegacySchema {
    Schema::build(QueryRoot, LegacyMutation::default(), EmptySubscription).finish()
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
        Ok(Count::up_to(n, limit))
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
            .filter(|c| search.matches(&|f| collection_field(c, f)))
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

    async fn collections_count(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        limit: Option<i32>,
    ) -> Result<Count> {
        let st = core(ctx)?.snapshot();
        let search = Search::parse(query.as_deref().unwrap_or_default());
        let n = st
            .collections
            .values()
            .filter(|c| search.matches(&|f| collection_field(c, f)))
            .count();
        Ok(Count::up_to(n, limit))
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

    #[graphql(deprecation = "Use `bulkOperations` with status filter instead.")]
    async fn current_bulk_operation(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type", default_with = "Some(BulkOperationType::Query)")] kind: Option<
            BulkOperationType,
        >,
    ) -> Result<Option<BulkOperationObj>> {
        let kind = match kind {
            Some(BulkOperationType::Mutation) => BulkKind::Mutation,
            _ => BulkKind::Query,
        };
        Ok(bulk::current(core(ctx)?, kind))
    }

    async fn bulk_operation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<BulkOperationObj>> {
        Ok(bulk::bulk_operation(core(ctx)?, &id))
    }

    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `bulkOperations` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn bulk_operations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default_with = "Some(false)")] reverse: Option<bool>,
        #[graphql(default_with = "Some(BulkOperationsSortKeys::CreatedAt)")] sort_key: Option<
            BulkOperationsSortKeys,
        >,
        query: Option<String>,
    ) -> Result<BulkOperationConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        bulk::bulk_operations(core(ctx)?, &a, sort_key, query.as_deref())
    }
}

/// The values of a collection's search field `f` (`None`: not a field).
fn collection_field(c: &super::model::Collection, f: &str) -> Option<Vec<String>> {
    Some(match f {
        "title" => vec![c.title.clone()],
        "handle" => vec![c.handle.clone()],
        "id" => vec![c.id.to_string()],
        "collection_type" => vec!["custom".into()],
        "updated_at" => vec![c.updated_at.clone()],
        _ => return None,
    })
}
