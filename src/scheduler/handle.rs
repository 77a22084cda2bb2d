//! `SchedulerHandle`: how the API wakes the loop when jobs change and reads its state for
//! `/healthz`, without knowing anything else about it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

use super::metrics::Metrics;
use crate::store::{ClaimedRun, StorageCondition};

/// What `/healthz` reports about the loop.
#[derive(Debug, Clone, Default)]
pub struct SchedulerStatus {
    /// Whether the loop is running in this process.
    pub running: bool,
    /// When the loop last finished a pass.
    pub last_pass_at: Option<DateTime<Utc>>,
    /// This process's id in the `instances` table, once registered.
    pub instance_id: Option<String>,
    /// Why the last claim that had work to write failed (read-only, full, file gone); cleared
    /// by the next claim that writes.
    pub claim_error: Option<StorageNote>,
    /// Why the last heartbeat failed; cleared by the next heartbeat.
    pub heartbeat_error: Option<StorageNote>,
    /// Why the last API write was refused by the storage (full, read-only, file gone); cleared
    /// by the next API write that succeeds.
    pub api_error: Option<StorageNote>,
}

/// A write the storage refused, remembered for the health probes. Each writer clears its own
/// note when it next writes; the probes also re-check the note's condition, since a writer
/// with nothing to write (a quiet API, no due jobs) may not write again for a long time.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageNote {
    /// When the write failed.
    pub at: DateTime<Utc>,
    /// The error, for operators.
    pub message: String,
    /// The lasting condition behind it, if any; a note without one is cleared only by its
    /// writer's next success.
    pub condition: Option<StorageCondition>,
}

impl StorageNote {
    /// A note of a failure seen now.
    pub fn now(message: String, condition: Option<StorageCondition>) -> StorageNote {
        StorageNote {
            at: Utc::now(),
            message,
            condition,
        }
    }
}

/// Which writer a [`StorageNote`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The loop's heartbeat.
    Heartbeat,
    /// The loop's claims.
    Claim,
    /// API requests.
    Api,
}

impl SchedulerStatus {
    /// The note slot of `writer`.
    pub fn note_mut(&mut self, writer: Writer) -> &mut Option<StorageNote> {
        match writer {
            Writer::Heartbeat => &mut self.heartbeat_error,
            Writer::Claim => &mut self.claim_error,
            Writer::Api => &mut self.api_error,
        }
    }
}

/// Cheap to clone; shared by the API and the loop.
#[derive(Debug, Clone, Default)]
pub struct SchedulerHandle {
    notify: Arc<Notify>,
    status: Arc<Mutex<SchedulerStatus>>,
    manual: Arc<Mutex<Option<mpsc::UnboundedSender<ClaimedRun>>>>,
    metrics: Arc<Metrics>,
    /// Set by a pass that left an approved catch-up stretch waiting for a free slot: the
    /// outcome writer then wakes the loop once it has freed one (stored an outcome), instead of
    /// leaving the queue to the next idle pass.
    catch_up_waiting: Arc<std::sync::atomic::AtomicBool>,
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

    /// Notes whether an approved catch-up stretch waits for a slot (see the field).
    pub(crate) fn set_catch_up_waiting(&self, waiting: bool) {
        self.catch_up_waiting
            .store(waiting, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wakes the loop when a catch-up stretch was waiting for a slot; outcomes were just
    /// stored, so one may be free.
    pub(crate) fn wake_waiting_catch_up(&self) {
        if self
            .catch_up_waiting
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.wake();
        }
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

    /// The remembered storage failures, heartbeat first (it writes every second, so its note
    /// is the freshest evidence).
    pub fn storage_notes(&self) -> Vec<(Writer, StorageNote)> {
        let mut status = self.status();
        [Writer::Heartbeat, Writer::Claim, Writer::Api]
            .into_iter()
            .filter_map(|w| status.note_mut(w).take().map(|note| (w, note)))
            .collect()
    }

    /// Records that `writer`'s write failed now (`Some`) or succeeded (`None`).
    pub fn note(&self, writer: Writer, note: Option<StorageNote>) {
        self.update(|s| *s.note_mut(writer) = note);
    }

    /// Drops `writer`'s note if it is still the one from `at` (a probe found its condition
    /// gone); a newer failure noted meanwhile stays.
    pub fn forget_note(&self, writer: Writer, at: DateTime<Utc>) {
        self.update(|s| {
            let slot = s.note_mut(writer);
            if slot.as_ref().is_some_and(|n| n.at == at) {
                *slot = None;
            }
        });
    }

    /// The process's metrics, shared by the loop, the pruner and the API.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_forgets_only_the_note_it_checked() {
        let handle = SchedulerHandle::new();
        let old = StorageNote::now("full".into(), Some(StorageCondition::Full));
        handle.note(Writer::Api, Some(old.clone()));
        let newer = StorageNote {
            at: old.at + chrono::Duration::milliseconds(5),
            ..old.clone()
        };
        handle.note(Writer::Api, Some(newer.clone()));
        handle.forget_note(Writer::Api, old.at);
        assert_eq!(handle.storage_notes(), vec![(Writer::Api, newer.clone())]);
        handle.forget_note(Writer::Api, newer.at);
        assert_eq!(handle.storage_notes(), vec![]);
    }

    #[test]
    fn notes_are_listed_heartbeat_first() {
        let handle = SchedulerHandle::new();
        let note = StorageNote::now("x".into(), None);
        handle.note(Writer::Api, Some(note.clone()));
        handle.note(Writer::Heartbeat, Some(note.clone()));
        let writers: Vec<Writer> = handle.storage_notes().into_iter().map(|(w, _)| w).collect();
        assert_eq!(writers, vec![Writer::Heartbeat, Writer::Api]);
    }
}
