//! The `userErrors` types of the sandbox's mutations and their code enums,
//! with Shopify's names (a subset of each enum's values, all present in API
//! 2026-04). Declarations only.

use async_graphql::{Enum, SimpleObject};

/// A user error of a mutation before it is typed for its payload.
#[derive(Debug, Clone)]
pub struct UserErr<C> {
    pub field: Vec<String>,
    pub message: String,
    pub code: Option<C>,
}

impl<C> UserErr<C> {
    /// A user error with a code.
    pub fn new<S: AsRef<str>>(field: &[S], message: impl Into<String>, code: C) -> Self {
        UserErr {
            field: field.iter().map(|s| s.as_ref().to_string()).collect(),
            message: message.into(),
            code: Some(code),
        }
    }
}

/// The code of a plain `UserError` (it has none).
#[derive(Debug, Clone, Copy)]
pub enum NoCode {}

/// Build a code-less user error.
pub fn plain<S: AsRef<str>>(field: &[S], message: impl Into<String>) -> UserErr<NoCode> {
    UserErr {
        field: field.iter().map(|s| s.as_ref().to_string()).collect(),
        message: message.into(),
        code: None,
    }
}

/// Shopify's `UserError`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "UserError")]
pub struct UserError {
    pub field: Option<Vec<String>>,
    pub message: String,
}

impl From<UserErr<NoCode>> for UserError {
    fn from(e: UserErr<NoCode>) -> Self {
        UserError {
            field: Some(e.field),
            message: e.message,
        }
    }
}

macro_rules! coded_error {
    ($ty:ident, $name:literal, $code:ident) => {
        #[doc = concat!("Shopify's `", $name, "`.")]
        #[derive(SimpleObject, Debug, Clone)]
        #[graphql(name = $name)]
        pub struct $ty {
            pub code: Option<$code>,
            pub field: Option<Vec<String>>,
            pub message: String,
        }

        impl From<UserErr<$code>> for $ty {
            fn from(e: UserErr<$code>) -> Self {
                $ty {
                    code: e.code,
                    field: Some(e.field),
                    message: e.message,
                }
            }
        }
    };
}

macro_rules! indexed_error {
    ($ty:ident, $name:literal, $code:ident) => {
        #[doc = concat!("Shopify's `", $name, "`.")]
        #[derive(SimpleObject, Debug, Clone)]
        #[graphql(name = $name)]
        pub struct $ty {
            pub code: Option<$code>,
            pub element_index: Option<i32>,
            pub field: Option<Vec<String>>,
            pub message: String,
        }

        impl From<UserErr<$code>> for $ty {
            fn from(e: UserErr<$code>) -> Self {
                let element_index = e.field.get(1).and_then(|s| s.parse().ok());
                $ty {
                    code: e.code,
                    element_index,
                    field: Some(e.field),
                    message: e.message,
                }
            }
        }
    };
}

/// Codes of `ProductSetUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductSetUserErrorCode")]
pub enum ProductSetUserErrorCode {
    MissingFieldRequired,
    InputMismatch,
    NotFound,
    MetafieldMismatch,
    CapabilityViolation,
    GenericError,
    InvalidMetafield,
    InvalidVariant,
    ProductDoesNotExist,
    ProductVariantDoesNotExist,
    OptionDoesNotExist,
    OptionValueDoesNotExist,
    OptionsOverLimit,
    OptionValuesOverLimit,
    OptionValuesMissing,
    DuplicatedOptionName,
    DuplicatedOptionValue,
    VariantsOverLimit,
    ProductOptionsInputMissing,
    VariantsInputMissing,
    InvalidProduct,
    InvalidInput,
    DuplicatedValue,
    HandleNotUnique,
}

/// Codes of `MetafieldsSetUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MetafieldsSetUserErrorCode")]
pub enum MetafieldsSetUserErrorCode {
    CapabilityViolation,
    StaleObject,
    InvalidType,
    InvalidValue,
    Inclusion,
    Taken,
    Present,
    Blank,
    TooLong,
    TooShort,
    LessThanOrEqualTo,
    InternalError,
}

/// Codes of `MetafieldDefinitionCreateUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MetafieldDefinitionCreateUserErrorCode")]
pub enum MetafieldDefinitionCreateUserErrorCode {
    Invalid,
    Inclusion,
    Present,
    Taken,
    TooLong,
    TooShort,
    LimitExceeded,
    ReservedNamespaceKey,
    PinnedLimitReached,
    InvalidCharacter,
    InvalidCapability,
    CapabilityRequiredButDisabled,
}

/// Codes of `MetafieldDefinitionUpdateUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MetafieldDefinitionUpdateUserErrorCode")]
pub enum MetafieldDefinitionUpdateUserErrorCode {
    Present,
    TooLong,
    NotFound,
    InvalidInput,
}

/// Codes of `InventorySetQuantitiesUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "InventorySetQuantitiesUserErrorCode")]
pub enum InventorySetQuantitiesUserErrorCode {
    InvalidInventoryItem,
    InvalidLocation,
    InvalidQuantityNegative,
    InvalidReason,
    InvalidReferenceDocument,
    ItemNotStockedAtLocation,
    InvalidQuantityTooHigh,
    InvalidQuantityTooLow,
    CompareQuantityRequired,
    CompareQuantityStale,
    ChangeFromQuantityStale,
    InvalidName,
    NoDuplicateInventoryItemIdGroupIdPair,
    IdempotencyKeyParameterMismatch,
}

/// Codes of `BulkOperationUserError`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkOperationUserErrorCode")]
pub enum BulkOperationUserErrorCode {
    OperationInProgress,
    Invalid,
}

/// Codes of `BulkMutationUserError` (all of them).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BulkMutationErrorCode")]
pub enum BulkMutationErrorCode {
    OperationInProgress,
    InvalidMutation,
    InvalidStagedUploadFile,
    NoSuchFile,
    InternalFileServerError,
    LimitReached,
}

coded_error!(
    BulkMutationUserError,
    "BulkMutationUserError",
    BulkMutationErrorCode
);
coded_error!(
    ProductSetUserError,
    "ProductSetUserError",
    ProductSetUserErrorCode
);
indexed_error!(
    MetafieldsSetUserError,
    "MetafieldsSetUserError",
    MetafieldsSetUserErrorCode
);
indexed_error!(
    MetafieldDefinitionCreateUserError,
    "MetafieldDefinitionCreateUserError",
    MetafieldDefinitionCreateUserErrorCode
);
indexed_error!(
    MetafieldDefinitionUpdateUserError,
    "MetafieldDefinitionUpdateUserError",
    MetafieldDefinitionUpdateUserErrorCode
);
coded_error!(
    InventorySetQuantitiesUserError,
    "InventorySetQuantitiesUserError",
    InventorySetQuantitiesUserErrorCode
);
coded_error!(
    BulkOperationUserError,
    "BulkOperationUserError",
    BulkOperationUserErrorCode
);

/// Codes of `FilesUserError` (`fileUpdate`).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "FilesErrorCode")]
pub enum FilesErrorCode {
    Invalid,
    FileDoesNotExist,
    InvalidImageSourceUrl,
    ReferenceTargetDoesNotExist,
    UnsupportedFileReference,
}

coded_error!(FilesUserError, "FilesUserError", FilesErrorCode);
