//! Shared types of the store contract for alerts: a job as the health watch reads it, and how
//! long a process holds an alert it is sending.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Health, JobEntry};

/// How long a process that took an alert to send holds it. Longer than a webhook call may take
/// (its timeout is 10 s), so a slow receiver is not sent the same alert by a second process;
/// short enough that the alert of a process killed mid-send goes out again soon.
pub const ALERT_LEASE: Duration = Duration::seconds(30);

/// A job the health watch looks at: its row (readable or broken), its newest run's place is
/// filled by the caller, and the health last alerted for it.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The job as listed.
    pub entry: JobEntry,
    /// The health last alerted (`None`: nothing yet, which counts as `ok`).
    pub alerted: Option<Health>,
    /// When that alert was recorded.
    pub alerted_at: Option<DateTime<Utc>>,
}

/// How one delivery attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// A webhook answered 2xx at this instant.
    Sent(DateTime<Utc>),
    /// It failed with this error; tried again at `retry_at`, or given up when `None`.
    Failed {
        /// What went wrong, for the operator.
        error: String,
        /// When to try again; `None`: never (the alert becomes `failed`).
        retry_at: Option<DateTime<Utc>>,
    },
}
