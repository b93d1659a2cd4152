//! The image port ([`ImageStore`]) over a Shopify store, for the image
//! round trip (`mapsync images pull` / `publish`):
//!
//! * listing: `ProductImagesPage` (products with their media in order,
//!   the media linked to each variant, the ownership marker as the key);
//!   a product whose media or variants overflow the page is read again
//!   alone (`ProductImages`, up to Shopify's 250 media and 50 variants);
//! * download: a plain GET of the image's URL (no access token);
//! * overwrite: the file is staged (`stagedUploadsCreate`, then the bytes),
//!   then `fileUpdate` gives the medium the new `originalSource` — same id,
//!   position, variant links and alt text;
//! * append: staged, then `productUpdate(media:)`;
//! * delete: `fileUpdate(referencesToRemove:)`.
//!
//! Staged files are named after the SHA-256 of their bytes
//! ([`mapsync_core::images::published_name`]), so a publish resumed after a
//! lost answer finds the file among the product's images. A file is staged
//! once per upload cache ([`Uploads`], by
//! [`mapsync_core::images::upload_key`]); a cached source the store
//! refuses is staged again and the write sent once more. After a write
//! the new medium is followed until the store has processed it (a failed
//! one fails the write with the store's reason).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use mapsync_core::images::{
    published_hash_in_url, upload_key, ImageFile, ImageFilter, ImagePage, ImageStore, ImageWritten,
    ProductImages, StoreImage,
};
use mapsync_core::target::{ErrorKind, TargetError, Uploads};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{debug, warn};

use crate::documents;
use crate::error::{ShopifyError, UserErrorInfo};
use crate::read::ShopifyTarget;
use crate::upload::StagedResource;

/// Products per listing page (878 points requested; a page costs what
/// its products hold).
const PAGE_PRODUCTS: u32 = 6;
/// Media per product on a listing page.
const PAGE_MEDIA: u32 = 20;
/// Variants per product on a listing page.
const PAGE_VARIANTS: u32 = 20;
/// Media of one product read alone (Shopify's limit).
const ALL_MEDIA: u32 = 250;
/// Variants of one product read alone.
const ALONE_VARIANTS: u32 = 50;
/// How long a written image is followed until the store processed it.
const PROCESSING_WAIT: Duration = Duration::from_secs(20);

/// Cost of `FileUpdate`.
pub const FILE_UPDATE_COST: u32 = 12;
/// Cost of `ProductAppendMedia`.
pub const PRODUCT_APPEND_MEDIA_COST: u32 = 13;

/// The variables of a `ProductImagesPage` request.
pub fn page_variables(cursor: Option<&str>, query: Option<&str>) -> Value {
    json!({
        "first": PAGE_PRODUCTS,
        "after": cursor,
        "query": query,
        "mediaFirst": PAGE_MEDIA,
        "variantsFirst": PAGE_VARIANTS,
    })
}

/// The variables of the `FileUpdate` that gives medium `image_id` the
/// file at `source` (a staged `resourceUrl`).
pub fn overwrite_variables(image_id: &str, source: &str) -> Value {
    json!({ "files": [{ "id": image_id, "originalSource": source }] })
}

/// The variables of the `ProductAppendMedia` that adds the file at
/// `source` to `product_id`.
pub fn append_variables(product_id: &str, source: &str, alt: Option<&str>) -> Value {
    let mut media = json!({ "originalSource": source, "mediaContentType": "IMAGE" });
    if let Some(alt) = alt {
        media["alt"] = json!(alt);
    }
    json!({ "product": { "id": product_id }, "media": [media] })
}

/// The variables of the `FileUpdate` that removes medium `image_id` from
/// `product_id`.
pub fn delete_variables(product_id: &str, image_id: &str) -> Value {
    json!({ "files": [{ "id": image_id, "referencesToRemove": [product_id] }] })
}

/// Cost of `ProductImagesPage`.
pub fn product_images_page(first: u32, media: u32, variants: u32) -> u32 {
    2 + first * (6 + 4 * variants + 3 * media)
}

/// Cost of `ProductImages`.
pub fn product_images(ids: u32, media: u32, variants: u32) -> u32 {
    ids * (6 + 4 * variants + 3 * media)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nodes<T> {
    #[serde(default = "Vec::new")]
    nodes: Vec<T>,
    page_info: Option<MoreInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoreInfo {
    #[serde(default)]
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaConn {
    #[serde(default = "Vec::new")]
    nodes: Vec<WireMedia>,
    page_info: Option<MoreInfo>,
}

#[derive(Deserialize)]
struct Marker {
    value: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct WireVariant {
    id: String,
    sku: Option<String>,
    media: Option<Nodes<IdOnly>>,
}

#[derive(Deserialize)]
struct Url {
    url: Option<String>,
}

#[derive(Deserialize)]
struct WireImage {
    url: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMedia {
    id: String,
    alt: Option<String>,
    media_content_type: Option<String>,
    status: Option<String>,
    mime_type: Option<String>,
    image: Option<WireImage>,
    original_source: Option<Url>,
}

#[derive(Deserialize)]
struct WireProduct {
    id: String,
    handle: String,
    marker: Option<Marker>,
    variants: Option<Nodes<WireVariant>>,
    media: Option<MediaConn>,
}

impl WireProduct {
    /// Whether the page holds only some of its media or variants.
    fn overflows(&self) -> bool {
        let media = self.media.as_ref().and_then(|m| m.page_info.as_ref());
        let variants = self.variants.as_ref().and_then(|v| v.page_info.as_ref());
        media.is_some_and(|p| p.has_next_page) || variants.is_some_and(|p| p.has_next_page)
    }

    /// The neutral product: images in order, positions from 1, variant
    /// links by SKU (by id when a variant has none). Media that are not
    /// images are left out (they keep their place in the store).
    fn into_neutral(self) -> ProductImages {
        let variants = self.variants.map(|v| v.nodes).unwrap_or_default();
        let sku = variants
            .iter()
            .find_map(|v| v.sku.clone())
            .filter(|s| !s.is_empty());
        let key = self
            .marker
            .and_then(|m| m.value)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.handle.clone());
        let mut images = Vec::new();
        let media = self.media.map(|m| m.nodes).unwrap_or_default();
        for (n, m) in media.into_iter().enumerate() {
            let position = u32::try_from(n + 1).unwrap_or(u32::MAX);
            if m.media_content_type
                .as_deref()
                .is_some_and(|t| t != "IMAGE")
            {
                continue;
            }
            let linked = variants
                .iter()
                .filter(|v| {
                    v.media
                        .as_ref()
                        .is_some_and(|n| n.nodes.iter().any(|x| x.id == m.id))
                })
                .map(|v| {
                    v.sku
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| v.id.clone())
                })
                .collect();
            let ready = m.status.as_deref().is_none_or(|s| s == "READY");
            let (download_url, width, height) = match m.image {
                Some(i) if ready => (
                    i.url,
                    i.width.and_then(|w| u32::try_from(w).ok()),
                    i.height.and_then(|h| u32::try_from(h).ok()),
                ),
                _ => (None, None, None),
            };
            images.push(StoreImage {
                id: m.id,
                position,
                alt: m.alt.filter(|a| !a.is_empty()),
                variants: linked,
                source_url: m.original_source.and_then(|s| s.url),
                download_url,
                content_type: m.mime_type,
                width,
                height,
            });
        }
        ProductImages {
            product_id: self.id,
            key,
            sku,
            images,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    request_id: &str,
    pointer: &str,
    data: &Value,
) -> Result<T, ShopifyError> {
    let value = data.pointer(pointer).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| ShopifyError::Decode {
        operation,
        request_id: request_id.to_owned(),
        message: format!("{pointer}: {e}"),
    })
}

/// A write that gives a file's source: its document, where its user
/// errors are, its cost.
#[derive(Clone, Copy)]
struct SourceWrite {
    doc: &'static documents::Document,
    errors_at: &'static str,
    cost: u32,
}

const OVERWRITE: SourceWrite = SourceWrite {
    doc: &documents::FILE_UPDATE,
    errors_at: "/fileUpdate/userErrors",
    cost: FILE_UPDATE_COST,
};

const APPEND: SourceWrite = SourceWrite {
    doc: &documents::PRODUCT_APPEND_MEDIA,
    errors_at: "/productUpdate/userErrors",
    cost: PRODUCT_APPEND_MEDIA_COST,
};

/// Whether `e` refuses a file's `originalSource`.
fn refused_source(e: &ShopifyError) -> bool {
    match e {
        ShopifyError::UserErrors { errors, .. } => errors.iter().any(|u| {
            u.field
                .as_ref()
                .is_some_and(|f| f.iter().any(|p| p == "originalSource"))
        }),
        _ => false,
    }
}

/// The `userErrors` at `pointer`, as an error when there are any.
fn user_errors(operation: &'static str, data: &Value, pointer: &str) -> Result<(), ShopifyError> {
    let errors = data
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if errors.is_empty() {
        return Ok(());
    }
    Err(ShopifyError::UserErrors {
        operation,
        errors: serde_json::from_value::<Vec<UserErrorInfo>>(Value::Array(errors))
            .unwrap_or_default(),
    })
}

impl ShopifyTarget {
    /// Products by id with all their images: read with each of `bounds`
    /// (media, variants) in turn until one holds them all.
    async fn product_images_by_id(
        &self,
        ids: &[String],
        bounds: &[(u32, u32)],
    ) -> Result<Vec<ProductImages>, ShopifyError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let mut found = None;
            for &(media, variants) in bounds {
                let answer = self
                    .client()
                    .execute::<Value>(
                        &documents::PRODUCT_IMAGES,
                        json!({ "ids": [id], "mediaFirst": media, "variantsFirst": variants }),
                        product_images(1, media, variants),
                    )
                    .await?;
                let nodes: Vec<Option<WireProduct>> = decode(
                    documents::PRODUCT_IMAGES.name,
                    &answer.request_id,
                    "/nodes",
                    &answer.data,
                )?;
                found = nodes.into_iter().flatten().next();
                if !found.as_ref().is_some_and(WireProduct::overflows) {
                    break;
                }
            }
            if let Some(p) = found {
                if p.overflows() {
                    warn!(product = %p.id, "more than {ALL_MEDIA} media or {ALONE_VARIANTS} variants: the images or variant links beyond are not read");
                }
                out.push(p.into_neutral());
            }
        }
        Ok(out)
    }

    /// Stages `file` as a product image.
    async fn stage_image(
        &self,
        file: &ImageFile,
        requests: &mut u32,
    ) -> Result<String, ShopifyError> {
        let staged = self
            .stage_file(
                StagedResource::Image,
                &file.name(),
                file.format.mime(),
                file.bytes.clone(),
                requests,
            )
            .await?;
        staged.resource_url.ok_or_else(|| ShopifyError::Decode {
            operation: documents::STAGED_UPLOADS_CREATE.name,
            request_id: String::new(),
            message: "the staged target has no resourceUrl".into(),
        })
    }

    /// Where the store takes `file` from: the upload `uploads` remembers
    /// (unless `fresh`), else a new staged upload, remembered. Items in
    /// flight with the same file upload it once. Also says whether it came
    /// from `uploads`.
    async fn source_for(
        &self,
        file: &ImageFile,
        uploads: &Uploads,
        fresh: bool,
        requests: &mut u32,
    ) -> Result<(String, bool), ShopifyError> {
        let key = upload_key(&file.sha256);
        let _claim = uploads.claim(&key).await;
        if fresh {
            uploads.forget(&key).await;
        } else if let Some(url) = uploads.lookup(&key).await {
            debug!(file = %file.name(), "already uploaded; using that upload");
            return Ok((url, true));
        }
        let url = self.stage_image(file, requests).await?;
        uploads.record(&key, &url).await;
        Ok((url, false))
    }

    /// Sends `doc` with the variables `vars(source)` for the file's source;
    /// when the store refuses a source taken from `uploads` (it dropped
    /// the staged file), uploads the file again and sends once more.
    async fn write_with_source(
        &self,
        write: SourceWrite,
        file: &ImageFile,
        uploads: &Uploads,
        vars: impl Fn(&str) -> Value,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        let SourceWrite {
            doc,
            errors_at,
            cost,
        } = write;
        let (source, cached) = self.source_for(file, uploads, false, requests).await?;
        let send = |source: String| {
            let vars = vars(&source);
            async move {
                let answer = self.client().execute::<Value>(doc, vars, cost).await?;
                Ok::<_, ShopifyError>((answer.attempts.max(1), answer.data))
            }
        };
        let (attempts, data) = send(source).await?;
        *requests += attempts;
        match user_errors(doc.name, &data, errors_at) {
            Err(e) if cached && refused_source(&e) => {
                debug!(file = %file.name(), "the store no longer has the upload; uploading again");
                let (source, _) = self.source_for(file, uploads, true, requests).await?;
                let (attempts, data) = send(source).await?;
                *requests += attempts;
                user_errors(doc.name, &data, errors_at)
            }
            other => other,
        }
    }

    /// Follows product `product_id`'s medium of `sha256` (or `media_id`)
    /// until the store processed it: `Ok` once READY (or after
    /// [`PROCESSING_WAIT`], logged), an error when it FAILED.
    async fn follow_image(
        &self,
        product_id: &str,
        media_id: Option<&str>,
        sha256: &str,
        first: u32,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        // The medium is among the first `first` (cost 3 + 4 per medium).
        let first = first.clamp(1, 249);
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let answer = self
                .client()
                .execute::<Value>(
                    &documents::PRODUCT_MEDIA_STATUS,
                    json!({ "id": product_id, "first": first }),
                    crate::cost::product_media_status(first),
                )
                .await?;
            *requests += answer.attempts.max(1);
            let nodes = answer
                .data
                .pointer("/product/media/nodes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
            let ours = nodes.iter().find(|n| {
                media_id.is_some_and(|id| text(n, "/id").as_deref() == Some(id))
                    || [text(n, "/originalSource/url"), text(n, "/image/url")]
                        .into_iter()
                        .flatten()
                        .any(|u| published_hash_in_url(&u) == Some(sha256))
            });
            let Some(ours) = ours else {
                warn!(
                    product = product_id,
                    "the published image is not among the product's media; not followed"
                );
                return Ok(());
            };
            match text(ours, "/status").as_deref() {
                Some("READY") => return Ok(()),
                Some("FAILED") => {
                    let reasons: Vec<String> = ours
                        .get("mediaErrors")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|e| {
                            let message = text(e, "/message").unwrap_or_default();
                            match text(e, "/details") {
                                Some(d) if !d.is_empty() => format!("{message} {d}"),
                                _ => message,
                            }
                        })
                        .collect();
                    return Err(ShopifyError::UserErrors {
                        operation: documents::FILE_UPDATE.name,
                        errors: vec![UserErrorInfo {
                            field: None,
                            message: format!(
                                "the image failed in the store: {}",
                                if reasons.is_empty() {
                                    "no reason given".to_string()
                                } else {
                                    reasons.join("; ")
                                }
                            ),
                            code: None,
                        }],
                    });
                }
                _ => {}
            }
            if started.elapsed() + pause > PROCESSING_WAIT {
                warn!(
                    product = product_id,
                    "the published image is still processing; not waited for"
                );
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

#[async_trait]
impl ImageStore for ShopifyTarget {
    fn parallelism(&self) -> usize {
        4
    }

    async fn list(
        &self,
        filter: &ImageFilter,
        cursor: Option<&str>,
    ) -> Result<ImagePage, TargetError> {
        let query = filter
            .since
            .as_ref()
            .map(|s| format!("updated_at:>='{}'", s.replace('\'', "")));
        let answer = self
            .client()
            .execute::<Value>(
                &documents::PRODUCT_IMAGES_PAGE,
                page_variables(cursor, query.as_deref()),
                product_images_page(PAGE_PRODUCTS, PAGE_MEDIA, PAGE_VARIANTS),
            )
            .await
            .map_err(TargetError::from)?;
        let mut requests = answer.attempts.max(1);
        let name = documents::PRODUCT_IMAGES_PAGE.name;
        let nodes: Vec<WireProduct> =
            decode(name, &answer.request_id, "/products/nodes", &answer.data)?;
        let info: Option<MoreInfo> =
            decode(name, &answer.request_id, "/products/pageInfo", &answer.data)?;
        let mut products = Vec::with_capacity(nodes.len());
        for p in nodes {
            if p.overflows() {
                debug!(product = %p.id, "more media or variants than a page holds; read alone");
                let again = self
                    .product_images_by_id(
                        std::slice::from_ref(&p.id),
                        &[(ALL_MEDIA, ALONE_VARIANTS)],
                    )
                    .await?;
                requests += 1;
                products.extend(again);
            } else {
                products.push(p.into_neutral());
            }
        }
        let next = info.filter(|i| i.has_next_page).and_then(|i| i.end_cursor);
        Ok(ImagePage {
            products,
            next,
            requests,
        })
    }

    async fn product(&self, key: &str) -> Result<Option<ProductImages>, TargetError> {
        let found = match self.find_product_by_marker(key).await? {
            Some(p) => Some(p),
            None => self.find_product_by_handle(key).await?,
        };
        let Some(item) = found else {
            return Ok(None);
        };
        Ok(self
            .product_images_by_id(
                std::slice::from_ref(&item.id),
                &[(PAGE_MEDIA, PAGE_VARIANTS), (ALL_MEDIA, ALONE_VARIANTS)],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TargetError> {
        let response = self
            .client()
            .download(url)
            .await
            .map_err(|e| TargetError::new(ErrorKind::Transient, e))?;
        let bytes = response.bytes().await.map_err(|e| {
            TargetError::new(
                ErrorKind::Transient,
                format!("download of an image failed: {}", e.without_url()),
            )
        })?;
        Ok(bytes.to_vec())
    }

    async fn overwrite(
        &self,
        product_id: &str,
        image: &StoreImage,
        file: &ImageFile,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let mut requests = 0;
        self.write_with_source(
            OVERWRITE,
            file,
            uploads,
            |source| overwrite_variables(&image.id, source),
            &mut requests,
        )
        .await?;
        let followed = self
            .follow_image(
                product_id,
                Some(&image.id),
                &file.sha256,
                image.position,
                &mut requests,
            )
            .await;
        if followed.is_err() {
            // The staged file may be what failed: upload it again next time.
            uploads.forget(&upload_key(&file.sha256)).await;
        }
        followed?;
        Ok(ImageWritten {
            image_id: Some(image.id.clone()),
            requests,
        })
    }

    async fn append(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let product_id = product.product_id.as_str();
        let mut requests = 0;
        self.write_with_source(
            APPEND,
            file,
            uploads,
            |source| append_variables(product_id, source, alt),
            &mut requests,
        )
        .await?;
        // After the last image, with room for media that are no images.
        let last = product.images.iter().map(|i| i.position).max().unwrap_or(0);
        let followed = self
            .follow_image(product_id, None, &file.sha256, last + 8, &mut requests)
            .await;
        if followed.is_err() {
            uploads.forget(&upload_key(&file.sha256)).await;
        }
        followed?;
        Ok(ImageWritten {
            image_id: None,
            requests,
        })
    }

    async fn delete(&self, product_id: &str, image_id: &str) -> Result<ImageWritten, TargetError> {
        let answer = self
            .client()
            .execute::<Value>(
                &documents::FILE_UPDATE,
                delete_variables(product_id, image_id),
                FILE_UPDATE_COST,
            )
            .await?;
        let requests = answer.attempts.max(1);
        match user_errors(
            documents::FILE_UPDATE.name,
            &answer.data,
            "/fileUpdate/userErrors",
        ) {
            Ok(()) => {}
            // Already gone: deleted.
            Err(ShopifyError::UserErrors { errors, .. })
                if errors
                    .iter()
                    .all(|e| e.code.as_deref() == Some("FILE_DOES_NOT_EXIST")) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(ImageWritten {
            image_id: Some(image_id.to_owned()),
            requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_stays_under_1000_points() {
        assert!(product_images_page(PAGE_PRODUCTS, PAGE_MEDIA, PAGE_VARIANTS) <= 1000);
        assert!(product_images(1, ALL_MEDIA, ALONE_VARIANTS) <= 1000);
    }

    #[test]
    fn products_become_neutral_with_positions_and_variant_links() {
        let h = "c".repeat(64);
        let wire: WireProduct = serde_json::from_value(json!({
            "id": "gid://shopify/Product/7",
            "handle": "mug",
            "marker": {"value": "P-1001"},
            "variants": {"nodes": [
                {"id": "v1", "sku": "P-1001-S", "media": {"nodes": [{"id": "m2"}]}},
                {"id": "v2", "sku": "", "media": {"nodes": [{"id": "m2"}]}},
            ]},
            "media": {"nodes": [
                {"id": "m1", "alt": "Front", "mediaContentType": "IMAGE", "status": "READY",
                 "mimeType": "image/jpeg", "image": {"url": "https://cdn/a.jpg", "width": 10, "height": 20},
                 "originalSource": {"url": "https://src/a.jpg"}},
                {"id": "v9", "alt": null, "mediaContentType": "VIDEO", "status": "READY"},
                {"id": "m2", "alt": "", "mediaContentType": "IMAGE", "status": "PROCESSING",
                 "image": null, "originalSource": {"url": format!("https://up/mapsync-img-{h}.png")}},
            ], "pageInfo": {"hasNextPage": false}},
        }))
        .unwrap();
        let p = wire.into_neutral();
        assert_eq!(p.key, "P-1001");
        assert_eq!(p.sku.as_deref(), Some("P-1001-S"));
        assert_eq!(p.images.len(), 2);
        assert_eq!(p.images[0].position, 1);
        assert_eq!(p.images[0].width, Some(10));
        assert_eq!(
            p.images[0].download_url.as_deref(),
            Some("https://cdn/a.jpg")
        );
        assert_eq!(p.images[1].position, 3);
        assert_eq!(p.images[1].variants, vec!["P-1001-S", "v2"]);
        assert_eq!(p.images[1].download_url, None);
        assert_eq!(p.images[1].published_hash(), Some(h.as_str()));
    }
}
