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
