//! The `uniqueValues` capability of metafield definitions (always on for
//! the `id` type): no two owners of one type hold the same value of such a
//! definition. A mutation checks after it wrote its metafields (so values
//! set in the same call see each other) and claims the values in the
//! store's index, which also finds a product by its custom id. Must not do
//! I/O or know about GraphQL.

use std::collections::HashMap;

use crate::model::{MetafieldDefinition, Store};
use crate::ops::{metafields_of, Owner};

/// A metafield value an owner holds after a write, with the input field
/// the value came from.
#[derive(Debug, Clone)]
pub struct Held {
    pub owner: Owner,
    pub namespace: String,
    pub key: String,
    pub value: String,
    pub field: Vec<String>,
}

/// The definition with unique values of an owner type, namespace and key.
pub fn unique_definition<'a>(
    st: &'a Store,
    owner_type: &str,
    namespace: &str,
    key: &str,
) -> Option<&'a MetafieldDefinition> {
    st.metafield_definitions.values().find(|d| {
        d.owner_type == owner_type
            && d.namespace == namespace
            && d.key == key
            && d.has_unique_values()
    })
}

/// Whether the owner with global id `owner` holds `value` for `namespace.key`.
fn holds(st: &Store, owner: &str, namespace: &str, key: &str, value: &str) -> bool {
    Owner::of(st, owner).is_some_and(|o| {
        metafields_of(st, o)
            .iter()
            .any(|m| m.namespace == namespace && m.key == key && m.value == value)
    })
}

/// The owner (global id) holding a value of a definition with unique values.
pub fn owner_of(
    st: &Store,
    owner_type: &str,
    namespace: &str,
    key: &str,
    value: &str,
) -> Option<String> {
    let k = (
        owner_type.to_string(),
        namespace.to_string(),
        key.to_string(),
        value.to_string(),
    );
    st.unique_index
        .get(&k)
        .filter(|o| holds(st, o, namespace, key, value))
        .cloned()
}

/// Check the values just written against definitions with unique values
/// and claim them; returns the field and message of each clash (the caller
/// then drops its draft).
pub fn claim(st: &mut Store, held: &[Held]) -> Vec<(Vec<String>, String)> {
    let mut clashes = Vec::new();
    for h in held {
        let owner_type = h.owner.owner_type();
        if unique_definition(st, owner_type, &h.namespace, &h.key).is_none() {
            continue;
        }
        let me = h.owner.gid(st);
        match owner_of(st, owner_type, &h.namespace, &h.key, &h.value) {
            Some(other) if other == me => {}
            Some(_) => clashes.push((
                h.field.clone(),
                format!(
                    "Value '{}' is already taken: {}.{} has unique values and another {} holds it",
                    h.value,
                    h.namespace,
                    h.key,
                    owner_type.to_ascii_lowercase()
                ),
            )),
            None => {
                let k = (
                    owner_type.to_string(),
                    h.namespace.clone(),
                    h.key.clone(),
                    h.value.clone(),
                );
                st.unique_index.insert(k, me);
            }
        }
    }
    clashes
}

/// Whether the metafields a definition already has hold distinct values
/// (the capability can be turned on only then).
pub fn values_are_distinct(st: &Store, d: &MetafieldDefinition) -> bool {
    let mut seen: HashMap<String, String> = HashMap::new();
    st.definition_values(d)
        .into_iter()
        .all(|(owner, value)| seen.insert(value, owner).is_none())
}
