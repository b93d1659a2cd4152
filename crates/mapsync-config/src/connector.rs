//! Connectors as a project file names them: the registry of `type:`s.
//!
//! A profile's `source:` and `target:` each name a connector by `type:`.
//! The binary registers the connectors it ships ([`Registry::with`]); the
//! engine and the checks only ever see [`Connector`] trait objects, so no
//! crate but the connector's own names a platform. A type the registry does
//! not hold is an error at `validate` (`project::unknown-type`) and a
//! refusal to run — never a fallback to another connector.
//!
//! Each connector:
//! * declares the options it takes for each role as a JSON Schema (checked
//!   like the rest of the project file, with spans and "did you mean"),
//!   and checks what a schema cannot say in [`Connector::check`];
//! * for a target, declares its [`Capabilities`] (entities, limits, the
//!   field table `validate` checks `map:` keys against, ownership marks);
//! * opens a [`Source`] or connects a [`TargetWrite`] from resolved
//!   [`Options`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mapsync_core::diag::Diagnostics;
use mapsync_core::fields::FieldTable;
use mapsync_core::source::{Source, SourceError};
use mapsync_core::target::{Capabilities, ErrorKind, TargetError, TargetWrite};

use crate::yaml::Node;

/// A secret value from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a resolved value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which side of a profile a connector serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `source:` — read (and written back to).
    Source,
    /// `target:` — read and written.
    Target,
}

impl Role {
    /// The project-file key of the role.
    pub fn key(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Target => "target",
        }
    }
}

/// A connector's options as a profile gives them, `${ENV}` resolved.
///
/// Values may hold secrets: `Debug` shows only the type and the keys, and
/// nothing here is ever logged, planned or stored.
#[derive(Clone)]
pub struct Options {
    role: Role,
    profile: String,
    project_dir: PathBuf,
    values: serde_json::Map<String, serde_json::Value>,
}

impl Options {
    /// Options of `role` in `profile` (relative paths resolve against
    /// `project_dir`).
    pub fn new(
        role: Role,
        profile: impl Into<String>,
        project_dir: impl Into<PathBuf>,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        Options {
            role,
            profile: profile.into(),
            project_dir: project_dir.into(),
            values,
        }
    }

    /// The connector's `type:`.
    pub fn type_name(&self) -> &str {
        self.values
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// Source or target.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The profile these options belong to.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The directory of the project file.
    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    /// A path option resolved against the project directory.
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.text(key).map(|p| self.project_dir.join(p))
    }

    /// A text option (numbers and booleans as written).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(|v| v.as_str())
    }

    /// A secret option.
    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.text(key).map(Secret::new)
    }

    /// All values, for a connector that deserializes its options at once.
    /// May hold secrets: never print it.
    pub fn values(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.values
    }

    /// `target.token`-style name of an option, for messages.
    pub fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.role.key())
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("type", &self.type_name())
            .field("role", &self.role)
            .field("profile", &self.profile)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What a connector's checks may look at besides its own options.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    /// The profile being checked.
    pub profile: &'a str,
    /// The directory of the project file (paths are relative to it).
    pub project_dir: &'a Path,
}

/// Client tuning from the mapping set's `settings:` (timeout, retries,
/// requests in flight), and the settings of the target's own kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Timeout of one request.
    pub timeout: Duration,
    /// Retries of a transient failure.
    pub retries: u32,
    /// Requests in flight.
    pub concurrency: usize,
    /// `settings.<kind>` of the mapping set for the target's kind (a
    /// connector's own settings): option → text.
    pub target: std::collections::BTreeMap<String, String>,
}

impl ClientSettings {
    /// The target-kind setting `key`, if the mapping set gives it.
    pub fn target_option(&self, key: &str) -> Option<&str> {
        self.target.get(key).map(String::as_str)
    }
}

/// Something a connection keeps alive (e.g. an embedded store), closed
/// when the run ends.
#[async_trait]
pub trait Resource: Send + Sync + fmt::Debug {
    /// Stop it, persisting what it holds.
    async fn close(self: Box<Self>) -> Result<(), TargetError>;
}

/// A connected target.
pub struct Connection {
    /// The target's ports.
    pub target: Box<dyn TargetWrite>,
    /// What the connection keeps running, if anything.
    pub resource: Option<Box<dyn Resource>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.target.capabilities().kind)
            .field("resource", &self.resource)
            .finish()
    }
}

impl Connection {
    /// Close what the connection keeps running.
    pub async fn close(self) -> Result<(), TargetError> {
        match self.resource {
            Some(r) => r.close().await,
            None => Ok(()),
        }
    }
}

/// One kind of system mapsync talks to, registered under its `type:`.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The `type:` word.
    fn type_name(&self) -> &'static str;

    /// One line for listings (`project::unknown-type`'s help, docs).
    fn summary(&self) -> &'static str;

    /// The JSON Schema of its options in `role` (an object schema with
    /// `type` among its properties), or `None` when it cannot serve that
    /// role.
    fn options_schema(&self, role: Role) -> Option<&'static str>;

    /// What a schema cannot say (addresses, files, combinations); runs
    /// after the schema. Never resolves `${ENV}`.
    fn check(
        &self,
        _role: Role,
        _options: &Node,
        _cx: &CheckContext<'_>,
        _diags: &mut Diagnostics,
    ) {
    }

    /// The target's capabilities, known without connecting.
    fn capabilities(&self) -> Option<&'static Capabilities> {
        None
    }

    /// Whether SyncID/SyncDate/SyncMsg can be written back to it as a source.
    fn writes_back(&self) -> bool {
        false
    }

    /// Whether a source configured with `options` can write `entity`'s
    /// records (write-back, and the values of fields flowing to the source,
    /// docs/two-way.md). By default: [`Connector::writes_back`].
    fn writes_back_entity(&self, _options: &Node, _entity: mapsync_core::Entity) -> bool {
        self.writes_back()
    }

    /// Open it as a source.
    fn open_source(&self, options: &Options) -> Result<Box<dyn Source>, SourceError> {
        Err(SourceError::Config {
            message: format!(
                "`{}` cannot be a source (profile `{}`)",
                options.type_name(),
                options.profile()
            ),
            help: "choose a connector that reads, e.g. `type: file`".into(),
        })
    }

    /// Connect to it as a target.
    async fn connect(
        &self,
        options: &Options,
        _settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        Err(TargetError::new(
            ErrorKind::Config,
            format!(
                "`{}` cannot be a target (profile `{}`)",
                options.type_name(),
                options.profile()
            ),
        ))
    }
}

/// The connectors a binary ships, by `type:`.
#[derive(Clone, Default)]
pub struct Registry {
    connectors: Vec<Arc<dyn Connector>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.connectors.iter().map(|c| c.type_name()))
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Add a connector (a later one with the same type replaces it).
    pub fn with(mut self, connector: impl Connector + 'static) -> Self {
        let name = connector.type_name();
        self.connectors.retain(|c| c.type_name() != name);
        self.connectors.push(Arc::new(connector));
        self
    }

    /// The connector registered under `type_name`.
    pub fn get(&self, type_name: &str) -> Option<Arc<dyn Connector>> {
        self.connectors
            .iter()
            .find(|c| c.type_name() == type_name)
            .cloned()
    }

    /// The types that can serve `role`, in registration order.
    pub fn types(&self, role: Role) -> Vec<&'static str> {
        self.connectors
            .iter()
            .filter(|c| c.options_schema(role).is_some())
            .map(|c| c.type_name())
            .collect()
    }

    /// The capabilities for a mapping set's `target:` word (its field
    /// table and limits), from the first target connector declaring it.
    pub fn target_kind(&self, kind: &str) -> Option<&'static Capabilities> {
        self.connectors
            .iter()
            .filter_map(|c| c.capabilities())
            .find(|c| c.fields.kind == kind)
    }

    /// The field table for a mapping set's `target:` word.
    pub fn field_table(&self, kind: &str) -> Option<&'static FieldTable> {
        self.target_kind(kind).map(|c| c.fields)
    }

    /// The `target:` word of mapping sets that do not say: the field
    /// table of the first target connector registered.
    pub fn default_kind(&self) -> Option<&'static str> {
        self.connectors
            .iter()
            .find_map(|c| c.capabilities())
            .map(|c| c.fields.kind)
    }

    /// The mapping set `target:` words the registered targets accept.
    pub fn field_table_kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = Vec::new();
        for c in self.connectors.iter().filter_map(|c| c.capabilities()) {
            if !kinds.contains(&c.fields.kind) {
                kinds.push(c.fields.kind);
            }
        }
        kinds
    }

    /// One line per connector serving `role`, for help texts.
    pub fn describe(&self, role: Role) -> String {
        self.connectors
            .iter()
            .filter(|c| c.options_schema(role).is_some())
            .map(|c| format!("`{}` ({})", c.type_name(), c.summary()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
