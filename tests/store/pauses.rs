//! Pauses with a note, the end of timed pauses (once, whatever the number of handles), and skip
//! requests.

use schedlite::model::{AuditAction, PauseNote, SkipRequest};
use serde_json::{Value, json};

use crate::engines::Db;
use crate::support::{KEY, every, now, plus_ms};

crate::conformance!(
    a_pause_note_reads_back_and_a_resume_clears_it,
    a_timed_pause_ends_once_across_handles,
    an_ended_pause_leaves_a_newer_pause_alone,
    a_skip_request_reads_back_and_zero_cancels_it,
);

/// An audit detail as JSON (PostgreSQL's jsonb spaces and orders keys its own way).
fn json(detail: &Option<String>) -> Value {
    serde_json::from_str(detail.as_deref().expect("a detail")).expect("JSON")
}

fn note(at: chrono::DateTime<chrono::Utc>, until_ms: Option<i64>) -> PauseNote {
    PauseNote {
        by: KEY.to_string(),
        at,
        reason: Some("db upgrade".into()),
        until: until_ms.map(|ms| plus_ms(at, ms)),
    }
}

async fn a_pause_note_reads_back_and_a_resume_clears_it(db: Db) {
    let t = now();
    let s = &db.store;
    s.insert_job(&every("a", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    let paused = s
        .pause_job("a", &note(t, Some(5_000)), t)
        .await
        .expect("pause")
        .expect("exists");
    assert_eq!(
        (paused.paused, paused.next_run_at, paused.pause),
        (true, None, Some(note(t, Some(5_000))))
    );
    assert_eq!(
        s.get_job("a").await.expect("read").expect("a").pause,
        Some(note(t, Some(5_000)))
    );
    let entry = &s.list_audit(Some("a"), None, 1).await.expect("audit")[0];
    let until = schedlite::timestamp::format(plus_ms(t, 5_000));
    assert_eq!(
        (entry.action, json(&entry.detail)),
        (
            AuditAction::Pause,
            json!({"reason": "db upgrade", "until": until})
        )
    );
    let resumed = s
        .set_paused("a", false, Some(t), plus_ms(t, 1), KEY)
        .await
        .expect("resume")
        .expect("exists");
    assert_eq!((resumed.paused, resumed.pause), (false, None));
    assert_eq!(
        s.pause_job("nope", &note(t, None), t)
            .await
            .expect("unknown"),
        None
    );
}

async fn a_timed_pause_ends_once_across_handles(db: Db) {
    let t = now();
    let s = &db.store;
    let other = db.another_handle().await;
    s.insert_job(&every("a", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    s.pause_job("a", &note(t, Some(1_000)), t)
        .await
        .expect("pause");
    assert!(
        s.ended_pauses(plus_ms(t, 999), 10)
            .await
            .expect("look")
            .is_empty()
    );
    let ended = other
        .ended_pauses(plus_ms(t, 1_000), 10)
        .await
        .expect("look");
    assert_eq!(
        ended.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    let until = plus_ms(t, 1_000);
    let next = Some(plus_ms(t, 60_000));
    let first = other
        .end_pause("a", until, next, plus_ms(t, 1_001))
        .await
        .expect("end");
    let second = s
        .end_pause("a", until, next, plus_ms(t, 1_002))
        .await
        .expect("end again");
    assert_eq!((first, second), (true, false), "the pause ends once");
    let job = s.get_job("a").await.expect("read").expect("a");
    assert_eq!(
        (job.paused, job.next_run_at, job.pause),
        (false, next, None)
    );
    let resumes: Vec<_> = s
        .list_audit(Some("a"), None, 10)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::Resume)
        .map(|e| (e.key_name, json(&e.detail)))
        .collect();
    let detail = json!({"pause_ended": schedlite::timestamp::format(until)});
    assert_eq!(resumes, [("schedlite".to_string(), detail)]);
    assert!(
        s.ended_pauses(plus_ms(t, 5_000), 10)
            .await
            .expect("look")
            .is_empty()
    );
}

async fn an_ended_pause_leaves_a_newer_pause_alone(db: Db) {
    let t = now();
    let s = &db.store;
    s.insert_job(&every("a", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    s.pause_job("a", &note(t, Some(1_000)), t)
        .await
        .expect("pause");
    // Someone re-paused it for longer after the first end was read, before it was written.
    s.pause_job("a", &note(t, Some(9_000)), plus_ms(t, 1))
        .await
        .expect("re-pause");
    let ended = s
        .end_pause("a", plus_ms(t, 1_000), Some(t), plus_ms(t, 1_001))
        .await
        .expect("end");
    assert!(!ended, "an old end does not end a newer pause");
    let job = s.get_job("a").await.expect("read").expect("a");
    assert_eq!((job.paused, job.pause), (true, Some(note(t, Some(9_000)))));
}

async fn a_skip_request_reads_back_and_zero_cancels_it(db: Db) {
    let t = now();
    let s = &db.store;
    s.insert_job(&every("a", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    let job = s
        .set_skip("a", 3, Some("holiday"), t, KEY)
        .await
        .expect("skip")
        .expect("exists");
    let wanted = SkipRequest {
        count: 3,
        reason: Some("holiday".into()),
    };
    assert_eq!(job.skip, Some(wanted));
    let job = s
        .set_skip("a", 0, Some("ignored"), plus_ms(t, 1), KEY)
        .await
        .expect("cancel")
        .expect("exists");
    assert_eq!(job.skip, None);
    let details: Vec<_> = s
        .list_audit(Some("a"), None, 2)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.action, json(&e.detail)))
        .collect();
    assert_eq!(
        details,
        [
            (AuditAction::Skip, json!({"count": 0, "reason": null})),
            (AuditAction::Skip, json!({"count": 3, "reason": "holiday"})),
        ]
    );
    assert_eq!(
        s.set_skip("nope", 1, None, t, KEY).await.expect("unknown"),
        None
    );
}
