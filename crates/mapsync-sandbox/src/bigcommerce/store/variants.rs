//! Variants (one, the batch of 50) and options with their values.

use super::*;

// ------------------------------------------------------------------ variants

impl Store {
    pub(super) fn variant_ix(p: &Product, vid: u64) -> R<usize> {
        p.variants
            .iter()
            .position(|v| v.id == vid)
            .ok_or_else(|| ApiError::not_found("variant"))
    }

    /// `GET /catalog/products/{id}/variants`.
    pub fn list_variants(&self, pid: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(pid)?;
        let items = p.variants.iter().map(|v| self.variant_json(p, v)).collect();
        page_of(items, q)
    }

    /// `GET /catalog/variants` (filters `id`, `id:in`, `sku`, `sku:in`,
    /// `product_id`, `product_id:in`).
    pub fn list_all_variants(&self, q: &[(String, String)]) -> R<Value> {
        let ids = id_list(q, "id:in")?;
        let id = num_param(q, "id")?;
        let pids = id_list(q, "product_id:in")?;
        let pid = num_param(q, "product_id")?;
        let sku = query(q, "sku");
        let sku_in: Option<BTreeSet<&str>> =
            query(q, "sku:in").map(|s| s.split(',').filter(|x| !x.is_empty()).collect());
        let items = self
            .products
            .values()
            .filter(|p| {
                pids.as_ref().is_none_or(|s| s.contains(&p.id)) && pid.is_none_or(|i| i == p.id)
            })
            .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
            .filter(|(_, v)| {
                ids.as_ref().is_none_or(|s| s.contains(&v.id)) && id.is_none_or(|i| i == v.id)
            })
            .filter(|(_, v)| sku.is_none_or(|s| v.sku == s))
            .filter(|(_, v)| sku_in.as_ref().is_none_or(|s| s.contains(v.sku.as_str())))
            .map(|(p, v)| self.variant_json(p, v))
            .collect();
        page_of(items, q)
    }

    /// `GET /catalog/products/{id}/variants/{vid}`.
    pub fn get_variant(&self, pid: u64, vid: u64) -> R<Value> {
        let p = self.product(pid)?;
        let v = &p.variants[Self::variant_ix(p, vid)?];
        Ok(one(self.variant_json(p, v)))
    }

    /// `POST /catalog/products/{id}/variants`.
    pub fn create_variant(&mut self, ctx: &Ctx, pid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "variant")?;
        let mut scratch = self.clone();
        let mut p = scratch.product(pid)?.clone();
        let sku = str_field(&input, "sku").unwrap_or("").to_string();
        if sku.is_empty() {
            return Err(ApiError::invalid("sku", "sku is required"));
        }
        let ov = input.get("option_values").and_then(Value::as_array);
        if ov.is_none_or(|a| a.is_empty()) {
            return Err(ApiError::invalid(
                "option_values",
                "a variant needs option values (a product without options has its base variant only)",
            ));
        }
        if p.variants
            .iter()
            .filter(|v| !v.option_values.is_empty())
            .count()
            >= MAX_VARIANTS
        {
            return Err(ApiError::invalid(
                "variants",
                format!("a product has at most {MAX_VARIANTS} SKUs"),
            ));
        }
        let mut v = scratch.new_variant(sku);
        scratch.apply_variant(&mut p, &mut v, &input)?;
        let vid = v.id;
        p.variants.push(v);
        scratch.sync_base_variant(&mut p);
        Self::check_combinations(&p)?;
        scratch.check_unique(&p)?;
        p.date_modified = ctx.now.clone();
        scratch.products.insert(pid, p);
        scratch.changed();
        *self = scratch;
        self.get_variant(pid, vid)
    }

    /// `PUT /catalog/products/{id}/variants/{vid}`.
    pub fn update_variant(&mut self, ctx: &Ctx, pid: u64, vid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "variant")?;
        let mut scratch = self.clone();
        let mut p = scratch.product(pid)?.clone();
        let ix = Self::variant_ix(&p, vid)?;
        let mut v = p.variants[ix].clone();
        scratch.apply_variant(&mut p, &mut v, &input)?;
        if p.is_simple() && input.contains_key("sku") {
            // The base variant's SKU is the product's.
            p.fields.insert("sku".into(), json!(v.sku));
        }
        p.variants[ix] = v;
        Self::check_combinations(&p)?;
        scratch.check_unique(&p)?;
        p.date_modified = ctx.now.clone();
        scratch.products.insert(pid, p);
        scratch.changed();
        *self = scratch;
        self.get_variant(pid, vid)
    }

    /// `PUT /catalog/variants`: up to 50, each with `id` (and its
    /// `product_id` optional).
    pub fn update_variants(&mut self, ctx: &Ctx, body: &Value) -> R<(u16, Value)> {
        let list = arr(body, "variants")?;
        if list.len() > MAX_VARIANT_BATCH {
            return Err(ApiError::new(
                413,
                format!("The request payload is too large. The maximum items allowed in the array is {MAX_VARIANT_BATCH}."),
            ));
        }
        self.batch(list, "id", |s, vid, item| {
            let pid = match item.get("product_id").and_then(id_of) {
                Some(p) => p,
                None => s
                    .products
                    .values()
                    .find(|p| p.variants.iter().any(|v| v.id == vid))
                    .map(|p| p.id)
                    .ok_or_else(|| ApiError::not_found("variant"))?,
            };
            s.update_variant(ctx, pid, vid, item)
                .map(|v| v["data"].clone())
        })
    }

    /// `DELETE /catalog/products/{id}/variants/{vid}`.
    pub fn delete_variant(&mut self, pid: u64, vid: u64) -> R<()> {
        let mut p = self.product(pid)?.clone();
        if let Ok(ix) = Self::variant_ix(&p, vid) {
            p.variants.remove(ix);
            self.sync_base_variant(&mut p);
            // Every edit of a product moves its `date_modified`, as the
            // store's does (what a change token reads).
            p.date_modified = timestamp();
            self.products.insert(pid, p);
            self.changed();
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ options

impl Store {
    pub(super) fn option_ix(p: &Product, oid: u64) -> R<usize> {
        p.options
            .iter()
            .position(|o| o.id == oid)
            .ok_or_else(|| ApiError::not_found("option"))
    }

    pub fn list_options(&self, pid: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(pid)?;
        page_of(
            p.options.iter().map(|o| Self::option_json(p, o)).collect(),
            q,
        )
    }

    pub fn get_option(&self, pid: u64, oid: u64) -> R<Value> {
        let p = self.product(pid)?;
        Ok(one(Self::option_json(
            p,
            &p.options[Self::option_ix(p, oid)?],
        )))
    }

    pub(super) fn option_values_in(&mut self, input: &Value, o: &mut ProductOption) -> R<()> {
        let list = match input {
            Value::Array(a) => a,
            _ => return Err(ApiError::invalid("option_values", "must be an array")),
        };
        for (i, v) in list.iter().enumerate() {
            let m = obj(v, "option value")?;
            let label = str_field(&m, "label").unwrap_or("");
            if label.is_empty() {
                return Err(ApiError::invalid(
                    &format!("option_values.{i}.label"),
                    "label is required",
                ));
            }
            let existing = m
                .get("id")
                .and_then(id_of)
                .and_then(|id| o.values.iter().position(|x| x.id == id))
                .or_else(|| o.values.iter().position(|x| x.label == label));
            let sort = m.get("sort_order").and_then(Value::as_i64);
            let is_default = m
                .get("is_default")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match existing {
                Some(ix) => {
                    let x = &mut o.values[ix];
                    x.label = label.to_string();
                    if let Some(s) = sort {
                        x.sort_order = s;
                    }
                    x.is_default = is_default;
                }
                None => {
                    if o.values.len() >= MAX_OPTION_VALUES {
                        return Err(ApiError::invalid(
                            "option_values",
                            format!("an option has at most {MAX_OPTION_VALUES} values"),
                        ));
                    }
                    let id = self.next("option_value");
                    o.values.push(OptionValue {
                        id,
                        label: label.to_string(),
                        sort_order: sort.unwrap_or(o.values.len() as i64),
                        is_default,
                        value_data: m.get("value_data").cloned().filter(|v| v.is_object()),
                    });
                }
            }
        }
        Ok(())
    }

    const OPTION_TYPES: &'static [&'static str] = &[
        "radio_buttons",
        "rectangles",
        "dropdown",
        "product_list",
        "product_list_with_images",
        "swatch",
    ];

    /// `POST /catalog/products/{id}/options`.
    pub fn create_option(&mut self, pid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "option")?;
        let display = str_field(&input, "display_name").unwrap_or("").to_string();
        if display.is_empty() {
            return Err(ApiError::invalid(
                "display_name",
                "display_name is required",
            ));
        }
        let kind = str_field(&input, "type").unwrap_or("").to_string();
        if !Self::OPTION_TYPES.contains(&kind.as_str()) {
            return Err(ApiError::invalid(
                "type",
                format!("must be one of {}", Self::OPTION_TYPES.join(", ")),
            ));
        }
        let mut scratch = self.clone();
        let mut p = scratch.product(pid)?.clone();
        if p.options.iter().any(|o| o.display_name == display) {
            return Err(ApiError::field(
                409,
                "An option with this display name exists",
                "display_name",
                format!("option '{display}' exists on product {pid}"),
            ));
        }
        let id = scratch.next("option");
        let mut o = ProductOption {
            id,
            display_name: display,
            kind,
            sort_order: input
                .get("sort_order")
                .and_then(Value::as_i64)
                .unwrap_or(p.options.len() as i64),
            values: Vec::new(),
        };
        if let Some(v) = input.get("option_values") {
            scratch.option_values_in(v, &mut o)?;
        }
        p.options.push(o);
        // Every edit of a product moves its `date_modified`, as the
        // store's does (what a change token reads).
        p.date_modified = timestamp();
        scratch.products.insert(pid, p);
        scratch.changed();
        *self = scratch;
        self.get_option(pid, id)
    }

    /// `PUT /catalog/products/{id}/options/{oid}`.
    pub fn update_option(&mut self, pid: u64, oid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "option")?;
        let mut scratch = self.clone();
        let mut p = scratch.product(pid)?.clone();
        let ix = Self::option_ix(&p, oid)?;
        let mut o = p.options[ix].clone();
        if let Some(d) = input.get("display_name") {
            let d = d.as_str().unwrap_or("");
            if d.is_empty() {
                return Err(ApiError::invalid(
                    "display_name",
                    "must be a non-empty string",
                ));
            }
            if p.options.iter().any(|x| x.id != oid && x.display_name == d) {
                return Err(ApiError::field(
                    409,
                    "An option with this display name exists",
                    "display_name",
                    d.to_string(),
                ));
            }
            o.display_name = d.to_string();
        }
        if let Some(k) = input.get("type") {
            match k.as_str() {
                Some(k) if Self::OPTION_TYPES.contains(&k) => o.kind = k.to_string(),
                _ => return Err(ApiError::invalid("type", "unknown option type")),
            }
        }
        if let Some(s) = input.get("sort_order").and_then(Value::as_i64) {
            o.sort_order = s;
        }
        if let Some(v) = input.get("option_values") {
            scratch.option_values_in(v, &mut o)?;
        }
        p.options[ix] = o;
        // Every edit of a product moves its `date_modified`, as the
        // store's does (what a change token reads).
        p.date_modified = timestamp();
        scratch.products.insert(pid, p);
        scratch.changed();
        *self = scratch;
        self.get_option(pid, oid)
    }

    /// `DELETE /catalog/products/{id}/options/{oid}`: its variants go too.
    pub fn delete_option(&mut self, pid: u64, oid: u64) -> R<()> {
        let mut p = self.product(pid)?.clone();
        if let Ok(ix) = Self::option_ix(&p, oid) {
            p.options.remove(ix);
            p.variants
                .retain(|v| !v.option_values.iter().any(|(o, _)| *o == oid));
            self.sync_base_variant(&mut p);
            // Every edit of a product moves its `date_modified`, as the
            // store's does (what a change token reads).
            p.date_modified = timestamp();
            self.products.insert(pid, p);
            self.changed();
        }
        Ok(())
    }

    pub fn list_option_values(&self, pid: u64, oid: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(pid)?;
        let o = &p.options[Self::option_ix(p, oid)?];
        page_of(o.values.iter().map(Self::option_value_json).collect(), q)
    }

    pub fn get_option_value(&self, pid: u64, oid: u64, vid: u64) -> R<Value> {
        let p = self.product(pid)?;
        let o = &p.options[Self::option_ix(p, oid)?];
        let v = o
            .values
            .iter()
            .find(|v| v.id == vid)
            .ok_or_else(|| ApiError::not_found("option value"))?;
        Ok(one(Self::option_value_json(v)))
    }

    /// `POST .../options/{oid}/values`.
    pub fn create_option_value(&mut self, pid: u64, oid: u64, body: &Value) -> R<Value> {
        let input = obj(body, "option value")?;
        let label = str_field(&input, "label").unwrap_or("").to_string();
        if label.is_empty() {
            return Err(ApiError::invalid("label", "label is required"));
        }
        let mut scratch = self.clone();
        let mut p = scratch.product(pid)?.clone();
        let ix = Self::option_ix(&p, oid)?;
        if p.options[ix].values.iter().any(|v| v.label == label) {
            return Err(ApiError::invalid(
                "label",
                format!("option value '{label}' exists"),
            ));
        }
        let mut o = p.options[ix].clone();
        scratch.option_values_in(&Value::Array(vec![Value::Object(input)]), &mut o)?;
        let vid = o.values.last().map(|v| v.id).unwrap_or(0);
        p.options[ix] = o;
        // Every edit of a product moves its `date_modified`, as the
        // store's does (what a change token reads).
        p.date_modified = timestamp();
        scratch.products.insert(pid, p);
        scratch.changed();
        *self = scratch;
        self.get_option_value(pid, oid, vid)
    }

    /// `PUT .../options/{oid}/values/{vid}`.
    pub fn update_option_value(&mut self, pid: u64, oid: u64, vid: u64, body: &Value) -> R<Value> {
        let mut input = obj(body, "option value")?;
        let mut p = self.product(pid)?.clone();
        let ix = Self::option_ix(&p, oid)?;
        let cur = p.options[ix]
            .values
            .iter()
            .find(|v| v.id == vid)
            .cloned()
            .ok_or_else(|| ApiError::not_found("option value"))?;
        input.insert("id".into(), json!(vid));
        if !input.contains_key("label") {
            input.insert("label".into(), json!(cur.label));
        }
        let label = str_field(&input, "label").unwrap_or("").to_string();
        if p.options[ix]
            .values
            .iter()
            .any(|v| v.id != vid && v.label == label)
        {
            return Err(ApiError::invalid(
                "label",
                format!("option value '{label}' exists"),
            ));
        }
        let mut o = p.options[ix].clone();
        self.option_values_in(&Value::Array(vec![Value::Object(input)]), &mut o)?;
        p.options[ix] = o;
        // Every edit of a product moves its `date_modified`, as the
        // store's does (what a change token reads).
        p.date_modified = timestamp();
        self.products.insert(pid, p);
        self.changed();
        self.get_option_value(pid, oid, vid)
    }

    /// `DELETE .../options/{oid}/values/{vid}`: the variants using it go too.
    pub fn delete_option_value(&mut self, pid: u64, oid: u64, vid: u64) -> R<()> {
        let mut p = self.product(pid)?.clone();
        if let Ok(ix) = Self::option_ix(&p, oid) {
            p.options[ix].values.retain(|v| v.id != vid);
            p.variants
                .retain(|v| !v.option_values.contains(&(oid, vid)));
            self.sync_base_variant(&mut p);
            // Every edit of a product moves its `date_modified`, as the
            // store's does (what a change token reads).
            p.date_modified = timestamp();
            self.products.insert(pid, p);
            self.changed();
        }
        Ok(())
    }
}
