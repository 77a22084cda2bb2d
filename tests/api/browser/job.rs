//! The job page and the form: creating a cron job with the API's field errors shown next to
//! the field, its preview with DST marks, a run appearing as it fires, and the actions.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::helpers::browser::{Browser, PAGE_DEADLINE};
use crate::helpers::{
    ADMIN_KEY, cron_job, interval_job, scheduler_on, spawn_app, spawn_app_with, wait_for,
};

/// Replaces the value of the input `css` with `text`, as typed.
async fn retype(browser: &Browser, css: &str, text: &str) {
    let input = browser.wait_for_element(css).await;
    input.clear().await.expect("clears");
    input.send_keys(text).await.expect("types");
}

/// The form creates a cron job in Europe/Berlin: the expression reads in words as it is typed
/// and its next fire times show live with the spring-forward one marked,
/// a bad month and a misspelt timezone are shown next to their fields with the API's own
/// message (and nothing is created), and the saved job's page lists the next 10 fire times
/// exactly as the preview endpoint does, the spring-forward ones marked.
#[tokio::test]
async fn a_cron_job_created_in_the_form_shows_its_preview_with_dst_marks() {
    let app = spawn_app().await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.click("#new-job").await;
    browser.wait_for_text("h1", "New job").await;
    browser.assert_accessible("new job form").await;
    retype(&browser, "#f-id", "berlin-dst").await;
    retype(&browser, "#f-name", "Spring forward").await;
    retype(&browser, "#f-trigger-timezone", "Europe/Berlin").await;
    retype(&browser, "#f-trigger-expr", "30 2 * * 0").await;
    browser
        .wait_for_text(
            "#cron-words",
            "Reads as: at 02:30 on Sunday (Europe/Berlin)",
        )
        .await;
    retype(&browser, "#f-trigger-expr", "30 2 * 3 0").await;
    let (_, live) = app
        .post(
            "/triggers/preview",
            &json!({"trigger": {"type": "cron", "expr": "30 2 * 3 0",
            "timezone": "Europe/Berlin"}, "count": 5}),
        )
        .await;
    let shifted = live["data"]["times"]
        .as_array()
        .expect("times")
        .iter()
        .find(|t| t["dst"] == "shifted")
        .expect("a shifted time among the next 5")["local"]
        .as_str()
        .expect("local")
        .to_string();
    let shown = browser.wait_for_text("#live-preview", &shifted).await;
    assert!(shown.contains(&format!("{shifted}DST shifted")), "{shown}");
    retype(&browser, "#f-trigger-expr", "30 2 * 13 0").await;
    browser
        .wait_for_text(
            "#live-preview",
            "Not valid yet: INVALID_TRIGGER: trigger.expr",
        )
        .await;

    for (expr, timezone, slot) in [
        ("30 2 * 13 0", "Europe/Berlin", "#f-trigger-expr-error"),
        ("30 2 * 3 0", "Europe/Berln", "#f-trigger-timezone-error"),
    ] {
        retype(&browser, "#f-trigger-expr", expr).await;
        retype(&browser, "#f-trigger-timezone", timezone).await;
        let mut body = cron_job("berlin-dst", expr, timezone);
        body["name"] = json!("Spring forward");
        let (status, answer) = app.post("/jobs", &body).await;
        assert_eq!(status, 422, "{answer}");
        let message = answer["detail"]["message"].as_str().expect("a message");
        let (_, expected) = message
            .split_once(": ")
            .expect("the message names the field");
        browser.click("#save").await;
        assert_eq!(
            browser.wait_for_text(slot, expected).await,
            expected,
            "{expr} {timezone}"
        );
        assert_eq!(
            app.count("SELECT count(*) FROM jobs").await,
            0,
            "nothing created"
        );
    }

    retype(&browser, "#f-trigger-timezone", "Europe/Berlin").await;
    browser.click("#save").await;
    browser.wait_for_text("h1", "Job berlin-dst").await;
    let (_, preview) = app.get("/jobs/berlin-dst/preview?count=10").await;
    let times = preview["data"]["times"].as_array().expect("times").clone();
    assert!(
        times.iter().any(|t| t["dst"] == "shifted"),
        "the case has a DST mark: {preview}"
    );
    wait_for("the preview to show", PAGE_DEADLINE, || async {
        let shown = browser
            .client
            .find_all(Locator::Css("#preview li"))
            .await
            .ok()?;
        (shown.len() == 10).then_some(())
    })
    .await;
    for (i, time) in times.iter().enumerate() {
        let css = format!("#preview li:nth-child({})", i + 1);
        let text = browser.text(&css).await.expect("a preview line");
        // Shown to the second: `2027-03-28T01:30:00.000Z` reads `2027-03-28 01:30:00 UTC`.
        let utc = time["utc"].as_str().expect("utc");
        let utc = format!("{} UTC", utc[..19].replace('T', " "));
        assert!(
            text.starts_with(&utc) && text.contains(time["local"].as_str().unwrap()),
            "{text} vs {time}"
        );
        assert_eq!(
            text.contains("DST shifted"),
            time["dst"] == "shifted",
            "{text} vs {time}"
        );
    }
    browser.assert_accessible("job page").await;
    browser.close().await;
}

/// With the scheduler running, a job firing every second shows its runs on its page as they
/// happen, coloured by status, without a reload.
#[tokio::test]
async fn a_run_appears_on_the_job_page_as_the_job_fires() {
    let app = spawn_app_with(scheduler_on()).await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.goto("/ui/#/job/every-second").await;
    browser
        .wait_for_text(
            "#main .notice.error",
            "JOB_NOT_FOUND: Job 'every-second' not found",
        )
        .await;
    app.create_job(&interval_job("every-second", 1)).await;
    browser.goto("/ui/#/jobs").await;
    browser.click("tr[data-job='every-second'] a").await;
    browser.wait_for_text("h1", "Job every-second").await;
    let row = browser
        .wait_for_text("#runs tbody tr[data-run] .status-succeeded", "succeeded")
        .await;
    assert_eq!(row, "succeeded");
    assert!(app.succeeded_count("every-second").await >= 1);
    browser.close().await;
}

/// Pause, resume, run now and delete from the job page, each checked through the API; delete
/// asks first, and "Cancel" leaves the job in place.
#[tokio::test]
async fn pause_resume_run_now_and_delete_act_on_the_job() {
    let app = spawn_app_with(scheduler_on()).await;
    app.create_job(&cron_job("act-on-me", "0 3 * * *", "UTC"))
        .await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.goto("/ui/#/job/act-on-me").await;
    browser.wait_for_text("#job-state", "active").await;

    browser.click("#pause").await;
    browser.wait_for_text("#job-state", "paused").await;
    assert_eq!(
        app.get("/jobs/act-on-me").await.1["data"]["paused"],
        json!(true)
    );
    // Who paused it, and until when, show with the state.
    let pause = browser
        .wait_for_text("#job-pause", "by env-admin at ")
        .await;
    assert!(pause.ends_with(", until resumed"), "{pause}");
    browser.click("#resume").await;
    browser.wait_for_text("#job-state", "active").await;
    assert_eq!(
        app.get("/jobs/act-on-me").await.1["data"]["paused"],
        json!(false)
    );
    let (status, _) = app
        .post(
            "/jobs/act-on-me/skip",
            &json!({"count": 2, "reason": "holiday"}),
        )
        .await;
    assert_eq!(status, 200);
    browser.goto("/ui/#/jobs").await;
    browser.goto("/ui/#/job/act-on-me").await;
    browser
        .wait_for_text("#job-skip", "the next 2 occurrences: holiday")
        .await;

    browser.click("#run-now").await;
    browser
        .wait_for_text("#runs tbody tr[data-run]", "manual")
        .await;
    assert_eq!(app.run_count("act-on-me").await, 1);

    browser.click("#delete").await;
    browser
        .wait_for_text("#confirm-text", "Delete job “act-on-me”?")
        .await;
    browser.click("#confirm-no").await;
    wait_for("the dialog to close", PAGE_DEADLINE, || async {
        let open = browser
            .run("return document.getElementById('confirm').open;", vec![])
            .await;
        (open == json!(false)).then_some(())
    })
    .await;
    let (status, _): (u16, Value) = app.get("/jobs/act-on-me").await;
    assert_eq!(status, 200, "cancel keeps the job");
    browser.click("#delete").await;
    browser.click("#confirm-yes").await;
    browser.wait_for_text("h1", "Jobs").await;
    wait_for("the job to be gone", PAGE_DEADLINE, || async {
        (app.get("/jobs/act-on-me").await.0 == 404).then_some(())
    })
    .await;
    app.assert_job_gone("act-on-me").await;
    browser.close().await;
}

/// An edit in the form replaces the whole job, yet keeps what the form does not show: the
/// job's own history limits, retry, catch-up and DST policies, exclusive group, alert webhook,
/// and the HTTP action's headers (whose stored secret value the redacted GET never carried),
/// body and timeout.
#[tokio::test]
async fn an_edit_in_the_form_keeps_what_the_form_does_not_show() {
    let app = spawn_app().await;
    let mut job = cron_job("hook", "0 3 * * *", "UTC");
    job["action"] = json!({"type": "http", "method": "POST", "url": "http://127.0.0.1:9/hook",
        "headers": {"X-Token": "s3cret-token"}, "body": "{\"ping\":1}", "timeout_seconds": 5});
    job["history"] = json!({"keep_runs": 50});
    job["retry"] = json!({"max_attempts": 3});
    job["catch_up"] = json!("ask");
    job["expect"] =
        json!({"max_consecutive_failures": 2, "alert_webhook": "http://127.0.0.1:9/alert"});
    job["trigger"]["dst"] = json!({"gap": "skip", "fold": "last"});
    job["exclusive_group"] = json!("backups");
    job["exclusive_policy"] = json!("wait");
    app.create_job(&job).await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.goto("/ui/#/edit/hook").await;
    retype(&browser, "#f-name", "renamed in the form").await;
    browser.click("#save").await;
    browser
        .wait_for_text("#job-name", "renamed in the form")
        .await;
    browser
        .wait_for_text("#job-history", "at most 50 runs")
        .await;

    let (status, saved) = app.get("/jobs/hook").await;
    assert_eq!(status, 200, "{saved}");
    let data = &saved["data"];
    assert_eq!(
        (
            &data["history"],
            &data["action"]["body"],
            &data["action"]["timeout_seconds"]
        ),
        (
            &json!({"keep_days": null, "keep_failed_days": null, "keep_runs": 50}),
            &json!("{\"ping\":1}"),
            &json!(5)
        ),
        "{saved}"
    );
    assert_eq!(
        (
            &data["retry"]["max_attempts"],
            &data["catch_up"],
            &data["expect"]["alert_webhook"],
            &data["trigger"]["dst"],
            (&data["exclusive_group"], &data["exclusive_policy"])
        ),
        (
            &json!(3),
            &json!("ask"),
            &json!("http://127.0.0.1:9/alert"),
            &json!({"gap": "skip", "fold": "last"}),
            (&json!("backups"), &json!("wait"))
        ),
        "{saved}"
    );
    let secret = "SELECT count(*) FROM jobs WHERE id = 'hook' AND action LIKE '%s3cret-token%'";
    assert_eq!(
        app.count(secret).await,
        1,
        "the stored header value is kept"
    );
    browser.close().await;
}

/// The bars of the run chart shown, left to right: [run id, class, height in px].
async fn chart_bars(browser: &Browser) -> Value {
    browser
        .run(
            "return [...document.querySelectorAll('#runs-chart rect.bar')].map(b =>
                [Number(b.dataset.run), b.getAttribute('class'), Number(b.getAttribute('height'))]);",
            vec![],
        )
        .await
}

/// The job page charts its last runs: one bar per run of the newest page of its history (20),
/// oldest on the left, coloured by outcome, as tall as its duration relative to the longest (a
/// missed run, which has none, a stub), named by a summary of the same; reading older pages of
/// the history leaves the chart on the newest runs.
#[tokio::test]
async fn the_job_page_charts_its_last_runs_by_duration_and_outcome() {
    let app = spawn_app().await;
    let mut job = interval_job("charted", 3600);
    job["paused"] = json!(true);
    app.create_job(&job).await;
    // 25 runs a minute apart (ids 1 to 25): every fifth failed, the one after it missed (no
    // duration), the rest succeeded; a finished run i took i × 100 ms.
    for i in 0..25 {
        let (status, started, duration) = match i % 5 {
            0 => (
                "failed",
                "'2026-11-30T10:00:00.000Z'",
                (i * 100).to_string(),
            ),
            1 => ("missed", "NULL", "NULL".to_string()),
            _ => (
                "succeeded",
                "'2026-11-30T10:00:00.000Z'",
                (i * 100).to_string(),
            ),
        };
        app.pool
            .execute(&format!(
                "INSERT INTO job_runs (job_id, scheduled_at, status, started_at, duration_ms)
                 VALUES ('charted', '2026-11-30T10:{i:02}:00.000Z', '{status}', {started}, {duration})"
            ))
            .await;
    }
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(ADMIN_KEY, "Jobs").await;
    browser.goto("/ui/#/job/charted").await;
    browser.wait_for_element("#runs-chart rect.bar").await;

    let expected: Vec<Value> = (5..25)
        .map(|i| {
            // Rounded as the page rounds: (duration / longest) × 100 px.
            let height = (f64::from(i * 100) / 2400.0 * 100.0).round() as i64;
            let (class, height) = match i % 5 {
                0 => ("bar bar-failed", height),
                1 => ("bar bar-missed", 2),
                _ => ("bar bar-succeeded", height),
            };
            json!([i + 1, class, height])
        })
        .collect();
    assert_eq!(
        chart_bars(&browser).await,
        json!(expected),
        "the newest 20, oldest first"
    );
    let name = browser
        .run(
            "const svg = document.getElementById('runs-chart');
             return [svg.getAttribute('role'),
                     document.getElementById(svg.getAttribute('aria-labelledby')).textContent];",
            vec![],
        )
        .await;
    assert_eq!(
        name,
        json!([
            "img",
            "Durations of the last 20 runs, oldest on the left: 4 failed, 4 missed, \
             12 succeeded; the longest took 2.4 s."
        ])
    );
    let legend = browser
        .run(
            "return [...document.querySelectorAll('#runs-figure .legend-item')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(legend, json!(["failed 4", "missed 4", "succeeded 12"]));
    browser
        .assert_accessible("job page with its run chart")
        .await;

    browser.click("#runs-next").await;
    browser
        .wait_for_element("#runs tbody tr[data-run='1']")
        .await;
    assert_eq!(
        chart_bars(&browser).await,
        json!(expected),
        "older pages keep the chart"
    );
    browser.close().await;
}
