//! `mapsync resolve KEY FIELD --take source|target` through the real
//! binary (issue 16, docs/two-way.md "Resolving a manual conflict"), on
//! the shipped `mappings/two-way` example: a choice for its `manual` field
//! (`vendor`) is recorded in the profile's state store — read back through
//! the state API, on SQLite and on PostgreSQL — and a second one replaces
//! it; a field whose conflicts are not decided by a person
//! (`resolve::not-manual`, pointing at its `conflict:` or `direction:` in
//! the mapping file) and a field the entity does not map
//! (`resolve::unknown-field`, with a suggestion) are refused and record
//! nothing; without `--profile`, a project of several profiles is
//! refused with their names (`run::profile`).

use std::path::Path;

use mapsync::plan::document::Entity;
use mapsync::statedb::{Resolution, StatePool};
use serde_json::Value;

use crate::project::copy_dir;
use crate::support::{command_in, output, runtime};

/// The emulated PIM's API as a `rest` source with write-back (nothing
/// listens there: `resolve` reads neither side).
const REST: &str = "\n      type: rest\n      base_url: http://127.0.0.1:9\n      entities:\n        product:\n          list: { path: /products, records: data }\n      writeback:\n        product: { method: PATCH, path: \"/products/{{ key }}\" }";

/// A project on `mappings/two-way` whose profile `e2e` (channel `shop-eu`)
/// keeps its state in `state`.
fn project(state: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("mappings/two-way"), &dir.path().join("mapping"));
    let text = format!(
        "mapsync: 1\nprofiles:\n  e2e:\n    mapping: mapping\n    channel: shop-eu\n    source: {REST}\n    target: {{ type: sandbox, state: store.json }}\n    state: {state}\n"
    );
    std::fs::write(dir.path().join("mapsync.yaml"), text).unwrap();
    dir
}

/// The binary in `dir`, without a password of the test's environment.
fn resolve(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["resolve"];
    all.extend_from_slice(args);
    output(command_in(dir, &all).env_remove("PGPASSWORD"))
}

/// A rendered diagnostic with its wrapped lines joined: words separated
/// by one space, the frame's `│` dropped.
fn flat(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every choice recorded for products of channel `shop-eu`, read through
/// the state API.
fn choices(dir: &Path, state: &str) -> Vec<Resolution> {
    let pool = StatePool::for_url(state, dir, 0).unwrap();
    runtime().block_on(async {
        let db = pool.take().unwrap();
        let got = db
            .resolutions("shop-eu", Entity::Product, None)
            .await
            .unwrap();
        pool.close().await;
        got
    })
}

/// Records, replaces and reads back a choice on the store of `state`.
fn records_and_replaces(dir: &Path, state: &str) {
    let before = time::OffsetDateTime::now_utc();
    let (code, out, err) = resolve(dir, &["P-1001", "vendor", "--take", "target"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    assert!(
        out.contains("product P-1001 `vendor`") && out.contains("the target's value"),
        "{out}"
    );
    let got = choices(dir, state);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].key.as_str(), got[0].field.as_str(), got[0].take),
        ("P-1001", "vendor", mapsync_core::two_way::Side::Target)
    );
    assert!(got[0].recorded_at >= before, "{got:?}");
    assert_eq!((&got[0].source_hash, &got[0].target_hash), (&None, &None));

    // A second choice for the field replaces the first; the JSON view
    // says so. Another item's choice is its own.
    let (code, out, err) = resolve(
        dir,
        &["P-1001", "vendor", "--take", "source", "--format", "json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["take"], "source", "{doc:#}");
    assert_eq!(doc["replaced"], "target", "{doc:#}");
    assert_eq!(doc["channel"], "shop-eu", "{doc:#}");
    assert_eq!(doc["field"], "vendor", "{doc:#}");
    assert_eq!(doc["synced_before"], false, "{doc:#}");
    let (code, out, err) = resolve(
        dir,
        &["P-1002", "vendor", "--take", "target", "--profile", "e2e"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let got: Vec<(String, &str)> = choices(dir, state)
        .iter()
        .map(|r| (r.key.clone(), r.take.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("P-1001".to_string(), "source"),
            ("P-1002".into(), "target")
        ]
    );
}

#[test]
fn resolve_records_the_choice_for_a_manual_field_and_a_second_replaces_it() {
    let dir = project("sqlite:.mapsync/state.db");
    let state = format!("sqlite:{}", dir.path().join(".mapsync/state.db").display());
    records_and_replaces(dir.path(), &state);
}

#[test]
fn resolve_records_the_choice_in_a_postgres_state_store() {
    let Some(url) = mapsync_pgtest::database_blocking("resolve_cli_postgres") else {
        return;
    };
    let dir = project(&url);
    records_and_replaces(dir.path(), &url);
    assert!(
        !dir.path().join(".mapsync/state.db").exists(),
        "nothing in SQLite"
    );
}

#[test]
fn resolve_refuses_a_field_whose_conflicts_are_not_manual() {
    let dir = project("sqlite:.mapsync/state.db");
    // (field, why, line of the mapping file it points at)
    for (field, why, line) in [
        ("tags", "`conflict: newest`", "21"),
        ("product_type", "flows `to_source`", "22"),
        (
            "metafields[custom.material]",
            "`conflict: target_wins`",
            "24",
        ),
    ] {
        let (code, out, err) = resolve(dir.path(), &["P-1001", field, "--take", "target"]);
        assert_eq!(code, 1, "{field}: {out}{err}");
        let err = flat(&err);
        assert!(err.contains("resolve::not-manual"), "{field}: {err}");
        assert!(err.contains(why), "{field}: {err}");
        assert!(
            err.contains(&format!("mapping/mapping.yaml:{line}:")),
            "{field}: points at its mapping: {err}"
        );
        assert!(
            err.contains("resolved by a person (`conflict: manual`): vendor"),
            "{field}: names the manual fields: {err}"
        );
        assert!(out.is_empty(), "{out}");
    }
    // A one-way field.
    let (code, _, err) = resolve(dir.path(), &["P-1001", "title", "--take", "source"]);
    assert_eq!(code, 1, "{err}");
    let err = flat(&err);
    assert!(
        err.contains("resolve::not-manual") && err.contains("flows `to_target`"),
        "{err}"
    );
    let state = format!("sqlite:{}", dir.path().join(".mapsync/state.db").display());
    assert!(
        !dir.path().join(".mapsync/state.db").exists() || choices(dir.path(), &state).is_empty(),
        "nothing recorded"
    );
}

#[test]
fn resolve_refuses_an_unknown_field_with_a_suggestion() {
    let dir = project("sqlite:.mapsync/state.db");
    let (code, out, err) = resolve(dir.path(), &["P-1001", "vendr", "--take", "target"]);
    assert_eq!(code, 1, "{out}{err}");
    let err = flat(&err);
    assert!(err.contains("resolve::unknown-field"), "{err}");
    assert!(err.contains("maps no field `vendr`"), "{err}");
    assert!(err.contains("did you mean `vendor`?"), "{err}");
    assert!(out.is_empty(), "{out}");
    // An entity the mapping set does not map.
    let (code, _, err) = resolve(
        dir.path(),
        &["C-1", "title", "--take", "target", "--entity", "category"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("resolve::unknown-field") && err.contains("maps no category entity"),
        "{err}"
    );
    // The metafield as mapped is found (and is not manual).
    let (code, _, err) = resolve(
        dir.path(),
        &[
            "P-1001",
            "Metafield|custom|material|single_line_text_field",
            "--take",
            "target",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("resolve::not-manual"), "{err}");
    let state = format!("sqlite:{}", dir.path().join(".mapsync/state.db").display());
    assert!(
        !dir.path().join(".mapsync/state.db").exists() || choices(dir.path(), &state).is_empty(),
        "nothing recorded"
    );
}

#[test]
fn resolve_without_a_profile_needs_one_when_the_project_has_several() {
    let dir = project("sqlite:.mapsync/state.db");
    let text = std::fs::read_to_string(dir.path().join("mapsync.yaml")).unwrap();
    let second = text
        .split_once("profiles:\n")
        .unwrap()
        .1
        .replace("  e2e:", "  other:")
        .replace("channel: shop-eu", "channel: shop-us");
    std::fs::write(dir.path().join("mapsync.yaml"), format!("{text}{second}")).unwrap();
    let (code, out, err) = resolve(dir.path(), &["P-1001", "vendor", "--take", "target"]);
    assert_eq!(code, 1, "{out}{err}");
    let err = flat(&err);
    assert!(err.contains("run::profile"), "{err}");
    assert!(
        err.contains("add `--profile NAME`; the profiles are: e2e, other"),
        "{err}"
    );
    assert!(
        !dir.path().join(".mapsync/state.db").exists(),
        "nothing opened"
    );
    let (code, out, err) = resolve(
        dir.path(),
        &["P-1001", "vendor", "--take", "target", "--profile", "other"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let state = format!("sqlite:{}", dir.path().join(".mapsync/state.db").display());
    assert!(
        choices(dir.path(), &state).is_empty(),
        "channel shop-us, not shop-eu"
    );
}
