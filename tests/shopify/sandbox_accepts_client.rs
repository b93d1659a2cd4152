//! The sandbox plays Shopify for the `shopify` target: every GraphQL
//! document the target sends (graphql/*.graphql) must be valid against the
//! sandbox's own schema, not only against the real one.

use apollo_compiler::{ExecutableDocument, Schema};

#[test]
fn every_client_document_is_valid_against_the_sandbox_schema() {
    let sdl = mapsync::sandbox::gql::build_detached().sdl();
    let schema = Schema::parse_and_validate(sdl, "sandbox.graphql").expect("sandbox SDL is valid");
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/mapsync-shopify/graphql");
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("graphql") {
            continue;
        }
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(e) = ExecutableDocument::parse_and_validate(&schema, text, name.as_str()) {
            failures.push(format!("{name}:\n{}", e.errors));
        }
    }
    assert!(count >= 30);
    assert!(
        failures.is_empty(),
        "{} documents rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
