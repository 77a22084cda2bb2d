//! Firing promises of DESIGN.md (*Firing semantics*, *API*) that no other test covered (issue
//! 10, item 6): catch-up with `coalesce: false` and its overflow to `missed`, and the
//! `jitter_seconds` window. The real service in-process on a temp file, rows read with SQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::clock::{from_now, next_whole_second, sleep_until, ts};
use crate::helpers::rows::runs_of;
use crate::helpers::stub::Stub;
use crate::helpers::*;

crate::both_engines!(
    without_coalesce_each_missed_occurrence_runs_up_to_the_cap_and_the_rest_are_missed,
    jitter_delays_each_start_within_the_window_and_spreads_them,
    an_instant_that_has_its_row_is_not_run_again_and_its_claim_runs_the_rest
);

/// Most separate runs one claim starts for one job with `coalesce: false`; earlier occurrences
/// overflow into the `missed` row (`MAX_RUNS_PER_CLAIM` in `src/scheduler/plan.rs`: "a
/// catch-up storm is never what anyone wants"). Written out, not imported, so that raising
/// the cap is a visible change to this test.
const CATCH_UP_CAP: usize = 100;

/// One run row: `scheduled_at`, `last_scheduled_at`, `occurrences`, `status`, `error`, and
/// whether it started.
type Row = (
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    i64,
    String,
    Option<String>,
    bool,
);

/// Occurrences missed while the server was down, all within the misfire grace.
const DOWN_OCCURRENCES: usize = 150;

/// `coalesce: false`: the occurrences missed while the server was down, all within the grace,
/// each run on their own at restart — up to the cap of 100 separate runs per claim; the older
/// ones overflow into one `missed` row whose reason names the cap (not the grace: they were
/// within it). `max_instances` (1000) is far above the cap, so the cap is what limits, and the
/// trigger ended before the restart, so every row is known in advance: exactly one `missed`
/// row for the first 50, then 100 `succeeded` rows of one occurrence each, and nothing else.
async fn without_coalesce_each_missed_occurrence_runs_up_to_the_cap_and_the_rest_are_missed(
    engine: Engine,
) {
    // Arrange: a job with coalesce off, then 150 s of downtime (its instants rewound in the
    // file while the server is stopped, as `a_week_of_downtime_is_one_missed_row` does).
    let options = scheduler_on();
    let mut app = spawn_app_on_with(engine, options.clone()).await;
    app.create_job(&json!({
        "id": "each", "trigger": {"type": "interval", "seconds": 1},
        "action": {"type": "noop"}, "coalesce": false, "misfire_grace_seconds": 600,
        "max_instances": 1000
    }))
    .await;
    app.stop().await;
    let dir = app.dir.take();
    let first = next_whole_second(Utc::now()) - chrono::Duration::seconds(DOWN_OCCURRENCES as i64);
    let last = first + chrono::Duration::seconds(DOWN_OCCURRENCES as i64 - 1);
    let pool = Pool::connect(&app.db_path).await;
    let sql = "UPDATE jobs SET start_at = $1, next_run_at = $1, end_at = $2 WHERE id = 'each'";
    let changed = on_pool!(&pool, p => sqlx::query(sql)
        .bind(Stamp(first))
        .bind(Stamp(last))
        .execute(p)
        .await
        .map(|done| done.rows_affected()))
    .expect("rewind");
    assert_eq!(changed, 1);
    pool.close().await;

    // Act: restart.
    let mut app = start_on(app.db_path.clone(), options).await;
    app.dir = dir;
    wait_for(
        "the catch-up to finish",
        Duration::from_secs(10),
        || async {
            let left = app
                .count(
                    "SELECT (SELECT count(*) FROM job_runs WHERE status = 'running')
                    + (SELECT count(*) FROM jobs WHERE next_run_at IS NOT NULL)",
                )
                .await;
            (left == 0).then_some(())
        },
    )
    .await;

    // Assert: the exact rows.
    let sql = "SELECT scheduled_at, last_scheduled_at, occurrences, status, error,
                started_at IS NOT NULL FROM job_runs WHERE job_id = 'each' ORDER BY scheduled_at";
    let rows: Vec<Row> =
        on_pool!(&app.pool, p => sqlx::query_as(sql).fetch_all(p).await).expect("rows");
    let overflow = DOWN_OCCURRENCES - CATCH_UP_CAP;
    let at = |i: usize| first + chrono::Duration::seconds(i as i64);
    let mut expected = vec![(
        at(0),
        Some(at(overflow - 1)),
        overflow as i64,
        "missed".to_string(),
        Some(format!(
            "{overflow} occurrences over the catch-up cap: at most {CATCH_UP_CAP} separate runs \
             per claim with coalesce off"
        )),
        false,
    )];
    expected.extend(
        (overflow..DOWN_OCCURRENCES).map(|i| (at(i), None, 1, "succeeded".to_string(), None, true)),
    );
    assert_eq!(rows, expected);
    let (status, job) = app.get("/jobs/each").await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        job["data"]["next_run_time"],
        json!(null),
        "the trigger ended"
    );
}

/// Jobs firing at the same instant.
const JITTER_JOBS: usize = 30;

/// `jitter_seconds` (DESIGN.md, *API*): with `jitter_seconds: 2`, each run starts in
/// [scheduled instant, instant + 2 s], never before its instant, and the starts are spread
/// over that window rather than all at the instant (or all at one delay).
///
/// Thirty jobs share one instant, so one occurrence each gives thirty draws of the delay
/// (uniform over 0–2,000 ms). The spread check fails by chance only if all thirty draws fall
/// in the same half of the window: 2 × 0.5^30 ≈ 1.9 × 10⁻⁹. The upper bound allows 500 ms on
/// top of the 2 s for a loaded machine (runs start a few milliseconds late at rest).
///
/// The server runs with only 4 concurrent runs: a jitter delay is waiting, not work, and must
/// not hold one of those slots (it did: 30 delays queued behind 4 slots started runs up to
/// ~15 s late).
async fn jitter_delays_each_start_within_the_window_and_spreads_them(engine: Engine) {
    let (db, guard) = engine::fresh(engine).await;
    let mut config = test_config(&db, &scheduler_on());
    config.max_concurrent_runs = 4;
    let mut app = start_with(config).await;
    app.dir = Some(guard);
    let instant = next_whole_second(Utc::now() + chrono::Duration::seconds(1));
    for i in 0..JITTER_JOBS {
        app.create_job(&json!({
            "id": format!("jittered-{i:02}"),
            "trigger": {"type": "interval", "seconds": 3600, "start_at": ts(instant)},
            "action": {"type": "noop"}, "jitter_seconds": 2
        }))
        .await;
    }
    sleep_until(instant).await;
    wait_for("every jittered run", Duration::from_secs(20), || async {
        let done = app
            .count("SELECT count(*) FROM job_runs WHERE status = 'succeeded'")
            .await;
        (done == JITTER_JOBS as i64).then_some(())
    })
    .await;

    let mut delays_ms = Vec::new();
    for i in 0..JITTER_JOBS {
        let runs = runs_of(&app.pool, &format!("jittered-{i:02}")).await;
        assert_eq!(runs.len(), 1, "one run: {runs:#?}");
        assert_eq!(runs[0].scheduled_at, instant, "{runs:#?}");
        delays_ms.push(runs[0].lateness_ms());
    }
    delays_ms.sort_unstable();
    eprintln!("jitter 2 s, 30 runs: start delays (ms) {delays_ms:?}");
    assert!(
        delays_ms.iter().all(|d| (0..=2_500).contains(d)),
        "every start in [instant, instant + 2 s (+ 500 ms slack)]: {delays_ms:?}"
    );
    let early = delays_ms.iter().filter(|d| **d < 1_000).count();
    assert!(
        early > 0 && early < JITTER_JOBS,
        "starts spread over both halves of the window: {delays_ms:?}"
    );
}

/// A job made due again at an instant that already has its row (a hand edit of `next_run_at`)
/// is claimed in one transaction with a job due at that instant for the first time: the first
/// gets no second row and no second call, the other is called once and its outcome lands on
/// its own row. (On SQLite the claim then reads its new rows back rather than numbering them.)
async fn an_instant_that_has_its_row_is_not_run_again_and_its_claim_runs_the_rest(engine: Engine) {
    let stub = Stub::start().await;
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    for (id, run_at) in [
        ("done", chrono::Duration::milliseconds(1500)),
        // Due only when the edit below makes it so.
        ("fresh", chrono::Duration::hours(1)),
    ] {
        app.create_job(
            &json!({"id": id, "trigger": {"type": "date", "run_at": from_now(run_at)},
                               "action": {"type": "http", "url": stub.url("/ok")}}),
        )
        .await;
    }
    wait_for("the first run", Duration::from_secs(10), || async {
        (app.succeeded_count("done").await == 1).then_some(())
    })
    .await;
    let sql =
        "UPDATE jobs SET next_run_at = (SELECT scheduled_at FROM job_runs WHERE job_id = 'done')
               WHERE id IN ('done', 'fresh')";
    assert_eq!(app.pool.execute(sql).await, 2);
    wait_for("the fresh run", Duration::from_secs(10), || async {
        (app.succeeded_count("fresh").await == 1).then_some(())
    })
    .await;
    assert_eq!(stub.keys("ok").len(), 2, "one call per job");
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
    let rows = "SELECT count(*) FROM job_runs WHERE status = 'succeeded' AND http_status = 200";
    assert_eq!(
        app.count(rows).await,
        2,
        "one row per job, each with its own outcome"
    );
    assert_eq!(app.count("SELECT count(*) FROM job_runs").await, 2);
}
