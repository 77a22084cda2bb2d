//! Real `schedlite` processes: a `schedlite serve` child ([`Server`]) on its own port, killed
//! and reaped on drop, and the one-shot commands (`migrate`) the reliability tests run the way
//! an operator would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::SqlitePool;

/// The admin key every [`Server`] is provisioned with (`SCHEDLITE_ADMIN_KEY`).
pub(crate) const KEY: &str = "reliability-admin-key-0123456789";

/// How many free ports [`Server::start`] tries before giving up.
const PORT_ATTEMPTS: usize = 3;

/// What the child's log says when its port was taken between [`free_port`] and its bind
/// (`cannot listen on 127.0.0.1:PORT: Address already in use (os error 98)`).
const PORT_TAKEN: &str = "Address already in use";

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
    /// flags, and waits until `/readyz` answers 200. Retries on another port only when the
    /// child's log shows that the port it was given was taken meanwhile; any other early exit
    /// (a crash on restart) fails the test with the child's log.
    pub(crate) async fn start(db: &Path, extra: &[&str]) -> Server {
        Server::start_bin(env!("CARGO_BIN_EXE_schedlite"), db, extra, &[]).await
    }

    /// [`Server::start`] with another build of the binary (`bin`) and extra environment
    /// variables for the child.
    pub(crate) async fn start_bin(
        bin: &str,
        db: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        match Server::launch(bin, db, extra, env).await {
            Ok(server) => server,
            Err(logs) => panic!(
                "schedlite serve exited before it was ready (not a taken port); logs:\n{logs}"
            ),
        }
    }

    /// [`Server::start_bin`] for a server that may exit before it is ready (a crash point armed
    /// in its start-up): `Err` with its log when it did, for any reason but a taken port.
    pub(crate) async fn launch(
        bin: &str,
        db: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let mut last_logs = String::new();
        for _attempt in 0..PORT_ATTEMPTS {
            let port = free_port();
            let log = db.with_file_name(format!("serve-{port}.log"));
            let file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(bin)
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
                .envs(env.iter().copied())
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
                return Ok(server);
            }
            last_logs = server.logs();
            if !last_logs.contains(PORT_TAKEN) {
                return Err(last_logs);
            }
        }
        panic!(
            "schedlite serve found its port taken {PORT_ATTEMPTS} times; last logs:\n{last_logs}"
        );
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

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
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
