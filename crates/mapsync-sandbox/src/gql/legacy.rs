//! API 2025-01, still answered at `/admin/api/2025-01/graphql.json` while
//! clients move to 2026-04: `productSet` names the product by `input.id`,
//! and `inventorySetQuantities` takes `compareQuantity` /
//! `ignoreCompareQuantity` and no idempotency key. Everything else is the
//! 2026-04 schema's. Must not hold business rules (those live in `ops`).

use async_graphql::{Context, InputObject, MaybeUndefined, MergedObject, Object, Result, ID};

use super::core;
use super::inputs::*;
use super::mutation::{
    run_product_set, CatalogMutation, InventoryAnswer, InventorySetQuantitiesPayload,
    ProductSetPayload,
};
use crate::ops;

/// Shopify's `Mutation` of API 2025-01.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct LegacyMutation(
    CatalogMutation,
    Mutation2025,
    super::bulk::BulkCancelMutation,
);

macro_rules! legacy_product_set_input {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// 2025-01's `ProductSetInput`: the 2026-04 fields and `id`.
        #[derive(InputObject, Debug, Clone, Default)]
        #[graphql(name = "ProductSetInput")]
        pub struct LegacyProductSetInput {
            pub id: Option<ID>,
            $(pub $field: $ty,)*
        }

        impl LegacyProductSetInput {
            /// The id and the 2026-04 input.
            pub fn split(self) -> (Option<ID>, ProductSetInput) {
                (self.id, ProductSetInput { $($field: self.$field,)* })
            }
        }
    };
}
product_set_fields!(legacy_product_set_input);

/// 2025-01's `InventoryQuantityInput`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "InventoryQuantityInput")]
pub struct LegacyInventoryQuantityInput {
    pub inventory_item_id: ID,
    pub location_id: ID,
    pub quantity: i32,
    pub compare_quantity: Option<i32>,
}

/// 2025-01's `InventorySetQuantitiesInput`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "InventorySetQuantitiesInput")]
pub struct LegacyInventorySetQuantitiesInput {
    pub reason: String,
    pub name: String,
    pub reference_document_uri: Option<String>,
    pub quantities: Vec<LegacyInventoryQuantityInput>,
    pub ignore_compare_quantity: Option<bool>,
}

impl LegacyInventorySetQuantitiesInput {
    /// The 2026-04 form: a compare quantity becomes `changeFromQuantity`,
    /// `ignoreCompareQuantity` a `null` one, neither an absent one.
    fn current(self) -> InventorySetQuantitiesInput {
        let ignore = self.ignore_compare_quantity == Some(true);
        InventorySetQuantitiesInput {
            reason: self.reason,
            name: self.name,
            reference_document_uri: self.reference_document_uri,
            quantities: self
                .quantities
                .into_iter()
                .map(|q| InventoryQuantityInput {
                    inventory_item_id: q.inventory_item_id,
                    location_id: q.location_id,
                    quantity: q.quantity,
                    change_from_quantity: match (ignore, q.compare_quantity) {
                        (true, _) => MaybeUndefined::Null,
                        (false, Some(c)) => MaybeUndefined::Value(c),
                        (false, None) => MaybeUndefined::Undefined,
                    },
                })
                .collect(),
        }
    }
}

/// `productSet` and `inventorySetQuantities` as 2025-01 has them.
#[derive(Default)]
pub struct Mutation2025;

#[Object]
impl Mutation2025 {
    async fn product_set(
        &self,
        ctx: &Context<'_>,
        input: LegacyProductSetInput,
        synchronous: Option<bool>,
    ) -> Result<ProductSetPayload> {
        let core = core(ctx)?;
        let (id, input) = input.split();
        let target = match &id {
            Some(id) => ops::ProductSetTarget::InputId(id),
            None => ops::ProductSetTarget::Create,
        };
        Ok(run_product_set(
            core,
            &input,
            target,
            &ops::PRODUCT_SET_2025_01,
            synchronous,
        ))
    }

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: LegacyInventorySetQuantitiesInput,
    ) -> Result<InventorySetQuantitiesPayload> {
        let core = core(ctx)?;
        let input = input.current();
        Ok(
            match core.mutate(|st| ops::inventory_set_quantities(st, &input, &ops::CAS_2025_01)) {
                Ok((done, st)) => InventoryAnswer::of(Ok(done), &input).payload(&st),
                Err(errs) => InventoryAnswer::of(Err(errs), &input).payload(&core.snapshot()),
            },
        )
    }
}
