//! The kinds of item mapsync syncs: one enum for the whole workspace.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kinds of item mapsync syncs. Variants live inside products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    /// A category (Shopify: custom collection).
    Category,
    /// A product with its variants.
    Product,
}

impl Entity {
    /// Every entity, in sync order (categories before products).
    pub const ALL: [Entity; 2] = [Entity::Category, Entity::Product];

    /// The name used in files, rules and the ledger: `category` / `product`.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Category => "category",
            Entity::Product => "product",
        }
    }

    /// The plural used as a key in `{categories: [...], products: [...]}`.
    pub fn plural(self) -> &'static str {
        match self {
            Entity::Category => "categories",
            Entity::Product => "products",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not `category` or `product`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity '{0}': expected `category` or `product`")]
pub struct UnknownEntity(pub String);

impl FromStr for Entity {
    type Err = UnknownEntity;

    fn from_str(s: &str) -> Result<Entity, UnknownEntity> {
        match s {
            "category" => Ok(Entity::Category),
            "product" => Ok(Entity::Product),
            other => Err(UnknownEntity(other.to_string())),
        }
    }
}
