//! mapsync-core: the vocabulary every other mapsync crate shares and the
//! ports the engine talks through.
//!
//! * [`Entity`]: the one enum of the kinds of item mapsync syncs.
//! * [`document`]: the desired document a record compiles to.
//! * [`source`]: the source port (`Source`, records, streams).
//! * [`target`]: the target port (`Target`, `TargetWrite`, `Capabilities`,
//!   `TargetError` with its kind) over the neutral [`current`] state.
//! * [`fields`]: field types and a target's field table.
//! * [`diff`]: desired documents against current state, field by field.
//! * [`hash`]: canonical content hashes.
//! * [`image`]: embedded images (content key, bytes, formats).
//! * [`images`]: the image port of the image round trip (`ImageStore`).
//! * [`diag`]: diagnostics with stable codes.
//! * [`rules`]: pre-flight rules a target declares (what it refuses).
//! * [`two_way`]: two-way fields: direction, conflict policy, the
//!   three-way classification and the action it takes.
//!
//! This crate names no platform and does no I/O.

pub mod current;
pub mod diag;
pub mod diff;
pub mod document;
pub mod entity;
pub mod fields;
pub mod hash;
pub mod image;
pub mod images;
pub mod rules;
pub mod source;
pub mod target;
pub mod two_way;
pub mod value;

pub use entity::{Entity, UnknownEntity};
