//! What each role is offered: a monitor key sees the health panel only.

use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::{MONITOR_KEY, spawn_app};

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

    browser.goto("/ui/#/jobs").await;
    browser.wait_for_text("h1", "Health").await;
    let hash = browser.run("return location.hash;", vec![]).await;
    assert_eq!(hash, json!("#/health"));
    browser.close().await;
}
