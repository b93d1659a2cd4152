//! The `shopify` connector as the registry sees it: its options schema,
//! the checks a schema cannot make (the shop domain, the URL, `shop` or
//! `url`), and connecting a [`ShopifyTarget`] from resolved options.

use async_trait::async_trait;
use mapsync_config::connector::{
    CheckContext, ClientSettings, Connection, Connector, Options, Role,
};
use mapsync_config::yaml::Node;
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};
use mapsync_core::target::{Capabilities, TargetError};

use crate::{
    AccessToken, ApiVersion, ClientConfig, ReadOptions, ShopLocation, ShopPlan, ShopifyClient,
    ShopifyError, ShopifyTarget, CAPABILITIES,
};

/// The `shopify` target connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopifyConnector;

const TARGET_SCHEMA: &str = include_str!("../schema/target.schema.json");

/// A client configuration from a target's options (`shop` or `url`,
/// `token`, `plan`, `api_version`) and the mapping set's client settings.
/// Used by every connector that speaks to a Shopify API.
pub fn client_config(
    location: ShopLocation,
    options: &Options,
    settings: Option<&ClientSettings>,
) -> Result<ClientConfig, ShopifyError> {
    let token = options.secret("token");
    let token = AccessToken::new(token.as_ref().map(|t| t.expose()).unwrap_or(""));
    let mut client = ClientConfig::new(location, token);
    if let Some(p) = options.text("plan") {
        client = client.with_plan(ShopPlan::parse(p)?);
    }
    if let Some(v) = options.text("api_version") {
        client.api_version = ApiVersion::parse(v)
            .map_err(|e| ShopifyError::Config(format!("{}: {e}", options.field("api_version"))))?;
    }
    if let Some(s) = settings {
        client.timeout = s.timeout;
        client.max_retries = s.retries;
        client.concurrency = s.concurrency.max(1);
    }
    Ok(client)
}

/// A connected Shopify target from a client configuration and the
/// target's options (`bulk_import_threshold`, `bulk_import_file_lines`).
pub fn target(client: ClientConfig, options: &Options) -> Result<ShopifyTarget, ShopifyError> {
    let mut read = ReadOptions::default();
    if let Some(n) = options.values().get("bulk_import_threshold") {
        read.bulk_import_threshold = n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                ShopifyError::Config(format!(
                    "{}: must be a whole number (0 turns bulk imports off)",
                    options.field("bulk_import_threshold")
                ))
            })?;
    }
    if let Some(n) = options.values().get("bulk_import_file_lines") {
        read.bulk_import_file_lines = n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=crate::bulk_write::MAX_LINES).contains(n))
            .ok_or_else(|| {
                ShopifyError::Config(format!(
                    "{}: must be a whole number from 1 to {}",
                    options.field("bulk_import_file_lines"),
                    crate::bulk_write::MAX_LINES
                ))
            })?;
    }
    Ok(ShopifyTarget::new(ShopifyClient::new(client)?, read))
}

#[async_trait]
impl Connector for ShopifyConnector {
    fn type_name(&self) -> &'static str {
        "shopify"
    }

    fn summary(&self) -> &'static str {
        "a Shopify store through the Admin GraphQL API"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        (role == Role::Target).then_some(TARGET_SCHEMA)
    }

    fn capabilities(&self) -> Option<&'static Capabilities> {
        Some(&CAPABILITIES)
    }

    fn check(&self, _role: Role, t: &Node, _cx: &CheckContext<'_>, diags: &mut Diagnostics) {
        check_address(t, diags);
        check_api_version(t, diags);
        if t.get("token").is_none() {
            diags.push(
                Diagnostic::warning(codes::PROJECT_TOKEN_MISSING, "a `shopify` target has no `token`")
                    .at_opt(t.loc())
                    .label("no `token:`")
                    .help("add `token: ${SHOPIFY_TOKEN}` (an Admin API access token); only an open sandbox accepts requests without one"),
            );
        }
    }

    async fn connect(
        &self,
        options: &Options,
        settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        let location = match (options.text("shop"), options.text("url")) {
            (Some(s), _) => ShopLocation::shop(s)?,
            (None, Some(u)) => ShopLocation::url(u)?,
            (None, None) => {
                return Err(ShopifyError::Config("the target needs `shop` or `url`".into()).into())
            }
        };
        let client = client_config(location, options, settings)?;
        Ok(Connection {
            target: Box::new(target(client, options)?),
            resource: None,
        })
    }
}

/// An `api_version` this mapsync speaks (a malformed one is the schema's).
pub fn check_api_version(t: &Node, diags: &mut Diagnostics) {
    let Some(n) = t.get("api_version") else {
        return;
    };
    let Some(text) = n.as_str() else {
        return;
    };
    // A malformed version (not YYYY-01/04/07/10) is reported by the schema.
    let release_month = matches!(text.get(4..), Some("-01" | "-04" | "-07" | "-10"));
    if text.contains("${") || ApiVersion::parse(text).is_err() || !release_month {
        return;
    }
    if let Some(reason) = crate::version::unsupported_reason(text) {
        diags.push(
            Diagnostic::error(
                codes::PROJECT_API_VERSION,
                format!("this mapsync does not talk to Shopify API version {text}"),
            )
            .at_opt(n.loc())
            .label("unsupported version")
            .help(format!(
                "{reason}; write `api_version: \"{}\"` or leave it out",
                crate::DEFAULT_API_VERSION
            )),
        );
    }
}

/// `shop` or `url`, not both; a shop domain; an http(s) URL.
fn check_address(t: &Node, diags: &mut Diagnostics) {
    let shop = t.get("shop");
    let url = t.get("url");
    match (shop, url) {
        (None, None) => diags.push(
            Diagnostic::error(
                codes::PROJECT_TARGET_ADDRESS,
                "a `shopify` target needs `shop` or `url`",
            )
            .at_opt(t.loc())
            .label("where is the store?")
            .help("add `shop: NAME.myshopify.com`, or `url: http://127.0.0.1:8099` for a sandbox"),
        ),
        (Some(_), Some(u)) => diags.push(
            Diagnostic::error(
                codes::PROJECT_TARGET_ADDRESS,
                "a `shopify` target takes `shop` or `url`, not both",
            )
            .at_opt(u.loc())
            .label("second address")
            .help("keep `shop:` for a real store or `url:` for any other base URL"),
        ),
        _ => {}
    }
    if let Some((n, text)) = shop.and_then(|n| Some((n, n.as_str()?))) {
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
}
