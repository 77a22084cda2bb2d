//! The `schedlite` server under test (a child process on a fresh file) and what is read
//! from `/proc` about it: CPU time, RSS, clock ticks.

use crate::*;

/// What every scenario needs.
pub(crate) struct Ctx {
    pub(crate) server_bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) http: reqwest::Client,
    pub(crate) sizes: Sizes,
    pub(crate) runs: u32,
    pub(crate) clk_tck: f64,
    pub(crate) report: Report,
    pub(crate) servers_started: usize,
    /// Flags added to `serve` for the servers a scenario starts (the `prune` scenario turns
    /// the pruner off with them); empty otherwise.
    pub(crate) server_args: Vec<String>,
}

/// A running `schedlite serve`.
pub(crate) struct Server {
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) base: String,
    pub(crate) ready_in: Duration,
}

impl Ctx {
    /// Starts the server on `db` and waits until `/readyz` answers 200.
    pub(crate) async fn start_server(&mut self, db: &Path) -> Result<Server> {
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
            .args(&self.server_args)
            .env("SCHEDLITE_DB", db)
            .env("SCHEDLITE_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", server_log_filter())
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
    pub(crate) async fn new_db(&self, name: &str) -> Result<(PathBuf, SqlitePool)> {
        let path = self.dir.join(name);
        // Fresh each time: with `--baseline` a scenario runs once per build in each round, and
        // seeding the same ids into the first build's template failed on their unique key.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = Store::open(&path, true)
            .await
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
        store.close().await;
        let pool = open_pool(&path).await?;
        Ok((path, pool))
    }

    /// A copy of a template file (closed and checkpointed), for one run.
    pub(crate) async fn copy_db(
        &self,
        template: &Path,
        name: &str,
    ) -> Result<(PathBuf, SqlitePool)> {
        let path = self.dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        std::fs::copy(template, &path)?;
        // On disk before the server starts: otherwise the first checkpoint's fsync of the file
        // flushes the whole copy (1.5 GB for 10,000,000 runs) in the middle of the measured
        // burst, and which side pays it depends on the kernel's writeback timing.
        std::fs::File::open(&path)?.sync_all()?;
        let pool = open_pool(&path).await?;
        Ok((path, pool))
    }
}

impl Server {
    /// SIGTERM, then wait for a clean exit (kill after 20 s).
    pub(crate) async fn stop(mut self) -> Result<()> {
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{API}{path}", self.base)
    }
}

/// utime + stime of a process, in seconds.
pub(crate) fn cpu_seconds(pid: u32, clk_tck: f64) -> Result<f64> {
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
pub(crate) fn cpu_seconds_precise(pid: u32) -> Result<f64> {
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
pub(crate) fn rss_mib(pid: u32) -> Result<f64> {
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

pub(crate) fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Samples the peak VmRSS of `pid` until the returned sender is dropped or sent to.
pub(crate) fn rss_sampler(
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

/// The server's `RUST_LOG`: `warn`, or `SCHEDLITE_BENCH_SERVER_LOG` when it is set (say
/// `warn,sqlx::query=debug` for every statement with its time, to see where a burst goes); the
/// bench then keeps its work directory with the server logs.
pub(crate) fn server_log_filter() -> String {
    std::env::var("SCHEDLITE_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned())
}
