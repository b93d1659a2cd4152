//! Semantic checks of a project file: profiles, sources, targets, state
//! URLs, `${ENV}` syntax and secrets written in clear. Never resolves an
//! environment variable.

use std::path::Path;

use crate::env;
use crate::yaml::{Kind, Node};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};

/// A profile's mapping set reference, for the caller to load and check.
#[derive(Debug, Clone)]
pub struct MappingRef {
    /// Profile name.
    pub profile: String,
    /// Mapping path as written (relative to the project directory).
    pub path: String,
    /// The node of `mapping:`.
    pub node: Node,
    /// Source type of the profile.
    pub source_type: Option<String>,
}

/// Check a project file; returns the mapping sets its profiles use.
pub fn check(root: &Node, dir: &Path, diags: &mut Diagnostics) -> Vec<MappingRef> {
    env_syntax(root, diags);
    let mut refs = Vec::new();
    let Some(profiles) = root.get("profiles").and_then(Node::as_map) else {
        return refs;
    };
    if profiles.is_empty() {
        diags.push(
            Diagnostic::error(codes::PROJECT_NO_PROFILES, "the project has no profiles")
                .at_opt(root.get("profiles").and_then(Node::loc))
                .label("empty")
                .help("add a profile: `profiles: { demo: { mapping: ..., source: ..., target: ... } }`"),
        );
    }
    for (name, p) in profiles {
        let Some(name) = name.as_str() else { continue };
        let source = p.get("source");
        let source_type = source.and_then(|s| s.get("type")).and_then(Node::as_str);
        if let Some(s) = source {
            check_source(s, dir, diags);
        }
        if let Some(t) = p.get("target") {
            check_target(t, diags);
        }
        if let Some(st) = p.get("state") {
            check_state(st, diags);
        }
        if let Some(m) = p.get("mapping") {
            if let Some(text) = m.as_str() {
                if !text.contains("${") && !dir.join(text).exists() {
                    diags.push(
                        Diagnostic::error(
                            codes::PROJECT_MAPPING_MISSING,
                            format!("profile `{name}`: mapping set `{text}` does not exist"),
                        )
                        .at_opt(m.loc())
                        .label("no such file or directory")
                        .help(format!(
                            "paths are relative to the project file's directory ({}); check the spelling",
                            dir.display()
                        )),
                    );
                } else {
                    refs.push(MappingRef {
                        profile: name.to_string(),
                        path: text.to_string(),
                        node: m.clone(),
                        source_type: source_type.map(str::to_string),
                    });
                }
            }
        }
    }
    refs
}

fn env_syntax(node: &Node, diags: &mut Diagnostics) {
    match &node.kind {
        Kind::Str(s) => {
            if let Err(e) = env::references(s) {
                let r = e.range();
                diags.push(
                    Diagnostic::error(codes::PROJECT_ENV_SYNTAX, format!("bad environment reference: {e}"))
                        .at_opt(node.inner_loc(r.start, r.end))
                        .label("here")
                        .help("write `${NAME}` with a name of letters, digits and `_`; write `$${` for a literal `${`"),
                );
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| env_syntax(i, diags)),
        Kind::Map(entries) => entries.iter().for_each(|(_, v)| env_syntax(v, diags)),
        _ => {}
    }
}

fn secret(node: Option<&Node>, what: &str, diags: &mut Diagnostics) {
    let Some(n) = node else { return };
    let Some(s) = n.as_str() else { return };
    if !s.is_empty() && !s.contains("${") {
        diags.push(
            Diagnostic::warning(
                codes::PROJECT_SECRET_IN_FILE,
                format!("the {what} is written in the project file"),
            )
            .at_opt(n.loc())
            .label("a secret in clear text")
            .help("write `token: ${SHOPIFY_TOKEN}` and set the variable in the environment; secrets do not belong in files under version control"),
        );
    }
}

fn check_source(s: &Node, dir: &Path, diags: &mut Diagnostics) {
    let ty = s.get("type").and_then(Node::as_str);
    secret(s.get("token"), "source token", diags);
    match ty {
        Some("file") => {
            let path = s.get("path");
            let Some(path_text) = path.and_then(Node::as_str) else {
                if path.is_none() {
                    diags.push(
                        Diagnostic::error(
                            codes::PROJECT_SOURCE_PATH,
                            "a `file` source needs a `path`",
                        )
                        .at_opt(s.loc())
                        .label("no `path:`")
                        .help("add `path: examples/catalog.json` (relative to the project file)"),
                    );
                }
                return;
            };
            let format = s
                .get("format")
                .and_then(Node::as_str)
                .map(str::to_string)
                .or_else(|| {
                    let ext = Path::new(path_text)
                        .extension()?
                        .to_str()?
                        .to_ascii_lowercase();
                    Some(match ext.as_str() {
                        "json" => "json".into(),
                        "ndjson" | "jsonl" => "ndjson".into(),
                        "csv" | "tsv" => "csv".into(),
                        "yaml" | "yml" => "yaml".into(),
                        _ => return None,
                    })
                });
            let Some(format) = format else {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_SOURCE_FORMAT,
                        format!("cannot tell the format of `{path_text}` from its extension"),
                    )
                    .at_opt(path.and_then(Node::loc))
                    .label("unknown extension")
                    .help("add `format: json` (or ndjson, csv, yaml), or rename the file"),
                );
                return;
            };
            if !path_text.contains("${") && !dir.join(path_text).exists() {
                diags.push(
                    Diagnostic::warning(
                        codes::PROJECT_SOURCE_MISSING,
                        format!("source file `{path_text}` does not exist (yet)"),
                    )
                    .at_opt(path.and_then(Node::loc))
                    .label("not found")
                    .help("a sync with this profile fails until the file exists; paths are relative to the project file"),
                );
            }
            if (format == "csv" || format == "ndjson") && s.get("entity").is_none() {
                diags.push(
                    Diagnostic::error(
                        codes::PROJECT_SOURCE_ENTITY,
                        format!("a {format} source holds one entity; say which"),
                    )
                    .at_opt(s.loc())
                    .label("no `entity:`")
                    .help("add `entity: product` (or `entity: category`)"),
                );
            }
            if format != "csv" {
                for opt in ["delimiter", "group_by"] {
                    if let Some((k, _)) = s.entry(opt) {
                        diags.push(
                            Diagnostic::error(
                                codes::PROJECT_CSV_OPTION,
                                format!("`{opt}` applies to CSV sources only, and this source is {format}"),
                            )
                            .at_opt(k.loc())
                            .label("ignored for this format")
                            .help("remove it, or set `format: csv`"),
                        );
                    }
                }
            }
        }
        Some(other @ ("rest" | "shopify" | "bigcommerce")) => {
            diags.push(
                Diagnostic::warning(
                    codes::PROJECT_UNSUPPORTED,
                    format!("source type `{other}` is not available in this version of mapsync"),
                )
                .at_opt(s.get("type").and_then(Node::loc))
                .label("not implemented yet")
                .help("use a `file` source for now; this profile validates but cannot run"),
            );
        }
        _ => {}
    }
}

fn check_target(t: &Node, diags: &mut Diagnostics) {
    let ty = t.get("type").and_then(Node::as_str);
    secret(t.get("token"), "target token", diags);
    match ty {
        Some("shopify") => {
            let shop = t.get("shop");
            let url = t.get("url");
            match (shop, url) {
                (None, None) => diags.push(
                    Diagnostic::error(codes::PROJECT_TARGET_ADDRESS, "a `shopify` target needs `shop` or `url`")
                        .at_opt(t.loc())
                        .label("where is the store?")
                        .help("add `shop: NAME.myshopify.com`, or `url: http://127.0.0.1:8099` for a sandbox"),
                ),
                (Some(_), Some(u)) => diags.push(
                    Diagnostic::error(codes::PROJECT_TARGET_ADDRESS, "a `shopify` target takes `shop` or `url`, not both")
                        .at_opt(u.loc())
                        .label("second address")
                        .help("keep `shop:` for a real store or `url:` for any other base URL"),
                ),
                _ => {}
            }
            if let Some(s) = shop.and_then(|n| Some((n, n.as_str()?))) {
                let (n, text) = s;
                let name = text.strip_suffix(".myshopify.com");
                let ok = text.contains("${")
                    || name.is_some_and(|n| {
                        !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    });
                if !ok {
                    diags.push(
                        Diagnostic::error(codes::PROJECT_SHOP, format!("`{text}` is not a shop domain"))
                            .at_opt(n.loc())
                            .label("expected NAME.myshopify.com")
                            .help("write the store's permanent domain, e.g. `acme-eu.myshopify.com` (no https://)"),
                    );
                }
            }
            if let Some((n, text)) = url.and_then(|n| Some((n, n.as_str()?))) {
                let ok = text.contains("${")
                    || url::Url::parse(text).is_ok_and(|u| {
                        (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some()
                    });
                if !ok {
                    diags.push(
                        Diagnostic::error(
                            codes::PROJECT_TARGET_URL,
                            format!("`{text}` is not an http(s) URL"),
                        )
                        .at_opt(n.loc())
                        .label("not a base URL")
                        .help("write e.g. `http://127.0.0.1:8099`"),
                    );
                }
            }
            if t.get("token").is_none() {
                diags.push(
                    Diagnostic::warning(codes::PROJECT_TOKEN_MISSING, "a `shopify` target has no `token`")
                        .at_opt(t.loc())
                        .label("no `token:`")
                        .help("add `token: ${SHOPIFY_TOKEN}` (an Admin API access token); only an open sandbox accepts requests without one"),
                );
            }
        }
        Some(other @ ("bigcommerce" | "rest")) => diags.push(
            Diagnostic::warning(
                codes::PROJECT_UNSUPPORTED,
                format!("target type `{other}` is not available in this version of mapsync"),
            )
            .at_opt(t.get("type").and_then(Node::loc))
            .label("not implemented yet")
            .help("use `sandbox` or `shopify`; this profile validates but cannot run"),
        ),
        _ => {}
    }
}

fn check_state(st: &Node, diags: &mut Diagnostics) {
    let Some(text) = st.as_str() else { return };
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        diags.push(
            Diagnostic::warning(
                codes::PROJECT_UNSUPPORTED,
                "PostgreSQL state stores are not available in this version of mapsync",
            )
            .at_opt(st.loc())
            .label("not implemented yet")
            .help("use `sqlite:.mapsync/state.db` (the default) for now"),
        );
    } else if text.strip_prefix("sqlite:").is_none_or(str::is_empty) {
        diags.push(
            Diagnostic::error(
                codes::PROJECT_STATE_URL,
                format!("`{text}` is not a state store URL"),
            )
            .at_opt(st.loc())
            .label("unknown scheme")
            .help("write `sqlite:PATH` (e.g. `sqlite:.mapsync/state.db`) or `postgres://...`"),
        );
    }
}
