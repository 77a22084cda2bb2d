//! Triggers (date, interval, cron), their validation and their next fire times, with the
//! DST rules of DESIGN.md "Time": a local time in a spring-forward gap fires once at the first
//! instant after the gap; a local time in a fall-back fold fires once, at its first
//! occurrence, for fixed-hour schedules, and at both occurrences for schedules that repeat
//! every hour or faster; fire times are always strictly increasing in real time.
//!
//! Pure: no IO, and it never reads the clock; "now" is always the `after` parameter.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDateTime, Offset, SecondsFormat, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use super::cron::{CronExpr, quote};
use super::dst::{DstPolicy, Fold, Gap};

/// Longest accepted interval: 10 years of 365 days.
const MAX_INTERVAL_SECONDS: u64 = 315_360_000;

/// Largest absolute UTC offset any zone has ever used (Asia/Manila's LMT was -15:56), rounded
/// up; bounds how far a fold can move local time back.
const MAX_ABS_OFFSET_SECONDS: i64 = 16 * 3600;

/// Cron triggers answer `None` after this year (and treat earlier instants as this year's
/// negative), far inside chrono's range so that no offset arithmetic can overflow.
const LAST_SUPPORTED_YEAR: i32 = 200_000;

/// Safety net for the candidate loop of [`cron_next_fire_after`]; real searches take a few
/// steps (each step jumps over a whole run of candidates that cannot fire).
const MAX_CRON_STEPS: u32 = 100_000;

/// Why a trigger definition was refused. `Display` is lowercase, names the bad input and
/// hints at the fix; it is meant for API users as is.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TriggerError {
    /// The cron expression does not parse; `reason` names the field and the bad part.
    #[error("invalid cron expression `{expr}`: {reason}")]
    InvalidCron {
        /// The expression as given (trimmed, shortened if long).
        expr: String,
        /// What is wrong, e.g. "minute value 61 is out of range 0-59".
        reason: String,
    },
    /// The cron expression parses but matches no real date, like `0 0 30 2 *`.
    #[error("cron expression `{expr}` never fires")]
    NeverFires {
        /// The expression as given (trimmed, shortened if long).
        expr: String,
    },
    /// The timezone is not an IANA name known to chrono-tz.
    #[error("unknown timezone `{name}`: expected an IANA name such as `Europe/Berlin` or `UTC`")]
    UnknownTimezone {
        /// The name as given (shortened if long).
        name: String,
    },
    /// The interval is 0 or longer than 10 years.
    #[error("interval seconds must be between 1 and 315360000, got {seconds}")]
    IntervalOutOfRange {
        /// The interval as given.
        seconds: u64,
    },
    /// An interval's `end_at` is at or before its `start_at`.
    #[error("end_at must be after start_at")]
    EndNotAfterStart,
    /// A trigger type other than `date`, `interval` or `cron`.
    #[error("unknown trigger type `{kind}`: expected `date`, `interval` or `cron`")]
    UnknownKind {
        /// The type as given (shortened if long).
        kind: String,
    },
}

/// The three kinds of trigger, as stored and as shown in the API (`trigger_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    /// Fires once.
    Date,
    /// Fires every N seconds from a start instant.
    Interval,
    /// Fires at wall-clock times in a timezone.
    Cron,
}

impl TriggerKind {
    /// `"date"`, `"interval"` or `"cron"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Date => "date",
            TriggerKind::Interval => "interval",
            TriggerKind::Cron => "cron",
        }
    }
}

impl fmt::Display for TriggerKind {
    /// Same as [`TriggerKind::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TriggerKind {
    type Err = TriggerError;

    /// Parses exactly `date`, `interval` or `cron` (lowercase, as [`TriggerKind::as_str`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "date" => Ok(TriggerKind::Date),
            "interval" => Ok(TriggerKind::Interval),
            "cron" => Ok(TriggerKind::Cron),
            other => Err(TriggerError::UnknownKind {
                kind: quote(other, 40),
            }),
        }
    }
}

/// How a cron fire time relates to a DST change (`dst` in the API's preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DstMark {
    /// The scheduled local time does not exist (spring forward); the fire was moved to the
    /// first instant after the gap.
    Shifted,
    /// The second instant with the same local time, in a repeated (fall-back) hour.
    Repeated,
}

impl DstMark {
    /// `"shifted"` or `"repeated"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DstMark::Shifted => "shifted",
            DstMark::Repeated => "repeated",
        }
    }
}

impl fmt::Display for DstMark {
    /// Same as [`DstMark::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One fire time of a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The instant to fire at.
    pub at: DateTime<Utc>,
    /// `None` for an ordinary fire, and always for date and interval triggers.
    pub dst: Option<DstMark>,
}

/// When a job fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Fires once at run_at.
    Date {
        /// The only fire time.
        run_at: DateTime<Utc>,
    },
    /// Fires at start_at + k*seconds for k >= 0, never after end_at (inclusive bound).
    ///
    /// Build it with [`Trigger::interval`], which checks the bounds.
    Interval {
        /// The period, 1..=315_360_000.
        seconds: u64,
        /// The first fire time.
        start_at: DateTime<Utc>,
        /// No fire later than this; a fire exactly at end_at happens.
        end_at: Option<DateTime<Utc>>,
    },
    /// Fires at the wall-clock times matching expr in timezone, with the DST rules of the
    /// module docs.
    Cron {
        /// The schedule, on wall-clock time.
        expr: CronExpr,
        /// The job's timezone.
        timezone: Tz,
        /// What its local times in DST gaps and folds do.
        dst: DstPolicy,
    },
}

impl Trigger {
    /// An interval trigger, checked: `seconds` in 1..=315_360_000 (10 years) and `end_at`, if
    /// any, strictly after `start_at`.
    pub fn interval(
        seconds: u64,
        start_at: DateTime<Utc>,
        end_at: Option<DateTime<Utc>>,
    ) -> Result<Trigger, TriggerError> {
        if !(1..=MAX_INTERVAL_SECONDS).contains(&seconds) {
            return Err(TriggerError::IntervalOutOfRange { seconds });
        }
        if end_at.is_some_and(|end| end <= start_at) {
            return Err(TriggerError::EndNotAfterStart);
        }
        Ok(Trigger::Interval {
            seconds,
            start_at,
            end_at,
        })
    }

    /// A cron trigger from an expression ([`CronExpr::parse`]) and an IANA timezone name
    /// ([`parse_timezone`]); the expression is checked first.
    pub fn cron(expr: &str, timezone: &str) -> Result<Trigger, TriggerError> {
        let expr = CronExpr::parse(expr)?;
        let timezone = parse_timezone(timezone)?;
        Ok(Trigger::Cron {
            expr,
            timezone,
            dst: DstPolicy::default(),
        })
    }

    /// This trigger with the DST policy `dst` (cron triggers only; the others have no local
    /// times and are returned as they are).
    pub fn with_dst(self, dst: DstPolicy) -> Trigger {
        match self {
            Trigger::Cron { expr, timezone, .. } => Trigger::Cron {
                expr,
                timezone,
                dst,
            },
            other => other,
        }
    }

    /// The DST policy: a cron trigger's own, the default for the others.
    pub fn dst(&self) -> DstPolicy {
        match self {
            Trigger::Cron { dst, .. } => *dst,
            Trigger::Date { .. } | Trigger::Interval { .. } => DstPolicy::default(),
        }
    }

    /// The trigger's kind.
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::Date { .. } => TriggerKind::Date,
            Trigger::Interval { .. } => TriggerKind::Interval,
            Trigger::Cron { .. } => TriggerKind::Cron,
        }
    }

    /// The API's `trigger_details`: `every 3600 seconds`, the cron expression exactly as given
    /// (trimmed), or run_at as fixed-width RFC 3339 UTC (`2026-12-01T00:00:00.000Z`).
    pub fn details(&self) -> String {
        match self {
            Trigger::Date { run_at } => run_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            Trigger::Interval { seconds, .. } => format!("every {seconds} seconds"),
            Trigger::Cron { expr, .. } => expr.as_str().to_owned(),
        }
    }

    /// The job's timezone; UTC for date and interval triggers.
    pub fn timezone(&self) -> Tz {
        match self {
            Trigger::Cron { timezone, .. } => *timezone,
            Trigger::Date { .. } | Trigger::Interval { .. } => Tz::UTC,
        }
    }

    /// The first fire time strictly after `after`, or None when the trigger is finished.
    ///
    /// - Date: run_at if it is after `after`.
    /// - Interval: the first start_at + k*seconds (k >= 0) after `after`, if it is not after
    ///   end_at. A zero `seconds` (only possible by building the variant by hand) fires at
    ///   start_at only.
    /// - Cron: see the module docs for DST. Seconds resolution; `None` only past the year
    ///   200000.
    pub fn next_fire_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        let plain = |at| Fire { at, dst: None };
        match self {
            Trigger::Date { run_at } => (*run_at > after).then(|| plain(*run_at)),
            Trigger::Interval {
                seconds,
                start_at,
                end_at,
            } => {
                let next = interval_next_after(*seconds, *start_at, after)?;
                end_at.is_none_or(|end| next <= end).then(|| plain(next))
            }
            Trigger::Cron {
                expr,
                timezone,
                dst,
            } => cron_next_fire_after(expr, *timezone, *dst, after),
        }
    }

    /// Successive fire times strictly after `after`, each strictly later than the previous;
    /// ends when the trigger is finished. Infinite for cron and open intervals: use `take`.
    pub fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = Fire> + '_ {
        std::iter::successors(self.next_fire_after(after), move |fire| {
            self.next_fire_after(fire.at)
        })
    }
}

/// Parses an IANA timezone name such as `Europe/Berlin` (exact spelling; `UTC` works).
pub fn parse_timezone(name: &str) -> Result<Tz, TriggerError> {
    name.parse::<Tz>()
        .map_err(|_| TriggerError::UnknownTimezone {
            name: quote(name, 64),
        })
}

/// The first `start_at + k * seconds` (k >= 0) strictly after `after`, if representable.
fn interval_next_after(
    seconds: u64,
    start_at: DateTime<Utc>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if after < start_at {
        return Some(start_at);
    }
    if seconds == 0 {
        return None;
    }
    // Whole seconds elapsed, rounded down; (k + 1) * seconds is then > the exact elapsed time.
    let elapsed = u64::try_from((after - start_at).num_seconds()).ok()?;
    let steps = elapsed / seconds + 1;
    let offset = i64::try_from(steps.checked_mul(seconds)?).ok()?;
    start_at.checked_add_signed(TimeDelta::try_seconds(offset)?)
}

/// The UTC offset in force at the UTC time `utc`, in seconds.
fn offset_at(tz: Tz, utc: NaiveDateTime) -> i64 {
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

fn add_seconds(time: NaiveDateTime, seconds: i64) -> Option<NaiveDateTime> {
    time.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

/// How a local time maps to instants; equal regimes on both ends of a stretch of local time
/// mean (with at most one transition in between) the whole stretch maps the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Regime {
    Single(i32),
    Ambiguous(i32, i32),
    Gap,
}

fn regime(tz: Tz, local: NaiveDateTime) -> Regime {
    match tz.offset_from_local_datetime(&local) {
        LocalResult::Single(offset) => Regime::Single(offset.fix().local_minus_utc()),
        LocalResult::Ambiguous(a, b) => {
            Regime::Ambiguous(a.fix().local_minus_utc(), b.fix().local_minus_utc())
        }
        LocalResult::None => Regime::Gap,
    }
}

/// A lower bound on the local reading of every instant after `after`.
///
/// Usually local(after), but a fold soon after `after` makes later instants read earlier
/// local times. Probing the offset hourly, an instant t in (p, p + 1h] reads at least
/// p + min(offset(p), offset(p + 1h)) (one transition per hour at most); instants far enough
/// ahead read later than any bound found, whatever their offset.
fn earliest_local_reading(tz: Tz, after: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut probe = after;
    let mut probe_offset = offset_at(tz, probe);
    let mut bound = add_seconds(after, probe_offset)?;
    for _ in 0..=2 * MAX_ABS_OFFSET_SECONDS / 3600 + 1 {
        if add_seconds(probe, -MAX_ABS_OFFSET_SECONDS)? >= bound {
            break;
        }
        let next_probe = add_seconds(probe, 3600)?;
        let next_offset = offset_at(tz, next_probe);
        bound = bound.min(add_seconds(probe, probe_offset.min(next_offset))?);
        (probe, probe_offset) = (next_probe, next_offset);
    }
    Some(bound)
}

/// The first instant after the DST gap that contains the nonexistent local time `local`: the
/// transition instant, found by bisection on "its local reading is past `local`" (works for
/// 30-minute shifts and whole skipped days alike).
fn first_instant_after_gap(tz: Tz, local: NaiveDateTime) -> Option<NaiveDateTime> {
    let past = |utc: NaiveDateTime| {
        add_seconds(utc, offset_at(tz, utc)).is_some_and(|reading| reading > local)
    };
    const DAY: i64 = 86_400;
    // Under the offset in force before the gap, `local` is read at `high`, at or after the
    // transition; two days earlier is before it (gaps are shorter than a day or so).
    let before = add_seconds(local, -2 * DAY)?;
    let mut high = add_seconds(local, -offset_at(tz, before))?;
    let mut low = add_seconds(high, -2 * DAY)?;
    for _ in 0..4 {
        if past(high) {
            break;
        }
        high = add_seconds(high, DAY)?;
    }
    for _ in 0..4 {
        if !past(low) {
            break;
        }
        low = add_seconds(low, -DAY)?;
    }
    if !past(high) || past(low) {
        return None;
    }
    while (high - low).num_seconds() > 1 {
        let middle = add_seconds(low, (high - low).num_seconds() / 2)?;
        if past(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

/// The furthest local time in (local, target] reachable without changing regime, so that
/// skipping every candidate up to it is safe; `local` itself when none is.
fn skip_within_regime(tz: Tz, local: NaiveDateTime, target: NaiveDateTime) -> NaiveDateTime {
    let Some(target) = target.with_nanosecond(0) else {
        return local;
    };
    if target <= local {
        return local;
    }
    let start = regime(tz, local);
    if regime(tz, target) == start {
        return target;
    }
    let (mut low, mut high) = (local, target);
    while (high - low).num_seconds() > 1 {
        let Some(middle) = add_seconds(low, (high - low).num_seconds() / 2) else {
            return low;
        };
        if regime(tz, middle) == start {
            low = middle;
        } else {
            high = middle;
        }
    }
    low
}

/// The earlier of a pending repeated fire and a new candidate.
fn earliest(pending: Option<Fire>, fire: Fire) -> Fire {
    match pending {
        Some(pending) if pending.at < fire.at => pending,
        _ => fire,
    }
}

/// What the walk of [`cron_next_fire_after`] does at a local time a fold repeats.
enum FoldStep {
    /// This fire is next (unless a pending one is earlier).
    Fire(Fire),
    /// Go on looking from this local time.
    GoOn(NaiveDateTime),
}

/// A local time a fold repeats, met by the walk of [`cron_next_fire_after`].
struct FoldWalk {
    tz: Tz,
    fold: Fold,
    after: DateTime<Utc>,
    local: NaiveDateTime,
}

impl FoldWalk {
    /// Decides by the fold rule what its instants `first` and `second` do: fire, wait as the
    /// pending second-pass fire (`both`: later local times of the fold fire first-pass before
    /// it), or be passed over.
    fn step(
        &self,
        first: DateTime<Utc>,
        second: DateTime<Utc>,
        pending: &mut Option<Fire>,
        pending_limit: &mut Option<NaiveDateTime>,
    ) -> FoldStep {
        let (fold, after, local) = (self.fold, self.after, self.local);
        if fold != Fold::Last && first > after {
            return FoldStep::Fire(Fire {
                at: first,
                dst: None,
            });
        }
        let repeated = Fire {
            at: second,
            dst: Some(DstMark::Repeated),
        };
        if fold == Fold::Last && second > after {
            // Only second instants fire: they follow local order within the fold.
            return FoldStep::Fire(repeated);
        }
        if fold == Fold::Both && second > after {
            if pending.is_none() {
                *pending = Some(repeated);
                *pending_limit = Some(local + (second - first));
            }
            // Later local times of this fold fire first-pass before `second`; the first of
            // them after `after` is at local + (after - first).
            return FoldStep::GoOn(local + (after - first));
        }
        let passed = if fold == Fold::First { first } else { second };
        FoldStep::GoOn(skip_within_regime(self.tz, local, local + (after - passed)))
    }
}

/// Next fire of a cron trigger strictly after `after`, with the DST rules of the module docs.
///
/// Walks matching local times in ascending order from the earliest local reading of any
/// instant after `after`, maps each to instants, and returns the first one after `after`.
/// Local order is real-time order except in a fold, where a second-pass instant of an early
/// local time comes after first-pass instants of later local times; so a second-pass fire is
/// kept pending while the rest of the fold is checked for an earlier first-pass fire.
fn cron_next_fire_after(
    expr: &CronExpr,
    tz: Tz,
    policy: DstPolicy,
    after: DateTime<Utc>,
) -> Option<Fire> {
    if after.year() > LAST_SUPPORTED_YEAR {
        return None;
    }
    let after = if after.year() < -LAST_SUPPORTED_YEAR {
        NaiveDateTime::MIN
            .with_year(-LAST_SUPPORTED_YEAR)?
            .and_utc()
    } else {
        after
    };
    let fold = policy.fold_for(expr.has_fixed_hour());
    let mut cursor = add_seconds(earliest_local_reading(tz, after.naive_utc())?, -1)?;
    let mut pending: Option<Fire> = None;
    // Local times at or past this cannot beat `pending` (the end of its fold).
    let mut pending_limit: Option<NaiveDateTime> = None;
    for _ in 0..MAX_CRON_STEPS {
        let Some(local) = expr.next_local_after(cursor) else {
            return pending;
        };
        if pending_limit.is_some_and(|limit| local >= limit) {
            return pending;
        }
        match tz.from_local_datetime(&local) {
            LocalResult::Single(time) => {
                let at = time.with_timezone(&Utc);
                if at > after {
                    return Some(earliest(pending, Fire { at, dst: None }));
                }
                // Same offset onwards: local + (after - at) is where instants pass `after`.
                cursor = skip_within_regime(tz, local, local + (after - at));
            }
            LocalResult::Ambiguous(a, b) => {
                let first = a.with_timezone(&Utc).min(b.with_timezone(&Utc));
                let second = a.with_timezone(&Utc).max(b.with_timezone(&Utc));
                let walk = FoldWalk {
                    tz,
                    fold,
                    after,
                    local,
                };
                match walk.step(first, second, &mut pending, &mut pending_limit) {
                    FoldStep::Fire(fire) => return Some(earliest(pending, fire)),
                    FoldStep::GoOn(next) => cursor = next,
                }
            }
            LocalResult::None if policy.gap == Gap::Skip => {
                // The local time does not exist that day: nothing fires for it.
                cursor = local;
            }
            LocalResult::None => {
                let Some(transition) = first_instant_after_gap(tz, local) else {
                    cursor = local;
                    continue;
                };
                let at = transition.and_utc();
                let reading = at.with_timezone(&tz).naive_local();
                if at > after {
                    // The first local time after the gap may be a regular fire of its own.
                    let dst = (!expr.matches(reading)).then_some(DstMark::Shifted);
                    return Some(earliest(pending, Fire { at, dst }));
                }
                cursor = local.max(add_seconds(reading, -1).unwrap_or(local));
            }
        }
    }
    pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("bad test instant {text}: {e}"))
            .with_timezone(&Utc)
    }

    fn cron_trigger(expr: &str, tz: &str) -> Trigger {
        Trigger::cron(expr, tz).unwrap_or_else(|e| panic!("`{expr}` in {tz} should parse: {e}"))
    }

    /// Renders fires as `instant mark` strings, for readable comparisons.
    fn render(fires: impl Iterator<Item = Fire>) -> Vec<String> {
        fires
            .map(|fire| match fire.dst {
                None => fire.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                Some(mark) => format!(
                    "{} {mark}",
                    fire.at.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            })
            .collect()
    }

    /// (description, expression, timezone, after, expected fires in order)
    const DST_CASES: &[(&str, &str, &str, &str, &[&str])] = &[
        (
            "Berlin spring forward: daily 02:30 shifted to 03:00 CEST",
            "30 2 * * *",
            "Europe/Berlin",
            "2026-03-27T12:00:00Z",
            &[
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:00:00Z shifted",
                "2026-03-30T00:30:00Z",
            ],
        ),
        (
            "Berlin fall back: daily 02:30 runs once, at the first 02:30 (CEST)",
            "30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00Z",
            &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        ),
        (
            "Berlin spring forward: hourly, 03:00 CEST is a regular run",
            "0 * * * *",
            "Europe/Berlin",
            "2026-03-28T23:30:00Z",
            &[
                "2026-03-29T00:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T02:00:00Z",
            ],
        ),
        (
            "Berlin fall back: hourly runs at both 02:00",
            "0 * * * *",
            "Europe/Berlin",
            "2026-10-24T23:30:00Z",
            &[
                "2026-10-25T00:00:00Z",
                "2026-10-25T01:00:00Z repeated",
                "2026-10-25T02:00:00Z",
                "2026-10-25T03:00:00Z",
            ],
        ),
        (
            "Berlin spring forward: every 15 minutes, the gap collapses onto 03:00",
            "*/15 * * * *",
            "Europe/Berlin",
            "2026-03-29T00:20:00Z",
            &[
                "2026-03-29T00:30:00Z",
                "2026-03-29T00:45:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T01:15:00Z",
            ],
        ),
        (
            "Berlin spring forward: 02:10 and 02:50 both shift onto one run",
            "10,50 * * * *",
            "Europe/Berlin",
            "2026-03-29T00:20:00Z",
            &[
                "2026-03-29T00:50:00Z",
                "2026-03-29T01:00:00Z shifted",
                "2026-03-29T01:10:00Z",
            ],
        ),
        (
            "Berlin fall back: every 15 minutes through both passes of 02:xx",
            "*/15 * * * *",
            "Europe/Berlin",
            "2026-10-25T00:20:00Z",
            &[
                "2026-10-25T00:30:00Z",
                "2026-10-25T00:45:00Z",
                "2026-10-25T01:00:00Z repeated",
                "2026-10-25T01:15:00Z repeated",
                "2026-10-25T01:30:00Z repeated",
                "2026-10-25T01:45:00Z repeated",
                "2026-10-25T02:00:00Z",
            ],
        ),
        (
            "New York spring forward: daily 02:30 shifted to 03:00 EDT",
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            &["2026-03-08T07:00:00Z shifted", "2026-03-09T06:30:00Z"],
        ),
        (
            "New York fall back: daily 01:30 runs once, at 01:30 EDT",
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        ),
        (
            "New York fall back: daily 02:30 is unaffected",
            "30 2 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"],
        ),
        (
            "New York spring forward: hourly",
            "0 * * * *",
            "America/New_York",
            "2026-03-08T05:30:00Z",
            &[
                "2026-03-08T06:00:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-08T08:00:00Z",
            ],
        ),
        (
            "New York fall back: hourly runs at 01:00 EDT and 01:00 EST",
            "0 * * * *",
            "America/New_York",
            "2026-11-01T03:30:00Z",
            &[
                "2026-11-01T04:00:00Z",
                "2026-11-01T05:00:00Z",
                "2026-11-01T06:00:00Z repeated",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: every 15 minutes, in real-time order",
            "*/15 * * * *",
            "America/New_York",
            "2026-11-01T04:50:00Z",
            &[
                "2026-11-01T05:00:00Z",
                "2026-11-01T05:15:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T05:45:00Z",
                "2026-11-01T06:00:00Z repeated",
                "2026-11-01T06:15:00Z repeated",
                "2026-11-01T06:30:00Z repeated",
                "2026-11-01T06:45:00Z repeated",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: from inside the first pass, the second pass is not skipped",
            "0,55 * * * *",
            "America/New_York",
            "2026-11-01T05:50:00Z",
            &[
                "2026-11-01T05:55:00Z",
                "2026-11-01T06:00:00Z repeated",
                "2026-11-01T06:55:00Z repeated",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: late in the first pass, the next run is 01:00 EST",
            "0,10 * * * *",
            "America/New_York",
            "2026-11-01T05:50:00Z",
            &[
                "2026-11-01T06:00:00Z repeated",
                "2026-11-01T06:10:00Z repeated",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: from inside the second pass",
            "*/15 * * * *",
            "America/New_York",
            "2026-11-01T06:20:00Z",
            &[
                "2026-11-01T06:30:00Z repeated",
                "2026-11-01T06:45:00Z repeated",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: fixed hours 0-22 every 20 minutes run the fold once",
            "*/20 0-22 * * *",
            "America/New_York",
            "2026-11-01T05:10:00Z",
            &[
                "2026-11-01T05:20:00Z",
                "2026-11-01T05:40:00Z",
                "2026-11-01T07:00:00Z",
            ],
        ),
        (
            "New York fall back: every second crosses the fold in order",
            "* * * * * *",
            "America/New_York",
            "2026-11-01T05:59:58Z",
            &[
                "2026-11-01T05:59:59Z",
                "2026-11-01T06:00:00Z repeated",
                "2026-11-01T06:00:01Z repeated",
            ],
        ),
        (
            "Lord Howe spring forward by 30 minutes: 02:15 shifted to 02:30",
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-03T00:00:00Z",
            &["2026-10-03T15:30:00Z shifted", "2026-10-04T15:15:00Z"],
        ),
        (
            "Lord Howe fall back by 30 minutes: every 10 minutes",
            "*/10 * * * *",
            "Australia/Lord_Howe",
            "2026-04-04T14:35:00Z",
            &[
                "2026-04-04T14:40:00Z",
                "2026-04-04T14:50:00Z",
                "2026-04-04T15:00:00Z repeated",
                "2026-04-04T15:10:00Z repeated",
                "2026-04-04T15:20:00Z repeated",
                "2026-04-04T15:30:00Z",
            ],
        ),
        (
            "Apia skipped 30 December 2011 entirely: shifted to 31 December 00:00",
            "0 12 * * *",
            "Pacific/Apia",
            "2011-12-29T12:00:00Z",
            &[
                "2011-12-29T22:00:00Z",
                "2011-12-30T10:00:00Z shifted",
                "2011-12-30T22:00:00Z",
            ],
        ),
    ];

    #[test]
    fn cron_fires_follow_the_dst_case_table() {
        for (description, expr, tz, after, expected) in DST_CASES {
            let trigger = cron_trigger(expr, tz);
            let got = render(trigger.fires_after(utc(after)).take(expected.len()));
            assert_eq!(
                &got, expected,
                "{description}: `{expr}` in {tz} after {after}"
            );
        }
    }

    #[test]
    fn every_step_of_a_dst_sequence_is_the_next_fire_after_any_instant_before_it() {
        // From every minute between two fires, next_fire_after must give the later fire.
        for (description, expr, tz, after, expected) in DST_CASES {
            let trigger = cron_trigger(expr, tz);
            let fires: Vec<Fire> = trigger
                .fires_after(utc(after))
                .take(expected.len())
                .collect();
            let mut from = utc(after);
            for fire in fires {
                while from < fire.at {
                    assert_eq!(
                        trigger.next_fire_after(from),
                        Some(fire),
                        "{description}: next after {from}"
                    );
                    from += TimeDelta::seconds(37);
                }
                from = fire.at;
            }
        }
    }

    #[test]
    fn cron_in_utc_and_sub_second_after() {
        let trigger = cron_trigger("* * * * * *", "UTC");
        assert_eq!(
            trigger.next_fire_after(utc("2026-11-28T12:00:00.500Z")),
            Some(Fire {
                at: utc("2026-11-28T12:00:01Z"),
                dst: None
            }),
            "next second after 12:00:00.500 is 12:00:01"
        );
        let monday = cron_trigger("0 9 * * 1", "UTC");
        assert_eq!(
            monday
                .next_fire_after(utc("2026-11-30T09:00:00Z"))
                .map(|f| f.at),
            Some(utc("2026-12-07T09:00:00Z")),
            "strictly after: Monday 09:00 from Monday 09:00 is next week"
        );
        let kolkata = cron_trigger("0 9 * * 1", "Asia/Kolkata");
        assert_eq!(
            kolkata
                .next_fire_after(utc("2026-11-28T00:00:00Z"))
                .map(|f| f.at),
            Some(utc("2026-11-30T03:30:00Z")),
            "Monday 09:00 in Kolkata is 03:30 UTC"
        );
    }

    #[test]
    fn cron_far_away_instants_do_not_panic() {
        let trigger = cron_trigger("*/15 * * * *", "Europe/Berlin");
        for after in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = trigger.next_fire_after(after);
        }
        assert_eq!(
            trigger.next_fire_after(DateTime::<Utc>::MAX_UTC),
            None,
            "none at the end of time"
        );
        assert!(
            trigger.next_fire_after(DateTime::<Utc>::MIN_UTC).is_some(),
            "a fire after the beginning of time"
        );
    }

    #[test]
    fn interval_fires_follow_the_case_table() {
        let start = utc("2026-11-28T12:00:00Z");
        let end = Some(utc("2026-11-28T15:00:00Z"));
        // (description, end_at, after, expected next fire)
        type Case<'a> = (&'a str, Option<DateTime<Utc>>, &'a str, Option<&'a str>);
        let cases: &[Case] = &[
            (
                "first fire is start_at",
                None,
                "2026-11-28T11:00:00Z",
                Some("2026-11-28T12:00:00Z"),
            ),
            (
                "first fire is start_at, just before",
                None,
                "2026-11-28T11:59:59.999Z",
                Some("2026-11-28T12:00:00Z"),
            ),
            (
                "strictly after start_at",
                None,
                "2026-11-28T12:00:00Z",
                Some("2026-11-28T13:00:00Z"),
            ),
            (
                "between fires",
                None,
                "2026-11-28T12:30:00Z",
                Some("2026-11-28T13:00:00Z"),
            ),
            (
                "just before a fire",
                None,
                "2026-11-28T12:59:59.999Z",
                Some("2026-11-28T13:00:00Z"),
            ),
            (
                "on a fire",
                None,
                "2026-11-28T13:00:00Z",
                Some("2026-11-28T14:00:00Z"),
            ),
            (
                "a year later",
                None,
                "2027-11-28T12:00:00.5Z",
                Some("2027-11-28T13:00:00Z"),
            ),
            (
                "end_at is inclusive",
                end,
                "2026-11-28T14:30:00Z",
                Some("2026-11-28T15:00:00Z"),
            ),
            (
                "end_at reached: finished",
                end,
                "2026-11-28T15:00:00Z",
                None,
            ),
            ("past end_at: finished", end, "2026-12-28T15:00:00Z", None),
        ];
        for (description, end_at, after, expected) in cases {
            let trigger = Trigger::interval(3600, start, *end_at)
                .unwrap_or_else(|e| panic!("{description}: {e}"));
            assert_eq!(
                trigger.next_fire_after(utc(after)),
                expected.map(|at| Fire {
                    at: utc(at),
                    dst: None
                }),
                "{description}: after {after}"
            );
        }
    }

    #[test]
    fn a_bounded_interval_stops_at_its_end_and_the_longest_at_the_end_of_time() {
        let start = utc("2026-11-28T12:00:00Z");
        let end = Some(utc("2026-11-28T15:00:00Z"));
        let bounded = Trigger::interval(3600, start, end).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            render(bounded.fires_after(utc("2026-01-01T00:00:00Z"))),
            [
                "2026-11-28T12:00:00Z",
                "2026-11-28T13:00:00Z",
                "2026-11-28T14:00:00Z",
                "2026-11-28T15:00:00Z"
            ],
            "a bounded interval fires from start_at to end_at inclusive, then stops"
        );
        let longest = Trigger::interval(
            MAX_INTERVAL_SECONDS,
            DateTime::<Utc>::MAX_UTC - TimeDelta::days(1),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            longest.next_fire_after(DateTime::<Utc>::MAX_UTC - TimeDelta::hours(1)),
            None,
            "no overflow past the end of time"
        );
    }

    #[test]
    fn date_trigger_fires_once() {
        let run_at = utc("2026-12-01T00:00:00Z");
        let trigger = Trigger::Date { run_at };
        assert_eq!(
            render(trigger.fires_after(utc("2026-11-28T00:00:00Z"))),
            ["2026-12-01T00:00:00Z"],
            "one fire, then finished"
        );
        assert_eq!(trigger.next_fire_after(run_at), None, "not again at run_at");
        assert_eq!(
            trigger
                .next_fire_after(run_at - TimeDelta::milliseconds(1))
                .map(|f| f.at),
            Some(run_at),
            "fires at run_at from just before"
        );
    }

    #[test]
    fn constructors_reject_bad_input_with_a_message_naming_the_problem() {
        let start = utc("2026-11-28T12:00:00Z");
        let cases: Vec<(&str, Result<Trigger, TriggerError>, &str)> = vec![
            (
                "interval 0",
                Trigger::interval(0, start, None),
                "interval seconds must be between 1 and 315360000, got 0",
            ),
            (
                "interval too long",
                Trigger::interval(315_360_001, start, None),
                "interval seconds must be between 1 and 315360000, got 315360001",
            ),
            (
                "end_at equal to start_at",
                Trigger::interval(60, start, Some(start)),
                "end_at must be after start_at",
            ),
            (
                "end_at before start_at",
                Trigger::interval(60, start, Some(start - TimeDelta::seconds(1))),
                "end_at must be after start_at",
            ),
            (
                "unknown timezone",
                Trigger::cron("0 * * * *", "Mars/Base"),
                "unknown timezone `Mars/Base`: expected an IANA name such as `Europe/Berlin` or `UTC`",
            ),
            (
                "empty timezone",
                Trigger::cron("0 * * * *", ""),
                "unknown timezone ``",
            ),
            (
                "timezone in lowercase",
                Trigger::cron("0 * * * *", "europe/berlin"),
                "unknown timezone `europe/berlin`",
            ),
            (
                "bad cron checked before the timezone",
                Trigger::cron("61 * * * *", "Mars/Base"),
                "invalid cron expression `61 * * * *`: minute value 61 is out of range 0-59",
            ),
            (
                "never fires",
                Trigger::cron("0 0 30 2 *", "UTC"),
                "cron expression `0 0 30 2 *` never fires",
            ),
        ];
        for (description, result, expected) in cases {
            match result {
                Ok(trigger) => panic!("{description}: should be rejected, got {trigger:?}"),
                Err(error) => assert!(
                    error.to_string().starts_with(expected),
                    "{description}: got `{error}`, expected `{expected}`"
                ),
            }
        }
        assert!(
            Trigger::interval(1, start, None).is_ok(),
            "1 second is the shortest interval"
        );
        assert!(
            Trigger::interval(315_360_000, start, None).is_ok(),
            "10 years is the longest"
        );
        assert!(
            Trigger::interval(60, start, Some(start + TimeDelta::seconds(1))).is_ok(),
            "end_at just after start_at"
        );
    }

    #[test]
    fn timezones_parse_by_iana_name() {
        for name in [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "Pacific/Apia",
        ] {
            assert_eq!(parse_timezone(name).map(|tz| tz.name()), Ok(name), "{name}");
        }
    }

    #[test]
    fn kind_details_and_timezone_describe_the_trigger() {
        let start = utc("2026-11-28T12:00:00Z");
        let cases: Vec<(&str, Trigger, TriggerKind, &str, Tz)> = vec![
            (
                "date",
                Trigger::Date {
                    run_at: utc("2026-12-01T00:00:00Z"),
                },
                TriggerKind::Date,
                "2026-12-01T00:00:00.000Z",
                Tz::UTC,
            ),
            (
                "date with millis",
                Trigger::Date {
                    run_at: utc("2026-12-01T00:00:00.123456Z"),
                },
                TriggerKind::Date,
                "2026-12-01T00:00:00.123Z",
                Tz::UTC,
            ),
            (
                "interval",
                Trigger::Interval {
                    seconds: 3600,
                    start_at: start,
                    end_at: None,
                },
                TriggerKind::Interval,
                "every 3600 seconds",
                Tz::UTC,
            ),
            (
                "cron as given",
                cron_trigger("0 3 * * MON-fri", "Europe/Berlin"),
                TriggerKind::Cron,
                "0 3 * * MON-fri",
                Tz::Europe__Berlin,
            ),
            (
                "cron macro",
                cron_trigger("@daily", "America/New_York"),
                TriggerKind::Cron,
                "@daily",
                Tz::America__New_York,
            ),
        ];
        for (description, trigger, kind, details, tz) in cases {
            assert_eq!(trigger.kind(), kind, "{description}: kind");
            assert_eq!(trigger.details(), details, "{description}: details");
            assert_eq!(trigger.timezone(), tz, "{description}: timezone");
        }
    }

    #[test]
    fn kinds_and_marks_have_stable_names() {
        for kind in [TriggerKind::Date, TriggerKind::Interval, TriggerKind::Cron] {
            assert_eq!(
                kind.as_str().parse::<TriggerKind>(),
                Ok(kind),
                "{kind} round trip"
            );
            assert_eq!(kind.to_string(), kind.as_str(), "{kind} Display");
        }
        assert_eq!(
            "weekly".parse::<TriggerKind>().map_err(|e| e.to_string()),
            Err("unknown trigger type `weekly`: expected `date`, `interval` or `cron`".to_owned()),
            "unknown kind"
        );
        assert_eq!(DstMark::Shifted.as_str(), "shifted", "shifted");
        assert_eq!(DstMark::Repeated.as_str(), "repeated", "repeated");
    }

    const PROPTEST_ZONES: [&str; 6] = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Apia",
    ];

    /// One field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n` or a two-item list.
    fn field(min: u32, max: u32) -> impl Strategy<Value = String> {
        let value = min..=max;
        prop_oneof![
            Just("*".to_owned()),
            (1..=(max - min + 1)).prop_map(|n| format!("*/{n}")),
            value.clone().prop_map(|a| a.to_string()),
            (value.clone(), value.clone()).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (value.clone(), value.clone(), 1..=4u32).prop_map(|(a, b, n)| format!(
                "{}-{}/{n}",
                a.min(b),
                a.max(b)
            )),
            (value.clone(), 1..=7u32).prop_map(|(a, n)| format!("{a}/{n}")),
            (value.clone(), value).prop_map(|(a, b)| format!("{a},{b}")),
        ]
    }

    /// Valid-looking expressions; those that never fire are filtered out by the tests.
    fn expression() -> impl Strategy<Value = String> {
        (
            proptest::option::of(field(0, 59)),
            field(0, 59),
            field(0, 23),
            field(1, 31),
            field(1, 12),
            field(0, 7),
        )
            .prop_map(|(second, minute, hour, dom, month, dow)| match second {
                Some(second) => format!("{second} {minute} {hour} {dom} {month} {dow}"),
                None => format!("{minute} {hour} {dom} {month} {dow}"),
            })
    }

    /// Instants 2000-2100, with sub-second parts.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (946_684_800i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
            DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn cron_fires_are_later_strictly_increasing_and_match(
            expr in expression(),
            zone in 0..PROPTEST_ZONES.len(),
            after in instant(),
        ) {
            let Ok(cron) = CronExpr::parse(&expr) else {
                return Ok(());
            };
            let tz = parse_timezone(PROPTEST_ZONES[zone]).unwrap_or(Tz::UTC);
            let trigger = Trigger::Cron { expr: cron.clone(), timezone: tz, dst: DstPolicy::default() };
            let mut previous = after;
            for fire in trigger.fires_after(after).take(50) {
                prop_assert!(fire.at > previous, "`{}` in {}: {:?} not after {}", expr, tz, fire, previous);
                let local = fire.at.with_timezone(&tz).naive_local();
                match fire.dst {
                    None | Some(DstMark::Repeated) => prop_assert!(
                        cron.matches(local), "`{}` in {}: {} ({}) does not match", expr, tz, fire.at, local
                    ),
                    Some(DstMark::Shifted) => prop_assert!(
                        !cron.matches(local), "`{}` in {}: shifted fire {} lands on a match", expr, tz, fire.at
                    ),
                }
                previous = fire.at;
            }
        }

        /// Near each DST transition of a random year, the fires equal a minute-by-minute
        /// oracle built from the DESIGN.md rules: nothing lost, doubled or out of order.
        #[test]
        fn cron_fires_near_dst_transitions_match_a_brute_force_oracle(
            minute in field(0, 59),
            hour in field(0, 23),
            zone in 1..PROPTEST_ZONES.len(),
            year in 2000i32..2037,
        ) {
            let expr = format!("{minute} {hour} * * *");
            let Ok(cron) = CronExpr::parse(&expr) else {
                return Ok(());
            };
            let tz = parse_timezone(PROPTEST_ZONES[zone]).unwrap_or(Tz::UTC);
            let trigger = Trigger::Cron { expr: cron.clone(), timezone: tz, dst: DstPolicy::default() };
            for transition in transitions_in_year(tz, year) {
                let from = transition - TimeDelta::hours(30);
                let to = transition + TimeDelta::hours(30);
                let expected = oracle(&cron, tz, from, to);
                let got: Vec<Fire> = trigger.fires_after(from).take_while(|f| f.at <= to).collect();
                prop_assert_eq!(got, expected, "`{}` in {} around {}", expr, tz, transition);
            }
        }
    }

    /// Instants where the offset of `tz` changes during `year` (minute precision).
    fn transitions_in_year(tz: Tz, year: i32) -> Vec<DateTime<Utc>> {
        let offset = |t: DateTime<Utc>| offset_at(tz, t.naive_utc());
        let mut found = Vec::new();
        let Some(mut hour) = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
        else {
            return found;
        };
        let end = hour + TimeDelta::days(366);
        while hour < end {
            let next = hour + TimeDelta::hours(1);
            if offset(hour) != offset(next) {
                let mut minute = hour;
                while offset(minute) == offset(hour) {
                    minute += TimeDelta::minutes(1);
                }
                found.push(minute);
            }
            hour = next;
        }
        found
    }

    /// The fires in (from, to] by the DESIGN.md rules, checking every UTC minute.
    fn oracle(cron: &CronExpr, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Fire> {
        oracle_with(cron, tz, DstPolicy::default(), from, to)
    }

    /// The fires in (from, to] under `policy`, checking every UTC minute: a gap's matches
    /// become one fire at the first instant after it (`shift`) or none (`skip`); a fold's
    /// matches fire at their first instant, their second, or both, as `policy` says.
    fn oracle_with(
        cron: &CronExpr,
        tz: Tz,
        policy: DstPolicy,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Fire> {
        let fold = policy.fold_for(cron.has_fixed_hour());
        let mut fires = Vec::new();
        let mut at = from + TimeDelta::minutes(1);
        while at <= to {
            let local = at.with_timezone(&tz).naive_local();
            let previous_offset = offset_at(tz, (at - TimeDelta::minutes(1)).naive_utc());
            let offset = offset_at(tz, at.naive_utc());
            if offset > previous_offset {
                // A gap: local times [at + previous offset, at + offset) do not exist.
                let gap_start = at.naive_utc() + TimeDelta::seconds(previous_offset);
                let gap_has_match = (0..(offset - previous_offset) / 60)
                    .any(|m| cron.matches(gap_start + TimeDelta::minutes(m)));
                if policy.gap == Gap::Shift && gap_has_match && !cron.matches(local) {
                    fires.push(Fire {
                        at,
                        dst: Some(DstMark::Shifted),
                    });
                }
            }
            if cron.matches(local) {
                match tz.from_local_datetime(&local) {
                    LocalResult::Ambiguous(a, b) => {
                        let first = a.with_timezone(&Utc).min(b.with_timezone(&Utc));
                        if at == first {
                            if fold != Fold::Last {
                                fires.push(Fire { at, dst: None });
                            }
                        } else if fold != Fold::First {
                            fires.push(Fire {
                                at,
                                dst: Some(DstMark::Repeated),
                            });
                        }
                    }
                    _ => fires.push(Fire { at, dst: None }),
                }
            }
            at += TimeDelta::minutes(1);
        }
        fires
    }

    /// Every DST policy, in zones whose changes are an hour (Berlin, New York, Santiago in the
    /// southern hemisphere) or half an hour (Lord Howe), for fixed-hour and repeating
    /// schedules: the fires near each change of 2026 equal the oracle's, in order.
    #[test]
    fn each_dst_policy_matches_the_oracle_in_several_zones() {
        let zones = [
            "Europe/Berlin",
            "America/New_York",
            "America/Santiago",
            "Australia/Lord_Howe",
        ];
        let exprs = [
            "30 2 * * *",
            "*/15 * * * *",
            "0 * * * *",
            "10,40 1,2 * * *",
            "*/10 2 * * *",
        ];
        let folds = [None, Some(Fold::First), Some(Fold::Last), Some(Fold::Both)];
        let mut compared = 0;
        for zone in zones {
            let tz = parse_timezone(zone).expect("zone");
            let changes = transitions_in_year(tz, 2026);
            assert_eq!(changes.len(), 2, "{zone} changes twice in 2026");
            for expr in exprs {
                let cron = CronExpr::parse(expr).expect("expr");
                for gap in [Gap::Shift, Gap::Skip] {
                    for fold in folds {
                        let policy = DstPolicy { gap, fold };
                        let trigger = Trigger::cron(expr, zone).expect("trigger").with_dst(policy);
                        for change in &changes {
                            let (from, to) = (
                                *change - TimeDelta::hours(30),
                                *change + TimeDelta::hours(30),
                            );
                            let expected = oracle_with(&cron, tz, policy, from, to);
                            let got: Vec<Fire> = trigger
                                .fires_after(from)
                                .take_while(|f| f.at <= to)
                                .collect();
                            assert_eq!(
                                got, expected,
                                "`{expr}` in {zone} around {change} with {policy:?}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 5 * 2 * 4 * 2);
    }

    /// The policies differ where they should: in Berlin on the spring-forward day a daily
    /// 02:30 shifts to 03:00 or is skipped; on the fall-back day it fires at the first 02:30,
    /// the second, or both.
    #[test]
    fn the_policies_change_only_the_gap_and_the_fold() {
        let fires = |policy: DstPolicy, after: &str| {
            render(
                Trigger::cron("30 2 * * *", "Europe/Berlin")
                    .expect("trigger")
                    .with_dst(policy)
                    .fires_after(utc(after))
                    .take(3),
            )
        };
        let skip = DstPolicy {
            gap: Gap::Skip,
            fold: None,
        };
        assert_eq!(
            fires(skip, "2026-03-27T12:00:00Z"),
            [
                "2026-03-28T01:30:00Z",
                "2026-03-30T00:30:00Z",
                "2026-03-31T00:30:00Z"
            ]
        );
        let fold = |fold| DstPolicy {
            gap: Gap::Shift,
            fold: Some(fold),
        };
        assert_eq!(
            fires(fold(Fold::First), "2026-10-24T12:00:00Z"),
            [
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z",
                "2026-10-27T01:30:00Z"
            ]
        );
        assert_eq!(
            fires(fold(Fold::Last), "2026-10-24T12:00:00Z"),
            [
                "2026-10-25T01:30:00Z repeated",
                "2026-10-26T01:30:00Z",
                "2026-10-27T01:30:00Z"
            ]
        );
        assert_eq!(
            fires(fold(Fold::Both), "2026-10-24T12:00:00Z"),
            [
                "2026-10-25T00:30:00Z",
                "2026-10-25T01:30:00Z repeated",
                "2026-10-26T01:30:00Z"
            ]
        );
    }
}
