//! `retries` (issue 12, item 1): a burst of HTTP jobs whose target fails every call, each
//! retried three times (four attempts, no delay between them, so the retry path runs as fast
//! as the server can take it), against the same number of attempts made as first attempts
//! (four times the jobs, one attempt each) on the same target in the same run. The ratio is
//! what the retry path costs per attempt; the target counts every (key, attempt) it gets, so
//! an attempt sent twice, or never, fails the scenario.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};

use crate::*;

/// Attempts each retried job gets.
const ATTEMPTS: usize = 4;

/// Requests the target got, by (Idempotency-Key, Schedlite-Attempt).
type Seen = Arc<Mutex<HashMap<(String, String), u32>>>;

/// The failing target: answers 500 to everything, noting each request's key and attempt.
struct Target {
    url: String,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    async fn start() -> Result<Target> {
        let seen: Seen = Arc::default();
        let noted = seen.clone();
        let router = axum::Router::new().fallback(move |headers: HeaderMap| {
            let noted = noted.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string()
                };
                let pair = (header("idempotency-key"), header("schedlite-attempt"));
                if let Ok(mut seen) = noted.lock() {
                    *seen.entry(pair).or_default() += 1;
                }
                (StatusCode::INTERNAL_SERVER_ERROR, "boom")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Target { url, seen, task })
    }

    /// Forgets what it got (between runs).
    fn clear(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }

    /// (requests in all, pairs sent more than once, distinct attempt numbers).
    fn tally(&self) -> (u64, usize, Vec<String>) {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let total = seen.values().map(|n| u64::from(*n)).sum();
        let twice = seen.values().filter(|n| **n > 1).count();
        let mut attempts: Vec<String> = seen.keys().map(|(_, a)| a.clone()).collect();
        attempts.sort();
        attempts.dedup();
        (total, twice, attempts)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the scenario; see the module documentation.
pub(crate) async fn scenario_retries(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.retry_jobs;
    let scenario = format!("retries: {n} failing jobs x {ATTEMPTS} attempts");
    eprintln!("== {scenario}");
    let target = Target::start().await?;
    let retried = template(ctx, "retries-template.db", "r", n, ATTEMPTS, &target.url).await?;
    let single = template(ctx, "single-template.db", "s", n * ATTEMPTS, 1, &target.url).await?;
    for run in 0..ctx.runs {
        // A B, B A, …: whatever the first burst after a copy pays falls on both sides.
        let order = if run % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for retrying in order {
            let (file, prefix, jobs, label) = if retrying {
                (&retried, "r", n, "retried")
            } else {
                (&single, "s", n * ATTEMPTS, "first attempts")
            };
            target.clear();
            let rate = fire(ctx, file, prefix, jobs, n * ATTEMPTS).await?;
            let (total, twice, attempts) = target.tally();
            let expected = (n * ATTEMPTS) as u64;
            if total != expected || twice > 0 {
                return Err(format!(
                    "{scenario} ({label}) run {}: the target got {total} requests (expected {expected}), {twice} attempts more than once",
                    run + 1
                )
                .into());
            }
            eprintln!(
                "   run {} {label}: {rate:.0} attempts/s, {total} requests, attempts {attempts:?}, none twice",
                run + 1
            );
            let r = &mut ctx.report;
            r.add(
                &scenario,
                &format!("attempts per second, {label}"),
                "1/s",
                rate,
            );
            r.add(
                &scenario,
                &format!("attempts sent twice, {label}"),
                "",
                twice as f64,
            );
        }
    }
    let rate =
        |r: &Report, label: &str| r.median(&scenario, &format!("attempts per second, {label}"));
    if let (Some(retried), Some(first)) = (
        rate(&ctx.report, "retried"),
        rate(&ctx.report, "first attempts"),
    ) {
        ctx.report.add(
            &scenario,
            "median rate, retried / first attempts",
            "",
            retried / first,
        );
    }
    Ok(())
}

/// A template file of `n` date jobs `{prefix}…` POSTing to `url`, with `attempts` attempts
/// each (no delay between them) when more than one.
async fn template(
    ctx: &Ctx,
    name: &str,
    prefix: &str,
    n: usize,
    attempts: usize,
    url: &str,
) -> Result<PathBuf> {
    let (file, pool) = ctx.new_db(name).await?;
    insert_date_jobs(&file, prefix, n, PLACEHOLDER).await?;
    let action: Action = serde_json::from_value(serde_json::json!(
        {"type": "http", "method": "POST", "url": url, "timeout_seconds": 30}))?;
    let retry = (attempts > 1).then(|| {
        serde_json::json!({"max_attempts": attempts, "initial_delay_seconds": 0,
                           "max_delay_seconds": 1, "multiplier": 1.0, "jitter": false})
        .to_string()
    });
    let (lo, hi) = id_range(prefix);
    sqlx::query("UPDATE jobs SET action = ?1, retry = ?2 WHERE id BETWEEN ?3 AND ?4")
        .bind(serde_json::to_string(&action)?)
        .bind(retry)
        .bind(lo)
        .bind(hi)
        .execute(&pool)
        .await?;
    close_pool(pool).await?;
    Ok(file)
}

/// Fires the `jobs` date jobs `{prefix}…` of a copy of `template` at one instant and waits
/// until `attempts` attempts have ended with none pending. Returns attempts per second, from
/// the instant to the last attempt's end.
async fn fire(
    ctx: &mut Ctx,
    template: &Path,
    prefix: &str,
    jobs: usize,
    attempts: usize,
) -> Result<f64> {
    let (db, pool) = ctx.copy_db(template, &format!("{prefix}-run.db")).await?;
    let server = ctx.start_server(&db).await?;
    let due = Utc::now() + LEAD;
    let due = DateTime::from_timestamp_millis(due.timestamp_millis()).ok_or("bad instant")?;
    if set_due(&pool, prefix, &ts(due)).await? as usize != jobs {
        return Err(format!("expected {jobs} jobs with prefix {prefix}").into());
    }
    let deadline = Instant::now() + LEAD + Duration::from_secs(120);
    let last = loop {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE status <> 'running' AND retry_at IS NULL),
                    count(*) FILTER (WHERE status = 'running' OR retry_at IS NOT NULL),
                    max(finished_at)
             FROM job_runs",
        )
        .fetch_one(&pool)
        .await?;
        let (ended, open): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if ended as usize >= attempts && open == 0 {
            break parse_ts(row.try_get::<&str, _>(2)?)?;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{prefix}: {ended} of {attempts} attempts ended, {open} open at the deadline"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.stop().await?;
    pool.close().await;
    Ok(attempts as f64 / (ms_between(due, last) / 1000.0))
}
