//! `SchedulerHandle`: how the API wakes the loop when jobs change and reads its state for
//! `/healthz`, without knowing anything else about it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

use crate::store::ClaimedRun;

/// What `/healthz` reports about the loop.
#[derive(Debug, Clone, Default)]
pub struct SchedulerStatus {
    /// Whether the loop is running in this process.
    pub running: bool,
    /// When the loop last finished a pass.
    pub last_pass_at: Option<DateTime<Utc>>,
    /// This process's id in the `instances` table, once registered.
    pub instance_id: Option<String>,
    /// Why the last claim that had work to write failed (read-only, full, busy, file gone),
    /// with when; cleared by the next claim that writes.
    pub claim_error: Option<(DateTime<Utc>, String)>,
    /// Why the last heartbeat failed, with when; cleared by the next heartbeat.
    pub heartbeat_error: Option<(DateTime<Utc>, String)>,
    /// Why the last API write was refused by the storage (full, read-only, file gone), with
    /// when; cleared by the next API write that succeeds.
    pub api_error: Option<(DateTime<Utc>, String)>,
}

/// Cheap to clone; shared by the API and the loop.
#[derive(Debug, Clone, Default)]
pub struct SchedulerHandle {
    notify: Arc<Notify>,
    status: Arc<Mutex<SchedulerStatus>>,
    manual: Arc<Mutex<Option<mpsc::UnboundedSender<ClaimedRun>>>>,
    counters: Arc<Counters>,
}

/// What this process's loop has done since it started, for `GET /metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Runs started (scheduled and manual).
    pub started: AtomicU64,
    /// Runs that ended `succeeded`.
    pub succeeded: AtomicU64,
    /// Runs that ended `failed`.
    pub failed: AtomicU64,
    /// Runs that ended `timed_out`.
    pub timed_out: AtomicU64,
    /// Occurrences recorded `missed`.
    pub missed: AtomicU64,
    /// Occurrences recorded `skipped`.
    pub skipped: AtomicU64,
    /// Claim passes made.
    pub passes: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl SchedulerHandle {
    /// A handle with nothing running yet.
    pub fn new() -> SchedulerHandle {
        SchedulerHandle::default()
    }

    /// Wakes the loop at once (a job was created, changed or deleted). Wakes that arrive while
    /// the loop is busy are kept, so none is lost.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Waits for the next [`SchedulerHandle::wake`].
    pub(crate) async fn woken(&self) {
        self.notify.notified().await;
    }

    /// Hands a run claimed outside the loop (`POST /jobs/{id}/run`) to the loop to execute.
    /// Returns false when no loop runs in this process (the run is then not started).
    pub fn submit(&self, run: ClaimedRun) -> bool {
        match self.manual.lock() {
            Ok(guard) => guard.as_ref().is_some_and(|tx| tx.send(run).is_ok()),
            Err(_) => false,
        }
    }

    /// Connects [`SchedulerHandle::submit`] to the loop.
    pub(crate) fn set_submitter(&self, tx: Option<mpsc::UnboundedSender<ClaimedRun>>) {
        if let Ok(mut guard) = self.manual.lock() {
            *guard = tx;
        }
    }

    /// The current storage problem, if any: a failing heartbeat or claim.
    pub fn storage_problem(&self) -> Option<(DateTime<Utc>, String)> {
        let status = self.status();
        status
            .heartbeat_error
            .or(status.claim_error)
            .or(status.api_error)
    }

    /// The loop's counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A snapshot of the loop's state.
    pub fn status(&self) -> SchedulerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Changes the state under the lock.
    pub(crate) fn update(&self, f: impl FnOnce(&mut SchedulerStatus)) {
        if let Ok(mut status) = self.status.lock() {
            f(&mut status);
        }
    }
}
