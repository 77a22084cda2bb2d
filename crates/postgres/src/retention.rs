//! PostgreSQL: pruning run history and audit rows in small transactions, by the same rules as
//! SQLite (the contract is on the service's `Store::prune_runs_by_age` and its siblings): age
//! is judged on a row's last occurrence, the newest run of each job and every `running` row
//! are kept, and no transaction deletes more than `PRUNE_BATCH` rows.

use chrono::{DateTime, Utc};
use schedlite_core::model::HistoryLimits;
use schedlite_core::store::columns::history_from_value;
use schedlite_core::store::{AgeCutoffs, PRUNE_BATCH, PRUNE_JOBS_PER_STEP, PruneStep, StoreError};

use super::{PgStore, ms};

impl PgStore {
    /// Deletes the too-old runs among the next `PRUNE_BATCH` rows by id after `after`.
    pub async fn prune_runs_by_age(
        &self,
        after: i64,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<i64>, StoreError> {
        let window = sqlx::query!(
            r#"SELECT max(id) AS "last", min(scheduled_at) AS "oldest"
               FROM (SELECT id, scheduled_at FROM job_runs WHERE id > $1 ORDER BY id LIMIT $2) AS w"#,
            after,
            i64::from(PRUNE_BATCH)
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        let (Some(last), Some(oldest)) = (window.last, window.oldest) else {
            return Ok(PruneStep {
                removed: 0,
                next: None,
            });
        };
        let (ok_before, failed_before) = (ms(cutoffs.ok_before), ms(cutoffs.failed_before));
        let mut tx = self.begin().await?;
        let deleted = sqlx::query!(
            r#"DELETE FROM job_runs AS r
               WHERE r.id > $1 AND r.id <= $2 AND r.status <> 'running' AND r.retry_at IS NULL
                 AND coalesce(r.last_scheduled_at, r.scheduled_at) <
                     CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted') THEN $4::timestamptz ELSE $3::timestamptz END
                 AND EXISTS (SELECT 1 FROM job_runs AS n
                             WHERE n.job_id = r.job_id AND n.scheduled_at > r.scheduled_at)
                 AND NOT EXISTS (SELECT 1 FROM jobs AS j
                                 WHERE j.id = r.job_id AND j.history IS NOT NULL)"#,
            after,
            last,
            ok_before,
            failed_before
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(PruneStep {
            removed: deleted,
            next: (oldest < ok_before.max(failed_before)).then_some(last),
        })
    }

    /// For the next `PRUNE_JOBS_PER_STEP` jobs by id after `after`, deletes the runs beyond
    /// each job's newest `keep_runs`; a job with limits of its own is left to `prune_job_runs`.
    pub async fn prune_runs_over_count(
        &self,
        after: Option<&str>,
        keep_runs: u32,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<String>, StoreError> {
        let jobs = i64::from(PRUNE_JOBS_PER_STEP);
        let page = sqlx::query!(
            r#"SELECT j.id,
                      CASE WHEN j.history IS NULL
                           THEN (SELECT r.scheduled_at FROM job_runs AS r WHERE r.job_id = j.id
                                 ORDER BY r.scheduled_at DESC LIMIT 1 OFFSET $2)
                      END AS "cut"
               FROM jobs AS j WHERE j.id > $1 ORDER BY j.id LIMIT $3"#,
            after.unwrap_or(""),
            i64::from(keep_runs),
            jobs
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        let next = (page.len() as i64 == jobs)
            .then(|| page.last().map(|j| j.id.clone()))
            .flatten();
        let mut removed = 0;
        for job in &page {
            let Some(cut) = job.cut else {
                continue;
            };
            removed += if dry_run {
                self.count_over(&job.id, cut, cutoffs).await?
            } else {
                self.delete_over(&job.id, cut).await?
            };
        }
        Ok(PruneStep { removed, next })
    }

    /// Deletes `job`'s finished runs at or before `cut`, `PRUNE_BATCH` per transaction.
    async fn delete_over(&self, job: &str, cut: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let deleted = sqlx::query!(
                r#"DELETE FROM job_runs WHERE id IN (
                       SELECT id FROM job_runs
                       WHERE job_id = $1 AND scheduled_at <= $2 AND status <> 'running'
                         AND retry_at IS NULL
                         AND scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = $1)
                       ORDER BY scheduled_at LIMIT $3)"#,
                job,
                cut,
                i64::from(PRUNE_BATCH)
            )
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected();
            removed += deleted;
            if deleted < u64::from(PRUNE_BATCH) {
                return Ok(removed);
            }
        }
    }

    /// What `delete_over` would delete that the age rules would not already.
    async fn count_over(
        &self,
        job: &str,
        cut: DateTime<Utc>,
        cutoffs: AgeCutoffs,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM job_runs
               WHERE job_id = $1 AND scheduled_at <= $2 AND status <> 'running'
                 AND retry_at IS NULL
                 AND scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = $1)
                 AND NOT coalesce(last_scheduled_at, scheduled_at) <
                         CASE WHEN status IN ('failed', 'timed_out', 'interrupted') THEN $4::timestamptz ELSE $3::timestamptz END"#,
            job,
            cut,
            ms(cutoffs.ok_before),
            ms(cutoffs.failed_before)
        )
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(n.max(0) as u64)
    }

    /// The next `PRUNE_JOBS_PER_STEP` jobs after `after` with history limits of their own; `None`
    /// for a job whose `history` column cannot be read.
    pub async fn jobs_with_own_history(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<(String, Option<HistoryLimits>)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT id, history AS "history!" FROM jobs
               WHERE history IS NOT NULL AND id > $1 ORDER BY id LIMIT $2"#,
            after.unwrap_or(""),
            i64::from(PRUNE_JOBS_PER_STEP)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let limits = history_from_value(&row.id, row.history).ok();
                (row.id, limits)
            })
            .collect())
    }

    /// Deletes `job`'s runs older than their status's cut-off or at or before its
    /// (keep_runs + 1)-th newest, never a `running` row nor its newest, `PRUNE_BATCH` per
    /// transaction; with `dry_run` counts them.
    pub async fn prune_job_runs(
        &self,
        job: &str,
        cutoffs: AgeCutoffs,
        keep_runs: u32,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        let cut = sqlx::query_scalar!(
            "SELECT scheduled_at FROM job_runs WHERE job_id = $1
             ORDER BY scheduled_at DESC LIMIT 1 OFFSET $2",
            job,
            i64::from(keep_runs)
        )
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let (ok_before, failed_before) = (ms(cutoffs.ok_before), ms(cutoffs.failed_before));
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM job_runs AS r
                   WHERE r.job_id = $1 AND r.status <> 'running' AND r.retry_at IS NULL
                     AND r.scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = $1)
                     AND (coalesce(r.last_scheduled_at, r.scheduled_at) <
                              CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted')
                                   THEN $3::timestamptz ELSE $2::timestamptz END
                          OR r.scheduled_at <= $4::timestamptz)"#,
                job,
                ok_before,
                failed_before,
                cut
            )
            .fetch_one(&mut *self.conn().await?)
            .await?;
            return Ok(n.max(0) as u64);
        }
        let mut removed = 0;
        loop {
            let deleted = sqlx::query!(
                r#"DELETE FROM job_runs WHERE id IN (
                       SELECT r.id FROM job_runs AS r
                       WHERE r.job_id = $1 AND r.status <> 'running' AND r.retry_at IS NULL
                         AND r.scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = $1)
                         AND (coalesce(r.last_scheduled_at, r.scheduled_at) <
                                  CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted')
                                       THEN $3::timestamptz ELSE $2::timestamptz END
                              OR r.scheduled_at <= $4::timestamptz)
                       ORDER BY r.scheduled_at LIMIT $5)"#,
                job,
                ok_before,
                failed_before,
                cut,
                i64::from(PRUNE_BATCH)
            )
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected();
            removed += deleted;
            if deleted < u64::from(PRUNE_BATCH) {
                return Ok(removed);
            }
        }
    }

    /// Deletes up to `PRUNE_BATCH` audit rows older than `before`.
    pub async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        let before = ms(before);
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM audit_log WHERE at < $1"#,
                before
            )
            .fetch_one(&mut *self.conn().await?)
            .await?;
            return Ok(PruneStep {
                removed: n.max(0) as u64,
                next: None,
            });
        }
        let deleted = sqlx::query!(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
            before,
            i64::from(PRUNE_BATCH)
        )
        .execute(&mut *self.conn().await?)
        .await?
        .rows_affected();
        Ok(PruneStep {
            removed: deleted,
            next: (deleted == u64::from(PRUNE_BATCH)).then_some(()),
        })
    }
}
