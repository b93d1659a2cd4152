//! The `rest` connector as the registry sees it: its options schemas
//! (source and target), the checks a schema cannot make (URLs, one auth
//! style, secrets in clear, paging options per style, templates,
//! durations), its capabilities as a target, opening the source and
//! connecting the target.

use async_trait::async_trait;
use mapsync_config::check::project::secret;
use mapsync_config::connector::{
    CheckContext, ClientSettings, Connection, Connector, Options, Role,
};
use mapsync_config::yaml::{Kind, Node};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};
use mapsync_core::source::{Source, SourceError};
use mapsync_core::target::{Capabilities, TargetError};

use crate::paging::{style_keys, style_required};
use crate::template::Templates;
use crate::{RestOptions, RestSource, RestTarget, TargetOptions, CAPABILITIES};

/// The `rest` connector: a source (with write-back) and a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestConnector;

const SOURCE_SCHEMA: &str = include_str!("../schema/source.schema.json");
const TARGET_SCHEMA: &str = include_str!("../schema/target.schema.json");

#[async_trait]
impl Connector for RestConnector {
    fn type_name(&self) -> &'static str {
        "rest"
    }

    fn summary(&self) -> &'static str {
        "an HTTP catalog API: a PIM to read (with write-back), or a store to write"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        Some(match role {
            Role::Source => SOURCE_SCHEMA,
            Role::Target => TARGET_SCHEMA,
        })
    }

    fn check(&self, role: Role, s: &Node, _cx: &CheckContext<'_>, diags: &mut Diagnostics) {
        match role {
            Role::Source => check_source(s, diags),
            Role::Target => check_target(s, diags),
        }
    }

    fn capabilities(&self) -> Option<&'static Capabilities> {
        Some(&CAPABILITIES)
    }

    fn writes_back(&self) -> bool {
        true
    }

    /// Only an entity with a `writeback.<entity>` request can be written.
    fn writes_back_entity(&self, options: &Node, entity: mapsync_core::Entity) -> bool {
        options
            .get("writeback")
            .and_then(|w| w.get(entity.as_str()))
            .is_some()
    }

    fn open_source(&self, options: &Options) -> Result<Box<dyn Source>, SourceError> {
        let value = serde_json::Value::Object(options.values().clone());
        let opts = RestOptions::from_value(&value)?;
        Ok(Box::new(RestSource::new(&opts)?))
    }

    /// The mapping set's `timeout` and `retries` apply where the target's
    /// options do not set them.
    async fn connect(
        &self,
        options: &Options,
        settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        let value = serde_json::Value::Object(options.values().clone());
        let mut opts = TargetOptions::from_value(&value)?;
        if let Some(s) = settings {
            if opts.timeout.is_none() && !s.timeout.is_zero() {
                opts.timeout = Some(format!("{}ms", s.timeout.as_millis()));
            }
            if opts.retries.is_none() {
                opts.retries = Some(s.retries);
            }
        }
        Ok(Connection {
            target: Box::new(RestTarget::new(&opts)?),
            resource: None,
        })
    }
}

fn templated(text: &str) -> bool {
    text.contains("${")
}

/// What a schema cannot say about a `rest` source's options.
pub fn check_source(s: &Node, diags: &mut Diagnostics) {
    check_url(s.get("base_url"), "base_url", false, diags);
    if let Some(auth) = s.get("auth") {
        check_auth(auth, Role::Source, diags);
    }
    check_duration_not_zero(s.get("timeout"), "timeout", diags);
    if let Some(entities) = s.get("entities").and_then(Node::as_map) {
        for (name, e) in entities {
            let Some(name) = name.as_str() else { continue };
            check_entity(name, e, diags);
        }
    }
    if let Some(wb) = s.get("writeback").and_then(Node::as_map) {
        for (name, w) in wb {
            let Some(name) = name.as_str() else { continue };
            check_writeback(name, w, diags);
        }
    }
}

fn check_url(node: Option<&Node>, field: &str, relative_ok: bool, diags: &mut Diagnostics) {
    let Some((n, text)) = node.and_then(|n| Some((n, n.as_str()?))) else {
        return;
    };
    if templated(text) || (relative_ok && !text.contains("://")) {
        return;
    }
    let ok = url::Url::parse(text)
        .is_ok_and(|u| (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some());
    if !ok {
        diags.push(
            Diagnostic::error(
                codes::SCHEMA_FORMAT,
                format!("`{field}` `{text}` is not an http(s) URL"),
            )
            .at_opt(n.loc())
            .label("not an http(s) URL")
            .help(if relative_ok {
                "write a path relative to `base_url` (`/oauth/token`) or a full URL"
            } else {
                "write e.g. `https://pim.example.com/api/v1`"
            }),
        );
    } else if !relative_ok && text.contains('?') {
        diags.push(
            Diagnostic::error(
                codes::SCHEMA_FORMAT,
                format!("`{field}` has a query string"),
            )
            .at_opt(n.loc())
            .label("query string")
            .help("put query parameters in `list.query`, and credentials in `auth`"),
        );
    }
}

fn check_auth(auth: &Node, role: Role, diags: &mut Diagnostics) {
    let who = role.key();
    let styles: Vec<&str> = ["bearer", "header", "basic", "oauth2"]
        .into_iter()
        .filter(|k| auth.get(k).is_some() || (*k == "header" && auth.get("value").is_some()))
        .collect();
    if styles.len() > 1 {
        diags.push(
            Diagnostic::error(
                codes::SCHEMA_ONE_OF,
                format!(
                    "`auth` names {} styles ({}); a {who} authenticates one way",
                    styles.len(),
                    styles
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .at_opt(auth.loc())
            .label("more than one style")
            .help("keep one of `bearer`, `header` + `value`, `basic`, `oauth2`"),
        );
    }
    match (auth.entry("header"), auth.entry("value")) {
        (Some((k, _)), None) => diags.push(
            Diagnostic::error(codes::SCHEMA_REQUIRED, "`auth.header` needs a `value`")
                .at_opt(k.loc())
                .label("no `value:`")
                .help("write `{ header: X-Api-Key, value: \"${API_KEY}\" }`"),
        ),
        (None, Some((k, _))) => diags.push(
            Diagnostic::error(codes::SCHEMA_REQUIRED, "`auth.value` needs a `header`")
                .at_opt(k.loc())
                .label("which header?")
                .help("write `{ header: X-Api-Key, value: \"${API_KEY}\" }`, or `{ bearer: ... }` for `Authorization: Bearer`"),
        ),
        _ => {}
    }
    secret(auth.get("bearer"), &format!("{who}'s bearer token"), diags);
    secret(
        auth.get("value"),
        &format!("{who}'s API key (`auth.value`)"),
        diags,
    );
    if let Some(b) = auth.get("basic") {
        secret(
            b.get("password"),
            &format!("{who}'s password (`auth.basic.password`)"),
            diags,
        );
    }
    if let Some(o) = auth.get("oauth2") {
        secret(
            o.get("client_secret"),
            &format!("{who}'s OAuth 2 client secret"),
            diags,
        );
        check_url(o.get("token_url"), "auth.oauth2.token_url", true, diags);
    }
}

fn check_duration_not_zero(node: Option<&Node>, field: &str, diags: &mut Diagnostics) {
    let Some((n, text)) = node.and_then(|n| Some((n, n.as_str()?))) else {
        return;
    };
    if mapsync_config::check::mapping::parse_duration(text).is_some_and(|d| d.is_zero()) {
        diags.push(
            Diagnostic::error(codes::SETTINGS_VALUE, format!("`{field}` is zero"))
                .at_opt(n.loc())
                .label("cannot work")
                .help("write a duration such as `30s`"),
        );
    }
}

fn check_entity(name: &str, e: &Node, diags: &mut Diagnostics) {
    if let Some(q) = e.get("list").and_then(|l| l.get("query")) {
        check_query(name, q, diags);
    }
    if let Some(q) = e.get("count").and_then(|l| l.get("query")) {
        check_query(name, q, diags);
    }
    if let Some(p) = e.get("paging") {
        check_paging(name, p, diags);
    }
    if let Some(s) = e.get("since") {
        if s.as_map().is_some() && s.get("param").is_none() && s.get("field").is_none() {
            diags.push(
                Diagnostic::error(
                    codes::SCHEMA_REQUIRED,
                    format!("`entities.{name}.since` needs `param` or `field`"),
                )
                .at_opt(s.loc())
                .label("how are changes found?")
                .help("add `param: updated_since` (the server filters) and/or `field: LastUpdated` (mapsync skips older records)"),
            );
        }
    }
}

/// A query value left empty: in a flow mapping, `{ include: a,b }` is
/// `include: a` and a key `b` with no value.
fn check_query(name: &str, q: &Node, diags: &mut Diagnostics) {
    let Some(entries) = q.as_map() else { return };
    for (k, v) in entries {
        if matches!(v.kind, Kind::Null) {
            let key = k.as_str().unwrap_or("?");
            diags.push(
                Diagnostic::warning(
                    codes::SCHEMA_FORMAT,
                    format!("query parameter `{key}` of `{name}` has no value; it is sent as `{key}` alone"),
                )
                .at_opt(k.loc())
                .label("no value")
                .help("in `{ include: images,variants }` the comma ends the value: quote it, `include: \"images,variants\"`; write `{key}: \"\"` to send an empty value"),
            );
        }
    }
}

fn check_paging(name: &str, p: &Node, diags: &mut Diagnostics) {
    let Some(style) = p.get("style").and_then(Node::as_str) else {
        return;
    };
    if !["page", "offset", "cursor", "link", "next_url", "none"].contains(&style) {
        return; // the schema's enum reports it
    }
    let keys = style_keys(style);
    let all = [
        "page", "size", "offset", "limit", "max", "start", "cursor", "param", "next",
    ];
    for (k, _) in p.as_map().unwrap_or_default() {
        let Some(key) = k.as_str() else { continue };
        if all.contains(&key) && !keys.contains(&key) {
            let owner = ["page", "offset", "cursor", "next_url"]
                .into_iter()
                .find(|s| style_keys(s).contains(&key))
                .unwrap_or("another style");
            diags.push(
                Diagnostic::error(
                    codes::SCHEMA_UNKNOWN_KEY,
                    format!("`{key}` does not apply to paging style `{style}` (entity `{name}`)"),
                )
                .at_opt(k.loc())
                .label(format!("an option of style `{owner}`"))
                .help(if keys.is_empty() {
                    format!("remove it: style `{style}` takes only `max_pages`")
                } else {
                    format!(
                        "remove it, or write `style: {owner}`; style `{style}` takes {}",
                        keys.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            );
        }
    }
    for need in style_required(style) {
        if p.get(need).is_none() {
            let example = if *need == "cursor" {
                "meta.next_cursor"
            } else {
                "links.next"
            };
            diags.push(
                Diagnostic::error(
                    codes::SCHEMA_REQUIRED,
                    format!("paging style `{style}` needs `{need}` (entity `{name}`)"),
                )
                .at_opt(p.loc())
                .label(format!("no `{need}:`"))
                .help(format!(
                    "add `{need}: {example}`: the dotted path of the next one in the body"
                )),
            );
        }
    }
}

fn check_writeback(name: &str, w: &Node, diags: &mut Diagnostics) {
    let mut t = Templates::new();
    let mut template = |node: Option<&Node>, what: String, path: bool| {
        let Some(n) = node else { return };
        let result = if path {
            match n.as_str() {
                Some(s) => t.add_path(&what, s).map(|_| ()),
                None => return,
            }
        } else {
            t.add_shape(&what, &n.to_json()).map(|_| ())
        };
        if let Err(e) = result {
            diags.push(
                Diagnostic::error(codes::TEMPLATE_SYNTAX, e.message.clone())
                    .at_opt(n.loc())
                    .label("does not parse")
                    .help(e.help.clone()),
            );
        }
    };
    let base = format!("writeback.{name}");
    template(w.get("path"), format!("{base}.path"), true);
    template(w.get("body"), format!("{base}.body"), false);
    if let Some(b) = w.get("batch") {
        template(b.get("path"), format!("{base}.batch.path"), true);
        template(b.get("item"), format!("{base}.batch.item"), false);
        template(b.get("body"), format!("{base}.batch.body"), false);
    }
    if let Some((n, p)) = w.get("path").and_then(|n| Some((n, n.as_str()?))) {
        if p.starts_with("http://") || p.starts_with("https://") {
            diags.push(
                Diagnostic::warning(
                    codes::SCHEMA_FORMAT,
                    format!("`{base}.path` is a full URL"),
                )
                .at_opt(n.loc())
                .label("absolute")
                .help("write-back goes to the server of `base_url` only; write a path relative to it"),
            );
        }
    }
}

fn template_error(n: &Node, e: crate::RestError, diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::error(codes::TEMPLATE_SYNTAX, e.message.clone())
            .at_opt(n.loc())
            .label("does not parse")
            .help(e.help.clone()),
    );
}

/// Check the templates of one request (`path` and `body`) of a target.
fn check_request(t: &mut Templates, base: &str, r: &Node, diags: &mut Diagnostics) {
    if let Some((n, p)) = r.get("path").and_then(|n| Some((n, n.as_str()?))) {
        if let Err(e) = t.add_path(&format!("{base}.path"), p) {
            template_error(n, e, diags);
        } else if p.starts_with("http://") || p.starts_with("https://") {
            diags.push(
                Diagnostic::warning(codes::SCHEMA_FORMAT, format!("`{base}.path` is a full URL"))
                    .at_opt(n.loc())
                    .label("absolute")
                    .help(
                        "requests go to the server of `base_url` only; write a path relative to it",
                    ),
            );
        }
    }
    if let Some(n) = r.get("body") {
        if let Err(e) = t.add_shape(&format!("{base}.body"), &n.to_json()) {
            template_error(n, e, diags);
        }
    }
}

/// What a schema cannot say about a `rest` target's options.
pub fn check_target(t: &Node, diags: &mut Diagnostics) {
    check_url(t.get("base_url"), "base_url", false, diags);
    if let Some(auth) = t.get("auth") {
        check_auth(auth, Role::Target, diags);
    }
    check_duration_not_zero(t.get("timeout"), "timeout", diags);
    let mut templates = Templates::new();
    let entities = t.get("entities").and_then(Node::as_map).unwrap_or_default();
    for (name, e) in entities {
        let Some(name) = name.as_str() else { continue };
        if let Some(q) = e.get("list").and_then(|l| l.get("query")) {
            check_query(name, q, diags);
        }
        if let Some(p) = e.get("paging") {
            check_paging(name, p, diags);
        }
        for what in ["get", "create", "update", "delete", "deactivate"] {
            if let Some(r) = e.get(what) {
                check_request(&mut templates, &format!("entities.{name}.{what}"), r, diags);
            }
        }
        if let Some((k, _)) = e.entry("deactivate") {
            let published = e.get("list").and_then(|l| l.get("published"));
            if published.is_none() {
                diags.push(
                    Diagnostic::warning(
                        codes::SCHEMA_REQUIRED,
                        format!("`entities.{name}.deactivate` without `list.published`"),
                    )
                    .at_opt(k.loc())
                    .label("a deactivated item still reads as published")
                    .help(format!(
                        "add `published: <field>` to `entities.{name}.list` (e.g. `published: active`), or every run deactivates the same items again"
                    )),
                );
            }
        }
        if name == "category" {
            if let Some((k, _)) = e.entry("categories") {
                diags.push(
                    Diagnostic::error(
                        codes::SCHEMA_UNKNOWN_KEY,
                        "`categories` does not apply to `entities.category`",
                    )
                    .at_opt(k.loc())
                    .label("products only")
                    .help("move it to `entities.product`: the field of a product that holds its category ids"),
                );
            }
        }
    }
    if let Some(im) = t.get("images") {
        if let Some((n, p)) = im
            .get("list")
            .and_then(|l| l.get("path"))
            .and_then(|n| Some((n, n.as_str()?)))
        {
            if let Err(e) = templates.add_path("images.list.path", p) {
                template_error(n, e, diags);
            }
        }
        for what in ["add", "overwrite", "delete", "upload"] {
            if let Some(r) = im.get(what) {
                check_request(&mut templates, &format!("images.{what}"), r, diags);
            }
        }
        if !entities.iter().any(|(k, _)| k.as_str() == Some("product")) {
            if let Some((k, _)) = t.entry("images") {
                diags.push(
                    Diagnostic::warning(
                        codes::SCHEMA_REQUIRED,
                        "`images` without `entities.product`",
                    )
                    .at_opt(k.loc())
                    .label("images belong to products")
                    .help("add `entities.product`, or remove `images`"),
                );
            }
        }
    }
}
