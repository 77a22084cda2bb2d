//! `GET /metrics` (issue 12, item 3) read the way Prometheus reads it: the official Python
//! client's strict OpenMetrics parser must accept the whole text, and its families must count
//! what happened — a run by outcome, lateness and duration histograms, HTTP requests by route
//! template (never by raw path), the database's gauges.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::clock::from_now;
use crate::helpers::*;

crate::both_engines!(metrics_are_valid_openmetrics_and_count_what_happened);

/// Parses OpenMetrics text from stdin with `prometheus_client`'s strict parser and prints one
/// JSON object: family name → {type, samples: [[name, labels, value]]}.
const PARSER: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type,
                        "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
"#;

/// The Python with `prometheus_client` (`SCHEDLITE_TEST_PYTHON`, which `.ci/run` sets to a
/// venv it makes, else `python3`), or why there is none.
fn python() -> Result<String, String> {
    let python = std::env::var("SCHEDLITE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import prometheus_client"])
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if probe.status.success() {
        Ok(python)
    } else {
        Err(format!(
            "{python} has no prometheus_client (pip install prometheus-client)"
        ))
    }
}

fn parse_openmetrics(python: &str, text: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(python)
        .args(["-c", PARSER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("text written");
    let out = child.wait_with_output().expect("parser ends");
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn sample(families: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[family]["samples"]
        .as_array()?
        .iter()
        .find(|s| s[0] == name && labels.iter().all(|(k, v)| s[1][*k].as_str() == Some(*v)))
        .and_then(|s| s[2].as_f64())
}

async fn metrics_are_valid_openmetrics_and_count_what_happened(engine: Engine) {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            println!("skipped: {why}");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must parse the metrics with a real parser: {why}"
            );
            return;
        }
    };
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(&json!({"id": "once", "trigger": {"type": "date",
        "run_at": from_now(chrono::Duration::milliseconds(200))}, "action": {"type": "noop"}}))
        .await;
    let mut paused = interval_job("p", 60);
    paused["paused"] = json!(true);
    app.create_job(&paused).await;
    wait_for("the run succeeded", Duration::from_secs(5), || async {
        (app.count("SELECT count(*) FROM job_runs WHERE status = 'succeeded'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    let (status, _) = app.get("/jobs/once").await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/no-such-route").await;
    assert_eq!(status, 404);

    let (families, text) = wait_for("the outcome is counted", Duration::from_secs(5), || async {
        let resp = app
            .client
            .get(app.url("/metrics"))
            .header("X-API-Key", MONITOR_KEY)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        let text = resp.text().await.expect("text");
        let families = parse_openmetrics(&python, &text);
        let done = sample(
            &families,
            "schedlite_runs",
            "schedlite_runs_total",
            &[("status", "succeeded")],
        );
        (done == Some(1.0)).then_some((families, text))
    })
    .await;

    assert_eq!(families["schedlite_runs"]["type"], "counter");
    // No step of the clock here: both directions read 0 rather than being absent.
    assert_eq!(families["schedlite_clock_steps"]["type"], "counter");
    for direction in ["forward", "backward"] {
        assert_eq!(
            sample(
                &families,
                "schedlite_clock_steps",
                "schedlite_clock_steps_total",
                &[("direction", direction)]
            ),
            Some(0.0),
            "{direction}"
        );
    }
    assert_eq!(
        sample(&families, "schedlite_jobs", "schedlite_jobs", &[]),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &families,
            "schedlite_jobs_paused",
            "schedlite_jobs_paused",
            &[]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &families,
            "schedlite_due_backlog",
            "schedlite_due_backlog",
            &[]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &families,
            "schedlite_retries_pending",
            "schedlite_retries_pending",
            &[]
        ),
        Some(0.0)
    );
    assert_eq!(
        families["schedlite_run_lateness_seconds"]["type"],
        "histogram"
    );
    assert_eq!(
        sample(
            &families,
            "schedlite_run_lateness_seconds",
            "schedlite_run_lateness_seconds_count",
            &[]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &families,
            "schedlite_run_duration_seconds",
            "schedlite_run_duration_seconds_count",
            &[("action", "noop")]
        ),
        Some(1.0)
    );
    let requests = "schedlite_http_requests";
    assert_eq!(
        sample(
            &families,
            requests,
            "schedlite_http_requests_total",
            &[
                ("route", "/api/v1alpha1/jobs/{job_id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        Some(1.0),
        "requests are counted by route template"
    );
    assert!(
        sample(
            &families,
            requests,
            "schedlite_http_requests_total",
            &[("status", "404")]
        )
        .is_some(),
        "{text}"
    );
    assert!(!text.contains("/jobs/once"), "no series per job id: {text}");

    let (status, _) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 401);
}
