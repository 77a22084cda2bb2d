//! Shared types of the store contract (audit); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use crate::model::AuditAction;
use chrono::{DateTime, Utc};

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
