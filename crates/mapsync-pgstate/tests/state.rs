//! One state test suite, run against both stores: each `state_case!` is a
//! test on SQLite (`mapsync_state::Store`) and one on PostgreSQL
//! (`PgStore`, on a database of its own in a throwaway cluster; skipped
//! with the reason when there is no PostgreSQL).

mod support;

use std::time::Duration;

use mapsync_core::source::Entity;
use mapsync_pgstate::{BatchLine, Change, LedgerUpdate, RunId, RunStatus};
use serde_json::json;
use time::OffsetDateTime;

fn t(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + s).unwrap()
}

fn ok(key: &str, id: &str, hash: &str, date: OffsetDateTime) -> LedgerUpdate {
    LedgerUpdate {
        entity: Entity::Product,
        key: key.into(),
        change: Change::Success {
            target_id: id.into(),
            hash: hash.into(),
            date,
        },
    }
}

fn failed(key: &str, id: Option<&str>, message: &str) -> LedgerUpdate {
    LedgerUpdate {
        entity: Entity::Product,
        key: key.into(),
        change: Change::Failure {
            target_id: id.map(Into::into),
            message: message.into(),
        },
    }
}

fn gone(key: &str) -> LedgerUpdate {
    LedgerUpdate {
        entity: Entity::Product,
        key: key.into(),
        change: Change::Forget,
    }
}

// The hash of each field written (drift): kept by `Wrote`, kept by a
// failure, cleared by a plain success, gone with the row; not part of the
// ledger rows.
state_case!(field_hashes_follow_the_outcomes, |s| {
    let fields: mapsync_core::diff::FieldHashes = [
        ("title".to_string(), "0123456789abcdef".to_string()),
        ("variants[A-S].price".into(), "fedcba9876543210".into()),
    ]
    .into_iter()
    .collect();
    let wrote = |key: &str| LedgerUpdate {
        entity: Entity::Product,
        key: key.into(),
        change: Change::Wrote {
            target_id: format!("gid://P/{key}"),
            hash: "h".into(),
            date: t(0),
            fields: fields.clone(),
        },
    };
    s.record_many(
        "c",
        &[wrote("A"), wrote("B"), ok("C", "gid://P/C", "h", t(0))],
    )
    .await
    .unwrap();
    let keys: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
    let got = s.field_hashes("c", Entity::Product, &keys).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["A"], fields);
    assert!(s
        .field_hashes("c", Entity::Category, &keys)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.get("c", Entity::Product, "A")
            .await
            .unwrap()
            .unwrap()
            .hash
            .as_deref(),
        Some("h")
    );
    s.record_many(
        "c",
        &[
            failed("A", None, "drift"),
            ok("B", "gid://P/B", "h2", t(1)),
            gone("C"),
        ],
    )
    .await
    .unwrap();
    let got = s.field_hashes("c", Entity::Product, &keys).await.unwrap();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["A"],
        "a failure keeps them, a success clears them"
    );
    s.record_many("c", &[gone("A")]).await.unwrap();
    assert!(s
        .field_hashes("c", Entity::Product, &keys)
        .await
        .unwrap()
        .is_empty());
});

// The choices of `mapsync resolve`: recorded (a second one for a field
// replaces the first), listed by channel and entity, for some keys or
// all, in key then field order, to the nanosecond; cleared only as read.
state_case!(resolve_choices_are_recorded_listed_and_cleared, |s| {
    use mapsync_core::two_way::Side;
    use mapsync_pgstate::Resolution;
    let at = |n: i64| {
        OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789 + i128::from(n))
            .unwrap()
    };
    let choice = |key: &str, field: &str, take: Side, n: i64| Resolution {
        entity: Entity::Product,
        key: key.into(),
        field: field.into(),
        take,
        recorded_at: at(n),
        source_hash: None,
        target_hash: None,
    };
    assert!(s
        .resolutions("c", Entity::Product, None)
        .await
        .unwrap()
        .is_empty());
    let vendor_b = choice("B", "vendor", Side::Source, 0);
    let mut material_a = choice("A", "metafields[custom.material]", Side::Target, 1);
    material_a.source_hash = Some("0123abcd".into());
    material_a.target_hash = Some("fedc9876".into());
    let vendor_a = choice("A", "vendor", Side::Source, 2);
    let mut category = choice("B", "title", Side::Target, 3);
    category.entity = Entity::Category;
    for (channel, c) in [
        ("c", &vendor_b),
        ("c", &material_a),
        ("c", &vendor_a),
        ("c", &category),
        ("other", &vendor_b),
    ] {
        s.record_resolution(channel, c).await.unwrap();
    }
    assert_eq!(
        s.resolutions("c", Entity::Product, None).await.unwrap(),
        vec![material_a.clone(), vendor_a.clone(), vendor_b.clone()],
        "key, then field order; hashes and instants as recorded"
    );
    assert_eq!(
        s.resolutions("c", Entity::Category, None).await.unwrap(),
        vec![category]
    );
    // A second choice for a field replaces the first.
    let vendor_b2 = choice("B", "vendor", Side::Target, 4);
    s.record_resolution("c", &vendor_b2).await.unwrap();
    let keys: Vec<String> = ["B", "Z"].map(String::from).to_vec();
    assert_eq!(
        s.resolutions("c", Entity::Product, Some(&keys[..]))
            .await
            .unwrap(),
        vec![vendor_b2.clone()]
    );
    assert_eq!(
        s.resolutions("c", Entity::Product, Some(&[][..]))
            .await
            .unwrap(),
        vec![]
    );
    // Clearing what a run read: the replaced choice is no longer there,
    // the ones read go, the rest stays.
    assert_eq!(
        s.clear_resolutions("c", &[vendor_b.clone(), vendor_a, material_a.clone()])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.resolutions("c", Entity::Product, None).await.unwrap(),
        vec![vendor_b2.clone()]
    );
    assert_eq!(s.clear_resolutions("c", &[]).await.unwrap(), 0);
    assert_eq!(
        s.resolutions("other", Entity::Product, None).await.unwrap(),
        vec![vendor_b]
    );
    let odd = choice("ключ ✓ 'q'", "metafields[a.b]", Side::Target, 5);
    s.record_resolution("c", &odd).await.unwrap();
    assert_eq!(
        s.resolutions("c", Entity::Product, Some(std::slice::from_ref(&odd.key)))
            .await
            .unwrap(),
        vec![odd]
    );
});

state_case!(ledger_round_trip, |s| {
    let date = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
    assert!(s.load("c", Entity::Product).await.unwrap().is_empty());
    assert_eq!(s.get("c", Entity::Product, "A").await.unwrap(), None);
    s.record_success("c", Entity::Product, "A", "gid://P/1", "h1", date)
        .await
        .unwrap();
    s.record_success("c", Entity::Category, "A", "gid://C/1", "h2", date)
        .await
        .unwrap();
    s.record_success("other", Entity::Product, "B", "gid://P/2", "h3", date)
        .await
        .unwrap();
    let row = s.get("c", Entity::Product, "A").await.unwrap().unwrap();
    assert_eq!(row.target_id.as_deref(), Some("gid://P/1"));
    assert_eq!(row.hash.as_deref(), Some("h1"));
    assert_eq!(row.sync_date, Some(date), "dates keep their nanoseconds");
    assert_eq!(row.message, None);
    assert_eq!(row.attempts, 0);
    let ledger = s.load("c", Entity::Product).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger["A"], row);
    assert_eq!(s.load("c", Entity::Category).await.unwrap().len(), 1);
    let (key, found) = s
        .find_by_target("c", Entity::Product, "gid://P/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((key.as_str(), found), ("A", row));
    assert_eq!(
        s.find_by_target("c", Entity::Category, "gid://P/1")
            .await
            .unwrap(),
        None
    );
    // Several keys on one id: the smallest, byte order.
    s.record_success("c", Entity::Product, "0", "gid://P/1", "h", date)
        .await
        .unwrap();
    let (key, _) = s
        .find_by_target("c", Entity::Product, "gid://P/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key, "0");
    // Texts round-trip as they are.
    let odd = "ключ ✓ 'quoted' \"double\" \\ \t";
    s.record_success("c", Entity::Product, odd, odd, odd, date)
        .await
        .unwrap();
    let row = s.get("c", Entity::Product, odd).await.unwrap().unwrap();
    assert_eq!(row.target_id.as_deref(), Some(odd));
});

state_case!(failures_are_counted_and_keep_the_id, |s| {
    s.record_failure("c", Entity::Product, "A", None, "refused")
        .await
        .unwrap();
    let row = s.get("c", Entity::Product, "A").await.unwrap().unwrap();
    assert_eq!((row.target_id, row.hash, row.sync_date), (None, None, None));
    assert_eq!(row.message.as_deref(), Some("refused"));
    assert_eq!(row.attempts, 1);
    s.record_success("c", Entity::Product, "A", "id1", "h1", t(0))
        .await
        .unwrap();
    s.record_failure("c", Entity::Product, "A", None, "timeout")
        .await
        .unwrap();
    s.record_failure("c", Entity::Product, "A", None, "again")
        .await
        .unwrap();
    let row = s.get("c", Entity::Product, "A").await.unwrap().unwrap();
    assert_eq!(
        row.target_id.as_deref(),
        Some("id1"),
        "the known id is kept"
    );
    assert_eq!(row.hash.as_deref(), Some("h1"), "the hash is kept");
    assert_eq!(row.sync_date, Some(t(0)));
    assert_eq!(row.message.as_deref(), Some("again"));
    assert_eq!(row.attempts, 2);
    s.record_failure(
        "c",
        Entity::Product,
        "A",
        Some("id2"),
        "created, then failed",
    )
    .await
    .unwrap();
    let row = s.get("c", Entity::Product, "A").await.unwrap().unwrap();
    assert_eq!(
        row.target_id.as_deref(),
        Some("id2"),
        "a known id replaces it"
    );
    assert_eq!(row.attempts, 3);
    s.record_success("c", Entity::Product, "A", "id2", "h2", t(5))
        .await
        .unwrap();
    let row = s.get("c", Entity::Product, "A").await.unwrap().unwrap();
    assert_eq!((row.message, row.attempts), (None, 0), "a success clears");
});

state_case!(forget_removes_one_row, |s| {
    s.record_success("c", Entity::Product, "A", "1", "h", t(0))
        .await
        .unwrap();
    s.record_success("c", Entity::Category, "A", "2", "h", t(0))
        .await
        .unwrap();
    assert!(s.forget("c", Entity::Product, "A").await.unwrap());
    assert!(!s.forget("c", Entity::Product, "A").await.unwrap());
    assert_eq!(s.get("c", Entity::Product, "A").await.unwrap(), None);
    assert!(s.get("c", Entity::Category, "A").await.unwrap().is_some());
});

state_case!(record_many_applies_in_order, |s| {
    s.record_many("c", &[]).await.unwrap();
    s.record_many(
        "c",
        &[ok("gone", "9", "h", t(0)), ok("kept", "8", "h", t(0))],
    )
    .await
    .unwrap();
    let updates = vec![
        ok("A", "1", "h1", t(1)),
        failed("B", None, "refused"),
        gone("gone"),
        // The same item twice and more in one batch: applied in order.
        failed("C", Some("3"), "first"),
        ok("C", "3", "h3", t(2)),
        failed("D", None, "one"),
        failed("D", None, "two"),
        failed("D", None, "three"),
        ok("E", "5", "h5", t(3)),
        gone("E"),
        gone("F"),
        ok("F", "6", "h6", t(4)),
    ];
    s.record_many("c", &updates).await.unwrap();
    let ledger = s.load("c", Entity::Product).await.unwrap();
    let mut keys: Vec<&str> = ledger.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["A", "B", "C", "D", "F", "kept"]);
    assert_eq!(ledger["A"].hash.as_deref(), Some("h1"));
    assert_eq!(ledger["B"].attempts, 1);
    assert_eq!(ledger["C"].attempts, 0);
    assert_eq!(ledger["C"].message, None);
    assert_eq!(ledger["D"].attempts, 3);
    assert_eq!(ledger["D"].message.as_deref(), Some("three"));
    assert_eq!(ledger["F"].target_id.as_deref(), Some("6"));
    // Many items: one batch the size the engine's writer commits.
    let big: Vec<LedgerUpdate> = (0..1500)
        .map(|i| ok(&format!("k{i:05}"), &format!("id{i}"), "h", t(i)))
        .collect();
    s.record_many("bulk", &big).await.unwrap();
    let ledger = s.load("bulk", Entity::Product).await.unwrap();
    assert_eq!(ledger.len(), 1500);
    assert_eq!(ledger["k01499"].sync_date, Some(t(1499)));
});

state_case!(write_backs_are_marked_until_done, |s| {
    let updates = vec![
        ok("A", "t1", "h", t(0)),
        failed("B", None, "refused"),
        gone("Z"),
        LedgerUpdate {
            entity: Entity::Category,
            key: "C".into(),
            change: Change::Success {
                target_id: "t2".into(),
                hash: "h".into(),
                date: t(0),
            },
        },
    ];
    s.record_many_marking("c", &updates, &|e| e == Entity::Product)
        .await
        .unwrap();
    let pending = s
        .pending_writebacks("c", Entity::Product, None, 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 2, "a forgotten item is not marked");
    assert_eq!(pending[0].0, "A");
    assert_eq!(pending[0].1.target_id.as_deref(), Some("t1"));
    assert_eq!(pending[1].1.message.as_deref(), Some("refused"));
    assert!(s
        .pending_writebacks("c", Entity::Category, None, 10)
        .await
        .unwrap()
        .is_empty());
    let after = s
        .pending_writebacks("c", Entity::Product, Some("A"), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    // Marked again: still once.
    s.record_many_marking("c", &[failed("A", None, "x")], &|_| true)
        .await
        .unwrap();
    assert_eq!(s.pending_writeback_count("c").await.unwrap(), 2);
    assert_eq!(s.pending_writeback_count("d").await.unwrap(), 0);
    s.writebacks_done("c", Entity::Product, &["A".to_string()])
        .await
        .unwrap();
    s.writebacks_done("c", Entity::Product, &[]).await.unwrap();
    assert_eq!(s.pending_writeback_count("c").await.unwrap(), 1);
});

state_case!(keys_order_byte_by_byte, |s| {
    // SQLite compares text as bytes; PostgreSQL must page the same way
    // whatever the database's locale.
    let keys = ["b", "B", "_a", "a-2", "a10", "a2", "é", "Z", "a 1"];
    let updates: Vec<LedgerUpdate> = keys.iter().map(|k| failed(k, None, "m")).collect();
    s.record_many_marking("c", &updates, &|_| true)
        .await
        .unwrap();
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .pending_writebacks("c", Entity::Product, after.as_deref(), 2)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(k, _)| k));
    }
    assert_eq!(seen, expected);
});

state_case!(runs_are_journaled, |s| {
    assert_eq!(s.last_run_id("p").await.unwrap(), None);
    assert_eq!(s.last_run_started("p").await.unwrap(), None);
    let r1 = s.begin_run("p", "c", t(0)).await.unwrap();
    let running = s.recent_runs("p", 10).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].status, RunStatus::Running);
    assert_eq!(running[0].finished_at, None);
    assert_eq!(running[0].summary, None);
    let summary = json!({"created": 3, "updated": 1, "a": [1, 2]});
    s.finish_run(r1, t(5), RunStatus::Partial, &summary)
        .await
        .unwrap();
    let report = json!({"requests": 12, "failed": [{"key": "B", "error": "refused"}]});
    s.set_run_report(r1, &report).await.unwrap();
    let r2 = s
        .record_failed_run("p", "c", t(10), t(11), &json!({"fatal": "cannot connect"}))
        .await
        .unwrap();
    let r3 = s.begin_run("q", "c", t(20)).await.unwrap();
    assert_ne!(r1, r2);
    assert_eq!(s.last_run_id("p").await.unwrap(), Some(r2));
    assert_eq!(s.last_run_started("p").await.unwrap(), Some((r2, t(10))));
    assert_eq!(s.last_run_id("q").await.unwrap(), Some(r3));
    let runs = s.recent_runs("p", 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [r2, r1]);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].summary, Some(json!({})));
    assert_eq!(runs[0].report, Some(json!({"fatal": "cannot connect"})));
    assert_eq!(runs[0].finished_at, Some(t(11)));
    assert_eq!(runs[1].profile, "p");
    assert_eq!(runs[1].channel, "c");
    assert_eq!(runs[1].started_at, t(0));
    assert_eq!(runs[1].summary, Some(summary.clone()));
    assert_eq!(runs[1].report, Some(report));
    // The summary's keys keep their order.
    assert_eq!(
        runs[1].summary.as_ref().unwrap().to_string(),
        summary.to_string()
    );
    assert_eq!(s.recent_runs("p", 1).await.unwrap().len(), 1);
    assert!(s.recent_runs("nobody", 10).await.unwrap().is_empty());
});

state_case!(pruning_keeps_the_newest_runs_and_the_last_reads, |s| {
    let full = s.begin_run("p", "c", t(0)).await.unwrap();
    s.finish_run(full, t(1), RunStatus::Ok, &json!({}))
        .await
        .unwrap();
    s.set_full_read(full, true).await.unwrap();
    let inc = s.begin_run("p", "c", t(10)).await.unwrap();
    s.finish_run(inc, t(11), RunStatus::Partial, &json!({}))
        .await
        .unwrap();
    s.set_full_read(inc, false).await.unwrap();
    for i in 0..10 {
        let r = s.begin_run("p", "c", t(20 + i)).await.unwrap();
        s.finish_run(r, t(21 + i), RunStatus::Failed, &json!({}))
            .await
            .unwrap();
    }
    let other = s.begin_run("q", "c", t(0)).await.unwrap();
    assert_eq!(s.prune_runs("p", 100).await.unwrap(), 0, "fewer than kept");
    let before = s.read_history("p").await.unwrap();
    assert_eq!(before, (Some(t(10)), Some(t(0))));
    assert_eq!(s.prune_runs("p", 3).await.unwrap(), 7);
    let left: Vec<RunId> = s
        .recent_runs("p", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left.len(), 5, "3 newest, the last read, the last full read");
    assert!(left.contains(&full) && left.contains(&inc), "{left:?}");
    assert_eq!(s.read_history("p").await.unwrap(), before);
    assert_eq!(s.recent_runs("q", 10).await.unwrap()[0].id, other);
    assert_eq!(s.prune_runs("p", 3).await.unwrap(), 0);
    // keep 0 counts as 1.
    assert_eq!(s.prune_runs("p", 0).await.unwrap(), 2);
    assert_eq!(s.recent_runs("p", 100).await.unwrap().len(), 3);
});

state_case!(
    read_history_knows_the_last_run_and_the_last_full_read,
    |s| {
        assert_eq!(s.read_history("p").await.unwrap(), (None, None));
        let r1 = s.begin_run("p", "c", t(0)).await.unwrap();
        s.finish_run(r1, t(0), RunStatus::Ok, &json!({}))
            .await
            .unwrap();
        let r2 = s.begin_run("p", "c", t(600)).await.unwrap();
        s.set_full_read(r2, false).await.unwrap();
        s.finish_run(r2, t(600), RunStatus::Partial, &json!({}))
            .await
            .unwrap();
        let r3 = s.begin_run("p", "c", t(700)).await.unwrap();
        s.finish_run(r3, t(700), RunStatus::Failed, &json!({}))
            .await
            .unwrap();
        s.begin_run("p", "c", t(800)).await.unwrap();
        assert_eq!(
            s.read_history("p").await.unwrap(),
            (Some(t(600)), Some(t(0)))
        );
    }
);

state_case!(batches_are_pending_until_forgotten, |s| {
    let lines = vec![
        BatchLine {
            key: "A".into(),
            hash: "h1".into(),
            action: "create".into(),
            target_id: None,
        },
        BatchLine {
            key: "B".into(),
            hash: "h2".into(),
            action: "update".into(),
            target_id: Some("gid://P/2".into()),
        },
    ];
    s.record_batch("c", "op/2", Entity::Product, &lines, t(10))
        .await
        .unwrap();
    s.record_batch("c", "op/1", Entity::Category, &lines[..1], t(10))
        .await
        .unwrap();
    s.record_batch("c", "op/0", Entity::Product, &[], t(5))
        .await
        .unwrap();
    assert!(s.pending_batches("other").await.unwrap().is_empty());
    let pending = s.pending_batches("c").await.unwrap();
    let handles: Vec<&str> = pending.iter().map(|b| b.handle.as_str()).collect();
    assert_eq!(
        handles,
        ["op/0", "op/1", "op/2"],
        "oldest first, then by handle"
    );
    assert_eq!(pending[2].entity, Entity::Product);
    assert_eq!(pending[2].lines, lines);
    assert_eq!(pending[1].entity, Entity::Category);
    assert_eq!(pending[0].submitted_at, "2023-11-14T22:13:25Z");
    // Recorded again: replaced.
    s.record_batch("c", "op/0", Entity::Category, &lines, t(30))
        .await
        .unwrap();
    let pending = s.pending_batches("c").await.unwrap();
    assert_eq!(pending.last().unwrap().handle, "op/0");
    assert_eq!(pending.last().unwrap().entity, Entity::Category);
    assert!(s.forget_batch("c", "op/2").await.unwrap());
    assert!(!s.forget_batch("c", "op/2").await.unwrap());
    assert_eq!(s.pending_batches("c").await.unwrap().len(), 2);
});

state_case!(uploads_are_found_until_they_are_too_old, |s| {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let now = OffsetDateTime::now_utc();
    assert_eq!(s.upload_location("shop", "h1", DAY).await.unwrap(), None);
    s.record_upload("shop", "h1", "https://up/1/a.png", now)
        .await
        .unwrap();
    s.record_upload(
        "shop",
        "h2",
        "https://up/2/b.png",
        now - time::Duration::hours(25),
    )
    .await
    .unwrap();
    assert_eq!(
        s.upload_location("shop", "h1", DAY)
            .await
            .unwrap()
            .as_deref(),
        Some("https://up/1/a.png")
    );
    assert_eq!(s.upload_location("other", "h1", DAY).await.unwrap(), None);
    assert_eq!(
        s.upload_location("shop", "h2", DAY).await.unwrap(),
        None,
        "too old"
    );
    s.record_upload("shop", "h2", "https://up/3/b.png", now)
        .await
        .unwrap();
    assert_eq!(
        s.upload_location("shop", "h2", DAY)
            .await
            .unwrap()
            .as_deref(),
        Some("https://up/3/b.png"),
        "a new upload replaces the old one"
    );
    s.record_upload(
        "shop",
        "h3",
        "https://up/4/c.png",
        now - time::Duration::days(3),
    )
    .await
    .unwrap();
    s.record_upload(
        "else",
        "h4",
        "https://up/5/d.png",
        now - time::Duration::days(3),
    )
    .await
    .unwrap();
    assert_eq!(s.prune_uploads("shop", DAY).await.unwrap(), 1);
    assert_eq!(s.prune_uploads("shop", DAY).await.unwrap(), 0);
    s.forget_upload("shop", "h1").await.unwrap();
    assert_eq!(s.upload_location("shop", "h1", DAY).await.unwrap(), None);
    assert!(s
        .upload_location("shop", "h2", DAY)
        .await
        .unwrap()
        .is_some());
    assert!(s
        .upload_location("else", "h4", Duration::from_secs(365 * 86_400))
        .await
        .unwrap()
        .is_some());
});

state_case!(image_publish_progress_is_kept_per_channel, |s| {
    assert_eq!(s.image_published("c", "a").await.unwrap(), None);
    s.record_image_published("c", "a", "overwritten", t(0))
        .await
        .unwrap();
    assert_eq!(
        s.image_published("c", "a").await.unwrap().as_deref(),
        Some("overwritten")
    );
    assert_eq!(s.image_published("d", "a").await.unwrap(), None);
    s.record_image_published("c", "a", "skipped", t(1))
        .await
        .unwrap();
    assert_eq!(
        s.image_published("c", "a").await.unwrap().as_deref(),
        Some("skipped")
    );
});
