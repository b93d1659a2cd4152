//! The catalog's change token (`Target::change_token`): one small query
//! whose answer changes whenever the reduced read's answer may have.

use serde::Deserialize;
use serde_json::json;

use super::cost;
use super::documents;
use super::error::ShopifyError;
use super::read::ShopifyTarget;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeTokenData {
    products_count: Option<Count>,
    collections_count: Option<Count>,
    products: Nodes,
    collections: Nodes,
}

#[derive(Deserialize)]
struct Count {
    count: i64,
}

#[derive(Deserialize)]
struct Nodes {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    updated_at: String,
}

/// A change at most this long before the token was taken may have a
/// sibling in the same second of `updatedAt` (Shopify's precision) that
/// the token cannot tell apart: no token then.
const SETTLING: time::Duration = time::Duration::seconds(5);

impl ShopifyTarget {
    /// Product and collection counts and the last-changed of each, as one
    /// text; `None` while the last change is too recent to be told apart
    /// from a later one in the same second.
    pub async fn change_token(&self) -> Result<Option<String>, ShopifyError> {
        let now = time::OffsetDateTime::now_utc();
        let answer = self
            .client()
            .execute::<ChangeTokenData>(&documents::CHANGE_TOKEN, json!({}), cost::change_token())
            .await?;
        Ok(token_of(&answer.data, now))
    }
}

fn token_of(d: &ChangeTokenData, now: time::OffsetDateTime) -> Option<String> {
    let (Some(products), Some(collections)) = (&d.products_count, &d.collections_count) else {
        return None;
    };
    let mut token = format!("p{}:c{}", products.count, collections.count);
    for node in d.products.nodes.iter().chain(&d.collections.nodes) {
        let at = time::OffsetDateTime::parse(
            &node.updated_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        if now - at < SETTLING {
            return None;
        }
        token.push_str(&format!(":{}@{}", node.id, node.updated_at));
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(updated: &str) -> ChangeTokenData {
        serde_json::from_value(json!({
            "productsCount": {"count": 3},
            "collectionsCount": {"count": 1},
            "products": {"nodes": [{"id": "gid://shopify/Product/9", "updatedAt": updated}]},
            "collections": {"nodes": []},
        }))
        .unwrap()
    }

    #[test]
    fn the_token_names_counts_and_the_last_change() {
        let now = time::macros::datetime!(2026-12-02 10:00:00 UTC);
        assert_eq!(
            token_of(&data("2026-12-02T09:00:00Z"), now).as_deref(),
            Some("p3:c1:gid://shopify/Product/9@2026-12-02T09:00:00Z")
        );
        // A change two seconds ago could have a twin in its second.
        assert_eq!(token_of(&data("2026-12-02T09:59:58Z"), now), None);
        // A date that does not parse gives no token rather than a wrong one.
        assert_eq!(token_of(&data("yesterday"), now), None);
    }
}
