//! Rows the scenarios read and write in the server's file from outside, as an operator would.

use crate::*;

pub(crate) async fn open_pool(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30));
    Ok(SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?)
}

/// Checkpoints and closes, so the main file alone holds everything (for copying).
pub(crate) async fn close_pool(pool: SqlitePool) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Seeds `n` noop date jobs `{prefix}0000000…` firing once at `at`, through the store's bulk
/// seeding (one transaction).
pub(crate) async fn insert_date_jobs(db: &Path, prefix: &str, n: usize, at: &str) -> Result<()> {
    let at = parse_ts(at)?;
    seed(db, prefix, n, SeedTrigger::Date { at }).await
}

/// Seeds `n` noop interval jobs every `every_s` seconds, the i-th starting (and next due) at
/// `first + i * step_ms`, through the store's bulk seeding (one transaction).
pub(crate) async fn insert_interval_jobs(
    db: &Path,
    prefix: &str,
    n: usize,
    every_s: i64,
    first: DateTime<Utc>,
    step_ms: f64,
) -> Result<()> {
    let trigger = SeedTrigger::Interval {
        every_seconds: every_s,
        first,
        step_ms,
    };
    seed(db, prefix, n, trigger).await
}

pub(crate) async fn seed(db: &Path, prefix: &str, n: usize, trigger: SeedTrigger) -> Result<()> {
    let n = u32::try_from(n).map_err(|_| format!("cannot seed {n} jobs: at most {}", u32::MAX))?;
    let store = Store::open(db, false)
        .await
        .map_err(|e| format!("open {}: {e}", db.display()))?;
    let seeded = store.seed_noop_jobs(prefix, n, trigger, Utc::now()).await;
    store.close().await;
    seeded.map_err(|e| format!("seed {n} jobs into {}: {e}", db.display()).into())
}

pub(crate) fn id_range(prefix: &str) -> (String, String) {
    (format!("{prefix}0000000"), format!("{prefix}9999999"))
}

/// Makes the date jobs with `prefix` due at `at`.
pub(crate) async fn set_due(pool: &SqlitePool, prefix: &str, at: &str) -> Result<u64> {
    let (lo, hi) = id_range(prefix);
    let done =
        sqlx::query("UPDATE jobs SET run_at = ?1, next_run_at = ?1 WHERE id BETWEEN ?2 AND ?3")
            .bind(at)
            .bind(lo)
            .bind(hi)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

/// Waits until `n` runs of the jobs with `prefix` are closed (not `running`) or the deadline
/// passes. Returns (succeeded, closed).
///
/// While it waits it reads only the largest run id and whether the `running` partial index
/// has an entry, both O(log n): counting the burst's own rows every few milliseconds took a third of the CPU
/// from the server it measures during a 100,000 burst (perf, 2026-12-03), which the probe, run
/// alone, never paid. Nothing but the measured jobs inserts runs meanwhile, so the rows
/// added since the wait began tell how many were claimed; the exact counts are read once at
/// the end.
pub(crate) async fn wait_runs(
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    deadline: Instant,
) -> Result<(i64, i64)> {
    let (mut succeeded, mut closed) = count_runs(pool, prefix).await?;
    let base: i64 = sqlx::query_scalar("SELECT ifnull(max(id), 0) FROM job_runs")
        .fetch_one(pool)
        .await?;
    let base = base - closed;
    while (closed as usize) < n && Instant::now() <= deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let row = sqlx::query(
            "SELECT (SELECT ifnull(max(id), 0) FROM job_runs),
                    EXISTS (SELECT 1 FROM job_runs WHERE status = 'running')",
        )
        .fetch_one(pool)
        .await?;
        let (last, running): (i64, bool) = (row.try_get(0)?, row.try_get(1)?);
        if last - base >= n as i64 && !running {
            (succeeded, closed) = count_runs(pool, prefix).await?;
        }
    }
    if (closed as usize) < n {
        (succeeded, closed) = count_runs(pool, prefix).await?;
    }
    Ok((succeeded, closed))
}

/// (succeeded, closed) runs of the jobs with `prefix`.
async fn count_runs(pool: &SqlitePool, prefix: &str) -> Result<(i64, i64)> {
    let (lo, hi) = id_range(prefix);
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status <> 'running')
         FROM job_runs WHERE job_id BETWEEN ?1 AND ?2",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Lateness (started − scheduled, ms, sorted) and the latest `finished_at` of the succeeded
/// runs of jobs with `prefix` whose occurrence lies in `[from, to)`.
pub(crate) async fn run_figures(
    pool: &SqlitePool,
    prefix: &str,
    from: &str,
    to: &str,
) -> Result<(Vec<f64>, Option<DateTime<Utc>>)> {
    let (lo, hi) = id_range(prefix);
    let rows = sqlx::query(
        "SELECT scheduled_at, started_at, finished_at FROM job_runs
         WHERE job_id BETWEEN ?1 AND ?2 AND status = 'succeeded' AND scheduled_at >= ?3 AND scheduled_at < ?4",
    )
    .bind(lo)
    .bind(hi)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut late = Vec::with_capacity(rows.len());
    let mut last: Option<DateTime<Utc>> = None;
    for row in rows {
        let scheduled = parse_ts(row.try_get::<&str, _>(0)?)?;
        let started = parse_ts(row.try_get::<&str, _>(1)?)?;
        let finished = parse_ts(row.try_get::<&str, _>(2)?)?;
        late.push(ms_between(scheduled, started));
        last = Some(last.map_or(finished, |l| l.max(finished)));
    }
    late.sort_by(f64::total_cmp);
    Ok((late, last))
}
