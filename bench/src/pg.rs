//! PostgreSQL scenarios (`--only pg`, with `--postgres URL`): the same release binary on a
//! fresh PostgreSQL database per run, on the same machine as the benchmark.
//!
//! - `pg burst N x1` / `x3`: N date jobs due at one instant, fired by 1 and by 3 nodes;
//! - `pg raw N`: the claim-and-record store calls in a loop in this process, one connection's
//!   worth of work with no scheduler around it: the limit the burst is a ratio of;
//! - `pg idle`: 50 jobs at distinct instants, one node: lateness;
//! - `pg get`: `GET /jobs/{id}` from 8 concurrent clients for a few seconds.

use sqlx::postgres::PgPool;

use crate::*;

/// A database of one run on the benchmark's server, dropped at the end.
struct PgDb {
    admin: PgPool,
    name: String,
    url: String,
}

impl PgDb {
    async fn create(server: &str, name: &str) -> Result<PgDb> {
        let admin = PgPool::connect(server).await?;
        let name = format!("schedlite_bench_{name}_{}", std::process::id());
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&admin)
            .await?;
        let create = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await?;
        let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
        let url = format!("{base}/{name}");
        let store = Store::open(Path::new(&url), false)
            .await
            .map_err(|e| format!("open {url}: {e}"))?;
        store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
        store.close().await;
        Ok(PgDb { admin, name, url })
    }

    fn path(&self) -> &Path {
        Path::new(&self.url)
    }

    async fn pool(&self) -> Result<PgPool> {
        Ok(PgPool::connect(&self.url).await?)
    }

    async fn drop_db(self) -> Result<()> {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&self.admin)
            .await?;
        self.admin.close().await;
        Ok(())
    }
}

/// Makes the date jobs with `prefix` due at `at`; how many.
async fn pg_set_due(pool: &PgPool, prefix: &str, at: DateTime<Utc>) -> Result<u64> {
    let (lo, hi) = id_range(prefix);
    let done =
        sqlx::query("UPDATE jobs SET run_at = $1, next_run_at = $1 WHERE id BETWEEN $2 AND $3")
            .bind(at)
            .bind(lo)
            .bind(hi)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

/// Waits until `n` runs are closed or the deadline passes; then the lateness of the succeeded
/// runs (ms, sorted), the latest finish, how many succeeded, and how many occurrences had
/// more than one row (must be 0).
async fn pg_wait_figures(
    pool: &PgPool,
    n: usize,
    deadline: Instant,
) -> Result<(Vec<f64>, Option<DateTime<Utc>>, i64)> {
    loop {
        let closed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE status <> 'running'")
                .fetch_one(pool)
                .await?;
        if closed as usize >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = sqlx::query(
        "SELECT scheduled_at, started_at, finished_at FROM job_runs WHERE status = 'succeeded'",
    )
    .fetch_all(pool)
    .await?;
    let mut late = Vec::with_capacity(rows.len());
    let mut last: Option<DateTime<Utc>> = None;
    for row in &rows {
        let scheduled: DateTime<Utc> = row.try_get(0)?;
        let started: DateTime<Utc> = row.try_get(1)?;
        let finished: DateTime<Utc> = row.try_get(2)?;
        late.push(ms_between(scheduled, started));
        last = Some(last.map_or(finished, |l| l.max(finished)));
    }
    late.sort_by(f64::total_cmp);
    Ok((late, last, rows.len() as i64))
}

/// One burst of `n` on `nodes` nodes.
async fn pg_burst(ctx: &mut Ctx, server: &str, n: usize, nodes: usize) -> Result<()> {
    let scenario = format!("pg burst {n} x{nodes}");
    eprintln!("== {scenario}");
    let db = PgDb::create(server, "burst").await?;
    seed(
        db.path(),
        "b",
        n,
        SeedTrigger::Date {
            at: parse_ts(PLACEHOLDER)?,
        },
    )
    .await?;
    let mut servers = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        servers.push(ctx.start_server(db.path()).await?);
    }
    let pool = db.pool().await?;
    let due = DateTime::from_timestamp_millis((Utc::now() + LEAD).timestamp_millis())
        .ok_or("bad instant")?;
    let changed = pg_set_due(&pool, "b", due).await?;
    if changed as usize != n {
        return Err(format!("expected {n} burst jobs, made {changed} due").into());
    }
    let deadline = Instant::now() + LEAD + Duration::from_secs(60 + (n / 1_000) as u64);
    let (late, last, succeeded) = pg_wait_figures(&pool, n, deadline).await?;
    pool.close().await;
    for s in servers {
        s.stop().await?;
    }
    db.drop_db().await?;
    let last_ms = last.map_or(f64::NAN, |l| ms_between(due, l));
    let rate = succeeded as f64 / (last_ms / 1000.0);
    eprintln!("   {succeeded} of {n} in {last_ms:.0} ms: {rate:.0}/s");
    if succeeded as usize != n {
        ctx.report
            .note(format!("{scenario}: {succeeded} of {n} succeeded"));
    }
    ctx.report
        .add(&scenario, "occurrences run per second", "1/s", rate);
    ctx.report
        .add(&scenario, "lateness p50", "ms", pct(&late, 0.5));
    ctx.report
        .add(&scenario, "lateness p99", "ms", pct(&late, 0.99));
    Ok(())
}

/// The claim-and-record store calls on `n` due jobs in a loop, in this process.
async fn pg_raw(ctx: &mut Ctx, server: &str, n: usize) -> Result<()> {
    let scenario = format!("pg raw {n}");
    eprintln!("== {scenario}");
    let db = PgDb::create(server, "raw").await?;
    seed(db.path(), "r", n, SeedTrigger::Date { at: Utc::now() }).await?;
    let store = Store::open(db.path(), false)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let raw = raw_loop(&store).await;
    store.close().await;
    db.drop_db().await?;
    raw?.report(ctx, &scenario, n)
}

/// 50 jobs at distinct instants 100 ms apart, one node: how late each starts.
async fn pg_idle(ctx: &mut Ctx, server: &str) -> Result<()> {
    eprintln!("== pg idle");
    let db = PgDb::create(server, "idle").await?;
    let first =
        DateTime::from_timestamp_millis((Utc::now() + Duration::from_secs(4)).timestamp_millis())
            .ok_or("bad instant")?;
    let n = ctx.sizes.idle_jobs;
    for i in 0..n {
        let at = first + chrono::Duration::milliseconds(100 * i as i64);
        seed(db.path(), &format!("i{i:03}-"), 1, SeedTrigger::Date { at }).await?;
    }
    let node = ctx.start_server(db.path()).await?;
    let pool = db.pool().await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (late, _, succeeded) = pg_wait_figures(&pool, n, deadline).await?;
    pool.close().await;
    node.stop().await?;
    db.drop_db().await?;
    eprintln!("   {succeeded} runs, p99 late {:.1} ms", pct(&late, 0.99));
    ctx.report
        .add("pg idle", "lateness p50", "ms", pct(&late, 0.5));
    ctx.report
        .add("pg idle", "lateness p99", "ms", pct(&late, 0.99));
    Ok(())
}

/// `GET /jobs/{id}` from 8 clients for the load window, one node.
async fn pg_get(ctx: &mut Ctx, server: &str) -> Result<()> {
    eprintln!("== pg get");
    let db = PgDb::create(server, "get").await?;
    seed(
        db.path(),
        "g",
        1_000,
        SeedTrigger::Date {
            at: parse_ts(PLACEHOLDER)?,
        },
    )
    .await?;
    let node = ctx.start_server(db.path()).await?;
    let window = ctx.sizes.load_window;
    let mut tasks = Vec::new();
    for client in 0..8u32 {
        let http = ctx.http.clone();
        let url = node.url(&format!("/jobs/g{:07}", client * 100));
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let end = Instant::now() + window;
            while Instant::now() < end {
                let t = Instant::now();
                let r = http.get(&url).header("X-API-Key", ADMIN_KEY).send().await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        times.push(t.elapsed().as_secs_f64() * 1000.0)
                    }
                    _ => return Err(format!("GET {url} failed")),
                }
            }
            Ok(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.map_err(|e| e.to_string())??);
    }
    node.stop().await?;
    db.drop_db().await?;
    times.sort_by(f64::total_cmp);
    let rate = times.len() as f64 / window.as_secs_f64();
    eprintln!("   {rate:.0} req/s, p99 {:.1} ms", pct(&times, 0.99));
    ctx.report
        .add("pg get", "GET /jobs/{id} per second", "1/s", rate);
    ctx.report
        .add("pg get", "GET /jobs/{id} p99", "ms", pct(&times, 0.99));
    Ok(())
}

/// All PostgreSQL scenarios, `ctx.runs` times each, on the server `server` names.
pub(crate) async fn scenario_pg(ctx: &mut Ctx, server: &str) -> Result<()> {
    let n = *ctx.sizes.bursts.last().ok_or("no burst size")?;
    for _ in 0..ctx.runs {
        pg_raw(ctx, server, n).await?;
        pg_burst(ctx, server, n, 1).await?;
        pg_burst(ctx, server, n, 3).await?;
        pg_idle(ctx, server).await?;
        pg_get(ctx, server).await?;
    }
    for nodes in [1, 3] {
        let scenario = format!("pg burst {n} x{nodes}");
        if let (Some(b), Some(raw)) = (
            ctx.report.median(&scenario, "occurrences run per second"),
            ctx.report
                .median(&format!("pg raw {n}"), "claim+record per second"),
        ) {
            ctx.report
                .add(&scenario, "median rate / median raw limit", "", b / raw);
        }
    }
    Ok(())
}
