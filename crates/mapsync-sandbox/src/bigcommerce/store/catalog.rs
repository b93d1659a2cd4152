//! Brands, category trees and their categories.

use super::*;

// ------------------------------------------------------------------ brands

impl Store {
    pub(super) fn brand_json(b: &Brand) -> Value {
        let mut m = json!({
            "id": b.id, "name": b.name, "page_title": "", "meta_keywords": [],
            "meta_description": "", "search_keywords": "", "image_url": "",
            "custom_url": {"url": format!("/brands/{}.html", slug(&b.name)), "is_customized": false},
        });
        for (k, v) in &b.fields {
            m[k] = v.clone();
        }
        m
    }

    pub fn list_brands(&self, q: &[(String, String)]) -> R<Value> {
        let name = query(q, "name");
        let like = query(q, "name:like").map(str::to_lowercase);
        let ids = id_list(q, "id:in")?;
        let id = num_param(q, "id")?;
        let items = self
            .brands
            .values()
            .filter(|b| name.is_none_or(|n| b.name == n))
            .filter(|b| {
                like.as_ref()
                    .is_none_or(|n| b.name.to_lowercase().contains(n))
            })
            .filter(|b| {
                ids.as_ref().is_none_or(|s| s.contains(&b.id)) && id.is_none_or(|i| i == b.id)
            })
            .map(Self::brand_json)
            .collect();
        page_of(items, q)
    }

    pub fn get_brand(&self, id: u64) -> R<Value> {
        let b = self
            .brands
            .get(&id)
            .ok_or_else(|| ApiError::not_found("brand"))?;
        Ok(one(Self::brand_json(b)))
    }

    pub(super) fn brand_fields(input: &Map<String, Value>, into: &mut Map<String, Value>) -> R<()> {
        const T: &[(&str, Kind)] = &[
            ("page_title", Kind::Str(255)),
            ("meta_keywords", Kind::StrList),
            ("meta_description", Kind::Str(BIG)),
            ("search_keywords", Kind::Str(BIG)),
            ("image_url", Kind::Str(BIG)),
            ("custom_url", Kind::Url),
        ];
        apply_fields(into, input, T, &["id", "name"])
    }

    pub fn create_brand(&mut self, body: &Value) -> R<Value> {
        let input = obj(body, "brand")?;
        let name = str_field(&input, "name").unwrap_or("").to_string();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(ApiError::invalid("name", "1 to 255 characters"));
        }
        if self
            .brands
            .values()
            .any(|b| b.name.eq_ignore_ascii_case(&name))
        {
            return Err(ApiError::field(
                409,
                "Brand name is a duplicate",
                "name",
                format!("brand '{name}' exists"),
            ));
        }
        let mut fields = Map::new();
        Self::brand_fields(&input, &mut fields)?;
        let id = self.next("brand");
        self.brands.insert(
            id,
            Brand {
                id,
                name,
                fields,
                metafields: Vec::new(),
            },
        );
        self.changed();
        self.get_brand(id)
    }

    pub fn update_brand(&mut self, id: u64, body: &Value) -> R<Value> {
        let input = obj(body, "brand")?;
        let mut b = self
            .brands
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("brand"))?;
        if let Some(n) = input.get("name") {
            let n = n.as_str().unwrap_or("");
            if n.is_empty() {
                return Err(ApiError::invalid("name", "1 to 255 characters"));
            }
            if self
                .brands
                .values()
                .any(|x| x.id != id && x.name.eq_ignore_ascii_case(n))
            {
                return Err(ApiError::field(
                    409,
                    "Brand name is a duplicate",
                    "name",
                    format!("brand '{n}' exists"),
                ));
            }
            b.name = n.to_string();
        }
        Self::brand_fields(&input, &mut b.fields)?;
        self.brands.insert(id, b);
        self.changed();
        self.get_brand(id)
    }

    pub fn delete_brand(&mut self, id: u64) -> R<()> {
        if self.brands.remove(&id).is_none() {
            return Err(ApiError::not_found("brand"));
        }
        let ids: Vec<u64> = self
            .products
            .values()
            .filter(|p| p.fields.get("brand_id").and_then(Value::as_u64) == Some(id))
            .map(|p| p.id)
            .collect();
        for pid in ids {
            if let Some(p) = self.products.get_mut(&pid) {
                p.fields.insert("brand_id".into(), json!(0));
            }
        }
        self.changed();
        Ok(())
    }
}

// ------------------------------------------------------------------ category trees

pub(super) const CATEGORY_FIELDS: &[(&str, Kind)] = &[
    ("description", Kind::Str(1 << 20)),
    ("views", Kind::Int),
    ("sort_order", Kind::Int),
    ("page_title", Kind::Str(255)),
    ("meta_keywords", Kind::StrList),
    ("meta_description", Kind::Str(BIG)),
    ("layout_file", Kind::Str(50)),
    ("image_url", Kind::Str(BIG)),
    ("is_visible", Kind::Bool),
    ("search_keywords", Kind::Str(255)),
    (
        "default_product_sort",
        Kind::OneOf(&[
            "use_store_settings",
            "featured",
            "newest",
            "best_selling",
            "alpha_asc",
            "alpha_desc",
            "avg_customer_review",
            "price_asc",
            "price_desc",
        ]),
    ),
];

impl Store {
    pub(super) fn category_path(&self, c: &Category) -> String {
        let mut parts = vec![slug(&c.name)];
        let mut at = c.parent_id;
        for _ in 0..16 {
            match self.categories.get(&at) {
                Some(p) => {
                    parts.push(slug(&p.name));
                    at = p.parent_id;
                }
                None => break,
            }
        }
        parts.reverse();
        format!("/{}/", parts.join("/"))
    }

    pub(super) fn category_json(&self, c: &Category) -> Value {
        let mut m = json!({
            "category_id": c.id, "category_uuid": c.uuid, "parent_id": c.parent_id,
            "tree_id": c.tree_id, "name": c.name, "description": "", "views": 0,
            "sort_order": 0, "page_title": "", "meta_keywords": [], "meta_description": "",
            "layout_file": "category.html", "image_url": "", "is_visible": true,
            "search_keywords": "", "default_product_sort": "use_store_settings",
            "url": {"path": self.category_path(c), "is_customized": false},
        });
        for (k, v) in &c.fields {
            m[k] = v.clone();
        }
        m
    }

    pub(super) fn depth_of(&self, mut parent: u64) -> usize {
        let mut d = 0;
        while parent != 0 && d < 64 {
            d += 1;
            parent = self
                .categories
                .get(&parent)
                .map(|p| p.parent_id)
                .unwrap_or(0);
        }
        d
    }

    /// `GET /catalog/trees/categories`.
    pub fn list_categories(&self, q: &[(String, String)]) -> R<Value> {
        let ids = id_list(q, "category_id:in")?;
        let not = id_list(q, "category_id:not_in")?;
        let trees = id_list(q, "tree_id:in")?;
        let parents = id_list(q, "parent_id:in")?;
        let name = query(q, "name");
        let like = query(q, "name:like").map(str::to_lowercase);
        let visible = query(q, "is_visible").map(|v| v == "true" || v == "1");
        let items = self
            .categories
            .values()
            .filter(|c| ids.as_ref().is_none_or(|s| s.contains(&c.id)))
            .filter(|c| not.as_ref().is_none_or(|s| !s.contains(&c.id)))
            .filter(|c| trees.as_ref().is_none_or(|s| s.contains(&c.tree_id)))
            .filter(|c| parents.as_ref().is_none_or(|s| s.contains(&c.parent_id)))
            .filter(|c| name.is_none_or(|n| c.name == n))
            .filter(|c| {
                like.as_ref()
                    .is_none_or(|n| c.name.to_lowercase().contains(n))
            })
            .filter(|c| {
                visible.is_none_or(|v| {
                    c.fields
                        .get("is_visible")
                        .and_then(Value::as_bool)
                        .unwrap_or(true)
                        == v
                })
            })
            .map(|c| select_fields(self.category_json(c), q))
            .collect();
        page_of(items, q)
    }

    pub(super) fn category_from(
        &mut self,
        mut c: Category,
        m: &Map<String, Value>,
        creating: bool,
    ) -> R<Category> {
        if let Some(n) = m.get("name") {
            match n.as_str() {
                Some(n) if !n.trim().is_empty() && n.chars().count() <= 50 => {
                    c.name = n.to_string()
                }
                _ => return Err(ApiError::invalid("name", "1 to 50 characters")),
            }
        } else if creating {
            return Err(ApiError::invalid("name", "name is required"));
        }
        if let Some(p) = m.get("parent_id") {
            let p = id_of(p).ok_or_else(|| ApiError::invalid("parent_id", "must be an id"))?;
            if p != 0 {
                let parent = self.categories.get(&p).ok_or_else(|| {
                    ApiError::invalid("parent_id", format!("category {p} does not exist"))
                })?;
                if p == c.id {
                    return Err(ApiError::invalid(
                        "parent_id",
                        "a category cannot be its own parent",
                    ));
                }
                c.tree_id = parent.tree_id;
            }
            c.parent_id = p;
        }
        if let Some(t) = m.get("tree_id") {
            let t = id_of(t).ok_or_else(|| ApiError::invalid("tree_id", "must be an id"))?;
            if !self.trees.contains_key(&t) {
                return Err(ApiError::invalid(
                    "tree_id",
                    format!("tree {t} does not exist"),
                ));
            }
            if c.parent_id != 0 && self.categories.get(&c.parent_id).map(|p| p.tree_id) != Some(t) {
                return Err(ApiError::invalid(
                    "tree_id",
                    "the parent is in another tree",
                ));
            }
            c.tree_id = t;
        } else if creating && c.parent_id == 0 {
            return Err(ApiError::invalid(
                "tree_id",
                "tree_id or parent_id is required",
            ));
        }
        if self.depth_of(c.parent_id) >= 8 {
            return Err(ApiError::invalid(
                "parent_id",
                "categories nest at most 8 levels",
            ));
        }
        // A cycle: the new parent under this category.
        let mut at = c.parent_id;
        for _ in 0..64 {
            if at == 0 {
                break;
            }
            if at == c.id && !creating {
                return Err(ApiError::invalid(
                    "parent_id",
                    "a category cannot move below itself",
                ));
            }
            at = self.categories.get(&at).map(|p| p.parent_id).unwrap_or(0);
        }
        if let Some(u) = m.get("url") {
            match u.get("path").and_then(Value::as_str) {
                Some(p) if p.starts_with('/') => {
                    c.fields
                        .insert("url".into(), json!({"path": p, "is_customized": true}));
                }
                _ => {
                    return Err(ApiError::invalid(
                        "url.path",
                        "must be a path starting with '/'",
                    ))
                }
            }
        }
        apply_fields(
            &mut c.fields,
            m,
            CATEGORY_FIELDS,
            &[
                "category_id",
                "category_uuid",
                "name",
                "parent_id",
                "tree_id",
                "url",
                "id",
            ],
        )?;
        if self.categories.values().any(|o| {
            o.id != c.id
                && o.tree_id == c.tree_id
                && o.parent_id == c.parent_id
                && o.name.eq_ignore_ascii_case(&c.name)
        }) {
            return Err(ApiError::field(
                409,
                "A category with this name exists under the same parent",
                "name",
                format!("category '{}' exists under parent {}", c.name, c.parent_id),
            ));
        }
        Ok(c)
    }

    /// Batch writes of categories (create or update), with the tree API's
    /// answers: all saved, 207 with the failures, or 422 when none was.
    pub(super) fn category_batch(&mut self, list: &[Value], creating: bool) -> R<(u16, Value)> {
        if list.is_empty() {
            return Err(ApiError::invalid("", "the batch is empty"));
        }
        let mut data = Vec::new();
        let mut errors = Map::new();
        let mut failed = 0;
        let mut first: Option<ApiError> = None;
        for (i, item) in list.iter().enumerate() {
            let r = (|| -> R<u64> {
                let m = obj(item, "category")?;
                let c = if creating {
                    let id = self.ids.get("category").copied().unwrap_or(0) + 1;
                    let uuid = format!("00000000-0000-4000-8000-{id:012x}");
                    Category {
                        id,
                        uuid,
                        tree_id: 0,
                        parent_id: 0,
                        name: String::new(),
                        fields: Map::new(),
                        metafields: Vec::new(),
                    }
                } else {
                    let id = m.get("category_id").and_then(id_of).ok_or_else(|| {
                        ApiError::invalid("category_id", "category_id is required")
                    })?;
                    self.categories
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| ApiError::not_found("category"))?
                };
                let c = self.category_from(c, &m, creating)?;
                if creating {
                    self.next("category");
                }
                let id = c.id;
                self.categories.insert(id, c);
                Ok(id)
            })();
            match r {
                Ok(id) => data.push(self.category_json(&self.categories[&id])),
                Err(e) => {
                    failed += 1;
                    for (k, v) in &e.errors {
                        errors.insert(format!("{i}.{k}"), v.clone());
                    }
                    if e.errors.is_empty() {
                        errors.insert(i.to_string(), json!(e.title));
                    }
                    first.get_or_insert(e);
                }
            }
        }
        if failed < list.len() {
            self.changed();
        }
        let meta = json!({"total": list.len(), "success": list.len() - failed, "failed": failed});
        let ok_status = if creating { 201 } else { 200 };
        match first {
            None => Ok((ok_status, json!({"data": data, "meta": meta}))),
            Some(e) => {
                let err = json!({"status": e.status, "title": e.title, "type": ERROR_TYPE, "errors": errors});
                if failed == list.len() {
                    Ok((422, json!({"errors": err, "meta": meta})))
                } else {
                    Ok((207, json!({"data": data, "errors": err, "meta": meta})))
                }
            }
        }
    }

    /// `POST /catalog/trees/categories`.
    pub fn create_categories(&mut self, body: &Value) -> R<(u16, Value)> {
        let list = arr(body, "categories")?.clone();
        self.category_batch(&list, true)
    }

    /// `PUT /catalog/trees/categories`.
    pub fn update_categories(&mut self, body: &Value) -> R<(u16, Value)> {
        let list = arr(body, "categories")?.clone();
        self.category_batch(&list, false)
    }

    /// `DELETE /catalog/trees/categories?category_id:in=` (children go too;
    /// products lose the category).
    pub fn delete_categories(&mut self, q: &[(String, String)]) -> R<()> {
        let ids = id_list(q, "category_id:in")?
            .or(id_list(q, "tree_id:in")?.map(|trees| {
                self.categories
                    .values()
                    .filter(|c| trees.contains(&c.tree_id))
                    .map(|c| c.id)
                    .collect()
            }))
            .or(id_list(q, "parent_id:in")?.map(|parents| {
                self.categories
                    .values()
                    .filter(|c| parents.contains(&c.parent_id))
                    .map(|c| c.id)
                    .collect()
            }))
            .ok_or_else(|| ApiError::invalid("category_id:in", "a filter is required"))?;
        let mut gone: BTreeSet<u64> = ids
            .into_iter()
            .filter(|i| self.categories.contains_key(i))
            .collect();
        loop {
            let more: Vec<u64> = self
                .categories
                .values()
                .filter(|c| gone.contains(&c.parent_id) && !gone.contains(&c.id))
                .map(|c| c.id)
                .collect();
            if more.is_empty() {
                break;
            }
            gone.extend(more);
        }
        if gone.is_empty() {
            return Ok(());
        }
        self.categories.retain(|id, _| !gone.contains(id));
        let touched: Vec<u64> = self
            .products
            .values()
            .filter(|p| {
                p.fields
                    .get("categories")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .any(|c| c.as_u64().is_some_and(|c| gone.contains(&c)))
                    })
            })
            .map(|p| p.id)
            .collect();
        for pid in touched {
            if let Some(p) = self.products.get_mut(&pid) {
                if let Some(Value::Array(a)) = p.fields.get_mut("categories") {
                    a.retain(|c| c.as_u64().is_none_or(|c| !gone.contains(&c)));
                }
            }
        }
        self.changed();
        Ok(())
    }

    /// `GET /catalog/trees/{tree_id}/categories`: the nested tree.
    pub fn category_tree(&self, tree: u64) -> R<Value> {
        if !self.trees.contains_key(&tree) {
            return Err(ApiError::not_found("category tree"));
        }
        fn node(s: &Store, c: &Category, depth: u64, path: &[u64]) -> Value {
            let mut p = path.to_vec();
            p.push(c.id);
            let mut kids: Vec<&Category> = s
                .categories
                .values()
                .filter(|k| k.parent_id == c.id)
                .collect();
            kids.sort_by_key(|k| {
                (
                    k.fields
                        .get("sort_order")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    k.id,
                )
            });
            let children: Vec<Value> = if depth < 16 {
                kids.into_iter()
                    .map(|k| node(s, k, depth + 1, &p))
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "id": c.id, "parent_id": c.parent_id, "depth": depth, "path": path,
                "name": c.name,
                "is_visible": c.fields.get("is_visible").and_then(Value::as_bool).unwrap_or(true),
                "children": children, "url": s.category_path(c),
            })
        }
        let mut roots: Vec<&Category> = self
            .categories
            .values()
            .filter(|c| c.tree_id == tree && c.parent_id == 0)
            .collect();
        roots.sort_by_key(|k| {
            (
                k.fields
                    .get("sort_order")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                k.id,
            )
        });
        let data: Vec<Value> = roots.into_iter().map(|c| node(self, c, 1, &[])).collect();
        Ok(json!({"data": data, "meta": {}}))
    }

    pub(super) fn tree_json(t: &Tree) -> Value {
        json!({"id": t.id, "name": t.name, "channels": t.channels})
    }

    /// `GET /catalog/trees`.
    pub fn list_trees(&self, q: &[(String, String)]) -> R<Value> {
        let ids = id_list(q, "id:in")?;
        let channels = id_list(q, "channel_id:in")?;
        let items = self
            .trees
            .values()
            .filter(|t| ids.as_ref().is_none_or(|s| s.contains(&t.id)))
            .filter(|t| {
                channels
                    .as_ref()
                    .is_none_or(|s| t.channels.iter().any(|c| s.contains(c)))
            })
            .map(Self::tree_json)
            .collect();
        page_of(items, q)
    }

    /// `PUT /catalog/trees`: create (no `id`) or update trees.
    pub fn upsert_trees(&mut self, body: &Value) -> R<Value> {
        let list = arr(body, "trees")?;
        if list.len() > 50 {
            return Err(ApiError::new(
                413,
                "The request payload is too large. The maximum items allowed in the array is 50.",
            ));
        }
        let mut scratch = self.clone();
        let mut out = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let m = obj(t, "tree")?;
            let name = str_field(&m, "name").unwrap_or("").to_string();
            if name.is_empty() || name.len() > 255 {
                return Err(ApiError::invalid(
                    &format!("{i}.name"),
                    "1 to 255 characters",
                ));
            }
            let channels: Vec<u64> = match m.get("channels") {
                None => vec![1],
                Some(Value::Array(a)) if a.iter().all(|c| c.as_u64().is_some()) => {
                    a.iter().filter_map(Value::as_u64).collect()
                }
                Some(_) => {
                    return Err(ApiError::invalid(
                        &format!("{i}.channels"),
                        "must be an array of channel ids",
                    ))
                }
            };
            let id = match m.get("id").and_then(id_of) {
                Some(id) if scratch.trees.contains_key(&id) => id,
                Some(id) => {
                    return Err(ApiError::invalid(
                        &format!("{i}.id"),
                        format!("tree {id} does not exist"),
                    ))
                }
                None => scratch.next("tree"),
            };
            if let Some(other) = scratch
                .trees
                .values()
                .find(|t| t.id != id && t.channels.iter().any(|c| channels.contains(c)))
            {
                return Err(ApiError::invalid(
                    &format!("{i}.channels"),
                    format!("a channel has one tree; tree {} has it", other.id),
                ));
            }
            let t = Tree { id, name, channels };
            out.push(Self::tree_json(&t));
            scratch.trees.insert(id, t);
        }
        scratch.changed();
        *self = scratch;
        Ok(json!({"data": out, "meta": {}}))
    }

    /// `DELETE /catalog/trees?id:in=`.
    pub fn delete_trees(&mut self, q: &[(String, String)]) -> R<()> {
        let ids =
            id_list(q, "id:in")?.ok_or_else(|| ApiError::invalid("id:in", "id:in is required"))?;
        let cats: Vec<u64> = self
            .categories
            .values()
            .filter(|c| ids.contains(&c.tree_id))
            .map(|c| c.id)
            .collect();
        if !cats.is_empty() {
            let list = cats
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            self.delete_categories(&[("category_id:in".into(), list)])?;
        }
        self.trees.retain(|id, _| !ids.contains(id));
        self.changed();
        Ok(())
    }
}
