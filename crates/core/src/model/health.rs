//! A job's health (DESIGN.md, *Job health, alerts, pause, skip, catch-up*): what the job is
//! expected to do ([`Expect`]), the counters the outcome write keeps on the job's row
//! ([`HealthCounters`], folded from a batch of outcomes by [`fold_outcomes`]), and the health
//! computed from the row, its newest run and the clock ([`Health::of`]). Pure: no IO, no
//! clock reads (the caller passes `now`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Job, Run, RunStatus};

/// What a job is expected to do; each field is optional, and a job with none expects nothing
/// (its health is then only `ok`, `paused`, `finished` or `broken`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A dead-man's switch: `late` when no run succeeded for this long (counted from the last
    /// success, or from the job's last change when that is later: its creation, replacement,
    /// resume or skip request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_within_seconds: Option<u32>,
    /// `failing` once this many runs in a row failed or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_failures: Option<u32>,
    /// `stuck` while a run has been running longer than this (alerted, never killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_seconds: Option<u32>,
    /// Where this job's alerts are POSTed (an http or https URL), instead of the server's
    /// `--alert-webhook`. Kept with the expectations: it says who is told when they are not met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
}

/// What a job that expects nothing expects.
const NOTHING: Expect = Expect {
    success_within_seconds: None,
    max_consecutive_failures: None,
    max_run_seconds: None,
    alert_webhook: None,
};

impl Expect {
    /// `None` when no field is set: a job that expects nothing stores NULL.
    pub fn some(self) -> Option<Expect> {
        (self != Expect::default()).then_some(self)
    }
}

/// The counters the outcome write keeps on a job's row, so that health needs no history scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounters {
    /// When the newest successful run finished; `None`: never.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Runs that failed or timed out since the last success (0 right after one). `interrupted`
    /// runs do not count: the process running them died, the job did not fail.
    pub consecutive_failures: u32,
}

/// A job's health. Exactly one applies; when several could, the first of this precedence
/// wins: `broken` > `paused` > `stuck` > `failing` > `finished` > `late` > `ok`. Why this order:
/// a job that cannot be read or is paused on purpose says nothing about its runs; a run
/// running too long is the most urgent thing to look at, even for a job whose trigger is done;
/// a failure streak outranks the trigger being done (someone should look at why its last runs
/// failed); a finished job no longer expects a success, so it is never `late`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Nothing to report.
    Ok,
    /// No success within `expect.success_within_seconds`.
    Late,
    /// `expect.max_consecutive_failures` runs in a row failed or timed out.
    Failing,
    /// A run has been running longer than `expect.max_run_seconds`.
    Stuck,
    /// Paused: does not fire.
    Paused,
    /// Its trigger will not fire again.
    Finished,
    /// Its stored definition cannot be read: never fired, never deleted, repaired by a valid
    /// PUT.
    Broken,
}

impl Health {
    /// Every health, in the order the API documents them.
    pub const ALL: [Health; 7] = [
        Health::Ok,
        Health::Late,
        Health::Failing,
        Health::Stuck,
        Health::Paused,
        Health::Finished,
        Health::Broken,
    ];

    /// The text sent on the wire and used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Late => "late",
            Health::Failing => "failing",
            Health::Stuck => "stuck",
            Health::Paused => "paused",
            Health::Finished => "finished",
            Health::Broken => "broken",
        }
    }

    /// The health of a readable job at `now`, from its row and its newest run (by
    /// `scheduled_at`). `stuck` looks at the newest run only: with `max_instances` above 1 an
    /// older run still running is not seen (the list reads one run per job).
    pub fn of(job: &Job, newest_run: Option<&Run>, now: DateTime<Utc>) -> Health {
        let expect = job.expect.as_ref().unwrap_or(&NOTHING);
        if job.paused {
            return Health::Paused;
        }
        if let (Some(max), Some(run)) = (expect.max_run_seconds, newest_run)
            && run.status == RunStatus::Running
        {
            let began = run
                .started_at
                .map_or(run.scheduled_at, |s| s.max(run.scheduled_at));
            if now - began > chrono::Duration::seconds(i64::from(max)) {
                return Health::Stuck;
            }
        }
        if let Some(max) = expect.max_consecutive_failures
            && job.counters.consecutive_failures >= max
        {
            return Health::Failing;
        }
        if job.next_run_at.is_none() {
            return Health::Finished;
        }
        if let Some(within) = expect.success_within_seconds {
            let since = job
                .counters
                .last_success_at
                .map_or(job.updated_at, |s| s.max(job.updated_at));
            if now - since > chrono::Duration::seconds(i64::from(within)) {
                return Health::Late;
            }
        }
        Health::Ok
    }
}

stored_as_text!(Health, "health");

/// One finished run as the outcome write sees it: its job, status and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRun {
    /// The run's job.
    pub job_id: String,
    /// `succeeded`, `failed`, `timed_out` or `interrupted`.
    pub status: RunStatus,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

/// What a batch of outcomes does to one job's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterChange {
    /// The job.
    pub job_id: String,
    /// The newest success of the batch: when set, the stored `consecutive_failures` is
    /// replaced by `failures`, and `last_success_at` moves to this if it is later.
    pub success_at: Option<DateTime<Utc>>,
    /// Failures after `success_at` (or in the whole batch when it is `None`, to be added to
    /// the stored count).
    pub failures: u32,
}

/// The counter changes of a batch of outcomes, one per job, in job id order. Outcomes are
/// taken in the order they finished; `interrupted` runs and other statuses change nothing.
pub fn fold_outcomes(outcomes: &[FinishedRun]) -> Vec<CounterChange> {
    let mut sorted: Vec<&FinishedRun> = outcomes.iter().collect();
    sorted.sort_by_key(|o| o.finished_at);
    let mut by_job: HashMap<&str, CounterChange> = HashMap::new();
    for o in sorted {
        let counts = matches!(
            o.status,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::TimedOut
        );
        if !counts {
            continue;
        }
        let change = by_job.entry(&o.job_id).or_insert_with(|| CounterChange {
            job_id: o.job_id.clone(),
            success_at: None,
            failures: 0,
        });
        if o.status == RunStatus::Succeeded {
            change.success_at = Some(o.finished_at);
            change.failures = 0;
        } else {
            change.failures = change.failures.saturating_add(1);
        }
    }
    let mut changes: Vec<CounterChange> = by_job.into_values().collect();
    changes.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Action;
    use crate::model::{JobSettings, RunKind};
    use crate::schedule::Trigger;

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + i64::from(s), 0).unwrap()
    }

    fn job(expect: Expect) -> Job {
        Job {
            id: "j".into(),
            name: None,
            trigger: Trigger::interval(60, at(0), None).unwrap(),
            action: Action::Noop,
            settings: JobSettings::default(),
            paused: false,
            next_run_at: Some(at(60)),
            created_at: at(0),
            updated_at: at(0),
            pause: None,
            skip: None,
            expect: expect.some(),
            history: None,
            retry: Default::default(),
            exclusive: None,
            counters: HealthCounters::default(),
        }
    }

    fn running(started: u32) -> Run {
        Run {
            id: 1,
            job_id: "j".into(),
            scheduled_at: at(started),
            last_scheduled_at: None,
            occurrences: 1,
            attempt: 1,
            retry_delay_ms: None,
            retry_at: None,
            kind: RunKind::Scheduled,
            status: RunStatus::Running,
            started_at: Some(at(started)),
            finished_at: None,
            duration_ms: None,
            owner_id: None,
            http_status: None,
            exit_code: None,
            output: None,
            error: None,
        }
    }

    const ALL_SET: Expect = Expect {
        success_within_seconds: Some(100),
        max_consecutive_failures: Some(2),
        max_run_seconds: Some(10),
        alert_webhook: None,
    };

    #[test]
    fn each_health_and_its_precedence() {
        let mut j = job(ALL_SET);
        assert_eq!(
            Health::of(&j, None, at(100)),
            Health::Ok,
            "within the window"
        );
        assert_eq!(Health::of(&j, None, at(101)), Health::Late, "past it");
        j.counters.last_success_at = Some(at(50));
        assert_eq!(
            Health::of(&j, None, at(150)),
            Health::Ok,
            "from the success"
        );
        assert_eq!(Health::of(&j, None, at(151)), Health::Late);
        j.next_run_at = None;
        assert_eq!(Health::of(&j, None, at(151)), Health::Finished, "> late");
        j.counters.consecutive_failures = 2;
        assert_eq!(Health::of(&j, None, at(151)), Health::Failing, "> finished");
        let run = running(140);
        assert_eq!(Health::of(&j, Some(&run), at(150)), Health::Failing, "10 s");
        assert_eq!(
            Health::of(&j, Some(&run), at(151)),
            Health::Stuck,
            "> failing"
        );
        j.paused = true;
        assert_eq!(
            Health::of(&j, Some(&run), at(151)),
            Health::Paused,
            "> stuck"
        );
    }

    #[test]
    fn a_job_that_expects_nothing_is_ok_whatever_its_runs() {
        let mut j = job(Expect::default());
        assert_eq!(j.expect, None);
        j.counters.consecutive_failures = 1000;
        assert_eq!(Health::of(&j, Some(&running(0)), at(1_000_000)), Health::Ok);
    }

    #[test]
    fn late_counts_from_the_last_change_when_it_is_later_than_the_success() {
        let mut j = job(ALL_SET);
        j.counters.last_success_at = Some(at(10));
        j.updated_at = at(500);
        assert_eq!(Health::of(&j, None, at(600)), Health::Ok);
        assert_eq!(Health::of(&j, None, at(601)), Health::Late);
    }

    #[test]
    fn outcomes_fold_in_the_order_they_finished() {
        let o = |job: &str, status, s| FinishedRun {
            job_id: job.into(),
            status,
            finished_at: at(s),
        };
        let changes = fold_outcomes(&[
            o("b", RunStatus::Failed, 3),
            o("a", RunStatus::Failed, 1),
            o("a", RunStatus::TimedOut, 5),
            o("a", RunStatus::Succeeded, 4),
            o("a", RunStatus::Interrupted, 6),
            o("b", RunStatus::Failed, 2),
            o("c", RunStatus::Interrupted, 2),
        ]);
        assert_eq!(
            changes,
            vec![
                CounterChange {
                    job_id: "a".into(),
                    success_at: Some(at(4)),
                    failures: 1
                },
                CounterChange {
                    job_id: "b".into(),
                    success_at: None,
                    failures: 2
                },
            ]
        );
    }

    #[test]
    fn health_texts_round_trip() {
        for h in Health::ALL {
            assert_eq!(h.as_str().parse::<Health>(), Ok(h));
        }
        assert_eq!(
            "sick".parse::<Health>(),
            Err("unknown health `sick`".to_string())
        );
    }
}
