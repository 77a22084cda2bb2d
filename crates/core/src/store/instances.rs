//! Shared types of the store contract (instances); the methods that use them are on the service's
//! `Store`, and each backend implements them in its own SQL.

use chrono::{DateTime, Utc};

/// A serving process as registered in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Its id (also `job_runs.owner_id`).
    pub id: String,
    /// OS process id.
    pub pid: i64,
    /// Host it runs on.
    pub hostname: String,
    /// The kernel's start time of the process, to detect pid reuse.
    pub proc_start: Option<String>,
    /// When it registered.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it stopped (cleanly, or found dead).
    pub stopped_at: Option<DateTime<Utc>>,
}
