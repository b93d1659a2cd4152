//! Connections to one state database kept for reuse ([`StorePool`]).
//!
//! Opening a [`Store`] parses the schema, sets the pragmas and checks the
//! migrations: most of what a run with nothing to change spends on the
//! state store. A caller that runs again and again (the sync manager)
//! keeps a pool per database and takes its connections from it; a run
//! gives each connection back when done with it, so one connection
//! usually serves a whole run, run after run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{parse_url, StateError, StateLocation, Store};

/// A cloneable handle to the idle connections of one state database.
#[derive(Debug, Clone)]
pub struct StorePool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    max_idle: usize,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    /// A pool for the database a `state:` URL names (relative paths from
    /// `project_dir`), keeping at most `max_idle` connections between uses
    /// (0: every [`Self::take`] opens a new one). Opens nothing yet.
    pub fn for_url(
        url: &str,
        project_dir: &Path,
        max_idle: usize,
    ) -> Result<StorePool, StateError> {
        match parse_url(url, project_dir)? {
            StateLocation::Sqlite(path) => Ok(StorePool::new(&path, max_idle)),
            StateLocation::Postgres(url) => Err(super::not_sqlite(&url)),
        }
    }

    /// A pool for the SQLite database at `path` (see [`Self::for_url`]).
    pub fn new(path: &Path, max_idle: usize) -> StorePool {
        StorePool {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                max_idle,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// An idle connection, or a new one. Idle connections to a file that
    /// was removed or replaced since (a reset of the state) are closed and
    /// a new one is opened.
    pub fn take(&self) -> Result<Store, StateError> {
        let current = file_id(&self.inner.path);
        let kept = {
            let mut idle = lock(&self.inner.idle);
            if current.is_none() || idle.iter().any(|s| s.file_id != current) {
                // Closed outside the lock.
                std::mem::take(&mut *idle)
            } else {
                return match idle.pop() {
                    Some(s) => Ok(s),
                    None => {
                        drop(idle);
                        Store::open(&self.inner.path)
                    }
                };
            }
        };
        drop(kept);
        Store::open(&self.inner.path)
    }

    /// Gives a connection back for a later [`Self::take`]; closed instead
    /// when the pool holds `max_idle` already or it is to another file.
    /// A connection must be given back outside a transaction.
    pub fn give(&self, store: Store) {
        if store.path() != self.inner.path.as_path() {
            return;
        }
        let mut idle = lock(&self.inner.idle);
        if idle.len() < self.inner.max_idle {
            idle.push(store);
        }
    }

    /// Runs `f` on a connection of the pool and gives it back. A
    /// connection whose call failed is closed (the next take opens a new
    /// one): a failure may come from the connection itself.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut store = self.take()?;
        let result = f(&mut store);
        if result.is_ok() {
            self.give(store);
        }
        result
    }

    /// How many connections are idle in the pool.
    pub fn idle(&self) -> usize {
        lock(&self.inner.idle).len()
    }
}

/// What identifies the file at `path` now (device and inode on Unix;
/// elsewhere only whether it exists), `None` when there is none.
pub(crate) fn file_id(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while the lock was held cannot leave the list half-changed.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_given_back_is_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let pool = StorePool::new(&dir.path().join("state.db"), 2);
        let mut s = pool.take().unwrap();
        let started = time::OffsetDateTime::now_utc();
        let run = s.begin_run("p", "c", started).unwrap();
        pool.give(s);
        assert_eq!(pool.idle(), 1);
        let s = pool.take().unwrap();
        assert_eq!(pool.idle(), 0);
        assert_eq!(s.last_run_id("p").unwrap(), Some(run));
        assert_eq!(s.last_run_started("p").unwrap(), Some((run, started)));
        assert_eq!(s.last_run_started("q").unwrap(), None);
        // At most `max_idle` are kept.
        let (a, b) = (pool.take().unwrap(), pool.take().unwrap());
        pool.give(s);
        pool.give(a);
        pool.give(b);
        assert_eq!(pool.idle(), 2);
    }

    #[test]
    fn a_removed_database_is_opened_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let pool = StorePool::new(&path, 2);
        pool.with(|s| s.begin_run("p", "c", time::OffsetDateTime::now_utc()))
            .unwrap();
        assert_eq!(pool.idle(), 1);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        let s = pool.take().unwrap();
        assert_eq!(s.last_run_id("p").unwrap(), None, "a new, empty database");
        assert!(path.exists());
    }

    #[test]
    fn without_idle_connections_every_take_opens() {
        let dir = tempfile::tempdir().unwrap();
        let pool = StorePool::new(&dir.path().join("state.db"), 0);
        pool.give(pool.take().unwrap());
        assert_eq!(pool.idle(), 0);
    }
}
