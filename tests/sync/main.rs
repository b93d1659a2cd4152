//! Syncing, one test binary: the engine, the state store and its
//! migrations, `mapsync sync`/`apply` end to end, and the cut between the
//! workspace's crates.

#[path = "../common/project.rs"]
mod project;
#[path = "../common/recording_proxy.rs"]
mod recording_proxy;
// Only the document and variable checks are used here.
#[allow(dead_code)]
#[path = "../common/shopify_schema.rs"]
mod shopify_schema;

mod bigcommerce_e2e;
mod crate_boundaries;
mod drift_cli;
mod engine;
mod images_bigcommerce;
mod images_cli;
mod images_rest;
mod images_support;
mod match_bigcommerce;
mod match_cli;
mod pg_state;
mod requests_valid;
mod resolve_cli;
mod rest_e2e;
mod run_cli;
mod state;
mod state_migrations;
mod store_view;
mod support;
mod sync_cli;
mod sync_cli_images;
mod tmp_cleanup;
mod two_way_cli;
mod two_way_e2e;
mod worker_pool;
