//! Claims, manual runs and outcomes: each occurrence handed out at most once, the plan's
//! decisions written with their counts, outcomes recorded once.

use std::collections::BTreeSet;

use chrono::Duration;
use schedlite::model::{AuditAction, ClaimPlan, RunKind, RunStatus, Span};
use schedlite::store::RunRecord;

use crate::engines::Db;
use crate::support::{KEY, every, manual_run, now, one, plus_ms, run_current};

crate::conformance!(
    a_claim_starts_due_runs_and_advances_the_job,
    nothing_due_claims_nothing,
    an_occurrence_that_has_a_row_is_never_claimed_again,
    concurrent_claims_from_several_handles_never_share_an_occurrence,
    missed_and_skipped_rows_carry_their_counts_and_spans,
    the_plan_sees_running_runs_of_other_owners_only,
    manual_runs_take_a_free_instant_and_are_audited,
    outcomes_are_written_once_and_beat_an_interruption,
);

async fn a_claim_starts_due_runs_and_advances_the_job(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("a", 1, t), Some(t), t, KEY)
        .await
        .expect("insert");
    db.store
        .insert_job(&every("later", 1, t), Some(plus_ms(t, 60_000)), t, KEY)
        .await
        .expect("insert");
    let report = db
        .store
        .claim_due(plus_ms(t, 5), "me", 10, |job, busy| {
            assert_eq!((job.id.as_str(), busy.elsewhere), ("a", 0));
            run_current(job, Duration::seconds(1))
        })
        .await
        .expect("claim");
    assert_eq!(report.jobs, 1);
    assert_eq!(report.runs.len(), 1);
    let claimed = &report.runs[0];
    assert_eq!((claimed.job_id.as_str(), claimed.scheduled_at), ("a", t));
    let run = db
        .store
        .get_run(claimed.run_id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.kind, RunKind::Scheduled);
    assert_eq!(run.owner_id.as_deref(), Some("me"));
    assert_eq!(run.started_at, Some(plus_ms(t, 5)));
    let job = db.store.get_job("a").await.expect("get").expect("job");
    assert_eq!(job.next_run_at, Some(plus_ms(t, 1000)));
    let (_, last, _) = db
        .store
        .get_job_with_last_run("a")
        .await
        .expect("get")
        .expect("job");
    assert_eq!(last.map(|r| r.id), Some(claimed.run_id));
}

async fn nothing_due_claims_nothing(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("a", 1, t), Some(plus_ms(t, 100)), t, KEY)
        .await
        .expect("insert");
    let report = db
        .store
        .claim_due(t, "me", 10, |_, _| panic!("nothing is due"))
        .await
        .expect("claim");
    assert_eq!((report.jobs, report.runs.len()), (0, 0));
    // The horizon reaches ahead of now; the rows are stamped with now.
    let report = db
        .store
        .claim_due_until(t, plus_ms(t, 100), "me", 10, |job, _| {
            run_current(job, Duration::seconds(1))
        })
        .await
        .expect("claim ahead");
    assert_eq!(report.runs.len(), 1);
    let run = db
        .store
        .get_run(report.runs[0].run_id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (run.scheduled_at, run.started_at),
        (plus_ms(t, 100), Some(t))
    );
}

/// A plan that leaves `next_run_at` where it was makes the job due again at once: the second
/// claim finds the occurrence's row and hands out nothing.
async fn an_occurrence_that_has_a_row_is_never_claimed_again(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("a", 1, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let stay = |job: &schedlite::model::Job, _: schedlite::store::Busy<'_>| ClaimPlan {
        runs: vec![one(t)],
        next_run_at: job.next_run_at,
        ..ClaimPlan::default()
    };
    let first = db.store.claim_due(t, "me", 10, stay).await.expect("claim");
    assert_eq!(first.runs.len(), 1);
    let second = db
        .store
        .claim_due(t, "other", 10, stay)
        .await
        .expect("claim");
    assert_eq!(second.jobs, 1);
    assert!(second.runs.is_empty(), "{:?}", second.runs);
    assert_eq!(
        db.store.list_runs("a", None, 10).await.expect("runs").len(),
        1
    );
}

/// Four handles on one database (as four processes would have) claim 30 jobs × 20 overdue
/// occurrences in small batches at once: every occurrence is handed out exactly once, and
/// the rows match the reports.
async fn concurrent_claims_from_several_handles_never_share_an_occurrence(db: Db) {
    const JOBS: usize = 30;
    const OCCURRENCES: i64 = 20;
    let t = now();
    let start = t - Duration::seconds(OCCURRENCES);
    for i in 0..JOBS {
        let new = every(&format!("j{i}"), 1, start);
        db.store
            .insert_job(&new, Some(start), t, KEY)
            .await
            .expect("insert");
    }
    let mut tasks = Vec::new();
    for owner in 0..4 {
        let store = db.another_handle().await;
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let plan = |job: &schedlite::model::Job, _: schedlite::store::Busy<'_>| {
                    let at = job.next_run_at.expect("due");
                    let next = at + Duration::seconds(1);
                    ClaimPlan {
                        runs: vec![one(at)],
                        next_run_at: (next < t).then_some(next),
                        ..ClaimPlan::default()
                    }
                };
                let report = match store.claim_due(t, &format!("o{owner}"), 7, plan).await {
                    Ok(report) => report,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("claim: {e}"),
                };
                if report.jobs == 0 {
                    break;
                }
                claimed.extend(report.runs.into_iter().map(|r| (r.job_id, r.scheduled_at)));
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("claimer"));
    }
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "an occurrence was handed out twice"
    );
    assert_eq!(all.len(), JOBS * OCCURRENCES as usize);
    let mut rows = 0;
    for i in 0..JOBS {
        let runs = db
            .store
            .list_runs(&format!("j{i}"), None, 100)
            .await
            .expect("runs");
        rows += runs.len();
        assert!(runs.iter().all(|r| r.status == RunStatus::Running));
    }
    assert_eq!(rows, all.len());
}

/// Each closed span of a plan is one row with its count, its span and its reason: late
/// occurrences, the overflow of the catch-up cap (`missed` too, saying why), skipped ones.
async fn missed_and_skipped_rows_carry_their_counts_and_spans(db: Db) {
    let t = now();
    let start = t - Duration::seconds(10);
    db.store
        .insert_job(&every("m", 1, start), Some(start), t, KEY)
        .await
        .expect("insert");
    let missed = Span {
        first: start,
        last: plus_ms(start, 4000),
        count: 5,
    };
    let overflow = Span {
        first: plus_ms(start, 5000),
        last: plus_ms(start, 6000),
        count: 2,
    };
    let skipped = one(plus_ms(start, 7000));
    let runs = Span {
        first: plus_ms(start, 8000),
        last: plus_ms(start, 9000),
        count: 2,
    };
    let report = db
        .store
        .claim_due(t, "me", 10, |_, _| ClaimPlan {
            missed: Some(missed),
            overflow: Some(overflow),
            runs: vec![runs],
            skipped: vec![skipped],
            next_run_at: None,
            ..ClaimPlan::default()
        })
        .await
        .expect("claim");
    assert_eq!(
        (report.missed, report.skipped, report.runs.len()),
        (7, 1, 1)
    );
    let mut rows = db.store.list_runs("m", None, 10).await.expect("runs");
    rows.sort_by_key(|r| r.scheduled_at);
    let seen: Vec<_> = rows
        .iter()
        .map(|r| {
            let span = (r.scheduled_at, r.last_scheduled_at, r.occurrences);
            (
                r.status,
                span,
                r.started_at,
                r.finished_at,
                r.error.as_deref(),
            )
        })
        .collect();
    let expected = vec![
        (
            RunStatus::Missed,
            (start, Some(missed.last), 5),
            None,
            Some(t),
            Some("5 occurrences later than the misfire grace"),
        ),
        (
            RunStatus::Missed,
            (overflow.first, Some(overflow.last), 2),
            None,
            Some(t),
            Some(
                "2 occurrences over the catch-up cap: at most 100 separate runs per claim \
                 with coalesce off",
            ),
        ),
        (
            RunStatus::Skipped,
            (skipped.first, None, 1),
            None,
            Some(t),
            Some("max_instances runs were still running"),
        ),
        (
            RunStatus::Running,
            (runs.first, Some(runs.last), 2),
            Some(t),
            None,
            None,
        ),
    ];
    assert_eq!(seen, expected);
    let job = db.store.get_job("m").await.expect("get").expect("job");
    assert_eq!(job.next_run_at, None, "a finished trigger has no next run");
}

/// `max_instances` is counted across processes: the plan is told how many runs of the job
/// OTHER owners have running (the caller knows its own).
async fn the_plan_sees_running_runs_of_other_owners_only(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("x", 1, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let first = db
        .store
        .claim_due(t, "a", 10, |job, _| run_current(job, Duration::zero()))
        .await
        .expect("claim");
    assert_eq!(first.runs.len(), 1);
    // The plan moved nothing on, so the job is still due; its occurrence is taken, so a plan
    // naming the next instant is what each caller below writes.
    let seen = |owner: &'static str| {
        let store = db.store.clone();
        async move {
            let mut count = None;
            store
                .claim_due(t, owner, 10, |job, busy| {
                    count = Some(busy.elsewhere);
                    ClaimPlan {
                        next_run_at: job.next_run_at,
                        ..ClaimPlan::default()
                    }
                })
                .await
                .expect("claim");
            count.expect("the job was due")
        }
    };
    assert_eq!(seen("b").await, 1);
    assert_eq!(seen("a").await, 0);
}

async fn manual_runs_take_a_free_instant_and_are_audited(db: Db) {
    let t = now();
    let unknown = db
        .store
        .insert_manual_run("nope", t, "me", KEY)
        .await
        .expect("manual");
    assert_eq!(unknown, None);
    // An interval trigger firing at t: a manual run at t would take its occurrence.
    db.store
        .insert_job(&every("m", 60, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let a = db
        .store
        .insert_manual_run("m", t, "me", KEY)
        .await
        .expect("manual")
        .expect("job");
    let b = db
        .store
        .insert_manual_run("m", t, "me", KEY)
        .await
        .expect("manual")
        .expect("job");
    assert_eq!(
        a.scheduled_at,
        plus_ms(t, 1),
        "the trigger's own instant is skipped"
    );
    assert_eq!(b.scheduled_at, plus_ms(t, 2), "a taken instant is skipped");
    let row = db.store.get_run(a.run_id).await.expect("get").expect("row");
    assert_eq!(
        (row.kind, row.status),
        (RunKind::Manual, RunStatus::Running)
    );
    assert_eq!(row.owner_id.as_deref(), Some("me"));
    let audit = db
        .store
        .list_audit(Some("m"), None, 10)
        .await
        .expect("audit");
    let runs: Vec<_> = audit
        .iter()
        .filter(|e| e.action == AuditAction::Run)
        .collect();
    assert_eq!(runs.len(), 2);
    let detail: serde_json::Value =
        serde_json::from_str(runs[0].detail.as_deref().expect("detail")).expect("json");
    assert_eq!(detail, serde_json::json!({"run_id": b.run_id}));
}

async fn outcomes_are_written_once_and_beat_an_interruption(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("o", 60, plus_ms(t, 1)), None, t, KEY)
        .await
        .expect("insert");
    let a = manual_run(&db.store, "o", t, "me").await;
    let b = manual_run(&db.store, "o", t, "me").await;
    db.store
        .interrupt_runs_of(Some("me"), t, "presumed dead")
        .await
        .expect("interrupt");
    let done = plus_ms(t, 250);
    let record = |run_id, status| RunRecord {
        run_id,
        job_id: "o".into(),
        status,
        started_at: plus_ms(t, 50),
        finished_at: done,
        http_status: Some(204),
        exit_code: None,
        output: Some("ok".into()),
        error: None,
        exclusive: false,
    };
    db.store
        .record_outcomes(&[
            record(a.run_id, RunStatus::Succeeded),
            record(b.run_id, RunStatus::Failed),
        ])
        .await
        .expect("record");
    let row = db.store.get_run(a.run_id).await.expect("get").expect("row");
    assert_eq!(
        row.status,
        RunStatus::Succeeded,
        "the real outcome beats `interrupted`"
    );
    assert_eq!(
        (row.started_at, row.finished_at),
        (Some(plus_ms(t, 50)), Some(done))
    );
    assert_eq!((row.duration_ms, row.http_status), (Some(200), Some(204)));
    assert_eq!(row.output.as_deref(), Some("ok"));
    // A finished row is never overwritten.
    db.store
        .record_outcomes(&[record(a.run_id, RunStatus::Failed)])
        .await
        .expect("record again");
    let row = db.store.get_run(a.run_id).await.expect("get").expect("row");
    assert_eq!(row.status, RunStatus::Succeeded);
    let b_row = db.store.get_run(b.run_id).await.expect("get").expect("row");
    assert_eq!(b_row.status, RunStatus::Failed);
    db.store
        .record_outcomes(&[])
        .await
        .expect("nothing to record");
}
