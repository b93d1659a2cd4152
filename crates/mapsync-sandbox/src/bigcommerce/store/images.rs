//! Product images: added from a fetched or uploaded file, one thumbnail,
//! and the files served at `/product_images/`; a variant's one image.

use super::*;

// ------------------------------------------------------------------ images

impl Store {
    pub fn list_images(&self, ctx: &Ctx, pid: u64, q: &[(String, String)]) -> R<Value> {
        let p = self.product(pid)?;
        page_of(
            sorted_images(p)
                .into_iter()
                .map(|i| Self::image_json(ctx, p, i))
                .collect(),
            q,
        )
    }

    pub fn get_image(&self, ctx: &Ctx, pid: u64, iid: u64) -> R<Value> {
        let p = self.product(pid)?;
        let i = p
            .images
            .iter()
            .find(|i| i.id == iid)
            .ok_or_else(|| ApiError::not_found("image"))?;
        Ok(one(Self::image_json(ctx, p, i)))
    }

    pub(super) fn image_meta(
        input: &Map<String, Value>,
    ) -> R<(Option<bool>, Option<i64>, Option<String>)> {
        let thumb = match input.get("is_thumbnail") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
            Some(_) => return Err(ApiError::invalid("is_thumbnail", "must be a boolean")),
        };
        let sort = match input.get("sort_order") {
            None => None,
            Some(v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(n) if (i32::MIN as i64..=i32::MAX as i64).contains(&n) => Some(n),
                _ => return Err(ApiError::invalid("sort_order", "must be an integer")),
            },
        };
        let desc = match input.get("description") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::invalid("description", "must be a string")),
        };
        Ok((thumb, sort, desc))
    }

    pub(super) fn set_thumbnail(p: &mut Product, iid: u64) {
        for i in &mut p.images {
            i.is_thumbnail = i.id == iid;
        }
    }

    /// Check a product and an image's fields before its file is fetched.
    pub fn precheck_image(&self, pid: u64, input: &Map<String, Value>) -> R<()> {
        let p = self.product(pid)?;
        if p.images.len() >= MAX_IMAGES {
            return Err(ApiError::invalid(
                "image",
                format!("a product has at most {MAX_IMAGES} images"),
            ));
        }
        Self::image_meta(input)?;
        Ok(())
    }

    /// `POST /catalog/products/{id}/images` with the file already fetched
    /// (`image_url`) or uploaded (`image_file`).
    pub fn add_image(
        &mut self,
        ctx: &Ctx,
        pid: u64,
        input: &Map<String, Value>,
        file: Upload,
    ) -> R<Value> {
        self.precheck_image(pid, input)?;
        let mut p = self.product(pid)?.clone();
        let iid = self.attach_image(ctx, &mut p, input, file)?;
        p.date_modified = ctx.now.clone();
        self.products.insert(pid, p);
        self.changed();
        self.get_image(ctx, pid, iid)
    }

    /// Keep `file` and add it to `p` as an image with the fields of `input`.
    pub(super) fn attach_image(
        &mut self,
        ctx: &Ctx,
        p: &mut Product,
        input: &Map<String, Value>,
        file: Upload,
    ) -> R<u64> {
        let (thumb, sort, desc) = Self::image_meta(input)?;
        let field = if input.contains_key("image_url") {
            "image_url"
        } else {
            "image_file"
        };
        let Some(ct) = image_type(&file.bytes) else {
            return Err(ApiError::invalid(
                field,
                "the file is not an image (PNG, JPEG, GIF or WebP)",
            ));
        };
        if file.bytes.len() > MAX_IMAGE_BYTES {
            return Err(ApiError::invalid(field, "an image file is at most 8 MB"));
        }
        if p.images.len() >= MAX_IMAGES {
            return Err(ApiError::invalid(
                "image",
                format!("a product has at most {MAX_IMAGES} images"),
            ));
        }
        let iid = self.next("image");
        let name = image_file_name(iid, &file.name);
        use base64::Engine;
        use sha2::Digest;
        self.files.insert(
            name.clone(),
            ImageFile {
                content_type: ct.into(),
                data: base64::engine::general_purpose::STANDARD.encode(&file.bytes),
                sha256: hex::encode(sha2::Sha256::digest(&file.bytes)),
            },
        );
        let source = str_field(input, "image_url").unwrap_or("").to_string();
        let first = p.images.is_empty();
        let next_sort = p
            .images
            .iter()
            .map(|i| i.sort_order)
            .max()
            .map(|m| m + 1)
            .unwrap_or(0);
        p.images.push(Image {
            id: iid,
            image_file: name,
            is_thumbnail: false,
            sort_order: sort.unwrap_or(next_sort),
            description: desc.unwrap_or_default(),
            source_url: source,
            date_modified: ctx.now.clone(),
        });
        if thumb == Some(true) || first {
            Self::set_thumbnail(p, iid);
        }
        Ok(iid)
    }

    /// `POST /catalog/products/{id}/variants/{vid}/image`: the variant's
    /// one image (a new one replaces it), served like product images.
    pub fn set_variant_image(&mut self, ctx: &Ctx, pid: u64, vid: u64, file: Upload) -> R<Value> {
        let p = self.product(pid)?;
        let ix = Self::variant_ix(p, vid)?;
        let old = p.variants[ix]
            .fields
            .get("image_url")
            .and_then(Value::as_str)
            .and_then(|u| u.split("/product_images/").nth(1))
            .map(str::to_string);
        let Some(ct) = image_type(&file.bytes) else {
            return Err(ApiError::invalid(
                "image_url",
                "the file is not an image (PNG, JPEG, GIF or WebP)",
            ));
        };
        if file.bytes.len() > MAX_IMAGE_BYTES {
            return Err(ApiError::invalid(
                "image_url",
                "an image file is at most 8 MB",
            ));
        }
        let n = self.next("file");
        let name = format!("variants/{vid}/{}", image_file_name(n, &file.name));
        use base64::Engine;
        use sha2::Digest;
        self.files.insert(
            name.clone(),
            ImageFile {
                content_type: ct.into(),
                data: base64::engine::general_purpose::STANDARD.encode(&file.bytes),
                sha256: hex::encode(sha2::Sha256::digest(&file.bytes)),
            },
        );
        if let Some(old) = old {
            self.files.remove(&old);
        }
        let url = format!("{}/product_images/{name}", ctx.base);
        let p = self.product_mut(pid)?;
        p.variants[ix].fields.insert("image_url".into(), json!(url));
        p.date_modified = ctx.now.clone();
        self.changed();
        Ok(one(json!({ "image_url": url })))
    }

    /// `PUT /catalog/products/{id}/images/{iid}` (fields only; a new file
    /// by `image_url` is fetched by `http` and given as `file`).
    pub fn update_image(
        &mut self,
        ctx: &Ctx,
        pid: u64,
        iid: u64,
        input: &Map<String, Value>,
        file: Option<Upload>,
    ) -> R<Value> {
        let (thumb, sort, desc) = Self::image_meta(input)?;
        let p = self.product(pid)?;
        if !p.images.iter().any(|i| i.id == iid) {
            return Err(ApiError::not_found("image"));
        }
        let mut new_name = None;
        if let Some(f) = file {
            let Some(ct) = image_type(&f.bytes) else {
                return Err(ApiError::invalid(
                    "image_url",
                    "the file is not an image (PNG, JPEG, GIF or WebP)",
                ));
            };
            let name = image_file_name(iid, &format!("{}-{}", self.next("file"), f.name));
            use base64::Engine;
            use sha2::Digest;
            self.files.insert(
                name.clone(),
                ImageFile {
                    content_type: ct.into(),
                    data: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
                    sha256: hex::encode(sha2::Sha256::digest(&f.bytes)),
                },
            );
            new_name = Some(name);
        }
        let source = str_field(input, "image_url").map(str::to_string);
        let p = self.product_mut(pid)?;
        let mut old_file = None;
        if let Some(i) = p.images.iter_mut().find(|i| i.id == iid) {
            if let Some(s) = sort {
                i.sort_order = s;
            }
            if let Some(d) = desc {
                i.description = d;
            }
            if let Some(n) = new_name {
                old_file = Some(std::mem::replace(&mut i.image_file, n));
                if let Some(s) = source {
                    i.source_url = s;
                }
            }
            i.date_modified = ctx.now.clone();
        }
        p.date_modified = ctx.now.clone();
        match thumb {
            Some(true) => Self::set_thumbnail(p, iid),
            Some(false) => {
                if let Some(i) = p.images.iter_mut().find(|i| i.id == iid) {
                    i.is_thumbnail = false;
                }
            }
            None => {}
        }
        if let Some(f) = old_file {
            self.files.remove(&f);
        }
        self.changed();
        self.get_image(ctx, pid, iid)
    }

    /// `DELETE /catalog/products/{id}/images/{iid}`.
    pub fn delete_image(&mut self, pid: u64, iid: u64) -> R<()> {
        let p = self.product_mut(pid)?;
        let Some(ix) = p.images.iter().position(|i| i.id == iid) else {
            return Ok(());
        };
        let img = p.images.remove(ix);
        p.date_modified = timestamp();
        if img.is_thumbnail {
            if let Some(first) = sorted_images(p).first().map(|i| i.id) {
                Self::set_thumbnail(p, first);
            }
        }
        self.files.remove(&img.image_file);
        self.changed();
        Ok(())
    }

    /// Forget the image files of a deleted product.
    pub(super) fn drop_files(&mut self, p: &Product) {
        for i in &p.images {
            self.files.remove(&i.image_file);
        }
    }

    /// The bytes and type of `/product_images/{path}`.
    pub fn file(&self, path: &str) -> Option<(String, Vec<u8>)> {
        use base64::Engine;
        let f = self.files.get(path)?;
        let b = base64::engine::general_purpose::STANDARD
            .decode(&f.data)
            .ok()?;
        Some((f.content_type.clone(), b))
    }
}
