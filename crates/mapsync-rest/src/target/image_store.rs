//! The image port ([`ImageStore`]) over a `rest` target, for the image
//! round trip (`mapsync images pull` / `publish`):
//!
//! * listing: the product list (`entities.product.list`, page by page,
//!   its paging), then each product's images (`images.list`), in position
//!   order, with their alt text (`images.list.alt`); a product's key is
//!   its ownership marker (`list.key`), else its handle, else its id, and
//!   a product is found by its key in that order;
//! * download: a GET of the image's URL — with the target's credentials on
//!   the server of `base_url`, a plain GET anywhere else;
//! * a file is given to the store by `images.upload` (its bytes, named
//!   [`mapsync_core::images::published_name`]; the answer says the URL the
//!   store serves it at), once per upload cache ([`Uploads`]);
//! * overwrite: `images.overwrite` with that URL at the image's position
//!   (else `images.delete`, then `images.add` at the same position);
//! * append: `images.add` after the product's images (sent once: a lost
//!   answer is checked by listing the images again);
//! * delete: `images.delete`.
//!
//! A store keeps image URLs, and a store that serves the uploaded file
//! under its name keeps the file's hash in the image's URL: a publish run
//! again without its state store recognises what it published.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use mapsync_core::images::{
    published_hash_in_url, upload_key, ImageFile, ImageFilter, ImagePage, ImageStore, ImageWritten,
    ProductImages, StoreImage as PortImage,
};
use mapsync_core::source::{Entity, ReadScope};
use mapsync_core::target::{TargetError, Uploads};
use rand::Rng as _;
use serde_json::{json, Map, Value};
use url::Url;

use super::images::{Call, StoreImage};
use super::spec::{text, ImageSpec, Spec, Upload};
use super::{json_of, RestTarget};
use crate::error::{RestError, RestErrorKind};
use crate::http::Request;
use crate::options::UploadEncoding;
use crate::paging::{self, Walker};
use crate::read;

/// The largest image downloaded.
pub const MAX_IMAGE_BYTES: usize = 64 << 20;

/// Listings under way: the cursor a page handed out → the walk and the
/// next page's URL (the paging styles keep state between pages).
#[derive(Debug, Default)]
pub(super) struct Listings {
    walks: Mutex<HashMap<String, (Walker, Url)>>,
    next: AtomicU64,
}

impl Listings {
    fn take(&self, cursor: &str) -> Option<(Walker, Url)> {
        self.walks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(cursor)
    }

    fn keep(&self, walker: Walker, next: Url) -> String {
        let cursor = format!("page-{}", self.next.fetch_add(1, Ordering::Relaxed) + 2);
        self.walks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cursor.clone(), (walker, next));
        cursor
    }
}

fn no_images() -> RestError {
    RestError::config(
        "the target's options have no `images`",
        "add `images: { list, add, overwrite, delete, upload }` to the `rest` target (docs/rest.md)",
    )
}

fn no_upload() -> RestError {
    RestError::config(
        "the target's `images` have no `upload` request: the store takes image URLs, and an edited file has none",
        "add `images.upload: { path: ..., url: ... }`: the request that sends a file's bytes and answers with its URL (docs/rest.md)",
    )
}

/// Whether a write with an uploaded file's URL failed because the store no
/// longer takes the URL (a 4xx other than 404, 409, 429).
fn refused(e: &RestError) -> bool {
    e.kind == RestErrorKind::Status
        && e.status
            .is_some_and(|s| (400..500).contains(&s) && ![404, 409, 429].contains(&s))
}

/// A write that gives an image a file's URL.
enum Op<'a> {
    Overwrite {
        product_id: &'a str,
        image: &'a PortImage,
    },
    Append {
        product: &'a ProductImages,
        alt: Option<&'a str>,
    },
}

/// A `multipart/form-data` body with one part, the file; and its
/// content type.
fn multipart(field: &str, file: &ImageFile) -> (Vec<u8>, String) {
    let mut rng = rand::rng();
    let tail: String = (0..24)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect();
    let boundary = format!("mapsync-{tail}");
    let mut body = Vec::with_capacity(file.bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            file.name(),
            file.format.mime()
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

impl RestTarget {
    fn image_spec(&self) -> Result<(&Spec, &ImageSpec), RestError> {
        let spec = self.spec_or_err(Entity::Product)?;
        let im = self.images.as_ref().ok_or_else(no_images)?;
        Ok((spec, im))
    }

    /// A product record with its images, neutral; `None` when it has no
    /// id, or was deleted since it was listed.
    async fn product_images(
        &self,
        spec: &Spec,
        m: &Map<String, Value>,
        count: &mut u32,
    ) -> Result<Option<ProductImages>, RestError> {
        let Some(id) = spec.id_of(m) else {
            tracing::warn!("a product of the target has no id at `list.id`; it is ignored");
            return Ok(None);
        };
        let images = match self.list_images(&id, count).await {
            Ok(list) => list,
            Err(e) if e.status == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let key = spec
            .marker_of(m)
            .or_else(|| Some(spec.handle_of(m)).filter(|h| !h.is_empty()))
            .unwrap_or_else(|| id.clone());
        let images = images
            .into_iter()
            .enumerate()
            .map(|(i, im)| PortImage {
                id: im.id,
                position: u32::try_from(i + 1).unwrap_or(u32::MAX),
                alt: im.alt,
                variants: Vec::new(),
                source_url: Some(im.url.clone()),
                download_url: Some(im.url),
                content_type: None,
                width: None,
                height: None,
            })
            .collect();
        Ok(Some(ProductImages {
            product_id: id,
            key,
            sku: None,
            images,
        }))
    }

    async fn list_page(
        &self,
        scope: ReadScope,
        cursor: Option<&str>,
    ) -> Result<ImagePage, RestError> {
        let (spec, _) = self.image_spec()?;
        let (mut walker, url) = match cursor {
            None => {
                let first = spec.reader.first_url(scope);
                (
                    Walker::new(spec.reader.paging.clone(), first.clone()),
                    first,
                )
            }
            Some(c) => self.listings.take(c).ok_or_else(|| {
                RestError::new(
                    RestErrorKind::Paging,
                    format!("the listing cursor `{c}` is not one this target handed out"),
                    "read the products again from the first page",
                )
            })?,
        };
        let page = read::fetch_page_as(
            self.http.clone(),
            spec.reader.clone(),
            url,
            "reading the target's products and their images".into(),
        )
        .await?;
        let mut count = page.requests;
        let next = walker.next(&page.facts, &page.origin)?;
        let mut products = Vec::with_capacity(page.records.len());
        for r in page.records {
            if let Value::Object(m) = r {
                if spec.reader.older(&m, scope) {
                    continue;
                }
                if let Some(p) = self.product_images(spec, &m, &mut count).await? {
                    products.push(p);
                }
            }
        }
        Ok(ImagePage {
            products,
            next: next.map(|u| self.listings.keep(walker, u)),
            requests: count,
        })
    }

    async fn product_by_key(&self, key: &str) -> Result<Option<ProductImages>, RestError> {
        let (spec, _) = self.image_spec()?;
        let mut count = 0;
        let found = match self.find_key(spec, key, &mut count).await? {
            Some(m) => Some(m),
            None if spec.handle.is_some() => {
                let mut found = None;
                let what = format!("finding product {key} by its handle");
                let first = spec.reader.first_url(ReadScope::Full);
                let mut visit = |m: Map<String, Value>| {
                    if spec.handle_of(&m) == key {
                        found = Some(m);
                        false
                    } else {
                        true
                    }
                };
                self.walk(spec, first, &what, &mut count, &mut visit)
                    .await?;
                found
            }
            None => None,
        };
        // A product without marker nor handle is listed under its id.
        let found = match found {
            Some(m) => Some(m),
            None => match self.records(spec, &[key.to_string()], &mut count).await {
                Ok(list) => list
                    .into_iter()
                    .find(|m| spec.marker_of(m).is_none() && spec.handle_of(m).is_empty()),
                // Not an id the store takes (`get` refuses it): no product.
                Err(e)
                    if e.kind == RestErrorKind::Status
                        && e.status.is_some_and(|s| (400..500).contains(&s)) =>
                {
                    None
                }
                Err(e) => return Err(e),
            },
        };
        match found {
            Some(m) => self.product_images(spec, &m, &mut count).await,
            None => Ok(None),
        }
    }

    /// Sends `file` by `images.upload`: the URL the store serves it at.
    async fn upload_file(
        &self,
        up: &Upload,
        file: &ImageFile,
        count: &mut u32,
    ) -> Result<String, RestError> {
        let name = file.name();
        let ctx = minijinja::Value::from_serialize(json!({
            "name": name,
            "sha256": file.sha256,
            "content_type": file.format.mime(),
            "size": file.bytes.len(),
        }));
        let (body, content_type) = match up.encoding {
            UploadEncoding::Multipart => multipart(&up.field, file),
            UploadEncoding::Raw => (file.bytes.clone(), file.format.mime().to_string()),
        };
        let what = format!("uploading {name}");
        let req = Request {
            method: up.method.clone(),
            url: self.url(&up.path, &ctx)?,
            body: Some(body),
            content_type: Some(content_type),
            what: what.clone(),
        };
        // Sent again after a lost answer: the same name, the same file.
        let reply = self.http.send(&req, count).await?;
        let v = json_of(&reply, &what)?;
        let Some(at) = text(paging::at(&v, &up.url)) else {
            return Err(RestError::new(
                RestErrorKind::Body,
                format!(
                    "{what}: the answer has no URL at `{}`",
                    if up.url.is_empty() {
                        "(the body)".to_string()
                    } else {
                        up.url.join(".")
                    }
                ),
                "set `images.upload.url` to the dotted path of the file's URL in the answer, e.g. `data.url`",
            ));
        };
        // A path is on the server that answered.
        let url = reply.url.join(at.trim()).map_err(|_| {
            RestError::new(
                RestErrorKind::Body,
                format!("{what}: the answer's URL is not a URL"),
                "check `images.upload.url`: it should name the file's URL in the answer",
            )
        })?;
        if published_hash_in_url(url.as_str()) != Some(file.sha256.as_str()) {
            tracing::warn!(
                file = %name,
                "the store's URL of an uploaded file does not keep its name: a publish without its state store cannot recognise the file"
            );
        }
        Ok(url.to_string())
    }

    /// The URL the store takes `file` from: the upload `uploads` remembers
    /// (unless `fresh`), else a new upload, remembered. Items in flight
    /// with the same file upload it once. Also says whether it came from
    /// `uploads`.
    async fn source_for(
        &self,
        file: &ImageFile,
        uploads: &Uploads,
        fresh: bool,
        count: &mut u32,
    ) -> Result<(String, bool), RestError> {
        let (_, im) = self.image_spec()?;
        let up = im.upload.as_ref().ok_or_else(no_upload)?;
        let key = upload_key(&file.sha256);
        let _claim = uploads.claim(&key).await;
        if fresh {
            uploads.forget(&key).await;
        } else if let Some(url) = uploads.lookup(&key).await {
            tracing::debug!(file = %file.name(), "already uploaded; using that upload");
            return Ok((url, true));
        }
        let url = self.upload_file(up, file, count).await?;
        uploads.record(&key, &url).await;
        Ok((url, false))
    }

    /// Sends `op` with the file's URL; when the store refuses a URL taken
    /// from `uploads` (it dropped the file), uploads the file again and
    /// sends once more. The image's id after, when known.
    async fn write_with_source(
        &self,
        op: Op<'_>,
        file: &ImageFile,
        uploads: &Uploads,
        count: &mut u32,
    ) -> Result<Option<String>, RestError> {
        let (url, cached) = self.source_for(file, uploads, false, count).await?;
        match self.write_op(&op, &url, count).await {
            Err(e) if cached && refused(&e) => {
                tracing::debug!(file = %file.name(), "the store refused a remembered upload; uploading again");
                let (url, _) = self.source_for(file, uploads, true, count).await?;
                self.write_op(&op, &url, count).await
            }
            other => other,
        }
    }

    async fn write_op(
        &self,
        op: &Op<'_>,
        url: &str,
        count: &mut u32,
    ) -> Result<Option<String>, RestError> {
        match *op {
            Op::Overwrite { product_id, image } => {
                self.overwrite_with(product_id, image, url, count).await
            }
            Op::Append { product, alt } => {
                let position = product.images.len() + 1;
                self.add_image(&product.product_id, &product.key, url, position, alt, count)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Replaces image `image` by the file at `url`: `images.overwrite`,
    /// else delete and add at the same position. The image's id after.
    async fn overwrite_with(
        &self,
        product_id: &str,
        image: &PortImage,
        url: &str,
        count: &mut u32,
    ) -> Result<Option<String>, RestError> {
        let (_, im) = self.image_spec()?;
        let position = usize::try_from(image.position.max(1)).unwrap_or(usize::MAX);
        let call = Call {
            product_id,
            image_id: Some(&image.id),
            url,
            position,
            alt: image.alt.as_deref(),
        };
        match (&im.overwrite, &im.delete) {
            (Some(req), _) => {
                let what = format!("overwriting image {} of product {product_id}", image.id);
                let r = self.image_request(req, &call, what)?;
                self.http.send(&r, count).await?;
                Ok(Some(image.id.clone()))
            }
            (None, Some(del)) => {
                let what = format!("deleting image {} of product {product_id}", image.id);
                let r = self.image_request(del, &call, what)?;
                match self.http.send(&r, count).await {
                    Err(e) if e.status != Some(404) => return Err(e),
                    _ => {}
                }
                self.add_image(
                    product_id,
                    product_id,
                    url,
                    position,
                    image.alt.as_deref(),
                    count,
                )
                .await?;
                Ok(None)
            }
            (None, None) => Err(RestError::config(
                "the target's `images` have neither `overwrite` nor `delete`: an image cannot be replaced",
                "add `images.overwrite` (the request that gives an image a new URL)",
            )),
        }
    }

    async fn overwrite_file(
        &self,
        product_id: &str,
        image: &PortImage,
        file: &ImageFile,
        uploads: &Uploads,
    ) -> Result<ImageWritten, RestError> {
        let mut count = 0;
        let op = Op::Overwrite { product_id, image };
        let id = self
            .write_with_source(op, file, uploads, &mut count)
            .await?;
        Ok(ImageWritten {
            image_id: id,
            requests: count,
        })
    }

    async fn append_file(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        uploads: &Uploads,
    ) -> Result<ImageWritten, RestError> {
        let mut count = 0;
        let op = Op::Append { product, alt };
        self.write_with_source(op, file, uploads, &mut count)
            .await?;
        Ok(ImageWritten {
            image_id: None,
            requests: count,
        })
    }

    async fn delete_one(
        &self,
        product_id: &str,
        image_id: &str,
    ) -> Result<ImageWritten, RestError> {
        let (_, im) = self.image_spec()?;
        let Some(del) = &im.delete else {
            return Err(RestError::config(
                "the target's `images` have no `delete` request",
                "add `images.delete: { path: ... }`",
            ));
        };
        let current = StoreImage {
            id: image_id.to_string(),
            url: String::new(),
            alt: None,
        };
        let call = Call {
            product_id,
            image_id: Some(&current.id),
            url: &current.url,
            position: 1,
            alt: None,
        };
        let what = format!("deleting image {image_id} of product {product_id}");
        let r = self.image_request(del, &call, what)?;
        let mut count = 0;
        match self.http.send(&r, &mut count).await {
            // Already gone.
            Err(e) if e.status == Some(404) => {}
            other => {
                other?;
            }
        }
        Ok(ImageWritten {
            image_id: Some(image_id.to_string()),
            requests: count,
        })
    }
}

#[async_trait]
impl ImageStore for RestTarget {
    fn parallelism(&self) -> usize {
        4
    }

    async fn list(
        &self,
        filter: &ImageFilter,
        cursor: Option<&str>,
    ) -> Result<ImagePage, TargetError> {
        let scope = match &filter.since {
            None => ReadScope::Full,
            Some(_) if self.image_spec()?.0.reader.since.is_none() => {
                if cursor.is_none() {
                    tracing::warn!(
                        "the `rest` target has no `entities.product.since`: `--since` is not applied, every product is listed (add `since: {{ param: updated_since }}` or use `--only`)"
                    );
                }
                ReadScope::Full
            }
            Some(text) => ReadScope::Since(since_instant(text)?),
        };
        Ok(self.list_page(scope, cursor).await?)
    }

    async fn product(&self, key: &str) -> Result<Option<ProductImages>, TargetError> {
        Ok(self.product_by_key(key).await?)
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TargetError> {
        let u = Url::parse(url).map_err(|_| {
            RestError::new(
                RestErrorKind::Body,
                "downloading an image: its URL is not an absolute URL",
                "the store lists image URLs that cannot be fetched; check `images.list.url`",
            )
        })?;
        let mut count = 0;
        Ok(self.http.download(&u, MAX_IMAGE_BYTES, &mut count).await?)
    }

    async fn overwrite(
        &self,
        product_id: &str,
        image: &PortImage,
        file: &ImageFile,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        Ok(self
            .overwrite_file(product_id, image, file, uploads)
            .await?)
    }

    async fn append(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        Ok(self.append_file(product, file, alt, uploads).await?)
    }

    async fn delete(&self, product_id: &str, image_id: &str) -> Result<ImageWritten, TargetError> {
        Ok(self.delete_one(product_id, image_id).await?)
    }
}

/// `--since` (`YYYY-MM-DD`, midnight UTC, or RFC 3339) as an instant.
fn since_instant(text: &str) -> Result<std::time::SystemTime, RestError> {
    let t = text.trim();
    let parsed = mapsync_core::value::parse_instant(t);
    let at = parsed.ok_or_else(|| {
        RestError::new(
            RestErrorKind::Config,
            format!("`--since {t}` is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            "write e.g. `--since 2026-01-31` or `--since 2026-01-31T12:00:00Z`",
        )
    })?;
    let secs = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    Ok(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapsync_core::image::ImageFormat;

    #[test]
    fn a_multipart_body_holds_the_file_under_its_name() {
        let file = ImageFile {
            bytes: b"\x89PNG\r\n\x1a\nabc".to_vec(),
            sha256: "a".repeat(64),
            format: ImageFormat::Png,
        };
        let (body, ct) = multipart("file", &file);
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains(&format!(
            "name=\"file\"; filename=\"mapsync-img-{}.png\"",
            "a".repeat(64)
        )));
        assert!(text.contains("Content-Type: image/png\r\n\r\n\u{fffd}PNG"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn only_a_refusal_uploads_again() {
        let e = |kind, status| RestError {
            kind,
            message: String::new(),
            help: String::new(),
            status: Some(status),
        };
        assert!(refused(&e(RestErrorKind::Status, 422)));
        assert!(refused(&e(RestErrorKind::Status, 400)));
        assert!(!refused(&e(RestErrorKind::Status, 404)));
        assert!(!refused(&e(RestErrorKind::Unreachable, 503)));
    }
}
