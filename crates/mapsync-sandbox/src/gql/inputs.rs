//! GraphQL input objects, enums and scalars of the sandbox, named and shaped
//! exactly as in Shopify's Admin API 2026-04 (a subset of each type's fields;
//! the 2025-01 forms that differ are in `legacy`).
//! Declarations only: no store access, no business rules.

use async_graphql::{
    Enum, InputObject, InputValueError, InputValueResult, MaybeUndefined, Scalar, ScalarType,
    Value, ID,
};

use super::codes::CountryCode;

macro_rules! string_scalar {
    ($ty:ident, $name:literal) => {
        #[doc = concat!("Shopify's `", $name, "` scalar, carried as a string.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(pub String);

        #[Scalar(name = $name)]
        impl ScalarType for $ty {
            fn parse(value: Value) -> InputValueResult<Self> {
                match value {
                    Value::String(s) => Ok($ty(s)),
                    other => Err(InputValueError::expected_type(other)),
                }
            }
            fn to_value(&self) -> Value {
                Value::String(self.0.clone())
            }
        }
    };
}

macro_rules! decimal_scalar {
    ($ty:ident, $name:literal) => {
        #[doc = concat!("Shopify's `", $name, "` scalar: a decimal number, sent as a string.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(pub String);

        #[Scalar(name = $name)]
        impl ScalarType for $ty {
            fn parse(value: Value) -> InputValueResult<Self> {
                let text = match &value {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(InputValueError::expected_type(value)),
                };
                normalize_decimal(&text).map($ty).ok_or_else(|| {
                    InputValueError::custom(format!("invalid decimal value '{text}'"))
                })
            }
            fn to_value(&self) -> Value {
                Value::String(self.0.clone())
            }
        }
    };
}

string_scalar!(DateTime, "DateTime");
string_scalar!(Url, "URL");
string_scalar!(Html, "HTML");
string_scalar!(UnsignedInt64, "UnsignedInt64");
decimal_scalar!(Money, "Money");
decimal_scalar!(Decimal, "Decimal");

/// Shopify's `JSON` scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(Json(value.into_json().map_err(InputValueError::custom)?))
    }
    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// The GraphQL name of an enum value.
pub fn enum_name<T: async_graphql::InputType>(t: &T) -> String {
    match t.to_value() {
        Value::Enum(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Normalize a decimal to Shopify's form: at least two fraction digits.
pub fn normalize_decimal(text: &str) -> Option<String> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut frac = frac.trim_end_matches('0').to_string();
    while frac.len() < 2 {
        frac.push('0');
    }
    Some(format!("{}{int}.{frac}", if neg { "-" } else { "" }))
}

/// Product status.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductStatus")]
pub enum ProductStatus {
    Active,
    Archived,
    Draft,
}

/// What a variant does when out of stock.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductVariantInventoryPolicy")]
pub enum ProductVariantInventoryPolicy {
    Deny,
    Continue,
}

/// Media kinds.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MediaContentType")]
pub enum MediaContentType {
    Video,
    ExternalVideo,
    #[graphql(name = "MODEL_3D")]
    Model3d,
    Image,
}

/// File kinds of `FileSetInput`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "FileContentType")]
pub enum FileContentType {
    Image,
    File,
    Video,
    ExternalVideo,
    #[graphql(name = "MODEL_3D")]
    Model3d,
}

/// Sort order of the products of a collection.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CollectionSortOrder")]
pub enum CollectionSortOrder {
    AlphaAsc,
    AlphaDesc,
    BestSelling,
    Created,
    CreatedDesc,
    Manual,
    PriceAsc,
    PriceDesc,
}

/// Owners of metafields and metafield definitions.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MetafieldOwnerType")]
pub enum MetafieldOwnerType {
    ApiPermission,
    Company,
    CompanyLocation,
    PaymentCustomization,
    Validation,
    Customer,
    DeliveryCustomization,
    #[graphql(name = "DRAFTORDER")]
    Draftorder,
    GiftCardTransaction,
    Market,
    #[graphql(name = "CARTTRANSFORM")]
    Carttransform,
    Collection,
    MediaImage,
    Product,
    #[graphql(name = "PRODUCTVARIANT")]
    Productvariant,
    SellingPlan,
    Article,
    Blog,
    Page,
    FulfillmentConstraintRule,
    OrderRoutingLocationRule,
    Discount,
    Order,
    Location,
    Shop,
}

/// Sort keys of `products`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductSortKeys")]
pub enum ProductSortKeys {
    CreatedAt,
    Id,
    InventoryTotal,
    ProductType,
    PublishedAt,
    Relevance,
    Title,
    UpdatedAt,
    Vendor,
}

/// Sort keys of `collections`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CollectionSortKeys")]
pub enum CollectionSortKeys {
    Id,
    Relevance,
    Title,
    UpdatedAt,
}

/// Sort keys of `locations`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "LocationSortKeys")]
pub enum LocationSortKeys {
    Id,
    Name,
    Relevance,
}

/// Sort keys of `productVariants` and `Product.variants`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductVariantSortKeys")]
pub enum ProductVariantSortKeys {
    FullTitle,
    Id,
    InventoryLevelsAvailable,
    InventoryManagement,
    InventoryPolicy,
    InventoryQuantity,
    Name,
    Popular,
    Position,
    Relevance,
    Sku,
    Title,
}

/// Bulk operation kinds.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkOperationType")]
pub enum BulkOperationType {
    Query,
    Mutation,
}

/// Sort keys of `bulkOperations`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkOperationsSortKeys")]
pub enum BulkOperationsSortKeys {
    CompletedAt,
    CreatedAt,
}

/// SEO fields.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "SEOInput")]
pub struct SeoInput {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// A metafield set with a product, variant or collection.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "MetafieldInput")]
pub struct MetafieldInput {
    pub id: Option<ID>,
    pub namespace: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
    #[graphql(name = "type")]
    pub type_name: Option<String>,
}

/// A file given to `productSet` (product media or a variant's file).
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "FileSetInput")]
pub struct FileSetInput {
    pub filename: Option<String>,
    pub content_type: Option<FileContentType>,
    pub alt: Option<String>,
    pub id: Option<ID>,
    pub original_source: Option<String>,
}

/// One value of a product option.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "OptionValueSetInput")]
pub struct OptionValueSetInput {
    pub id: Option<ID>,
    pub name: Option<String>,
}

/// A product option of `productSet`.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "OptionSetInput")]
pub struct OptionSetInput {
    pub id: Option<ID>,
    pub name: Option<String>,
    pub position: Option<i32>,
    pub values: Option<Vec<OptionValueSetInput>>,
}

/// The option value a variant takes.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "VariantOptionValueInput")]
pub struct VariantOptionValueInput {
    pub id: Option<ID>,
    pub name: Option<String>,
    pub option_id: Option<ID>,
    pub option_name: Option<String>,
}

/// A quantity of a variant at a location, set by `productSet`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ProductSetInventoryInput")]
pub struct ProductSetInventoryInput {
    pub location_id: ID,
    pub name: String,
    pub quantity: i32,
}

/// Inventory item fields of a variant.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "InventoryItemInput")]
pub struct InventoryItemInput {
    pub sku: Option<String>,
    pub cost: Option<Decimal>,
    pub tracked: Option<bool>,
    pub country_code_of_origin: Option<CountryCode>,
    pub harmonized_system_code: Option<String>,
    pub requires_shipping: Option<bool>,
    pub province_code_of_origin: Option<String>,
    pub measurement: Option<InventoryItemMeasurementInput>,
}

/// A weight.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "WeightInput")]
pub struct WeightInput {
    pub value: f64,
    pub unit: super::types::WeightUnit,
}

/// Measurements of an inventory item.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "InventoryItemMeasurementInput")]
pub struct InventoryItemMeasurementInput {
    pub weight: Option<WeightInput>,
}

/// A variant of `productSet`.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "ProductVariantSetInput")]
pub struct ProductVariantSetInput {
    pub barcode: Option<String>,
    pub compare_at_price: Option<Money>,
    pub id: Option<ID>,
    pub file: Option<FileSetInput>,
    pub inventory_policy: Option<ProductVariantInventoryPolicy>,
    pub inventory_quantities: Option<Vec<ProductSetInventoryInput>>,
    pub inventory_item: Option<InventoryItemInput>,
    pub metafields: Option<Vec<MetafieldInput>>,
    pub option_values: Vec<VariantOptionValueInput>,
    pub position: Option<i32>,
    pub price: Option<Money>,
    pub sku: Option<String>,
    pub taxable: Option<bool>,
}

/// Calls `$then!` with the fields of `productSet`'s input that both API
/// versions share (2025-01 adds `id`), so the two input types cannot drift.
macro_rules! product_set_fields {
    ($then:ident) => {
        $then! {
            description_html: Option<String>,
            handle: Option<String>,
            seo: Option<SeoInput>,
            product_type: Option<String>,
            tags: Option<Vec<String>>,
            template_suffix: Option<String>,
            title: Option<String>,
            vendor: Option<String>,
            gift_card: Option<bool>,
            collections: Option<Vec<ID>>,
            metafields: Option<Vec<MetafieldInput>>,
            variants: Option<Vec<ProductVariantSetInput>>,
            files: Option<Vec<FileSetInput>>,
            status: Option<ProductStatus>,
            product_options: Option<Vec<OptionSetInput>>,
        }
    };
}

macro_rules! product_set_input {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The input of `productSet` (2026-04: the product is named by the
        /// mutation's `identifier`, not by an `id` here): list fields
        /// replace what the product has.
        #[derive(InputObject, Debug, Clone, Default)]
        #[graphql(name = "ProductSetInput")]
        pub struct ProductSetInput {
            $(pub $field: $ty,)*
        }
    };
}
pub(crate) use product_set_fields;
product_set_fields!(product_set_input);

/// How `productSet` finds the product it upserts (2026-04).
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "ProductSetIdentifiers")]
pub struct ProductSetIdentifiers {
    pub id: Option<ID>,
    pub handle: Option<String>,
    pub custom_id: Option<UniqueMetafieldValueInput>,
}

/// The input of `productUpdate`.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "ProductUpdateInput")]
pub struct ProductUpdateInput {
    pub description_html: Option<String>,
    pub handle: Option<String>,
    pub seo: Option<SeoInput>,
    pub product_type: Option<String>,
    pub tags: Option<Vec<String>>,
    pub template_suffix: Option<String>,
    pub title: Option<String>,
    pub vendor: Option<String>,
    pub id: Option<ID>,
    pub collections_to_join: Option<Vec<ID>>,
    pub collections_to_leave: Option<Vec<ID>>,
    pub metafields: Option<Vec<MetafieldInput>>,
    pub status: Option<ProductStatus>,
}

/// Media to add with `productUpdate`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "CreateMediaInput")]
pub struct CreateMediaInput {
    pub original_source: String,
    pub alt: Option<String>,
    pub media_content_type: MediaContentType,
}

/// The input of `productDelete`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ProductDeleteInput")]
pub struct ProductDeleteInput {
    pub id: ID,
}

/// A metafield value that identifies one resource.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "UniqueMetafieldValueInput")]
pub struct UniqueMetafieldValueInput {
    pub namespace: Option<String>,
    pub key: String,
    pub value: String,
}

/// How `productByIdentifier` finds a product.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ProductIdentifierInput")]
pub struct ProductIdentifierInput {
    pub id: Option<ID>,
    pub custom_id: Option<UniqueMetafieldValueInput>,
    pub handle: Option<String>,
}

/// An image given by URL.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "ImageInput")]
pub struct ImageInput {
    pub id: Option<ID>,
    pub alt_text: Option<String>,
    pub src: Option<String>,
}

/// The input of `collectionCreate` and `collectionUpdate` (custom collections).
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "CollectionInput")]
pub struct CollectionInput {
    pub description_html: Option<String>,
    pub handle: Option<String>,
    pub id: Option<ID>,
    pub image: Option<ImageInput>,
    pub products: Option<Vec<ID>>,
    pub template_suffix: Option<String>,
    pub sort_order: Option<CollectionSortOrder>,
    pub title: Option<String>,
    pub metafields: Option<Vec<MetafieldInput>>,
    pub seo: Option<SeoInput>,
    pub redirect_new_handle: Option<bool>,
}

/// The input of `collectionDelete`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "CollectionDeleteInput")]
pub struct CollectionDeleteInput {
    pub id: ID,
}

/// One metafield of `metafieldsSet`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "MetafieldsSetInput")]
pub struct MetafieldsSetInput {
    pub owner_id: ID,
    pub namespace: Option<String>,
    pub key: String,
    pub value: String,
    pub compare_digest: Option<String>,
    #[graphql(name = "type")]
    pub type_name: Option<String>,
}

/// One metafield of `metafieldsDelete`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "MetafieldIdentifierInput")]
pub struct MetafieldIdentifierInput {
    pub owner_id: ID,
    pub namespace: String,
    pub key: String,
}

/// The input of `metafieldDefinitionCreate`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "MetafieldDefinitionInput")]
pub struct MetafieldDefinitionInput {
    pub namespace: Option<String>,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub owner_type: MetafieldOwnerType,
    #[graphql(name = "type")]
    pub type_name: String,
    pub pin: Option<bool>,
    pub capabilities: Option<MetafieldCapabilityCreateInput>,
}

/// Capabilities of a new metafield definition (only `uniqueValues`).
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "MetafieldCapabilityCreateInput")]
pub struct MetafieldCapabilityCreateInput {
    pub unique_values: Option<MetafieldCapabilityUniqueValuesInput>,
}

/// Turns the unique values capability on or off.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "MetafieldCapabilityUniqueValuesInput")]
pub struct MetafieldCapabilityUniqueValuesInput {
    pub enabled: bool,
}

/// The input of `metafieldDefinitionUpdate` (definitions are found by
/// owner type, namespace and key).
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "MetafieldDefinitionUpdateInput")]
pub struct MetafieldDefinitionUpdateInput {
    pub namespace: Option<String>,
    pub key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub owner_type: MetafieldOwnerType,
    pub pin: Option<bool>,
}

/// A publication to publish on or unpublish from.
#[derive(InputObject, Debug, Clone, Default)]
#[graphql(name = "PublicationInput")]
pub struct PublicationInput {
    pub publication_id: Option<ID>,
    pub publish_date: Option<DateTime>,
}

/// One quantity of `inventorySetQuantities` (2026-04): `changeFromQuantity`
/// must be given, as a number (compare and swap) or `null` (no check).
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "InventoryQuantityInput")]
pub struct InventoryQuantityInput {
    pub inventory_item_id: ID,
    pub location_id: ID,
    pub quantity: i32,
    pub change_from_quantity: MaybeUndefined<i32>,
}

/// The input of `inventorySetQuantities` (2026-04).
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "InventorySetQuantitiesInput")]
pub struct InventorySetQuantitiesInput {
    pub reason: String,
    pub name: String,
    pub reference_document_uri: Option<String>,
    pub quantities: Vec<InventoryQuantityInput>,
}

#[cfg(test)]
mod tests {
    use super::normalize_decimal;

    #[test]
    fn decimals() {
        assert_eq!(normalize_decimal("12").as_deref(), Some("12.00"));
        assert_eq!(normalize_decimal("012.5").as_deref(), Some("12.50"));
        assert_eq!(normalize_decimal("-0.125").as_deref(), Some("-0.125"));
        assert_eq!(normalize_decimal("1e3"), None);
        assert_eq!(normalize_decimal(""), None);
    }
}

/// The input of `fileUpdate` (the fields the sandbox takes).
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "FileUpdateInput")]
pub struct FileUpdateInput {
    pub id: ID,
    pub alt: Option<String>,
    pub original_source: Option<String>,
    pub references_to_remove: Option<Vec<ID>>,
}
