//! What each role is offered: a viewer key sees every page and no action; a monitor key sees
//! the health panel only.

use serde_json::{Value, json};

use crate::helpers::browser::Browser;
use crate::helpers::{MONITOR_KEY, cron_job, spawn_app};

/// What the page shown offers to click in its main area: each button or button-like link, by
/// id or else by its words.
async fn offered(browser: &Browser) -> Value {
    browser
        .run(
            "return [...document.querySelectorAll('main button, main a.button, main input[type=submit]')]
                .map(b => b.id || b.textContent.trim());",
            vec![],
        )
        .await
}

/// A viewer key (made with `keys create --role viewer`) sees every page an admin sees: the
/// jobs with their timeline, a job with its definition, preview, run chart and history, the
/// audit trail and the health panel with the gauges. Nothing that changes a job is offered on
/// any of them (only paging and filtering), and the form's addresses lead back to the jobs.
#[tokio::test]
async fn a_viewer_sees_every_page_with_no_action_offered() {
    let app = spawn_app().await;
    app.create_job(&cron_job("nightly-backup", "0 3 * * *", "Europe/Berlin"))
        .await;
    app.pool
        .execute(
            "INSERT INTO job_runs (job_id, scheduled_at, status, started_at, finished_at, duration_ms)
             VALUES ('nightly-backup', '2026-11-30T02:00:00.000Z', 'succeeded',
                     '2026-11-30T02:00:00.010Z', '2026-11-30T02:00:01.210Z', 1200)",
        )
        .await;
    let viewer = app.create_key("looker", "viewer");
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(&viewer, "Jobs").await;
    browser.wait_for_text("#who", "looker (viewer)").await;
    let nav = browser
        .run("return ['nav-jobs', 'nav-audit', 'nav-health'].map(id => document.getElementById(id).hidden);", vec![])
        .await;
    assert_eq!(nav, json!([false, false, false]), "every page is offered");
    browser
        .wait_for_text("tr[data-job='nightly-backup']", "daily at 03:00")
        .await;
    browser
        .wait_for_element("#timeline-chart g[data-job='nightly-backup'] rect.mark")
        .await;
    assert_eq!(offered(&browser).await, json!(["prev-page", "next-page"]));
    browser.assert_accessible("jobs page of a viewer").await;

    browser.click("tr[data-job='nightly-backup'] a").await;
    browser.wait_for_text("h1", "Job nightly-backup").await;
    browser.wait_for_text("#definition", "0 3 * * *").await;
    browser.wait_for_element("#preview li:nth-child(10)").await;
    browser
        .wait_for_element("#runs-chart rect.bar-succeeded")
        .await;
    browser.wait_for_text("#runs tbody", "succeeded").await;
    assert_eq!(offered(&browser).await, json!(["runs-prev", "runs-next"]));
    browser.assert_accessible("job page of a viewer").await;

    browser.goto("/ui/#/audit").await;
    browser
        .wait_for_text("#audit tbody", "nightly-backup")
        .await;
    assert_eq!(
        offered(&browser).await,
        json!(["Filter", "← Newer", "Older →"])
    );

    browser.goto("/ui/#/health").await;
    browser
        .wait_for_text("#gauges", "schedlite_due_backlog")
        .await;
    assert_eq!(offered(&browser).await, json!([]));

    for form in ["/ui/#/new", "/ui/#/edit/nightly-backup"] {
        browser.goto(form).await;
        browser.wait_for_hash("#/jobs").await;
        browser.wait_for_text("h1", "Jobs").await;
        browser.goto("/ui/#/health").await;
        browser.wait_for_text("h1", "Health").await;
    }
    browser.close().await;
}

/// A monitor key lands on the health panel (probes, scheduler, gauges from /metrics), the
/// jobs and audit links are not offered, and opening the jobs page by its address leads back
/// to the panel (the API would answer 403 anyway).
#[tokio::test]
async fn a_monitor_sees_the_health_panel_only() {
    let app = spawn_app().await;
    let Some(browser) = Browser::open(&app.address).await else {
        return;
    };
    browser.log_in(MONITOR_KEY, "Health").await;
    browser
        .wait_for_text("#health", "Liveness (/healthz)")
        .await;
    browser
        .wait_for_text("#gauges", "schedlite_due_backlog")
        .await;
    let panel = browser.text("#health").await.unwrap_or_default();
    assert!(
        panel.contains("Scheduler") && panel.contains("Readiness (/readyz)"),
        "{panel}"
    );
    let offered = browser
        .run("return ['nav-jobs', 'nav-audit', 'nav-health'].map(id => document.getElementById(id).hidden);", vec![])
        .await;
    assert_eq!(offered, json!([true, true, false]));
    browser.assert_accessible("health panel").await;

    for other in ["#/jobs", "#/job/any", "#/audit", "#/new", "#/edit/any"] {
        browser.goto(&format!("/ui/{other}")).await;
        browser.wait_for_hash("#/health").await;
        browser.wait_for_text("h1", "Health").await;
    }
    browser.close().await;
}
