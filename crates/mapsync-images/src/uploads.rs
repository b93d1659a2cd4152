//! The upload cache of a publish ([`UploadCache`]): where the store took
//! each file (by [`mapsync_core::images::upload_key`]), in memory for the
//! run and in the state store's `uploads` (so a publish killed between an
//! upload and the write that uses it does not upload again). A file used
//! by several lines (the same edit for duplicates, a copy to many
//! products) is uploaded once. Failures of the state store are logged: a
//! lookup that fails finds nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mapsync_core::target::UploadCache;
use mapsync_state::UPLOAD_MAX_AGE;
use mapsync_statedb::StateDb;
use tracing::warn;

/// The files a publish uploaded.
#[derive(Debug)]
pub struct FileUploads {
    state: Option<StateDb>,
    channel: String,
    seen: Mutex<HashMap<String, String>>,
}

impl FileUploads {
    /// A cache for `channel`, kept in `state` too when there is one.
    pub fn new(state: Option<StateDb>, channel: impl Into<String>) -> FileUploads {
        FileUploads {
            state,
            channel: channel.into(),
            seen: Mutex::default(),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl UploadCache for FileUploads {
    async fn lookup(&self, key: &str) -> Option<String> {
        if let Some(l) = self.seen().get(key) {
            return Some(l.clone());
        }
        let state = self.state.as_ref()?;
        match state
            .upload_location(&self.channel, key, UPLOAD_MAX_AGE)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                warn!(error = %e, "cannot read the uploads of the state store");
                None
            }
        }
    }

    async fn record(&self, key: &str, location: &str) {
        self.seen().insert(key.to_owned(), location.to_owned());
        if let Some(state) = &self.state {
            if let Err(e) = state
                .record_upload(
                    &self.channel,
                    key,
                    location,
                    time::OffsetDateTime::now_utc(),
                )
                .await
            {
                warn!(error = %e, "cannot record an upload in the state store");
            }
        }
    }

    async fn forget(&self, key: &str) {
        self.seen().remove(key);
        if let Some(state) = &self.state {
            if let Err(e) = state.forget_upload(&self.channel, key).await {
                warn!(error = %e, "cannot forget an upload in the state store");
            }
        }
    }
}
