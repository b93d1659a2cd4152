//! The `bigcommerce` connector as the registry sees it: the options schema
//! of the profile block (`store_hash`, `token`, `plan`, `url`), the checks
//! a schema cannot make, connecting the target and opening the source.
//!
//! `store_hash` is required, also with `url`: the API lives at
//! `https://api.bigcommerce.com/stores/{store_hash}/v3`, or with `url` (an
//! emulated store, `mapsync sandbox serve --kind bigcommerce`) at
//! `{url}/stores/{store_hash}/v3` — the emulated store checks the hash as
//! BigCommerce does.

use async_trait::async_trait;
use mapsync_config::connector::{
    CheckContext, ClientSettings, Connection, Connector, Options, Role,
};
use mapsync_config::yaml::Node;
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};
use mapsync_core::source::{Source, SourceError};
use mapsync_core::target::{Capabilities, TargetError};
use url::Url;

use crate::client::{BcClient, BcConfig};
use crate::error::BcError;
use crate::fields::CAPABILITIES;
use crate::target::BigCommerceTarget;

/// BigCommerce's API host.
pub const API_HOST: &str = "https://api.bigcommerce.com";

const TARGET_SCHEMA: &str = include_str!("../schema/target.schema.json");
const SOURCE_SCHEMA: &str = include_str!("../schema/source.schema.json");

/// The `bigcommerce` connector: a target, and a source.
#[derive(Debug, Clone, Copy, Default)]
pub struct BigCommerceConnector;

/// The requests per 30 s window of a plan (`None`: as the store says).
pub fn plan_quota(plan: &str) -> Option<u32> {
    match plan {
        "standard" | "plus" => Some(150),
        "pro" => Some(450),
        _ => None,
    }
}

/// Whether a store hash looks like one (letters and digits).
fn hash_ok(hash: &str) -> bool {
    !hash.is_empty()
        && hash
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The client of a profile block's resolved options.
pub fn client_of(options: &Options) -> Result<BcClient, BcError> {
    let config = |m: String| BcError::Config { message: m };
    let hash = options
        .text("store_hash")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| config(format!("{} is required", options.field("store_hash"))))?;
    if !hash_ok(hash) {
        return Err(config(format!(
            "{}: '{hash}' is not a store hash",
            options.field("store_hash")
        )));
    }
    let root = options
        .text("url")
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .unwrap_or_else(|| API_HOST.to_string());
    let base = Url::parse(&format!("{root}/stores/{hash}/v3"))
        .map_err(|e| config(format!("{}: {e}", options.field("url"))))?;
    let token = options.secret("token");
    let token = token.as_ref().map(|t| t.expose()).unwrap_or("");
    if token.trim().is_empty() {
        return Err(config(format!(
            "{} is empty: set it to an API account's access token (`${{BC_TOKEN}}`)",
            options.field("token")
        )));
    }
    BcClient::new(BcConfig {
        base,
        token: token.to_string(),
        quota_hint: options.text("plan").and_then(plan_quota),
    })
}

#[async_trait]
impl Connector for BigCommerceConnector {
    fn type_name(&self) -> &'static str {
        "bigcommerce"
    }

    fn summary(&self) -> &'static str {
        "a BigCommerce store through the REST Management API v3 (a target, or a source)"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        Some(match role {
            Role::Source => SOURCE_SCHEMA,
            Role::Target => TARGET_SCHEMA,
        })
    }

    fn capabilities(&self) -> Option<&'static Capabilities> {
        Some(&CAPABILITIES)
    }

    fn check(&self, _role: Role, t: &Node, _cx: &CheckContext<'_>, diags: &mut Diagnostics) {
        check_options(t, diags);
    }

    fn open_source(&self, options: &Options) -> Result<Box<dyn Source>, SourceError> {
        let client = client_of(options).map_err(|e| SourceError::Config {
            message: e.to_string(),
            help: "a `bigcommerce` source needs `store_hash` and `token` (and `url` for an emulated store)".into(),
        })?;
        crate::source::open(client, options)
    }

    /// The mapping set's `timeout` (of one attempt) and `retries` (of a
    /// request answered 5xx or not answered) apply to the client.
    async fn connect(
        &self,
        options: &Options,
        settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        Ok(Connection {
            target: Box::new(target_of(client_of(options)?, options, settings)),
            resource: None,
        })
    }
}

/// The target over `client` with a profile block's options and the
/// mapping set's client settings (`timeout` of one attempt, `retries` of a
/// request answered 5xx or not answered). For connectors that reach a
/// BigCommerce store another way (the embedded emulated one).
pub fn target_of(
    client: BcClient,
    options: &Options,
    settings: Option<&ClientSettings>,
) -> BigCommerceTarget {
    let mut client = client;
    if let Some(s) = settings {
        client = client
            .with_timeout(s.timeout)
            .with_attempts(s.retries.saturating_add(1));
    }
    let mut target = BigCommerceTarget::new(client);
    // The profile's block names the store: its permission wins over the
    // mapping set's `settings.bigcommerce.metafield_permission`.
    let permission = options
        .text("metafield_permission")
        .or_else(|| settings.and_then(|s| s.target_option("metafield_permission")));
    if let Some(p) = permission {
        target = target.with_metafield_permission(p);
    }
    target
}

/// What the schema cannot say: the store hash's form, the URL, the token.
pub fn check_options(t: &Node, diags: &mut Diagnostics) {
    match t.get("store_hash") {
        None => diags.push(
            Diagnostic::error(
                codes::PROJECT_TARGET_ADDRESS,
                "a `bigcommerce` profile block needs `store_hash`",
            )
            .at_opt(t.loc())
            .label("which store?")
            .help("add `store_hash: abc123` (from https://api.bigcommerce.com/stores/abc123/v3); with `url:` too, for an emulated store"),
        ),
        Some(n) => {
            if let Some(text) = n.as_str() {
                if !text.contains("${") && !hash_ok(text.trim()) {
                    diags.push(
                        Diagnostic::error(
                            codes::SCHEMA_FORMAT,
                            format!("`{text}` is not a BigCommerce store hash"),
                        )
                        .at_opt(n.loc())
                        .label("letters and digits expected")
                        .help("write the hash of the API path, e.g. `abc123` of /stores/abc123/v3"),
                    );
                }
            }
        }
    }
    if let Some((n, text)) = t.get("url").and_then(|n| Some((n, n.as_str()?))) {
        let ok = text.contains("${")
            || Url::parse(text).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none()
            });
        if !ok {
            diags.push(
                Diagnostic::error(
                    codes::PROJECT_TARGET_URL,
                    format!("`{text}` is not an http(s) base URL"),
                )
                .at_opt(n.loc())
                .label("not a base URL")
                .help("write e.g. `http://127.0.0.1:8098` (the API is then at {url}/stores/{store_hash}/v3)"),
            );
        }
    }
    if t.get("token").is_none() {
        diags.push(
            Diagnostic::warning(
                codes::PROJECT_TOKEN_MISSING,
                "a `bigcommerce` profile block has no `token`",
            )
            .at_opt(t.loc())
            .label("no `token:`")
            .help("add `token: ${BC_TOKEN}` (an API account's access token, sent as X-Auth-Token)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_core::diag::SourceFile;
    use serde_json::json;

    fn options(v: serde_json::Value) -> Options {
        Options::new(
            Role::Target,
            "p",
            ".",
            v.as_object().cloned().unwrap_or_default(),
        )
    }

    #[test]
    fn the_api_base_comes_from_the_hash_and_the_url() {
        let cases = [
            (
                json!({"store_hash": "abc123", "token": "t"}),
                Ok("https://api.bigcommerce.com/stores/abc123/v3"),
            ),
            (
                json!({"store_hash": "sandbox", "token": "t", "url": "http://127.0.0.1:8098/"}),
                Ok("http://127.0.0.1:8098/stores/sandbox/v3"),
            ),
            (json!({"token": "t", "url": "http://x"}), Err("store_hash")),
            (
                json!({"store_hash": "a/b", "token": "t"}),
                Err("store hash"),
            ),
            (json!({"store_hash": "abc"}), Err("token")),
        ];
        for (given, want) in cases {
            let got = client_of(&options(given.clone()));
            match (got, want) {
                (Ok(c), Ok(base)) => assert_eq!(c.base().as_str(), base, "{given}"),
                (Err(e), Err(word)) => {
                    assert!(e.to_string().contains(word), "{given}: {e}");
                    assert!(!e.to_string().contains("\"t\""), "no token in errors");
                }
                (got, want) => panic!("{given}: {got:?} vs {want:?}"),
            }
        }
        assert_eq!(plan_quota("pro"), Some(450));
        assert_eq!(plan_quota("enterprise"), None);
    }

    #[test]
    fn checks_name_what_is_missing_or_malformed() {
        let cases: &[(&str, &[&str])] = &[
            ("{type: bigcommerce, store_hash: abc, token: \"${T}\"}", &[]),
            (
                "{type: bigcommerce, token: \"${T}\"}",
                &["project::target-address"],
            ),
            (
                "{type: bigcommerce, store_hash: \"a b\", token: \"${T}\", url: \"ftp://x\"}",
                &["schema::format", "project::target-url"],
            ),
            (
                "{type: bigcommerce, store_hash: abc}",
                &["project::token-missing"],
            ),
        ];
        for (text, codes) in cases {
            let file = SourceFile::new("t.yaml", *text);
            let node = mapsync_config::yaml::parse(&file).expect("yaml");
            let mut diags = Diagnostics::new();
            check_options(&node, &mut diags);
            let got: Vec<&str> = diags.iter().map(|d| d.code.name).collect();
            assert_eq!(got, codes.to_vec(), "{text}");
        }
    }
}
