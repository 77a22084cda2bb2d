//! A job's `retry` field on the wire (DESIGN.md, *Retries*): the body that sets it, checked
//! field by field, and the shape in which it is sent back with every field as it applies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiError;
use crate::model::RetryPolicy;

/// How an occurrence whose attempt ends `failed`, `timed_out` or `interrupted` is tried again;
/// each field is optional and defaults as shown. Attempt k ≥ 2 starts
/// `min(max_delay_seconds, initial_delay_seconds × multiplier^(k−2))` seconds after attempt
/// k−1 ended, or a uniform fraction of that with `jitter`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct RetryBody {
    /// Attempts in all, the first included (1 to 100, default 1: no retry).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    max_attempts: Option<u32>,
    /// Delay before the second attempt (0 to 2592000, default 10).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_592_000)]
    initial_delay_seconds: Option<u64>,
    /// Longest delay (1 to 2592000, default 3600).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_592_000)]
    max_delay_seconds: Option<u64>,
    /// Each delay is this many times the one before (1 to 100, default 2).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    multiplier: Option<f64>,
    /// Full jitter (default true).
    #[serde(default)]
    jitter: Option<bool>,
}

/// The policy `body` asks for, checked, naming `retry.<field>` when a field is out of range;
/// no body is the default (one attempt).
pub(super) fn parse_retry(body: Option<RetryBody>) -> Result<RetryPolicy, ApiError> {
    let Some(body) = body else {
        return Ok(RetryPolicy::default());
    };
    let d = RetryPolicy::default();
    let policy = RetryPolicy {
        max_attempts: body.max_attempts.unwrap_or(d.max_attempts),
        initial_delay_seconds: body
            .initial_delay_seconds
            .unwrap_or(d.initial_delay_seconds),
        max_delay_seconds: body.max_delay_seconds.unwrap_or(d.max_delay_seconds),
        multiplier: body.multiplier.unwrap_or(d.multiplier),
        jitter: body.jitter.unwrap_or(d.jitter),
    };
    match policy.problem() {
        Some((field, why)) => Err(ApiError::validation(format!("retry.{field}"), why)),
        None => Ok(policy),
    }
}

/// A job's retry policy as sent back, every field as it applies.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct RetryResponse {
    /// Attempts in all, the first included; 1: no retry.
    max_attempts: u32,
    /// Delay before the second attempt.
    initial_delay_seconds: u64,
    /// No delay is longer.
    max_delay_seconds: u64,
    /// Each delay is this many times the one before.
    multiplier: f64,
    /// Full jitter: each delay is drawn between 0 and the computed one.
    jitter: bool,
}

impl From<RetryPolicy> for RetryResponse {
    fn from(r: RetryPolicy) -> RetryResponse {
        RetryResponse {
            max_attempts: r.max_attempts,
            initial_delay_seconds: r.initial_delay_seconds,
            max_delay_seconds: r.max_delay_seconds,
            multiplier: r.multiplier,
            jitter: r.jitter,
        }
    }
}
