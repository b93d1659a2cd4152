//! The read side: locations, the reduced catalog, the full current state
//! of items in batches, items by marker, brands and the category tree.

use std::collections::BTreeMap;

use mapsync_core::current::{Current, StoreLocation, TargetItem, MARKER_KEY, MARKER_NAMESPACE};
use mapsync_core::Entity;
use serde_json::{json, Value};

use super::neutral::{category_current, product_current, NativeMetafield};
use super::{id_of, text_of, BigCommerceTarget, Tally};
use crate::error::BcError;

/// Items of a listing page.
const PAGE: usize = crate::client::PAGE_LIMIT;

/// Ids of one `id:in` filter (the URL stays short).
const IDS_PER_READ: usize = 100;

fn join(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

impl BigCommerceTarget {
    /// Every location (`/inventory/locations`): its label is the name
    /// `locations:` entries match.
    pub(crate) async fn read_locations(&self) -> Result<Vec<StoreLocation>, BcError> {
        let list: Vec<Value> = self.client.get_all("/inventory/locations", &[]).await?;
        Ok(list
            .iter()
            .filter_map(|l| {
                Some(StoreLocation {
                    id: l.get("id").and_then(id_of)?.to_string(),
                    name: l
                        .get("label")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    active: l.get("enabled").and_then(Value::as_bool).unwrap_or(true),
                })
            })
            .collect())
    }

    /// The markers of every item of a resource (`products`, `categories`),
    /// by item id, from the store-wide metafield listing.
    pub(crate) async fn markers(
        &self,
        tally: &mut Tally<'_>,
        resource: &str,
    ) -> Result<BTreeMap<u64, String>, BcError> {
        let list = tally
            .get_all(
                &format!("/catalog/{resource}/metafields"),
                &[
                    ("namespace", MARKER_NAMESPACE.to_string()),
                    ("key", MARKER_KEY.to_string()),
                ],
            )
            .await?;
        Ok(list
            .iter()
            .filter_map(NativeMetafield::from_json)
            .filter(|(_, m)| m.namespace == MARKER_NAMESPACE && m.key == MARKER_KEY)
            .map(|(rid, m)| (rid, m.value))
            .collect())
    }

    /// Every product, reduced.
    pub(crate) async fn catalog_products(&self) -> Result<Vec<TargetItem>, BcError> {
        let mut tally = Tally::new(&self.client);
        let list = tally
            .get_all(
                "/catalog/products",
                &[(
                    "include_fields",
                    "name,is_visible,custom_url,date_modified".to_string(),
                )],
            )
            .await?;
        let markers = self.markers(&mut tally, "products").await?;
        Ok(list
            .iter()
            .filter_map(|p| product_item(p, &markers))
            .collect())
    }

    /// Every category of the default tree, reduced.
    pub(crate) async fn catalog_categories(&self) -> Result<Vec<TargetItem>, BcError> {
        let mut tally = Tally::new(&self.client);
        let tree = self.tree_id(&mut tally).await?;
        let list = tally
            .get_all(
                "/catalog/trees/categories",
                &[("tree_id:in", tree.to_string())],
            )
            .await?;
        let markers = self.markers(&mut tally, "categories").await?;
        Ok(list
            .iter()
            .filter_map(|c| category_item(c, &markers))
            .collect())
    }

    /// The item whose marker is `key`.
    pub(crate) async fn item_by_marker(
        &self,
        tally: &mut Tally<'_>,
        entity: Entity,
        key: &str,
    ) -> Result<Option<TargetItem>, BcError> {
        let resource = match entity {
            Entity::Product => "products",
            Entity::Category => "categories",
        };
        let markers = self.markers(tally, resource).await?;
        let Some(id) = markers
            .iter()
            .find(|(_, k)| k.as_str() == key)
            .map(|(id, _)| *id)
        else {
            return Ok(None);
        };
        self.item_by_id(tally, entity, id, &markers).await
    }

    /// One item, reduced, by id.
    pub(crate) async fn item_by_id(
        &self,
        tally: &mut Tally<'_>,
        entity: Entity,
        id: u64,
        markers: &BTreeMap<u64, String>,
    ) -> Result<Option<TargetItem>, BcError> {
        match entity {
            Entity::Product => {
                let r = tally
                    .get(
                        &format!("/catalog/products/{id}"),
                        &[(
                            "include_fields",
                            "name,is_visible,custom_url,date_modified".to_string(),
                        )],
                    )
                    .await;
                match r {
                    Ok(v) => Ok(v.get("data").and_then(|p| product_item(p, markers))),
                    Err(BcError::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Entity::Category => {
                let list = tally
                    .get_all(
                        "/catalog/trees/categories",
                        &[("category_id:in", id.to_string())],
                    )
                    .await?;
                Ok(list.first().and_then(|c| category_item(c, markers)))
            }
        }
    }

    /// The full current state of products, in batches.
    pub(crate) async fn current_products(
        &self,
        tally: &mut Tally<'_>,
        ids: &[u64],
    ) -> Result<Vec<Current>, BcError> {
        let brands = self.brand_names(tally).await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_PER_READ) {
            let products = tally
                .get_all(
                    "/catalog/products",
                    &[
                        ("id:in", join(chunk)),
                        ("include", "variants,images,custom_fields".to_string()),
                    ],
                )
                .await?;
            if products.is_empty() {
                continue;
            }
            let found: Vec<u64> = products
                .iter()
                .filter_map(|p| p.get("id").and_then(id_of))
                .collect();
            let owners: Vec<(u64, String)> = found
                .iter()
                .map(|id| (*id, format!("/catalog/products/{id}/metafields")))
                .collect();
            let mut product_mfs = self.metafields_of(tally, "products", &owners).await?;
            let variant_owners: Vec<(u64, String)> = products
                .iter()
                .flat_map(|p| {
                    let pid = p.get("id").and_then(id_of).unwrap_or(0);
                    p.get("variants")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.get("id").and_then(id_of))
                        .map(move |vid| {
                            (
                                vid,
                                format!("/catalog/products/{pid}/variants/{vid}/metafields"),
                            )
                        })
                })
                .collect();
            let variant_mfs = self
                .metafields_of(tally, "variants", &variant_owners)
                .await?;
            let stock = self.stock(tally, &found).await?;
            for p in &products {
                let id = p.get("id").and_then(id_of).unwrap_or(0);
                let mfs = product_mfs.remove(&id).unwrap_or_default();
                if let Some(c) = product_current(p, mfs, &variant_mfs, &stock, &brands) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The metafields of `owners` (id, the path of its own listing). The
    /// files give the store-wide listing (`/catalog/{resource}/metafields`)
    /// no `resource_id:in` filter: its first page says how many metafields
    /// the store has; when reading them all takes fewer requests than one
    /// per owner, they are read that way and kept for the owners, else
    /// each owner's are read.
    async fn metafields_of(
        &self,
        tally: &mut Tally<'_>,
        resource: &str,
        owners: &[(u64, String)],
    ) -> Result<BTreeMap<u64, Vec<NativeMetafield>>, BcError> {
        let mut out: BTreeMap<u64, Vec<NativeMetafield>> = BTreeMap::new();
        if owners.is_empty() {
            return Ok(out);
        }
        let wanted: std::collections::BTreeSet<u64> = owners.iter().map(|(id, _)| *id).collect();
        let path = format!("/catalog/{resource}/metafields");
        let first = tally
            .get(
                &path,
                &[("page", "1".to_string()), ("limit", PAGE.to_string())],
            )
            .await?;
        let total = first
            .get("meta")
            .and_then(|m| m.get("pagination"))
            .and_then(|p| p.get("total"))
            .and_then(Value::as_u64)
            .map(|t| t as usize);
        let page: Vec<Value> = first
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let pages = total.unwrap_or(usize::MAX).div_ceil(PAGE);
        let list: Vec<Value> = if page.len() < PAGE {
            page
        } else if pages.saturating_sub(1) < owners.len() {
            // The next pages, until a short one (`total` is not trusted).
            let mut all = page;
            for n in 2..=crate::client::MAX_PAGES {
                let next = tally
                    .get(
                        &path,
                        &[("page", n.to_string()), ("limit", PAGE.to_string())],
                    )
                    .await?;
                let data: Vec<Value> = next
                    .get("data")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let short = data.len() < PAGE;
                all.extend(data);
                if short {
                    break;
                }
            }
            all
        } else {
            let mut all = Vec::new();
            for (id, own) in owners {
                for mut m in tally.get_all(own, &[]).await? {
                    if m.get("resource_id").is_none() {
                        m["resource_id"] = json!(id);
                    }
                    all.push(m);
                }
            }
            all
        };
        for (rid, m) in list
            .iter()
            .filter_map(NativeMetafield::from_json)
            .filter(|(rid, _)| wanted.contains(rid))
        {
            out.entry(rid).or_default().push(m);
        }
        Ok(out)
    }

    /// Stock by variant id and location id (`/inventory/items`).
    async fn stock(
        &self,
        tally: &mut Tally<'_>,
        products: &[u64],
    ) -> Result<BTreeMap<u64, BTreeMap<String, i64>>, BcError> {
        let items = tally
            .get_all("/inventory/items", &[("product_id:in", join(products))])
            .await?;
        let mut out: BTreeMap<u64, BTreeMap<String, i64>> = BTreeMap::new();
        for it in &items {
            let Some(vid) = it
                .get("identity")
                .and_then(|i| i.get("variant_id"))
                .and_then(id_of)
            else {
                continue;
            };
            let per = out.entry(vid).or_default();
            for l in it
                .get("locations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(loc), Some(n)) = (
                    l.get("location_id").and_then(id_of),
                    l.get("total_inventory_onhand").and_then(Value::as_i64),
                ) else {
                    continue;
                };
                per.insert(loc.to_string(), n);
            }
        }
        Ok(out)
    }

    /// The full current state of categories.
    pub(crate) async fn current_categories(
        &self,
        tally: &mut Tally<'_>,
        ids: &[u64],
    ) -> Result<Vec<Current>, BcError> {
        let keys = self.markers(tally, "categories").await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(IDS_PER_READ) {
            let list = tally
                .get_all(
                    "/catalog/trees/categories",
                    &[("category_id:in", join(chunk))],
                )
                .await?;
            for c in &list {
                let Some(id) = c.get("category_id").and_then(id_of) else {
                    continue;
                };
                let mfs = self.category_metafields(tally, id).await?;
                if let Some(cur) = category_current(c, mfs, &keys) {
                    out.push(cur);
                }
            }
        }
        Ok(out)
    }

    /// A category's metafields.
    pub(crate) async fn category_metafields(
        &self,
        tally: &mut Tally<'_>,
        id: u64,
    ) -> Result<Vec<NativeMetafield>, BcError> {
        let list = tally
            .get_all(&format!("/catalog/categories/{id}/metafields"), &[])
            .await?;
        Ok(list
            .iter()
            .filter_map(|m| {
                // The per-resource listing may leave `resource_id` out.
                let mut m = m.clone();
                if m.get("resource_id").is_none() {
                    m["resource_id"] = json!(id);
                }
                NativeMetafield::from_json(&m).map(|(_, m)| m)
            })
            .collect())
    }

    /// The store's default category tree (the one of channel 1, else the
    /// first), read once.
    pub(crate) async fn tree_id(&self, tally: &mut Tally<'_>) -> Result<u64, BcError> {
        if let Some(t) = self.tree.get() {
            return Ok(*t);
        }
        // The files give this listing no paging: one request.
        let answer = tally.get("/catalog/trees", &[]).await?;
        let trees: Vec<Value> = answer
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let pick = trees
            .iter()
            .find(|t| {
                t.get("channels")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().any(|x| id_of(x) == Some(1)))
            })
            .or_else(|| trees.first())
            .and_then(|t| t.get("id").and_then(id_of))
            .ok_or_else(|| BcError::Decode {
                message: "the store has no category tree".into(),
            })?;
        let _ = self.tree.set(pick);
        Ok(pick)
    }

    /// Brand names by id, read once per target.
    pub(crate) async fn brand_names(
        &self,
        tally: &mut Tally<'_>,
    ) -> Result<BTreeMap<u64, String>, BcError> {
        let mut guard = self.brands.lock().await;
        if let Some(b) = guard.as_ref() {
            return Ok(b.clone());
        }
        let list = tally.get_all("/catalog/brands", &[]).await?;
        let map: BTreeMap<u64, String> = list
            .iter()
            .filter_map(|b| {
                Some((
                    b.get("id").and_then(id_of)?,
                    b.get("name")?.as_str()?.to_string(),
                ))
            })
            .collect();
        *guard = Some(map.clone());
        Ok(map)
    }

    /// The id of the brand named `name` (without regard to case), created
    /// when the store has none.
    pub(crate) async fn brand_id(&self, tally: &mut Tally<'_>, name: &str) -> Result<u64, BcError> {
        self.brand_names(tally).await?;
        let mut guard = self.brands.lock().await;
        let map = guard.get_or_insert_with(BTreeMap::new);
        if let Some((id, _)) = map.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)) {
            return Ok(*id);
        }
        let created = tally
            .send(
                reqwest::Method::POST,
                "/catalog/brands",
                Some(&json!({"name": name})),
            )
            .await;
        let id = match created {
            Ok(a) => a.body.get("data").and_then(|d| d.get("id")).and_then(id_of),
            // Made meanwhile by someone else, or by a create whose answer
            // was lost: find it by name.
            Err(BcError::Conflict { .. })
            | Err(BcError::Server {
                maybe_applied: true,
                ..
            })
            | Err(BcError::Transport {
                maybe_applied: true,
                ..
            }) => {
                let found = tally
                    .get("/catalog/brands", &[("name", name.to_string())])
                    .await?;
                found
                    .get("data")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|b| b.get("id"))
                    .and_then(id_of)
            }
            Err(e) => return Err(e),
        };
        let id = id.ok_or_else(|| BcError::Decode {
            message: format!("brand '{name}' has no id"),
        })?;
        map.insert(id, name.to_string());
        Ok(id)
    }
}

pub(super) fn product_item(p: &Value, markers: &BTreeMap<u64, String>) -> Option<TargetItem> {
    let id = p.get("id").and_then(id_of)?;
    Some(TargetItem {
        id: id.to_string(),
        handle: p
            .get("custom_url")
            .and_then(|u| u.get("url"))
            .map(text_of)
            .unwrap_or_default(),
        title: p.get("name").map(text_of).unwrap_or_default(),
        published: p.get("is_visible").and_then(Value::as_bool).unwrap_or(true),
        status: None,
        marker: markers.get(&id).cloned(),
        updated_at: p
            .get("date_modified")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

pub(super) fn category_item(c: &Value, markers: &BTreeMap<u64, String>) -> Option<TargetItem> {
    let id = c.get("category_id").and_then(id_of)?;
    Some(TargetItem {
        id: id.to_string(),
        handle: c
            .get("url")
            .and_then(|u| u.get("path"))
            .map(text_of)
            .unwrap_or_default(),
        title: c.get("name").map(text_of).unwrap_or_default(),
        published: c.get("is_visible").and_then(Value::as_bool).unwrap_or(true),
        status: None,
        marker: markers.get(&id).cloned(),
        updated_at: None,
    })
}
