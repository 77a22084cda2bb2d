//! Load (issue "Reliability", item 6): 200 concurrent API clients create, list, pause, resume
//! and delete jobs for `LOAD_SECONDS` (default 10; the long mode is `LOAD_SECONDS=30`) while
//! 1,000 jobs fire every second (1,000 occurrences a second, so each job has one occurrence per
//! second of the run and a gap in its history shows). No 5xx, no lost or doubled occurrence,
//! every run starts less than one interval after its instant; latency percentiles are printed.
//! `LOAD_CLIENTS` changes the client count. Helpers are in `helpers/`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sqlx::SqlitePool;

use crate::helpers::child::{KEY, Server, migrate};
use crate::helpers::clock::next_whole_second;
use crate::helpers::random::{XorShift, env_number, percentile, seed_from_env};
use crate::helpers::rows::{
    NOOP, assert_integrity_ok, audit_occurrences, insert_interval_jobs, open_pool, print_counts,
    running_runs,
};

/// How many jobs fire.
const JOBS: usize = 1_000;

/// How often each of them fires.
const EVERY_SECONDS: u32 = 1;

/// The scheduler keeps up when 99 % of the runs start before the job's next instant: a run
/// later than one interval means occurrences pile up faster than they are started.
const LAG_P99_BOUND: Duration = Duration::from_secs(EVERY_SECONDS as u64);

/// One API call.
#[derive(Debug, Clone)]
struct Call {
    op: &'static str,
    /// The HTTP status, or the transport error.
    status: Result<u16, String>,
    code: Option<String>,
    latency: Duration,
}

/// 200 API clients for LOAD_SECONDS while 1,000 jobs fire every second: no 5xx or other failed
/// call, no occurrence lost, doubled or late by a whole interval.
#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_api_clients_get_no_server_error_while_a_thousand_jobs_fire_every_second_and_no_occurrence_is_lost_or_late()
 {
    // Arrange: 1,000 every-second jobs, their instants 1 ms apart (one occurrence per
    // millisecond, as many a second as if they all fired together, without one burst).
    let seconds: u64 = env_number("LOAD_SECONDS", 10);
    let clients: u64 = env_number("LOAD_CLIENTS", 200);
    let seed = seed_from_env("LOAD_SEED");
    eprintln!("load: LOAD_SECONDS={seconds} LOAD_CLIENTS={clients} LOAD_SEED={seed}");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("load.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    let start_at = next_whole_second(Utc::now()) + chrono::Duration::seconds(1);
    let spread = (start_at, chrono::Duration::milliseconds(1));
    let ids = insert_interval_jobs(&pool, "load", JOBS, EVERY_SECONDS, spread, NOOP).await;
    let mut server = Server::start(&db, &[]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(usize::try_from(clients).expect("small"))
        .build()
        .expect("client");

    // Act: the clients, each on its own jobs, until the deadline.
    let began = Instant::now();
    let until = began + Duration::from_secs(seconds);
    let calls = Arc::new(Mutex::new(Vec::<Call>::new()));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let base = server.base().to_string();
        let calls = calls.clone();
        let mut rng = XorShift::new(seed.wrapping_add(c.wrapping_mul(0x9E37_79B9)));
        tasks.push(tokio::spawn(async move {
            let mut mine: Vec<String> = Vec::new();
            let mut created = 0;
            let mut local = Vec::new();
            while Instant::now() < until {
                let roll = rng.between(0, 99);
                let pick = if mine.is_empty() {
                    0
                } else {
                    rng.between(0, mine.len() as u64 - 1) as usize
                };
                let (op, request) = if mine.is_empty() || roll < 25 {
                    created += 1;
                    let id = format!("client-{c}-{created}");
                    mine.push(id.clone());
                    (
                        "create",
                        client
                            .post(format!("{base}/api/v1alpha1/jobs"))
                            .json(&json!({
                            "id": id, "trigger": {"type": "interval", "seconds": 3600},
                            "action": {"type": "noop"}})),
                    )
                } else if roll < 55 {
                    (
                        "list",
                        client.get(format!("{base}/api/v1alpha1/jobs?limit=50")),
                    )
                } else if roll < 70 {
                    (
                        "pause",
                        client.post(format!("{base}/api/v1alpha1/jobs/{}/pause", mine[pick])),
                    )
                } else if roll < 85 {
                    (
                        "resume",
                        client.post(format!("{base}/api/v1alpha1/jobs/{}/resume", mine[pick])),
                    )
                } else {
                    let id = mine.swap_remove(pick);
                    (
                        "delete",
                        client.delete(format!("{base}/api/v1alpha1/jobs/{id}")),
                    )
                };
                let sent = Instant::now();
                let result = request.header("X-API-Key", KEY).send().await;
                let (status, code) = match result {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        (
                            Ok(status),
                            body["detail"]["code"].as_str().map(str::to_string),
                        )
                    }
                    Err(e) => (Err(e.to_string()), None),
                };
                local.push(Call {
                    op,
                    status,
                    code,
                    latency: sent.elapsed(),
                });
            }
            calls.lock().expect("calls").extend(local);
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let took = began.elapsed();
    let lag = scheduling_lag(&pool).await;
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(30)).await;

    // Assert
    let calls = calls.lock().expect("calls").clone();
    let failed = report(&calls, took);
    eprintln!(
        "load: scheduler lag (start - scheduled) over {} runs: p50 {:?} p99 {:?} max {:?}",
        lag.len(),
        percentile(&lag, 50.0),
        percentile(&lag, 99.0),
        lag.last().copied().unwrap_or_default()
    );
    print_counts(&pool).await;
    assert!(
        percentile(&lag, 99.0) < LAG_P99_BOUND,
        "the scheduler fell behind: lag p99 {:?} over {} runs (bound {LAG_P99_BOUND:?})",
        percentile(&lag, 99.0),
        lag.len()
    );
    assert!(
        lag.len() >= JOBS * (seconds as usize).saturating_sub(2),
        "only {} runs started in {seconds} s for {JOBS} every-second jobs",
        lag.len()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.log_tail(40)
    );
    assert!(
        failed.is_empty(),
        "{} of {} calls failed (5xx, transport error or an unexpected status); the first: \
         {:#?}\nserver log tail:\n{}",
        failed.len(),
        calls.len(),
        &failed[..failed.len().min(10)],
        server.log_tail(20)
    );
    assert_eq!(
        running_runs(&pool).await,
        0,
        "no run is left running after a clean stop"
    );
    // Noop runs never overlap, nothing was killed, and a run later than the 60 s misfire
    // grace would already have failed the lag bound: every occurrence ran.
    let audit = audit_occurrences(&pool, &ids, i64::from(EVERY_SECONDS), &["succeeded"]).await;
    eprintln!(
        "load: {} occurrences over {} jobs checked",
        audit.occurrences,
        ids.len()
    );
    assert_eq!(
        audit.first_problems(20),
        Vec::<String>::new(),
        "occurrences lost or doubled ({} problems)",
        audit.problems.len()
    );
    assert_integrity_ok(&pool).await;
}

/// Prints calls per op and status and the latency percentiles; returns the failed calls.
fn report(calls: &[Call], took: Duration) -> Vec<Call> {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls {
        let status = match &c.status {
            Ok(s) => s.to_string(),
            Err(_) => "transport error".to_string(),
        };
        let code = c
            .code
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        *per.entry(format!("{} -> {status}{code}", c.op))
            .or_default() += 1;
    }
    let mut latencies: Vec<Duration> = calls.iter().map(|c| c.latency).collect();
    latencies.sort_unstable();
    eprintln!(
        "load: {} calls in {took:?} ({:.0}/s): p50 {:?} p99 {:?} max {:?}",
        calls.len(),
        calls.len() as f64 / took.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default()
    );
    for op in ["create", "list", "pause", "resume", "delete"] {
        let mut l: Vec<Duration> = calls
            .iter()
            .filter(|c| c.op == op)
            .map(|c| c.latency)
            .collect();
        l.sort_unstable();
        eprintln!(
            "  {op}: {} calls, p50 {:?} p99 {:?} max {:?}",
            l.len(),
            percentile(&l, 50.0),
            percentile(&l, 99.0),
            l.last().copied().unwrap_or_default()
        );
    }
    for (key, n) in &per {
        eprintln!("  {key}: {n}");
    }
    calls
        .iter()
        .filter(|c| {
            let expected = match c.op {
                "create" => 201,
                _ => 200,
            };
            c.status != Ok(expected)
        })
        .cloned()
        .collect()
}

/// How late each scheduled run of the every-second jobs started, sorted.
async fn scheduling_lag(pool: &SqlitePool) -> Vec<Duration> {
    let lags: Vec<i64> = sqlx::query_scalar(
        "SELECT CAST(round((julianday(started_at) - julianday(ifnull(last_scheduled_at, scheduled_at)))
            * 86400000.0) AS INTEGER)
         FROM job_runs WHERE kind = 'scheduled' AND started_at IS NOT NULL AND job_id LIKE 'load-%'",
    )
    .fetch_all(pool)
    .await
    .expect("lags");
    let mut lags: Vec<Duration> = lags
        .into_iter()
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
        .collect();
    lags.sort_unstable();
    lags
}
