//! The upload cache of a run ([`UploadCache`]) over the state store: a
//! connector asks it before uploading a file (an embedded image) and tells
//! it each upload, so one file is uploaded once — for several items of a
//! run, and by a run resumed after a kill between an upload and the write
//! that uses it. Entries older than [`mapsync_state::UPLOAD_MAX_AGE`] (a
//! day) are ignored and pruned: a target keeps staged files for a limited
//! time. The cache has its own handle to the state database (the
//! ledger writer holds another). A failing
//! state store never fails an item: the lookup finds nothing (the file is
//! uploaded again) and the failure is logged.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::warn;

use mapsync_core::target::{UploadCache, Uploads};
use mapsync_state::UPLOAD_MAX_AGE;
use mapsync_statedb::StateDb;

/// The uploads of one channel in the state store.
#[derive(Debug, Clone)]
pub struct StateUploads {
    store: StateDb,
    channel: String,
}

impl StateUploads {
    /// The cache of `channel` over `store` (a handle of its own); prunes
    /// entries too old to use.
    pub async fn open(store: StateDb, channel: &str) -> StateUploads {
        if let Err(e) = store.prune_uploads(channel, UPLOAD_MAX_AGE).await {
            warn!(error = %e, "cannot prune old uploads from the state store");
        }
        StateUploads {
            store,
            channel: channel.to_owned(),
        }
    }

    /// As a write context's [`Uploads`].
    pub fn into_uploads(self) -> Uploads {
        Uploads::new(Arc::new(self))
    }
}

#[async_trait]
impl UploadCache for StateUploads {
    async fn lookup(&self, key: &str) -> Option<String> {
        match self
            .store
            .upload_location(&self.channel, key, UPLOAD_MAX_AGE)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                warn!(error = %e, "cannot read an upload from the state store; uploading again");
                None
            }
        }
    }

    async fn record(&self, key: &str, location: &str) {
        let at = OffsetDateTime::now_utc();
        if let Err(e) = self
            .store
            .record_upload(&self.channel, key, location, at)
            .await
        {
            warn!(error = %e, "cannot record an upload in the state store (the next run uploads it again)");
        }
    }

    async fn forget(&self, key: &str) {
        if let Err(e) = self.store.forget_upload(&self.channel, key).await {
            warn!(error = %e, "cannot forget an upload in the state store");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uploads_are_remembered_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let open = || StateDb::sqlite(mapsync_state::Store::open(&path).unwrap());
        let a = StateUploads::open(open(), "a").await.into_uploads();
        let b = StateUploads::open(open(), "b").await.into_uploads();
        assert_eq!(a.lookup("k").await, None);
        a.record("k", "https://up/k.png").await;
        assert_eq!(a.lookup("k").await.as_deref(), Some("https://up/k.png"));
        assert_eq!(b.lookup("k").await, None);
        a.forget("k").await;
        assert_eq!(a.lookup("k").await, None);
        assert_eq!(Uploads::default().lookup("k").await, None);
    }
}
