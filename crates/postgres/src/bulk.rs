//! PostgreSQL: many jobs created or replaced in one transaction (`POST /jobs/bulk`).

use chrono::{DateTime, Utc};
use schedlite_core::model::{AuditAction, NewJob, RevisionChange};
use schedlite_core::store::StoreError;

use super::PgStore;
use super::jobs::write_row;

impl PgStore {
    /// Creates or replaces every job of `jobs` in one transaction: all of them or, on any
    /// error, none. Each is audited and announced to the other nodes as a single PUT is.
    pub async fn upsert_jobs(
        &self,
        jobs: &[(NewJob, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.begin().await?;
        let mut created = Vec::with_capacity(jobs.len());
        for (job, next_run_at) in jobs {
            let was_created = write_row(&mut tx, job, *next_run_at, now, true)
                .await?
                .ok_or_else(|| StoreError::corrupt("jobs", &job.id, "upsert wrote no row"))?;
            let action = if was_created {
                AuditAction::Create
            } else {
                AuditAction::Replace
            };
            super::audit::write_audit(&mut tx, now, key_name, action, &job.id, None).await?;
            let change = RevisionChange::of_upsert(was_created);
            super::revisions::write_revision(&mut tx, job, now, key_name, change, None).await?;
            super::notify::job_changed(&mut tx, &job.id).await?;
            created.push(was_created);
        }
        tx.commit().await?;
        Ok(created)
    }
}
