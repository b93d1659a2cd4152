//! The streamed plan (documents spooled on disk, outputs written as they
//! are produced) against the in-memory one: the same JSON, human view and
//! plan file, byte for byte, for creates and for
//! documents that had to be compiled again because the early guess did not
//! keep them. Runs the demo profile against its embedded sandbox on a copy
//! of the project.

use crate::project::demo_project as project;
use std::path::Path;

use mapsync::engine;
use mapsync::plan::compile::document_hash;
use mapsync::plan::reconcile::{Action, PlanFile};
use mapsync::plan::render::{self, RenderOptions};
use time::macros::datetime;

fn profile(dir: &Path) -> mapsync::config::profile::Profile {
    mapsync::config::profile::load(
        &dir.join("mapsync.yaml"),
        "demo",
        |_| None,
        &mapsync::registry(),
    )
    .unwrap()
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
    // The plan command's output function writes the same file.
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("plan.json");
    mapsync::cli::render::plan_outputs(&spooled, true, RenderOptions::default(), Some(&path))
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), file);
    let expected = serde_json::to_string_pretty(&PlanFile {
        plan: planned.plan.clone(),
        documents: planned.documents.clone(),
    })
    .unwrap();
    assert_eq!(String::from_utf8(file.clone()).unwrap(), expected);
    // And apply can read it back.
    let back: PlanFile = serde_json::from_slice(&file).unwrap();
    assert_eq!(back.documents, planned.documents);
    // Streamed, as `apply` reads it: the plan, and the documents in a spool.
    let (plan_back, spool_back) = mapsync::plan::spool::read_plan_file(&file[..]).unwrap();
    assert_eq!(plan_back, planned.plan);
    let docs_back: Vec<_> = spool_back.iter().map(Result::unwrap).collect();
    assert_eq!(docs_back, planned.documents);

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
    let store = engine::open_state(&p).unwrap();
    let updates: Vec<mapsync::state::LedgerUpdate> = planned
        .documents
        .iter()
        .enumerate()
        .map(|(i, d)| mapsync::state::LedgerUpdate {
            entity: match d.document.entity {
                mapsync::plan::document::Entity::Category => mapsync::connectors::Entity::Category,
                mapsync::plan::document::Entity::Product => mapsync::connectors::Entity::Product,
            },
            key: d.document.key.clone(),
            change: mapsync::state::Change::Success {
                target_id: format!("gid://shopify/Gone/{i}"),
                hash: d.hash.clone(),
                date: datetime!(2025-05-31 12:00 UTC),
            },
        })
        .collect();
    store.record_many(&p.channel, updates).await.unwrap();
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

/// A plan with many more creates than the renderer hands its diff threads
/// at once: the diffs still come back in plan order, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_outputs_keep_plan_order_over_many_diff_chunks() {
    let dir = project();
    let path = dir.path().join("examples/catalog.json");
    let mut catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let base = catalog["products"].as_array().unwrap().clone();
    let products: Vec<serde_json::Value> = (0..700)
        .map(|i| {
            let mut p = base[i % base.len()].clone();
            p["ItemNo"] = format!("K{i:04}").into();
            p
        })
        .collect();
    catalog["products"] = products.into();
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    let planned = same_outputs(&profile(dir.path())).await;
    assert!(planned.plan.summary.create >= 700);
}

/// Many chunks compiled on several threads come back in source order,
/// with unreadable lines after the records, and every spooled document is
/// the one of its item.
#[test]
fn parallel_compile_keeps_source_order() {
    use mapsync::plan::spool::{SpoolWriter, SpooledItem};
    let dir = tempfile::tempdir().unwrap();
    let catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("examples/catalog.json").unwrap()).unwrap();
    let base = catalog["products"].as_array().unwrap();
    let file = dir.path().join("p.ndjson");
    let mut text = Vec::new();
    let mut keys = Vec::new();
    for i in 0..1500 {
        // Unreadable lines of every kind, and blank lines that only move
        // the line numbers.
        match i % 400 {
            7 => text.extend_from_slice(b"{not json\n"),
            8 => text.extend_from_slice(b"  \r\n\n"),
            9 => text.extend_from_slice(b"[1, 2]\n"),
            10 => text.extend_from_slice(b"{\"ItemNo\": \"\xff\"}\n"),
            _ => {}
        }
        let mut p = base[i % base.len()].clone();
        let key = format!("K{i:05}");
        p["ItemNo"] = key.clone().into();
        keys.push(key);
        text.extend_from_slice(serde_json::to_string(&p).unwrap().as_bytes());
        text.push(b'\n');
    }
    std::fs::write(&file, text).unwrap();
    // What the source says of the unreadable lines, read one by one.
    let endpoint = mapsync::connectors::source(
        serde_json::json!({"type": "file", "path": file, "entity": "product"}),
        dir.path(),
    )
    .unwrap();
    let source = mapsync::engine::open_source(&endpoint).unwrap();
    let expected_bad: Vec<String> = source
        .records(mapsync::connectors::Entity::Product)
        .unwrap()
        .filter_map(|r| match r {
            Err(mapsync::connectors::ReadError::Invalid(bad)) => {
                Some(format!("{}: {}", bad.position, bad.message))
            }
            _ => None,
        })
        .collect();
    assert_eq!(expected_bad.len(), 12);
    let (set, _, diags) =
        mapsync::check::load_mapping(Path::new("mappings/demo"), &mapsync::registry()).unwrap();
    assert!(!diags.has_errors());
    let job = engine::CompileJob {
        source: endpoint,
        set: std::sync::Arc::new(set),
        kind: mapsync::check::model::Entity::Product,
        ledger: Default::default(),
        now: datetime!(2025-06-01 12:00 UTC),
        run: Default::default(),
        force: false,
        scope: Default::default(),
    };
    let (items, spool) = job.run(SpoolWriter::create().unwrap()).unwrap();
    assert_eq!(items.len(), 1500 + 12);
    let got: Vec<&str> = items[..1500]
        .iter()
        .map(|i| match i {
            SpooledItem::Compiled { key, .. } => key.as_str(),
            SpooledItem::Invalid { .. } => "invalid",
        })
        .collect();
    assert_eq!(got, keys);
    // Parsed on the compile threads, reported as the source reports them,
    // in file order, after the records.
    let bad: Vec<String> = items[1500..]
        .iter()
        .map(|i| match i {
            SpooledItem::Invalid {
                key: None,
                diagnostics,
                ..
            } => diagnostics[0].message.clone(),
            _ => panic!("an unreadable line is an invalid item without key"),
        })
        .collect();
    assert_eq!(bad, expected_bad);
    // Line 13: 7 records, the bad line, a record, two blank lines, a record.
    assert!(expected_bad[1].contains("p.ndjson:13: the line is a list"));
    // No ledger: every document was spooled, in order.
    let refs: Vec<_> = items[..1500]
        .iter()
        .filter_map(|i| match i {
            SpooledItem::Compiled { spooled, .. } => *spooled,
            SpooledItem::Invalid { .. } => None,
        })
        .collect();
    assert_eq!(refs.len(), 1500);
    let docs = spool.finish(refs).unwrap();
    for (d, (item, key)) in docs.iter().zip(items.iter().zip(&keys)) {
        let d = d.unwrap();
        assert_eq!(&d.document.key, key);
        let SpooledItem::Compiled { hash, .. } = item else {
            panic!("compiled")
        };
        assert_eq!(&d.hash, hash);
        assert_eq!(&document_hash(&d.document), hash);
        // The direct canonical writer agrees with hashing the JSON value.
        assert_eq!(
            &mapsync::plan::compile::document_hash_via_value(&d.document),
            hash
        );
    }
}

/// What is not a plan file is refused with the reason, never a panic.
#[test]
fn plan_files_that_are_not_plans_are_refused() {
    use mapsync::plan::spool::{read_plan_file, PlanFileError};
    for (text, why) in [
        ("", "EOF"),
        ("[1, 2]", "a mapsync plan file"),
        ("{}", "missing field `format_version`"),
        (r#"{"format_version": 1, "profile": "demo""#, "EOF"),
        (r#"{"documents": [{"hash": 1}]}"#, "invalid type"),
        (
            r#"{"format_version": 1, "profile": "p", "created_at": "", "target_serial": "", "summary": {"create": 0, "update": 0, "delete": 0, "deactivate": 0, "unchanged": 0, "skip": 0, "invalid": 0}, "changes": [], "documents": []} x"#,
            "trailing characters",
        ),
    ] {
        match read_plan_file(text.as_bytes()) {
            Err(PlanFileError::Json(e)) => assert!(e.to_string().contains(why), "{text}: {e}"),
            Err(e) => panic!("{text}: {e}"),
            Ok(_) => panic!("{text}: read as a plan"),
        }
    }
}
