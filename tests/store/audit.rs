//! Audit: each change through the API leaves one row, newest first, paged and filtered; and
//! the database's schema lifecycle.

use schedlite::model::AuditAction;
use schedlite::store::Store;

use crate::engines::Db;
use crate::support::{KEY, every, now, plus_ms};

crate::conformance!(
    every_change_is_audited_in_order_and_pages_by_id,
    migrating_again_is_a_no_op,
);

async fn every_change_is_audited_in_order_and_pages_by_id(db: Db) {
    let t = now();
    let s = &db.store;
    s.insert_job(&every("a", 60, t), Some(t), t, KEY)
        .await
        .expect("create");
    s.upsert_job(&every("a", 30, t), Some(t), plus_ms(t, 1), "other-key")
        .await
        .expect("replace");
    s.set_paused("a", true, None, plus_ms(t, 2), KEY)
        .await
        .expect("pause");
    s.set_paused("a", false, Some(t), plus_ms(t, 3), KEY)
        .await
        .expect("resume");
    s.insert_manual_run("a", plus_ms(t, 4), "me", KEY)
        .await
        .expect("run");
    s.insert_job(&every("b", 60, t), Some(t), plus_ms(t, 5), KEY)
        .await
        .expect("create b");
    s.delete_job("a", plus_ms(t, 6), KEY).await.expect("delete");
    // Refusals and no-ops leave no row.
    let _ = s.insert_job(&every("b", 60, t), Some(t), t, KEY).await;
    s.delete_job("a", plus_ms(t, 7), KEY)
        .await
        .expect("delete again");
    s.set_paused("nope", true, None, t, KEY)
        .await
        .expect("pause unknown");

    let all = s.list_audit(None, None, 100).await.expect("audit");
    let seen: Vec<(AuditAction, &str)> =
        all.iter().map(|e| (e.action, e.job_id.as_str())).collect();
    let expected = [
        (AuditAction::Delete, "a"),
        (AuditAction::Create, "b"),
        (AuditAction::Run, "a"),
        (AuditAction::Resume, "a"),
        (AuditAction::Pause, "a"),
        (AuditAction::Replace, "a"),
        (AuditAction::Create, "a"),
    ];
    assert_eq!(seen, expected);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[5].key_name, "other-key");
    assert_eq!(all[5].at, plus_ms(t, 1));
    assert_eq!(all[0].at, plus_ms(t, 6));

    let first_page = s.list_audit(None, None, 3).await.expect("page");
    let second_page = s
        .list_audit(None, Some(first_page[2].id), 3)
        .await
        .expect("page");
    assert_eq!(first_page, all[..3]);
    assert_eq!(second_page, all[3..6]);
    let only_b = s.list_audit(Some("b"), None, 100).await.expect("filter");
    assert_eq!(only_b, all[1..2]);
}

async fn migrating_again_is_a_no_op(db: Db) {
    let latest = Store::latest_known_version();
    assert_eq!(db.store.schema_version().await.expect("version"), latest);
    let report = db.store.migrate().await.expect("migrate again");
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.current, latest);
    db.store.ping().await.expect("ping");
    db.store
        .check_file()
        .expect("the database is the one opened");
    let other = db.another_handle().await;
    assert_eq!(other.schema_version().await.expect("version"), latest);
}
