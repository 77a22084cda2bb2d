//! Cron expressions: our own crontab parser (DESIGN.md "Time") and a matcher on wall-clock
//! time. An expression becomes one bitset per field; the next match is found field by field
//! (month, then day, hour, minute, second), never by scanning second after second.
//!
//! Works on naive local times only: time zones, DST gaps and folds belong to
//! [`super::trigger`]. Pure: no IO, and it never reads the clock.
//!
//! N.B. We do not use the `cron` crate: it numbers weekdays from Sunday = 1, refuses
//! 5-field expressions and joins day-of-month and day-of-week with AND (see DESIGN.md).
//! It serves as a test oracle instead: tests/cron_oracle.rs compares fire times on the subset
//! where both define the same schedule.

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

use super::trigger::TriggerError;

/// How far [`CronExpr::next_local_after`] looks ahead, in years. The Gregorian calendar
/// repeats every 400 years, so any expression that fires at all (which [`CronExpr::parse`]
/// guarantees) fires within any window this long, even "29 February that is a Sunday".
const HORIZON_YEARS: i32 = 400;

/// Longest piece of user input quoted back in an error message.
const MAX_QUOTED_CHARS: usize = 100;

/// Bits 0..=23 set: an hour field that covers every hour of the day.
const ALL_HOURS: u64 = (1 << 24) - 1;

/// A parsed cron expression: 5 fields `minute hour day-of-month month day-of-week`, or 6 with
/// a leading seconds field, or one of the macros `@hourly @daily @midnight @weekly @monthly
/// @yearly @annually`.
///
/// Field syntax: `*`, `?` (day fields only, same as `*`), values, names (`JAN`-`DEC`,
/// `SUN`-`SAT`, case-insensitive), ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a` to
/// the field's maximum), and comma lists of those. Day-of-week runs 0-7 where 0 and 7 are
/// both Sunday and 1 is Monday; `SUN` at the end of a range means 7, so `FRI-SUN` works.
///
/// Day matching follows Vixie cron: a day field counts as restricted unless its text starts
/// with `*` or `?`. When both day fields are restricted a day matches if EITHER matches
/// (`0 0 1,15 * MON` runs on the 1st, the 15th and every Monday); otherwise both must match.
///
/// Two values are equal when they were parsed from the same (trimmed) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    /// The expression as given, trimmed.
    source: String,
    /// Bits 0..=59.
    seconds: u64,
    /// Bits 0..=59.
    minutes: u64,
    /// Bits 0..=23.
    hours: u64,
    /// Bits 1..=31.
    days_of_month: u64,
    /// Bits 1..=12.
    months: u64,
    /// Bits 0..=6, 0 = Sunday (a parsed 7 is folded onto 0).
    days_of_week: u64,
    /// The day-of-month field starts with `*` or `?` (Vixie's DOM_STAR).
    dom_star: bool,
    /// The day-of-week field starts with `*` or `?` (Vixie's DOW_STAR).
    dow_star: bool,
}

impl CronExpr {
    /// Parses a crontab expression (see the type docs for the syntax).
    ///
    /// Leading and trailing whitespace is ignored; fields are separated by any whitespace.
    /// Errors ([`TriggerError::InvalidCron`]) name the field and the bad part: wrong field
    /// count, out-of-range values, reversed ranges (`5-1`), step 0 or a step longer than the
    /// field, empty list items, `?` outside the day fields, unknown names or macros, junk.
    /// An expression that can never match a real date (`0 0 30 2 *`, `0 0 31 4,6 *`) is
    /// [`TriggerError::NeverFires`]; `0 0 29 2 *` is valid and fires in leap years.
    /// Never panics, whatever the input.
    pub fn parse(expr: &str) -> Result<CronExpr, TriggerError> {
        let source = expr.trim();
        let invalid = |reason: String| TriggerError::InvalidCron {
            expr: quote(source, MAX_QUOTED_CHARS),
            reason,
        };
        let body = if source.starts_with('@') {
            expand_macro(source).ok_or_else(|| {
                invalid(format!(
                    "unknown macro `{}`: expected one of @hourly, @daily, @midnight, @weekly, \
                     @monthly, @yearly, @annually",
                    quote(source, 40)
                ))
            })?
        } else {
            source
        };
        let fields: Vec<&str> = body.split_whitespace().collect();
        let (seconds, rest) = match fields.as_slice() {
            [m, h, dom, mon, dow] => ("0", [*m, *h, *dom, *mon, *dow]),
            [s, m, h, dom, mon, dow] => (*s, [*m, *h, *dom, *mon, *dow]),
            other => {
                return Err(invalid(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a \
                     leading seconds field, got {}",
                    other.len()
                )));
            }
        };
        let [minute, hour, dom, month, dow] = rest;
        let cron = CronExpr {
            source: source.to_owned(),
            seconds: parse_field(Field::Second, seconds).map_err(invalid)?,
            minutes: parse_field(Field::Minute, minute).map_err(invalid)?,
            hours: parse_field(Field::Hour, hour).map_err(invalid)?,
            days_of_month: parse_field(Field::DayOfMonth, dom).map_err(invalid)?,
            months: parse_field(Field::Month, month).map_err(invalid)?,
            days_of_week: fold_sunday(parse_field(Field::DayOfWeek, dow).map_err(invalid)?),
            dom_star: is_star(dom),
            dow_star: is_star(dow),
        };
        if !cron.can_fire() {
            return Err(TriggerError::NeverFires {
                expr: quote(source, MAX_QUOTED_CHARS),
            });
        }
        Ok(cron)
    }

    /// The expression exactly as given to [`CronExpr::parse`], trimmed (macros stay macros).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True unless the hour field covers all 24 hours (`*`, `*/1`, `0-23`, `@hourly`).
    ///
    /// DESIGN.md: in a repeated (fall-back) hour, fixed-hour schedules fire only at the first
    /// occurrence; the others fire at every real instant that matches.
    pub fn has_fixed_hour(&self) -> bool {
        self.hours != ALL_HOURS
    }

    /// Whether the wall-clock time `local` matches, at seconds resolution (sub-second parts
    /// are ignored).
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        let date = local.date();
        bit(self.seconds, local.second())
            && bit(self.minutes, local.minute())
            && bit(self.hours, local.hour())
            && bit(self.months, date.month())
            && self.day_matches(date.day(), date.weekday().num_days_from_sunday())
    }

    /// The smallest whole-second wall-clock time strictly after `after` that matches.
    ///
    /// `after` may carry a sub-second part: the next match after 12:00:00.500 for an
    /// every-second expression is 12:00:01. Returns `None` only when there is no match within
    /// 400 years (never, for a parsed expression) or the search leaves chrono's date range.
    /// Knows nothing about time zones: the caller maps the result to instants.
    pub fn next_local_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after
            .with_nanosecond(0)?
            .checked_add_signed(TimeDelta::seconds(1))?;
        let last_year = start.year().checked_add(HORIZON_YEARS)?;
        let (mut year, mut month, mut day) = (start.year(), start.month(), start.day());
        let (mut hour, mut minute, mut second) = (start.hour(), start.minute(), start.second());
        // Each step either returns or moves the candidate forward to the start of the next
        // possible month, day, hour or minute; out-of-range values (month 13, day 32, hour
        // 24, ...) roll over in the next step.
        loop {
            if year > last_year {
                return None;
            }
            match next_bit(self.months, month, 12) {
                Some(m) if m == month => {}
                Some(m) => {
                    (month, day, hour, minute, second) = (m, 1, 0, 0, 0);
                }
                None => {
                    (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0);
                    continue;
                }
            }
            let first_weekday = NaiveDate::from_ymd_opt(year, month, 1)?
                .weekday()
                .num_days_from_sunday();
            let matching_day = (day..=days_in_month(year, month))
                .find(|&d| self.day_matches(d, (first_weekday + d - 1) % 7));
            match matching_day {
                Some(d) if d == day => {}
                Some(d) => {
                    (day, hour, minute, second) = (d, 0, 0, 0);
                }
                None => {
                    (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0);
                    continue;
                }
            }
            match next_bit(self.hours, hour, 23) {
                Some(h) if h == hour => {}
                Some(h) => {
                    (hour, minute, second) = (h, 0, 0);
                }
                None => {
                    (day, hour, minute, second) = (day + 1, 0, 0, 0);
                    continue;
                }
            }
            match next_bit(self.minutes, minute, 59) {
                Some(m) if m == minute => {}
                Some(m) => {
                    (minute, second) = (m, 0);
                }
                None => {
                    (hour, minute, second) = (hour + 1, 0, 0);
                    continue;
                }
            }
            match next_bit(self.seconds, second, 59) {
                Some(s) => {
                    return NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, s);
                }
                None => {
                    (minute, second) = (minute + 1, 0);
                }
            }
        }
    }

    /// Day-of-month / day-of-week logic of Vixie cron (see the type docs).
    fn day_matches(&self, day: u32, weekday_from_sunday: u32) -> bool {
        let dom = bit(self.days_of_month, day);
        let dow = bit(self.days_of_week, weekday_from_sunday);
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether some real date matches. With OR semantics every month has every weekday; with
    /// AND semantics each (month, day) pair falls on every weekday within 400 years, so only
    /// the month and day-of-month sets decide.
    fn can_fire(&self) -> bool {
        if !self.dom_star && !self.dow_star {
            return true;
        }
        (1..=12).any(|month| {
            bit(self.months, month)
                && (1..=max_days_in_month(month)).any(|day| bit(self.days_of_month, day))
        })
    }
}

impl fmt::Display for CronExpr {
    /// Writes the expression as given (trimmed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The six fields, with their ranges and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    fn min(self) -> u32 {
        match self {
            Field::DayOfMonth | Field::Month => 1,
            _ => 0,
        }
    }

    fn max(self) -> u32 {
        match self {
            Field::Second | Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 31,
            Field::Month => 12,
            Field::DayOfWeek => 7,
        }
    }

    /// What a valid item looks like, for error messages.
    fn hint(self) -> String {
        let values = match self {
            Field::Month => "a number 1-12 or a name JAN-DEC".to_owned(),
            Field::DayOfWeek => "a number 0-7 (0 and 7 are Sunday) or a name SUN-SAT".to_owned(),
            other => format!("a number {}-{}", other.min(), other.max()),
        };
        format!("{values}, `*`, a range `a-b`, a step `*/n` or `a-b/n`, or a list `a,b`")
    }

    /// Value of a name such as `JAN` or `mon`; `SUN` is 7 at the end of a range.
    fn named_value(self, name: &str, range_end: bool) -> Option<u32> {
        let position = |names: &[&str]| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .and_then(|i| u32::try_from(i).ok())
        };
        match self {
            Field::Month => position(&MONTH_NAMES).map(|i| i + 1),
            Field::DayOfWeek => match position(&WEEKDAY_NAMES)? {
                0 if range_end => Some(7),
                day => Some(day),
            },
            _ => None,
        }
    }
}

/// `@daily` and friends, as 5-field expressions.
fn expand_macro(source: &str) -> Option<&'static str> {
    const MACROS: [(&str, &str); 7] = [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ];
    MACROS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(source))
        .map(|(_, body)| *body)
}

/// Vixie cron's DOM_STAR / DOW_STAR: the field text starts with `*` (or our `?`).
fn is_star(text: &str) -> bool {
    text.starts_with('*') || text.starts_with('?')
}

/// Parses one field into a bitset; the error is the reason part of the message.
fn parse_field(field: Field, text: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!(
                "{} field `{}` has an empty list item: remove the extra comma",
                field.name(),
                quote(text, 40)
            ));
        }
        let (low, high, step) = parse_item(field, item)?;
        let mut value = low;
        while value <= high {
            set |= 1 << value;
            value += step;
        }
    }
    Ok(set)
}

/// Parses one list item into (first, last, step).
fn parse_item(field: Field, item: &str) -> Result<(u32, u32, u32), String> {
    let junk = || {
        format!(
            "{} field has an invalid part `{}`: expected {}",
            field.name(),
            quote(item, 40),
            field.hint()
        )
    };
    let (base, step_text) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    let span = field.max() - field.min() + 1;
    let step = match step_text {
        None => 1,
        Some(text) => match parse_number(text) {
            Some(step) if (1..=u64::from(span)).contains(&step) => {
                u32::try_from(step).map_err(|_| junk())?
            }
            Some(_) => {
                return Err(format!(
                    "{} step `{}` must be between 1 and {span}",
                    field.name(),
                    quote(item, 40)
                ));
            }
            None => return Err(junk()),
        },
    };
    let (low, high) = if base == "*" || base == "?" {
        if base == "?" && !matches!(field, Field::DayOfMonth | Field::DayOfWeek) {
            return Err(format!(
                "`?` is only allowed in the day-of-month and day-of-week fields, not in the {} \
                 field: use `*`",
                field.name()
            ));
        }
        (field.min(), field.max())
    } else if let Some((first, last)) = base.split_once('-') {
        let low = parse_value(field, first, false, item)?;
        let high = parse_value(field, last, true, item)?;
        if low > high {
            return Err(format!(
                "{} range `{}` is reversed: write the smaller value first",
                field.name(),
                quote(base, 40)
            ));
        }
        (low, high)
    } else {
        let value = parse_value(field, base, false, item)?;
        // `a/n` runs from a to the field's maximum, as in Vixie cron.
        let high = if step_text.is_some() {
            field.max()
        } else {
            value
        };
        (value, high)
    };
    Ok((low, high, step))
}

/// Parses a number or a name within `field`'s range; `item` is quoted in errors.
fn parse_value(field: Field, text: &str, range_end: bool, item: &str) -> Result<u32, String> {
    if let Some(value) = parse_number(text) {
        let (min, max) = (field.min(), field.max());
        return match u32::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!(
                "{} value {} is out of range {min}-{max}",
                field.name(),
                quote(text, 20)
            )),
        };
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphabetic()) {
        return match field {
            Field::Month | Field::DayOfWeek => {
                field.named_value(text, range_end).ok_or_else(|| {
                    let expected = if field == Field::Month {
                        "JAN, FEB, ... DEC"
                    } else {
                        "SUN, MON, ... SAT"
                    };
                    format!(
                        "{} field has an unknown name `{}`: expected {expected}",
                        field.name(),
                        quote(text, 40)
                    )
                })
            }
            _ => Err(format!(
                "{} field does not take names like `{}`: expected {}",
                field.name(),
                quote(text, 40),
                field.hint()
            )),
        };
    }
    Err(format!(
        "{} field has an invalid part `{}`: expected {}",
        field.name(),
        quote(item, 40),
        field.hint()
    ))
}

/// A non-empty run of ASCII digits; saturates instead of overflowing.
fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Day-of-week 7 is Sunday, like 0.
fn fold_sunday(days_of_week: u64) -> u64 {
    let sunday = (days_of_week >> 7) & 1;
    (days_of_week | sunday) & 0x7f
}

/// Whether bit `index` of `set` is set (false for indexes past 63).
fn bit(set: u64, index: u32) -> bool {
    index < 64 && (set >> index) & 1 == 1
}

/// The smallest set bit at or above `from`, if it is at most `max`.
fn next_bit(set: u64, from: u32, max: u32) -> Option<u32> {
    if from > max || from >= 64 {
        return None;
    }
    let rest = set >> from;
    if rest == 0 {
        return None;
    }
    let found = from + rest.trailing_zeros();
    (found <= max).then_some(found)
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days in `month` of a leap year.
fn max_days_in_month(month: u32) -> u32 {
    days_in_month(2000, month)
}

/// User input for an error message: at most `max` characters, control characters replaced.
pub(crate) fn quote(text: &str, max: usize) -> String {
    let mut quoted: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
    }

    fn cron(expr: &str) -> CronExpr {
        CronExpr::parse(expr).unwrap_or_else(|e| panic!("`{expr}` should parse: {e}"))
    }

    /// (description, expression, after, expected next local time)
    const NEXT_CASES: &[(&str, &str, &str, &str)] = &[
        (
            "Monday 09:00 from a Sunday",
            "0 9 * * 1",
            "2026-11-29 12:00:00",
            "2026-11-30 09:00:00",
        ),
        (
            "Monday 09:00 from Monday 09:00 is next week",
            "0 9 * * 1",
            "2026-11-30 09:00:00",
            "2026-12-07 09:00:00",
        ),
        (
            "Monday 09:00 from just before",
            "0 9 * * 1",
            "2026-11-30 08:59:59",
            "2026-11-30 09:00:00",
        ),
        (
            "Sunday as 0",
            "0 10 * * 0",
            "2026-11-28 00:00:00",
            "2026-11-29 10:00:00",
        ),
        (
            "Sunday as 7",
            "0 10 * * 7",
            "2026-11-28 00:00:00",
            "2026-11-29 10:00:00",
        ),
        (
            "Sunday as SUN",
            "0 10 * * sun",
            "2026-11-28 00:00:00",
            "2026-11-29 10:00:00",
        ),
        (
            "FRI-SUN includes Sunday",
            "0 10 * * FRI-SUN",
            "2026-11-28 11:00:00",
            "2026-11-29 10:00:00",
        ),
        (
            "5-7 includes Sunday",
            "0 10 * * 5-7",
            "2026-11-28 11:00:00",
            "2026-11-29 10:00:00",
        ),
        (
            "1st, 15th or Monday: Monday first",
            "0 0 1,15 * MON",
            "2026-11-28 00:00:00",
            "2026-11-30 00:00:00",
        ),
        (
            "1st, 15th or Monday: the 1st (a Tuesday)",
            "0 0 1,15 * MON",
            "2026-11-30 00:00:00",
            "2026-12-01 00:00:00",
        ),
        (
            "1st, 15th or Monday: next Monday",
            "0 0 1,15 * MON",
            "2026-12-01 00:00:00",
            "2026-12-07 00:00:00",
        ),
        (
            "1st, 15th or Monday: the 15th (a Tuesday)",
            "0 0 1,15 * MON",
            "2026-12-14 00:00:00",
            "2026-12-15 00:00:00",
        ),
        (
            "star day-of-month with step ANDs with weekday",
            "0 0 */2 * MON",
            "2026-11-28 00:00:00",
            "2026-12-07 00:00:00",
        ),
        (
            "? in day-of-month is *",
            "0 0 ? * MON",
            "2026-11-28 00:00:00",
            "2026-11-30 00:00:00",
        ),
        (
            "? in day-of-week is *",
            "0 0 15 * ?",
            "2026-11-28 00:00:00",
            "2026-12-15 00:00:00",
        ),
        (
            "MON-FRI skips the weekend",
            "30 8 * * MON-FRI",
            "2026-11-27 09:00:00",
            "2026-11-30 08:30:00",
        ),
        (
            "mon-fri lowercase",
            "30 8 * * mon-fri",
            "2026-11-27 09:00:00",
            "2026-11-30 08:30:00",
        ),
        (
            "JAN-MAR from December",
            "0 0 1 JAN-MAR *",
            "2026-12-01 00:00:00",
            "2027-01-01 00:00:00",
        ),
        (
            "JAN-MAR from March",
            "0 0 1 JAN-MAR *",
            "2027-03-01 00:00:00",
            "2028-01-01 00:00:00",
        ),
        (
            "every 5 minutes",
            "*/5 * * * *",
            "2026-11-28 12:03:10",
            "2026-11-28 12:05:00",
        ),
        (
            "range with step",
            "10-30/10 * * * *",
            "2026-11-28 12:20:00",
            "2026-11-28 12:30:00",
        ),
        (
            "range with step wraps to next hour",
            "10-30/10 * * * *",
            "2026-11-28 12:30:00",
            "2026-11-28 13:10:00",
        ),
        (
            "a/n runs to the maximum",
            "50/3 * * * *",
            "2026-11-28 12:56:00",
            "2026-11-28 12:59:00",
        ),
        (
            "a/n wraps to a",
            "50/3 * * * *",
            "2026-11-28 12:59:00",
            "2026-11-28 13:50:00",
        ),
        (
            "list with a stepped range",
            "0 1,5-9/2 * * *",
            "2026-11-28 05:00:00",
            "2026-11-28 07:00:00",
        ),
        (
            "every second",
            "* * * * * *",
            "2026-11-28 12:00:00",
            "2026-11-28 12:00:01",
        ),
        (
            "every second after a fraction",
            "* * * * * *",
            "2026-11-28 12:00:00.500",
            "2026-11-28 12:00:01",
        ),
        (
            "every minute after a fraction",
            "* * * * *",
            "2026-11-28 12:00:59.999",
            "2026-11-28 12:01:00",
        ),
        (
            "6 fields: seconds",
            "15,45 * * * * *",
            "2026-11-28 12:00:15",
            "2026-11-28 12:00:45",
        ),
        (
            "6 fields: seconds wrap",
            "15,45 * * * * *",
            "2026-11-28 12:00:45",
            "2026-11-28 12:01:15",
        ),
        (
            "6 fields: daily at 03:04:05",
            "5 4 3 * * *",
            "2026-11-28 03:04:05",
            "2026-11-29 03:04:05",
        ),
        (
            "end of year rollover",
            "0 0 * * *",
            "2026-12-31 23:59:59",
            "2027-01-01 00:00:00",
        ),
        (
            "@hourly",
            "@hourly",
            "2026-11-28 12:00:00",
            "2026-11-28 13:00:00",
        ),
        (
            "@daily",
            "@daily",
            "2026-11-28 12:00:00",
            "2026-11-29 00:00:00",
        ),
        (
            "@midnight",
            "@midnight",
            "2026-11-28 12:00:00",
            "2026-11-29 00:00:00",
        ),
        (
            "@weekly is Sunday midnight",
            "@weekly",
            "2026-11-28 12:00:00",
            "2026-11-29 00:00:00",
        ),
        (
            "@monthly",
            "@monthly",
            "2026-11-28 12:00:00",
            "2026-12-01 00:00:00",
        ),
        (
            "@yearly",
            "@yearly",
            "2026-11-28 12:00:00",
            "2027-01-01 00:00:00",
        ),
        (
            "@annually",
            "@ANNUALLY",
            "2026-11-28 12:00:00",
            "2027-01-01 00:00:00",
        ),
        (
            "31st skips November",
            "0 0 31 * *",
            "2026-10-31 00:00:00",
            "2026-12-31 00:00:00",
        ),
        (
            "31st skips February, April",
            "0 0 31 * *",
            "2027-01-31 00:00:00",
            "2027-03-31 00:00:00",
        ),
        (
            "30th skips February",
            "0 0 30 * *",
            "2027-01-30 00:00:00",
            "2027-03-30 00:00:00",
        ),
        (
            "31st in April, June or July is July",
            "0 0 31 4,6,7 *",
            "2026-01-01 00:00:00",
            "2026-07-31 00:00:00",
        ),
        (
            "29 February in the next leap year",
            "0 0 29 2 *",
            "2026-11-28 00:00:00",
            "2028-02-29 00:00:00",
        ),
        (
            "29 February from 29 February",
            "0 0 29 2 *",
            "2028-02-29 00:00:00",
            "2032-02-29 00:00:00",
        ),
        (
            "29 February across 2100 (not leap)",
            "0 0 29 2 *",
            "2096-02-29 00:00:00",
            "2104-02-29 00:00:00",
        ),
        (
            "29 February in 2000 (leap)",
            "0 0 29 2 *",
            "1999-01-01 00:00:00",
            "2000-02-29 00:00:00",
        ),
        (
            "1 or 29 February that is a Sunday (AND)",
            "0 0 */28 2 */7",
            "2026-02-02 00:00:00",
            "2032-02-01 00:00:00",
        ),
        (
            "last second of the year",
            "59 59 23 31 12 *",
            "2026-06-01 00:00:00",
            "2026-12-31 23:59:59",
        ),
    ];

    #[test]
    fn next_local_after_follows_the_case_table() {
        for (description, expr, after, expected) in NEXT_CASES {
            let got = cron(expr).next_local_after(at(after));
            assert_eq!(
                got,
                Some(at(expected)),
                "{description}: `{expr}` after {after}"
            );
            assert!(
                cron(expr).matches(at(expected)),
                "{description}: `{expr}` should match its own next time {expected}"
            );
        }
    }

    #[test]
    fn next_local_after_agrees_with_a_minute_by_minute_scan() {
        let exprs = [
            "*/7 * * * *",
            "0 9 * * 1",
            "0 0 1,15 * MON",
            "15 3 */3 * *",
            "0 12 * 2 SAT,SUN",
            "59 23 28-31 * *",
            "0 0 13 * FRI",
            "0 0 29 2 *",
        ];
        for expr in exprs {
            let parsed = cron(expr);
            let mut after = at("2027-12-30 00:00:00");
            for _ in 0..20 {
                let next = parsed
                    .next_local_after(after)
                    .unwrap_or_else(|| panic!("`{expr}` should fire after {after}"));
                let mut probe = after + TimeDelta::minutes(1);
                while probe < next {
                    assert!(
                        !parsed.matches(probe),
                        "`{expr}` skipped {probe} (next was {next})"
                    );
                    probe += TimeDelta::minutes(1);
                }
                assert!(parsed.matches(next), "`{expr}` does not match {next}");
                after = next;
            }
        }
    }

    #[test]
    fn matches_follows_the_case_table() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("Monday 09:00", "0 9 * * 1", "2026-11-30 09:00:00", true),
            (
                "Monday 09:00 not on Tuesday",
                "0 9 * * 1",
                "2026-12-01 09:00:00",
                false,
            ),
            (
                "Monday 09:00 not at 09:00:01",
                "0 9 * * 1",
                "2026-11-30 09:00:01",
                false,
            ),
            (
                "sub-second parts ignored",
                "0 9 * * 1",
                "2026-11-30 09:00:00.750",
                true,
            ),
            (
                "OR of day fields: the 1st",
                "0 0 1 * MON",
                "2026-12-01 00:00:00",
                true,
            ),
            (
                "OR of day fields: a Monday",
                "0 0 1 * MON",
                "2026-12-07 00:00:00",
                true,
            ),
            (
                "OR of day fields: neither",
                "0 0 1 * MON",
                "2026-12-08 00:00:00",
                false,
            ),
            (
                "AND with starred day-of-month",
                "0 0 */2 * MON",
                "2026-12-14 00:00:00",
                false,
            ),
            ("Sunday as 7", "0 0 * * 7", "2026-11-29 00:00:00", true),
            ("Sunday as 0", "0 0 * * 0", "2026-11-29 00:00:00", true),
            ("Saturday is 6", "0 0 * * 6", "2026-11-28 00:00:00", true),
        ];
        for (description, expr, time, expected) in cases {
            assert_eq!(
                cron(expr).matches(at(time)),
                *expected,
                "{description}: `{expr}` at {time}"
            );
        }
    }

    #[test]
    fn has_fixed_hour_is_false_only_when_every_hour_is_covered() {
        let cases = [
            ("*", "* * * * *", false),
            ("*/1", "0 */1 * * *", false),
            ("0-23", "0 0-23 * * *", false),
            (
                "? is refused for hours, so use a list",
                "0 0-11,12-23 * * *",
                false,
            ),
            ("@hourly", "@hourly", false),
            ("6-field every second", "* * * * * *", false),
            ("@daily", "@daily", true),
            ("*/2", "0 */2 * * *", true),
            ("0-22", "0 0-22 * * *", true),
            ("single hour", "30 2 * * *", true),
        ];
        for (description, expr, fixed) in cases {
            assert_eq!(
                cron(expr).has_fixed_hour(),
                fixed,
                "{description}: `{expr}`"
            );
        }
    }

    /// Invalid expressions: (description, expression, part of the expected message).
    const INVALID_CASES: &[(&str, &str, &str)] = &[
        (
            "empty",
            "",
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds field, got 0",
        ),
        ("four fields", "* * * *", "got 4"),
        ("seven fields", "0 0 0 * * * *", "got 7"),
        (
            "minute 61",
            "61 * * * *",
            "invalid cron expression `61 * * * *`: minute value 61 is out of range 0-59",
        ),
        (
            "hour 24",
            "0 24 * * *",
            "hour value 24 is out of range 0-23",
        ),
        (
            "day-of-month 0",
            "0 0 0 * *",
            "day-of-month value 0 is out of range 1-31",
        ),
        (
            "day-of-month 32",
            "0 0 32 * *",
            "day-of-month value 32 is out of range 1-31",
        ),
        (
            "month 13",
            "0 0 * 13 *",
            "month value 13 is out of range 1-12",
        ),
        ("month 0", "0 0 * 0 *", "month value 0 is out of range 1-12"),
        (
            "day-of-week 8",
            "0 0 * * 8",
            "day-of-week value 8 is out of range 0-7",
        ),
        (
            "second 60",
            "60 * * * * *",
            "second value 60 is out of range 0-59",
        ),
        (
            "huge number",
            "99999999999999999999999 * * * *",
            "minute value 99999999999999999999… is out of range 0-59",
        ),
        (
            "reversed range",
            "5-1 * * * *",
            "minute range `5-1` is reversed: write the smaller value first",
        ),
        (
            "reversed names",
            "0 0 * * FRI-MON",
            "day-of-week range `FRI-MON` is reversed",
        ),
        (
            "step 0",
            "*/0 * * * *",
            "minute step `*/0` must be between 1 and 60",
        ),
        (
            "step too long",
            "0 */25 * * *",
            "hour step `*/25` must be between 1 and 24",
        ),
        (
            "empty step",
            "*/ * * * *",
            "minute field has an invalid part `*/`",
        ),
        (
            "empty list item",
            "1,,2 * * * *",
            "minute field `1,,2` has an empty list item: remove the extra comma",
        ),
        (
            "trailing comma",
            "0 0 * * MON,",
            "day-of-week field `MON,` has an empty list item",
        ),
        (
            "junk",
            "abc * * * *",
            "minute field does not take names like `abc`",
        ),
        (
            "unknown month name",
            "0 0 * JANUARY *",
            "month field has an unknown name `JANUARY`: expected JAN, FEB, ... DEC",
        ),
        (
            "unknown weekday name",
            "0 0 * * MOO",
            "day-of-week field has an unknown name `MOO`: expected SUN, MON, ... SAT",
        ),
        (
            "negative",
            "-1 * * * *",
            "minute field has an invalid part `-1`",
        ),
        (
            "open range",
            "1- * * * *",
            "minute field has an invalid part `1-`",
        ),
        (
            "double step",
            "*/2/3 * * * *",
            "minute field has an invalid part `*/2/3`",
        ),
        (
            "three-part range",
            "1-2-3 * * * *",
            "minute field has an invalid part `1-2-3`",
        ),
        (
            "? in the minute field",
            "? * * * *",
            "`?` is only allowed in the day-of-month and day-of-week fields, not in the minute field",
        ),
        (
            "unicode junk",
            "0 0 * * ５",
            "day-of-week field has an invalid part `５`",
        ),
        (
            "unknown macro",
            "@reboot",
            "unknown macro `@reboot`: expected one of @hourly",
        ),
        ("macro with fields", "@daily 0", "unknown macro `@daily 0`"),
        (
            "30 February",
            "0 0 30 2 *",
            "cron expression `0 0 30 2 *` never fires",
        ),
        (
            "31 April and June",
            "0 0 31 4,6 *",
            "cron expression `0 0 31 4,6 *` never fires",
        ),
        (
            "31 November with starred weekday",
            "0 0 31 11 */2",
            "never fires",
        ),
    ];

    #[test]
    fn invalid_expressions_are_rejected_with_a_message_naming_the_problem() {
        let cases = INVALID_CASES;
        for (description, expr, expected) in cases {
            match CronExpr::parse(expr) {
                Ok(parsed) => panic!("{description}: `{expr}` should be rejected, got {parsed:?}"),
                Err(error) => {
                    let message = error.to_string();
                    assert!(
                        message.contains(expected),
                        "{description}: `{expr}` gave `{message}`, expected it to contain `{expected}`"
                    );
                    assert!(
                        !message.ends_with('.'),
                        "{description}: no final period: {message}"
                    );
                }
            }
        }
        assert!(NEXT_CASES.len() + cases.len() > 15);
    }

    #[test]
    fn long_input_is_quoted_shortened_in_errors() {
        let long = format!("{} * * * *", "9".repeat(500));
        let message = CronExpr::parse(&long)
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.len() < 300, "message should be short: {message}");
        assert!(
            message.contains('…'),
            "message should show the cut: {message}"
        );
    }

    #[test]
    fn or_semantics_apply_only_when_both_day_fields_are_restricted() {
        // 29 February or any Monday of February: Mondays in non-leap years too.
        let either = cron("0 0 29 2 MON");
        assert_eq!(
            either.next_local_after(at("2026-11-28 00:00:00")),
            Some(at("2027-02-01 00:00:00")),
            "29 February OR Monday fires on the next Monday in February"
        );
        // 30 February or Monday: OR semantics make it valid (Mondays in February).
        assert!(
            CronExpr::parse("0 0 30 2 MON").is_ok(),
            "30 February OR Monday is valid"
        );
    }

    #[test]
    fn as_str_and_display_give_the_source() {
        for expr in ["0 9 * * 1", "@daily", "*/15  *  * * *", "0 0 1,15 * mon"] {
            let parsed = cron(expr);
            assert_eq!(parsed.as_str(), expr, "as_str of `{expr}`");
            assert_eq!(parsed.to_string(), expr, "Display of `{expr}`");
        }
        assert_eq!(cron("  0 9 * * 1\n").as_str(), "0 9 * * 1", "trimmed");
    }

    #[test]
    fn next_local_after_is_none_at_the_end_of_time() {
        assert_eq!(
            cron("* * * * *").next_local_after(NaiveDateTime::MAX),
            None,
            "no time after the maximum"
        );
        assert_eq!(
            cron("0 0 1 1 *").next_local_after(
                NaiveDate::from_ymd_opt(262_142, 6, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .unwrap_or(NaiveDateTime::MAX)
            ),
            None,
            "no 1 January left in chrono's range"
        );
        assert!(
            cron("* * * * *")
                .next_local_after(NaiveDateTime::MIN)
                .is_some(),
            "the minimum has a next minute"
        );
    }
}
