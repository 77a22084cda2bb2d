//! The audit part of the store contract: who changed which job, when, and how. Rows are
//! written by the changes they record (in the same transaction), never on their own.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::AuditAction;

/// One audit row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Row id, increasing.
    pub id: i64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// The name of the API key that made it.
    pub key_name: String,
    /// What the change did.
    pub action: AuditAction,
    /// The job changed.
    pub job_id: String,
    /// JSON detail, if any.
    pub detail: Option<String>,
}

impl Store {
    /// Audit rows newest first, below `before_id` when given, for one job when `job_id` is set.
    pub async fn list_audit(
        &self,
        job_id: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.list_audit(job_id, before_id, limit).await,
        }
    }
}
