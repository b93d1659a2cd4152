//! The `file` source: JSON, NDJSON, CSV and YAML catalog files.
