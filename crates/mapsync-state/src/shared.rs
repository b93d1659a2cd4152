//! A [`Store`] shared between async tasks: calls run on Tokio's blocking
//! pool, one at a time, so the runtime's threads never wait on SQLite.

use std::sync::{Arc, Mutex};

use super::{StateError, Store};

/// A cloneable handle to one [`Store`] for async code.
#[derive(Debug, Clone)]
pub struct SharedStore {
    inner: Arc<Mutex<Store>>,
}

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: Store) -> SharedStore {
        SharedStore {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// The store back, when this is its last handle (to give it back to a
    /// [`super::StorePool`]); `None` while other handles share it.
    pub fn into_inner(self) -> Option<Store> {
        Arc::try_unwrap(self.inner)
            .ok()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` with the store on the blocking pool (`spawn_blocking`) and
    /// returns its result. Must be called inside a Tokio runtime.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StateError>
    where
        F: FnOnce(&mut Store) -> Result<R, StateError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call cannot leave SQLite half-written
            // (transactions roll back on drop), so a poisoned lock is usable.
            let mut store = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut store)
        })
        .await
        .map_err(|e| StateError::Task(e.to_string()))?
    }

    /// Runs `f` with the store on this thread (waiting for a call in
    /// flight on the blocking pool, if any). For a thread that may block:
    /// a current-thread runtime of its own, where handing a short call to
    /// the blocking pool costs a thread kept alive for nothing.
    pub fn call_here<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        let mut store = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    }
}
