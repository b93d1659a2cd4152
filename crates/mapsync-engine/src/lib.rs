//! mapsync-engine: running a profile. [`engine`] opens what a profile names
//! and reads the inputs of planning; [`exec`] applies a plan. Decisions are
//! made by `mapsync-plan`; I/O goes through the connectors and the state
//! store.

pub mod engine;
pub mod exec;
pub mod matching;
pub mod memo;
pub mod two_way;
pub mod uploads;
