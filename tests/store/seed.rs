//! Bulk seeding (`Store::seed_noop_jobs`, used by the benchmark): the seeded rows read back as
//! the jobs the API would have created, ids and instants as documented, all or nothing.

use chrono::Duration;
use schedlite::actions::Action;
use schedlite::model::JobSettings;
use schedlite::schedule::Trigger;
use schedlite::store::SeedTrigger;

use crate::engines::Db;
use crate::support::{now, plus_ms};

crate::conformance!(
    seeded_jobs_read_back_as_noop_jobs_with_their_instants,
    a_seeding_that_meets_an_existing_id_inserts_nothing,
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
