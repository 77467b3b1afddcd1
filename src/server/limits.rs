//! Per-connection limits that do not depend on rooms: the event rate. Pure, clock passed in.

use std::time::Instant;

/// A token bucket: `burst` events at once, refilled at `rate` events per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A `rate` of 0 means no limit.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 5, start);
        assert_eq!((0..20).filter(|_| bucket.take(start)).count(), 5);
        // 10 per second: one more every 100 ms, never more than the burst.
        assert!(bucket.take(start + Duration::from_millis(100)));
        assert!(!bucket.take(start + Duration::from_millis(150)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| bucket.take(later)).count(), 5);
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(0.0, 1, now);
        assert!((0..1000).all(|_| bucket.take(now)));
    }

    #[test]
    fn a_clock_that_goes_backwards_adds_nothing() {
        let now = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::new(1.0, 1, now);
        assert!(bucket.take(now));
        assert!(!bucket.take(now - Duration::from_secs(5)));
    }
}
