//! The one wire and storage format for instants: fixed-width RFC 3339 in UTC with `Z` and
//! milliseconds (`2026-11-28T12:00:00.000Z`). Fixed width makes text order equal time order, so
//! SQLite can index and compare the text columns directly and operators can read them.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds added to the system clock by [`now`]; zero except in tests.
static CLOCK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Shifts this process's clock ([`now`]) by `offset` from the system's. It exists for tests
/// only: several nodes on one host share one system clock, and a test of nodes whose wall
/// clocks disagree (issue 11) starts each with its own offset (`serve`'s hidden
/// `--test-clock-offset-ms`). Set once, before the scheduler and the API start.
pub fn set_test_clock_offset(offset: chrono::Duration) {
    CLOCK_OFFSET_MS.store(offset.num_milliseconds(), Ordering::Relaxed);
}

/// Steps this process's clock ([`now`]) by `by` while it runs, as an NTP correction steps a
/// host's: for the test of clock steps only (`serve`'s hidden `--test-clock-step`).
pub fn step_test_clock(by: chrono::Duration) {
    CLOCK_OFFSET_MS.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
}

/// The current instant as this process tells time: the system clock plus the test offset (one
/// relaxed atomic load, so the hot path pays nothing measurable). The scheduler and the API read
/// the time here, never from `Utc::now()` directly.
pub fn now() -> DateTime<Utc> {
    let offset = CLOCK_OFFSET_MS.load(Ordering::Relaxed);
    Utc::now() + chrono::Duration::milliseconds(offset)
}

/// An instant in UTC, truncated to milliseconds, written as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// Parsing accepts any RFC 3339 offset (`+02:00` is converted to UTC) but only years 1970–9999,
/// the range where the fixed-width text form holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// Why a text is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not an RFC 3339 timestamp between 1970 and 9999 (expected e.g. 2026-12-01T00:00:00Z)"
)]
pub struct TimestampError {
    text: String,
}

impl Timestamp {
    /// Wraps an instant, dropping sub-millisecond precision so that a value survives a round trip
    /// through its text form unchanged.
    pub fn new(at: DateTime<Utc>) -> Timestamp {
        Timestamp(at.trunc_subsecs(3))
    }

    /// The current instant, by this process's clock ([`now`]).
    pub fn now() -> Timestamp {
        Timestamp::new(now())
    }

    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }

    /// Parses RFC 3339 text with any offset.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let err = || TimestampError {
            text: text.chars().take(64).collect(),
        };
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| err())?;
        let utc = parsed.with_timezone(&Utc);
        let year = chrono::Datelike::year(&utc);
        if !(1970..=9999).contains(&year) {
            return Err(err());
        }
        Ok(Timestamp::new(utc))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Timestamp::new(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Formats an instant in the storage form; shorthand for `Timestamp::new(at).to_string()`.
pub fn format(at: DateTime<Utc>) -> String {
    Timestamp::new(at).to_string()
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("UTC, fixed width: 2026-11-28T12:00:00.000Z"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fixed_width_with_z_and_millis() {
        let cases = [
            ("2026-11-28T12:00:00Z", "2026-11-28T12:00:00.000Z"),
            ("2026-11-28T14:00:00.1234+02:00", "2026-11-28T12:00:00.123Z"),
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
        ];
        for (input, want) in cases {
            let ts = Timestamp::parse(input).expect("valid");
            assert_eq!(ts.to_string(), want, "input {input}");
            assert_eq!(ts.to_string().len(), 24, "fixed width for {input}");
            assert_eq!(
                Timestamp::parse(&ts.to_string()),
                Ok(ts),
                "round trip {input}"
            );
        }
    }

    #[test]
    fn rejects_non_rfc3339_and_out_of_range_years() {
        for bad in [
            "",
            "yesterday",
            "2026-11-28",
            "2026-11-28 12:00:00",
            "1969-12-31T23:59:59Z",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
