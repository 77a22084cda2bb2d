//! The shapes in which SQLite rows are read: one JSON object per row, keyed by column name,
//! decoded by serde into one struct per shape. Each shape's column list is written once, in
//! the [`shaped!`] macro, and every query reading that shape splices it in.
//!
//! Why JSON at all: sqlx's SQLite driver hands each result row from its worker thread through a
//! channel, and at burst rates that per-row hand-off cost more than the query itself (measured:
//! about half of a claim's time; BENCHMARKS.md). A batch read as ONE row holding a JSON array
//! of objects pays it once. Why objects with keys rather than arrays: a struct decoded by name
//! cannot silently swap two columns of the same type, and `deny_unknown_fields` turns a
//! misspelled key into an error instead of a `None`.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use super::{parse_opt_ts, parse_text, parse_ts};
use crate::actions::Action;
use crate::model::{Job, JobSettings, Run, RunKind};
use crate::schedule::Trigger;
use crate::store::StoreError;
use crate::store::columns::{
    attempt, dst_policy, exclusive, expect_from_json, health_counters, history_from_json,
    pause_note, retry_from_json, skip_request,
};

/// Calls a sqlx query macro on SQL given as pieces, where the bare names `JOB` and `RUN` stand
/// for the JSON object of a `jobs` / `job_runs` row (its keys are the fields of [`JobRow`] /
/// [`RunRow`]; the columns are unqualified, so the row is the innermost table in scope), and
/// `NOT_WAITING` for the condition that a row of `jobs` is not waiting for its exclusive group.
///
/// sqlx's macros take their SQL only as string literals joined by `+` (no constants), so the
/// shapes are spliced in here: `shaped!(query_scalar!(["SELECT " JOB " FROM jobs WHERE id = ?"], id))`.
macro_rules! shaped {
    ($mac:ident!([$($piece:tt)+] $(, $arg:expr)* $(,)?)) => {
        $crate::store::sqlite::rows::shaped!(@munch $mac, [], [$($piece)+], [$($arg),*])
    };
    (@munch $mac:ident, [$($done:tt)*], [JOB $($rest:tt)*], $args:tt) => {
        $crate::store::sqlite::rows::shaped!(@munch $mac, [$($done)* +
            "json_object('id', id, 'name', name, 'trigger_type', trigger_type, 'cron_expr', cron_expr,
                'timezone', timezone, 'interval_seconds', interval_seconds, 'start_at', start_at,
                'end_at', end_at, 'run_at', run_at, 'action', action, 'next_run_at', next_run_at,
                'paused', paused, 'misfire_grace_seconds', misfire_grace_seconds,
                'coalesce_missed', coalesce_missed, 'max_instances', max_instances,
                'jitter_seconds', jitter_seconds, 'created_at', created_at, 'updated_at', updated_at,
                'paused_by', paused_by, 'paused_at', paused_at, 'pause_reason', pause_reason,
                'paused_until', paused_until, 'skip_count', skip_count, 'skip_reason', skip_reason,
                'expect', expect, 'last_success_at', last_success_at,
                'consecutive_failures', consecutive_failures, 'history', history, 'retry', retry,
                'catch_up', catch_up, 'dst_gap', dst_gap, 'dst_fold', dst_fold,
                'exclusive_group', exclusive_group, 'exclusive_policy', exclusive_policy)"
        ], [$($rest)*], $args)
    };
    (@munch $mac:ident, [$($done:tt)*], [RUN $($rest:tt)*], $args:tt) => {
        $crate::store::sqlite::rows::shaped!(@munch $mac, [$($done)* +
            "json_object('id', id, 'job_id', job_id, 'scheduled_at', scheduled_at,
                'last_scheduled_at', last_scheduled_at, 'occurrences', occurrences, 'kind', kind,
                'status', status, 'started_at', started_at, 'finished_at', finished_at,
                'duration_ms', duration_ms, 'owner_id', owner_id, 'http_status', http_status,
                'exit_code', exit_code, 'output', output, 'error', error, 'attempt', attempt,
                'retry_delay_ms', retry_delay_ms, 'retry_at', retry_at)"
        ], [$($rest)*], $args)
    };
    // A due `jobs` row that is not waiting for its exclusive group: the `wait` policy leaves a
    // job due while a run of its group is running or waiting to retry, and the loop must not
    // claim (or wake for) it over and over meanwhile.
    (@munch $mac:ident, [$($done:tt)*], [NOT_WAITING $($rest:tt)*], $args:tt) => {
        $crate::store::sqlite::rows::shaped!(@munch $mac, [$($done)* +
            "NOT (jobs.exclusive_policy IS 'wait' AND EXISTS (
                 SELECT 1 FROM jobs AS g WHERE g.exclusive_group = jobs.exclusive_group
                 AND (EXISTS (SELECT 1 FROM job_runs AS r WHERE r.job_id = g.id AND r.status = 'running')
                      OR EXISTS (SELECT 1 FROM job_runs AS r
                                 WHERE r.job_id = g.id AND r.retry_at IS NOT NULL))))"
        ], [$($rest)*], $args)
    };
    (@munch $mac:ident, [$($done:tt)*], [$sql:literal $($rest:tt)*], $args:tt) => {
        $crate::store::sqlite::rows::shaped!(@munch $mac, [$($done)* + $sql], [$($rest)*], $args)
    };
    (@munch $mac:ident, [+ $($done:tt)+], [], [$($arg:expr),*]) => {
        sqlx::$mac!($($done)+ $(, $arg)*)
    };
}
pub(super) use shaped;

/// Decodes one shaped row, naming the table and row when its columns hold the wrong types.
pub(super) fn decode<'a, T: Deserialize<'a>>(
    table: &'static str,
    key: &str,
    json: &'a str,
) -> Result<T, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt(table, key, format!("unexpected column types: {e}")))
}

/// SQLite has no boolean: `paused` and `coalesce_missed` are 0 or 1 (CHECK constraints).
fn int_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(i64::deserialize(d)? != 0)
}

/// The columns one `jobs` row is read into; private to the store (the domain type is [`Job`]).
/// Text that is only parsed (trigger columns, action, timestamps) is borrowed from the query's
/// JSON where it has no escapes, so reading a row allocates only what the `Job` keeps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobRow<'a> {
    id: String,
    name: Option<String>,
    #[serde(borrow)]
    trigger_type: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "opt_text")]
    cron_expr: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timezone: Cow<'a, str>,
    interval_seconds: Option<i64>,
    #[serde(borrow, deserialize_with = "opt_text")]
    start_at: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    end_at: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    run_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "opt_text")]
    next_run_at: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "int_bool")]
    paused: bool,
    misfire_grace_seconds: i64,
    #[serde(deserialize_with = "int_bool")]
    coalesce_missed: bool,
    max_instances: i64,
    jitter_seconds: i64,
    #[serde(borrow)]
    catch_up: Cow<'a, str>,
    dst_gap: Option<String>,
    dst_fold: Option<String>,
    exclusive_group: Option<String>,
    exclusive_policy: Option<String>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(borrow)]
    updated_at: Cow<'a, str>,
    paused_by: Option<String>,
    #[serde(borrow, deserialize_with = "opt_text")]
    paused_at: Option<Cow<'a, str>>,
    pause_reason: Option<String>,
    #[serde(borrow, deserialize_with = "opt_text")]
    paused_until: Option<Cow<'a, str>>,
    skip_count: i64,
    skip_reason: Option<String>,
    #[serde(borrow, deserialize_with = "opt_text")]
    expect: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    last_success_at: Option<Cow<'a, str>>,
    consecutive_failures: i64,
    #[serde(borrow, deserialize_with = "opt_text")]
    history: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "opt_text")]
    retry: Option<Cow<'a, str>>,
}

/// A nullable text column, borrowed when it can be (serde borrows a bare `Cow<str>` field, not
/// one inside an `Option`).
fn opt_text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

impl JobRow<'_> {
    /// The job's id, to name it when its row does not convert.
    pub(super) fn id(&self) -> &str {
        &self.id
    }
}

fn int_setting(key: &str, column: &str, value: i64, min: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .ok()
        .filter(|v| i64::from(*v) >= min)
        .ok_or_else(|| {
            StoreError::corrupt("jobs", key, format!("{column}: {value} is out of range"))
        })
}

impl JobRow<'_> {
    /// The trigger its columns describe; a refusal names the column (a hand edit).
    fn trigger(&self) -> Result<Trigger, StoreError> {
        let key = self.id.as_str();
        let corrupt = |reason: String| StoreError::corrupt("jobs", key, reason);
        Ok(match &*self.trigger_type {
            "cron" => {
                let expr = self
                    .cron_expr
                    .as_deref()
                    .ok_or_else(|| corrupt("cron_expr is NULL".into()))?;
                let dst = dst_policy(key, self.dst_gap.as_deref(), self.dst_fold.as_deref())?;
                Trigger::cron(expr, &self.timezone)
                    .map_err(|e| corrupt(e.to_string()))?
                    .with_dst(dst)
            }
            "interval" => {
                let seconds = self
                    .interval_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| corrupt("interval_seconds is NULL or negative".into()))?;
                let start = self
                    .start_at
                    .as_deref()
                    .ok_or_else(|| corrupt("start_at is NULL".into()))?;
                let start_at = parse_ts("jobs", key, "start_at", start)?;
                let end_at = parse_opt_ts("jobs", key, "end_at", self.end_at.as_deref())?;
                Trigger::interval(seconds, start_at, end_at).map_err(|e| corrupt(e.to_string()))?
            }
            "date" => {
                let run_at = self
                    .run_at
                    .as_deref()
                    .ok_or_else(|| corrupt("run_at is NULL".into()))?;
                Trigger::Date {
                    run_at: parse_ts("jobs", key, "run_at", run_at)?,
                }
            }
            other => return Err(corrupt(format!("unknown trigger_type `{other}`"))),
        })
    }

    /// Its firing settings, each checked against its range.
    fn settings(&self) -> Result<JobSettings, StoreError> {
        let key = self.id.as_str();
        Ok(JobSettings {
            misfire_grace_seconds: int_setting(
                key,
                "misfire_grace_seconds",
                self.misfire_grace_seconds,
                0,
            )?,
            coalesce: self.coalesce_missed,
            max_instances: int_setting(key, "max_instances", self.max_instances, 1)?,
            jitter_seconds: int_setting(key, "jitter_seconds", self.jitter_seconds, 0)?,
            catch_up: parse_text("jobs", key, &self.catch_up)?,
        })
    }
}

impl TryFrom<JobRow<'_>> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow<'_>) -> Result<Job, StoreError> {
        let key = row.id.as_str();
        let corrupt = |reason: String| StoreError::corrupt("jobs", key, reason);
        let trigger = row.trigger()?;
        let action: Action = serde_json::from_str(&row.action)
            .map_err(|e| corrupt(format!("action is not a valid action: {e}")))?;
        let settings = row.settings()?;
        let pause = pause_note(
            row.paused,
            row.paused_by,
            parse_opt_ts("jobs", key, "paused_at", row.paused_at.as_deref())?,
            row.pause_reason,
            parse_opt_ts("jobs", key, "paused_until", row.paused_until.as_deref())?,
        );
        let skip = skip_request(key, row.skip_count, row.skip_reason)?;
        let expect = row
            .expect
            .as_deref()
            .map(|e| expect_from_json(key, e))
            .transpose()?;
        let history = row
            .history
            .as_deref()
            .map(|h| history_from_json(key, h))
            .transpose()?;
        let retry = row
            .retry
            .as_deref()
            .map(|r| retry_from_json(key, r))
            .transpose()?
            .unwrap_or_default();
        let exclusive = exclusive(key, row.exclusive_group, row.exclusive_policy.as_deref())?;
        let counters = health_counters(
            key,
            parse_opt_ts(
                "jobs",
                key,
                "last_success_at",
                row.last_success_at.as_deref(),
            )?,
            row.consecutive_failures,
        )?;
        Ok(Job {
            next_run_at: parse_opt_ts("jobs", key, "next_run_at", row.next_run_at.as_deref())?,
            created_at: parse_ts("jobs", key, "created_at", &row.created_at)?,
            updated_at: parse_ts("jobs", key, "updated_at", &row.updated_at)?,
            id: row.id,
            name: row.name,
            trigger,
            action,
            settings,
            paused: row.paused,
            pause,
            skip,
            expect,
            history,
            retry,
            exclusive,
            counters,
        })
    }
}

/// The columns one `job_runs` row is read into (the domain type is [`Run`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunRow {
    id: i64,
    job_id: String,
    scheduled_at: String,
    last_scheduled_at: Option<String>,
    occurrences: i64,
    kind: String,
    status: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    owner_id: Option<String>,
    http_status: Option<i64>,
    exit_code: Option<i64>,
    output: Option<String>,
    error: Option<String>,
    attempt: i64,
    retry_delay_ms: Option<i64>,
    retry_at: Option<String>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        let key = format!("id {}", row.id);
        let kind: RunKind = parse_text("job_runs", &key, &row.kind)?;
        Ok(Run {
            id: row.id,
            scheduled_at: parse_ts("job_runs", &key, "scheduled_at", &row.scheduled_at)?,
            last_scheduled_at: parse_opt_ts(
                "job_runs",
                &key,
                "last_scheduled_at",
                row.last_scheduled_at.as_deref(),
            )?,
            occurrences: row.occurrences,
            kind,
            status: parse_text("job_runs", &key, &row.status)?,
            started_at: parse_opt_ts("job_runs", &key, "started_at", row.started_at.as_deref())?,
            finished_at: parse_opt_ts("job_runs", &key, "finished_at", row.finished_at.as_deref())?,
            duration_ms: row.duration_ms,
            owner_id: row.owner_id,
            http_status: row.http_status,
            exit_code: row.exit_code,
            output: row.output,
            error: row.error,
            attempt: attempt(&key, row.attempt)?,
            retry_delay_ms: row.retry_delay_ms,
            retry_at: parse_opt_ts("job_runs", &key, "retry_at", row.retry_at.as_deref())?,
            job_id: row.job_id,
        })
    }
}

/// A JSON column of job `id` (`expect`, `history`, `retry`): JSON text, or NULL when the job
/// leaves it out.
pub(super) fn json_column<T: serde::Serialize>(
    id: &str,
    value: Option<T>,
) -> Result<Option<String>, StoreError> {
    value
        .map(|v| serde_json::to_string(&v))
        .transpose()
        .map_err(|e| StoreError::corrupt("jobs", id, e.to_string()))
}
