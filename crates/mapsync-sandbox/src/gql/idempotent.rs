//! Shopify's `@idempotent(key:)` directive as API 2026-04 has it, shared by
//! the mutations of [`IDEMPOTENT_MUTATIONS`]: the key is mandatory; the
//! first answer per key is remembered in the store and returned again for
//! the same arguments without running the mutation a second time (counted
//! in the statistics); other arguments under a known key are a mismatch.
//! Must not speak HTTP or compute cost.

use std::sync::Arc;

use async_graphql::{Context, CustomDirective, Directive, ErrorExtensions, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Digest;

use super::IDEMPOTENT_MUTATIONS;
use crate::model::{now, IdempotentAnswer, Store};
use crate::runtime::{lock, Core};

/// What an idempotent mutation answers.
pub(super) enum Once<A> {
    /// The mutation ran now: its answer and the store after it.
    Ran(A, Arc<Store>),
    /// The key was known with the same arguments: the first answer, and
    /// the store as it is.
    Replayed(A, Arc<Store>),
    /// The key was known with other arguments (or another mutation).
    Mismatch,
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

/// Run the field's mutation once per idempotency key: `run` works on a
/// draft of the store and returns the answer to remember (an answer that
/// refuses the change must leave the draft as it was). `Ok(None)`: the key
/// is missing or blank; the field is then `null` and the request gets a
/// top-level error, as Shopify answers.
pub(super) fn run_once<A, F>(ctx: &Context<'_>, core: &Core, run: F) -> Result<Option<Once<A>>>
where
    A: Serialize + DeserializeOwned,
    F: FnOnce(&mut Store) -> A,
{
    let key = match idempotency_key(ctx) {
        Ok(k) => k,
        Err(e) => {
            ctx.add_error(ctx.set_error_path(e.into_server_error(ctx.item.pos)));
            return Ok(None);
        }
    };
    let fingerprint = fingerprint(ctx)?;
    let mutation = ctx.field().name();
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
        let answer = run(st);
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
    Ok(Some(match outcome {
        Ok((answer, st)) => Once::Ran(answer, st),
        Err(Replay::Answer(json)) => {
            let answer = serde_json::from_value::<A>(json)
                .map_err(|_| "the remembered answer of this idempotency key is unreadable")?;
            lock(&core.stats).idempotent_replays += 1;
            Once::Replayed(answer, core.snapshot())
        }
        Err(Replay::Mismatch) => Once::Mismatch,
        Err(Replay::Unrecorded) => return Err("the answer could not be recorded".into()),
    }))
}

/// The message of a key sent again with other arguments.
pub(super) const MISMATCH_MESSAGE: &str =
    "The same idempotency key cannot be used with different operation parameters.";

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
