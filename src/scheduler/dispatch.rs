//! One claimed run (an attempt at an occurrence), from its claim to its outcome: wait for its
//! instant and the job's jitter, take a concurrency permit, execute the action (a panic is an
//! outcome), count it in the metrics and hand the outcome to the writer
//! ([`outcomes`](super::outcomes)).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::in_flight::InFlight;
use super::metrics::ActionLabel;
use super::{Scheduler, SchedulerHandle};
use crate::actions::{Executor, Outcome, OutcomeStatus};
use crate::model::RunStatus;
use crate::store::{ClaimedRun, RunRecord};
use crate::timestamp;

/// What a run's task needs of its scheduler.
struct Runner {
    permits: Arc<Semaphore>,
    executor: Executor,
    records: mpsc::UnboundedSender<RunRecord>,
    in_flight: Arc<InFlight>,
    handle: SchedulerHandle,
}

impl Scheduler {
    /// Starts a claimed run in its own task. Its outcome goes to the record writer.
    pub fn dispatch(&self, run: ClaimedRun) {
        let runner = Runner {
            permits: self.permits.clone(),
            executor: self.executor.clone(),
            records: self.records.clone(),
            in_flight: self.in_flight.clone(),
            handle: self.handle.clone(),
        };
        let run_id = run.run_id;
        self.handle.metrics().runs_started.inc();
        let span = tracing::info_span!("run", job.id = %run.job_id, scheduled_at = %timestamp::format(run.scheduled_at), attempt = run.attempt, run.id = run.run_id);
        // The map entry is inserted before the task can finish, under the same lock that
        // the task takes to remove it.
        self.in_flight.started(&run.job_id);
        let mut runs = match self.in_flight.runs.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let task = tokio::spawn(runner.run(run).instrument(span));
        runs.insert(run_id, task.abort_handle());
    }
}

impl Runner {
    /// The run's task: waits for its start, executes it, hands its outcome to the writer.
    async fn run(self, run: ClaimedRun) {
        wait_for_start(&run).await;
        let _permit = self.permits.clone().acquire_owned().await;
        let started_at = timestamp::now();
        let outcome = self.execute(&run).await;
        let finished_at = timestamp::now();
        let status = match outcome.status {
            OutcomeStatus::Succeeded => RunStatus::Succeeded,
            OutcomeStatus::Failed => RunStatus::Failed,
            OutcomeStatus::TimedOut => RunStatus::TimedOut,
        };
        // An attempt that did not succeed holds its job's slot until the writer has stored its
        // outcome, and with it the pending retry that counts toward `max_instances` from then
        // on: released here, the next occurrence could start in between, beside the retry.
        if status == RunStatus::Succeeded {
            self.in_flight.finished(&run.job_id);
        }
        tracing::debug!(status = status.as_str(), "run finished");
        let record = RunRecord {
            run_id: run.run_id,
            job_id: run.job_id.clone(),
            status,
            started_at,
            finished_at,
            http_status: outcome.http_status,
            exit_code: outcome.exit_code,
            output: outcome.output,
            error: outcome.error,
            exclusive: run.exclusive,
        };
        self.observe(&run, &record);
        let _ = self.records.send(record);
        self.in_flight.recorded(run.run_id);
    }

    /// Executes the action in a task of its own, so that a panic inside it is caught and
    /// recorded as a failure instead of losing the run.
    async fn execute(&self, run: &ClaimedRun) -> Outcome {
        let executor = self.executor.clone();
        let job_id = run.job_id.clone();
        let (scheduled_at, attempt) = (run.scheduled_at, run.attempt);
        let action = run.action.clone();
        let task = tokio::spawn(async move {
            executor
                .execute(&action, &job_id, scheduled_at, attempt)
                .await
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::failed(format!("the action panicked: {e}")),
        }
    }

    /// Counts a finished run in the metrics: its status, lateness and duration.
    fn observe(&self, run: &ClaimedRun, record: &RunRecord) {
        let metrics = self.handle.metrics();
        metrics.count_runs(record.status.as_str(), 1);
        let seconds = |d: chrono::Duration| d.num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
        // Lateness is the scheduler's promptness at an occurrence: a retry's start is its own
        // instant, not the occurrence's.
        if run.attempt == 1 {
            metrics
                .lateness
                .observe(seconds(record.started_at - run.scheduled_at));
        }
        metrics
            .duration
            .get_or_create(&ActionLabel {
                action: run.action.kind(),
            })
            .observe(seconds(record.finished_at - record.started_at));
    }
}

/// Waits for the run's start: its occurrence's instant, or its retry's (it was claimed up to
/// [`LOOKAHEAD`](super::LOOKAHEAD) early), then the job's jitter. Neither holds a concurrency
/// permit: the delay is waiting, not work, and delayed runs must not queue behind each other's
/// delays.
async fn wait_for_start(run: &ClaimedRun) {
    if let Ok(early) = (run.start_at - timestamp::now()).to_std() {
        tokio::time::sleep(early).await;
    }
    if run.jitter_seconds > 0 {
        let delay_ms = rand::random_range(0..=u64::from(run.jitter_seconds) * 1000);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}
