//! The connectors this binary ships, registered by `type:`. The binary is
//! the one place that names them all; the engine sees only the registry.
//!
//! * `file` (source): `mapsync-file`.
//! * `rest` (source, with write-back; target): `mapsync-rest`.
//! * `shopify` (target): `mapsync-shopify`.
//! * `bigcommerce` (target, source): `mapsync-bigcommerce`.
//! * `sandbox` (target): the embedded emulated Shopify store
//!   (`mapsync-sandbox`) started in-process, spoken to by the Shopify
//!   connector over HTTP like any store; `bigcommerce-sandbox` (target):
//!   the embedded emulated BigCommerce store, the same way. They live here
//!   because each joins two crates that must not know each other.

use async_trait::async_trait;
use mapsync_config::connector::{
    CheckContext, ClientSettings, Connection, Connector, Options, Registry, Resource, Role,
};
use mapsync_config::yaml::Node;
use mapsync_core::diag::Diagnostics;
use mapsync_core::target::{Capabilities, ErrorKind, TargetError};
use mapsync_sandbox::{SandboxConfig, SandboxHandle};
use mapsync_shopify::{connector as shopify_conn, ShopLocation, CAPABILITIES};

pub use mapsync_core::source::*;
pub use mapsync_file as file;
pub use mapsync_rest as rest;
pub use mapsync_shopify as shopify;

/// The connectors of this binary. The first target registered gives the
/// `target:` of mapping sets that do not name one (`shopify`).
pub fn registry() -> Registry {
    Registry::new()
        .with(mapsync_file::FileConnector)
        .with(mapsync_shopify::ShopifyConnector)
        .with(SandboxConnector)
        .with(mapsync_rest::RestConnector)
        .with(mapsync_bigcommerce::BigCommerceConnector)
        .with(BigCommerceSandboxConnector)
}

/// A source from options as a profile would give them (for tests and
/// benches that read a file without a project).
pub fn source(
    options: serde_json::Value,
    project_dir: &std::path::Path,
) -> Result<mapsync_config::profile::Endpoint, mapsync_config::profile::ProfileError> {
    mapsync_config::profile::Endpoint::resolve(&registry(), Role::Source, "-", project_dir, options)
}

/// `type: sandbox`: the embedded emulated Shopify store.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxConnector;

const SANDBOX_SCHEMA: &str = include_str!("sandbox.schema.json");

/// The embedded store, stopped (and persisted) when the run ends.
#[derive(Debug)]
struct RunningSandbox(SandboxHandle);

#[async_trait]
impl Resource for RunningSandbox {
    async fn close(self: Box<Self>) -> Result<(), TargetError> {
        self.0
            .shutdown()
            .await
            .map_err(|e| TargetError::new(ErrorKind::Failed, format!("sandbox: {e}")))
    }
}

fn config_error(message: String) -> TargetError {
    TargetError::new(ErrorKind::Config, message)
}

#[async_trait]
impl Connector for SandboxConnector {
    fn type_name(&self) -> &'static str {
        "sandbox"
    }

    fn summary(&self) -> &'static str {
        "the embedded emulated Shopify store"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        (role == Role::Target).then_some(SANDBOX_SCHEMA)
    }

    fn capabilities(&self) -> Option<&'static Capabilities> {
        Some(&CAPABILITIES)
    }

    fn check(&self, _role: Role, t: &Node, _cx: &CheckContext<'_>, diags: &mut Diagnostics) {
        shopify_conn::check_api_version(t, diags);
    }

    async fn connect(
        &self,
        options: &Options,
        settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        let state = options
            .path("state")
            .unwrap_or_else(|| options.project_dir().join(".mapsync/sandbox.json"));
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                config_error(format!("sandbox: cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut config = SandboxConfig {
            state: Some(state),
            ..SandboxConfig::default()
        };
        if let Some(p) = options.text("plan") {
            config.plan = p
                .parse()
                .map_err(|e| config_error(format!("sandbox: {}: {e}", options.field("plan"))))?;
        }
        let handle = mapsync_sandbox::start(config)
            .await
            .map_err(|e| config_error(format!("sandbox: {e}")))?;
        let location = ShopLocation::url(&handle.url())?;
        let client = shopify_conn::client_config(location, options, settings)?;
        Ok(Connection {
            target: Box::new(shopify_conn::target(client, options)?),
            resource: Some(Box::new(RunningSandbox(handle))),
        })
    }
}

/// `type: bigcommerce-sandbox`: the embedded emulated BigCommerce store.
#[derive(Debug, Clone, Copy, Default)]
pub struct BigCommerceSandboxConnector;

const BC_SANDBOX_SCHEMA: &str = include_str!("bigcommerce-sandbox.schema.json");

/// The embedded BigCommerce store, stopped (and persisted) when the run ends.
#[derive(Debug)]
struct RunningBcSandbox(mapsync_sandbox::bigcommerce::BcHandle);

#[async_trait]
impl Resource for RunningBcSandbox {
    async fn close(self: Box<Self>) -> Result<(), TargetError> {
        self.0
            .shutdown()
            .await
            .map_err(|e| TargetError::new(ErrorKind::Failed, format!("bigcommerce-sandbox: {e}")))
    }
}

/// A token for one embedded store: only this process knows it.
fn embedded_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("embedded-{:016x}", h.finish())
}

#[async_trait]
impl Connector for BigCommerceSandboxConnector {
    fn type_name(&self) -> &'static str {
        "bigcommerce-sandbox"
    }

    fn summary(&self) -> &'static str {
        "the embedded emulated BigCommerce store"
    }

    fn options_schema(&self, role: Role) -> Option<&'static str> {
        (role == Role::Target).then_some(BC_SANDBOX_SCHEMA)
    }

    fn capabilities(&self) -> Option<&'static Capabilities> {
        Some(&mapsync_bigcommerce::CAPABILITIES)
    }

    async fn connect(
        &self,
        options: &Options,
        settings: Option<&ClientSettings>,
    ) -> Result<Connection, TargetError> {
        use mapsync_sandbox::bigcommerce as bc;
        let state = options.path("state").unwrap_or_else(|| {
            options
                .project_dir()
                .join(".mapsync/bigcommerce-sandbox.json")
        });
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                config_error(format!(
                    "bigcommerce-sandbox: cannot create {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let token = embedded_token();
        let mut config = bc::BcConfig {
            state: Some(state),
            token: Some(token.clone()),
            ..bc::BcConfig::default()
        };
        if let Some(p) = options.text("plan") {
            config.plan = p.parse().map_err(|e| {
                config_error(format!(
                    "bigcommerce-sandbox: {}: {e}",
                    options.field("plan")
                ))
            })?;
        }
        let quota = config.quota();
        let handle = bc::start(config)
            .await
            .map_err(|e| config_error(format!("bigcommerce-sandbox: {e}")))?;
        let base = url::Url::parse(&handle.api_url())
            .map_err(|e| config_error(format!("bigcommerce-sandbox: {e}")))?;
        let client = mapsync_bigcommerce::BcClient::new(mapsync_bigcommerce::BcConfig {
            base,
            token,
            quota_hint: Some(quota),
        })
        .map_err(|e| config_error(format!("bigcommerce-sandbox: {e}")))?;
        let target = mapsync_bigcommerce::connector::target_of(client, options, settings);
        Ok(Connection {
            target: Box::new(target),
            resource: Some(Box::new(RunningBcSandbox(handle))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_config::profile::load;
    use std::path::Path;

    #[test]
    fn resolves_the_demo_profile() {
        let p = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("mapsync.yaml"),
            "demo",
            |_| None,
            &registry(),
        )
        .unwrap();
        assert_eq!(p.channel, "demo");
        assert_eq!(p.target.type_name(), "sandbox");
        assert_eq!(p.source.type_name(), "file");
        assert!(p.mapping.ends_with("mappings/demo"));
    }

    #[test]
    fn unset_secret_names_the_field_not_a_value() {
        let e = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("mapsync.yaml"),
            "staging",
            |_| None,
            &registry(),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("target.token") && msg.contains("SANDBOX_TOKEN"),
            "{msg}"
        );
        let p = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("mapsync.yaml"),
            "staging",
            |n| (n == "SANDBOX_TOKEN").then(|| "s3cret".to_string()),
            &registry(),
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_profile_suggests() {
        let e = load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("mapsync.yaml"),
            "dmeo",
            |_| None,
            &registry(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("did you mean `demo`"), "{e}");
    }

    /// A target of another kind, to pair with a mapping set for `shopify`.
    struct OtherTarget;

    const OTHER_FIELDS: mapsync_core::fields::FieldTable = mapsync_core::fields::FieldTable {
        kind: "other",
        ..mapsync_shopify::fields::FIELDS
    };
    static OTHER: Capabilities = Capabilities {
        kind: "other",
        fields: &OTHER_FIELDS,
        ..CAPABILITIES
    };

    impl Connector for OtherTarget {
        fn type_name(&self) -> &'static str {
            "other"
        }
        fn summary(&self) -> &'static str {
            "a target of another kind"
        }
        fn options_schema(&self, role: Role) -> Option<&'static str> {
            (role == Role::Target).then_some(r#"{"type": "object"}"#)
        }
        fn capabilities(&self) -> Option<&'static Capabilities> {
            Some(&OTHER)
        }
    }

    fn validate_project(text: &str, registry: &Registry) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::write(dir.path().join("catalog.json"), r#"{"products": []}"#).unwrap();
        let mapping = root.join("mappings/demo");
        let text = text.replace("MAPPING", &mapping.display().to_string());
        std::fs::write(dir.path().join("mapsync.yaml"), text).unwrap();
        let diags = mapsync_config::check::validate(
            &[dir.path().join("mapsync.yaml")],
            dir.path(),
            registry,
        )
        .unwrap();
        diags
            .iter()
            .map(|d| format!("{} {}", d.code.name, d.message))
            .collect()
    }

    const PROJECT: &str = "mapsync: 1\nprofiles:\n  p:\n    mapping: MAPPING\n    source: { type: file, path: catalog.json }\n    target: { type: other }\n";

    #[test]
    fn a_mapping_set_for_another_target_kind_is_refused() {
        let got = validate_project(PROJECT, &registry().with(OtherTarget));
        assert!(
            got.iter().any(|d| d.starts_with("project::target-mismatch")
                && d.contains("`other` target")
                && d.contains("written for `shopify`")),
            "{got:?}"
        );
        // Unregistered, the same type is unknown: never a fallback.
        let got = validate_project(PROJECT, &registry());
        assert!(
            got.iter().any(|d| d.starts_with("project::unknown-type")),
            "{got:?}"
        );
    }
}
