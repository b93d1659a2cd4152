//! Data-driven tests of the `file` source. Each case in `tests/data/file/`
//! is a data file `<case>.<ext>` and/or options `<case>.source.json`; what
//! the source reads for each entity is compared with `<case>.expected.json`.
//! Regenerate expectations with
//! `UPDATE_EXPECT=1 cargo test --test language file_source::` and review the
//! diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mapsync::connectors::file::FileSource;
use mapsync::connectors::{Entity, ReadError, RecordStream};
use mapsync::engine::open_source;
use serde_json::{json, Value};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/file")
}

/// Error messages without the machine-specific directory.
fn clean(message: String) -> String {
    message.replace(&data_dir().display().to_string(), "<dir>")
}

fn items(stream: RecordStream) -> Value {
    let mut out = Vec::new();
    for item in stream {
        out.push(match item {
            Ok(r) => {
                json!({"line": r.position.line, "index": r.position.index, "fields": r.fields})
            }
            Err(ReadError::Invalid(bad)) => json!({
                "line": bad.position.line,
                "index": bad.position.index,
                "invalid": bad.message,
                "help": bad.help,
                "display": bad.to_string(),
            }),
            Err(ReadError::Fatal(e)) => json!({"fatal": clean(e.to_string())}),
        });
    }
    Value::Array(out)
}

fn run_case(options: &Value) -> Value {
    let endpoint = match mapsync::connectors::source(options.clone(), &data_dir()) {
        Ok(e) => e,
        Err(e) => return json!({"options_error": clean(e.to_string())}),
    };
    let source = match open_source(&endpoint) {
        Ok(s) => s,
        Err(e) => return json!({"options_error": clean(e.to_string())}),
    };
    assert!(!source.supports_writeback());
    assert_eq!(source.kind(), "file");
    let mut out = serde_json::Map::new();
    for entity in Entity::ALL {
        let v = match source.records(entity) {
            Ok(stream) => items(stream),
            Err(e) => json!({"fatal": clean(e.to_string())}),
        };
        out.insert(entity.as_str().to_string(), v);
    }
    Value::Object(out)
}

/// Cases: name → (options, data file).
fn cases() -> BTreeMap<String, (Option<Value>, Option<String>)> {
    let mut cases: BTreeMap<String, (Option<Value>, Option<String>)> = BTreeMap::new();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".expected.json") || name.starts_with("options_") {
            continue;
        }
        let case = name.split('.').next().unwrap().to_string();
        let slot = cases.entry(case).or_default();
        if let Some(stem) = name.strip_suffix(".source.json") {
            let text = std::fs::read_to_string(data_dir().join(&name)).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(!stem.contains('.'), "bad case name {name}");
            slot.0 = Some(v);
        } else {
            assert!(slot.1.is_none(), "two data files for case {name}");
            slot.1 = Some(name);
        }
    }
    cases
}

fn check_expected(path: &Path, actual: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &text).unwrap();
        return Ok(());
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == text => Ok(()),
        Ok(expected) => Err(format!(
            "{} differs.\n--- expected\n{expected}\n--- actual\n{text}",
            path.display()
        )),
        Err(_) => Err(format!(
            "{} is missing (run with UPDATE_EXPECT=1). Actual:\n{text}",
            path.display()
        )),
    }
}

#[test]
fn data_cases() {
    let cases = cases();
    assert!(cases.len() >= 20, "expected the data cases to be found");
    let mut failures = Vec::new();
    for (case, (options, data)) in cases {
        let mut options = options.unwrap_or_else(|| json!({}));
        let obj = options.as_object_mut().unwrap();
        obj.insert("type".into(), json!("file"));
        if !obj.contains_key("path") {
            obj.insert("path".into(), json!(data.expect("a data file")));
        }
        let actual = run_case(&options);
        let expected = data_dir().join(format!("{case}.expected.json"));
        if let Err(e) = check_expected(&expected, &actual) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Option errors, pinned in `options_errors.json` as `[{options, error}]`.
#[test]
fn option_errors() {
    let path = data_dir().join("options_errors.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let actual: Vec<Value> = cases
        .iter()
        .map(|case| {
            let options = &case["options"];
            let error = match FileSource::from_value(options, Path::new("/project")) {
                Ok(s) => format!("OK: {:?}", s.options()),
                Err(e) => e.to_string(),
            };
            json!({"options": options, "error": error})
        })
        .collect();
    check_expected(&path, &Value::Array(actual)).unwrap();
}

#[test]
fn relative_and_absolute_paths() {
    let s = FileSource::from_value(&json!({"path": "a/b.json"}), Path::new("/proj")).unwrap();
    assert_eq!(s.path(), Path::new("/proj/a/b.json"));
    let s = FileSource::from_value(
        &json!({"path": "/data/b.csv", "entity": "product"}),
        Path::new("/proj"),
    )
    .unwrap();
    assert_eq!(s.path(), Path::new("/data/b.csv"));
    assert_eq!(s.options().delimiter, b',');
    let s = FileSource::from_value(
        &json!({"path": "x.TSV", "entity": "product"}),
        Path::new("/p"),
    )
    .unwrap();
    assert_eq!(s.options().delimiter, b'\t');
}

#[test]
fn async_pull_gives_the_same_items_as_iteration() {
    let options = json!({"type": "file", "path": "ndjson_mixed.ndjson", "entity": "product"});
    let endpoint = mapsync::connectors::source(options, &data_dir()).unwrap();
    let source = open_source(&endpoint).unwrap();
    let blocking = items(source.records(Entity::Product).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut stream = source.records(Entity::Product).unwrap();
    let mut count = 0;
    let mut records = 0;
    rt.block_on(async {
        while let Some(item) = stream.next_item().await {
            count += 1;
            records += usize::from(item.is_ok());
        }
    });
    assert_eq!(count, blocking.as_array().unwrap().len());
    assert_eq!(records, 4);
}

#[test]
fn a_channel_stream_fits_network_sources() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async move {
        tokio::spawn(async move {
            for i in 0..10u64 {
                let mut fields = serde_json::Map::new();
                fields.insert("ItemNo".into(), json!(format!("A{i}")));
                let record = mapsync::connectors::Record {
                    entity: Entity::Product,
                    position: mapsync::connectors::Position {
                        origin: "https://pim.example/api".into(),
                        line: None,
                        index: i,
                    },
                    fields,
                };
                if tx.send(Ok(record)).await.is_err() {
                    break;
                }
            }
        });
        let mut stream = RecordStream::from_channel(rx);
        let mut keys = Vec::new();
        while let Some(Ok(r)) = stream.next_item().await {
            keys.push(r.fields["ItemNo"].as_str().unwrap().to_string());
        }
        keys
    });
    assert_eq!(got.len(), 10);
    assert_eq!(got[9], "A9");
}

/// A group whose rows are scattered through the file is complete; a group
/// of consecutive rows is handed out before the rest of the file is read.
#[test]
fn csv_groups_stream_in_first_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Handle,N\n");
    for i in 0..1000 {
        text.push_str(&format!("h{i},1\nh{i},2\n"));
    }
    text.push_str("h0,3\n"); // h0 completes only at the end
    std::fs::write(dir.path().join("g.csv"), text).unwrap();
    let source = FileSource::from_value(
        &json!({"path": "g.csv", "entity": "product", "group_by": "Handle"}),
        dir.path(),
    )
    .unwrap();
    let records: Vec<_> = source
        .open(Entity::Product)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(records.len(), 1000);
    assert_eq!(records[0].fields["_rows"].as_array().unwrap().len(), 3);
    assert_eq!(records[0].position.line, Some(2));
    assert_eq!(records[999].fields["Handle"], json!("h999"));
    assert!(records
        .iter()
        .enumerate()
        .all(|(i, r)| r.position.index == i as u64));
}
