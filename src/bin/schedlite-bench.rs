//! `schedlite-bench`: the benchmark suite (figures and method in `BENCHMARKS.md`).
//!
//! It builds nothing itself: it starts the release `schedlite` binary that sits next to its own
//! executable, each time on a fresh SQLite file in a temporary directory, listening on
//! 127.0.0.1 only, with logs going to a file in that directory. Large job sets are written
//! straight into the file with SQL (the same columns the API writes), which is much faster
//! than creating them over HTTP. Every figure is the median of `--runs` runs, with min and max.
//! The table is printed on stdout and written to `bench/results/latest.md`.
//!
//! The one command, from the repository root:
//!
//! ```sh
//! cargo build --release --bins && target/release/schedlite-bench            # full, ~12 min
//! cargo build --release --bins && target/release/schedlite-bench --quick    # ~2 min
//! target/release/schedlite-bench --only burst,raw --runs 5                  # a subset
//! ```
//!
//! Scenarios (`--only`, comma-separated): `burst` (N date jobs due at one instant), `raw`
//! (the claim-and-record SQL in a loop, in this process, no scheduler around it), `idle`
//! (50 jobs at distinct instants), `steady` (10,000 interval jobs firing for a while),
//! `api` (HTTP create, get and list rates and latencies), `scale` (a file with 1,000,000 jobs:
//! time to ready, RSS, cost of an idle loop pass). The APScheduler peer is `bench/run_peer.sh`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use schedlite::model::RunStatus;
use schedlite::scheduler::{CLAIM_BATCH, plan};
use schedlite::store::{RunRecord, Store};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

/// The admin key provisioned in every server the suite starts.
const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";
/// API prefix.
const API: &str = "/api/v1alpha1";
/// `next_run_at` of jobs waiting for their burst instant: far enough that the server ignores them.
const PLACEHOLDER: &str = "2099-01-01T00:00:00.000Z";
/// How far after the jobs are made due the burst instant lies, so the server is idle then.
const LEAD: Duration = Duration::from_millis(2000);
/// Outcomes written per transaction in the raw loop, as the server's writer does.
const RAW_RECORD_BATCH: usize = 1024;
const SCENARIOS: [&str; 6] = ["burst", "raw", "idle", "steady", "api", "scale"];

/// Benchmarks of schedlite against the real release binary.
#[derive(Debug, Parser)]
#[command(name = "schedlite-bench", about)]
struct Opts {
    /// Smaller sizes and shorter windows (under 3 minutes); long scenarios run once.
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, comma-separated: burst, raw, idle, steady, api, scale (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Runs per figure; the table shows their median, min and max.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// The `schedlite` binary to run (default: `schedlite` next to this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Where to write the table (default: `bench/results/latest.md` in the source tree).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Sizes and windows of one mode.
struct Sizes {
    bursts: Vec<usize>,
    steady_jobs: usize,
    steady_interval_s: i64,
    steady_window: Duration,
    idle_jobs: usize,
    big: usize,
    load_window: Duration,
    idle_cpu_window: Duration,
    scale_burst: usize,
    long_runs: u32,
}

impl Sizes {
    fn of(opts: &Opts) -> Sizes {
        if opts.quick {
            Sizes {
                bursts: vec![10_000],
                steady_jobs: 10_000,
                steady_interval_s: 10,
                steady_window: Duration::from_secs(10),
                idle_jobs: 50,
                big: 100_000,
                load_window: Duration::from_secs(2),
                idle_cpu_window: Duration::from_secs(5),
                scale_burst: 10_000,
                long_runs: 1,
            }
        } else {
            Sizes {
                bursts: vec![10_000, 100_000],
                steady_jobs: 10_000,
                steady_interval_s: 10,
                steady_window: Duration::from_secs(60),
                idle_jobs: 50,
                big: 1_000_000,
                load_window: Duration::from_secs(4),
                idle_cpu_window: Duration::from_secs(10),
                scale_burst: 10_000,
                long_runs: opts.runs.min(2),
            }
        }
    }
}

/// One line of the table: every run's value of one metric.
struct Metric {
    scenario: String,
    name: String,
    unit: &'static str,
    values: Vec<f64>,
}

/// The collected figures, in the order they were first reported.
#[derive(Default)]
struct Report {
    metrics: Vec<Metric>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, scenario: &str, name: &str, unit: &'static str, value: f64) {
        if let Some(m) = self
            .metrics
            .iter_mut()
            .find(|m| m.scenario == scenario && m.name == name)
        {
            m.values.push(value);
            return;
        }
        self.metrics.push(Metric {
            scenario: scenario.to_string(),
            name: name.to_string(),
            unit,
            values: vec![value],
        });
    }

    fn median(&self, scenario: &str, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.scenario == scenario && m.name == name)
            .map(|m| stats(&m.values).0)
    }

    fn note(&mut self, text: String) {
        eprintln!("note: {text}");
        self.notes.push(text);
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "| scenario | metric | median | min | max | runs | unit |\n|---|---|---:|---:|---:|---:|---|\n",
        );
        for m in &self.metrics {
            let (med, min, max) = stats(&m.values);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                m.scenario,
                m.name,
                num(med),
                num(min),
                num(max),
                m.values.len(),
                m.unit
            ));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out
    }
}

/// Median, min and max.
fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The `q` quantile (nearest rank) of sorted values.
fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn ts(at: DateTime<Utc>) -> String {
    schedlite::timestamp::format(at)
}

fn parse_ts(text: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc))
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// What every scenario needs.
struct Ctx {
    server_bin: PathBuf,
    dir: PathBuf,
    http: reqwest::Client,
    sizes: Sizes,
    runs: u32,
    clk_tck: f64,
    report: Report,
    servers_started: usize,
}

/// A running `schedlite serve`.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    base: String,
    ready_in: Duration,
}

impl Ctx {
    /// Starts the server on `db` and waits until `/readyz` answers 200.
    async fn start_server(&mut self, db: &Path) -> Result<Server> {
        self.servers_started += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = self
            .dir
            .join(format!("server-{}.log", self.servers_started));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let spawned = Instant::now();
        let mut child = tokio::process::Command::new(&self.server_bin)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("SCHEDLITE_DB", db)
            .env("SCHEDLITE_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.server_bin.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = spawned + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!(
                    "the server exited ({status}) before it was ready; see {}",
                    log.display()
                )
                .into());
            }
            if let Ok(r) = self.http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server was not ready within 120 s; see {}",
                    log.display()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Server {
            child,
            pid,
            base,
            ready_in: spawned.elapsed(),
        })
    }

    /// A fresh migrated file in the temporary directory.
    async fn new_db(&self, name: &str) -> Result<(PathBuf, SqlitePool)> {
        let path = self.dir.join(name);
        let store = Store::open(&path, true)
            .await
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
        store.close().await;
        let pool = open_pool(&path).await?;
        Ok((path, pool))
    }

    /// A copy of a template file (closed and checkpointed), for one run.
    async fn copy_db(&self, template: &Path, name: &str) -> Result<(PathBuf, SqlitePool)> {
        let path = self.dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        std::fs::copy(template, &path)?;
        let pool = open_pool(&path).await?;
        Ok((path, pool))
    }
}

impl Server {
    /// SIGTERM, then wait for a clean exit (kill after 20 s).
    async fn stop(mut self) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{API}{path}", self.base)
    }
}

async fn open_pool(path: &Path) -> Result<SqlitePool> {
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
async fn close_pool(pool: SqlitePool) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// Inserts `n` noop date jobs `{prefix}0000000…` firing once at `at`, in one transaction.
async fn insert_date_jobs(pool: &SqlitePool, prefix: &str, n: usize, at: &str) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let now = ts(Utc::now());
    sqlx::query(
        r#"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1)
           INSERT INTO jobs (id, trigger_type, timezone, run_at, action, next_run_at, created_at, updated_at)
           SELECT printf('%s%07d', ?2, i), 'date', 'UTC', ?3, '{"type":"noop"}', ?3, ?4, ?4 FROM c"#,
    )
    .bind(n as i64)
    .bind(prefix)
    .bind(at)
    .bind(&now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Inserts `n` noop interval jobs every `every_s` seconds, the i-th starting (and next due) at
/// `first + i * step_ms`, in one transaction.
async fn insert_interval_jobs(
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    every_s: i64,
    first: DateTime<Utc>,
    step_ms: f64,
) -> Result<()> {
    let now = ts(Utc::now());
    sqlx::query(
        r#"WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1),
           t(i, s) AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', (?3 + i * ?4) / 1000.0, 'unixepoch') FROM c)
           INSERT INTO jobs (id, trigger_type, timezone, interval_seconds, start_at, action, next_run_at,
                             created_at, updated_at)
           SELECT printf('%s%07d', ?2, i), 'interval', 'UTC', ?5, s, '{"type":"noop"}', s, ?6, ?6 FROM t"#,
    )
    .bind(n as i64)
    .bind(prefix)
    .bind(first.timestamp_millis())
    .bind(step_ms)
    .bind(every_s)
    .bind(&now)
    .execute(pool)
    .await?;
    Ok(())
}

fn id_range(prefix: &str) -> (String, String) {
    (format!("{prefix}0000000"), format!("{prefix}9999999"))
}

/// Makes the date jobs with `prefix` due at `at`.
async fn set_due(pool: &SqlitePool, prefix: &str, at: &str) -> Result<u64> {
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
async fn wait_runs(
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    deadline: Instant,
) -> Result<(i64, i64)> {
    let (lo, hi) = id_range(prefix);
    loop {
        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status <> 'running')
             FROM job_runs WHERE job_id BETWEEN ?1 AND ?2",
        )
        .bind(&lo)
        .bind(&hi)
        .fetch_one(pool)
        .await?;
        let (ok, closed): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if closed as usize >= n || Instant::now() > deadline {
            return Ok((ok, closed));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lateness (started − scheduled, ms, sorted) and the latest `finished_at` of the succeeded
/// runs of jobs with `prefix` whose occurrence lies in `[from, to)`.
async fn run_figures(
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

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, clk_tck: f64) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .ok_or("unreadable /proc/<pid>/stat")?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command name start at field 3 (state); utime is 14, stime 15.
    let utime: f64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: f64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) / clk_tck)
}

/// Time on CPU of all live threads of a process, in seconds, from `/proc/<pid>/task/*/schedstat`
/// (nanoseconds, unlike the 10 ms ticks of `stat`; threads that already exited are not counted,
/// which is fine for an idle server whose threads live as long as it does).
fn cpu_seconds_precise(pid: u32) -> Result<f64> {
    let mut ns: u64 = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = entry?.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(ns as f64 / 1e9)
}

/// VmRSS of a process, in MiB.
fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("unreadable VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples the peak VmRSS of `pid` until the returned sender is dropped or sent to.
fn rss_sampler(
    pid: u32,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<f64>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            if let Ok(r) = rss_mib(pid) {
                peak = peak.max(r);
            }
            tokio::select! {
                _ = &mut rx => return peak,
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    });
    (tx, task)
}

/// What one burst gave.
struct Burst {
    rate: f64,
    last_ms: f64,
    late: Vec<f64>,
    succeeded: i64,
    closed: i64,
    rss_peak: f64,
}

/// Fires the date jobs with `prefix` (already in `db`, at the placeholder instant) in one burst:
/// starts the server, makes them due `LEAD` later, waits for their runs.
async fn fire_burst(
    ctx: &mut Ctx,
    db: &Path,
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    server: Option<&Server>,
) -> Result<Burst> {
    let own = match server {
        Some(_) => None,
        None => Some(ctx.start_server(db).await?),
    };
    let pid = match (server, &own) {
        (Some(s), _) => s.pid,
        (None, Some(s)) => s.pid,
        (None, None) => return Err("BUG: no server".into()),
    };
    let due = Utc::now() + LEAD;
    let due = DateTime::from_timestamp_millis(due.timestamp_millis()).ok_or("bad instant")?;
    let due_s = ts(due);
    let changed = set_due(pool, prefix, &due_s).await?;
    if changed as usize != n {
        return Err(format!("expected {n} burst jobs, made {changed} due").into());
    }
    let margin = ms_between(Utc::now(), due);
    if margin < 1100.0 {
        ctx.report.note(format!(
            "burst of {n}: jobs were made due only {margin:.0} ms before their instant; the server may have seen them late"
        ));
    }
    let (stop_rss, rss_task) = rss_sampler(pid);
    let deadline = Instant::now() + LEAD + Duration::from_secs(30 + (n / 2_000) as u64);
    let (succeeded, closed) = wait_runs(pool, prefix, n, deadline).await?;
    let _ = stop_rss.send(());
    let rss_peak = rss_task.await.unwrap_or(f64::NAN);
    let (late, last) = run_figures(pool, prefix, &due_s, "9999").await?;
    let last_ms = last.map_or(f64::NAN, |l| ms_between(due, l));
    if let Some(s) = own {
        s.stop().await?;
    }
    Ok(Burst {
        rate: succeeded as f64 / (last_ms / 1000.0),
        last_ms,
        late,
        succeeded,
        closed,
        rss_peak,
    })
}

/// `burst`: N noop date jobs all due at one instant.
async fn scenario_burst(ctx: &mut Ctx) -> Result<()> {
    for n in ctx.sizes.bursts.clone() {
        let scenario = format!("burst {n}");
        eprintln!("== {scenario}");
        let (template, pool) = ctx.new_db(&format!("burst-{n}-template.db")).await?;
        insert_date_jobs(&pool, "b", n, PLACEHOLDER).await?;
        close_pool(pool).await?;
        for run in 0..ctx.runs {
            let (db, pool) = ctx.copy_db(&template, &format!("burst-{n}.db")).await?;
            let result = fire_burst(ctx, &db, &pool, "b", n, None).await;
            pool.close().await;
            let b = result?;
            eprintln!(
                "   run {}: {} succeeded, {:.0} occurrences/s, last finished {:.0} ms after due, lateness p99 {:.0} ms",
                run + 1,
                b.succeeded,
                b.rate,
                b.last_ms,
                pct(&b.late, 0.99)
            );
            if b.succeeded as usize != n {
                ctx.report.note(format!(
                    "{scenario} run {}: only {} of {n} runs succeeded ({} closed) before the deadline",
                    run + 1,
                    b.succeeded,
                    b.closed
                ));
            }
            let r = &mut ctx.report;
            r.add(&scenario, "occurrences run per second", "1/s", b.rate);
            r.add(&scenario, "due → last succeeded", "ms", b.last_ms);
            r.add(&scenario, "lateness p50", "ms", pct(&b.late, 0.5));
            r.add(&scenario, "lateness p99", "ms", pct(&b.late, 0.99));
            r.add(&scenario, "lateness max", "ms", pct(&b.late, 1.0));
            r.add(&scenario, "peak RSS", "MiB", b.rss_peak);
        }
    }
    Ok(())
}

/// `raw`: the same claim-and-record SQL in a loop in this process, no scheduler around it.
async fn scenario_raw(ctx: &mut Ctx) -> Result<()> {
    for n in ctx.sizes.bursts.clone() {
        let scenario = format!("raw {n}");
        eprintln!("== {scenario}");
        let (template, pool) = ctx.new_db(&format!("raw-{n}-template.db")).await?;
        insert_date_jobs(&pool, "r", n, PLACEHOLDER).await?;
        close_pool(pool).await?;
        for _ in 0..ctx.runs {
            let (db, pool) = ctx.copy_db(&template, &format!("raw-{n}.db")).await?;
            set_due(&pool, "r", &ts(Utc::now())).await?;
            close_pool(pool).await?;
            let store = Store::open(&db, false)
                .await
                .map_err(|e| format!("open: {e}"))?;
            let owner = "bench-raw";
            let started = Instant::now();
            let mut pending: Vec<RunRecord> = Vec::with_capacity(RAW_RECORD_BATCH * 2);
            let mut claimed = 0usize;
            let mut claim_time = Duration::ZERO;
            let mut record_time = Duration::ZERO;
            loop {
                let now = Utc::now();
                let t = Instant::now();
                let report = store
                    .claim_due(now, owner, CLAIM_BATCH, |job, running| {
                        plan::plan(
                            &job.trigger,
                            &job.settings,
                            job.next_run_at.unwrap_or(now),
                            now,
                            running,
                        )
                    })
                    .await
                    .map_err(|e| format!("claim_due: {e}"))?;
                claim_time += t.elapsed();
                claimed += report.runs.len();
                let at = Utc::now();
                pending.extend(report.runs.iter().map(|run| RunRecord {
                    run_id: run.run_id,
                    status: RunStatus::Succeeded,
                    started_at: at,
                    finished_at: at,
                    http_status: None,
                    exit_code: None,
                    output: None,
                    error: None,
                }));
                let done = report.jobs == 0;
                while pending.len() >= RAW_RECORD_BATCH || (done && !pending.is_empty()) {
                    let take = pending.len().min(RAW_RECORD_BATCH);
                    let batch: Vec<RunRecord> = pending.drain(..take).collect();
                    let t = Instant::now();
                    store
                        .record_outcomes(&batch)
                        .await
                        .map_err(|e| format!("record_outcomes: {e}"))?;
                    record_time += t.elapsed();
                }
                if done {
                    break;
                }
            }
            let secs = started.elapsed().as_secs_f64();
            store.close().await;
            if claimed != n {
                ctx.report
                    .note(format!("{scenario}: claimed {claimed} of {n} jobs"));
            }
            eprintln!(
                "   {claimed} in {secs:.3} s: {:.0}/s (claims {:.0} ms, records {:.0} ms)",
                claimed as f64 / secs,
                claim_time.as_secs_f64() * 1000.0,
                record_time.as_secs_f64() * 1000.0
            );
            let r = &mut ctx.report;
            r.add(
                &scenario,
                "claim+record per second",
                "1/s",
                claimed as f64 / secs,
            );
            r.add(
                &scenario,
                "time in claim_due",
                "ms",
                claim_time.as_secs_f64() * 1000.0,
            );
            r.add(
                &scenario,
                "time in record_outcomes",
                "ms",
                record_time.as_secs_f64() * 1000.0,
            );
        }
    }
    Ok(())
}

/// `idle`: jobs at distinct instants on an otherwise idle server.
async fn scenario_idle(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.idle_jobs;
    let scenario = format!("idle {n}");
    eprintln!("== {scenario}");
    for _ in 0..ctx.runs {
        let _ = std::fs::remove_file(ctx.dir.join("idle.db"));
        let (db, pool) = ctx.new_db("idle.db").await?;
        let server = ctx.start_server(&db).await?;
        let base = Utc::now() + LEAD;
        let base = DateTime::from_timestamp_millis(base.timestamp_millis()).ok_or("bad instant")?;
        let now = ts(Utc::now());
        // 97 ms apart plus a little: never on a whole second, never two at once.
        for i in 0..n {
            let at =
                ts(base + chrono::Duration::milliseconds(97 * i as i64 + (i as i64 * 13) % 50));
            sqlx::query(
                r#"INSERT INTO jobs (id, trigger_type, timezone, run_at, action, next_run_at, created_at, updated_at)
                   VALUES (printf('i%07d', ?1), 'date', 'UTC', ?2, '{"type":"noop"}', ?2, ?3, ?3)"#,
            )
            .bind(i as i64)
            .bind(&at)
            .bind(&now)
            .execute(&pool)
            .await?;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let (ok, _) = wait_runs(&pool, "i", n, deadline).await?;
        let (late, _) = run_figures(&pool, "i", "0", "9999").await?;
        server.stop().await?;
        pool.close().await;
        if ok as usize != n {
            ctx.report
                .note(format!("{scenario}: only {ok} of {n} runs succeeded"));
        }
        eprintln!(
            "   p50 {:.1} p99 {:.1} max {:.1} ms",
            pct(&late, 0.5),
            pct(&late, 0.99),
            pct(&late, 1.0)
        );
        let r = &mut ctx.report;
        r.add(&scenario, "lateness p50", "ms", pct(&late, 0.5));
        r.add(&scenario, "lateness p99", "ms", pct(&late, 0.99));
        r.add(&scenario, "lateness max", "ms", pct(&late, 1.0));
    }
    Ok(())
}

/// `steady`: interval jobs spread evenly over their interval, firing for a window.
async fn scenario_steady(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.steady_jobs;
    let every = ctx.sizes.steady_interval_s;
    let window = ctx.sizes.steady_window;
    let scenario = format!("steady {n} jobs every {every} s, {} s", window.as_secs());
    eprintln!("== {scenario}");
    for _ in 0..ctx.sizes.long_runs {
        let _ = std::fs::remove_file(ctx.dir.join("steady.db"));
        let (db, pool) = ctx.new_db("steady.db").await?;
        let server = ctx.start_server(&db).await?;
        let first = Utc::now() + LEAD;
        let first =
            DateTime::from_timestamp_millis(first.timestamp_millis()).ok_or("bad instant")?;
        let step_ms = (every * 1000) as f64 / n as f64;
        insert_interval_jobs(&pool, "s", n, every, first, step_ms).await?;
        let wait = (first - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        let cpu0 = cpu_seconds(server.pid, ctx.clk_tck)?;
        let (stop_rss, rss_task) = rss_sampler(server.pid);
        tokio::time::sleep(window).await;
        let cpu1 = cpu_seconds(server.pid, ctx.clk_tck)?;
        let _ = stop_rss.send(());
        let rss_peak = rss_task.await.unwrap_or(f64::NAN);
        // Let the last outcomes of the window reach the file.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let to = first + chrono::Duration::from_std(window)?;
        let (late, _) = run_figures(&pool, "s", &ts(first), &ts(to)).await?;
        let expected = n as f64 * window.as_secs_f64() / every as f64;
        server.stop().await?;
        pool.close().await;
        let count = late.len() as f64;
        if count < expected * 0.99 {
            ctx.report.note(format!(
                "{scenario}: {count} runs succeeded in the window, {expected:.0} expected"
            ));
        }
        let cpu_us = (cpu1 - cpu0) * 1e6 / count.max(1.0);
        eprintln!(
            "   {count} runs, lateness p50 {:.1} p99 {:.1} max {:.1} ms, CPU {:.0} µs/occurrence ({:.1}% of a core)",
            pct(&late, 0.5),
            pct(&late, 0.99),
            pct(&late, 1.0),
            cpu_us,
            (cpu1 - cpu0) * 100.0 / window.as_secs_f64()
        );
        let r = &mut ctx.report;
        r.add(&scenario, "occurrences in window", "", count);
        r.add(&scenario, "lateness p50", "ms", pct(&late, 0.5));
        r.add(&scenario, "lateness p99", "ms", pct(&late, 0.99));
        r.add(&scenario, "lateness max", "ms", pct(&late, 1.0));
        r.add(&scenario, "server CPU per occurrence", "µs", cpu_us);
        r.add(
            &scenario,
            "server CPU",
            "% of a core",
            (cpu1 - cpu0) * 100.0 / window.as_secs_f64(),
        );
        r.add(&scenario, "peak RSS", "MiB", rss_peak);
    }
    Ok(())
}

/// An HTTP workload.
#[derive(Clone, Copy)]
enum Work {
    /// `GET /jobs/{id}` of random ids among `n` jobs `s0000000…`.
    GetById { n: usize },
    /// `GET /jobs?limit=100`, each client following `next_cursor` for up to 50 pages.
    List,
    /// `POST /jobs` of a noop interval job with a generated id.
    Create,
}

struct Load {
    latencies: Vec<f64>,
    secs: f64,
    errors: usize,
}

/// Runs `work` from `clients` concurrent clients for `window` (at most 200,000 requests).
async fn load(
    http: &reqwest::Client,
    server: &Server,
    work: Work,
    clients: usize,
    window: Duration,
) -> Result<Load> {
    let started = Instant::now();
    let deadline = started + window;
    let per_client = 200_000 / clients;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let http = http.clone();
        let jobs_url = server.url("/jobs");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            while Instant::now() < deadline && latencies.len() + errors < per_client {
                let t = Instant::now();
                let ok = match work {
                    Work::GetById { n } => {
                        let id = rand::random_range(0..n.max(1));
                        let r = http
                            .get(format!("{jobs_url}/s{id:07}"))
                            .header("x-api-key", ADMIN_KEY)
                            .send()
                            .await;
                        match r {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    }
                    Work::List => {
                        let url = match &cursor {
                            Some(c) => format!("{jobs_url}?limit=100&cursor={c}"),
                            None => format!("{jobs_url}?limit=100"),
                        };
                        let r = http.get(url).header("x-api-key", ADMIN_KEY).send().await;
                        match r {
                            Ok(r) if r.status().is_success() => match r.bytes().await {
                                Ok(body) => {
                                    pages += 1;
                                    cursor = serde_json::from_slice::<serde_json::Value>(&body)
                                        .ok()
                                        .and_then(|v| {
                                            v["data"]["next_cursor"].as_str().map(str::to_string)
                                        })
                                        .filter(|_| pages % 50 != 0);
                                    true
                                }
                                Err(_) => false,
                            },
                            _ => false,
                        }
                    }
                    Work::Create => {
                        let r = http
                            .post(&jobs_url)
                            .header("x-api-key", ADMIN_KEY)
                            .header("content-type", "application/json")
                            .body(r#"{"trigger":{"type":"interval","seconds":3600},"action":{"type":"noop"}}"#)
                            .send()
                            .await;
                        match r {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    }
                };
                if ok {
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Load {
        latencies: Vec::new(),
        secs: 0.0,
        errors: 0,
    };
    for task in tasks {
        let (l, e) = task.await?;
        all.latencies.extend(l);
        all.errors += e;
    }
    all.secs = started.elapsed().as_secs_f64();
    all.latencies.sort_by(f64::total_cmp);
    Ok(all)
}

/// Builds the big template: `big` interval jobs `s…` due from tomorrow on (none fires during
/// the suite) plus `burst` date jobs `b…` at the placeholder instant.
async fn big_template(ctx: &mut Ctx) -> Result<PathBuf> {
    let path = ctx.dir.join("big-template.db");
    if path.exists() {
        return Ok(path);
    }
    let big = ctx.sizes.big;
    eprintln!("   writing {big} jobs into a template file");
    let t = Instant::now();
    let (path, pool) = ctx.new_db("big-template.db").await?;
    let first = Utc::now() + chrono::Duration::days(1);
    insert_interval_jobs(&pool, "s", big, 86_400, first, 86_400_000.0 / big as f64).await?;
    insert_date_jobs(&pool, "b", ctx.sizes.scale_burst, PLACEHOLDER).await?;
    close_pool(pool).await?;
    let size = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;
    eprintln!(
        "   done in {:.1} s, {size:.0} MiB",
        t.elapsed().as_secs_f64()
    );
    ctx.report.note(format!(
        "the {big}-job file is {size:.0} MiB ({big} interval jobs plus {} date jobs)",
        ctx.sizes.scale_burst
    ));
    Ok(path)
}

/// `api`: HTTP rates and latencies; reads against the big file, creates against an empty one.
async fn scenario_api(ctx: &mut Ctx) -> Result<()> {
    let big = ctx.sizes.big;
    let window = ctx.sizes.load_window;
    eprintln!("== api");
    let template = big_template(ctx).await?;
    let (db, pool) = ctx.copy_db(&template, "api.db").await?;
    pool.close().await;
    let server = ctx.start_server(&db).await?;
    let http = ctx.http.clone();
    // Warm the page cache and the connection pool.
    load(
        &http,
        &server,
        Work::GetById { n: big },
        4,
        Duration::from_millis(500),
    )
    .await?;
    load(&http, &server, Work::List, 2, Duration::from_millis(300)).await?;
    let get = format!("api GET /jobs/{{id}}, {big} jobs");
    let list = format!("api GET /jobs page of 100, {big} jobs");
    for _ in 0..ctx.sizes.long_runs {
        for (scenario, work) in [(&get, Work::GetById { n: big }), (&list, Work::List)] {
            for clients in [1usize, 8] {
                let l = load(&http, &server, work, clients, window).await?;
                record_load(&mut ctx.report, scenario, clients, "requests/s", true, &l);
            }
        }
    }
    let t = Instant::now();
    let healthz = http.get(format!("{}/healthz", server.base)).send().await?;
    let healthz_ok = healthz.status().is_success();
    let _ = healthz.bytes().await?;
    let healthz_ms = t.elapsed().as_secs_f64() * 1000.0;
    ctx.report.add(
        &format!("api GET /healthz, {big} jobs"),
        "latency (one call)",
        "ms",
        healthz_ms,
    );
    if !healthz_ok {
        ctx.report.note("GET /healthz did not answer 200".into());
    }
    server.stop().await?;

    let scenario = "api POST /jobs, empty file";
    for _ in 0..ctx.sizes.long_runs {
        let _ = std::fs::remove_file(ctx.dir.join("create.db"));
        let (db, pool) = ctx.new_db("create.db").await?;
        pool.close().await;
        let server = ctx.start_server(&db).await?;
        for clients in [1usize, 8] {
            let l = load(&http, &server, Work::Create, clients, window).await?;
            record_load(&mut ctx.report, scenario, clients, "creates/s", false, &l);
        }
        server.stop().await?;
    }
    Ok(())
}

/// Prints one load result and adds its rate (`rate_name`), its p50 (when `with_p50`) and its
/// p99 to the report; errors become a note.
fn record_load(
    report: &mut Report,
    scenario: &str,
    clients: usize,
    rate_name: &str,
    with_p50: bool,
    l: &Load,
) {
    let rate = l.latencies.len() as f64 / l.secs;
    let (p50, p99) = (pct(&l.latencies, 0.5), pct(&l.latencies, 0.99));
    eprintln!(
        "   {scenario}, {clients} client(s): {rate:.0} {rate_name}, p50 {p50:.2} p99 {p99:.2} ms, {} errors",
        l.errors
    );
    if l.errors > 0 {
        report.note(format!(
            "{scenario}, {clients} clients: {} errors",
            l.errors
        ));
    }
    report.add(
        scenario,
        &format!("{rate_name}, {clients} client(s)"),
        "1/s",
        rate,
    );
    if with_p50 {
        report.add(
            scenario,
            &format!("latency p50, {clients} client(s)"),
            "ms",
            p50,
        );
    }
    report.add(
        scenario,
        &format!("latency p99, {clients} client(s)"),
        "ms",
        p99,
    );
}

/// CPU seconds a server spends over `window` while nothing is due.
async fn idle_cpu(server: &Server, window: Duration) -> Result<f64> {
    let cpu0 = cpu_seconds_precise(server.pid)?;
    tokio::time::sleep(window).await;
    Ok(cpu_seconds_precise(server.pid)? - cpu0)
}

/// `scale`: a big file: time to ready, RSS at rest and in a burst, idle pass cost vs 10 jobs.
async fn scenario_scale(ctx: &mut Ctx) -> Result<()> {
    let big = ctx.sizes.big;
    let window = ctx.sizes.idle_cpu_window;
    let burst = ctx.sizes.scale_burst;
    let scenario = format!("scale {big} jobs");
    eprintln!("== {scenario}");
    let template = big_template(ctx).await?;
    for _ in 0..ctx.sizes.long_runs {
        let (db, pool) = ctx.copy_db(&template, "scale.db").await?;
        let server = ctx.start_server(&db).await?;
        let ready_ms = server.ready_in.as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rest = rss_mib(server.pid)?;
        let cpu = idle_cpu(&server, window).await?;
        let b = fire_burst(ctx, &db, &pool, "b", burst, Some(&server)).await?;
        server.stop().await?;
        pool.close().await;

        let _ = std::fs::remove_file(ctx.dir.join("small.db"));
        let (small, pool) = ctx.new_db("small.db").await?;
        insert_interval_jobs(
            &pool,
            "s",
            10,
            86_400,
            Utc::now() + chrono::Duration::days(1),
            1000.0,
        )
        .await?;
        pool.close().await;
        let server = ctx.start_server(&small).await?;
        let small_ready_ms = server.ready_in.as_secs_f64() * 1000.0;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let small_rest = rss_mib(server.pid)?;
        let small_cpu = idle_cpu(&server, window).await?;
        server.stop().await?;

        let per_s = |cpu: f64| cpu * 1000.0 / window.as_secs_f64();
        eprintln!(
            "   ready {ready_ms:.0} ms (10 jobs: {small_ready_ms:.0}), RSS rest {rest:.1} MiB (10 jobs: {small_rest:.1}), \
             burst {burst}: peak {:.1} MiB, last {:.0} ms; idle CPU {:.2} ms/s (10 jobs: {:.2})",
            b.rss_peak,
            b.last_ms,
            per_s(cpu),
            per_s(small_cpu)
        );
        let r = &mut ctx.report;
        r.add(&scenario, "process start → /readyz 200", "ms", ready_ms);
        r.add(
            &scenario,
            "process start → /readyz 200, 10 jobs",
            "ms",
            small_ready_ms,
        );
        r.add(&scenario, "VmRSS at rest", "MiB", rest);
        r.add(&scenario, "VmRSS at rest, 10 jobs", "MiB", small_rest);
        r.add(
            &scenario,
            &format!("peak VmRSS during a burst of {burst}"),
            "MiB",
            b.rss_peak,
        );
        r.add(
            &scenario,
            &format!("burst of {burst}: due → last succeeded"),
            "ms",
            b.last_ms,
        );
        r.add(
            &scenario,
            &format!("burst of {burst}: lateness p99"),
            "ms",
            pct(&b.late, 0.99),
        );
        r.add(
            &scenario,
            "idle server CPU (loop passes, heartbeat)",
            "ms CPU/s",
            per_s(cpu),
        );
        r.add(
            &scenario,
            "idle server CPU, 10 jobs",
            "ms CPU/s",
            per_s(small_cpu),
        );
    }
    Ok(())
}

/// The 1-minute load average: other work on the machine skews every figure.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kib| {
            format!(", {:.0} GiB RAM", kib / 1_048_576.0)
        });
    format!("{cpus} CPUs ({model}){mem}")
}

async fn run(opts: Opts) -> Result<()> {
    for name in &opts.only {
        if !SCENARIOS.contains(&name.as_str()) {
            return Err(format!(
                "--only: unknown scenario `{name}` (choose from {})",
                SCENARIOS.join(", ")
            )
            .into());
        }
    }
    let server_bin = match &opts.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("schedlite"),
    };
    if !server_bin.is_file() {
        return Err(format!(
            "{} not found: build it first with `cargo build --release --bins`",
            server_bin.display()
        )
        .into());
    }
    let stamp = Utc::now().format("%Y%m%d-%H%M%S");
    let dir = std::env::temp_dir().join(format!("schedlite-bench-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let selected: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| opts.only.is_empty() || opts.only.iter().any(|o| o == s))
        .collect();
    let mut ctx = Ctx {
        server_bin,
        dir: dir.clone(),
        http,
        sizes: Sizes::of(&opts),
        runs: opts.runs,
        clk_tck: clk_tck(),
        report: Report::default(),
        servers_started: 0,
    };
    let started = Instant::now();
    let load_before = loadavg();
    let mut result = Ok(());
    for name in &selected {
        let r = match *name {
            "burst" => scenario_burst(&mut ctx).await,
            "raw" => scenario_raw(&mut ctx).await,
            "idle" => scenario_idle(&mut ctx).await,
            "steady" => scenario_steady(&mut ctx).await,
            "api" => scenario_api(&mut ctx).await,
            _ => scenario_scale(&mut ctx).await,
        };
        if let Err(e) = r {
            result = Err(format!("{name}: {e} (server logs in {})", dir.display()));
            break;
        }
    }
    for n in ctx.sizes.bursts.clone() {
        if let (Some(b), Some(raw)) = (
            ctx.report
                .median(&format!("burst {n}"), "occurrences run per second"),
            ctx.report
                .median(&format!("raw {n}"), "claim+record per second"),
        ) {
            ctx.report.add(
                &format!("burst {n}"),
                "median rate / median raw limit",
                "",
                b / raw,
            );
        }
    }
    let mode = if opts.quick { "quick" } else { "full" };
    let mut doc = format!(
        "# schedlite-bench results\n\n{} · {} · load average {} before, {} after · mode {mode}, {} run(s) per figure ({} for long scenarios) · scenarios {} · {:.0} s\n\n",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        machine(),
        load_before,
        loadavg(),
        ctx.runs,
        ctx.sizes.long_runs,
        selected.join(","),
        started.elapsed().as_secs_f64()
    );
    doc.push_str(&ctx.report.markdown());
    println!("{doc}");
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results/latest.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, &doc)?;
    eprintln!("written to {}", out.display());
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map_err(Into::into)
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
