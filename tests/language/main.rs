//! The mapping language and its inputs, one test binary: validation and
//! its diagnostics, the compiler, mapping tests, the parsers under fuzzing,
//! the JSON schemas, the seeded metafield table, content hashing and the
//! file source.

mod compile;
mod compile_props;
mod file_source;
mod file_source_fuzz;
mod fuzz_parsers;
mod hash;
mod mapping_tests;
mod schema_agreement;
mod seed_metafields;
mod validate;
