//! mapsync: a declarative sync engine from catalog sources (PIMs, files) to
//! commerce targets. This crate is the command-line binary: it registers the
//! connectors, parses the command line, renders and chooses exit codes. The
//! work is done by the `mapsync-*` crates under `crates/` (see
//! `ARCHITECTURE.md`); their modules are re-exported here under the names
//! the tests and benches use.

pub mod cli;

pub use mapsync_config::{check, metafield, schema, template};
pub use mapsync_core::{diag, hash};
pub use mapsync_engine::{engine, exec};
pub use mapsync_sandbox as sandbox;
pub use mapsync_state as state;
pub use mapsync_statedb as statedb;
pub use mapsync_syntax as syntax;

/// Project and mapping files, profiles (`mapsync-config`).
pub mod config {
    pub use mapsync_config::*;
}

pub mod connectors;
pub use connectors::registry;

/// Planning (`mapsync-plan`), with the document of `mapsync-core`.
pub mod plan {
    pub use mapsync_plan::*;
}
