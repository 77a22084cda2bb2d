//! The `cron` crate as a differential oracle for our cron code (crates/core/src/schedule/): on the subset
//! of expressions where the two define the same schedule, the next fire times must agree, so a
//! regression on either side shows up here.
//!
//! The subset: UTC; 6 fields (the crate requires the seconds field); day-of-month OR
//! day-of-week restricted, never both (we OR them like Vixie cron, the crate ANDs them);
//! weekdays by name only (the crate numbers them 1-7 from Sunday, we 0-7 from Sunday with 1 =
//! Monday), and no range that ends on `SUN` (ours reads it as 7, the crate as 1). Months and
//! days of month are numbers in both.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use schedlite::schedule::Trigger;

/// Fire times compared per expression.
const FIRES: usize = 6;

/// Weekday names in our order and the crate's (Monday to Saturday; Sunday is listed alone).
const WEEKDAYS: [&str; 6] = ["MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn ours(expr: &str, after: DateTime<Utc>) -> Option<Vec<DateTime<Utc>>> {
    let trigger = Trigger::cron(expr, "UTC").ok()?;
    Some(
        trigger
            .fires_after(after)
            .take(FIRES)
            .map(|f| f.at)
            .collect(),
    )
}

fn oracle(expr: &str, after: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let schedule = cron::Schedule::from_str(expr)
        .unwrap_or_else(|e| panic!("the cron crate refuses `{expr}`: {e}"));
    schedule.after(&after).take(FIRES).collect()
}

/// One field over `min..=max`: `*`, a value, a range, a step over all or over a range, a
/// start with a step, or a list of values and ranges.
fn numeric_field(min: u32, max: u32) -> BoxedStrategy<String> {
    let value = min..=max;
    let range = (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b)));
    let step = 1..=(max - min);
    prop_oneof![
        Just("*".to_string()),
        value.clone().prop_map(|v| v.to_string()),
        range.clone(),
        step.clone().prop_map(|n| format!("*/{n}")),
        (range.clone(), step.clone()).prop_map(|(r, n)| format!("{r}/{n}")),
        (value.clone(), step).prop_map(|(a, n)| format!("{a}/{n}")),
        prop::collection::vec(prop_oneof![value.prop_map(|v| v.to_string()), range], 2..4)
            .prop_map(|items| items.join(",")),
    ]
    .boxed()
}

/// A restricted day-of-week field, by name: a day, a range within MON-SAT (optionally with a
/// step), or a list with `SUN` alone.
fn weekday_field() -> BoxedStrategy<String> {
    let day = 0..WEEKDAYS.len();
    let range = (0..WEEKDAYS.len(), 0..WEEKDAYS.len())
        .prop_map(|(a, b)| format!("{}-{}", WEEKDAYS[a.min(b)], WEEKDAYS[a.max(b)]));
    prop_oneof![
        day.clone().prop_map(|d| WEEKDAYS[d].to_string()),
        Just("SUN".to_string()),
        range.clone(),
        (range.clone(), 1..=3u32).prop_map(|(r, n)| format!("{r}/{n}")),
        prop::collection::vec(
            prop_oneof![
                day.prop_map(|d| WEEKDAYS[d].to_string()),
                Just("SUN".to_string()),
                range
            ],
            2..4
        )
        .prop_map(|items| items.join(",")),
    ]
    .boxed()
}

/// Both day fields, at most one of them restricted.
fn day_fields() -> BoxedStrategy<(String, String)> {
    prop_oneof![
        numeric_field(1, 31).prop_map(|dom| (dom, "*".to_string())),
        weekday_field().prop_map(|dow| ("*".to_string(), dow)),
    ]
    .boxed()
}

fn expression() -> impl Strategy<Value = String> {
    (
        numeric_field(0, 59),
        numeric_field(0, 59),
        numeric_field(0, 23),
        day_fields(),
        numeric_field(1, 12),
    )
        .prop_map(|(s, m, h, (dom, dow), mon)| format!("{s} {m} {h} {dom} {mon} {dow}"))
}

/// A whole second between 2000 and 2060 (the crate stops at year 2100).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..2_840_140_800).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn next_fire_times_agree_with_the_cron_crate(expr in expression(), after in instant()) {
        // An expression that never fires (`* * * 31 2 *`) we refuse; nothing to compare.
        let Some(ours) = ours(&expr, after) else {
            return Err(TestCaseError::reject("never fires"));
        };
        prop_assert_eq!(ours, oracle(&expr, after), "`{}` after {}", expr, after);
    }
}

/// Hand-picked edges: leap days, month ends, the last second of a year, weekday names, steps
/// that start mid-field, and an instant that is itself a fire time (both count strictly after).
#[test]
fn known_edges_agree_with_the_cron_crate() {
    let cases = [
        ("0 0 0 29 2 *", "2023-03-01T00:00:00Z"),
        ("59 59 23 31 12 *", "2030-12-31T23:59:59Z"),
        ("0 0 12 31 * *", "2031-01-31T11:59:59Z"),
        ("*/7 5/20 1-3 * * *", "2040-06-15T03:59:59Z"),
        ("0 30 9 * * MON-FRI", "2026-11-27T09:30:00Z"),
        ("0 0 0 * * SUN,SAT", "2026-12-05T00:00:00Z"),
        ("0 0 0 * * TUE-SAT/2", "2026-12-01T00:00:00Z"),
        ("0 0 0 1,15 1-12/3 *", "2050-12-31T23:59:59Z"),
    ];
    for (expr, after) in cases {
        let after: DateTime<Utc> = after.parse().expect("instant");
        let ours = ours(expr, after).unwrap_or_else(|| panic!("we refuse `{expr}`"));
        assert_eq!(ours, oracle(expr, after), "`{expr}` after {after}");
    }
}
