//! The streamed plan (documents spooled on disk, outputs written as they
//! are produced) against the in-memory one: the same JSON, human view and
//! plan file, byte for byte, for creates and for
//! documents that had to be compiled again because the early guess did not
//! keep them. Runs the demo profile against its embedded sandbox on a copy
//! of the project.

use std::path::Path;

use mapsync::engine;
use mapsync::plan::compile::document_hash;
use mapsync::plan::reconcile::{Action, PlanFile};
use mapsync::plan::render::{self, RenderOptions};
use time::macros::datetime;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("mapsync.yaml", dir.path().join("mapsync.yaml")).unwrap();
    copy_dir(Path::new("mappings"), &dir.path().join("mappings"));
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    dir
}

fn profile(dir: &Path) -> mapsync::config::profile::Profile {
    mapsync::config::profile::load(&dir.join("mapsync.yaml"), "demo", |_| None).unwrap()
}

/// Plans both ways and checks every output agrees; returns the plan.
async fn same_outputs(p: &mapsync::config::profile::Profile) -> engine::Planned {
    let now = datetime!(2025-06-01 12:00 UTC);
    let spooled = engine::plan_spooled(p, now).await.unwrap();
    let planned = engine::plan(p, now).await.unwrap();
    assert_eq!(spooled.documents.len(), planned.documents.len());

    let mut json = Vec::new();
    render::write_json(&spooled.plan, &spooled.documents, &mut json).unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        render::json(&planned.plan).unwrap()
    );
    for verbose in [false, true] {
        let o = RenderOptions {
            color: false,
            verbose,
        };
        let mut human = Vec::new();
        render::write_human(&spooled.plan, &spooled.documents, o, &mut human).unwrap();
        assert_eq!(
            String::from_utf8(human).unwrap(),
            render::human(&planned.plan, o)
        );
    }
    let mut file = Vec::new();
    render::write_plan_file(&spooled.plan, &spooled.documents, &mut file).unwrap();
    let expected = serde_json::to_string_pretty(&PlanFile {
        plan: planned.plan.clone(),
        documents: planned.documents.clone(),
    })
    .unwrap();
    assert_eq!(String::from_utf8(file.clone()).unwrap(), expected);
    // And apply can read it back.
    let back: PlanFile = serde_json::from_slice(&file).unwrap();
    assert_eq!(back.documents, planned.documents);

    // Documents: exactly the create and update items, in plan order, each
    // with the hash of its document.
    let keys: Vec<Option<String>> = planned
        .plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update))
        .map(|c| c.key.clone())
        .collect();
    let doc_keys: Vec<Option<String>> = planned
        .documents
        .iter()
        .map(|d| Some(d.document.key.clone()))
        .collect();
    assert_eq!(keys, doc_keys);
    for d in &planned.documents {
        assert_eq!(d.hash, document_hash(&d.document));
    }
    planned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_outputs_equal_in_memory_ones_for_creates_updates_and_recompiled_documents() {
    let dir = project();
    let p = profile(dir.path());

    // A fresh sandbox: everything is created.
    let planned = same_outputs(&p).await;
    assert_eq!(planned.plan.summary.create, 11);
    assert!(planned
        .plan
        .changes
        .iter()
        .all(|c| c.action != Action::Create || !c.diff.is_empty()));

    // The ledger says every item was synced, unchanged and recently, to
    // ids the (empty) target does not have: planning keeps none of their
    // documents (they look unchanged) and has to compile every record again
    // for the creates the rules decide.
    let mut store = engine::open_state(&p).unwrap();
    let updates: Vec<mapsync::state::LedgerUpdate> = planned
        .documents
        .iter()
        .enumerate()
        .map(|(i, d)| mapsync::state::LedgerUpdate {
            entity: match d.document.entity {
                mapsync::plan::document::EntityKindName::Category => {
                    mapsync::connectors::Entity::Category
                }
                mapsync::plan::document::EntityKindName::Product => {
                    mapsync::connectors::Entity::Product
                }
            },
            key: d.document.key.clone(),
            change: mapsync::state::Change::Success {
                target_id: format!("gid://shopify/Gone/{i}"),
                hash: d.hash.clone(),
                date: datetime!(2025-05-31 12:00 UTC),
            },
        })
        .collect();
    store.record_many(&p.channel, &updates).unwrap();
    drop(store);
    let again = same_outputs(&p).await;
    assert_eq!(again.plan.summary.create, 11);
    assert_eq!(again.documents, planned.documents);
    let mut first = planned.plan.clone();
    let mut second = again.plan.clone();
    first.target_serial.clear();
    second.target_serial.clear();
    assert_eq!(first, second);
}
