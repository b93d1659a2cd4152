//! Semantic checks of a project file: profiles, sources, targets, state
//! URLs, `${ENV}` syntax and secrets written in clear. Never resolves an
//! environment variable.

use std::path::Path;

use std::sync::Arc;

use super::suggest;
use crate::connector::{CheckContext, Connector, Registry, Role};
use crate::env;
use crate::yaml::{Kind, Node};
use mapsync_core::diag::{codes, Diagnostic, Diagnostics};

/// A profile's mapping set reference, for the caller to load and check.
#[derive(Clone)]
pub struct MappingRef {
    /// Profile name.
    pub profile: String,
    /// Mapping path as written (relative to the project directory).
    pub path: String,
    /// The node of `mapping:`.
    pub node: Node,
    /// The profile's source connector, if its type is known.
    pub source: Option<Arc<dyn Connector>>,
    /// The profile's source options (`source:`), as written.
    pub source_options: Option<Node>,
    /// The profile's target connector, if its type is known.
    pub target: Option<Arc<dyn Connector>>,
    /// The node of the target's `type:`.
    pub target_type: Option<Node>,
}

impl std::fmt::Debug for MappingRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappingRef")
            .field("profile", &self.profile)
            .field("path", &self.path)
            .field("source", &self.source.as_ref().map(|c| c.type_name()))
            .field("target", &self.target.as_ref().map(|c| c.type_name()))
            .finish()
    }
}

/// Check a project file against the connectors of `registry`; returns
/// the mapping sets its profiles use.
pub fn check(
    root: &Node,
    dir: &Path,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> Vec<MappingRef> {
    env_syntax(root, diags);
    if let Some(run) = root.get("run") {
        crate::schedule::check_run(run, diags);
    }
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
        let source = p
            .get("source")
            .and_then(|s| check_endpoint(Role::Source, name, s, dir, registry, diags));
        let target = p
            .get("target")
            .and_then(|t| check_endpoint(Role::Target, name, t, dir, registry, diags));
        let target_type = p.get("target").and_then(|t| t.get("type")).cloned();
        if let Some(st) = p.get("state") {
            check_state(st, diags);
        }
        if let Some(s) = p.get("schedule") {
            crate::schedule::check(name, s, diags);
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
                        source: source.clone(),
                        source_options: p.get("source").cloned(),
                        target: target.clone(),
                        target_type: target_type.clone(),
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

/// Warn when a secret option is written in clear text (a connector's
/// check may call it for its other secret options).
pub fn secret(node: Option<&Node>, what: &str, diags: &mut Diagnostics) {
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
            .help("write `token: ${API_TOKEN}` and set the variable in the environment; secrets do not belong in files under version control"),
        );
    }
}

/// Check a profile's `source:` or `target:`: its `type:` names a
/// registered connector that serves the role, its options match the
/// connector's schema, then the connector's own checks. Returns the
/// connector.
fn check_endpoint(
    role: Role,
    profile: &str,
    node: &Node,
    dir: &Path,
    registry: &Registry,
    diags: &mut Diagnostics,
) -> Option<Arc<dyn Connector>> {
    secret(node.get("token"), &format!("{} token", role.key()), diags);
    let ty_node = node.get("type")?;
    let ty = ty_node.as_str()?;
    let connector = registry.get(ty);
    let Some((connector, schema)) = connector
        .as_ref()
        .and_then(|c| Some((c.clone(), c.options_schema(role)?)))
    else {
        let types = registry.types(role);
        let mut help = match suggest(ty, types.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? "),
            None => String::new(),
        };
        help.push_str(&format!(
            "the {} types are: {}",
            role.key(),
            registry.describe(role)
        ));
        let message = if connector.is_some() {
            format!("`{ty}` cannot be a {}", role.key())
        } else {
            format!("unknown {} type `{ty}`", role.key())
        };
        diags.push(
            Diagnostic::error(codes::PROJECT_UNKNOWN_TYPE, message)
                .at_opt(ty_node.loc())
                .label(format!("no {} connector of this type", role.key()))
                .help(help),
        );
        return None;
    };
    let prefix = format!("profiles.{profile}.{}", role.key());
    super::schema::validate_options(schema, node, &prefix, diags);
    let cx = CheckContext {
        profile,
        project_dir: dir,
    };
    connector.check(role, node, &cx, diags);
    Some(connector)
}

fn check_state(st: &Node, diags: &mut Diagnostics) {
    let Some(text) = st.as_str() else { return };
    if let Some(rest) = text
        .strip_prefix("postgres://")
        .or_else(|| text.strip_prefix("postgresql://"))
    {
        // The rest is checked when the database is opened (mapsync-pgstate);
        // here only what must never be in a project file: a password.
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let has_password = authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.contains(':'));
        if has_password {
            // No location: rendering it would print the line, password
            // and all, into the terminal and the CI log.
            diags.push(
                Diagnostic::error(
                    codes::PROJECT_STATE_URL,
                    "a `state:` URL holds a password (not shown)",
                )
                .help("remove it from the URL and name the variable that holds it: `postgres://USER@HOST/DB?password_env=MAPSYNC_DB_PASSWORD`"),
            );
        }
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
