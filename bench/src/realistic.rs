//! The realistic big file (issue 15, item 4): the `api` and `scale` figures are read on a file
//! that looks like one a server has used for a while, not on jobs with no past. Beside the
//! big set of interval jobs it holds [`RUNS_PER_JOB`] finished runs of every job (so
//! `GET /jobs/{id}` finds a last run among a long history, and every claim inserts into a
//! large `job_runs`), and runs left `running` by a process that died, so the time to ready
//! includes their recovery.

use crate::*;

/// Finished runs of every big-file job.
pub(crate) const RUNS_PER_JOB: u32 = 10;

/// The dead process's instance id, owner of the runs left `running`.
pub(crate) const DEAD_OWNER: &str = "bench-dead-node";

/// One run left `running` for every this many big-file jobs (1,000 at 1,000,000 jobs).
const ONE_LEFT_RUNNING_PER: usize = 1_000;

/// Adds the history of the big file's `big` jobs `{prefix}…` to `db`: [`RUNS_PER_JOB`]
/// `succeeded` runs each, a day apart, ending yesterday; then one run left `running` by
/// [`DEAD_OWNER`] for every [`ONE_LEFT_RUNNING_PER`] jobs, an hour ago, with that process's
/// registration (another host, its heartbeat an hour old), as a node that died mid-run leaves
/// them. Returns (finished runs, runs left running).
pub(crate) async fn seed_realistic_history(
    db: &Path,
    pool: &SqlitePool,
    prefix: &str,
    big: usize,
) -> Result<(u64, u64)> {
    let jobs = u32::try_from(big)?;
    let now = Utc::now();
    let store = Store::open(db, false)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let history = SeedHistory {
        prefix,
        jobs,
        per_job: RUNS_PER_JOB,
        first: now - chrono::Duration::days(i64::from(RUNS_PER_JOB)),
        step_ms: 86_400_000,
        status: RunStatus::Succeeded,
        owner: None,
    };
    let left_running = SeedHistory {
        jobs: u32::try_from((big / ONE_LEFT_RUNNING_PER).max(1))?,
        per_job: 1,
        first: now - chrono::Duration::hours(1),
        step_ms: 1,
        status: RunStatus::Running,
        owner: Some(DEAD_OWNER),
        ..history
    };
    let seeded = async {
        let finished = store.seed_history(history).await?;
        let left = store.seed_history(left_running).await?;
        Ok::<_, schedlite::store::StoreError>((finished, left))
    }
    .await;
    store.close().await;
    let (finished, left) = seeded.map_err(|e| format!("seed history: {e}"))?;
    let hour_ago = ts(now - chrono::Duration::hours(1));
    sqlx::query(
        "INSERT INTO instances (id, pid, hostname, proc_start, started_at, heartbeat_at)
         VALUES (?1, 4194304, 'bench-dead-host', NULL, ?2, ?2)",
    )
    .bind(DEAD_OWNER)
    .bind(&hour_ago)
    .execute(pool)
    .await?;
    Ok((finished, left))
}

/// Runs of [`DEAD_OWNER`] still `running`: 0 once a server has recovered them.
pub(crate) async fn left_running(pool: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM job_runs WHERE status = 'running' AND owner_id = ?1",
    )
    .bind(DEAD_OWNER)
    .fetch_one(pool)
    .await?)
}

/// Waits (up to `limit`) until `server` has completed its first retention pass, which starts
/// with the server and walks the whole history: read figures taken meanwhile would measure the
/// pass too. Returns how long the wait was; `None` for a build that does not count its passes
/// (before `schedlite_prune_passes_total`, e.g. a `--baseline`), which is not waited for.
pub(crate) async fn first_prune_pass(
    http: &reqwest::Client,
    server: &Server,
    limit: Duration,
) -> Result<Option<Duration>> {
    let started = Instant::now();
    loop {
        let text = http
            .get(server.url("/metrics"))
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .await?
            .text()
            .await?;
        let passes = text
            .lines()
            .find_map(|l| l.strip_prefix("schedlite_prune_passes_total "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        match passes {
            Some(n) if n >= 1.0 => return Ok(Some(started.elapsed())),
            Some(_) if started.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Some(_) => return Err(format!("no retention pass done within {limit:?}").into()),
            None => return Ok(None),
        }
    }
}
