//! Token buckets for `tools/call`: one over all tools, one per tool.

use std::time::{Duration, Instant};

use super::Bucket;

/// A token bucket: starts full (`burst`), refills at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rule: Bucket,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rule: Bucket, now: Instant) -> TokenBucket {
        TokenBucket {
            rule,
            tokens: f64::from(rule.burst.max(1)),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let cap = f64::from(self.rule.burst.max(1));
        let rate = if self.rule.per_second.is_finite() && self.rule.per_second > 0.0 {
            self.rule.per_second
        } else {
            0.0
        };
        self.tokens = (self.tokens + dt * rate).min(cap);
    }

    /// Whether one token is there now (without taking it).
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            Ok(())
        } else {
            Err(self.wait())
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.check(now)?;
        self.tokens -= 1.0;
        Ok(())
    }

    fn wait(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        if self.rule.per_second.is_finite() && self.rule.per_second > 0.0 {
            Duration::from_secs_f64((missing / self.rule.per_second).min(86_400.0))
        } else {
            Duration::from_secs(86_400)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            Bucket {
                per_second: 2.0,
                burst: 3,
            },
            t0,
        );
        for _ in 0..3 {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(b.take(t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(500)).is_err());
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
    }

    #[test]
    fn zero_rate_never_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            Bucket {
                per_second: f64::NAN,
                burst: 1,
            },
            t0,
        );
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0 + Duration::from_secs(100)).is_err());
    }
}
