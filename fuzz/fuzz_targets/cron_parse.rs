//! Fuzzes the crontab parser and the next-fire search: any UTF-8 text either fails to parse
//! with an error, or parses into an expression whose fire times, from a few instants and in a
//! few timezones (with DST gaps and folds), are strictly increasing and strictly after the
//! instant they are searched from. No input may panic or hang.
//!
//! Run: `cargo +nightly fuzz run cron_parse` in `fuzz/` (see README.md).

#![no_main]

use chrono::{DateTime, NaiveDateTime, Utc};
use libfuzzer_sys::fuzz_target;
use schedlite::schedule::{CronExpr, Trigger};

/// Timezones with DST gaps and folds of one hour, half an hour (Lord Howe) and none (UTC).
const TIMEZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
];

/// Instants to search from: ordinary, just before a DST change, a leap day, end of a year,
/// with and without a sub-second part.
const INSTANTS: &[&str] = &[
    "2026-11-28T12:00:00Z",
    "2026-03-29T00:59:59.500Z",
    "2026-11-01T05:30:00Z",
    "2028-02-28T23:59:59Z",
    "2099-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00Z",
];

/// Fire times checked per (timezone, instant).
const FIRES: usize = 6;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = CronExpr::parse(text) else {
        return;
    };
    let starts: Vec<DateTime<Utc>> = INSTANTS
        .iter()
        .map(|s| s.parse().expect("BUG: the instants above parse"))
        .collect();

    // Wall-clock search: every match strictly after the previous one, and matching.
    for start in &starts {
        let mut after: NaiveDateTime = start.naive_utc();
        for _ in 0..FIRES {
            let Some(next) = expr.next_local_after(after) else {
                break;
            };
            assert!(next > after, "{text:?}: {next} is not after {after}");
            assert!(expr.matches(next), "{text:?}: {next} does not match");
            after = next;
        }
    }

    // Instants: strictly increasing and strictly after the start, in every timezone.
    for tz in TIMEZONES {
        let trigger = Trigger::cron(text, tz)
            .unwrap_or_else(|e| panic!("{text:?} parsed alone but not in {tz}: {e}"));
        for start in &starts {
            let mut previous = *start;
            for fire in trigger.fires_after(*start).take(FIRES) {
                assert!(
                    fire.at > previous,
                    "{text:?} in {tz} from {start}: {} is not after {previous}",
                    fire.at
                );
                previous = fire.at;
            }
        }
    }
});
