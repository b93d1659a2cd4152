//! The mutations of API 2026-04 that differ from 2025-01: `productSet`
//! with its `identifier` (upsert by id, handle or custom id) and
//! `inventorySetQuantities` with `changeFromQuantity` and the mandatory
//! `@idempotent(key:)` directive, whose first answer per key is remembered
//! in the store and replayed. Must not speak HTTP or compute cost.

use std::sync::Arc;

use async_graphql::{
    Context, CustomDirective, Directive, ErrorExtensions, MergedObject, Object, Result,
};
use sha2::Digest;

use super::inputs::*;
use super::mutation::{
    run_product_set, CatalogMutation, InventoryAnswer, InventorySetQuantitiesPayload,
    ProductSetPayload,
};
use super::{core, IDEMPOTENT_MUTATIONS};
use crate::model::{now, IdempotentAnswer};
use crate::ops;

/// Shopify's `Mutation` of API 2026-04.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(CatalogMutation, CurrentMutation);

/// `productSet` and `inventorySetQuantities` as 2026-04 has them.
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
        Ok(run_product_set(core, &input, target, synchronous))
    }

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> Result<Option<InventorySetQuantitiesPayload>> {
        let core = core(ctx)?;
        let key = match idempotency_key(ctx) {
            Ok(k) => k,
            Err(e) => {
                // As Shopify answers: the field is null, the error top-level.
                ctx.add_error(ctx.set_error_path(e.into_server_error(ctx.item.pos)));
                return Ok(None);
            }
        };
        let fingerprint = fingerprint(ctx)?;
        let mutation = "inventorySetQuantities";
        let outcome = core.mutate(|st| {
            if let Some(first) = st.idempotency.find(&key) {
                return Err(
                    if first.mutation == mutation && first.fingerprint == fingerprint {
                        Replay::Answer(first.answer.clone())
                    } else {
                        Replay::Mismatch
                    },
                );
            }
            let result = ops::inventory_set_quantities(st, &input, &ops::CAS_2026_04);
            let answer = InventoryAnswer::of(result, &input);
            let json = serde_json::to_value(&answer).map_err(|_| Replay::Unrecorded)?;
            Arc::make_mut(&mut st.idempotency).remember(IdempotentAnswer {
                key: key.clone(),
                mutation: mutation.into(),
                fingerprint: fingerprint.clone(),
                answer: json,
                created_at: now(),
            });
            Ok(answer)
        });
        let payload = match outcome {
            Ok((answer, st)) => answer.payload(&st),
            Err(Replay::Answer(json)) => serde_json::from_value::<InventoryAnswer>(json)
                .map_err(|_| "the remembered answer of this idempotency key is unreadable")?
                .payload(&core.snapshot()),
            Err(Replay::Mismatch) => mismatch(),
            Err(Replay::Unrecorded) => return Err("the answer could not be recorded".into()),
        };
        Ok(Some(payload))
    }
}

/// Why a mutation with a known idempotency key does not run.
enum Replay {
    /// The key was used with the same arguments: its first answer.
    Answer(serde_json::Value),
    /// The key was used with other arguments (or another mutation).
    Mismatch,
    /// The answer could not be turned into JSON (a bug).
    Unrecorded,
}

fn mismatch() -> InventorySetQuantitiesPayload {
    InventorySetQuantitiesPayload {
        inventory_adjustment_group: None,
        user_errors: vec![super::errors::InventorySetQuantitiesUserError {
            code: Some(
                super::errors::InventorySetQuantitiesUserErrorCode::IdempotencyKeyParameterMismatch,
            ),
            field: None,
            message: "The same idempotency key cannot be used with different operation parameters."
                .into(),
        }],
    }
}

/// A top-level error refusing the request (`BAD_REQUEST`).
fn refused(message: String) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", "BAD_REQUEST"))
}

/// The key of the field's `@idempotent(key:)` directive: mandatory, not blank.
fn idempotency_key(ctx: &Context<'_>) -> Result<String> {
    let field = ctx.field();
    let name = field.name();
    debug_assert!(IDEMPOTENT_MUTATIONS.contains(&name));
    let key = field
        .directives()?
        .into_iter()
        .find(|d| d.name.node.as_str() == "idempotent")
        .and_then(|d| {
            d.arguments
                .into_iter()
                .find(|(n, _)| n.node.as_str() == "key")
                .map(|(_, v)| v.node)
        });
    match key {
        None => Err(refused(format!(
            "The @idempotent directive is required for {name} as of API version 2026-04: \
             add @idempotent(key: \"<unique key>\") to the field."
        ))),
        Some(async_graphql::Value::String(k)) if !k.trim().is_empty() => Ok(k),
        Some(_) => Err(refused(
            "The idempotency key cannot be an empty string or whitespace only.".into(),
        )),
    }
}

/// Digest of the field's arguments (variables resolved, object keys sorted).
fn fingerprint(ctx: &Context<'_>) -> Result<String> {
    let args = ctx.field().arguments()?;
    let mut h = sha2::Sha256::new();
    h.update(ctx.field().name().as_bytes());
    for (name, value) in args {
        h.update([0]);
        h.update(name.as_bytes());
        h.update([0]);
        h.update(canonical(&value.into_json()?).as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// JSON text with object keys in sorted order.
fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(k.as_str()),
                        canonical(&m[k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// Shopify's `@idempotent(key: String!)` on fields. The resolvers of
/// [`IDEMPOTENT_MUTATIONS`] read the key; elsewhere it changes nothing.
pub struct Idempotent;

impl CustomDirective for Idempotent {}

/// The directive's declaration (registered with the 2026-04 schema).
#[Directive(location = "Field", name = "idempotent")]
pub fn idempotent(key: String) -> impl CustomDirective {
    let _ = key;
    Idempotent
}
