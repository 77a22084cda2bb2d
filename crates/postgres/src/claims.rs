//! PostgreSQL: the scheduler's write path: claiming due occurrences, manual runs, outcomes.
//!
//! A claim is one transaction: lock up to `limit` due job rows with `FOR UPDATE SKIP LOCKED`
//! (rows another node is claiming are skipped, not waited for), count the runs other nodes
//! have running for them, ask the caller's plan what to do with each, insert every `missed`,
//! `skipped` and `running` row in one statement and advance every `next_run_at` in another.
//! The row lock makes one node at a time decide for a job, and what it decided is visible to
//! the next node as soon as the lock is released; the unique key (job_id, scheduled_at) backs
//! that up: an occurrence that has a row is never inserted again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schedlite_core::crash_point;
use schedlite_core::model::{
    AuditAction, CatchUpSpan, ClaimPlan, CounterChange, FinishedRun, Groups, Job, RunKind,
    RunStatus, Span, fold_outcomes,
};
use schedlite_core::store::claims::{
    closed_reason, closed_rows, manual_run_allowed, reasoned_skips,
};
use schedlite_core::store::{Busy, ClaimReport, ClaimedRun, RunRecord, StoreError};
use sqlx::PgConnection;

use super::exclusive::{Locking, find_holders, not_waiting};
use super::rows::JobRow;
use super::{PgStore, ms};

/// How many times a manual run moves its instant on by 1 ms when the instant is taken.
const MAX_MANUAL_RUN_SHIFTS: u32 = 1000;

impl PgStore {
    /// Claims due occurrences up to `horizon` for node `owner`; see the service's
    /// `Store::claim_due_until` for the contract.
    pub async fn claim_due_until(
        &self,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
        owner: &str,
        limit: u32,
        mut plan: impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    ) -> Result<ClaimReport, StoreError> {
        let horizon = ms(horizon.max(now));
        let now = ms(now);
        let mut report = ClaimReport::default();
        let any_due = not_waiting!(query_scalar!(
            [r#"SELECT EXISTS (SELECT 1 FROM jobs WHERE next_run_at <= $1 AND "# NOT_WAITING r#")
                   OR EXISTS (SELECT 1 FROM job_runs AS r WHERE retry_at <= $1
                              AND EXISTS (SELECT 1 FROM jobs AS j
                                          WHERE j.id = r.job_id AND NOT j.paused))
                   OR EXISTS (SELECT 1 FROM catch_ups AS c WHERE state = 'approved'
                              AND EXISTS (SELECT 1 FROM jobs AS j
                                          WHERE j.id = c.job_id AND NOT j.paused)) AS "due!""#],
            horizon
        ))
        .fetch_one(&mut *self.conn().await?)
        .await?;
        if !any_due {
            return Ok(report);
        }
        let mut tx = self.begin().await?;
        let due = not_waiting!(query_as!(
            JobRow,
            ["SELECT * FROM jobs WHERE next_run_at <= $1 AND " NOT_WAITING "
              ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"],
            horizon,
            i64::from(limit)
        ))
        .fetch_all(&mut *tx)
        .await?;
        report.jobs = due.len();
        // Who holds each exclusive group this claim touches, and what it starts in them.
        let mut groups = Groups::default();
        if !due.is_empty() {
            let claim = Claim {
                now,
                owner,
                groups: &mut groups,
            };
            claim_jobs(&mut tx, due, claim, &mut plan, &mut report).await?;
        }
        // Retries after first attempts: a pending retry counted toward `max_instances` above,
        // and once claimed it is this node's run, which the plan would not have seen.
        let retries = super::retries::claim_retries(&mut tx, now, horizon, owner, limit).await?;
        report.runs.extend(retries);
        // Approved catch-up stretches last: their runs take the slots the claims above left.
        let (caught_up, waiting) =
            super::catch_ups::start_approved(&mut tx, now, owner, limit, &mut groups).await?;
        report.runs.extend(caught_up);
        report.catch_ups_waiting = waiting;
        crash_point!("claim-before-commit");
        tx.commit().await?;
        Ok(report)
    }

    /// Inserts a manual run of `job_id` at `now` owned by `owner`, audited as `key_name`'s;
    /// `None` when the job does not exist. The instant moves on by a millisecond while taken.
    pub async fn insert_manual_run(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        owner: &str,
        key_name: &str,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let now = ms(now);
        let mut tx = self.begin().await?;
        let Some(job) = super::jobs::read_job(&mut tx, job_id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        if job.exclusive.is_some() {
            let mut groups = Groups::default();
            find_holders(&mut tx, &[&job], &mut groups, Locking::Wait).await?;
            if let Err(refused) = manual_run_allowed(&job, &groups) {
                tx.rollback().await?;
                return Err(refused);
            }
        }
        let one_ms = chrono::Duration::milliseconds(1);
        let delay = job.retry.draw_delay_ms(1);
        let mut at = now;
        for _ in 0..MAX_MANUAL_RUN_SHIFTS {
            // An instant the trigger fires at belongs to that occurrence.
            if job.trigger.next_fire_after(at - one_ms).map(|f| f.at) == Some(at) {
                at += one_ms;
                continue;
            }
            let run_id = sqlx::query_scalar!(
                "INSERT INTO job_runs (job_id, scheduled_at, occurrences, kind, status, started_at, owner_id,
                     retry_delay_ms)
                 VALUES ($1, $2, 1, $3, 'running', $4, $5, $6)
                 ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING RETURNING id",
                job_id,
                at,
                RunKind::Manual.as_str(),
                now,
                owner,
                delay
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(run_id) = run_id {
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
            at += one_ms;
        }
        tx.rollback().await?;
        Err(StoreError::corrupt(
            "job_runs",
            job_id,
            "no free instant for a manual run",
        ))
    }

    /// Writes the outcomes of finished runs in one statement. A row already marked
    /// `interrupted` (its owner was wrongly thought dead) still takes the real outcome.
    pub async fn record_outcomes(&self, records: &[RunRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = records.iter().map(|r| r.run_id).collect();
        let statuses: Vec<&str> = records.iter().map(|r| r.status.as_str()).collect();
        let started: Vec<DateTime<Utc>> = records.iter().map(|r| ms(r.started_at)).collect();
        let finished: Vec<DateTime<Utc>> = records.iter().map(|r| ms(r.finished_at)).collect();
        let durations: Vec<i64> = records
            .iter()
            .map(|r| (ms(r.finished_at) - ms(r.started_at)).num_milliseconds())
            .collect();
        let http: Vec<Option<i64>> = records
            .iter()
            .map(|r| r.http_status.map(i64::from))
            .collect();
        let exit: Vec<Option<i64>> = records.iter().map(|r| r.exit_code.map(i64::from)).collect();
        let outputs: Vec<Option<String>> = records.iter().map(|r| r.output.clone()).collect();
        let errors: Vec<Option<String>> = records.iter().map(|r| r.error.clone()).collect();
        let changes = fold_outcomes(
            &records
                .iter()
                .map(|r| FinishedRun {
                    job_id: r.job_id.clone(),
                    status: r.status,
                    finished_at: r.finished_at,
                })
                .collect::<Vec<_>>(),
        );
        crash_point!("outcome-before-write");
        let mut tx = self.begin().await?;
        sqlx::query!(
            "UPDATE job_runs SET status = o.status, started_at = o.started_at,
                finished_at = o.finished_at, duration_ms = o.duration_ms,
                http_status = o.http_status, exit_code = o.exit_code, output = o.output, error = o.error,
                retry_at = CASE WHEN o.status = 'succeeded' OR job_runs.retry_delay_ms IS NULL
                        OR EXISTS (SELECT 1 FROM job_runs AS n WHERE n.job_id = job_runs.job_id
                                   AND n.scheduled_at = job_runs.scheduled_at
                                   AND n.attempt = job_runs.attempt + 1)
                    THEN NULL
                    ELSE o.finished_at + job_runs.retry_delay_ms * interval '1 millisecond' END
             FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[],
                         $6::bigint[], $7::bigint[], $8::text[], $9::text[])
                  AS o(id, status, started_at, finished_at, duration_ms, http_status, exit_code, output, error)
             WHERE job_runs.id = o.id AND job_runs.status IN ('running', 'interrupted')",
            &ids,
            &statuses as &[&str],
            &started,
            &finished,
            &durations,
            &http as &[Option<i64>],
            &exit as &[Option<i64>],
            &outputs as &[Option<String>],
            &errors as &[Option<String>]
        )
        .execute(&mut *tx)
        .await?;
        move_counters(&mut tx, &changes).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The first attempts part of [`PgStore::claim_due_until`]: plans the due jobs, inserts their
/// rows and advances their `next_run_at`, in the caller's transaction.
async fn claim_jobs(
    tx: &mut PgConnection,
    due: Vec<JobRow>,
    claim: Claim<'_>,
    plan: &mut impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
    report: &mut ClaimReport,
) -> Result<(), StoreError> {
    let Claim { now, owner, groups } = claim;
    let jobs = pause_unreadable(&mut *tx, due).await?;
    let running = running_elsewhere(&mut *tx, &jobs, owner).await?;
    let refs: Vec<&Job> = jobs.iter().collect();
    find_holders(&mut *tx, &refs, groups, Locking::Wait).await?;
    let decided = Decisions::of(&jobs, (&running, groups), now, plan, report);
    if !decided.job_ids.is_empty() {
        report.runs = insert_rows(&mut *tx, &decided, owner).await?;
    }
    crash_point!("claim-after-insert");
    // The test mutant (`mutant-no-advance`) breaks the claim here, to prove that the
    // torture audit fails when occurrences are not advanced past.
    if !cfg!(feature = "mutant-no-advance") {
        sqlx::query!(
            "UPDATE jobs SET next_run_at = u.next FROM unnest($1::text[], $2::timestamptz[]) AS u(id, next)
             WHERE jobs.id = u.id",
            &decided.next_ids,
            &decided.nexts as &[Option<DateTime<Utc>>]
        )
        .execute(&mut *tx)
        .await?;
    }
    if !decided.catch_ups.is_empty() {
        super::catch_ups::enqueue(&mut *tx, &decided.catch_ups, now).await?;
    }
    if !decided.skip_ids.is_empty() {
        // Rare (only jobs with a skip request), so kept out of the statement above, which
        // every claim runs.
        sqlx::query!(
            "UPDATE jobs SET skip_count = u.count,
                skip_reason = CASE WHEN u.count = 0 THEN NULL ELSE skip_reason END
             FROM unnest($1::text[], $2::bigint[]) AS u(id, count) WHERE jobs.id = u.id",
            &decided.skip_ids,
            &decided.skips_left
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The readable due jobs. A due job whose row cannot be read (a bad hand edit) is paused with
/// an error logged, rather than blocking the loop; its definition is left for the operator.
pub(crate) async fn pause_unreadable(
    tx: &mut PgConnection,
    due: Vec<JobRow>,
) -> Result<Vec<Job>, StoreError> {
    let mut jobs = Vec::with_capacity(due.len());
    let mut unreadable = Vec::new();
    for row in due {
        let id = row.id.clone();
        match Job::try_from(row) {
            Ok(job) => jobs.push(job),
            Err(StoreError::Corrupt { table, key, reason }) => {
                tracing::error!(job.id = %id, %table, %key, %reason, "due job is unreadable: pausing it until it is fixed");
                unreadable.push(id);
            }
            Err(other) => return Err(other),
        }
    }
    if !unreadable.is_empty() {
        sqlx::query!(
            "UPDATE jobs SET paused = true, next_run_at = NULL WHERE id = ANY($1)",
            &unreadable
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(jobs)
}

/// How many runs of each of `jobs` are `running` on nodes other than `owner` or waiting to be
/// retried (a pending retry counts toward `max_instances`).
async fn running_elsewhere(
    tx: &mut PgConnection,
    jobs: &[Job],
    owner: &str,
) -> Result<HashMap<String, i64>, StoreError> {
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let rows = sqlx::query!(
        r#"SELECT job_id AS "job_id!", count(*) AS "n!" FROM (
               SELECT job_id FROM job_runs
               WHERE status = 'running' AND owner_id IS DISTINCT FROM $2 AND job_id = ANY($1)
               UNION ALL
               SELECT job_id FROM job_runs WHERE retry_at IS NOT NULL AND job_id = ANY($1)) AS b
           GROUP BY job_id"#,
        &ids,
        owner
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.job_id, r.n)).collect())
}

/// When and for whom a claim writes, and the groups it has looked at so far.
struct Claim<'a> {
    now: DateTime<Utc>,
    owner: &'a str,
    groups: &'a mut Groups,
}

/// What the plan decided for a batch, as columns of the rows to insert and the next runs.
#[derive(Default)]
pub(crate) struct Decisions<'a> {
    pub(crate) job_ids: Vec<String>,
    scheduled: Vec<DateTime<Utc>>,
    last_scheduled: Vec<Option<DateTime<Utc>>>,
    occurrences: Vec<i64>,
    statuses: Vec<&'static str>,
    started: Vec<Option<DateTime<Utc>>>,
    finished: Vec<Option<DateTime<Utc>>>,
    errors: Vec<Option<String>>,
    kinds: Vec<&'static str>,
    attempts: Vec<i64>,
    delays: Vec<Option<i64>>,
    next_ids: Vec<String>,
    nexts: Vec<Option<DateTime<Utc>>>,
    skip_ids: Vec<String>,
    skips_left: Vec<i64>,
    catch_ups: Vec<(String, CatchUpSpan)>,
    pub(crate) by_id: HashMap<&'a str, &'a Job>,
}

impl<'a> Decisions<'a> {
    /// Asks `plan` about each job and counts the missed and skipped occurrences into `report`.
    fn of(
        jobs: &'a [Job],
        (running, groups): (&HashMap<String, i64>, &mut Groups),
        now: DateTime<Utc>,
        plan: &mut impl FnMut(&Job, Busy<'_>) -> ClaimPlan,
        report: &mut ClaimReport,
    ) -> Decisions<'a> {
        let mut d = Decisions::default();
        for job in jobs {
            let count = running.get(&job.id).copied().unwrap_or(0);
            let plan = plan(job, Busy::of(job, count, groups));
            groups.after_plan(&job.id, job.exclusive.as_ref(), &plan);
            for (span, status, reason) in closed_rows(&plan) {
                d.push(&job.id, span, status, now, Some(reason));
                report.count_closed(&span, status);
            }
            for (span, reason) in reasoned_skips(&plan, job.skip.as_ref()) {
                d.push(
                    &job.id,
                    span,
                    RunStatus::Skipped,
                    now,
                    Some(reason.as_str()),
                );
                report.skipped += span.count;
            }
            if let Some(catch_up) = plan.catch_up {
                d.catch_ups.push((job.id.clone(), catch_up));
            }
            if let Some(left) = plan.skips_left {
                d.skip_ids.push(job.id.clone());
                d.skips_left.push(i64::from(left));
            }
            for span in &plan.runs {
                let delay = job.retry.draw_delay_ms(1);
                d.push_attempt(&job.id, *span, now, RunKind::Scheduled, 1, delay);
            }
            d.next_ids.push(job.id.clone());
            d.nexts.push(plan.next_run_at.map(ms));
            d.by_id.insert(&job.id, job);
        }
        d
    }

    /// Adds a `running` row for attempt `attempt` at `span`, of `kind` (a retry keeps its first
    /// attempt's), retried `delay` ms after it ends without success (`None`: its last attempt).
    pub(crate) fn push_attempt(
        &mut self,
        job_id: &str,
        span: Span,
        now: DateTime<Utc>,
        kind: RunKind,
        attempt: u32,
        delay: Option<i64>,
    ) {
        self.push(job_id, span, RunStatus::Running, now, None);
        if let (Some(k), Some(a), Some(d)) = (
            self.kinds.last_mut(),
            self.attempts.last_mut(),
            self.delays.last_mut(),
        ) {
            *k = kind.as_str();
            *a = i64::from(attempt);
            *d = delay;
        }
    }

    /// Adds one row: `running` when `reason` is `None`, else closed at `now` with the reason.
    fn push(
        &mut self,
        job_id: &str,
        span: Span,
        status: RunStatus,
        now: DateTime<Utc>,
        reason: Option<&str>,
    ) {
        self.job_ids.push(job_id.to_string());
        self.scheduled.push(ms(span.first));
        self.last_scheduled
            .push((span.count > 1).then(|| ms(span.last)));
        self.occurrences.push(span.count);
        self.statuses.push(status.as_str());
        self.started.push(reason.is_none().then_some(now));
        self.finished.push(reason.is_some().then_some(now));
        self.errors
            .push(reason.map(|r| closed_reason(span.count, r)));
        self.kinds.push(RunKind::Scheduled.as_str());
        self.attempts.push(1);
        self.delays.push(None);
    }
}

/// Inserts the decided rows in one statement (an occurrence that already has a row is left
/// alone) and returns the `running` ones it created, in due order.
pub(crate) async fn insert_rows(
    tx: &mut PgConnection,
    d: &Decisions<'_>,
    owner: &str,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let inserted = sqlx::query!(
        r#"INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind, status,
               started_at, finished_at, owner_id, error, attempt, retry_delay_ms)
           SELECT r.job_id, r.scheduled_at, r.last_scheduled_at, r.occurrences, r.kind, r.status,
                  r.started_at, r.finished_at, $9, r.error, r.attempt, r.retry_delay_ms
           FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::text[],
                       $6::timestamptz[], $7::timestamptz[], $8::text[], $10::text[], $11::bigint[],
                       $12::bigint[])
                AS r(job_id, scheduled_at, last_scheduled_at, occurrences, status, started_at,
                     finished_at, error, kind, attempt, retry_delay_ms)
           ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING
           RETURNING id, job_id, scheduled_at, status, attempt"#,
        &d.job_ids,
        &d.scheduled,
        &d.last_scheduled as &[Option<DateTime<Utc>>],
        &d.occurrences,
        &d.statuses as &[&str],
        &d.started as &[Option<DateTime<Utc>>],
        &d.finished as &[Option<DateTime<Utc>>],
        &d.errors as &[Option<String>],
        owner,
        &d.kinds as &[&str],
        &d.attempts,
        &d.delays as &[Option<i64>]
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut runs: Vec<ClaimedRun> = inserted
        .into_iter()
        .filter(|row| row.status == RunStatus::Running.as_str())
        .filter_map(|row| {
            let job = d.by_id.get(row.job_id.as_str())?;
            let attempt = u32::try_from(row.attempt).ok()?;
            Some(ClaimedRun {
                run_id: row.id,
                job_id: row.job_id,
                scheduled_at: row.scheduled_at,
                attempt,
                start_at: row.scheduled_at,
                action: job.action.clone(),
                jitter_seconds: if attempt == 1 {
                    job.settings.jitter_seconds
                } else {
                    0
                },
                exclusive: job.exclusive.is_some(),
            })
        })
        .collect();
    runs.sort_by(|a, b| {
        a.scheduled_at
            .cmp(&b.scheduled_at)
            .then(a.run_id.cmp(&b.run_id))
    });
    Ok(runs)
}

/// Moves the health counters with the outcomes, in the same transaction (module
/// `model::health`): a success replaces the failure count, failures add to it.
async fn move_counters(tx: &mut PgConnection, changes: &[CounterChange]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = changes.iter().map(|c| c.job_id.as_str()).collect();
    let success: Vec<Option<DateTime<Utc>>> =
        changes.iter().map(|c| c.success_at.map(ms)).collect();
    let failures: Vec<i64> = changes.iter().map(|c| i64::from(c.failures)).collect();
    sqlx::query!(
        "UPDATE jobs SET
                    consecutive_failures = CASE WHEN c.success_at IS NULL
                        THEN jobs.consecutive_failures + c.failures ELSE c.failures END,
                    last_success_at = GREATEST(jobs.last_success_at, c.success_at)
                 FROM unnest($1::text[], $2::timestamptz[], $3::bigint[])
                      AS c(id, success_at, failures)
                 WHERE jobs.id = c.id",
        &ids as &[&str],
        &success as &[Option<DateTime<Utc>>],
        &failures
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
