//! Clock steps (issue 16, item 4) in a real process whose wall clock steps while it runs
//! (`serve --test-clock-step AFTER_MS:BY_MS`, hidden): the loop sees the step, logs it and
//! counts it in `schedlite_clock_steps_total`; a step back fires no occurrence twice (each
//! `Idempotency-Key` once) and the job goes on firing; a step forward is downtime (the
//! occurrences skipped over beyond the grace are one `missed` row). The detection itself is
//! unit-tested with injected clocks in `src/scheduler/clock.rs`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::child::Server;
use crate::helpers::engine::fresh;
use crate::helpers::stub::Stub;
use crate::helpers::*;

crate::both_engines!(
    a_step_back_fires_nothing_twice_and_is_counted,
    a_step_forward_is_downtime_and_is_counted,
);

/// `schedlite serve` on `db` (a SQLite file or a PostgreSQL URL) with `flags`; its log in `dir`.
async fn serve(engine: Engine, db: &Path, dir: &Path, flags: &[&str]) -> Server {
    match engine {
        Engine::Sqlite => Server::start(db, flags).await,
        Engine::Postgres => {
            let url = db.to_str().expect("a URL");
            crate::helpers::pg::start_node(env!("CARGO_BIN_EXE_schedlite"), url, dir, flags).await
        }
    }
}

/// `GET path` on `server` with the admin key.
async fn get(server: &Server, path: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1alpha1{path}", server.base()))
        .header("X-API-Key", crate::helpers::child::KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("json")
}

/// The value of `schedlite_clock_steps_total{direction="…"}`.
async fn steps(server: &Server, direction: &str) -> u64 {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1alpha1/metrics", server.base()))
        .header("X-API-Key", crate::helpers::child::KEY)
        .send()
        .await
        .expect("sent");
    let text = resp.text().await.expect("text");
    let prefix = format!("schedlite_clock_steps_total{{direction=\"{direction}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{prefix} in the metrics:\n{text}"))
        .trim()
        .parse()
        .expect("a count")
}

/// Every run of `job`, oldest first.
async fn runs(server: &Server, job: &str) -> Vec<Value> {
    let page = get(server, &format!("/jobs/{job}/runs?limit=1000")).await;
    let mut runs = page["data"]["runs"].as_array().expect("runs").clone();
    runs.reverse();
    runs
}

/// A job every second calling the stub's `/ok`, with the grace `grace`.
fn ticking(stub: &Stub, grace: u32) -> Value {
    let mut job = interval_job("tick", 1);
    job["misfire_grace_seconds"] = json!(grace);
    job["action"] = json!({"type": "http", "url": stub.url("/ok")});
    job
}

/// The clock goes 4 s back 3 s after start: the step is counted once and logged, the job keeps
/// firing afterwards, and no occurrence is sent twice.
async fn a_step_back_fires_nothing_twice_and_is_counted(engine: Engine) {
    let stub = Stub::start().await;
    let (db, _guard) = fresh(engine).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut server = serve(
        engine,
        &db,
        dir.path(),
        &["--test-clock-step", "3000:-4000"],
    )
    .await;
    server.create_job(&ticking(&stub, 60)).await;
    wait_for("the step seen", Duration::from_secs(15), || async {
        (steps(&server, "backward").await == 1).then_some(())
    })
    .await;
    let at_step = stub.keys("ok").len();
    wait_for(
        "firing again after the step",
        Duration::from_secs(15),
        || async { (stub.keys("ok").len() >= at_step + 3).then_some(()) },
    )
    .await;
    assert_eq!(steps(&server, "forward").await, 0);
    assert_eq!(
        stub.duplicate_keys(),
        Vec::<String>::new(),
        "no occurrence twice"
    );
    let all = runs(&server, "tick").await;
    let mut instants: Vec<&str> = all
        .iter()
        .map(|r| r["scheduled_at"].as_str().expect("scheduled_at"))
        .collect();
    instants.dedup();
    assert_eq!(instants.len(), all.len(), "one row per occurrence");
    assert!(
        all.iter()
            .all(|r| r["status"] == "succeeded" || r["status"] == "running"),
        "nothing missed or skipped: {all:?}"
    );
    server.kill_hard().await;
    let logs = server.logs();
    assert!(
        logs.contains("the wall clock stepped") && logs.contains("direction=\"backward\""),
        "{logs}"
    );
}

/// The clock goes 5 s forward 3 s after start: the step is counted, and the occurrences it
/// skipped over beyond the 1 s grace are one `missed` row, as after downtime.
async fn a_step_forward_is_downtime_and_is_counted(engine: Engine) {
    let stub = Stub::start().await;
    let (db, _guard) = fresh(engine).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut server = serve(engine, &db, dir.path(), &["--test-clock-step", "3000:5000"]).await;
    server.create_job(&ticking(&stub, 1)).await;
    wait_for("the step seen", Duration::from_secs(15), || async {
        (steps(&server, "forward").await == 1).then_some(())
    })
    .await;
    let missed = wait_for("a missed row", Duration::from_secs(10), || async {
        let all = runs(&server, "tick").await;
        all.into_iter().find(|r| r["status"] == "missed")
    })
    .await;
    let count = missed["occurrences"].as_i64().expect("occurrences");
    assert!(count >= 3, "the seconds stepped over are missed: {missed}");
    assert_eq!(steps(&server, "backward").await, 0);
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
    server.kill_hard().await;
}
