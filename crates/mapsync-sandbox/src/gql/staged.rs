//! `stagedUploadsCreate` (API 2026-04): upload targets served by the
//! sandbox itself (`{base}/__sandbox/staged/{token}`), with Shopify's
//! input, target and payload types. The rules of the files live in
//! [`crate::staged`]; the upload endpoint in the server. Must not speak
//! HTTP or compute cost.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use rand::Rng;

use super::core;
use super::errors::{plain, NoCode, UserErr, UserError};
use super::inputs::{UnsignedInt64, Url};
use super::mutation::conv;
use crate::model::{now, Store};
use crate::staged::{self, Target, MAX_TARGETS_PER_CALL, MAX_UPLOAD_BYTES};

/// Shopify's `StagedUploadTargetGenerateUploadResource`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "StagedUploadTargetGenerateUploadResource")]
pub enum StagedUploadResource {
    CollectionImage,
    File,
    Image,
    #[graphql(name = "MODEL_3D")]
    Model3d,
    ProductImage,
    ShopImage,
    Video,
    BulkMutationVariables,
    ReturnLabel,
    UrlRedirectImport,
    DisputeFileUpload,
}

impl StagedUploadResource {
    fn name(self) -> &'static str {
        match self {
            Self::CollectionImage => "COLLECTION_IMAGE",
            Self::File => "FILE",
            Self::Image => "IMAGE",
            Self::Model3d => "MODEL_3D",
            Self::ProductImage => "PRODUCT_IMAGE",
            Self::ShopImage => "SHOP_IMAGE",
            Self::Video => "VIDEO",
            Self::BulkMutationVariables => "BULK_MUTATION_VARIABLES",
            Self::ReturnLabel => "RETURN_LABEL",
            Self::UrlRedirectImport => "URL_REDIRECT_IMPORT",
            Self::DisputeFileUpload => "DISPUTE_FILE_UPLOAD",
        }
    }

    /// Resources of things the sandbox does not model (returns, redirects,
    /// disputes).
    fn unsupported(self) -> bool {
        matches!(
            self,
            Self::ReturnLabel | Self::UrlRedirectImport | Self::DisputeFileUpload
        )
    }
}

/// Shopify's `StagedUploadHttpMethodType`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "StagedUploadHttpMethodType")]
pub enum StagedUploadHttpMethodType {
    Post,
    Put,
}

/// Shopify's `StagedUploadInput`.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "StagedUploadInput")]
pub struct StagedUploadInput {
    pub resource: StagedUploadResource,
    pub filename: String,
    pub mime_type: String,
    #[graphql(default_with = "Some(StagedUploadHttpMethodType::Put)")]
    pub http_method: Option<StagedUploadHttpMethodType>,
    pub file_size: Option<UnsignedInt64>,
}

/// Shopify's `StagedUploadParameter`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "StagedUploadParameter")]
pub struct StagedUploadParameter {
    pub name: String,
    pub value: String,
}

/// Shopify's `StagedMediaUploadTarget`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "StagedMediaUploadTarget")]
pub struct StagedMediaUploadTarget {
    pub parameters: Vec<StagedUploadParameter>,
    pub resource_url: Option<Url>,
    pub url: Option<Url>,
}

/// Shopify's `StagedUploadsCreatePayload`.
#[derive(SimpleObject)]
#[graphql(name = "StagedUploadsCreatePayload")]
pub struct StagedUploadsCreatePayload {
    pub staged_targets: Option<Vec<StagedMediaUploadTarget>>,
    pub user_errors: Vec<UserError>,
}

/// `stagedUploadsCreate` (2026-04 only).
#[derive(Default)]
pub struct StagedMutation;

#[Object]
impl StagedMutation {
    async fn staged_uploads_create(
        &self,
        ctx: &Context<'_>,
        input: Vec<StagedUploadInput>,
    ) -> Result<StagedUploadsCreatePayload> {
        let core = core(ctx)?;
        let base = core.base_url.get().cloned().unwrap_or_default();
        let made = core.mutate(|st| create_targets(st, &input));
        Ok(match made {
            Ok((targets, _)) => StagedUploadsCreatePayload {
                staged_targets: Some(targets.iter().map(|t| target_obj(&base, t)).collect()),
                user_errors: Vec::new(),
            },
            Err(errs) => StagedUploadsCreatePayload {
                staged_targets: None,
                user_errors: conv(errs),
            },
        })
    }
}

/// Check every input, then make one target each (all or none).
fn create_targets(
    st: &mut Store,
    input: &[StagedUploadInput],
) -> Result<Vec<Target>, Vec<UserErr<NoCode>>> {
    if input.len() > MAX_TARGETS_PER_CALL {
        return Err(vec![plain(
            &["input"],
            format!("At most {MAX_TARGETS_PER_CALL} staged uploads can be created at once."),
        )]);
    }
    let mut errs = Vec::new();
    let mut targets = Vec::with_capacity(input.len());
    for (i, u) in input.iter().enumerate() {
        match check_input(i, u) {
            Ok(size) => targets.push(new_target(st, u, size)),
            Err(e) => errs.extend(e),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let staged = std::sync::Arc::make_mut(&mut st.staged);
    for t in &targets {
        staged.add(t.clone());
    }
    Ok(targets)
}

/// The input's errors, or its `fileSize`.
fn check_input(i: usize, u: &StagedUploadInput) -> Result<Option<u64>, Vec<UserErr<NoCode>>> {
    let at = |field: &str| vec!["input".to_string(), i.to_string(), field.to_string()];
    let mut errs = Vec::new();
    if u.resource.unsupported() {
        errs.push(plain(
            &at("resource"),
            format!(
                "The sandbox does not support {} uploads.",
                u.resource.name()
            ),
        ));
    }
    if u.filename.trim().is_empty() {
        errs.push(plain(&at("filename"), "Filename can't be blank"));
    }
    if u.mime_type.trim().is_empty() {
        errs.push(plain(&at("mimeType"), "Mime type can't be blank"));
    }
    let size = match &u.file_size {
        None => None,
        Some(n) => match n.0.trim().parse::<u64>() {
            Ok(n) if n <= MAX_UPLOAD_BYTES as u64 => Some(n),
            Ok(_) => {
                errs.push(plain(
                    &at("fileSize"),
                    format!("File size must be at most {MAX_UPLOAD_BYTES} bytes."),
                ));
                None
            }
            Err(_) => {
                errs.push(plain(&at("fileSize"), "File size is invalid."));
                None
            }
        },
    };
    let needs_size = matches!(
        u.resource,
        StagedUploadResource::Video | StagedUploadResource::Model3d
    );
    if needs_size && u.file_size.is_none() {
        errs.push(plain(
            &at("fileSize"),
            format!("File size is required for {} uploads.", u.resource.name()),
        ));
    }
    if errs.is_empty() {
        Ok(size)
    } else {
        Err(errs)
    }
}

fn new_target(st: &Store, u: &StagedUploadInput, file_size: Option<u64>) -> Target {
    let token = format!("{:032x}", rand::rng().random::<u128>());
    let filename = u.filename.trim().to_string();
    let folder = match u.resource {
        StagedUploadResource::BulkMutationVariables => "bulk",
        _ => "products",
    };
    let key = format!(
        "tmp/{}/{folder}/{token}/{}",
        st.shop.id,
        staged::encode_segment(&filename)
    );
    let method = match u.http_method {
        Some(StagedUploadHttpMethodType::Post) => "POST",
        _ => "PUT",
    };
    Target {
        token,
        resource: u.resource.name().into(),
        filename,
        mime_type: u.mime_type.trim().to_string(),
        http_method: method.into(),
        file_size,
        key,
        created_at: now(),
        bytes: None,
    }
}

/// The target as the payload shows it: the URL to send the file to, its
/// parameters (form fields for POST, headers for PUT) and the resource URL.
fn target_obj(base: &str, t: &Target) -> StagedMediaUploadTarget {
    let param = |name: &str, value: &str| StagedUploadParameter {
        name: name.into(),
        value: value.into(),
    };
    let parameters = if t.http_method == "POST" {
        vec![
            param("Content-Type", &t.mime_type),
            param("success_action_status", "201"),
            param("acl", "private"),
            param("key", &t.key),
            param("policy", &staged::policy(t)),
        ]
    } else {
        vec![param("content_type", &t.mime_type), param("acl", "private")]
    };
    StagedMediaUploadTarget {
        parameters,
        resource_url: Some(Url(staged::resource_url(base, t))),
        url: Some(Url(staged::upload_url(base, t))),
    }
}
