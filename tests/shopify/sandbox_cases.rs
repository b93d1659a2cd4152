//! Data-driven business-rule cases of the sandbox: each file in
//! tests/data/sandbox/cases/ is a list of steps (GraphQL requests or control
//! calls) run in order on a fresh sandbox over HTTP, at API 2026-04 unless
//! the case or the step says `"api": "2025-01"`. `expect` is matched as a
//! subset of the response data (`"*"` matches any non-null value, `"$name"`
//! a value saved earlier with `save: {name: "/json/pointer"}`), `errors` of
//! its top-level errors and `cost` of its `extensions.cost`. An `upload`
//! step sends a file to a staged upload target (see [`upload`]).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

fn subst(v: &Value, saved: &HashMap<String, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with('$') => {
            saved.get(&s[1..]).cloned().unwrap_or_else(|| v.clone())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| subst(x, saved)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), subst(x, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn matches(expected: &Value, actual: &Value, path: &str, errs: &mut Vec<String>) {
    match (expected, actual) {
        (Value::String(s), a) if s == "*" => {
            if a.is_null() {
                errs.push(format!("{path}: expected a value, got null"));
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                matches(
                    ev,
                    a.get(k).unwrap_or(&Value::Null),
                    &format!("{path}/{k}"),
                    errs,
                );
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                errs.push(format!(
                    "{path}: expected {} items, got {}: {a:?}",
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, av, &format!("{path}/{i}"), errs);
            }
        }
        (e, a) => {
            if e != a {
                errs.push(format!("{path}: expected {e}, got {a}"));
            }
        }
    }
}

/// The bytes of an upload step: `"file"` (in tests/data/sandbox/) or `"text"`.
fn upload_bytes(up: &Value) -> Vec<u8> {
    if let Some(name) = up["file"].as_str() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sandbox");
        return std::fs::read(dir.join(name)).unwrap();
    }
    up["text"].as_str().unwrap_or_default().as_bytes().to_vec()
}

/// An upload step: `{"target": <a staged target>, "method": "POST"|"PUT",
/// "file"|"text": ..., "drop": [parameter names left out]}` sends the bytes
/// to the target's `url` (POST: a multipart form with its parameters and
/// `file`; PUT: the raw body with `Content-Type` from `content_type`).
/// Gives `{"status": n, "body": text}`.
async fn upload(sb: &crate::sandbox_support::Sb, up: &Value) -> Value {
    let target = &up["target"];
    let url = target["url"].as_str().expect("target url");
    let drop: Vec<&str> = up["drop"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let params: Vec<(String, String)> = target["parameters"]
        .as_array()
        .expect("target parameters")
        .iter()
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (text("name"), text("value"))
        })
        .filter(|(n, _)| !drop.contains(&n.as_str()))
        .collect();
    let bytes = upload_bytes(up);
    let req = if up["method"].as_str() == Some("PUT") {
        let mut rb = sb.client.put(url).body(bytes);
        if let Some((_, mime)) = params.iter().find(|(n, _)| n == "content_type") {
            rb = rb.header("Content-Type", mime);
        }
        rb
    } else {
        let (content_type, body) = crate::sandbox_support::multipart(&params, &bytes);
        sb.client
            .post(url)
            .header("Content-Type", content_type)
            .body(body)
    };
    let resp = req.send().await.expect("upload sent");
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    serde_json::json!({"status": status, "body": body})
}

async fn run_case(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let case: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let sb = crate::sandbox_support::start_default().await;
    let mut saved: HashMap<String, Value> = HashMap::new();
    let mut errs = Vec::new();
    let case_api = case["api"]
        .as_str()
        .unwrap_or(mapsync::sandbox::API_VERSION);
    for (i, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
        let step = subst(step, &saved);
        let api = step["api"].as_str().unwrap_or(case_api);
        let got = if let Some(path) = step.get("post").and_then(Value::as_str) {
            sb.post(path, step["body"].clone()).await
        } else if let Some(up) = step.get("upload") {
            upload(&sb, up).await
        } else {
            let query = match &step["query"] {
                Value::Array(lines) => lines
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n"),
                Value::String(s) => s.clone(),
                other => panic!("step {i}: bad query {other}"),
            };
            let resp = sb
                .gql_at(
                    api,
                    &query,
                    step.get("variables").cloned().unwrap_or(Value::Null),
                )
                .await;
            if let Some(expect) = step.get("cost") {
                matches(
                    expect,
                    &resp["extensions"]["cost"],
                    &format!("step {i} cost"),
                    &mut errs,
                );
            }
            if let Some(e) = resp.get("errors") {
                if step.get("errors").is_none() {
                    errs.push(format!("step {i}: unexpected errors {e}"));
                    continue;
                }
            }
            if let Some(expect) = step.get("errors") {
                matches(
                    expect,
                    resp.get("errors").unwrap_or(&Value::Null),
                    &format!("step {i} errors"),
                    &mut errs,
                );
            }
            resp["data"].clone()
        };
        if let Some(expect) = step.get("expect") {
            matches(expect, &got, &format!("step {i}"), &mut errs);
        }
        if let Some(Value::Object(s)) = step.get("save") {
            for (name, ptr) in s {
                let v = got
                    .pointer(ptr.as_str().unwrap_or_default())
                    .cloned()
                    .unwrap_or(Value::Null);
                assert!(
                    !v.is_null(),
                    "{}: step {i}: nothing at {ptr} in {got}",
                    file.display()
                );
                saved.insert(name.clone(), v);
            }
        }
    }
    sb.handle.shutdown().await.unwrap();
    errs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_rule_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sandbox/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        for e in run_case(f).await {
            failures.push(format!("{}: {e}", f.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(
        failures.is_empty(),
        "case failures:\n{}",
        failures.join("\n")
    );
}
