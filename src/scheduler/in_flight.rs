//! What this process is executing right now: the runs it started and has not yet recorded
//! (so shutdown can wait for them or abort them), the runs whose outcomes wait to be written,
//! and per job how many of its actions are still executing here (what `max_instances` counts
//! for this process). No I/O here.

use std::collections::{HashMap, HashSet};
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
    /// Runs whose outcome has been handed to the writer and is not yet written: their rows
    /// still say `running`, and they are this process's, not claims it never started.
    unwritten: Mutex<HashSet<i64>>,
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

    /// The run's outcome has been handed to the writer: it is no longer in flight, and its
    /// row waits for the outcome until [`InFlight::written`].
    pub(super) fn recorded(&self, run_id: i64) {
        if let Ok(mut w) = self.unwritten.lock() {
            w.insert(run_id);
        }
        if let Ok(mut r) = self.runs.lock() {
            r.remove(&run_id);
        }
        self.changed.notify_waiters();
    }

    /// The writer has stored these runs' outcomes.
    pub(super) fn written(&self, run_ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut w) = self.unwritten.lock() {
            for id in run_ids {
                w.remove(&id);
            }
        }
    }

    /// Of `run_ids` (rows that say `running` for this process), those it is neither executing
    /// nor holding an outcome for: claims it never started. `None` if a lock was poisoned.
    pub(super) fn never_started(&self, run_ids: &[i64]) -> Option<Vec<i64>> {
        let runs = self.runs.lock().ok()?;
        let unwritten = self.unwritten.lock().ok()?;
        Some(
            run_ids
                .iter()
                .copied()
                .filter(|id| !runs.contains_key(id) && !unwritten.contains(id))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose outcome waits for the writer is not a claim this process never started,
    /// however long the write takes; once written, its row no longer says `running` anyway.
    #[tokio::test]
    async fn an_outcome_waiting_for_the_writer_is_not_taken_for_an_unstarted_claim() {
        let in_flight = InFlight::default();
        let task = tokio::spawn(async {});
        if let Ok(mut runs) = in_flight.runs.lock() {
            runs.insert(1, task.abort_handle());
            runs.insert(2, task.abort_handle());
        }
        in_flight.recorded(2);
        assert_eq!(in_flight.never_started(&[1, 2, 3]), Some(vec![3]));
        in_flight.written([2]);
        assert_eq!(in_flight.never_started(&[1, 2, 3]), Some(vec![2, 3]));
        in_flight.recorded(1);
        assert_eq!(in_flight.len(), 0);
        assert_eq!(in_flight.never_started(&[1]), Some(vec![]));
    }
}
