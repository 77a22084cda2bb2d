//! PostgreSQL: the `jobs` table (create, replace, read, page, pause/resume, delete). Every
//! change notifies the other nodes in its own transaction (`notify.rs`).

use chrono::{DateTime, Utc};
use schedlite_core::model::{AuditAction, BrokenJob, Job, JobEntry, NewJob, RevisionChange, Run};
use schedlite_core::schedule::TriggerKind;
use schedlite_core::store::columns::{TriggerColumns, exclusive_columns};
use schedlite_core::store::{Gauges, JobCursor, JobFilter, JobOrder, JobPage, StoreError};
use sqlx::PgConnection;

use super::rows::{JobRow, RunRow, action_value, json_column};
use super::{PgStore, ms};

impl PgStore {
    /// Inserts a new job. A job with the same id gives [`StoreError::JobExists`].
    pub async fn insert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Job, StoreError> {
        let mut tx = self.begin().await?;
        if write_row(&mut tx, job, next_run_at, now, false)
            .await?
            .is_none()
        {
            return Err(StoreError::JobExists(job.id.clone()));
        }
        super::audit::write_audit(&mut tx, now, key_name, AuditAction::Create, &job.id, None)
            .await?;
        let change = RevisionChange::Create;
        super::revisions::write_revision(&mut tx, job, now, key_name, change, None).await?;
        super::notify::job_changed(&mut tx, &job.id).await?;
        let stored = read_job(&mut tx, &job.id)
            .await?
            .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "vanished right after insert"))?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Creates or replaces the job with `job.id`; a replaced job keeps its `created_at` and
    /// history. Returns the job and whether it was created.
    pub async fn upsert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<(Job, bool), StoreError> {
        let mut tx = self.begin().await?;
        let created = write_row(&mut tx, job, next_run_at, now, true)
            .await?
            .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "upsert wrote no row"))?;
        let action = if created {
            AuditAction::Create
        } else {
            AuditAction::Replace
        };
        super::audit::write_audit(&mut tx, now, key_name, action, &job.id, None).await?;
        let change = RevisionChange::of_upsert(created);
        super::revisions::write_revision(&mut tx, job, now, key_name, change, None).await?;
        super::notify::job_changed(&mut tx, &job.id).await?;
        let stored = read_job(&mut tx, &job.id)
            .await?
            .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "vanished right after upsert"))?;
        tx.commit().await?;
        Ok((stored, created))
    }

    /// The job with this id, if any.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.conn().await?;
        read_job(&mut conn, id).await
    }

    /// The job with this id and its newest run.
    pub async fn get_job_with_last_run(
        &self,
        id: &str,
    ) -> Result<Option<(JobEntry, Option<Run>, Option<DateTime<Utc>>)>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query_as!(JobRow, "SELECT * FROM jobs WHERE id = $1", id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let job = entry(row)?;
        let run = sqlx::query_as!(
            RunRow,
            "SELECT * FROM job_runs WHERE job_id = $1 ORDER BY scheduled_at DESC, attempt DESC LIMIT 1",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
        let next_retry_at = sqlx::query_scalar!(
            "SELECT min(retry_at) FROM job_runs WHERE job_id = $1 AND retry_at IS NOT NULL",
            id
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some((
            job,
            run.map(Run::try_from).transpose()?,
            next_retry_at,
        )))
    }

    /// Deletes the job and its history, audited as `key_name`'s. Returns whether it existed.
    pub async fn delete_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query!("DELETE FROM jobs WHERE id = $1", id)
            .execute(&mut *tx)
            .await?;
        let deleted = done.rows_affected() > 0;
        if deleted {
            super::audit::write_audit(&mut tx, now, key_name, AuditAction::Delete, id, None)
                .await?;
            super::notify::job_changed(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// A page of jobs. In next-run order, the first page is the live view and later pages
    /// continue the order as it was when the listing began: a job whose scheduled runs were
    /// recorded after the listing's watermark (the largest run id then) is listed at its
    /// earliest occurrence since, where it stood then, not where it moved to.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: u32,
    ) -> Result<JobPage, StoreError> {
        let fetch = i64::from(limit) + 1;
        let mut tx = self.begin().await?;
        let (keys, watermark) = page_keys(&mut tx, filter, order, after, fetch).await?;
        let ids: Vec<String> = keys.iter().map(|(_, id)| id.clone()).collect();
        let rows = sqlx::query_as!(JobRow, "SELECT * FROM jobs WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut by_id: std::collections::HashMap<String, JobRow> =
            rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        let more = keys.len() > limit as usize;
        let mut jobs = Vec::with_capacity(keys.len().min(limit as usize));
        let mut last_key = None;
        for (key, id) in keys.into_iter().take(limit as usize) {
            // The transaction is READ COMMITTED: each statement sees its own snapshot, so a
            // job deleted between the read of the keys and the read of the rows is missing
            // here, and is simply not listed.
            if let Some(row) = by_id.remove(&id) {
                jobs.push(entry(row)?);
            }
            last_key = Some((key, id));
        }
        let next = last_key
            .filter(|_| more)
            .map(|(next_run_at, id)| match order {
                JobOrder::NextRun => JobCursor::NextRun {
                    watermark,
                    next_run_at,
                    id,
                },
                JobOrder::Id => JobCursor::Id { id },
            });
        Ok(JobPage { jobs, next })
    }

    /// Counts for the metrics and health: jobs, paused, running runs, due backlog, pending retries.
    pub async fn gauges(&self, now: DateTime<Utc>) -> Result<Gauges, StoreError> {
        let row = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM jobs) AS "jobs!",
                      (SELECT count(*) FROM jobs WHERE paused) AS "paused!",
                      (SELECT count(*) FROM job_runs WHERE status = 'running') AS "running!",
                      (SELECT count(*) FROM jobs WHERE next_run_at <= $1) AS "due!",
                      (SELECT count(*) FROM job_runs WHERE retry_at IS NOT NULL) AS "retries!""#,
            ms(now)
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(Gauges {
            jobs: row.jobs,
            paused: row.paused,
            running: row.running,
            due: row.due,
            retries_pending: row.retries,
        })
    }

    /// How many jobs the database holds.
    pub async fn count_jobs(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs"#)
            .fetch_one(&mut *self.conn().await?)
            .await?)
    }

    /// Pauses (clearing `next_run_at`) or resumes (setting it) a job, without a pause note (a
    /// resume clears the note).
    pub async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET paused = $1, next_run_at = $2, updated_at = $3, paused_by = NULL,
                paused_at = NULL, pause_reason = NULL, paused_until = NULL
             WHERE id = $4",
            paused,
            next_run_at.map(ms),
            ms(now),
            id
        )
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        let action = if paused {
            AuditAction::Pause
        } else {
            AuditAction::Resume
        };
        super::audit::write_audit(&mut tx, now, key_name, action, id, None).await?;
        super::notify::job_changed(&mut tx, id).await?;
        let job = read_job(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The earliest `next_run_at` of any job or `retry_at` of an unpaused job's pending retry:
    /// when the loop must wake next.
    pub async fn earliest_next_run(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(crate::exclusive::not_waiting!(query_scalar!(
            [r#"SELECT least(
                   (SELECT next_run_at FROM jobs WHERE next_run_at IS NOT NULL AND "# NOT_WAITING r#"
                    ORDER BY next_run_at LIMIT 1),
                   (SELECT retry_at FROM job_runs AS r WHERE retry_at IS NOT NULL
                      AND EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = r.job_id AND NOT j.paused)
                    ORDER BY retry_at LIMIT 1)
               ) AS "next""#]
        ))
        .fetch_one(&mut *self.conn().await?)
        .await?)
    }
}

/// The sort keys and ids of one page (at most `fetch` rows) in `order`, after the cursor
/// `after`, and the listing's watermark (0 in id order).
async fn page_keys(
    tx: &mut PgConnection,
    filter: &JobFilter,
    order: JobOrder,
    after: Option<&JobCursor>,
    fetch: i64,
) -> Result<(Vec<(Option<DateTime<Utc>>, String)>, i64), StoreError> {
    let trigger_type = filter.trigger_type.map(TriggerKind::as_str);
    match order {
        JobOrder::Id => {
            let after_id = match after {
                Some(JobCursor::Id { id }) => id.as_str(),
                _ => "",
            };
            let ids = sqlx::query_scalar!(
                "SELECT id FROM jobs WHERE id > $1
                   AND ($2::boolean IS NULL OR paused = $2) AND ($3::text IS NULL OR trigger_type = $3)
                 ORDER BY id LIMIT $4",
                after_id,
                filter.paused,
                trigger_type,
                fetch
            )
            .fetch_all(&mut *tx)
            .await?;
            Ok((ids.into_iter().map(|id| (None, id)).collect(), 0))
        }
        JobOrder::NextRun => {
            let (watermark, after_at, after_id) = match after {
                Some(JobCursor::NextRun {
                    watermark,
                    next_run_at,
                    id,
                }) => (Some(*watermark), *next_run_at, id.as_str()),
                _ => (None, None, ""),
            };
            next_run_page(
                tx,
                filter,
                trigger_type,
                watermark,
                after_at,
                after_id,
                fetch,
            )
            .await
        }
    }
}

/// The (sort key, id) pairs of one page in next-run order, and the listing's watermark.
async fn next_run_page(
    tx: &mut PgConnection,
    filter: &JobFilter,
    trigger_type: Option<&str>,
    watermark: Option<i64>,
    after_at: Option<DateTime<Utc>>,
    after_id: &str,
    fetch: i64,
) -> Result<(Vec<(Option<DateTime<Utc>>, String)>, i64), StoreError> {
    let watermark = match watermark {
        Some(w) => w,
        None => {
            sqlx::query_scalar!(r#"SELECT coalesce(max(id), 0) AS "w!" FROM job_runs"#)
                .fetch_one(&mut *tx)
                .await?
        }
    };
    // Jobs without a next run sort last, at `no_next`; `first` says the page starts at the top.
    let first = after_id.is_empty();
    let no_next = no_next_run();
    let rows = sqlx::query!(
        r#"WITH moved AS (
               SELECT job_id, min(scheduled_at) AS start_key FROM job_runs
               WHERE id > $1 AND kind = 'scheduled' GROUP BY job_id),
           keyed AS (
               SELECT coalesce(m.start_key, j.next_run_at, $8) AS sort_key, j.id
               FROM jobs AS j LEFT JOIN moved AS m ON m.job_id = j.id
               WHERE ($2::boolean IS NULL OR j.paused = $2)
                 AND ($3::text IS NULL OR j.trigger_type = $3))
           SELECT sort_key AS "sort_key!", id AS "id!" FROM keyed
           WHERE $4 OR (sort_key, id) > (coalesce($5, $8), $6)
           ORDER BY sort_key, id LIMIT $7"#,
        watermark,
        filter.paused,
        trigger_type,
        first,
        after_at.map(ms),
        after_id,
        fetch,
        no_next,
    )
    .fetch_all(&mut *tx)
    .await?;
    let keys = rows
        .into_iter()
        .map(|r| {
            let key = (r.sort_key != no_next).then_some(r.sort_key);
            (key, r.id)
        })
        .collect();
    Ok((keys, watermark))
}

/// The sort key of a job without a next run (paused or finished): after every instant a
/// trigger can produce. Never leaves the store.
fn no_next_run() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Writes the row of `job`: inserts it, or with `replace` replaces the job with its id (which
/// keeps its `created_at`). Returns whether it was created, or `None` when a job with its id
/// exists and `replace` is off (nothing written). One statement for both, so the column list
/// is written once.
pub(crate) async fn write_row(
    tx: &mut PgConnection,
    job: &NewJob,
    next_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    replace: bool,
) -> Result<Option<bool>, StoreError> {
    let c = TriggerColumns::of(&job.trigger);
    let action = action_value(&job.action)?;
    let expect = json_column(&job.id, job.expect.as_ref())?;
    let history = json_column(&job.id, job.history)?;
    let retry = json_column(&job.id, job.retry.some())?;
    let (group, policy) = exclusive_columns(job.exclusive.as_ref());
    // `DO UPDATE … WHERE $18`: when false, a conflicting row is left alone and nothing is
    // returned. `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let created = sqlx::query_scalar!(
        r#"INSERT INTO jobs (id, name, trigger_type, cron_expr, timezone, interval_seconds,
               start_at, end_at, run_at, action, next_run_at, paused, misfire_grace_seconds,
               coalesce_missed, max_instances, jitter_seconds, created_at, updated_at, expect,
               history, retry, catch_up, dst_gap, dst_fold, exclusive_group, exclusive_policy)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17,
                   $19, $20, $21, $22, $23, $24, $25, $26)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name,
               trigger_type = excluded.trigger_type, cron_expr = excluded.cron_expr,
               timezone = excluded.timezone, interval_seconds = excluded.interval_seconds,
               start_at = excluded.start_at, end_at = excluded.end_at, run_at = excluded.run_at,
               action = excluded.action, next_run_at = excluded.next_run_at,
               paused = excluded.paused, misfire_grace_seconds = excluded.misfire_grace_seconds,
               coalesce_missed = excluded.coalesce_missed,
               max_instances = excluded.max_instances, jitter_seconds = excluded.jitter_seconds,
               updated_at = excluded.updated_at, paused_by = NULL, paused_at = NULL,
               pause_reason = NULL, paused_until = NULL, skip_count = 0, skip_reason = NULL,
               expect = excluded.expect, history = excluded.history, retry = excluded.retry,
               catch_up = excluded.catch_up, dst_gap = excluded.dst_gap, dst_fold = excluded.dst_fold,
               exclusive_group = excluded.exclusive_group, exclusive_policy = excluded.exclusive_policy
           WHERE $18
           RETURNING (xmax = 0) AS "created!""#,
        job.id,
        job.name,
        c.trigger_type,
        c.cron_expr,
        c.timezone,
        c.interval_seconds,
        c.start_at.map(ms),
        c.end_at.map(ms),
        c.run_at.map(ms),
        action,
        next_run_at.map(ms),
        job.paused,
        i64::from(job.settings.misfire_grace_seconds),
        job.settings.coalesce,
        i64::from(job.settings.max_instances),
        i64::from(job.settings.jitter_seconds),
        ms(now),
        replace,
        expect,
        history,
        retry,
        job.settings.catch_up.as_str(),
        c.dst_gap,
        c.dst_fold,
        group,
        policy,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if created.is_some() {
        // Retries the policy no longer allows are dropped with the change, not when they come
        // due: until then they would show as `next_retry_at` and count toward `max_instances`.
        sqlx::query!(
            "UPDATE job_runs SET retry_at = NULL, retry_delay_ms = NULL
             WHERE job_id = $1 AND retry_at IS NOT NULL AND attempt >= $2",
            job.id,
            i64::from(job.retry.max_attempts)
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(created)
}

/// A row as a listing shows it: readable, or broken (values the domain refuses, such as a
/// hand-edited cron expression) with what is wrong.
pub(crate) fn entry(row: JobRow) -> Result<JobEntry, StoreError> {
    let id = row.id.clone();
    match Job::try_from(row) {
        Ok(job) => Ok(JobEntry::Readable(job)),
        Err(StoreError::Corrupt { reason, .. }) => Ok(JobEntry::Broken(BrokenJob {
            id,
            problem: reason,
        })),
        Err(other) => Err(other),
    }
}

/// Reads one job on a given connection (inside a transaction, for claims and manual runs).
pub(crate) async fn read_job(conn: &mut PgConnection, id: &str) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query_as!(JobRow, "SELECT * FROM jobs WHERE id = $1", id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Job::try_from).transpose()
}
