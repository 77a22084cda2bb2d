//! Contention (issue "Reliability", item 2): three servers share one file while an outside
//! writer holds its write lock for 5 s. Every API answer meanwhile must come within the busy
//! timeout, as a 2xx or as a 503 `DATABASE_BUSY` with `Retry-After`; afterwards the scheduler
//! must catch up with no occurrence doubled or silently lost. Helpers are in `helpers/`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqlitePool};

use crate::helpers::child::{KEY, Server, migrate};
use crate::helpers::clock::{next_whole_second, ts};
use crate::helpers::rows::{
    NOOP, assert_each_owner_claimed, assert_integrity_ok, audit_occurrences, insert_interval_jobs,
    open_pool, running_runs, stale_skips, wait_for_occurrences,
};

/// The servers' busy timeout (`store::BUSY_TIMEOUT`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Slack on top of the busy timeout for scheduling and the HTTP round trip on a busy machine.
const MARGIN: Duration = Duration::from_secs(2);

/// The 50 jobs' instants are this far apart, spread over each second: the three servers race
/// for 50 claims a second instead of one, so each of them claims some (which the test checks).
const STAGGER: chrono::Duration = chrono::Duration::milliseconds(20);

/// How long the outside writer holds the lock.
const LOCK_HELD: Duration = Duration::from_secs(5);

/// One API call made while the lock was held.
#[derive(Debug, Clone)]
struct Answer {
    server: usize,
    endpoint: &'static str,
    /// The id a `POST /jobs` tried to create.
    new_id: Option<String>,
    /// The HTTP status, or the transport error.
    status: Result<u16, String>,
    latency: Duration,
    code: Option<String>,
    retry_after: Option<String>,
}

impl Answer {
    /// A 2xx, or a 503 `DATABASE_BUSY` with `Retry-After`, within the busy timeout + margin.
    fn acceptable(&self) -> bool {
        let in_time = self.latency <= BUSY_TIMEOUT + MARGIN;
        match self.status {
            Ok(s) if (200..300).contains(&s) => in_time,
            Ok(503) => {
                in_time
                    && self.code.as_deref() == Some("DATABASE_BUSY")
                    && self.retry_after.is_some()
            }
            _ => false,
        }
    }
}

/// Three servers on one file, 50 every-second jobs, an outside writer holding the write lock
/// for 5 s: every API answer is a timely 2xx or 503 `DATABASE_BUSY`, and afterwards every job
/// catches up with each occurrence run, missed or interrupted exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn three_servers_answer_within_the_busy_timeout_while_an_outside_writer_holds_the_lock_and_then_catch_up()
 {
    // Arrange: 50 every-second jobs 20 ms apart in a migrated file, three servers, a scratch
    // table.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("contention.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    sqlx::query("CREATE TABLE lock_scratch (id INTEGER PRIMARY KEY, at TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("scratch table");
    let start_at = next_whole_second(Utc::now());
    let ids = insert_interval_jobs(&pool, "busy", 50, 1, (start_at, STAGGER), NOOP).await;
    let mut servers = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..3 {
        let server = Server::start(&db, &[]).await;
        owners.push(server.instance_id(&pool).await);
        servers.push(server);
    }
    wait_for_occurrences(&pool, 3).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // Act: take the write lock from outside and hammer the three APIs while it is held.
    let mut writer = SqliteConnectOptions::new()
        .filename(&db)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("outside connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .expect("BEGIN IMMEDIATE");
    sqlx::query("INSERT INTO lock_scratch (at) VALUES (?)")
        .bind(ts(Utc::now()))
        .execute(&mut writer)
        .await
        .expect("insert under the lock");
    let locked = Instant::now();
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let mut hitters = Vec::new();
    for (server, s) in servers.iter().enumerate() {
        for endpoint in ["GET /jobs", "POST /jobs", "GET /healthz"] {
            for worker in 0..2 {
                let client = client.clone();
                let base = s.base().to_string();
                let answers = answers.clone();
                hitters.push(tokio::spawn(async move {
                    let mut n = 0;
                    while locked.elapsed() < LOCK_HELD {
                        n += 1;
                        let id = format!("busy-new-{server}-{worker}-{n}");
                        let answer = call(&client, &base, server, endpoint, &id).await;
                        answers.lock().expect("answers").push(answer);
                    }
                }));
            }
        }
    }
    tokio::time::sleep_until((locked + LOCK_HELD).into()).await;
    sqlx::query("COMMIT")
        .execute(&mut writer)
        .await
        .expect("COMMIT");
    let released_at = Utc::now();
    let held = locked.elapsed();
    for h in hitters {
        h.await.expect("hitter task");
    }
    let after_release = Instant::now();

    // The scheduler catches up: every job has a succeeded run scheduled after the release.
    let caught_up = wait_for_catch_up(&pool, &ts(released_at), ids.len()).await;

    for s in &servers {
        s.signal("TERM");
    }
    for s in &mut servers {
        let status = s.wait_exit(Duration::from_secs(20)).await;
        assert!(
            status.is_some_and(|st| st.success()),
            "exit 0 on SIGTERM, got {status:?}; logs:\n{}",
            s.log_tail(40)
        );
    }

    // Assert
    let answers = answers.lock().expect("answers").clone();
    report(&answers, held);
    assert_each_owner_claimed(&pool, &owners).await;
    let stale_skips = report_skips(&pool).await;
    let bad: Vec<&Answer> = answers.iter().filter(|a| !a.acceptable()).collect();
    eprintln!(
        "contention: caught up {:?} after the release ({} of {} jobs)",
        caught_up.map(|_| after_release.elapsed()),
        caught_up.unwrap_or_default(),
        ids.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {} answers were neither a timely 2xx nor a timely 503 DATABASE_BUSY with \
         Retry-After; the first: {:#?}\nserver logs:\n{}",
        bad.len(),
        answers.len(),
        &bad[..bad.len().min(10)],
        servers
            .iter()
            .map(|s| s.log_tail(15))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    assert_eq!(
        caught_up,
        Some(ids.len() as i64),
        "every job has a succeeded run scheduled after the lock, within 5 s"
    );
    for a in &answers {
        let Some(id) = &a.new_id else { continue };
        let exists: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("job count");
        let created = a.status == Ok(201);
        assert_eq!(
            exists == 1,
            created,
            "job {id} exists iff POST answered 201 (it answered {:?})",
            a.status
        );
    }
    assert_eq!(
        stale_skips, 0,
        "no occurrence is skipped because of a run whose action had already finished"
    );
    assert_eq!(
        running_runs(&pool).await,
        0,
        "no run is left running after a clean stop"
    );
    assert_integrity_ok(&pool).await;
    // Noop runs never overlap, nothing was killed and the lock (5 s) is within the misfire
    // grace (60 s): every occurrence ran, those during the lock as one coalesced catch-up.
    let audit = audit_occurrences(&pool, &ids, 1, &["succeeded"]).await;
    eprintln!(
        "contention: {} occurrences over {} jobs checked",
        audit.occurrences,
        ids.len()
    );
    assert_eq!(
        audit.first_problems(20),
        Vec::<String>::new(),
        "occurrences lost or doubled ({} problems)",
        audit.problems.len()
    );
}

/// One request to `endpoint` of the server at `base`, timed and classified.
async fn call(
    client: &reqwest::Client,
    base: &str,
    server: usize,
    endpoint: &'static str,
    new_id: &str,
) -> Answer {
    let request = match endpoint {
        "GET /jobs" => client
            .get(format!("{base}/api/v1alpha1/jobs?limit=20"))
            .header("X-API-Key", KEY),
        "POST /jobs" => client
            .post(format!("{base}/api/v1alpha1/jobs"))
            .header("X-API-Key", KEY)
            .json(
                &json!({"id": new_id, "trigger": {"type": "interval", "seconds": 3600},
                "action": {"type": "noop"}}),
            ),
        _ => client.get(format!("{base}/healthz")),
    };
    let sent = Instant::now();
    let result = request.send().await;
    let (status, code, retry_after) = match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let code = body["detail"]["code"].as_str().map(str::to_string);
            (Ok(status), code, retry_after)
        }
        Err(e) => (Err(e.to_string()), None, None),
    };
    Answer {
        server,
        endpoint,
        new_id: (endpoint == "POST /jobs").then(|| new_id.to_string()),
        status,
        latency: sent.elapsed(),
        code,
        retry_after,
    }
}

/// Prints counts per endpoint and status, and the slowest answer.
fn report(answers: &[Answer], held: Duration) {
    let mut lines: std::collections::BTreeMap<String, (usize, Duration)> = Default::default();
    for a in answers {
        let status = match &a.status {
            Ok(s) => s.to_string(),
            Err(_) => "transport error".to_string(),
        };
        let key = format!(
            "{} -> {status}{}",
            a.endpoint,
            a.code
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        );
        let entry = lines.entry(key).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(a.latency);
    }
    let per_server: Vec<usize> = (0..3)
        .map(|s| answers.iter().filter(|a| a.server == s).count())
        .collect();
    eprintln!(
        "contention: lock held {held:?}; {} answers (per server {per_server:?}):",
        answers.len()
    );
    for (key, (n, max)) in lines {
        eprintln!("  {key}: {n} answers, max latency {max:?}");
    }
    let ok = answers
        .iter()
        .filter(|a| matches!(a.status, Ok(s) if (200..300).contains(&s)))
        .count();
    let busy = answers
        .iter()
        .filter(|a| matches!(a.status, Ok(503)))
        .count();
    let max = answers.iter().map(|a| a.latency).max().unwrap_or_default();
    eprintln!(
        "contention: 2xx {ok}, 503 {busy}, other {}, max latency {max:?}",
        answers.len() - ok - busy
    );
}

/// Polls (5 s at most) until `jobs` jobs have a succeeded scheduled run after `released`.
/// Returns that count, or the last count seen (as `None` when it never got there).
async fn wait_for_catch_up(pool: &SqlitePool, released: &str, jobs: usize) -> Option<i64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT job_id) FROM job_runs WHERE status = 'succeeded'
             AND kind = 'scheduled' AND job_id LIKE 'busy-0%' AND scheduled_at > ?",
        )
        .bind(released)
        .fetch_one(pool)
        .await
        .expect("caught-up jobs");
        if n >= jobs as i64 {
            return Some(n);
        }
        if Instant::now() >= deadline {
            eprintln!("contention: only {n} of {jobs} jobs caught up within 5 s");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Counts (and prints) the `skipped` rows recorded although the run before them had already
/// finished (its action ended before the skip was decided, but its outcome was not yet
/// written), and prints one job's history as an example.
async fn report_skips(pool: &SqlitePool) -> i64 {
    let stale = stale_skips(pool).await;
    eprintln!("contention: skipped rows decided after the previous run had finished: {stale}");
    type Row = (
        String,
        Option<String>,
        i64,
        String,
        Option<String>,
        Option<String>,
    );
    let history: Vec<Row> = sqlx::query_as(
        "SELECT scheduled_at, last_scheduled_at, occurrences, status, started_at, finished_at
         FROM job_runs WHERE job_id = 'busy-00000' ORDER BY scheduled_at",
    )
    .fetch_all(pool)
    .await
    .expect("history");
    eprintln!("contention: busy-00000 (scheduled, last, occurrences, status, started, finished):");
    for row in history {
        eprintln!("  {row:?}");
    }
    stale
}
