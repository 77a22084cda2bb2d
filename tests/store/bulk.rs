//! Many jobs written in one transaction (`Store::upsert_jobs`, behind `POST /jobs:bulk`): each
//! created or replaced and audited, and a batch the database refuses part of leaves nothing.

use schedlite::model::AuditAction;
use schedlite::schedule::Trigger;

use crate::engines::Db;
use crate::support::{KEY, every, now, plus_ms};

crate::conformance!(a_batch_is_written_whole_or_not_at_all);

async fn a_batch_is_written_whole_or_not_at_all(db: Db) {
    let t = now();
    let s = &db.store;
    s.insert_job(&every("old", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    let batch = [
        (every("old", 30, t), Some(t)),
        (every("new", 60, t), Some(t)),
    ];
    let created = s
        .upsert_jobs(&batch, plus_ms(t, 1), KEY)
        .await
        .expect("bulk");
    assert_eq!(created, [false, true]);
    let old = s.get_job("old").await.expect("read").expect("old");
    assert!(
        matches!(old.trigger, Trigger::Interval { seconds: 30, .. }),
        "replaced: {:?}",
        old.trigger
    );

    // The database refuses the second job (a name longer than its column's CHECK allows; the
    // API refuses it before): the first, valid one is not written either.
    let mut bad = every("bad", 60, t);
    bad.name = Some("x".repeat(300));
    let refused = s
        .upsert_jobs(&[(every("third", 60, t), Some(t)), (bad, Some(t))], t, KEY)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(s.get_job("third").await.expect("read"), None);
    assert_eq!(s.count_jobs().await.expect("count"), 2);
    let actions: Vec<(AuditAction, String)> = s
        .list_audit(None, None, 10)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.action, e.job_id))
        .collect();
    assert_eq!(
        actions,
        [
            (AuditAction::Create, "new".to_string()),
            (AuditAction::Replace, "old".to_string()),
            (AuditAction::Create, "old".to_string()),
        ]
    );
}
