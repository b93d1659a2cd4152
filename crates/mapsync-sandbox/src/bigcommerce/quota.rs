//! The store-wide request quota of the emulated BigCommerce store: a
//! number of requests per window (30 s), counted from the first request
//! of a window, as BigCommerce's `X-Rate-Limit-*` headers describe it.
//! Must not speak HTTP.

use std::time::{Duration, Instant};

/// What the headers of one answer say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaState {
    /// `X-Rate-Limit-Requests-Quota`.
    pub quota: u32,
    /// `X-Rate-Limit-Requests-Left`.
    pub left: u32,
    /// `X-Rate-Limit-Time-Window-Ms`.
    pub window_ms: u64,
    /// `X-Rate-Limit-Time-Reset-Ms`.
    pub reset_ms: u64,
}

/// The window counter.
#[derive(Debug)]
pub struct Quota {
    quota: u32,
    window: Duration,
    start: Option<Instant>,
    used: u32,
    /// The most requests taken in one window (for tests: never above the quota).
    pub max_used: u32,
}

impl Quota {
    pub fn new(quota: u32, window: Duration) -> Self {
        Quota {
            quota,
            window,
            start: None,
            used: 0,
            max_used: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        match self.start {
            Some(s) if now.duration_since(s) < self.window => {}
            _ => {
                self.start = Some(now);
                self.used = 0;
            }
        }
    }

    fn state(&self, now: Instant) -> QuotaState {
        let reset = match self.start {
            Some(s) => self.window.saturating_sub(now.duration_since(s)),
            None => self.window,
        };
        QuotaState {
            quota: self.quota,
            left: self.quota.saturating_sub(self.used),
            window_ms: self.window.as_millis() as u64,
            reset_ms: reset.as_millis() as u64,
        }
    }

    /// Take one request: `Ok` with the state after it, or `Err` with the
    /// state when the window's quota is used up.
    pub fn take(&mut self, now: Instant) -> Result<QuotaState, QuotaState> {
        self.roll(now);
        if self.used >= self.quota {
            return Err(self.state(now));
        }
        self.used += 1;
        self.max_used = self.max_used.max(self.used);
        Ok(self.state(now))
    }

    /// The state without taking a request (an ended window is reported as
    /// a fresh one, but not started).
    pub fn peek(&self, now: Instant) -> QuotaState {
        match self.start {
            Some(s) if now.duration_since(s) < self.window => self.state(now),
            _ => QuotaState {
                quota: self.quota,
                left: self.quota,
                window_ms: self.window.as_millis() as u64,
                reset_ms: self.window.as_millis() as u64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_holds_its_quota_then_resets() {
        let mut q = Quota::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(q.take(t0).unwrap().left, 2);
        assert_eq!(q.take(t0).unwrap().left, 1);
        let s = q.take(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!((s.left, s.reset_ms), (0, 20_000));
        let e = q.take(t0 + Duration::from_secs(29)).unwrap_err();
        assert_eq!(
            (e.left, e.reset_ms, e.quota, e.window_ms),
            (0, 1000, 3, 30_000)
        );
        let s = q.take(t0 + Duration::from_secs(30)).unwrap();
        assert_eq!((s.left, s.reset_ms), (2, 30_000));
        assert_eq!(q.max_used, 3);
        let p = q.peek(t0 + Duration::from_secs(70));
        assert_eq!((p.left, p.reset_ms), (3, 30_000));
        assert_eq!(
            q.take(t0 + Duration::from_secs(31)).unwrap().left,
            1,
            "peek started no window"
        );
    }
}
