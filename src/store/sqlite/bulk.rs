//! SQLite: many jobs created or replaced in one transaction (`POST /jobs/bulk`).

use chrono::{DateTime, Utc};

use super::SqliteStore;
use super::write::{existing, record_changes, write_rows};
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
        let ids: Vec<&str> = jobs.iter().map(|(job, _)| job.id.as_str()).collect();
        let existed = existing(&mut tx, &ids).await?;
        let rows: Vec<(&NewJob, Option<DateTime<Utc>>)> =
            jobs.iter().map(|(job, next)| (job, *next)).collect();
        write_rows(&mut tx, &rows, now, true).await?;
        let changes: Vec<(&NewJob, bool)> = jobs
            .iter()
            .map(|(job, _)| (job, !existed.contains(&job.id)))
            .collect();
        record_changes(&mut tx, &changes, now, key_name).await?;
        tx.commit().await?;
        Ok(changes.into_iter().map(|(_, created)| created).collect())
    }
}
