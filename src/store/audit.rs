//! The audit part of the store contract: who changed which job, when, and how. Rows are
//! written by the changes they record (in the same transaction), never on their own.

use super::{AuditEntry, Store, StoreError};

impl Store {
    /// Audit rows newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_audit(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self, s => s.list_audit(job_id, before_id, limit).await)
    }
}
