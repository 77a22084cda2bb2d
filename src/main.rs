//! The `schedlite` command line: parses flags into a [`Config`], calls the library, and turns
//! any error into one line on stderr and a non-zero exit. No logic lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use schedlite::config::{
    DEFAULT_DB, DEFAULT_HEARTBEAT_EXPIRY, DEFAULT_HEARTBEAT_EXPIRY_POSTGRES, DEFAULT_LISTEN,
    DEFAULT_SHUTDOWN_GRACE, RetentionPolicy,
};
use schedlite::model::{MAX_KEEP_DAYS, MAX_KEEP_RUNS, Role};
use schedlite::scheduler::retention::prune_history;
use schedlite::startup::open_and_migrate;
use schedlite::{Application, Config, apikey, telemetry, timestamp};

/// The version line: the crate version and the commit the binary was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SCHEDLITE_COMMIT"),
    ")"
);

/// A persistent job scheduler: jobs in one SQLite file, managed over REST.
#[derive(Debug, Parser)]
#[command(name = "schedlite", version = VERSION, about)]
struct Cli {
    /// The database: a SQLite file (a path or sqlite://PATH, created if missing) or a
    /// PostgreSQL URL (postgres://USER@HOST/DB or postgresql://…).
    #[arg(long, global = true, env = "SCHEDLITE_DB", default_value = DEFAULT_DB)]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations, then serve the API and fire jobs until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Delete run history and audit rows past the retention policy now, in small batches,
    /// while the service may be running.
    Prune {
        /// Count what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Write a consistent copy of the database to DEST (a new file) while it is in use.
    Backup {
        /// The new file; refused if it exists.
        dest: PathBuf,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Copy jobs, API keys, run history and audit from one database to another, new and empty
    /// one, on either engine (SQLite to PostgreSQL or back), then verify the copy. Stop the
    /// servers on the source first.
    Copy {
        /// The database to copy from (a path, sqlite://…, or postgres://…).
        #[arg(long)]
        from: PathBuf,
        /// The database to copy into; created and migrated, refused unless empty.
        #[arg(long)]
        to: PathBuf,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it, alone, on stdout (only its hash is stored).
    Create {
        /// A unique name for the key.
        #[arg(long)]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke the live key with this name. Returns once no server accepts it any more (about
    /// a second after the revocation is written: servers trust a key lookup for a second).
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// The flags of `serve`.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCHEDLITE_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Allow `command` actions, which run programs on this host.
    #[arg(long, env = "SCHEDLITE_ALLOW_COMMAND_JOBS")]
    allow_command_jobs: bool,
    /// Cap on the database file's size in 4 KiB pages; writes past it get 503 until space is freed.
    #[arg(long, env = "SCHEDLITE_MAX_DB_PAGES", value_parser = clap::value_parser!(u32).range(64..))]
    max_db_pages: Option<u32>,
    /// Seconds running actions may go on after a shutdown signal before they are interrupted.
    #[arg(long, env = "SCHEDLITE_SHUTDOWN_GRACE_SECONDS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_secs(), value_parser = clap::value_parser!(u64).range(0..=3600))]
    shutdown_grace_seconds: u64,
    /// Seconds after which a serving process on another host whose heartbeat has stopped is
    /// taken for dead and its running runs are marked interrupted [default: 10 on SQLite
    /// (twice its busy timeout), 5 on PostgreSQL].
    #[arg(long, env = "SCHEDLITE_HEARTBEAT_EXPIRY_SECONDS", value_parser = clap::value_parser!(u64).range(2..=3600))]
    heartbeat_expiry_seconds: Option<u64>,
    /// How log lines are written on stderr: `text` for people, `json` (one object per
    /// line) for log shippers.
    #[arg(long, env = "SCHEDLITE_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
    /// Where `POST /api/v1alpha1/admin/backup` writes its copies (default: `backups/`
    /// beside the database file).
    #[arg(long, env = "SCHEDLITE_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// Wrong API keys one client address may send per minute before it gets 429 for the
    /// rest of the minute (behind a proxy or NAT one address carries every client).
    #[arg(long, env = "SCHEDLITE_AUTH_FAILURES_PER_MINUTE", default_value_t = schedlite::config::DEFAULT_AUTH_FAILURES_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures_per_minute: u32,
    #[command(flatten)]
    retention: RetentionArgs,
    /// Seconds between two passes of the history pruner (it also runs once at start); 0
    /// turns it off in this process, for operators who run `schedlite prune` on a timer
    /// instead.
    #[arg(long, env = "SCHEDLITE_PRUNE_EVERY_SECONDS", default_value_t = schedlite::config::DEFAULT_PRUNE_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(0..=604_800))]
    prune_every_seconds: u64,
    /// Where the alerts of jobs without an `expect.alert_webhook` of their own are POSTed
    /// (an http or https URL); without it they are recorded and listed only.
    #[arg(long, env = "SCHEDLITE_ALERT_WEBHOOK", hide_env_values = true, value_parser = webhook_url)]
    alert_webhook: Option<String>,
    /// The least seconds between two alerts of one job: a change within it waits, and is
    /// alerted at its end if the job's health still differs from the one alerted last.
    #[arg(long, env = "SCHEDLITE_ALERT_MIN_INTERVAL_SECONDS", default_value_t = schedlite::config::DEFAULT_ALERT_MIN_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(0..=86_400))]
    alert_min_interval_seconds: u64,
    /// For tests only, hidden from `--help`: milliseconds added to this process's wall clock
    /// (negative: behind), so that nodes on one host can disagree about the time as nodes on
    /// different hosts do (issue 11). Read once here; see `timestamp::set_test_clock_offset`.
    #[arg(long, hide = true, default_value_t = 0, allow_hyphen_values = true)]
    test_clock_offset_ms: i64,
    /// For tests only, hidden from `--help`: `AFTER_MS:BY_MS` steps this process's wall clock
    /// by BY_MS (negative: back) AFTER_MS after it starts, as an NTP correction would, to test
    /// how the loop handles a step (DESIGN.md, clock jumps). See `timestamp::step_test_clock`.
    #[arg(long, hide = true, allow_hyphen_values = true, value_parser = clock_step)]
    test_clock_step: Option<(u64, i64)>,
}

/// `--test-clock-step`: `AFTER_MS:BY_MS`.
fn clock_step(text: &str) -> Result<(u64, i64), String> {
    let (after, by) = text
        .split_once(':')
        .ok_or_else(|| format!("expected AFTER_MS:BY_MS, got `{text}`"))?;
    let after = after
        .parse()
        .map_err(|_| format!("AFTER_MS must be a whole number of milliseconds, got `{after}`"))?;
    let by = by
        .parse()
        .map_err(|_| format!("BY_MS must be a whole number of milliseconds, got `{by}`"))?;
    Ok((after, by))
}

/// `--alert-webhook`: an http or https URL with a host, as an action's `url`.
fn webhook_url(url: &str) -> Result<String, String> {
    schedlite::actions::check_url("--alert-webhook", url)
        .map(|()| url.to_string())
        .map_err(|e| e.message().to_string())
}

/// The retention policy's flags, shared by `serve` (its pruner) and `prune`.
#[derive(Debug, Clone, Copy, clap::Args)]
struct RetentionArgs {
    /// Days `succeeded`, `skipped` and `missed` runs are kept.
    #[arg(long, env = "SCHEDLITE_KEEP_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_KEEP_DAYS)))]
    keep_days: u32,
    /// Days `failed`, `timed_out` and `interrupted` runs are kept.
    #[arg(long, env = "SCHEDLITE_KEEP_FAILED_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_KEEP_DAYS)))]
    keep_failed_days: u32,
    /// Most runs kept per job (the newest).
    #[arg(long, env = "SCHEDLITE_KEEP_RUNS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_KEEP_RUNS)))]
    keep_runs: u32,
    /// Days audit rows are kept.
    #[arg(long, env = "SCHEDLITE_KEEP_AUDIT_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_KEEP_DAYS)))]
    keep_audit_days: u32,
}

impl From<RetentionArgs> for RetentionPolicy {
    fn from(a: RetentionArgs) -> RetentionPolicy {
        RetentionPolicy {
            keep_days: a.keep_days,
            keep_failed_days: a.keep_failed_days,
            keep_runs: a.keep_runs,
            keep_audit_days: a.keep_audit_days,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for telemetry::LogFormat {
    fn from(f: LogFormatArg) -> telemetry::LogFormat {
        match f {
            LogFormatArg::Text => telemetry::LogFormat::Text,
            LogFormatArg::Json => telemetry::LogFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Everything.
    Admin,
    /// Every read (jobs, runs, previews, audit), no change.
    Viewer,
    /// `/auth/me` and `/metrics` only, for probes and scrapers.
    Monitor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Monitor => Role::Monitor,
        }
    }
}

fn main() -> ExitCode {
    // A test build's crash points (crates/core/src/failpoint.rs), armed by FAILPOINTS while this lives.
    #[cfg(feature = "failpoints")]
    let _crash_points = schedlite::failpoint::setup();
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes an error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    schedlite::error_chain::error_chain(error)
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(cli.db, args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "schedlite", &mut std::io::stdout());
            Ok(())
        }
        Command::Prune { dry_run, retention } => prune(cli.db, dry_run, retention).await,
        Command::Backup { dest } => backup(cli.db, dest).await,
        Command::Migrate => migrate(cli.db).await,
        Command::Copy { from, to } => copy(from, to).await,
        Command::Keys { command } => keys(cli.db, command).await,
    }
}

/// `schedlite serve`: runs until SIGTERM or Ctrl-C.
async fn serve(db: PathBuf, args: ServeArgs) -> Result<(), String> {
    telemetry::init_with(args.log_format.into(), "info", std::io::stderr);
    if args.test_clock_offset_ms != 0 {
        schedlite::timestamp::set_test_clock_offset(chrono::Duration::milliseconds(
            args.test_clock_offset_ms,
        ));
        tracing::warn!(
            offset_ms = args.test_clock_offset_ms,
            "clock shifted for a test"
        );
    }
    if let Some((after_ms, by_ms)) = args.test_clock_step {
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
            schedlite::timestamp::step_test_clock(chrono::Duration::milliseconds(by_ms));
            tracing::warn!(by_ms, "clock stepped for a test");
        });
    }
    // DESIGN.md: 10 s on SQLite (twice its busy timeout), 5 s on PostgreSQL.
    let expiry_default = match schedlite::store::Location::of(&db) {
        schedlite::store::Location::Postgres(_) => DEFAULT_HEARTBEAT_EXPIRY_POSTGRES,
        schedlite::store::Location::Sqlite(_) => DEFAULT_HEARTBEAT_EXPIRY,
    };
    let mut config = Config::new(db);
    config.listen = args.listen;
    config.allow_command_jobs = args.allow_command_jobs;
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace_seconds);
    config.heartbeat_expiry = args
        .heartbeat_expiry_seconds
        .map_or(expiry_default, Duration::from_secs);
    config.max_db_pages = args.max_db_pages;
    config.backup_dir = args.backup_dir;
    config.alert_webhook = args.alert_webhook;
    config.alert_min_interval = Duration::from_secs(args.alert_min_interval_seconds);
    config.auth_failures_per_minute = args.auth_failures_per_minute;
    config.retention = args.retention.into();
    config.prune_interval =
        (args.prune_every_seconds > 0).then(|| Duration::from_secs(args.prune_every_seconds));
    config.provision_admin_key = non_empty_env("SCHEDLITE_ADMIN_KEY");
    config.provision_monitor_key = non_empty_env("SCHEDLITE_MONITOR_KEY");
    let mut app = Application::build(config).await.map_err(|e| chain(&e))?;
    if let Some(key) = app.take_initial_admin_key() {
        println!("schedlite: no API keys existed, so an admin key named 'admin' was created.");
        println!("schedlite: it is shown only this once; only its hash is stored:");
        println!("{key}");
    }
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| chain(&e))
}

/// `schedlite prune [--dry-run]`: one pass of the retention policy, now.
async fn prune(db: PathBuf, dry_run: bool, retention: RetentionArgs) -> Result<(), String> {
    telemetry::init("warn", std::io::stderr);
    let store = open_and_migrate(&Config::new(db))
        .await
        .map_err(|e| chain(&e))?;
    let policy = retention.into();
    let now = chrono::Utc::now();
    let result = prune_history(&store, &policy, now, dry_run, Duration::ZERO).await;
    store.close().await;
    let report = result.map_err(|e| chain(&e))?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    println!(
        "{verb} {} run rows, {} audit rows and {} revisions",
        report.runs, report.audit, report.revisions
    );
    Ok(())
}

/// `schedlite backup DEST`: a consistent copy of a database that may be in use.
async fn backup(db: PathBuf, dest: PathBuf) -> Result<(), String> {
    telemetry::init("warn", std::io::stderr);
    let store = schedlite::store::Store::open(&db, false)
        .await
        .map_err(|e| chain(&e))?;
    let result = store.backup_to(&dest).await.map_err(|e| chain(&e));
    store.close().await;
    let bytes = result?;
    println!(
        "backed up {} to {} ({bytes} bytes)",
        db.display(),
        dest.display()
    );
    Ok(())
}

/// `schedlite copy --from A --to B`: everything in A into the empty B, verified.
async fn copy(from: PathBuf, to: PathBuf) -> Result<(), String> {
    use schedlite::store::{Store, copy_store};
    telemetry::init("warn", std::io::stderr);
    let source = Store::open(&from, false).await.map_err(|e| chain(&e))?;
    let version = source.schema_version().await.map_err(|e| chain(&e))?;
    if version != Store::latest_known_version() {
        source.close().await;
        return Err(format!(
            "the source's schema is at version {version}, this binary's at {}: run `schedlite --db <source> migrate` first",
            Store::latest_known_version()
        ));
    }
    let target = match open_and_migrate(&Config::new(to)).await {
        Ok(target) => target,
        Err(e) => {
            source.close().await;
            return Err(chain(&e));
        }
    };
    let result = copy_store(&source, &target, |table, done| {
        eprintln!("copy: {table}: {done} rows");
    })
    .await;
    source.close().await;
    target.close().await;
    let copied = result.map_err(|e| chain(&e))?;
    println!(
        "copied {} jobs, {} keys, {} runs and {} audit rows from {} to {}; counts and job checksums verified",
        copied.jobs,
        copied.keys,
        copied.runs,
        copied.audit,
        source.location(),
        target.location()
    );
    Ok(())
}

/// `schedlite migrate`: applies pending migrations.
async fn migrate(db: PathBuf) -> Result<(), String> {
    telemetry::init("warn", std::io::stderr);
    let store = schedlite::store::Store::open(&db, true)
        .await
        .map_err(|e| chain(&e))?;
    let report = store.migrate().await.map_err(|e| chain(&e));
    store.close().await;
    let report = report?;
    if report.applied.is_empty() {
        println!("schema is up to date (version {})", report.current);
    } else {
        println!(
            "applied {} migration(s); schema version {}",
            report.applied.len(),
            report.current
        );
    }
    Ok(())
}

/// `schedlite keys create|list|revoke`.
async fn keys(db: PathBuf, command: KeysCommand) -> Result<(), String> {
    telemetry::init("warn", std::io::stderr);
    let store = open_and_migrate(&Config::new(db))
        .await
        .map_err(|e| chain(&e))?;
    let now = chrono::Utc::now();
    let result = match command {
        KeysCommand::Create { name, role } => {
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                Err("--name must be 1 to 64 printable characters".to_string())
            } else {
                let key = apikey::generate();
                store
                    .create_key(&name, role.into(), &apikey::hash(&key), now)
                    .await
                    .map(|_| println!("{key}"))
                    .map_err(|e| chain(&e))
            }
        }
        KeysCommand::List => store
            .list_keys()
            .await
            .map_err(|e| chain(&e))
            .map(print_keys),
        KeysCommand::Revoke { name } => match store.revoke_key(&name, now).await {
            Ok(true) => {
                // Servers trust a key lookup for `LOOKUP_TRUST` (`api::key_cache`): once that
                // has passed since the commit, none accepts the key any more.
                tokio::time::sleep(apikey::LOOKUP_TRUST).await;
                println!("revoked key '{name}'");
                Ok(())
            }
            Ok(false) => Err(format!("no live key named '{name}'")),
            Err(e) => Err(chain(&e)),
        },
    };
    store.close().await;
    result
}

/// The table of `keys list` (never the keys themselves).
fn print_keys(keys: Vec<schedlite::model::KeyInfo>) {
    println!(
        "{:<24} {:<8} {:<25} {:<25} REVOKED",
        "NAME", "ROLE", "CREATED", "LAST USED"
    );
    let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(timestamp::format).unwrap_or_else(|| "-".into())
    };
    for k in keys {
        println!(
            "{:<24} {:<8} {:<25} {:<25} {}",
            k.name,
            k.role.as_str(),
            timestamp::format(k.created_at),
            when(k.last_used_at),
            when(k.revoked_at),
        );
    }
}

fn non_empty_env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// Listens for Ctrl-C (SIGINT) and SIGTERM from the moment it is called, before the server
/// answers its first request, and completes when either arrives. A listener registered lazily
/// (on its first poll) left a moment after readiness in which SIGTERM still had its default
/// action and killed the process without a graceful shutdown.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        let wait = |listener: std::io::Result<Signal>, name: &'static str| async move {
            match listener {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for {name}");
                    std::future::pending::<()>().await;
                }
            }
        };
        async move {
            tokio::select! {
                () = wait(interrupt, "Ctrl-C") => tracing::info!("Ctrl-C received: shutting down"),
                () = wait(terminate, "SIGTERM") => tracing::info!("SIGTERM received: shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C received: shutting down");
        } else {
            std::future::pending::<()>().await;
        }
    }
}
