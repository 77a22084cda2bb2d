//! Jobs: create, replace, read, page, pause/resume, delete.

use std::collections::BTreeSet;

use chrono::Duration;
use schedlite::actions::Action;
use schedlite::model::{
    Exclusive, ExclusivePolicy, HistoryLimits, JobEntry, JobSettings, NewJob, RetryPolicy,
};
use schedlite::schedule::{Trigger, TriggerKind};
use schedlite::store::{Gauges, JobFilter, JobOrder, StoreError};

use crate::engines::Db;
use crate::support::{KEY, every, job, manual_run, now, plus_ms, readable};

crate::conformance!(
    what_is_written_is_read_back_field_by_field,
    a_duplicate_id_is_refused_and_changes_nothing,
    upsert_creates_then_replaces_keeping_created_at_and_history,
    delete_removes_the_job_and_its_runs,
    pages_walk_every_job_once_in_next_run_order,
    filters_select_by_paused_and_trigger_type,
    pause_and_resume_set_next_run_and_report_unknown_ids,
    counts_and_the_earliest_next_run,
);

/// Three jobs, one per trigger kind, every column distinct from its neighbours (start_at and
/// end_at differ, non-default settings): each is read back equal, by id and in a page.
async fn what_is_written_is_read_back_field_by_field(db: Db) {
    let t = now();
    let action: Action = serde_json::from_value(serde_json::json!({
        "type": "http", "url": "https://example.com/hook", "method": "put",
        "headers": {"X-A": "1"}, "body": "{}", "timeout_seconds": 7
    }))
    .expect("action");
    let settings = JobSettings {
        misfire_grace_seconds: 5,
        coalesce: false,
        max_instances: 3,
        jitter_seconds: 2,
        catch_up: schedlite::model::CatchUp::Ask,
    };
    let jobs = [
        NewJob {
            id: "cron".into(),
            name: Some("nightly".into()),
            trigger: Trigger::cron("0 30 2 * * *", "Europe/Berlin").expect("cron"),
            action: action.clone(),
            settings,
            paused: false,
            expect: None,
            history: Some(HistoryLimits {
                keep_days: Some(7),
                keep_failed_days: None,
                keep_runs: Some(50),
            }),
            retry: RetryPolicy {
                max_attempts: 4,
                initial_delay_seconds: 2,
                max_delay_seconds: 60,
                multiplier: 3.0,
                jitter: false,
            },
            exclusive: Some(Exclusive {
                group: "reports:nightly".into(),
                policy: ExclusivePolicy::Wait,
            }),
        },
        NewJob {
            name: None,
            settings: JobSettings::default(),
            ..job(
                "interval",
                Trigger::interval(90, plus_ms(t, -1000), Some(plus_ms(t, 86_400_000)))
                    .expect("interval"),
            )
        },
        job(
            "date",
            Trigger::Date {
                run_at: plus_ms(t, 5000),
            },
        ),
    ];
    let nexts = [
        Some(plus_ms(t, 1)),
        Some(plus_ms(t, 2)),
        Some(plus_ms(t, 5000)),
    ];
    for (new, next) in jobs.iter().zip(nexts) {
        let stored = db
            .store
            .insert_job(new, next, t, KEY)
            .await
            .expect("insert");
        assert_eq!(stored.id, new.id);
        assert_eq!(stored.name, new.name);
        assert_eq!(stored.trigger, new.trigger);
        assert_eq!(stored.action, new.action);
        assert_eq!(stored.settings, new.settings);
        assert_eq!(stored.paused, new.paused);
        assert_eq!(stored.exclusive, new.exclusive);
        assert_eq!(stored.next_run_at, next);
        assert_eq!((stored.created_at, stored.updated_at), (t, t));
        let again = db.store.get_job(&new.id).await.expect("get");
        assert_eq!(again.as_ref(), Some(&stored));
        let with_run = db.store.get_job_with_last_run(&new.id).await.expect("get");
        assert_eq!(with_run, Some((JobEntry::Readable(stored), None, None)));
    }
    let page = db
        .store
        .list_jobs(&JobFilter::default(), JobOrder::NextRun, None, 10)
        .await
        .expect("list");
    let listed = readable(page.jobs);
    let ids: Vec<&str> = listed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["cron", "interval", "date"]);
    assert_eq!(listed[0].trigger, jobs[0].trigger);
    assert_eq!(listed[1].trigger, jobs[1].trigger);
    assert_eq!(listed[0].action, action);
    assert_eq!(db.store.get_job("nope").await.expect("get"), None);
    assert_eq!(
        db.store.get_job_with_last_run("nope").await.expect("get"),
        None
    );
}

async fn a_duplicate_id_is_refused_and_changes_nothing(db: Db) {
    let t = now();
    let first = every("dup", 60, t);
    db.store
        .insert_job(&first, Some(t), t, KEY)
        .await
        .expect("insert");
    let second = every("dup", 5, plus_ms(t, 10));
    let refused = db.store.insert_job(&second, None, plus_ms(t, 1), KEY).await;
    assert!(
        matches!(refused, Err(StoreError::JobExists(ref id)) if id == "dup"),
        "{refused:?}"
    );
    let stored = db.store.get_job("dup").await.expect("get").expect("job");
    assert_eq!(stored.trigger, first.trigger);
    assert_eq!(stored.next_run_at, Some(t));
    let audit = db
        .store
        .list_audit(Some("dup"), None, 10)
        .await
        .expect("audit");
    assert_eq!(
        audit.len(),
        1,
        "only the first insert is audited: {audit:?}"
    );
    // The refusal left the store writable.
    db.store
        .insert_job(&every("other", 60, t), Some(t), t, KEY)
        .await
        .expect("insert after a refusal");
}

async fn upsert_creates_then_replaces_keeping_created_at_and_history(db: Db) {
    let t = now();
    let (created, was_new) = db
        .store
        .upsert_job(&every("u", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    assert!(was_new);
    let run = db
        .store
        .insert_manual_run("u", plus_ms(t, 3), "owner", KEY)
        .await
        .expect("manual")
        .expect("job exists");
    let later = plus_ms(t, 1000);
    let replacement = NewJob {
        name: Some("renamed".into()),
        paused: true,
        ..every("u", 5, later)
    };
    let (replaced, was_new) = db
        .store
        .upsert_job(&replacement, None, later, KEY)
        .await
        .expect("replace");
    assert!(!was_new);
    assert_eq!(replaced.created_at, created.created_at);
    assert_eq!(replaced.updated_at, later);
    assert_eq!(replaced.trigger, replacement.trigger);
    assert_eq!(replaced.name.as_deref(), Some("renamed"));
    assert!(replaced.paused);
    assert_eq!(replaced.next_run_at, None);
    let runs = db.store.list_runs("u", None, 10).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [run.run_id]);
}

async fn delete_removes_the_job_and_its_runs(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("d", 60, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let run = db
        .store
        .insert_manual_run("d", t, "owner", KEY)
        .await
        .expect("manual")
        .expect("job exists");
    assert!(db.store.delete_job("d", t, KEY).await.expect("delete"));
    assert_eq!(db.store.get_job("d").await.expect("get"), None);
    assert_eq!(db.store.get_run(run.run_id).await.expect("get run"), None);
    assert!(
        db.store
            .list_runs("d", None, 10)
            .await
            .expect("runs")
            .is_empty()
    );
    assert!(
        !db.store
            .delete_job("d", t, KEY)
            .await
            .expect("delete again")
    );
}

/// 23 jobs (some with no next run, some sharing one instant) paged 5 at a time, in next-run
/// order (none last, then id) and in id order: every job exactly once, in order; a job added
/// behind the cursor mid-walk does not shift the pages.
async fn pages_walk_every_job_once_in_next_run_order(db: Db) {
    let t = now();
    let mut expected = Vec::new();
    for i in 0..23 {
        let id = format!("j{i:02}");
        let next = match i % 4 {
            0 => None,
            1 => Some(t),
            _ => Some(plus_ms(t, 1000 - i)),
        };
        let new = NewJob {
            paused: next.is_none(),
            ..every(&id, 60, t)
        };
        db.store
            .insert_job(&new, next, t, KEY)
            .await
            .expect("insert");
        expected.push((next.map_or((1, t), |n| (0, n)), id));
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    assert_eq!(walk(&db, JobOrder::NextRun, "a-early").await, expected);
    // The first walk's "a-early" is there before the second walk starts.
    let mut by_id = expected.clone();
    by_id.push("a-early".into());
    by_id.sort();
    assert_eq!(walk(&db, JobOrder::Id, "0-early").await, by_id);
}

/// Every id a listing in `order` serves, 5 a page; after the second page a job is inserted
/// that sorts before everything served so far: it must neither appear nor shift the pages.
async fn walk(db: &Db, order: JobOrder, early_id: &str) -> Vec<String> {
    let t = now();
    let mut seen = Vec::new();
    let mut after = None;
    for page_no in 0.. {
        assert!(page_no < 10, "the cursor never ends");
        let page = db
            .store
            .list_jobs(&JobFilter::default(), order, after.as_ref(), 5)
            .await
            .expect("page");
        assert!(page.jobs.len() <= 5);
        seen.extend(page.jobs.iter().map(|j| j.id().to_string()));
        if page_no == 1 {
            let early = every(early_id, 60, t);
            let at = plus_ms(t, -3_600_000);
            db.store
                .insert_job(&early, Some(at), t, KEY)
                .await
                .expect("insert");
        }
        match page.next {
            Some(key) => after = Some(key),
            None => break,
        }
    }
    seen
}

async fn filters_select_by_paused_and_trigger_type(db: Db) {
    let t = now();
    let date = job("date", Trigger::Date { run_at: t });
    let paused = NewJob {
        paused: true,
        ..every("paused", 60, t)
    };
    db.store
        .insert_job(&date, Some(t), t, KEY)
        .await
        .expect("insert");
    db.store
        .insert_job(&paused, None, t, KEY)
        .await
        .expect("insert");
    db.store
        .insert_job(&every("active", 60, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let ids = |filter: JobFilter| {
        let store = db.store.clone();
        async move {
            let page = store
                .list_jobs(&filter, JobOrder::Id, None, 100)
                .await
                .expect("list");
            page.jobs
                .into_iter()
                .map(|j| j.id().to_string())
                .collect::<BTreeSet<_>>()
        }
    };
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let paused_only = JobFilter {
        paused: Some(true),
        ..JobFilter::default()
    };
    assert_eq!(ids(paused_only).await, set(&["paused"]));
    let active = JobFilter {
        paused: Some(false),
        ..JobFilter::default()
    };
    assert_eq!(ids(active).await, set(&["date", "active"]));
    let intervals = JobFilter {
        trigger_type: Some(TriggerKind::Interval),
        ..JobFilter::default()
    };
    assert_eq!(ids(intervals).await, set(&["paused", "active"]));
}

async fn pause_and_resume_set_next_run_and_report_unknown_ids(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("p", 60, t), Some(t), t, KEY)
        .await
        .expect("insert");
    let later = plus_ms(t, 500);
    let paused = db
        .store
        .set_paused("p", true, None, later, KEY)
        .await
        .expect("pause")
        .expect("job exists");
    assert!(paused.paused);
    assert_eq!(paused.next_run_at, None);
    assert_eq!(paused.updated_at, later);
    let next = t + Duration::seconds(60);
    let resumed = db
        .store
        .set_paused("p", false, Some(next), later, KEY)
        .await
        .expect("resume")
        .expect("job exists");
    assert!(!resumed.paused);
    assert_eq!(resumed.next_run_at, Some(next));
    let unknown = db.store.set_paused("nope", true, None, later, KEY).await;
    assert_eq!(unknown.expect("pause unknown"), None);
}

async fn counts_and_the_earliest_next_run(db: Db) {
    let t = now();
    assert_eq!(db.store.count_jobs().await.expect("count"), 0);
    assert_eq!(db.store.earliest_next_run().await.expect("earliest"), None);
    assert_eq!(db.store.gauges(t).await.expect("gauges"), Gauges::default());
    let soon = plus_ms(t, 10);
    db.store
        .insert_job(&every("a", 60, t), Some(plus_ms(t, 20)), t, KEY)
        .await
        .expect("a");
    db.store
        .insert_job(&every("b", 60, t), Some(soon), t, KEY)
        .await
        .expect("b");
    let paused = NewJob {
        paused: true,
        ..every("c", 60, t)
    };
    db.store.insert_job(&paused, None, t, KEY).await.expect("c");
    manual_run(&db.store, "a", t, "owner").await;
    assert_eq!(db.store.count_jobs().await.expect("count"), 3);
    assert_eq!(
        db.store.earliest_next_run().await.expect("earliest"),
        Some(soon)
    );
    // At t + 15 ms, b (due at t + 10) is the backlog; a (t + 20) is not due yet.
    assert_eq!(
        db.store.gauges(plus_ms(t, 15)).await.expect("gauges"),
        Gauges {
            jobs: 3,
            paused: 1,
            running: 1,
            due: 1,
            retries_pending: 0,
        }
    );
}
