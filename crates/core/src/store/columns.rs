//! A job's trigger and settings as the columns every engine stores them in (`trigger_type`,
//! `cron_expr`, `timezone`, `interval_seconds`, `start_at`, `end_at`, `run_at`, and the integer
//! settings), and back. Shared so that both backends rebuild a `Job` by the same rules and
//! name a bad hand edit the same way; each backend only converts its own column types.

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::model::{
    Exclusive, ExclusivePolicy, Expect, HealthCounters, HistoryLimits, MAX_ATTEMPTS, MAX_GROUP_LEN,
    PauseNote, RetryPolicy, SkipRequest, valid_group,
};
use crate::schedule::{DstPolicy, Fold, Gap, Trigger};

/// A trigger spread over its columns, instants already read as such.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerColumns {
    /// `date`, `interval` or `cron`.
    pub trigger_type: String,
    /// cron: the expression as given.
    pub cron_expr: Option<String>,
    /// cron: the IANA zone it is evaluated in (`UTC` for the others).
    pub timezone: String,
    /// interval: the period.
    pub interval_seconds: Option<i64>,
    /// interval: the first occurrence.
    pub start_at: Option<DateTime<Utc>>,
    /// interval: no occurrence after this.
    pub end_at: Option<DateTime<Utc>>,
    /// date: the one occurrence.
    pub run_at: Option<DateTime<Utc>>,
    /// cron: its own gap rule (`shift`, `skip`); NULL: the default.
    pub dst_gap: Option<String>,
    /// cron: its own fold rule (`first`, `last`, `both`); NULL: the default.
    pub dst_fold: Option<String>,
}

impl TriggerColumns {
    /// The columns of `trigger`.
    pub fn of(trigger: &Trigger) -> TriggerColumns {
        let mut cols = TriggerColumns {
            trigger_type: trigger.kind().as_str().to_string(),
            cron_expr: None,
            timezone: trigger.timezone().name().to_string(),
            interval_seconds: None,
            start_at: None,
            end_at: None,
            run_at: None,
            dst_gap: None,
            dst_fold: None,
        };
        (cols.dst_gap, cols.dst_fold) = dst_columns(trigger);
        match trigger {
            Trigger::Date { run_at } => cols.run_at = Some(*run_at),
            Trigger::Interval {
                seconds,
                start_at,
                end_at,
            } => {
                cols.interval_seconds = Some(i64::try_from(*seconds).unwrap_or(i64::MAX));
                cols.start_at = Some(*start_at);
                cols.end_at = *end_at;
            }
            Trigger::Cron { expr, .. } => cols.cron_expr = Some(expr.as_str().to_string()),
        }
        cols
    }

    /// The trigger these columns of the `jobs` row `key` hold, or why they hold none.
    pub fn into_trigger(self, key: &str) -> Result<Trigger, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt("jobs", key, reason);
        match self.trigger_type.as_str() {
            "cron" => {
                let expr = self
                    .cron_expr
                    .as_deref()
                    .ok_or_else(|| corrupt("cron_expr is NULL".into()))?;
                let dst = dst_policy(key, self.dst_gap.as_deref(), self.dst_fold.as_deref())?;
                Trigger::cron(expr, &self.timezone)
                    .map(|t| t.with_dst(dst))
                    .map_err(|e| corrupt(e.to_string()))
            }
            "interval" => {
                let seconds = self
                    .interval_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| corrupt("interval_seconds is NULL or negative".into()))?;
                let start_at = self
                    .start_at
                    .ok_or_else(|| corrupt("start_at is NULL".into()))?;
                Trigger::interval(seconds, start_at, self.end_at)
                    .map_err(|e| corrupt(e.to_string()))
            }
            "date" => {
                let run_at = self
                    .run_at
                    .ok_or_else(|| corrupt("run_at is NULL".into()))?;
                Ok(Trigger::Date { run_at })
            }
            other => Err(corrupt(format!("unknown trigger_type `{other}`"))),
        }
    }
}

/// The DST columns of `trigger`: NULL where it follows the default (and for non-cron ones).
pub fn dst_columns(trigger: &Trigger) -> (Option<String>, Option<String>) {
    let dst = trigger.dst();
    let gap = (dst.gap != Gap::default()).then(|| dst.gap.as_str().to_string());
    (gap, dst.fold.map(|f| f.as_str().to_string()))
}

/// The DST policy in the `dst_gap` and `dst_fold` columns of the `jobs` row `key`.
pub fn dst_policy(
    key: &str,
    gap: Option<&str>,
    fold: Option<&str>,
) -> Result<DstPolicy, StoreError> {
    let corrupt =
        |column: &str, e: String| StoreError::corrupt("jobs", key, format!("{column}: {e}"));
    Ok(DstPolicy {
        gap: gap
            .map(str::parse::<Gap>)
            .transpose()
            .map_err(|e| corrupt("dst_gap", e))?
            .unwrap_or_default(),
        fold: fold
            .map(str::parse::<Fold>)
            .transpose()
            .map_err(|e| corrupt("dst_fold", e))?,
    })
}

/// The exclusive group in the `exclusive_group` and `exclusive_policy` columns of the `jobs` row
/// `key` (the migration's CHECK keeps them NULL together; a hand edit that breaks that is
/// reported, not guessed at).
pub fn exclusive(
    key: &str,
    group: Option<String>,
    policy: Option<&str>,
) -> Result<Option<Exclusive>, StoreError> {
    let corrupt = |reason: String| StoreError::corrupt("jobs", key, reason);
    match (group, policy) {
        (None, None) => Ok(None),
        (Some(group), Some(policy)) => {
            if !valid_group(&group) {
                return Err(corrupt(format!(
                    "exclusive_group: `{group}` is not 1 to {MAX_GROUP_LEN} of A-Z a-z 0-9 . _ : -"
                )));
            }
            let policy = policy
                .parse::<ExclusivePolicy>()
                .map_err(|e| corrupt(format!("exclusive_policy: {e}")))?;
            Ok(Some(Exclusive { group, policy }))
        }
        (Some(_), None) => Err(corrupt(
            "exclusive_policy is NULL while exclusive_group is set".into(),
        )),
        (None, Some(_)) => Err(corrupt(
            "exclusive_group is NULL while exclusive_policy is set".into(),
        )),
    }
}

/// The `exclusive_group` and `exclusive_policy` columns of `exclusive`.
pub fn exclusive_columns(exclusive: Option<&Exclusive>) -> (Option<&str>, Option<&'static str>) {
    (
        exclusive.map(|e| e.group.as_str()),
        exclusive.map(|e| e.policy.as_str()),
    )
}

/// An integer setting of the `jobs` row `key` (`column` holds `value`), refused below `min` or
/// past `u32`.
pub fn setting(key: &str, column: &str, value: i64, min: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .ok()
        .filter(|v| i64::from(*v) >= min)
        .ok_or_else(|| {
            StoreError::corrupt("jobs", key, format!("{column}: {value} is out of range"))
        })
}

/// The `attempt` of the `job_runs` row `key`, refused outside 1 to [`MAX_ATTEMPTS`] (the
/// column's CHECK keeps it there; this guards a row whose CHECK was bypassed).
pub fn attempt(key: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .ok()
        .filter(|a| (1..=MAX_ATTEMPTS).contains(a))
        .ok_or_else(|| {
            StoreError::corrupt("job_runs", key, format!("attempt: {value} is out of range"))
        })
}

/// A `jobs` row's pause columns as a [`PauseNote`]: `None` unless the job is
/// paused with `paused_by` and `paused_at` set (a job created paused by its definition has no
/// note; a note left on an active job by a hand edit is ignored).
pub fn pause_note(
    paused: bool,
    by: Option<String>,
    at: Option<DateTime<Utc>>,
    reason: Option<String>,
    until: Option<DateTime<Utc>>,
) -> Option<PauseNote> {
    match (paused, by, at) {
        (true, Some(by), Some(at)) => Some(PauseNote {
            by,
            at,
            reason,
            until,
        }),
        _ => None,
    }
}

/// The skip columns of the `jobs` row `key` as a [`SkipRequest`]: `None` when `skip_count` is 0.
pub fn skip_request(
    key: &str,
    count: i64,
    reason: Option<String>,
) -> Result<Option<SkipRequest>, StoreError> {
    let count = setting(key, "skip_count", count, 0)?;
    Ok((count > 0).then_some(SkipRequest { count, reason }))
}

/// The `expect` column of the `jobs` row `key` (JSON text) as an [`Expect`]; a hand edit that
/// is not one makes the row unreadable (the job shows `broken`).
pub fn expect_from_json(key: &str, json: &str) -> Result<Expect, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::corrupt("jobs", key, format!("expect: {e}")))
}

/// The `expect` column of the `jobs` row `key` (a JSON value) as an [`Expect`].
pub fn expect_from_value(key: &str, value: serde_json::Value) -> Result<Expect, StoreError> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::corrupt("jobs", key, format!("expect: {e}")))
}

/// The `history` column of the `jobs` row `key` (JSON text) as [`HistoryLimits`], checked:
/// a hand-edited zero would otherwise let the pruner empty the job's history.
pub fn history_from_json(key: &str, json: &str) -> Result<HistoryLimits, StoreError> {
    let limits = serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt("jobs", key, format!("history: {e}")))?;
    checked_history(key, limits)
}

/// The `history` column of the `jobs` row `key` (a JSON value) as [`HistoryLimits`], checked.
pub fn history_from_value(
    key: &str,
    value: serde_json::Value,
) -> Result<HistoryLimits, StoreError> {
    let limits = serde_json::from_value(value)
        .map_err(|e| StoreError::corrupt("jobs", key, format!("history: {e}")))?;
    checked_history(key, limits)
}

fn checked_history(key: &str, limits: HistoryLimits) -> Result<HistoryLimits, StoreError> {
    match limits.problem() {
        Some(problem) => Err(StoreError::corrupt(
            "jobs",
            key,
            format!("history.{problem}"),
        )),
        None => Ok(limits),
    }
}

/// The `retry` column of the `jobs` row `key` (JSON text) as a [`RetryPolicy`], checked: a
/// hand-edited policy out of range makes the job `broken` instead of retrying without end.
pub fn retry_from_json(key: &str, json: &str) -> Result<RetryPolicy, StoreError> {
    let policy = serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt("jobs", key, format!("retry: {e}")))?;
    checked_retry(key, policy)
}

/// The `retry` column of the `jobs` row `key` (a JSON value) as a [`RetryPolicy`], checked.
pub fn retry_from_value(key: &str, value: serde_json::Value) -> Result<RetryPolicy, StoreError> {
    let policy = serde_json::from_value(value)
        .map_err(|e| StoreError::corrupt("jobs", key, format!("retry: {e}")))?;
    checked_retry(key, policy)
}

fn checked_retry(key: &str, policy: RetryPolicy) -> Result<RetryPolicy, StoreError> {
    match policy.problem() {
        Some((field, why)) => Err(StoreError::corrupt(
            "jobs",
            key,
            format!("retry.{field}: {why}"),
        )),
        None => Ok(policy),
    }
}

/// The health counter columns of the `jobs` row `key`.
pub fn health_counters(
    key: &str,
    last_success_at: Option<DateTime<Utc>>,
    consecutive_failures: i64,
) -> Result<HealthCounters, StoreError> {
    Ok(HealthCounters {
        last_success_at,
        consecutive_failures: setting(key, "consecutive_failures", consecutive_failures, 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_survives_its_columns() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for trigger in [
            Trigger::Date { run_at: at },
            Trigger::interval(60, at, None).unwrap(),
            Trigger::cron("0 3 * * *", "Europe/Berlin").unwrap(),
        ] {
            assert_eq!(
                TriggerColumns::of(&trigger).into_trigger("j").unwrap(),
                trigger
            );
        }
    }

    #[test]
    fn bad_columns_name_the_row_and_the_problem() {
        let mut cols = TriggerColumns::of(&Trigger::cron("* * * * *", "UTC").unwrap());
        cols.cron_expr = None;
        assert_eq!(
            cols.into_trigger("nightly").unwrap_err().to_string(),
            "unreadable row in `jobs` (nightly): cron_expr is NULL"
        );
        assert!(setting("j", "max_instances", 0, 1).is_err());
        assert_eq!(setting("j", "max_instances", 3, 1).unwrap(), 3);
    }
}
