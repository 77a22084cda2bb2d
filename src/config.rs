//! Typed configuration for the service, with the defaults DESIGN.md names. Built by `main.rs`
//! from flags and environment, or directly by tests (port 0, a temp file).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default SQLite file, relative to the working directory.
pub const DEFAULT_DB: &str = "schedlite.db";
/// Default listen address: loopback only, so a fresh install is not reachable from the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How long a request may take before it is abandoned and answered 503 `REQUEST_TIMEOUT`:
/// well past the store's busy timeout, so a write waiting on the lock answers `DATABASE_BUSY`
/// first, and only a request stuck for another reason meets this deadline.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default grace after SIGTERM for running actions (`--shutdown-grace-seconds`).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Default `--heartbeat-expiry-seconds`: twice the store's busy timeout, so a heartbeat that
/// waited out another writer's lock is not taken for a death (DESIGN.md, *Firing semantics*).
pub const DEFAULT_HEARTBEAT_EXPIRY: Duration = Duration::from_secs(10);

/// The heartbeat expiry on PostgreSQL, where no busy timeout delays a heartbeat: a dead node's
/// runs are recovered sooner (DESIGN.md, *Firing semantics*).
pub const DEFAULT_HEARTBEAT_EXPIRY_POSTGRES: Duration = Duration::from_secs(5);

/// Default cap on a request body (64 KiB): a job definition is a few hundred bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Default cap on actions running at once in one process.
pub const DEFAULT_MAX_CONCURRENT_RUNS: usize = 256;

/// Default failed authentications per client address per minute before 429.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 20;

/// Longest the scheduler loop sleeps without looking at the database again: other processes
/// sharing a SQLite file may have added jobs due sooner than anything this process knows
/// about. On PostgreSQL their changes wake it at once (`LISTEN/NOTIFY`); this is the fallback
/// for a notification lost with its connection, as River polls every second besides.
pub const DEFAULT_SCHEDULER_MAX_IDLE: Duration = Duration::from_secs(1);

/// Default time between two passes of the history pruner (it also runs once at start).
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// The least time between two alerts of one job: a job flapping between two healths sends one
/// alert a minute at most, each a real transition from the health alerted before.
pub const DEFAULT_ALERT_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// How long run history and audit rows are kept (DESIGN.md, *Run history retention*). Rows
/// past these limits are pruned in small batches off the scheduler's path; the newest run of
/// each job and every `running` row are always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days `succeeded`, `skipped` and `missed` runs are kept.
    pub keep_days: u32,
    /// Days `failed`, `timed_out` and `interrupted` runs are kept.
    pub keep_failed_days: u32,
    /// Most runs kept per job (the newest).
    pub keep_runs: u32,
    /// Days audit rows are kept.
    pub keep_audit_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> RetentionPolicy {
        RetentionPolicy {
            keep_days: 30,
            keep_failed_days: 90,
            keep_runs: 10_000,
            keep_audit_days: 365,
        }
    }
}

/// Everything `serve` needs. Its `Debug` masks the secrets it may hold: a PostgreSQL URL's
/// password in `db_path` and the keys to provision.
#[derive(Clone)]
pub struct Config {
    /// Path of the SQLite file; created if missing.
    pub db_path: PathBuf,
    /// Address to bind; port 0 picks a free port (see `Application::port`).
    pub listen: SocketAddr,
    /// Whether `command` actions may be created and run (they execute programs on the host).
    pub allow_command_jobs: bool,
    /// How long running actions may go on after SIGTERM before they are marked `interrupted`.
    pub shutdown_grace: Duration,
    /// A serving process on another host whose heartbeat is older than this is taken for dead
    /// and its runs are recovered (`--heartbeat-expiry-seconds`).
    pub heartbeat_expiry: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How many actions may run at once in this process.
    pub max_concurrent_runs: usize,
    /// Keys to provision at start (stored hashed): from `SCHEDLITE_ADMIN_KEY` / `SCHEDLITE_MONITOR_KEY`.
    pub provision_admin_key: Option<String>,
    /// See `provision_admin_key`.
    pub provision_monitor_key: Option<String>,
    /// Failed authentications allowed per client address per minute before it gets 429.
    pub auth_failures_per_minute: u32,
    /// Cap on the database file's size, in 4 KiB pages (`SCHEDLITE_MAX_DB_PAGES`); none by default.
    pub max_db_pages: Option<u32>,
    /// How long a request may run before it is answered 503 `REQUEST_TIMEOUT`.
    pub request_timeout: Duration,
    /// Whether the loop that fires jobs runs in this process (tests of the API alone turn it off).
    pub run_scheduler: bool,
    /// Longest the scheduler loop sleeps without looking at the database
    /// ([`DEFAULT_SCHEDULER_MAX_IDLE`]).
    /// Not a flag: tests lengthen it, so that only a wake-up can explain a prompt start.
    pub scheduler_max_idle: Duration,
    /// How long history is kept.
    pub retention: RetentionPolicy,
    /// How often the pruner looks for history past [`Config::retention`]; it also runs once
    /// at start. `None`: no pruner in this process (`--prune-every-seconds 0`).
    pub prune_interval: Option<Duration>,
    /// Where `POST /admin/backup` writes its copies (`--backup-dir`); `None` means a
    /// `backups` directory beside the database file.
    pub backup_dir: Option<PathBuf>,
    /// Where alerts of jobs without a webhook of their own are POSTed (`--alert-webhook`);
    /// `None`: they are recorded and listed only.
    pub alert_webhook: Option<String>,
    /// The least time between two alerts of one job (`--alert-min-interval-seconds`).
    pub alert_min_interval: Duration,
}

/// Written by hand, not derived: a derived `Debug` would print the database password and the
/// provisioned keys into any log line or panic message that formats the configuration.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be left out unnoticed.
        let Config {
            db_path,
            listen,
            allow_command_jobs,
            shutdown_grace,
            heartbeat_expiry,
            max_body_bytes,
            max_concurrent_runs,
            provision_admin_key,
            provision_monitor_key,
            auth_failures_per_minute,
            max_db_pages,
            request_timeout,
            run_scheduler,
            scheduler_max_idle,
            retention,
            prune_interval,
            backup_dir,
            alert_webhook,
            alert_min_interval,
        } = self;
        let mask = |key: &Option<String>| key.as_ref().map(|_| "***");
        f.debug_struct("Config")
            .field(
                "db_path",
                &crate::redact::redact(&db_path.to_string_lossy()),
            )
            .field("listen", listen)
            .field("allow_command_jobs", allow_command_jobs)
            .field("shutdown_grace", shutdown_grace)
            .field("heartbeat_expiry", heartbeat_expiry)
            .field("max_body_bytes", max_body_bytes)
            .field("max_concurrent_runs", max_concurrent_runs)
            .field("provision_admin_key", &mask(provision_admin_key))
            .field("provision_monitor_key", &mask(provision_monitor_key))
            .field("auth_failures_per_minute", auth_failures_per_minute)
            .field("max_db_pages", max_db_pages)
            .field("request_timeout", request_timeout)
            .field("run_scheduler", run_scheduler)
            .field("scheduler_max_idle", scheduler_max_idle)
            .field("retention", retention)
            .field("prune_interval", prune_interval)
            .field("backup_dir", backup_dir)
            // A webhook's path often holds its token (Slack, Discord): not printed.
            .field("alert_webhook", &mask(alert_webhook))
            .field("alert_min_interval", alert_min_interval)
            .finish()
    }
}

impl Config {
    /// A configuration with every default, for the given file.
    pub fn new(db_path: impl Into<PathBuf>) -> Config {
        Config {
            db_path: db_path.into(),
            listen: DEFAULT_LISTEN
                .parse()
                .expect("BUG: default listen address parses"),
            allow_command_jobs: false,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            heartbeat_expiry: DEFAULT_HEARTBEAT_EXPIRY,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_concurrent_runs: DEFAULT_MAX_CONCURRENT_RUNS,
            provision_admin_key: None,
            provision_monitor_key: None,
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
            max_db_pages: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            run_scheduler: true,
            scheduler_max_idle: DEFAULT_SCHEDULER_MAX_IDLE,
            backup_dir: None,
            retention: RetentionPolicy::default(),
            prune_interval: Some(DEFAULT_PRUNE_INTERVAL),
            alert_webhook: None,
            alert_min_interval: DEFAULT_ALERT_MIN_INTERVAL,
        }
    }

    /// The directory backups taken through the API go to.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir.clone().unwrap_or_else(|| {
            let parent = self.db_path.parent().filter(|p| !p.as_os_str().is_empty());
            parent.unwrap_or(std::path::Path::new(".")).join("backups")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:?}` of a configuration, as a log line or a panic message would print it, masks the
    /// database password and the keys to provision.
    #[test]
    fn debug_output_masks_the_secrets() {
        let mut config = Config::new("postgres://app:s3cret@db.example/sched");
        config.provision_admin_key = Some("sk_admin_secret".to_string());
        let shown = format!("{config:?}");
        for secret in ["s3cret", "sk_admin_secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains(r#"db_path: "postgres://app:***@db.example/sched""#),
            "{shown}"
        );
        assert!(
            shown.contains(r#"provision_admin_key: Some("***"), provision_monitor_key: None"#),
            "{shown}"
        );
    }
}
