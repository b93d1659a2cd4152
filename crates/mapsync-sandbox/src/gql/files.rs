//! `fileUpdate` on product media (API 2026-04): replace a medium's image
//! in place, set its alt text, or remove it from its product — the image
//! round trip's overwrite and delete. The rules live in
//! [`crate::ops::file_update`]. Must not speak HTTP or compute cost.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::core;
use super::errors::FilesUserError;
use super::inputs::FileUpdateInput;
use super::mutation::conv;
use crate::ops;

/// Shopify's `FileUpdatePayload` (without `files`).
#[derive(SimpleObject)]
#[graphql(name = "FileUpdatePayload")]
pub struct FileUpdatePayload {
    pub user_errors: Vec<FilesUserError>,
}

/// `fileUpdate`.
#[derive(Default)]
pub struct FileMutation;

#[Object]
impl FileMutation {
    async fn file_update(
        &self,
        ctx: &Context<'_>,
        files: Vec<FileUpdateInput>,
    ) -> Result<Option<FileUpdatePayload>> {
        let core = core(ctx)?;
        Ok(Some(match core.mutate(|st| ops::file_update(st, &files)) {
            Ok(_) => FileUpdatePayload {
                user_errors: Vec::new(),
            },
            Err(e) => FileUpdatePayload {
                user_errors: conv(e),
            },
        }))
    }
}
