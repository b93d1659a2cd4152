//! Planning: records become target-neutral desired documents
//! ([`compile`]), and desired documents, the ledger and the target's
//! current state become a [`reconcile::Plan`] of actions with the rule that
//! chose each one ([`reconcile`]), with field diffs ([`diff`]) and a human
//! or JSON view ([`render`]). Each document is checked against its
//! target's declared rules before anything is sent ([`preflight`]). No I/O: callers hand in what connectors and
//! the state store have read.

pub mod compile;
pub mod preflight;
pub mod reconcile;
pub mod render;
pub mod spool;
pub mod testing;
pub mod two_way;

pub use mapsync_core::{diff, document};
