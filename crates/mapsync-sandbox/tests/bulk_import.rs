//! Bulk import (`bulkOperationRunMutation`, API 2026-04) over real HTTP: a
//! JSONL file of variables staged with `stagedUploadsCreate`, its lines run
//! in the background one at a time (observably: `RUNNING` with a growing
//! `objectCount`), one bulk mutation at a time per shop, a JSONL result
//! with `__lineNumber` per line, the leaky bucket untouched by the lines,
//! cancellation, and persistence across a restart. Every GraphQL document
//! sent — and every mutation a bulk operation runs — is first validated
//! against Shopify's real 2026-04 schema.

use std::io::Read;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use apollo_compiler::ast::{InputValueDefinition, Type};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Node, Schema};
use mapsync_sandbox::{start, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/shopify/admin_schema_2026-04.graphql.gz"
);

/// Shopify's Admin API 2026-04 schema (the SDL with descriptions).
fn real_schema() -> &'static Valid<Schema> {
    static REAL: OnceLock<Valid<Schema>> = OnceLock::new();
    REAL.get_or_init(|| {
        let mut sdl = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(SCHEMA).expect("schema file"))
            .read_to_string(&mut sdl)
            .expect("gzipped SDL");
        Schema::parse_and_validate(sdl, "admin_schema_2026-04.graphql").expect("real schema")
    })
}

/// Panics unless `source` is valid against the real 2026-04 schema.
fn check_document(source: &str) {
    if let Err(e) = ExecutableDocument::parse_and_validate(real_schema(), source, "test.graphql") {
        panic!("not valid against Shopify 2026-04:\n{}\n{source}", e.errors);
    }
}

const STAGE: &str = "mutation Stage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}";

const RUN: &str = "mutation Run($mutation: String!, $path: String!, $client: String) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path, clientIdentifier: $client) {
    bulkOperation { id status type objectCount url }
    userErrors { field message code }
  }
}";

const OP: &str = "fragment Op on BulkOperation {
  id status type errorCode objectCount rootObjectCount fileSize url partialDataUrl
  createdAt completedAt query
}";

const CANCEL: &str = "mutation Cancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}";

/// The mutation of the bulk imports (run once per line).
const PRODUCT_SET: &str = "mutation Set($input: ProductSetInput!) {
  productSet(input: $input, synchronous: true) {
    product { id title }
    userErrors { field message code }
  }
}";

/// A sandbox and a client that validates every document it sends and
/// adds up the calculated cost it was charged.
struct Sb {
    handle: SandboxHandle,
    http: reqwest::Client,
    /// Sum of `actualQueryCost` of every answer.
    charged: u64,
    /// `currentlyAvailable` of the last answer.
    available: f64,
    /// `extensions.cost` of the last answer.
    last_cost: Value,
}

impl Sb {
    async fn start(config: SandboxConfig) -> Sb {
        Sb {
            handle: start(config).await.expect("sandbox starts"),
            http: reqwest::Client::new(),
            charged: 0,
            available: 0.0,
            last_cost: Value::Null,
        }
    }

    async fn gql(&mut self, query: &str, variables: Value) -> Value {
        check_document(query);
        let resp: Value = self
            .http
            .post(self.handle.graphql_url())
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON answer");
        let cost = &resp["extensions"]["cost"];
        self.last_cost = cost.clone();
        self.charged += cost["actualQueryCost"].as_u64().unwrap_or(0);
        if let Some(a) = cost["throttleStatus"]["currentlyAvailable"].as_f64() {
            self.available = a;
        }
        resp
    }

    async fn data(&mut self, query: &str, variables: Value) -> Value {
        let resp = self.gql(query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
        resp["data"].clone()
    }

    /// Stage `text` as a bulk mutation's variables (a POST form); gives its
    /// `key` (the `stagedUploadPath`).
    async fn stage(&mut self, text: &str) -> String {
        let input = json!([{
            "resource": "BULK_MUTATION_VARIABLES",
            "filename": "variables.jsonl",
            "mimeType": "text/jsonl",
            "httpMethod": "POST",
        }]);
        let d = self.data(STAGE, json!({"input": input})).await;
        let target = &d["stagedUploadsCreate"]["stagedTargets"][0];
        let params: Vec<(String, String)> = target["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let (content_type, body) = multipart(&params, text.as_bytes());
        let r = self
            .http
            .post(target["url"].as_str().unwrap())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        params.into_iter().find(|(n, _)| n == "key").unwrap().1
    }

    /// Start a bulk mutation; gives `bulkOperationRunMutation`.
    async fn run(&mut self, mutation: &str, path: &str) -> Value {
        check_document(mutation);
        let d = self
            .data(
                RUN,
                json!({"mutation": mutation, "path": path, "client": "test"}),
            )
            .await;
        d["bulkOperationRunMutation"].clone()
    }

    async fn op(&mut self, id: &str) -> Value {
        let q = format!("query Get($id: ID!) {{ bulkOperation(id: $id) {{ ...Op }} }} {OP}");
        self.data(&q, json!({"id": id})).await["bulkOperation"].clone()
    }

    /// Poll `bulkOperation(id:)` until `done` holds; gives the last answer
    /// and every answer seen.
    async fn poll(&mut self, id: &str, done: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let op = self.op(id).await;
            seen.push(op.clone());
            if done(&op) {
                return (op, seen);
            }
            assert!(Instant::now() < deadline, "bulk operation stuck: {op:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn fetch(&self, url: &str) -> Vec<Value> {
        let r = self.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {url}");
        r.text()
            .await
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    async fn titles(&mut self) -> Vec<String> {
        let d = self
            .data("{ products(first: 50) { nodes { title } } }", json!({}))
            .await;
        d["products"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_string())
            .collect()
    }

    async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__sandbox/stats", self.handle.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A `multipart/form-data` body of text fields and a `file` part.
fn multipart(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "mapsync-bulk-import-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.jsonl\"\r\n\
             Content-Type: text/jsonl\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A JSONL file of `productSet` variables.
fn jsonl(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn titled(titles: &[&str]) -> String {
    let lines: Vec<Value> = titles
        .iter()
        .map(|t| json!({"input": {"title": t}}))
        .collect();
    jsonl(&lines)
}

fn finished(op: &Value) -> bool {
    matches!(
        op["status"].as_str(),
        Some("COMPLETED" | "FAILED" | "CANCELED")
    )
}

fn count(op: &Value) -> u64 {
    op["objectCount"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_runs_each_line_in_the_background_outside_the_bucket() {
    let mut sb = Sb::start(SandboxConfig {
        bucket: Some(1000.0),
        restore_rate: Some(0.001),
        bulk_line_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let path = sb
        .stage(&jsonl(&[
            json!({"input": {"title": "A"}}),
            json!({"input": {"title": "B", "handle": "b"}}),
            json!({"input": {"title": ""}}),
            json!({"input": {"title": "D", "status": "NOT_A_STATUS"}}),
        ]))
        .await;
    let run = sb.run(PRODUCT_SET, &path).await;
    assert_eq!(run["userErrors"], json!([]), "{run}");
    // The request costs what a mutation does: 10, plus its selection (the
    // operation, 1; no user errors, 0); its lines cost nothing.
    assert_eq!(sb.last_cost["requestedQueryCost"], 12);
    assert_eq!(sb.last_cost["actualQueryCost"], 11);
    let op = &run["bulkOperation"];
    assert_eq!(op["status"], "CREATED");
    assert_eq!(op["type"], "MUTATION");
    assert_eq!(op["objectCount"], "0");
    let id = op["id"].as_str().unwrap().to_string();
    // Nothing applied when the payload comes back: the lines run later.
    assert!(sb.titles().await.is_empty());

    // One bulk mutation at a time; a bulk query may run alongside.
    let other = sb.stage(&titled(&["X"])).await;
    let again = sb.run(PRODUCT_SET, &other).await;
    assert_eq!(again["bulkOperation"], Value::Null);
    assert_eq!(
        again["userErrors"][0]["code"], "OPERATION_IN_PROGRESS",
        "{again}"
    );
    assert!(again["userErrors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&id));
    let query = sb
        .data(
            "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { code message } } }",
            json!({"q": "{ products { edges { node { id } } } }"}),
        )
        .await;
    assert_eq!(query["bulkOperationRunQuery"]["userErrors"], json!([]));
    let query_id = query["bulkOperationRunQuery"]["bulkOperation"]["id"].clone();
    assert_ne!(query_id, json!(id));
    let running = sb
        .data(
            "{ bulkOperations(first: 10, query: \"status:running operation_type:mutation\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(running["bulkOperations"]["nodes"], json!([{"id": id}]));

    let (op, seen) = sb.poll(&id, finished).await;
    assert!(
        seen.iter()
            .any(|o| o["status"] == "RUNNING" && (1..4).contains(&count(o))),
        "never seen running part-way: {seen:?}"
    );
    assert_eq!(op["status"], "COMPLETED", "{op}");
    assert_eq!(op["errorCode"], Value::Null);
    assert_eq!(op["objectCount"], "4");
    assert_eq!(op["rootObjectCount"], "4");
    assert_eq!(op["partialDataUrl"], Value::Null);
    assert_eq!(op["query"], PRODUCT_SET);
    assert!(op["completedAt"].is_string());
    let url = op["url"].as_str().unwrap();
    assert!(url.starts_with(&sb.handle.url()));
    let text = sb.http.get(url).send().await.unwrap().text().await.unwrap();
    assert_eq!(op["fileSize"], json!(text.len().to_string()));
    let lines = sb.fetch(url).await;
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["__lineNumber"], i, "{l}");
    }
    for (l, title) in lines.iter().zip(["A", "B"]) {
        assert_eq!(l["data"]["productSet"]["product"]["title"], title, "{l}");
        assert_eq!(l["data"]["productSet"]["userErrors"], json!([]));
        assert!(l.get("errors").is_none());
    }
    let refused = &lines[2]["data"]["productSet"];
    assert_eq!(refused["product"], Value::Null);
    assert_eq!(refused["userErrors"][0]["field"], json!(["input", "title"]));
    assert_eq!(refused["userErrors"][0]["code"], "INVALID_PRODUCT");
    assert!(lines[3].get("data").is_none(), "{}", lines[3]);
    assert!(lines[3]["errors"][0]["message"].is_string(), "{}", lines[3]);
    let mut titles = sb.titles().await;
    titles.sort();
    assert_eq!(titles, ["A", "B"]);

    // Status through every read.
    let q = format!(
        "query Reads($id: ID!) {{
          node(id: $id) {{ ... on BulkOperation {{ id status }} }}
          currentBulkOperation(type: MUTATION) {{ ...Op }}
          current: currentBulkOperation {{ id type }}
          mutations: bulkOperations(first: 5, query: \"operation_type:mutation status:completed\") {{ nodes {{ id }} }}
          all: bulkOperations(first: 5) {{ nodes {{ id type }} }}
          oldest: bulkOperations(first: 1, reverse: true) {{ nodes {{ id }} }}
        }} {OP}"
    );
    let d = sb.data(&q, json!({"id": id})).await;
    assert_eq!(d["node"], json!({"id": id, "status": "COMPLETED"}));
    assert_eq!(d["currentBulkOperation"], op);
    assert_eq!(d["current"], json!({"id": query_id, "type": "QUERY"}));
    assert_eq!(d["mutations"]["nodes"], json!([{"id": id}]));
    assert_eq!(
        d["all"]["nodes"],
        json!([{"id": query_id, "type": "QUERY"}, {"id": id, "type": "MUTATION"}])
    );
    assert_eq!(d["oldest"]["nodes"], json!([{"id": id}]));

    // The lines were not charged: the bucket lost only what the requests cost.
    let dropped = 1000.0 - sb.available;
    assert!(
        (dropped - sb.charged as f64).abs() <= 1.0,
        "bucket dropped {dropped}, requests were charged {}",
        sb.charged
    );
    assert_eq!(sb.stats().await["bulk_lines"], 4);
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_refuses_bad_mutations_and_files() {
    let mut sb = Sb::start(SandboxConfig::default()).await;
    let path = sb.stage(&titled(&["A"])).await;
    let refused = |v: &Value| {
        (
            v["bulkOperation"].clone(),
            v["userErrors"][0]["code"]
                .as_str()
                .unwrap_or("none")
                .to_string(),
            v["userErrors"][0]["field"].clone(),
        )
    };
    for (mutation, why) in [
        ("{ shop { id } }", "a query"),
        (
            "mutation($input: ProductSetInput!) { productSet(input: $input) { product { id } } a: productSet(input: $input) { product { id } } }",
            "two root fields",
        ),
        (
            "mutation($input: ProductSetInput!) { productSet(input: $input) { product { noSuchField } } }",
            "a field the schema does not have",
        ),
        ("mutation($input: ProductSetInput!) { productSet(input: $input) {", "no GraphQL"),
        (
            "mutation($q: String!) { bulkOperationRunQuery(query: $q) { userErrors { message } } }",
            "a bulk operation",
        ),
    ] {
        let d = sb
            .data(RUN, json!({"mutation": mutation, "path": path}))
            .await;
        let (op, code, field) = refused(&d["bulkOperationRunMutation"]);
        assert_eq!(op, Value::Null, "{why}");
        assert_eq!(code, "INVALID_MUTATION", "{why}: {d}");
        assert_eq!(field, json!(["mutation"]), "{why}");
    }
    // Unknown path, a target of another resource, a target not uploaded.
    let image = sb
        .data(
            STAGE,
            json!({"input": [{"resource": "IMAGE", "filename": "a.png", "mimeType": "image/png", "httpMethod": "POST"}]}),
        )
        .await;
    let image_key = image["stagedUploadsCreate"]["stagedTargets"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "key")
        .unwrap()["value"]
        .clone();
    let empty = sb
        .data(
            STAGE,
            json!({"input": [{"resource": "BULK_MUTATION_VARIABLES", "filename": "v.jsonl", "mimeType": "text/jsonl", "httpMethod": "POST"}]}),
        )
        .await;
    let empty_key = empty["stagedUploadsCreate"]["stagedTargets"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "key")
        .unwrap()["value"]
        .clone();
    for p in [json!("tmp/1/bulk/nope/v.jsonl"), image_key, empty_key] {
        let d = sb
            .data(RUN, json!({"mutation": PRODUCT_SET, "path": p}))
            .await;
        let (op, code, field) = refused(&d["bulkOperationRunMutation"]);
        assert_eq!(op, Value::Null);
        assert_eq!(code, "NO_SUCH_FILE", "{p}: {d}");
        assert_eq!(field, json!(["stagedUploadPath"]));
    }
    // Not JSONL.
    for text in [
        "{\"input\": {\"title\": \"A\"}}\nnot json\n",
        "[1, 2]\n",
        "",
    ] {
        let bad = sb.stage(text).await;
        let d = sb
            .data(RUN, json!({"mutation": PRODUCT_SET, "path": bad}))
            .await;
        let (op, code, _) = refused(&d["bulkOperationRunMutation"]);
        assert_eq!(op, Value::Null);
        assert_eq!(code, "INVALID_STAGED_UPLOAD_FILE", "{text:?}: {d}");
    }
    // Nothing ran; a good one still does.
    assert!(sb.titles().await.is_empty());
    let run = sb.run(PRODUCT_SET, &path).await;
    assert_eq!(run["userErrors"], json!([]));
    let id = run["bulkOperation"]["id"].as_str().unwrap().to_string();
    let (op, _) = sb.poll(&id, finished).await;
    assert_eq!(op["status"], "COMPLETED");
    assert_eq!(sb.titles().await, ["A"]);
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_lines_follow_the_idempotency_rules() {
    let mut sb = Sb::start(SandboxConfig::default()).await;
    let set = "mutation Set($input: ProductSetInput!) { productSet(input: $input) { product { variants(first: 1) { nodes { inventoryItem { id } } } } userErrors { message } } }";
    let d = sb
        .data(
            set,
            json!({"input": {"title": "Stocked", "productOptions": [{"name": "Size", "values": [{"name": "M"}]}],
                "variants": [{"optionValues": [{"optionName": "Size", "name": "M"}], "price": "1.00"}]}}),
        )
        .await;
    let item = d["productSet"]["product"]["variants"]["nodes"][0]["inventoryItem"]["id"].clone();
    let locs: Value = sb
        .http
        .post(format!("{}/__sandbox/locations", sb.handle.url()))
        .json(&json!([{"name": "Second"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let loc = locs[0]["id"].clone();
    let activate = "mutation Activate($item: ID!, $loc: ID!, $key: String!) {
      inventoryActivate(inventoryItemId: $item, locationId: $loc, available: 5) @idempotent(key: $key) {
        inventoryLevel { id quantities(names: [\"available\"]) { name quantity } }
        userErrors { field message }
      }
    }";
    let path = sb
        .stage(&jsonl(&[
            json!({"item": item, "loc": loc, "key": "k-1"}),
            json!({"item": item, "loc": loc, "key": "k-1"}),
            json!({"item": item, "loc": loc, "key": " "}),
        ]))
        .await;
    let run = sb.run(activate, &path).await;
    assert_eq!(run["userErrors"], json!([]), "{run}");
    let id = run["bulkOperation"]["id"].as_str().unwrap().to_string();
    let (op, _) = sb.poll(&id, finished).await;
    assert_eq!(op["status"], "COMPLETED");
    let lines = sb.fetch(op["url"].as_str().unwrap()).await;
    let level = |i: usize| lines[i]["data"]["inventoryActivate"]["inventoryLevel"].clone();
    assert!(level(0)["id"].is_string(), "{}", lines[0]);
    assert_eq!(level(1), level(0), "the same key answers the first answer");
    assert_eq!(lines[2]["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(sb.stats().await["idempotent_replays"], 1);
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_can_be_canceled_and_keeps_its_partial_result() {
    let mut sb = Sb::start(SandboxConfig {
        bulk_line_delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let titles: Vec<String> = (0..10).map(|i| format!("P{i}")).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let path = sb.stage(&titled(&refs)).await;
    let run = sb.run(PRODUCT_SET, &path).await;
    let id = run["bulkOperation"]["id"].as_str().unwrap().to_string();
    sb.poll(&id, |o| count(o) >= 2).await;
    let c = sb.data(CANCEL, json!({"id": id})).await;
    assert_eq!(c["bulkOperationCancel"]["userErrors"], json!([]));
    assert_eq!(
        c["bulkOperationCancel"]["bulkOperation"]["status"],
        "CANCELING"
    );
    let (op, _) = sb.poll(&id, finished).await;
    assert_eq!(op["status"], "CANCELED", "{op}");
    let n = count(&op) as usize;
    assert!((2..10).contains(&n), "{op}");
    assert_eq!(op["url"], Value::Null);
    assert_eq!(op["completedAt"], Value::Null);
    let partial = sb.fetch(op["partialDataUrl"].as_str().unwrap()).await;
    assert_eq!(partial.len(), n);
    for (i, l) in partial.iter().enumerate() {
        assert_eq!(l["__lineNumber"], i);
        assert_eq!(l["data"]["productSet"]["product"]["title"], titles[i]);
    }
    assert_eq!(
        sb.titles().await.len(),
        n,
        "lines after the cancel are not applied"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sb.titles().await.len(), n);
    // Finished: no second cancel; unknown ids.
    let again = sb.data(CANCEL, json!({"id": id})).await;
    assert_eq!(
        again["bulkOperationCancel"]["userErrors"][0]["field"],
        json!(["id"])
    );
    let unknown = sb
        .data(CANCEL, json!({"id": "gid://shopify/BulkOperation/999"}))
        .await;
    assert_eq!(unknown["bulkOperationCancel"]["bulkOperation"], Value::Null);
    assert_eq!(
        unknown["bulkOperationCancel"]["userErrors"][0]["message"],
        "Bulk operation does not exist"
    );
    // The shop is free for the next one.
    let next = sb.run(PRODUCT_SET, &path).await;
    assert_eq!(next["userErrors"], json!([]));
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_resumes_after_a_restart_and_its_result_persists() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state: Some(dir.path().join("store.json")),
        bulk_line_delay: Duration::from_millis(250),
        ..Default::default()
    };
    let mut sb = Sb::start(config.clone()).await;
    let titles: Vec<String> = (0..6).map(|i| format!("R{i}")).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let path = sb.stage(&titled(&refs)).await;
    let run = sb.run(PRODUCT_SET, &path).await;
    let id = run["bulkOperation"]["id"].as_str().unwrap().to_string();
    sb.poll(&id, |o| count(o) >= 2).await;
    sb.handle.shutdown().await.unwrap();

    // Stopped between two lines: the next start resumes it.
    let mut sb = Sb::start(config.clone()).await;
    let op = sb.op(&id).await;
    assert!(
        matches!(op["status"].as_str(), Some("RUNNING" | "COMPLETED")),
        "{op}"
    );
    assert!(count(&op) >= 2, "{op}");
    let (op, _) = sb.poll(&id, finished).await;
    assert_eq!(op["status"], "COMPLETED", "{op}");
    let lines = sb.fetch(op["url"].as_str().unwrap()).await;
    assert_eq!(lines.len(), 6);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["__lineNumber"], i);
        assert_eq!(l["data"]["productSet"]["product"]["title"], titles[i]);
    }
    let mut got = sb.titles().await;
    got.sort();
    assert_eq!(got, titles, "each line applied once");
    sb.handle.shutdown().await.unwrap();

    // Finished: the operation and its result are still there, served by
    // the new address; ids are not reused.
    let mut sb = Sb::start(SandboxConfig {
        bulk_line_delay: Duration::ZERO,
        ..config
    })
    .await;
    let d = sb
        .data(
            "{ currentBulkOperation(type: MUTATION) { id status url objectCount } }",
            json!({}),
        )
        .await;
    let op = &d["currentBulkOperation"];
    assert_eq!(op["id"], json!(id));
    assert_eq!(op["status"], "COMPLETED");
    let url = op["url"].as_str().unwrap();
    assert!(url.starts_with(&sb.handle.url()));
    assert_eq!(sb.fetch(url).await, lines);
    let q = sb
        .data(
            "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }",
            json!({"q": "{ products { edges { node { id } } } }"}),
        )
        .await;
    assert_ne!(q["bulkOperationRunQuery"]["bulkOperation"]["id"], json!(id));
    sb.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_cut_off_without_a_shutdown_is_failed_with_its_partial_result() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("store.json");
    let mut sb = Sb::start(SandboxConfig {
        state: Some(state.clone()),
        bulk_line_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let titles: Vec<String> = (0..8).map(|i| format!("C{i}")).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let path = sb.stage(&titled(&refs)).await;
    let run = sb.run(PRODUCT_SET, &path).await;
    let id = run["bulkOperation"]["id"].as_str().unwrap().to_string();
    // Past the first checkpoint (every second): the state file as a crash
    // would leave it.
    sb.poll(&id, |o| count(o) >= 5).await;
    let crashed = dir.path().join("crashed.json");
    std::fs::copy(&state, &crashed).unwrap();
    sb.handle.shutdown().await.unwrap();

    let mut sb = Sb::start(SandboxConfig {
        state: Some(crashed),
        ..Default::default()
    })
    .await;
    let op = sb.op(&id).await;
    assert_eq!(op["status"], "FAILED", "{op}");
    assert_eq!(op["errorCode"], "INTERNAL_SERVER_ERROR");
    assert_eq!(op["url"], Value::Null);
    let k = count(&op) as usize;
    assert!(k >= 1, "{op}");
    let partial = sb.fetch(op["partialDataUrl"].as_str().unwrap()).await;
    assert_eq!(partial.len(), k);
    for (i, l) in partial.iter().enumerate() {
        assert_eq!(l["__lineNumber"], i);
    }
    // Lines after the checkpoint may have been applied too (as after any
    // lost answer), never lines beyond what ran.
    let n = sb.titles().await.len();
    assert!(n >= k && n < titles.len(), "{n} products, checkpoint {k}");
    // The shop is free again.
    let run = sb.run(PRODUCT_SET, &path).await;
    assert_eq!(run["userErrors"], json!([]));
    sb.handle.shutdown().await.unwrap();
}

#[test]
fn old_state_files_without_bulk_operations_load() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("old.json");
    let mut json = serde_json::to_value(mapsync_sandbox::model::Store::new()).unwrap();
    assert!(json.as_object_mut().unwrap().remove("bulk").is_some());
    std::fs::write(&state, json.to_string()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut sb = Sb::start(SandboxConfig {
            state: Some(state),
            ..Default::default()
        })
        .await;
        let d = sb
            .data(
                "{ bulkOperations(first: 5) { nodes { id } } currentBulkOperation(type: MUTATION) { id } }",
                json!({}),
            )
            .await;
        assert_eq!(d["bulkOperations"]["nodes"], json!([]));
        assert_eq!(d["currentBulkOperation"], Value::Null);
        sb.handle.shutdown().await.unwrap();
    });
}

// Fidelity of what the sandbox exposes (the whole schema, bulk operations
// included) to the real 2026-04 schema: every type, field, argument, input
// field and enum value exists there with a compatible type, and every
// argument the real schema requires is accepted.

/// Can a client expecting `real` read what `mine` returns?
fn out_ok(mine: &Type, real: &Type) -> bool {
    if real.is_non_null() && !mine.is_non_null() {
        return false;
    }
    match (mine.clone().nullable(), real.clone().nullable()) {
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a), Type::List(b)) => out_ok(&a, &b),
        _ => false,
    }
}

/// Does `mine` accept every value a client may send for `real`?
fn in_ok(mine: &Type, real: &Type) -> bool {
    if mine.is_non_null() && !real.is_non_null() {
        return false;
    }
    match (mine.clone().nullable(), real.clone().nullable()) {
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a), Type::List(b)) => in_ok(&a, &b),
        _ => false,
    }
}

fn check_inputs(
    ctx: &str,
    mine: &[&Node<InputValueDefinition>],
    real: &[&Node<InputValueDefinition>],
    errs: &mut Vec<String>,
) {
    for m in mine {
        match real.iter().find(|r| r.name == m.name) {
            None => errs.push(format!("{ctx}({}): not in the real schema", m.name)),
            Some(r) if !in_ok(&m.ty, &r.ty) => {
                errs.push(format!("{ctx}({}): {} vs real {}", m.name, m.ty, r.ty))
            }
            _ => {}
        }
    }
    for r in real
        .iter()
        .filter(|r| r.ty.is_non_null() && r.default_value.is_none())
    {
        if !mine.iter().any(|m| m.name == r.name) {
            errs.push(format!("{ctx}({}): required by the real schema", r.name));
        }
    }
}

#[test]
fn the_sandbox_schema_with_bulk_imports_is_a_subset_of_shopify_2026_04() {
    let real = real_schema();
    let sdl = mapsync_sandbox::gql::build_detached().sdl();
    let mine = Schema::parse_and_validate(sdl, "sandbox.graphql").expect("sandbox SDL");
    let mut errs = Vec::new();
    for (name, t) in &mine.types {
        if name.starts_with("__") || t.is_built_in() {
            continue;
        }
        let Some(r) = real.types.get(name) else {
            errs.push(format!("type {name}: not in the real schema"));
            continue;
        };
        match (t, r) {
            (ExtendedType::Object(m), ExtendedType::Object(r)) => {
                for (f, def) in &m.fields {
                    let Some(rf) = r.fields.get(f) else {
                        errs.push(format!("{name}.{f}: not in the real schema"));
                        continue;
                    };
                    if !out_ok(&def.ty, &rf.ty) {
                        errs.push(format!("{name}.{f}: {} vs real {}", def.ty, rf.ty));
                    }
                    let mine_args: Vec<_> = def.arguments.iter().collect();
                    let real_args: Vec<_> = rf.arguments.iter().collect();
                    check_inputs(&format!("{name}.{f}"), &mine_args, &real_args, &mut errs);
                }
            }
            (ExtendedType::Enum(m), ExtendedType::Enum(r)) => {
                for v in m.values.keys().filter(|v| !r.values.contains_key(*v)) {
                    errs.push(format!("{name}.{v}: not in the real schema"));
                }
            }
            (ExtendedType::InputObject(m), ExtendedType::InputObject(r)) => {
                let mine_fields: Vec<_> = m.fields.values().map(|f| &f.node).collect();
                let real_fields: Vec<_> = r.fields.values().map(|f| &f.node).collect();
                check_inputs(name, &mine_fields, &real_fields, &mut errs);
            }
            (ExtendedType::Interface(_), ExtendedType::Interface(_))
            | (ExtendedType::Union(_), ExtendedType::Union(_))
            | (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            _ => errs.push(format!("type {name}: another kind than the real one")),
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    let fields = |ty: &str| match mine.types.get(ty) {
        Some(ExtendedType::Object(o)) => o.fields.keys().map(|k| k.to_string()).collect(),
        _ => Vec::new(),
    };
    for f in [
        "bulkOperation",
        "bulkOperations",
        "currentBulkOperation",
        "node",
    ] {
        assert!(fields("QueryRoot").contains(&f.to_string()), "{f}");
    }
    for f in [
        "bulkOperationRunMutation",
        "bulkOperationRunQuery",
        "bulkOperationCancel",
        "stagedUploadsCreate",
    ] {
        assert!(fields("Mutation").contains(&f.to_string()), "{f}");
    }
    // The documents of these tests, once more for the record.
    for doc in [STAGE, RUN, CANCEL, PRODUCT_SET] {
        check_document(doc);
    }
}
