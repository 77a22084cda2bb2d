//! The shapes in which PostgreSQL rows are read: structs whose fields are named as the columns,
//! filled by `query_as!` (which matches by name and checks types at compile time, so two
//! columns cannot be swapped silently), and their conversion to the domain types.

use chrono::{DateTime, Utc};
use schedlite_core::actions::Action;
use schedlite_core::model::{Job, JobSettings, Run, RunKind, RunStatus};
use schedlite_core::store::StoreError;
use schedlite_core::store::columns::{
    TriggerColumns, attempt, exclusive, expect_from_value, health_counters, history_from_value,
    pause_note, retry_from_value, setting, skip_request,
};

/// One `jobs` row, all columns (`SELECT * FROM jobs`).
#[derive(Debug)]
pub(crate) struct JobRow {
    pub id: String,
    pub name: Option<String>,
    pub trigger_type: String,
    pub cron_expr: Option<String>,
    pub timezone: String,
    pub interval_seconds: Option<i64>,
    pub start_at: Option<DateTime<Utc>>,
    pub end_at: Option<DateTime<Utc>>,
    pub run_at: Option<DateTime<Utc>>,
    pub action: serde_json::Value,
    pub next_run_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub misfire_grace_seconds: i64,
    pub coalesce_missed: bool,
    pub max_instances: i64,
    pub jitter_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paused_by: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    pub paused_until: Option<DateTime<Utc>>,
    pub skip_count: i64,
    pub skip_reason: Option<String>,
    pub expect: Option<serde_json::Value>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i64,
    pub history: Option<serde_json::Value>,
    pub retry: Option<serde_json::Value>,
    pub catch_up: String,
    pub dst_gap: Option<String>,
    pub dst_fold: Option<String>,
    pub exclusive_group: Option<String>,
    pub exclusive_policy: Option<String>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Job, StoreError> {
        let key = row.id.as_str();
        let trigger = TriggerColumns {
            trigger_type: row.trigger_type,
            cron_expr: row.cron_expr,
            timezone: row.timezone,
            interval_seconds: row.interval_seconds,
            start_at: row.start_at,
            end_at: row.end_at,
            run_at: row.run_at,
            dst_gap: row.dst_gap,
            dst_fold: row.dst_fold,
        }
        .into_trigger(key)?;
        let action: Action = serde_json::from_value(row.action).map_err(|e| {
            StoreError::corrupt("jobs", key, format!("action is not a valid action: {e}"))
        })?;
        let settings = JobSettings {
            misfire_grace_seconds: setting(
                key,
                "misfire_grace_seconds",
                row.misfire_grace_seconds,
                0,
            )?,
            coalesce: row.coalesce_missed,
            max_instances: setting(key, "max_instances", row.max_instances, 1)?,
            jitter_seconds: setting(key, "jitter_seconds", row.jitter_seconds, 0)?,
            catch_up: row
                .catch_up
                .parse()
                .map_err(|e: String| StoreError::corrupt("jobs", key, e))?,
        };
        let pause = pause_note(
            row.paused,
            row.paused_by,
            row.paused_at,
            row.pause_reason,
            row.paused_until,
        );
        let skip = skip_request(key, row.skip_count, row.skip_reason)?;
        let expect = row.expect.map(|e| expect_from_value(key, e)).transpose()?;
        let history = row
            .history
            .map(|h| history_from_value(key, h))
            .transpose()?;
        let retry = row
            .retry
            .map(|r| retry_from_value(key, r))
            .transpose()?
            .unwrap_or_default();
        let counters = health_counters(key, row.last_success_at, row.consecutive_failures)?;
        let exclusive = exclusive(key, row.exclusive_group, row.exclusive_policy.as_deref())?;
        Ok(Job {
            next_run_at: row.next_run_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
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

/// One `job_runs` row, all columns (`SELECT * FROM job_runs`).
#[derive(Debug)]
pub(crate) struct RunRow {
    pub id: i64,
    pub job_id: String,
    pub scheduled_at: DateTime<Utc>,
    pub last_scheduled_at: Option<DateTime<Utc>>,
    pub occurrences: i64,
    pub kind: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub owner_id: Option<String>,
    pub http_status: Option<i64>,
    pub exit_code: Option<i64>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub attempt: i64,
    pub retry_delay_ms: Option<i64>,
    pub retry_at: Option<DateTime<Utc>>,
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Run, StoreError> {
        let key = format!("id {}", row.id);
        let kind: RunKind = row
            .kind
            .parse()
            .map_err(|e: String| StoreError::corrupt("job_runs", &key, e))?;
        let status: RunStatus = row
            .status
            .parse()
            .map_err(|e: String| StoreError::corrupt("job_runs", &key, e))?;
        Ok(Run {
            id: row.id,
            job_id: row.job_id,
            scheduled_at: row.scheduled_at,
            last_scheduled_at: row.last_scheduled_at,
            occurrences: row.occurrences,
            kind,
            status,
            started_at: row.started_at,
            finished_at: row.finished_at,
            duration_ms: row.duration_ms,
            owner_id: row.owner_id,
            http_status: row.http_status,
            exit_code: row.exit_code,
            output: row.output,
            error: row.error,
            attempt: attempt(&key, row.attempt)?,
            retry_delay_ms: row.retry_delay_ms,
            retry_at: row.retry_at,
        })
    }
}

/// Serializes an action for its jsonb column.
pub(crate) fn action_value(action: &Action) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(action).map_err(|e| StoreError::corrupt("jobs", "action", e.to_string()))
}

/// A JSON column of job `id` (`expect`, `history`, `retry`): its value, or NULL when the job
/// leaves it out.
pub(crate) fn json_column<T: serde::Serialize>(
    id: &str,
    value: Option<T>,
) -> Result<Option<serde_json::Value>, StoreError> {
    value
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| StoreError::corrupt("jobs", id, e.to_string()))
}
