//! SQLite: the scheduler's write path: claiming due occurrences (advance `next_run_at` and insert
//! run rows in one transaction, so an occurrence is claimed at most once even with several
//! processes on one file), recording outcomes in batches, and manual runs.
//!
//! What to do with each due job (run, coalesce, miss, skip) is decided by the caller's plan
//! function; this module only makes the decision durable.

use schedlite_core::crash_point;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rows::shaped;
use super::run_rows::{RowSpec, insert_rows};
use super::{SqliteStore, ts};
use crate::model::{AuditAction, CatchUpSpan, ClaimPlan, Groups, Job, RunKind, RunStatus, Span};
use crate::store::{Busy, ClaimReport, ClaimedRun, StoreError};
use schedlite_core::store::claims::{closed_rows, manual_run_allowed, reasoned_skips};

/// How many times a manual run moves its instant on by 1 ms when the instant is taken (by a
/// trigger occurrence or an earlier manual run in the same millisecond) before giving up.
const MAX_MANUAL_RUN_SHIFTS: u32 = 1000;

impl SqliteStore {
    /// [`crate::store::Store::claim_due_until`] on SQLite.
    ///
    /// In one `BEGIN IMMEDIATE` transaction: reads the due jobs and how many runs each has
    /// running in OTHER processes or waiting to be retried, asks `plan` what to do with each, inserts all the `missed`,
    /// `skipped` and `running` rows in one statement and advances every `next_run_at` in
    /// another; then claims the pending retries due by `horizon` (`retries.rs`). Set-based
    /// statements (JSON arrays through `jsonb_each`) keep the cost per batch at a handful of
    /// statements rather than several per job. The unique key on (job_id, scheduled_at,
    /// attempt) backs the claim up: an attempt that already has a row is not inserted again.
    pub async fn claim_due_until(
        &self,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
        owner: &str,
        limit: u32,
        mut plan: impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    ) -> Result<ClaimReport, StoreError> {
        let horizon_s = ts(horizon.max(now));
        let now_s = ts(now);
        let mut report = ClaimReport::default();
        // A read first: an idle pass must not take the write lock (other processes and the
        // API want it), and this indexed probe costs the same with 10 jobs or a million.
        let any_due = shaped!(query_scalar!(
            [r#"SELECT EXISTS (SELECT 1 FROM jobs WHERE next_run_at <= ?1 AND "# NOT_WAITING r#")
                   OR EXISTS (SELECT 1 FROM job_runs AS r WHERE retry_at <= ?1
                              AND EXISTS (SELECT 1 FROM jobs AS j
                                          WHERE j.id = r.job_id AND j.paused = 0))
                   OR EXISTS (SELECT 1 FROM catch_ups AS c WHERE state = 'approved'
                              AND EXISTS (SELECT 1 FROM jobs AS j
                                          WHERE j.id = c.job_id AND j.paused = 0)) AS "due!: bool""#],
            horizon_s
        ))
        .fetch_one(&self.pool)
        .await?;
        if !any_due {
            return Ok(report);
        }
        let mut tx = self.begin_loop_write().await?;
        let due = super::jobs::due_jobs(&mut tx, &horizon_s, i64::from(limit)).await?;
        report.jobs = due.len();
        // Who holds each exclusive group this claim touches, and what it starts in them.
        let mut groups = Groups::default();
        if !due.is_empty() {
            let claim = Claim {
                now: &now_s,
                owner,
                groups: &mut groups,
            };
            claim_jobs(&mut tx, due, claim, &mut plan, &mut report).await?;
        }
        // Retries after first attempts: a pending retry counted toward `max_instances` above,
        // and once claimed it is this process's run, which the plan would not have seen.
        let retries =
            super::retries::claim_retries(&mut tx, &now_s, &horizon_s, owner, limit).await?;
        report.runs.extend(retries);
        // Approved catch-up stretches last: their runs take the slots the claims above left.
        let (caught_up, waiting) =
            super::catch_ups::start_approved(&mut tx, &now_s, owner, limit, &mut groups).await?;
        report.runs.extend(caught_up);
        report.catch_ups_waiting = waiting;
        crash_point!("claim-before-commit");
        tx.commit().await?;
        Ok(report)
    }

    /// Inserts a manual run of `job_id` at `now` owned by `owner`, to execute at once, audited
    /// as `key_name`'s. Returns
    /// `None` when the job does not exist. The occurrence is `now` (moved on by a millisecond
    /// if that instant already has a row).
    pub async fn insert_manual_run(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        owner: &str,
        key_name: &str,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(job) = super::jobs::read_job(&mut tx, job_id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        if job.exclusive.is_some() {
            let mut groups = Groups::default();
            super::exclusive::find_holders(&mut tx, &[&job], &mut groups).await?;
            if let Err(refused) = manual_run_allowed(&job, &groups) {
                tx.rollback().await?;
                return Err(refused);
            }
        }
        let delay = job.retry.draw_delay_ms(1);
        let mut at = now;
        for _ in 0..MAX_MANUAL_RUN_SHIFTS {
            // An instant the trigger itself fires at belongs to that occurrence: taking it here
            // would make the later claim of the occurrence find its key used and record nothing.
            let one_ms = chrono::Duration::milliseconds(1);
            if job.trigger.next_fire_after(at - one_ms).map(|f| f.at) == Some(at) {
                at += one_ms;
                continue;
            }
            let span = Span {
                first: at,
                last: at,
                count: 1,
            };
            if let Some(run_id) =
                insert_running(&mut tx, job_id, span, RunKind::Manual, now, owner, delay).await?
            {
                let detail = format!("{{\"run_id\":{run_id}}}");
                super::audit::write_audit(
                    &mut tx,
                    now,
                    key_name,
                    AuditAction::Run,
                    job_id,
                    Some(&detail),
                )
                .await?;
                tx.commit().await?;
                return Ok(Some(ClaimedRun {
                    run_id,
                    job_id: job.id,
                    scheduled_at: at,
                    attempt: 1,
                    start_at: at,
                    exclusive: job.exclusive.is_some(),
                    action: job.action,
                    jitter_seconds: 0,
                }));
            }
            at += chrono::Duration::milliseconds(1);
        }
        tx.rollback().await?;
        Err(StoreError::corrupt(
            "job_runs",
            job_id,
            "no free instant for a manual run",
        ))
    }
}

/// The readable due jobs. A due job whose row cannot be read (a bad hand edit) is paused with
/// an error logged, rather than blocking the loop; its definition is left for the operator.
pub(super) async fn pause_unreadable(
    tx: &mut sqlx::SqliteConnection,
    due: Vec<Result<Job, (String, StoreError)>>,
) -> Result<Vec<Job>, StoreError> {
    let mut jobs = Vec::with_capacity(due.len());
    let mut unreadable = Vec::new();
    for item in due {
        match item {
            Ok(job) => jobs.push(job),
            Err((id, StoreError::Corrupt { table, key, reason })) => {
                tracing::error!(job.id = %id, %table, %key, %reason, "due job is unreadable: pausing it until it is fixed");
                unreadable.push(id);
            }
            Err((_, other)) => return Err(other),
        }
    }
    if !unreadable.is_empty() {
        let ids = json_text(&unreadable)?;
        sqlx::query!(
            "UPDATE jobs SET paused = 1, next_run_at = NULL WHERE id IN (SELECT value FROM json_each(?))",
            ids
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(jobs)
}

/// How many runs of each of `jobs` are `running` in processes other than `owner` (the caller
/// knows its own) or waiting to be retried (a pending retry counts toward `max_instances`);
/// jobs with none are absent.
async fn running_elsewhere(
    tx: &mut sqlx::SqliteConnection,
    jobs: &[Job],
    owner: &str,
) -> Result<HashMap<String, i64>, StoreError> {
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let ids = json_text(&ids)?;
    let running = sqlx::query_scalar!(
        r#"SELECT json_group_object(job_id, n) AS "running!: String" FROM (
               SELECT job_id, count(*) AS n FROM (
                   SELECT job_id FROM job_runs
                   WHERE status = 'running' AND owner_id IS NOT ?2 AND job_id IN (SELECT value FROM json_each(?1))
                   UNION ALL
                   SELECT job_id FROM job_runs
                   WHERE retry_at IS NOT NULL AND job_id IN (SELECT value FROM json_each(?1)))
               GROUP BY job_id)"#,
        ids,
        owner
    )
    .fetch_one(&mut *tx)
    .await?;
    serde_json::from_str(&running)
        .map_err(|e| StoreError::corrupt("job_runs", "running counts", e.to_string()))
}

/// The first attempts part of [`SqliteStore::claim_due_until`]: plans the due jobs, inserts their
/// rows and advances their `next_run_at`, in the caller's transaction.
async fn claim_jobs(
    tx: &mut sqlx::SqliteConnection,
    due: Vec<Result<Job, (String, StoreError)>>,
    claim: Claim<'_>,
    plan: &mut impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    report: &mut ClaimReport,
) -> Result<(), StoreError> {
    let Claim {
        now: now_s,
        owner,
        groups,
    } = claim;
    let jobs = pause_unreadable(&mut *tx, due).await?;
    let running = running_elsewhere(&mut *tx, &jobs, owner).await?;
    let refs: Vec<&Job> = jobs.iter().collect();
    super::exclusive::find_holders(&mut *tx, &refs, groups).await?;
    let decided = Decisions::of(&jobs, (&running, groups), now_s, plan, report);
    if !decided.rows.is_empty() {
        report.runs = insert_rows(&mut *tx, &decided.rows, &decided.by_id, owner).await?;
    }
    let nexts = json_text(&decided.nexts)?;
    crash_point!("claim-after-insert");
    // The test mutant (Cargo.toml, `mutant-no-advance`) breaks the claim here, to prove
    // that the torture audit fails when occurrences are not advanced past.
    if !cfg!(feature = "mutant-no-advance") {
        sqlx::query!(
            "UPDATE jobs SET next_run_at = u.value ->> 'next_run_at' FROM jsonb_each(?) AS u
         WHERE jobs.id = u.value ->> 'id'",
            nexts
        )
        .execute(&mut *tx)
        .await?;
    }
    if !decided.catch_ups.is_empty() {
        super::catch_ups::enqueue(&mut *tx, &decided.catch_ups, now_s).await?;
    }
    if !decided.skips_left.is_empty() {
        // Rare (only jobs with a skip request), so kept out of the statement above, which
        // every claim runs.
        let left = json_text(&decided.skips_left)?;
        sqlx::query!(
            "UPDATE jobs SET skip_count = u.value ->> 'count',
                skip_reason = iif(u.value ->> 'count' = 0, NULL, skip_reason)
             FROM jsonb_each(?) AS u WHERE jobs.id = u.value ->> 'id'",
            left
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Where and for whom a claim writes, and the groups it has looked at so far.
struct Claim<'a> {
    now: &'a str,
    owner: &'a str,
    groups: &'a mut Groups,
}

/// What the plan decided for a batch, as the rows to insert and the next runs to set.
struct Decisions<'a> {
    rows: Vec<RowSpec<'a>>,
    nexts: Vec<NextRun<'a>>,
    skips_left: Vec<SkipsLeft<'a>>,
    catch_ups: Vec<(&'a str, CatchUpSpan)>,
    by_id: HashMap<&'a str, &'a Job>,
}

impl<'a> Decisions<'a> {
    /// Asks `plan` about each job and counts the missed and skipped occurrences into `report`.
    fn of(
        jobs: &'a [Job],
        (running, groups): (&HashMap<String, i64>, &mut Groups),
        now: &'a str,
        plan: &mut impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
        report: &mut ClaimReport,
    ) -> Decisions<'a> {
        let mut decided = Decisions {
            rows: Vec::with_capacity(jobs.len()),
            nexts: Vec::with_capacity(jobs.len()),
            skips_left: Vec::new(),
            catch_ups: Vec::new(),
            by_id: HashMap::with_capacity(jobs.len()),
        };
        for job in jobs {
            let count = running.get(&job.id).copied().unwrap_or(0);
            let plan = plan(job, Busy::of(job, count, groups));
            groups.after_plan(&job.id, job.exclusive.as_ref(), &plan);
            for (span, status, reason) in closed_rows(&plan) {
                decided
                    .rows
                    .push(RowSpec::closed(&job.id, span, status, now, reason));
                report.count_closed(&span, status);
            }
            for (span, reason) in reasoned_skips(&plan, job.skip.as_ref()) {
                let row = RowSpec::closed(&job.id, span, RunStatus::Skipped, now, &reason);
                decided.rows.push(row);
                report.skipped += span.count;
            }
            if let Some(catch_up) = plan.catch_up {
                decided.catch_ups.push((&job.id, catch_up));
            }
            if let Some(left) = plan.skips_left {
                decided.skips_left.push(SkipsLeft {
                    id: &job.id,
                    count: left,
                });
            }
            for span in &plan.runs {
                let delay = job.retry.draw_delay_ms(1);
                decided
                    .rows
                    .push(RowSpec::running(&job.id, *span, now, 1, delay));
            }
            decided.nexts.push(NextRun {
                id: &job.id,
                next_run_at: plan.next_run_at.map(ts),
            });
            decided.by_id.insert(&job.id, job);
        }
        decided
    }
}

/// A job's new `next_run_at`, for the claim's one `UPDATE … FROM jsonb_each`.
#[derive(Serialize)]
struct NextRun<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_run_at: Option<String>,
}

/// A job's count of occurrences still to skip after a claim used some.
#[derive(Serialize)]
struct SkipsLeft<'a> {
    id: &'a str,
    count: u32,
}

/// Serializes a batch for a `jsonb_each` parameter.
///
/// N.B. `jsonb_each`, not `json_each`, for batches of objects read with `->> 'key'`: json_each
/// hands each object back as JSON text, which every `->>` then parses again (eight times per
/// inserted row); jsonb_each hands back the binary form, which `->>` reads directly. Measured
/// on a burst: a third of SQLite's work per occurrence was that re-parsing.
pub(super) fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt("batch", "json", e.to_string()))
}

/// Inserts a `running` row; `None` when the occurrence already has a row.
async fn insert_running(
    tx: &mut sqlx::SqliteConnection,
    job_id: &str,
    span: Span,
    kind: RunKind,
    now: DateTime<Utc>,
    owner: &str,
    retry_delay_ms: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let first = ts(span.first);
    let last = (span.count > 1).then(|| ts(span.last));
    let kind_s = kind.as_str();
    let at = ts(now);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
            started_at, owner_id, retry_delay_ms)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)
         ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING
         RETURNING id AS "id!: i64""#,
        job_id,
        first,
        last,
        span.count,
        kind_s,
        at,
        owner,
        retry_delay_ms
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(id)
}
