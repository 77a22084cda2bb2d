//! SQLite: the `jobs` table (create, replace, read, page, pause/resume, delete).

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::group::WriteKind;
use super::rows::{JobRow, RunRow, decode, shaped};
use super::{SqliteStore, parse_ts, ts};
use crate::model::{AuditAction, BrokenJob, Job, JobEntry, NewJob, Run};
use crate::schedule::TriggerKind;
use crate::store::{Gauges, JobCursor, JobFilter, JobOrder, JobPage, StoreError};

fn bool_int(b: bool) -> i64 {
    i64::from(b)
}

/// One row of a page: the job and its place in the listing's order.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListedRow<'a> {
    /// `next_run_at` as of the listing's start ([`NULL_KEY`] for none), or the id in id order.
    sort_key: String,
    /// The job's id (for the cursor).
    id: String,
    /// The row, decoded on its own: one broken row must not hide the others.
    #[serde(borrow)]
    job: &'a RawValue,
}

/// The next-run sort key of a job without one (paused or finished): sorts after every timestamp
/// (index `jobs_by_next_run`). Never leaves the store.
const NULL_KEY: &str = "~";

/// A page cursor as the listing statement's keys: the watermark (`None` on the first page and
/// in id order), the next-run sort key after which to go on, and the id after which to go on.
fn cursor_keys(after: Option<&JobCursor>) -> (Option<i64>, String, &str) {
    match after {
        None => (None, String::new(), ""),
        Some(JobCursor::NextRun {
            watermark,
            next_run_at,
            id,
        }) => (
            Some(*watermark),
            next_run_at.map(ts).unwrap_or_else(|| NULL_KEY.to_string()),
            id.as_str(),
        ),
        Some(JobCursor::Id { id }) => (None, String::new(), id.as_str()),
    }
}

/// The cursor of the page that follows `last`, the last row of a page listed in `order`.
fn next_cursor(order: JobOrder, watermark: i64, last: &ListedRow) -> Result<JobCursor, StoreError> {
    Ok(match order {
        JobOrder::NextRun => JobCursor::NextRun {
            watermark,
            next_run_at: match last.sort_key.as_str() {
                NULL_KEY => None,
                key => Some(parse_ts("jobs", &last.id, "next_run_at", key)?),
            },
            id: last.id.clone(),
        },
        JobOrder::Id => JobCursor::Id {
            id: last.id.clone(),
        },
    })
}

impl SqliteStore {
    /// Inserts a new job. A job with the same id gives [`StoreError::JobExists`].
    pub async fn insert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Job, StoreError> {
        self.write_job(WriteKind::Create, job, next_run_at, now, key_name)
            .await?;
        self.get_job(&job.id)
            .await?
            .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "vanished right after insert"))
    }

    /// Creates or replaces the job with `job.id`. A replaced job keeps its `created_at` and its
    /// run history. Returns the job and whether it was created.
    pub async fn upsert_job(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<(Job, bool), StoreError> {
        let created = self
            .write_job(WriteKind::Put, job, next_run_at, now, key_name)
            .await?;
        let stored = self
            .get_job(&job.id)
            .await?
            .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "vanished right after upsert"))?;
        Ok((stored, created))
    }

    /// The job with this id, if any.
    pub async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_job(&mut conn, id).await
    }

    /// The job with this id and its newest run, in one query (the hot path of
    /// `GET /jobs/{job_id}`: one hand-off to the database thread instead of two).
    pub async fn get_job_with_last_run(
        &self,
        id: &str,
    ) -> Result<Option<(JobEntry, Option<Run>, Option<DateTime<Utc>>)>, StoreError> {
        let row = shaped!(query_scalar!(
            [r#"SELECT json_object('job', "# JOB r#", 'last_run', json((SELECT "# RUN r#"
                    FROM job_runs WHERE job_id = jobs.id
                    ORDER BY scheduled_at DESC, attempt DESC LIMIT 1)),
                    'next_retry_at', (SELECT min(retry_at) FROM job_runs
                    WHERE job_id = jobs.id AND retry_at IS NOT NULL)
                ) AS "row!: String"
                FROM jobs WHERE id = ?"#],
            id
        ))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let both: JobWithLastRun = decode("jobs", id, &row)?;
        let job = entry(both.job)?;
        let run = both.last_run.map(Run::try_from).transpose()?;
        let next_retry_at =
            super::parse_opt_ts("job_runs", id, "retry_at", both.next_retry_at.as_deref())?;
        Ok(Some((job, run, next_retry_at)))
    }

    /// Deletes the job and its run history, auditing it as `key_name`'s. Returns whether it
    /// existed.
    pub async fn delete_job(
        &self,
        id: &str,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!("DELETE FROM jobs WHERE id = ?", id)
            .execute(&mut *tx)
            .await?;
        let deleted = done.rows_affected() > 0;
        if deleted {
            super::audit::write_audit(&mut tx, now, key_name, AuditAction::Delete, id, None)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// [`crate::store::Store::list_jobs`]. The jobs part seeks `jobs_by_next_run` like a plain
    /// keyset; the moved part is a rowid range scan of the runs recorded since the listing
    /// began, grouped by job.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        order: JobOrder,
        after: Option<&JobCursor>,
        limit: u32,
    ) -> Result<JobPage, StoreError> {
        let paused = filter.paused.map(bool_int);
        let trigger_type = filter.trigger_type.map(TriggerKind::as_str);
        let (watermark, after_key, after_id) = cursor_keys(after);
        let order_s = match order {
            JobOrder::NextRun => "next_run",
            JobOrder::Id => "id",
        };
        // One more than asked: the extra row says whether another page follows.
        let fetch = i64::from(limit) + 1;
        // One statement, so the watermark, the moved jobs and the others are one snapshot. The
        // arms not of this order are cut off by their constant `?7` test before any read.
        // `NOT INDEXED` keeps the moved runs a rowid range scan: without it SQLite walks the
        // whole (job_id, scheduled_at) index to group by job without sorting.
        // `LIMIT ?6 + 0`, not `LIMIT ?6`: SQLite (3.51) reads a bare parameter's value while
        // preparing a LIMIT, and then re-prepares the statement whenever that parameter is
        // bound again, i.e. on every page: 1.3M instructions of compiling per page (callgrind),
        // a sixth of the page. An expression is not read, so the cached statement is reused.
        let page = shaped!(query!(
            [r#"WITH mark(w) AS (SELECT coalesce(?1, (SELECT ifnull(max(id), 0) FROM job_runs))),
               moved AS MATERIALIZED (
                   SELECT job_id, min(scheduled_at) AS start_key FROM job_runs NOT INDEXED
                   WHERE ?7 = 'next_run' AND id > (SELECT w FROM mark) AND kind = 'scheduled'
                   GROUP BY job_id),
               page(sort_key, id) AS (
                   SELECT * FROM (
                       SELECT ifnull(next_run_at, '~'), id FROM jobs
                       WHERE ?7 = 'next_run' AND ifnull(next_run_at, '~') >= ?2
                         AND (ifnull(next_run_at, '~'), id) > (?2, ?3)
                         AND id NOT IN (SELECT job_id FROM moved)
                         AND (?4 IS NULL OR paused = ?4) AND (?5 IS NULL OR trigger_type = ?5)
                       ORDER BY ifnull(next_run_at, '~'), id LIMIT ?6 + 0)
                   UNION ALL
                   SELECT m.start_key, j.id FROM moved AS m JOIN jobs AS j ON j.id = m.job_id
                   WHERE (m.start_key, j.id) > (?2, ?3)
                     AND (?4 IS NULL OR j.paused = ?4) AND (?5 IS NULL OR j.trigger_type = ?5)
                   UNION ALL
                   SELECT * FROM (
                       SELECT id, id FROM jobs
                       WHERE ?7 = 'id' AND id > ?3
                         AND (?4 IS NULL OR paused = ?4) AND (?5 IS NULL OR trigger_type = ?5)
                       ORDER BY id LIMIT ?6 + 0)
                   ORDER BY 1, 2 LIMIT ?6 + 0)
               SELECT (SELECT w FROM mark) AS "watermark!: i64",
                      json_group_array(json_object('sort_key', sort_key, 'id', id, 'job', "# JOB r#"))
                          AS "rows!: String"
               FROM (SELECT page.sort_key, jobs.* FROM page JOIN jobs ON jobs.id = page.id)"#],
            watermark,
            after_key,
            after_id,
            paused,
            trigger_type,
            fetch,
            order_s,
        ))
        .fetch_one(&self.pool)
        .await?;
        let mut rows: Vec<ListedRow> = decode("jobs", "page", &page.rows)?;
        // Put in order here rather than by the aggregate's ORDER BY, which copied every row's
        // JSON through a sorter (a third of the statement's time); `page` fixed the set.
        rows.sort_unstable_by(|a, b| (&a.sort_key, &a.id).cmp(&(&b.sort_key, &b.id)));
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = match rows.last() {
            Some(last) if more => Some(next_cursor(order, page.watermark, last)?),
            _ => None,
        };
        let jobs = rows
            .into_iter()
            .map(|r| entry(r.job))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JobPage { jobs, next })
    }

    /// See [`crate::store::Store::gauges`]. The backlog seeks the partial `jobs_due` index.
    pub async fn gauges(&self, now: DateTime<Utc>) -> Result<Gauges, StoreError> {
        let now = ts(now);
        let row = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM jobs) AS "jobs!: i64",
                      (SELECT count(*) FROM jobs WHERE paused = 1) AS "paused!: i64",
                      (SELECT count(*) FROM job_runs WHERE status = 'running') AS "running!: i64",
                      (SELECT count(*) FROM jobs WHERE next_run_at <= ?) AS "due!: i64",
                      (SELECT count(*) FROM job_runs WHERE retry_at IS NOT NULL) AS "retries!: i64""#,
            now
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Gauges {
            jobs: row.jobs,
            paused: row.paused,
            running: row.running,
            due: row.due,
            retries_pending: row.retries,
        })
    }

    /// How many jobs the file holds.
    pub async fn count_jobs(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar!(r#"SELECT count(*) AS "n!: i64" FROM jobs"#)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Pauses (clearing `next_run_at`) or resumes (setting it) a job, without a pause note (a
    /// resume clears the note). Returns the updated job, or `None` when no job has this id.
    pub async fn set_paused(
        &self,
        id: &str,
        paused: bool,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Option<Job>, StoreError> {
        let paused_i = bool_int(paused);
        let next = next_run_at.map(ts);
        let updated = ts(now);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query!(
            "UPDATE jobs SET paused = ?, next_run_at = ?, updated_at = ?, paused_by = NULL,
                paused_at = NULL, pause_reason = NULL, paused_until = NULL
             WHERE id = ?",
            paused_i,
            next,
            updated,
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
        tx.commit().await?;
        self.get_job(id).await
    }

    /// The earliest `next_run_at` of any job or `retry_at` of an unpaused job's pending retry,
    /// which is when the scheduler must wake next.
    pub async fn earliest_next_run(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next = shaped!(query_scalar!(
            [r#"SELECT min(t) AS "next: String" FROM (
                   SELECT * FROM (SELECT next_run_at AS t FROM jobs WHERE next_run_at IS NOT NULL
                                  AND "# NOT_WAITING r#" ORDER BY next_run_at LIMIT 1)
                   UNION ALL
                   SELECT * FROM (SELECT retry_at FROM job_runs AS r WHERE retry_at IS NOT NULL
                                    AND EXISTS (SELECT 1 FROM jobs AS j
                                                WHERE j.id = r.job_id AND j.paused = 0)
                                  ORDER BY retry_at LIMIT 1))"#]
        ))
        .fetch_one(&self.pool)
        .await?;
        next.map(|t| parse_ts("jobs", "earliest", "next_run_at", &t))
            .transpose()
    }
}

/// Reads one job on a given connection (inside a transaction, for the scheduler's claims).
pub(super) async fn read_job(
    conn: &mut sqlx::SqliteConnection,
    id: &str,
) -> Result<Option<Job>, StoreError> {
    let row = shaped!(query_scalar!(
        [r#"SELECT "# JOB r#" AS "row!: String" FROM jobs WHERE id = ?"#],
        id
    ))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(json) = row else {
        return Ok(None);
    };
    Job::try_from(decode::<JobRow>("jobs", id, &json)?).map(Some)
}

/// Due jobs (`next_run_at <= now`), earliest first, at most `limit`, read on the claim
/// transaction's connection. A row that cannot be read comes back as its id and the error.
///
/// N.B. the batch comes back as ONE row holding a JSON array, for the reason given in
/// `rows.rs`: at burst rates a row each would cost about half of a claim's time. `LIMIT ? + 0`
/// keeps the statement from being re-prepared on every claim (see `list_jobs`).
pub(super) async fn due_jobs(
    conn: &mut sqlx::SqliteConnection,
    now: &str,
    limit: i64,
) -> Result<Vec<Decoded>, StoreError> {
    let batch = shaped!(query_scalar!(
        [r#"SELECT ifnull(group_concat("# JOB r#", char(10)), '') AS "rows!: String"
            FROM (SELECT * FROM jobs WHERE next_run_at <= ? AND "# NOT_WAITING r#"
                  ORDER BY next_run_at LIMIT ? + 0)"#],
        now,
        limit
    ))
    .fetch_one(&mut *conn)
    .await?;
    decode_batch(&batch)
}

/// The jobs with these ids (a JSON array of text), as [`due_jobs`] reads them.
pub(super) async fn jobs_by_ids(
    conn: &mut sqlx::SqliteConnection,
    ids: &str,
) -> Result<Vec<Decoded>, StoreError> {
    let batch = shaped!(query_scalar!(
        [r#"SELECT ifnull(group_concat("# JOB r#", char(10)), '') AS "rows!: String"
            FROM (SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?)))"#],
        ids
    ))
    .fetch_one(&mut *conn)
    .await?;
    decode_batch(&batch)
}

/// A job of a batch: readable, or its id and what is wrong with its row.
type Decoded = Result<Job, (String, StoreError)>;

/// A batch of shaped `jobs` rows, one per line, each decoded on its own.
fn decode_batch(batch: &str) -> Result<Vec<Decoded>, StoreError> {
    // Each row is decoded on its own: one hand-edited value of the wrong type (CHECKs let
    // `'60s'` into an INTEGER column) must pause that job, not stop every job from firing.
    // The rows come one per line (`group_concat` with a newline: `json_object` of column values
    // escapes every control character, so a row never holds a raw newline), decoded once each
    // straight into `JobRow`. A JSON array cost a second parse of the whole batch to split it.
    Ok(batch
        .split_terminator('\n')
        .map(|raw| {
            let row = serde_json::from_str::<JobRow>(raw).map_err(|e| {
                let id = serde_json::from_str::<RowId>(raw)
                    .map_or_else(|_| "?".to_string(), |r| r.id.into_owned());
                let reason = format!("unexpected column types: {e}");
                (id.clone(), StoreError::corrupt("jobs", &id, reason))
            })?;
            let id = row.id().to_string();
            Job::try_from(row).map_err(|e| (id, e))
        })
        .collect())
}

/// One shaped `jobs` row as a listing shows it: readable, or broken (its columns hold the wrong
/// types, or values the domain refuses) with what is wrong.
pub(super) fn entry(raw: &RawValue) -> Result<JobEntry, StoreError> {
    let broken = |id: String, problem: String| Ok(JobEntry::Broken(BrokenJob { id, problem }));
    let row = match serde_json::from_str::<JobRow>(raw.get()) {
        Ok(row) => row,
        Err(e) => {
            let id = serde_json::from_str::<RowId>(raw.get())
                .map_or_else(|_| "?".to_string(), |r| r.id.into_owned());
            return broken(id, format!("unexpected column types: {e}"));
        }
    };
    let id = row.id().to_string();
    match Job::try_from(row) {
        Ok(job) => Ok(JobEntry::Readable(job)),
        Err(StoreError::Corrupt { reason, .. }) => broken(id, reason),
        Err(other) => Err(other),
    }
}

/// The `id` of a row that did not decode, to name it in the error.
#[derive(serde::Deserialize)]
struct RowId<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

/// A job with its newest run, as `get_job_with_last_run` reads them together.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JobWithLastRun<'a> {
    #[serde(borrow)]
    job: &'a RawValue,
    last_run: Option<RunRow>,
    next_retry_at: Option<String>,
}
