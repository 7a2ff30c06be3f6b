//! A token bucket for per-provider rate limits: `rate` tokens per second, up to `burst`
//! saved. Pure: the caller passes the current (monotonic) time.

use std::time::Duration;

/// Token bucket state.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket refilling at `rate` per second, holding at most `burst` tokens.
    pub fn new(rate: f64, burst: u32, now: Duration) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take one token at time `now`, or say how long until one is available.
    pub fn try_take(&mut self, now: Duration) -> Result<(), Duration> {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        } else {
            Err(Duration::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_at_rate() {
        let t = Duration::from_secs;
        let mut b = TokenBucket::new(2.0, 3, t(100));
        assert!(b.try_take(t(100)).is_ok());
        assert!(b.try_take(t(100)).is_ok());
        assert!(b.try_take(t(100)).is_ok());
        let wait = b.try_take(t(100)).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(
            b.try_take(Duration::from_millis(100_500)).is_ok(),
            "one token after 1/rate"
        );
        assert!(b.try_take(t(1000)).is_ok());
        assert!(b.try_take(t(1000)).is_ok());
        assert!(b.try_take(t(1000)).is_ok());
        assert!(b.try_take(t(1000)).is_err(), "never more than burst saved");
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let mut b = TokenBucket::new(1.0, 1, Duration::from_secs(10));
        assert!(b.try_take(Duration::from_secs(10)).is_ok());
        assert!(b.try_take(Duration::from_secs(5)).is_err());
    }
}
