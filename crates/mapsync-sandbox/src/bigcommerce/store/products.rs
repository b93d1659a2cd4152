//! Products (create, read, update, the batch of 10, delete) and their
//! custom fields.

use super::*;

// ------------------------------------------------------------------ products

impl Store {
    /// `GET /catalog/products`.
    pub fn list_products(&self, ctx: &Ctx, q: &[(String, String)]) -> R<Value> {
        let ids_in = id_list(q, "id:in")?;
        let ids_not = id_list(q, "id:not_in")?;
        let id = num_param(q, "id")?;
        let id_min = num_param(q, "id:min")?;
        let id_max = num_param(q, "id:max")?;
        let id_gt = num_param(q, "id:greater")?;
        let id_lt = num_param(q, "id:less")?;
        let brand = num_param(q, "brand_id")?;
        let cats = id_list(q, "categories:in")?;
        let cat = num_param(q, "categories")?;
        let name = query(q, "name");
        let name_like = query(q, "name:like").map(str::to_lowercase);
        let sku = query(q, "sku");
        let sku_in: Option<BTreeSet<&str>> =
            query(q, "sku:in").map(|s| s.split(',').filter(|x| !x.is_empty()).collect());
        let visible = query(q, "is_visible").map(|v| v == "true" || v == "1");
        let keyword = query(q, "keyword").map(str::to_lowercase);
        let modified_min = time_param(q, "date_modified:min")?;
        let modified_max = time_param(q, "date_modified:max")?;
        let modified = time_param(q, "date_modified")?;
        let include = includes(q);
        let mut list: Vec<&Product> = self
            .products
            .values()
            .filter(|p| id.is_none_or(|i| p.id == i))
            .filter(|p| ids_in.as_ref().is_none_or(|s| s.contains(&p.id)))
            .filter(|p| ids_not.as_ref().is_none_or(|s| !s.contains(&p.id)))
            .filter(|p| id_min.is_none_or(|i| p.id >= i) && id_max.is_none_or(|i| p.id <= i))
            .filter(|p| id_gt.is_none_or(|i| p.id > i) && id_lt.is_none_or(|i| p.id < i))
            .filter(|p| {
                brand.is_none_or(|b| p.fields.get("brand_id").and_then(Value::as_u64) == Some(b))
            })
            .filter(|p| {
                let pc: Vec<u64> = p
                    .fields
                    .get("categories")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                cats.as_ref()
                    .is_none_or(|s| pc.iter().any(|c| s.contains(c)))
                    && cat.is_none_or(|c| pc.contains(&c))
            })
            .filter(|p| name.is_none_or(|n| p.name() == n))
            .filter(|p| {
                name_like
                    .as_ref()
                    .is_none_or(|n| p.name().to_lowercase().contains(n))
            })
            .filter(|p| sku.is_none_or(|s| p.skus().contains(s)))
            .filter(|p| {
                sku_in
                    .as_ref()
                    .is_none_or(|set| p.skus().iter().any(|s| set.contains(s.as_str())))
            })
            .filter(|p| {
                visible.is_none_or(|v| {
                    p.fields
                        .get("is_visible")
                        .and_then(Value::as_bool)
                        .unwrap_or(true)
                        == v
                })
            })
            .filter(|p| {
                let t = parse_time(&p.date_modified);
                modified_min.is_none_or(|m| t.is_some_and(|t| t >= m))
                    && modified_max.is_none_or(|m| t.is_some_and(|t| t <= m))
                    && modified.is_none_or(|m| t.is_some_and(|t| t == m))
            })
            .filter(|p| {
                keyword.as_ref().is_none_or(|k| {
                    p.name().to_lowercase().contains(k) || p.sku().to_lowercase().contains(k)
                })
            })
            .collect();
        match query(q, "sort").unwrap_or("id") {
            "name" => list.sort_by(|a, b| a.name().cmp(b.name()).then(a.id.cmp(&b.id))),
            "sku" => list.sort_by(|a, b| a.sku().cmp(b.sku()).then(a.id.cmp(&b.id))),
            "date_modified" => {
                list.sort_by(|a, b| a.date_modified.cmp(&b.date_modified).then(a.id.cmp(&b.id)))
            }
            "price" => list.sort_by(|a, b| {
                let pa = a.fields.get("price").and_then(Value::as_f64).unwrap_or(0.0);
                let pb = b.fields.get("price").and_then(Value::as_f64).unwrap_or(0.0);
                pa.total_cmp(&pb).then(a.id.cmp(&b.id))
            }),
            _ => {}
        }
        if query(q, "direction") == Some("desc") {
            list.reverse();
        }
        let items = list
            .into_iter()
            .map(|p| select_fields(self.product_json(ctx, p, &include), q))
            .collect();
        page_of(items, q)
    }

    /// `GET /catalog/products/{id}`.
    pub fn get_product(&self, ctx: &Ctx, id: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(id)?;
        Ok(one(select_fields(
            self.product_json(ctx, p, &includes(q)),
            q,
        )))
    }

    pub(super) fn check_unique(&self, p: &Product) -> R<()> {
        if let Some(other) = self.name_owner(p.name(), Some(p.id)) {
            return Err(ApiError::field(
                409,
                format!("The product name is a duplicate of product {other}"),
                "name",
                format!("Product name '{}' is already in use", p.name()),
            ));
        }
        let mut seen = BTreeSet::new();
        for v in &p.variants {
            if !v.sku.is_empty() && !v.option_values.is_empty() && !seen.insert(v.sku.clone()) {
                return Err(ApiError::field(
                    409,
                    "The variant SKU is a duplicate",
                    "sku",
                    format!("SKU '{}' is used by two variants of this product", v.sku),
                ));
            }
        }
        for s in p.skus() {
            if let Some(other) = self.sku_owner(&s, Some(p.id)) {
                return Err(ApiError::field(
                    409,
                    format!("The SKU is a duplicate of one of product {other}"),
                    "sku",
                    format!("SKU '{s}' is already in use"),
                ));
            }
        }
        if let Some(url) = p
            .fields
            .get("custom_url")
            .and_then(|u| u.get("url"))
            .and_then(Value::as_str)
        {
            if let Some(other) = self.url_owner(url, Some(p.id)) {
                return Err(ApiError::field(
                    409,
                    format!("The URL is a duplicate of the one of product {other}"),
                    "custom_url.url",
                    format!("URL '{url}' is already in use"),
                ));
            }
        }
        let cats: Vec<u64> = p
            .fields
            .get("categories")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        if let Some(c) = cats.iter().find(|c| !self.categories.contains_key(c)) {
            return Err(ApiError::field(
                409,
                format!("Category {c} does not exist"),
                "categories",
                format!("category {c} not found"),
            ));
        }
        if let Some(b) = p.fields.get("brand_id").and_then(Value::as_u64) {
            if b != 0 && !self.brands.contains_key(&b) {
                return Err(ApiError::field(
                    409,
                    format!("Brand {b} does not exist"),
                    "brand_id",
                    format!("brand {b} not found"),
                ));
            }
        }
        if p.variants.len() > MAX_VARIANTS {
            return Err(ApiError::invalid(
                "variants",
                format!("a product has at most {MAX_VARIANTS} SKUs"),
            ));
        }
        Ok(())
    }

    /// The brand named `name`, created when missing.
    pub(super) fn brand_by_name(&mut self, name: &str) -> u64 {
        if let Some(b) = self.brands.values().find(|b| b.name == name) {
            return b.id;
        }
        let id = self.next("brand");
        self.brands.insert(
            id,
            Brand {
                id,
                name: name.to_string(),
                fields: Map::new(),
                metafields: Vec::new(),
            },
        );
        id
    }

    pub(super) fn new_variant(&mut self, sku: String) -> Variant {
        let id = self.next("variant");
        let sku_id = self.next("sku");
        Variant {
            id,
            sku_id,
            sku,
            fields: Map::new(),
            option_values: Vec::new(),
            metafields: Vec::new(),
            inventory: BTreeMap::new(),
        }
    }

    pub(super) fn default_location(&self) -> u64 {
        self.locations.keys().next().copied().unwrap_or(1)
    }

    /// Find or make the option value `label` of the option `display`.
    pub(super) fn option_value_for(
        &mut self,
        p: &mut Product,
        display: &str,
        label: &str,
    ) -> R<(u64, u64)> {
        let oi = match p.options.iter().position(|o| o.display_name == display) {
            Some(i) => i,
            None => {
                let id = self.next("option");
                p.options.push(ProductOption {
                    id,
                    display_name: display.to_string(),
                    kind: "rectangles".into(),
                    sort_order: p.options.len() as i64,
                    values: Vec::new(),
                });
                p.options.len() - 1
            }
        };
        if let Some(v) = p.options[oi].values.iter().find(|v| v.label == label) {
            return Ok((p.options[oi].id, v.id));
        }
        if p.options[oi].values.len() >= MAX_OPTION_VALUES {
            return Err(ApiError::invalid(
                "option_values",
                format!("an option has at most {MAX_OPTION_VALUES} values"),
            ));
        }
        let id = self.next("option_value");
        let o = &mut p.options[oi];
        o.values.push(OptionValue {
            id,
            label: label.to_string(),
            sort_order: o.values.len() as i64,
            is_default: false,
            value_data: None,
        });
        Ok((o.id, id))
    }

    /// The option values of a variant's input: `[{option_display_name,
    /// label}]` (created when missing) or `[{id, option_id}]`.
    pub(super) fn variant_option_values(
        &mut self,
        p: &mut Product,
        input: &Value,
    ) -> R<Vec<(u64, u64)>> {
        let list = match input {
            Value::Array(a) => a,
            Value::Null => return Ok(Vec::new()),
            _ => return Err(ApiError::invalid("option_values", "must be an array")),
        };
        let mut out = Vec::new();
        for ov in list {
            let Value::Object(m) = ov else {
                return Err(ApiError::invalid(
                    "option_values",
                    "must be an array of objects",
                ));
            };
            let pair = match (
                m.get("id").and_then(id_of),
                m.get("option_id").and_then(id_of),
            ) {
                (Some(vid), Some(oid)) => {
                    let ok = p
                        .options
                        .iter()
                        .any(|o| o.id == oid && o.values.iter().any(|v| v.id == vid));
                    if !ok {
                        return Err(ApiError::invalid(
                            "option_values",
                            format!("option value {vid} of option {oid} does not exist"),
                        ));
                    }
                    (oid, vid)
                }
                _ => {
                    let display = str_field(m, "option_display_name").unwrap_or("");
                    let label = str_field(m, "label").unwrap_or("");
                    if display.is_empty() || label.is_empty() {
                        return Err(ApiError::invalid(
                            "option_values",
                            "each needs id and option_id, or option_display_name and label",
                        ));
                    }
                    self.option_value_for(p, display, label)?
                }
            };
            if out.iter().any(|(o, _)| *o == pair.0) {
                return Err(ApiError::invalid(
                    "option_values",
                    "two values of the same option",
                ));
            }
            out.push(pair);
        }
        out.sort();
        Ok(out)
    }

    /// Apply a variant input (fields, sku, option values) to `v`.
    pub(super) fn apply_variant(
        &mut self,
        p: &mut Product,
        v: &mut Variant,
        input: &Map<String, Value>,
    ) -> R<()> {
        apply_fields(&mut v.fields, input, VARIANT_FIELDS, VARIANT_SPECIAL)?;
        if let Some(s) = input.get("sku") {
            match s.as_str() {
                Some(s) if s.chars().count() <= 255 => v.sku = s.to_string(),
                _ => {
                    return Err(ApiError::invalid(
                        "sku",
                        "must be a string of at most 255 characters",
                    ))
                }
            }
        }
        if let Some(ov) = input.get("option_values") {
            v.option_values = self.variant_option_values(p, ov)?;
        }
        if let Some(level) = v.fields.remove("inventory_level") {
            if let Some(n) = level.as_i64() {
                let loc = self.default_location();
                v.inventory.insert(loc, n.max(0));
            }
        }
        Ok(())
    }

    /// The base variant of a simple product follows the product's SKU.
    pub(super) fn sync_base_variant(&mut self, p: &mut Product) {
        if p.variants.is_empty() {
            let v = self.new_variant(p.sku().to_string());
            p.variants.push(v);
        } else if p.is_simple() {
            let sku = p.sku().to_string();
            if let Some(v) = p.variants.first_mut() {
                v.sku = sku;
            }
        } else {
            // A product with options has no base variant any more.
            p.variants.retain(|v| !v.option_values.is_empty());
        }
    }

    pub(super) fn check_combinations(p: &Product) -> R<()> {
        let mut seen = BTreeSet::new();
        for v in &p.variants {
            if !v.option_values.is_empty() && !seen.insert(v.option_values.clone()) {
                return Err(ApiError::field(
                    409,
                    "A variant with the same option values exists",
                    "option_values",
                    format!("variant '{}' repeats the option values of another", v.sku),
                ));
            }
        }
        Ok(())
    }

    /// Build a product from a create or update body over `base`.
    pub(super) fn product_from(
        &mut self,
        mut p: Product,
        input: &Map<String, Value>,
        creating: bool,
    ) -> R<Product> {
        if creating {
            let mut err = ApiError::new(422, "JSON data is missing or invalid");
            for k in ["name", "type", "weight", "price"] {
                if !input.contains_key(k) {
                    err.errors
                        .insert(k.into(), json!(format!("{k} is required")));
                }
            }
            if !err.errors.is_empty() {
                return Err(err);
            }
        }
        apply_fields(&mut p.fields, input, PRODUCT_FIELDS, PRODUCT_SPECIAL)?;
        if p.name().trim().is_empty() {
            return Err(ApiError::invalid("name", "must not be empty"));
        }
        if let Some(b) = input.get("brand_name") {
            match b.as_str() {
                Some("") => {
                    p.fields.insert("brand_id".into(), json!(0));
                }
                Some(name) => {
                    let id = self.brand_by_name(name);
                    p.fields.insert("brand_id".into(), json!(id));
                }
                None => return Err(ApiError::invalid("brand_name", "must be a string")),
            }
        }
        if let Some(level) = p.fields.remove("inventory_level") {
            self.sync_base_variant(&mut p);
            if p.is_simple() {
                let loc = self.default_location();
                if let (Some(v), Some(n)) = (p.variants.first_mut(), level.as_i64()) {
                    v.inventory.insert(loc, n.max(0));
                }
            }
        }
        if let Some(cf) = input.get("custom_fields") {
            let list = match cf {
                Value::Array(a) => a,
                _ => return Err(ApiError::invalid("custom_fields", "must be an array")),
            };
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let m = obj(c, "custom field")?;
                let (name, value) = check_custom_field(&m, &format!("custom_fields.{i}"))?;
                let existing = m
                    .get("id")
                    .and_then(id_of)
                    .and_then(|id| p.custom_fields.iter().find(|c| c.id == id).map(|c| c.id));
                let id = match existing {
                    Some(id) => id,
                    None => self.next("custom_field"),
                };
                out.push(CustomField { id, name, value });
            }
            // A custom field not named again is kept (BigCommerce updates by id).
            for c in &p.custom_fields {
                if !out.iter().any(|o| o.id == c.id) {
                    out.push(c.clone());
                }
            }
            check_custom_field_pairs(&out)?;
            p.custom_fields = out;
        }
        if let Some(vs) = input.get("variants") {
            let list = match vs {
                Value::Array(a) => a,
                _ => return Err(ApiError::invalid("variants", "must be an array")),
            };
            if list.len() > MAX_VARIANTS {
                return Err(ApiError::invalid(
                    "variants",
                    format!("a product has at most {MAX_VARIANTS} SKUs"),
                ));
            }
            for (i, vin) in list.iter().enumerate() {
                let m = obj(vin, "variant")?;
                let existing = m
                    .get("id")
                    .and_then(id_of)
                    .and_then(|id| p.variants.iter().position(|v| v.id == id));
                let mut v = match existing {
                    Some(ix) => p.variants[ix].clone(),
                    None => {
                        let sku = str_field(&m, "sku").unwrap_or("").to_string();
                        self.new_variant(sku)
                    }
                };
                self.apply_variant(&mut p, &mut v, &m).map_err(|mut e| {
                    e.errors = e
                        .errors
                        .into_iter()
                        .map(|(k, v)| (format!("variants.{i}.{k}"), v))
                        .collect();
                    e
                })?;
                match existing {
                    Some(ix) => p.variants[ix] = v,
                    None => p.variants.push(v),
                }
            }
            Self::check_combinations(&p)?;
        }
        self.sync_base_variant(&mut p);
        Ok(p)
    }

    /// `POST /catalog/products`.
    pub fn create_product(&mut self, ctx: &Ctx, body: &Value, files: &Files) -> R<Value> {
        let input = obj(body, "product")?;
        let id = self.ids.get("product").copied().unwrap_or(0) + 1;
        let base = Product {
            id,
            fields: Map::new(),
            options: Vec::new(),
            variants: Vec::new(),
            images: Vec::new(),
            custom_fields: Vec::new(),
            metafields: Vec::new(),
            date_created: ctx.now.clone(),
            date_modified: ctx.now.clone(),
        };
        // Work on a copy: a refused create leaves no trace.
        let mut scratch = self.clone();
        let p = scratch.product_from(base, &input, true)?;
        scratch.check_unique(&p)?;
        let mut p = p;
        if let Some(imgs) = input.get("images") {
            scratch.images_in_body(ctx, &mut p, imgs, files)?;
        }
        scratch.next("product");
        scratch.products.insert(id, p);
        scratch.changed();
        *self = scratch;
        let include = vec![
            "variants".to_string(),
            "images".to_string(),
            "custom_fields".to_string(),
        ];
        Ok(one(self.product_json(ctx, self.product(id)?, &include)))
    }

    /// The `images` of a product body: an item with the `id` of one of
    /// the product's images updates its fields; one with an `image_url`
    /// adds the file `http` fetched before (`files`, by URL).
    pub(super) fn images_in_body(
        &mut self,
        ctx: &Ctx,
        p: &mut Product,
        imgs: &Value,
        files: &Files,
    ) -> R<()> {
        let Value::Array(list) = imgs else {
            return Err(ApiError::invalid("images", "must be an array"));
        };
        let at = |i: usize, e: ApiError| {
            let mut out = ApiError::new(e.status, e.title);
            for (k, v) in e.errors {
                out.errors.insert(format!("images.{i}.{k}"), v);
            }
            out
        };
        for (i, item) in list.iter().enumerate() {
            let m = obj(item, "image").map_err(|e| at(i, e))?;
            let (thumb, sort, desc) = Self::image_meta(&m).map_err(|e| at(i, e))?;
            let existing = m
                .get("id")
                .and_then(id_of)
                .filter(|id| p.images.iter().any(|x| x.id == *id));
            match existing {
                Some(iid) => {
                    if let Some(img) = p.images.iter_mut().find(|x| x.id == iid) {
                        if let Some(s) = sort {
                            img.sort_order = s;
                        }
                        if let Some(d) = desc {
                            img.description = d;
                        }
                        img.date_modified = ctx.now.clone();
                    }
                    if thumb == Some(true) {
                        Self::set_thumbnail(p, iid);
                    }
                }
                None => {
                    let url = str_field(&m, "image_url").unwrap_or("");
                    if url.is_empty() {
                        return Err(at(
                            i,
                            ApiError::invalid("image_url", "image_url is required for a new image"),
                        ));
                    }
                    let file = match files.get(url) {
                        Some(Ok(f)) => f.clone(),
                        Some(Err(e)) => return Err(at(i, e.clone())),
                        None => {
                            return Err(at(
                                i,
                                ApiError::invalid("image_url", "the image could not be downloaded"),
                            ))
                        }
                    };
                    self.attach_image(ctx, p, &m, file).map_err(|e| at(i, e))?;
                }
            }
        }
        Ok(())
    }

    /// `PUT /catalog/products/{id}`.
    pub fn update_product(&mut self, ctx: &Ctx, id: u64, body: &Value, files: &Files) -> R<Value> {
        let input = obj(body, "product")?;
        let p = self.product(id)?.clone();
        let mut scratch = self.clone();
        let mut p = scratch.product_from(p, &input, false)?;
        scratch.check_unique(&p)?;
        if let Some(imgs) = input.get("images") {
            scratch.images_in_body(ctx, &mut p, imgs, files)?;
        }
        p.date_modified = ctx.now.clone();
        scratch.products.insert(id, p);
        scratch.changed();
        *self = scratch;
        let include = vec!["variants".to_string(), "custom_fields".to_string()];
        Ok(one(self.product_json(ctx, self.product(id)?, &include)))
    }

    /// `PUT /catalog/products`: up to 10, each on its own; 207 when some
    /// failed, the first failure's status when all did.
    pub fn update_products(&mut self, ctx: &Ctx, body: &Value, files: &Files) -> R<(u16, Value)> {
        let list = arr(body, "products")?;
        if list.len() > MAX_PRODUCT_BATCH {
            return Err(ApiError::new(
                413,
                format!("The request payload is too large. The maximum items allowed in the array is {MAX_PRODUCT_BATCH}."),
            ));
        }
        self.batch(list, "id", |s, id, item| {
            s.update_product(ctx, id, item, files)
                .map(|v| v["data"].clone())
        })
    }

    /// Apply `f` to each item of a batch by its `id_key`.
    pub(super) fn batch(
        &mut self,
        list: &[Value],
        id_key: &str,
        mut f: impl FnMut(&mut Store, u64, &Value) -> R<Value>,
    ) -> R<(u16, Value)> {
        if list.is_empty() {
            return Err(ApiError::invalid("", "the batch is empty"));
        }
        let mut data = Vec::new();
        let mut failed: Vec<ApiError> = Vec::new();
        let mut errors = Map::new();
        for (i, item) in list.iter().enumerate() {
            let r = match item.get(id_key).and_then(id_of) {
                None => Err(ApiError::invalid(id_key, format!("{id_key} is required"))),
                Some(id) => f(self, id, item),
            };
            match r {
                Ok(v) => data.push(v),
                Err(e) => {
                    let mut msgs: Vec<String> = e
                        .errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or("invalid")))
                        .collect();
                    if msgs.is_empty() {
                        msgs.push(e.title.clone());
                    }
                    for (k, v) in &e.errors {
                        errors.insert(format!("{i}.{k}"), v.clone());
                    }
                    if e.errors.is_empty() {
                        errors.insert(format!("{i}"), json!(e.title));
                    }
                    failed.push(e);
                }
            }
        }
        if failed.is_empty() {
            return Ok((200, json!({"data": data, "meta": {}})));
        }
        let first = &failed[0];
        if data.is_empty() {
            let mut e = ApiError::new(first.status, first.title.clone());
            e.errors = errors;
            return Err(e);
        }
        Ok((
            207,
            json!({
                "data": data,
                "errors": {
                    "status": first.status,
                    "title": format!("{} of {} items were not saved; the first: {}", failed.len(), list.len(), first.title),
                    "type": ERROR_TYPE,
                    "errors": errors,
                },
                "meta": {"total": list.len(), "success": list.len() - failed.len(), "failed": failed.len()},
            }),
        ))
    }

    /// `DELETE /catalog/products/{id}`.
    pub fn delete_product(&mut self, id: u64) -> R<()> {
        if let Some(p) = self.products.remove(&id) {
            self.drop_files(&p);
            self.changed();
        }
        Ok(())
    }

    /// `DELETE /catalog/products?id:in=...` (also by name or sku).
    pub fn delete_products(&mut self, q: &[(String, String)]) -> R<()> {
        let ids = id_list(q, "id:in")?;
        let name = query(q, "name");
        let sku = query(q, "sku");
        if ids.is_none() && name.is_none() && sku.is_none() {
            return Err(ApiError::invalid("id:in", "a filter is required"));
        }
        let gone: Vec<u64> = self
            .products
            .iter()
            .filter(|(id, p)| {
                ids.as_ref().is_none_or(|s| s.contains(id))
                    && name.is_none_or(|n| p.name() == n)
                    && sku.is_none_or(|s| p.sku() == s)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            if let Some(p) = self.products.remove(id) {
                self.drop_files(&p);
            }
        }
        if !gone.is_empty() {
            self.changed();
        }
        Ok(())
    }
}

pub(super) fn check_custom_field(m: &Map<String, Value>, at: &str) -> R<(String, String)> {
    let name = str_field(m, "name").unwrap_or("");
    let value = match m.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if name.is_empty() || name.chars().count() > 250 {
        return Err(ApiError::invalid(
            &format!("{at}.name"),
            "1 to 250 characters",
        ));
    }
    if value.is_empty() || value.chars().count() > 250 {
        return Err(ApiError::invalid(
            &format!("{at}.value"),
            "1 to 250 characters",
        ));
    }
    Ok((name.to_string(), value))
}

pub(super) fn check_custom_field_pairs(list: &[CustomField]) -> R<()> {
    let mut seen = BTreeSet::new();
    for c in list {
        if !seen.insert((c.name.clone(), c.value.clone())) {
            return Err(ApiError::field(
                409,
                "A custom field with this name and value exists",
                "name",
                format!("custom field '{}' = '{}' exists", c.name, c.value),
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ custom fields

impl Store {
    pub fn list_custom_fields(&self, pid: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(pid)?;
        page_of(
            p.custom_fields
                .iter()
                .map(|c| json!({"id": c.id, "name": c.name, "value": c.value}))
                .collect(),
            q,
        )
    }

    pub fn get_custom_field(&self, pid: u64, cid: u64) -> R<Value> {
        let p = self.product(pid)?;
        let c = p
            .custom_fields
            .iter()
            .find(|c| c.id == cid)
            .ok_or_else(|| ApiError::not_found("custom field"))?;
        Ok(one(json!({"id": c.id, "name": c.name, "value": c.value})))
    }

    pub fn create_custom_field(&mut self, ctx: &Ctx, pid: u64, body: &Value) -> R<Value> {
        let m = obj(body, "custom field")?;
        let (name, value) = check_custom_field(&m, "").map_err(|mut e| {
            e.errors = e
                .errors
                .into_iter()
                .map(|(k, v)| (k.trim_start_matches('.').to_string(), v))
                .collect();
            e
        })?;
        let p = self.product(pid)?;
        if p.custom_fields.len() >= 200 {
            return Err(ApiError::invalid(
                "custom_fields",
                "a product has at most 200 custom fields",
            ));
        }
        let mut list = p.custom_fields.clone();
        let id = self.ids.get("custom_field").copied().unwrap_or(0) + 1;
        list.push(CustomField { id, name, value });
        check_custom_field_pairs(&list)?;
        self.next("custom_field");
        let p = self.product_mut(pid)?;
        p.custom_fields = list;
        p.date_modified = ctx.now.clone();
        self.changed();
        self.get_custom_field(pid, id)
    }

    pub fn update_custom_field(&mut self, ctx: &Ctx, pid: u64, cid: u64, body: &Value) -> R<Value> {
        let mut m = obj(body, "custom field")?;
        let p = self.product(pid)?;
        let cur = p
            .custom_fields
            .iter()
            .find(|c| c.id == cid)
            .ok_or_else(|| ApiError::not_found("custom field"))?;
        m.entry("name").or_insert(json!(cur.name));
        m.entry("value").or_insert(json!(cur.value));
        let (name, value) = check_custom_field(&m, "").map_err(|mut e| {
            e.errors = e
                .errors
                .into_iter()
                .map(|(k, v)| (k.trim_start_matches('.').to_string(), v))
                .collect();
            e
        })?;
        let mut list = p.custom_fields.clone();
        for c in &mut list {
            if c.id == cid {
                c.name = name.clone();
                c.value = value.clone();
            }
        }
        check_custom_field_pairs(&list)?;
        let p = self.product_mut(pid)?;
        p.custom_fields = list;
        p.date_modified = ctx.now.clone();
        self.changed();
        self.get_custom_field(pid, cid)
    }

    pub fn delete_custom_field(&mut self, pid: u64, cid: u64) -> R<()> {
        let p = self.product_mut(pid)?;
        let before = p.custom_fields.len();
        p.custom_fields.retain(|c| c.id != cid);
        if p.custom_fields.len() == before {
            return Err(ApiError::not_found("custom field"));
        }
        p.date_modified = timestamp();
        self.changed();
        Ok(())
    }
}
