//! The login and the jobs page: what a key opens, the table, a name that is markup, and the
//! first page of ten thousand jobs.

use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::browser::Browser;
use crate::helpers::rows::{NOOP, insert_interval_jobs};
use crate::helpers::{ADMIN_KEY, cron_job, interval_job, spawn_app};

/// An admin logs in with its key: the key is kept in session storage only (not in the URL, no
/// cookie), the jobs table lists the jobs with the trigger in words and as the expression, and
/// the login and jobs pages (with the timeline) pass axe. Writes the README's screenshot.
#[tokio::test]
async fn an_admin_logs_in_and_sees_every_job_in_the_table() {
    let app = spawn_app().await;
    app.create_job(&cron_job("nightly-backup", "0 3 * * *", "Europe/Berlin"))
        .await;
    let mut hourly = interval_job("cache-refresh", 3600);
    hourly["name"] = json!("Refresh the cache");
    app.create_job(&hourly).await;
    app.create_job(&json!({"id": "year-end", "name": "Year-end report",
        "trigger": {"type": "date", "run_at": "2030-12-31T23:00:00Z"}, "action": {"type": "noop"}}))
        .await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.goto("/ui/").await;
    browser.wait_for_element("#api-key").await;
    browser.assert_accessible("login page").await;

    browser.log_in(ADMIN_KEY, "Jobs").await;

    let row = browser
        .wait_for_text("tr[data-job='nightly-backup']", "daily at 03:00")
        .await;
    assert!(
        row.contains("(Europe/Berlin)") && row.contains("0 3 * * *"),
        "{row}"
    );
    let row = browser
        .wait_for_text("tr[data-job='cache-refresh']", "every hour")
        .await;
    assert!(row.contains("Refresh the cache"), "{row}");
    browser
        .wait_for_text("tr[data-job='year-end']", "once at 2030-12-31 23:00:00 UTC")
        .await;
    browser
        .wait_for_element("#timeline-chart g[data-job='cache-refresh'] rect.mark")
        .await;
    let stored = browser
        .run(
            "return [sessionStorage.getItem('schedlite.apiKey'), document.cookie, location.href];",
            vec![],
        )
        .await;
    assert_eq!(stored[0], json!(ADMIN_KEY), "the key is in session storage");
    assert_eq!(stored[1], json!(""), "no cookie");
    assert!(
        !stored[2].as_str().unwrap_or_default().contains(ADMIN_KEY),
        "{stored}"
    );
    browser.assert_accessible("jobs page").await;
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&shot, browser.screenshot().await).expect("screenshot written");
    println!("screenshot: {}", shot.display());
    browser.close().await;
}

/// A job named with markup shows the markup as text on the jobs page and the job page: no
/// element is created from it and no alert opens.
#[tokio::test]
async fn a_job_named_with_a_script_shows_the_name_literally() {
    let app = spawn_app().await;
    let probe = "<img src=x onerror=alert(1)>";
    let mut job = interval_job("injection-probe", 3600);
    job["name"] = json!(probe);
    app.create_job(&job).await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;

    let cell = browser
        .wait_for_text("tr[data-job='injection-probe'] .job-name", "<img")
        .await;
    assert_eq!(cell, probe);
    let images = browser
        .run("return document.querySelectorAll('img').length;", vec![])
        .await;
    assert_eq!(images, json!(0), "no element was made from the name");
    browser.assert_no_alert().await;
    browser.click("tr[data-job='injection-probe'] a").await;
    assert_eq!(browser.wait_for_text("#job-name", "<img").await, probe);
    let images = browser
        .run("return document.querySelectorAll('img').length;", vec![])
        .await;
    assert_eq!(images, json!(0));
    browser.assert_no_alert().await;
    browser.close().await;
}

/// With 10,000 jobs the page shows its first page of 50 (one API page, not every job) and
/// pages on with the cursor. Prints the time from navigation to the first page shown.
#[tokio::test]
async fn the_jobs_page_with_ten_thousand_jobs_shows_its_first_page() {
    let app = spawn_app().await;
    let start = Utc::now() + chrono::Duration::hours(1);
    insert_interval_jobs(
        app.pool.sqlite(),
        "bulk",
        10_000,
        3600,
        (start, chrono::Duration::seconds(1)),
        NOOP,
    )
    .await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.goto("/ui/#/audit").await;
    browser.wait_for_text("h1", "Audit").await;

    let began = Instant::now();
    browser.goto("/ui/#/jobs").await;
    browser
        .wait_for_text("#jobs-info", "50 jobs on this page")
        .await;
    println!(
        "10,000 jobs: first page shown {} ms after navigation",
        began.elapsed().as_millis()
    );

    let rows = browser
        .run(
            "return document.querySelectorAll('#jobs-body tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(50));
    browser.wait_for_element("tr[data-job='bulk-00000']").await;
    browser.click("#next-page").await;
    browser.wait_for_element("tr[data-job='bulk-00050']").await;
    let first: Value = browser
        .run(
            "return document.querySelector('#jobs-body tr').dataset.job;",
            vec![],
        )
        .await;
    assert_eq!(
        first,
        json!("bulk-00050"),
        "page 2 starts where page 1 ended"
    );
    browser.close().await;
}

/// The jobs page draws the next 24 hours of the jobs on it, from each job's preview: one lane
/// per job firing in that window with one mark per fire time (hourly: 24, every half hour: 48,
/// daily: 1; every minute: cut at 100, and said so), no lane for a paused job or one firing in
/// 2030, every mark inside the 24 hours, and the same as text.
#[tokio::test]
async fn the_jobs_page_draws_the_next_24_hours_of_its_jobs() {
    let app = spawn_app().await;
    app.create_job(&interval_job("hourly", 3600)).await;
    app.create_job(&cron_job("half-hourly", "*/30 * * * *", "UTC"))
        .await;
    app.create_job(&cron_job("daily", "0 3 * * *", "Europe/Berlin"))
        .await;
    app.create_job(&cron_job("every-minute", "* * * * *", "UTC"))
        .await;
    let mut paused = interval_job("paused", 60);
    paused["paused"] = json!(true);
    app.create_job(&paused).await;
    app.create_job(&json!({"id": "year-end", "trigger": {"type": "date",
        "run_at": "2030-12-31T23:00:00Z"}, "action": {"type": "noop"}}))
        .await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.wait_for_element("#timeline-chart").await;

    let lanes = browser
        .run(
            "return Object.fromEntries([...document.querySelectorAll('#timeline-chart g.lane')]
                .map(g => [g.dataset.job, g.querySelectorAll('rect.mark').length]));",
            vec![],
        )
        .await;
    assert_eq!(
        lanes,
        json!({"every-minute": 100, "half-hourly": 48, "hourly": 24, "daily": 1})
    );
    let outside = browser
        .run(
            "const xs = [...document.querySelectorAll('#timeline-chart rect.mark')]
                .map(m => Number(m.getAttribute('x')) + 1);
             return xs.filter(x => x < 190 || x > 190 + 24 * 30).length;",
            vec![],
        )
        .await;
    assert_eq!(outside, json!(0), "every mark is within the 24 hours");
    let summary = browser.text("#timeline-summary").await.unwrap_or_default();
    assert_eq!(
        summary,
        "173 or more fire times of 4 jobs in the next 24 hours, from now on the left to 24 \
         hours from now on the right."
    );
    let text = browser
        .run(
            "return [...document.querySelectorAll('#timeline-text li')].map(li => li.textContent);",
            vec![],
        )
        .await;
    let text: Vec<&str> = text
        .as_array()
        .expect("a list")
        .iter()
        .map(|li| li.as_str().expect("text"))
        .collect();
    assert_eq!(text.len(), 4, "{text:?}");
    assert!(
        text.iter()
            .any(|li| li.starts_with("every-minute: 100 or more times: ")
                && li.ends_with(", and 95 more.")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|li| li.starts_with("daily: 1 time: ") && li.ends_with(" UTC.")),
        "{text:?}"
    );
    browser
        .assert_accessible("jobs page with its timeline")
        .await;
    browser.close().await;
}

/// The last-run filter narrows the page shown to the jobs whose newest run has the status
/// chosen, or that never ran, and says how many of the page's jobs it shows.
#[tokio::test]
async fn the_last_run_filter_narrows_the_page_shown() {
    let app = spawn_app().await;
    for id in ["broken", "fine", "fresh"] {
        app.create_job(&interval_job(id, 3600)).await;
    }
    for (job, status) in [
        ("broken", "succeeded"),
        ("broken", "failed"),
        ("fine", "succeeded"),
    ] {
        let minute = app.run_count(job).await;
        app.pool
            .execute(&format!(
                "INSERT INTO job_runs (job_id, scheduled_at, status)
                 VALUES ('{job}', '2026-11-30T10:0{minute}:00.000Z', '{status}')"
            ))
            .await;
    }
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser
        .wait_for_text("#jobs-info", "3 jobs on this page.")
        .await;
    for (wanted, info, jobs) in [
        (
            "failed",
            "1 of 3 jobs on this page (last run: failed).",
            json!(["broken"]),
        ),
        (
            "succeeded",
            "1 of 3 jobs on this page (last run: succeeded).",
            json!(["fine"]),
        ),
        (
            "none",
            "1 of 3 jobs on this page (last run: never).",
            json!(["fresh"]),
        ),
        (
            "",
            "3 jobs on this page.",
            json!(["broken", "fine", "fresh"]),
        ),
    ] {
        browser
            .wait_for_element("#filter-last")
            .await
            .select_by_value(wanted)
            .await
            .expect("selects");
        browser.wait_for_text("#jobs-info", info).await;
        let mut shown = browser
            .run(
                "return [...document.querySelectorAll('#jobs-body tr[data-job]')].map(r => r.dataset.job);",
                vec![],
            )
            .await;
        shown
            .as_array_mut()
            .expect("a list")
            .sort_by_key(|v| v.to_string());
        assert_eq!(shown, jobs, "last run {wanted:?}");
    }
    browser.close().await;
}

/// The health column shows each job's health as the API computes it (a hand-edited row as
/// `broken`, with what is wrong), the health filter asks the API for one health, and the job
/// page shows the health and, for a broken job, the problem.
#[tokio::test]
async fn the_health_column_and_filter_show_the_health_the_api_computes() {
    let app = spawn_app().await;
    for id in ["fine", "held", "unreadable"] {
        app.create_job(&cron_job(id, "0 3 * * *", "UTC")).await;
    }
    let (status, _) = app.post("/jobs/held/pause", &json!({})).await;
    assert_eq!(status, 200);
    app.pool
        .execute("UPDATE jobs SET timezone = 'Mars/Olympus' WHERE id = 'unreadable'")
        .await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    for (id, health) in [("fine", "ok"), ("held", "paused"), ("unreadable", "broken")] {
        browser
            .wait_for_text(&format!("tr[data-job='{id}'] .health-{health}"), health)
            .await;
    }
    browser
        .wait_for_text(
            "tr[data-job='unreadable'] .job-problem",
            "unknown timezone `Mars/Olympus`",
        )
        .await;
    browser.assert_accessible("jobs page with healths").await;
    for (wanted, jobs) in [
        ("paused", json!(["held"])),
        ("broken", json!(["unreadable"])),
        ("ok", json!(["fine"])),
    ] {
        browser
            .wait_for_element("#filter-health")
            .await
            .select_by_value(wanted)
            .await
            .expect("selects");
        // The page shows one job for each filter: wait for the one wanted.
        crate::helpers::wait_for(
            &format!("the jobs of health {wanted}"),
            std::time::Duration::from_secs(10),
            || async {
                let shown = browser
                    .run(
                        "return [...document.querySelectorAll('#jobs-body tr[data-job]')].map(r => r.dataset.job);",
                        vec![],
                    )
                    .await;
                (shown == jobs).then_some(())
            },
        )
        .await;
    }
    browser
        .wait_for_element("#filter-health")
        .await
        .select_by_value("")
        .await
        .expect("selects");
    browser.goto("/ui/#/job/held").await;
    browser.wait_for_text("#job-health", "paused").await;
    browser.goto("/ui/#/job/unreadable").await;
    browser.wait_for_text("#job-health", "broken").await;
    browser
        .wait_for_text("#job-problem", "unknown timezone `Mars/Olympus`")
        .await;
    browser.close().await;
}
