//! SQLite: many jobs created or replaced in one transaction (`POST /jobs/bulk`).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use super::write::{JobWrite, upsert_rows};
use crate::model::NewJob;
use crate::store::StoreError;

impl SqliteStore {
    /// [`crate::store::Store::upsert_jobs`] on SQLite: one `BEGIN IMMEDIATE` transaction, so
    /// the write lock is taken once for the whole batch and a failure leaves nothing behind;
    /// five statements for the whole batch (module `write`).
    pub async fn upsert_jobs(
        &self,
        jobs: &[(NewJob, Option<DateTime<Utc>>)],
        now: DateTime<Utc>,
        key_name: &str,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<JobWrite> = jobs
            .iter()
            .map(|(job, next_run_at)| JobWrite {
                job,
                next_run_at: *next_run_at,
                at: now,
                key_name,
            })
            .collect();
        let created = upsert_rows(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(created)
    }
}
