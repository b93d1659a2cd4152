//! Loading of project files (`mapsync.yaml`) and mapping sets (a file, or
//! a directory of files merged in name order), keeping source spans.
//! This module reads files and builds the raw model; it does not decide
//! validity beyond structure (that is `check`'s work).

pub mod yaml;
