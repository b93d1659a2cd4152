//! The options as `validate` checks them: the connector's JSON Schema,
//! then its own checks, on YAML as a project file holds it.

use mapsync_config::check::schema::validate_options;
use mapsync_config::connector::{CheckContext, Connector, Options, Role};
use mapsync_core::diag::{Diagnostics, Severity, SourceFile};
use mapsync_rest::RestConnector;

/// `(code, severity, message)` of every diagnostic on `yaml` (a source's
/// options).
fn check(yaml: &str) -> Vec<(String, Severity, String)> {
    let mut diags = Diagnostics::new();
    let parsed = mapsync_config::parse_yaml(
        SourceFile::new("mapsync.yaml", yaml.to_string()),
        &mut diags,
    );
    let node = parsed.root.expect("YAML parses");
    let schema = RestConnector.options_schema(Role::Source).unwrap();
    validate_options(schema, &node, "profiles.p.source", &mut diags);
    let dir = std::env::temp_dir();
    let cx = CheckContext {
        profile: "p",
        project_dir: &dir,
    };
    RestConnector.check(Role::Source, &node, &cx, &mut diags);
    diags
        .iter()
        .map(|d| (d.code.name.to_string(), d.severity, d.message.clone()))
        .collect()
}

fn codes(yaml: &str) -> Vec<String> {
    check(yaml).into_iter().map(|(c, _, _)| c).collect()
}

/// The example of the connectors contract (§2), as written there.
const CONTRACT_EXAMPLE: &str = r#"
type: rest
base_url: https://pim.example.com/api/v1
auth: { bearer: "${PIM_TOKEN}" }
timeout: 30s
retries: 3
rate_limit: 10/s
entities:
  category:
    list: { path: /categories, records: data }
    paging: { style: page, page: page, size: per_page, max: 100 }
  product:
    list: { path: /products, records: data.items, query: { include: images,variants } }
    paging: { style: cursor, cursor: meta.next_cursor, param: cursor }
    since: { param: updated_since, field: LastUpdated }
    count: { path: /products/count, value: count }
writeback:
  product: { method: PATCH, path: "/products/{{ key }}" }
  category: { method: PATCH, path: "/categories/{{ key }}" }
"#;

#[test]
fn the_contract_example_is_valid() {
    let got = check(CONTRACT_EXAMPLE);
    assert!(
        got.iter().all(|(_, s, _)| *s == Severity::Warning),
        "{got:?}"
    );
    // `{ include: images,variants }` is `include: images` and a key
    // `variants` without value: said, as a warning.
    assert!(
        got.iter()
            .any(|(c, _, m)| c == "schema::format" && m.contains("`variants`")),
        "{got:?}"
    );
    let quoted =
        CONTRACT_EXAMPLE.replace("include: images,variants", "include: \"images,variants\"");
    assert_eq!(check(&quoted), vec![]);
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let got = check("type: rest\nbase_url: https://x.example\nentites: {}\nentities: { product: { list: { path: /p, record: data } } }\n");
    let unknown: Vec<&String> = got
        .iter()
        .filter(|(c, _, _)| c == "schema::unknown-key")
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(unknown.len(), 2, "{got:?}");
    assert!(unknown.iter().any(|m| m.contains("`entites`")));
    assert!(unknown.iter().any(|m| m.contains("`record`")));
}

#[test]
fn paging_options_must_fit_the_style() {
    let base =
        "type: rest\nbase_url: https://x.example\nentities:\n  product:\n    list: { path: /p }\n";
    let got = check(&format!(
        "{base}    paging: {{ style: page, cursor: meta.next }}\n"
    ));
    assert!(
        got.iter().any(|(c, _, m)| c == "schema::unknown-key"
            && m.contains("`cursor` does not apply to paging style `page`")),
        "{got:?}"
    );
    let got = codes(&format!("{base}    paging: {{ style: cursor }}\n"));
    assert_eq!(got, vec!["schema::required"]);
    let got = codes(&format!("{base}    paging: {{ style: pages }}\n"));
    assert_eq!(got, vec!["schema::enum"]);
    let got = codes(&format!(
        "{base}    paging: {{ style: next_url, next: links.next, max_pages: 10 }}\n"
    ));
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn secrets_in_clear_are_warnings() {
    let base =
        "type: rest\nbase_url: https://x.example\nentities: { product: { list: { path: /p } } }\n";
    for auth in [
        "auth: { bearer: abc123 }",
        "auth: { header: X-Api-Key, value: abc123 }",
        "auth: { basic: { user: u, password: abc123 } }",
        "auth: { oauth2: { token_url: /t, client_id: c, client_secret: abc123 } }",
    ] {
        let got = check(&format!("{base}{auth}\n"));
        assert_eq!(
            got.iter()
                .map(|(c, s, _)| (c.as_str(), *s))
                .collect::<Vec<_>>(),
            vec![("project::secret-in-file", Severity::Warning)],
            "{auth}"
        );
        let env = auth.replace("abc123", "\"${SECRET}\"");
        assert_eq!(check(&format!("{base}{env}\n")), vec![], "{env}");
    }
}

#[test]
fn other_checks() {
    let base = "type: rest\nentities: { product: { list: { path: /p } } }\n";
    assert_eq!(
        codes(&format!("{base}base_url: ftp://x\n")),
        vec!["schema::format"]
    );
    assert_eq!(
        codes(&format!("{base}base_url: \"${{PIM_URL}}\"\n")),
        Vec::<String>::new()
    );
    assert_eq!(
        codes(&format!("{base}base_url: https://x\nauth: {{ bearer: \"${{A}}\", basic: {{ user: u, password: \"${{B}}\" }} }}\n")),
        vec!["schema::one-of"]
    );
    assert_eq!(
        codes(&format!(
            "{base}base_url: https://x\nauth: {{ header: X-Key }}\n"
        )),
        vec!["schema::required"]
    );
    assert_eq!(
        codes(&format!(
            "{base}base_url: https://x\nwriteback: {{ product: {{ path: \"/p/{{{{ key\" }} }}\n"
        )),
        vec!["template::syntax"]
    );
    assert_eq!(
        codes(&format!("{base}base_url: https://x\nwriteback: {{ product: {{ path: /p, batch: {{ size: 0, path: /b }} }} }}\n")),
        vec!["schema::range"]
    );
    assert_eq!(
        codes(&format!("{base}base_url: https://x\ntimeout: 0s\n")),
        vec!["settings::value"]
    );
    assert_eq!(
        codes(&format!("{base}base_url: https://x\nrate_limit: fast\n")),
        vec!["schema::format"]
    );
    assert_eq!(
        codes("type: rest\nbase_url: https://x\nentities: {}\n"),
        vec!["schema::other"]
    );
    assert_eq!(
        codes("type: rest\nbase_url: https://x\nentities: { product: { list: { path: /p }, since: { overlap: 5m } } }\n"),
        vec!["schema::required"]
    );
}

#[test]
fn the_connector_opens_a_source_with_write_back() {
    let values = serde_json::json!({
        "type": "rest",
        "base_url": "https://pim.example.com/api/v1",
        "auth": { "bearer": "t" },
        "entities": { "product": { "list": { "path": "/products" } } },
        "writeback": { "product": { "path": "/products/{{ key }}" } }
    });
    let options = Options::new(
        Role::Source,
        "p",
        std::env::temp_dir(),
        values.as_object().unwrap().clone(),
    );
    assert!(RestConnector.writes_back());
    // A target too, with its own schema and the `rest` field table.
    assert!(RestConnector
        .options_schema(Role::Target)
        .is_some_and(|s| s.contains("mapsync `rest` target options")));
    assert_eq!(
        RestConnector.capabilities().map(|c| c.fields.kind),
        Some("rest")
    );
    let src = RestConnector.open_source(&options).unwrap();
    assert_eq!(src.kind(), "rest");
    assert!(src.supports_writeback());
    // Options that cannot work are a config error naming the option.
    let mut bad = values.as_object().unwrap().clone();
    bad.insert("base_url".into(), "not a url".into());
    let e = RestConnector
        .open_source(&Options::new(Role::Source, "p", std::env::temp_dir(), bad))
        .err()
        .unwrap();
    assert!(e.to_string().contains("`base_url`"), "{e}");
}
