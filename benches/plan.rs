//! Bench binary: plan N synthetic products from NDJSON (default 100,000;
//! `cargo bench --bench plan -- 1000000`), once against an empty ledger and
//! target and once against a fully synced one; beside the floor of merely
//! parsing the same file with serde_json. Each phase runs in its own
//! process so its peak memory (VmHWM) is its own. Prints records/s, the
//! ratio to the floor and the peak memory per product beyond the baseline.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mapsync::check::model::EntityKind;
use mapsync::connectors::shopify::model::ReducedItem;
use mapsync::connectors::{self, Entity};
use mapsync::plan::compile::{document_hash, Compiler};
use mapsync::plan::document::EntityKindName;
use mapsync::plan::reconcile::{self, EntityInput, ReconcileInput, SourceItem};
use mapsync::state::LedgerRow;

fn kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn floor(file: &Path) -> usize {
    let f = std::io::BufReader::new(std::fs::File::open(file).unwrap());
    let mut n = 0;
    for line in f.lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        n += usize::from(v.is_object());
    }
    n
}

fn plan(file: &Path, synced: bool) -> (usize, usize) {
    let (set, _, diags) = mapsync::check::load_mapping(Path::new("mappings/pim-shopify")).unwrap();
    assert!(!diags.has_errors());
    let compiler = Compiler::new(&set, EntityKind::Product).unwrap();
    let options = serde_json::json!({"type": "file", "path": file, "entity": "product"});
    let source = connectors::open_source(&options, Path::new(".")).unwrap();
    let mut items = Vec::new();
    for rec in source.records(Entity::Product).unwrap() {
        let rec = rec.unwrap();
        items.push(match compiler.compile(&rec.fields) {
            Ok(c) => SourceItem::Compiled {
                key: c.document.key.clone(),
                hash: document_hash(&c.document),
                doc: c.document,
                control: c.control,
            },
            Err(diagnostics) => SourceItem::Invalid {
                key: None,
                position: rec.position.to_string(),
                diagnostics,
            },
        });
    }
    let mut ledger = HashMap::new();
    let mut target = Vec::new();
    if synced {
        for (i, item) in items.iter().enumerate() {
            if let SourceItem::Compiled { key, hash, .. } = item {
                let id = format!("gid://shopify/Product/{}", i + 1);
                ledger.insert(
                    key.clone(),
                    LedgerRow {
                        target_id: Some(id.clone().into()),
                        hash: Some(hash.clone().into()),
                        sync_date: Some(time::OffsetDateTime::now_utc()),
                        message: None,
                        attempts: 0,
                    },
                );
                target.push(ReducedItem {
                    id,
                    handle: format!("h{i}"),
                    title: String::new(),
                    published: true,
                    status: Some("ACTIVE".into()),
                    marker: Some(key.clone()),
                    updated_at: None,
                });
            }
        }
    }
    let input = ReconcileInput {
        profile: "bench".into(),
        target_serial: String::new(),
        settings: set.settings.clone(),
        now: time::OffsetDateTime::now_utc(),
        force: false,
        entities: vec![EntityInput {
            entity: EntityKindName::Product,
            items,
            ledger,
            target,
        }],
    };
    let (plan, _docs) = reconcile::reconcile(&input).unwrap();
    (
        plan.changes.len(),
        plan.summary.create + plan.summary.unchanged,
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [phase, file] = args.as_slice() {
        let base = kib("VmRSS:");
        let t = Instant::now();
        let n = match phase.as_str() {
            "floor" => floor(Path::new(file)),
            "empty" => plan(Path::new(file), false).0,
            _ => plan(Path::new(file), true).0,
        };
        let secs = t.elapsed().as_secs_f64();
        println!("{phase} {n} {secs} {} {base}", kib("VmHWM:"));
        return;
    }
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("products.ndjson");
    let bytes = support::write_products_ndjson(&file, n);
    println!(
        "plan benchmark: {n} products, {} MB of NDJSON",
        bytes / 1_000_000
    );
    let exe = std::env::current_exe().unwrap();
    let mut floor_secs = 0.0;
    for phase in ["floor", "empty", "synced"] {
        let out = std::process::Command::new(&exe)
            .arg(phase)
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        let (count, secs, hwm, base): (usize, f64, u64, u64) = (
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        );
        if phase == "floor" {
            floor_secs = secs;
        }
        println!(
            "{phase:>7}: {count} items in {secs:.2} s = {:.0} records/s, {:.2}x floor, peak {} MB, {:.2} KB/product beyond baseline",
            n as f64 / secs,
            secs / floor_secs,
            hwm / 1024,
            (hwm.saturating_sub(base)) as f64 / n as f64
        );
    }
}
