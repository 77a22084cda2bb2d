//! PostgreSQL: job revisions, the same rules as SQLite's `revisions.rs`. A revision is written
//! in the transaction of its change, after the job's row: the row lock the upsert takes makes
//! two changes of one job take their numbers one after the other.

use chrono::{DateTime, Utc};
use schedlite_core::model::{
    AuditAction, Job, NewJob, Revision, RevisionChange, revision_definition,
};
use schedlite_core::store::{PRUNE_BATCH, PruneStep, StoreError};
use sqlx::PgConnection;

use super::{PgStore, ms};

/// A revision row, read by name.
struct RevisionRow {
    job_id: String,
    revision: i32,
    definition: serde_json::Value,
    changed_by: String,
    changed_at: DateTime<Utc>,
    change: String,
    restored_from: Option<i32>,
}

impl TryFrom<RevisionRow> for Revision {
    type Error = StoreError;

    fn try_from(row: RevisionRow) -> Result<Revision, StoreError> {
        let key = format!("{} revision {}", row.job_id, row.revision);
        let corrupt = |reason: String| StoreError::corrupt("job_revisions", &key, reason);
        Ok(Revision {
            revision: u32::try_from(row.revision).map_err(|e| corrupt(e.to_string()))?,
            restored_from: row
                .restored_from
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            change: row.change.parse().map_err(corrupt)?,
            job_id: row.job_id,
            definition: row.definition,
            changed_by: row.changed_by,
            changed_at: row.changed_at,
        })
    }
}

/// Keeps the definition `job` sets as its next revision, made by `key_name` at `now`.
pub(crate) async fn write_revision(
    tx: &mut PgConnection,
    job: &NewJob,
    now: DateTime<Utc>,
    key_name: &str,
    change: RevisionChange,
    restored_from: Option<u32>,
) -> Result<(), StoreError> {
    let restored_from = restored_from.map(i32::try_from).transpose().map_err(|e| {
        StoreError::corrupt("job_revisions", &job.id, format!("restored_from: {e}"))
    })?;
    sqlx::query!(
        "INSERT INTO job_revisions (job_id, revision, definition, changed_by, changed_at, change,
             restored_from)
         VALUES ($1, (SELECT coalesce(max(revision), 0) + 1 FROM job_revisions WHERE job_id = $1),
             $2, $3, $4, $5, $6)",
        job.id,
        revision_definition(job),
        key_name,
        ms(now),
        change.as_str(),
        restored_from
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl PgStore {
    /// Revisions of `job_id` newest first, below `before` when given.
    pub async fn list_revisions(
        &self,
        job_id: &str,
        before: Option<u32>,
        limit: u32,
    ) -> Result<Vec<Revision>, StoreError> {
        let before = before.map_or(i32::MAX, |b| i32::try_from(b).unwrap_or(i32::MAX));
        let rows = sqlx::query_as!(
            RevisionRow,
            "SELECT job_id, revision, definition, changed_by, changed_at, change, restored_from
             FROM job_revisions WHERE job_id = $1 AND revision < $2
             ORDER BY revision DESC LIMIT $3",
            job_id,
            before,
            i64::from(limit)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(Revision::try_from).collect()
    }

    /// Revision `revision` of `job_id`, if kept.
    pub async fn get_revision(
        &self,
        job_id: &str,
        revision: u32,
    ) -> Result<Option<Revision>, StoreError> {
        Ok(self
            .list_revisions(job_id, revision.checked_add(1), 1)
            .await?
            .into_iter()
            .find(|r| r.revision == revision))
    }

    /// Replaces the job with a restored definition (see the seam).
    pub async fn restore_revision(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
        from: u32,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.begin().await?;
        if super::jobs::read_job(&mut tx, &job.id).await?.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        super::jobs::write_row(&mut tx, job, next_run_at, now, true).await?;
        let detail = format!("{{\"restored_from\":{from}}}");
        super::audit::write_audit(
            &mut tx,
            now,
            key_name,
            AuditAction::Replace,
            &job.id,
            Some(&detail),
        )
        .await?;
        let change = RevisionChange::Restore;
        write_revision(&mut tx, job, now, key_name, change, Some(from)).await?;
        super::notify::job_changed(&mut tx, &job.id).await?;
        let stored = super::jobs::read_job(&mut tx, &job.id).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Deletes up to [`PRUNE_BATCH`] revisions older than `before`, oldest first, never a
    /// job's newest (see the seam).
    pub async fn prune_revisions(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM job_revisions AS r WHERE changed_at < $1
                   AND revision < (SELECT max(revision) FROM job_revisions AS m
                                   WHERE m.job_id = r.job_id)"#,
                before
            )
            .fetch_one(&mut *self.conn().await?)
            .await?;
            return Ok(PruneStep {
                removed: u64::try_from(n).unwrap_or(0),
                next: None,
            });
        }
        let deleted = sqlx::query!(
            "DELETE FROM job_revisions WHERE (job_id, revision) IN (
                 SELECT job_id, revision FROM job_revisions AS r WHERE changed_at < $1
                   AND revision < (SELECT max(revision) FROM job_revisions AS m
                                   WHERE m.job_id = r.job_id)
                 ORDER BY changed_at LIMIT $2)",
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
