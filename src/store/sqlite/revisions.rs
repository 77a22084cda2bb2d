//! SQLite: job revisions (DESIGN.md, *Definitions you can trust*). A revision is written in the
//! transaction of the change that makes it, so a job and its newest revision never disagree;
//! its number is the job's last plus one, taken under the write lock.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::rows::decode;
use super::{SqliteStore, parse_text, parse_ts, ts};
use crate::model::{AuditAction, Job, NewJob, Revision, RevisionChange, revision_definition};
use crate::store::{PRUNE_BATCH, PruneStep, StoreError};

/// A revision row, read by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevisionRow {
    job_id: String,
    revision: u32,
    definition: String,
    changed_by: String,
    changed_at: String,
    change: String,
    restored_from: Option<u32>,
}

impl TryFrom<RevisionRow> for Revision {
    type Error = StoreError;

    fn try_from(row: RevisionRow) -> Result<Revision, StoreError> {
        let key = format!("{} revision {}", row.job_id, row.revision);
        let definition = serde_json::from_str(&row.definition)
            .map_err(|e| StoreError::corrupt("job_revisions", &key, format!("definition: {e}")))?;
        Ok(Revision {
            changed_at: parse_ts("job_revisions", &key, "changed_at", &row.changed_at)?,
            change: parse_text("job_revisions", &key, &row.change)?,
            job_id: row.job_id,
            revision: row.revision,
            definition,
            changed_by: row.changed_by,
            restored_from: row.restored_from,
        })
    }
}

/// Keeps the definition `job` sets as its next revision, made by `key_name` at `now`.
pub(super) async fn write_revision(
    tx: &mut sqlx::SqliteConnection,
    job: &NewJob,
    now: DateTime<Utc>,
    key_name: &str,
    change: RevisionChange,
    restored_from: Option<u32>,
) -> Result<(), StoreError> {
    let definition = revision_definition(job).to_string();
    let now = ts(now);
    let change = change.as_str();
    sqlx::query!(
        "INSERT INTO job_revisions (job_id, revision, definition, changed_by, changed_at, change,
             restored_from)
         VALUES (?1, (SELECT ifnull(max(revision), 0) + 1 FROM job_revisions WHERE job_id = ?1),
             ?2, ?3, ?4, ?5, ?6)",
        job.id,
        definition,
        key_name,
        now,
        change,
        restored_from
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl SqliteStore {
    /// [`crate::store::Store::list_revisions`] on SQLite.
    pub async fn list_revisions(
        &self,
        job_id: &str,
        before: Option<u32>,
        limit: u32,
    ) -> Result<Vec<Revision>, StoreError> {
        let before = before.map_or(i64::MAX, i64::from);
        let rows = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_object('job_id', job_id, 'revision', revision,
                      'definition', definition, 'changed_by', changed_by,
                      'changed_at', changed_at, 'change', change,
                      'restored_from', restored_from)) AS "rows!: String"
               FROM (SELECT * FROM job_revisions WHERE job_id = ? AND revision < ?
                     ORDER BY revision DESC LIMIT ?)"#,
            job_id,
            before,
            limit
        )
        .fetch_one(&self.pool)
        .await?;
        let rows: Vec<RevisionRow> = decode("job_revisions", job_id, &rows)?;
        rows.into_iter().map(Revision::try_from).collect()
    }

    /// [`crate::store::Store::get_revision`] on SQLite.
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

    /// [`crate::store::Store::restore_revision`] on SQLite.
    pub async fn restore_revision(
        &self,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        key_name: &str,
        from: u32,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM jobs WHERE id = ?"#,
            job.id
        )
        .fetch_one(&mut *tx)
        .await?
            > 0;
        if !exists {
            tx.rollback().await?;
            return Ok(None);
        }
        let write = super::write::JobWrite {
            job,
            next_run_at,
            at: now,
            key_name,
        };
        super::write::write_rows(&mut tx, &[write]).await?;
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
        write_revision(
            &mut tx,
            job,
            now,
            key_name,
            RevisionChange::Restore,
            Some(from),
        )
        .await?;
        tx.commit().await?;
        self.get_job(&job.id).await
    }

    /// [`crate::store::Store::prune_revisions`] on SQLite.
    pub async fn prune_revisions(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<PruneStep<()>, StoreError> {
        let before = ts(before);
        if dry_run {
            let n = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!: i64" FROM job_revisions AS r WHERE changed_at < ?
                   AND revision < (SELECT max(revision) FROM job_revisions AS m
                                   WHERE m.job_id = r.job_id)"#,
                before
            )
            .fetch_one(&self.pool)
            .await?;
            return Ok(PruneStep {
                removed: u64::try_from(n).unwrap_or(0),
                next: None,
            });
        }
        let batch = i64::from(PRUNE_BATCH);
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query!(
            "DELETE FROM job_revisions WHERE (job_id, revision) IN (
                 SELECT job_id, revision FROM job_revisions AS r WHERE changed_at < ?1
                   AND revision < (SELECT max(revision) FROM job_revisions AS m
                                   WHERE m.job_id = r.job_id)
                 ORDER BY changed_at LIMIT ?2)",
            before,
            batch
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(PruneStep {
            removed: deleted,
            next: (deleted == u64::try_from(batch).unwrap_or(0)).then_some(()),
        })
    }
}
