//! Domain types shared by the layers: what a job, a run and an API key are, independent of how
//! they are stored (`store/`) or sent (`api/`). No IO and no SQL here.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::actions::Action;
use crate::schedule::Trigger;

/// `FromStr` and `Display` for an enum stored and sent as text, from its one table of texts
/// (`ALL` and `as_str`); `$what` names it in the error for an unknown text.
macro_rules! stored_as_text {
    ($ty:ident, $what:literal) => {
        impl ::std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!(concat!("unknown ", $what, " `{}`"), s))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod alert;
mod catch_up;
mod exclusive;
mod health;
mod history;
mod retry;
mod revision;

pub use alert::{
    Alert, Delivery, MAX_ALERT_ATTEMPTS, NewAlert, reason as alert_reason,
    retry_delay as alert_retry_delay,
};
pub use catch_up::{
    Awaiting, CatchUp, CatchUpDecision, CatchUpOutcome, CatchUpSpan, CatchUpState,
    MAX_CATCH_UP_STARTS, Queued, Split, Starts, all_but_last, decision_detail, next_occurrences,
    plan_starts,
};
pub use exclusive::{
    Exclusive, ExclusivePolicy, ExclusiveSkip, Groups, Holder, MAX_GROUP_LEN, gate, valid_group,
};
pub use health::{CounterChange, Expect, FinishedRun, Health, HealthCounters, fold_outcomes};
pub use history::{HistoryLimits, MAX_KEEP_DAYS, MAX_KEEP_RUNS};
pub use retry::{MAX_ATTEMPTS, RetryPolicy};
pub use revision::{
    FieldChange, Revision, RevisionChange, definition as revision_definition,
    diff as revision_diff, trigger_json,
};

/// Per-job firing policy (DESIGN.md, *Firing semantics*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSettings {
    /// An occurrence later than this is recorded `missed` instead of run.
    pub misfire_grace_seconds: u32,
    /// Whether several occurrences caught up within grace run once.
    pub coalesce: bool,
    /// An occurrence due while this many runs are still running is recorded `skipped`.
    pub max_instances: u32,
    /// Each run starts after a random delay of up to this many seconds.
    pub jitter_seconds: u32,
    /// What happens to occurrences missed beyond the grace.
    pub catch_up: CatchUp,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            misfire_grace_seconds: 60,
            coalesce: true,
            max_instances: 1,
            jitter_seconds: 0,
            catch_up: CatchUp::Coalesce,
        }
    }
}

/// A job to create or replace.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// `[A-Za-z0-9._-]{1,128}`, checked by the API.
    pub id: String,
    /// Free text for people.
    pub name: Option<String>,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
    /// How it fires.
    pub settings: JobSettings,
    /// A paused job keeps its definition but has no next run.
    pub paused: bool,
    /// What the job is expected to do (its health rules); `None`: nothing.
    pub expect: Option<Expect>,
    /// How long its runs are kept, where it differs from the server's flags; `None`: as the
    /// server says.
    pub history: Option<HistoryLimits>,
    /// How a failed attempt is tried again (the default: it is not).
    pub retry: RetryPolicy,
    /// Its exclusive group; `None`: it runs beside anything.
    pub exclusive: Option<Exclusive>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Unique id.
    pub id: String,
    /// Free text for people.
    pub name: Option<String>,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
    /// How it fires.
    pub settings: JobSettings,
    /// Paused jobs do not fire.
    pub paused: bool,
    /// The next occurrence; `None` while paused or once the trigger is finished.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When the job was first created.
    pub created_at: DateTime<Utc>,
    /// When the job was last replaced, paused or resumed.
    pub updated_at: DateTime<Utc>,
    /// Who paused it, why and until when; `None` when it is not paused, or was created paused
    /// by its definition.
    pub pause: Option<PauseNote>,
    /// Occurrences still to be skipped on request (`POST /jobs/{id}/skip`); `None` when none.
    pub skip: Option<SkipRequest>,
    /// What the job is expected to do (its health rules); `None`: nothing.
    pub expect: Option<Expect>,
    /// How long its runs are kept, where it differs from the server's flags; `None`: as the
    /// server says.
    pub history: Option<HistoryLimits>,
    /// How a failed attempt is tried again (the default: it is not).
    pub retry: RetryPolicy,
    /// Its exclusive group; `None`: it runs beside anything.
    pub exclusive: Option<Exclusive>,
    /// The counters its health is computed from, kept by the outcome write.
    pub counters: HealthCounters,
}

/// A job whose stored row cannot be read (a bad hand edit): listed and shown as `broken`,
/// never fired, never deleted by schedlite, repaired by a valid PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenJob {
    /// Its id.
    pub id: String,
    /// What is wrong with the row, naming the column.
    pub problem: String,
}

/// A job as a listing reads it: readable, or broken. Not boxed: nearly every entry is a
/// readable job, so the size of the rare broken one costs nothing a box would save.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum JobEntry {
    /// A job whose row reads.
    Readable(Job),
    /// A job whose row does not.
    Broken(BrokenJob),
}

impl JobEntry {
    /// The job's id.
    pub fn id(&self) -> &str {
        match self {
            JobEntry::Readable(job) => &job.id,
            JobEntry::Broken(broken) => &broken.id,
        }
    }
}

/// Who paused a job, when, why and until when (DESIGN.md, *Job health, alerts, pause, skip,
/// catch-up*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseNote {
    /// The name of the API key that paused it.
    pub by: String,
    /// When it was paused.
    pub at: DateTime<Utc>,
    /// Why, in the words of whoever paused it.
    pub reason: Option<String>,
    /// When the pause ends by itself (the next run is then computed from this instant);
    /// `None`: until resumed.
    pub until: Option<DateTime<Utc>>,
}

/// The next occurrences a job skips on request: each is recorded `skipped` with the reason
/// instead of being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipRequest {
    /// How many occurrences are still to be skipped (at least 1).
    pub count: u32,
    /// Written on each skipped row.
    pub reason: Option<String>,
}

/// The state of a run row (DESIGN.md, *Firing semantics*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Claimed and executing.
    Running,
    /// The action reported success.
    Succeeded,
    /// The action reported failure (non-2xx, non-zero exit, connection error).
    Failed,
    /// The action ran past its timeout and was stopped.
    TimedOut,
    /// Later than the misfire grace: not run.
    Missed,
    /// `max_instances` runs were still running: not run.
    Skipped,
    /// The process died or shut down while it ran.
    Interrupted,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Missed,
        RunStatus::Skipped,
        RunStatus::Interrupted,
    ];

    /// The text stored in `job_runs.status` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Missed => "missed",
            RunStatus::Skipped => "skipped",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

stored_as_text!(RunStatus, "run status");

/// Where a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// An occurrence of the trigger.
    Scheduled,
    /// `POST /jobs/{id}/run`.
    Manual,
}

impl RunKind {
    /// Every kind.
    pub const ALL: [RunKind; 2] = [RunKind::Scheduled, RunKind::Manual];

    /// The text stored in `job_runs.kind` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scheduled => "scheduled",
            RunKind::Manual => "manual",
        }
    }
}

stored_as_text!(RunKind, "run kind");

/// What a change recorded in the audit log did to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `POST /jobs`, or `PUT /jobs/{id}` of a new id.
    Create,
    /// `PUT /jobs/{id}` of an existing job.
    Replace,
    /// `POST /jobs/{id}/pause`.
    Pause,
    /// `POST /jobs/{id}/resume`.
    Resume,
    /// `POST /jobs/{id}/run`.
    Run,
    /// `DELETE /jobs/{id}`.
    Delete,
    /// `POST /jobs/{id}/skip`.
    Skip,
    /// `POST /jobs/{id}/catch-up`.
    CatchUp,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 8] = [
        AuditAction::Create,
        AuditAction::Replace,
        AuditAction::Pause,
        AuditAction::Resume,
        AuditAction::Run,
        AuditAction::Delete,
        AuditAction::Skip,
        AuditAction::CatchUp,
    ];

    /// The text stored in `audit_log.action` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Replace => "replace",
            AuditAction::Pause => "pause",
            AuditAction::Resume => "resume",
            AuditAction::Run => "run",
            AuditAction::Delete => "delete",
            AuditAction::Skip => "skip",
            AuditAction::CatchUp => "catch_up",
        }
    }
}

stored_as_text!(AuditAction, "audit action");

/// One row of run history.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Row id, increasing with insertion.
    pub id: i64,
    /// The job it belongs to.
    pub job_id: String,
    /// The occurrence (the first one when `occurrences > 1`).
    pub scheduled_at: DateTime<Utc>,
    /// The last occurrence merged into this row, when it stands for several.
    pub last_scheduled_at: Option<DateTime<Utc>>,
    /// How many occurrences this row accounts for.
    pub occurrences: i64,
    /// Trigger or manual.
    pub kind: RunKind,
    /// Where it stands.
    pub status: RunStatus,
    /// When the action started, for runs that started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// finished − started in milliseconds.
    pub duration_ms: Option<i64>,
    /// The process that claimed it.
    pub owner_id: Option<String>,
    /// HTTP status of an http action.
    pub http_status: Option<i64>,
    /// Exit code of a command action.
    pub exit_code: Option<i64>,
    /// First KiB of a response body or tail of a command's output.
    pub output: Option<String>,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// Which attempt at the occurrence this row is, from 1.
    pub attempt: u32,
    /// Decided when the attempt was claimed: how long after it ends the next attempt starts
    /// if it does not succeed (backoff and jitter applied); None on the last attempt, and once
    /// its retry has been claimed.
    pub retry_delay_ms: Option<i64>,
    /// When the next attempt starts, while one is pending after this one.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `GET /auth/me`, `GET /metrics`: for probes and scrapers.
    Monitor,
    /// Every read an admin may make (every `GET`), no change: for people who look without
    /// acting.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 3] = [Role::Monitor, Role::Viewer, Role::Admin];

    /// Whether this role may read jobs, runs, previews and the audit trail (the seed's rule
    /// keeps monitors off `/jobs`).
    pub fn reads_jobs(self) -> bool {
        matches!(self, Role::Viewer | Role::Admin)
    }

    /// The text stored in `api_keys.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Monitor => "monitor",
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            "monitor" => Ok(Role::Monitor),
            other => Err(format!(
                "unknown role `{other}`: expected `admin`, `viewer` or `monitor`"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as listed: never the key itself, which is not stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    /// Row id.
    pub id: i64,
    /// Unique among live keys.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Last authenticated request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked, if it is.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A stretch of occurrences `first..=last` of one job, `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first occurrence.
    pub first: DateTime<Utc>,
    /// The last occurrence (equal to `first` when `count` is 1).
    pub last: DateTime<Utc>,
    /// How many occurrences.
    pub count: i64,
}

/// What to do with one due job: decided by the scheduler's pure misfire policy
/// (`scheduler/plan.rs`), made durable by the store's claim (`Store::claim_due`). It lives here,
/// below both, so that neither imports the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimPlan {
    /// Occurrences too late to run: one `missed` row.
    pub missed: Option<Span>,
    /// Occurrences within the grace that do not run because, with coalescing off, more were due
    /// than one claim starts separately (the catch-up cap): one `missed` row, which says so.
    pub overflow: Option<Span>,
    /// Runs to start now, each a `running` row.
    pub runs: Vec<Span>,
    /// Runs not started because `max_instances` are running: one `skipped` row each.
    pub skipped: Vec<Span>,
    /// Runs not started because a skip request asked so (`POST /jobs/{id}/skip`): one
    /// `skipped` row each, with the request's reason.
    pub skipped_on_request: Vec<Span>,
    /// The job's count of occurrences still to skip after this claim, when it changed.
    pub skips_left: Option<u32>,
    /// The job's next occurrence after those handled, or `None` when the trigger is finished.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Occurrences sent to the catch-up queue (the `all` and `ask` policies).
    pub catch_up: Option<CatchUpSpan>,
    /// Runs not started because the job's exclusive group was held: one `skipped` row each,
    /// naming the holder.
    pub exclusive_skipped: Option<ExclusiveSkip>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stored text reads back as the variant that wrote it, and nothing else parses.
    #[test]
    fn stored_texts_round_trip() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        }
        for kind in RunKind::ALL {
            assert_eq!(kind.as_str().parse::<RunKind>(), Ok(kind));
        }
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(
            "Admin".parse::<Role>(),
            Err("unknown role `Admin`: expected `admin`, `viewer` or `monitor`".to_string())
        );
        assert_eq!(
            "Running".parse::<RunStatus>(),
            Err("unknown run status `Running`".to_string())
        );
        assert_eq!(
            "cron".parse::<RunKind>(),
            Err("unknown run kind `cron`".to_string())
        );
        assert_eq!(
            "update".parse::<AuditAction>(),
            Err("unknown audit action `update`".to_string())
        );
    }
}
