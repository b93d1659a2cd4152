//! The catalog's change token (`Target::change_token`): a few small
//! requests whose answers change whenever the reduced read
//! (`read_catalog`) may have.
//!
//! The reduced read is: every product (id, name, visibility, URL,
//! `date_modified`), the products' ownership markers (metafields), the
//! categories of the default category tree (id, name, URL, visibility)
//! and their markers. The token covers each part:
//!
//! * products: their count and the newest `date_modified`
//!   (`sort=date_modified&direction=desc&limit=1`). An edit moves a
//!   product's `date_modified` past the newest one, an add or a delete
//!   changes the count (an add and a delete together: the added one is the
//!   newest). The newest product's id is left out: products changed in the
//!   same second (a batch) tie, and the store may name either. Dates have
//!   second precision: while the newest is less than [`SETTLING`] old, a
//!   later edit in the same second could not be told apart, so no token.
//! * product markers: a metafield edit need not move its product's
//!   `date_modified`, and the metafield listing sorts by nothing but id.
//!   With at most one page of markers, the page itself (ids, owners,
//!   values) is the token's. With more, their count and every marker
//!   modified since 15 hours before the hour the token is taken
//!   (`date_modified:min`; see [`recent_since`]): a marker edited or added
//!   after a token was taken joins that list, a deleted one lowers the
//!   count, and tokens of two hours differ (one full read an hour). More
//!   than a page of those (a large import in the last hours): no token.
//! * categories: the category trees API gives categories no date, so an
//!   edit can only be seen in the categories themselves: the whole listing
//!   (every tree, one page; the fields the reduced read keeps and the
//!   tree, not the `views` shoppers move) and the trees (which one is the
//!   default) are the token's; more than one page of categories: no token.
//! * category markers: one page, as the token's; more: no token.
//!
//! A store with no category asks neither the trees nor the category
//! markers (markers of no category are not read). So a token costs 5
//! requests (3 without categories; one more with over 250 product
//! markers), against a full read's 6 and one more per 250 products, per
//! 250 product markers and per 250 categories.

use serde_json::Value;

use mapsync_core::current::{MARKER_KEY, MARKER_NAMESPACE};
use mapsync_core::hash::content_hash;

use super::BigCommerceTarget;
use crate::client::PAGE_LIMIT;
use crate::error::BcError;

/// A change at most this long before the token was taken may have a
/// sibling in the same second of `date_modified` (BigCommerce's precision)
/// that the token cannot tell apart: no token then.
const SETTLING: time::Duration = time::Duration::seconds(5);

/// How long before the hour a token is taken in the markers "modified
/// since" start: the filter's date has no time zone (the files' example,
/// `2024-05-14T09:34:00`) and the store may read it in its own (at most
/// 14 h off UTC), and the store's clock may be a little off ours.
const RECENT_MARGIN: time::Duration = time::Duration::hours(15);

/// The start of the markers listed as "modified since" in a token taken at
/// `now`: the hour, less [`RECENT_MARGIN`]. The same for every token of an
/// hour (and written in the token: tokens of two hours never compare
/// equal); any marker edited after a token was taken is modified since the
/// start of a later token of the same hour, whatever zone the store reads
/// the date in.
fn recent_since(now: time::OffsetDateTime) -> String {
    let hour = now
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let t = hour - RECENT_MARGIN;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// One listing page: its items and the total the store counts.
struct Page {
    data: Vec<Value>,
    total: Option<u64>,
}

impl Page {
    fn of(v: Value) -> Result<Page, BcError> {
        let total = v
            .get("meta")
            .and_then(|m| m.get("pagination"))
            .and_then(|p| p.get("total"))
            .and_then(Value::as_u64);
        match v {
            Value::Object(mut m) => match m.remove("data") {
                Some(Value::Array(data)) => Ok(Page { data, total }),
                _ => Err(BcError::Decode {
                    message: "change token: no `data` array".into(),
                }),
            },
            _ => Err(BcError::Decode {
                message: "change token: not a JSON object".into(),
            }),
        }
    }

    /// The whole listing is this page: the store counts no more items.
    fn complete(&self) -> bool {
        self.total == Some(self.data.len() as u64)
    }
}

impl BigCommerceTarget {
    /// The token (see the module's text); `None` when a part of the
    /// reduced read cannot be covered now.
    pub(crate) async fn catalog_token(&self) -> Result<Option<String>, BcError> {
        let now = time::OffsetDateTime::now_utc();
        let limit = PAGE_LIMIT.to_string();
        let marker_query = |extra: &[(&'static str, String)]| {
            let mut q = vec![
                ("namespace", MARKER_NAMESPACE.to_string()),
                ("key", MARKER_KEY.to_string()),
                ("limit", limit.clone()),
            ];
            q.extend_from_slice(extra);
            q
        };
        let fields = || {
            (
                "include_fields",
                "resource_id,namespace,key,value".to_string(),
            )
        };
        let product_query = [
            ("sort", "date_modified".to_string()),
            ("direction", "desc".to_string()),
            ("limit", "1".to_string()),
            ("include_fields", "date_modified".to_string()),
        ];
        // The products first: while their last change is too recent, the
        // rest is not asked.
        let products = Page::of(
            self.client
                .get::<Value>("/catalog/products", &product_query)
                .await?,
        )?;
        let Some(count) = products.total else {
            return Ok(None);
        };
        let newest = match products.data.first() {
            None if count == 0 => None,
            None => return Ok(None),
            Some(p) => {
                let Some(at) = p
                    .get("date_modified")
                    .and_then(Value::as_str)
                    .and_then(parse_date)
                else {
                    return Ok(None);
                };
                if now - at < SETTLING {
                    return Ok(None);
                }
                Some(at)
            }
        };
        let mut token = format!(
            "p{count}@{}",
            newest.map(|t| t.unix_timestamp()).unwrap_or(0)
        );

        let marker_q = marker_query(&[fields()]);
        // What the reduced read keeps, and the tree: not `views`, which
        // shoppers move.
        let category_query = [
            ("limit", limit.clone()),
            ("include_fields", "name,url,is_visible,tree_id".to_string()),
        ];
        let markers = self
            .client
            .get::<Value>("/catalog/products/metafields", &marker_q);
        let categories = self
            .client
            .get::<Value>("/catalog/trees/categories", &category_query);
        let (markers, categories) = tokio::try_join!(markers, categories)?;
        let (markers, categories) = (Page::of(markers)?, Page::of(categories)?);

        if markers.complete() {
            token.push_str(&format!("|m{}", content_hash(&Value::Array(markers.data))));
        } else {
            let Some(total) = markers.total else {
                return Ok(None);
            };
            let since = recent_since(now);
            let recent = self
                .client
                .get::<Value>(
                    "/catalog/products/metafields",
                    &marker_query(&[("date_modified:min", since.clone()), fields()]),
                )
                .await?;
            let recent = Page::of(recent)?;
            if !recent.complete() {
                return Ok(None);
            }
            token.push_str(&format!(
                "|m{total}:{since}:{}",
                content_hash(&Value::Array(recent.data))
            ));
        }

        if !categories.complete() {
            return Ok(None);
        }
        if !categories.data.is_empty() {
            let trees = self.client.get::<Value>("/catalog/trees", &[]);
            let category_markers = self
                .client
                .get::<Value>("/catalog/categories/metafields", &marker_q);
            let (trees, category_markers) = tokio::try_join!(trees, category_markers)?;
            // The trees listing has no paging: its one answer is the list.
            let (trees, category_markers) = (Page::of(trees)?, Page::of(category_markers)?);
            if !category_markers.complete() {
                return Ok(None);
            }
            token.push_str(&format!(
                "|t{}|c{}|k{}",
                content_hash(&Value::Array(trees.data)),
                content_hash(&Value::Array(categories.data)),
                content_hash(&Value::Array(category_markers.data)),
            ));
        }
        Ok(Some(token))
    }
}

fn parse_date(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_is_complete_when_the_store_counts_no_more() {
        let page = |total: u64, n: usize| {
            Page::of(json!({
                "data": vec![json!({"id": 1}); n],
                "meta": {"pagination": {"total": total}},
            }))
            .unwrap()
        };
        assert!(page(2, 2).complete());
        assert!(page(0, 0).complete());
        assert!(!page(3, 2).complete());
        assert!(!page(251, 250).complete());
        // No count: not known to be complete.
        assert!(!Page::of(json!({"data": []})).unwrap().complete());
        assert!(Page::of(json!([])).is_err());
    }

    #[test]
    fn the_recent_markers_start_fifteen_hours_before_the_hour() {
        let at = time::macros::datetime!(2026-12-02 10:37:12.5 UTC);
        assert_eq!(recent_since(at), "2026-12-01T19:00:00");
        let later = time::macros::datetime!(2026-12-02 10:59:59 UTC);
        assert_eq!(recent_since(later), recent_since(at));
    }

    #[test]
    fn dates_with_an_offset_parse() {
        assert!(parse_date("2026-12-02T09:00:00+00:00").is_some());
        assert!(parse_date("yesterday").is_none());
    }
}
