//! Orchestration of a run: opens what a profile names (source, state
//! store, target — starting the embedded sandbox for `type: sandbox`) and
//! reads the inputs of planning. All I/O here goes through `connectors`,
//! `state` and `sandbox`; the decisions are made by `plan`.

use std::path::Path;

use crate::config::profile::{Profile, TargetConfig};
use crate::connectors::shopify::{
    AccessToken, ClientConfig, Plan, ReadOptions, ShopLocation, ShopifyClient, ShopifyError,
    ShopifyTarget,
};
use crate::connectors::{self, Entity, ReadError, Record, SourceError};
use crate::sandbox::{self, SandboxConfig, SandboxError, SandboxHandle};

/// Why a run could not start or read its inputs (the seed's critical
/// errors: nothing is changed after one of these).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The source could not be opened or read.
    #[error("source: {0}")]
    Source(#[from] SourceError),
    /// The embedded sandbox could not start.
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    /// The target could not be reached or read.
    #[error("target: {0}")]
    Target(#[from] ShopifyError),
    /// A blocking task failed.
    #[error("internal: {0}")]
    Join(String),
}

/// A connected target and, for `type: sandbox`, the store it runs.
#[derive(Debug)]
pub struct Connected {
    /// The `shopify` target code, used unchanged for the sandbox.
    pub target: ShopifyTarget,
    /// The embedded sandbox, kept alive while the target is used.
    pub sandbox: Option<SandboxHandle>,
}

impl Connected {
    /// Stop the embedded sandbox, if any (persisting its state).
    pub async fn close(self) -> Result<(), EngineError> {
        if let Some(s) = self.sandbox {
            s.shutdown().await?;
        }
        Ok(())
    }
}

/// Connect to the profile's target.
pub async fn connect(profile: &Profile) -> Result<Connected, EngineError> {
    match &profile.target {
        TargetConfig::Sandbox { state, plan } => {
            if let Some(dir) = state.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SandboxError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let mut config = SandboxConfig {
                state: Some(state.clone()),
                ..SandboxConfig::default()
            };
            if let Some(p) = plan {
                config.plan = p
                    .parse()
                    .map_err(|e| SandboxError::Config(format!("target.plan: {e}")))?;
            }
            let handle = sandbox::start(config).await?;
            let location = ShopLocation::url(&handle.url())?;
            let mut client = ClientConfig::new(location, AccessToken::new(""));
            if let Some(p) = plan {
                if let Ok(parsed) = Plan::parse(p) {
                    client = client.with_plan(parsed);
                }
            }
            let target = ShopifyTarget::new(ShopifyClient::new(client)?, ReadOptions::default());
            Ok(Connected {
                target,
                sandbox: Some(handle),
            })
        }
        TargetConfig::Shopify {
            shop,
            url,
            token,
            plan,
            ..
        } => {
            let location = match (shop, url) {
                (Some(s), _) => ShopLocation::shop(s)?,
                (None, Some(u)) => ShopLocation::url(u)?,
                (None, None) => {
                    return Err(EngineError::Target(ShopifyError::Config(
                        "the target needs `shop` or `url`".into(),
                    )))
                }
            };
            let token = AccessToken::new(token.as_ref().map(|t| t.expose()).unwrap_or(""));
            let mut client = ClientConfig::new(location, token);
            if let Some(p) = plan {
                client = client.with_plan(Plan::parse(p)?);
            }
            let target = ShopifyTarget::new(ShopifyClient::new(client)?, ReadOptions::default());
            Ok(Connected {
                target,
                sandbox: None,
            })
        }
    }
}

/// Records of one entity, and the records that could not be read.
#[derive(Debug, Default)]
pub struct SourceRecords {
    /// Well-formed records, in source order.
    pub records: Vec<Record>,
    /// Malformed records: where and why (they become `invalid` items).
    pub invalid: Vec<connectors::InvalidRecord>,
}

/// Read every record of an entity from the profile's source.
pub async fn read_source(profile: &Profile, entity: Entity) -> Result<SourceRecords, EngineError> {
    let options = profile.source.clone();
    let dir = profile.project_dir.clone();
    let mut stream = tokio::task::spawn_blocking(move || {
        let source = connectors::open_source(&options, &dir)?;
        source.records(entity)
    })
    .await
    .map_err(|e| EngineError::Join(e.to_string()))??;
    let mut out = SourceRecords::default();
    while let Some(item) = stream.next_item().await {
        match item {
            Ok(r) => out.records.push(r),
            Err(ReadError::Invalid(bad)) => out.invalid.push(*bad),
            Err(ReadError::Fatal(e)) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Open the profile's state store.
pub fn open_state(profile: &Profile) -> Result<crate::state::Store, crate::state::StateError> {
    crate::state::Store::open_url(&profile.state, Path::new(&profile.project_dir))
}
