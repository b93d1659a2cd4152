//! The `rest` target: a generic store API (connectors.md §3, seed 002)
//! behind the core's ports, configured like the source.
//!
//! * Read side ([`Target`]): the catalog is every item of each entity's
//!   list, page by page (id, the key the store keeps for mapsync — the
//!   ownership marker —, published, handle); an item's current state is
//!   its record (by `get`, else found in the list) with its images (by
//!   `images.list`).
//! * Write side ([`TargetWrite`]): a create sends the document's fields as
//!   the mapping names them (a dotted name nests), the key at `list.key`,
//!   the published flag at `list.published` and the category ids at
//!   `categories`, and reads the new id at `create.id`. It is sent once:
//!   when its answer is lost (a timeout, a reset, a 5xx) the item is looked
//!   up by its key and adopted, and only when it is not there is the create
//!   sent again. An update is sent only when a field differs. Images are
//!   compared position by position: a changed one is overwritten, a new
//!   one added, a removed one deleted; the others cost nothing.
//! * Failures keep their kind: a 4xx is `refused` (with the store's
//!   message), 401/403 `denied`, 404 `gone`, 5xx/timeouts after the retries
//!   `transient`, options that cannot work `config`.

mod image_store;
mod images;
pub(crate) mod spec;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use mapsync_core::current::{
    Catalog, CompareRules, Current, CurrentMetafield, Native, StoreLocation, TargetItem,
};
use mapsync_core::diff;
use mapsync_core::document::{Document, ImageKind, MetafieldDescription};
use mapsync_core::source::{Entity, ReadScope};
use mapsync_core::target::{
    Capabilities, ErrorKind, ReadHint, RequestStats, Target, TargetError, TargetWrite,
    WriteContext, Written,
};
use serde_json::{json, Map, Value};
use url::Url;

use crate::error::{RestError, RestErrorKind};
use crate::fields::CAPABILITIES;
use crate::http::{Http, Reply, Request};
use crate::options::TargetOptions;
use crate::paging;
use crate::read;
use crate::redact::Redactor;
use crate::template::{Templates, BODY_LIMIT, PATH_LIMIT};
use crate::writeback::insert_path;

use self::images::StoreImage;
use self::spec::{field, text, ImageSpec, Req, Spec};

/// A `rest` target: cheap to share (one client, one token).
#[derive(Debug)]
pub struct RestTarget {
    http: Arc<Http>,
    templates: Templates,
    category: Option<Spec>,
    product: Option<Spec>,
    images: Option<ImageSpec>,
    /// Product listings of the image round trip under way.
    listings: image_store::Listings,
}

/// What the write side needs of a current item besides the neutral view.
#[derive(Debug, Clone)]
struct StoreState {
    /// The product's images in position order (empty for categories, or
    /// without `images:`).
    images: Vec<StoreImage>,
    /// Whether the item is published.
    published: bool,
}

/// The kind a `rest` failure keeps up to the executor.
pub fn kind_of(e: &RestError) -> ErrorKind {
    match e.kind {
        RestErrorKind::Config => ErrorKind::Config,
        RestErrorKind::Auth => ErrorKind::Denied,
        RestErrorKind::Status if e.status == Some(404) => ErrorKind::Gone,
        RestErrorKind::Status if e.status.is_some_and(|s| (400..500).contains(&s)) => {
            ErrorKind::Refused
        }
        RestErrorKind::Status => ErrorKind::Failed,
        RestErrorKind::Unreachable => ErrorKind::Transient,
        RestErrorKind::OutcomeUnknown => ErrorKind::OutcomeUnknown,
        RestErrorKind::Body | RestErrorKind::Paging | RestErrorKind::Template => ErrorKind::Failed,
    }
}

impl From<RestError> for TargetError {
    fn from(e: RestError) -> Self {
        TargetError::new(kind_of(&e), e)
    }
}

/// A 4xx on a write: the store refused the item; say so.
fn refused_item(e: RestError) -> RestError {
    if e.kind == RestErrorKind::Status && e.status.is_some_and(|s| s != 404 && s < 500) {
        RestError {
            help: "the store refused the item: fix the values the mapping sends (the store's message says which)".into(),
            ..e
        }
    } else {
        e
    }
}

fn template_error(message: String) -> RestError {
    RestError::new(
        RestErrorKind::Template,
        message,
        "check the request templates of the target's options",
    )
}

fn no_entity(entity: Entity) -> RestError {
    RestError::config(
        format!("the target's options have no `entities.{entity}`"),
        format!(
            "add `entities.{entity}` (list, create, update...) to the `rest` target, or do not map {}",
            entity.plural()
        ),
    )
}

/// Every leaf of an item under its dotted name (an object also under its
/// own name), as `Current::fields` holds them.
fn flatten(prefix: &str, m: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
    for (k, v) in m {
        let name = format!("{prefix}{k}");
        if let Value::Object(inner) = v {
            flatten(&format!("{name}."), inner, out);
        }
        out.insert(name, v.clone());
    }
}

fn title_of(m: &Map<String, Value>) -> String {
    ["title", "name"]
        .iter()
        .find_map(|k| m.get(*k).and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_default()
}

impl RestTarget {
    /// A target from typed options.
    pub fn new(options: &TargetOptions) -> Result<RestTarget, RestError> {
        let redactor = Redactor::new(options.secrets().iter().map(|s| s.expose().to_string()));
        RestTarget::build(options, redactor.clone()).map_err(|e| RestError {
            message: redactor.text(&e.message),
            help: redactor.text(&e.help),
            ..e
        })
    }

    /// A target from a profile's `target:` value (`${ENV}` resolved).
    pub fn from_value(value: &Value) -> Result<RestTarget, RestError> {
        RestTarget::new(&TargetOptions::from_value(value)?)
    }

    fn build(options: &TargetOptions, redactor: Redactor) -> Result<RestTarget, RestError> {
        let http = Arc::new(Http::new(&options.client(), redactor)?);
        let mut templates = Templates::new();
        let mut spec = |e: Entity| {
            options
                .entities
                .get(e)
                .map(|o| Spec::new(e, o, &http, &mut templates))
                .transpose()
        };
        let category = spec(Entity::Category)?;
        let product = spec(Entity::Product)?;
        if category.is_none() && product.is_none() {
            return Err(RestError::config(
                "the target's `entities` names no entity",
                "add `entities.product` and/or `entities.category`",
            ));
        }
        let images = options
            .images
            .as_ref()
            .map(|o| ImageSpec::new(o, &mut templates))
            .transpose()?;
        Ok(RestTarget {
            http,
            templates,
            category,
            product,
            images,
            listings: Default::default(),
        })
    }

    fn spec(&self, entity: Entity) -> Option<&Spec> {
        match entity {
            Entity::Category => self.category.as_ref(),
            Entity::Product => self.product.as_ref(),
        }
    }

    fn spec_or_err(&self, entity: Entity) -> Result<&Spec, RestError> {
        self.spec(entity).ok_or_else(|| no_entity(entity))
    }

    /// HTTP requests sent so far (every attempt, token requests included).
    pub fn requests(&self) -> u64 {
        self.http.sent()
    }

    // ------------------------------------------------------------ requests

    /// The URL of a request from its path template.
    fn url(&self, template: &str, ctx: &minijinja::Value) -> Result<Url, RestError> {
        let path = self
            .templates
            .render(template, ctx, PATH_LIMIT)
            .map_err(template_error)?;
        let path = path.trim();
        let name = template.trim_end_matches(".path");
        if path.is_empty() || path.contains(char::is_whitespace) {
            return Err(template_error(format!(
                "the path template `{name}` rendered `{}`, not a path",
                self.http.redactor().text(path)
            )));
        }
        let u = self.http.url(path)?;
        if !self.http.same_origin(&u) {
            return Err(RestError::config(
                format!(
                    "the path template `{name}` points at another server ({})",
                    self.http.redactor().url(&u)
                ),
                "requests go to the server of `base_url` only; write a path relative to it",
            ));
        }
        Ok(u)
    }

    /// A request's body: its `body:` over `ctx`, else `default`.
    fn body(
        &self,
        req: &Req,
        ctx: &minijinja::Value,
        default: Option<Value>,
    ) -> Result<Option<Vec<u8>>, RestError> {
        let value = match &req.body {
            Some(shape) => Some(self.templates.eval(shape, ctx).map_err(template_error)?),
            None => default,
        };
        let Some(v) = value else { return Ok(None) };
        let bytes = serde_json::to_vec(&v).map_err(|e| {
            template_error(format!("the body of `{}` cannot be written: {e}", req.name))
        })?;
        if bytes.len() > BODY_LIMIT {
            return Err(template_error(format!(
                "the body of `{}` is larger than {BODY_LIMIT} bytes",
                req.name
            )));
        }
        Ok(Some(bytes))
    }

    /// The request `req` over `ctx`, with `default` as its body.
    fn request(
        &self,
        req: &Req,
        ctx: &Value,
        default: Option<Value>,
        what: String,
    ) -> Result<Request, RestError> {
        let ctx = minijinja::Value::from_serialize(ctx);
        Ok(Request {
            method: req.method.clone(),
            url: self.url(&req.path, &ctx)?,
            body: self.body(req, &ctx, default)?,
            content_type: None,
            what,
        })
    }

    // ------------------------------------------------------------ reading

    /// Visit every item of the list from `first`, page by page, until
    /// `visit` says stop.
    async fn walk(
        &self,
        spec: &Spec,
        first: Url,
        what: &str,
        count: &mut u32,
        visit: &mut (dyn FnMut(Map<String, Value>) -> bool + Send),
    ) -> Result<(), RestError> {
        let mut walker = paging::Walker::new(spec.reader.paging.clone(), first.clone());
        let mut url = first;
        loop {
            let page =
                read::fetch_page_as(self.http.clone(), spec.reader.clone(), url, what.into())
                    .await?;
            *count += page.requests;
            let next = walker.next(&page.facts, &page.origin)?;
            for r in page.records {
                if let Value::Object(m) = r {
                    if !visit(m) {
                        return Ok(());
                    }
                }
            }
            match next {
                Some(u) => url = u,
                None => return Ok(()),
            }
        }
    }

    /// Every item of an entity, reduced.
    async fn catalog_of(&self, spec: &Spec) -> Result<Vec<TargetItem>, RestError> {
        let mut items = Vec::new();
        let mut count = 0;
        let first = spec.reader.first_url(ReadScope::Full);
        let what = format!("reading the target's {}", spec.entity.plural());
        let mut visit = |m: Map<String, Value>| {
            match self.item(spec, &m) {
                Some(item) => items.push(item),
                None => tracing::warn!(
                    entity = %spec.entity,
                    "an item of the target has no id at `list.id`; it is ignored"
                ),
            }
            true
        };
        self.walk(spec, first, &what, &mut count, &mut visit)
            .await?;
        Ok(items)
    }

    fn item(&self, spec: &Spec, m: &Map<String, Value>) -> Option<TargetItem> {
        Some(TargetItem {
            id: spec.id_of(m)?,
            handle: spec.handle_of(m),
            title: title_of(m),
            published: spec.published_of(m),
            status: None,
            marker: spec.marker_of(m),
            updated_at: spec.updated_at_of(m),
        })
    }

    /// The item whose key field is `key`: the list filtered by
    /// `list.key_param` when there is one, else the whole list.
    async fn find_key(
        &self,
        spec: &Spec,
        key: &str,
        count: &mut u32,
    ) -> Result<Option<Map<String, Value>>, RestError> {
        let mut first = spec.reader.first_url(ReadScope::Full);
        if let Some(p) = &spec.key_param {
            first.query_pairs_mut().append_pair(p, key);
        }
        let what = format!("finding {} {key} by its key", spec.entity);
        let mut found = None;
        let mut visit = |m: Map<String, Value>| {
            if spec.marker_of(&m).as_deref() == Some(key) && spec.id_of(&m).is_some() {
                found = Some(m);
                false
            } else {
                true
            }
        };
        self.walk(spec, first, &what, count, &mut visit).await?;
        Ok(found)
    }

    /// Items by id: one `get` each, else one walk of the list.
    async fn records(
        &self,
        spec: &Spec,
        ids: &[String],
        count: &mut u32,
    ) -> Result<Vec<Map<String, Value>>, RestError> {
        let Some(get) = &spec.get else {
            let mut wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let mut out = Vec::new();
            if wanted.is_empty() {
                return Ok(out);
            }
            let what = format!("reading the target's {}", spec.entity.plural());
            let first = spec.reader.first_url(ReadScope::Full);
            let mut visit = |m: Map<String, Value>| {
                if let Some(id) = spec.id_of(&m) {
                    if wanted.remove(id.as_str()) {
                        out.push(m);
                    }
                }
                !wanted.is_empty()
            };
            self.walk(spec, first, &what, count, &mut visit).await?;
            return Ok(out);
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let ctx = minijinja::Value::from_serialize(json!({"id": id, "key": null}));
            let req = Request {
                method: reqwest::Method::GET,
                url: self.url(&get.path, &ctx)?,
                body: None,
                content_type: None,
                what: format!("reading {} {id}", spec.entity),
            };
            let reply = match self.http.send(&req, count).await {
                Ok(r) => r,
                Err(e) if e.status == Some(404) => continue,
                Err(e) => return Err(e),
            };
            let v = json_of(&reply, &req.what)?;
            match paging::at(&v, &get.record) {
                Some(Value::Object(m)) => out.push(m.clone()),
                _ => {
                    return Err(RestError::new(
                        RestErrorKind::Body,
                        format!(
                            "{}: the answer has no object at `{}`",
                            req.what,
                            if get.record.is_empty() {
                                "(the body)".to_string()
                            } else {
                                get.record.join(".")
                            }
                        ),
                        format!(
                        "set `entities.{}.get.record` to the dotted path of the item, e.g. `data`",
                        spec.entity
                    ),
                    ))
                }
            }
        }
        Ok(out)
    }

    fn current(&self, spec: &Spec, m: &Map<String, Value>, images: Vec<StoreImage>) -> Current {
        let mut fields = BTreeMap::new();
        flatten("", m, &mut fields);
        let metafields = match m.get("metafields") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|x| {
                    let g = |k: &str| x.get(k).and_then(Value::as_str).map(str::to_string);
                    Some(CurrentMetafield {
                        namespace: g("namespace")?,
                        key: g("key")?,
                        value: g("value").unwrap_or_default(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        let categories = match &spec.categories {
            Some((path, _)) => match field(m, path) {
                Some(Value::Array(ids)) => ids.iter().filter_map(|v| text(Some(v))).collect(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        Current {
            entity: spec.entity,
            id: spec.id_of(m).unwrap_or_default(),
            marker: spec.marker_of(m),
            fields,
            metafields,
            images: images.iter().map(|i| i.url.clone()).collect(),
            variants: Vec::new(),
            categories,
            native: Native::new(StoreState {
                images,
                published: spec.published_of(m),
            }),
        }
    }

    // ------------------------------------------------------------ writing

    /// The fields a create or update sends: the document's fields as the
    /// mapping names them (dotted names nest), its metafields, the key,
    /// the published flag and the category ids.
    fn fields_body(
        &self,
        spec: &Spec,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        for (name, v) in &doc.fields {
            insert_path(&mut m, name, v.clone());
        }
        if !doc.metafields.is_empty() {
            let list: Vec<Value> = doc
                .metafields
                .iter()
                .map(|x| json!({"namespace": x.namespace, "key": x.key, "type": x.ty, "value": x.value}))
                .collect();
            m.insert("metafields".into(), Value::Array(list));
        }
        insert_path(&mut m, &spec.key_name, json!(doc.key));
        if let (Some((_, name)), Some(p)) = (&spec.published, published) {
            insert_path(&mut m, name, json!(p));
        }
        if let Some((_, name)) = &spec.categories {
            let ids: Vec<Value> = doc
                .categories
                .iter()
                .filter_map(|k| ctx.categories.get(k))
                .map(|id| json!(id))
                .collect();
            insert_path(&mut m, name, Value::Array(ids));
        }
        m
    }

    /// Whether the item's fields (not its images) differ from the
    /// document's.
    fn fields_differ(
        &self,
        spec: &Spec,
        current: &Current,
        state: &StoreState,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> bool {
        if current.marker.as_deref() != Some(doc.key.as_str()) {
            return true;
        }
        if spec.published.is_some() && published.is_some_and(|p| p != state.published) {
            return true;
        }
        // A field the item does not have is empty: compared, not skipped.
        let mut cur = current.clone();
        for name in doc.fields.keys() {
            cur.fields.entry(name.clone()).or_insert(Value::Null);
        }
        let d = diff::diff_item(doc, &cur, &BTreeMap::new(), &CompareRules::PLAIN);
        if d.iter()
            .any(|e| e.path != "images" && e.path != "image" && !e.path.starts_with("variants["))
        {
            return true;
        }
        spec.categories.is_some()
            && doc.entity == Entity::Product
            && !diff::diff_product_collections(doc, current, &ctx.categories).is_empty()
    }

    /// The document's images as the store takes them (URLs), or why not.
    fn desired_images<'d>(&self, doc: &'d Document) -> Result<Vec<&'d str>, RestError> {
        if doc.entity != Entity::Product || self.images.is_none() {
            return Ok(Vec::new());
        }
        doc.images
            .iter()
            .enumerate()
            .map(|(i, im)| match im.kind {
                ImageKind::Embedded => Err(RestError::new(
                    RestErrorKind::Status,
                    format!(
                        "product {}: image {} is embedded data; the `rest` target sends image URLs only",
                        doc.key,
                        i + 1
                    ),
                    "map the image's URL (`kind: url`), or leave the image out",
                )
                .with_status(422)),
                _ => Ok(im.src.as_str()),
            })
            .collect()
    }

    async fn create_item(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, RestError> {
        let spec = self.spec_or_err(doc.entity)?;
        let desired = self.desired_images(doc)?;
        let fields = Value::Object(self.fields_body(spec, doc, published, ctx));
        let tctx = json!({"id": null, "key": doc.key, "fields": fields, "published": published});
        let what = format!("creating {} {}", doc.entity, doc.key);
        let req = self.request(&spec.create, &tctx, Some(fields), what.clone())?;
        let mut count = 0;
        let mut attempt = 0;
        let (id, adopted) = loop {
            attempt += 1;
            let lost = match self.http.send_once(&req, &mut count).await {
                Ok(reply) => {
                    let v = json_of(&reply, &what).ok();
                    match v
                        .as_ref()
                        .and_then(|v| text(paging::at(v, &spec.create.id)))
                    {
                        Some(id) => break (id, false),
                        None => {
                            // Created, but where is its id? Found by its key.
                            match self.find_key(spec, &doc.key, &mut count).await? {
                                Some(m) => break (spec.id_of(&m).unwrap_or_default(), false),
                                None => {
                                    return Err(RestError::new(
                                        RestErrorKind::Body,
                                        format!(
                                            "{what}: the answer has no id at `{}`, and no item has the key",
                                            spec.create.id.join(".")
                                        ),
                                        format!(
                                            "set `entities.{}.create.id` to the dotted path of the new id in the answer, e.g. `data.id`",
                                            doc.entity
                                        ),
                                    ))
                                }
                            }
                        }
                    }
                }
                Err(e) if e.kind == RestErrorKind::Unreachable => e,
                Err(e) => return Err(refused_item(e)),
            };
            // The create may have happened (its answer was lost): look it up
            // by its key before sending it again. A 429 was not taken.
            if lost.status != Some(429) {
                match self.find_key(spec, &doc.key, &mut count).await {
                    Ok(Some(m)) => {
                        tracing::info!(key = %doc.key, entity = %doc.entity, "the answer of a create was lost; the item was found by its key and adopted");
                        break (spec.id_of(&m).unwrap_or_default(), true);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Err(RestError::new(
                            RestErrorKind::OutcomeUnknown,
                            format!(
                                "{} — and looking the item up by its key failed too: {}",
                                lost.message, e.message
                            ),
                            "the item may or may not have been created; the next run finds it by its key",
                        ))
                    }
                }
            }
            if attempt > self.http.retries() {
                return Err(RestError {
                    message: format!("{} (after {attempt} attempts)", lost.message),
                    ..lost
                });
            }
            tokio::time::sleep(self.http.backoff_for(attempt)).await;
        };
        if !desired.is_empty() {
            if let Err(e) = self
                .sync_images(&id, &doc.key, &[], &desired, doc, &mut count)
                .await
            {
                return Err(RestError {
                    message: format!(
                        "{} {} was created as {id}, but {}",
                        doc.entity, doc.key, e.message
                    ),
                    ..e
                });
            }
        }
        Ok(Written {
            target_id: id,
            requests: count,
            adopted,
        })
    }

    async fn update_item(
        &self,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, RestError> {
        let spec = self.spec_or_err(doc.entity)?;
        let state = current.native.get::<StoreState>().ok_or_else(|| {
            RestError::new(
                RestErrorKind::Body,
                format!(
                    "internal: the current state of {} {} was not read by the rest target",
                    doc.entity, current.id
                ),
                "report this bug with the command you ran",
            )
        })?;
        let desired = self.desired_images(doc)?;
        let mut count = 0;
        if self.fields_differ(spec, current, state, doc, published, ctx) {
            let fields = Value::Object(self.fields_body(spec, doc, published, ctx));
            let tctx =
                json!({"id": current.id, "key": doc.key, "fields": fields, "published": published});
            let what = format!("updating {} {} ({})", doc.entity, doc.key, current.id);
            let req = self.request(&spec.update, &tctx, Some(fields), what)?;
            self.http
                .send(&req, &mut count)
                .await
                .map_err(refused_item)?;
        }
        // A document without images leaves the product's alone (as the
        // diff does: images are compared only when the document has some).
        if doc.entity == Entity::Product && self.images.is_some() && !desired.is_empty() {
            let now: Vec<&str> = state.images.iter().map(|i| i.url.as_str()).collect();
            if now != desired {
                self.sync_images(
                    &current.id,
                    &doc.key,
                    &state.images,
                    &desired,
                    doc,
                    &mut count,
                )
                .await?;
            }
        }
        Ok(Written {
            target_id: current.id.clone(),
            requests: count,
            adopted: false,
        })
    }

    async fn remove_item(
        &self,
        entity: Entity,
        id: &str,
        deactivate: bool,
    ) -> Result<Written, RestError> {
        let spec = self.spec_or_err(entity)?;
        let (req, verb) = if deactivate {
            (&spec.deactivate, "deactivate")
        } else {
            (&spec.delete, "delete")
        };
        let Some(req) = req else {
            return Err(RestError::config(
                format!("the target's options have no `entities.{entity}.{verb}` request"),
                format!("add `entities.{entity}.{verb}: {{ method: ..., path: ... }}`, or take `{verb}` out of `settings.sync`"),
            ));
        };
        let default = if deactivate {
            spec.published.as_ref().map(|(_, name)| {
                let mut m = Map::new();
                insert_path(&mut m, name, json!(false));
                Value::Object(m)
            })
        } else {
            None
        };
        let what = format!("{}ing {entity} {id}", verb.trim_end_matches('e'));
        let request = self.request(req, &json!({"id": id, "key": null}), default, what)?;
        let mut count = 0;
        match self.http.send(&request, &mut count).await {
            Ok(_) => {}
            // Already gone: deleted.
            Err(e) if !deactivate && e.status == Some(404) => {}
            Err(e) => return Err(refused_item(e)),
        }
        Ok(Written {
            target_id: id.to_string(),
            requests: count,
            adopted: false,
        })
    }
}

/// An answer's JSON (an empty body is `null`).
fn json_of(reply: &Reply, what: &str) -> Result<Value, RestError> {
    if reply.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        RestError::new(
            RestErrorKind::Body,
            format!(
                "{what}: the answer is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
            "check `base_url` and the request's `path`: the store should answer with JSON",
        )
    })
}

#[async_trait]
impl Target for RestTarget {
    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    fn request_stats(&self) -> RequestStats {
        RequestStats {
            requests: self.http.sent(),
            throttled: self.http.throttled(),
            retried: self.http.retried(),
            cost: 0,
        }
    }

    fn images(&self) -> Option<&dyn mapsync_core::images::ImageStore> {
        self.images
            .is_some()
            .then_some(self as &dyn mapsync_core::images::ImageStore)
    }

    async fn locations(&self) -> Result<Vec<StoreLocation>, TargetError> {
        // A generic store API has no inventory locations.
        Ok(Vec::new())
    }

    async fn read_catalog(&self, _hint: ReadHint) -> Result<Catalog, TargetError> {
        let mut c = Catalog::default();
        if let Some(s) = &self.category {
            c.categories = self.catalog_of(s).await?;
        }
        if let Some(s) = &self.product {
            c.products = self.catalog_of(s).await?;
        }
        Ok(c)
    }

    async fn read_current(
        &self,
        entity: Entity,
        ids: &[String],
    ) -> Result<Vec<Current>, TargetError> {
        let Some(spec) = self.spec(entity) else {
            return Ok(Vec::new());
        };
        let mut count = 0;
        let records = self.records(spec, ids, &mut count).await?;
        let mut out = Vec::with_capacity(records.len());
        for m in records {
            let images = match (entity, &self.images, spec.id_of(&m)) {
                (Entity::Product, Some(_), Some(id)) => {
                    match self.list_images(&id, &mut count).await {
                        Ok(list) => list,
                        // Deleted since it was listed: not found.
                        Err(e) if e.status == Some(404) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => Vec::new(),
            };
            out.push(self.current(spec, &m, images));
        }
        Ok(out)
    }

    async fn find_by_marker(
        &self,
        entity: Entity,
        key: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        let Some(spec) = self.spec(entity) else {
            return Ok(None);
        };
        let mut count = 0;
        Ok(self
            .find_key(spec, key, &mut count)
            .await?
            .and_then(|m| self.item(spec, &m)))
    }

    async fn find_by_handle(
        &self,
        entity: Entity,
        handle: &str,
    ) -> Result<Option<TargetItem>, TargetError> {
        let Some(spec) = self.spec(entity).filter(|s| s.handle.is_some()) else {
            return Ok(None);
        };
        let mut count = 0;
        let mut found = None;
        let what = format!("finding {entity} {handle} by its handle");
        let first = spec.reader.first_url(ReadScope::Full);
        let mut visit = |m: Map<String, Value>| {
            if spec.handle_of(&m) == handle {
                found = self.item(spec, &m);
                found.is_none()
            } else {
                true
            }
        };
        self.walk(spec, first, &what, &mut count, &mut visit)
            .await?;
        Ok(found)
    }
}

#[async_trait]
impl TargetWrite for RestTarget {
    async fn ensure_definitions(
        &self,
        _entity: Entity,
        _descriptions: &[(MetafieldDescription, Option<String>)],
    ) -> Result<u32, TargetError> {
        // A generic store API has no metafield definitions.
        Ok(0)
    }

    async fn create(
        &self,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        Ok(self.create_item(doc, published, ctx).await?)
    }

    async fn update(
        &self,
        current: &Current,
        doc: &Document,
        published: Option<bool>,
        ctx: &WriteContext,
    ) -> Result<Written, TargetError> {
        Ok(self.update_item(current, doc, published, ctx).await?)
    }

    async fn delete(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        Ok(self.remove_item(entity, target_id, false).await?)
    }

    async fn deactivate(&self, entity: Entity, target_id: &str) -> Result<Written, TargetError> {
        Ok(self.remove_item(entity, target_id, true).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_failures() {
        let e = |kind, status: Option<u16>| RestError {
            kind,
            message: String::new(),
            help: String::new(),
            status,
        };
        assert_eq!(
            kind_of(&e(RestErrorKind::Status, Some(422))),
            ErrorKind::Refused
        );
        assert_eq!(
            kind_of(&e(RestErrorKind::Status, Some(404))),
            ErrorKind::Gone
        );
        assert_eq!(
            kind_of(&e(RestErrorKind::Auth, Some(401))),
            ErrorKind::Denied
        );
        assert_eq!(
            kind_of(&e(RestErrorKind::Unreachable, Some(503))),
            ErrorKind::Transient
        );
        assert_eq!(kind_of(&e(RestErrorKind::Config, None)), ErrorKind::Config);
    }

    #[test]
    fn items_flatten_by_dotted_names() {
        let m = json!({"title": "T", "seo": {"title": "S"}, "tags": ["a"]});
        let mut out = BTreeMap::new();
        flatten("", m.as_object().unwrap(), &mut out);
        assert_eq!(out["seo.title"], json!("S"));
        assert_eq!(out["seo"], json!({"title": "S"}));
        assert_eq!(out["tags"], json!(["a"]));
    }
}
