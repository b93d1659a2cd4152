//! Bench binary: plan N synthetic products from NDJSON (default 100,000;
//! `cargo bench --bench plan -- 1000000`), once against an empty ledger and
//! target and once against a fully synced one (a SQLite ledger holding
//! every item, and a target holding every item); beside the floor of
//! merely parsing the same file with serde_json. Planning is the engine's
//! streamed path: records compiled as they are read, documents apply may
//! need spooled to a temporary file, the rules applied; then the plan JSON
//! is rendered (to a sink) with the create diffs computed from the spool.
//! Each phase runs in its own process so its peak memory (VmHWM) is its
//! own. Prints records/s, the ratio to the floor and the peak memory per
//! product beyond the baseline (the process with the mapping set loaded:
//! a fixed cost, about 70 MB, mostly the Shopify schema). The time
//! includes loading the mapping set and the ledger. `PLAN_BENCH_DIR=DIR`
//! keeps the generated data in DIR for profiling one phase.

#[path = "support/mod.rs"]
mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use mapsync::check::model::Entity;

/// The binary's allocator (src/main.rs), so the bench measures what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mapsync::connectors::shopify::model::TargetItem;
use mapsync::engine::CompileJob;
use mapsync::plan::compile::{document_hash, document_hash_and_text, Compiler};
use mapsync::plan::reconcile::{self, EntityInput, ReconcileInput};
use mapsync::plan::spool::SpoolWriter;
use mapsync::state::{Change, LedgerUpdate, Store};

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

/// One thread, one stage at a time: the CPU cost of each step of planning
/// a record (`plan breakdown FILE DB`, for profiling; not part of the run).
fn breakdown(file: &Path) -> usize {
    let set = mapping();
    let compiler = Compiler::new(&set, Entity::Product).unwrap();
    let options = serde_json::json!({"type": "file", "path": file, "entity": "product"});
    let endpoint = mapsync::connectors::source(options, Path::new(".")).unwrap();
    let source = mapsync::engine::open_source(&endpoint).unwrap();
    let (mut read, mut compile, mut hash, mut line, mut drop_t) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut n = 0;
    let mut records = source.records(Entity::Product).unwrap();
    loop {
        let t = Instant::now();
        let Some(rec) = records.next() else { break };
        let rec = rec.unwrap();
        let t1 = Instant::now();
        let c = compiler.compile(&rec.fields).unwrap();
        let t2 = Instant::now();
        let (h, text) = document_hash_and_text(&c.document);
        let t3 = Instant::now();
        let l = SpoolWriter::line(&h, &c.control, &text).unwrap();
        let t4 = Instant::now();
        drop((c, l, rec));
        let t5 = Instant::now();
        read += (t1 - t).as_secs_f64();
        compile += (t2 - t1).as_secs_f64();
        hash += (t3 - t2).as_secs_f64();
        line += (t4 - t3).as_secs_f64();
        drop_t += (t5 - t4).as_secs_f64();
        n += 1;
    }
    let us = |s: f64| s * 1e6 / n.max(1) as f64;
    eprintln!(
        "  per record: read+parse {:.1} µs, compile {:.1} µs, hash {:.1} µs, spool line {:.1} µs, drop {:.1} µs",
        us(read),
        us(compile),
        us(hash),
        us(line),
        us(drop_t)
    );
    n
}

const CHANNEL: &str = "default";

fn mapping() -> Arc<mapsync::check::model::MappingSet> {
    let (mut set, _, diags) =
        mapsync::check::load_mapping(Path::new("mappings/pim-shopify"), &mapsync::registry())
            .unwrap();
    assert!(!diags.has_errors());
    // A file source cannot be written back to, and a declared SyncDate that
    // stays empty makes every item `update.never-synced` on every run
    // (`validate` warns): drop the write-back fields, as the warning says.
    if let Some(product) = set.product.as_mut() {
        product.writeback = Default::default();
    }
    Arc::new(set)
}

/// A ledger in which every product was synced with its current document.
fn write_synced_ledger(file: &Path, db: &Path) {
    let set = mapping();
    let compiler = Compiler::new(&set, Entity::Product).unwrap();
    let options = serde_json::json!({"type": "file", "path": file, "entity": "product"});
    let endpoint = mapsync::connectors::source(options, Path::new(".")).unwrap();
    let source = mapsync::engine::open_source(&endpoint).unwrap();
    let mut store = Store::open(db).unwrap();
    let mut batch = Vec::new();
    let date = time::OffsetDateTime::now_utc();
    for (i, rec) in source.records(Entity::Product).unwrap().enumerate() {
        let c = compiler.compile(&rec.unwrap().fields).unwrap();
        batch.push(LedgerUpdate {
            entity: Entity::Product,
            key: c.document.key.clone(),
            change: Change::Success {
                target_id: format!("gid://shopify/Product/{}", i + 1),
                hash: document_hash(&c.document),
                date,
            },
        });
        if batch.len() == 10_000 {
            store.record_many(CHANNEL, &batch).unwrap();
            batch.clear();
        }
    }
    store.record_many(CHANNEL, &batch).unwrap();
}

/// Plan from `file` against the ledger in `db` and a target holding every
/// item the ledger knows; returns (changes, seconds to decide, seconds to
/// render the JSON plan).
fn plan(file: &Path, db: &Path, base: &mut u64) -> (usize, f64, f64) {
    let t = Instant::now();
    let set = mapping();
    // The mapping set (with the Shopify schema it is checked against) is a
    // fixed cost, the same for 10 products or 10 million.
    *base = kib("VmRSS:");
    let store = Store::open(db).unwrap();
    let ledger = store.load(CHANNEL, Entity::Product).unwrap();
    let stage = |name: &str| {
        eprintln!(
            "  {name}: {:.2} s, RSS {} MB",
            t.elapsed().as_secs_f64(),
            kib("VmRSS:") / 1024
        )
    };
    stage("ledger loaded");
    let options = serde_json::json!({"type": "file", "path": file, "entity": "product"});
    let source = mapsync::connectors::source(options, Path::new(".")).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let job = CompileJob {
        source: source.clone(),
        set: set.clone(),
        kind: Entity::Product,
        ledger,
        now,
        run: Default::default(),
        force: false,
        scope: Default::default(),
    };
    // The reduced target read: one item per synced product, marked. Like
    // the engine, which reads the target while the records compile once
    // the ledger knows the items, it is built on a thread of its own.
    let (target, (items, spool)) = std::thread::scope(|scope| {
        let target = scope.spawn(|| {
            job.ledger
                .iter()
                .filter_map(|(key, row)| {
                    let id = row.target_id.as_deref()?.to_string();
                    Some(TargetItem {
                        handle: format!("h-{key}"),
                        id,
                        title: String::new(),
                        published: true,
                        status: Some("ACTIVE".into()),
                        marker: Some(key.clone()),
                        updated_at: None,
                    })
                })
                .collect::<Vec<_>>()
        });
        let compiled = job.run(SpoolWriter::create().unwrap()).unwrap();
        (target.join().unwrap(), compiled)
    });
    stage(&format!(
        "records compiled ({} documents spooled)",
        items
            .iter()
            .filter(|i| matches!(
                i,
                mapsync::plan::spool::SpooledItem::Compiled {
                    spooled: Some(_),
                    ..
                }
            ))
            .count()
    ));
    let mut input = ReconcileInput {
        profile: "bench".into(),
        target_serial: String::new(),
        settings: set.settings.clone(),
        now,
        force: false,
        entities: vec![EntityInput {
            entity: Entity::Product,
            items,
            ledger: job.ledger,
            target,
            partial: false,
            matched: Default::default(),
        }],
    };
    let (plan, refs) = reconcile::decide(&input).unwrap();
    stage("decided");
    let docs = mapsync::engine::spool_documents(
        &source,
        &Vec::new(),
        &set,
        &Default::default(),
        &mut input,
        &refs,
        spool,
    )
    .unwrap();
    stage("documents spooled");
    let decided = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut sink = std::io::BufWriter::new(std::io::sink());
    mapsync::plan::render::write_json(&plan, &docs, &mut sink).unwrap();
    (plan.changes.len(), decided, t.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [phase, file, db] = args.as_slice() {
        let mut base = kib("VmRSS:");
        let t = Instant::now();
        let (n, render) = match phase.as_str() {
            "floor" => (floor(Path::new(file)), 0.0),
            "breakdown" => (breakdown(Path::new(file)), 0.0),
            _ => {
                let (n, _, render) = plan(Path::new(file), Path::new(db), &mut base);
                (n, render)
            }
        };
        let secs = t.elapsed().as_secs_f64() - render;
        println!("{phase} {n} {secs} {} {base} {render}", kib("VmHWM:"));
        return;
    }
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    // PLAN_BENCH_DIR=DIR keeps the data there (reused when present), for
    // profiling a phase: `plan synced DIR/products.ndjson DIR/synced.db`.
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PLAN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join(format!("products-{n}.ndjson"));
    let empty_db = dir.join(format!("empty-{n}.db"));
    let synced_db = dir.join(format!("synced-{n}.db"));
    let bytes = if file.exists() && synced_db.exists() {
        std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)
    } else {
        let _ = std::fs::remove_file(&synced_db);
        let bytes = support::write_products_ndjson(&file, n);
        drop(Store::open(&empty_db).unwrap());
        write_synced_ledger(&file, &synced_db);
        bytes
    };
    println!(
        "plan benchmark: {n} products, {} MB of NDJSON",
        bytes / 1_000_000
    );
    let exe = std::env::current_exe().unwrap();
    let mut floor_secs = 0.0;
    for (phase, db) in [
        ("floor", &empty_db),
        ("empty", &empty_db),
        ("synced", &synced_db),
    ] {
        let out = std::process::Command::new(&exe)
            .arg(phase)
            .arg(&file)
            .arg(db)
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split_whitespace().collect();
        assert!(
            f.len() >= 6,
            "{phase}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (count, secs, hwm, base, render): (usize, f64, u64, u64, f64) = (
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].parse().unwrap(),
        );
        if phase == "floor" {
            floor_secs = secs;
        }
        println!(
            "{phase:>7}: {count} items in {secs:.2} s = {:.0} records/s, {:.2}x floor, peak {} MB (baseline {} MB), {:.2} KB/product beyond baseline; JSON plan rendered in {render:.2} s more",
            n as f64 / secs,
            secs / floor_secs,
            hwm / 1024,
            base / 1024,
            (hwm.saturating_sub(base)) as f64 / n as f64
        );
    }
}
