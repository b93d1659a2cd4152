//! Files mapsync sends to the store itself (embedded images, bulk mutation
//! variables): `stagedUploadsCreate` gives a signed target, the bytes are
//! POSTed there as a form (without the access token), and the store then
//! takes the target's `resourceUrl` as a file's `originalSource` (or its
//! `key` parameter as a bulk mutation's `stagedUploadPath`).

use serde_json::{json, Value};
use tracing::debug;

use super::documents;
use super::error::ShopifyError;
use super::read::ShopifyTarget;

/// What the store's staged upload resource is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedResource {
    /// A product image.
    Image,
    /// A collection's image.
    CollectionImage,
    /// The JSONL variables of a bulk mutation.
    BulkMutationVariables,
}

impl StagedResource {
    fn as_str(self) -> &'static str {
        match self {
            StagedResource::Image => "IMAGE",
            StagedResource::CollectionImage => "COLLECTION_IMAGE",
            StagedResource::BulkMutationVariables => "BULK_MUTATION_VARIABLES",
        }
    }
}

/// A file the store holds, ready to be referred to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// What a file input's `originalSource` takes (images; Shopify gives
    /// none for bulk mutation variables).
    pub resource_url: Option<String>,
    /// The `key` parameter of the target (a bulk mutation's
    /// `stagedUploadPath`), when the store gave one.
    pub key: Option<String>,
}

/// `stagedUploadsCreate`'s requested cost (mutation 10, one target).
const COST_STAGED_UPLOADS_CREATE: u32 = 11;

impl ShopifyTarget {
    /// Stages `bytes` as `filename` (`mime`) for `resource`; adds its
    /// requests (the mutation's attempts and the upload) to `requests`.
    pub async fn stage_file(
        &self,
        resource: StagedResource,
        filename: &str,
        mime: &str,
        bytes: Vec<u8>,
        requests: &mut u32,
    ) -> Result<StagedFile, ShopifyError> {
        let mut input = json!({
            "resource": resource.as_str(),
            "filename": filename,
            "mimeType": mime,
            "httpMethod": "POST",
        });
        if resource != StagedResource::BulkMutationVariables {
            input["fileSize"] = json!(bytes.len().to_string());
        }
        let answer = self
            .client()
            .execute::<Value>(
                &documents::STAGED_UPLOADS_CREATE,
                json!({ "input": [input] }),
                COST_STAGED_UPLOADS_CREATE,
            )
            .await?;
        *requests += answer.attempts.max(1);
        let errors = answer
            .data
            .pointer("/stagedUploadsCreate/userErrors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(ShopifyError::UserErrors {
                operation: documents::STAGED_UPLOADS_CREATE.name,
                errors: serde_json::from_value(Value::Array(errors)).unwrap_or_default(),
            });
        }
        let target = answer
            .data
            .pointer("/stagedUploadsCreate/stagedTargets/0")
            .filter(|t| !t.is_null())
            .ok_or_else(|| ShopifyError::Decode {
                operation: documents::STAGED_UPLOADS_CREATE.name,
                request_id: answer.request_id.clone(),
                message: "the answer has no staged target".into(),
            })?;
        let text = |key: &str| target.get(key).and_then(Value::as_str).map(str::to_owned);
        let resource_url = text("resourceUrl");
        let url = text("url").filter(|_| {
            resource == StagedResource::BulkMutationVariables || resource_url.is_some()
        });
        let Some(url) = url else {
            return Err(ShopifyError::Decode {
                operation: documents::STAGED_UPLOADS_CREATE.name,
                request_id: answer.request_id.clone(),
                message: "the staged target has no url, or no resourceUrl for an image".into(),
            });
        };
        let parameters: Vec<(String, String)> = target
            .get("parameters")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| {
                        Some((
                            p["name"].as_str()?.to_owned(),
                            p["value"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = parameters
            .iter()
            .find(|(name, _)| name == "key")
            .map(|(_, v)| v.clone());
        debug!(filename, bytes = bytes.len(), "uploading a staged file");
        self.client()
            .upload_staged(&url, &parameters, filename, mime, bytes)
            .await?;
        *requests += 1;
        Ok(StagedFile { resource_url, key })
    }
}
