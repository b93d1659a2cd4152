//! Planning, one test binary: the reconciliation rules and the diff, the
//! streamed plan, and `mapsync plan` through the binary with its golden
//! plans.

#[path = "../common/project.rs"]
mod project;

mod golden_plans;
mod plan_cli;
mod plan_stream;
mod preflight;
mod reconcile;
mod reconcile_diff;
