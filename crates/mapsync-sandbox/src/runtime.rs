//! The shared state of a running sandbox: the published store snapshot and
//! its version, mutation serialization, the leaky bucket, statistics, the
//! seeded fault generator, bulk operations and persistence. Mutations run on
//! a draft copy and are published only when they succeed. Must not parse
//! GraphQL or speak HTTP.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::model::{MediaState, Store};
use super::{persist, FaultKind, SandboxConfig, SandboxError, ShopPlan};

/// Lock a mutex, ignoring poisoning (the data stays consistent: every
/// critical section either finishes or changes nothing).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The leaky bucket of calculated query cost.
#[derive(Debug)]
pub struct Bucket {
    pub maximum: f64,
    pub available: f64,
    pub restore_rate: f64,
    pub unlimited: bool,
    last: Instant,
}

/// `throttleStatus` of a response.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(maximum: f64, restore_rate: f64, unlimited: bool) -> Self {
        Bucket {
            maximum,
            available: maximum,
            restore_rate,
            unlimited,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.available = (self.available + dt * self.restore_rate).min(self.maximum);
    }

    /// Take `cost` points if they are available.
    pub fn try_take(&mut self, cost: f64) -> bool {
        self.refill();
        if self.unlimited {
            return true;
        }
        if cost > self.available {
            return false;
        }
        self.available -= cost;
        true
    }

    /// Give back points (requested − actual).
    pub fn refund(&mut self, points: f64) {
        if !self.unlimited {
            self.refill();
            self.available = (self.available + points).min(self.maximum);
        }
    }

    /// The status to report.
    pub fn status(&mut self) -> ThrottleStatus {
        self.refill();
        ThrottleStatus {
            maximum_available: self.maximum,
            currently_available: self.available.floor(),
            restore_rate: self.restore_rate,
        }
    }
}

/// Counters of `GET /__sandbox/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub by_operation: BTreeMap<String, u64>,
    pub cost: u64,
    pub throttled: u64,
    pub faults: u64,
    /// Idempotent mutations answered from a key's first answer, not run again.
    pub idempotent_replays: u64,
    /// Lines of bulk mutations run (each a mutation with that line's
    /// variables, outside the leaky bucket).
    pub bulk_lines: u64,
}

/// A fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// For `timeout` and `reset`: strike after the request was applied.
    pub after: bool,
    /// For `5xx`: the status code.
    pub status: u16,
}

/// A fault queued by `POST /__sandbox/faults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    /// The fault (`None`: the request goes through).
    pub fault: Option<Fault>,
    /// The root field the request must have (`inventorySetQuantities`);
    /// `None` takes the next request, whatever it runs.
    pub operation: Option<String>,
}

impl Scripted {
    /// A fault for the next request, whatever it runs.
    pub fn next(fault: Option<Fault>) -> Self {
        Scripted {
            fault,
            operation: None,
        }
    }

    fn applies_to(&self, root_fields: &[String]) -> bool {
        self.operation
            .as_ref()
            .is_none_or(|op| root_fields.iter().any(|f| f == op))
    }
}

/// The seeded fault generator.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    kinds: Vec<FaultKind>,
    rng: StdRng,
    /// Faults queued by `POST /__sandbox/faults`, in order; a request takes
    /// the first that applies to it, before any random draw.
    scripted: std::collections::VecDeque<Scripted>,
}

impl Faults {
    /// A generator; draws repeat for the same seed.
    pub fn new(rate: f64, kinds: Vec<FaultKind>, seed: u64) -> Self {
        Faults {
            rate,
            kinds,
            rng: StdRng::seed_from_u64(seed),
            scripted: Default::default(),
        }
    }

    /// Queues the faults of the next requests, in order.
    pub fn script(&mut self, faults: impl IntoIterator<Item = Scripted>) {
        self.scripted.extend(faults);
    }

    /// Draw the fault of the next request, if any (a request whose root
    /// fields are unknown).
    pub fn draw(&mut self) -> Option<Fault> {
        self.draw_for(&[])
    }

    /// Draw the fault of the next request, which runs `root_fields`: the
    /// first scripted fault that applies to it (one without an operation,
    /// or one naming a root field of the request), else a random draw.
    pub fn draw_for(&mut self, root_fields: &[String]) -> Option<Fault> {
        let first = self.scripted.iter().position(|s| s.applies_to(root_fields));
        if let Some(next) = first.and_then(|i| self.scripted.remove(i)) {
            return next.fault;
        }
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let hit: f64 = self.rng.random();
        if hit >= self.rate {
            return None;
        }
        let kind = self.kinds[self.rng.random_range(0..self.kinds.len())];
        let after = self.rng.random_bool(0.5);
        let status = [500, 502, 503][self.rng.random_range(0..3)];
        Some(Fault {
            kind,
            after,
            status,
        })
    }
}

pub use super::bulkops::{BulkOp, BulkState};

/// The state shared by the server, the GraphQL resolvers and the handle.
pub struct Core {
    current: RwLock<(Arc<Store>, u64)>,
    writer: Mutex<()>,
    pub config: SandboxConfig,
    pub bucket: Mutex<Bucket>,
    pub stats: Mutex<Stats>,
    pub faults: Mutex<Faults>,
    pub bulk: Mutex<BulkState>,
    pub bulk_jobs: tokio::sync::mpsc::UnboundedSender<u64>,
    persisted: tokio::sync::Mutex<u64>,
    pub base_url: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ShopPlan {
    /// Bucket size and restore rate per second of the plan.
    pub fn limits(self) -> (f64, f64) {
        match self {
            ShopPlan::Standard => (2000.0, 100.0),
            ShopPlan::Advanced => (4000.0, 200.0),
            ShopPlan::Plus => (20000.0, 1000.0),
            ShopPlan::Enterprise => (40000.0, 2000.0),
            ShopPlan::Unlimited => (40000.0, 2000.0),
        }
    }
}

impl Core {
    /// Build the core; loads the state file when there is one.
    pub fn new(
        config: SandboxConfig,
        bulk_jobs: tokio::sync::mpsc::UnboundedSender<u64>,
    ) -> Result<Self, SandboxError> {
        let mut store = match &config.state {
            Some(path) => persist::load(path)?.unwrap_or_default(),
            None => Store::new(),
        };
        let (bulk, resume) = BulkState::restore(&store.bulk);
        store.bulk = Arc::new(bulk.log());
        for id in resume {
            let _ = bulk_jobs.send(id);
        }
        let (max, rate) = config.plan.limits();
        let bucket = Bucket::new(
            config.bucket.unwrap_or(max),
            config.restore_rate.unwrap_or(rate),
            config.plan == ShopPlan::Unlimited,
        );
        let faults = Faults::new(config.fault_rate, config.faults.clone(), config.seed);
        Ok(Core {
            current: RwLock::new((Arc::new(store), 0)),
            writer: Mutex::new(()),
            bucket: Mutex::new(bucket),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(faults),
            bulk: Mutex::new(bulk),
            bulk_jobs,
            persisted: tokio::sync::Mutex::new(0),
            base_url: std::sync::OnceLock::new(),
            config,
        })
    }

    /// The published store.
    pub fn snapshot(&self) -> Arc<Store> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// The published store and its version.
    pub fn versioned(&self) -> (Arc<Store>, u64) {
        let g = self.current.read().unwrap_or_else(|e| e.into_inner());
        (g.0.clone(), g.1)
    }

    /// Run a change on a draft copy; publish it when `f` succeeds. The
    /// draft is a clone of the published store, which shares every map with
    /// it ([`Store`]): the copy costs O(1), the change O(log n) per entry it
    /// touches, and the snapshot readers hold never changes.
    pub fn mutate<T, E>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<(T, Arc<Store>), E> {
        let _w = lock(&self.writer);
        let mut draft = (*self.snapshot()).clone();
        let out = f(&mut draft)?;
        draft.products.settle();
        let new = Arc::new(draft);
        let mut g = self.current.write().unwrap_or_else(|e| e.into_inner());
        g.0 = new.clone();
        g.1 += 1;
        Ok((out, new))
    }

    /// Replace the whole store (seed, reset); the bulk operations stay.
    pub fn replace(&self, mut store: Store) {
        store.reindex();
        let _w = lock(&self.writer);
        store.bulk = Arc::new(lock(&self.bulk).log());
        let mut g = self.current.write().unwrap_or_else(|e| e.into_inner());
        g.0 = Arc::new(store);
        g.1 += 1;
    }

    /// Copy the bulk operations into the store ([`BulkState::log`]), so the
    /// state file has them.
    pub fn mirror_bulk(&self) {
        let _ = self.mutate(|st| {
            st.bulk = Arc::new(lock(&self.bulk).log());
            Ok::<_, ()>(())
        });
    }

    /// Write the store to the state file if it changed since the last write.
    /// Returns once every change published before the call is on disk.
    pub async fn persist(&self) -> Result<(), SandboxError> {
        let Some(path) = self.config.state.clone() else {
            return Ok(());
        };
        let (_, wanted) = self.versioned();
        let mut done = self.persisted.lock().await;
        if *done >= wanted {
            return Ok(());
        }
        let (store, version) = self.versioned();
        let bytes = serde_json::to_vec(&*store).map_err(|e| SandboxError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_blocking(path, bytes).await?;
        *done = version;
        Ok(())
    }

    /// Move a media item one processing step on from the state a response
    /// showed (`shown`); nothing when it moved already (another read of the
    /// same snapshot) or is gone.
    pub fn advance_media(&self, media: u64, shown: MediaState) {
        let _ = self.mutate(|st| {
            let pid = st.products.owner_of_part(media).ok_or(())?;
            let p = Arc::make_mut(st.products.get_mut(&pid).ok_or(())?);
            let m = p.media.iter_mut().find(|m| m.id == media).ok_or(())?;
            if m.status != shown {
                return Err(());
            }
            m.status = shown.next(m.failure.is_some());
            Ok(())
        });
    }

    /// The timeout fault's delay.
    pub fn fault_delay(&self) -> Duration {
        self.config.fault_timeout
    }
}

async fn write_blocking(path: PathBuf, bytes: Vec<u8>) -> Result<(), SandboxError> {
    let p = path.clone();
    tokio::task::spawn_blocking(move || persist::write_atomic(&p, &bytes))
        .await
        .map_err(|e| SandboxError::State {
            path,
            message: e.to_string(),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Found, Product};

    fn core() -> Core {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        Core::new(SandboxConfig::default(), tx).unwrap()
    }

    /// A product with one variant (`id + 1`, inventory item `id + 2`).
    fn product(id: u64, handle: &str) -> Product {
        let t = "2025-01-01T00:00:00Z";
        serde_json::from_value(serde_json::json!({
            "id": id, "handle": handle, "title": handle, "description_html": "", "vendor": "",
            "product_type": "", "tags": [], "status": "ACTIVE", "seo_title": null,
            "seo_description": null, "template_suffix": null, "options": [],
            "variants": [{"id": id + 1, "sku": null, "barcode": null, "price": "1.00",
                "compare_at_price": null, "taxable": true, "inventory_policy": "DENY",
                "option_values": [], "media_ids": [], "metafields": [],
                "inventory_item": {"id": id + 2, "tracked": true, "cost": null,
                    "country_code_of_origin": null, "harmonized_system_code": null,
                    "requires_shipping": true, "levels": {}, "created_at": t, "updated_at": t},
                "created_at": t, "updated_at": t}],
            "media": [], "metafields": [], "collections": [], "created_at": t, "updated_at": t
        }))
        .unwrap()
    }

    #[test]
    fn a_mutation_shares_what_it_does_not_change() {
        let core = core();
        core.mutate(|st| {
            for (id, handle) in [(10, "a"), (20, "b")] {
                st.products.insert(id, Arc::new(product(id, handle)));
                st.product_handles.insert(Arc::from(handle), id);
            }
            st.unique_index.insert(
                ("PRODUCT".into(), "custom".into(), "k".into(), "v".into()),
                "gid://shopify/Product/10".into(),
            );
            Ok::<_, ()>(())
        })
        .unwrap();
        let (before, v1) = core.versioned();
        let (_, after) = core
            .mutate(|st| {
                Arc::make_mut(st.products.get_mut(&10).unwrap()).title = "changed".into();
                Ok::<_, ()>(())
            })
            .unwrap();
        // The untouched product is the same allocation; the changed one is
        // a copy, and the earlier snapshot still has the old title.
        assert!(Arc::ptr_eq(&before.products[&20], &after.products[&20]));
        assert!(!Arc::ptr_eq(&before.products[&10], &after.products[&10]));
        assert_eq!(before.products[&10].title, "a");
        assert_eq!(after.products[&10].title, "changed");
        // The indexes are shared, not copied.
        assert!(before.unique_index.ptr_eq(&after.unique_index));
        assert!(before.product_handles.ptr_eq(&after.product_handles));
        assert!(before.collections.ptr_eq(&after.collections));
        // A failed mutation publishes nothing.
        let failed = core.mutate(|st| {
            st.products.remove(&20);
            Err::<(), _>("refused")
        });
        assert_eq!(failed.unwrap_err(), "refused");
        let (now, v2) = core.versioned();
        assert_eq!(v2, v1 + 1);
        assert!(Arc::ptr_eq(&now, &after));
        assert!(now.products.contains_key(&20));
    }

    #[test]
    fn parts_are_indexed_when_a_mutation_publishes() {
        let core = core();
        core.mutate(|st| {
            st.products.insert(10, Arc::new(product(10, "a")));
            Ok::<_, ()>(())
        })
        .unwrap();
        let (_, st) = core
            .mutate(|st| {
                let mut v = product(10, "a").variants[0].clone();
                v.id = 30;
                v.inventory_item.id = 31;
                Arc::make_mut(st.products.get_mut(&10).unwrap())
                    .variants
                    .push(v);
                // Found in the draft already (a touched product is scanned).
                assert_eq!(
                    st.find("gid://shopify/ProductVariant/30"),
                    Some(Found::Variant {
                        product: 10,
                        variant: 30
                    })
                );
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(st.products.owner_of_part(31), Some(10));
        assert_eq!(st.products.owner_of_part(11), Some(10));
        let (_, st) = core
            .mutate(|st| {
                Arc::make_mut(st.products.get_mut(&10).unwrap())
                    .variants
                    .retain(|v| v.id != 11);
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(st.find("gid://shopify/ProductVariant/11"), None);
        assert_eq!(st.products.owner_of_part(12), None);
        assert_eq!(st.products.owner_of_part(30), Some(10));
        let (_, st) = core
            .mutate(|st| {
                st.products.remove(&10);
                Ok::<_, ()>(())
            })
            .unwrap();
        assert_eq!(st.products.owner_of_part(30), None);
    }

    #[test]
    fn bucket_takes_refunds_and_refuses() {
        let mut b = Bucket::new(100.0, 10.0, false);
        assert!(b.try_take(60.0));
        assert!(!b.try_take(60.0));
        b.refund(50.0);
        assert!(b.try_take(60.0));
        let s = b.status();
        assert!(s.currently_available >= 30.0 && s.currently_available < 32.0);
    }

    #[test]
    fn unlimited_never_throttles() {
        let mut b = Bucket::new(10.0, 1.0, true);
        for _ in 0..100 {
            assert!(b.try_take(1000.0));
        }
    }

    #[test]
    fn faults_repeat_for_a_seed() {
        let kinds = vec![FaultKind::Throttle, FaultKind::Http5xx, FaultKind::Reset];
        let mut a = Faults::new(0.5, kinds.clone(), 7);
        let mut b = Faults::new(0.5, kinds, 7);
        let da: Vec<_> = (0..50).map(|_| a.draw()).collect();
        let db: Vec<_> = (0..50).map(|_| b.draw()).collect();
        assert_eq!(da, db);
        assert!(da.iter().any(Option::is_some) && da.iter().any(Option::is_none));
    }

    #[test]
    fn a_scripted_fault_for_an_operation_waits_for_it() {
        let fault = |kind| Fault {
            kind,
            after: true,
            status: 500,
        };
        let mut f = Faults::new(0.0, Vec::new(), 1);
        f.script([
            Scripted {
                fault: Some(fault(FaultKind::Reset)),
                operation: Some("inventorySetQuantities".into()),
            },
            Scripted::next(Some(fault(FaultKind::Throttle))),
            Scripted::next(None),
            Scripted::next(Some(fault(FaultKind::Http5xx))),
        ]);
        let set = vec!["productSet".to_string()];
        let inv = vec!["inventorySetQuantities".to_string()];
        assert_eq!(f.draw_for(&set), Some(fault(FaultKind::Throttle)));
        assert_eq!(f.draw_for(&inv), Some(fault(FaultKind::Reset)));
        assert_eq!(f.draw_for(&inv), None);
        assert_eq!(f.draw_for(&inv), Some(fault(FaultKind::Http5xx)));
        assert_eq!(f.draw_for(&inv), None);
        // An operation's fault never strikes a request of unknown operation.
        f.script([Scripted {
            fault: Some(fault(FaultKind::Reset)),
            operation: Some("shop".into()),
        }]);
        assert_eq!(f.draw(), None);
        assert_eq!(f.draw_for(&set), None);
        assert_eq!(
            f.draw_for(&["shop".to_string()]),
            Some(fault(FaultKind::Reset))
        );
    }
}
