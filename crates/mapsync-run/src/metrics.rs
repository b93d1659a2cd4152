//! The manager's Prometheus metrics (run.md, "Metrics"), through
//! `prometheus-client`, the Prometheus organisation's Rust client: its
//! registry encodes the OpenMetrics/Prometheus text format.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use mapsync_engine::exec::report::{RunReport, Status};

/// `{profile}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProfileLabel {
    /// The profile.
    pub profile: String,
}

/// `{profile, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// The profile.
    pub profile: String,
    /// ok, partial or failed.
    pub outcome: String,
}

/// `{profile, entity, action, status}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    /// The profile.
    pub profile: String,
    /// category or product.
    pub entity: String,
    /// create, update, delete, deactivate, invalid.
    pub action: String,
    /// ok or failed.
    pub status: String,
}

/// `{profile, target}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The profile.
    pub profile: String,
    /// The target's connector type.
    pub target: String,
}

/// `{queue}`: a queue of the pool (`mapsync run --worker`), one per store.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// The queue.
    pub queue: String,
}

/// The pool's gauges (`mapsync run --worker`), read from the queue database.
#[derive(Default)]
struct PoolMetrics {
    workers: Gauge,
    stale: Gauge,
    running: Gauge,
    depth: Family<QueueLabel, Gauge>,
    queue_running: Family<QueueLabel, Gauge>,
    known: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// `{outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// ok or refused.
    pub outcome: String,
}

fn duration_histogram() -> Histogram {
    // 0.1 s to about 27 minutes.
    Histogram::new(exponential_buckets(0.1, 2.0, 15))
}

/// Every metric of the manager, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    items: Family<ItemLabels, Counter>,
    pulled: Family<ProfileLabel, Counter>,
    held: Family<ProfileLabel, Counter>,
    requests: Family<RequestLabels, Counter>,
    throttled: Family<ProfileLabel, Counter>,
    retries: Family<ProfileLabel, Counter>,
    duration: Family<ProfileLabel, Histogram, fn() -> Histogram>,
    last_run: Family<ProfileLabel, Gauge<f64, AtomicU64>>,
    last_success: Family<ProfileLabel, Gauge<f64, AtomicU64>>,
    running: Family<ProfileLabel, Gauge>,
    reloads: Family<OutcomeLabel, Counter>,
    pool: Option<PoolMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family, prefixed `mapsync_`.
    pub fn new() -> Metrics {
        Self::with_pool(false)
    }

    /// As [`Self::new`], with the pool's gauges when `pool`
    /// (`mapsync run --worker`).
    pub fn with_pool(pool: bool) -> Metrics {
        let mut registry = Registry::with_prefix("mapsync");
        let m = Metrics {
            runs: Family::default(),
            items: Family::default(),
            pulled: Family::default(),
            held: Family::default(),
            requests: Family::default(),
            throttled: Family::default(),
            retries: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            last_run: Family::default(),
            last_success: Family::default(),
            running: Family::default(),
            reloads: Family::default(),
            registry: Registry::default(),
            pool: pool.then(PoolMetrics::default),
        };
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "runs",
            "Runs by outcome (ok, partial, failed)",
            m.runs.clone(),
        );
        registry.register(
            "items",
            "Items that had something to do, by outcome",
            m.items.clone(),
        );
        registry.register(
            "two_way_pulled",
            "Two-way fields whose target value went back to the source",
            m.pulled.clone(),
        );
        registry.register(
            "two_way_held",
            "Items held by a two-way conflict until `mapsync resolve` (each run that held one)",
            m.held.clone(),
        );
        registry.register(
            "requests",
            "Requests sent to the target",
            m.requests.clone(),
        );
        registry.register(
            "throttled",
            "Answers that were THROTTLED or 429",
            m.throttled.clone(),
        );
        registry.register("retries", "Attempts that were retries", m.retries.clone());
        registry.register(
            "run_duration_seconds",
            "How long runs took",
            m.duration.clone(),
        );
        registry.register(
            "last_run_timestamp_seconds",
            "When the last run ended (Unix time)",
            m.last_run.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When the last run without a fatal error ended (Unix time)",
            m.last_success.clone(),
        );
        registry.register(
            "running",
            "1 while a run of the profile is in progress",
            m.running.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads by outcome (ok, refused)",
            m.reloads.clone(),
        );
        if let Some(p) = &m.pool {
            registry.register(
                "pool_workers",
                "Workers of the pool with a heartbeat row (this one included)",
                p.workers.clone(),
            );
            registry.register(
                "pool_workers_stale",
                "Workers of the pool silent for longer than the sweep threshold (their jobs go back to the queue)",
                p.stale.clone(),
            );
            registry.register(
                "pool_running_jobs",
                "Runs held by the pool's workers",
                p.running.clone(),
            );
            registry.register(
                "pool_queue_depth",
                "Jobs waiting in a queue of the pool (one queue per store)",
                p.depth.clone(),
            );
            registry.register(
                "pool_queue_running",
                "Jobs of a queue held by a worker (at most 1: one run per store)",
                p.queue_running.clone(),
            );
        }
        Metrics { registry, ..m }
    }

    /// The pool as last read (`mapsync run --worker`); nothing otherwise.
    pub fn set_pool(&self, s: &crate::pool::Snapshot) {
        let Some(p) = &self.pool else { return };
        if s.error.is_some() {
            return;
        }
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        p.workers.set(count(s.workers.len()));
        p.stale
            .set(count(s.workers.iter().filter(|w| w.stale).count()));
        p.running
            .set(count(s.workers.iter().map(|w| w.jobs.len()).sum()));
        let mut known = p
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Queues that emptied go back to zero.
        for q in known.iter() {
            let l = QueueLabel { queue: q.clone() };
            p.depth.get_or_create(&l).set(0);
            p.queue_running.get_or_create(&l).set(0);
        }
        for q in &s.queues {
            let l = QueueLabel {
                queue: q.queue.clone(),
            };
            p.depth.get_or_create(&l).set(q.waiting);
            p.queue_running.get_or_create(&l).set(q.running);
            known.insert(q.queue.clone());
        }
    }

    fn label(profile: &str) -> ProfileLabel {
        ProfileLabel {
            profile: profile.to_string(),
        }
    }

    /// Registers a profile's series at zero, so they show before its first run.
    pub fn touch(&self, profile: &str) {
        let l = Self::label(profile);
        self.running.get_or_create(&l).set(0);
        let _ = self.throttled.get_or_create(&l);
        let _ = self.retries.get_or_create(&l);
        for outcome in ["ok", "partial", "failed"] {
            let _ = self.runs.get_or_create(&RunLabels {
                profile: profile.to_string(),
                outcome: outcome.to_string(),
            });
        }
    }

    /// A run started or ended.
    pub fn set_running(&self, profile: &str, running: bool) {
        self.running
            .get_or_create(&Self::label(profile))
            .set(i64::from(running));
    }

    /// A run ended: its report (or none when it stopped), how long it took, when.
    pub fn record_run(
        &self,
        profile: &str,
        target: &str,
        report: Option<&RunReport>,
        seconds: f64,
        ended_unix: f64,
    ) {
        let l = Self::label(profile);
        let outcome = match report {
            None => "failed",
            Some(r) if r.exit_code() == 0 => "ok",
            Some(_) => "partial",
        };
        self.runs
            .get_or_create(&RunLabels {
                profile: profile.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.duration.get_or_create(&l).observe(seconds);
        self.last_run.get_or_create(&l).set(ended_unix);
        if let Some(r) = report {
            self.last_success.get_or_create(&l).set(ended_unix);
            for i in &r.items {
                self.items
                    .get_or_create(&ItemLabels {
                        profile: profile.to_string(),
                        entity: i.entity.as_str().to_string(),
                        action: i.action.as_str().to_string(),
                        status: match i.status {
                            Status::Ok => "ok",
                            Status::Failed => "failed",
                        }
                        .to_string(),
                    })
                    .inc();
            }
            self.pulled
                .get_or_create(&l)
                .inc_by(r.summary.pulled as u64);
            self.held.get_or_create(&l).inc_by(r.summary.held as u64);
            self.requests
                .get_or_create(&RequestLabels {
                    profile: profile.to_string(),
                    target: target.to_string(),
                })
                .inc_by(r.requests.total);
            self.throttled
                .get_or_create(&l)
                .inc_by(r.requests.throttled);
            self.retries.get_or_create(&l).inc_by(r.requests.retried);
        }
    }

    /// A configuration reload was taken (`ok`) or refused.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&OutcomeLabel {
                outcome: if ok { "ok" } else { "refused" }.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-way counters follow the run reports' `pulled` and `held`.
    #[test]
    fn two_way_counters_follow_the_reports() {
        let report: RunReport = serde_json::from_value(serde_json::json!({
            "format_version": 1,
            "profile": "p",
            "started_at": "2026-12-02T10:00:00Z",
            "finished_at": "2026-12-02T10:00:01Z",
            "summary": { "created": 0, "updated": 2, "deleted": 0, "deactivated": 0,
                         "unchanged": 5, "skipped": 0, "invalid": 1, "failed": 0,
                         "pulled": 3, "held": 1 },
            "requests": { "total": 9, "throttled": 0, "retried": 0, "cost": 0 },
            "items": []
        }))
        .unwrap();
        let m = Metrics::new();
        m.record_run("p", "store", Some(&report), 1.0, 0.0);
        m.record_run("p", "store", Some(&report), 1.0, 0.0);
        let text = m.encode();
        for line in [
            "mapsync_two_way_pulled_total{profile=\"p\"} 6",
            "mapsync_two_way_held_total{profile=\"p\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
