//! The throwaway PostgreSQL cluster of the tests: `mapsync-pgtest`, shared
//! with the binary's tests (tests/sync/pg_state.rs).

pub use mapsync_pgtest::*;
