//! Bulk seeding (`Store::seed_noop_jobs`, used by the benchmark): the seeded rows read back as
//! the jobs the API would have created, ids and instants as documented, all or nothing.

use chrono::Duration;
use schedlite::actions::Action;
use schedlite::model::JobSettings;
use schedlite::model::{RunKind, RunStatus};
use schedlite::schedule::Trigger;
use schedlite::store::{SeedHistory, SeedTrigger};

use crate::engines::Db;
use crate::support::{now, plus_ms};

crate::conformance!(
    seeded_jobs_read_back_as_noop_jobs_with_their_instants,
    a_seeding_that_meets_an_existing_id_inserts_nothing,
    seeded_history_reads_back_run_by_run,
);

/// Date jobs all at one instant; interval jobs spread `step_ms` apart from `first`.
async fn seeded_jobs_read_back_as_noop_jobs_with_their_instants(db: Db) {
    let t = now();
    let at = t + Duration::hours(1);
    db.store
        .seed_noop_jobs("d", 3, SeedTrigger::Date { at }, t)
        .await
        .expect("seed date jobs");
    let first = t + Duration::days(1);
    let trigger = SeedTrigger::Interval {
        every_seconds: 60,
        first,
        step_ms: 1500.0,
    };
    db.store
        .seed_noop_jobs("i", 4, trigger, t)
        .await
        .expect("seed interval jobs");
    assert_eq!(db.store.count_jobs().await.expect("count"), 7);
    for i in 0..3 {
        let job = db
            .store
            .get_job(&format!("d{i:07}"))
            .await
            .expect("get")
            .expect("seeded");
        assert_eq!(job.trigger, Trigger::Date { run_at: at });
        assert_eq!(job.next_run_at, Some(at));
        assert_eq!(job.action, Action::Noop);
        assert_eq!(job.settings, JobSettings::default());
        assert_eq!((job.created_at, job.updated_at, job.paused), (t, t, false));
    }
    for i in 0..4 {
        let job = db
            .store
            .get_job(&format!("i{i:07}"))
            .await
            .expect("get")
            .expect("seeded");
        let start = plus_ms(first, 1500 * i);
        assert_eq!(
            job.trigger,
            Trigger::interval(60, start, None).expect("interval")
        );
        assert_eq!(job.next_run_at, Some(start));
    }
    assert!(db.store.get_job("d0000003").await.expect("get").is_none());
}

/// One clashing id fails the whole call: none of the other ids of that call appear.
async fn a_seeding_that_meets_an_existing_id_inserts_nothing(db: Db) {
    let t = now();
    let at = SeedTrigger::Date {
        at: t + Duration::hours(1),
    };
    db.store
        .seed_noop_jobs("x", 2, at, t)
        .await
        .expect("first seeding");
    let again = db.store.seed_noop_jobs("x", 5, at, t).await;
    assert!(again.is_err(), "{again:?}");
    assert_eq!(db.store.count_jobs().await.expect("count"), 2);
    assert!(db.store.get_job("x0000004").await.expect("get").is_none());
}

/// A seeded run as the test compares it: job, offset from the first instant in ms, status,
/// duration, owner.
type Seen = (String, i64, RunStatus, Option<i64>, Option<String>);

/// `seed_history`: `per_job` runs of each job, `step_ms` apart, finished at their instant;
/// `running` rows carry their owner and no finish.
async fn seeded_history_reads_back_run_by_run(db: Db) {
    let t = now();
    let at = SeedTrigger::Date {
        at: t + Duration::hours(1),
    };
    db.store.seed_noop_jobs("h", 3, at, t).await.expect("jobs");
    let first = t - Duration::days(10);
    let done = SeedHistory {
        prefix: "h",
        jobs: 2,
        per_job: 3,
        first,
        step_ms: 60_000,
        status: RunStatus::Succeeded,
        owner: None,
    };
    assert_eq!(db.store.seed_history(done).await.expect("history"), 6);
    let left = SeedHistory {
        jobs: 3,
        per_job: 1,
        first: t - Duration::hours(1),
        status: RunStatus::Running,
        owner: Some("gone"),
        ..done
    };
    assert_eq!(db.store.seed_history(left).await.expect("running"), 3);
    let runs = db.store.export_runs(0, 100).await.expect("runs");
    let mut seen: Vec<Seen> = runs
        .iter()
        .map(|r| {
            assert_eq!(r.kind, RunKind::Scheduled);
            assert_eq!(r.started_at, Some(r.scheduled_at));
            let finished = (r.status == RunStatus::Succeeded).then_some(r.scheduled_at);
            assert_eq!(r.finished_at, finished, "{r:?}");
            let offset = (r.scheduled_at - first).num_milliseconds();
            (
                r.job_id.clone(),
                offset,
                r.status,
                r.duration_ms,
                r.owner_id.clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let ok = |job: &str, k: i64| {
        (
            job.to_string(),
            k * 60_000,
            RunStatus::Succeeded,
            Some(0),
            None,
        )
    };
    let late = (t - Duration::hours(1) - first).num_milliseconds();
    let running = |job: &str| {
        (
            job.to_string(),
            late,
            RunStatus::Running,
            None,
            Some("gone".into()),
        )
    };
    assert_eq!(
        seen,
        vec![
            ok("h0000000", 0),
            ok("h0000000", 1),
            ok("h0000000", 2),
            running("h0000000"),
            ok("h0000001", 0),
            ok("h0000001", 1),
            ok("h0000001", 2),
            running("h0000001"),
            running("h0000002"),
        ]
    );
    let clash = db.store.seed_history(done).await;
    assert!(clash.is_err(), "{clash:?}");
    assert_eq!(db.store.export_runs(0, 100).await.expect("runs").len(), 9);
}
