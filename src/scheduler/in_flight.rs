//! What this process is executing right now: the runs it started and has not yet recorded
//! (so shutdown can wait for them or abort them), and per job how many of its actions are still
//! executing here (what `max_instances` counts for this process). No I/O here.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// Runs that this process has started and not yet recorded, and per job how many of its
/// actions are still executing here (a run whose action succeeded but whose outcome is not yet
/// written is no longer running; one that did not succeed counts until its outcome, and the
/// retry it may set, is written).
#[derive(Default)]
pub(super) struct InFlight {
    /// The task of each run, by run id.
    pub(super) runs: Mutex<HashMap<i64, AbortHandle>>,
    per_job: Mutex<HashMap<String, u32>>,
    /// Notified each time a run leaves `runs`.
    pub(super) changed: Notify,
}

impl InFlight {
    /// How many runs are in flight.
    pub(super) fn len(&self) -> usize {
        self.runs.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The ids of the runs in flight.
    pub(super) fn run_ids(&self) -> Vec<i64> {
        self.runs
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default()
    }

    /// How many actions of `job_id` are executing in this process.
    pub(super) fn executing(&self, job_id: &str) -> u32 {
        self.per_job
            .lock()
            .map(|m| m.get(job_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// An action of `job_id` is about to execute.
    pub(super) fn started(&self, job_id: &str) {
        if let Ok(mut m) = self.per_job.lock() {
            *m.entry(job_id.to_string()).or_insert(0) += 1;
        }
    }

    /// An action of `job_id` has finished executing.
    pub(super) fn finished(&self, job_id: &str) {
        if let Ok(mut m) = self.per_job.lock()
            && let Some(n) = m.get_mut(job_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(job_id);
            }
        }
    }

    /// The run's outcome has been handed to the writer: it is no longer in flight.
    pub(super) fn recorded(&self, run_id: i64) {
        if let Ok(mut r) = self.runs.lock() {
            r.remove(&run_id);
        }
        self.changed.notify_waiters();
    }
}
