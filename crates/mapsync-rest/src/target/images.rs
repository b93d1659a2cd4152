//! A product's images, one request per image that changed: the document's
//! image URLs are compared with the product's images position by position;
//! a position whose URL differs is overwritten (`images.overwrite`, else
//! deleted and added again), images past the document's are deleted, and
//! the document's extra ones are added at their positions. An image add
//! is sent once: when its answer is lost, the images are listed again and
//! the add is sent again only if the image is not there.

use mapsync_core::document::Document;
use serde_json::{json, Value};

use super::spec::{field, text, Req};
use super::{json_of, RestTarget};
use crate::error::{RestError, RestErrorKind};
use crate::http::Request;
use crate::paging;

/// One image as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreImage {
    /// Its id in the store.
    pub id: String,
    /// Its URL.
    pub url: String,
    /// Its alt text, when `images.list.alt` names where it is.
    pub alt: Option<String>,
}

/// The variables of an image request's templates.
pub(super) struct Call<'a> {
    pub product_id: &'a str,
    pub image_id: Option<&'a str>,
    pub url: &'a str,
    /// 1-based.
    pub position: usize,
    pub alt: Option<&'a str>,
}

impl RestTarget {
    /// The images of a product in position order.
    pub(super) async fn list_images(
        &self,
        product_id: &str,
        count: &mut u32,
    ) -> Result<Vec<StoreImage>, RestError> {
        let Some(im) = &self.images else {
            return Ok(Vec::new());
        };
        let ctx = minijinja::Value::from_serialize(json!({"product_id": product_id}));
        let req = Request {
            method: reqwest::Method::GET,
            url: self.url(&im.list, &ctx)?,
            body: None,
            content_type: None,
            what: format!("reading the images of product {product_id}"),
        };
        let reply = self.http.send(&req, count).await?;
        let v = json_of(&reply, &req.what)?;
        let list =
            match paging::at(&v, &im.records) {
                Some(Value::Array(a)) => a,
                Some(Value::Null) => return Ok(Vec::new()),
                _ => return Err(RestError::new(
                    RestErrorKind::Body,
                    format!(
                        "{}: the answer has no list at `{}`",
                        req.what,
                        if im.records.is_empty() {
                            "(the body)".to_string()
                        } else {
                            im.records.join(".")
                        }
                    ),
                    "set `images.list.records` to the dotted path of the image list, e.g. `data`",
                )),
            };
        let mut out: Vec<(f64, usize, StoreImage)> = Vec::with_capacity(list.len());
        for (i, x) in list.iter().enumerate() {
            let Value::Object(m) = x else { continue };
            let (Some(id), Some(url)) = (text(field(m, &im.id)), text(field(m, &im.url))) else {
                tracing::warn!(product = %product_id, "an image without id or URL is ignored");
                continue;
            };
            let position = im
                .position
                .as_ref()
                .and_then(|p| field(m, p))
                .and_then(|p| {
                    p.as_f64()
                        .or_else(|| p.as_str().and_then(|s| s.trim().parse().ok()))
                })
                .unwrap_or(i as f64);
            let alt = im
                .alt
                .as_ref()
                .and_then(|p| field(m, p))
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            out.push((position, i, StoreImage { id, url, alt }));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(out.into_iter().map(|(_, _, im)| im).collect())
    }

    pub(super) fn image_request(
        &self,
        req: &Req,
        call: &Call<'_>,
        what: String,
    ) -> Result<Request, RestError> {
        let ctx = json!({
            "product_id": call.product_id,
            "image_id": call.image_id,
            "url": call.url,
            "position": call.position,
            "alt": call.alt,
        });
        let default = (req.method != reqwest::Method::DELETE).then(|| {
            let mut body = json!({"url": call.url, "position": call.position});
            if let Some(a) = call.alt {
                body["alt"] = json!(a);
            }
            body
        });
        self.request(req, &ctx, default, what)
    }

    /// Bring the images of product `product_id` (mapsync key `key`) from
    /// `current` to `desired`.
    pub(super) async fn sync_images(
        &self,
        product_id: &str,
        key: &str,
        current: &[StoreImage],
        desired: &[&str],
        doc: &Document,
        count: &mut u32,
    ) -> Result<(), RestError> {
        let Some(im) = &self.images else {
            return Ok(());
        };
        let alt = |i: usize| doc.images.get(i).and_then(|x| x.alt.as_deref());
        let shared = desired.len().min(current.len());
        // Changed positions.
        for i in 0..shared {
            let (c, d) = (&current[i], desired[i]);
            if c.url == d {
                continue;
            }
            match (&im.overwrite, &im.delete) {
                (Some(req), _) => {
                    let what = format!("overwriting image {} of product {key}", i + 1);
                    let call = Call {
                        product_id,
                        image_id: Some(&c.id),
                        url: d,
                        position: i + 1,
                        alt: alt(i),
                    };
                    let r = self.image_request(req, &call, what)?;
                    self.http.send(&r, count).await?;
                }
                (None, Some(del)) => {
                    self.delete_image(del, product_id, key, c, i + 1, count)
                        .await?;
                    self.add_image(product_id, key, d, i + 1, alt(i), count)
                        .await?;
                }
                (None, None) => tracing::warn!(
                    product = %key,
                    position = i + 1,
                    "image changed, but the target's options have neither `images.overwrite` nor `images.delete`; it stays"
                ),
            }
        }
        // Removed ones, from the last.
        for (i, c) in current.iter().enumerate().skip(desired.len()).rev() {
            match &im.delete {
                Some(del) => {
                    self.delete_image(del, product_id, key, c, i + 1, count)
                        .await?
                }
                None => tracing::warn!(
                    product = %key,
                    position = i + 1,
                    "image removed from the source, but the target's options have no `images.delete`; it stays"
                ),
            }
        }
        // New ones.
        for (i, d) in desired.iter().enumerate().skip(current.len()) {
            self.add_image(product_id, key, d, i + 1, alt(i), count)
                .await?;
        }
        Ok(())
    }

    async fn delete_image(
        &self,
        req: &Req,
        product_id: &str,
        key: &str,
        image: &StoreImage,
        position: usize,
        count: &mut u32,
    ) -> Result<(), RestError> {
        let what = format!("deleting image {position} of product {key}");
        let call = Call {
            product_id,
            image_id: Some(&image.id),
            url: &image.url,
            position,
            alt: None,
        };
        let r = self.image_request(req, &call, what)?;
        match self.http.send(&r, count).await {
            // Already gone.
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Add an image at `position`, once.
    pub(super) async fn add_image(
        &self,
        product_id: &str,
        key: &str,
        url: &str,
        position: usize,
        alt: Option<&str>,
        count: &mut u32,
    ) -> Result<(), RestError> {
        let Some(im) = &self.images else {
            return Ok(());
        };
        let what = format!("adding image {position} of product {key}");
        let call = Call {
            product_id,
            image_id: None,
            url,
            position,
            alt,
        };
        let r = self.image_request(&im.add, &call, what)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let lost = match self.http.send_once(&r, count).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind == RestErrorKind::Unreachable => e,
                Err(e) => return Err(e),
            };
            if lost.status != Some(429) {
                let now = self.list_images(product_id, count).await?;
                if now.get(position - 1).is_some_and(|x| x.url == url) {
                    return Ok(());
                }
            }
            if attempt > self.http.retries() {
                return Err(RestError {
                    message: format!("{} (after {attempt} attempts)", lost.message),
                    ..lost
                });
            }
            tokio::time::sleep(self.http.backoff_for(attempt)).await;
        }
    }
}
