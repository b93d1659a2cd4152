//! The mutations of API 2026-04 that differ from 2025-01: `productSet`
//! with its `identifier` (upsert by id, handle or custom id) and quantities
//! of existing variants only where they are stocked;
//! `inventorySetQuantities` with `changeFromQuantity`; `inventoryActivate`.
//! The inventory mutations need the `@idempotent(key:)` directive
//! ([`super::idempotent`]). Must not speak HTTP or compute cost.

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Object, Result, ID};

use super::core;
use super::errors::{
    InventorySetQuantitiesUserError, InventorySetQuantitiesUserErrorCode, NoCode, UserErr,
    UserError,
};
use super::idempotent::{run_once, Once, MISMATCH_MESSAGE};
use super::inputs::*;
use super::mutation::{
    conv, run_product_set, CatalogMutation, InventoryActivatePayload, InventoryAnswer,
    InventorySetQuantitiesPayload, ProductSetPayload, StoredError,
};
use super::types::InventoryLevelObj;
use crate::model::{gid, Found, Store};
use crate::ops;

/// Shopify's `Mutation` of API 2026-04.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    CatalogMutation,
    CurrentMutation,
    super::staged::StagedMutation,
    super::bulk::BulkImportMutation,
    super::bulk::BulkCancelMutation,
    super::files::FileMutation,
);

/// `productSet`, `inventorySetQuantities` and `inventoryActivate` as 2026-04
/// has them.
#[derive(Default)]
pub struct CurrentMutation;

#[Object]
impl CurrentMutation {
    async fn product_set(
        &self,
        ctx: &Context<'_>,
        input: ProductSetInput,
        synchronous: Option<bool>,
        identifier: Option<ProductSetIdentifiers>,
    ) -> Result<ProductSetPayload> {
        let core = core(ctx)?;
        let target = match &identifier {
            Some(i) => ops::ProductSetTarget::Identifier(i),
            None => ops::ProductSetTarget::Create,
        };
        Ok(run_product_set(
            core,
            &input,
            target,
            &ops::PRODUCT_SET_2026_04,
            synchronous,
        ))
    }

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> Result<Option<InventorySetQuantitiesPayload>> {
        let core = core(ctx)?;
        let once = run_once(ctx, core, |st| {
            let result = ops::inventory_set_quantities(st, &input, &ops::CAS_2026_04);
            InventoryAnswer::of(result, &input)
        })?;
        Ok(once.map(|once| match once {
            Once::Ran(answer, st) | Once::Replayed(answer, st) => answer.payload(&st),
            Once::Mismatch => InventorySetQuantitiesPayload {
                inventory_adjustment_group: None,
                user_errors: vec![InventorySetQuantitiesUserError {
                    code: Some(
                        InventorySetQuantitiesUserErrorCode::IdempotencyKeyParameterMismatch,
                    ),
                    field: None,
                    message: MISMATCH_MESSAGE.into(),
                }],
            },
        }))
    }

    async fn inventory_activate(
        &self,
        ctx: &Context<'_>,
        inventory_item_id: ID,
        location_id: ID,
        available: Option<i32>,
        on_hand: Option<i32>,
        #[graphql(default_with = "Some(false)")] stock_at_legacy_location: Option<bool>,
    ) -> Result<Option<InventoryActivatePayload>> {
        // No fulfillment service locations in the sandbox: nothing to move.
        let _ = stock_at_legacy_location;
        let core = core(ctx)?;
        let args = ops::Activate {
            inventory_item_id: &inventory_item_id,
            location_id: &location_id,
            available,
            on_hand,
        };
        let once = run_once(ctx, core, |st| {
            ActivateAnswer::of(ops::inventory_activate(st, &args))
        })?;
        Ok(once.map(|once| match once {
            Once::Ran(answer, st) | Once::Replayed(answer, st) => answer.payload(&st),
            Once::Mismatch => InventoryActivatePayload {
                inventory_level: None,
                user_errors: vec![UserError {
                    field: None,
                    message: MISMATCH_MESSAGE.into(),
                }],
            },
        }))
    }
}

/// What an `inventoryActivate` answered: the level (stocked now or
/// before), or its user errors. Kept as JSON for idempotent replays.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum ActivateAnswer {
    Stocked { item: u64, location: u64 },
    Refused { errors: Vec<StoredError> },
}

impl ActivateAnswer {
    fn of(result: Result<ops::Activated, Vec<UserErr<NoCode>>>) -> Self {
        match result {
            Ok(a) => ActivateAnswer::Stocked {
                item: a.item,
                location: a.location,
            },
            Err(errs) => ActivateAnswer::Refused {
                errors: errs.into_iter().map(StoredError::plain).collect(),
            },
        }
    }

    /// The payload, with the level read from `st` (`null` if it is gone).
    fn payload(self, st: &Arc<Store>) -> InventoryActivatePayload {
        match self {
            ActivateAnswer::Stocked { item, location } => InventoryActivatePayload {
                inventory_level: level_obj(st, item, location),
                user_errors: Vec::new(),
            },
            ActivateAnswer::Refused { errors } => InventoryActivatePayload {
                inventory_level: None,
                user_errors: conv(errors.into_iter().map(StoredError::into_plain).collect()),
            },
        }
    }
}

/// The level of inventory item `item` at `location`, if it exists.
fn level_obj(st: &Arc<Store>, item: u64, location: u64) -> Option<InventoryLevelObj> {
    let Some(Found::InventoryItem { product, variant }) = st.find(&gid("InventoryItem", item))
    else {
        return None;
    };
    let p = st.products.get(&product)?;
    let i = p.variants.iter().position(|v| v.id == variant)?;
    p.variants
        .get(i)?
        .inventory_item
        .levels
        .contains_key(&location)
        .then(|| InventoryLevelObj {
            st: st.clone(),
            p: p.clone(),
            i,
            loc: location,
        })
}
