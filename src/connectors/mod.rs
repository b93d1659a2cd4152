//! Connectors: the only modules (with `state`) that talk to the outside
//! world. Each one speaks to one system behind the `Source` / `Target`
//! traits and never leaks its wire types upward.

pub mod file;
pub mod shopify;
