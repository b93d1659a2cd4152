//! Embedded images (base64 data in the source) through staged uploads.
//!
//! Before a write, each embedded image the item does not show yet
//! ([`input::missing_embedded`]) is checked (base64, PNG/JPEG/GIF/WEBP:
//! one bad image refuses the item before any request), then given a
//! source: the upload cache of the run ([`Uploads`], the state store) when
//! it knows the image, else `stagedUploadsCreate` and the upload of its
//! bytes as `mapsync-<content key>.<ext>` — recorded in the cache at once,
//! so a run killed before the write that uses it does not upload it again.
//! The file name carries the key: the store's media then show which
//! embedded image they are ([`mapsync_core::image::key_in_url`]), so an
//! unchanged image is never uploaded again, even without the cache.
//!
//! After a product write that gave staged files, their media are followed
//! ([`ShopifyTarget::follow_media`]: `ProductMediaStatus`, with backoff,
//! at most [`MEDIA_WAIT`]) until all are `READY` or one is `FAILED`; a
//! failed one fails the item (refused) with the store's `mediaErrors` and
//! the image's position, and the image's upload is forgotten (the next run
//! uploads it again). Media still processing at the cap are logged and
//! left: the next run's read shows their state.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::cost;
use super::documents;
use super::error::{ShopifyError, UserErrorInfo};
use super::input::{EmbeddedImage, EmbeddedSources, InputError};
use super::read::ShopifyTarget;
use super::upload::StagedResource;
use mapsync_core::image::{key_in_url, upload_name};
use mapsync_core::target::Uploads;

/// How long media of staged files are followed after a write, in all.
pub const MEDIA_WAIT: Duration = Duration::from_secs(30);
/// The pause before the second read of their state (the first is at once);
/// it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between two reads.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// What an embedded image becomes in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmbeddedUse {
    /// A product's media (`IMAGE` staged resource).
    ProductMedia,
    /// A collection's image (`COLLECTION_IMAGE`).
    CollectionImage,
}

impl EmbeddedUse {
    fn resource(self) -> StagedResource {
        match self {
            EmbeddedUse::ProductMedia => StagedResource::Image,
            EmbeddedUse::CollectionImage => StagedResource::CollectionImage,
        }
    }

    /// The upload cache's key of content `key` (product media are cached
    /// by the content key alone).
    fn cache_key(self, key: &str) -> String {
        match self {
            EmbeddedUse::ProductMedia => key.to_owned(),
            EmbeddedUse::CollectionImage => format!("collection-image:{key}"),
        }
    }
}

/// The embedded images one write gives as new files, with their sources.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    /// Content key → source (a staged `resourceUrl`).
    pub sources: EmbeddedSources,
    /// The images, for messages (position, alt).
    pub images: Vec<EmbeddedImage>,
    /// Keys whose source came from the upload cache.
    pub cached: BTreeSet<String>,
    /// What they become.
    pub usage: Option<EmbeddedUse>,
}

impl Staged {
    /// No embedded image to give.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether `e` refuses a file source (`…originalSource`, a collection
    /// `image`) while some source came from the cache: the store may have
    /// dropped that staged file, so it is uploaded again and the write
    /// sent once more.
    pub fn refused_cached_source(&self, e: &ShopifyError) -> bool {
        if self.cached.is_empty() {
            return false;
        }
        match e {
            ShopifyError::UserErrors { errors, .. } => errors.iter().any(|u| {
                u.field.as_ref().is_some_and(|f| {
                    f.iter()
                        .any(|p| p == "originalSource" || p == "image" || p == "src")
                })
            }),
            _ => false,
        }
    }

    /// When `e` refused a source from the upload cache, forgets it there:
    /// the next run uploads the image again.
    pub async fn forget_if_refused(&self, e: &ShopifyError, uploads: &Uploads) {
        if !self.refused_cached_source(e) {
            return;
        }
        if let Some(usage) = self.usage {
            for key in &self.cached {
                uploads.forget(&usage.cache_key(key)).await;
            }
        }
    }

    /// The image of content `key`.
    fn image(&self, key: &str) -> Option<&EmbeddedImage> {
        self.images.iter().find(|i| i.key == key)
    }
}

/// A document that cannot be sent (bad embedded data): refused before
/// anything is sent.
fn not_sent(e: InputError) -> ShopifyError {
    ShopifyError::UserErrors {
        operation: documents::STAGED_UPLOADS_CREATE.name,
        errors: vec![UserErrorInfo {
            field: None,
            message: format!("not sent: {e}"),
            code: None,
        }],
    }
}

impl ShopifyTarget {
    /// Gives each of `images` a source for `usage`: the upload cache's
    /// (unless `fresh`), else a new staged upload, recorded in the cache.
    /// Every image's data is checked first: one that is no image refuses
    /// the write before any request. Adds the requests sent.
    pub(crate) async fn stage_embedded(
        &self,
        images: &[EmbeddedImage],
        usage: EmbeddedUse,
        uploads: &Uploads,
        fresh: bool,
        requests: &mut u32,
    ) -> Result<Staged, ShopifyError> {
        let mut staged = Staged {
            usage: Some(usage),
            ..Staged::default()
        };
        if images.is_empty() {
            return Ok(staged);
        }
        let mut decoded = Vec::with_capacity(images.len());
        for img in images {
            decoded.push(img.decode().map_err(not_sent)?);
        }
        for (img, (format, bytes)) in images.iter().zip(decoded) {
            let cache_key = usage.cache_key(&img.key);
            // Items in flight with the same image upload it once.
            let _claim = uploads.claim(&cache_key).await;
            if fresh {
                uploads.forget(&cache_key).await;
            } else if let Some(url) = uploads.lookup(&cache_key).await {
                debug!(key = %img.key, "embedded image already uploaded; using that upload");
                staged.cached.insert(img.key.clone());
                staged.sources.insert(img.key.clone(), url);
                continue;
            }
            let name = upload_name(&img.key, format);
            let file = self
                .stage_file(usage.resource(), &name, format.mime(), bytes, requests)
                .await?;
            let Some(url) = file.resource_url else {
                return Err(ShopifyError::Decode {
                    operation: documents::STAGED_UPLOADS_CREATE.name,
                    request_id: String::new(),
                    message: "the staged target has no resourceUrl".into(),
                });
            };
            info!(key = %img.key, file = %name, "embedded image uploaded");
            uploads.record(&cache_key, &url).await;
            staged.sources.insert(img.key.clone(), url);
        }
        staged.images = images.to_vec();
        Ok(staged)
    }

    /// Follows the media of `staged` files on product `product_id` (media
    /// ids in `before` existed before the write) until all are `READY` or
    /// one is `FAILED` — then the write fails with the store's reason —,
    /// for at most [`MEDIA_WAIT`]. `first`: how many media to read. Adds
    /// the requests sent. A failed read is logged, not an error: the write
    /// went through, and the next run sees the media's state.
    pub(crate) async fn follow_media(
        &self,
        product_id: &str,
        staged: &Staged,
        before: &BTreeSet<String>,
        first: usize,
        uploads: &Uploads,
        requests: &mut u32,
    ) -> Result<(), ShopifyError> {
        if staged.is_empty() {
            return Ok(());
        }
        let first = u32::try_from(first.clamp(1, 250)).unwrap_or(250);
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            let answer = self
                .client()
                .execute::<Value>(
                    &documents::PRODUCT_MEDIA_STATUS,
                    json!({ "id": product_id, "first": first }),
                    cost::product_media_status(first),
                )
                .await;
            let data = match answer {
                Ok(a) => {
                    *requests += a.attempts.max(1);
                    a.data
                }
                Err(e) => {
                    *requests += 1;
                    warn!(product = product_id, error = %e, "cannot read the state of uploaded images; not followed (the next run sees it)");
                    return Ok(());
                }
            };
            let ours = ours(&data, staged, before);
            let failed: Vec<&MediaState> = ours.iter().filter(|m| m.status == "FAILED").collect();
            if !failed.is_empty() {
                // The next run uploads it again (the staged file may be
                // what failed).
                if let Some(usage) = staged.usage {
                    for m in &failed {
                        uploads.forget(&usage.cache_key(&m.key)).await;
                    }
                }
                return Err(ShopifyError::UserErrors {
                    operation: documents::PRODUCT_SET.name,
                    errors: failed.iter().map(|m| m.failure(staged)).collect(),
                });
            }
            if ours.is_empty() {
                warn!(
                    product = product_id,
                    "the uploaded images are not among the product's media; not followed"
                );
                return Ok(());
            }
            let waiting = ours.iter().filter(|m| m.status != "READY").count();
            if waiting == 0 {
                debug!(
                    product = product_id,
                    media = ours.len(),
                    "uploaded images ready"
                );
                return Ok(());
            }
            if started.elapsed() + pause > MEDIA_WAIT {
                warn!(
                    product = product_id,
                    waiting,
                    "uploaded images still processing after {} s; not waited for (the next run sees their state)",
                    MEDIA_WAIT.as_secs()
                );
                return Ok(());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

/// One medium of a staged file, as read.
#[derive(Debug)]
struct MediaState {
    key: String,
    status: String,
    errors: Vec<(String, String, Option<String>)>,
}

impl MediaState {
    /// The user error of a failed medium: the image, then the store's
    /// reason (message, details, code).
    fn failure(&self, staged: &Staged) -> UserErrorInfo {
        let image = staged
            .image(&self.key)
            .map(EmbeddedImage::describe)
            .unwrap_or_else(|| "an embedded image".into());
        let reasons: Vec<String> = self
            .errors
            .iter()
            .map(|(code, message, details)| match details {
                Some(d) if !d.is_empty() => format!("{message} {d} ({code})"),
                _ => format!("{message} ({code})"),
            })
            .collect();
        let reason = if reasons.is_empty() {
            "no reason given".to_string()
        } else {
            reasons.join("; ")
        };
        UserErrorInfo {
            field: None,
            message: format!("{image} failed in the store: {reason}"),
            code: self.errors.first().map(|(c, _, _)| c.clone()),
        }
    }
}

/// The media of `data` (a `ProductMediaStatus` answer) that are staged
/// files of this write: named after one of its keys, not there before.
fn ours(data: &Value, staged: &Staged, before: &BTreeSet<String>) -> Vec<MediaState> {
    let nodes = data
        .pointer("/product/media/nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let mut out = Vec::new();
    for n in &nodes {
        let Some(id) = text(n, "/id") else { continue };
        if before.contains(&id) {
            continue;
        }
        let key = [text(n, "/originalSource/url"), text(n, "/image/url")]
            .into_iter()
            .flatten()
            .find_map(|u| key_in_url(&u).map(str::to_owned));
        let Some(key) = key.filter(|k| staged.sources.contains_key(k)) else {
            continue;
        };
        let errors = n
            .get("mediaErrors")
            .and_then(Value::as_array)
            .map(|es| {
                es.iter()
                    .map(|e| {
                        (
                            text(e, "/code").unwrap_or_default(),
                            text(e, "/message").unwrap_or_default(),
                            text(e, "/details"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(MediaState {
            key,
            status: text(n, "/status").unwrap_or_default(),
            errors,
        });
    }
    out
}

/// The ids of a product's media (those that existed before a write).
pub(crate) fn media_ids(p: &super::model::Product) -> BTreeSet<String> {
    p.media.iter().map(|m| m.id.clone()).collect()
}

/// How many media a product can have after a write of `doc` (its images
/// and a file per variant).
pub(crate) fn media_bound(doc: &mapsync_core::document::Document) -> usize {
    doc.images.len() + doc.variants.len()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn staged(key: &str) -> Staged {
        Staged {
            sources: BTreeMap::from([(key.to_owned(), format!("https://up/mapsync-{key}.png"))]),
            images: vec![EmbeddedImage {
                key: key.to_owned(),
                position: 2,
                alt: Some("Mug".into()),
                data: String::new(),
            }],
            cached: BTreeSet::new(),
            usage: Some(EmbeddedUse::ProductMedia),
        }
    }

    #[test]
    fn failed_media_of_this_write_name_the_image_and_the_stores_reason() {
        let key = "a".repeat(64);
        let s = staged(&key);
        let data = json!({"product": {"media": {"nodes": [
            {"id": "m0", "status": "READY", "mediaErrors": [], "originalSource": {"url": "https://x/a.png"}},
            {"id": "m1", "status": "FAILED", "mediaErrors": [{"code": "IMAGE_PROCESSING_FAILURE",
              "message": "Image could not be processed.", "details": "Not an image."}],
             "originalSource": {"url": format!("https://up/t/mapsync-{key}.png")}, "image": null},
            {"id": "m2", "status": "PROCESSING", "mediaErrors": [],
             "originalSource": {"url": format!("https://up/t/mapsync-{key}.png")}},
        ]}}});
        let found = ours(&data, &s, &BTreeSet::from(["m2".to_string()]));
        assert_eq!(found.len(), 1);
        let e = found[0].failure(&s);
        assert_eq!(
            e.message,
            "image 2 (alt `Mug`) failed in the store: Image could not be processed. Not an image. (IMAGE_PROCESSING_FAILURE)"
        );
        assert_eq!(e.code.as_deref(), Some("IMAGE_PROCESSING_FAILURE"));
    }

    #[test]
    fn only_refused_sources_from_the_cache_are_uploaded_again() {
        let key = "b".repeat(64);
        let mut s = staged(&key);
        let refused = ShopifyError::UserErrors {
            operation: "ProductSet",
            errors: vec![UserErrorInfo {
                field: Some(vec![
                    "input".into(),
                    "files".into(),
                    "0".into(),
                    "originalSource".into(),
                ]),
                message: "Invalid image source url value provided.".into(),
                code: Some("INVALID_INPUT".into()),
            }],
        };
        assert!(!s.refused_cached_source(&refused), "uploaded by this write");
        s.cached.insert(key);
        assert!(s.refused_cached_source(&refused));
        let other = ShopifyError::UserErrors {
            operation: "ProductSet",
            errors: vec![UserErrorInfo {
                field: Some(vec!["input".into(), "title".into()]),
                message: "Title can't be blank".into(),
                code: None,
            }],
        };
        assert!(!s.refused_cached_source(&other));
    }
}
