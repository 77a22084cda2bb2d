//! PostgreSQL: the catch-up queue, the same rules as SQLite's `catch_ups.rs`. A claim locks the
//! approved stretches it drains and their jobs with `FOR UPDATE SKIP LOCKED`, so one node starts
//! a stretch's next occurrences while it counts the job's busy slots, and no other node claims
//! the same job in between; the unique key on job_runs backs each start up.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schedlite_core::model::{
    AuditAction, Awaiting, CatchUpDecision, CatchUpOutcome, CatchUpSpan, CatchUpState, Groups, Job,
    Queued, RunKind, Span, Split, Starts, decision_detail, plan_starts,
};
use schedlite_core::store::claims::{closed_reason, declined_reason};
use schedlite_core::store::{ClaimedRun, StoreError};
use sqlx::PgConnection;

use super::claims::{Decisions, insert_rows, pause_unreadable};
use super::rows::JobRow;
use super::{PgStore, ms};

/// Who approves a stretch queued by the `all` policy.
const POLICY: &str = "policy";

/// Inserts the stretches a claim sent to the queue, in its transaction.
pub(crate) async fn enqueue(
    tx: &mut PgConnection,
    items: &[(String, CatchUpSpan)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (job_id, c) in items {
        let approved = c.state == CatchUpState::Approved;
        sqlx::query!(
            "INSERT INTO catch_ups (job_id, state, first_at, last_at, occurrences, recorded_at,
                 next_at, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            job_id,
            c.state.as_str(),
            ms(c.span.first),
            ms(c.span.last),
            c.span.count,
            now,
            approved.then(|| ms(c.span.first)),
            approved.then_some(POLICY),
            approved.then_some(now)
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Starts the next occurrences of up to `limit` approved stretches of unpaused jobs, each job
/// up to its free slots (`max_instances` less its running runs and pending retries, on every
/// node; `model::plan_starts`). Returns the runs, and whether a stretch still has occurrences
/// to start.
pub(crate) async fn start_approved(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    owner: &str,
    limit: u32,
    groups: &mut Groups,
) -> Result<(Vec<ClaimedRun>, bool), StoreError> {
    let queue: Vec<Queued> = sqlx::query!(
        r#"SELECT c.id, c.job_id, c.last_at, c.next_at AS "next_at!"
           FROM catch_ups AS c JOIN jobs AS j ON j.id = c.job_id
           WHERE c.state = 'approved' AND NOT j.paused
           ORDER BY c.id LIMIT $1
           FOR UPDATE OF c, j SKIP LOCKED"#,
        i64::from(limit)
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| Queued {
        id: r.id,
        job_id: r.job_id,
        next_at: r.next_at,
        last_at: r.last_at,
    })
    .collect();
    if queue.is_empty() {
        return Ok((Vec::new(), false));
    }
    let mut ids: Vec<String> = queue.iter().map(|s| s.job_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query_as!(JobRow, "SELECT * FROM jobs WHERE id = ANY($1)", &ids)
        .fetch_all(&mut *tx)
        .await?;
    let jobs = pause_unreadable(&mut *tx, rows).await?;
    let busy = busy_slots(&mut *tx, &ids).await?;
    let mut decided = Decisions::default();
    decided.by_id = jobs
        .iter()
        .map(|j| (j.id.as_str(), j))
        .collect::<HashMap<_, &Job>>();
    let refs: Vec<&Job> = jobs.iter().collect();
    super::exclusive::find_holders(&mut *tx, &refs, groups, super::exclusive::Locking::Try).await?;
    let starts = plan_starts(&queue, &decided.by_id, busy, groups);
    for (job_id, at) in &starts.runs {
        let Some(job) = decided.by_id.get(job_id.as_str()).copied() else {
            continue;
        };
        let one = Span {
            first: *at,
            last: *at,
            count: 1,
        };
        let delay = job.retry.draw_delay_ms(1);
        decided.push_attempt(job_id, one, now, RunKind::Scheduled, 1, delay);
    }
    let runs = if decided.job_ids.is_empty() {
        Vec::new()
    } else {
        insert_rows(&mut *tx, &decided, owner).await?
    };
    move_on(&mut *tx, &starts).await?;
    Ok((runs, starts.waiting))
}

/// Moves each stretch with occurrences left on to its next one, and removes those done.
async fn move_on(tx: &mut PgConnection, starts: &Starts) -> Result<(), StoreError> {
    let (ids, nexts): (Vec<i64>, Vec<DateTime<Utc>>) =
        starts.moved.iter().map(|(id, at)| (*id, ms(*at))).unzip();
    sqlx::query!(
        "UPDATE catch_ups SET next_at = u.next FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, next)
         WHERE catch_ups.id = u.id",
        &ids,
        &nexts
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM catch_ups WHERE id = ANY($1)", &starts.done)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Runs running (on any node) or waiting to be retried, per job of `ids`.
async fn busy_slots(
    tx: &mut PgConnection,
    ids: &[String],
) -> Result<HashMap<String, i64>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT job_id AS "job_id!", count(*) AS "n!" FROM (
               SELECT job_id FROM job_runs WHERE status = 'running' AND job_id = ANY($1)
               UNION ALL
               SELECT job_id FROM job_runs WHERE retry_at IS NOT NULL AND job_id = ANY($1)) AS b
           GROUP BY job_id"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.job_id, r.n)).collect())
}

impl PgStore {
    /// What awaits approval, per job of `ids` that has anything waiting.
    pub async fn awaiting_approval(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Awaiting>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_string()).collect();
        let rows = sqlx::query!(
            r#"SELECT job_id AS "job_id!", min(first_at) AS "first!", max(last_at) AS "last!",
                      sum(occurrences)::bigint AS "occurrences!", min(recorded_at) AS "since!"
               FROM catch_ups WHERE state = 'awaiting_approval' AND job_id = ANY($1)
               GROUP BY job_id"#,
            &ids
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let awaiting = Awaiting {
                    first: r.first,
                    last: r.last,
                    occurrences: r.occurrences,
                    since: r.since,
                };
                (r.job_id, awaiting)
            })
            .collect())
    }

    /// Applies `decision` to every stretch of `job_id` awaiting approval (see the seam).
    pub async fn decide_catch_up(
        &self,
        job_id: &str,
        decision: CatchUpDecision,
        now: DateTime<Utc>,
        key_name: &str,
        reason: Option<&str>,
    ) -> Result<Option<CatchUpOutcome>, StoreError> {
        let now = ms(now);
        let mut tx = self.begin().await?;
        let Some(job) = super::jobs::read_job(&mut tx, job_id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Locked: of two decisions at once, the second finds the rows gone and decides nothing.
        let waiting = sqlx::query!(
            "SELECT id, first_at, last_at, occurrences FROM catch_ups
             WHERE job_id = $1 AND state = 'awaiting_approval' ORDER BY id FOR UPDATE",
            job_id
        )
        .fetch_all(&mut *tx)
        .await?;
        if waiting.is_empty() {
            tx.rollback().await?;
            return Ok(Some(CatchUpOutcome::default()));
        }
        let spans: Vec<Span> = waiting
            .iter()
            .map(|w| Span {
                first: w.first_at,
                last: w.last_at,
                count: w.occurrences,
            })
            .collect();
        let split = Split::of(&job.trigger, &spans, decision);
        let why = declined_reason(decision.as_str(), key_name, reason);
        write_missed(&mut tx, job_id, &split.missed, now, &why).await?;
        let ids: Vec<i64> = waiting.iter().map(|w| w.id).collect();
        sqlx::query!("DELETE FROM catch_ups WHERE id = ANY($1)", &ids)
            .execute(&mut *tx)
            .await?;
        approve(&mut tx, job_id, &split.run, now, key_name).await?;
        let outcome = split.outcome();
        let detail = decision_detail(decision, &outcome, reason);
        super::audit::write_audit(
            &mut tx,
            now,
            key_name,
            AuditAction::CatchUp,
            job_id,
            Some(&detail),
        )
        .await?;
        super::notify::job_changed(&mut tx, job_id).await?;
        tx.commit().await?;
        Ok(Some(outcome))
    }
}

/// Records `spans` of `job_id` as `missed` with the decision's reason `why`, at `now`.
async fn write_missed(
    tx: &mut PgConnection,
    job_id: &str,
    spans: &[Span],
    now: DateTime<Utc>,
    why: &str,
) -> Result<(), StoreError> {
    for span in spans {
        sqlx::query!(
            "INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind,
                 status, finished_at, error)
             VALUES ($1, $2, $3, $4, 'scheduled', 'missed', $5, $6)
             ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING",
            job_id,
            span.first,
            (span.count > 1).then_some(span.last),
            span.count,
            now,
            closed_reason(span.count, why)
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Queues `spans` of `job_id` approved by `key_name` at `now`, from their first occurrence.
async fn approve(
    tx: &mut PgConnection,
    job_id: &str,
    spans: &[Span],
    now: DateTime<Utc>,
    key_name: &str,
) -> Result<(), StoreError> {
    for span in spans {
        sqlx::query!(
            "INSERT INTO catch_ups (job_id, state, first_at, last_at, occurrences, recorded_at,
                 next_at, decided_by, decided_at)
             VALUES ($1, 'approved', $2, $3, $4, $5, $2, $6, $5)",
            job_id,
            span.first,
            span.last,
            span.count,
            now,
            key_name
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
