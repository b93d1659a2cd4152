//! The image port: what the image round trip (`mapsync images pull` /
//! `publish`) asks of a target that holds product images. A connector
//! implements [`ImageStore`] and hands it out through
//! [`crate::target::Target::images`]; the round trip (crate
//! `mapsync-images`) knows no platform.
//!
//! Images are named by the store's own ids; positions are 1-based; variant
//! links are the variants' SKUs. A file mapsync publishes is named after
//! the SHA-256 of its bytes ([`published_name`]), so an image already in
//! the store is recognised by its URL ([`published_hash_in_url`]) and never
//! added twice, even when the state store is lost.

use async_trait::async_trait;

use crate::image::ImageFormat;
use crate::target::{TargetError, Uploads};

/// One image of a product, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreImage {
    /// The store's id of the image.
    pub id: String,
    /// 1-based position among the product's media (images and others).
    pub position: u32,
    /// Alt text.
    pub alt: Option<String>,
    /// SKUs (or ids, when a variant has no SKU) of the variants linked to it.
    pub variants: Vec<String>,
    /// Where the image came from, when the store says.
    pub source_url: Option<String>,
    /// Where its bytes are served (`None` while the store processes it).
    pub download_url: Option<String>,
    /// MIME type, when the store says.
    pub content_type: Option<String>,
    /// Pixels, when the store says.
    pub width: Option<u32>,
    /// Pixels, when the store says.
    pub height: Option<u32>,
}

impl StoreImage {
    /// The content hash of a file mapsync published as this image, read
    /// from its URLs.
    pub fn published_hash(&self) -> Option<&str> {
        [self.download_url.as_deref(), self.source_url.as_deref()]
            .into_iter()
            .flatten()
            .find_map(published_hash_in_url)
    }
}

/// A product with its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductImages {
    /// The store's id of the product.
    pub product_id: String,
    /// mapsync's key of the product: its ownership marker, else its handle
    /// (or what the store names products by).
    pub key: String,
    /// The SKU of its first variant, if any.
    pub sku: Option<String>,
    /// Its images, by position.
    pub images: Vec<StoreImage>,
}

/// Which products a listing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilter {
    /// Products updated at or after this date (RFC 3339 or `YYYY-MM-DD`).
    pub since: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagePage {
    /// Products of this page.
    pub products: Vec<ProductImages>,
    /// The cursor of the next page; `None` on the last one.
    pub next: Option<String>,
    /// Requests this page cost.
    pub requests: u32,
}

/// A file to give the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// The format sniffed from the bytes.
    pub format: ImageFormat,
}

impl ImageFile {
    /// The file as the store should name it ([`published_name`]).
    pub fn name(&self) -> String {
        published_name(&self.sha256, self.format)
    }
}

/// What one write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageWritten {
    /// The id of the image written, when the store gave it.
    pub image_id: Option<String>,
    /// Requests it cost (uploads included).
    pub requests: u32,
}

/// The images of a store's products, read and written image by image.
///
/// Every method is one request or a few; failures keep their
/// [`crate::target::ErrorKind`]. None is retried by the caller when the
/// kind is [`crate::target::ErrorKind::OutcomeUnknown`]: a resumed publish
/// recognises a file it already gave by its name.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// How many downloads or writes may be in flight within the store's
    /// rate limit.
    fn parallelism(&self) -> usize {
        4
    }

    /// One page of products with their images, from `cursor` (`None`: the
    /// first page).
    async fn list(
        &self,
        filter: &ImageFilter,
        cursor: Option<&str>,
    ) -> Result<ImagePage, TargetError>;

    /// The product with mapsync key `key` (marker, else handle), with its
    /// images, or `None` when the store has none.
    async fn product(&self, key: &str) -> Result<Option<ProductImages>, TargetError>;

    /// The bytes at an image's download URL.
    async fn download(&self, url: &str) -> Result<Vec<u8>, TargetError>;

    /// Replaces image `image` of product `product_id` by `file`, keeping
    /// its position, variant links and alt text. A file the store already
    /// received (by [`upload_key`] in `uploads`) is not uploaded again.
    async fn overwrite(
        &self,
        product_id: &str,
        image: &StoreImage,
        file: &ImageFile,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError>;

    /// Adds `file` to `product` (as last read) after its images; uploads
    /// as [`ImageStore::overwrite`].
    async fn append(
        &self,
        product: &ProductImages,
        file: &ImageFile,
        alt: Option<&str>,
        uploads: &Uploads,
    ) -> Result<ImageWritten, TargetError>;

    /// Removes image `image_id` from product `product_id`.
    async fn delete(&self, product_id: &str, image_id: &str) -> Result<ImageWritten, TargetError>;
}

/// The key of a published file in an upload cache ([`Uploads`]): its
/// SHA-256, apart from the embedded images' content keys.
pub fn upload_key(sha256: &str) -> String {
    format!("image-file:{sha256}")
}

/// The file-name prefix of images mapsync publishes.
pub const PUBLISHED_PREFIX: &str = "mapsync-img-";

/// The name of a published file: the prefix, the SHA-256 of its bytes and
/// the format's extension (`mapsync-img-9f86….jpg`).
pub fn published_name(sha256: &str, format: ImageFormat) -> String {
    format!("{PUBLISHED_PREFIX}{sha256}.{}", format.extension())
}

/// The SHA-256 in a URL whose file name is a [`published_name`] (a store
/// may add a suffix after the hash, or a query string).
pub fn published_hash_in_url(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    let rest = name.strip_prefix(PUBLISHED_PREFIX)?;
    let hash = rest.get(..64)?;
    let next = rest[64..].chars().next();
    (hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !next.is_some_and(|c| c.is_ascii_hexdigit()))
    .then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_names_are_read_back_from_urls() {
        let h = "a".repeat(64);
        let name = published_name(&h, ImageFormat::Jpeg);
        assert_eq!(name, format!("mapsync-img-{h}.jpg"));
        assert_eq!(
            published_hash_in_url(&format!("https://cdn/x/{name}?v=3")),
            Some(h.as_str())
        );
        assert_eq!(
            published_hash_in_url(&format!("https://cdn/x/mapsync-img-{h}_1a2b.jpg")),
            Some(h.as_str())
        );
        assert_eq!(
            published_hash_in_url("https://cdn/x/mapsync-img-abc.jpg"),
            None
        );
        assert_eq!(
            published_hash_in_url(&format!("https://cdn/mapsync-img-{h}/other.jpg")),
            None
        );
        assert_eq!(
            published_hash_in_url(&format!("https://cdn/x/mapsync-img-{h}a.jpg")),
            None
        );
    }
}
