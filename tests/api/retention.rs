//! Run history retention (issue 12, item 2): the server's pruner and `schedlite prune` delete
//! exactly the rows past the policy — by age per status class, beyond each job's count, audit
//! rows by age — and never a `running` row or a job's newest run. A dry run deletes nothing
//! and counts exactly what the real run then deletes.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schedlite::config::RetentionPolicy;
use serde_json::{Value, json};

use crate::helpers::cli::{schedlite, stdout};
use crate::helpers::clock::trunc_ms;
use crate::helpers::*;

crate::both_engines!(
    the_server_prunes_history_past_the_policy_and_keeps_the_rest,
    prune_on_demand_counts_exactly_in_a_dry_run_and_keeps_running_rows,
    a_job_s_history_limits_read_back_and_bad_ones_name_the_field
);

/// The policy both tests use: the defaults, with a small per-job count.
fn policy() -> RetentionPolicy {
    RetentionPolicy {
        keep_runs: 5,
        ..RetentionPolicy::default()
    }
}

/// `days` before `now`, at the stored precision.
fn days_ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    trunc_ms(now - chrono::Duration::days(days))
}

/// Inserts one run row and returns its label, so tests name rows instead of ids.
async fn run(pool: &Pool, job: &str, at: DateTime<Utc>, last: Option<DateTime<Utc>>, status: &str) {
    let sql = "INSERT INTO job_runs (job_id, scheduled_at, last_scheduled_at, occurrences, status)
         VALUES ($1, $2, $3, $4, $5)";
    on_pool!(pool, p => sqlx::query(sql)
        .bind(job)
        .bind(Stamp(at))
        .bind(last.map(Stamp))
        .bind(if last.is_some() { 20_i64 } else { 1 })
        .bind(status)
        .execute(p)
        .await
        .map(|_| ()))
    .expect("run inserted");
}

/// Jobs and history covering every rule; returns the runs (job, scheduled_at) that must stay.
async fn seed(app: &TestApp, now: DateTime<Utc>) -> BTreeSet<(String, DateTime<Utc>)> {
    let own_limits = [
        ("long", json!({"keep_days": 100})),
        ("short", json!({"keep_days": 2, "keep_failed_days": 3})),
        ("few", json!({"keep_runs": 2})),
        ("roomy", json!({"keep_runs": 8})),
        ("stale", json!({"keep_days": 1})),
    ];
    let server_s = ["mixed", "lonely", "busy", "bulk", "retrying"].map(|id| (id, json!(null)));
    for (id, history) in server_s.into_iter().chain(own_limits) {
        let mut body = interval_job(id, 3600);
        body["paused"] = json!(true);
        if !history.is_null() {
            body["history"] = history;
        }
        app.create_job(&body).await;
    }
    let pool = &app.pool;
    let d = |n| days_ago(now, n);
    // mixed: age rules per status class; a missed stretch is judged by its last instant.
    run(pool, "mixed", d(40), None, "succeeded").await; // > 30 days: goes
    run(pool, "mixed", d(20), None, "succeeded").await;
    run(pool, "mixed", d(60), None, "failed").await; // failed keeps 90 days
    run(pool, "mixed", d(100), None, "timed_out").await; // goes
    run(pool, "mixed", d(45), Some(d(25)), "missed").await; // last instant 25 days: stays
    run(pool, "mixed", d(50), Some(d(41)), "missed").await; // goes
    // lonely: its only run is old, but a job's newest run is never pruned.
    run(pool, "lonely", d(200), None, "succeeded").await;
    // busy: 8 recent runs, 5 kept by count.
    for n in 1..=8 {
        run(pool, "busy", d(n), None, "succeeded").await;
    }
    // bulk: 2,500 old runs (several pruning windows) and one recent.
    let bulk = "INSERT INTO job_runs (job_id, scheduled_at, status) VALUES ('bulk', $1, 'skipped')";
    on_pool!(pool, p => {
        let mut tx = p.begin().await.expect("begin");
        for i in 0..2500 {
            let at = d(50) + chrono::Duration::seconds(i);
            sqlx::query(bulk)
                .bind(Stamp(at))
                .execute(&mut *tx)
                .await
                .expect("bulk run");
        }
        tx.commit().await.expect("commit");
    });
    run(pool, "bulk", d(2), None, "succeeded").await;
    // Jobs with limits of their own, which the server's would treat otherwise.
    run(pool, "long", d(40), None, "succeeded").await; // kept 100 days: stays
    run(pool, "long", d(120), None, "succeeded").await; // goes
    run(pool, "short", d(1), None, "succeeded").await;
    run(pool, "short", d(5), None, "succeeded").await; // kept 2 days: goes
    run(pool, "short", d(2), None, "failed").await; // failed kept 3 days: stays
    run(pool, "short", d(4), None, "failed").await; // goes
    for n in 1..=4 {
        run(pool, "few", d(n), None, "succeeded").await; // 2 kept by count
    }
    for n in 1..=8 {
        run(pool, "roomy", d(n), None, "succeeded").await; // 8 kept by count
    }
    run(pool, "stale", d(10), None, "succeeded").await; // old, but its newest: stays
    // retrying: a failed attempt past every age limit whose retry is still pending (the job is
    // paused) is never pruned, nor counted by a dry run.
    let pending = "INSERT INTO job_runs (job_id, scheduled_at, status, retry_at)
         VALUES ('retrying', $1, 'failed', $2)";
    on_pool!(pool, p => sqlx::query(pending)
        .bind(Stamp(d(100)))
        .bind(Stamp(d(99)))
        .execute(p)
        .await
        .map(|_| ()))
    .expect("pending retry");
    run(pool, "retrying", d(1), None, "succeeded").await;
    let audit =
        "INSERT INTO audit_log (at, key_name, action, job_id) VALUES ($1, 'k', 'delete', $2)";
    for (at, job) in [(d(400), "old-audit"), (d(10), "new-audit")] {
        on_pool!(pool, p => sqlx::query(audit).bind(Stamp(at)).bind(job).execute(p).await.map(|_| ()))
            .expect("audit row");
    }
    [
        ("mixed", d(20)),
        ("mixed", d(60)),
        ("mixed", d(45)),
        ("lonely", d(200)),
        ("busy", d(1)),
        ("busy", d(2)),
        ("busy", d(3)),
        ("busy", d(4)),
        ("busy", d(5)),
        ("bulk", d(2)),
        ("long", d(40)),
        ("short", d(1)),
        ("short", d(2)),
        ("few", d(1)),
        ("few", d(2)),
        ("stale", d(10)),
        ("retrying", d(100)),
        ("retrying", d(1)),
    ]
    .into_iter()
    .chain((1..=8).map(|n| ("roomy", d(n))))
    .map(|(j, a)| (j.to_string(), a))
    .collect()
}

/// The run rows left, as (job, scheduled instant).
async fn remaining(pool: &Pool) -> BTreeSet<(String, DateTime<Utc>)> {
    let sql = "SELECT job_id, scheduled_at FROM job_runs";
    let rows: Vec<(String, DateTime<Utc>)> =
        on_pool!(pool, p => sqlx::query_as(sql).fetch_all(p).await).expect("runs");
    rows.into_iter().collect()
}

/// The jobs named by the seeded audit rows left.
async fn audit_jobs(pool: &Pool) -> Vec<String> {
    let sql = "SELECT job_id FROM audit_log WHERE key_name = 'k' ORDER BY id";
    on_pool!(pool, p => sqlx::query_scalar(sql).fetch_all(p).await).expect("audit")
}

/// Rows deleted by each rule in the seed: 2 + 1 (mixed) + 3 (busy) + 2,500 (bulk), and by
/// jobs' own limits 1 (long) + 2 (short) + 2 (few).
const PRUNED_RUNS: usize = 2 + 1 + 3 + 2500 + 1 + 2 + 2;

/// The server's pruner runs at start and deletes exactly what the policy says, counted in
/// the metrics.
async fn the_server_prunes_history_past_the_policy_and_keeps_the_rest(engine: Engine) {
    let (db, guard) = engine::fresh(engine).await;
    let now = Utc::now();
    let mut app = start_with(test_config(&db, &AppOptions::default())).await;
    let keep = seed(&app, now).await;
    let before = remaining(&app.pool).await.len();
    app.stop().await;

    let mut config = test_config(&db, &scheduler_on());
    config.retention = policy();
    config.prune_interval = Some(Duration::from_secs(3600));
    let mut app = start_with(config).await;
    app.dir = Some(guard);
    wait_for(
        "the pruner's first pass",
        Duration::from_secs(20),
        || async {
            // The audit pass comes last in a pass.
            let left = remaining(&app.pool).await;
            let audit = audit_jobs(&app.pool).await;
            (left.len() == before - PRUNED_RUNS && audit.len() == 1).then_some(())
        },
    )
    .await;
    assert_eq!(remaining(&app.pool).await, keep);
    assert_eq!(audit_jobs(&app.pool).await, vec!["new-audit"]);

    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("X-API-Key", MONITOR_KEY)
        .send()
        .await
        .expect("metrics");
    let text = resp.text().await.expect("body");
    assert!(
        text.contains(&format!(
            "\nschedlite_pruned_rows_total{{table=\"job_runs\"}} {PRUNED_RUNS}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("\nschedlite_pruned_rows_total{table=\"audit_log\"} 1\n"),
        "{text}"
    );
    let passes = text
        .lines()
        .find_map(|l| l.strip_prefix("schedlite_prune_passes_total "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(passes.is_some_and(|n| n >= 1), "{text}");
    app.stop().await;
}

/// `schedlite prune --dry-run` counts exactly what `schedlite prune` then deletes, deletes
/// nothing itself, and neither touches a `running` row however old.
async fn prune_on_demand_counts_exactly_in_a_dry_run_and_keeps_running_rows(engine: Engine) {
    let mut app = spawn_app_on(engine).await;
    let now = Utc::now();
    let mut keep = seed(&app, now).await;
    for job in ["lonely", "few"] {
        run(&app.pool, job, days_ago(now, 300), None, "running").await;
        keep.insert((job.to_string(), days_ago(now, 300)));
    }
    let before = remaining(&app.pool).await;
    app.stop().await;
    let db = app.db_path.clone();
    let flags = ["--keep-runs", "5"];

    let dry = schedlite(&[&["prune", "--dry-run"][..], &flags[..]].concat(), &db);
    assert!(dry.status.success(), "{dry:?}");
    assert_eq!(
        stdout(&dry),
        format!("would delete {PRUNED_RUNS} run rows, 1 audit rows and 0 revisions\n")
    );
    let pool = Pool::connect(&db).await;
    assert_eq!(remaining(&pool).await, before, "a dry run deletes nothing");

    let real = schedlite(&[&["prune"][..], &flags[..]].concat(), &db);
    assert!(real.status.success(), "{real:?}");
    assert_eq!(
        stdout(&real),
        format!("deleted {PRUNED_RUNS} run rows, 1 audit rows and 0 revisions\n")
    );
    assert_eq!(remaining(&pool).await, keep);
    assert_eq!(audit_jobs(&pool).await, vec!["new-audit"]);

    let again = schedlite(&["prune"], &db);
    assert_eq!(
        stdout(&again),
        "deleted 0 run rows, 0 audit rows and 0 revisions\n"
    );
    let bad = schedlite(&["prune", "--keep-days", "0"], &db);
    crate::helpers::cli::assert_one_line_error(&bad, &["--keep-days", "0"], "keep-days 0");
}

/// A job's own limits read back with every field (null where it follows the server), are
/// cleared by a PUT without them, and are refused out of range with a 422 naming
/// `history.<field>`; a hand-edited zero makes the job `broken` instead of emptying its history.
async fn a_job_s_history_limits_read_back_and_bad_ones_name_the_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let cases = [
        (
            json!({"keep_days": 0}),
            "history.keep_days: must be between 1 and 36500, got 0",
        ),
        (
            json!({"keep_failed_days": 36_501}),
            "history.keep_failed_days: must be between 1 and 36500, got 36501",
        ),
        (
            json!({"keep_runs": 100_000_001}),
            "history.keep_runs: must be between 1 and 100000000, got 100000001",
        ),
        (json!({"keep_runs": -1}), "history.keep_runs: "),
        (json!({"keep_days": "7"}), "history.keep_days: "),
        (json!({"keep_weeks": 1}), "unknown field `keep_weeks`"),
        (
            json!([7]),
            "history: invalid type: sequence, expected an object",
        ),
        (
            json!(7),
            "history: invalid type: integer `7`, expected an object",
        ),
    ];
    for (history, message) in cases {
        let mut body = interval_job("h", 60);
        body["history"] = history.clone();
        let (status, answer) = app.post("/jobs", &body).await;
        assert_eq!(
            (status, &answer["detail"]["code"]),
            (422, &json!("VALIDATION_ERROR")),
            "{history}: {answer}"
        );
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{history}: {text}");
    }
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 0);

    let mut body = interval_job("h", 60);
    body["history"] = json!({"keep_days": 7, "keep_runs": 50});
    let created = app.create_job(&body).await;
    let own = json!({"keep_days": 7, "keep_failed_days": null, "keep_runs": 50});
    assert_eq!(created["history"], own);
    let (status, read) = app.get("/jobs/h").await;
    assert_eq!((status, &read["data"]["history"]), (200, &own), "{read}");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE history IS NOT NULL")
            .await,
        1
    );

    body["history"] = json!({});
    let (status, replaced) = app.put("/jobs/h", &body).await;
    assert_eq!(
        (status, &replaced["data"]["history"]),
        (200, &Value::Null),
        "{replaced}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE history IS NULL")
            .await,
        1
    );

    let edited = app
        .pool
        .execute(r#"UPDATE jobs SET history = '{"keep_runs": 0}' WHERE id = 'h'"#)
        .await;
    assert_eq!(edited, 1);
    let (status, broken) = app.get("/jobs/h").await;
    assert_eq!(status, 200, "{broken}");
    assert_eq!(
        broken["data"],
        json!({"id": "h", "health": "broken",
            "problem": "history.keep_runs: must be between 1 and 100000000, got 0"})
    );
}
