//! GraphQL output objects of the sandbox (Shopify's names, a subset of their
//! fields): views over an immutable store snapshot, so one response reads one
//! consistent store. Must not change the store.

use std::sync::Arc;

use async_graphql::{Context, Enum, Interface, Object, Result, SimpleObject, ID};

use super::codes::{CountryCode, CurrencyCode};
use super::inputs::*;
use super::paging::{connection, page, Key, PageArgs};
use crate::bulkops::{BulkKind, BulkOp, BulkStatus};
use crate::model::{
    self, gid, Collection, InventoryPolicy, Media, MediaState, Metafield, Product, Status, Store,
    Variant,
};
use crate::ops::{compare_digest, media_gid};

/// Set in the request data when a bulk operation runs a query.
#[derive(Debug, Clone, Copy)]
pub struct Unbounded;

/// Paging arguments, lifted for bulk operations.
pub fn args(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    reverse: Option<bool>,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
        reverse: reverse.unwrap_or(false),
        unbounded: ctx.data_opt::<Unbounded>().is_some(),
    }
}

fn id_key(id: u64) -> Key {
    (String::new(), id)
}

/// Status of media and previews.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MediaStatus")]
pub enum MediaStatus {
    Uploaded,
    Processing,
    Ready,
    Failed,
}

/// Status of a media preview.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MediaPreviewImageStatus")]
pub enum MediaPreviewImageStatus {
    Uploaded,
    Processing,
    Ready,
    Failed,
}

/// Precision of a count.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CountPrecision")]
pub enum CountPrecision {
    Exact,
    AtLeast,
}

/// Weight units.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "WeightUnit")]
pub enum WeightUnit {
    Kilograms,
    Grams,
    Pounds,
    Ounces,
}

/// Status of a product operation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductOperationStatus")]
pub enum ProductOperationStatus {
    Created,
    Active,
    Complete,
}

/// Status of a bulk operation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkOperationStatus")]
pub enum BulkOperationStatus {
    Canceled,
    Canceling,
    Completed,
    Created,
    Expired,
    Failed,
    Running,
}

/// Error code of a failed bulk operation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkOperationErrorCode")]
pub enum BulkOperationErrorCode {
    AccessDenied,
    InternalServerError,
    Timeout,
}

/// Shopify's `Count`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Count")]
pub struct Count {
    pub count: i32,
    pub precision: CountPrecision,
}

impl Count {
    /// An exact count.
    pub fn exact(n: usize) -> Self {
        Count {
            count: i32::try_from(n).unwrap_or(i32::MAX),
            precision: CountPrecision::Exact,
        }
    }

    /// `n` counted with a `limit:` argument (`null`: none): at most the
    /// limit, `AT_LEAST` when there are more.
    pub fn up_to(n: usize, limit: Option<i32>) -> Self {
        match limit.and_then(|l| usize::try_from(l).ok()) {
            Some(l) if n > l => Count {
                count: i32::try_from(l).unwrap_or(i32::MAX),
                precision: CountPrecision::AtLeast,
            },
            _ => Count::exact(n),
        }
    }
}

/// Shopify's `SEO`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "SEO")]
pub struct Seo {
    pub description: Option<String>,
    pub title: Option<String>,
}

/// Shopify's `Weight`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Weight")]
pub struct WeightObj {
    pub unit: WeightUnit,
    pub value: f64,
}

/// Shopify's `InventoryItemMeasurement` (only the weight is kept).
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "InventoryItemMeasurement")]
pub struct InventoryItemMeasurementObj {
    pub id: ID,
    pub weight: Option<WeightObj>,
}

fn weight_unit_named(name: &str) -> Option<WeightUnit> {
    match name {
        "KILOGRAMS" => Some(WeightUnit::Kilograms),
        "GRAMS" => Some(WeightUnit::Grams),
        "POUNDS" => Some(WeightUnit::Pounds),
        "OUNCES" => Some(WeightUnit::Ounces),
        _ => None,
    }
}

/// Shopify's `MoneyV2`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "MoneyV2")]
pub struct MoneyV2 {
    pub amount: Decimal,
    pub currency_code: CurrencyCode,
}

/// Shopify's `Image`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Image")]
pub struct ImageObj {
    pub alt_text: Option<String>,
    pub height: Option<i32>,
    pub id: Option<ID>,
    pub url: Url,
    pub width: Option<i32>,
}

/// Shopify's `MediaPreviewImage`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "MediaPreviewImage")]
pub struct MediaPreviewImage {
    pub image: Option<ImageObj>,
    pub status: MediaPreviewImageStatus,
}

/// Shopify's `MediaErrorCode` (the codes the sandbox gives).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MediaErrorCode")]
pub enum MediaErrorCode {
    Unknown,
    ImageDownloadFailure,
    ImageProcessingFailure,
    UnsupportedImageFileType,
}

impl MediaErrorCode {
    /// The code of a stored name.
    pub fn of(name: &str) -> Self {
        match name {
            "IMAGE_DOWNLOAD_FAILURE" => Self::ImageDownloadFailure,
            "IMAGE_PROCESSING_FAILURE" => Self::ImageProcessingFailure,
            "UNSUPPORTED_IMAGE_FILE_TYPE" => Self::UnsupportedImageFileType,
            _ => Self::Unknown,
        }
    }
}

/// Shopify's `MediaError`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "MediaError")]
pub struct MediaError {
    pub code: MediaErrorCode,
    pub details: Option<String>,
    pub message: String,
}

/// Shopify's `MediaImageOriginalSource`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "MediaImageOriginalSource")]
pub struct MediaImageOriginalSource {
    pub file_size: Option<i32>,
    pub url: Option<Url>,
}

/// Shopify's `ShopPlan`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ShopPlan")]
pub struct ShopPlan {
    pub display_name: String,
    pub partner_development: bool,
    pub shopify_plus: bool,
}

/// Shopify's `LocationAddress`.
#[derive(SimpleObject, Debug, Clone, Default)]
#[graphql(name = "LocationAddress")]
pub struct LocationAddress {
    pub address1: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub formatted: Vec<String>,
    pub zip: Option<String>,
}

fn owner_type_enum(t: &str) -> MetafieldOwnerType {
    match t {
        "PRODUCTVARIANT" => MetafieldOwnerType::Productvariant,
        "COLLECTION" => MetafieldOwnerType::Collection,
        "SHOP" => MetafieldOwnerType::Shop,
        "LOCATION" => MetafieldOwnerType::Location,
        "MEDIA_IMAGE" => MetafieldOwnerType::MediaImage,
        "CUSTOMER" => MetafieldOwnerType::Customer,
        "ORDER" => MetafieldOwnerType::Order,
        "PAGE" => MetafieldOwnerType::Page,
        "ARTICLE" => MetafieldOwnerType::Article,
        "BLOG" => MetafieldOwnerType::Blog,
        "MARKET" => MetafieldOwnerType::Market,
        "COMPANY" => MetafieldOwnerType::Company,
        "COMPANY_LOCATION" => MetafieldOwnerType::CompanyLocation,
        "DRAFTORDER" => MetafieldOwnerType::Draftorder,
        "DISCOUNT" => MetafieldOwnerType::Discount,
        "SELLING_PLAN" => MetafieldOwnerType::SellingPlan,
        _ => MetafieldOwnerType::Product,
    }
}

fn legacy(id: u64) -> UnsignedInt64 {
    UnsignedInt64(id.to_string())
}

fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Shopify's `Metafield`.
#[derive(Clone)]
pub struct MetafieldObj {
    pub owner_type: &'static str,
    pub m: Metafield,
}

#[Object(name = "Metafield")]
impl MetafieldObj {
    async fn id(&self) -> ID {
        ID(gid("Metafield", self.m.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.m.id)
    }
    async fn namespace(&self) -> &str {
        &self.m.namespace
    }
    async fn key(&self) -> &str {
        &self.m.key
    }
    #[graphql(name = "type")]
    async fn type_name(&self) -> &str {
        &self.m.type_name
    }
    async fn value(&self) -> &str {
        &self.m.value
    }
    async fn json_value(&self) -> Json {
        let v = match self.m.type_name.as_str() {
            "single_line_text_field"
            | "multi_line_text_field"
            | "date"
            | "date_time"
            | "url"
            | "color"
            | "product_reference"
            | "variant_reference"
            | "page_reference"
            | "file_reference"
            | "collection_reference"
            | "metaobject_reference"
            | "number_decimal" => serde_json::Value::String(self.m.value.clone()),
            _ => serde_json::from_str(&self.m.value)
                .unwrap_or(serde_json::Value::String(self.m.value.clone())),
        };
        Json(v)
    }
    async fn compare_digest(&self) -> String {
        compare_digest(&self.m)
    }
    async fn owner_type(&self) -> MetafieldOwnerType {
        owner_type_enum(self.owner_type)
    }
    async fn description(&self) -> Option<String> {
        None
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.m.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.m.updated_at.clone())
    }
}

connection!(
    MetafieldConnection,
    MetafieldEdge,
    MetafieldObj,
    "MetafieldConnection",
    "MetafieldEdge"
);

/// A page of an owner's metafields, filtered by namespace and `namespace.key` keys.
fn metafield_connection(
    list: &[Metafield],
    owner_type: &'static str,
    namespace: Option<String>,
    keys: Option<Vec<String>>,
    a: PageArgs,
) -> Result<MetafieldConnection> {
    let mut items: Vec<(Key, MetafieldObj)> = list
        .iter()
        .filter(|m| namespace.as_deref().is_none_or(|n| m.namespace == n))
        .filter(|m| {
            keys.as_ref().is_none_or(|ks| {
                ks.iter()
                    .any(|k| *k == format!("{}.{}", m.namespace, m.key))
            })
        })
        .map(|m| {
            (
                id_key(m.id),
                MetafieldObj {
                    owner_type,
                    m: m.clone(),
                },
            )
        })
        .collect();
    items.sort_by(|x, y| x.0.cmp(&y.0));
    if a.reverse {
        items.reverse();
    }
    Ok(MetafieldConnection::from_page(page(items.into_iter(), &a)?))
}

fn metafield_one(
    list: &[Metafield],
    owner_type: &'static str,
    namespace: Option<String>,
    key: String,
) -> Option<MetafieldObj> {
    let (ns, key) = match namespace {
        Some(ns) => (crate::validate::resolve_namespace(Some(&ns)), key),
        None => match key.split_once('.') {
            Some((n, k)) => (n.to_string(), k.to_string()),
            None => (crate::validate::resolve_namespace(None), key),
        },
    };
    list.iter()
        .find(|m| m.namespace == ns && m.key == key)
        .map(|m| MetafieldObj {
            owner_type,
            m: m.clone(),
        })
}

/// Shopify's `Shop`.
#[derive(Clone)]
pub struct ShopObj {
    pub st: Arc<Store>,
    pub plan: &'static str,
}

#[Object(name = "Shop")]
impl ShopObj {
    async fn id(&self) -> ID {
        ID(gid("Shop", self.st.shop.id))
    }
    async fn name(&self) -> &str {
        &self.st.shop.name
    }
    async fn email(&self) -> &str {
        &self.st.shop.email
    }
    async fn contact_email(&self) -> &str {
        &self.st.shop.email
    }
    async fn myshopify_domain(&self) -> &str {
        &self.st.shop.myshopify_domain
    }
    async fn url(&self) -> Url {
        Url(format!("https://{}", self.st.shop.myshopify_domain))
    }
    async fn currency_code(&self) -> CurrencyCode {
        CurrencyCode::parse(&self.st.shop.currency_code).unwrap_or(CurrencyCode::Usd)
    }
    async fn iana_timezone(&self) -> &str {
        "Etc/UTC"
    }
    async fn timezone_abbreviation(&self) -> &str {
        "UTC"
    }
    async fn weight_unit(&self) -> WeightUnit {
        WeightUnit::Kilograms
    }
    async fn taxes_included(&self) -> bool {
        false
    }
    async fn plan(&self) -> ShopPlan {
        ShopPlan {
            display_name: self.plan.to_string(),
            partner_development: true,
            shopify_plus: matches!(self.plan, "Shopify Plus" | "Enterprise"),
        }
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.st.shop.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.st.shop.created_at.clone())
    }
    async fn metafield(&self, namespace: Option<String>, key: String) -> Option<MetafieldObj> {
        metafield_one(&self.st.shop.metafields, "SHOP", namespace, key)
    }
    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `metafields` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn metafields(
        &self,
        ctx: &Context<'_>,
        namespace: Option<String>,
        keys: Option<Vec<String>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MetafieldConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        metafield_connection(&self.st.shop.metafields, "SHOP", namespace, keys, a)
    }
}

/// Shopify's `Location`.
#[derive(Clone)]
pub struct LocationObj {
    pub st: Arc<Store>,
    pub loc: model::Location,
}

#[Object(name = "Location")]
impl LocationObj {
    async fn id(&self) -> ID {
        ID(gid("Location", self.loc.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.loc.id)
    }
    async fn name(&self) -> &str {
        &self.loc.name
    }
    async fn is_active(&self) -> bool {
        self.loc.is_active
    }
    async fn activatable(&self) -> bool {
        !self.loc.is_active
    }
    async fn deactivatable(&self) -> bool {
        self.loc.is_active && self.st.locations.len() > 1
    }
    async fn deletable(&self) -> bool {
        false
    }
    async fn fulfills_online_orders(&self) -> bool {
        true
    }
    async fn ships_inventory(&self) -> bool {
        true
    }
    async fn has_active_inventory(&self) -> bool {
        self.st.products.values().any(|p| {
            p.variants
                .iter()
                .any(|v| v.inventory_item.levels.contains_key(&self.loc.id))
        })
    }
    async fn address(&self) -> LocationAddress {
        LocationAddress::default()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.loc.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.loc.created_at.clone())
    }
    async fn inventory_level(&self, inventory_item_id: ID) -> Option<InventoryLevelObj> {
        let Some(model::Found::InventoryItem { product, variant }) =
            self.st.find(&inventory_item_id)
        else {
            return None;
        };
        let p = self.st.products.get(&product)?.clone();
        let i = p.variants.iter().position(|v| v.id == variant)?;
        p.variants.get(i)?.inventory_item.levels.get(&self.loc.id)?;
        Some(InventoryLevelObj {
            st: self.st.clone(),
            p,
            i,
            loc: self.loc.id,
        })
    }
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<InventoryLevelConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let loc = self.loc.id;
        let st = self.st.clone();
        let mut items: Vec<(Key, InventoryLevelObj)> = Vec::new();
        for p in self.st.products.values() {
            for (i, v) in p.variants.iter().enumerate() {
                if let Some(l) = v.inventory_item.levels.get(&loc) {
                    items.push((
                        id_key(l.id),
                        InventoryLevelObj {
                            st: st.clone(),
                            p: p.clone(),
                            i,
                            loc,
                        },
                    ));
                }
            }
        }
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(InventoryLevelConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }
}

connection!(
    LocationConnection,
    LocationEdge,
    LocationObj,
    "LocationConnection",
    "LocationEdge"
);

/// Shopify's `ProductOptionValue`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ProductOptionValue")]
pub struct ProductOptionValue {
    pub has_variants: bool,
    pub id: ID,
    pub name: String,
}

/// Shopify's `ProductOption`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "ProductOption")]
pub struct ProductOptionObj {
    pub id: ID,
    pub name: String,
    pub option_values: Vec<ProductOptionValue>,
    pub position: i32,
    pub values: Vec<String>,
}

/// Shopify's `SelectedOption`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "SelectedOption")]
pub struct SelectedOption {
    pub name: String,
    pub option_value: ProductOptionValue,
    pub value: String,
}

fn options_of(p: &Product) -> Vec<ProductOptionObj> {
    p.options
        .iter()
        .enumerate()
        .map(|(i, o)| ProductOptionObj {
            id: ID(gid("ProductOption", o.id)),
            name: o.name.clone(),
            option_values: o
                .values
                .iter()
                .map(|v| ProductOptionValue {
                    has_variants: p
                        .variants
                        .iter()
                        .any(|x| x.option_values.get(i).is_some_and(|n| *n == v.name)),
                    id: ID(gid("ProductOptionValue", v.id)),
                    name: v.name.clone(),
                })
                .collect(),
            position: i32::try_from(i + 1).unwrap_or(i32::MAX),
            values: o.values.iter().map(|v| v.name.clone()).collect(),
        })
        .collect()
}

/// Shopify's `MediaImage` (every media item of the sandbox is shown as one).
#[derive(Clone)]
pub struct MediaImageObj {
    pub m: Media,
}

impl MediaImageObj {
    fn image_obj(&self) -> ImageObj {
        ImageObj {
            alt_text: self.m.alt.clone(),
            height: None,
            id: Some(ID(gid("ImageSource", self.m.id))),
            url: Url(self.m.original_source.clone()),
            width: None,
        }
    }
}

#[Object(name = "MediaImage")]
impl MediaImageObj {
    async fn id(&self) -> ID {
        ID(media_gid(&self.m))
    }
    async fn alt(&self) -> Option<&str> {
        self.m.alt.as_deref()
    }
    async fn media_content_type(&self) -> MediaContentType {
        match self.m.content_type.as_str() {
            "VIDEO" => MediaContentType::Video,
            "EXTERNAL_VIDEO" => MediaContentType::ExternalVideo,
            "MODEL_3D" => MediaContentType::Model3d,
            _ => MediaContentType::Image,
        }
    }
    /// The state shown now; each response that reads it moves a staged
    /// file's media one step on (see [`crate::model::MediaState::next`]).
    async fn status(&self, ctx: &Context<'_>) -> MediaStatus {
        let shown = self.m.status;
        if matches!(shown, MediaState::Uploaded | MediaState::Processing) {
            if let Ok(core) = ctx.data::<Arc<crate::runtime::Core>>() {
                core.advance_media(self.m.id, shown);
            }
        }
        match shown {
            MediaState::Uploaded => MediaStatus::Uploaded,
            MediaState::Processing => MediaStatus::Processing,
            MediaState::Ready => MediaStatus::Ready,
            MediaState::Failed => MediaStatus::Failed,
        }
    }
    async fn media_errors(&self) -> Vec<MediaError> {
        match (&self.m.status, &self.m.failure) {
            (MediaState::Failed, Some(f)) => vec![MediaError {
                code: MediaErrorCode::of(&f.code),
                details: f.details.clone(),
                message: f.message.clone(),
            }],
            _ => Vec::new(),
        }
    }
    /// The image once processed (`null` before, and when it failed).
    async fn image(&self) -> Option<ImageObj> {
        (self.m.status == MediaState::Ready).then(|| self.image_obj())
    }
    async fn preview(&self) -> Option<MediaPreviewImage> {
        let ready = self.m.status == MediaState::Ready;
        Some(MediaPreviewImage {
            image: ready.then(|| self.image_obj()),
            status: match self.m.status {
                MediaState::Uploaded => MediaPreviewImageStatus::Uploaded,
                MediaState::Processing => MediaPreviewImageStatus::Processing,
                MediaState::Ready => MediaPreviewImageStatus::Ready,
                MediaState::Failed => MediaPreviewImageStatus::Failed,
            },
        })
    }
    async fn original_source(&self) -> Option<MediaImageOriginalSource> {
        Some(MediaImageOriginalSource {
            file_size: None,
            url: Some(Url(self.m.original_source.clone())),
        })
    }
    async fn mime_type(&self) -> Option<String> {
        let ext = self
            .m
            .original_source
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mime = match ext.split(['?', '#']).next().unwrap_or_default() {
            "png" => "image/png",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "jpg" | "jpeg" => "image/jpeg",
            _ => return None,
        };
        Some(mime.into())
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.m.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.m.created_at.clone())
    }
}

/// Shopify's `Media` interface.
#[derive(Interface, Clone)]
#[graphql(
    name = "Media",
    field(name = "id", ty = "ID"),
    field(name = "alt", ty = "Option<&str>"),
    field(name = "media_content_type", ty = "MediaContentType"),
    field(name = "status", ty = "MediaStatus"),
    field(name = "media_errors", ty = "Vec<MediaError>"),
    field(name = "preview", ty = "Option<MediaPreviewImage>")
)]
pub enum MediaObj {
    MediaImage(MediaImageObj),
}

connection!(
    MediaConnection,
    MediaEdge,
    MediaObj,
    "MediaConnection",
    "MediaEdge"
);

fn media_connection(ctx: &Context<'_>, media: Vec<Media>, a: PageArgs) -> Result<MediaConnection> {
    let _ = ctx;
    let mut items: Vec<(Key, MediaObj)> = media
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            (
                (format!("{i:06}"), m.id),
                MediaObj::MediaImage(MediaImageObj { m }),
            )
        })
        .collect();
    if a.reverse {
        items.reverse();
    }
    Ok(MediaConnection::from_page(page(items.into_iter(), &a)?))
}

/// Shopify's `Product`.
#[derive(Clone)]
pub struct ProductObj {
    pub st: Arc<Store>,
    pub p: Arc<Product>,
}

#[Object(name = "Product")]
impl ProductObj {
    async fn id(&self) -> ID {
        ID(gid("Product", self.p.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.p.id)
    }
    async fn handle(&self) -> &str {
        &self.p.handle
    }
    async fn title(&self) -> &str {
        &self.p.title
    }
    async fn description(&self, truncate_at: Option<i32>) -> String {
        let text = strip_html(&self.p.description_html);
        match truncate_at.and_then(|n| usize::try_from(n).ok()) {
            Some(n) => text.chars().take(n).collect(),
            None => text,
        }
    }
    async fn description_html(&self) -> Html {
        Html(self.p.description_html.clone())
    }
    async fn vendor(&self) -> &str {
        &self.p.vendor
    }
    async fn product_type(&self) -> &str {
        &self.p.product_type
    }
    async fn tags(&self) -> &[String] {
        &self.p.tags
    }
    async fn status(&self) -> ProductStatus {
        match self.p.status {
            Status::Active => ProductStatus::Active,
            Status::Archived => ProductStatus::Archived,
            Status::Draft => ProductStatus::Draft,
        }
    }
    async fn template_suffix(&self) -> Option<&str> {
        self.p.template_suffix.as_deref()
    }
    async fn seo(&self) -> Seo {
        Seo {
            title: self.p.seo_title.clone(),
            description: self.p.seo_description.clone(),
        }
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.p.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.p.updated_at.clone())
    }
    async fn published_at(&self) -> Option<DateTime> {
        (self.p.status == Status::Active).then(|| DateTime(self.p.created_at.clone()))
    }
    /// Its page in the online store while it is published there (an
    /// active product, in the emulated store): the shop's domain and the
    /// handle, as Shopify forms it.
    async fn online_store_url(&self) -> Option<Url> {
        (self.p.status == Status::Active).then(|| {
            Url(format!(
                "https://{}/products/{}",
                self.st.shop.myshopify_domain, self.p.handle
            ))
        })
    }
    async fn is_gift_card(&self) -> bool {
        self.p.gift_card
    }
    async fn requires_selling_plan(&self) -> bool {
        false
    }
    async fn has_only_default_variant(&self) -> bool {
        self.p.has_only_default_variant()
    }
    async fn has_out_of_stock_variants(&self) -> bool {
        self.p.variants.iter().any(|v| total_available(v) <= 0)
    }
    async fn total_inventory(&self) -> i32 {
        let t: i64 = self.p.variants.iter().map(total_available).sum();
        i32::try_from(t).unwrap_or(i32::MAX)
    }
    async fn tracks_inventory(&self) -> bool {
        self.p.variants.iter().any(|v| v.inventory_item.tracked)
    }
    async fn options(&self, first: Option<i32>) -> Vec<ProductOptionObj> {
        let mut o = options_of(&self.p);
        if let Some(n) = first.and_then(|n| usize::try_from(n).ok()) {
            o.truncate(n);
        }
        o
    }
    async fn variants_count(&self) -> Count {
        Count::exact(self.p.variants.len())
    }
    async fn media_count(&self) -> Count {
        Count::exact(self.p.media.len())
    }
    async fn featured_media(&self) -> Option<MediaObj> {
        self.p
            .media
            .first()
            .map(|m| MediaObj::MediaImage(MediaImageObj { m: m.clone() }))
    }
    async fn in_collection(&self, id: ID) -> bool {
        model::parse_gid(&id)
            .is_some_and(|(k, n)| k == "Collection" && self.p.collections.contains(&n))
    }
    async fn variants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<ProductVariantConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let mut items: Vec<(Key, VariantObj)> = (0..self.p.variants.len())
            .map(|i| {
                (
                    (
                        format!("{i:06}"),
                        self.p.variants.get(i).map(|v| v.id).unwrap_or_default(),
                    ),
                    VariantObj {
                        st: self.st.clone(),
                        p: self.p.clone(),
                        i,
                    },
                )
            })
            .collect();
        if a.reverse {
            items.reverse();
        }
        Ok(ProductVariantConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }
    async fn media(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MediaConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        media_connection(ctx, self.p.media.clone(), a)
    }
    async fn collections(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<CollectionConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let mut items: Vec<(Key, CollectionObj)> = self
            .p
            .collections
            .iter()
            .filter_map(|c| self.st.collections.get(c))
            .map(|c| {
                (
                    id_key(c.id),
                    CollectionObj {
                        st: self.st.clone(),
                        c: c.clone(),
                    },
                )
            })
            .collect();
        if a.reverse {
            items.reverse();
        }
        Ok(CollectionConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }
    async fn metafield(&self, namespace: Option<String>, key: String) -> Option<MetafieldObj> {
        metafield_one(&self.p.metafields, "PRODUCT", namespace, key)
    }
    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `metafields` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn metafields(
        &self,
        ctx: &Context<'_>,
        namespace: Option<String>,
        keys: Option<Vec<String>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MetafieldConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        metafield_connection(&self.p.metafields, "PRODUCT", namespace, keys, a)
    }
}

fn total_available(v: &Variant) -> i64 {
    v.inventory_item.levels.values().map(|l| l.available).sum()
}

connection!(
    ProductConnection,
    ProductEdge,
    ProductObj,
    "ProductConnection",
    "ProductEdge"
);

/// Shopify's `ProductVariant` (a view of variant `i` of a product).
#[derive(Clone)]
pub struct VariantObj {
    pub st: Arc<Store>,
    pub p: Arc<Product>,
    pub i: usize,
}

impl VariantObj {
    /// Build a view; `None` when the index is out of range.
    pub fn new(st: Arc<Store>, p: Arc<Product>, i: usize) -> Option<Self> {
        (i < p.variants.len()).then_some(VariantObj { st, p, i })
    }

    fn v(&self) -> &Variant {
        // Invariant: views are built with an index into the same immutable product.
        &self.p.variants[self.i]
    }
}

#[Object(name = "ProductVariant")]
impl VariantObj {
    async fn id(&self) -> ID {
        ID(gid("ProductVariant", self.v().id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.v().id)
    }
    async fn title(&self) -> String {
        self.p.variant_title(self.v())
    }
    async fn display_name(&self) -> String {
        format!("{} - {}", self.p.title, self.p.variant_title(self.v()))
    }
    async fn position(&self) -> i32 {
        i32::try_from(self.i + 1).unwrap_or(i32::MAX)
    }
    async fn sku(&self) -> Option<&str> {
        self.v().sku.as_deref()
    }
    async fn barcode(&self) -> Option<&str> {
        self.v().barcode.as_deref()
    }
    async fn price(&self) -> Money {
        Money(self.v().price.clone())
    }
    async fn compare_at_price(&self) -> Option<Money> {
        self.v().compare_at_price.clone().map(Money)
    }
    async fn taxable(&self) -> bool {
        self.v().taxable
    }
    async fn available_for_sale(&self) -> bool {
        self.p.status == Status::Active
            && (!self.v().inventory_item.tracked
                || self.v().inventory_policy == InventoryPolicy::Continue
                || total_available(self.v()) > 0)
    }
    async fn inventory_policy(&self) -> ProductVariantInventoryPolicy {
        match self.v().inventory_policy {
            InventoryPolicy::Deny => ProductVariantInventoryPolicy::Deny,
            InventoryPolicy::Continue => ProductVariantInventoryPolicy::Continue,
        }
    }
    async fn inventory_quantity(&self) -> Option<i32> {
        i32::try_from(total_available(self.v())).ok()
    }
    async fn selected_options(&self) -> Vec<SelectedOption> {
        let opts = options_of(&self.p);
        opts.into_iter()
            .zip(self.v().option_values.iter())
            .map(|(o, val)| {
                let ov = o
                    .option_values
                    .iter()
                    .find(|x| x.name == *val)
                    .cloned()
                    .unwrap_or(ProductOptionValue {
                        has_variants: true,
                        id: ID(String::new()),
                        name: val.clone(),
                    });
                SelectedOption {
                    name: o.name,
                    option_value: ov,
                    value: val.clone(),
                }
            })
            .collect()
    }
    async fn image(&self) -> Option<ImageObj> {
        let id = self.v().media_ids.first()?;
        self.p
            .media
            .iter()
            .find(|m| m.id == *id)
            .map(|m| MediaImageObj { m: m.clone() }.image_obj())
    }
    async fn media(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MediaConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let media: Vec<Media> = self
            .v()
            .media_ids
            .iter()
            .filter_map(|id| self.p.media.iter().find(|m| m.id == *id).cloned())
            .collect();
        media_connection(ctx, media, a)
    }
    async fn inventory_item(&self) -> InventoryItemObj {
        InventoryItemObj(self.clone())
    }
    async fn product(&self) -> ProductObj {
        ProductObj {
            st: self.st.clone(),
            p: self.p.clone(),
        }
    }
    async fn requires_components(&self) -> bool {
        false
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.v().created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.v().updated_at.clone())
    }
    async fn metafield(&self, namespace: Option<String>, key: String) -> Option<MetafieldObj> {
        metafield_one(&self.v().metafields, "PRODUCTVARIANT", namespace, key)
    }
    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `metafields` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn metafields(
        &self,
        ctx: &Context<'_>,
        namespace: Option<String>,
        keys: Option<Vec<String>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MetafieldConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        metafield_connection(&self.v().metafields, "PRODUCTVARIANT", namespace, keys, a)
    }
}

connection!(
    ProductVariantConnection,
    ProductVariantEdge,
    VariantObj,
    "ProductVariantConnection",
    "ProductVariantEdge"
);

/// Shopify's `InventoryItem` (of one variant).
#[derive(Clone)]
pub struct InventoryItemObj(pub VariantObj);

#[Object(name = "InventoryItem")]
impl InventoryItemObj {
    async fn id(&self) -> ID {
        ID(gid("InventoryItem", self.0.v().inventory_item.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.0.v().inventory_item.id)
    }
    async fn sku(&self) -> Option<&str> {
        self.0.v().sku.as_deref()
    }
    async fn tracked(&self) -> bool {
        self.0.v().inventory_item.tracked
    }
    async fn requires_shipping(&self) -> bool {
        self.0.v().inventory_item.requires_shipping
    }
    async fn province_code_of_origin(&self) -> Option<&str> {
        self.0.v().inventory_item.province_code_of_origin.as_deref()
    }
    async fn measurement(&self) -> InventoryItemMeasurementObj {
        let item = &self.0.v().inventory_item;
        InventoryItemMeasurementObj {
            id: ID(gid("InventoryItemMeasurement", item.id)),
            weight: item.weight.as_ref().and_then(|(value, unit)| {
                Some(WeightObj {
                    unit: weight_unit_named(unit)?,
                    value: *value,
                })
            }),
        }
    }
    async fn unit_cost(&self) -> Option<MoneyV2> {
        let cost = self.0.v().inventory_item.cost.clone()?;
        Some(MoneyV2 {
            amount: Decimal(cost),
            currency_code: CurrencyCode::parse(&self.0.st.shop.currency_code)
                .unwrap_or(CurrencyCode::Usd),
        })
    }
    async fn country_code_of_origin(&self) -> Option<CountryCode> {
        self.0
            .v()
            .inventory_item
            .country_code_of_origin
            .as_deref()
            .and_then(CountryCode::parse)
    }
    async fn harmonized_system_code(&self) -> Option<&str> {
        self.0.v().inventory_item.harmonized_system_code.as_deref()
    }
    async fn duplicate_sku_count(&self) -> i32 {
        let Some(sku) = self.0.v().sku.as_deref() else {
            return 0;
        };
        let n = self
            .0
            .st
            .products
            .values()
            .flat_map(|p| p.variants.iter())
            .filter(|v| v.sku.as_deref() == Some(sku))
            .count();
        i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.v().inventory_item.created_at.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.v().inventory_item.updated_at.clone())
    }
    async fn variant(&self) -> VariantObj {
        self.0.clone()
    }
    async fn locations_count(&self) -> Count {
        Count::exact(self.0.v().inventory_item.levels.len())
    }
    async fn inventory_level(&self, location_id: ID) -> Option<InventoryLevelObj> {
        let (kind, loc) = model::parse_gid(&location_id)?;
        if kind != "Location" || !self.0.v().inventory_item.levels.contains_key(&loc) {
            return None;
        }
        Some(InventoryLevelObj {
            st: self.0.st.clone(),
            p: self.0.p.clone(),
            i: self.0.i,
            loc,
        })
    }
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<InventoryLevelConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let mut items: Vec<(Key, InventoryLevelObj)> = self
            .0
            .v()
            .inventory_item
            .levels
            .iter()
            .map(|(&loc, l)| {
                (
                    id_key(l.id),
                    InventoryLevelObj {
                        st: self.0.st.clone(),
                        p: self.0.p.clone(),
                        i: self.0.i,
                        loc,
                    },
                )
            })
            .collect();
        items.sort_by(|x, y| x.0.cmp(&y.0));
        if a.reverse {
            items.reverse();
        }
        Ok(InventoryLevelConnection::from_page(page(
            items.into_iter(),
            &a,
        )?))
    }
}

/// Shopify's `InventoryQuantity`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "InventoryQuantity")]
pub struct InventoryQuantity {
    pub id: ID,
    pub name: String,
    pub quantity: i32,
    pub updated_at: Option<DateTime>,
}

/// Shopify's `InventoryLevel`: one item at one location.
#[derive(Clone)]
pub struct InventoryLevelObj {
    pub st: Arc<Store>,
    pub p: Arc<Product>,
    pub i: usize,
    pub loc: u64,
}

impl InventoryLevelObj {
    fn level(&self) -> Option<&model::InventoryLevel> {
        self.p
            .variants
            .get(self.i)?
            .inventory_item
            .levels
            .get(&self.loc)
    }
    fn item_id(&self) -> u64 {
        self.p
            .variants
            .get(self.i)
            .map(|v| v.inventory_item.id)
            .unwrap_or_default()
    }
}

#[Object(name = "InventoryLevel")]
impl InventoryLevelObj {
    async fn id(&self) -> ID {
        let n = self.level().map(|l| l.id).unwrap_or_default();
        ID(format!(
            "{}?inventory_item_id={}",
            gid("InventoryLevel", n),
            self.item_id()
        ))
    }
    async fn can_deactivate(&self) -> bool {
        true
    }
    async fn created_at(&self) -> DateTime {
        DateTime(
            self.level()
                .map(|l| l.updated_at.clone())
                .unwrap_or_default(),
        )
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(
            self.level()
                .map(|l| l.updated_at.clone())
                .unwrap_or_default(),
        )
    }
    async fn item(&self) -> Result<InventoryItemObj> {
        VariantObj::new(self.st.clone(), self.p.clone(), self.i)
            .map(InventoryItemObj)
            .ok_or_else(|| "inventory item not found".into())
    }
    async fn location(&self) -> Result<LocationObj> {
        self.st
            .locations
            .get(&self.loc)
            .map(|l| LocationObj {
                st: self.st.clone(),
                loc: l.clone(),
            })
            .ok_or_else(|| "location not found".into())
    }
    async fn quantities(&self, names: Vec<String>) -> Vec<InventoryQuantity> {
        let (available, on_hand, at) = self
            .level()
            .map(|l| (l.available, l.on_hand, l.updated_at.clone()))
            .unwrap_or_default();
        names
            .into_iter()
            .map(|name| {
                let q = match name.as_str() {
                    "available" => available,
                    "on_hand" => on_hand,
                    _ => 0,
                };
                InventoryQuantity {
                    id: ID(format!(
                        "gid://shopify/InventoryQuantity/{}?inventory_item_id={}&name={name}",
                        self.loc,
                        self.item_id()
                    )),
                    name,
                    quantity: i32::try_from(q).unwrap_or(i32::MAX),
                    updated_at: Some(DateTime(at.clone())),
                }
            })
            .collect()
    }
}

connection!(
    InventoryLevelConnection,
    InventoryLevelEdge,
    InventoryLevelObj,
    "InventoryLevelConnection",
    "InventoryLevelEdge"
);

/// Shopify's `CollectionRuleSet` (smart collections; never present here).
#[derive(async_graphql::SimpleObject, Clone)]
#[graphql(name = "CollectionRuleSet")]
pub struct CollectionRuleSetObj {
    /// Whether products match any rule rather than all.
    pub applied_disjunctively: bool,
}

/// Shopify's `Collection` (custom collections).
#[derive(Clone)]
pub struct CollectionObj {
    pub st: Arc<Store>,
    pub c: Arc<Collection>,
}

#[Object(name = "Collection")]
impl CollectionObj {
    async fn id(&self) -> ID {
        ID(gid("Collection", self.c.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        legacy(self.c.id)
    }
    async fn handle(&self) -> &str {
        &self.c.handle
    }
    async fn title(&self) -> &str {
        &self.c.title
    }
    async fn description(&self, truncate_at: Option<i32>) -> String {
        let text = strip_html(&self.c.description_html);
        match truncate_at.and_then(|n| usize::try_from(n).ok()) {
            Some(n) => text.chars().take(n).collect(),
            None => text,
        }
    }
    async fn description_html(&self) -> Html {
        Html(self.c.description_html.clone())
    }
    async fn sort_order(&self) -> CollectionSortOrder {
        match self.c.sort_order.as_str() {
            "ALPHA_ASC" => CollectionSortOrder::AlphaAsc,
            "ALPHA_DESC" => CollectionSortOrder::AlphaDesc,
            "BEST_SELLING" => CollectionSortOrder::BestSelling,
            "CREATED" => CollectionSortOrder::Created,
            "CREATED_DESC" => CollectionSortOrder::CreatedDesc,
            "PRICE_ASC" => CollectionSortOrder::PriceAsc,
            "PRICE_DESC" => CollectionSortOrder::PriceDesc,
            _ => CollectionSortOrder::Manual,
        }
    }
    async fn template_suffix(&self) -> Option<&str> {
        self.c.template_suffix.as_deref()
    }
    async fn seo(&self) -> Seo {
        Seo {
            title: self.c.seo_title.clone(),
            description: self.c.seo_description.clone(),
        }
    }
    async fn image(&self) -> Option<ImageObj> {
        self.c.image.as_ref().map(|i| ImageObj {
            alt_text: i.alt.clone(),
            height: None,
            id: Some(ID(gid("CollectionImage", i.id))),
            url: Url(i.url.clone()),
            width: None,
        })
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.c.updated_at.clone())
    }
    async fn products_count(&self) -> Count {
        Count::exact(self.c.products.len())
    }
    /// Custom collections have no rule set (only smart ones do).
    async fn rule_set(&self) -> Option<CollectionRuleSetObj> {
        None
    }
    /// Publications the collection is on: the sandbox has one (the online store).
    async fn resource_publications_count(&self, only_published: Option<bool>) -> Option<Count> {
        let _ = only_published;
        Some(Count::exact(usize::from(self.c.published)))
    }
    async fn has_product(&self, id: ID) -> bool {
        // Membership is mirrored in the product's `collections`.
        model::parse_gid(&id).is_some_and(|(k, n)| {
            k == "Product"
                && self
                    .st
                    .products
                    .get(&n)
                    .is_some_and(|p| p.collections.contains(&self.c.id))
        })
    }
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<ProductConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        let mut items: Vec<(Key, ProductObj)> = self
            .c
            .products
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                self.st.products.get(id).map(|p| {
                    (
                        (format!("{i:08}"), *id),
                        ProductObj {
                            st: self.st.clone(),
                            p: p.clone(),
                        },
                    )
                })
            })
            .collect();
        if a.reverse {
            items.reverse();
        }
        Ok(ProductConnection::from_page(page(items.into_iter(), &a)?))
    }
    async fn metafield(&self, namespace: Option<String>, key: String) -> Option<MetafieldObj> {
        metafield_one(&self.c.metafields, "COLLECTION", namespace, key)
    }
    // async-graphql resolver: one Rust parameter per GraphQL argument of Shopify's
    // `metafields` connection field (the schema fixes them; they cannot be grouped).
    #[allow(clippy::too_many_arguments)]
    async fn metafields(
        &self,
        ctx: &Context<'_>,
        namespace: Option<String>,
        keys: Option<Vec<String>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Result<MetafieldConnection> {
        let a = args(ctx, first, after, last, before, reverse);
        metafield_connection(&self.c.metafields, "COLLECTION", namespace, keys, a)
    }
}

connection!(
    CollectionConnection,
    CollectionEdge,
    CollectionObj,
    "CollectionConnection",
    "CollectionEdge"
);

/// Shopify's `MetafieldDefinitionType`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "MetafieldDefinitionType")]
pub struct MetafieldDefinitionType {
    pub category: String,
    pub name: String,
    pub supports_definition_migrations: bool,
}

/// Shopify's `MetafieldDefinition`.
#[derive(Clone)]
pub struct MetafieldDefinitionObj {
    pub st: Arc<Store>,
    pub d: model::MetafieldDefinition,
}

#[Object(name = "MetafieldDefinition")]
impl MetafieldDefinitionObj {
    async fn id(&self) -> ID {
        ID(gid("MetafieldDefinition", self.d.id))
    }
    async fn name(&self) -> &str {
        &self.d.name
    }
    async fn namespace(&self) -> &str {
        &self.d.namespace
    }
    async fn key(&self) -> &str {
        &self.d.key
    }
    async fn description(&self) -> Option<&str> {
        self.d.description.as_deref()
    }
    async fn owner_type(&self) -> MetafieldOwnerType {
        owner_type_enum(&self.d.owner_type)
    }
    async fn pinned_position(&self) -> Option<i32> {
        self.d.pinned_position
    }
    async fn use_as_collection_condition(&self) -> bool {
        false
    }
    async fn capabilities(&self) -> MetafieldCapabilities {
        MetafieldCapabilities {
            unique_values: MetafieldCapabilityUniqueValues {
                eligible: crate::validate::UNIQUE_VALUE_TYPES.contains(&self.d.type_name.as_str()),
                enabled: self.d.has_unique_values(),
            },
        }
    }
    #[graphql(name = "type")]
    async fn type_name(&self) -> MetafieldDefinitionType {
        let category = match self.d.type_name.trim_start_matches("list.") {
            t if t.ends_with("_reference") => "REFERENCE",
            "number_integer" | "number_decimal" => "NUMBER",
            "date" | "date_time" => "DATE_TIME",
            "weight" | "volume" | "dimension" => "MEASUREMENT",
            "boolean" => "TRUE_FALSE",
            "json" => "JSON",
            "color" => "COLOR",
            "url" => "URL",
            "rating" => "RATING",
            "money" => "MONEY",
            _ => "TEXT",
        };
        MetafieldDefinitionType {
            category: category.into(),
            name: self.d.type_name.clone(),
            supports_definition_migrations: false,
        }
    }
    async fn metafields_count(&self) -> i32 {
        let owner = self.d.owner_type.as_str();
        let matches = |m: &Metafield| m.namespace == self.d.namespace && m.key == self.d.key;
        let n: usize = match owner {
            "PRODUCT" => self
                .st
                .products
                .values()
                .filter(|p| p.metafields.iter().any(matches))
                .count(),
            "PRODUCTVARIANT" => self
                .st
                .products
                .values()
                .flat_map(|p| p.variants.iter())
                .filter(|v| v.metafields.iter().any(matches))
                .count(),
            "COLLECTION" => self
                .st
                .collections
                .values()
                .filter(|c| c.metafields.iter().any(matches))
                .count(),
            _ => 0,
        };
        i32::try_from(n).unwrap_or(i32::MAX)
    }
}

connection!(
    MetafieldDefinitionConnection,
    MetafieldDefinitionEdge,
    MetafieldDefinitionObj,
    "MetafieldDefinitionConnection",
    "MetafieldDefinitionEdge"
);

/// Shopify's `MetafieldCapabilities` (only `uniqueValues`).
#[derive(SimpleObject, Clone)]
#[graphql(name = "MetafieldCapabilities")]
pub struct MetafieldCapabilities {
    pub unique_values: MetafieldCapabilityUniqueValues,
}

/// Shopify's `MetafieldCapabilityUniqueValues`.
#[derive(SimpleObject, Clone)]
#[graphql(name = "MetafieldCapabilityUniqueValues")]
pub struct MetafieldCapabilityUniqueValues {
    pub eligible: bool,
    pub enabled: bool,
}

/// Shopify's `BulkOperation` (a bulk query or a bulk mutation).
#[derive(Clone)]
pub struct BulkOperationObj(pub BulkOp);

impl BulkOperationObj {
    /// The URL of its result file under the store's URL.
    fn result_url(&self, ctx: &Context<'_>) -> Url {
        let base = ctx
            .data_opt::<Arc<crate::runtime::Core>>()
            .and_then(|c| c.base_url.get().cloned())
            .unwrap_or_default();
        Url(format!("{base}{}", self.0.result_path()))
    }
}

#[Object(name = "BulkOperation")]
impl BulkOperationObj {
    async fn id(&self) -> ID {
        ID(gid("BulkOperation", self.0.id))
    }
    async fn status(&self) -> BulkOperationStatus {
        match self.0.status {
            BulkStatus::Created => BulkOperationStatus::Created,
            BulkStatus::Running => BulkOperationStatus::Running,
            BulkStatus::Canceling => BulkOperationStatus::Canceling,
            BulkStatus::Canceled => BulkOperationStatus::Canceled,
            BulkStatus::Completed => BulkOperationStatus::Completed,
            BulkStatus::Failed => BulkOperationStatus::Failed,
            BulkStatus::Expired => BulkOperationStatus::Expired,
        }
    }
    async fn error_code(&self) -> Option<BulkOperationErrorCode> {
        self.0.error_code.as_deref().map(|c| match c {
            "ACCESS_DENIED" => BulkOperationErrorCode::AccessDenied,
            "TIMEOUT" => BulkOperationErrorCode::Timeout,
            _ => BulkOperationErrorCode::InternalServerError,
        })
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at.clone())
    }
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.completed_at.clone().map(DateTime)
    }
    async fn object_count(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.object_count.to_string())
    }
    async fn root_object_count(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.root_object_count.to_string())
    }
    async fn file_size(&self) -> Option<UnsignedInt64> {
        self.0
            .file_size
            .filter(|_| self.0.has_url)
            .map(|n| UnsignedInt64(n.to_string()))
    }
    async fn url(&self, ctx: &Context<'_>) -> Option<Url> {
        self.0.has_url.then(|| self.result_url(ctx))
    }
    async fn partial_data_url(&self, ctx: &Context<'_>) -> Option<Url> {
        self.0.has_partial.then(|| self.result_url(ctx))
    }
    /// The query, or the mutation of a bulk mutation.
    async fn query(&self) -> &str {
        &self.0.query
    }
    #[graphql(name = "type")]
    async fn type_name(&self) -> BulkOperationType {
        match self.0.kind {
            BulkKind::Query => BulkOperationType::Query,
            BulkKind::Mutation => BulkOperationType::Mutation,
        }
    }
}

connection!(
    BulkOperationConnection,
    BulkOperationEdge,
    BulkOperationObj,
    "BulkOperationConnection",
    "BulkOperationEdge"
);

/// Shopify's `Node` interface.
#[derive(Interface, Clone)]
#[graphql(name = "Node", field(name = "id", ty = "ID"))]
pub enum NodeObj {
    Product(ProductObj),
    ProductVariant(VariantObj),
    InventoryItem(InventoryItemObj),
    Collection(CollectionObj),
    Location(LocationObj),
    MediaImage(MediaImageObj),
    Metafield(MetafieldObj),
    MetafieldDefinition(MetafieldDefinitionObj),
    BulkOperation(BulkOperationObj),
    Shop(ShopObj),
}

/// Shopify's `Publication` (a sales channel); the sandbox has one, the
/// online store.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Publication")]
pub struct PublicationObj {
    pub id: ID,
    pub name: String,
    pub auto_publish: bool,
    pub supports_future_publishing: bool,
}

connection!(
    PublicationConnection,
    PublicationEdge,
    PublicationObj,
    "PublicationConnection",
    "PublicationEdge"
);
