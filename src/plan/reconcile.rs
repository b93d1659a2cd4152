//! The sync rules of mapping-format.md §4 (being built).
