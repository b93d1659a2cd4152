//! The `bigcommerce` source: a BigCommerce catalog read as records, the
//! `{categories, products}` the `file` source gives, so a BigCommerce →
//! Shopify migration is one mapping set and one `sync` (docs/bigcommerce.md,
//! "Source").
//!
//! Categories come from the category trees API, products page by page with
//! their variants, images and custom fields (`include=`), brands as names,
//! and the metafields of products and variants from the store-wide
//! listings (a few requests for the whole store instead of one or two per
//! product). Each entity is read by a task that fills the
//! [`RecordStream`]'s bounded channel, one page ahead of the consumer: a
//! large catalog is never in memory at once (the brand names and the
//! metafields are: they are read before the first product).
//!
//! Records keep BigCommerce's fields and names; what the API gives as ids
//! or lists of pairs gets fields a mapping can address with plain paths
//! (`brand`, `custom_fields.<name>`, `metafields.<namespace>.<key>`,
//! `variants[*].options.<name>`, `option_N_name`/`option_N_value`,
//! `images[*].url`...). A product the source cannot make a record of is
//! an invalid item of the stream; the run goes on.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use mapsync_config::connector::Options;
use mapsync_core::source::{
    Entity, Fields, Incremental, InvalidRecord, Position, ReadError, ReadScope, Record, RecordItem,
    RecordStream, Source, SourceError,
};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::{BcClient, MAX_PAGES, PAGE_LIMIT};
use crate::error::BcError;

/// Most records buffered between a reading task and the consumer (less
/// when a page is smaller), so the task runs at most one page ahead.
pub const READ_BUFFER: usize = 64;

/// The namespace of mapsync's ownership marker metafield.
pub const MARKER_NAMESPACE: &str = "mapsync";
/// The key of mapsync's ownership marker metafield.
pub const MARKER_KEY: &str = "key";

/// Default overlap of incremental reads.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// Default interval between full reads when reading incrementally.
pub const DEFAULT_FULL_EVERY: Duration = Duration::from_secs(24 * 3600);

const CATEGORIES: &str = "/catalog/trees/categories";
const BRANDS: &str = "/catalog/brands";
const PRODUCTS: &str = "/catalog/products";
const PRODUCT_METAFIELDS: &str = "/catalog/products/metafields";
const VARIANT_METAFIELDS: &str = "/catalog/variants/metafields";
/// The sub-resources read with each product page. `options` is not asked
/// for: with it BigCommerce serves 10 products a page instead of 250, and
/// the variants' `option_values` carry the options' display names.
const PRODUCT_INCLUDE: &str = "variants,images,custom_fields";

/// How the source reads (from the profile's `source:` block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// Items a page (`limit`, 1..=250; `page_size:`, default 250).
    pub page_size: usize,
    /// Whether product and variant metafields are read (`metafields:`,
    /// default true).
    pub metafields: bool,
    /// Incremental reads of products (`incremental:`, default off).
    pub incremental: Option<Incremental>,
}

impl Default for SourceSettings {
    fn default() -> Self {
        SourceSettings {
            page_size: PAGE_LIMIT,
            metafields: true,
            incremental: None,
        }
    }
}

impl SourceSettings {
    /// The settings of a profile's `source:` block: `page_size` (1..=250),
    /// `metafields` (boolean), `incremental` (`true`, or
    /// `{overlap: 5m, full_every: 24h}`). Other keys (`store_hash`,
    /// `token`, `plan`, `url`...) belong to the client and are ignored here.
    pub fn from_options(options: &Options) -> Result<SourceSettings, SourceError> {
        let values = options.values();
        let bad = |key: &str, message: String, help: &str| SourceError::Config {
            message: format!("`{}` {message}", options.field(key)),
            help: help.to_string(),
        };
        let mut s = SourceSettings::default();
        if let Some(v) = values.get("page_size") {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(t) => t.trim().parse::<u64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if (1..=PAGE_LIMIT as u64).contains(&n) => s.page_size = n as usize,
                _ => {
                    return Err(bad(
                        "page_size",
                        "must be a whole number from 1 to 250".into(),
                        "leave it out to read 250 items a request",
                    ))
                }
            }
        }
        if let Some(v) = values.get("metafields") {
            s.metafields = match v {
                Value::Bool(b) => *b,
                Value::String(t) if t == "true" => true,
                Value::String(t) if t == "false" => false,
                _ => {
                    return Err(bad(
                        "metafields",
                        "must be true or false".into(),
                        "write `metafields: false` to skip reading metafields",
                    ))
                }
            };
        }
        if let Some(v) = values.get("incremental") {
            s.incremental = incremental(v).map_err(|m| {
                bad(
                    "incremental",
                    m,
                    "write `incremental: true`, or `incremental: {overlap: 5m, full_every: 24h}`",
                )
            })?;
        }
        Ok(s)
    }
}

fn incremental(v: &Value) -> Result<Option<Incremental>, String> {
    let duration =
        |m: &Map<String, Value>, k: &str, default: Duration| -> Result<Duration, String> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::String(t)) => mapsync_config::check::mapping::parse_duration(t)
                    .ok_or_else(|| {
                        format!("has `{k}: {t}`, which is not a duration such as 5m or 24h")
                    }),
                Some(_) => Err(format!(
                    "has a `{k}` that is not a duration such as 5m or 24h"
                )),
            }
        };
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Ok(Some(Incremental {
            overlap: DEFAULT_OVERLAP,
            full_every: DEFAULT_FULL_EVERY,
        })),
        Value::Object(m) => {
            if let Some(k) = m.keys().find(|k| *k != "overlap" && *k != "full_every") {
                return Err(format!("has an unknown key `{k}`"));
            }
            Ok(Some(Incremental {
                overlap: duration(m, "overlap", DEFAULT_OVERLAP)?,
                full_every: duration(m, "full_every", DEFAULT_FULL_EVERY)?,
            }))
        }
        _ => Err("must be true, false or an object".into()),
    }
}

/// Opens the `bigcommerce` source over `client` with the profile's
/// `source:` options ([`SourceSettings::from_options`]). No request is
/// sent until an entity is read.
pub fn open(client: BcClient, options: &Options) -> Result<Box<dyn Source>, SourceError> {
    let settings = SourceSettings::from_options(options)?;
    Ok(Box::new(BcSource::new(client, settings)))
}

/// A BigCommerce store read as a source of category and product records.
#[derive(Debug, Clone)]
pub struct BcSource {
    inner: Arc<Reader>,
}

#[derive(Debug)]
struct Reader {
    client: BcClient,
    settings: SourceSettings,
    /// The API base, for the records' positions (no secret in it).
    base: String,
}

impl BcSource {
    /// A source over `client` (no request is sent).
    pub fn new(client: BcClient, settings: SourceSettings) -> BcSource {
        let base = client.base().as_str().trim_end_matches('/').to_string();
        BcSource {
            inner: Arc::new(Reader {
                client,
                settings,
                base,
            }),
        }
    }

    /// The settings it reads with.
    pub fn settings(&self) -> &SourceSettings {
        &self.inner.settings
    }
}

impl Source for BcSource {
    fn kind(&self) -> &'static str {
        "bigcommerce"
    }

    fn records(&self, entity: Entity) -> Result<RecordStream, SourceError> {
        self.records_in(entity, ReadScope::Full)
    }

    fn supports_writeback(&self) -> bool {
        false
    }

    /// Products, when `incremental:` is on (`date_modified:min`); the
    /// category trees API has no such filter: categories are always read
    /// in full.
    fn incremental(&self, entity: Entity) -> Option<Incremental> {
        match entity {
            Entity::Product => self.inner.settings.incremental,
            Entity::Category => None,
        }
    }

    /// Starts reading in a task of the current Tokio runtime (or of a
    /// background runtime when called outside one); never blocks.
    fn records_in(&self, entity: Entity, scope: ReadScope) -> Result<RecordStream, SourceError> {
        // At most a page in the channel: with the page being handed out
        // and the one being fetched, about three pages are in memory.
        let (tx, rx) = mpsc::channel(self.inner.settings.page_size.clamp(1, READ_BUFFER));
        let reader = self.inner.clone();
        match entity {
            Entity::Category => spawn(read_categories(reader, tx)),
            Entity::Product => {
                let scope = if reader.settings.incremental.is_some() {
                    scope
                } else {
                    ReadScope::Full
                };
                spawn(read_products(reader, scope, tx))
            }
        }
        Ok(RecordStream::from_channel(rx))
    }
}

/// A request of the source failed: the read of the entity ends.
#[derive(Debug, thiserror::Error)]
#[error("reading {what} from BigCommerce: {error}; {help}")]
pub struct ReadFailed {
    /// What was being read (`products`, `brands`...).
    pub what: &'static str,
    /// The client's error (it names no secret), in the message (not a
    /// `source()`, so it is not printed twice).
    pub error: BcError,
    /// How to fix it.
    pub help: &'static str,
}

impl ReadFailed {
    fn new(what: &'static str, error: BcError) -> ReadFailed {
        let help = match &error {
            BcError::Denied { .. } => {
                "check `token`: the API account needs read access to Products (store_v2_products_read_only)"
            }
            BcError::NotFound { .. } => "check `store_hash` (or `url`)",
            BcError::Config { .. } => "check the `source:` block of the profile",
            _ => "try again later; see the debug log (target mapsync_bigcommerce) for the requests",
        };
        ReadFailed { what, error, help }
    }
}

fn fatal(what: &'static str, e: BcError) -> RecordItem {
    Err(ReadError::Fatal(SourceError::Connector(Box::new(
        ReadFailed::new(what, e),
    ))))
}

// ------------------------------------------------------------------ tasks

/// The runtime the reading tasks run on when a stream is opened outside
/// any Tokio runtime: one worker thread, for the process.
fn background() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mapsync-bigcommerce")
            .enable_all()
            .build()
            .map_err(|e| tracing::error!(error = %e, "no runtime for the BigCommerce source"))
            .ok()
    })
    .as_ref()
}

/// Spawn on the current runtime, or on the background one.
fn spawn<F>(fut: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(fut);
        }
        Err(_) => match background() {
            Some(rt) => {
                rt.spawn(fut);
            }
            // The stream's sender is dropped with `fut`: the stream is
            // empty, and the error was logged.
            None => drop(fut),
        },
    }
}

/// Pages of a listing, fetched one ahead: `page` = 1, 2, ... until a short
/// page; a page that repeats the previous one, or more than [`MAX_PAGES`]
/// pages, is a `Paging` error.
struct Pager {
    client: BcClient,
    path: &'static str,
    query: Arc<Vec<(&'static str, String)>>,
    limit: usize,
    /// The number of the page being fetched.
    page: u32,
    fetching: Option<JoinHandle<Result<Vec<Value>, BcError>>>,
    /// The first and last item of the previous page.
    previous: Option<(Value, Value)>,
}

impl Drop for Pager {
    fn drop(&mut self) {
        if let Some(f) = self.fetching.take() {
            f.abort();
        }
    }
}

impl Pager {
    /// Starts fetching page 1.
    fn start(
        client: &BcClient,
        path: &'static str,
        query: Vec<(&'static str, String)>,
        limit: usize,
    ) -> Pager {
        let mut p = Pager {
            client: client.clone(),
            path,
            query: Arc::new(query),
            limit: limit.clamp(1, PAGE_LIMIT),
            page: 1,
            fetching: None,
            previous: None,
        };
        p.fetch();
        p
    }

    fn fetch(&mut self) {
        let client = self.client.clone();
        let path = self.path;
        let query = self.query.clone();
        let (page, limit) = (self.page, self.limit);
        self.fetching = Some(tokio::spawn(async move {
            let mut q: Vec<(&str, String)> = query.iter().cloned().collect();
            q.push(("page", page.to_string()));
            q.push(("limit", limit.to_string()));
            let body: Value = client.get(path, &q).await?;
            match body {
                Value::Object(mut m) => match m.remove("data") {
                    Some(Value::Array(d)) => Ok(d),
                    Some(Value::Null) | None => Err(BcError::Decode {
                        message: format!("GET {path} page {page}: no `data` list"),
                    }),
                    Some(_) => Err(BcError::Decode {
                        message: format!("GET {path} page {page}: `data` is not a list"),
                    }),
                },
                _ => Err(BcError::Decode {
                    message: format!("GET {path} page {page}: the answer is not an object"),
                }),
            }
        }));
    }

    /// The next page with its number, and starts fetching the one after;
    /// `None` after the last page.
    async fn next(&mut self) -> Option<Result<(u32, Vec<Value>), BcError>> {
        let fetching = self.fetching.take()?;
        let page = self.page;
        let data = match fetching.await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Some(Err(e)),
            Err(join) => {
                return Some(Err(BcError::Decode {
                    message: format!(
                        "GET {} page {page}: the request task failed ({join})",
                        self.path
                    ),
                }))
            }
        };
        if let (Some(first), Some(last)) = (data.first(), data.last()) {
            let ends = (first.clone(), last.clone());
            if self.previous.as_ref() == Some(&ends) {
                return Some(Err(BcError::Paging {
                    path: self.path.into(),
                    message: format!("page {page} repeats page {}", page - 1),
                }));
            }
            self.previous = Some(ends);
        }
        if data.len() >= self.limit {
            if page >= MAX_PAGES {
                return Some(Err(BcError::Paging {
                    path: self.path.into(),
                    message: format!("more than {MAX_PAGES} pages"),
                }));
            }
            self.page += 1;
            self.fetch();
        }
        Some(Ok((page, data)))
    }
}

async fn read_categories(reader: Arc<Reader>, tx: mpsc::Sender<RecordItem>) {
    let r = &reader;
    let pager = Pager::start(&r.client, CATEGORIES, Vec::new(), r.settings.page_size);
    let read = stream_pages(r, pager, &tx, Entity::Category, category_fields).await;
    tracing::debug!(records = read, "BigCommerce categories read");
}

/// Hands out the items of `pager`'s pages as records of `entity` made by
/// `fields` (an item it refuses is an invalid record, and the read goes
/// on); a page that fails ends the stream with one fatal error. Stops when
/// the receiver is gone. Returns the items read.
async fn stream_pages(
    r: &Reader,
    mut pager: Pager,
    tx: &mpsc::Sender<RecordItem>,
    entity: Entity,
    mut fields: impl FnMut(Value) -> Result<Fields, String>,
) -> u64 {
    let what = match entity {
        Entity::Category => "categories",
        Entity::Product => "products",
    };
    let mut index = 0u64;
    loop {
        let next = tokio::select! {
            n = pager.next() => n,
            _ = tx.closed() => return index,
        };
        let (page, data) = match next {
            None => return index,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                let _ = tx.send(fatal(what, e)).await;
                return index;
            }
        };
        let origin: Arc<str> = Arc::from(format!("{}{} (page {page})", r.base, pager.path));
        for v in data {
            let position = Position {
                origin: origin.clone(),
                line: None,
                index,
            };
            index += 1;
            let item = match fields(v) {
                Ok(fields) => Ok(Record {
                    entity,
                    position,
                    fields,
                }),
                Err(message) => Err(invalid(entity, position, message)),
            };
            if tx.send(item).await.is_err() {
                return index;
            }
        }
    }
}

fn invalid(entity: Entity, position: Position, message: String) -> ReadError {
    ReadError::Invalid(Box::new(InvalidRecord {
        entity,
        message: format!("{entity} {}: {message}", position.index + 1),
        help: "check this item in the BigCommerce control panel or API; the others are read".into(),
        position,
    }))
}

/// What the product records are made with, read before the first one.
#[derive(Debug, Default)]
struct Lookups {
    /// Brand id → name.
    brands: HashMap<u64, String>,
    /// Product id → its metafields.
    product_metafields: HashMap<u64, Vec<Metafield>>,
    /// Variant id → its metafields.
    variant_metafields: HashMap<u64, Vec<Metafield>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Metafield {
    namespace: String,
    key: String,
    value: Value,
}

async fn read_products(reader: Arc<Reader>, scope: ReadScope, tx: mpsc::Sender<RecordItem>) {
    let r = &reader;
    let mut query = vec![("include", PRODUCT_INCLUDE.to_string())];
    if let ReadScope::Since(t) = scope {
        query.push(("date_modified:min", rfc3339(t)));
    }
    // The first page is fetched while the brands and metafields are read.
    let pager = Pager::start(&r.client, PRODUCTS, query, r.settings.page_size);
    let lookups = tokio::select! {
        l = lookups(r) => l,
        _ = tx.closed() => return,
    };
    let lookups = match lookups {
        Ok(l) => l,
        Err((what, e)) => {
            let _ = tx.send(fatal(what, e)).await;
            return;
        }
    };
    let read = stream_pages(r, pager, &tx, Entity::Product, |v| {
        product_fields(v, &lookups)
    })
    .await;
    tracing::debug!(records = read, "BigCommerce products read");
}

async fn lookups(r: &Reader) -> Result<Lookups, (&'static str, BcError)> {
    let limit = r.settings.page_size;
    let brands = async {
        let mut map = HashMap::new();
        let mut pager = Pager::start(
            &r.client,
            BRANDS,
            vec![("include_fields", "name".into())],
            limit,
        );
        while let Some(page) = pager.next().await {
            for b in page.map_err(|e| ("brands", e))?.1 {
                if let (Some(id), Some(name)) = (
                    b.get("id").and_then(Value::as_u64),
                    b.get("name").and_then(Value::as_str),
                ) {
                    map.insert(id, name.to_string());
                }
            }
        }
        Ok(map)
    };
    let metafields = |path: &'static str, what: &'static str| async move {
        let mut map: HashMap<u64, Vec<Metafield>> = HashMap::new();
        if !r.settings.metafields {
            return Ok(map);
        }
        let fields = "resource_id,namespace,key,value".to_string();
        let mut pager = Pager::start(&r.client, path, vec![("include_fields", fields)], limit);
        while let Some(page) = pager.next().await {
            for m in page.map_err(|e| (what, e))?.1 {
                let (Some(rid), Some(ns), Some(key)) = (
                    m.get("resource_id").and_then(Value::as_u64),
                    m.get("namespace").and_then(Value::as_str),
                    m.get("key").and_then(Value::as_str),
                ) else {
                    continue;
                };
                map.entry(rid).or_default().push(Metafield {
                    namespace: ns.to_string(),
                    key: key.to_string(),
                    value: m.get("value").cloned().unwrap_or(Value::Null),
                });
            }
        }
        Ok(map)
    };
    let (brands, product_metafields, variant_metafields) = tokio::try_join!(
        brands,
        metafields(PRODUCT_METAFIELDS, "product metafields"),
        metafields(VARIANT_METAFIELDS, "variant metafields"),
    )?;
    Ok(Lookups {
        brands,
        product_metafields,
        variant_metafields,
    })
}

/// `t` (floored to the second) as RFC 3339 UTC, as `date_modified:min`
/// takes it.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

// ------------------------------------------------------------------ records

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn id_of(m: &Map<String, Value>, k: &str) -> Option<u64> {
    match m.get(k)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A category of the trees API as a record: its fields as given, plus
/// `parent_key` (the parent's `category_id` as text, the parent record's
/// key; null for a root category).
fn category_fields(v: Value) -> Result<Fields, String> {
    let Value::Object(mut m) = v else {
        return Err(format!("is {}, not an object", kind_name(&v)));
    };
    let Some(id) = id_of(&m, "category_id") else {
        return Err("has no `category_id`".into());
    };
    let parent = id_of(&m, "parent_id").filter(|p| *p != 0 && *p != id);
    m.insert(
        "parent_key".into(),
        parent.map_or(Value::Null, |p| Value::String(p.to_string())),
    );
    Ok(m)
}

/// A number (or numeric text) as f64.
fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `metafields` as `{namespace: {key: value}}` (the marker left out) and
/// the marker's value.
fn metafield_fields(list: Option<&Vec<Metafield>>) -> (Value, Value) {
    let mut out = Map::new();
    let mut marker = Value::Null;
    for m in list.into_iter().flatten() {
        if m.namespace == MARKER_NAMESPACE && m.key == MARKER_KEY {
            marker = m.value.clone();
            continue;
        }
        if let Value::Object(ns) = out
            .entry(m.namespace.clone())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            ns.insert(m.key.clone(), m.value.clone());
        }
    }
    (Value::Object(out), marker)
}

/// A product of `GET /catalog/products?include=variants,images,custom_fields`
/// as a record (docs/bigcommerce.md, "Source").
fn product_fields(v: Value, lk: &Lookups) -> Result<Fields, String> {
    let Value::Object(mut m) = v else {
        return Err(format!("is {}, not an object", kind_name(&v)));
    };
    let Some(id) = id_of(&m, "id") else {
        return Err("has no numeric `id`".into());
    };
    let what = |f: &str| format!("product {id}: `{f}`");

    // Brand by name.
    let brand = id_of(&m, "brand_id")
        .filter(|b| *b != 0)
        .and_then(|b| lk.brands.get(&b))
        .map_or(Value::Null, |n| Value::String(n.clone()));
    m.insert("brand".into(), brand);

    // Categories: the category records' keys.
    match m.get("categories") {
        None | Some(Value::Null) => {
            m.insert("categories".into(), Value::Array(Vec::new()));
        }
        Some(Value::Array(_)) => {}
        Some(other) => {
            return Err(format!(
                "{} is {}, not a list",
                what("categories"),
                kind_name(other)
            ))
        }
    }

    // Images in their order, each with one `url`.
    let mut images = match m.remove("images") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "{} is {}, not a list",
                what("images"),
                kind_name(&other)
            ))
        }
    };
    images.retain(Value::is_object);
    images.sort_by(|a, b| {
        let key = |i: &Value| {
            (
                num(i.get("sort_order")).unwrap_or(0.0),
                i.get("id").and_then(Value::as_u64).unwrap_or(0),
            )
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.cmp(&kb.1))
    });
    let mut urls = Vec::new();
    for img in &mut images {
        if let Value::Object(i) = img {
            let url = ["url_zoom", "url_standard", "image_url"]
                .iter()
                .find_map(|k| i.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(str::to_string);
            if let Some(u) = &url {
                urls.push(Value::String(u.clone()));
            }
            i.insert("url".into(), url.map_or(Value::Null, Value::String));
        }
    }
    m.insert("images".into(), Value::Array(images));
    m.insert("image_urls".into(), Value::Array(urls));

    // Custom fields by name; a name given twice holds the list of values.
    let mut custom = Map::new();
    match m.remove("custom_fields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for cf in list {
                let (Some(name), Some(value)) =
                    (cf.get("name").and_then(Value::as_str), cf.get("value"))
                else {
                    continue;
                };
                match custom.get_mut(name) {
                    None => {
                        custom.insert(name.to_string(), value.clone());
                    }
                    Some(Value::Array(vals)) => vals.push(value.clone()),
                    Some(prev) => {
                        let first = prev.take();
                        *prev = Value::Array(vec![first, value.clone()]);
                    }
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "{} is {}, not a list",
                what("custom_fields"),
                kind_name(&other)
            ))
        }
    }
    m.insert("custom_fields".into(), Value::Object(custom));

    // Variants with their options flattened, in the options' order (the
    // order they first appear in, as BigCommerce lists them).
    let mut variants = match m.remove("variants") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(format!(
                "{} is {}, not a list",
                what("variants"),
                kind_name(&other)
            ))
        }
    };
    variants.retain(Value::is_object);
    let mut option_names: Vec<String> = Vec::new();
    for v in &variants {
        for ov in v
            .get("option_values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = ov.get("option_display_name").and_then(Value::as_str) {
                if !option_names.iter().any(|x| x == n) {
                    option_names.push(n.to_string());
                }
            }
        }
    }
    let product_price = m.get("price").cloned().filter(Value::is_number);
    let product_retail = m.get("retail_price").cloned().filter(Value::is_number);
    for v in &mut variants {
        if let Value::Object(vm) = v {
            variant_fields(
                vm,
                &option_names,
                product_price.as_ref(),
                product_retail.as_ref(),
                lk,
            );
        }
    }
    m.insert("variants".into(), Value::Array(variants));
    for (i, n) in option_names.iter().enumerate() {
        m.insert(format!("option_{}_name", i + 1), Value::String(n.clone()));
    }
    m.insert(
        "option_names".into(),
        Value::Array(option_names.into_iter().map(Value::String).collect()),
    );

    // Metafields and the ownership marker.
    let (metafields, marker) = metafield_fields(lk.product_metafields.get(&id));
    m.insert("metafields".into(), metafields);
    m.insert("mapsync_key".into(), marker);
    Ok(m)
}

/// One variant: `options` (display name → label), `option_N_name` /
/// `option_N_value` in the product's option order, `regular_price` (its
/// price, else the product's), `was_price` (the price shown crossed out:
/// the regular price during a sale, else a retail price above the price),
/// `metafields` and `mapsync_key`.
fn variant_fields(
    vm: &mut Map<String, Value>,
    option_names: &[String],
    product_price: Option<&Value>,
    product_retail: Option<&Value>,
    lk: &Lookups,
) {
    let mut options = Map::new();
    for ov in vm
        .get("option_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(l)) = (
            ov.get("option_display_name").and_then(Value::as_str),
            ov.get("label").and_then(Value::as_str),
        ) {
            options.insert(n.to_string(), Value::String(l.to_string()));
        }
    }
    for (i, n) in option_names.iter().enumerate() {
        let value = options.get(n).cloned().unwrap_or(Value::Null);
        vm.insert(format!("option_{}_name", i + 1), Value::String(n.clone()));
        vm.insert(format!("option_{}_value", i + 1), value);
    }
    vm.insert("options".into(), Value::Object(options));

    let regular = vm
        .get("price")
        .filter(|p| p.is_number())
        .or(product_price)
        .cloned();
    let retail = vm
        .get("retail_price")
        .filter(|p| num(Some(p)).is_some_and(|f| f > 0.0))
        .or(product_retail)
        .cloned();
    let paid = num(vm.get("calculated_price")).or_else(|| num(regular.as_ref()));
    let above = |v: &Option<Value>| match (num(v.as_ref()), paid) {
        (Some(x), Some(p)) => x > p,
        _ => false,
    };
    let was = if above(&regular) {
        regular.clone()
    } else if above(&retail) {
        retail
    } else {
        None
    };
    vm.insert("regular_price".into(), regular.unwrap_or(Value::Null));
    vm.insert("was_price".into(), was.unwrap_or(Value::Null));

    let (metafields, marker) =
        metafield_fields(id_of(vm, "id").and_then(|v| lk.variant_metafields.get(&v)));
    vm.insert("metafields".into(), metafields);
    vm.insert("mapsync_key".into(), marker);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(values: Value) -> Options {
        let Value::Object(m) = values else {
            panic!("an object")
        };
        Options::new(mapsync_config::connector::Role::Source, "p", ".", m)
    }

    #[test]
    fn settings_read_the_options() {
        let s = SourceSettings::from_options(&options(json!({"type": "bigcommerce",
            "page_size": 10, "metafields": false, "incremental": {"overlap": "10m"}})))
        .unwrap();
        assert_eq!(s.page_size, 10);
        assert!(!s.metafields);
        assert_eq!(
            s.incremental,
            Some(Incremental {
                overlap: Duration::from_secs(600),
                full_every: DEFAULT_FULL_EVERY
            })
        );
        let e = SourceSettings::from_options(&options(json!({"page_size": 300}))).unwrap_err();
        assert!(e.to_string().contains("source.page_size"), "{e}");
        let e = SourceSettings::from_options(&options(json!({"incremental": {"every": "1h"}})))
            .unwrap_err();
        assert!(e.to_string().contains("unknown key `every`"), "{e}");
    }

    #[test]
    fn an_odd_product_is_an_invalid_item_not_a_panic() {
        let lk = Lookups::default();
        assert!(product_fields(json!([1]), &lk)
            .unwrap_err()
            .contains("a list"));
        assert!(product_fields(json!({"name": "x"}), &lk)
            .unwrap_err()
            .contains("no numeric `id`"));
        assert!(product_fields(json!({"id": 1, "variants": "x"}), &lk)
            .unwrap_err()
            .contains("`variants` is a string"));
        // Odd elements inside lists are skipped.
        let f = product_fields(
            json!({"id": 1, "images": [1, {"id": 2, "image_url": "u"}],
                "custom_fields": [{"name": "a"}, {"name": "b", "value": "1"}, {"name": "b", "value": "2"}],
                "variants": [null, {"id": 3, "option_values": "x"}]}),
            &lk,
        )
        .unwrap();
        assert_eq!(f["image_urls"], json!(["u"]));
        assert_eq!(f["custom_fields"], json!({"b": ["1", "2"]}));
        assert_eq!(f["variants"][0]["options"], json!({}));
    }

    #[test]
    fn was_price_is_the_crossed_out_price() {
        let lk = Lookups::default();
        let f = product_fields(
            json!({"id": 1, "price": 20, "retail_price": 30, "variants": [
                {"id": 1, "price": null, "calculated_price": 20},
                {"id": 2, "price": 25, "sale_price": 15, "calculated_price": 15},
                {"id": 3, "price": 40, "calculated_price": 40}]}),
            &lk,
        )
        .unwrap();
        let v = &f["variants"];
        assert_eq!(
            (&v[0]["regular_price"], &v[0]["was_price"]),
            (&json!(20), &json!(30))
        );
        assert_eq!(
            (&v[1]["regular_price"], &v[1]["was_price"]),
            (&json!(25), &json!(25))
        );
        assert_eq!(
            (&v[2]["regular_price"], &v[2]["was_price"]),
            (&json!(40), &Value::Null)
        );
    }
}
