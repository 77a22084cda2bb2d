//! The outcome writer: one task that writes the outcomes of finished runs in batches (one
//! transaction for everything that arrived together), retries a failed write until the
//! database takes it again, and never drops an outcome. A batch with an attempt that did not
//! succeed wakes the loop: the write may have set a retry due sooner than anything the loop
//! is sleeping towards. Such an attempt's job slot (`max_instances`) is released here, once its
//! pending retry is stored and counts in its place.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::SchedulerHandle;
use super::in_flight::InFlight;
use crate::error_chain::error_chain;
use crate::model::RunStatus;
use crate::store::{RunRecord, Store};
use crate::timestamp;

/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 1024;

/// How long the outcome writer waits for more outcomes before writing a partial batch.
const RECORD_GATHER: Duration = Duration::from_millis(10);

/// How long shutdown waits for the outcome writer to write what it holds.
const WRITER_FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// Back-off between attempts to write a batch of outcomes: this times the attempt number...
const RECORD_RETRY_STEP: Duration = Duration::from_millis(200);

/// ...up to this many steps (5 s between attempts at most).
const RECORD_RETRY_MAX_STEPS: u32 = 25;

/// A record id that tells the writer to flush and stop; never a real row id (they are > 0).
const FLUSH_MARK: i64 = -1;

/// Stops the writer after it has written what it holds. The channel is FIFO: the flush mark
/// is written after every outcome sent before it.
pub(super) async fn flush_and_stop(
    writer: tokio::task::JoinHandle<()>,
    records: &mpsc::UnboundedSender<RunRecord>,
) {
    let _ = records.send(RunRecord {
        run_id: FLUSH_MARK,
        job_id: String::new(),
        status: RunStatus::Interrupted,
        started_at: timestamp::now(),
        finished_at: timestamp::now(),
        http_status: None,
        exit_code: None,
        output: None,
        error: None,
        exclusive: false,
    });
    if tokio::time::timeout(WRITER_FLUSH_LIMIT, writer)
        .await
        .is_err()
    {
        tracing::error!("the outcome writer did not finish in time");
    }
}

/// Writes outcomes in batches until the channel closes or the flush mark arrives.
pub(super) async fn write_records(
    store: Store,
    (handle, in_flight): (SchedulerHandle, Arc<InFlight>),
    mut rx: mpsc::UnboundedReceiver<RunRecord>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    loop {
        let n = rx.recv_many(&mut batch, RECORD_BATCH).await;
        if n == 0 {
            return;
        }
        // Outcomes arriving over the next couple of milliseconds share the transaction: in
        // steady state that is several runs per write instead of one.
        if batch.len() < RECORD_BATCH {
            tokio::time::sleep(RECORD_GATHER).await;
            while batch.len() < RECORD_BATCH {
                match rx.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
        }
        let stop = batch.iter().any(|r| r.run_id == FLUSH_MARK);
        batch.retain(|r| r.run_id != FLUSH_MARK);
        write_until_taken(&store, &batch).await;
        in_flight.written(batch.iter().map(|r| r.run_id));
        handle.wake_waiting_catch_up();
        if batch.iter().any(|r| r.exclusive) {
            // A run of an exclusive group ended: a job waiting for the group is due again.
            handle.wake();
        }
        let mut unsucceeded = batch
            .iter()
            .filter(|r| r.status != RunStatus::Succeeded)
            .peekable();
        if unsucceeded.peek().is_some() {
            unsucceeded.for_each(|r| in_flight.finished(&r.job_id));
            handle.wake();
        }
        batch.clear();
        if stop {
            return;
        }
    }
}

/// Writes one batch, retrying with a growing back-off until the database takes it. Never
/// dropped: the outcomes wait (in memory) until the file takes writes again, or until
/// shutdown, where the rows are marked interrupted.
async fn write_until_taken(store: &Store, batch: &[RunRecord]) {
    let mut attempt = 0;
    while !batch.is_empty() {
        match store.record_outcomes(batch).await {
            Ok(()) => return,
            Err(e) => {
                attempt += 1;
                tracing::error!(error = %error_chain(&e), runs = batch.len(), attempt, "could not record run outcomes; retrying");
                tokio::time::sleep(RECORD_RETRY_STEP * attempt.min(RECORD_RETRY_MAX_STEPS)).await;
            }
        }
    }
}
