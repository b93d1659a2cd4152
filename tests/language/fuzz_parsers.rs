//! Property tests: the grammar and the loader never panic, whatever they
//! are fed, and every syntax error points inside the text it was given.

use std::sync::Arc;

use mapsync::config::{self, yaml};
use mapsync::diag::{Diagnostics, SourceFile};
use mapsync::syntax;
use proptest::prelude::*;

fn check_text(name: &str, text: String) -> Diagnostics {
    let file: Arc<SourceFile> = SourceFile::new(name, text);
    let mut diags = Diagnostics::new();
    let parsed = config::parse_yaml(file, &mut diags);
    let files = config::merge_parts(name.into(), vec![parsed], &mut diags);
    mapsync::check::check_mapping_files(&files, &mapsync::registry(), &mut diags);
    diags
}

/// YAML-ish text built from the format's own vocabulary, so the checker's
/// deeper paths are reached, not only the YAML parser's error path.
fn yamlish() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "mapsync",
        "entities",
        "product",
        "category",
        "map",
        "key",
        "variants",
        "from",
        "title",
        "Metafield|ns|key|integer",
        "Quantity_X",
        "Option|1",
        "'lit'",
        "{{ x }",
        "[*]",
        "a.b",
        "settings",
        "sync",
        "locations",
        "images",
        "-",
        ":",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "\n",
        "  ",
        "1",
        "true",
        "~",
        "@description",
        "|",
        "tests",
        "direction",
        "both",
        "to_source",
        "conflict",
        "manual",
        "newest",
        "updated_at",
        "two_way",
        "synced",
        "target",
        "expect",
        "input",
        "entity",
    ]);
    prop::collection::vec(word, 0..60).prop_map(|ws| ws.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn target_parser_never_panics(s in any::<String>()) {
        if let Err(e) = syntax::parse_target(&s) {
            prop_assert!(e.span.start <= s.len() && e.span.end <= s.len());
        }
    }

    #[test]
    fn source_parser_never_panics(s in any::<String>()) {
        if let Err(e) = syntax::parse_source(&s) {
            prop_assert!(e.span.start <= s.len() && e.span.end <= s.len());
        }
    }

    #[test]
    fn expression_like_strings_never_panic(s in "[A-Za-z|@_.\\[\\]*0-9' ]{0,40}") {
        let _ = syntax::parse_target(&s);
        let _ = syntax::parse_source(&s);
    }

    #[test]
    fn instants_of_two_way_records_never_panic(s in any::<String>()) {
        let _ = mapsync::plan::two_way::seconds(&s);
        let _ = mapsync::plan::two_way::newest_side(Some(&s), Some("2026-01-01"));
    }

    #[test]
    fn two_way_mapping_tests_never_panic(
        synced in any::<String>(),
        target in prop::sample::select(vec!["{ vendor: x }", "{ vendor: [1, {a: b}] }", "{ \"metafields[c.m]\": 3 }", "[]", "7", "{ \"metafields[\": x }"]),
        expect in prop::sample::select(vec!["{ vendor: hold }", "{ vendor: 1 }", "{ nope: pull }", "{}", "[x]"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "mapsync: 1\nentities:\n  product:\n    key: K\n    map:\n      vendor: {{ from: B, direction: both, conflict: manual }}\n      \"Metafield|c|m|single_line_text_field\": {{ from: M, direction: to_source }}\ntests:\n  - name: t\n    entity: product\n    input: {{ K: a, B: b }}\n    expect: {{}}\n    two_way: {{ synced: {{ vendor: {} }}, target: {target}, expect: {expect} }}\n",
            serde_json::Value::String(synced)
        );
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, text).unwrap();
        if let Ok((set, _, diags)) = mapsync::check::load_mapping(&path, &mapsync::registry()) {
            if !diags.has_errors() {
                let _ = mapsync::plan::testing::run_tests(&set);
            }
        }
    }

    #[test]
    fn loader_and_checker_never_panic_on_bytes(s in any::<String>()) {
        let diags = check_text("fuzz.yaml", s.clone());
        for d in diags.iter() {
            if let Some(l) = &d.location {
                prop_assert!(l.start <= l.end && l.end <= s.len());
            }
        }
    }

    #[test]
    fn loader_and_checker_never_panic_on_yamlish(s in yamlish()) {
        let diags = check_text("fuzz.yaml", s.clone());
        for d in diags.iter() {
            if let Some(l) = &d.location {
                prop_assert!(l.start <= l.end && l.end <= s.len());
            }
        }
        let _ = yaml::parse(&SourceFile::new("x.yaml", s));
    }
}
