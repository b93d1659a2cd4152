//! Syncing, one test binary: the engine, the state store and its
//! migrations, `mapsync sync`/`apply` end to end, and the cut between the
//! workspace's crates.

#[path = "../common/project.rs"]
mod project;

mod crate_boundaries;
mod engine;
mod state;
mod state_migrations;
mod sync_cli;
