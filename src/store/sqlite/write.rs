//! SQLite: writing job definitions: the `jobs` rows, their audit rows and their revisions, for
//! one job (create, replace, restore) or a thousand (`POST /jobs:bulk`). Each step is one
//! statement for the whole batch, reading its rows as JSON objects through `jsonb_each`, so a
//! bulk request costs the same handful of statements as a single create rather than a handful
//! per job: every statement is a hand-off to the driver's thread, which dominated bulk writes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::claims::json_text;
use super::rows::json_column;
use super::ts;
use crate::model::{AuditAction, NewJob, RevisionChange, revision_definition};
use crate::store::StoreError;
use crate::store::columns::{TriggerColumns, exclusive_columns};

/// One `jobs` row as the upsert reads it, with the job's retry limit for
/// [`drop_disallowed_retries`].
#[derive(Serialize)]
struct JobColumns<'a> {
    id: &'a str,
    name: Option<&'a str>,
    trigger_type: String,
    cron_expr: Option<String>,
    timezone: String,
    interval_seconds: Option<i64>,
    start_at: Option<String>,
    end_at: Option<String>,
    run_at: Option<String>,
    action: String,
    next_run_at: Option<String>,
    paused: bool,
    misfire_grace_seconds: u32,
    coalesce_missed: bool,
    max_instances: u32,
    jitter_seconds: u32,
    expect: Option<String>,
    history: Option<String>,
    retry: Option<String>,
    catch_up: &'static str,
    dst_gap: Option<String>,
    dst_fold: Option<String>,
    exclusive_group: Option<&'a str>,
    exclusive_policy: Option<&'static str>,
    max_attempts: u32,
    /// The row's `created_at` (when created) and `updated_at`.
    at: String,
}

/// One job definition to write: the job, its next run, and when and by whom it was changed.
/// Each carries its own instant and key, so one transaction can hold the writes of several
/// requests (`group.rs`).
#[derive(Clone, Copy)]
pub(super) struct JobWrite<'a> {
    pub(super) job: &'a NewJob,
    pub(super) next_run_at: Option<DateTime<Utc>>,
    pub(super) at: DateTime<Utc>,
    pub(super) key_name: &'a str,
}

impl<'a> JobColumns<'a> {
    fn of(w: &JobWrite<'a>) -> Result<Self, StoreError> {
        let (job, next_run_at) = (w.job, w.next_run_at);
        let c = TriggerColumns::of(&job.trigger);
        let (exclusive_group, exclusive_policy) = exclusive_columns(job.exclusive.as_ref());
        Ok(JobColumns {
            id: &job.id,
            name: job.name.as_deref(),
            trigger_type: c.trigger_type,
            cron_expr: c.cron_expr,
            timezone: c.timezone,
            interval_seconds: c.interval_seconds,
            start_at: c.start_at.map(ts),
            end_at: c.end_at.map(ts),
            run_at: c.run_at.map(ts),
            action: serde_json::to_string(&job.action)
                .map_err(|e| StoreError::corrupt("jobs", &job.id, e.to_string()))?,
            next_run_at: next_run_at.map(ts),
            paused: job.paused,
            misfire_grace_seconds: job.settings.misfire_grace_seconds,
            coalesce_missed: job.settings.coalesce,
            max_instances: job.settings.max_instances,
            jitter_seconds: job.settings.jitter_seconds,
            expect: json_column(&job.id, job.expect.as_ref())?,
            history: json_column(&job.id, job.history)?,
            retry: json_column(&job.id, job.retry.some())?,
            catch_up: job.settings.catch_up.as_str(),
            dst_gap: c.dst_gap,
            dst_fold: c.dst_fold,
            exclusive_group,
            exclusive_policy,
            max_attempts: job.retry.max_attempts,
            at: ts(w.at),
        })
    }
}

/// Writes the rows of `jobs` (each with its next run) in one statement: inserts them, and
/// replaces the jobs whose ids exist (each keeps its `created_at`; a replace ends a pause and
/// a skip request). Then drops the pending retries the new policies no longer allow.
pub(super) async fn write_rows(
    tx: &mut sqlx::SqliteConnection,
    jobs: &[JobWrite<'_>],
) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let rows = jobs
        .iter()
        .map(JobColumns::of)
        .collect::<Result<Vec<_>, _>>()?;
    let rows = json_text(&rows)?;
    sqlx::query!(
        "INSERT INTO jobs (id, name, trigger_type, cron_expr, timezone, interval_seconds, start_at,
            end_at, run_at, action, next_run_at, paused, misfire_grace_seconds, coalesce_missed,
            max_instances, jitter_seconds, created_at, updated_at, expect, history, retry, catch_up,
            dst_gap, dst_fold, exclusive_group, exclusive_policy)
         SELECT j.value ->> 'id', j.value ->> 'name', j.value ->> 'trigger_type',
            j.value ->> 'cron_expr', j.value ->> 'timezone', j.value ->> 'interval_seconds',
            j.value ->> 'start_at', j.value ->> 'end_at', j.value ->> 'run_at',
            j.value ->> 'action', j.value ->> 'next_run_at', j.value ->> 'paused',
            j.value ->> 'misfire_grace_seconds', j.value ->> 'coalesce_missed',
            j.value ->> 'max_instances', j.value ->> 'jitter_seconds', j.value ->> 'at',
            j.value ->> 'at',
            j.value ->> 'expect', j.value ->> 'history', j.value ->> 'retry',
            j.value ->> 'catch_up', j.value ->> 'dst_gap', j.value ->> 'dst_fold',
            j.value ->> 'exclusive_group', j.value ->> 'exclusive_policy'
         FROM jsonb_each(?1) AS j WHERE true
         ON CONFLICT (id) DO UPDATE SET name = excluded.name,
            trigger_type = excluded.trigger_type, cron_expr = excluded.cron_expr,
            timezone = excluded.timezone, interval_seconds = excluded.interval_seconds,
            start_at = excluded.start_at, end_at = excluded.end_at, run_at = excluded.run_at,
            action = excluded.action, next_run_at = excluded.next_run_at,
            paused = excluded.paused, misfire_grace_seconds = excluded.misfire_grace_seconds,
            coalesce_missed = excluded.coalesce_missed, max_instances = excluded.max_instances,
            jitter_seconds = excluded.jitter_seconds, updated_at = excluded.updated_at,
            paused_by = NULL, paused_at = NULL, pause_reason = NULL, paused_until = NULL,
            skip_count = 0, skip_reason = NULL, expect = excluded.expect,
            history = excluded.history, retry = excluded.retry, catch_up = excluded.catch_up,
            dst_gap = excluded.dst_gap, dst_fold = excluded.dst_fold,
            exclusive_group = excluded.exclusive_group, exclusive_policy = excluded.exclusive_policy",
        rows
    )
    .execute(&mut *tx)
    .await?;
    // A lowered `max_attempts` is how an operator stops retrying: the pending retries beyond
    // it go.
    sqlx::query!(
        "UPDATE job_runs SET retry_at = NULL, retry_delay_ms = NULL
         FROM jsonb_each(?) AS j
         WHERE job_runs.job_id = j.value ->> 'id' AND job_runs.retry_at IS NOT NULL
           AND job_runs.attempt >= j.value ->> 'max_attempts'",
        rows
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes `writes` (distinct ids, each with whether it creates its job) with their audit rows
/// and revisions: [`write_rows`], then [`record_changes`].
pub(super) async fn write_changes(
    tx: &mut sqlx::SqliteConnection,
    writes: &[(JobWrite<'_>, bool)],
) -> Result<(), StoreError> {
    let rows: Vec<JobWrite> = writes.iter().map(|(w, _)| *w).collect();
    write_rows(tx, &rows).await?;
    record_changes(tx, writes).await
}

/// Creates or replaces `jobs` (distinct ids) with their audit rows and revisions, in the
/// caller's transaction: five statements whatever the batch's size. Returns, in order, whether
/// each job was created (false: replaced).
pub(super) async fn upsert_rows(
    tx: &mut sqlx::SqliteConnection,
    jobs: &[JobWrite<'_>],
) -> Result<Vec<bool>, StoreError> {
    let ids: Vec<&str> = jobs.iter().map(|w| w.job.id.as_str()).collect();
    let existed = existing(tx, &ids).await?;
    let changes: Vec<(JobWrite, bool)> = jobs
        .iter()
        .map(|w| (*w, !existed.contains(&w.job.id)))
        .collect();
    write_changes(tx, &changes).await?;
    Ok(changes.into_iter().map(|(_, created)| created).collect())
}

/// The ids among `ids` that have a row.
pub(super) async fn existing(
    tx: &mut sqlx::SqliteConnection,
    ids: &[&str],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let ids = json_text(ids)?;
    let found = sqlx::query_scalar!(
        r#"SELECT json_group_array(id) AS "ids!: String" FROM jobs
           WHERE id IN (SELECT value FROM json_each(?))"#,
        ids
    )
    .fetch_one(&mut *tx)
    .await?;
    serde_json::from_str(&found)
        .map_err(|e| StoreError::corrupt("jobs", "existing ids", e.to_string()))
}

/// One change to record: its audit row and its revision.
#[derive(Serialize)]
struct Change<'a> {
    id: &'a str,
    action: &'static str,
    change: &'static str,
    definition: String,
    at: String,
    key_name: &'a str,
}

/// Records, for each write of `jobs` with whether it created its job, its audit row (`create`
/// or `replace`) and its revision, by the write's key at its instant: two statements for the
/// batch.
async fn record_changes(
    tx: &mut sqlx::SqliteConnection,
    jobs: &[(JobWrite<'_>, bool)],
) -> Result<(), StoreError> {
    let changes: Vec<Change> = jobs
        .iter()
        .map(|(w, created)| Change {
            id: &w.job.id,
            action: if *created {
                AuditAction::Create
            } else {
                AuditAction::Replace
            }
            .as_str(),
            change: RevisionChange::of_upsert(*created).as_str(),
            definition: revision_definition(w.job).to_string(),
            at: ts(w.at),
            key_name: w.key_name,
        })
        .collect();
    let changes = json_text(&changes)?;
    sqlx::query!(
        "INSERT INTO audit_log (at, key_name, action, job_id)
         SELECT c.value ->> 'at', c.value ->> 'key_name', c.value ->> 'action', c.value ->> 'id'
         FROM jsonb_each(?1) AS c",
        changes
    )
    .execute(&mut *tx)
    .await?;
    // Ids are distinct within a batch (the API refuses a repeated one), so each revision
    // number is its job's last plus one.
    sqlx::query!(
        "INSERT INTO job_revisions (job_id, revision, definition, changed_by, changed_at, change)
         SELECT c.value ->> 'id',
                (SELECT ifnull(max(revision), 0) + 1 FROM job_revisions
                 WHERE job_id = c.value ->> 'id'),
                c.value ->> 'definition', c.value ->> 'key_name', c.value ->> 'at',
                c.value ->> 'change'
         FROM jsonb_each(?1) AS c",
        changes
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
