//! The image port ([`ImageStore`]) over a BigCommerce store, for the
//! image round trip (`mapsync images pull` / `publish`):
//!
//! * listing: `GET /catalog/products?include=images,variants`, 50 products
//!   a page (the cursor is the page number), images in `sort_order` order
//!   (then by id, as the store shows them), the ownership marker
//!   (`mapsync` / `key`) as the key, else the custom URL; the markers and
//!   the image sources mapsync recorded (`mapsync` / `images`) come from
//!   the store-wide metafield listing, read once per listing;
//! * a product by key: its marker, else its custom URL (both kept from the
//!   last listing of the store, read again on a miss), then
//!   `GET /catalog/products/{id}?include=images,variants`;
//! * variant links: BigCommerce gives a variant its own image file
//!   (`image_url`), not a link to a product image; a variant is linked to
//!   the product image showing the same file: the same URL, the same
//!   published hash in both URLs, the same source recorded by mapsync, or
//!   (when no other image of the product has it) the same file name;
//! * download: a plain GET of `url_zoom`, without the access token (the
//!   files are public, outside the request quota);
//! * append: `POST /catalog/products/{id}/images` after the product's last
//!   `sort_order`: the bytes as a multipart `image_file` named
//!   [`ImageFile::name`] (the store keeps the name in the file's URL), or,
//!   for a file this upload cache already gave the store, its URL as
//!   `image_url` (the store fetches it itself; no bytes sent again);
//! * overwrite: BigCommerce does not replace an image's file in place
//!   reliably, so the new file is added at the old image's `sort_order`,
//!   with its description and thumbnail flag, the variants linked to the
//!   old image get the new file as their image, then the old image is
//!   deleted. The image's id changes (the new id is returned). The
//!   product is read first, unless the caller's read of it
//!   ([`ImageStore::product`]) was the last thing done to it;
//! * delete: `DELETE /catalog/products/{id}/images/{image_id}`.
//!
//! A write whose answer was lost is looked for in the store (an image of
//! the product whose URL carries the file's hash) before it is sent again,
//! and an overwrite resumed after a kill finds the image it had added.
//! Every API request goes through the client's quota pacing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use mapsync_core::current::{MARKER_KEY, MARKER_NAMESPACE};
use mapsync_core::images::{
    published_hash_in_url, upload_key, ImageFile, ImageFilter, ImagePage, ImageStore, ImageWritten,
    ProductImages, StoreImage,
};
use mapsync_core::target::{ErrorKind, TargetError, Uploads};
use reqwest::Method;
use serde_json::{json, Value};
use tracing::debug;

use crate::client::{count_attempts, Answer, BcClient, FilePart};
use crate::error::BcError;
use crate::target::{BigCommerceTarget, IMAGES_KEY};

/// Products per listing page (with their images and variants).
pub const LIST_PAGE: usize = 50;
/// Timeout of one image download.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest image downloaded (BigCommerce takes files up to 8 MB).
const MAX_DOWNLOAD: usize = 64 * 1024 * 1024;

/// A failure of the image port that is not one request's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageFailure {
    /// The store's answer lacks what the port needs.
    #[error("unexpected answer: {0}")]
    Answer(String),
    /// The request cannot be made as asked.
    #[error("{0}")]
    Refused(String),
    /// The image or product is not in the store.
    #[error("{0}")]
    Gone(String),
    /// A download failed.
    #[error("download of an image failed: {0}")]
    Download(String),
}

impl ImageFailure {
    fn into_target(self) -> TargetError {
        let kind = match &self {
            ImageFailure::Answer(_) => ErrorKind::Failed,
            ImageFailure::Refused(_) => ErrorKind::Refused,
            ImageFailure::Gone(_) => ErrorKind::Gone,
            ImageFailure::Download(_) => ErrorKind::Transient,
        };
        TargetError::new(kind, self)
    }
}

/// The `mapsync` metafields of the store's products: markers and the
/// recorded image sources.
#[derive(Debug, Default)]
struct Metas {
    /// Product id → marker.
    markers: BTreeMap<u64, String>,
    /// Product id → recorded sources (`"<image id>"` or `"variant:<id>"` →
    /// URL).
    sources: BTreeMap<u64, BTreeMap<String, String>>,
}

/// What the port keeps between calls: the store's `mapsync` metafields
/// and custom URLs (to find products by key), the last `sort_order` of
/// each product read (to append after it), and the download client.
#[derive(Default)]
pub struct Memo {
    metas: tokio::sync::Mutex<Option<Arc<Metas>>>,
    handles: tokio::sync::Mutex<Option<Arc<BTreeMap<String, u64>>>>,
    last_sort: StdMutex<HashMap<u64, i64>>,
    /// The download URL of each file met by the listing under way, by
    /// what makes two images the same file (see [`same_file_key`]).
    canonical: StdMutex<HashMap<String, String>>,
    /// Products as [`ImageStore::product`] last read them, until the
    /// first write to them: an overwrite right after the read needs no
    /// read of its own.
    read: StdMutex<HashMap<u64, Value>>,
    downloads: std::sync::OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

impl Memo {
    fn set_last_sort(&self, product: u64, sort: i64) {
        if let Ok(mut m) = self.last_sort.lock() {
            m.insert(product, sort);
        }
    }

    fn last_sort(&self, product: u64) -> Option<i64> {
        self.last_sort.lock().ok()?.get(&product).copied()
    }

    fn keep_read(&self, product: u64, json: Value) {
        if let Ok(mut m) = self.read.lock() {
            m.insert(product, json);
        }
    }

    /// The product as last read, if nothing was written to it since; a
    /// write to it follows (the read is given up).
    fn take_read(&self, product: u64) -> Option<Value> {
        self.read.lock().ok()?.remove(&product)
    }
}

/// Counts the attempts of the requests of one port call.
struct Count<'a> {
    client: &'a BcClient,
    n: Arc<AtomicU32>,
}

impl<'a> Count<'a> {
    fn new(client: &'a BcClient) -> Self {
        Count {
            client,
            n: Arc::default(),
        }
    }

    fn n(&self) -> u32 {
        self.n.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, BcError> {
        count_attempts(self.n.clone(), self.client.get(path, query)).await
    }

    async fn get_all(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, BcError> {
        count_attempts(self.n.clone(), self.client.get_all(path, query)).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Answer, BcError> {
        count_attempts(self.n.clone(), self.client.post(path, body)).await
    }

    async fn upload(
        &self,
        path: &str,
        fields: &[(&str, String)],
        file: &FilePart,
    ) -> Result<Answer, BcError> {
        count_attempts(
            self.n.clone(),
            self.client.post_multipart(path, fields, file),
        )
        .await
    }

    async fn delete(&self, path: &str) -> Result<Answer, BcError> {
        count_attempts(
            self.n.clone(),
            self.client.send(Method::DELETE, path, &[], None),
        )
        .await
    }
}

/// A JSON value as an id.
fn id_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn parse_id(what: &str, id: &str) -> Result<u64, TargetError> {
    id.trim().parse().map_err(|_| {
        ImageFailure::Refused(format!("'{id}' is not a BigCommerce {what} id")).into_target()
    })
}

/// A custom URL as a key: without its slashes.
fn handle_of(url: &str) -> &str {
    url.trim().trim_matches('/')
}

/// The file name of a URL (its last path segment, without the query).
fn file_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// The content type a file name's extension says.
fn mime_of(url: &str) -> Option<String> {
    let name = file_name(url)?.to_ascii_lowercase();
    let ext = name.rsplit('.').next()?;
    Some(
        match ext {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "gif" => "image/gif",
            "webp" => "image/webp",
            _ => return None,
        }
        .to_string(),
    )
}

/// A product's images as the store answers them, in the store's order
/// (`sort_order`, then id).
fn sorted_images(p: &Value) -> Vec<&Value> {
    let mut v: Vec<&Value> = p
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    v.sort_by_key(|i| {
        (
            i.get("sort_order").and_then(Value::as_i64).unwrap_or(0),
            i.get("id").and_then(id_of).unwrap_or(0),
        )
    });
    v
}

/// The URLs of an image (`url_zoom` first).
fn image_urls(i: &Value) -> Vec<&str> {
    ["url_zoom", "url_standard", "url_thumbnail", "url_tiny"]
        .iter()
        .map(|k| str_of(i, k))
        .filter(|u| !u.is_empty())
        .collect()
}

/// The published hash an image's URLs (or file) carry.
fn image_hash(i: &Value) -> Option<&str> {
    image_urls(i)
        .into_iter()
        .chain(std::iter::once(str_of(i, "image_file")))
        .find_map(published_hash_in_url)
}

/// The ids of the variants of `p` linked to image `img` (see the module
/// documentation), with their SKU (or id).
fn linked_variants(
    p: &Value,
    img: &Value,
    sources: Option<&BTreeMap<String, String>>,
) -> Vec<(u64, String)> {
    let images = sorted_images(p);
    let iid = img.get("id").and_then(id_of).unwrap_or(0);
    let urls = image_urls(img);
    let hash = image_hash(img);
    let recorded = sources.and_then(|s| s.get(&iid.to_string()));
    let name = urls.first().and_then(|u| file_name(u));
    // A file name counts only when no other image of the product has it.
    let name_unique = name.is_some_and(|n| {
        images
            .iter()
            .filter(|i| image_urls(i).first().and_then(|u| file_name(u)) == Some(n))
            .count()
            == 1
    });
    let mut out = Vec::new();
    for v in p
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let vurl = str_of(v, "image_url");
        let Some(vid) = v.get("id").and_then(id_of) else {
            continue;
        };
        if vurl.is_empty() {
            continue;
        }
        let vrecorded = sources.and_then(|s| s.get(&format!("variant:{vid}")));
        let linked = urls.contains(&vurl)
            || (hash.is_some() && published_hash_in_url(vurl) == hash)
            || (recorded.is_some() && vrecorded == recorded)
            || (name_unique && file_name(vurl) == name);
        if linked {
            let sku = str_of(v, "sku");
            let label = if sku.is_empty() {
                vid.to_string()
            } else {
                sku.to_string()
            };
            out.push((vid, label));
        }
    }
    out
}

/// A product of the store as the port's neutral product.
fn neutral(p: &Value, metas: &Metas) -> Option<ProductImages> {
    let id = p.get("id").and_then(id_of)?;
    let key = metas
        .markers
        .get(&id)
        .filter(|k| !k.is_empty())
        .cloned()
        .or_else(|| {
            let h = handle_of(str_of(p.get("custom_url").unwrap_or(&Value::Null), "url"));
            (!h.is_empty()).then(|| h.to_string())
        })
        .unwrap_or_else(|| id.to_string());
    let sku = p
        .get("variants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| str_of(v, "sku"))
        .find(|s| !s.is_empty())
        .or_else(|| Some(str_of(p, "sku")).filter(|s| !s.is_empty()))
        .map(str::to_string);
    let sources = metas.sources.get(&id);
    let images = sorted_images(p)
        .into_iter()
        .enumerate()
        .filter_map(|(n, i)| {
            let iid = i.get("id").and_then(id_of)?;
            let url = image_urls(i).first().map(|u| u.to_string());
            Some(StoreImage {
                id: iid.to_string(),
                position: u32::try_from(n + 1).unwrap_or(u32::MAX),
                alt: Some(str_of(i, "description").to_string()).filter(|d| !d.is_empty()),
                variants: linked_variants(p, i, sources)
                    .into_iter()
                    .map(|(_, label)| label)
                    .collect(),
                content_type: url.as_deref().and_then(mime_of),
                source_url: url.clone(),
                download_url: url,
                width: None,
                height: None,
            })
        })
        .collect();
    Some(ProductImages {
        product_id: id.to_string(),
        key,
        sku,
        images,
    })
}

/// The largest `sort_order` among a product's images.
fn last_sort(p: &Value) -> Option<i64> {
    sorted_images(p)
        .last()
        .and_then(|i| i.get("sort_order").and_then(Value::as_i64))
}

/// What makes images of several products the same file without
/// downloading them: the hash mapsync published the file under, else the
/// source mapsync recorded the image was made from (the store fetched
/// the same URL). BigCommerce keeps a copy of the file per product, under
/// its own URL; a listing gives the images of one file the first one's
/// download URL, so a pull downloads the file once.
fn same_file_key(
    image: &StoreImage,
    recorded: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    if let Some(h) = image.published_hash() {
        return Some(format!("sha256:{h}"));
    }
    recorded
        .and_then(|r| r.get(&image.id))
        .filter(|s| !s.is_empty())
        .map(|s| format!("source:{s}"))
}

/// Where a new image goes and how it shows.
struct Placement {
    sort_order: i64,
    description: Option<String>,
    thumbnail: bool,
}

impl BigCommerceTarget {
    fn memo(&self) -> &Memo {
        &self.image_memo
    }

    /// The store's `mapsync` product metafields (markers and recorded
    /// sources), read again when `fresh` or never read.
    async fn metas(&self, count: &Count<'_>, fresh: bool) -> Result<Arc<Metas>, BcError> {
        let mut guard = self.memo().metas.lock().await;
        if let (false, Some(m)) = (fresh, guard.as_ref()) {
            return Ok(m.clone());
        }
        let list = count
            .get_all(
                "/catalog/products/metafields",
                &[("namespace", MARKER_NAMESPACE.to_string())],
            )
            .await?;
        let mut metas = Metas::default();
        for m in &list {
            let (Some(rid), ns, key) = (
                m.get("resource_id").and_then(id_of),
                str_of(m, "namespace"),
                str_of(m, "key"),
            ) else {
                continue;
            };
            if ns != MARKER_NAMESPACE {
                continue;
            }
            let value = str_of(m, "value");
            if key == MARKER_KEY {
                metas.markers.insert(rid, value.to_string());
            } else if key == IMAGES_KEY {
                if let Ok(s) = serde_json::from_str::<BTreeMap<String, String>>(value) {
                    metas.sources.insert(rid, s);
                }
            }
        }
        let metas = Arc::new(metas);
        *guard = Some(metas.clone());
        Ok(metas)
    }

    /// Every product's custom URL (without slashes) → id, read again when
    /// `fresh` or never read.
    async fn handles(
        &self,
        count: &Count<'_>,
        fresh: bool,
    ) -> Result<Arc<BTreeMap<String, u64>>, BcError> {
        let mut guard = self.memo().handles.lock().await;
        if let (false, Some(h)) = (fresh, guard.as_ref()) {
            return Ok(h.clone());
        }
        let list = count
            .get_all(
                "/catalog/products",
                &[("include_fields", "custom_url".to_string())],
            )
            .await?;
        let map: BTreeMap<String, u64> = list
            .iter()
            .filter_map(|p| {
                let id = p.get("id").and_then(id_of)?;
                let h = handle_of(str_of(p.get("custom_url")?, "url"));
                (!h.is_empty()).then(|| (h.to_string(), id))
            })
            .collect();
        let map = Arc::new(map);
        *guard = Some(map.clone());
        Ok(map)
    }

    /// The id of the product with key `key`: marker, else custom URL (the
    /// kept ones first, then read again).
    async fn product_id_of(&self, count: &Count<'_>, key: &str) -> Result<Option<u64>, BcError> {
        let want = handle_of(key);
        for fresh in [false, true] {
            let metas = self.metas(count, fresh).await?;
            if let Some((id, _)) = metas.markers.iter().find(|(_, k)| k.as_str() == key) {
                return Ok(Some(*id));
            }
            let handles = self.handles(count, fresh).await?;
            if let Some(id) = handles.get(want) {
                // A product with another marker is not this key's.
                if metas.markers.get(id).is_none_or(|m| m.is_empty()) {
                    return Ok(Some(*id));
                }
            }
        }
        Ok(None)
    }

    /// One product with its images and variants (`None`: not in the store).
    async fn product_json(&self, count: &Count<'_>, id: u64) -> Result<Option<Value>, BcError> {
        match count
            .get(
                &format!("/catalog/products/{id}"),
                &[("include", "images,variants".to_string())],
            )
            .await
        {
            Ok(v) => {
                let p = v.get("data").cloned().unwrap_or(Value::Null);
                if let Some(s) = last_sort(&p) {
                    self.memo().set_last_sort(id, s);
                }
                Ok(Some(p).filter(Value::is_object))
            }
            Err(BcError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The image of product `pid` showing the file of hash `sha256` (at
    /// `sort_order`, when given), other than `except`: what a write whose
    /// answer was lost, or a killed overwrite, left in the store.
    fn published_in(
        p: &Value,
        sha256: &str,
        sort_order: Option<i64>,
        except: Option<u64>,
    ) -> Option<(u64, String)> {
        sorted_images(p).into_iter().find_map(|i| {
            let id = i.get("id").and_then(id_of)?;
            let ok = image_hash(i) == Some(sha256)
                && Some(id) != except
                && sort_order
                    .is_none_or(|s| i.get("sort_order").and_then(Value::as_i64) == Some(s));
            ok.then(|| (id, image_urls(i).first().unwrap_or(&"").to_string()))
        })
    }

    /// Adds `file` to product `pid` as placed: by the URL of an earlier
    /// upload of the same file (`uploads`), else uploaded as `image_file`.
    /// The new image's id. A lost answer is looked for in the store.
    async fn add_file(
        &self,
        count: &Count<'_>,
        pid: u64,
        file: &ImageFile,
        at: &Placement,
        uploads: &Uploads,
    ) -> Result<u64, TargetError> {
        let path = format!("/catalog/products/{pid}/images");
        let key = upload_key(&file.sha256);
        let _claim = uploads.claim(&key).await;
        let sent = match uploads.lookup(&key).await {
            Some(url) => {
                let mut body = json!({
                    "image_url": url,
                    "sort_order": at.sort_order,
                    "is_thumbnail": at.thumbnail,
                });
                if let Some(d) = &at.description {
                    body["description"] = json!(d);
                }
                match count.post(&path, &body).await {
                    Err(BcError::Invalid { message }) if message.contains("image_url") => {
                        debug!(file = %file.name(), "the store no longer has the earlier upload; uploading again");
                        uploads.forget(&key).await;
                        None
                    }
                    other => Some(other),
                }
            }
            None => None,
        };
        let sent = match sent {
            Some(s) => s,
            None => {
                let mut fields = vec![
                    ("sort_order", at.sort_order.to_string()),
                    ("is_thumbnail", at.thumbnail.to_string()),
                ];
                if let Some(d) = &at.description {
                    fields.push(("description", d.clone()));
                }
                let part = FilePart {
                    field: "image_file".into(),
                    file_name: file.name(),
                    mime: file.format.mime().to_string(),
                    bytes: file.bytes.clone(),
                };
                count.upload(&path, &fields, &part).await
            }
        };
        let answer = match sent {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::OutcomeUnknown => {
                // Perhaps made: look for it before anyone sends it again.
                let found = self
                    .product_json(count, pid)
                    .await?
                    .and_then(|p| Self::published_in(&p, &file.sha256, Some(at.sort_order), None));
                match found {
                    Some((id, url)) => {
                        if published_hash_in_url(&url) == Some(file.sha256.as_str()) {
                            uploads.record(&key, &url).await;
                        }
                        return Ok(id);
                    }
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let data = answer.body.get("data").cloned().unwrap_or(Value::Null);
        let id = data.get("id").and_then(id_of).ok_or_else(|| {
            ImageFailure::Answer("the added image has no id".into()).into_target()
        })?;
        // Where the store serves it: the next product takes it by URL.
        if let Some(url) = image_urls(&data)
            .into_iter()
            .find(|u| published_hash_in_url(u) == Some(file.sha256.as_str()))
        {
            uploads.record(&key, url).await;
        }
        Ok(id)
    }
}

#[async_trait]
impl ImageStore for BigCommerceTarget {
    fn parallelism(&self) -> usize {
        4
    }

    async fn list(
        &self,
        filter: &ImageFilter,
        cursor: Option<&str>,
    ) -> Result<ImagePage, TargetError> {
        let page: u32 = match cursor {
            None => 1,
            Some(c) => c.trim().parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ImageFailure::Refused(format!("'{c}' is not a listing page")).into_target()
            })?,
        };
        let count = Count::new(self.client());
        // The metafields once per listing (its first page), or when a
        // listing resumes in a new process.
        let metas = self.metas(&count, page == 1).await?;
        let mut query = vec![
            ("include", "images,variants".to_string()),
            ("sort", "id".to_string()),
            ("page", page.to_string()),
            ("limit", LIST_PAGE.to_string()),
        ];
        if let Some(since) = &filter.since {
            query.push(("date_modified:min", since.clone()));
        }
        let answer = count.get("/catalog/products", &query).await?;
        let data = answer
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| {
                ImageFailure::Answer("GET /catalog/products: no `data` array".into()).into_target()
            })?;
        let mut products = Vec::with_capacity(data.len());
        let mut canonical = self
            .memo()
            .canonical
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if page == 1 {
            canonical.clear();
        }
        for p in &data {
            let id = p.get("id").and_then(id_of);
            if let (Some(id), Some(s)) = (id, last_sort(p)) {
                self.memo().set_last_sort(id, s);
            }
            let Some(mut n) = neutral(p, &metas) else {
                continue;
            };
            let recorded = id.and_then(|id| metas.sources.get(&id));
            for image in &mut n.images {
                let (Some(key), Some(url)) =
                    (same_file_key(image, recorded), image.download_url.clone())
                else {
                    continue;
                };
                image.download_url = Some(canonical.entry(key).or_insert(url).clone());
            }
            products.push(n);
        }
        drop(canonical);
        let next = (data.len() >= LIST_PAGE).then(|| (page + 1).to_string());
        Ok(ImagePage {
            products,
            next,
            requests: count.n(),
        })
    }

    async fn product(&self, key: &str) -> Result<Option<ProductImages>, TargetError> {
        let count = Count::new(self.client());
        let Some(id) = self.product_id_of(&count, key).await? else {
            return Ok(None);
        };
        let Some(p) = self.product_json(&count, id).await? else {
            return Ok(None);
        };
        let metas = self.metas(&count, false).await?;
        let out = neutral(&p, &metas);
        self.memo().keep_read(id, p);
        Ok(out)
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, TargetError> {
        let fail = |m: String| ImageFailure::Download(m).into_target();
        let http = match self.memo().downloads.get() {
            Some(c) => c.clone(),
            None => {
                // No default headers: the access token never leaves for a
                // file URL.
                let c = reqwest::Client::builder()
                    .timeout(DOWNLOAD_TIMEOUT)
                    .connect_timeout(Duration::from_secs(15))
                    .user_agent(concat!("mapsync/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| fail(format!("HTTP client: {e}")))?;
                let _ = self.memo().downloads.set(c.clone());
                c
            }
        };
        let mut resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let kind = if status.as_u16() == 404 || status.as_u16() == 410 {
                ErrorKind::Gone
            } else if status.is_server_error() || status.as_u16() == 429 {
                ErrorKind::Transient
            } else {
                ErrorKind::Failed
            };
            return Err(TargetError::new(
                kind,
                ImageFailure::Download(format!("HTTP {}", status.as_u16())),
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?
        {
            if bytes.len() + chunk.len() > MAX_DOWNLOAD {
                return Err(TargetError::new(
                    ErrorKind::Failed,
                    ImageFailure::Download("the file is larger than 64 MB".into()),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn overwrite(
        &self,
        product_id: &str,
        image: &StoreImage,
        file: &ImageFile,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let pid = parse_id("product", product_id)?;
        let iid = parse_id("image", &image.id)?;
        let count = Count::new(self.client());
        // The product as the caller just read it, else read now.
        let kept = self.memo().take_read(pid);
        let read = match kept {
            Some(p) => Some(p),
            None => self.product_json(&count, pid).await?,
        };
        let Some(p) = read else {
            return Err(ImageFailure::Gone(format!("no product {pid} in the store")).into_target());
        };
        let images = sorted_images(&p);
        let Some(old) = images
            .iter()
            .find(|i| i.get("id").and_then(id_of) == Some(iid))
        else {
            return Err(ImageFailure::Gone(format!(
                "image {iid} is no longer an image of product {pid}"
            ))
            .into_target());
        };
        if image_hash(old) == Some(file.sha256.as_str()) {
            return Ok(ImageWritten {
                image_id: Some(iid.to_string()),
                requests: count.n(),
            });
        }
        let at = Placement {
            sort_order: old.get("sort_order").and_then(Value::as_i64).unwrap_or(0),
            description: Some(str_of(old, "description").to_string()).filter(|d| !d.is_empty()),
            thumbnail: old
                .get("is_thumbnail")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        let metas = self.metas(&count, false).await?;
        let variants = linked_variants(&p, old, metas.sources.get(&pid));
        // A killed overwrite may have added the file already (same place).
        let new_id = match Self::published_in(&p, &file.sha256, Some(at.sort_order), Some(iid)) {
            Some((id, _)) => {
                debug!(product = pid, image = id, "the new file is there already");
                id
            }
            None => self.add_file(&count, pid, file, &at, uploads).await?,
        };
        // The variants shown with the old image show the new one.
        for (vid, _) in &variants {
            let has = p
                .get("variants")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|v| v.get("id").and_then(id_of) == Some(*vid))
                .map(|v| published_hash_in_url(str_of(v, "image_url")) == Some(&file.sha256))
                .unwrap_or(false);
            if has {
                continue;
            }
            let part = FilePart {
                field: "image_file".into(),
                file_name: file.name(),
                mime: file.format.mime().to_string(),
                bytes: file.bytes.clone(),
            };
            count
                .upload(
                    &format!("/catalog/products/{pid}/variants/{vid}/image"),
                    &[],
                    &part,
                )
                .await
                .map_err(TargetError::from)?;
        }
        match count
            .delete(&format!("/catalog/products/{pid}/images/{iid}"))
            .await
        {
            Ok(_) | Err(BcError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(ImageWritten {
            image_id: Some(new_id.to_string()),
            requests: count.n(),
        })
    }

    async fn append(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError> {
        let pid = parse_id("product", &product.product_id)?;
        let count = Count::new(self.client());
        self.memo().take_read(pid);
        let last = match self.memo().last_sort(pid) {
            Some(s) => Some(s),
            None if product.images.is_empty() => None,
            None => self
                .product_json(&count, pid)
                .await?
                .as_ref()
                .and_then(last_sort),
        };
        let sort_order = last.map_or(0, |s| s.saturating_add(1));
        let at = Placement {
            sort_order,
            description: alt.map(str::to_string).filter(|a| !a.is_empty()),
            thumbnail: product.images.is_empty() && last.is_none(),
        };
        let id = self.add_file(&count, pid, file, &at, uploads).await?;
        self.memo().set_last_sort(pid, sort_order);
        Ok(ImageWritten {
            image_id: Some(id.to_string()),
            requests: count.n(),
        })
    }

    async fn delete(&self, product_id: &str, image_id: &str) -> Result<ImageWritten, TargetError> {
        let pid = parse_id("product", product_id)?;
        let iid = parse_id("image", image_id)?;
        let count = Count::new(self.client());
        self.memo().take_read(pid);
        match count
            .delete(&format!("/catalog/products/{pid}/images/{iid}"))
            .await
        {
            Ok(_) | Err(BcError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(ImageWritten {
            image_id: Some(iid.to_string()),
            requests: count.n(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_become_neutral_with_positions_and_variant_links() {
        let h = "d".repeat(64);
        let p = json!({
            "id": 7, "sku": "", "custom_url": {"url": "/mug/"},
            "images": [
                {"id": 12, "sort_order": 1, "description": "", "url_zoom": format!("https://cdn/m/12/mapsync-img-{h}.png")},
                {"id": 11, "sort_order": 0, "description": "Front", "url_zoom": "https://cdn/f/11/front.jpg"},
                {"id": 13, "sort_order": 1, "description": "", "url_zoom": "https://cdn/s/13/side.png"},
            ],
            "variants": [
                {"id": 70, "sku": "MUG-S", "image_url": format!("https://cdn/variants/70/mapsync-img-{h}.png")},
                {"id": 71, "sku": "", "image_url": "https://cdn/variants/71/x/side.png"},
                {"id": 72, "sku": "MUG-L", "image_url": ""},
            ],
        });
        let n = neutral(&p, &Metas::default()).unwrap();
        assert_eq!(n.key, "mug");
        assert_eq!(n.sku.as_deref(), Some("MUG-S"));
        let ids: Vec<&str> = n.images.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["11", "12", "13"]);
        assert_eq!(n.images[0].position, 1);
        assert_eq!(n.images[0].alt.as_deref(), Some("Front"));
        assert_eq!(n.images[0].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(n.images[1].variants, ["MUG-S"]);
        assert_eq!(n.images[1].published_hash(), Some(h.as_str()));
        assert_eq!(n.images[2].variants, ["71"]);
        let mut metas = Metas::default();
        metas.markers.insert(7, "P-7".into());
        metas.sources.insert(
            7,
            [
                ("11".to_string(), "https://src/a.jpg".to_string()),
                ("variant:72".to_string(), "https://src/a.jpg".to_string()),
            ]
            .into_iter()
            .collect(),
        );
        let mut p2 = p.clone();
        p2["variants"][2]["image_url"] = json!("https://cdn/variants/72/other.jpg");
        let n = neutral(&p2, &metas).unwrap();
        assert_eq!(n.key, "P-7");
        assert_eq!(n.images[0].variants, ["MUG-L"]);
    }

    #[test]
    fn file_names_and_types_come_from_urls() {
        assert_eq!(file_name("https://x/a/b.png?c=1"), Some("b.png"));
        assert_eq!(file_name("https://x/a/"), None);
        assert_eq!(mime_of("https://x/a/B.JPG").as_deref(), Some("image/jpeg"));
        assert_eq!(mime_of("https://x/a/b"), None);
    }
}
