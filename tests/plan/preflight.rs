//! Pre-flight (issue 20), through the binary: each rule's case in
//! `tests/data/preflight/cases.yaml` is `invalid` at `plan` with its
//! diagnostic (rule, record position, help), and `sync` sends nothing for
//! it — a recording proxy between mapsync and the emulated store sees no
//! request naming the item, and the store counts the same writes as for
//! the valid record alone — while the valid record of the same run is
//! created. `validate` warns where the mapping alone shows the problem.
//!
//! The corpus, `tests/data/preflight/corpus.yaml`: every refusal the
//! emulated stores can give (read from the sandbox's source: each
//! `userErrors` construction of the Shopify store, each 409/422 of the
//! BigCommerce one) is listed once, with the rule that catches it (and a
//! case here) or why only the store can know it. The share caught before
//! sending is printed and pinned in docs/preflight.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_json::{json, Value};

use mapsync::sandbox::bigcommerce::{self as bc, BcConfig};
use mapsync::sandbox::{self, SandboxConfig};

#[path = "../common/recording_proxy.rs"]
mod recording_proxy;

// ------------------------------------------------------------------ corpus

/// Where the emulated stores build their refusals.
const SHOPIFY_SOURCES: &[&str] = &[
    "ops.rs",
    "validate.rs",
    "staged.rs",
    "gql/mutation.rs",
    "gql/current.rs",
    "gql/bulk.rs",
    "gql/files.rs",
    "gql/staged.rs",
];
const BIGCOMMERCE_SOURCES: &[&str] = &[
    "bigcommerce/http.rs",
    "bigcommerce/store/mod.rs",
    "bigcommerce/store/catalog.rs",
    "bigcommerce/store/images.rs",
    "bigcommerce/store/inventory.rs",
    "bigcommerce/store/metafields.rs",
    "bigcommerce/store/products.rs",
    "bigcommerce/store/variants.rs",
];

/// The text of `s` after `at` up to the parenthesis or brace that closes
/// the one just before `at` (string literals skipped).
fn balanced(s: &str, at: usize) -> &str {
    let b = s.as_bytes();
    let mut depth = 1i32;
    let mut i = at;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return &s[at..i];
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    &s[at..]
}

/// Top-level comma-separated arguments of a call's text.
fn args(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let (mut depth, mut in_str, mut start) = (0i32, false, 0usize);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                b',' if depth == 0 => {
                    out.push(s[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

/// The first string literal in `s`, whitespace folded, or `<dynamic>`.
fn literal(s: &str) -> String {
    let Some(a) = s.find('"') else {
        return "<dynamic>".into();
    };
    let b = s.as_bytes();
    let mut i = a + 1;
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    let text = &s[a + 1..i.min(s.len())];
    // A `\` line continuation folds the next line's indentation.
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'\n') {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The last path segment of an expression like `Some(PsCode::InvalidVariant)`.
fn code_of(s: &str) -> String {
    let Some(i) = s.rfind("::") else {
        return "-".into();
    };
    s[i + 2..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The code of the file without its `#[cfg(test)]` module.
fn source(rel: &str) -> String {
    let path = Path::new("crates/mapsync-sandbox/src").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn occurrences(s: &str, pat: &str) -> Vec<usize> {
    s.match_indices(pat).map(|(i, _)| i + pat.len()).collect()
}

/// Every refusal kind the emulated Shopify store builds: `shopify CODE
/// "message"` (`-` for a plain `UserError`, `value` for a metafield
/// value check, `media` for a media processing failure).
fn shopify_kinds() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rel in SHOPIFY_SOURCES {
        let s = source(rel);
        for at in occurrences(&s, "UserErr::new(") {
            let a = args(balanced(&s, at));
            if a.len() == 3 {
                out.insert(format!("shopify {} \"{}\"", code_of(a[2]), literal(a[1])));
            }
        }
        for at in occurrences(&s, "UserErr {") {
            let body = balanced(&s, at);
            let mut message = "<dynamic>".to_string();
            let mut code = "-".to_string();
            for a in args(body) {
                if let Some(m) = a.strip_prefix("message:") {
                    message = literal(m);
                } else if let Some(c) = a.strip_prefix("code:") {
                    code = code_of(c);
                }
            }
            // The struct's own declaration.
            if body.contains("pub field") {
                continue;
            }
            out.insert(format!("shopify {code} \"{message}\""));
        }
        for at in occurrences(&s, "plain(") {
            let before = s[..at - "plain(".len()].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let a = args(balanced(&s, at));
            if a.len() == 2 {
                out.insert(format!("shopify - \"{}\"", literal(a[1])));
            }
        }
        for at in occurrences(&s, "MediaFailure {") {
            let body = balanced(&s, at);
            for a in args(body) {
                if let Some(m) = a.strip_prefix("message:") {
                    out.insert(format!("shopify media \"{}\"", literal(m)));
                }
            }
        }
        if *rel == "validate.rs" {
            for at in occurrences(&s, "Err(") {
                let inner = balanced(&s, at);
                if inner.trim_start().starts_with('"') || inner.trim_start().starts_with("format!")
                {
                    out.insert(format!("shopify value \"{}\"", literal(inner)));
                }
            }
        }
    }
    out
}

/// Every 409/422 the emulated BigCommerce store builds: `bigcommerce
/// STATUS field "message"`.
fn bigcommerce_kinds() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rel in BIGCOMMERCE_SOURCES {
        let s = source(rel);
        for at in occurrences(&s, "ApiError::invalid(") {
            let a = args(balanced(&s, at));
            if a.len() == 2 {
                out.insert(format!(
                    "bigcommerce 422 {} \"{}\"",
                    literal(a[0]),
                    literal(a[1])
                ));
            }
        }
        for at in occurrences(&s, "ApiError::field(") {
            let a = args(balanced(&s, at));
            if a.len() == 4 && (a[0] == "409" || a[0] == "422") {
                out.insert(format!(
                    "bigcommerce {} {} \"{}\"",
                    a[0],
                    literal(a[2]),
                    literal(a[1])
                ));
            }
        }
        for at in occurrences(&s, "ApiError::new(") {
            let a = args(balanced(&s, at));
            if a.len() == 2 && (a[0] == "409" || a[0] == "422") {
                out.insert(format!("bigcommerce {} - \"{}\"", a[0], literal(a[1])));
            }
        }
        for at in occurrences(&s, "bad(") {
            let before = s[..at - "bad(".len()].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let inner = balanced(&s, at);
            if inner.contains('"') {
                out.insert(format!("bigcommerce 422 field \"{}\"", literal(inner)));
            }
        }
        for at in occurrences(&s, ".insert(") {
            let before = s[..at - ".insert(".len()].trim_end();
            if !before.ends_with("errors") {
                continue;
            }
            let a = args(balanced(&s, at));
            if a.len() == 2 && a[1].contains('"') {
                out.insert(format!(
                    "bigcommerce 422 {} \"{}\"",
                    if a[0].contains('"') {
                        literal(a[0])
                    } else {
                        "field".into()
                    },
                    literal(a[1])
                ));
            }
        }
    }
    out
}

/// One line of the corpus: refusal kinds and what catches them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusEntry {
    /// The kinds (`shopify CODE "message"`, `bigcommerce STATUS field "message"`).
    kinds: Vec<String>,
    /// The pre-flight rule (or compile check) that catches them before
    /// anything is sent.
    #[serde(default)]
    rule: Option<String>,
    /// The diagnostic code the rule reports.
    #[serde(default)]
    code: Option<String>,
    /// The case of `cases.yaml` that proves it, through the binary.
    #[serde(default)]
    case: Option<String>,
    /// Or, for what `validate` refuses, its case under
    /// tests/data/validate/invalid/ (whose `# expect:` names `code`).
    #[serde(default)]
    validate_case: Option<String>,
    /// What the entry covers, in words.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    /// Knowable from the data, not checked yet: why.
    #[serde(default)]
    gap: Option<String>,
    /// Why only the store can know (the data alone cannot tell).
    #[serde(default)]
    store_only: Option<String>,
    /// Why mapsync never sends what would get this answer (its client
    /// builds the request; no record's value reaches it).
    #[serde(default)]
    not_sent: Option<String>,
}

fn corpus() -> Vec<CorpusEntry> {
    let text = std::fs::read_to_string("tests/data/preflight/corpus.yaml").unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("corpus.yaml: {e}"))
}

#[test]
fn corpus_lists_every_refusal_of_the_emulated_stores_once() {
    let found: BTreeSet<String> = shopify_kinds()
        .into_iter()
        .chain(bigcommerce_kinds())
        .collect();
    assert!(found.len() > 100, "the scan found only {}", found.len());
    let corpus = corpus();
    let cases = cases();
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, e) in corpus.iter().enumerate() {
        let verdicts = [
            e.rule.is_some(),
            e.gap.is_some(),
            e.store_only.is_some(),
            e.not_sent.is_some(),
        ];
        if verdicts.iter().filter(|v| **v).count() != 1 {
            problems.push(format!(
                "entry {i} ({:?}): give exactly one of rule, gap, store_only, not_sent",
                e.kinds.first()
            ));
        }
        if let Some(rule) = &e.rule {
            let proved = match (&e.case, &e.validate_case, &e.code) {
                (Some(c), None, Some(code)) => cases
                    .iter()
                    .find(|x| &x.name == c)
                    .is_some_and(|x| x.invalid.values().any(|v| v == code)),
                (None, Some(f), Some(code)) => {
                    std::fs::read_to_string(Path::new("tests/data/validate/invalid").join(f))
                        .is_ok_and(|t| t.starts_with(&format!("# expect: {code} ")))
                }
                _ => false,
            };
            if !proved {
                problems.push(format!(
                    "entry {i} (rule {rule}): needs `code` and a `case` of cases.yaml expecting it (or a `validate_case` whose `# expect:` names it)"
                ));
            }
        }
        for k in &e.kinds {
            *listed.entry(k.as_str()).or_default() += 1;
        }
    }
    for k in &found {
        match listed.get(k.as_str()) {
            None => problems.push(format!("not in the corpus: {k}")),
            Some(n) if *n > 1 => problems.push(format!("listed {n} times: {k}")),
            _ => {}
        }
    }
    for k in listed.keys() {
        if !found.contains(*k) {
            problems.push(format!("the stores no longer give: {k}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The measure: refusal kinds of data mapsync sends caught before
    // sending, per store (not_sent kinds are out of the count).
    let mut lines = Vec::new();
    for store in ["shopify", "bigcommerce"] {
        let (mut caught, mut only, mut protocol) = (0, 0, 0);
        for e in &corpus {
            let n = e
                .kinds
                .iter()
                .filter(|k| k.starts_with(&format!("{store} ")))
                .count();
            if e.rule.is_some() {
                caught += n;
            } else if e.not_sent.is_some() {
                protocol += n;
            } else {
                only += n;
            }
        }
        let line = format!(
            "{store}: {caught} of {} refusal kinds caught before sending ({} %); {protocol} more are never sent",
            caught + only,
            (caught * 100) / (caught + only).max(1)
        );
        eprintln!("{line}");
        lines.push(line);
    }
    let doc = std::fs::read_to_string("docs/preflight.md").unwrap();
    for l in &lines {
        assert!(
            doc.contains(l.as_str()),
            "docs/preflight.md must state the measure: {l}"
        );
    }
}

// ------------------------------------------------------------------ cases

/// One rule's case: records that break it, planned and synced through the
/// binary against the emulated store of `target`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// `shopify` or `bigcommerce`.
    target: String,
    /// The mapping file under tests/data/preflight/mappings/.
    mapping: String,
    /// Category records.
    #[serde(default)]
    categories: Vec<Value>,
    /// Product records (after the target's good record, `PF-OK`).
    products: Vec<Value>,
    /// The good record, when the target's default does not suit the
    /// case's mapping.
    #[serde(default)]
    good: Option<Value>,
    /// Texts of this many characters for the first record, by field.
    #[serde(default)]
    filler: BTreeMap<String, usize>,
    /// An embedded image of this many bytes for the first record.
    #[serde(default)]
    embedded_bytes: Option<usize>,
    /// Repeat the first record's first variant this many times.
    #[serde(default)]
    repeat_variants: Option<usize>,
    /// Keys expected `invalid`, with the code of their diagnostic.
    invalid: BTreeMap<String, String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string("tests/data/preflight/cases.yaml").unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("cases.yaml: {e}"))
}

const TOKEN: &str = "preflight-token";

/// The record every case syncs next to its bad ones: it must be created.
fn good(target: &str) -> Value {
    let variants = json!([
        { "Id": "S", "Sku": "OK-S", "Price": "10.00", "Weight": "0.5", "Size": "S", "Stock": 1 },
        { "Id": "M", "Sku": "OK-M", "Price": "10.00", "Weight": "0.5", "Size": "M", "Stock": 2 }
    ]);
    match target {
        "bigcommerce" => json!({
            "Key": "PF-OK", "Title": "Good shirt", "Weight": "1", "Price": "10",
            "Url": "/good-shirt/", "Count": 3, "Variants": variants
        }),
        _ => json!({ "Key": "PF-OK", "Title": "Good shirt", "Count": 3, "Variants": variants }),
    }
}

fn catalog(case: &Case) -> Value {
    let mut products = case.products.clone();
    if let (Some(n), Some(first)) = (case.repeat_variants, products.first_mut()) {
        let v = first["Variants"][0].clone();
        let many: Vec<Value> = (1..=n)
            .map(|i| {
                let mut x = v.clone();
                for k in ["Id", "Sku", "Size"] {
                    if let Some(s) = x[k].as_str() {
                        x[k] = format!("{s}-{i}").into();
                    }
                }
                x
            })
            .collect();
        first["Variants"] = many.into();
    }
    if let Some(first) = products.first_mut() {
        for (field, n) in &case.filler {
            first[field.as_str()] = "x".repeat(*n).into();
        }
    }
    if let (Some(n), Some(first)) = (case.embedded_bytes, products.first_mut()) {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.resize(n, 0);
        first["Embedded"] = base64(&bytes).into();
    }
    products.insert(0, case.good.clone().unwrap_or_else(|| good(&case.target)));
    json!({ "categories": case.categories, "products": products })
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs mapsync; exit code, stdout, stderr.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .arg("--project")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PF_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .env_remove("MAPSYNC_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Shopify root fields that change the store.
const SHOPIFY_WRITES: &[&str] = &[
    "productSet",
    "productUpdate",
    "productDelete",
    "productVariantsBulkUpdate",
    "collectionCreate",
    "collectionUpdate",
    "collectionDelete",
    "collectionAddProducts",
    "collectionRemoveProducts",
    "metafieldsSet",
    "metafieldsDelete",
    "metafieldDefinitionCreate",
    "metafieldDefinitionUpdate",
    "inventorySetQuantities",
    "publishablePublish",
    "publishableUnpublish",
    "stagedUploadsCreate",
    "fileCreate",
    "fileUpdate",
];

/// Write requests the emulated store of `target` at `url` counted, by
/// operation (Shopify) or route (BigCommerce).
fn store_writes(rt: &tokio::runtime::Runtime, target: &str, url: &str) -> BTreeMap<String, u64> {
    let stats: Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/__sandbox/stats"))
            .bearer_auth(TOKEN)
            .header("X-Auth-Token", TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let mut out = BTreeMap::new();
    if target == "shopify" {
        for (k, v) in stats["by_operation"].as_object().into_iter().flatten() {
            if SHOPIFY_WRITES.contains(&k.as_str()) {
                out.insert(k.clone(), v.as_u64().unwrap_or(0));
            }
        }
    } else {
        for (k, v) in stats["by_route"].as_object().into_iter().flatten() {
            if !k.starts_with("GET ") {
                let n = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, n)| n.as_u64())
                    .sum();
                out.insert(k.clone(), n);
            }
        }
    }
    out
}

/// Syncs `catalog` with `mapping` into a fresh emulated store: the store's
/// write counts and the JSON bodies mapsync sent. With `plan`, the plan
/// (JSON) made before the sync.
struct Synced {
    plan: Option<Value>,
    report: Value,
    writes: BTreeMap<String, u64>,
    bodies: Vec<String>,
}

fn sync_into_fresh_store(
    target: &str,
    mapping: &str,
    catalog: &Value,
    plan: bool,
) -> Result<Synced, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mapping")).unwrap();
    std::fs::copy(
        format!("tests/data/preflight/mappings/{mapping}.yaml"),
        dir.path().join("mapping/mapping.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("catalog.json"),
        serde_json::to_string_pretty(catalog).unwrap(),
    )
    .unwrap();
    let mut shopify = None;
    let mut bigcommerce = None;
    let upstream = match target {
        "shopify" => {
            let s = rt
                .block_on(sandbox::start(SandboxConfig::default()))
                .unwrap();
            let url = s.url();
            shopify = Some(s);
            url
        }
        "bigcommerce" => {
            let s = rt
                .block_on(bc::start(BcConfig {
                    token: Some(TOKEN.into()),
                    quota: Some(100_000),
                    ..BcConfig::default()
                }))
                .unwrap();
            let url = s.url();
            bigcommerce = Some(s);
            url
        }
        other => return Err(format!("unknown target {other}")),
    };
    let proxy = rt.block_on(recording_proxy::start(&upstream));
    let block = match target {
        "shopify" => format!(
            "{{ type: shopify, url: \"{}\", token: \"${{PF_TOKEN}}\" }}",
            proxy.url
        ),
        _ => format!(
            "{{ type: bigcommerce, url: \"{}\", store_hash: sandbox, token: \"${{PF_TOKEN}}\" }}",
            proxy.url
        ),
    };
    std::fs::write(
        dir.path().join("mapsync.yaml"),
        format!(
            "mapsync: 1\nprofiles:\n  pf:\n    mapping: mapping\n    source: {{ type: file, path: catalog.json }}\n    target: {block}\n    state: sqlite:.mapsync/state.db\n"
        ),
    )
    .unwrap();
    let plan = if plan {
        let (code, stdout, stderr) =
            run(dir.path(), &["plan", "--profile", "pf", "--format", "json"]);
        if code != 0 {
            return Err(format!("plan exited {code}: {stderr}"));
        }
        Some(serde_json::from_str(&stdout).map_err(|e| format!("plan: {e}"))?)
    } else {
        None
    };
    let (code, stdout, stderr) = run(dir.path(), &["sync", "--profile", "pf", "--format", "json"]);
    let report: Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("no report ({e}); exit {code}: {stderr}"))?;
    let writes = store_writes(&rt, target, &upstream);
    let bodies = proxy.bodies().iter().map(|b| b.to_string()).collect();
    if let Some(s) = shopify {
        rt.block_on(s.shutdown()).unwrap();
    }
    if let Some(s) = bigcommerce {
        rt.block_on(s.shutdown()).unwrap();
    }
    Ok(Synced {
        plan,
        report,
        writes,
        bodies,
    })
}

/// Plans and syncs one case against a fresh emulated store behind a
/// recording proxy, then only its good record against another: returns
/// what went wrong.
fn run_case(case: &Case) -> Vec<String> {
    let name = &case.name;
    let full = catalog(case);
    let synced = match sync_into_fresh_store(&case.target, &case.mapping, &full, true) {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut problems = Vec::new();

    // plan: each bad item invalid with its diagnostic, the good one created.
    let changes = synced
        .plan
        .as_ref()
        .and_then(|p| p["changes"].as_array().cloned())
        .unwrap_or_default();
    let change = |key: &str| changes.iter().find(|c| c["key"] == key).cloned();
    match change("PF-OK") {
        Some(c) if c["action"] == "create" => {}
        other => problems.push(format!("{name}: PF-OK is not a create: {other:?}")),
    }
    for (key, want) in &case.invalid {
        let Some(c) = change(key) else {
            problems.push(format!("{name}: {key} is not in the plan"));
            continue;
        };
        if c["action"] != "invalid" {
            problems.push(format!(
                "{name}: {key} is {} ({}), not invalid",
                c["action"], c["rule"]
            ));
            continue;
        }
        let diags = c["diagnostics"].as_array().cloned().unwrap_or_default();
        let Some(d) = diags.iter().find(|d| d["code"] == want.as_str()) else {
            problems.push(format!("{name}: {key} has no {want}: {diags:?}"));
            continue;
        };
        if d["help"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{name}: {key}: {want} has no help"));
        }
        // The record, by file and position, in the rule's diagnostic or
        // in the change's reason.
        let named = d["message"].as_str().unwrap_or("").contains("catalog.json")
            || c["reason"].as_str().unwrap_or("").contains("catalog.json");
        if want.starts_with("preflight::") {
            let rule = want.trim_start_matches("preflight::");
            if !d["message"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("rule {rule}"))
            {
                problems.push(format!(
                    "{name}: {key}: the message does not name the rule: {d}"
                ));
            }
            if c["rule"] != format!("{}.record.preflight", c["entity"].as_str().unwrap_or("")) {
                problems.push(format!("{name}: {key}: plan rule {}", c["rule"]));
            }
            // Run-wide values name the other records instead.
            if !named && want != "preflight::unique-in-run" {
                problems.push(format!(
                    "{name}: {key}: the record's position is not named: {c}"
                ));
            }
        } else if !named {
            problems.push(format!(
                "{name}: {key}: the record's position is not named: {c}"
            ));
        }
    }

    // sync: the good record is created, the others reported invalid.
    let report = &synced.report;
    if report["summary"]["created"] != 1 {
        problems.push(format!(
            "{name}: sync created {} (want PF-OK only): {report:#}",
            report["summary"]["created"]
        ));
    }
    if report["summary"]["invalid"] != case.invalid.len() {
        problems.push(format!(
            "{name}: sync reported {} invalid",
            report["summary"]["invalid"]
        ));
    }
    // Nothing is sent for an invalid item: no request names it...
    if !synced.bodies.iter().any(|b| b.contains("PF-OK")) {
        problems.push(format!(
            "{name}: no request names PF-OK: the check below proves nothing"
        ));
    }
    for key in case.invalid.keys() {
        let sent = synced
            .bodies
            .iter()
            .filter(|b| b.contains(&format!("\"{key}\"")))
            .count();
        if sent > 0 {
            problems.push(format!("{name}: {sent} request(s) name the invalid {key}"));
        }
    }
    // ...and the store counts the writes of the good record alone.
    if synced.writes.values().sum::<u64>() == 0 {
        problems.push(format!("{name}: the store counted no write at all"));
    }
    let good_only = json!({
        "categories": [],
        "products": [full["products"][0].clone()],
    });
    match sync_into_fresh_store(&case.target, &case.mapping, &good_only, false) {
        Ok(alone) if alone.writes == synced.writes => {}
        Ok(alone) => problems.push(format!(
            "{name}: the store counted writes {:?}, the good record alone {:?}",
            synced.writes, alone.writes
        )),
        Err(e) => problems.push(format!("{name}: baseline: {e}")),
    }
    problems
}

fn run_cases(target: &str) {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.target == target).collect();
    assert!(!cases.is_empty());
    let problems: Vec<String> = cases.iter().flat_map(run_case).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn shopify_rules_make_items_invalid_and_nothing_is_sent_for_them() {
    run_cases("shopify");
}

#[test]
fn bigcommerce_rules_make_items_invalid_and_nothing_is_sent_for_them() {
    run_cases("bigcommerce");
}

#[test]
fn validate_warns_where_the_mapping_shows_the_problem() {
    for (mapping, code) in [
        ("shopify-no-options", "variants::options-missing"),
        ("bigcommerce-no-name", "entity::required-unmapped"),
        ("bigcommerce-custom-fields", "entity::family-limit"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.yaml");
        std::fs::copy(
            format!("tests/data/preflight/mappings/{mapping}.yaml"),
            &path,
        )
        .unwrap();
        let (exit, stdout, stderr) = run(
            dir.path(),
            &["validate", "--format", "json", path.to_str().unwrap()],
        );
        assert_eq!(exit, 0, "{mapping}: {stdout}{stderr}");
        let out: Value = serde_json::from_str(&stdout).unwrap();
        let found = out["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == code && d["severity"] == "warning" && d["help"].is_string());
        assert!(found, "{mapping}: no {code} warning: {out:#}");
    }
    // The shipped mapping sets for the emulated stores warn of nothing.
    for mapping in ["shopify", "bigcommerce"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.yaml");
        std::fs::copy(
            format!("tests/data/preflight/mappings/{mapping}.yaml"),
            &path,
        )
        .unwrap();
        let (_, stdout, _) = run(
            dir.path(),
            &["validate", "--format", "json", path.to_str().unwrap()],
        );
        let out: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(out["summary"]["warnings"], 0, "{mapping}: {out:#}");
    }
}

/// Lists the refusal kinds the scan finds, one a line, for editing the
/// corpus: `cargo test --test plan preflight::print_kinds -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_kinds() {
    for k in shopify_kinds().into_iter().chain(bigcommerce_kinds()) {
        println!("{k}");
    }
}
