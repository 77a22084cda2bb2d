//! Small builders shared by the conformance tests: instants at the store's precision, jobs, and
//! plans.

use chrono::{DateTime, Duration, Utc};
use schedlite::actions::Action;
use schedlite::model::{ClaimPlan, Job, JobEntry, JobSettings, NewJob, RetryPolicy, Span};
use schedlite::schedule::Trigger;
use schedlite::store::{ClaimedRun, Store};
use schedlite::timestamp::Timestamp;

/// Now, at the store's precision (milliseconds), so what is read back compares equal.
pub fn now() -> DateTime<Utc> {
    Timestamp::now().get()
}

/// `at` moved by `ms` milliseconds.
pub fn plus_ms(at: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    at + Duration::milliseconds(ms)
}

/// A no-op job with the given trigger and default settings.
pub fn job(id: &str, trigger: Trigger) -> NewJob {
    NewJob {
        id: id.to_string(),
        name: None,
        trigger,
        action: Action::Noop,
        settings: JobSettings::default(),
        paused: false,
        expect: None,
        history: None,
        retry: RetryPolicy::default(),
        exclusive: None,
    }
}

/// A no-op job firing every `seconds` from `start`.
pub fn every(id: &str, seconds: u64, start: DateTime<Utc>) -> NewJob {
    job(
        id,
        Trigger::interval(seconds, start, None).expect("interval"),
    )
}

/// The readable jobs of a listing, failing on a broken one.
pub fn readable(entries: Vec<JobEntry>) -> Vec<Job> {
    entries
        .into_iter()
        .map(|e| match e {
            JobEntry::Readable(job) => job,
            JobEntry::Broken(b) => panic!("broken job {b:?}"),
        })
        .collect()
}

/// One occurrence.
pub fn one(at: DateTime<Utc>) -> Span {
    Span {
        first: at,
        last: at,
        count: 1,
    }
}

/// A plan that runs the job's current occurrence and moves it on by `step`.
pub fn run_current(job: &schedlite::model::Job, step: Duration) -> ClaimPlan {
    let at = job.next_run_at.expect("a due job has a next run");
    ClaimPlan {
        runs: vec![one(at)],
        next_run_at: Some(at + step),
        ..ClaimPlan::default()
    }
}

/// The key name the tests audit their changes as.
pub const KEY: &str = "conformance-key";

/// A 64-character key hash (the store checks the length, not the value).
pub fn hash(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A manual run of the existing job `job_id` at `at`, claimed by `owner`.
pub async fn manual_run(store: &Store, job_id: &str, at: DateTime<Utc>, owner: &str) -> ClaimedRun {
    store
        .insert_manual_run(job_id, at, owner, KEY)
        .await
        .expect("run")
        .expect("job")
}
