//! The sync rules as data: every `tests/data/reconcile/*.yaml` case gives
//! the inputs of one entity (records, ledger, target items, settings) and
//! the expected action and rule per item; the plan of each case is also
//! snapshotted as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mapsync::check::model::{ChangeDetection, MaxDeletes, Ownership, Settings, SyncFlags};
use mapsync::connectors::shopify::model::TargetItem;
use mapsync::diag::{codes, Diagnostic};
use mapsync::plan::document::{Control, Document, Entity};
use mapsync::plan::reconcile::{self, EntityInput, ReconcileInput, SourceItem};
use mapsync::plan::render;
use mapsync::state::LedgerRow;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[allow(dead_code)]
    description: String,
    entity: Entity,
    #[serde(default)]
    settings: CaseSettings,
    now: String,
    #[serde(default)]
    records: Vec<Record>,
    #[serde(default)]
    ledger: BTreeMap<String, Ledger>,
    #[serde(default)]
    target: Vec<Target>,
    expect: Vec<Expect>,
    #[serde(default)]
    mass_delete: bool,
    /// `sync --force`.
    #[serde(default)]
    force: bool,
    /// The records are an incremental read's.
    #[serde(default)]
    partial: bool,
    /// `--explain` expectations: key -> rules checked with matched flags.
    #[serde(default)]
    explain: BTreeMap<String, Vec<(String, bool)>>,
    /// What `match:` found: the field, and key -> (value, target id) hits.
    #[serde(default)]
    match_field: Option<String>,
    #[serde(default)]
    matched: BTreeMap<String, Vec<(String, String)>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSettings {
    #[serde(default = "default_sync")]
    sync: Vec<String>,
    #[serde(default)]
    change_detection: Option<String>,
    #[serde(default)]
    data_max_age_secs: Option<u64>,
    #[serde(default)]
    update_unpublished: bool,
    #[serde(default)]
    ownership: Option<String>,
    #[serde(default)]
    max_deletes: Option<String>,
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            sync: default_sync(),
            change_detection: None,
            data_max_age_secs: None,
            update_unpublished: false,
            ownership: None,
            max_deletes: None,
        }
    }
}

fn default_sync() -> Vec<String> {
    vec!["add".into(), "update".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    invalid: bool,
    #[serde(default)]
    selected: Option<bool>,
    #[serde(default)]
    no_update: bool,
    #[serde(default)]
    published: Option<bool>,
    #[serde(default)]
    sync_id: Option<String>,
    #[serde(default)]
    sync_date_field: bool,
    #[serde(default)]
    sync_date: Option<String>,
    #[serde(default)]
    title: Option<String>,
    /// Values the target keeps unique in the store (`[field, value]`
    /// pairs, pre-flight rules of scope run).
    #[serde(default)]
    unique: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ledger {
    #[serde(default)]
    target_id: Option<String>,
    #[serde(default)]
    hash: Option<String>,
    #[serde(default)]
    sync_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    id: String,
    #[serde(default = "yes")]
    published: bool,
    #[serde(default)]
    marker: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    target_id: Option<String>,
    action: String,
    rule: String,
}

fn ts(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

fn settings(c: &CaseSettings) -> Settings {
    let has = |w: &str| c.sync.iter().any(|s| s == w);
    Settings {
        sync: SyncFlags {
            add: has("add"),
            update: has("update"),
            delete: has("delete"),
            deactivate: has("deactivate"),
        },
        change_detection: match c.change_detection.as_deref() {
            None | Some("hash") => ChangeDetection::Hash,
            Some("sync_date") => ChangeDetection::SyncDate,
            Some(o) => panic!("change_detection {o}"),
        },
        data_max_age: c.data_max_age_secs.map(Duration::from_secs),
        update_unpublished: c.update_unpublished,
        ownership: match c.ownership.as_deref() {
            None | Some("managed") => Ownership::Managed,
            Some("all") => Ownership::All,
            Some(o) => panic!("ownership {o}"),
        },
        max_deletes: c.max_deletes.as_deref().map(|m| match m.strip_suffix('%') {
            Some(p) => MaxDeletes::Percent(p.parse().unwrap()),
            None => MaxDeletes::Count(m.parse().unwrap()),
        }),
        ..Settings::default()
    }
}

/// The document of a record: its title decides the hash, so a case changes
/// a record by giving it another title than the one the ledger hash was
/// made from.
fn document(entity: Entity, key: &str, title: &str) -> (Document, String) {
    let mut fields = BTreeMap::new();
    fields.insert("title".to_string(), serde_json::Value::String(title.into()));
    let doc = Document {
        entity,
        key: key.into(),
        fields,
        metafields: vec![],
        metafield_descriptions: vec![],
        images: vec![],
        options: vec![],
        variants: vec![],
        categories: vec![],
    };
    let hash = format!("hash-of-{title}");
    (doc, hash)
}

fn input(case: &Case) -> ReconcileInput {
    let items = case
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if r.invalid {
                return SourceItem::Invalid {
                    key: r.key.clone(),
                    position: format!("record {}", i + 1),
                    diagnostics: vec![Diagnostic::error(
                        codes::INTERNAL,
                        "the test says this record is invalid",
                    )],
                };
            }
            let key = r.key.clone().unwrap_or_default();
            let title = r.title.clone().unwrap_or_else(|| format!("{key} v1"));
            let (doc, hash) = document(case.entity, &key, &title);
            SourceItem::Compiled {
                key,
                doc,
                control: Control {
                    selected: r.selected,
                    no_update: r.no_update,
                    published: r.published,
                    sync_id: r.sync_id.clone(),
                    has_sync_date_field: r.sync_date_field,
                    sync_date: r.sync_date.clone(),
                    unique: r.unique.clone(),
                    matches: Vec::new(),
                    updated_at: None,
                },
                hash,
            }
        })
        .collect();
    let ledger: mapsync::state::Ledger = case
        .ledger
        .iter()
        .map(|(k, l)| {
            (
                k.clone(),
                LedgerRow {
                    target_id: l.target_id.as_deref().map(Into::into),
                    hash: l.hash.as_deref().map(Into::into),
                    sync_date: l.sync_date.as_deref().map(ts),
                    message: None,
                    attempts: 0,
                },
            )
        })
        .collect();
    let target = case
        .target
        .iter()
        .map(|t| TargetItem {
            id: t.id.clone(),
            handle: t.id.rsplit('/').next().unwrap_or("").to_string(),
            title: t.id.clone(),
            published: t.published,
            status: None,
            marker: t.marker.clone(),
            updated_at: None,
        })
        .collect();
    ReconcileInput {
        profile: "test".into(),
        target_serial: "serial-1".into(),
        settings: settings(&case.settings),
        now: ts(&case.now),
        force: case.force,
        entities: vec![EntityInput {
            entity: case.entity,
            items,
            ledger,
            target,
            partial: case.partial,
            matched: reconcile::Matched {
                field: case.match_field.clone().unwrap_or_default(),
                hits: case
                    .matched
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            },
        }],
    }
}

fn run_case(path: &Path) {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let case: Case = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let input = input(&case);
    let (plan, documents) = reconcile::reconcile(&input).unwrap();

    // Every record and considered target item appears once.
    assert_eq!(
        plan.changes.len(),
        case.expect.len(),
        "{name}: items in the plan\n{}",
        render::json(&plan).unwrap()
    );
    for (i, (c, e)) in plan.changes.iter().zip(&case.expect).enumerate() {
        if e.key.is_some() {
            assert_eq!(c.key, e.key, "{name}: item {i} key");
        }
        if e.target_id.is_some() {
            assert_eq!(c.target_id, e.target_id, "{name}: item {i} target_id");
        }
        assert_eq!(
            (c.action.as_str(), &*c.rule),
            (e.action.as_str(), e.rule.as_str()),
            "{name}: item {i} ({:?})",
            c.key
        );
        assert!(!c.reason.is_empty(), "{name}: item {i} has a reason");
        if c.action == reconcile::Action::Invalid {
            assert!(
                !c.diagnostics.is_empty(),
                "{name}: invalid item {i} carries diagnostics"
            );
        }
    }
    // Documents for apply: exactly the create and update items.
    let wanted = plan
        .changes
        .iter()
        .filter(|c| {
            matches!(
                c.action,
                reconcile::Action::Create | reconcile::Action::Update
            )
        })
        .count();
    assert_eq!(documents.len(), wanted, "{name}: planned documents");
    assert_eq!(
        !plan.mass_delete.is_empty(),
        case.mass_delete,
        "{name}: max_deletes"
    );
    assert_eq!(
        render::detailed_exit_code(&plan),
        if plan.summary.has_changes() { 2 } else { 0 }
    );

    for (key, checks) in &case.explain {
        let e = reconcile::explain(&input, key).unwrap_or_else(|| panic!("{name}: explain {key}"));
        let got: Vec<(String, bool)> = e
            .checks
            .iter()
            .map(|c| (c.rule.to_string(), c.matched))
            .collect();
        assert_eq!(&got, checks, "{name}: explain {key}");
        insta::assert_snapshot!(
            format!("explain-{name}-{key}"),
            render::explanation(&e, render::RenderOptions::default())
        );
    }

    insta::assert_snapshot!(format!("plan-{name}"), render::json(&plan).unwrap());
}

#[test]
fn rule_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reconcile");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() > 30, "cases found: {}", files.len());
    let failed: Vec<String> = files
        .iter()
        .filter(|f| std::panic::catch_unwind(|| run_case(f)).is_err())
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
}
