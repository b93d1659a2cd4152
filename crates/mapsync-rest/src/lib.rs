//! The `rest` connector (being written).
