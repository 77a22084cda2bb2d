//! Types of the copy between engines (`schedlite copy`): what a store holds, counted, so the
//! copy can refuse a target that is not empty and verify what it wrote.

/// How many rows each table the copy moves holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    /// `jobs`.
    pub jobs: i64,
    /// `api_keys`, revoked ones included.
    pub keys: i64,
    /// `job_runs`.
    pub runs: i64,
    /// `audit_log`.
    pub audit: i64,
}

impl TableCounts {
    /// Whether every table is empty.
    pub fn is_empty(&self) -> bool {
        *self == TableCounts::default()
    }
}

/// Rows per read and per write transaction while copying: large enough that a history of
/// millions is a few thousand transactions, small enough to hold in memory.
pub const COPY_PAGE: u32 = 5_000;
