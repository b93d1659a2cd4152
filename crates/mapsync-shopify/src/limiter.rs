//! The cost-aware limiter: a local model of the shop's leaky bucket, fed by
//! `extensions.cost.throttleStatus` of every answer, that makes a caller wait
//! before sending a request whose requested cost is not available, so the
//! bucket never runs dry however many callers run in parallel. It also holds
//! the global pause asked by an HTTP 429 `Retry-After`. It must not send
//! anything or decide about retries; the client does.
//!
//! Model: `available` points restored at `restore_rate` per second up to
//! `maximum`; a request reserves its cost before it is sent (`in_flight`);
//! an answer replaces the model by the server's `currentlyAvailable` minus
//! what is still in flight (which the server may not have charged yet — so
//! the model errs on the safe side). Until the first answer reports the real
//! bucket, one request at a time goes out.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::config::BucketLimits;

/// What the server said about its bucket.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

/// Points reserved for one request in flight; give it back with
/// [`CostLimiter::settle`] or [`CostLimiter::forget`].
#[derive(Debug)]
#[must_use]
pub struct Reservation {
    cost: f64,
    /// When it was granted (about when the request left): answers of
    /// requests sent earlier than the one whose status the model last took
    /// may report an older bucket.
    sent: Instant,
}

impl Reservation {
    pub fn cost(&self) -> f64 {
        self.cost
    }
}

/// The local bucket model, shared by every caller of one client.
#[derive(Debug)]
pub struct CostLimiter {
    state: Mutex<Bucket>,
    /// Waiters queue here one at a time (tokio's mutex is fair), so a large
    /// request is not starved by a stream of small ones.
    turn: tokio::sync::Mutex<()>,
    /// Woken by every answer: a waiter computed its wait from the model of
    /// that moment, and an answer that gives points back (a query's actual
    /// cost is mostly far below its requested cost) ends the wait early.
    changed: tokio::sync::Notify,
}

#[derive(Debug)]
struct Bucket {
    limits: Option<BucketLimits>,
    available: f64,
    at: Instant,
    in_flight: f64,
    requests_in_flight: u32,
    /// Whether a server answer has told us the real bucket.
    known: bool,
    /// When the request whose answer last set `available` was sent.
    status_of: Option<Instant>,
    paused_until: Option<Instant>,
}

enum Decision {
    Go(Reservation),
    Wait(Duration),
}

/// How often a waiter that cannot compute its wait looks again.
const POLL: Duration = Duration::from_millis(5);

impl CostLimiter {
    /// `limits`: the bucket assumed until the server reports one (`None`: no
    /// limit known; the first answer may still set one).
    pub fn new(limits: Option<BucketLimits>) -> Self {
        let available = limits.map_or(0.0, |l| l.maximum);
        Self {
            state: Mutex::new(Bucket {
                limits,
                available,
                at: Instant::now(),
                in_flight: 0.0,
                requests_in_flight: 0,
                known: false,
                status_of: None,
                paused_until: None,
            }),
            turn: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Waits until `cost` points are available (and no 429 pause is on), then
    /// reserves them.
    pub async fn acquire(&self, cost: u32) -> Reservation {
        let _turn = self.turn.lock().await;
        loop {
            // Registered before the model is read, so an answer booked in
            // between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.try_reserve(f64::from(cost)) {
                Decision::Go(reservation) => return reservation,
                Decision::Wait(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut changed => {}
                    }
                }
            }
        }
    }

    fn try_reserve(&self, cost: f64) -> Decision {
        let mut b = self.lock();
        let now = Instant::now();
        b.refill(now);
        if let Some(until) = b.paused_until {
            if until > now {
                return Decision::Wait(until - now);
            }
            b.paused_until = None;
        }
        let Some(limits) = b.limits else {
            b.reserve(cost);
            return Decision::Go(Reservation { cost, sent: now });
        };
        if !b.known && b.requests_in_flight > 0 {
            return Decision::Wait(POLL);
        }
        // A request larger than the bucket waits for a full bucket.
        let need = cost.min(limits.maximum);
        if b.available + 1e-9 >= need {
            b.available -= need;
            b.reserve(cost);
            Decision::Go(Reservation { cost, sent: now })
        } else if limits.restore_rate > 0.0 {
            let secs = (need - b.available) / limits.restore_rate;
            Decision::Wait(Duration::from_secs_f64(secs.clamp(0.001, 60.0)))
        } else {
            Decision::Wait(POLL)
        }
    }

    /// Books an answer: the server's bucket status (if it sent one) replaces
    /// the model; without one, the difference between reserved and actual
    /// cost (if known) is given back.
    pub fn settle(
        &self,
        reservation: Reservation,
        status: Option<ThrottleStatus>,
        actual_cost: Option<f64>,
    ) {
        let mut b = self.lock();
        let now = Instant::now();
        b.refill(now);
        b.release(reservation.cost);
        if let Some(s) = status {
            if s.maximum_available > 0.0 {
                let limits = BucketLimits {
                    maximum: s.maximum_available,
                    restore_rate: s.restore_rate.max(0.0),
                };
                b.limits = Some(limits);
                b.known = true;
                let server = (s.currently_available - b.in_flight).clamp(0.0, limits.maximum);
                // An answer overtaken by the answer of a request sent after
                // it may tell of a fuller bucket than the server has now: it
                // can only lower the model.
                if b.status_of.is_none_or(|t| reservation.sent >= t) {
                    b.available = server;
                    b.status_of = Some(reservation.sent);
                } else {
                    b.available = b.available.min(server);
                }
                b.at = now;
            }
        } else if let (Some(actual), Some(limits)) = (actual_cost, b.limits) {
            let refund = (reservation.cost - actual).max(0.0);
            b.available = (b.available + refund).min(limits.maximum);
        }
        drop(b);
        self.changed.notify_waiters();
    }

    /// Books a request that got no usable answer: its cost stays spent (the
    /// server may have charged it).
    pub fn forget(&self, reservation: Reservation) {
        let mut b = self.lock();
        b.release(reservation.cost);
        drop(b);
        self.changed.notify_waiters();
    }

    /// Nobody sends before `wait` has passed (HTTP 429 `Retry-After`).
    pub fn pause_for(&self, wait: Duration) {
        let mut b = self.lock();
        let until = Instant::now() + wait;
        b.paused_until = Some(b.paused_until.map_or(until, |u| u.max(until)));
    }

    /// Points the model believes are available now.
    pub fn available(&self) -> Option<f64> {
        let mut b = self.lock();
        b.refill(Instant::now());
        b.limits.map(|_| b.available)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A panic while holding this lock cannot leave the numbers invalid
        // (they are plain floats), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        if let Some(limits) = self.limits {
            let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
            self.available = (self.available + elapsed * limits.restore_rate).min(limits.maximum);
        }
        self.at = now;
    }

    fn reserve(&mut self, cost: f64) {
        self.in_flight += cost;
        self.requests_in_flight += 1;
    }

    fn release(&mut self, cost: f64) {
        self.in_flight = (self.in_flight - cost).max(0.0);
        self.requests_in_flight = self.requests_in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(maximum: f64, restore_rate: f64) -> Option<BucketLimits> {
        Some(BucketLimits {
            maximum,
            restore_rate,
        })
    }

    fn status(maximum: f64, available: f64, rate: f64) -> Option<ThrottleStatus> {
        Some(ThrottleStatus {
            maximum_available: maximum,
            currently_available: available,
            restore_rate: rate,
        })
    }

    fn go(d: Decision) -> Reservation {
        match d {
            Decision::Go(r) => r,
            Decision::Wait(w) => panic!("expected to go, told to wait {w:?}"),
        }
    }

    fn wait(d: Decision) -> Duration {
        match d {
            Decision::Go(_) => panic!("expected to wait"),
            Decision::Wait(w) => w,
        }
    }

    #[test]
    fn waits_for_restore_when_the_bucket_is_short() {
        let limiter = CostLimiter::new(limits(100.0, 50.0));
        let r = go(limiter.try_reserve(80.0));
        limiter.settle(r, status(100.0, 20.0, 50.0), Some(80.0));
        // 50 missing points at 50/s: about one second.
        let w = wait(limiter.try_reserve(70.0));
        assert!(
            w > Duration::from_millis(900) && w <= Duration::from_secs(1),
            "{w:?}"
        );
        // a small request fits now
        let r = go(limiter.try_reserve(10.0));
        limiter.forget(r);
    }

    #[test]
    fn only_one_request_in_flight_until_the_bucket_is_known() {
        let limiter = CostLimiter::new(limits(1000.0, 50.0));
        let first = go(limiter.try_reserve(10.0));
        assert_eq!(wait(limiter.try_reserve(10.0)), POLL);
        limiter.settle(first, status(1000.0, 990.0, 50.0), Some(10.0));
        let a = go(limiter.try_reserve(10.0));
        let b = go(limiter.try_reserve(10.0));
        limiter.forget(a);
        limiter.forget(b);
    }

    #[test]
    fn retry_after_pauses_everyone() {
        let limiter = CostLimiter::new(None);
        limiter.pause_for(Duration::from_secs(2));
        let w = wait(limiter.try_reserve(1.0));
        assert!(w > Duration::from_millis(1900), "{w:?}");
    }

    #[test]
    fn a_request_larger_than_the_bucket_waits_for_a_full_bucket() {
        let limiter = CostLimiter::new(limits(100.0, 100.0));
        let r = go(limiter.try_reserve(100.0));
        limiter.settle(r, status(100.0, 0.0, 100.0), None);
        let w = wait(limiter.try_reserve(5000.0));
        assert!(w <= Duration::from_secs(1), "{w:?}");
    }

    /// Two profiles on one store: the second waits for points the first
    /// reserved, and the first's answer (its actual cost far below the
    /// requested one) ends the wait at once, not after the refill the
    /// model computed (20 s here).
    #[tokio::test(start_paused = true)]
    async fn an_answer_giving_points_back_wakes_the_waiter() {
        let limiter = std::sync::Arc::new(CostLimiter::new(limits(1000.0, 50.0)));
        let first = limiter.acquire(10).await;
        limiter.settle(first, status(1000.0, 1000.0, 50.0), Some(10.0));
        let big = limiter.acquire(998).await;
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let r = limiter.acquire(998).await;
                (started.elapsed(), r)
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        limiter.settle(big, status(1000.0, 998.0, 50.0), Some(2.0));
        let (waited, r) = waiter.await.unwrap();
        assert!(waited < Duration::from_millis(100), "{waited:?}");
        limiter.forget(r);
    }

    /// Answers that arrive out of order: the older request's status (a
    /// fuller bucket, before the newer request was charged) does not raise
    /// the model back.
    #[test]
    fn an_overtaken_answer_only_lowers_the_model() {
        let limiter = CostLimiter::new(limits(1000.0, 0.0));
        let first = go(limiter.try_reserve(10.0));
        limiter.settle(first, status(1000.0, 1000.0, 0.0), Some(10.0));
        let older = go(limiter.try_reserve(100.0));
        std::thread::sleep(Duration::from_millis(2));
        let newer = go(limiter.try_reserve(500.0));
        limiter.settle(newer, status(1000.0, 400.0, 0.0), None);
        limiter.settle(older, status(1000.0, 900.0, 0.0), None);
        // The newer answer's 400, less the older request then in flight
        // (not 900).
        let available = limiter.available().unwrap();
        assert!((available - 300.0).abs() < 1.0, "{available}");
    }

    #[test]
    fn in_flight_cost_is_subtracted_from_the_servers_number() {
        let limiter = CostLimiter::new(limits(100.0, 10.0));
        let a = go(limiter.try_reserve(30.0));
        limiter.settle(a, status(100.0, 70.0, 10.0), None);
        let b = go(limiter.try_reserve(30.0));
        let c = go(limiter.try_reserve(30.0));
        // the server has charged b but not yet c, which is still in flight
        limiter.settle(b, status(100.0, 40.0, 10.0), None);
        let available = limiter.available().unwrap();
        assert!((available - 10.0).abs() < 1.0, "{available}");
        limiter.forget(c);
    }
}
