//! Alerts: the jobs the health watch reads, a health change recorded once whatever the number
//! of handles (compare-and-set on the health last alerted), and an alert's delivery held by
//! one handle at a time, retried, sent or given up.

use schedlite::model::{Delivery, Expect, Health, NewAlert};
use schedlite::store::{ALERT_LEASE, AttemptResult};

use crate::engines::Db;
use crate::support::{KEY, every, now, plus_ms};

crate::conformance!(
    a_health_change_is_recorded_once_across_handles,
    an_alert_is_held_by_one_handle_and_retried_until_sent_or_given_up,
);

fn change(job: &str, from: Health, to: Health, at: chrono::DateTime<chrono::Utc>) -> NewAlert {
    NewAlert {
        job_id: job.to_string(),
        from,
        to,
        reason: format!("{from} to {to}"),
        at,
        webhook: Some("http://127.0.0.1:9/hook".to_string()),
    }
}

async fn a_health_change_is_recorded_once_across_handles(db: Db) {
    let t = now();
    let s = &db.store;
    let other = db.another_handle().await;
    let mut watched = every("watched", 60, t);
    watched.expect = Some(Expect {
        success_within_seconds: Some(10),
        ..Expect::default()
    });
    s.insert_job(&watched, Some(t), t, KEY)
        .await
        .expect("create");
    s.insert_job(&every("plain", 60, t), Some(t), t, KEY)
        .await
        .expect("create");

    let seen = s.alert_watch(None, 10).await.expect("watch");
    let seen: Vec<_> = seen
        .iter()
        .map(|w| (w.entry.id(), w.alerted, w.alerted_at))
        .collect();
    assert_eq!(
        seen,
        [("watched", None, None)],
        "only jobs that expect something"
    );

    let late = change("watched", Health::Ok, Health::Late, t);
    let first = other.record_alert(&late, None).await.expect("record");
    let again = s.record_alert(&late, None).await.expect("record again");
    assert!(first.is_some());
    assert_eq!(again, None, "the second look finds the change recorded");
    let seen = s.alert_watch(None, 10).await.expect("watch");
    assert_eq!(
        (seen[0].alerted, seen[0].alerted_at),
        (Some(Health::Late), Some(t))
    );
    let stale = change("watched", Health::Ok, Health::Failing, plus_ms(t, 1));
    assert_eq!(s.record_alert(&stale, None).await.expect("stale"), None);
    let back = change("watched", Health::Late, Health::Ok, plus_ms(t, 2));
    let second = s
        .record_alert(&back, Some(Health::Late))
        .await
        .expect("record ok");
    assert!(second > first, "{second:?} after {first:?}");
    let gone = change("nope", Health::Ok, Health::Late, t);
    assert_eq!(s.record_alert(&gone, None).await.expect("no job"), None);

    let listed = s.list_alerts(None, None, 10).await.expect("list");
    let listed: Vec<_> = listed
        .iter()
        .map(|a| (Some(a.id), a.alert.from, a.alert.to, a.delivery))
        .collect();
    assert_eq!(
        listed,
        [
            (second, Health::Late, Health::Ok, Delivery::Pending),
            (first, Health::Ok, Health::Late, Delivery::Pending),
        ]
    );
    let page = s
        .list_alerts(Some("watched"), second, 10)
        .await
        .expect("page");
    assert_eq!(page.len(), 1);

    assert!(s.delete_job("watched", t, KEY).await.expect("delete"));
    assert!(
        s.alert_watch(None, 10).await.expect("watch").is_empty(),
        "the alerted health goes with its job"
    );
    assert_eq!(
        s.list_alerts(None, None, 10).await.expect("list").len(),
        2,
        "its alerts stay"
    );
}

async fn an_alert_is_held_by_one_handle_and_retried_until_sent_or_given_up(db: Db) {
    let t = now();
    let s = &db.store;
    let other = db.another_handle().await;
    for id in ["a", "b", "c"] {
        s.insert_job(&every(id, 60, t), Some(t), t, KEY)
            .await
            .expect("create");
    }
    let a = s
        .record_alert(&change("a", Health::Ok, Health::Late, t), None)
        .await
        .expect("record")
        .expect("recorded");
    let mut silent = change("b", Health::Ok, Health::Late, t);
    silent.webhook = None;
    s.record_alert(&silent, None).await.expect("record");

    let taken = s.claim_alerts(t, 10).await.expect("claim");
    assert_eq!(
        taken.iter().map(|x| x.id).collect::<Vec<_>>(),
        [a],
        "an alert without a webhook is never sent"
    );
    assert!(
        other.claim_alerts(t, 10).await.expect("claim").is_empty(),
        "held"
    );
    let lease_end = t + ALERT_LEASE;
    let retaken = other.claim_alerts(lease_end, 10).await.expect("claim");
    assert_eq!(retaken.len(), 1, "a holder that died lets it go");

    let retry_at = plus_ms(lease_end, 5_000);
    let failed = AttemptResult::Failed {
        error: "the webhook answered HTTP 503".into(),
        retry_at: Some(retry_at),
    };
    other.settle_alert(a, &failed).await.expect("settle");
    let row = &s.list_alerts(Some("a"), None, 1).await.expect("list")[0];
    assert_eq!(
        (
            row.delivery,
            row.attempts,
            row.next_attempt_at,
            row.last_error.as_deref()
        ),
        (
            Delivery::Pending,
            1,
            Some(retry_at),
            Some("the webhook answered HTTP 503")
        )
    );
    let early = plus_ms(retry_at, -1);
    assert!(s.claim_alerts(early, 10).await.expect("claim").is_empty());
    assert_eq!(s.claim_alerts(retry_at, 10).await.expect("claim").len(), 1);
    let sent_at = plus_ms(retry_at, 40);
    s.settle_alert(a, &AttemptResult::Sent(sent_at))
        .await
        .expect("settle");
    let row = &s.list_alerts(Some("a"), None, 1).await.expect("list")[0];
    assert_eq!(
        (
            row.delivery,
            row.attempts,
            row.next_attempt_at,
            row.sent_at,
            row.last_error.clone()
        ),
        (Delivery::Sent, 2, None, Some(sent_at), None)
    );
    let later = plus_ms(retry_at, 3_600_000);
    assert!(s.claim_alerts(later, 10).await.expect("claim").is_empty());

    let c = s
        .record_alert(&change("c", Health::Ok, Health::Failing, t), None)
        .await
        .expect("record")
        .expect("recorded");
    let give_up = AttemptResult::Failed {
        error: "connection refused".into(),
        retry_at: None,
    };
    s.claim_alerts(t, 10).await.expect("claim");
    s.settle_alert(c, &give_up).await.expect("settle");
    let row = &s.list_alerts(Some("c"), None, 1).await.expect("list")[0];
    assert_eq!(
        (row.delivery, row.attempts, row.next_attempt_at),
        (Delivery::Failed, 1, None)
    );
    assert!(s.claim_alerts(later, 10).await.expect("claim").is_empty());
}
