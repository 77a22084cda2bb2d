//! The one home of the test helpers; no test lives here, and no helper is copied into a test
//! file.
//!
//! This module: `spawn_app()`, the real service on port 0 against a SQLite file in a temp dir,
//! or `spawn_app_on(engine)` against a fresh database on either engine ([`engine`]), with an
//! admin and a monitor key provisioned, plus a pool on the same database to check rows and one
//! helper per endpoint. Logs only with `TEST_LOG` set. The submodules hold real child
//! processes ([`child`]), one-shot CLI runs ([`cli`]), timestamps ([`clock`]), seeds and
//! percentiles ([`random`]), rows read with SQL and the occurrence audit ([`rows`]), an HTTP
//! target that counts idempotency keys ([`stub`]), a fresh PostgreSQL database per test
//! ([`postgres`]) and nodes on it with the rows the multi-node audits read ([`pg`]).

/// Evaluates `$body` with `$p` bound to whichever pool `$pool` ([`Pool`]) holds: sqlx's query
/// functions are generic over the engine, so one check is written once and runs on both.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::helpers::Pool::Sqlite($p) => $body,
            $crate::helpers::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

pub mod browser;
pub mod child;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod pg;
#[path = "../../support/postgres.rs"]
pub mod postgres;
pub mod random;
pub mod rows;
pub mod stub;

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use reqwest::{Method, Response};
use schedlite::{Application, Config};
use serde_json::Value;
use sqlx::SqlitePool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use engine::{DbGuard, Engine, Pool, Stamp};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const MONITOR_KEY: &str = "test-monitor-key-0123456789";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        schedlite::telemetry::init("info", std::io::stdout);
    } else {
        schedlite::telemetry::init("off", std::io::sink);
    }
});

/// A running service and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    /// The SQLite file, or the PostgreSQL URL as a path (what `--db` takes).
    pub db_path: PathBuf,
    pub client: reqwest::Client,
    pub pool: Pool,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    // Keeps the database alive (the temp dir, or the PostgreSQL database); dropped last.
    pub dir: Option<DbGuard>,
}

/// Options for [`spawn_app_with`].
#[derive(Clone, Default)]
pub struct AppOptions {
    pub run_scheduler: bool,
    pub allow_command_jobs: bool,
}

/// Options with the scheduler loop running (command jobs refused).
pub fn scheduler_on() -> AppOptions {
    AppOptions {
        run_scheduler: true,
        allow_command_jobs: false,
    }
}

/// Options with the scheduler loop running and command jobs allowed.
pub fn scheduler_with_commands() -> AppOptions {
    AppOptions {
        run_scheduler: true,
        allow_command_jobs: true,
    }
}

/// A fresh app on a fresh SQLite file, scheduler off (API tests).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// A fresh app on a fresh SQLite file.
pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    spawn_app_on_with(Engine::Sqlite, options).await
}

/// A fresh app on a fresh database of `engine`, scheduler off.
pub async fn spawn_app_on(engine: Engine) -> TestApp {
    spawn_app_on_with(engine, AppOptions::default()).await
}

/// A fresh app on a fresh database of `engine`.
pub async fn spawn_app_on_with(engine: Engine, options: AppOptions) -> TestApp {
    let (db_path, guard) = engine::fresh(engine).await;
    let mut app = start_on(db_path, options).await;
    app.dir = Some(guard);
    app
}

/// The configuration tests start from: port 0, the test keys, a short shutdown grace.
pub fn test_config(db_path: &std::path::Path, options: &AppOptions) -> Config {
    let mut config = Config::new(db_path);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.provision_admin_key = Some(ADMIN_KEY.to_string());
    config.provision_monitor_key = Some(MONITOR_KEY.to_string());
    config.run_scheduler = options.run_scheduler;
    config.allow_command_jobs = options.allow_command_jobs;
    config.shutdown_grace = Duration::from_secs(2);
    config
}

/// Starts the service on an existing (or new) file, or on the PostgreSQL database whose URL
/// `db_path` holds.
pub async fn start_on(db_path: PathBuf, options: AppOptions) -> TestApp {
    let config = test_config(&db_path, &options);
    start_with(config).await
}

/// Starts the service with a given configuration.
pub async fn start_with(config: Config) -> TestApp {
    LazyLock::force(&TRACING);
    let db_path = config.db_path.clone();
    let app = Application::build(config).await.expect("app builds");
    let port = app.port();
    let (tx, server) = run_in_background(app);
    let pool = Pool::connect(&db_path).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db_path,
        client: reqwest::Client::new(),
        pool,
        shutdown: Some(tx),
        server: Some(server),
        dir: None,
    }
}

/// Runs `app` on a task until the returned sender fires (or is dropped); the task ends once
/// the server has stopped.
pub fn run_in_background(app: Application) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until_stopped(async move {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    (tx, server)
}

impl TestApp {
    /// Stops the server gracefully and waits for it; the file stays.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
        self.pool.close().await;
    }

    /// Stops this app and starts a new one on the same database.
    pub async fn restart(mut self, options: AppOptions) -> TestApp {
        self.stop().await;
        let dir = self.dir.take();
        let mut next = start_on(self.db_path.clone(), options).await;
        next.dir = dir;
        next
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1alpha1{}", self.address, path)
    }

    /// Sends a request with an optional key and JSON body; returns status and parsed body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        parse(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(ADMIN_KEY), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(ADMIN_KEY), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(ADMIN_KEY), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, Some(ADMIN_KEY), None).await
    }

    /// Creates a job and asserts it was created.
    pub async fn create_job(&self, body: &Value) -> Value {
        let (status, json) = self.post("/jobs", body).await;
        assert_eq!(status, 201, "creating {body}: {json}");
        json["data"].clone()
    }

    /// GETs `path` outside the API prefix (`/healthz`, `/readyz`) with no key.
    pub async fn probe(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("sent");
        parse(resp).await
    }

    /// Asserts job `id` is gone: no row in `jobs`, and `GET /jobs/{id}` answers 404.
    pub async fn assert_job_gone(&self, id: &str) {
        assert_eq!(
            self.count(&format!("SELECT count(*) FROM jobs WHERE id = '{id}'"))
                .await,
            0,
            "job {id} has no row"
        );
        let (status, body) = self.get(&format!("/jobs/{id}")).await;
        assert_eq!(status, 404, "GET /jobs/{id}: {body}");
    }

    /// How many run rows `job` has, whatever their status.
    pub async fn run_count(&self, job: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM job_runs WHERE job_id = '{job}'"
        ))
        .await
    }

    /// How many `succeeded` run rows `job` has.
    pub async fn succeeded_count(&self, job: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM job_runs WHERE job_id = '{job}' AND status = 'succeeded'"
        ))
        .await
    }

    /// The integer a count query answers (SQL both engines read: `coalesce`, not `ifnull`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.pool.count(sql).await
    }

    /// Creates a key with `schedlite keys create --name NAME --role ROLE` on this app's
    /// database, as an operator would, and returns it.
    pub fn create_key(&self, name: &str, role: &str) -> String {
        let out = cli::schedlite(
            &["keys", "create", "--name", name, "--role", role],
            &self.db_path,
        );
        assert!(out.status.success(), "keys create: {}", cli::stderr(&out));
        cli::stdout(&out).trim().to_string()
    }
}

pub async fn parse(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// A check that cannot run on this machine (a tool is missing): prints `skipped: <why>` and
/// lets the test pass, except under `CI=true`, where it fails: CI installs every tool the tests
/// use, so a skip there would hide a broken install step.
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, so this cannot be skipped: {why}"
    );
    eprintln!("skipped: {why}");
}

/// Polls `check` until it returns `Some` or `timeout` passes (then panics with `what`).
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An interval job body.
pub fn interval_job(id: &str, seconds: u64) -> Value {
    serde_json::json!({"id": id, "trigger": {"type": "interval", "seconds": seconds}, "action": {"type": "noop"}})
}

/// A cron job body.
pub fn cron_job(id: &str, expr: &str, timezone: &str) -> Value {
    serde_json::json!({"id": id, "trigger": {"type": "cron", "expr": expr, "timezone": timezone}, "action": {"type": "noop"}})
}

/// Runs `sql` with the `sqlite3` command-line shell, as an operator would, and returns its
/// output. Where the shell is not installed (the README promises tests on a machine with only
/// Rust), that is reported as a skip ([`skip_or_fail`]: a failure under `CI=true`) and the same
/// query runs through sqlx, printed the way the shell prints it.
pub async fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    match std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "sqlite3 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        }
        Err(e) => {
            skip_or_fail(&format!(
                "the sqlite3 shell cannot run ({e}): the query runs through sqlx instead"
            ));
            use sqlx::Row;
            let pool = SqlitePool::connect(&format!("sqlite:{}", db.display()))
                .await
                .expect("open");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&pool)
                .await
                .expect("query");
            let mut text = String::new();
            for row in rows {
                let cells: Vec<String> = (0..row.columns().len())
                    .map(|i| {
                        row.try_get::<Option<String>, _>(i)
                            .map(|v| v.unwrap_or_default())
                            .or_else(|_| row.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .unwrap_or_default()
                    })
                    .collect();
                text.push_str(&cells.join("|"));
                text.push('\n');
            }
            pool.close().await;
            text
        }
    }
}
