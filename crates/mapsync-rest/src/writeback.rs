//! Write-back: SyncID / SyncDate / SyncMsg back to the source, by the
//! request templates of `writeback:`.
//!
//! * **Single** (no `batch:`): one request per item, `method` to the
//!   rendered `path`, with the rendered `body` — by default
//!   `{<fields.sync_id>: sync_id, <fields.sync_date>: sync_date,
//!   <fields.sync_msg>: sync_msg}`, only the fields the mapping names.
//! * **Batch**: up to `batch.size` items per request, `batch.method` to
//!   `batch.path`; each item is rendered with `batch.item` (default: the
//!   single body plus `key`), the body with `batch.body` over `items`
//!   (default: the list of items). With `batch.results`, the answer's list
//!   at that path says, in the order sent, which items failed; without it
//!   the request succeeds or fails for all its items.
//!
//! Template variables: `key`, `sync_id`, `sync_date`, `sync_msg`, `fields`
//! (`fields.sync_id`... the names the mapping gives, or none), `values`
//! (field values pulled from the target by two-way fields, by the source
//! path each goes to; the default body writes each at its path); in a
//! batch body, `items` and `fields`.

use std::sync::Arc;

use async_trait::async_trait;
use mapsync_core::source::{Entity, SourceWrite, WriteBack, WritebackFields, WrittenBack};
use reqwest::Method;
use serde_json::{json, Value};

use crate::error::RestError;
use crate::http::{Http, Request};
use crate::options::{BatchOptions, PerEntity, WritebackOptions};
use crate::paging;
use crate::template::{Shape, Templates, BODY_LIMIT, PATH_LIMIT};

/// The write side of a `rest` source.
#[derive(Debug)]
pub struct RestWriter {
    http: Arc<Http>,
    templates: Templates,
    category: Option<EntityWrite>,
    product: Option<EntityWrite>,
}

#[derive(Debug)]
struct EntityWrite {
    method: Method,
    path: String,
    body: Option<Shape>,
    batch: Option<Batch>,
}

#[derive(Debug)]
struct Batch {
    size: usize,
    method: Method,
    path: String,
    item: Option<Shape>,
    body: Option<Shape>,
    results: Option<Vec<String>>,
}

fn method(m: Option<&str>, field: &str) -> Result<Method, RestError> {
    match m.unwrap_or("PATCH").to_ascii_uppercase().as_str() {
        "PATCH" => Ok(Method::PATCH),
        "PUT" => Ok(Method::PUT),
        "POST" => Ok(Method::POST),
        other => Err(RestError::config(
            format!("`{field}` is `{other}`"),
            "write PATCH, PUT or POST",
        )),
    }
}

impl RestWriter {
    /// The writer for `options`, or `None` when no entity is written back.
    pub fn new(
        http: Arc<Http>,
        options: &PerEntity<WritebackOptions>,
    ) -> Result<Option<RestWriter>, RestError> {
        if options.category.is_none() && options.product.is_none() {
            return Ok(None);
        }
        let mut templates = Templates::new();
        let mut entity = |e: Entity| -> Result<Option<EntityWrite>, RestError> {
            let Some(o) = options.get(e) else {
                return Ok(None);
            };
            let name = format!("writeback.{e}");
            let m = method(o.method.as_deref(), &format!("{name}.method"))?;
            let path = templates.add_path(&format!("{name}.path"), &o.path)?;
            let body = o
                .body
                .as_ref()
                .map(|b| templates.add_shape(&format!("{name}.body"), b))
                .transpose()?;
            let batch = o
                .batch
                .as_ref()
                .map(|b| batch(&mut templates, &name, b, &m))
                .transpose()?;
            Ok(Some(EntityWrite {
                method: m,
                path,
                body,
                batch,
            }))
        };
        let category = entity(Entity::Category)?;
        let product = entity(Entity::Product)?;
        Ok(Some(RestWriter {
            http,
            templates,
            category,
            product,
        }))
    }

    fn entity(&self, e: Entity) -> Option<&EntityWrite> {
        match e {
            Entity::Category => self.category.as_ref(),
            Entity::Product => self.product.as_ref(),
        }
    }

    fn fields_value(fields: &WritebackFields) -> Value {
        json!({
            "sync_id": fields.sync_id,
            "sync_date": fields.sync_date,
            "sync_msg": fields.sync_msg,
        })
    }

    fn item_context(item: &WriteBack, fields: &WritebackFields) -> minijinja::Value {
        minijinja::Value::from_serialize(json!({
            "key": item.key,
            "sync_id": item.sync_id,
            "sync_date": item.sync_date,
            "sync_msg": item.sync_msg,
            "values": item.values,
            "fields": Self::fields_value(fields),
        }))
    }

    /// The default body: the named fields only; a dotted name
    /// (`Sync.Id`) is a nested object, as it reads in the record. A value
    /// the engine does not have (no SyncID after a failed create, no
    /// SyncDate for a failure) is left out, so the source keeps its own.
    fn default_body(item: &WriteBack, fields: &WritebackFields) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let (Some(f), Some(v)) = (&fields.sync_id, &item.sync_id) {
            insert_path(&mut m, f, json!(v));
        }
        if let (Some(f), Some(v)) = (&fields.sync_date, &item.sync_date) {
            insert_path(&mut m, f, json!(v));
        }
        if let Some(f) = &fields.sync_msg {
            insert_path(&mut m, f, json!(item.sync_msg));
        }
        for (path, value) in &item.values {
            insert_path(&mut m, path, value.clone());
        }
        m
    }

    fn render_path(&self, name: &str, ctx: &minijinja::Value) -> Result<url::Url, String> {
        let path = self.templates.render(name, ctx, PATH_LIMIT)?;
        let path = path.trim();
        if path.is_empty() || path.contains(char::is_whitespace) {
            return Err(format!(
                "the path template `{}` rendered `{}`, not a path",
                name.trim_end_matches(".path"),
                self.http.redactor().text(path)
            ));
        }
        self.http
            .url(path)
            .map_err(|e| e.message)
            .and_then(|u| {
                if self.http.same_origin(&u) {
                    Ok(u)
                } else {
                    Err(format!(
                        "the path template `{}` points at another server ({}); write-back goes to `base_url` only",
                        name.trim_end_matches(".path"),
                        self.http.redactor().url(&u)
                    ))
                }
            })
    }

    fn encode(&self, body: &Value) -> Result<Vec<u8>, String> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| format!("the body cannot be written: {e}"))?;
        if bytes.len() > BODY_LIMIT {
            return Err(format!("the body is larger than {BODY_LIMIT} bytes"));
        }
        Ok(bytes)
    }

    /// One item, one request.
    async fn single(
        &self,
        entity: Entity,
        w: &EntityWrite,
        fields: &WritebackFields,
        item: &WriteBack,
        requests: &mut u32,
    ) -> Result<(), String> {
        let ctx = Self::item_context(item, fields);
        let url = self.render_path(&w.path, &ctx)?;
        let body = match &w.body {
            Some(shape) => self.templates.eval(shape, &ctx)?,
            None => Value::Object(Self::default_body(item, fields)),
        };
        let req = Request {
            method: w.method.clone(),
            url,
            body: Some(self.encode(&body)?),
            content_type: None,
            what: format!("write-back of {entity} `{}`", item.key),
        };
        self.http
            .send(&req, requests)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// One batch request for `items`.
    async fn batch(
        &self,
        entity: Entity,
        b: &Batch,
        w: &EntityWrite,
        fields: &WritebackFields,
        items: &[WriteBack],
        requests: &mut u32,
    ) -> Vec<Result<(), String>> {
        let mut rendered = Vec::with_capacity(items.len());
        // Items whose template fails are left out of the request.
        let mut results: Vec<Option<Result<(), String>>> = vec![None; items.len()];
        let mut sent_index = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let ctx = Self::item_context(item, fields);
            let v = match (&b.item, &w.body) {
                (Some(shape), _) => self.templates.eval(shape, &ctx),
                (None, Some(shape)) => self.templates.eval(shape, &ctx).map(|v| match v {
                    Value::Object(mut m) => {
                        m.entry("key").or_insert_with(|| json!(item.key));
                        Value::Object(m)
                    }
                    other => other,
                }),
                (None, None) => {
                    let mut m = serde_json::Map::new();
                    m.insert("key".into(), json!(item.key));
                    m.extend(Self::default_body(item, fields));
                    Ok(Value::Object(m))
                }
            };
            match v {
                Ok(v) => {
                    rendered.push(v);
                    sent_index.push(i);
                }
                Err(e) => results[i] = Some(Err(e)),
            }
        }
        if !rendered.is_empty() {
            let outcome = self.send_batch(entity, b, fields, rendered, requests).await;
            match outcome {
                Ok(per_item) => {
                    for (slot, r) in sent_index.iter().zip(per_item) {
                        results[*slot] = Some(r);
                    }
                }
                Err(e) => {
                    for slot in &sent_index {
                        results[*slot] = Some(Err(e.clone()));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not sent".into())))
            .collect()
    }

    async fn send_batch(
        &self,
        entity: Entity,
        b: &Batch,
        fields: &WritebackFields,
        rendered: Vec<Value>,
        requests: &mut u32,
    ) -> Result<Vec<Result<(), String>>, String> {
        let n = rendered.len();
        let ctx = minijinja::Value::from_serialize(json!({
            "items": rendered,
            "fields": Self::fields_value(fields),
        }));
        let url = self.render_path(&b.path, &ctx)?;
        let body = match &b.body {
            Some(shape) => self.templates.eval(shape, &ctx)?,
            None => Value::Array(rendered),
        };
        let req = Request {
            method: b.method.clone(),
            url,
            body: Some(self.encode(&body)?),
            content_type: None,
            what: format!("write-back of {n} {}", entity.plural()),
        };
        let reply = self
            .http
            .send(&req, requests)
            .await
            .map_err(|e| e.to_string())?;
        let Some(path) = &b.results else {
            return Ok(vec![Ok(()); n]);
        };
        let shown = self.http.redactor().url(&reply.url);
        let v: Value = serde_json::from_slice(&reply.body).map_err(|_| {
            format!(
                "the answer of {shown} is not JSON, so the per-item results at `{}` cannot be read",
                path.join(".")
            )
        })?;
        let Some(Value::Array(list)) = paging::at(&v, path) else {
            return Err(format!(
                "the answer of {shown} has no list at `{}` (batch.results)",
                path.join(".")
            ));
        };
        if list.len() != n {
            return Err(format!(
                "the answer of {shown} has {} results at `{}` for {n} items",
                list.len(),
                path.join(".")
            ));
        }
        Ok(list
            .iter()
            .map(|r| item_result(r, self.http.redactor()))
            .collect())
    }
}

/// Insert `value` at `name`: nested at each `.` of a plain dotted path,
/// as one key otherwise (a name with brackets or quotes).
pub(crate) fn insert_path(m: &mut serde_json::Map<String, Value>, name: &str, value: Value) {
    let plain =
        !name.contains(['[', ']', '"', '\'', '`']) && name.split('.').all(|s| !s.is_empty());
    if !plain || !name.contains('.') {
        m.insert(name.to_string(), value);
        return;
    }
    let mut cur = m;
    let segments: Vec<&str> = name.split('.').collect();
    for seg in &segments[..segments.len() - 1] {
        let slot = cur
            .entry(seg.to_string())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(serde_json::Map::new());
        }
        let Value::Object(next) = slot else { return };
        cur = next;
    }
    cur.insert(segments[segments.len() - 1].to_string(), value);
}

/// Whether one entry of a batch's results says the item failed: an
/// `error`/`errors` that is not null, false or empty; `ok`/`success`
/// false; a `status`/`code` of 400 or more.
fn item_result(r: &Value, redactor: &crate::redact::Redactor) -> Result<(), String> {
    let Value::Object(m) = r else {
        return match r {
            Value::Bool(false) => Err("the server reported a failure".into()),
            _ => Ok(()),
        };
    };
    for k in ["error", "errors"] {
        let failed = match m.get(k) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        };
        if failed {
            let text = match &m[k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let text: String = text.chars().take(300).collect();
            return Err(format!("the server reported: {}", redactor.text(&text)));
        }
    }
    for k in ["ok", "success"] {
        if m.get(k) == Some(&Value::Bool(false)) {
            let msg = m
                .get("message")
                .and_then(Value::as_str)
                .map(|s| {
                    format!(
                        ": {}",
                        redactor.text(&s.chars().take(300).collect::<String>())
                    )
                })
                .unwrap_or_default();
            return Err(format!("the server reported a failure{msg}"));
        }
    }
    for k in ["status", "code"] {
        if let Some(s) = m.get(k).and_then(Value::as_u64) {
            if s >= 400 {
                return Err(format!("the server answered status {s} for this item"));
            }
        }
    }
    Ok(())
}

fn batch(
    templates: &mut Templates,
    name: &str,
    b: &BatchOptions,
    entity_method: &Method,
) -> Result<Batch, RestError> {
    if b.size == 0 {
        return Err(RestError::config(
            format!("`{name}.batch.size` is 0"),
            "send at least one item per request",
        ));
    }
    Ok(Batch {
        size: b.size,
        method: match &b.method {
            Some(m) => method(Some(m), &format!("{name}.batch.method"))?,
            None => entity_method.clone(),
        },
        path: templates.add_path(&format!("{name}.batch.path"), &b.path)?,
        item: b
            .item
            .as_ref()
            .map(|x| templates.add_shape(&format!("{name}.batch.item"), x))
            .transpose()?,
        body: b
            .body
            .as_ref()
            .map(|x| templates.add_shape(&format!("{name}.batch.body"), x))
            .transpose()?,
        results: b.results.as_deref().map(|p| paging::dotted(Some(p))),
    })
}

#[async_trait]
impl SourceWrite for RestWriter {
    fn batch_size(&self) -> usize {
        [&self.category, &self.product]
            .into_iter()
            .flatten()
            .filter_map(|w| w.batch.as_ref().map(|b| b.size))
            .max()
            .unwrap_or(1)
    }

    fn writes_back(&self, entity: Entity) -> bool {
        self.entity(entity).is_some()
    }

    async fn write_back(
        &self,
        entity: Entity,
        fields: &WritebackFields,
        items: &[WriteBack],
    ) -> WrittenBack {
        let mut out = WrittenBack::default();
        let Some(w) = self.entity(entity) else {
            out.items = items
                .iter()
                .map(|_| {
                    Err(format!(
                        "the `rest` source has no `writeback.{entity}` request"
                    ))
                })
                .collect();
            return out;
        };
        if !fields.any()
            && w.body.is_none()
            && w.batch
                .as_ref()
                .is_none_or(|b| b.item.is_none() && b.body.is_none())
        {
            // Nothing to write: no field named and no template.
            out.items = vec![Ok(()); items.len()];
            return out;
        }
        match &w.batch {
            None => {
                for item in items {
                    let r = self
                        .single(entity, w, fields, item, &mut out.requests)
                        .await;
                    out.items.push(r);
                }
            }
            Some(b) => {
                for chunk in items.chunks(b.size) {
                    let rs = self
                        .batch(entity, b, w, fields, chunk, &mut out.requests)
                        .await;
                    out.items.extend(rs);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_field_names_nest() {
        let fields = WritebackFields {
            sync_id: Some("Sync.Id".into()),
            sync_date: Some("Sync.Date".into()),
            sync_msg: Some("Msg".into()),
        };
        let item = WriteBack {
            key: "K".into(),
            sync_id: Some("1".into()),
            sync_date: None,
            sync_msg: String::new(),
            values: Default::default(),
        };
        assert_eq!(
            Value::Object(RestWriter::default_body(&item, &fields)),
            json!({"Sync": {"Id": "1"}, "Msg": ""}),
            "a value the engine does not have is left out"
        );
    }

    /// Values pulled from the target go at their source paths, nested
    /// like the write-back fields; an empty value is written (it clears).
    #[test]
    fn pulled_values_go_at_their_source_paths() {
        let fields = WritebackFields {
            sync_msg: Some("Msg".into()),
            ..WritebackFields::default()
        };
        let item = WriteBack {
            key: "K".into(),
            sync_id: None,
            sync_date: None,
            sync_msg: String::new(),
            values: [
                ("Tags".to_string(), json!(["a", "b"])),
                ("Shop.Url".to_string(), json!("https://shop/k")),
                ("Group".to_string(), Value::Null),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(
            Value::Object(RestWriter::default_body(&item, &fields)),
            json!({"Msg": "", "Tags": ["a", "b"], "Shop": {"Url": "https://shop/k"}, "Group": null})
        );
    }
}
