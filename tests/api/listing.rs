//! Listing jobs terminates (issue 18): paging `GET /jobs` while every job fires returns each
//! job exactly once in both orders, and the listing's parameters are checked.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

crate::both_engines!(
    listing_jobs_that_fire_every_second_ends_with_each_job_once,
    the_first_page_is_ordered_by_next_run_with_paused_jobs_last,
    list_limit_defaults_to_100_and_stops_at_1000,
    bad_orders_and_cursors_are_refused_naming_the_field
);

/// Jobs in the scenario.
const JOBS: usize = 2000;
/// Page size in the scenario.
const PAGE: usize = 100;
/// Pages a terminating listing of [`JOBS`] takes: every page but the last is full, and the
/// last full page says there is no more (the server reads one row ahead), so exactly
/// `JOBS / PAGE`. A listing that serves a job twice needs more.
const PAGES: usize = JOBS / PAGE;
/// Where a listing that does not terminate is cut off (the old cursor passed 200 pages).
const GIVE_UP_AFTER: usize = 5 * PAGES;

/// Requests in flight at once while seeding.
const SEED_WORKERS: usize = 16;
/// How long one PUT is retried while the server answers 503 (busy).
const SEED_RETRY_FOR: Duration = Duration::from_secs(60);

/// Creates `ids` as interval jobs firing every `seconds`, [`SEED_WORKERS`] requests at a time.
async fn seed(app: &TestApp, ids: &[String], seconds: u64) {
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..SEED_WORKERS {
        let client = app.client.clone();
        let jobs: Vec<(String, Value)> = ids
            .iter()
            .skip(worker)
            .step_by(SEED_WORKERS)
            .map(|id| (app.url(&format!("/jobs/{id}")), interval_job(id, seconds)))
            .collect();
        workers.spawn(async move {
            for (url, body) in jobs {
                // 503 DATABASE_BUSY says "retry later": on a loaded machine the scheduler's
                // claims of the jobs already seeded can hold the write lock past the busy
                // timeout, and a client is expected to retry then.
                let deadline = tokio::time::Instant::now() + SEED_RETRY_FOR;
                loop {
                    let resp = client
                        .put(&url)
                        .header("X-API-Key", ADMIN_KEY)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("request sent");
                    let (status, answer) = parse(resp).await;
                    if status == 503 && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    assert_eq!(status, 201, "PUT {url}: {answer}");
                    break;
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a seeding worker failed");
    }
}

/// The largest run id so far.
async fn last_run_id(app: &TestApp) -> i64 {
    app.count("SELECT coalesce(max(id), 0) FROM job_runs").await
}

/// Follows `next_cursor` from `first` with a pause between pages, as an export script would;
/// returns the ids served, page by page.
async fn list_all(app: &TestApp, first: &str, pause: Duration) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut path = first.to_string();
    loop {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        let ids = body["data"]["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .map(|job| job["id"].as_str().expect("id").to_string())
            .collect();
        pages.push(ids);
        let Some(cursor) = body["data"]["next_cursor"].as_str() else {
            return pages;
        };
        assert!(
            pages.len() < GIVE_UP_AFTER,
            "the listing did not end after {GIVE_UP_AFTER} pages"
        );
        let sep = if first.contains('?') { '&' } else { '?' };
        path = format!("{first}{sep}cursor={cursor}");
        // The pause is the scenario (a client doing work between pages), not a wait for a
        // condition: jobs must fire between pages for the test to mean anything.
        tokio::time::sleep(pause).await;
    }
}

/// The scenario: 2,000 interval jobs firing every second, pages of 100 with 100 ms
/// between them. In next-run order (the default) and in id order the listing ends after
/// exactly 20 full pages with every job exactly once, although thousands of runs happen
/// meanwhile.
async fn listing_jobs_that_fire_every_second_ends_with_each_job_once(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    let ids: Vec<String> = (0..JOBS).map(|i| format!("busy-{i:04}")).collect();
    seed(&app, &ids, 1).await;
    let expected: BTreeSet<String> = ids.iter().cloned().collect();
    // Every job has fired once: the system is as busy as it gets.
    wait_for("every job to fire", Duration::from_secs(60), || async {
        let fired = app
            .count("SELECT count(DISTINCT job_id) FROM job_runs")
            .await;
        (fired == JOBS as i64).then_some(())
    })
    .await;
    for first in ["/jobs?limit=100", "/jobs?limit=100&order=id"] {
        let runs_before = last_run_id(&app).await;
        let pages = list_all(&app, first, Duration::from_millis(100)).await;
        let runs_during = last_run_id(&app).await - runs_before;
        // Some 2,000 runs a second over at least 2 s: far more jobs moved than one page holds.
        assert!(
            runs_during >= JOBS as i64,
            "{first}: only {runs_during} runs while listing; the scenario needs jobs firing"
        );
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![PAGE; PAGES], "{first}: page sizes");
        let served: Vec<&String> = pages.iter().flatten().collect();
        let unique: BTreeSet<String> = served.iter().map(|id| id.to_string()).collect();
        assert_eq!(unique, expected, "{first}: every job served");
        assert_eq!(served.len(), JOBS, "{first}: no job served twice");
        if first.contains("order=id") {
            let mut sorted = served.clone();
            sorted.sort();
            assert_eq!(served, sorted, "{first}: in id order");
        }
    }
}

/// The first page in next-run order is the live view: sorted by `next_run_time`, paused and
/// finished jobs last, and `order=next_run` is the default spelled out.
async fn the_first_page_is_ordered_by_next_run_with_paused_jobs_last(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("hourly", 3600)).await;
    app.create_job(&interval_job("minutely", 60)).await;
    let mut paused = interval_job("resting", 5);
    paused["paused"] = json!(true);
    app.create_job(&paused).await;
    app.create_job(&interval_job("daily", 86400)).await;
    for path in ["/jobs", "/jobs?order=next_run"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let ids = page_ids(&body);
        assert_eq!(ids, ["minutely", "hourly", "daily", "resting"], "{path}");
        assert_eq!(body["data"]["next_cursor"], Value::Null, "{path}");
    }
    let (status, body) = app.get("/jobs?order=id&limit=2").await;
    assert_eq!(status, 200, "{body}");
    let ids = page_ids(&body);
    assert_eq!(ids, ["daily", "hourly"]);
    let cursor = body["data"]["next_cursor"].as_str().expect("more follow");
    let (status, body) = app.get(&format!("/jobs?order=id&cursor={cursor}")).await;
    assert_eq!(status, 200, "{body}");
    let ids = page_ids(&body);
    assert_eq!(ids, ["minutely", "resting"]);
    assert_eq!(body["data"]["next_cursor"], Value::Null, "the last page");
}

fn validation(message: &str) -> Value {
    json!({"detail": {"code": "VALIDATION_ERROR", "message": message}})
}

/// `limit` is 100 by default, 1000 at most; 0 and 1001 are refused naming `limit`.
async fn list_limit_defaults_to_100_and_stops_at_1000(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let ids: Vec<String> = (0..1001).map(|i| format!("job-{i:04}")).collect();
    seed(&app, &ids, 3600).await;
    for (path, size, more) in [
        ("/jobs", 100, true),
        ("/jobs?order=id", 100, true),
        ("/jobs?limit=1", 1, true),
        ("/jobs?limit=1000", 1000, true),
        ("/jobs?limit=1000&order=id", 1000, true),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body["data"]["jobs"].as_array().map(Vec::len),
            Some(size),
            "{path}"
        );
        assert_eq!(body["data"]["next_cursor"].is_string(), more, "{path}");
    }
    for (path, message) in [
        (
            "/jobs?limit=1001",
            "limit: must be between 1 and 1000, got 1001",
        ),
        ("/jobs?limit=0", "limit: must be between 1 and 1000, got 0"),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!((status, body), (422, validation(message)), "{path}");
    }
}

/// Bad `order` values, junk cursors and a cursor of the other order are 422s naming the field.
async fn bad_orders_and_cursors_are_refused_naming_the_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    for id in ["a", "b", "c"] {
        app.create_job(&interval_job(id, 3600)).await;
    }
    let (_, by_id) = app.get("/jobs?order=id&limit=1").await;
    let id_cursor = by_id["data"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let (_, by_next) = app.get("/jobs?limit=1").await;
    let next_cursor = by_next["data"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let unknown_order = "order: unknown variant `name`, expected `next_run` or `id`";
    let not_ours = "cursor: is not a cursor returned by this API";
    let other_order =
        "cursor: belongs to a listing in another order: pass the same `order` as its first page";
    let cases = [
        ("/jobs?order=name".to_string(), unknown_order),
        (
            "/jobs?order=".to_string(),
            "order: unknown variant ``, expected `next_run` or `id`",
        ),
        ("/jobs?cursor=garbage".to_string(), not_ours),
        // The cursor format before issue 18 (next run, newline, id).
        (
            "/jobs?cursor=MjA5OS0wMS0wMVQwMDowMDowMC4wMDBaCmE".to_string(),
            not_ours,
        ),
        (
            format!("/jobs?order=next_run&cursor={id_cursor}"),
            other_order,
        ),
        (format!("/jobs?cursor={id_cursor}"), other_order),
        (format!("/jobs?order=id&cursor={next_cursor}"), other_order),
    ];
    for (path, message) in cases {
        let (status, body) = app.get(&path).await;
        assert_eq!((status, body), (422, validation(message)), "{path}");
    }
}

/// The ids of the jobs on a page, in order.
fn page_ids(body: &Value) -> Vec<&str> {
    body["data"]["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect()
}
