//! Content hashes of desired documents, stable across runs and field order.
