//! A job's retry policy (DESIGN.md, *Retries*): how many attempts an occurrence gets and how
//! long each waits after the one before failed. Pure but for the jitter's draw: the claim
//! turns it into the delay it stores on each attempt's row, so that every path that ends an
//! attempt (its outcome, a shutdown, the recovery of a dead owner) schedules the next one by
//! the same stored figure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Most attempts an occurrence may get (the first one included).
pub const MAX_ATTEMPTS: u32 = 100;

/// Longest delay between two attempts: thirty days.
pub const MAX_DELAY_SECONDS: u64 = 30 * 24 * 3600;

/// Largest backoff multiplier.
pub const MAX_MULTIPLIER: f64 = 100.0;

/// How an occurrence whose attempt ends `failed`, `timed_out` or `interrupted` is tried again.
/// Every field has DESIGN's default, so `{"max_attempts": 3}` is a whole policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial_delay_seconds: u64,
    /// No delay is longer than this.
    pub max_delay_seconds: u64,
    /// Each delay is this many times the one before.
    pub multiplier: f64,
    /// Full jitter: each delay is drawn uniformly between 0 and the computed one, so that jobs
    /// failing together do not retry together.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_delay_seconds: 10,
            max_delay_seconds: 3600,
            multiplier: 2.0,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// `None` for the default policy (one attempt, nothing to store): a job that does not
    /// retry stores NULL, as before retries existed.
    pub fn some(self) -> Option<RetryPolicy> {
        (self != RetryPolicy::default()).then_some(self)
    }

    /// What is wrong with this policy: the first bad field and why; `None` when it is usable.
    /// The API checks a body with it, and the store a hand-edited row.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            let got = self.max_attempts;
            return Some((
                "max_attempts",
                format!("must be between 1 and {MAX_ATTEMPTS}, got {got}"),
            ));
        }
        if self.initial_delay_seconds > MAX_DELAY_SECONDS {
            let got = self.initial_delay_seconds;
            return Some((
                "initial_delay_seconds",
                format!("must be at most {MAX_DELAY_SECONDS}, got {got}"),
            ));
        }
        if !(1..=MAX_DELAY_SECONDS).contains(&self.max_delay_seconds) {
            let got = self.max_delay_seconds;
            return Some((
                "max_delay_seconds",
                format!("must be between 1 and {MAX_DELAY_SECONDS}, got {got}"),
            ));
        }
        if !(1.0..=MAX_MULTIPLIER).contains(&self.multiplier) {
            let got = self.multiplier;
            return Some((
                "multiplier",
                format!("must be between 1 and {MAX_MULTIPLIER}, got {got}"),
            ));
        }
        None
    }

    /// The delay after attempt `attempt` ends without success before the next one starts, or
    /// `None` when `attempt` is the last. `unit` is a uniform draw in [0, 1) for the jitter
    /// (ignored without it): attempt k ≥ 2 waits `min(max, initial × multiplier^(k−2))`, or a
    /// uniform fraction of it.
    pub fn delay_after(&self, attempt: u32, unit: f64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let capped = (self.initial_delay_seconds as f64 * self.multiplier.powi(exponent))
            .min(self.max_delay_seconds as f64);
        let seconds = if self.jitter {
            capped * unit.clamp(0.0, 1.0)
        } else {
            capped
        };
        // Millisecond precision, as every stored instant has.
        Some(Duration::from_millis((seconds * 1000.0).round() as u64))
    }

    /// [`delay_after`](Self::delay_after) with the jitter drawn now, in milliseconds as the
    /// run row stores it (`retry_delay_ms`). The one impure function here.
    pub fn draw_delay_ms(&self, attempt: u32) -> Option<i64> {
        self.delay_after(attempt, rand::random::<f64>())
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay_seconds: 10,
            max_delay_seconds: 60,
            multiplier: 3.0,
            jitter,
        }
    }

    #[test]
    fn delays_grow_by_the_multiplier_up_to_the_cap_and_stop_at_the_last_attempt() {
        let p = policy(5, false);
        let secs = |k| p.delay_after(k, 0.5).map(|d| d.as_secs());
        assert_eq!(
            [secs(1), secs(2), secs(3), secs(4), secs(5)],
            [Some(10), Some(30), Some(60), Some(60), None]
        );
        assert_eq!(RetryPolicy::default().delay_after(1, 0.5), None);
    }

    #[test]
    fn full_jitter_draws_between_zero_and_the_delay() {
        let p = policy(3, true);
        assert_eq!(p.delay_after(2, 0.0), Some(Duration::ZERO));
        assert_eq!(p.delay_after(2, 0.5), Some(Duration::from_secs(15)));
        assert_eq!(p.delay_after(2, 0.999), Some(Duration::from_millis(29_970)));
    }

    #[test]
    fn a_huge_exponent_stays_at_the_cap() {
        let p = RetryPolicy {
            multiplier: 100.0,
            ..policy(100, false)
        };
        assert_eq!(p.delay_after(99, 0.0), Some(Duration::from_secs(60)));
    }

    #[test]
    fn problems_name_the_field() {
        let bad = [
            (
                RetryPolicy {
                    max_attempts: 0,
                    ..policy(1, true)
                },
                "max_attempts: must be between 1 and 100, got 0",
            ),
            (
                RetryPolicy {
                    max_attempts: 101,
                    ..policy(1, true)
                },
                "max_attempts: must be between 1 and 100, got 101",
            ),
            (
                RetryPolicy {
                    max_delay_seconds: 0,
                    ..policy(2, true)
                },
                "max_delay_seconds: must be between 1 and 2592000, got 0",
            ),
            (
                RetryPolicy {
                    multiplier: 0.5,
                    ..policy(2, true)
                },
                "multiplier: must be between 1 and 100, got 0.5",
            ),
            (
                RetryPolicy {
                    initial_delay_seconds: 2_592_001,
                    ..policy(2, true)
                },
                "initial_delay_seconds: must be at most 2592000, got 2592001",
            ),
        ];
        for (p, want) in bad {
            let (field, why) = p.problem().expect("a problem");
            assert_eq!(format!("{field}: {why}"), want);
        }
        assert_eq!(policy(3, true).problem(), None);
        assert_eq!(RetryPolicy::default().some(), None);
    }

    #[test]
    fn a_partial_body_takes_the_defaults() {
        let p: RetryPolicy = serde_json::from_str(r#"{"max_attempts": 3}"#).unwrap();
        assert_eq!(
            p,
            RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            }
        );
        assert!(serde_json::from_str::<RetryPolicy>(r#"{"tries": 3}"#).is_err());
    }
}
