//! The retry policy: how many times, and how long to wait (exponential
//! backoff with jitter), and which failures are worth another attempt. It
//! must not sleep or send; the client asks it and acts.

use std::time::Duration;

use rand::Rng as _;

/// Exponential backoff with "equal jitter": attempt `n` waits a random time
/// between half and all of `base × 2ⁿ`, capped at `max`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// THROTTLED or 429: the request was not executed; always safe to retry.
    Throttled,
    /// 5xx, timeout, reset: retried only if the operation is idempotent,
    /// since it may have been applied.
    Ambiguous,
    /// Could not connect: nothing was sent; safe to retry.
    NotSent,
}

impl RetryPolicy {
    /// Whether attempt number `attempt` (1 = the first) may be followed by another.
    pub fn should_retry(&self, attempt: u32, failure: Failure, idempotent: bool) -> bool {
        if attempt > self.max_retries {
            return false;
        }
        match failure {
            Failure::Throttled | Failure::NotSent => true,
            Failure::Ambiguous => idempotent,
        }
    }

    /// The wait after attempt number `attempt` (1 = the first) failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.max);
        let ceiling_ms = ceiling.as_millis().min(u128::from(u64::MAX)) as u64;
        if ceiling_ms < 2 {
            return ceiling;
        }
        let half = ceiling_ms / 2;
        Duration::from_millis(half + rand::rng().random_range(0..=half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(100),
            max: Duration::from_millis(700),
        };
        for _ in 0..50 {
            let d1 = p.backoff(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.backoff(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(p.backoff(30) <= Duration::from_millis(700));
        }
    }

    #[test]
    fn ambiguous_failures_retry_only_idempotent_operations() {
        let p = RetryPolicy {
            max_retries: 2,
            base: Duration::ZERO,
            max: Duration::ZERO,
        };
        assert!(p.should_retry(1, Failure::Ambiguous, true));
        assert!(!p.should_retry(1, Failure::Ambiguous, false));
        assert!(p.should_retry(2, Failure::Throttled, false));
        assert!(!p.should_retry(3, Failure::Throttled, true));
        assert!(p.should_retry(1, Failure::NotSent, false));
    }
}
