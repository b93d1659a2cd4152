//! `src/gql/codes.rs` is generated from Shopify's schema (the SDL with
//! descriptions, `tests/data/shopify/admin_schema_2026-04.graphql.gz` at the
//! repository root): this test renders the file and fails when the copy on
//! disk is stale.
//! Regenerate with `MAPSYNC_REGENERATE=1 cargo test -p mapsync-sandbox --test codes_generated`.

use std::io::Read;

use flate2::read::GzDecoder;

/// The SDL schema the codes come from (path relative to the repository root).
const SCHEMA_NAME: &str = "tests/data/shopify/admin_schema_2026-04.graphql.gz";
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/shopify/admin_schema_2026-04.graphql.gz"
);
/// The generated file.
const CODES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/gql/codes.rs");
/// The Admin API version of the schema.
const API_VERSION: &str = "2026-04";
/// The command that rewrites the generated file.
const REGENERATE: &str =
    "MAPSYNC_REGENERATE=1 cargo test -p mapsync-sandbox --test codes_generated";
/// The GraphQL enums the file holds, in file order.
const ENUMS: &[&str] = &["CountryCode", "CurrencyCode"];

/// The decompressed SDL text.
fn load_schema() -> String {
    let file = std::fs::File::open(SCHEMA).unwrap_or_else(|e| panic!("{SCHEMA}: {e}"));
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{SCHEMA}: {e}"));
    text
}

/// The lines of an SDL text outside descriptions (`"""..."""` blocks and
/// `"..."` strings), with comments cut off.
fn code_lines(sdl: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in sdl.lines() {
        let t = line.trim();
        let quotes = t.matches("\"\"\"").count();
        if in_block {
            in_block = quotes % 2 == 0;
            continue;
        }
        if quotes > 0 {
            in_block = quotes % 2 == 1;
            continue;
        }
        if t.starts_with('"') || t.starts_with('#') || t.is_empty() {
            continue;
        }
        out.push(t);
    }
    out
}

/// Every value of the schema's enum `name`, in schema order (deprecated
/// values included).
fn enum_values(sdl: &str, name: &str) -> Vec<String> {
    let lines = code_lines(sdl);
    let head = format!("enum {name} {{");
    let start = lines
        .iter()
        .position(|l| *l == head)
        .unwrap_or_else(|| panic!("enum {name} is not in the schema"));
    let mut values = Vec::new();
    for line in &lines[start + 1..] {
        if *line == "}" {
            return values;
        }
        let value = line.split_whitespace().next().unwrap_or_default();
        assert!(
            !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "enum {name}: unexpected line {line:?}"
        );
        values.push(value.to_string());
    }
    panic!("enum {name} is not closed");
}

/// The Rust variant of a code: `US` → `Us`.
fn variant(code: &str) -> String {
    let mut chars = code.chars();
    let first = chars.next().expect("empty code");
    assert!(
        code.chars().all(|c| c.is_ascii_alphanumeric()) && first.is_ascii_alphabetic(),
        "code {code:?} does not make a Rust identifier"
    );
    let v: String = std::iter::once(first.to_ascii_uppercase())
        .chain(chars.map(|c| c.to_ascii_lowercase()))
        .collect();
    assert_ne!(v, "Self", "code {code:?} makes a Rust keyword");
    v
}

/// The enum `name` with its `as_str` and `parse` impl.
fn render_enum(out: &mut String, name: &str, values: &[String]) {
    let n = values.len();
    out.push_str(&format!(
        "\n/// Shopify's `{name}` enum (all {n} values of API {API_VERSION}).\n\
         #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]\n\
         #[graphql(name = \"{name}\")]\n\
         pub enum {name} {{\n"
    ));
    for code in values {
        out.push_str(&format!(
            "    #[graphql(name = \"{code}\")]\n    {},\n",
            variant(code)
        ));
    }
    out.push_str(&format!(
        "}}\n\nimpl {name} {{\n    \
         /// The code as Shopify spells it.\n    \
         pub fn as_str(self) -> &'static str {{\n        match self {{\n"
    ));
    for code in values {
        out.push_str(&format!(
            "            Self::{} => \"{code}\",\n",
            variant(code)
        ));
    }
    out.push_str(
        "        }\n    }\n\n    \
         /// Parse a code as Shopify spells it.\n    \
         pub fn parse(code: &str) -> Option<Self> {\n        Some(match code {\n",
    );
    for code in values {
        out.push_str(&format!(
            "            \"{code}\" => Self::{},\n",
            variant(code)
        ));
    }
    out.push_str("            _ => return None,\n        })\n    }\n}\n");
}

/// The whole text of `src/gql/codes.rs`.
fn render(schema: &str) -> String {
    let mut out = format!(
        "//! ISO country and currency codes as Shopify's `CountryCode` and `CurrencyCode` enums.\n\
         //! Generated from {SCHEMA_NAME} (every value, in order)\n\
         //! by crates/mapsync-sandbox/tests/codes_generated.rs; do not edit by hand, regenerate with\n\
         //! `{REGENERATE}`.\n\
         //! Owns nothing else and must not hold business rules.\n\
         \n\
         use async_graphql::Enum;\n"
    );
    for name in ENUMS {
        render_enum(&mut out, name, &enum_values(schema, name));
    }
    out
}

/// Where two texts first differ: line number, expected line, actual line.
fn first_difference<'a>(want: &'a str, have: &'a str) -> (usize, &'a str, &'a str) {
    let mut w = want.lines();
    let mut h = have.lines();
    let mut line = 1;
    loop {
        match (w.next(), h.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                return (
                    line,
                    a.unwrap_or("<end of file>"),
                    b.unwrap_or("<end of file>"),
                )
            }
        }
    }
}

#[test]
fn codes_rs_is_generated_from_the_schema() {
    let want = render(&load_schema());
    if std::env::var("MAPSYNC_REGENERATE").is_ok_and(|v| v == "1") {
        std::fs::write(CODES, &want).unwrap_or_else(|e| panic!("{CODES}: {e}"));
        return;
    }
    let have = std::fs::read_to_string(CODES).unwrap_or_default();
    if want != have {
        let (line, w, h) = first_difference(&want, &have);
        panic!(
            "crates/mapsync-sandbox/src/gql/codes.rs is stale: it is not what \
             tests/codes_generated.rs renders from {SCHEMA_NAME}.\n\
             First difference at line {line}:\n  expected: {w}\n  found:    {h}\n\
             Regenerate it with:\n  {REGENERATE}"
        );
    }
}
