//! The scheduler (DESIGN.md, *Firing semantics*): a tokio loop that sleeps until the earliest
//! `next_run_at` (or until woken through [`SchedulerHandle`]), claims due occurrences in write
//! transactions, hands them to actions with bounded concurrency and records outcomes in
//! batches. A failing or panicking action is an outcome, never an error that stops the loop.
//!
//! [`Scheduler::step_until`] is one pass at a chosen `now`, callable on its own. The run of one
//! claimed occurrence is in `dispatch`, the outcome writer in `outcomes`, the heartbeat and the
//! recovery of dead processes' runs in `recovery`.

pub mod alerts;
mod backoff;
mod clock;
mod dispatch;
mod handle;
mod in_flight;
pub mod liveness;
pub mod metrics;
mod outcomes;
mod pauses;
pub mod plan;
mod recovery;
pub mod retention;
mod settle;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, watch};

pub use handle::{SchedulerHandle, SchedulerStatus, StorageNote, Writer};

use self::in_flight::InFlight;
use crate::actions::Executor;
use crate::error_chain::error_chain;
use crate::model::{ClaimPlan, Holder, Job, gate};
use crate::store::{Busy, ClaimReport, ClaimedRun, RunRecord, Store, StoreError};
use crate::timestamp;

/// How far ahead of their instant occurrences are claimed. The run then waits for its exact
/// instant, so its start is not delayed by the claim transaction, and jobs due within this
/// window share one transaction. A job deleted or paused less than this before its instant
/// still runs that once.
pub const LOOKAHEAD: Duration = Duration::from_millis(20);

/// Least time between two passes while jobs keep coming due (unless woken by a change): a pass
/// claims [`LOOKAHEAD`] ahead, so passes this far apart still claim every occurrence at least
/// `LOOKAHEAD - PASS_SPACING` before its instant, and one transaction serves all the jobs due
/// in between (at 1,000 occurrences/s, about 15 per pass instead of one).
pub const PASS_SPACING: Duration = Duration::from_millis(15);

/// Most due jobs claimed in one transaction.
pub const CLAIM_BATCH: u32 = 2048;

/// Tuning of one scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Most actions running at once.
    pub max_concurrent_runs: usize,
    /// How long running actions may go on after shutdown starts.
    pub shutdown_grace: Duration,
    /// A process on another host whose heartbeat is older than this is dead.
    pub heartbeat_expiry: Duration,
    /// Longest the loop sleeps without looking at the database
    /// ([`crate::config::DEFAULT_SCHEDULER_MAX_IDLE`] says why it is short).
    pub max_idle: Duration,
}

/// One process's scheduler.
pub struct Scheduler {
    store: Store,
    executor: Executor,
    handle: SchedulerHandle,
    config: SchedulerConfig,
    instance_id: String,
    hostname: String,
    permits: Arc<Semaphore>,
    in_flight: Arc<InFlight>,
    /// Skips deferred because of other processes' runs (see `settle`).
    settling: Arc<settle::Settling>,
    records: mpsc::UnboundedSender<RunRecord>,
    records_rx: Mutex<Option<mpsc::UnboundedReceiver<RunRecord>>>,
    submitted_rx: Mutex<Option<mpsc::UnboundedReceiver<ClaimedRun>>>,
    /// Both clocks at the last pass, to tell a step of the wall clock (module `clock`).
    clock: std::sync::Mutex<clock::ClockWatch>,
}

/// Errors that stop the scheduler from starting.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Registering the process or the first recovery failed.
    #[error("scheduler could not start")]
    Store(#[from] StoreError),
    /// The HTTP client for actions could not be built.
    #[error("scheduler could not start")]
    Action(#[from] crate::actions::ActionError),
}

impl Scheduler {
    /// Registers this process in the file and recovers runs left by dead processes.
    pub async fn start(
        store: Store,
        handle: SchedulerHandle,
        config: SchedulerConfig,
    ) -> Result<Scheduler, SchedulerError> {
        let executor = Executor::new()?;
        let hostname = liveness::hostname();
        let pid = std::process::id();
        let suffix: [u8; 4] = rand::random();
        let instance_id = format!("{hostname}-{pid}-{}", hex::encode(suffix));
        let proc_start = liveness::proc_start(pid);
        store
            .register_instance(
                &instance_id,
                i64::from(pid),
                &hostname,
                proc_start.as_deref(),
                timestamp::now(),
            )
            .await?;
        let (records, records_rx) = mpsc::unbounded_channel();
        let (submitted, submitted_rx) = mpsc::unbounded_channel();
        handle.set_submitter(Some(submitted));
        let scheduler = Scheduler {
            permits: Arc::new(Semaphore::new(config.max_concurrent_runs.max(1))),
            store,
            executor,
            handle,
            config,
            instance_id,
            hostname,
            in_flight: Arc::new(InFlight::default()),
            settling: Arc::default(),
            records,
            records_rx: Mutex::new(Some(records_rx)),
            submitted_rx: Mutex::new(Some(submitted_rx)),
            clock: std::sync::Mutex::new(clock::ClockWatch::new(
                std::time::Instant::now(),
                timestamp::now(),
            )),
        };
        scheduler.recover_dead_owners(timestamp::now()).await?;
        let id = scheduler.instance_id.clone();
        scheduler.handle.update(|s| {
            s.running = true;
            s.instance_id = Some(id);
        });
        tracing::info!(instance.id = %scheduler.instance_id, "scheduler started");
        Ok(scheduler)
    }

    /// One pass at `now` that also claims the occurrences due up to `horizon`; their runs wait
    /// for their instant before starting.
    pub async fn step_until(
        &self,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Result<ClaimReport, StoreError> {
        // A file deleted or replaced underneath is refused by the claim's write transaction
        // (`Store::begin_loop_write` checks the file's identity), so nothing is lost there.
        let report = self
            .store
            .claim_due_until(now, horizon, &self.instance_id, CLAIM_BATCH, |job, busy| {
                // Left due: see `settle`, and the `wait` policy of exclusive groups (the
                // outcome writer wakes the loop when a run of a group ends).
                self.decide(job, busy, horizon)
                    .unwrap_or_else(|| ClaimPlan {
                        next_run_at: job.next_run_at,
                        ..ClaimPlan::default()
                    })
            })
            .await?;
        for run in &report.runs {
            self.dispatch(run.clone());
        }
        let metrics = self.handle.metrics();
        metrics.count_runs("missed", u64::try_from(report.missed).unwrap_or(0));
        metrics.count_runs("skipped", u64::try_from(report.skipped).unwrap_or(0));
        if report.jobs > 0 {
            metrics.claim_batch.observe(report.jobs as f64);
        }
        self.handle.set_catch_up_waiting(report.catch_ups_waiting);
        self.handle.update(|s| s.last_pass_at = Some(now));
        Ok(report)
    }

    /// What to do with one due job, or `None` to leave it due for a later pass: the misfire
    /// policy, then a skip request, then `max_instances` and the exclusive group. A skip caused
    /// by another process's run, or by a stored run holding the group, waits a moment first
    /// (`settle`): that run may have ended with its outcome not yet written.
    fn decide(&self, job: &Job, busy: Busy<'_>, horizon: DateTime<Utc>) -> Option<ClaimPlan> {
        // Runs of other processes come from the file; this process's own from memory (an
        // action that has finished no longer counts, even before its outcome is written).
        let running = busy
            .elsewhere
            .saturating_add(self.in_flight.executing(&job.id));
        let decided = plan::plan(
            &job.trigger,
            &job.settings,
            job.next_run_at.unwrap_or(horizon),
            horizon,
            running,
        );
        let decided = plan::apply_skip(decided, job.skip.as_ref());
        let decided = gate(decided, &job.id, job.exclusive.as_ref(), busy.holder)?;
        let stored_holder = matches!(busy.holder, Some(Holder::Run { .. }));
        let others_skip = (busy.elsewhere > 0 && !decided.skipped.is_empty())
            || (stored_holder && decided.exclusive_skipped.is_some());
        if others_skip {
            if self.settling.defer(&job.id, std::time::Instant::now()) {
                return None;
            }
        } else {
            self.settling.settled(&job.id);
        }
        Some(decided)
    }

    /// Runs the loop until `shutdown` turns true, then drains: running actions get the
    /// shutdown grace to finish, the rest are aborted and recorded `interrupted`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let writer = self
            .records_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
            .map(|rx| {
                let (store, handle) = (self.store.clone(), self.handle.clone());
                let in_flight = self.in_flight.clone();
                tokio::spawn(outcomes::write_records(store, (handle, in_flight), rx))
            });
        let maintenance = tokio::spawn(self.clone().maintain(shutdown.clone()));
        let submitted = self.clone().forward_submitted();
        // Failed passes in a row, for the pause after the next (`backoff`).
        let mut failures = 0;
        while !*shutdown.borrow() {
            self.turn(&mut shutdown, &mut failures).await;
        }
        self.handle.set_submitter(None);
        if let Some(task) = submitted {
            task.abort();
        }
        self.drain().await;
        maintenance.abort();
        self.stop(writer).await;
    }

    /// Dispatches the runs submitted through the handle (`POST /jobs/{id}/run`), in a task.
    fn forward_submitted(self: Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let mut rx = self.submitted_rx.lock().ok().and_then(|mut rx| rx.take())?;
        Some(tokio::spawn(async move {
            while let Some(run) = rx.recv().await {
                self.dispatch(run);
            }
        }))
    }

    /// One turn of the loop: a pass, then a wait until the next due job (at most the
    /// configured `max_idle`), a wake-up or shutdown; after the `failures`-th failed pass in a
    /// row, the pause `backoff` gives.
    async fn turn(&self, shutdown: &mut watch::Receiver<bool>, failures: &mut u32) {
        let now = timestamp::now();
        self.watch_clock(now);
        let next = self.timed_pass(now).await;
        if matches!(next, Next::Pause) {
            *failures = failures.saturating_add(1);
        } else {
            *failures = 0;
        }
        let wait = match next {
            Next::Again => {
                tokio::task::yield_now().await;
                return;
            }
            Next::Pause => {
                tokio::select! {
                    () = tokio::time::sleep(backoff::failed_pass_pause(*failures)) => {}
                    _ = shutdown.changed() => {}
                }
                return;
            }
            Next::Idle => self.idle_time(now).await,
        };
        if wait.is_zero() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.handle.woken() => {}
            _ = shutdown.changed() => {}
        }
    }

    /// Compares the wall clock with the monotonic one since the last pass: a step of more
    /// than a second is logged and counted, and the pass about to run plans from the new time
    /// (the loop never sleeps longer than `max_idle`, so a step is seen within it).
    fn watch_clock(&self, wall: DateTime<Utc>) {
        let step = match self.clock.lock() {
            Ok(mut watch) => watch.observe(std::time::Instant::now(), wall),
            Err(poisoned) => poisoned
                .into_inner()
                .observe(std::time::Instant::now(), wall),
        };
        if let Some(step) = step {
            tracing::warn!(
                step_ms = step.millis,
                direction = step.direction(),
                "the wall clock stepped; re-planning from the new time (a step back fires \
                 nothing twice, a step forward is handled as downtime)"
            );
            self.handle.metrics().clock_step(step.direction());
        }
    }

    /// One pass at `now`, timed in the metrics, its failure noted for `/readyz`.
    async fn timed_pass(&self, now: DateTime<Utc>) -> Next {
        let horizon = now + chrono::Duration::from_std(LOOKAHEAD).unwrap_or_default();
        let pass_began = std::time::Instant::now();
        let pass = self.step_until(now, horizon).await;
        let metrics = self.handle.metrics();
        metrics
            .pass_duration
            .observe(pass_began.elapsed().as_secs_f64());
        match pass {
            Ok(report) => {
                if report.jobs > 0 {
                    self.handle.note(Writer::Claim, None);
                }
                if report.jobs as u32 >= CLAIM_BATCH {
                    Next::Again
                } else {
                    Next::Idle
                }
            }
            Err(e) if e.is_transient() => {
                metrics.database_error("busy");
                // Another process held the write lock past the busy timeout: nothing is
                // wrong with the file, and the next pass catches up.
                tracing::warn!(error = %error_chain(&e), "scheduler pass waited out a busy database; retrying");
                Next::Again
            }
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "scheduler pass failed; retrying");
                metrics.database_error("unavailable");
                let note = StorageNote::now(error_chain(&e), e.condition());
                self.handle.note(Writer::Claim, Some(note));
                Next::Pause
            }
        }
    }

    /// How long the loop may sleep after the pass that began at `pass_at`: until the earliest
    /// job is due (less [`LOOKAHEAD`]), at least [`PASS_SPACING`] after that pass, at most
    /// the configured `max_idle`.
    async fn idle_time(&self, pass_at: DateTime<Utc>) -> Duration {
        let since_pass = (timestamp::now() - pass_at)
            .to_std()
            .unwrap_or(Duration::ZERO);
        match self.store.earliest_next_run().await {
            Ok(Some(next)) => (next - timestamp::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .saturating_sub(LOOKAHEAD)
                .max(PASS_SPACING.saturating_sub(since_pass))
                .min(self.config.max_idle),
            Ok(None) => self.config.max_idle,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the next due time");
                self.config.max_idle
            }
        }
    }

    /// After the drain: writes the outcomes held, marks `interrupted` what this process still
    /// had running and marks it stopped.
    async fn stop(&self, writer: Option<tokio::task::JoinHandle<()>>) {
        self.handle.update(|s| s.running = false);
        let leftover = self.in_flight.run_ids();
        if let Some(writer) = writer {
            outcomes::flush_and_stop(writer, &self.records).await;
        }
        let now = timestamp::now();
        if let Err(e) = self
            .store
            .interrupt_runs_of(
                Some(&self.instance_id),
                now,
                "the server shut down while the run was in flight",
            )
            .await
        {
            tracing::error!(error = %e, runs = leftover.len(), "could not mark interrupted runs");
        }
        if let Err(e) = self
            .store
            .mark_instance_stopped(&self.instance_id, now)
            .await
        {
            tracing::warn!(error = %e, "could not mark this instance stopped");
        }
        tracing::info!(interrupted = leftover.len(), "scheduler stopped");
    }

    /// Waits up to the shutdown grace for running actions, then aborts the rest.
    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        loop {
            let notified = self.in_flight.changed.notified();
            if self.in_flight.len() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        if let Ok(runs) = self.in_flight.runs.lock() {
            tracing::warn!(
                runs = runs.len(),
                "shutdown grace over: interrupting running actions"
            );
            for handle in runs.values() {
                handle.abort();
            }
        }
    }
}

/// What the loop does after a pass.
enum Next {
    /// Another pass at once: the batch was full, or the database was busy.
    Again,
    /// Pause (see `backoff`; or until shutdown): the pass failed.
    Pause,
    /// Sleep until the next due job, a wake-up or shutdown.
    Idle,
}
