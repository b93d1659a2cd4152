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

/// Connect to the profile's target with the default client settings.
pub async fn connect(profile: &Profile) -> Result<Connected, EngineError> {
    connect_with(profile, None).await
}

/// Apply a mapping set's `timeout`, `retries` and `concurrency`.
fn tune(
    mut client: ClientConfig,
    settings: Option<&crate::check::model::Settings>,
) -> ClientConfig {
    if let Some(s) = settings {
        client.timeout = s.timeout;
        client.max_retries = s.retries;
        client.concurrency = s.concurrency.max(1);
    }
    client
}

/// Connect to the profile's target; `settings` tune the client (timeout,
/// retries, requests in flight).
pub async fn connect_with(
    profile: &Profile,
    settings: Option<&crate::check::model::Settings>,
) -> Result<Connected, EngineError> {
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
            let target = ShopifyTarget::new(
                ShopifyClient::new(tune(client, settings))?,
                ReadOptions::default(),
            );
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
            api_version,
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
            if let Some(v) = api_version {
                client.api_version = crate::connectors::shopify::ApiVersion::parse(v)
                    .map_err(|e| ShopifyError::Config(format!("target.api_version: {e}")))?;
            }
            let target = ShopifyTarget::new(
                ShopifyClient::new(tune(client, settings))?,
                ReadOptions::default(),
            );
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

/// Why planning stopped before producing a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading or connecting failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The mapping set has errors (render the diagnostics).
    #[error("the mapping set has errors; run `mapsync validate` for details")]
    Mapping(crate::diag::Diagnostics),
    /// The mapping set could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The state store failed.
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    /// A reference location is not in the target.
    #[error("reference location `{name}` ({wanted}) is not a location of the target; the target has: {have}")]
    Location {
        /// Name in `locations:`.
        name: String,
        /// How it is matched.
        wanted: String,
        /// The target's locations.
        have: String,
    },
    /// The rules could not be applied.
    #[error(transparent)]
    Reconcile(#[from] crate::plan::reconcile::ReconcileError),
}

/// Options of a plan made for `sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--force`: change detection off.
    pub force: bool,
}

/// A plan and the documents `apply` needs.
#[derive(Debug)]
pub struct Planned {
    /// The plan.
    pub plan: crate::plan::reconcile::Plan,
    /// Documents of the items to create or update.
    pub documents: Vec<crate::plan::reconcile::PlannedDocument>,
    /// The reconcile input, kept for `--explain`.
    pub input: crate::plan::reconcile::ReconcileInput,
    /// Mapping warnings.
    pub warnings: crate::diag::Diagnostics,
}

/// Dry run: read source, ledger and target (read-only) and decide.
pub async fn plan(profile: &Profile, now: time::OffsetDateTime) -> Result<Planned, PlanError> {
    let connected = connect(profile).await?;
    let result = plan_on(profile, &connected, now, &PlanOptions::default()).await;
    connected.close().await?;
    result
}

/// [`plan`] on a target that is already connected (sync plans and applies
/// over one connection and one embedded sandbox).
pub async fn plan_on(
    profile: &Profile,
    connected: &Connected,
    now: time::OffsetDateTime,
    options: &PlanOptions,
) -> Result<Planned, PlanError> {
    use crate::check::model::EntityKind;
    use crate::connectors::shopify::{ReadHint, Target};
    use crate::plan::compile::{document_hash, Compiler};
    use crate::plan::document::EntityKindName;
    use crate::plan::reconcile::{self, Action, EntityInput, ReconcileInput, SourceItem};

    let (set, _files, warnings) = crate::check::load_mapping(&profile.mapping)?;
    if warnings.has_errors() {
        return Err(PlanError::Mapping(warnings));
    }
    let store = open_state(profile)?;
    let result = async {
        let target = &connected.target;
        let locations = target.locations().await.map_err(EngineError::from)?;
        let by_ref = resolve_locations(&set, &locations)?;
        let mut entities = Vec::new();
        let mut sources = Vec::new();
        for (kind, entity) in [
            (EntityKind::Category, Entity::Category),
            (EntityKind::Product, Entity::Product),
        ] {
            let mapped = match kind {
                EntityKind::Category => set.category.is_some(),
                EntityKind::Product => set.product.is_some(),
            };
            if mapped {
                sources.push((kind, entity, read_source(profile, entity).await?));
            }
        }
        let hint = ReadHint {
            expected_products: sources
                .iter()
                .find(|s| s.0 == EntityKind::Product)
                .map(|s| s.2.records.len()),
            expected_collections: sources
                .iter()
                .find(|s| s.0 == EntityKind::Category)
                .map(|s| s.2.records.len()),
        };
        let catalog = target.read_reduced(hint).await.map_err(EngineError::from)?;
        let serial = target_serial(&catalog);
        for (kind, entity, src) in sources {
            let Ok(compiler) = Compiler::new(&set, kind) else {
                continue;
            };
            let mut items = Vec::with_capacity(src.records.len() + src.invalid.len());
            for r in &src.records {
                items.push(match compiler.compile(&r.fields) {
                    Ok(c) => SourceItem::Compiled {
                        key: c.document.key.clone(),
                        hash: document_hash(&c.document),
                        doc: c.document,
                        control: c.control,
                    },
                    Err(diagnostics) => SourceItem::Invalid {
                        key: record_key(&set, kind, &r.fields),
                        position: r.position.to_string(),
                        diagnostics,
                    },
                });
            }
            for bad in src.invalid {
                items.push(SourceItem::Invalid {
                    key: None,
                    position: bad.position.to_string(),
                    diagnostics: vec![crate::diag::Diagnostic::error(
                        crate::diag::codes::RECORD_MALFORMED,
                        format!("{}: {}", bad.position, bad.message),
                    )
                    .help(bad.help)],
                });
            }
            let ledger = store.load(&profile.channel, entity)?;
            let target_items = match kind {
                EntityKind::Category => catalog.collections.clone(),
                EntityKind::Product => catalog.products.clone(),
            };
            entities.push(EntityInput {
                entity: EntityKindName::from(kind),
                items,
                ledger,
                target: target_items,
            });
        }
        let input = ReconcileInput {
            profile: profile.name.clone(),
            target_serial: serial,
            settings: set.settings.clone(),
            now,
            entities,
            force: options.force,
        };
        let (mut plan, documents) = reconcile::reconcile(&input)?;
        // Field diffs of updates against the target's full current state.
        for (kind, name) in [
            (EntityKind::Category, EntityKindName::Category),
            (EntityKind::Product, EntityKindName::Product),
        ] {
            let ids: Vec<String> = plan
                .changes
                .iter()
                .filter(|c| c.entity == name && c.action == Action::Update)
                .filter_map(|c| c.target_id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            // Target id → (key, document), built once: lookups stay linear.
            let docs_by_key: std::collections::HashMap<&str, &crate::plan::document::Document> =
                documents
                    .iter()
                    .filter(|d| d.document.entity == name)
                    .map(|d| (d.document.key.as_str(), &d.document))
                    .collect();
            let by_id: std::collections::HashMap<&str, (&str, &crate::plan::document::Document)> =
                plan.changes
                    .iter()
                    .filter(|c| c.entity == name && c.action == Action::Update)
                    .filter_map(|c| {
                        let key = c.key.as_deref()?;
                        Some((c.target_id.as_deref()?, (key, *docs_by_key.get(key)?)))
                    })
                    .collect();
            let doc_of = |id: &str| by_id.get(id).map(|(k, d)| (k.to_string(), *d));
            let mut diffs = Vec::new();
            // Category keys known on both sides → collection ids.
            let category_ids: std::collections::BTreeMap<String, String> = plan
                .changes
                .iter()
                .filter(|c| c.entity == EntityKindName::Category)
                .filter_map(|c| Some((c.key.clone()?, c.target_id.clone()?)))
                .collect();
            match kind {
                EntityKind::Product => {
                    for p in target
                        .read_products(&ids)
                        .await
                        .map_err(EngineError::from)?
                    {
                        if let Some((key, doc)) = doc_of(&p.id) {
                            let mut d = crate::plan::diff::diff_product(doc, &p, &by_ref);
                            d.extend(crate::plan::diff::diff_product_collections(
                                doc,
                                &p,
                                &category_ids,
                            ));
                            diffs.push((key, d));
                        }
                    }
                }
                EntityKind::Category => {
                    for c in target
                        .read_collections(&ids)
                        .await
                        .map_err(EngineError::from)?
                    {
                        if let Some((key, doc)) = doc_of(&c.id) {
                            diffs.push((key, crate::plan::diff::diff_collection(doc, &c)));
                        }
                    }
                }
            }
            for (key, diff) in diffs {
                plan.set_diff(name, &key, diff);
            }
        }
        Ok(Planned {
            plan,
            documents,
            input,
            warnings,
        })
    }
    .await;
    result
}

/// The target location id of every reference location of the mapping set,
/// or which one the target lacks.
pub fn resolve_locations(
    set: &crate::check::model::MappingSet,
    locations: &[crate::connectors::shopify::model::Location],
) -> Result<crate::plan::diff::LocationsByRefName, PlanError> {
    use crate::check::model::LocationRef;
    let mut by_ref = crate::plan::diff::LocationsByRefName::new();
    for (name, r) in &set.locations {
        let found = locations.iter().find(|l| match r {
            LocationRef::Name(n) => &l.name == n,
            LocationRef::Id(id) => &l.id == id,
        });
        match found {
            Some(l) => {
                by_ref.insert(name.clone(), l.id.clone());
            }
            None => {
                return Err(PlanError::Location {
                    name: name.clone(),
                    wanted: match r {
                        LocationRef::Name(n) => format!("named \"{n}\""),
                        LocationRef::Id(id) => id.clone(),
                    },
                    have: locations
                        .iter()
                        .map(|l| format!("\"{}\" ({})", l.name, l.id))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    Ok(by_ref)
}

/// An opaque value that changes when the target's items change.
pub fn target_serial(catalog: &crate::connectors::shopify::model::ReducedCatalog) -> String {
    let view: Vec<(&str, Option<&str>, bool)> = catalog
        .collections
        .iter()
        .chain(&catalog.products)
        .map(|i| (i.id.as_str(), i.updated_at.as_deref(), i.published))
        .collect();
    crate::hash::content_hash(&serde_json::json!(view))
}

/// The key of a record that failed to compile, when it has one.
fn record_key(
    set: &crate::check::model::MappingSet,
    kind: crate::check::model::EntityKind,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let entity = match kind {
        crate::check::model::EntityKind::Category => set.category.as_ref()?,
        crate::check::model::EntityKind::Product => set.product.as_ref()?,
    };
    let v = crate::plan::compile::resolve(&entity.key, fields)?;
    match v.as_ref() {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
