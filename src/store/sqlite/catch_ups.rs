//! SQLite: the catch-up queue (DESIGN.md, *Job health, alerts, pause, skip, catch-up*). A
//! claim sends a stretch missed beyond grace here (`ask`: awaiting approval; `all`: approved at
//! once); each later claim starts the next occurrences of every approved stretch whose job has
//! a free slot, in order, in the claim's transaction, so the write lock makes each start once
//! (and the unique key on job_runs backs that up).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::claims::{json_text, pause_unreadable};
use super::rows::decode;
use super::run_rows::{RowSpec, insert_rows};
use super::{SqliteStore, parse_ts, ts};
use crate::model::{
    AuditAction, Awaiting, CatchUpDecision, CatchUpOutcome, CatchUpSpan, CatchUpState, Groups, Job,
    Queued, Span, Split, Starts, decision_detail, plan_starts,
};
use crate::store::{ClaimedRun, StoreError};
use schedlite_core::store::claims::{closed_reason, declined_reason};

/// Who approves a stretch queued by the `all` policy.
const POLICY: &str = "policy";

/// A stretch to insert into the queue, as the statement reads it.
#[derive(Serialize)]
struct NewStretch<'a> {
    job_id: &'a str,
    state: &'static str,
    first_at: String,
    last_at: String,
    occurrences: i64,
    next_at: Option<String>,
    decided_by: Option<&'static str>,
}

/// A stretch of the queue, read by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stretch {
    id: i64,
    job_id: String,
    first_at: String,
    last_at: String,
    occurrences: i64,
    next_at: Option<String>,
}

impl Stretch {
    fn span(&self) -> Result<Span, StoreError> {
        let key = format!("id {}", self.id);
        Ok(Span {
            first: parse_ts("catch_ups", &key, "first_at", &self.first_at)?,
            last: parse_ts("catch_ups", &key, "last_at", &self.last_at)?,
            count: self.occurrences,
        })
    }
}

/// Inserts the stretches a claim sent to the queue, in its transaction.
pub(super) async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    items: &[(&str, CatchUpSpan)],
    now: &str,
) -> Result<(), StoreError> {
    let rows: Vec<NewStretch> = items
        .iter()
        .map(|(job_id, c)| {
            let approved = c.state == CatchUpState::Approved;
            NewStretch {
                job_id,
                state: c.state.as_str(),
                first_at: ts(c.span.first),
                last_at: ts(c.span.last),
                occurrences: c.span.count,
                next_at: approved.then(|| ts(c.span.first)),
                decided_by: approved.then_some(POLICY),
            }
        })
        .collect();
    let rows = json_text(&rows)?;
    sqlx::query!(
        "INSERT INTO catch_ups (job_id, state, first_at, last_at, occurrences, recorded_at, next_at,
             decided_by, decided_at)
         SELECT c.value ->> 'job_id', c.value ->> 'state', c.value ->> 'first_at',
                c.value ->> 'last_at', c.value ->> 'occurrences', ?2, c.value ->> 'next_at',
                c.value ->> 'decided_by', iif(c.value ->> 'next_at' IS NULL, NULL, ?2)
         FROM json_each(?1) AS c",
        rows,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Starts the next occurrences of up to `limit` approved stretches of unpaused jobs, each job
/// up to its free slots (`max_instances` less its running runs and pending retries, on every
/// process; `model::plan_starts`). Returns the runs, and whether a stretch still has
/// occurrences to start.
pub(super) async fn start_approved(
    tx: &mut sqlx::SqliteConnection,
    now: &str,
    owner: &str,
    limit: u32,
    groups: &mut Groups,
) -> Result<(Vec<ClaimedRun>, bool), StoreError> {
    let queue = approved(&mut *tx, limit).await?;
    if queue.is_empty() {
        return Ok((Vec::new(), false));
    }
    let mut ids: Vec<&str> = queue.iter().map(|s| s.job_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let ids = json_text(&ids)?;
    let jobs = super::jobs::jobs_by_ids(&mut *tx, &ids).await?;
    let jobs = pause_unreadable(&mut *tx, jobs).await?;
    let by_id: HashMap<&str, &Job> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let busy = busy_slots(&mut *tx, &ids).await?;
    let refs: Vec<&Job> = jobs.iter().collect();
    super::exclusive::find_holders(&mut *tx, &refs, groups).await?;
    let starts = plan_starts(&queue, &by_id, busy, groups);
    let rows: Vec<RowSpec> = starts
        .runs
        .iter()
        .filter_map(|(job_id, at)| {
            let job = by_id.get(job_id.as_str())?;
            let one = Span {
                first: *at,
                last: *at,
                count: 1,
            };
            let delay = job.retry.draw_delay_ms(1);
            Some(RowSpec::running(&job.id, one, now, 1, delay))
        })
        .collect();
    let runs = if rows.is_empty() {
        Vec::new()
    } else {
        insert_rows(&mut *tx, &rows, &by_id, owner).await?
    };
    move_on(&mut *tx, &starts).await?;
    Ok((runs, starts.waiting))
}

/// Up to `limit` approved stretches of unpaused jobs, in queue order.
async fn approved(tx: &mut sqlx::SqliteConnection, limit: u32) -> Result<Vec<Queued>, StoreError> {
    let queue = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_object('id', id, 'job_id', job_id, 'first_at', first_at,
                  'last_at', last_at, 'occurrences', occurrences, 'next_at', next_at))
                  AS "rows!: String"
           FROM (SELECT c.* FROM catch_ups AS c JOIN jobs AS j ON j.id = c.job_id
                 WHERE c.state = 'approved' AND j.paused = 0 ORDER BY c.id LIMIT ? + 0)"#,
        limit
    )
    .fetch_one(&mut *tx)
    .await?;
    let queue: Vec<Stretch> = decode("catch_ups", "approved", &queue)?;
    queue
        .into_iter()
        .map(|stretch| {
            let span = stretch.span()?;
            let key = format!("id {}", stretch.id);
            let next_at = match &stretch.next_at {
                Some(at) => parse_ts("catch_ups", &key, "next_at", at)?,
                None => span.first,
            };
            Ok(Queued {
                id: stretch.id,
                job_id: stretch.job_id,
                next_at,
                last_at: span.last,
            })
        })
        .collect()
}

/// Moves each stretch with occurrences left on to its next one, and removes those done.
async fn move_on(tx: &mut sqlx::SqliteConnection, starts: &Starts) -> Result<(), StoreError> {
    let moved: Vec<(i64, String)> = starts.moved.iter().map(|(id, at)| (*id, ts(*at))).collect();
    let moved = json_text(&moved)?;
    sqlx::query!(
        "UPDATE catch_ups SET next_at = u.value ->> 1 FROM json_each(?) AS u
         WHERE catch_ups.id = u.value ->> 0",
        moved
    )
    .execute(&mut *tx)
    .await?;
    let done = json_text(&starts.done)?;
    sqlx::query!(
        "DELETE FROM catch_ups WHERE id IN (SELECT value FROM json_each(?))",
        done
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Runs running (on any process) or waiting to be retried, per job of `ids` (a JSON array).
async fn busy_slots(
    tx: &mut sqlx::SqliteConnection,
    ids: &str,
) -> Result<HashMap<String, i64>, StoreError> {
    let busy = sqlx::query_scalar!(
        r#"SELECT json_group_object(job_id, n) AS "busy!: String" FROM (
               SELECT job_id, count(*) AS n FROM (
                   SELECT job_id FROM job_runs
                   WHERE status = 'running' AND job_id IN (SELECT value FROM json_each(?1))
                   UNION ALL
                   SELECT job_id FROM job_runs
                   WHERE retry_at IS NOT NULL AND job_id IN (SELECT value FROM json_each(?1)))
               GROUP BY job_id)"#,
        ids
    )
    .fetch_one(&mut *tx)
    .await?;
    serde_json::from_str(&busy)
        .map_err(|e| StoreError::corrupt("job_runs", "busy slots", e.to_string()))
}

/// What awaits approval for one job, read by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AwaitingRow {
    job_id: String,
    first_at: String,
    last_at: String,
    occurrences: i64,
    since: String,
}

impl SqliteStore {
    /// [`crate::store::Store::awaiting_approval`] on SQLite.
    pub async fn awaiting_approval(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Awaiting>, StoreError> {
        let ids = json_text(ids)?;
        let rows = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_object('job_id', job_id, 'first_at', first_at,
                      'last_at', last_at, 'occurrences', occurrences, 'since', since))
                      AS "rows!: String"
               FROM (SELECT job_id, min(first_at) AS first_at, max(last_at) AS last_at,
                            sum(occurrences) AS occurrences, min(recorded_at) AS since
                     FROM catch_ups WHERE state = 'awaiting_approval'
                       AND job_id IN (SELECT value FROM json_each(?))
                     GROUP BY job_id)"#,
            ids
        )
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<AwaitingRow> = decode("catch_ups", "awaiting", &rows)?;
        rows.into_iter()
            .map(|r| {
                let key = r.job_id.as_str();
                let awaiting = Awaiting {
                    first: parse_ts("catch_ups", key, "first_at", &r.first_at)?,
                    last: parse_ts("catch_ups", key, "last_at", &r.last_at)?,
                    occurrences: r.occurrences,
                    since: parse_ts("catch_ups", key, "recorded_at", &r.since)?,
                };
                Ok((r.job_id, awaiting))
            })
            .collect()
    }

    /// [`crate::store::Store::decide_catch_up`] on SQLite.
    pub async fn decide_catch_up(
        &self,
        job_id: &str,
        decision: CatchUpDecision,
        now: DateTime<Utc>,
        key_name: &str,
        reason: Option<&str>,
    ) -> Result<Option<CatchUpOutcome>, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(job) = super::jobs::read_job(&mut tx, job_id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let waiting = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_object('id', id, 'job_id', job_id,
                      'first_at', first_at, 'last_at', last_at, 'occurrences', occurrences,
                      'next_at', next_at)) AS "rows!: String"
               FROM (SELECT * FROM catch_ups WHERE job_id = ? AND state = 'awaiting_approval'
                     ORDER BY id)"#,
            job_id
        )
        .fetch_one(&mut *tx)
        .await?;
        let waiting: Vec<Stretch> = decode("catch_ups", job_id, &waiting)?;
        if waiting.is_empty() {
            tx.rollback().await?;
            return Ok(Some(CatchUpOutcome::default()));
        }
        let spans = waiting
            .iter()
            .map(Stretch::span)
            .collect::<Result<Vec<_>, _>>()?;
        let split = Split::of(&job.trigger, &spans, decision);
        let now_s = ts(now);
        let why = declined_reason(decision.as_str(), key_name, reason);
        write_missed(&mut tx, job_id, &split.missed, &now_s, &why).await?;
        let ids: Vec<i64> = waiting.iter().map(|s| s.id).collect();
        let ids = json_text(&ids)?;
        sqlx::query!(
            "DELETE FROM catch_ups WHERE id IN (SELECT value FROM json_each(?))",
            ids
        )
        .execute(&mut *tx)
        .await?;
        approve(&mut tx, job_id, &split.run, &now_s, key_name).await?;
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
        tx.commit().await?;
        Ok(Some(outcome))
    }
}

/// Records `spans` of `job_id` as `missed` with the decision's reason `why`, at `now`.
async fn write_missed(
    tx: &mut sqlx::SqliteConnection,
    job_id: &str,
    spans: &[Span],
    now: &str,
    why: &str,
) -> Result<(), StoreError> {
    for span in spans {
        let first = ts(span.first);
        let last = (span.count > 1).then(|| ts(span.last));
        let error = closed_reason(span.count, why);
        sqlx::query!(
            "INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, kind,
                 status, finished_at, error)
             VALUES (?, ?, ?, ?, 'scheduled', 'missed', ?, ?)
             ON CONFLICT (job_id, scheduled_at, attempt) DO NOTHING",
            job_id,
            first,
            last,
            span.count,
            now,
            error
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Queues `spans` of `job_id` approved by `key_name` at `now`, from their first occurrence.
async fn approve(
    tx: &mut sqlx::SqliteConnection,
    job_id: &str,
    spans: &[Span],
    now: &str,
    key_name: &str,
) -> Result<(), StoreError> {
    for span in spans {
        let first = ts(span.first);
        let last = ts(span.last);
        sqlx::query!(
            "INSERT INTO catch_ups (job_id, state, first_at, last_at, occurrences, recorded_at,
                 next_at, decided_by, decided_at)
             VALUES (?1, 'approved', ?2, ?3, ?4, ?5, ?2, ?6, ?5)",
            job_id,
            first,
            last,
            span.count,
            now,
            key_name
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
