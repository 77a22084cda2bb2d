//! Real `schedlite` processes and the reliability helpers shared by `processes.rs`,
//! `torture.rs`, `contention.rs` and `load.rs`: a `schedlite serve` child ([`Server`]), a pool
//! on its file, jobs inserted with SQL, row counts and the occurrence audit. No test lives here.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;

/// Statuses a finished history may hold for noop jobs: run, missed, interrupted or skipped.
pub(crate) const FINAL_STATUSES: &[&str] = &["succeeded", "missed", "interrupted", "skipped"];

/// The admin key every [`Server`] is provisioned with (`SCHEDLITE_ADMIN_KEY`).
pub(crate) const KEY: &str = "reliability-admin-key-0123456789";

/// A `schedlite serve` child process on its own port; killed with SIGKILL (and reaped) on drop
/// if still running, so a failing test leaves no server behind.
pub(crate) struct Server {
    child: Child,
    base: String,
    log: PathBuf,
    client: reqwest::Client,
}

impl Server {
    /// Starts `schedlite serve` on `db` on a free port with [`KEY`] provisioned and `extra`
    /// flags, and waits until `/readyz` answers 200. Retries on another port if the child exits
    /// before it is ready (the free port was taken meanwhile).
    pub(crate) async fn start(db: &Path, extra: &[&str]) -> Server {
        let mut last_logs = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let log = db.with_file_name(format!("serve-{port}.log"));
            let file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_schedlite"))
                .arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .args(extra)
                .env("SCHEDLITE_DB", db)
                .env("SCHEDLITE_ADMIN_KEY", KEY)
                .env_remove("SCHEDLITE_MONITOR_KEY")
                .env_remove("SCHEDLITE_LISTEN")
                .env_remove("SCHEDLITE_SHUTDOWN_GRACE_SECONDS")
                .env_remove("SCHEDLITE_ALLOW_COMMAND_JOBS")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::from(file.try_clone().expect("log file")))
                .stderr(Stdio::from(file))
                .spawn()
                .expect("schedlite serve spawns");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
                client: reqwest::Client::new(),
            };
            if server.wait_ready(Duration::from_secs(20)).await {
                return server;
            }
            last_logs = server.logs();
        }
        panic!("schedlite serve did not become ready; last logs:\n{last_logs}");
    }

    /// True once `/readyz` answers 200; false if the process exits first. Panics after `timeout`.
    async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/readyz", self.base);
        loop {
            if self.child.try_wait().expect("try_wait").is_some() {
                return false;
            }
            if let Ok(resp) = self.client.get(&url).send().await
                && resp.status().as_u16() == 200
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz not 200 after {timeout:?}; logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Creates a job through the API with [`KEY`] and asserts a 201.
    pub(crate) async fn create_job(&self, body: &Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1alpha1/jobs", self.base))
            .header("X-API-Key", KEY)
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 201, "creating {body}: {text}");
    }

    /// This process's id in `instances` (and `job_runs.owner_id`), found by its pid.
    pub(crate) async fn instance_id(&self, pool: &SqlitePool) -> String {
        sqlx::query_scalar(
            "SELECT id FROM instances WHERE pid = ? ORDER BY started_at DESC LIMIT 1",
        )
        .bind(i64::from(self.child.id()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("no instance row for pid {}: {e}", self.child.id()))
    }

    /// Sends `SIGsig` with `kill(1)`.
    pub(crate) fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{sig} {}", self.child.id());
    }

    /// SIGKILL, then reap the child: an unreaped zombie still has its `/proc` entry and would
    /// look alive to the other servers.
    pub(crate) async fn kill_hard(&mut self) {
        self.signal("KILL");
        let status = self.wait_exit(Duration::from_secs(5)).await;
        assert!(status.is_some(), "SIGKILL did not end the process");
    }

    /// Waits up to `timeout` for the process to exit (reaping it); `None` if it is still running.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process wrote on stdout and stderr so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of [`Server::logs`].
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Sends SIGTERM to `child` (a `schedlite` process with piped output), asserting `kill` worked,
/// and waits for it to exit; returns its exit status and everything it wrote.
pub(crate) async fn terminate_and_collect(child: Child) -> Output {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait")
}

/// Runs `schedlite migrate` on `db`, as an operator preparing a file would.
pub(crate) fn migrate(db: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .arg("migrate")
        .arg("--db")
        .arg(db)
        .env_remove("SCHEDLITE_DB")
        .output()
        .expect("schedlite migrate runs");
    assert!(
        out.status.success(),
        "schedlite migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pool on the same file, patient with the servers' write locks.
pub(crate) async fn open_pool(db: &Path) -> SqlitePool {
    SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(db)
            .busy_timeout(Duration::from_secs(30)),
    )
    .await
    .expect("pool on the file")
}

/// The stored text of an instant (`2026-11-28T12:00:00.000Z`).
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a stored timestamp.
pub(crate) fn parse_ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad timestamp {text:?}: {e}"))
        .with_timezone(&Utc)
}

/// The first whole second after `now`.
pub(crate) fn next_whole_second(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(chrono::Duration::seconds(1))
        .expect("truncates")
        + chrono::Duration::seconds(1)
}

/// Inserts `n` noop interval jobs `{prefix}-00000`… every `every` seconds in one transaction.
/// Job `i` starts at `start_at + (i % spread)` seconds (spread 1: all at `start_at`), and its
/// `next_run_at` is its start. Returns the ids in order.
pub(crate) async fn insert_interval_jobs(
    pool: &SqlitePool,
    prefix: &str,
    n: usize,
    every: u32,
    start_at: DateTime<Utc>,
    spread: u32,
) -> Vec<String> {
    let created = ts(Utc::now());
    let mut tx = pool.begin().await.expect("begin");
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{prefix}-{i:05}");
        let offset = u32::try_from(i).expect("small") % spread.max(1);
        let start = ts(start_at + chrono::Duration::seconds(i64::from(offset)));
        sqlx::query(
            "INSERT INTO jobs (id, name, trigger_type, interval_seconds, start_at, action,
                 next_run_at, created_at, updated_at)
             VALUES (?, ?, 'interval', ?, ?, '{\"type\":\"noop\"}', ?, ?, ?)",
        )
        .bind(&id)
        .bind(format!("reliability job {i}"))
        .bind(i64::from(every))
        .bind(&start)
        .bind(&start)
        .bind(&created)
        .bind(&created)
        .execute(&mut *tx)
        .await
        .expect("insert job");
        ids.push(id);
    }
    tx.commit().await.expect("commit jobs");
    ids
}

/// Every job's definition (all columns but `next_run_at`), one JSON text per job, by id.
pub(crate) async fn job_definitions(pool: &SqlitePool) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, json_object('name', name, 'trigger_type', trigger_type, 'cron_expr', cron_expr,
            'timezone', timezone, 'interval_seconds', interval_seconds, 'start_at', start_at,
            'end_at', end_at, 'run_at', run_at, 'action', action, 'paused', paused,
            'misfire_grace_seconds', misfire_grace_seconds, 'coalesce_missed', coalesce_missed,
            'max_instances', max_instances, 'jitter_seconds', jitter_seconds,
            'created_at', created_at, 'updated_at', updated_at)
         FROM jobs ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("job definitions");
    rows.into_iter().collect()
}

/// One integer from a constant query.
pub(crate) async fn scalar(pool: &SqlitePool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// How many (job_id, scheduled_at) pairs have more than one row.
pub(crate) async fn doubled_occurrences(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM (SELECT job_id, scheduled_at FROM job_runs
         GROUP BY 1, 2 HAVING count(*) > 1)",
    )
    .await
}

/// How many runs read `running` (none once every server has stopped or been recovered).
pub(crate) async fn running_runs(pool: &SqlitePool) -> i64 {
    scalar(
        pool,
        "SELECT count(*) FROM job_runs WHERE status = 'running'",
    )
    .await
}

/// `PRAGMA integrity_check` answers `ok`.
pub(crate) async fn assert_integrity_ok(pool: &SqlitePool) {
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(pool)
        .await
        .expect("integrity_check");
    assert_eq!(check, vec!["ok".to_string()], "PRAGMA integrity_check");
}

/// Prints rows and occurrences per status.
pub(crate) async fn print_counts(pool: &SqlitePool) {
    let per_status: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, count(*), sum(occurrences) FROM job_runs GROUP BY status ORDER BY status",
    )
    .fetch_all(pool)
    .await
    .expect("per status");
    eprintln!("(status, rows, occurrences): {per_status:?}");
}

/// What [`audit_occurrences`] found.
pub(crate) struct OccurrenceAudit {
    /// Occurrences counted over the jobs audited.
    pub(crate) occurrences: i64,
    /// Everything wrong, one line each, prefixed with the job id.
    pub(crate) problems: Vec<String>,
}

impl OccurrenceAudit {
    /// The first `n` problems, enough to diagnose without flooding the output.
    pub(crate) fn first_problems(&self, n: usize) -> Vec<String> {
        self.problems.iter().take(n).cloned().collect()
    }
}

/// Checks the run history of each job in `ids` (interval jobs every `every` seconds, stopped:
/// no server is running): the rows sorted by `scheduled_at` start at the job's `start_at`;
/// each row stands for `occurrences` instants `every` seconds apart from `scheduled_at` to
/// `last_scheduled_at`; each row starts `every` seconds after the previous one ends; the sum of
/// occurrences matches the span; `next_run_at` is the occurrence after the last row; every
/// status is in `statuses`, and a `missed` or `skipped` row says why in `error`. So every
/// occurrence between the first start and the last stop is run, missed, skipped or
/// interrupted, and none is silently absent or doubled.
pub(crate) async fn audit_occurrences(
    pool: &SqlitePool,
    ids: &[String],
    every: i64,
    statuses: &[&str],
) -> OccurrenceAudit {
    let ids_json = serde_json::to_string(ids).expect("ids as JSON");
    let jobs: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, start_at, next_run_at FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(&ids_json)
    .fetch_all(pool)
    .await
    .expect("jobs");
    type RunRow = (String, String, Option<String>, i64, String, Option<String>);
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT job_id, scheduled_at, last_scheduled_at, occurrences, status, error FROM job_runs
         WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY job_id, scheduled_at",
    )
    .bind(&ids_json)
    .fetch_all(pool)
    .await
    .expect("runs");
    let mut by_job: HashMap<&str, Vec<&RunRow>> = HashMap::new();
    for row in &rows {
        by_job.entry(row.0.as_str()).or_default().push(row);
    }
    let step = chrono::Duration::seconds(every);
    let mut audit = OccurrenceAudit {
        occurrences: 0,
        problems: Vec::new(),
    };
    if jobs.len() != ids.len() {
        audit
            .problems
            .push(format!("{} of {} jobs exist", jobs.len(), ids.len()));
    }
    for (id, start_at, next_run_at) in &jobs {
        let mut problem = |p: String| audit.problems.push(format!("{id}: {p}"));
        let Some(runs) = by_job.get(id.as_str()) else {
            problem("no rows at all".to_string());
            continue;
        };
        let start = parse_ts(start_at);
        // The same text, not only the same instant: stored timestamps have one fixed format.
        if runs[0].1 != *start_at {
            problem(format!(
                "first row at {} but the job starts at {start_at}",
                runs[0].1
            ));
        }
        let mut previous_end: Option<DateTime<Utc>> = None;
        let mut sum = 0;
        for (_, scheduled_at, last_scheduled_at, occurrences, status, error) in runs.iter().copied()
        {
            let from = parse_ts(scheduled_at);
            let to = last_scheduled_at.as_deref().map_or(from, parse_ts);
            let span_ms = (to - from).num_milliseconds();
            let covered = span_ms / step.num_milliseconds() + 1;
            if span_ms < 0 || span_ms % step.num_milliseconds() != 0 || covered != *occurrences {
                problem(format!(
                    "row {scheduled_at}..{last_scheduled_at:?} says {occurrences} occurrences"
                ));
            }
            if !statuses.contains(&status.as_str()) {
                problem(format!("row {scheduled_at} reads {status} ({error:?})"));
            }
            if (status == "missed" || status == "skipped") && error.is_none() {
                problem(format!("{status} row {scheduled_at} does not say why"));
            }
            if let Some(end) = previous_end
                && from != end + step
            {
                problem(format!("{scheduled_at} follows {}", ts(end)));
            }
            previous_end = Some(to);
            sum += *occurrences;
        }
        let end = previous_end.expect("at least one row");
        let span = (end - start).num_milliseconds() / step.num_milliseconds() + 1;
        if sum != span {
            problem(format!(
                "{sum} occurrences recorded for the {span} from {start_at} to {}",
                ts(end)
            ));
        }
        match next_run_at.as_deref().map(parse_ts) {
            Some(next) if next == end + step => {}
            other => problem(format!(
                "next_run_at {:?} after last occurrence {}",
                other.map(ts),
                ts(end)
            )),
        }
        audit.occurrences += sum;
    }
    audit
}

/// A number from the environment, or `default`.
pub(crate) fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    match std::env::var(var) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// The seed in `var`, or one from the clock.
pub(crate) fn seed_from_env(var: &str) -> u64 {
    env_number(
        var,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    )
}

/// A tiny xorshift64* generator: reproducible from its seed, no dependency.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is mapped to a fixed non-zero state).
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// The `p`-th percentile (0–100) of sorted durations; zero when there are none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
