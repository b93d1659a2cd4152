//! Locations and stock per variant and location.

use super::*;

// ------------------------------------------------------------------ locations and inventory

impl Store {
    pub(super) fn location_json(l: &Location) -> Value {
        let mut m = json!({
            "id": l.id, "code": l.code, "label": l.label, "description": "",
            "managed_by_external_source": false, "type_id": "PHYSICAL", "enabled": l.enabled,
            "time_zone": "Etc/UTC", "created_at": l.created_at, "updated_at": l.updated_at,
            "storefront_visibility": true,
        });
        for (k, v) in &l.fields {
            m[k] = v.clone();
        }
        m
    }

    /// `GET /inventory/locations`.
    pub fn list_locations(&self, q: &[(String, String)]) -> R<Value> {
        let ids = id_list(q, "location_id:in")?;
        let codes: Option<BTreeSet<&str>> =
            query(q, "location_code:in").map(|s| s.split(',').collect());
        let active = query(q, "is_active").map(|v| v == "true" || v == "1");
        let items = self
            .locations
            .values()
            .filter(|l| ids.as_ref().is_none_or(|s| s.contains(&l.id)))
            .filter(|l| codes.as_ref().is_none_or(|s| s.contains(l.code.as_str())))
            .filter(|l| active.is_none_or(|a| l.enabled == a))
            .map(Self::location_json)
            .collect();
        page_of(items, q)
    }

    pub(super) fn location_fields(m: &Map<String, Value>, into: &mut Map<String, Value>) -> R<()> {
        const T: &[(&str, Kind)] = &[
            ("description", Kind::Str(BIG)),
            ("managed_by_external_source", Kind::Bool),
            ("type_id", Kind::OneOf(&["PHYSICAL", "VIRTUAL"])),
            ("time_zone", Kind::Str(64)),
            ("storefront_visibility", Kind::Bool),
        ];
        let known: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| T.iter().any(|(n, _)| n == k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        apply_fields(into, &known, T, &[])
    }

    /// `POST /inventory/locations` (all or none).
    pub fn create_locations(&mut self, ctx: &Ctx, body: &Value) -> R<Value> {
        let list = arr(body, "locations")?;
        let mut scratch = self.clone();
        for (i, l) in list.iter().enumerate() {
            let m = obj(l, "location")?;
            let label = str_field(&m, "label").unwrap_or("").to_string();
            if label.is_empty() {
                return Err(ApiError::invalid(
                    &format!("{i}.label"),
                    "label is required",
                ));
            }
            let id = scratch.next("location");
            let code = str_field(&m, "code")
                .map(str::to_string)
                .unwrap_or_else(|| format!("BC-LOCATION-{id}"));
            if scratch.locations.values().any(|o| o.code == code) {
                return Err(ApiError::field(
                    422,
                    "Location code is a duplicate",
                    &format!("{i}.code"),
                    format!("code '{code}' exists"),
                ));
            }
            if scratch.locations.values().any(|o| o.label == label) {
                return Err(ApiError::field(
                    422,
                    "Location label is a duplicate",
                    &format!("{i}.label"),
                    format!("label '{label}' exists"),
                ));
            }
            let mut fields = Map::new();
            Self::location_fields(&m, &mut fields)?;
            let enabled = m.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            scratch.locations.insert(
                id,
                Location {
                    id,
                    code,
                    label,
                    enabled,
                    fields,
                    created_at: ctx.now.clone(),
                    updated_at: ctx.now.clone(),
                },
            );
        }
        if scratch.locations.values().filter(|l| l.enabled).count() > 100 {
            return Err(ApiError::invalid(
                "locations",
                "a store has at most 100 active locations",
            ));
        }
        scratch.changed();
        scratch.transactions += 1;
        let t = scratch.transactions;
        *self = scratch;
        Ok(json!({"transaction_id": format!("tx-{t}")}))
    }

    /// `PUT /inventory/locations` (by `id`, all or none).
    pub fn update_locations(&mut self, ctx: &Ctx, body: &Value) -> R<Value> {
        let list = arr(body, "locations")?;
        let mut scratch = self.clone();
        for (i, l) in list.iter().enumerate() {
            let m = obj(l, "location")?;
            let id = m
                .get("id")
                .and_then(id_of)
                .ok_or_else(|| ApiError::invalid(&format!("{i}.id"), "id is required"))?;
            let mut loc = scratch
                .locations
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::not_found("location"))?;
            if let Some(v) = str_field(&m, "label") {
                loc.label = v.to_string();
            }
            if let Some(v) = str_field(&m, "code") {
                loc.code = v.to_string();
            }
            if let Some(v) = m.get("enabled").and_then(Value::as_bool) {
                loc.enabled = v;
            }
            Self::location_fields(&m, &mut loc.fields)?;
            loc.updated_at = ctx.now.clone();
            scratch.locations.insert(id, loc);
        }
        scratch.changed();
        scratch.transactions += 1;
        let t = scratch.transactions;
        *self = scratch;
        Ok(json!({"transaction_id": format!("tx-{t}")}))
    }

    /// `(product, variant index)` an inventory item names.
    pub(super) fn inventory_target(&self, m: &Map<String, Value>) -> R<(u64, usize)> {
        if let Some(vid) = m.get("variant_id").and_then(id_of) {
            for p in self.products.values() {
                if let Some(ix) = p.variants.iter().position(|v| v.id == vid) {
                    return Ok((p.id, ix));
                }
            }
            return Err(ApiError::invalid(
                "variant_id",
                format!("variant {vid} does not exist"),
            ));
        }
        if let Some(sku) = str_field(m, "sku") {
            for p in self.products.values() {
                if let Some(ix) = p.variants.iter().position(|v| v.sku == sku) {
                    return Ok((p.id, ix));
                }
            }
            return Err(ApiError::invalid(
                "sku",
                format!("SKU '{sku}' does not exist"),
            ));
        }
        if let Some(pid) = m.get("product_id").and_then(id_of) {
            let p = self.product(pid).map_err(|_| {
                ApiError::invalid("product_id", format!("product {pid} does not exist"))
            })?;
            if !p.is_simple() {
                return Err(ApiError::invalid(
                    "product_id",
                    format!("product {pid} has variants; adjust them by variant_id or sku"),
                ));
            }
            return Ok((pid, 0));
        }
        Err(ApiError::invalid(
            "item",
            "variant_id, sku or product_id is required",
        ))
    }

    /// `PUT /inventory/adjustments/absolute`: every item checked, then all
    /// applied (or none).
    pub fn adjust_absolute(&mut self, body: &Value) -> R<Value> {
        let m = obj(body, "adjustment")?;
        let items = m
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::invalid("items", "items is required"))?;
        if items.is_empty() {
            return Err(ApiError::invalid("items", "items must not be empty"));
        }
        if items.len() > MAX_INVENTORY_ITEMS {
            return Err(ApiError::new(413, format!("The request payload is too large. The maximum items allowed in the array is {MAX_INVENTORY_ITEMS}.")));
        }
        let mut plan = Vec::new();
        let mut err = ApiError::new(422, "Payload contains invalid items");
        for (i, it) in items.iter().enumerate() {
            let r =
                (|| -> R<(u64, usize, u64, i64)> {
                    let m = obj(it, "item")?;
                    let loc = m.get("location_id").and_then(id_of).ok_or_else(|| {
                        ApiError::invalid("location_id", "location_id is required")
                    })?;
                    if !self.locations.contains_key(&loc) {
                        return Err(ApiError::invalid(
                            "location_id",
                            format!("location {loc} does not exist"),
                        ));
                    }
                    let q = m.get("quantity").and_then(Value::as_i64).ok_or_else(|| {
                        ApiError::invalid("quantity", "quantity must be an integer")
                    })?;
                    if !(0..=1_000_000_000).contains(&q) {
                        return Err(ApiError::invalid(
                            "quantity",
                            "quantity must be between 0 and 1000000000",
                        ));
                    }
                    let (p, ix) = self.inventory_target(&m)?;
                    Ok((p, ix, loc, q))
                })();
            match r {
                Ok(x) => plan.push(x),
                Err(e) => {
                    for (k, v) in e.errors {
                        err.errors.insert(format!("items.{i}.{k}"), v);
                    }
                }
            }
        }
        if !err.errors.is_empty() {
            return Err(err);
        }
        for (p, ix, loc, q) in plan {
            if let Some(p) = self.products.get_mut(&p) {
                p.variants[ix].inventory.insert(loc, q);
            }
        }
        self.transactions += 1;
        self.changed();
        Ok(json!({"transaction_id": format!("tx-{}", self.transactions)}))
    }

    /// `GET /inventory/locations/{id}/items`.
    pub fn location_items(&self, loc: u64, q: &[(String, String)]) -> R<Value> {
        if !self.locations.contains_key(&loc) {
            return Err(ApiError::not_found("location"));
        }
        let vids = id_list(q, "variant_id:in")?;
        let pids = id_list(q, "product_id:in")?;
        let skus: Option<BTreeSet<&str>> = query(q, "sku:in").map(|s| s.split(',').collect());
        let items = self
            .products
            .values()
            .filter(|p| pids.as_ref().is_none_or(|s| s.contains(&p.id)))
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
            .filter(|(_, v)| vids.as_ref().is_none_or(|s| s.contains(&v.id)))
            .filter(|(_, v)| skus.as_ref().is_none_or(|s| s.contains(v.sku.as_str())))
            .map(|(p, v)| {
                let n = v.inventory.get(&loc).copied().unwrap_or(0);
                json!({
                    "identity": {"sku": v.sku, "variant_id": v.id, "product_id": p.id},
                    "available_to_sell": n, "total_inventory_onhand": n,
                    "settings": {"safety_stock": 0, "is_in_stock": n > 0, "warning_level": 0, "bin_picking_number": ""},
                })
            })
            .collect();
        page_of(items, q)
    }

    /// `GET /inventory/items`: every variant with its stock per location.
    pub fn inventory_items(&self, q: &[(String, String)]) -> R<Value> {
        let vids = id_list(q, "variant_id:in")?;
        let pids = id_list(q, "product_id:in")?;
        let locs = id_list(q, "location_id:in")?;
        let skus: Option<BTreeSet<&str>> = query(q, "sku:in").map(|s| s.split(',').collect());
        let items = self
            .products
            .values()
            .filter(|p| pids.as_ref().is_none_or(|s| s.contains(&p.id)))
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
            .filter(|(_, v)| vids.as_ref().is_none_or(|s| s.contains(&v.id)))
            .filter(|(_, v)| skus.as_ref().is_none_or(|s| s.contains(v.sku.as_str())))
            .map(|(p, v)| {
                let per: Vec<Value> = self
                    .locations
                    .values()
                    .filter(|l| locs.as_ref().is_none_or(|s| s.contains(&l.id)))
                    .map(|l| {
                        let n = v.inventory.get(&l.id).copied().unwrap_or(0);
                        json!({"location_id": l.id, "location_code": l.code, "location_name": l.label,
                            "available_to_sell": n, "total_inventory_onhand": n,
                            "location_enabled": l.enabled,
                            "settings": {"safety_stock": 0, "is_in_stock": n > 0, "warning_level": 0, "bin_picking_number": ""}})
                    })
                    .collect();
                json!({"identity": {"sku": v.sku, "variant_id": v.id, "product_id": p.id, "sku_id": v.sku_id},
                    "locations": per})
            })
            .collect();
        page_of(items, q)
    }
}
