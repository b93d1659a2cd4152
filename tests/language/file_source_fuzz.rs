//! Property tests of the `file` source: no input makes a reader panic, and
//! well-formed input is read back exactly.

use std::path::Path;

use mapsync::connectors::file::FileSource;
use mapsync::connectors::{Entity, ReadError};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Reads every entity of `bytes` written as `name` with `options`; the
/// result only matters in that it returns.
fn read_all(dir: &Path, name: &str, bytes: &[u8], options: Value) -> usize {
    std::fs::write(dir.join(name), bytes).unwrap();
    let mut options = options;
    options["path"] = json!(name);
    let source = FileSource::from_value(&options, dir).unwrap();
    let mut n = 0;
    for entity in Entity::ALL {
        if let Ok(stream) = source.open(entity) {
            for item in stream {
                n += 1;
                if let Err(ReadError::Fatal(_)) = item {
                    break;
                }
            }
        }
    }
    n
}

/// Bytes that look a bit like the formats, so the readers get past their
/// first checks more often than with uniform noise.
fn catalogish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"\"products\":".to_vec()),
        Just(b"categories:\n".to_vec()),
        Just(b"- ".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"a,b,c\n".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b": ".to_vec()),
        Just(b"&a *a".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_bytes_make_a_reader_panic(bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), catalogish()]) {
        let dir = tempfile::tempdir().unwrap();
        read_all(dir.path(), "x.json", &bytes, json!({}));
        read_all(dir.path(), "y.json", &bytes, json!({"entity": "product"}));
        read_all(dir.path(), "x.ndjson", &bytes, json!({"entity": "product"}));
        read_all(dir.path(), "x.csv", &bytes, json!({"entity": "product"}));
        read_all(dir.path(), "y.csv", &bytes, json!({"entity": "product", "group_by": "a"}));
        read_all(dir.path(), "x.yaml", &bytes, json!({}));
        read_all(dir.path(), "y.yaml", &bytes, json!({"entity": "category"}));
    }

    /// Lines taken raw and parsed later (as planning does, on its compile
    /// threads) give exactly the items the stream gives.
    #[test]
    fn raw_ndjson_lines_parse_to_the_same_items(bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), catalogish()]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.ndjson"), &bytes).unwrap();
        let source = FileSource::from_value(&json!({"path": "x.ndjson", "entity": "product"}), dir.path()).unwrap();
        let show = |item: mapsync::connectors::RecordItem| match item {
            Ok(r) => format!("{} {}", r.position, Value::Object(r.fields)),
            Err(e) => e.to_string(),
        };
        let streamed: Vec<String> = source.open(Entity::Product).unwrap().map(show).collect();
        let raw: Vec<String> = source
            .open(Entity::Product)
            .unwrap()
            .into_raw()
            .map(|r| show(r.parse()))
            .collect();
        prop_assert_eq!(raw, streamed);
    }

    /// No bytes make the plan-file reader (`apply`) panic.
    #[test]
    fn no_bytes_make_the_plan_file_reader_panic(bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..300), catalogish()]) {
        let _ = mapsync::plan::spool::read_plan_file(&bytes[..]);
    }

    #[test]
    fn ndjson_and_json_read_back_what_was_written(
        records in proptest::collection::vec(
            proptest::collection::btree_map("[a-zA-Z _]{1,8}", prop_oneof![
                any::<i64>().prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
                Just(Value::Null),
            ], 0..5),
            0..20,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let objects: Vec<Value> = records
            .iter()
            .map(|m| Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .collect();
        let ndjson: String = objects.iter().map(|o| format!("{o}\n")).collect();
        std::fs::write(dir.path().join("p.ndjson"), ndjson).unwrap();
        std::fs::write(dir.path().join("p.json"), serde_json::to_vec_pretty(&json!({"products": objects})).unwrap()).unwrap();
        for options in [json!({"path": "p.ndjson", "entity": "product"}), json!({"path": "p.json"})] {
            let source = FileSource::from_value(&options, dir.path()).unwrap();
            let read: Vec<Value> = source
                .open(Entity::Product)
                .unwrap()
                .map(|r| Value::Object(r.unwrap().fields))
                .collect();
            prop_assert_eq!(&read, &objects);
        }
    }

    #[test]
    fn csv_reads_back_any_cells(
        rows in proptest::collection::vec(proptest::collection::vec("[^\u{0}]{0,6}", 3), 0..15)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = csv::Writer::from_path(dir.path().join("p.csv")).unwrap();
        w.write_record(["K", "A", "B"]).unwrap();
        for r in &rows {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let source = FileSource::from_value(&json!({"path": "p.csv", "entity": "product"}), dir.path()).unwrap();
        let read: Vec<Vec<String>> = source
            .open(Entity::Product)
            .unwrap()
            .map(|r| {
                let f = r.unwrap().fields;
                ["K", "A", "B"].iter().map(|k| f[*k].as_str().unwrap().to_string()).collect()
            })
            .collect();
        prop_assert_eq!(read, rows);
    }
}

/// Deeply nested documents are refused with an error, not a stack overflow.
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for name in ["d.json", "d.yaml"] {
        std::fs::write(dir.path().join(name), &deep).unwrap();
        let source =
            FileSource::from_value(&json!({"path": name, "entity": "product"}), dir.path())
                .unwrap();
        let result = source.open(Entity::Product);
        match result {
            Err(e) => assert!(e.to_string().contains(name), "{e}"),
            Ok(stream) => assert!(stream.take(3).all(|i| i.is_err())),
        }
    }
    let line = format!("{}{}\n", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    std::fs::write(dir.path().join("d.ndjson"), line).unwrap();
    let source = FileSource::from_value(
        &json!({"path": "d.ndjson", "entity": "product"}),
        dir.path(),
    )
    .unwrap();
    let items: Vec<_> = source.open(Entity::Product).unwrap().collect();
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(ReadError::Invalid(_))));
}
