//! mapsync: a declarative sync engine from catalog sources (PIMs, files) to
//! commerce targets (Shopify).
//!
//! Data flows one way: YAML text → raw model ([`config`]) → checked mapping
//! set ([`check`]) → plan → changes → effects. Only [`connectors`] and
//! [`state`] do I/O. See `ARCHITECTURE.md` for the module map and invariants.

pub mod check;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod diag;
pub mod engine;
pub mod exec;
pub mod hash;
pub mod metafield;
pub mod plan;
pub mod sandbox;
pub mod schema;
pub mod state;
pub mod syntax;
pub mod template;
