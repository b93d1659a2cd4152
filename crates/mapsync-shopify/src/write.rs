//! The write side of the `shopify` target: [`TargetWrite`] for
//! [`ShopifyTarget`]. One product is one `productSet` (fields, options,
//! variants with inventory items and quantities, metafields with the
//! ownership marker, files, collections) plus, on update, one
//! `inventorySetQuantities` for stocked levels that changed; collections
//! are `collectionCreate` / `collectionUpdate` (+ `metafieldsDelete`);
//! deletes, deactivation (product status DRAFT, collection unpublished) and
//! metafield definitions for `@description`. Creates are idempotent: a lost
//! answer is followed by a lookup by ownership marker, and the item is only
//! sent again when it is not found.
//!
//! Inputs come from the pure builders in [`super::input`]; this module sends
//! them, reads `userErrors` (→ [`ShopifyError::UserErrors`], never retried)
//! and counts the HTTP attempts of each item. It must not decide what to
//! change (the plan did) nor send a document that is not in `graphql/`.

use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::cost;
use super::documents::{self, Document as GqlDocument};
use super::error::{ShopifyError, UserErrorInfo};
use super::input::{self, InputError};
use super::media::{self, EmbeddedUse, Staged};
use super::model::{Collection, Product, MARKER_KEY, MARKER_NAMESPACE};
use super::read::ShopifyTarget;
use super::version;
use mapsync_core::document::{Document, Entity, MetafieldDescription};
use mapsync_core::target::{WriteContext, Written};

/// How many times a create whose answer was lost (and whose item was not
/// found afterwards) is sent in all.
const MAX_CREATE_SENDS: u32 = 3;
/// Quantities per `inventorySetQuantities` call.
const QUANTITIES_PER_CALL: usize = 250;

/// Estimated costs (points) of the write documents: 10 per mutation plus
/// what the payload selects (see graphql/*.graphql).
const COST_PRODUCT_SET: u32 = 21;
const COST_SMALL_MUTATION: u32 = 11;
const COST_SMALL_QUERY: u32 = 5;

/// HTTP attempts an error cost (at least the one that failed).
fn attempts_of(e: &ShopifyError) -> u32 {
    match e {
        ShopifyError::Transport { attempts, .. }
        | ShopifyError::HttpStatus { attempts, .. }
        | ShopifyError::Throttled { attempts, .. } => (*attempts).max(1),
        _ => 1,
    }
}

/// A document that cannot become an input: refused before anything is
/// sent, never retried.
fn refused(operation: &'static str, e: InputError) -> ShopifyError {
    ShopifyError::UserErrors {
        operation,
        errors: vec![UserErrorInfo {
            field: None,
            message: format!("not sent: {e}"),
            code: None,
        }],
    }
}

/// The `userErrors` at `pointer` (e.g. `/productSet/userErrors`).
fn user_errors(data: &Value, pointer: &str) -> Vec<UserErrorInfo> {
    data.pointer(pointer)
        .and_then(|v| serde_json::from_value::<Vec<UserErrorInfo>>(v.clone()).ok())
        .unwrap_or_default()
}

/// Whether every user error says the item is not there (a delete of an id
/// already gone).
fn all_gone(errors: &[UserErrorInfo]) -> bool {
    !errors.is_empty()
        && errors.iter().all(|e| {
            let m = e.message.to_ascii_lowercase();
            m.contains("does not exist") || m.contains("not found") || m.contains("doesn't exist")
        })
}

fn owner_type(entity: Entity) -> &'static str {
    match entity {
        Entity::Category => "COLLECTION",
        Entity::Product => "PRODUCT",
    }
}

/// A create mutation: its document, root field, estimated cost and where
/// the new id is in the answer.
#[derive(Clone, Copy)]
struct CreateCall {
    doc: &'static GqlDocument,
    root: &'static str,
    cost: u32,
    id_pointer: &'static str,
}

const CREATE_PRODUCT: CreateCall = CreateCall {
    doc: &documents::PRODUCT_SET,
    root: "productSet",
    cost: COST_PRODUCT_SET,
    id_pointer: "/productSet/product/id",
};

const CREATE_COLLECTION: CreateCall = CreateCall {
    doc: &documents::COLLECTION_CREATE,
    root: "collectionCreate",
    cost: COST_SMALL_MUTATION,
    id_pointer: "/collectionCreate/collection/id",
};

impl ShopifyTarget {
    /// Sends `doc`, adding its HTTP attempts to `requests`; `userErrors` at
    /// `/<root>/userErrors` become [`ShopifyError::UserErrors`].
    async fn send(
        &self,
        doc: &GqlDocument,
        root: &str,
        variables: Value,
        cost: u32,
        requests: &mut u32,
    ) -> Result<Value, ShopifyError> {
        match self.client().execute::<Value>(doc, variables, cost).await {
            Ok(answer) => {
                *requests += answer.attempts.max(1);
                let errors = user_errors(&answer.data, &format!("/{root}/userErrors"));
                if !errors.is_empty() {
                    return Err(ShopifyError::UserErrors {
                        operation: doc.name,
                        errors,
                    });
                }
                Ok(answer.data)
            }
            Err(e) => {
                *requests += attempts_of(&e);
                Err(e)
            }
        }
    }

    /// The id at `pointer` of a mutation's answer.
    fn id_at(data: &Value, pointer: &str, operation: &'static str) -> Result<String, ShopifyError> {
        data.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ShopifyError::Decode {
                operation,
                request_id: String::new(),
                message: format!("the answer has no {pointer}"),
            })
    }

    /// Sends a create; when its answer is lost, looks the item up by its
    /// marker and adopts it, and only sends again when it is not there.
    async fn create_idempotent(
        &self,
        entity: Entity,
        key: &str,
        call: &CreateCall,
        variables: Value,
    ) -> Result<Written, ShopifyError> {
        let CreateCall {
            doc,
            root,
            cost,
            id_pointer,
        } = *call;
        let mut requests = 0u32;
        let mut sends = 0u32;
        loop {
            sends += 1;
            match self
                .send(doc, root, variables.clone(), cost, &mut requests)
                .await
            {
                Ok(data) => {
                    let target_id = Self::id_at(&data, id_pointer, doc.name)?;
                    info!(entity = entity.as_str(), key, target_id = %target_id, requests, "created");
                    return Ok(Written {
                        target_id,
                        requests,
                        adopted: false,
                    });
                }
                Err(e) if e.outcome_unknown() => {
                    warn!(entity = entity.as_str(), key, error = %e, "create answer lost; looking the item up by its ownership marker");
                    requests += 1;
                    let found = match entity {
                        Entity::Product => self.find_product_by_marker(key).await,
                        Entity::Category => self.find_collection_by_marker(key).await,
                    };
                    match found {
                        Ok(Some(item)) => {
                            info!(entity = entity.as_str(), key, target_id = %item.id, "create adopted by marker");
                            return Ok(Written {
                                target_id: item.id,
                                requests,
                                adopted: true,
                            });
                        }
                        Ok(None) if sends < MAX_CREATE_SENDS => {
                            debug!(entity = entity.as_str(), key, "not created; sending again");
                            continue;
                        }
                        Ok(None) => return Err(e),
                        // Without the lookup we cannot know: never send again.
                        Err(lookup) => {
                            warn!(entity = entity.as_str(), key, error = %lookup, "lookup by ownership marker failed; not sent again (the next run adopts or creates it)");
                            return Err(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a `productSet` that updates; its effect does not depend on how
    /// often it is applied, so a lost answer is sent once more.
    /// Sends a `productSet` naming its product by `identifier` (`{id}`,
    /// or `{customId}` on the marker): applying it twice has the effect of
    /// once, so an answer lost to a timeout or reset is sent once more.
    async fn product_set_by(
        &self,
        identifier: Value,
        input: Value,
        requests: &mut u32,
    ) -> Result<Value, ShopifyError> {
        let cost = cost::product_set_input(&input);
        let vars = json!({
            "identifier": identifier,
            "input": input,
            "synchronous": true,
            "variantsFirst": 1,
        });
        let doc = &documents::PRODUCT_SET;
        match self
            .send(doc, "productSet", vars.clone(), cost, requests)
            .await
        {
            Err(e) if e.outcome_unknown() => {
                warn!(error = %e, "productSet answer lost; sending it again (it cannot duplicate)");
                self.send(doc, "productSet", vars, cost, requests).await
            }
            other => other,
        }
    }

    /// Sets quantities with compare-and-swap and an idempotency key derived
    /// from the changes. When the store's quantity changed since it was
    /// read (`CHANGE_FROM_QUANTITY_STALE`), the levels are read again: a
    /// level that already holds the wanted quantity is left alone, the
    /// others are set once more against the fresh quantity (the source is
    /// the authority on mapped quantities, and the write is now based on
    /// what the store holds). Stale a second time, the item fails as
    /// transient and the next run tries again.
    async fn set_quantities(
        &self,
        mut changes: Vec<input::QuantityChange>,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        for round in 0..2 {
            if changes.is_empty() {
                return Ok(());
            }
            let vars = json!({
                "input": input::set_quantities_input(&changes),
                "idempotencyKey": input::quantities_idempotency_key(&changes),
            });
            let sent = self
                .send(
                    &documents::INVENTORY_SET_QUANTITIES,
                    "inventorySetQuantities",
                    vars,
                    COST_SMALL_MUTATION,
                    requests,
                )
                .await;
            match sent {
                Err(e) if round == 0 && e.is_stale_quantity() => {
                    warn!(error = %e, "inventory changed in the store since it was read; reading it again");
                    changes = self.refresh_quantities(changes, requests).await?;
                }
                other => return other.map(|_| ()),
            }
        }
        Ok(())
    }

    /// The changes still needed against the store's quantities as they are now.
    async fn refresh_quantities(
        &self,
        changes: Vec<input::QuantityChange>,
        requests: &mut u32,
    ) -> Result<Vec<input::QuantityChange>, ShopifyError> {
        let mut out = Vec::new();
        for mut c in changes {
            let data = self
                .send(
                    &documents::INVENTORY_LEVEL,
                    "inventoryItem",
                    json!({
                        "itemId": c.inventory_item_id,
                        "locationId": c.location_id,
                        "quantityNames": [version::QUANTITY_NAME],
                    }),
                    COST_SMALL_QUERY,
                    requests,
                )
                .await?;
            let now = data
                .pointer("/inventoryItem/inventoryLevel/quantities")
                .and_then(Value::as_array)
                .and_then(|qs| {
                    qs.iter()
                        .find(|q| q["name"] == version::QUANTITY_NAME)
                        .and_then(|q| q["quantity"].as_i64())
                });
            if now == Some(i64::from(c.quantity)) {
                continue;
            }
            c.change_from = now;
            out.push(c);
        }
        Ok(out)
    }

    /// Every publication id (sales channel).
    async fn publication_ids(&self, requests: &mut u32) -> Result<Vec<String>, ShopifyError> {
        let data = self
            .send(
                &documents::PUBLICATIONS,
                "publications",
                json!({ "first": 250 }),
                COST_SMALL_QUERY,
                requests,
            )
            .await?;
        Ok(data
            .pointer("/publications/nodes")
            .and_then(Value::as_array)
            .map(|nodes| {
                nodes
                    .iter()
                    .filter_map(|n| n.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Publishes (`true`) or unpublishes a collection on every publication.
    async fn set_published(
        &self,
        id: &str,
        publish: bool,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        let publications = self.publication_ids(requests).await?;
        if publications.is_empty() {
            return Err(ShopifyError::Config(
                "the shop has no publication (sales channel) to publish or unpublish on".into(),
            ));
        }
        let input: Vec<Value> = publications
            .iter()
            .map(|p| json!({ "publicationId": p }))
            .collect();
        let (doc, root) = if publish {
            (&documents::PUBLISHABLE_PUBLISH, "publishablePublish")
        } else {
            (&documents::PUBLISHABLE_UNPUBLISH, "publishableUnpublish")
        };
        self.send(
            doc,
            root,
            json!({ "id": id, "input": input }),
            COST_SMALL_MUTATION,
            requests,
        )
        .await?;
        Ok(())
    }

    /// Sets the description of the existing definition `def` to `d`'s,
    /// when it differs.
    async fn describe_definition(
        &self,
        owner: &str,
        d: &MetafieldDescription,
        def: &Value,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        if def.get("description").and_then(Value::as_str) == Some(d.description.as_str()) {
            return Ok(());
        }
        self.send(
            &documents::METAFIELD_DEFINITION_UPDATE,
            "metafieldDefinitionUpdate",
            json!({ "definition": {
                "ownerType": owner,
                "namespace": d.namespace,
                "key": d.key,
                "description": d.description,
            }}),
            COST_SMALL_MUTATION,
            requests,
        )
        .await?;
        Ok(())
    }

    /// [`TargetWrite::ensure_metafield_definitions`] with the type of each
    /// definition, so that missing ones can be created (`None`: the type is
    /// unknown; a missing definition is then skipped with a warning).
    pub async fn ensure_metafield_definitions_typed(
        &self,
        entity: Entity,
        descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, ShopifyError> {
        let owner = owner_type(entity);
        let mut requests = 0u32;
        for (d, ty) in descriptions {
            let existing = self
                .definition_by_key(owner, &d.namespace, &d.key, &mut requests)
                .await?;
            match existing.as_ref() {
                Some(def) => {
                    self.describe_definition(owner, d, def, &mut requests)
                        .await?;
                }
                None => match ty {
                    Some(ty) => {
                        let created = self
                            .send(
                                &documents::METAFIELD_DEFINITION_CREATE,
                                "metafieldDefinitionCreate",
                                json!({ "definition": {
                                    "ownerType": owner,
                                    "namespace": d.namespace,
                                    "key": d.key,
                                    "name": format!("{}.{}", d.namespace, d.key),
                                    "type": ty,
                                    "description": d.description,
                                }}),
                                COST_SMALL_MUTATION,
                                &mut requests,
                            )
                            .await;
                        if let Err(e) = created {
                            // Another writer (a profile syncing into the
                            // same store) may have made it since the read:
                            // theirs is taken and described.
                            match self
                                .definition_by_key(owner, &d.namespace, &d.key, &mut requests)
                                .await?
                            {
                                Some(def) => {
                                    self.describe_definition(owner, d, &def, &mut requests)
                                        .await?
                                }
                                None => return Err(e),
                            }
                        }
                    }
                    None => warn!(
                        owner,
                        namespace = %d.namespace,
                        key = %d.key,
                        "no metafield definition to describe, and its type is unknown: description not set"
                    ),
                },
            }
        }
        Ok(requests)
    }

    /// Creates a product: its embedded images uploaded first (or taken
    /// from the run's uploads), their media followed after the write.
    async fn create_product(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        let mut requests = 0u32;
        let embedded = input::missing_embedded(doc, None);
        let mut staged = self
            .stage_embedded(
                &embedded,
                EmbeddedUse::ProductMedia,
                &ctx.uploads,
                false,
                &mut requests,
            )
            .await?;
        let mut result = self
            .create_product_from(doc, published, ctx, &staged, &mut requests)
            .await;
        if matches!(&result, Err(e) if staged.refused_cached_source(e)) {
            warn!(key = %doc.key, "an earlier upload of an embedded image was refused; uploading it again");
            requests += 1; // the refused productSet (its answer carried no count)
            staged = self
                .stage_embedded(
                    &embedded,
                    EmbeddedUse::ProductMedia,
                    &ctx.uploads,
                    true,
                    &mut requests,
                )
                .await?;
            result = self
                .create_product_from(doc, published, ctx, &staged, &mut requests)
                .await;
        }
        let mut written = result?;
        self.follow_media(
            &written.target_id,
            &staged,
            &Default::default(),
            media::media_bound(doc),
            &ctx.uploads,
            &mut written.requests,
        )
        .await?;
        Ok(written)
    }

    /// Sends the create of `doc` with the sources of `staged`; `requests`
    /// already sent for it.
    async fn create_product_from(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
        staged: &Staged,
        requests: &mut u32,
    ) -> Result<Written, ShopifyError> {
        let input = input::product_create_with(doc, published, ctx, &staged.sources)
            .map_err(|e| refused(documents::PRODUCT_SET.name, e))?;
        if self.marker_upsert(requests).await {
            let written = self.upsert_product(&doc.key, input, *requests).await?;
            return Ok(written);
        }
        let call = CreateCall {
            cost: cost::product_set_input(&input),
            ..CREATE_PRODUCT
        };
        let written = self
            .create_idempotent(
                Entity::Product,
                &doc.key,
                &call,
                json!({ "input": input, "synchronous": true, "variantsFirst": 1 }),
            )
            .await?;
        Ok(Written {
            requests: written.requests + *requests,
            ..written
        })
    }

    /// A create through the platform: `productSet` upserts on the ownership
    /// marker (`identifier: {customId}`), so a create whose answer was lost
    /// is an update the second time, never a second product.
    async fn upsert_product(
        &self,
        key: &str,
        input: Value,
        mut requests: u32,
    ) -> Result<Written, ShopifyError> {
        let identifier = json!({ "customId": {
            "namespace": MARKER_NAMESPACE, "key": MARKER_KEY, "value": key,
        }});
        let data = self
            .product_set_by(identifier, input, &mut requests)
            .await?;
        let target_id = Self::id_at(
            &data,
            CREATE_PRODUCT.id_pointer,
            documents::PRODUCT_SET.name,
        )?;
        info!(key, target_id = %target_id, requests, "created (upsert by marker)");
        Ok(Written {
            target_id,
            requests,
            adopted: false,
        })
    }

    /// Whether products are created by upsert on the marker: looks up the
    /// `mapsync.key` product metafield definition once per run and creates
    /// it with unique values when there is none. A definition without
    /// unique values (made by hand), or one Shopify refuses to create
    /// (values already exist), leaves the lookup by marker after a lost
    /// answer (`create_idempotent`).
    pub(crate) async fn marker_upsert(&self, requests: &mut u32) -> bool {
        let cell = self.marker_upsert.clone();
        let mut spent = 0u32;
        let decided = cell
            .get_or_init(|| async {
                match self.ensure_marker_definition(&mut spent).await {
                    Ok(unique) => unique,
                    Err(e) => {
                        warn!(error = %e, "cannot prepare the `mapsync.key` metafield definition; creates fall back to the lookup by marker");
                        false
                    }
                }
            })
            .await;
        *requests += spent;
        *decided
    }

    /// The metafield definition of `owner`, `namespace` and `key`, if any.
    async fn definition_by_key(
        &self,
        owner: &str,
        namespace: &str,
        key: &str,
        requests: &mut u32,
    ) -> Result<Option<Value>, ShopifyError> {
        let data = self
            .send(
                &documents::METAFIELD_DEFINITION_BY_KEY,
                "metafieldDefinitions",
                json!({ "ownerType": owner, "namespace": namespace, "key": key }),
                COST_SMALL_QUERY,
                requests,
            )
            .await?;
        Ok(data
            .pointer("/metafieldDefinitions/nodes/0")
            .filter(|v| !v.is_null())
            .cloned())
    }

    async fn ensure_marker_definition(&self, requests: &mut u32) -> Result<bool, ShopifyError> {
        let owner = owner_type(Entity::Product);
        if let Some(def) = self
            .definition_by_key(owner, MARKER_NAMESPACE, MARKER_KEY, requests)
            .await?
        {
            let unique = def
                .pointer("/capabilities/uniqueValues/enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !unique {
                warn!("the `mapsync.key` metafield definition has no unique values; creates fall back to the lookup by marker");
            }
            return Ok(unique);
        }
        self.send(
            &documents::METAFIELD_DEFINITION_CREATE,
            "metafieldDefinitionCreate",
            json!({ "definition": {
                "ownerType": owner,
                "namespace": MARKER_NAMESPACE,
                "key": MARKER_KEY,
                "name": "mapsync ownership key",
                "description": "The source key of a product mapsync created; unique, so a create sent twice updates.",
                "type": version::MARKER_TYPE,
                "capabilities": { "uniqueValues": { "enabled": true } },
            }}),
            COST_SMALL_MUTATION,
            requests,
        )
        .await?;
        info!("created the `mapsync.key` metafield definition (unique values)");
        Ok(true)
    }

    /// Stages a collection's embedded image when the store does not have
    /// it yet (`current`: the collection as it is, for an update).
    async fn stage_collection_image(
        &self,
        doc: &Document,
        current: Option<&Collection>,
        ctx: &WriteContext,
        requests: &mut u32,
    ) -> Result<crate::media::Staged, ShopifyError> {
        let embedded: Vec<_> = input::collection_missing_embedded(doc, current)
            .into_iter()
            .collect();
        self.stage_embedded(
            &embedded,
            EmbeddedUse::CollectionImage,
            &ctx.uploads,
            false,
            requests,
        )
        .await
    }

    async fn create_collection(
        &self,
        doc: &Document,
        ctx: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        let mut requests = 0u32;
        let staged = self
            .stage_collection_image(doc, None, ctx, &mut requests)
            .await?;
        let input = input::collection_create_with(doc, &staged.sources)
            .map_err(|e| refused(documents::COLLECTION_CREATE.name, e))?;
        let sent = self
            .create_idempotent(
                Entity::Category,
                &doc.key,
                &CREATE_COLLECTION,
                json!({ "input": input }),
            )
            .await;
        let written = match sent {
            Ok(w) => w,
            Err(e) => {
                staged.forget_if_refused(&e, &ctx.uploads).await;
                return Err(e);
            }
        };
        Ok(Written {
            requests: written.requests + requests,
            ..written
        })
    }
}

/// The write side with Shopify's own types and errors; the engine's port
/// (`mapsync_core::target::TargetWrite`) is implemented over these in
/// `port.rs`.
impl ShopifyTarget {
    pub async fn ensure_metafield_definitions(
        &self,
        entity: Entity,
        descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, ShopifyError> {
        self.ensure_metafield_definitions_typed(entity, descriptions)
            .await
    }

    pub async fn create(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        let written = match doc.entity {
            Entity::Product => self.create_product(doc, published, ctx).await?,
            Entity::Category => self.create_collection(doc, ctx).await?,
        };
        // A collection is created published; unpublish when asked.
        if doc.entity == Entity::Category && published == Some(false) && !written.adopted {
            let mut requests = written.requests;
            self.set_published(&written.target_id, false, &mut requests)
                .await?;
            return Ok(Written {
                requests,
                ..written
            });
        }
        Ok(written)
    }

    pub async fn update_product(
        &self,
        current: &Product,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        let mut requests = 0u32;
        // Embedded images the product does not show yet are uploaded (or
        // taken from the run's uploads) first.
        let embedded = input::missing_embedded(doc, Some(current));
        let mut staged = self
            .stage_embedded(
                &embedded,
                EmbeddedUse::ProductMedia,
                &ctx.uploads,
                false,
                &mut requests,
            )
            .await?;
        let plan = input::product_update_with(current, doc, published, ctx, &staged.sources)
            .map_err(|e| refused(documents::PRODUCT_SET.name, e))?;
        if let Some(input) = plan.product_set {
            debug!(key = %doc.key, id = %current.id, reasons = ?plan.reasons, "productSet for update");
            let sent = self
                .product_set_by(json!({ "id": current.id }), input, &mut requests)
                .await;
            match sent {
                Err(e) if staged.refused_cached_source(&e) => {
                    warn!(key = %doc.key, error = %e, "an earlier upload of an embedded image was refused; uploading it again");
                    staged = self
                        .stage_embedded(
                            &embedded,
                            EmbeddedUse::ProductMedia,
                            &ctx.uploads,
                            true,
                            &mut requests,
                        )
                        .await?;
                    let again =
                        input::product_update_with(current, doc, published, ctx, &staged.sources)
                            .map_err(|e| refused(documents::PRODUCT_SET.name, e))?;
                    if let Some(input) = again.product_set {
                        self.product_set_by(json!({ "id": current.id }), input, &mut requests)
                            .await?;
                    }
                }
                other => {
                    other?;
                }
            }
        }
        for chunk in plan.quantities.chunks(QUANTITIES_PER_CALL) {
            self.set_quantities(chunk.to_vec(), &mut requests).await?;
        }
        for a in &plan.activations {
            self.send(
                &documents::INVENTORY_ACTIVATE,
                "inventoryActivate",
                json!({
                    "inventoryItemId": a.inventory_item_id,
                    "locationId": a.location_id,
                    "available": a.quantity,
                    "idempotencyKey": input::activation_idempotency_key(a),
                }),
                COST_SMALL_MUTATION,
                &mut requests,
            )
            .await?;
        }
        self.follow_media(
            &current.id,
            &staged,
            &media::media_ids(current),
            media::media_bound(doc),
            &ctx.uploads,
            &mut requests,
        )
        .await?;
        info!(key = %doc.key, id = %current.id, requests, "product updated");
        Ok(Written {
            target_id: current.id.clone(),
            requests,
            adopted: false,
        })
    }

    pub async fn update_collection(
        &self,
        current: &Collection,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, ShopifyError> {
        let mut requests = 0u32;
        let staged = self
            .stage_collection_image(doc, Some(current), ctx, &mut requests)
            .await?;
        let plan = input::collection_update_with(current, doc, published, ctx, &staged.sources)
            .map_err(|e| refused(documents::COLLECTION_UPDATE.name, e))?;
        if let Some(input) = plan.update {
            let sent = self
                .send(
                    &documents::COLLECTION_UPDATE,
                    "collectionUpdate",
                    json!({ "input": input }),
                    COST_SMALL_MUTATION,
                    &mut requests,
                )
                .await;
            if let Err(e) = sent {
                staged.forget_if_refused(&e, &ctx.uploads).await;
                return Err(e);
            }
        }
        if !plan.delete_metafields.is_empty() {
            self.send(
                &documents::METAFIELDS_DELETE,
                "metafieldsDelete",
                json!({ "metafields": plan.delete_metafields }),
                COST_SMALL_MUTATION,
                &mut requests,
            )
            .await?;
        }
        if let Some(publish) = plan.publish {
            self.set_published(&current.id, publish, &mut requests)
                .await?;
        }
        info!(key = %doc.key, id = %current.id, requests, "collection updated");
        Ok(Written {
            target_id: current.id.clone(),
            requests,
            adopted: false,
        })
    }

    pub async fn delete(&self, entity: Entity, target_id: &str) -> Result<Written, ShopifyError> {
        let (doc, root) = match entity {
            Entity::Product => (&documents::PRODUCT_DELETE, "productDelete"),
            Entity::Category => (&documents::COLLECTION_DELETE, "collectionDelete"),
        };
        let mut requests = 0u32;
        match self
            .send(
                doc,
                root,
                json!({ "id": target_id }),
                COST_SMALL_MUTATION,
                &mut requests,
            )
            .await
        {
            Ok(_) => {}
            Err(ShopifyError::UserErrors { errors, .. }) if all_gone(&errors) => {
                debug!(entity = entity.as_str(), target_id, "already gone");
            }
            Err(e) => return Err(e),
        }
        Ok(Written {
            target_id: target_id.to_owned(),
            requests,
            adopted: false,
        })
    }

    pub async fn deactivate(
        &self,
        entity: Entity,
        target_id: &str,
    ) -> Result<Written, ShopifyError> {
        let mut requests = 0u32;
        match entity {
            Entity::Product => {
                self.send(
                    &documents::PRODUCT_UPDATE,
                    "productUpdate",
                    json!({ "product": { "id": target_id, "status": "DRAFT" } }),
                    COST_SMALL_MUTATION,
                    &mut requests,
                )
                .await?;
            }
            Entity::Category => {
                self.set_published(target_id, false, &mut requests).await?;
            }
        }
        Ok(Written {
            target_id: target_id.to_owned(),
            requests,
            adopted: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_errors_are_recognised() {
        let e = |m: &str| UserErrorInfo {
            field: Some(vec!["id".into()]),
            message: m.into(),
            code: None,
        };
        assert!(all_gone(&[e("Product does not exist")]));
        assert!(all_gone(&[e("Collection not found")]));
        assert!(!all_gone(&[e("Access denied")]));
        assert!(!all_gone(&[]));
    }

    #[test]
    fn input_errors_are_refusals_named_not_sent() {
        let e = refused(
            "ProductSet",
            InputError::UnknownLocation {
                variant: "A-1".into(),
                location: "OSL".into(),
            },
        );
        assert!(e
            .to_string()
            .starts_with("ProductSet: refused: not sent: variant `A-1`"));
    }
}
