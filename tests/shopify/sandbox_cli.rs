//! `mapsync sandbox serve` as a process: prints `listening on ...` first,
//! checks the token, and keeps every answered mutation across a crash
//! (SIGKILL) thanks to the state file written before the answer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

struct Server {
    child: Child,
    url: String,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Server {
        child,
        url,
        _stdout: stdout,
    }
}

async fn gql(url: &str, token: &str, query: &str, variables: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/admin/api/2025-01/graphql.json"))
        .header("X-Shopify-Access-Token", token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn serve_survives_a_crash_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("shop.json");
    let state_arg = state.to_str().unwrap();
    let args = ["--state", state_arg, "--token", "t0k", "--plan", "plus"];
    let server = serve(&args);
    let denied = gql(&server.url, "nope", "{ shop { id } }", json!({})).await;
    assert_eq!(denied.status(), 401);
    let set = "mutation($i: ProductSetInput!) { productSet(input: $i) { product { id handle } userErrors { message } } }";
    let resp: Value = gql(
        &server.url,
        "t0k",
        set,
        json!({"i": {"title": "Crash Proof"}}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = resp["data"]["productSet"]["product"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        resp["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        20000.0
    );
    drop(server); // SIGKILL: no graceful shutdown

    let server = serve(&args);
    let resp: Value = gql(
        &server.url,
        "t0k",
        "query($id: ID!) { product(id: $id) { handle } }",
        json!({"id": id}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(resp["data"]["product"]["handle"], "crash-proof");
}

#[test]
fn bad_flags_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args([
            "sandbox",
            "serve",
            "--fault-rate",
            "0.5",
            "--faults",
            "lightning",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault 'lightning'"));
}
