//! Serving processes: registration, heartbeats, stop marks, and the recovery of a dead owner's
//! runs by a live one.

use schedlite::model::RunStatus;

use crate::engines::Db;
use crate::support::{KEY, every, manual_run, now, plus_ms};

crate::conformance!(
    instances_register_beat_and_stop,
    a_dead_owners_runs_are_found_and_interrupted,
    shutdown_interrupts_only_the_runs_named,
    stale_running_runs_are_listed_by_owner_and_claim_age,
);

async fn instances_register_beat_and_stop(db: Db) {
    let t = now();
    db.store
        .register_instance("a", 41, "host-a", Some("123"), t)
        .await
        .expect("register a");
    db.store
        .register_instance("b", 42, "host-b", None, t)
        .await
        .expect("register b");
    let others = db.store.unstopped_instances("b").await.expect("list");
    assert_eq!(others.len(), 1);
    let a = &others[0];
    assert_eq!(
        (a.id.as_str(), a.pid, a.hostname.as_str()),
        ("a", 41, "host-a")
    );
    assert_eq!(
        (a.proc_start.as_deref(), a.started_at, a.heartbeat_at),
        (Some("123"), t, t)
    );
    assert_eq!(a.stopped_at, None);

    let beat = plus_ms(t, 1000);
    db.store.heartbeat("a", beat).await.expect("beat");
    let a = db
        .store
        .unstopped_instances("b")
        .await
        .expect("list")
        .remove(0);
    assert_eq!(a.heartbeat_at, beat);

    db.store
        .mark_instance_stopped("a", plus_ms(t, 2000))
        .await
        .expect("stop");
    assert!(
        db.store
            .unstopped_instances("b")
            .await
            .expect("list")
            .is_empty()
    );
    // A second mark keeps the first instant; a heartbeat clears a wrong mark.
    db.store
        .mark_instance_stopped("a", plus_ms(t, 3000))
        .await
        .expect("stop again");
    db.store
        .heartbeat("a", plus_ms(t, 4000))
        .await
        .expect("beat after the mark");
    let a = db
        .store
        .unstopped_instances("b")
        .await
        .expect("list")
        .remove(0);
    assert_eq!((a.stopped_at, a.heartbeat_at), (None, plus_ms(t, 4000)));
}

async fn a_dead_owners_runs_are_found_and_interrupted(db: Db) {
    let t = now();
    db.store
        .register_instance("dead", 1, "h", None, t)
        .await
        .expect("register");
    db.store
        .register_instance("live", 2, "h", None, t)
        .await
        .expect("register");
    db.store
        .insert_job(&every("j", 60, plus_ms(t, 7)), None, t, KEY)
        .await
        .expect("insert");
    let mut dead_runs = Vec::new();
    for _ in 0..3 {
        let run = db
            .store
            .insert_manual_run("j", t, "dead", KEY)
            .await
            .expect("run");
        dead_runs.push(run.expect("job").run_id);
    }
    let live_run = manual_run(&db.store, "j", t, "live").await.run_id;
    let ghost_run = manual_run(&db.store, "j", t, "never-registered")
        .await
        .run_id;

    let mut owners = db
        .store
        .owners_of_running_runs("live")
        .await
        .expect("owners");
    owners.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert_eq!(owners[0].0.as_deref(), Some("dead"));
    assert_eq!(owners[0].1.as_ref().map(|i| i.id.as_str()), Some("dead"));
    assert_eq!(owners[1].0.as_deref(), Some("never-registered"));
    assert!(
        owners[1].1.is_none(),
        "an owner with no instance row has none"
    );

    let found = plus_ms(t, 5000);
    let n = db
        .store
        .interrupt_runs_of(Some("dead"), found, "its process died")
        .await
        .expect("interrupt");
    assert_eq!(n, 3);
    for id in &dead_runs {
        let run = db.store.get_run(*id).await.expect("get").expect("row");
        assert_eq!(run.status, RunStatus::Interrupted);
        assert_eq!(run.finished_at, Some(found));
        assert_eq!(run.error.as_deref(), Some("its process died"));
    }
    let live = db.store.get_run(live_run).await.expect("get").expect("row");
    assert_eq!(
        live.status,
        RunStatus::Running,
        "a live owner's run is untouched"
    );
    let ghost = db
        .store
        .get_run(ghost_run)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(ghost.status, RunStatus::Running);
    let again = db
        .store
        .interrupt_runs_of(Some("dead"), found, "again")
        .await;
    assert_eq!(again.expect("interrupt again"), 0);
    let owners = db
        .store
        .owners_of_running_runs("live")
        .await
        .expect("owners");
    assert_eq!(owners.len(), 1);
}

async fn shutdown_interrupts_only_the_runs_named(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("j", 60, plus_ms(t, 7)), None, t, KEY)
        .await
        .expect("insert");
    let a = manual_run(&db.store, "j", t, "me").await;
    let b = manual_run(&db.store, "j", t, "me").await;
    db.store
        .interrupt_runs(&[a.run_id], plus_ms(t, 10), "shutdown grace ran out")
        .await
        .expect("interrupt");
    let a = db.store.get_run(a.run_id).await.expect("get").expect("row");
    let b = db.store.get_run(b.run_id).await.expect("get").expect("row");
    assert_eq!(
        (a.status, b.status),
        (RunStatus::Interrupted, RunStatus::Running)
    );
    assert_eq!(a.error.as_deref(), Some("shutdown grace ran out"));
    db.store
        .interrupt_runs(&[], t, "nothing")
        .await
        .expect("no runs");
}

async fn stale_running_runs_are_listed_by_owner_and_claim_age(db: Db) {
    let t = now();
    db.store
        .insert_job(&every("j", 60, plus_ms(t, 7)), None, t, KEY)
        .await
        .expect("insert");
    let old = manual_run(&db.store, "j", t, "me").await;
    let young = manual_run(&db.store, "j", plus_ms(t, 5_000), "me").await;
    let others = manual_run(&db.store, "j", t, "someone-else").await;
    let finished = manual_run(&db.store, "j", t, "me").await;
    db.store
        .interrupt_runs(&[finished.run_id], plus_ms(t, 1), "done")
        .await
        .expect("close one");
    let stale = db
        .store
        .stale_running_runs_of("me", plus_ms(t, 1_000))
        .await
        .expect("stale");
    assert_eq!(
        stale,
        vec![(old.run_id, "j".to_string())],
        "only my old running run"
    );
    assert_ne!(young.run_id, others.run_id);
    let all = db
        .store
        .stale_running_runs_of("me", plus_ms(t, 10_000))
        .await
        .expect("stale");
    let mut ids: Vec<i64> = all.iter().map(|(id, _)| *id).collect();
    ids.sort();
    assert_eq!(ids, vec![old.run_id, young.run_id]);
}
