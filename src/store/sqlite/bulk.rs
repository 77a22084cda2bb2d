//! SQLite: many jobs created or replaced in one transaction (`POST /jobs/bulk`).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use super::jobs::write_row;
use crate::model::{AuditAction, NewJob, RevisionChange};
use crate::store::StoreError;

impl SqliteStore {
    /// [`crate::store::Store::upsert_jobs`] on SQLite: one `BEGIN IMMEDIATE` transaction, so
    /// the write lock is taken once for the whole batch and a failure leaves nothing behind.
    pub async fn upsert_jobs(
        &self,
        jobs: &[(NewJob, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut created = Vec::with_capacity(jobs.len());
        for (job, next_run_at) in jobs {
            let existed =
                sqlx::query_scalar!("SELECT count(*) AS n FROM jobs WHERE id = ?", job.id)
                    .fetch_one(&mut *tx)
                    .await?
                    > 0;
            write_row(&mut tx, job, *next_run_at, now, true).await?;
            let action = if existed {
                AuditAction::Replace
            } else {
                AuditAction::Create
            };
            super::audit::write_audit(&mut tx, now, key_name, action, &job.id, None).await?;
            let change = RevisionChange::of_upsert(!existed);
            super::revisions::write_revision(&mut tx, job, now, key_name, change, None).await?;
            created.push(!existed);
        }
        tx.commit().await?;
        Ok(created)
    }
}
