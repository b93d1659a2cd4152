//! The records of the emulated PIM: categories and products as the seed
//! gave them (JSON objects, kept field for field), each with the
//! `LastUpdated` the PIM maintains, products with their images (ids,
//! positions); the seed and state file formats; paging, the
//! `updated_since` filter and field filters; the write-back log; and the
//! store API's writes (create with an assigned key, update, delete). Must
//! not speak HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The most records (categories and products together) a store holds.
pub const MAX_RECORDS: usize = 2_000_000;
/// The largest page.
pub const MAX_PER_PAGE: usize = 100;
/// The page size when the request names none.
pub const DEFAULT_PER_PAGE: usize = 50;
/// The most images of one product.
pub const MAX_IMAGES: usize = 250;
/// The most items of one batch write-back.
pub const MAX_BATCH: usize = 100;
/// The field the PIM maintains on every record.
pub const LAST_UPDATED: &str = "LastUpdated";
/// The field that carries a product's images in seeds, snapshots and
/// `include=images` answers.
pub const IMAGES: &str = "Images";

/// The two kinds of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Category,
    Product,
}

impl Entity {
    /// The collection name in paths and seeds.
    pub fn plural(self) -> &'static str {
        match self {
            Entity::Category => "categories",
            Entity::Product => "products",
        }
    }

    /// For messages.
    pub fn singular(self) -> &'static str {
        match self {
            Entity::Category => "category",
            Entity::Product => "product",
        }
    }
}

/// An RFC 3339 time in UTC, the form the PIM answers.
pub fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parse an RFC 3339 time; a space where a `+` was (an unencoded `+` in a
/// query string) is read as `+`.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim().replace(' ', "+");
    OffsetDateTime::parse(&s, &Rfc3339).ok()
}

/// One image of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: u64,
    pub url: String,
    /// Other fields the image was given (`alt`, ...), kept as they are.
    pub extra: Map<String, Value>,
}

impl Image {
    /// `{"id", "url", "position", ...}`; positions are 1-based.
    pub fn render(&self, position: usize) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("url".into(), json!(self.url));
        m.insert("position".into(), json!(position));
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    }
}

/// One category or product.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub key: String,
    /// The fields as given (with the key field), without `LastUpdated`
    /// and, for products, without `Images`.
    pub fields: Map<String, Value>,
    pub updated: OffsetDateTime,
    /// Products only, in position order.
    pub images: Vec<Image>,
}

impl Record {
    /// The record as the API answers it: its fields, `LastUpdated`, and
    /// with `images` its `Images`.
    pub fn render(&self, images: bool) -> Value {
        let mut m = self.fields.clone();
        m.insert(LAST_UPDATED.into(), json!(fmt_time(self.updated)));
        if images {
            m.insert(
                IMAGES.into(),
                Value::Array(
                    self.images
                        .iter()
                        .enumerate()
                        .map(|(i, im)| im.render(i + 1))
                        .collect(),
                ),
            );
        }
        Value::Object(m)
    }
}

/// The records of one entity, sorted by key (byte order).
#[derive(Debug, Clone)]
pub struct Table {
    pub entity: Entity,
    pub key_field: String,
    records: Vec<Record>,
}

impl Table {
    pub fn new(entity: Entity, key_field: &str) -> Self {
        Table {
            entity,
            key_field: key_field.to_string(),
            records: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.records.binary_search_by(|r| r.key.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Record> {
        self.find(key).ok().map(|i| &self.records[i])
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Record> {
        self.find(key).ok().map(|i| &mut self.records[i])
    }

    /// Insert or replace by key.
    pub fn put(&mut self, record: Record) {
        match self.find(&record.key) {
            Ok(i) => self.records[i] = record,
            Err(i) => self.records.insert(i, record),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Record> {
        self.find(key).ok().map(|i| self.records.remove(i))
    }

    /// How many records changed at or after `since` (all without it).
    pub fn count(&self, since: Option<OffsetDateTime>) -> usize {
        self.count_where(since, &[])
    }

    /// How many records changed at or after `since` and have the field
    /// values of `fields`.
    pub fn count_where(&self, since: Option<OffsetDateTime>, fields: &[(String, String)]) -> usize {
        if since.is_none() && fields.is_empty() {
            return self.records.len();
        }
        self.records
            .iter()
            .filter(|r| matches(r, since, fields))
            .count()
    }

    /// One page of the records that changed at or after `since`, from
    /// `start`, at most `size`.
    pub fn page(&self, since: Option<OffsetDateTime>, start: Start<'_>, size: usize) -> Page<'_> {
        self.page_where(since, &[], start, size)
    }

    /// One page of the records that changed at or after `since` and have
    /// the field values of `fields` (`(name, value)`: the field's text,
    /// a number or boolean as written in JSON, equals the value), from
    /// `start`, at most `size`.
    pub fn page_where(
        &self,
        since: Option<OffsetDateTime>,
        fields: &[(String, String)],
        start: Start<'_>,
        size: usize,
    ) -> Page<'_> {
        let hit = |r: &Record| matches(r, since, fields);
        let all = since.is_none() && fields.is_empty();
        let total = self.count_where(since, fields);
        // Index of the first record to consider, and the number of
        // matching records before it.
        let (from, offset) = match start {
            Start::Offset(n) => {
                if all {
                    (n.min(self.records.len()), n)
                } else {
                    let mut seen = 0;
                    let mut idx = self.records.len();
                    for (i, r) in self.records.iter().enumerate() {
                        if hit(r) {
                            if seen == n {
                                idx = i;
                                break;
                            }
                            seen += 1;
                        }
                    }
                    (idx, n)
                }
            }
            Start::After(key) => {
                let idx = match self.find(key) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                let before = if all {
                    idx
                } else {
                    self.records[..idx].iter().filter(|r| hit(r)).count()
                };
                (idx, before)
            }
        };
        let mut items = Vec::with_capacity(size.min(MAX_PER_PAGE));
        let mut more = false;
        for r in self.records[from.min(self.records.len())..]
            .iter()
            .filter(|r| hit(r))
        {
            if items.len() == size {
                more = true;
                break;
            }
            items.push(r);
        }
        Page {
            items,
            total,
            offset,
            more,
        }
    }
}

/// Whether a record changed at or after `since` and has the field values
/// of `fields`.
fn matches(r: &Record, since: Option<OffsetDateTime>, fields: &[(String, String)]) -> bool {
    since.is_none_or(|s| r.updated >= s)
        && fields.iter().all(|(name, want)| match r.fields.get(name) {
            Some(Value::String(s)) => s == want,
            Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                serde_json::from_str::<Value>(want).is_ok_and(|w| w == *v)
            }
            _ => false,
        })
}

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// After this many matching records.
    Offset(usize),
    /// After the record with this key (keyset cursor).
    After(&'a str),
}

/// One page of records.
#[derive(Debug)]
pub struct Page<'a> {
    pub items: Vec<&'a Record>,
    /// Matching records in all.
    pub total: usize,
    /// Matching records before this page.
    pub offset: usize,
    /// Whether a record follows this page.
    pub more: bool,
}

/// One key's write-backs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WritebackEntry {
    /// Write-backs to this key.
    pub count: u64,
    /// Every field ever written back to this key, with its last value.
    pub fields: Map<String, Value>,
    /// The fields of the last write-back.
    pub last: Map<String, Value>,
    /// When the last one arrived (PIM clock).
    pub at: String,
}

/// Every write-back the PIM took (`GET /__sandbox/writebacks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WritebackLog {
    /// Write-backs applied (each item of a batch counts once).
    pub count: u64,
    pub categories: BTreeMap<String, WritebackEntry>,
    pub products: BTreeMap<String, WritebackEntry>,
}

impl WritebackLog {
    pub fn of(&self, entity: Entity) -> &BTreeMap<String, WritebackEntry> {
        match entity {
            Entity::Category => &self.categories,
            Entity::Product => &self.products,
        }
    }

    fn record(&mut self, entity: Entity, key: &str, fields: &Map<String, Value>, at: &str) {
        self.count += 1;
        let map = match entity {
            Entity::Category => &mut self.categories,
            Entity::Product => &mut self.products,
        };
        let e = map.entry(key.to_string()).or_default();
        e.count += 1;
        for (k, v) in fields {
            e.fields.insert(k.clone(), v.clone());
        }
        e.last = fields.clone();
        e.at = at.to_string();
    }
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// Stable code (`not_found`, `read_only_field`, `invalid_field`, ...).
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl Refused {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Refused {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    fn field(mut self, f: &str) -> Self {
        self.field = Some(f.to_string());
        self
    }

    /// The JSON error body.
    pub fn body(&self) -> Value {
        let mut b = json!({"error": self.code, "message": self.message});
        if let Some(f) = &self.field {
            b["field"] = json!(f);
        }
        b
    }
}

/// The whole PIM.
#[derive(Debug, Clone)]
pub struct PimStore {
    pub categories: Table,
    pub products: Table,
    pub next_image_id: u64,
    /// The next key the store API assigns to a record created without one.
    pub next_record_id: u64,
    /// Image id → product key.
    image_owner: HashMap<u64, String>,
    pub writebacks: WritebackLog,
    /// Bumped by every change (persistence writes when it moved).
    pub version: u64,
}

/// The key field names.
#[derive(Debug, Clone)]
pub struct Keys {
    pub category: String,
    pub product: String,
}

impl PimStore {
    /// An empty PIM.
    pub fn empty(keys: &Keys) -> Self {
        PimStore {
            categories: Table::new(Entity::Category, &keys.category),
            products: Table::new(Entity::Product, &keys.product),
            next_image_id: 1,
            next_record_id: 1,
            image_owner: HashMap::new(),
            writebacks: WritebackLog::default(),
            version: 0,
        }
    }

    pub fn table(&self, e: Entity) -> &Table {
        match e {
            Entity::Category => &self.categories,
            Entity::Product => &self.products,
        }
    }

    fn table_mut(&mut self, e: Entity) -> &mut Table {
        match e {
            Entity::Category => &mut self.categories,
            Entity::Product => &mut self.products,
        }
    }

    /// Records of both entities.
    pub fn records(&self) -> usize {
        self.categories.len() + self.products.len()
    }

    /// Images of all products.
    pub fn image_count(&self) -> usize {
        self.image_owner.len()
    }

    /// Read a catalog — a seed (`{"categories": [...], "products":
    /// [...]}`), a snapshot or a state file. Records without `LastUpdated`
    /// get `now`; images without an id get the next free one, in order.
    pub fn from_catalog(
        value: &Value,
        keys: &Keys,
        now: OffsetDateTime,
        max_records: usize,
    ) -> Result<Self, String> {
        let top = value
            .as_object()
            .ok_or("a catalog is a JSON object {\"categories\": [...], \"products\": [...]}")?;
        let list = |name: &str| -> Result<&[Value], String> {
            match top.get(name) {
                None | Some(Value::Null) => Ok(&[]),
                Some(Value::Array(a)) => Ok(a.as_slice()),
                Some(_) => Err(format!("\"{name}\" must be a list of records")),
            }
        };
        let (cats, prods) = (list("categories")?, list("products")?);
        if cats.len() + prods.len() > max_records {
            return Err(format!(
                "the catalog has {} records; the PIM sandbox holds at most {max_records}",
                cats.len() + prods.len()
            ));
        }
        let mut st = PimStore::empty(keys);
        // Image ids given in the catalog are kept; the others come after
        // the largest.
        let given_max = prods
            .iter()
            .filter_map(|p| p.get(IMAGES)?.as_array())
            .flatten()
            .filter_map(|im| im.get("id")?.as_u64())
            .max()
            .unwrap_or(0);
        st.next_image_id = top
            .get("next_image_id")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(given_max + 1);
        for (entity, items) in [(Entity::Category, cats), (Entity::Product, prods)] {
            let mut records = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                let at = format!("{}[{i}]", entity.plural());
                let r = st
                    .parse_record(entity, v, now)
                    .map_err(|e| format!("{at}: {e}"))?;
                records.push(r);
            }
            records.sort_by(|a, b| a.key.cmp(&b.key));
            if let Some(w) = records.windows(2).find(|w| w[0].key == w[1].key) {
                return Err(format!(
                    "{}: two records have the key '{}'",
                    entity.plural(),
                    w[0].key
                ));
            }
            st.table_mut(entity).records = records;
        }
        // Assigned keys come after every numeric key of the catalog.
        let numeric_max = st
            .categories
            .iter()
            .chain(st.products.iter())
            .filter_map(|r| r.key.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        st.next_record_id = top
            .get("next_record_id")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(numeric_max.saturating_add(1));
        st.image_owner.clear();
        for p in st.products.iter() {
            for im in &p.images {
                if st.image_owner.insert(im.id, p.key.clone()).is_some() {
                    return Err(format!("two images have the id {}", im.id));
                }
            }
        }
        if let Some(log) = top.get("writebacks") {
            st.writebacks =
                serde_json::from_value(log.clone()).map_err(|e| format!("writebacks: {e}"))?;
        }
        Ok(st)
    }

    /// One record of a catalog; assigns ids to new images.
    fn parse_record(
        &mut self,
        entity: Entity,
        v: &Value,
        now: OffsetDateTime,
    ) -> Result<Record, String> {
        let Value::Object(m) = v else {
            return Err("a record is a JSON object".into());
        };
        let key_field = self.table(entity).key_field.clone();
        let key = key_of(m.get(&key_field))
            .ok_or_else(|| format!("no {key_field} (a non-empty text or a number)"))?;
        let mut fields = m.clone();
        let updated = match fields.shift_remove(LAST_UPDATED) {
            None | Some(Value::Null) => now,
            Some(Value::String(s)) => parse_time(&s)
                .ok_or_else(|| format!("{LAST_UPDATED} '{s}' is not an RFC 3339 time"))?,
            Some(_) => return Err(format!("{LAST_UPDATED} must be an RFC 3339 time")),
        };
        let images = match entity {
            Entity::Product => match fields.shift_remove(IMAGES) {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => self.parse_images(&v)?,
            },
            Entity::Category => Vec::new(),
        };
        Ok(Record {
            key,
            fields,
            updated,
            images,
        })
    }

    /// `Images`: a list of URLs or of objects `{url, position?, id?, ...}`
    /// (one URL alone is a list of one), ordered by position.
    fn parse_images(&mut self, v: &Value) -> Result<Vec<Image>, String> {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::String(_) => vec![v],
            _ => return Err(format!("{IMAGES} must be a list of URLs or image objects")),
        };
        if items.len() > MAX_IMAGES {
            return Err(format!(
                "{} images; a product has at most {MAX_IMAGES}",
                items.len()
            ));
        }
        let mut out: Vec<(u64, Image)> = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let (url, position, id, extra) = match item {
                Value::String(s) => (s.clone(), None, None, Map::new()),
                Value::Object(m) => {
                    let mut extra = m.clone();
                    let url = match extra.shift_remove("url") {
                        Some(Value::String(s)) => s,
                        _ => return Err(format!("{IMAGES}[{i}] has no url")),
                    };
                    let position = match extra.shift_remove("position") {
                        None | Some(Value::Null) => None,
                        Some(p) => Some(p.as_u64().filter(|p| *p >= 1).ok_or_else(|| {
                            format!("{IMAGES}[{i}].position must be a positive integer")
                        })?),
                    };
                    let id = match extra.shift_remove("id") {
                        None | Some(Value::Null) => None,
                        Some(p) => Some(p.as_u64().filter(|p| *p >= 1).ok_or_else(|| {
                            format!("{IMAGES}[{i}].id must be a positive integer")
                        })?),
                    };
                    extra.shift_remove("product_id");
                    (url, position, id, extra)
                }
                _ => return Err(format!("{IMAGES}[{i}] must be a URL or an image object")),
            };
            if url.trim().is_empty() {
                return Err(format!("{IMAGES}[{i}] has an empty url"));
            }
            let id = match id {
                Some(id) => id,
                None => {
                    let id = self.next_image_id;
                    self.next_image_id += 1;
                    id
                }
            };
            out.push((position.unwrap_or(i as u64 + 1), Image { id, url, extra }));
        }
        out.sort_by_key(|(p, _)| *p);
        Ok(out.into_iter().map(|(_, im)| im).collect())
    }

    /// The whole catalog, records as stored (products with their images).
    pub fn snapshot(&self) -> Value {
        json!({
            "categories": self.categories.iter().map(|r| r.render(false)).collect::<Vec<_>>(),
            "products": self.products.iter().map(|r| r.render(true)).collect::<Vec<_>>(),
        })
    }

    /// The state file: the snapshot, the next image id and the write-back
    /// log.
    pub fn state_json(&self) -> Value {
        let mut v = self.snapshot();
        v["format"] = json!("mapsync-pim-sandbox");
        v["version"] = json!(1);
        v["next_image_id"] = json!(self.next_image_id);
        v["next_record_id"] = json!(self.next_record_id);
        v["writebacks"] = serde_json::to_value(&self.writebacks).unwrap_or_default();
        v
    }

    fn bump(&mut self) {
        self.version += 1;
    }

    /// Check the fields of a write-back: the key, `LastUpdated` and
    /// `Images` are not written this way.
    pub fn check_writeback(
        &self,
        entity: Entity,
        fields: &Map<String, Value>,
    ) -> Result<(), Refused> {
        let key_field = &self.table(entity).key_field;
        for f in fields.keys() {
            if f == key_field || f == LAST_UPDATED || (entity == Entity::Product && f == IMAGES) {
                let why = if f == IMAGES {
                    "images change through the images API"
                } else if f == LAST_UPDATED {
                    "the PIM maintains it"
                } else {
                    "it is the record's key"
                };
                return Err(Refused::new(
                    422,
                    "read_only_field",
                    format!("{f} cannot be written back: {why}"),
                )
                .field(f));
            }
        }
        Ok(())
    }

    /// A write-back: merge `fields` into the record (shallow: each field
    /// replaced as a whole, `null` stored as `null`), record it; the
    /// record's `LastUpdated` stays.
    pub fn writeback(
        &mut self,
        entity: Entity,
        key: &str,
        fields: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Value, Refused> {
        self.check_writeback(entity, fields)?;
        let r = self.table_mut(entity).get_mut(key).ok_or_else(|| {
            Refused::new(
                404,
                "not_found",
                format!("no {} with the key '{key}'", entity.singular()),
            )
        })?;
        for (k, v) in fields {
            r.fields.insert(k.clone(), v.clone());
        }
        let out = r.render(false);
        self.writebacks.record(entity, key, fields, &fmt_time(now));
        self.bump();
        Ok(out)
    }

    /// An edit by a PIM user: merge `fields` (a `null` removes the field;
    /// `Images` replaces the product's images), bump `LastUpdated`;
    /// creates the record when the key is new. Returns the record and
    /// whether it was created.
    pub fn edit(
        &mut self,
        entity: Entity,
        key: &str,
        fields: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<(Value, bool), Refused> {
        let key_field = self.table(entity).key_field.clone();
        if let Some(v) = fields.get(&key_field) {
            if key_of(Some(v)).as_deref() != Some(key) {
                return Err(Refused::new(
                    422,
                    "read_only_field",
                    format!("{key_field} is the record's key; it cannot change"),
                )
                .field(&key_field));
            }
        }
        if fields.contains_key(LAST_UPDATED) {
            return Err(Refused::new(
                422,
                "read_only_field",
                format!("{LAST_UPDATED} is maintained by the PIM"),
            )
            .field(LAST_UPDATED));
        }
        let new_images = match (entity, fields.get(IMAGES)) {
            (Entity::Product, Some(v)) if !v.is_null() => {
                // Ids of this product's images are kept; any other id is
                // replaced by a new one (ids are unique in the PIM).
                let own: HashSet<u64> = self
                    .products
                    .get(key)
                    .map(|p| p.images.iter().map(|im| im.id).collect())
                    .unwrap_or_default();
                let mut v = v.clone();
                if let Value::Array(items) = &mut v {
                    for item in items {
                        if let Value::Object(m) = item {
                            if m.get("id")
                                .and_then(Value::as_u64)
                                .is_none_or(|id| !own.contains(&id))
                            {
                                m.shift_remove("id");
                            }
                        }
                    }
                }
                let ims = self
                    .parse_images(&v)
                    .map_err(|e| Refused::new(422, "invalid_field", e).field(IMAGES))?;
                let mut seen = HashSet::new();
                if !ims.iter().all(|im| seen.insert(im.id)) {
                    return Err(
                        Refused::new(422, "invalid_field", "two images have the same id")
                            .field(IMAGES),
                    );
                }
                Some(ims)
            }
            (Entity::Product, Some(_)) => Some(Vec::new()),
            _ => None,
        };
        let created = self.table(entity).get(key).is_none();
        if created && self.records() >= MAX_RECORDS {
            return Err(Refused::new(
                422,
                "too_many_records",
                format!("the PIM sandbox holds at most {MAX_RECORDS} records"),
            ));
        }
        let mut r = self.table(entity).get(key).cloned().unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert(key_field.clone(), json!(key));
            Record {
                key: key.to_string(),
                fields: m,
                updated: now,
                images: Vec::new(),
            }
        });
        for (k, v) in fields {
            if entity == Entity::Product && k == IMAGES {
                continue;
            }
            if v.is_null() {
                r.fields.shift_remove(k);
            } else {
                r.fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(ims) = new_images {
            for old in &r.images {
                self.image_owner.remove(&old.id);
            }
            for im in &ims {
                self.image_owner.insert(im.id, key.to_string());
            }
            r.images = ims;
        }
        r.updated = now;
        let out = r.render(entity == Entity::Product);
        self.table_mut(entity).put(r);
        self.bump();
        Ok((out, created))
    }

    /// The store API's create: the record's key is its key field in
    /// `fields`, or the next free number (set in the key field, as a
    /// number); a key taken is a 409. Otherwise as [`PimStore::edit`].
    pub fn create(
        &mut self,
        entity: Entity,
        fields: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<(String, Value), Refused> {
        let key_field = self.table(entity).key_field.clone();
        let mut fields = fields.clone();
        let key = match fields.get(&key_field) {
            None | Some(Value::Null) => {
                let mut n = self.next_record_id;
                while self.table(entity).get(&n.to_string()).is_some() {
                    n += 1;
                }
                fields.insert(key_field.clone(), json!(n));
                n.to_string()
            }
            Some(v) => key_of(Some(v)).ok_or_else(|| {
                Refused::new(
                    422,
                    "invalid_field",
                    format!("{key_field} must be a non-empty text or a number"),
                )
                .field(&key_field)
            })?,
        };
        if self.table(entity).get(&key).is_some() {
            return Err(Refused::new(
                409,
                "conflict",
                format!("a {} with the key '{key}' exists", entity.singular()),
            )
            .field(&key_field));
        }
        let (record, _) = self.edit(entity, &key, &fields, now)?;
        if let Ok(n) = key.parse::<u64>() {
            self.next_record_id = self.next_record_id.max(n.saturating_add(1));
        }
        Ok((key, record))
    }

    /// The store API's update: as [`PimStore::edit`] (fields merged, a
    /// `null` removes one, `Images` replaces the images), but only of a
    /// record that exists.
    pub fn update(
        &mut self,
        entity: Entity,
        key: &str,
        fields: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Value, Refused> {
        if self.table(entity).get(key).is_none() {
            return Err(Refused::new(
                404,
                "not_found",
                format!("no {} with the key '{key}'", entity.singular()),
            ));
        }
        self.edit(entity, key, fields, now)
            .map(|(record, _)| record)
    }

    /// A PIM user deletes a record (and the store API's delete).
    pub fn delete(&mut self, entity: Entity, key: &str) -> bool {
        match self.table_mut(entity).remove(key) {
            Some(r) => {
                for im in &r.images {
                    self.image_owner.remove(&im.id);
                }
                self.bump();
                true
            }
            None => false,
        }
    }

    fn product_mut(&mut self, key: &str) -> Result<&mut Record, Refused> {
        self.products.get_mut(key).ok_or_else(|| {
            Refused::new(404, "not_found", format!("no product with the key '{key}'"))
        })
    }

    /// The images of a product, with `product_id`.
    pub fn images_of(&self, key: &str) -> Result<Vec<Value>, Refused> {
        let p = self.products.get(key).ok_or_else(|| {
            Refused::new(404, "not_found", format!("no product with the key '{key}'"))
        })?;
        Ok(p.images
            .iter()
            .enumerate()
            .map(|(i, im)| with_product(im.render(i + 1), key))
            .collect())
    }

    /// One image, with `product_id`.
    pub fn image(&self, id: u64) -> Result<Value, Refused> {
        let key = self.image_owner.get(&id).ok_or_else(|| no_image(id))?;
        let p = self.products.get(key).ok_or_else(|| no_image(id))?;
        let (i, im) = p
            .images
            .iter()
            .enumerate()
            .find(|(_, im)| im.id == id)
            .ok_or_else(|| no_image(id))?;
        Ok(with_product(im.render(i + 1), key))
    }

    /// Add an image to a product (`{url, position?, ...}`): at `position`
    /// (1-based; the others move down), at the end without it.
    pub fn add_image(
        &mut self,
        key: &str,
        body: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Value, Refused> {
        let (url, position, extra) = image_input(body, true)?;
        let id = self.next_image_id;
        let p = self.product_mut(key)?;
        if p.images.len() >= MAX_IMAGES {
            return Err(Refused::new(
                422,
                "too_many_images",
                format!("a product has at most {MAX_IMAGES} images"),
            ));
        }
        let at = position
            .map(|p| p - 1)
            .unwrap_or(usize::MAX)
            .min(p.images.len());
        p.images.insert(
            at,
            Image {
                id,
                url: url.unwrap_or_default(),
                extra,
            },
        );
        p.updated = now;
        self.next_image_id += 1;
        self.image_owner.insert(id, key.to_string());
        self.bump();
        self.image(id)
    }

    /// Overwrite an image (`{url?, position?, ...}`): a new URL, a new
    /// position, other fields replaced.
    pub fn put_image(
        &mut self,
        id: u64,
        body: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Value, Refused> {
        let (url, position, extra) = image_input(body, false)?;
        let key = self
            .image_owner
            .get(&id)
            .cloned()
            .ok_or_else(|| no_image(id))?;
        let p = self.product_mut(&key)?;
        let i = p
            .images
            .iter()
            .position(|im| im.id == id)
            .ok_or_else(|| no_image(id))?;
        let mut im = p.images.remove(i);
        if let Some(u) = url {
            im.url = u;
        }
        for (k, v) in extra {
            im.extra.insert(k, v);
        }
        let at = position.map(|p| p - 1).unwrap_or(i).min(p.images.len());
        p.images.insert(at, im);
        p.updated = now;
        self.bump();
        self.image(id)
    }

    /// Delete an image; the images after it move up.
    pub fn delete_image(&mut self, id: u64, now: OffsetDateTime) -> Result<(), Refused> {
        let key = self
            .image_owner
            .get(&id)
            .cloned()
            .ok_or_else(|| no_image(id))?;
        let p = self.product_mut(&key)?;
        p.images.retain(|im| im.id != id);
        p.updated = now;
        self.image_owner.remove(&id);
        self.bump();
        Ok(())
    }

    /// Replace everything with `other` (seed, reset), keeping the version
    /// moving.
    pub fn replace(&mut self, other: PimStore) {
        let v = self.version;
        *self = other;
        self.version = v + 1;
    }
}

fn no_image(id: u64) -> Refused {
    Refused::new(404, "not_found", format!("no image with the id {id}"))
}

fn with_product(mut v: Value, key: &str) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("product_id".into(), json!(key));
    }
    v
}

/// The url, position and other fields of an image body.
type ImageInput = (Option<String>, Option<usize>, Map<String, Value>);

fn image_input(body: &Map<String, Value>, url_required: bool) -> Result<ImageInput, Refused> {
    let mut extra = body.clone();
    for f in ["id", "product_id"] {
        extra.shift_remove(f);
    }
    let url = match extra.shift_remove("url") {
        Some(Value::String(s)) if is_http_url(&s) => Some(s),
        None | Some(Value::Null) if !url_required => None,
        _ => {
            return Err(
                Refused::new(422, "invalid_field", "url must be an http or https URL").field("url"),
            )
        }
    };
    let position = match extra.shift_remove("position") {
        None | Some(Value::Null) => None,
        Some(v) => {
            // "2" is taken as 2: templates render numbers as text.
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match n {
                Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => {
                    return Err(Refused::new(
                        422,
                        "invalid_field",
                        "position must be a positive integer (1 is the first image)",
                    )
                    .field("position"))
                }
            }
        }
    };
    Ok((url, position, extra))
}

fn is_http_url(s: &str) -> bool {
    let s = s.trim();
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

/// A record's key: a non-empty text, or a number written as text.
pub fn key_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct(keys: &[String]) -> bool {
        keys.iter().collect::<HashSet<_>>().len() == keys.len()
    }

    fn keys() -> Keys {
        Keys {
            category: "CategoryId".into(),
            product: "ItemNo".into(),
        }
    }

    fn t(s: &str) -> OffsetDateTime {
        parse_time(s).unwrap()
    }

    fn store(n: usize) -> PimStore {
        let products: Vec<Value> = (0..n)
            .map(|i| {
                json!({"ItemNo": format!("P-{i:04}"), "Name": format!("Product {i}"),
                       "LastUpdated": if i % 2 == 0 { "2026-01-01T00:00:00Z" } else { "2026-02-01T00:00:00+01:00" },
                       "Images": [{"url": format!("https://img.example/{i}-1.jpg"), "position": 2}, {"url": format!("https://img.example/{i}-0.jpg"), "position": 1, "alt": "front"}]})
            })
            .collect();
        PimStore::from_catalog(
            &json!({"categories": [{"CategoryId": 7, "Name": "Seven"}], "products": products}),
            &keys(),
            t("2026-03-01T00:00:00Z"),
            MAX_RECORDS,
        )
        .unwrap()
    }

    #[test]
    fn a_catalog_is_read_with_times_keys_and_images() {
        let st = store(3);
        assert_eq!(
            st.categories.get("7").unwrap().updated,
            t("2026-03-01T00:00:00Z")
        );
        let p = st.products.get("P-0001").unwrap();
        assert_eq!(fmt_time(p.updated), "2026-01-31T23:00:00Z");
        // Ordered by position; ids in catalog order.
        let r = p.render(true);
        assert_eq!(r["Images"][0]["url"], "https://img.example/1-0.jpg");
        assert_eq!(r["Images"][0]["alt"], "front");
        assert_eq!(r["Images"][0]["position"], 1);
        assert_eq!(r["Images"][1]["position"], 2);
        assert_eq!(st.image_count(), 6);
        assert!(p.render(false).get("Images").is_none());
        // A snapshot reads back as the same store.
        let back = PimStore::from_catalog(
            &st.state_json(),
            &keys(),
            OffsetDateTime::now_utc(),
            MAX_RECORDS,
        )
        .unwrap();
        assert_eq!(back.snapshot(), st.snapshot());
        assert_eq!(back.next_image_id, st.next_image_id);
    }

    #[test]
    fn bad_catalogs_are_refused() {
        let now = OffsetDateTime::now_utc();
        let bad = |v: Value| PimStore::from_catalog(&v, &keys(), now, 3).unwrap_err();
        assert!(bad(json!([])).contains("JSON object"));
        assert!(bad(json!({"products": [{"Name": "x"}]})).contains("products[0]: no ItemNo"));
        assert!(bad(json!({"products": [{"ItemNo": "a"}, {"ItemNo": "a"}]})).contains("'a'"));
        assert!(
            bad(json!({"products": [{"ItemNo": "a", "LastUpdated": "yesterday"}]}))
                .contains("RFC 3339")
        );
        assert!(bad(json!({"products": [{"ItemNo": "a"}, {"ItemNo": "b"}, {"ItemNo": "c"}, {"ItemNo": "d"}]})).contains("at most 3"));
        assert!(bad(json!({"products": [{"ItemNo": "a", "Images": [{"id": 1, "url": "https://x/1"}]}, {"ItemNo": "b", "Images": [{"id": 1, "url": "https://x/2"}]}]})).contains("id 1"));
    }

    #[test]
    fn pages_cover_every_record_once() {
        let st = store(23);
        let since = Some(t("2026-01-15T00:00:00Z"));
        for filter in [None, since] {
            let want = st.products.count(filter);
            let mut by_offset = Vec::new();
            let mut o = 0;
            loop {
                let p = st.products.page(filter, Start::Offset(o), 5);
                assert_eq!(p.total, want);
                assert_eq!(p.offset, o);
                by_offset.extend(p.items.iter().map(|r| r.key.clone()));
                o += p.items.len();
                if !p.more {
                    break;
                }
            }
            let mut by_key = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let start = match &after {
                    Some(k) => Start::After(k),
                    None => Start::Offset(0),
                };
                let p = st.products.page(filter, start, 5);
                assert_eq!(p.offset, by_key.len());
                by_key.extend(p.items.iter().map(|r| r.key.clone()));
                if !p.more {
                    break;
                }
                after = Some(p.items.last().unwrap().key.clone());
            }
            assert_eq!(by_offset.len(), want);
            assert_eq!(by_offset, by_key);
            assert!(distinct(&by_key));
        }
        assert_eq!(st.products.count(since), 11);
    }

    #[test]
    fn writebacks_keep_last_updated_and_edits_bump_it() {
        let mut st = store(2);
        let before = st.products.get("P-0000").unwrap().updated;
        let now = t("2026-04-01T10:00:00Z");
        let f = json!({"ShopifyId": "gid://shopify/Product/1", "ShopifySyncMsg": ""});
        st.writeback(Entity::Product, "P-0000", f.as_object().unwrap(), now)
            .unwrap();
        assert_eq!(st.products.get("P-0000").unwrap().updated, before);
        assert_eq!(st.writebacks.count, 1);
        assert_eq!(
            st.writebacks.products["P-0000"].fields["ShopifyId"],
            "gid://shopify/Product/1"
        );
        let e = st
            .writeback(Entity::Product, "nope", f.as_object().unwrap(), now)
            .unwrap_err();
        assert_eq!((e.status, e.code), (404, "not_found"));
        let e = st
            .writeback(
                Entity::Product,
                "P-0000",
                json!({"ItemNo": "x"}).as_object().unwrap(),
                now,
            )
            .unwrap_err();
        assert_eq!((e.status, e.code), (422, "read_only_field"));
        let (_, created) = st
            .edit(
                Entity::Product,
                "P-0000",
                json!({"Name": "New"}).as_object().unwrap(),
                now,
            )
            .unwrap();
        assert!(!created);
        assert_eq!(st.products.get("P-0000").unwrap().updated, now);
        let (v, created) = st
            .edit(
                Entity::Product,
                "P-9999",
                json!({"Name": "Fresh", "Images": ["https://x/a.jpg"]})
                    .as_object()
                    .unwrap(),
                now,
            )
            .unwrap();
        assert!(created);
        assert_eq!(v["ItemNo"], "P-9999");
        assert_eq!(v["Images"][0]["url"], "https://x/a.jpg");
    }

    #[test]
    fn store_writes_assign_keys_and_filter() {
        let mut st = PimStore::from_catalog(
            &json!({"products": [{"id": 7, "title": "Seven", "external_id": "A"}]}),
            &Keys {
                category: "id".into(),
                product: "id".into(),
            },
            t("2026-03-01T00:00:00Z"),
            MAX_RECORDS,
        )
        .unwrap();
        assert_eq!(st.next_record_id, 8);
        let now = t("2026-04-01T10:00:00Z");
        let body = json!({"title": "New", "external_id": "B", "active": true});
        let (key, v) = st
            .create(Entity::Product, body.as_object().unwrap(), now)
            .unwrap();
        assert_eq!((key.as_str(), v["id"].clone()), ("8", json!(8)));
        let e = st
            .create(Entity::Product, json!({"id": 7}).as_object().unwrap(), now)
            .unwrap_err();
        assert_eq!((e.status, e.code), (409, "conflict"));
        let f = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let p = st
            .products
            .page_where(None, &f("external_id", "B"), Start::Offset(0), 10);
        assert_eq!((p.total, p.items[0].key.as_str()), (1, "8"));
        assert_eq!(st.products.count_where(None, &f("active", "true")), 1);
        assert_eq!(st.products.count_where(None, &f("external_id", "C")), 0);
        let v = st
            .update(
                Entity::Product,
                "8",
                json!({"title": "Newer", "active": null})
                    .as_object()
                    .unwrap(),
                now,
            )
            .unwrap();
        assert_eq!(v["title"], "Newer");
        assert!(v.get("active").is_none());
        let e = st
            .update(Entity::Product, "9", body.as_object().unwrap(), now)
            .unwrap_err();
        assert_eq!(e.status, 404);
        // The next key survives a state file.
        let back = PimStore::from_catalog(
            &st.state_json(),
            &Keys {
                category: "id".into(),
                product: "id".into(),
            },
            now,
            MAX_RECORDS,
        )
        .unwrap();
        assert_eq!(back.next_record_id, 9);
    }

    #[test]
    fn images_move_by_position() {
        let mut st = store(1);
        let now = t("2026-04-01T10:00:00Z");
        let add =
            |st: &mut PimStore, body: Value| st.add_image("P-0000", body.as_object().unwrap(), now);
        let a = add(&mut st, json!({"url": "https://x/a.jpg", "position": 1})).unwrap();
        assert_eq!(a["position"], 1);
        let b = add(&mut st, json!({"url": "https://x/b.jpg"})).unwrap();
        assert_eq!(b["position"], 4);
        let e = add(&mut st, json!({"url": "ftp://x"})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("url"));
        let id = b["id"].as_u64().unwrap();
        let moved = st
            .put_image(
                id,
                json!({"url": "https://x/c.jpg", "position": "2"})
                    .as_object()
                    .unwrap(),
                now,
            )
            .unwrap();
        assert_eq!(
            (moved["position"].clone(), moved["url"].clone()),
            (json!(2), json!("https://x/c.jpg"))
        );
        st.delete_image(a["id"].as_u64().unwrap(), now).unwrap();
        assert_eq!(st.image(id).unwrap()["position"], 1);
        assert_eq!(st.images_of("P-0000").unwrap().len(), 3);
        assert_eq!(st.delete_image(999, now).unwrap_err().status, 404);
    }
}
