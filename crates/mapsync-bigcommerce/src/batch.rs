//! Batch updates (`PUT /catalog/products`, 10 a request; `PUT
//! /catalog/variants`, 50): the answers read item by item. A 200 saved
//! every item; a 207 saved some and lists the others' errors keyed
//! `"<index>.<field>"` (or `"<index>"`); an error answer whose `errors`
//! are keyed by index failed each of them on its own.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::client::BcClient;
use crate::error::{error_map, text, BcError};

/// Items a `PUT /catalog/products` takes.
pub const PRODUCT_BATCH: usize = 10;
/// Items a `PUT /catalog/variants` takes.
pub const VARIANT_BATCH: usize = 50;

/// The outcome of one item of a batch: the store's item, or why it was
/// not saved.
pub type ItemResult = Result<Value, BcError>;

impl BcClient {
    /// `PUT path` with `items` in requests of at most `size`; one result
    /// per input item, in order. A request refused as a whole fails each
    /// of its items with that error; after a `Denied` or `Config` error
    /// the rest is not sent and fails with it too.
    pub async fn put_batch(&self, path: &str, items: &[Value], size: usize) -> Vec<ItemResult> {
        let size = size.max(1);
        let mut out: Vec<ItemResult> = Vec::with_capacity(items.len());
        let mut fatal: Option<BcError> = None;
        for chunk in items.chunks(size) {
            if let Some(e) = &fatal {
                out.extend(chunk.iter().map(|_| Err(e.clone())));
                continue;
            }
            let body = Value::Array(chunk.to_vec());
            match self.exchange(Method::PUT, path, &[], Some(&body)).await {
                Ok(a) => out.extend(read_batch(chunk, a.status, &a.body)),
                Err((e, answer)) => {
                    let per_item = match &e {
                        BcError::Conflict { .. }
                        | BcError::Invalid { .. }
                        | BcError::NotFound { .. }
                        | BcError::Http { .. } => by_index(chunk.len(), &e, &answer),
                        _ => None,
                    };
                    match per_item {
                        Some(items) => out.extend(items),
                        None => {
                            if matches!(e, BcError::Denied { .. } | BcError::Config { .. }) {
                                fatal = Some(e.clone());
                            }
                            out.extend(chunk.iter().map(|_| Err(e.clone())));
                        }
                    }
                }
            }
        }
        out
    }
}

/// The per-item errors of an error answer (all items failed). `None` when
/// the error names no item index: the request as a whole was refused.
fn by_index(n: usize, e: &BcError, body: &Value) -> Option<Vec<ItemResult>> {
    let mut fields: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for (k, v) in error_map(body)? {
        if let Some((i, field)) = split_key(k) {
            fields.entry(i).or_default().push((field, text(v)));
        }
    }
    if fields.is_empty() || fields.keys().any(|i| *i >= n) {
        return None;
    }
    let status = e.status().unwrap_or(422);
    Some(
        (0..n)
            .map(|i| match fields.get(&i) {
                Some(f) => Err(item_error(status, f)),
                None => Err(e.clone()),
            })
            .collect(),
    )
}

/// `"3.name"` → (3, `name`); `"3"` → (3, ``).
fn split_key(key: &str) -> Option<(usize, String)> {
    let (i, field) = key.split_once('.').unwrap_or((key, ""));
    Some((i.parse().ok()?, field.to_string()))
}

fn item_error(status: u16, fields: &[(String, String)]) -> BcError {
    let message = fields
        .iter()
        .map(|(f, m)| {
            if f.is_empty() {
                m.clone()
            } else {
                format!("{f}: {m}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    BcError::Item {
        status,
        field: fields
            .iter()
            .map(|(f, _)| f)
            .find(|f| !f.is_empty())
            .cloned(),
        message,
    }
}

/// The results of one 200 or 207 answer to `chunk`.
pub(crate) fn read_batch(chunk: &[Value], status: u16, body: &Value) -> Vec<ItemResult> {
    let data: Vec<Value> = body
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Failed items by index (207).
    let mut failed: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    let mut fail_status = 422;
    if status == 207 {
        if let Some(errs) = body.get("errors") {
            if let Some(s) = errs.get("status").and_then(Value::as_u64) {
                fail_status = u16::try_from(s).unwrap_or(422);
            }
            if let Some(map) = error_map(body) {
                for (k, v) in map {
                    if let Some((i, field)) = split_key(k) {
                        failed.entry(i).or_default().push((field, text(v)));
                    }
                }
            }
        }
    }
    // Saved items: by id where the input has one, else in order.
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for d in &data {
        if let Some(id) = d.get("id") {
            by_id.insert(id.to_string(), d.clone());
        }
    }
    let mut in_order = data.into_iter();
    let mut out = Vec::with_capacity(chunk.len());
    for (i, item) in chunk.iter().enumerate() {
        if let Some(f) = failed.get(&i) {
            out.push(Err(item_error(fail_status, f)));
            continue;
        }
        let saved = match item.get("id").map(Value::to_string) {
            Some(id) => by_id.remove(&id).inspect(|_| {
                in_order.next();
            }),
            None => in_order.next(),
        };
        out.push(match saved {
            Some(v) => Ok(v),
            None if status == 207 && failed.is_empty() => Err(BcError::Item {
                status: 207,
                field: None,
                message: "the store saved only part of the batch and did not say which items"
                    .into(),
            }),
            None => Err(BcError::Item {
                status,
                field: None,
                message: "the store's answer does not list this item".into(),
            }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_207_is_read_item_by_item() {
        let chunk = vec![
            json!({"id": 1, "name": "a"}),
            json!({"id": 2, "name": "b"}),
            json!({"id": 3, "name": "c"}),
        ];
        let body = json!({
            "data": [{"id": 1, "name": "a"}, {"id": 3, "name": "c"}],
            "errors": {"status": 409, "title": "1 of 3 items were not saved", "type": "t",
                "errors": {"1.name": "Product name 'b' is already in use"}},
            "meta": {}
        });
        let r = read_batch(&chunk, 207, &body);
        assert_eq!(r[0].as_ref().ok(), Some(&json!({"id": 1, "name": "a"})));
        assert_eq!(r[2].as_ref().ok(), Some(&json!({"id": 3, "name": "c"})));
        let e = r[1].as_ref().err().cloned();
        assert_eq!(
            e,
            Some(BcError::Item {
                status: 409,
                field: Some("name".into()),
                message: "name: Product name 'b' is already in use".into()
            })
        );
    }

    #[test]
    fn an_error_by_index_fails_each_item() {
        let body = json!({"status": 422, "title": "JSON data is missing or invalid",
            "errors": {"0.id": "id is required", "1.price": "bad"}});
        let e = BcError::from_answer(422, &body);
        let r = by_index(2, &e, &body).unwrap_or_default();
        assert_eq!(r.len(), 2);
        assert!(r[0]
            .as_ref()
            .is_err_and(|e| e.to_string() == "id: id is required"));
        assert!(r[1].as_ref().is_err_and(|e| e.to_string() == "price: bad"));
        let big = json!({"title": "too large"});
        let whole = BcError::from_answer(413, &big);
        assert!(by_index(2, &whole, &big).is_none());
    }
}
