//! A job as it is sent on the wire, built from the domain [`Job`] by an explicit conversion.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body::{ActionSchema, TriggerBody};
use crate::actions::Action;
use crate::api::runs::RunResponse;
use chrono::{DateTime, Utc};

use super::health::JobHealth;
use super::retry::RetryResponse;
use crate::model::{
    Awaiting, BrokenJob, Expect, Health, HistoryLimits, Job, JobEntry, PauseNote, Run, SkipRequest,
};
use crate::schedule::TriggerKind;
use crate::timestamp::Timestamp;

/// One job as sent on the wire; the first four fields are the seed story's `JobInfo`.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct JobResponse {
    id: String,
    next_run_time: Option<Timestamp>,
    trigger_type: TriggerType,
    trigger_details: String,
    name: Option<String>,
    #[schema(value_type = TriggerBody)]
    trigger: Value,
    #[schema(value_type = ActionSchema)]
    action: Action,
    paused: bool,
    misfire_grace_seconds: u32,
    coalesce: bool,
    /// What happens to occurrences missed beyond the grace (README, *Missed occurrences and
    /// catch-up*).
    #[schema(value_type = String, pattern = "^(coalesce|all|none|ask)$")]
    catch_up: &'static str,
    /// Occurrences missed beyond the grace that wait for `POST /jobs/{job_id}/catch-up`;
    /// null when none.
    awaiting_approval: Option<AwaitingResponse>,
    max_instances: u32,
    jitter_seconds: u32,
    /// Its exclusive group: at most one run of the group at a time; null: none.
    exclusive_group: Option<String>,
    /// What an occurrence due while its group is held does (`skip` or `wait`); null when the
    /// job has no group.
    #[schema(value_type = Option<String>, pattern = "^(skip|wait)$")]
    exclusive_policy: Option<&'static str>,
    created_at: Timestamp,
    updated_at: Timestamp,
    last_run: Option<RunResponse>,
    /// Its retry policy (DESIGN.md, *Retries*); one attempt unless it says otherwise.
    retry: RetryResponse,
    /// When its next pending retry starts; null when none is pending.
    next_retry_at: Option<Timestamp>,
    /// Who paused the job, why and until when; null when it is not paused, or was created
    /// paused by its definition.
    pause: Option<PauseResponse>,
    /// Occurrences still to be skipped on request; null when none.
    skip: Option<SkipResponse>,
    /// What the job is expected to do; null when nothing.
    expect: Option<ExpectResponse>,
    /// Its own history limits; null when it keeps its runs as the server says.
    history: Option<HistoryResponse>,
    /// The job's health now (DESIGN.md, *Job health*; README, *Job health*).
    health: JobHealth,
    /// When its newest successful run finished; null: never.
    last_success_at: Option<Timestamp>,
    /// Runs failed or timed out since the last success.
    consecutive_failures: u32,
}

/// What of a job awaits a catch-up decision, over all its waiting stretches.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct AwaitingResponse {
    /// The first occurrence waiting.
    first: Timestamp,
    /// The last occurrence waiting.
    last: Timestamp,
    /// How many occurrences wait.
    occurrences: i64,
    /// Since when (the first stretch was recorded).
    since: Timestamp,
}

impl From<Awaiting> for AwaitingResponse {
    fn from(a: Awaiting) -> AwaitingResponse {
        AwaitingResponse {
            first: a.first.into(),
            last: a.last.into(),
            occurrences: a.occurrences,
            since: a.since.into(),
        }
    }
}

/// What a job is expected to do, as stored; an absent rule is null.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct ExpectResponse {
    /// `late` after this long without a success.
    success_within_seconds: Option<u32>,
    /// `failing` after this many failures in a row.
    max_consecutive_failures: Option<u32>,
    /// `stuck` while a run runs longer than this.
    max_run_seconds: Option<u32>,
    /// Where its alerts are POSTed; null: the server's `--alert-webhook`, if any.
    alert_webhook: Option<String>,
}

/// A job's own history limits, as stored; a field it leaves to the server is null.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct HistoryResponse {
    /// Days its `succeeded`, `skipped` and `missed` runs are kept.
    keep_days: Option<u32>,
    /// Days its `failed`, `timed_out` and `interrupted` runs are kept.
    keep_failed_days: Option<u32>,
    /// Most runs it keeps.
    keep_runs: Option<u32>,
}

impl From<HistoryLimits> for HistoryResponse {
    fn from(h: HistoryLimits) -> HistoryResponse {
        HistoryResponse {
            keep_days: h.keep_days,
            keep_failed_days: h.keep_failed_days,
            keep_runs: h.keep_runs,
        }
    }
}

impl From<Expect> for ExpectResponse {
    fn from(e: Expect) -> ExpectResponse {
        ExpectResponse {
            success_within_seconds: e.success_within_seconds,
            max_consecutive_failures: e.max_consecutive_failures,
            max_run_seconds: e.max_run_seconds,
            alert_webhook: e.alert_webhook,
        }
    }
}

/// What has been seen of a job's runs, beside its definition: its newest run and its next
/// pending retry.
#[derive(Debug, Default)]
pub(in crate::api) struct Seen {
    /// Its newest run.
    pub last_run: Option<Run>,
    /// When its earliest pending retry starts.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// What awaits a catch-up decision (read only for `catch_up: "ask"` jobs).
    pub awaiting: Option<Awaiting>,
}

/// A job whose stored row cannot be read (a bad hand edit): never fired, never deleted by
/// schedlite; a valid `PUT /jobs/{job_id}` repairs it.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct BrokenJobResponse {
    id: String,
    /// Always `broken`.
    #[schema(inline)]
    health: BrokenHealth,
    /// What is wrong with the row, naming the column.
    problem: String,
}

/// The health of a job that cannot be read.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum BrokenHealth {
    /// Its stored definition cannot be read.
    Broken,
}

/// A job as listed and read: its definition and state, or, when its row cannot be read, what
/// is wrong with it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(in crate::api) enum ListedJob {
    /// A readable job.
    Job(Box<JobResponse>),
    /// A broken one.
    Broken(BrokenJobResponse),
}

impl ListedJob {
    /// Its health.
    pub(super) fn health(&self) -> JobHealth {
        match self {
            ListedJob::Job(job) => job.health,
            ListedJob::Broken(_) => JobHealth::Broken,
        }
    }

    /// The wire shape of `entry` with what was seen of its runs, its health taken at `now`.
    pub(super) fn new(entry: JobEntry, seen: Seen, now: DateTime<Utc>) -> ListedJob {
        match entry {
            JobEntry::Readable(job) => ListedJob::Job(Box::new(JobResponse::new(job, seen, now))),
            JobEntry::Broken(BrokenJob { id, problem }) => ListedJob::Broken(BrokenJobResponse {
                id,
                health: BrokenHealth::Broken,
                problem,
            }),
        }
    }
}

/// Who paused a job, when, why and until when.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct PauseResponse {
    /// The name of the API key that paused it.
    by: String,
    /// When.
    at: Timestamp,
    /// Why, as given.
    reason: Option<String>,
    /// When the pause ends by itself; null: until resumed.
    until: Option<Timestamp>,
}

impl From<PauseNote> for PauseResponse {
    fn from(note: PauseNote) -> PauseResponse {
        PauseResponse {
            by: note.by,
            at: note.at.into(),
            reason: note.reason,
            until: note.until.map(Timestamp::new),
        }
    }
}

/// The next occurrences a job skips on request.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct SkipResponse {
    /// How many occurrences are still to be skipped.
    count: u32,
    /// Written on each skipped run.
    reason: Option<String>,
}

impl From<SkipRequest> for SkipResponse {
    fn from(skip: SkipRequest) -> SkipResponse {
        SkipResponse {
            count: skip.count,
            reason: skip.reason,
        }
    }
}

impl JobResponse {
    /// The wire shape of `job` with what was seen of its runs, its health taken at `now`.
    pub(super) fn new(job: Job, seen: Seen, now: DateTime<Utc>) -> JobResponse {
        let Seen {
            last_run,
            next_retry_at,
            awaiting,
        } = seen;
        let health = Health::of(&job, last_run.as_ref(), now);
        JobResponse {
            retry: job.retry.into(),
            next_retry_at: next_retry_at.map(Timestamp::new),
            health: health.into(),
            expect: job.expect.map(ExpectResponse::from),
            history: job.history.map(HistoryResponse::from),
            last_success_at: job.counters.last_success_at.map(Timestamp::new),
            consecutive_failures: job.counters.consecutive_failures,
            next_run_time: job.next_run_at.map(Timestamp::new),
            trigger_type: TriggerType::from(job.trigger.kind()),
            trigger_details: job.trigger.details(),
            trigger: crate::model::trigger_json(&job.trigger),
            name: job.name,
            // Header values are write-only.
            action: job.action.redacted(),
            paused: job.paused,
            misfire_grace_seconds: job.settings.misfire_grace_seconds,
            coalesce: job.settings.coalesce,
            catch_up: job.settings.catch_up.as_str(),
            awaiting_approval: awaiting.map(AwaitingResponse::from),
            max_instances: job.settings.max_instances,
            jitter_seconds: job.settings.jitter_seconds,
            exclusive_policy: job.exclusive.as_ref().map(|e| e.policy.as_str()),
            exclusive_group: job.exclusive.map(|e| e.group),
            created_at: job.created_at.into(),
            updated_at: job.updated_at.into(),
            last_run: last_run.map(RunResponse::from),
            pause: job.pause.map(PauseResponse::from),
            skip: job.skip.map(SkipResponse::from),
            id: job.id,
        }
    }
}

/// A trigger's kind on the wire: in job responses and the `trigger_type` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum TriggerType {
    /// Fires once.
    Date,
    /// Fires every N seconds.
    Interval,
    /// Fires at wall-clock times in a timezone.
    Cron,
}

impl From<TriggerKind> for TriggerType {
    fn from(kind: TriggerKind) -> TriggerType {
        match kind {
            TriggerKind::Date => TriggerType::Date,
            TriggerKind::Interval => TriggerType::Interval,
            TriggerKind::Cron => TriggerType::Cron,
        }
    }
}

impl From<TriggerType> for TriggerKind {
    fn from(kind: TriggerType) -> TriggerKind {
        match kind {
            TriggerType::Date => TriggerKind::Date,
            TriggerType::Interval => TriggerKind::Interval,
            TriggerType::Cron => TriggerKind::Cron,
        }
    }
}
