//! Exclusive groups (issue 16, item 2; DESIGN.md, "Definitions you can trust"): at most one run
//! of a group at a time across every process and node. A conflicting occurrence is `skipped`
//! with the job holding the group named, or waits with `"exclusive_policy": "wait"`; a manual
//! run of a job whose group is held is refused with 409 naming the holder. Three real
//! processes hammering one group never overlap, audited from the runs' start and end times.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::child::{KEY, Server};
use crate::helpers::clock::parse_ts;
use crate::helpers::engine::fresh;
use crate::helpers::stub::Stub;
use crate::helpers::*;

crate::both_engines!(
    a_held_group_skips_naming_the_holder_and_refuses_a_manual_run,
    a_waiting_job_runs_once_the_group_is_free,
    three_processes_hammering_one_group_never_overlap,
    a_killed_holder_frees_its_group_for_the_waiting_job,
    bad_exclusive_input_is_refused_naming_the_field,
);

/// A fresh database on `engine` served with the scheduler on.
async fn app_on(engine: Engine) -> TestApp {
    let (db, guard) = fresh(engine).await;
    let mut app = start_with(test_config(&db, &scheduler_on())).await;
    app.dir = Some(guard);
    app
}

/// A job in group `group` with `policy`, firing by `trigger` and calling the stub's
/// `/sleep/{ms}`.
fn in_group(id: &str, trigger: Value, group: &str, policy: &str, stub: &Stub, ms: u64) -> Value {
    json!({
        "id": id,
        "trigger": trigger,
        "action": {"type": "http", "url": stub.url(&format!("/sleep/{ms}"))},
        "exclusive_group": group,
        "exclusive_policy": policy,
    })
}

fn every(seconds: u64) -> Value {
    json!({"type": "interval", "seconds": seconds})
}

fn at(run: &Value, field: &str) -> DateTime<Utc> {
    parse_ts(
        run[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {run}")),
    )
}

/// Every run of `job`, oldest occurrence first.
async fn runs(app: &TestApp, job: &str) -> Vec<Value> {
    let (status, page) = app.get(&format!("/jobs/{job}/runs?limit=1000")).await;
    assert_eq!(status, 200, "{page}");
    let mut runs = page["data"]["runs"].as_array().expect("runs").clone();
    runs.reverse();
    runs
}

/// The finished runs' `[started_at, finished_at]` that overlap another's, as pairs of
/// "job@occurrence" (empty when none do). A run that ends as another starts does not overlap.
fn overlaps(done: &[Value]) -> Vec<(String, String)> {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>, String)> = done
        .iter()
        .filter(|r| !r["started_at"].is_null() && !r["finished_at"].is_null())
        .map(|r| {
            let name = format!("{}@{}", r["job_id"], r["scheduled_at"]);
            (at(r, "started_at"), at(r, "finished_at"), name)
        })
        .collect();
    spans.sort();
    let mut found = Vec::new();
    let mut latest: Option<(DateTime<Utc>, String)> = None;
    for (start, end, name) in spans {
        if let Some((until, holder)) = &latest
            && start < *until
        {
            found.push((holder.clone(), name.clone()));
        }
        if latest.as_ref().is_none_or(|(until, _)| end > *until) {
            latest = Some((end, name));
        }
    }
    found
}

/// The `error` a `skipped` row of `occurrences` occurrences carries for `reason`.
fn closed(reason: &str, occurrences: i64) -> String {
    if occurrences > 1 {
        format!("{occurrences} occurrences {reason}")
    } else {
        reason.to_string()
    }
}

/// A manual run of `holder` holds group `g` for 3 s: the every-second job `ticker` in the group
/// records its occurrences meanwhile `skipped`, naming `holder`, and a manual run of `ticker` is
/// refused with 409 naming it; once the group is free `ticker` runs again, never beside it.
async fn a_held_group_skips_naming_the_holder_and_refuses_a_manual_run(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    app.create_job(&in_group("holder", every(3600), "g", "skip", &stub, 3000))
        .await;
    app.create_job(&in_group("ticker", every(1), "g", "skip", &stub, 10))
        .await;
    wait_for("a first tick", Duration::from_secs(10), || async {
        (app.succeeded_count("ticker").await >= 1).then_some(())
    })
    .await;
    let (status, body) = app.post("/jobs/holder/run", &json!({})).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = app.post("/jobs/ticker/run", &json!({})).await;
    assert_eq!(
        (status, &body["detail"]),
        (
            409,
            &json!({"code": "EXCLUSIVE_GROUP_BUSY",
                    "message": "Job 'ticker' cannot run now: exclusive group `g` is busy: job `holder` is running"})
        )
    );
    let reason = "exclusive group `g` was busy: job `holder` was running";
    let skipped = wait_for("a skipped tick", Duration::from_secs(10), || async {
        let all = runs(&app, "ticker").await;
        all.into_iter().find(|r| r["status"] == "skipped")
    })
    .await;
    let occurrences = skipped["occurrences"].as_i64().expect("occurrences");
    assert_eq!(
        skipped["error"],
        json!(closed(reason, occurrences)),
        "{skipped}"
    );
    let held = wait_for("the holder's run done", Duration::from_secs(10), || async {
        let all = runs(&app, "holder").await;
        all.into_iter().find(|r| r["status"] == "succeeded")
    })
    .await;
    let freed = at(&held, "finished_at");
    wait_for(
        "a tick after the group is free",
        Duration::from_secs(10),
        || async {
            let all = runs(&app, "ticker").await;
            all.iter()
                .any(|r| r["status"] == "succeeded" && at(r, "started_at") >= freed)
                .then_some(())
        },
    )
    .await;
    let mut all = runs(&app, "ticker").await;
    all.push(held);
    assert_eq!(overlaps(&all), Vec::<(String, String)>::new());
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
}

/// With `wait`, an occurrence due while the group is held is neither skipped nor missed: it
/// starts after the holder ends, at its own instant's key. Two waiting jobs due at the same
/// instant run one after the other.
async fn a_waiting_job_runs_once_the_group_is_free(engine: Engine) {
    let stub = Stub::start().await;
    let app = app_on(engine).await;
    app.create_job(&in_group("holder", every(3600), "g", "skip", &stub, 2000))
        .await;
    let (status, body) = app.post("/jobs/holder/run", &json!({})).await;
    assert_eq!(status, 202, "{body}");
    let due = crate::helpers::clock::trunc_ms(Utc::now() + chrono::Duration::milliseconds(500));
    let date = json!({"type": "date", "run_at": crate::helpers::clock::ts(due)});
    for id in ["first", "second"] {
        app.create_job(&in_group(id, date.clone(), "g", "wait", &stub, 700))
            .await;
    }
    let mut done = Vec::new();
    for id in ["holder", "first", "second"] {
        let run = wait_for("each run done", Duration::from_secs(20), || async {
            let all = runs(&app, id).await;
            assert!(
                all.iter()
                    .all(|r| r["status"] != "skipped" && r["status"] != "missed"),
                "{all:?}"
            );
            all.into_iter().find(|r| r["status"] == "succeeded")
        })
        .await;
        done.push(run);
    }
    assert_eq!(at(&done[1], "scheduled_at"), due);
    assert_eq!(at(&done[2], "scheduled_at"), due);
    assert!(
        at(&done[1], "started_at") >= at(&done[0], "finished_at"),
        "{done:?}"
    );
    assert_eq!(overlaps(&done), Vec::<(String, String)>::new(), "{done:?}");
    let keys = stub.keys("sleep");
    for id in ["first", "second"] {
        let key = format!("{id}@{}", crate::helpers::clock::ts(due));
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{key}");
    }
}

/// `schedlite serve` on `db` (a SQLite file or a PostgreSQL URL); its log in `dir`.
async fn serve(engine: Engine, db: &Path, dir: &Path) -> Server {
    match engine {
        Engine::Sqlite => Server::start(db, &[]).await,
        Engine::Postgres => {
            let url = db.to_str().expect("a URL");
            crate::helpers::pg::start_node(env!("CARGO_BIN_EXE_schedlite"), url, dir, &[]).await
        }
    }
}

/// `GET path` on `server` with the admin key.
async fn get(server: &Server, path: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1alpha1{path}", server.base()))
        .header("X-API-Key", KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().await.expect("json")
}

/// Three `schedlite serve` processes on one database, six every-second jobs in one group (three
/// skip, three wait), each run taking 250 ms: far more than the group can run. The audit: no
/// two runs of the group overlap, no key was sent twice, every skipped row names a job of the
/// group (or its own run, by `max_instances`), more than one process started runs, and the
/// group kept running.
async fn three_processes_hammering_one_group_never_overlap(engine: Engine) {
    let stub = Stub::start().await;
    let (db, _guard) = fresh(engine).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(serve(engine, &db, dir.path()).await);
    }
    let ids: Vec<String> = (0..6).map(|i| format!("hammer-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let policy = if i % 2 == 0 { "skip" } else { "wait" };
        let mut job = in_group(id, every(1), "hammer", policy, &stub, 250);
        job["misfire_grace_seconds"] = json!(2);
        servers[i % 3].create_job(&job).await;
    }
    wait_for(
        "the group busy for a while",
        Duration::from_secs(60),
        || async { (stub.keys("sleep").len() >= 24).then_some(()) },
    )
    .await;
    for server in &mut servers {
        server.signal("TERM");
    }
    for server in &mut servers {
        server.wait_exit(Duration::from_secs(20)).await;
    }
    let last = serve(engine, &db, dir.path()).await;
    let mut all = Vec::new();
    for id in &ids {
        let page = get(&last, &format!("/jobs/{id}/runs?limit=1000")).await;
        let runs = page["data"]["runs"].as_array().expect("runs").clone();
        all.extend(runs);
    }
    let finished: Vec<Value> = all
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .cloned()
        .collect();
    assert!(finished.len() >= 24, "{} runs", finished.len());
    assert_eq!(overlaps(&finished), Vec::<(String, String)>::new());
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
    for run in all.iter().filter(|r| r["status"] == "skipped") {
        let error = run["error"].as_str().expect("error");
        // A job's own run still going skips it by `max_instances` first.
        let own = closed(
            "max_instances runs were still running",
            run["occurrences"].as_i64().unwrap_or(1),
        );
        let named = error == own
            || ids.iter().any(|id| {
                ["running", "waiting to retry", "starting"]
                    .iter()
                    .any(|what| {
                        let reason =
                            format!("exclusive group `hammer` was busy: job `{id}` was {what}");
                        error == closed(&reason, run["occurrences"].as_i64().unwrap_or(1))
                    })
            });
        assert!(named, "{run}");
    }
    let owners = all_owners(&last, &ids).await;
    assert!(owners >= 2, "runs from {owners} process(es)");
    drop(last);
}

/// A process killed with SIGKILL while its run holds a group leaves that run `running`, so
/// the group stays held until a live process recovers the run (`interrupted`, found by its
/// heartbeat); only then does the job waiting for the group run, at its own instant.
async fn a_killed_holder_frees_its_group_for_the_waiting_job(engine: Engine) {
    let stub = Stub::start().await;
    let (db, _guard) = fresh(engine).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut doomed = serve(engine, &db, dir.path()).await;
    let survivor = serve(engine, &db, dir.path()).await;
    doomed
        .create_job(&in_group(
            "holder",
            every(3600),
            "g",
            "skip",
            &stub,
            600_000,
        ))
        .await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1alpha1/jobs/holder/run", doomed.base()))
        .header("X-API-Key", KEY)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 202);
    wait_for("the holder's call", Duration::from_secs(10), || async {
        (!stub.keys("sleep").is_empty()).then_some(())
    })
    .await;
    let due = crate::helpers::clock::trunc_ms(Utc::now() + chrono::Duration::milliseconds(500));
    let date = json!({"type": "date", "run_at": crate::helpers::clock::ts(due)});
    let mut waiter = in_group("waiter", date, "g", "wait", &stub, 10);
    waiter["misfire_grace_seconds"] = json!(300);
    survivor.create_job(&waiter).await;
    // Past its instant, the waiter waits: nothing to await but time (an absence).
    let past_due = due + chrono::Duration::milliseconds(1500) - Utc::now();
    tokio::time::sleep(past_due.to_std().unwrap_or_default()).await;
    let page = get(&survivor, "/jobs/waiter/runs?limit=10").await;
    assert_eq!(page["data"]["runs"], json!([]), "ran beside the holder");
    doomed.kill_hard().await;
    let done = wait_for("the waiter's run", Duration::from_secs(30), || async {
        let page = get(&survivor, "/jobs/waiter/runs?limit=10").await;
        let runs = page["data"]["runs"].as_array().expect("runs").clone();
        assert!(runs.iter().all(|r| r["status"] != "skipped"), "{runs:?}");
        runs.into_iter().find(|r| r["status"] == "succeeded")
    })
    .await;
    let page = get(&survivor, "/jobs/holder/runs?limit=10").await;
    let held = &page["data"]["runs"][0];
    assert_eq!(held["status"], "interrupted", "{page}");
    assert_eq!(at(&done, "scheduled_at"), due, "{done}");
    assert!(
        at(&done, "started_at") >= at(held, "finished_at"),
        "the waiter started before the holder's run was closed: {done} {held}"
    );
    assert_eq!(stub.duplicate_keys(), Vec::<String>::new());
}

/// How many processes started runs of `ids` (the owners in the audit trail of runs).
async fn all_owners(server: &Server, ids: &[String]) -> usize {
    let mut owners = std::collections::BTreeSet::new();
    for id in ids {
        let page = get(server, &format!("/jobs/{id}/runs?limit=1000")).await;
        for run in page["data"]["runs"].as_array().expect("runs") {
            if let Some(owner) = run["instance_id"].as_str() {
                owners.insert(owner.to_string());
            }
        }
    }
    owners.len()
}

/// A bad group name, an unknown policy or a policy without a group are 422s naming the field;
/// GET shows the group and policy (null without), a PUT without them leaves the group, and the
/// revisions' diff shows that change.
async fn bad_exclusive_input_is_refused_naming_the_field(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let cases = [
        (
            json!({"exclusive_group": "two words"}),
            "exclusive_group: must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got `two words`",
        ),
        (
            json!({"exclusive_group": "g".repeat(129)}),
            "exclusive_group: must be 1 to 128 characters",
        ),
        (
            json!({"exclusive_group": ""}),
            "exclusive_group: must be 1 to 128 characters of A-Z a-z 0-9 . _ : -, got ``",
        ),
        (
            json!({"exclusive_group": "g", "exclusive_policy": "queue"}),
            "exclusive_policy: must be `skip` or `wait`, got `queue`",
        ),
        (
            json!({"exclusive_policy": "wait"}),
            "exclusive_policy: needs `exclusive_group`",
        ),
        (json!({"exclusive_group": 7}), "invalid type: integer `7`"),
    ];
    for (extra, message) in cases {
        let mut job = interval_job("x", 60);
        for (k, v) in extra.as_object().expect("object") {
            job[k] = v.clone();
        }
        let (status, answer) = app.post("/jobs", &job).await;
        assert_eq!(status, 422, "{extra}: {answer}");
        let text = answer["detail"]["message"].as_str().expect("message");
        assert!(text.contains(message), "{extra}: {text}");
    }
    assert_eq!(app.get("/jobs/x").await.0, 404, "nothing was created");
    let mut job = interval_job("x", 60);
    job["exclusive_group"] = json!("db:primary");
    let created = app.create_job(&job).await;
    assert_eq!(
        (&created["exclusive_group"], &created["exclusive_policy"]),
        (&json!("db:primary"), &json!("skip"))
    );
    let (status, replaced) = app.put("/jobs/x", &interval_job("x", 60)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (
            &replaced["data"]["exclusive_group"],
            &replaced["data"]["exclusive_policy"]
        ),
        (&Value::Null, &Value::Null)
    );
    let (status, diff) = app.get("/jobs/x/revisions/1/diff/2").await;
    assert_eq!(status, 200, "{diff}");
    let changes = diff["data"]["changes"].as_array().expect("changes");
    assert!(
        changes.contains(&json!({"field": "exclusive_group", "from": "db:primary", "to": null}))
            && changes.contains(&json!({"field": "exclusive_policy", "from": "skip", "to": null})),
        "{diff}"
    );
}
