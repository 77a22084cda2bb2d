//! Instants as the service stores and sends them (`2026-11-28T12:00:00.000Z`).

use chrono::{DateTime, DurationRound, Utc};

/// The stored text of an instant (`2026-11-28T12:00:00.000Z`).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a stored timestamp.
pub(crate) fn parse_ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad timestamp {text:?}: {e}"))
        .with_timezone(&Utc)
}

/// The first whole second after `now`.
pub(crate) fn next_whole_second(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(chrono::Duration::seconds(1))
        .expect("truncates")
        + chrono::Duration::seconds(1)
}

/// The stored and wire text of the instant `offset` from now.
pub(crate) fn from_now(offset: chrono::Duration) -> String {
    ts(Utc::now() + offset)
}

/// An instant truncated to milliseconds, as stored.
pub(crate) fn trunc_ms(at: DateTime<Utc>) -> DateTime<Utc> {
    parse_ts(&ts(at))
}

/// Sleeps until the wall-clock instant `at` (no-op if it has passed).
pub(crate) async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(left) = (at - Utc::now()).to_std() {
        tokio::time::sleep(left).await;
    }
}
