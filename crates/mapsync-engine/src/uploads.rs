//! The upload cache of a run ([`UploadCache`]) over the state store: a
//! connector asks it before uploading a file (an embedded image) and tells
//! it each upload, so one file is uploaded once — for several items of a
//! run, and by a run resumed after a kill between an upload and the write
//! that uses it. Entries older than [`mapsync_state::UPLOAD_MAX_AGE`] (a
//! day) are ignored and pruned: a target keeps staged files for a limited
//! time. The cache has its own connection to the state database (the
//! ledger writer owns another), used on the blocking pool. A failing
//! state store never fails an item: the lookup finds nothing (the file is
//! uploaded again) and the failure is logged.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::warn;

use mapsync_core::target::{UploadCache, Uploads};
use mapsync_state::{SharedStore, Store, UPLOAD_MAX_AGE};

/// The uploads of one channel in the state store.
#[derive(Debug, Clone)]
pub struct StateUploads {
    store: SharedStore,
    channel: String,
}

impl StateUploads {
    /// The cache of `channel` over `store` (a connection of its own);
    /// prunes entries too old to use.
    pub fn new(mut store: Store, channel: &str) -> StateUploads {
        if let Err(e) = store.prune_uploads(channel, UPLOAD_MAX_AGE) {
            warn!(error = %e, "cannot prune old uploads from the state store");
        }
        StateUploads {
            store: SharedStore::new(store),
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
        let (channel, key) = (self.channel.clone(), key.to_owned());
        match self
            .store
            .call(move |s| s.upload_location(&channel, &key, UPLOAD_MAX_AGE))
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
        let (channel, key, location) = (self.channel.clone(), key.to_owned(), location.to_owned());
        let at = OffsetDateTime::now_utc();
        if let Err(e) = self
            .store
            .call(move |s| s.record_upload(&channel, &key, &location, at))
            .await
        {
            warn!(error = %e, "cannot record an upload in the state store (the next run uploads it again)");
        }
    }

    async fn forget(&self, key: &str) {
        let (channel, key) = (self.channel.clone(), key.to_owned());
        if let Err(e) = self
            .store
            .call(move |s| s.forget_upload(&channel, &key))
            .await
        {
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
        let a = StateUploads::new(Store::open(&path).unwrap(), "a").into_uploads();
        let b = StateUploads::new(Store::open(&path).unwrap(), "b").into_uploads();
        assert_eq!(a.lookup("k").await, None);
        a.record("k", "https://up/k.png").await;
        assert_eq!(a.lookup("k").await.as_deref(), Some("https://up/k.png"));
        assert_eq!(b.lookup("k").await, None);
        a.forget("k").await;
        assert_eq!(a.lookup("k").await, None);
        assert_eq!(Uploads::default().lookup("k").await, None);
    }
}
