//! SQLite: pruning run history and audit rows in small transactions (contract on
//! [`crate::store::Store::prune_runs_by_age`] and its siblings).
//!
//! Age is judged on a row's last occurrence (`last_scheduled_at`, else `scheduled_at`), so a
//! stretch of missed occurrences goes only once all of it is old. A row is the newest of its
//! job when no row of the job has a later occurrence: a seek on the unique
//! (job_id, scheduled_at) index, cheap however long the history is.

use super::{SqliteStore, ts};
use crate::model::HistoryLimits;
use crate::store::columns::history_from_json;
use crate::store::{AgeCutoffs, PRUNE_BATCH, PRUNE_JOBS_PER_STEP, PruneStep, StoreError};

/// Jobs whose runs one step of the count limit looks at: about ten index entries a job in a
/// typical history, so a step reads some 20,000 entries in a few milliseconds.
const COUNT_STEP_JOBS: i64 = 2_000;

impl SqliteStore {
    /// See [`crate::store::Store::prune_runs_by_age`]. A dry run runs the same DELETE and rolls
    /// it back, so its count is exactly what a real step would delete.
    pub async fn prune_runs_by_age(
        &self,
        after: i64,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<i64>, StoreError> {
        let width = i64::from(PRUNE_BATCH);
        let window = sqlx::query!(
            r#"SELECT max(id) AS "last: i64", min(scheduled_at) AS "oldest: String"
               FROM (SELECT id, scheduled_at FROM job_runs WHERE id > ? ORDER BY id LIMIT ?)"#,
            after,
            width
        )
        .fetch_one(&self.pool)
        .await?;
        let (Some(last), Some(oldest)) = (window.last, window.oldest) else {
            return Ok(PruneStep {
                removed: 0,
                next: None,
            });
        };
        let ok_before = ts(cutoffs.ok_before);
        let failed_before = ts(cutoffs.failed_before);
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query!(
            r#"DELETE FROM job_runs WHERE id IN (
                   SELECT r.id FROM job_runs AS r
                   WHERE r.id > ?1 AND r.id <= ?2 AND r.status <> 'running' AND r.retry_at IS NULL
                     AND coalesce(r.last_scheduled_at, r.scheduled_at) <
                         CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted')
                              THEN ?4 ELSE ?3 END
                     AND EXISTS (SELECT 1 FROM job_runs AS n
                                 WHERE n.job_id = r.job_id AND n.scheduled_at > r.scheduled_at)
                     AND NOT EXISTS (SELECT 1 FROM jobs AS j
                                     WHERE j.id = r.job_id AND j.history IS NOT NULL))"#,
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
        // Every later row is newer than both cut-offs once this window's oldest is.
        let newest_cutoff = ok_before.max(failed_before);
        Ok(PruneStep {
            removed: deleted,
            next: (oldest < newest_cutoff).then_some(last),
        })
    }

    /// See [`crate::store::Store::prune_runs_over_count`].
    pub async fn prune_runs_over_count(
        &self,
        after: Option<&str>,
        keep_runs: u32,
        cutoffs: AgeCutoffs,
        dry_run: bool,
    ) -> Result<PruneStep<String>, StoreError> {
        let after = after.unwrap_or("");
        let keep = i64::from(keep_runs);
        // The step's jobs: the next COUNT_STEP_JOBS job ids that have runs, from the runs'
        // (job_id, …) index, not from `jobs`: the pass at start would otherwise walk every job
        // of a large file to find nothing.
        let span = sqlx::query!(
            r#"SELECT max(job_id) AS "last?: String", count(*) AS "jobs!: i64" FROM (
                   SELECT DISTINCT job_id FROM job_runs WHERE job_id > ?1
                   ORDER BY job_id LIMIT ?2)"#,
            after,
            COUNT_STEP_JOBS
        )
        .fetch_one(&self.pool)
        .await?;
        let Some(last) = span.last else {
            return Ok(PruneStep {
                removed: 0,
                next: None,
            });
        };
        // Among them, those with more than `keep_runs` runs, counted over the same index in one
        // pass (most jobs have far fewer: asking each for its (keep_runs + 1)-th newest run
        // cost 11 µs a job, 11 s of CPU per pass over a million jobs), each with the
        // occurrence of that run: it and every older run go. None for a job with limits of
        // its own: `prune_job_runs` has it.
        let page = sqlx::query!(
            r#"SELECT j.job_id AS "id!: String",
                      CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE id = j.job_id AND history IS NOT NULL)
                           THEN NULL
                           ELSE (SELECT r.scheduled_at FROM job_runs AS r WHERE r.job_id = j.job_id
                                 ORDER BY r.scheduled_at DESC LIMIT 1 OFFSET ?3)
                      END AS "cut?: String"
               FROM (SELECT job_id FROM job_runs WHERE job_id > ?1 AND job_id <= ?2
                     GROUP BY job_id HAVING count(*) > ?3) AS j
               ORDER BY j.job_id"#,
            after,
            last,
            keep
        )
        .fetch_all(&self.pool)
        .await?;
        let next = (span.jobs == COUNT_STEP_JOBS).then_some(last);
        let mut removed = 0;
        for job in &page {
            let Some(cut) = job.cut.as_deref() else {
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

    /// Deletes `job`'s runs at or before `cut`, never a running one, one with a pending retry or
    /// an attempt at the newest occurrence (attempts share their occurrence's instant, so the
    /// cut may fall on it), [`PRUNE_BATCH`] per transaction.
    async fn delete_over(&self, job: &str, cut: &str) -> Result<u64, StoreError> {
        let batch = i64::from(PRUNE_BATCH);
        let mut removed = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let deleted = sqlx::query!(
                r#"DELETE FROM job_runs WHERE id IN (
                       SELECT id FROM job_runs
                       WHERE job_id = ?1 AND scheduled_at <= ?2 AND status <> 'running'
                         AND retry_at IS NULL
                         AND scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = ?1)
                       ORDER BY scheduled_at LIMIT ?3)"#,
                job,
                cut,
                batch
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            removed += deleted;
            if deleted < PRUNE_BATCH as u64 {
                return Ok(removed);
            }
        }
    }

    /// What [`SqliteStore::delete_over`] would delete that the age rule would not already.
    async fn count_over(
        &self,
        job: &str,
        cut: &str,
        cutoffs: AgeCutoffs,
    ) -> Result<u64, StoreError> {
        let ok_before = ts(cutoffs.ok_before);
        let failed_before = ts(cutoffs.failed_before);
        let n = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM job_runs
               WHERE job_id = ?1 AND scheduled_at <= ?2 AND status <> 'running'
                 AND retry_at IS NULL
                 AND scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = ?1)
                 AND NOT coalesce(last_scheduled_at, scheduled_at) <
                         CASE WHEN status IN ('failed', 'timed_out', 'interrupted')
                              THEN ?4 ELSE ?3 END"#,
            job,
            cut,
            ok_before,
            failed_before
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }

    /// See [`crate::store::Store::jobs_with_own_history`].
    pub async fn jobs_with_own_history(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<(String, Option<HistoryLimits>)>, StoreError> {
        let jobs = i64::from(PRUNE_JOBS_PER_STEP);
        let rows = sqlx::query!(
            r#"SELECT id AS "id!: String", history AS "history!: String" FROM jobs
               WHERE history IS NOT NULL AND id > ?1 ORDER BY id LIMIT ?2"#,
            after.unwrap_or(""),
            jobs
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let limits = history_from_json(&row.id, &row.history).ok();
                (row.id, limits)
            })
            .collect())
    }

    /// See [`crate::store::Store::prune_job_runs`]. One rule for both limits: a run goes when
    /// it is older than its status's cut-off, or at or before `cut` (the occurrence of the
    /// (keep_runs + 1)-th newest run, read once at the start, so that deleting old rows does
    /// not move it).
    pub async fn prune_job_runs(
        &self,
        job: &str,
        cutoffs: AgeCutoffs,
        keep_runs: u32,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        let keep = i64::from(keep_runs);
        let cut = sqlx::query_scalar!(
            r#"SELECT scheduled_at AS "at!: String" FROM job_runs WHERE job_id = ?1
               ORDER BY scheduled_at DESC LIMIT 1 OFFSET ?2"#,
            job,
            keep
        )
        .fetch_optional(&self.pool)
        .await?;
        let ok_before = ts(cutoffs.ok_before);
        let failed_before = ts(cutoffs.failed_before);
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!: i64" FROM job_runs AS r
                   WHERE r.job_id = ?1 AND r.status <> 'running' AND r.retry_at IS NULL
                     AND r.scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = ?1)
                     AND (coalesce(r.last_scheduled_at, r.scheduled_at) <
                              CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted')
                                   THEN ?3 ELSE ?2 END
                          OR r.scheduled_at <= ?4)"#,
                job,
                ok_before,
                failed_before,
                cut
            )
            .fetch_one(&self.pool)
            .await?;
            return Ok(n.max(0) as u64);
        }
        let batch = i64::from(PRUNE_BATCH);
        let mut removed = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let deleted = sqlx::query!(
                r#"DELETE FROM job_runs WHERE id IN (
                       SELECT r.id FROM job_runs AS r
                       WHERE r.job_id = ?1 AND r.status <> 'running' AND r.retry_at IS NULL
                         AND r.scheduled_at < (SELECT max(scheduled_at) FROM job_runs WHERE job_id = ?1)
                         AND (coalesce(r.last_scheduled_at, r.scheduled_at) <
                                  CASE WHEN r.status IN ('failed', 'timed_out', 'interrupted')
                                       THEN ?3 ELSE ?2 END
                              OR r.scheduled_at <= ?4)
                       ORDER BY r.scheduled_at LIMIT ?5)"#,
                job,
                ok_before,
                failed_before,
                cut,
                batch
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            removed += deleted;
            if deleted < u64::from(PRUNE_BATCH) {
                return Ok(removed);
            }
        }
    }

    /// See [`crate::store::Store::prune_audit`].
    pub async fn prune_audit(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        let before = ts(before);
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!: i64" FROM audit_log WHERE at < ?"#,
                before
            )
            .fetch_one(&self.pool)
            .await?;
            return Ok(PruneStep {
                removed: n.max(0) as u64,
                next: None,
            });
        }
        let batch = i64::from(PRUNE_BATCH);
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query!(
            r#"DELETE FROM audit_log WHERE id IN (
                   SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)"#,
            before,
            batch
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(PruneStep {
            removed: deleted,
            next: (deleted == PRUNE_BATCH as u64).then_some(()),
        })
    }
}
