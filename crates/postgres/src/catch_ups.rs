//! PostgreSQL: the catch-up queue, the same rules as SQLite's `catch_ups.rs`. A claim locks the
//! approved stretches it drains and their jobs with `FOR UPDATE SKIP LOCKED`, so one node starts
//! a stretch's next occurrences while it counts the job's busy slots, and no other node claims
//! the same job in between; the unique key on job_runs backs each start up.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schedlite_core::model::{
    AuditAction, Awaiting, CatchUpDecision, CatchUpOutcome, CatchUpSpan, CatchUpState, Job,
    MAX_CATCH_UP_STARTS, RunKind, Span, Split, decision_detail, next_occurrences,
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
/// node). Returns the runs, and whether a stretch still has occurrences to start.
pub(crate) async fn start_approved(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    owner: &str,
    limit: u32,
) -> Result<(Vec<ClaimedRun>, bool), StoreError> {
    let queue = sqlx::query!(
        r#"SELECT c.id, c.job_id, c.last_at, c.next_at AS "next_at!"
           FROM catch_ups AS c JOIN jobs AS j ON j.id = c.job_id
           WHERE c.state = 'approved' AND NOT j.paused
           ORDER BY c.id LIMIT $1
           FOR UPDATE OF c, j SKIP LOCKED"#,
        i64::from(limit)
    )
    .fetch_all(&mut *tx)
    .await?;
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
    let mut busy = busy_slots(&mut *tx, &ids).await?;
    let mut decided = Decisions::default();
    decided.by_id = jobs
        .iter()
        .map(|j| (j.id.as_str(), j))
        .collect::<HashMap<_, &Job>>();
    let (mut moved_ids, mut moved_to, mut done) = (Vec::new(), Vec::new(), Vec::new());
    let mut waiting = false;
    for stretch in &queue {
        let Some(job) = decided.by_id.get(stretch.job_id.as_str()).copied() else {
            continue; // Unreadable: paused above, its stretch waits for the repair.
        };
        let used = busy.entry(stretch.job_id.clone()).or_insert(0);
        let free = i64::from(job.settings.max_instances) - *used;
        if free <= 0 {
            waiting = true;
            continue;
        }
        let limit = usize::try_from(free).unwrap_or(0).min(MAX_CATCH_UP_STARTS);
        let (starts, next) =
            next_occurrences(&job.trigger, stretch.next_at, stretch.last_at, limit);
        for at in &starts {
            let one = Span {
                first: *at,
                last: *at,
                count: 1,
            };
            let delay = job.retry.draw_delay_ms(1);
            decided.push_attempt(&stretch.job_id, one, now, RunKind::Scheduled, 1, delay);
        }
        *used += i64::try_from(starts.len()).unwrap_or(i64::MAX);
        match next {
            Some(next) => {
                waiting = true;
                moved_ids.push(stretch.id);
                moved_to.push(ms(next));
            }
            None => done.push(stretch.id),
        }
    }
    let runs = if decided.job_ids.is_empty() {
        Vec::new()
    } else {
        insert_rows(&mut *tx, &decided, owner).await?
    };
    sqlx::query!(
        "UPDATE catch_ups SET next_at = u.next FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, next)
         WHERE catch_ups.id = u.id",
        &moved_ids,
        &moved_to
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM catch_ups WHERE id = ANY($1)", &done)
        .execute(&mut *tx)
        .await?;
    Ok((runs, waiting))
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
        for span in &split.missed {
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
                closed_reason(span.count, &why)
            )
            .execute(&mut *tx)
            .await?;
        }
        let ids: Vec<i64> = waiting.iter().map(|w| w.id).collect();
        sqlx::query!("DELETE FROM catch_ups WHERE id = ANY($1)", &ids)
            .execute(&mut *tx)
            .await?;
        for span in &split.run {
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
