//! The scheduler (DESIGN.md, *Firing semantics*): a tokio loop that sleeps until the earliest
//! `next_run_at` (or until woken through [`SchedulerHandle`]), claims due occurrences in write
//! transactions, hands them to actions with bounded concurrency and records outcomes in
//! batches. A failing or panicking action is an outcome, never an error that stops the loop.
//!
//! [`Scheduler::step`] is one pass at a chosen `now`, callable on its own.

mod handle;
pub mod liveness;
pub mod metrics;
pub mod plan;
pub mod retention;
mod settle;

use schedlite_core::crash_point;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::AbortHandle;
use tracing::Instrument;

pub use handle::{SchedulerHandle, SchedulerStatus, StorageNote, Writer};

use self::metrics::ActionLabel;
use crate::actions::{Executor, Outcome, OutcomeStatus};
use crate::error_chain::error_chain;
use crate::model::ClaimPlan;
use crate::model::RunStatus;
use crate::store::{ClaimReport, ClaimedRun, RunRecord, Store, StoreError};
use crate::timestamp;

/// Longest the loop sleeps without looking at the file again: other processes sharing it may
/// have added jobs due sooner than anything this process knows about.
pub const MAX_IDLE: Duration = Duration::from_secs(1);

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

/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 1024;

/// How long the outcome writer waits for more outcomes before writing a partial batch.
const RECORD_GATHER: Duration = Duration::from_millis(10);

/// How long the loop waits after a pass failed for a reason other than a busy database (disk
/// full, file gone) before trying again: long enough not to flood the log, short enough to
/// resume within a second of the cause going away.
const FAILED_PASS_PAUSE: Duration = Duration::from_secs(1);

/// How long shutdown waits for the outcome writer to write what it holds.
const WRITER_FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// Back-off between attempts to write a batch of outcomes: this times the attempt number...
const RECORD_RETRY_STEP: Duration = Duration::from_millis(200);

/// ...up to this many steps (5 s between attempts at most).
const RECORD_RETRY_MAX_STEPS: u32 = 25;

/// Tuning of one scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Most actions running at once.
    pub max_concurrent_runs: usize,
    /// How long running actions may go on after shutdown starts.
    pub shutdown_grace: Duration,
    /// A process on another host whose heartbeat is older than this is dead.
    pub heartbeat_expiry: Duration,
}

/// Runs that this process has started and not yet recorded, so shutdown can wait for them or
/// abort them; and, per job, how many of its actions are still executing here, which is what
/// `max_instances` counts for this process (a run whose action has finished but whose outcome
/// is not yet written is no longer running).
#[derive(Default)]
struct InFlight {
    runs: Mutex<HashMap<i64, AbortHandle>>,
    per_job: Mutex<HashMap<String, u32>>,
    changed: Notify,
}

impl InFlight {
    fn len(&self) -> usize {
        self.runs.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn executing(&self, job_id: &str) -> u32 {
        self.per_job
            .lock()
            .map(|m| m.get(job_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn started(&self, job_id: &str) {
        if let Ok(mut m) = self.per_job.lock() {
            *m.entry(job_id.to_string()).or_insert(0) += 1;
        }
    }

    fn finished(&self, job_id: &str) {
        if let Ok(mut m) = self.per_job.lock()
            && let Some(n) = m.get_mut(job_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(job_id);
            }
        }
    }
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

    /// The heartbeat expiry as a chrono duration.
    fn expiry(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.heartbeat_expiry)
            .unwrap_or(liveness::HEARTBEAT_EXPIRY)
    }

    /// Marks `interrupted` the running runs of every other process that is no longer alive.
    /// Returns how many runs were recovered.
    pub async fn recover_dead_owners(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut recovered = 0;
        for (owner, instance) in self.store.owners_of_running_runs(&self.instance_id).await? {
            let dead = match &instance {
                None => true,
                Some(i) => !liveness::is_alive(i, &self.hostname, now, self.expiry()),
            };
            if !dead {
                continue;
            }
            let reason = match &instance {
                Some(i) => format!(
                    "the process running it (instance {}, pid {}) died",
                    i.id, i.pid
                ),
                None => "the process running it is unknown and presumed dead".to_string(),
            };
            let n = self
                .store
                .interrupt_runs_of(owner.as_deref(), now, &reason)
                .await?;
            crash_point!("recovery-between-statements");
            if let Some(i) = &instance {
                self.store.mark_instance_stopped(&i.id, now).await?;
            }
            if n > 0 {
                tracing::warn!(
                    owner = owner.as_deref().unwrap_or("-"),
                    runs = n,
                    "recovered runs of a dead process"
                );
            }
            recovered += n;
        }
        // Processes that died with nothing running are marked stopped too, so `instances`
        // tells the truth about who is alive.
        for instance in self.store.unstopped_instances(&self.instance_id).await? {
            if !liveness::is_alive(&instance, &self.hostname, now, self.expiry()) {
                self.store.mark_instance_stopped(&instance.id, now).await?;
                tracing::info!(instance.id = %instance.id, pid = instance.pid, "marked a dead process stopped");
            }
        }
        Ok(recovered)
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
            .claim_due_until(
                now,
                horizon,
                &self.instance_id,
                CLAIM_BATCH,
                |job, elsewhere| {
                    // Runs of other processes come from the file; this process's own from
                    // memory (an action that has finished no longer counts, even before its
                    // outcome is written).
                    let running = elsewhere.saturating_add(self.in_flight.executing(&job.id));
                    let decided = plan::plan(
                        &job.trigger,
                        &job.settings,
                        job.next_run_at.unwrap_or(horizon),
                        horizon,
                        running,
                    );
                    if elsewhere > 0 && !decided.skipped.is_empty() {
                        if self.settling.defer(&job.id, std::time::Instant::now()) {
                            // Left due: see `settle`.
                            return ClaimPlan {
                                next_run_at: job.next_run_at,
                                ..ClaimPlan::default()
                            };
                        }
                    } else {
                        self.settling.settled(&job.id);
                    }
                    decided
                },
            )
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
        self.handle.update(|s| s.last_pass_at = Some(now));
        Ok(report)
    }

    /// Starts a claimed run in its own task. Its outcome goes to the record writer.
    pub fn dispatch(&self, run: ClaimedRun) {
        let permits = self.permits.clone();
        let executor = self.executor.clone();
        let records = self.records.clone();
        let in_flight = self.in_flight.clone();
        let run_id = run.run_id;
        let handle = self.handle.clone();
        handle.metrics().runs_started.inc();
        let span = tracing::info_span!("run", job.id = %run.job_id, scheduled_at = %timestamp::format(run.scheduled_at), run.id = run.run_id);
        // The map entry is inserted before the task can finish, under the same lock that
        // the task takes to remove it.
        self.in_flight.started(&run.job_id);
        let mut runs = match self.in_flight.runs.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let task = tokio::spawn(
            async move {
                // Claimed ahead (LOOKAHEAD): start at the occurrence's instant, not before.
                if let Ok(early) = (run.scheduled_at - timestamp::now()).to_std() {
                    tokio::time::sleep(early).await;
                }
                // The jitter delay is waiting, not work: it must not hold one of the
                // `max_concurrent_runs` slots, or delayed runs queue behind each other's delays.
                if run.jitter_seconds > 0 {
                    let delay_ms = rand::random_range(0..=u64::from(run.jitter_seconds) * 1000);
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                let _permit = permits.acquire_owned().await;
                let started_at = timestamp::now();
                let job_id = run.job_id.clone();
                let scheduled_at = run.scheduled_at;
                let action = run.action.clone();
                // A panic inside an action must not lose the run: it is caught here and recorded.
                let outcome = match tokio::spawn(async move {
                    executor.execute(&action, &job_id, scheduled_at).await
                })
                .await
                {
                    Ok(outcome) => outcome,
                    Err(e) => Outcome::failed(format!("the action panicked: {e}")),
                };
                let finished_at = timestamp::now();
                in_flight.finished(&run.job_id);
                let status = match outcome.status {
                    OutcomeStatus::Succeeded => RunStatus::Succeeded,
                    OutcomeStatus::Failed => RunStatus::Failed,
                    OutcomeStatus::TimedOut => RunStatus::TimedOut,
                };
                tracing::debug!(status = status.as_str(), "run finished");
                let metrics = handle.metrics();
                metrics.count_runs(status.as_str(), 1);
                let seconds =
                    |d: chrono::Duration| d.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                metrics
                    .lateness
                    .observe(seconds(started_at - run.scheduled_at));
                metrics
                    .duration
                    .get_or_create(&ActionLabel {
                        action: run.action.kind(),
                    })
                    .observe(seconds(finished_at - started_at));
                let _ = records.send(RunRecord {
                    run_id: run.run_id,
                    status,
                    started_at,
                    finished_at,
                    http_status: outcome.http_status,
                    exit_code: outcome.exit_code,
                    output: outcome.output,
                    error: outcome.error,
                });
                if let Ok(mut r) = in_flight.runs.lock() {
                    r.remove(&run.run_id);
                }
                in_flight.changed.notify_waiters();
            }
            .instrument(span),
        );
        runs.insert(run_id, task.abort_handle());
    }

    /// Runs the loop until `shutdown` turns true, then drains: running actions get the
    /// shutdown grace to finish, the rest are aborted and recorded `interrupted`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let writer = self
            .records_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
            .map(|rx| tokio::spawn(write_records(self.store.clone(), rx)));
        let maintenance = tokio::spawn(self.clone().maintain(shutdown.clone()));
        let submitted = self
            .submitted_rx
            .lock()
            .ok()
            .and_then(|mut rx| rx.take())
            .map(|mut rx| {
                let this = self.clone();
                tokio::spawn(async move {
                    while let Some(run) = rx.recv().await {
                        this.dispatch(run);
                    }
                })
            });
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = timestamp::now();
            let horizon = now + chrono::Duration::from_std(LOOKAHEAD).unwrap_or_default();
            let pass_began = std::time::Instant::now();
            let pass = self.step_until(now, horizon).await;
            let metrics = self.handle.metrics();
            metrics
                .pass_duration
                .observe(pass_began.elapsed().as_secs_f64());
            let full = match pass {
                Ok(report) => {
                    if report.jobs > 0 {
                        self.handle.note(Writer::Claim, None);
                    }
                    report.jobs as u32 >= CLAIM_BATCH
                }
                Err(e) if e.is_transient() => {
                    metrics.database_error("busy");
                    // Another process held the write lock past the busy timeout: nothing is
                    // wrong with the file, and the next pass catches up.
                    tracing::warn!(error = %error_chain(&e), "scheduler pass waited out a busy database; retrying");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %error_chain(&e), "scheduler pass failed; retrying");
                    metrics.database_error("unavailable");
                    let note = StorageNote::now(error_chain(&e), e.condition());
                    self.handle.note(Writer::Claim, Some(note));
                    tokio::select! {
                        () = tokio::time::sleep(FAILED_PASS_PAUSE) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            if full {
                tokio::task::yield_now().await;
                continue;
            }
            let since_pass = (timestamp::now() - now).to_std().unwrap_or(Duration::ZERO);
            let wake_in = match self.store.earliest_next_run().await {
                Ok(Some(next)) => (next - timestamp::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .saturating_sub(LOOKAHEAD)
                    .max(PASS_SPACING.saturating_sub(since_pass))
                    .min(MAX_IDLE),
                Ok(None) => MAX_IDLE,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the next due time");
                    MAX_IDLE
                }
            };
            if wake_in.is_zero() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(wake_in) => {}
                () = self.handle.woken() => {}
                _ = shutdown.changed() => {}
            }
        }
        self.handle.set_submitter(None);
        if let Some(task) = submitted {
            task.abort();
        }
        self.drain().await;
        maintenance.abort();
        self.handle.update(|s| s.running = false);
        let leftover: Vec<i64> = self
            .in_flight
            .runs
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        if let Some(writer) = writer {
            // The channel is FIFO: the flush mark is written after every outcome sent before it.
            flush_and_stop(writer, &self.records).await;
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

    /// Heartbeat and recovery of dead owners, every [`liveness::HEARTBEAT_EVERY`].
    async fn maintain(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(liveness::HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = timestamp::now();
            let written = match self.store.check_file() {
                Ok(()) => self.store.heartbeat(&self.instance_id, now).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => self.handle.note(Writer::Heartbeat, None),
                Err(e) if e.is_transient() => {
                    self.handle.metrics().database_error("busy");
                    tracing::warn!(error = %error_chain(&e), "heartbeat waited out a busy database");
                }
                Err(e) => {
                    tracing::error!(error = %error_chain(&e), "cannot write to the database");
                    self.handle.metrics().database_error("unavailable");
                    let note = StorageNote::now(error_chain(&e), e.condition());
                    self.handle.note(Writer::Heartbeat, Some(note));
                }
            }
            if let Err(e) = self.recover_dead_owners(now).await {
                tracing::warn!(error = %e, "recovery of dead processes' runs failed");
            }
            if let Err(e) = self.interrupt_unstarted_claims(now).await {
                tracing::warn!(error = %e, "the check for claims this process never started failed");
            }
        }
    }

    /// Marks `interrupted` the runs the database holds as `running` for this process that it
    /// is not executing, claimed more than [`UNSTARTED_CLAIM_AGE`] ago. They exist when a
    /// claim's commit reached the database but its answer was lost with the connection (a
    /// PostgreSQL node cut off mid-commit): the process took the claim for failed and never
    /// started them, while its heartbeat keeps any other process from recovering them, so
    /// without this they would stay `running` for ever and block `max_instances`.
    async fn interrupt_unstarted_claims(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let stale = self
            .store
            .stale_running_runs_of(&self.instance_id, now - UNSTARTED_CLAIM_AGE)
            .await?;
        if stale.is_empty() {
            return Ok(0);
        }
        let orphans: Vec<i64> = match self.in_flight.runs.lock() {
            Ok(runs) => stale
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| !runs.contains_key(id))
                .collect(),
            Err(_) => return Ok(0),
        };
        if orphans.is_empty() {
            return Ok(0);
        }
        let reason =
            "claimed by this process but never started: the claim's commit was not confirmed to it";
        self.store.interrupt_runs(&orphans, now, reason).await?;
        tracing::warn!(
            runs = orphans.len(),
            "interrupted runs claimed by this process that it never started"
        );
        Ok(orphans.len() as u64)
    }
}

/// How old a claim of this process must be before a `running` row it is not executing is taken
/// for one it never started: far longer than the step from a claim's commit to its dispatch.
const UNSTARTED_CLAIM_AGE: chrono::Duration = chrono::Duration::seconds(30);

/// Stops the writer after it has written what it holds.
async fn flush_and_stop(
    writer: tokio::task::JoinHandle<()>,
    records: &mpsc::UnboundedSender<RunRecord>,
) {
    let _ = records.send(RunRecord {
        run_id: FLUSH_MARK,
        status: RunStatus::Interrupted,
        started_at: timestamp::now(),
        finished_at: timestamp::now(),
        http_status: None,
        exit_code: None,
        output: None,
        error: None,
    });
    if tokio::time::timeout(WRITER_FLUSH_LIMIT, writer)
        .await
        .is_err()
    {
        tracing::error!("the outcome writer did not finish in time");
    }
}

/// A record id that tells the writer to flush and stop; never a real row id (they are > 0).
const FLUSH_MARK: i64 = -1;

/// Writes outcomes in batches: one transaction for everything that arrived together.
async fn write_records(store: Store, mut rx: mpsc::UnboundedReceiver<RunRecord>) {
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
        let mut attempt = 0;
        while !batch.is_empty() {
            match store.record_outcomes(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    attempt += 1;
                    tracing::error!(error = %error_chain(&e), runs = batch.len(), attempt, "could not record run outcomes; retrying");
                    // Never dropped: the outcomes wait (in memory) until the file takes writes
                    // again, or until shutdown, where the rows are marked interrupted.
                    tokio::time::sleep(RECORD_RETRY_STEP * attempt.min(RECORD_RETRY_MAX_STEPS))
                        .await;
                }
            }
        }
        batch.clear();
        if stop {
            return;
        }
    }
}
