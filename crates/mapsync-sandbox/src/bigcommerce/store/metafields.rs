//! Metafields of products, variants, categories and brands, one by one
//! and in batches.

use super::*;

// ------------------------------------------------------------------ metafields

/// Whose metafields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Product(u64),
    Variant(u64, u64),
    Category(u64),
    Brand(u64),
}

impl Owner {
    pub(super) fn resource(&self) -> (&'static str, u64) {
        match *self {
            Owner::Product(p) => ("product", p),
            Owner::Variant(_, v) => ("variant", v),
            Owner::Category(c) => ("category", c),
            Owner::Brand(b) => ("brand", b),
        }
    }
}

pub(super) const PERMISSIONS: &[&str] = &[
    "app_only",
    "read",
    "write",
    "read_and_sf_access",
    "write_and_sf_access",
];

impl Store {
    pub(super) fn metafields_of(&self, o: Owner) -> R<&Vec<Metafield>> {
        match o {
            Owner::Product(p) => Ok(&self.product(p)?.metafields),
            Owner::Variant(p, v) => {
                let p = self.product(p)?;
                Ok(&p.variants[Self::variant_ix(p, v)?].metafields)
            }
            Owner::Category(c) => self
                .categories
                .get(&c)
                .map(|c| &c.metafields)
                .ok_or_else(|| ApiError::not_found("category")),
            Owner::Brand(b) => self
                .brands
                .get(&b)
                .map(|b| &b.metafields)
                .ok_or_else(|| ApiError::not_found("brand")),
        }
    }

    pub(super) fn metafields_mut(&mut self, o: Owner) -> R<&mut Vec<Metafield>> {
        match o {
            Owner::Product(p) => Ok(&mut self.product_mut(p)?.metafields),
            Owner::Variant(p, v) => {
                let p = self.product_mut(p)?;
                let ix = Self::variant_ix(p, v)?;
                Ok(&mut p.variants[ix].metafields)
            }
            Owner::Category(c) => self
                .categories
                .get_mut(&c)
                .map(|c| &mut c.metafields)
                .ok_or_else(|| ApiError::not_found("category")),
            Owner::Brand(b) => self
                .brands
                .get_mut(&b)
                .map(|b| &mut b.metafields)
                .ok_or_else(|| ApiError::not_found("brand")),
        }
    }

    pub fn list_metafields(&self, o: Owner, q: &[(String, String)]) -> R<Value> {
        let (rt, rid) = o.resource();
        let key = query(q, "key");
        let ns = query(q, "namespace");
        let ns_in: Option<BTreeSet<&str>> =
            query(q, "namespace:in").map(|s| s.split(',').collect());
        let items = self
            .metafields_of(o)?
            .iter()
            .filter(|m| key.is_none_or(|k| m.key == k))
            .filter(|m| ns.is_none_or(|n| m.namespace == n))
            .filter(|m| {
                ns_in
                    .as_ref()
                    .is_none_or(|s| s.contains(m.namespace.as_str()))
            })
            .map(|m| Self::metafield_json(m, rt, rid))
            .collect();
        page_of(items, q)
    }

    pub fn get_metafield(&self, o: Owner, mid: u64) -> R<Value> {
        let (rt, rid) = o.resource();
        let m = self
            .metafields_of(o)?
            .iter()
            .find(|m| m.id == mid)
            .ok_or_else(|| ApiError::not_found("metafield"))?;
        Ok(one(Self::metafield_json(m, rt, rid)))
    }

    pub(super) fn metafield_input(
        input: &Map<String, Value>,
        cur: Option<&Metafield>,
    ) -> R<(String, String, String, String, String)> {
        let get = |k: &str, d: Option<&str>| -> R<String> {
            match input.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(ApiError::invalid(k, "must be a string")),
                None => d
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid(k, format!("{k} is required"))),
            }
        };
        let ns = get("namespace", cur.map(|c| c.namespace.as_str()))?;
        let key = get("key", cur.map(|c| c.key.as_str()))?;
        let value = get("value", cur.map(|c| c.value.as_str()))?;
        let perm = get("permission_set", cur.map(|c| c.permission_set.as_str()))?;
        let desc = get(
            "description",
            Some(cur.map(|c| c.description.as_str()).unwrap_or("")),
        )?;
        if ns.is_empty() || ns.chars().count() > 64 {
            return Err(ApiError::invalid("namespace", "1 to 64 characters"));
        }
        if key.is_empty() || key.chars().count() > 64 {
            return Err(ApiError::invalid("key", "1 to 64 characters"));
        }
        if value.is_empty() || value.chars().count() > 65_535 {
            return Err(ApiError::invalid("value", "1 to 65535 characters"));
        }
        if !PERMISSIONS.contains(&perm.as_str()) {
            return Err(ApiError::invalid(
                "permission_set",
                format!("must be one of {}", PERMISSIONS.join(", ")),
            ));
        }
        if desc.chars().count() > 255 {
            return Err(ApiError::invalid("description", "at most 255 characters"));
        }
        Ok((ns, key, value, perm, desc))
    }

    pub fn create_metafield(&mut self, ctx: &Ctx, o: Owner, body: &Value) -> R<Value> {
        let input = obj(body, "metafield")?;
        let (ns, key, value, perm, desc) = Self::metafield_input(&input, None)?;
        let list = self.metafields_of(o)?;
        if list.iter().any(|m| m.namespace == ns && m.key == key) {
            return Err(ApiError::field(
                409,
                format!("A metafield with namespace '{ns}' and key '{key}' exists"),
                "key",
                "namespace and key must be unique for a resource",
            ));
        }
        if list.len() >= MAX_METAFIELDS {
            return Err(ApiError::invalid(
                "metafields",
                format!("a resource has at most {MAX_METAFIELDS} metafields"),
            ));
        }
        let id = self.next("metafield");
        self.metafields_mut(o)?.push(Metafield {
            id,
            namespace: ns,
            key,
            value,
            permission_set: perm,
            description: desc,
            date_created: ctx.now.clone(),
            date_modified: ctx.now.clone(),
        });
        self.changed();
        self.get_metafield(o, id)
    }

    pub fn update_metafield(&mut self, ctx: &Ctx, o: Owner, mid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "metafield")?;
        let list = self.metafields_of(o)?;
        let cur = list
            .iter()
            .find(|m| m.id == mid)
            .cloned()
            .ok_or_else(|| ApiError::not_found("metafield"))?;
        let (ns, key, value, perm, desc) = Self::metafield_input(&input, Some(&cur))?;
        if list
            .iter()
            .any(|m| m.id != mid && m.namespace == ns && m.key == key)
        {
            return Err(ApiError::field(
                409,
                "A metafield with this namespace and key exists",
                "key",
                "namespace and key must be unique for a resource",
            ));
        }
        for m in self.metafields_mut(o)?.iter_mut().filter(|m| m.id == mid) {
            m.namespace = ns.clone();
            m.key = key.clone();
            m.value = value.clone();
            m.permission_set = perm.clone();
            m.description = desc.clone();
            m.date_modified = ctx.now.clone();
        }
        self.changed();
        self.get_metafield(o, mid)
    }

    pub fn delete_metafield(&mut self, o: Owner, mid: u64) -> R<()> {
        let list = self.metafields_mut(o)?;
        let before = list.len();
        list.retain(|m| m.id != mid);
        if list.len() == before {
            return Err(ApiError::not_found("metafield"));
        }
        self.changed();
        Ok(())
    }
}

// ------------------------------------------------------------------ batch metafields

/// The resource type of the batch metafield routes
/// (`/catalog/{products,variants,categories,brands}/metafields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetafieldResource {
    Product,
    Variant,
    Category,
    Brand,
}

/// A metafield as the batch routes answer it: `description` always there
/// (the files' `Metafield` requires it; the single-resource answers want
/// it non-empty or absent).
pub(super) fn with_description(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        if m.contains_key("namespace") && !m.contains_key("description") {
            m.insert("description".into(), json!(""));
        }
    }
    v
}

/// Most items of a batch metafield request (the files state none).
pub const MAX_METAFIELD_BATCH: usize = 250;

impl Store {
    /// Every owner of a resource type, in id order.
    pub(super) fn owners(&self, kind: MetafieldResource) -> Vec<Owner> {
        match kind {
            MetafieldResource::Product => {
                self.products.keys().map(|p| Owner::Product(*p)).collect()
            }
            MetafieldResource::Variant => self
                .products
                .values()
                .flat_map(|p| p.variants.iter().map(move |v| Owner::Variant(p.id, v.id)))
                .collect(),
            MetafieldResource::Category => self
                .categories
                .keys()
                .map(|c| Owner::Category(*c))
                .collect(),
            MetafieldResource::Brand => self.brands.keys().map(|b| Owner::Brand(*b)).collect(),
        }
    }

    pub(super) fn owner_by_id(&self, kind: MetafieldResource, rid: u64) -> R<Owner> {
        let found = match kind {
            MetafieldResource::Product => self
                .products
                .contains_key(&rid)
                .then_some(Owner::Product(rid)),
            MetafieldResource::Variant => self
                .products
                .values()
                .find(|p| p.variants.iter().any(|v| v.id == rid))
                .map(|p| Owner::Variant(p.id, rid)),
            MetafieldResource::Category => self
                .categories
                .contains_key(&rid)
                .then_some(Owner::Category(rid)),
            MetafieldResource::Brand => self.brands.contains_key(&rid).then_some(Owner::Brand(rid)),
        };
        found.ok_or_else(|| {
            ApiError::invalid("resource_id", format!("resource {rid} does not exist"))
        })
    }

    pub(super) fn owner_of_metafield(&self, kind: MetafieldResource, mid: u64) -> R<Owner> {
        self.owners(kind)
            .into_iter()
            .find(|o| {
                self.metafields_of(*o)
                    .map(|l| l.iter().any(|m| m.id == mid))
                    .unwrap_or(false)
            })
            .ok_or_else(|| ApiError::invalid("id", format!("metafield {mid} does not exist")))
    }

    /// `GET /catalog/{resources}/metafields`.
    pub fn list_all_metafields(&self, kind: MetafieldResource, q: &[(String, String)]) -> R<Value> {
        let key = query(q, "key");
        let key_in: Option<BTreeSet<&str>> = query(q, "key:in").map(|s| s.split(',').collect());
        let ns = query(q, "namespace");
        let ns_in: Option<BTreeSet<&str>> =
            query(q, "namespace:in").map(|s| s.split(',').collect());
        // The files' date filters ("metafields modified after this date"),
        // a date without a zone read as UTC.
        let dates = |k: &str, d: &str| -> R<bool> {
            let min = time_param(q, &format!("{k}:min"))?;
            let max = time_param(q, &format!("{k}:max"))?;
            let t = parse_time(d);
            Ok(min.is_none_or(|m| t.is_some_and(|t| t >= m))
                && max.is_none_or(|m| t.is_some_and(|t| t <= m)))
        };
        let mut items = Vec::new();
        for o in self.owners(kind) {
            let (rt, rid) = o.resource();
            for m in self.metafields_of(o)? {
                if key.is_none_or(|k| m.key == k)
                    && key_in.as_ref().is_none_or(|s| s.contains(m.key.as_str()))
                    && ns.is_none_or(|n| m.namespace == n)
                    && ns_in
                        .as_ref()
                        .is_none_or(|s| s.contains(m.namespace.as_str()))
                    && dates("date_modified", &m.date_modified)?
                    && dates("date_created", &m.date_created)?
                {
                    items.push((m.id, with_description(Self::metafield_json(m, rt, rid))));
                }
            }
        }
        items.sort_by_key(|(id, _)| *id);
        if query(q, "direction") == Some("desc") {
            items.reverse();
        }
        page_of(items.into_iter().map(|(_, v)| v).collect(), q)
    }

    /// Apply `f` to each item of a batch metafield request: `200` when all
    /// were saved, else `422` with the saved ones and an error per failed
    /// item (the files' "partial success").
    pub(super) fn metafield_batch(
        &mut self,
        body: &Value,
        mut f: impl FnMut(&mut Store, &Value) -> R<Value>,
    ) -> R<(u16, Value)> {
        let list = arr(body, "metafields")?;
        if list.is_empty() {
            return Err(ApiError::invalid("", "the batch is empty"));
        }
        if list.len() > MAX_METAFIELD_BATCH {
            return Err(ApiError::new(
                413,
                format!("The request payload is too large. The maximum items allowed in the array is {MAX_METAFIELD_BATCH}."),
            ));
        }
        let mut data = Vec::new();
        let mut errors = Vec::new();
        for (i, item) in list.iter().enumerate() {
            match f(self, item) {
                Ok(v) => data.push(with_description(v)),
                Err(e) => {
                    let mut detail = Map::new();
                    let msg = e
                        .errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("invalid")))
                        .collect::<Vec<_>>()
                        .join("; ");
                    detail.insert(
                        i.to_string(),
                        json!(if msg.is_empty() { e.title.clone() } else { msg }),
                    );
                    errors.push(json!({"status": e.status, "title": e.title, "type": ERROR_TYPE, "errors": detail}));
                }
            }
        }
        let meta = json!({"total": list.len(), "success": data.len(), "failed": errors.len()});
        let status = if errors.is_empty() { 200 } else { 422 };
        Ok((
            status,
            json!({"data": data, "errors": errors, "meta": meta}),
        ))
    }

    /// `POST /catalog/{resources}/metafields`: items with `resource_id`.
    pub fn create_metafields(
        &mut self,
        ctx: &Ctx,
        kind: MetafieldResource,
        body: &Value,
    ) -> R<(u16, Value)> {
        self.metafield_batch(body, |s, item| {
            let rid = item
                .get("resource_id")
                .and_then(id_of)
                .ok_or_else(|| ApiError::invalid("resource_id", "resource_id is required"))?;
            let owner = s.owner_by_id(kind, rid)?;
            s.create_metafield(ctx, owner, item)
                .map(|v| v["data"].clone())
        })
    }

    /// `PUT /catalog/{resources}/metafields`: items with `id`.
    pub fn update_metafields(
        &mut self,
        ctx: &Ctx,
        kind: MetafieldResource,
        body: &Value,
    ) -> R<(u16, Value)> {
        self.metafield_batch(body, |s, item| {
            let mid = item
                .get("id")
                .and_then(id_of)
                .ok_or_else(|| ApiError::invalid("id", "id is required"))?;
            let owner = s.owner_of_metafield(kind, mid)?;
            s.update_metafield(ctx, owner, mid, item)
                .map(|v| v["data"].clone())
        })
    }

    /// `DELETE /catalog/{resources}/metafields`: a list of ids.
    pub fn delete_metafields(&mut self, kind: MetafieldResource, body: &Value) -> R<(u16, Value)> {
        self.metafield_batch(body, |s, item| {
            let mid =
                id_of(item).ok_or_else(|| ApiError::invalid("id", "must be a metafield id"))?;
            let owner = s.owner_of_metafield(kind, mid)?;
            s.delete_metafield(owner, mid)?;
            Ok(json!(mid))
        })
    }
}
