//! `schedlite-bench`: the benchmark suite (figures and method in `BENCHMARKS.md`). A workspace
//! member of its own, so the service crate carries no benchmark code.
//!
//! It builds nothing itself: it starts the release `schedlite` binary that sits next to its own
//! executable, each time on a fresh SQLite file in a temporary directory, listening on
//! 127.0.0.1 only, with logs going to a file in that directory. Large job sets are seeded
//! through the store (`Store::seed_noop_jobs`: one statement, the rows the API would write),
//! which is much faster than creating them over HTTP. Every figure is the median of `--runs` runs, with min and max.
//! The table is printed on stdout and written to `bench/results/latest.md`.
//!
//! The one command, from the repository root:
//!
//! ```sh
//! cargo build --release --workspace --bins && target/release/schedlite-bench            # full, ~12 min
//! cargo build --release --workspace --bins && target/release/schedlite-bench --quick    # ~2 min
//! target/release/schedlite-bench --only burst,raw --runs 5                  # a subset
//! target/release/schedlite-bench --quick --only burst,api --runs 3 --baseline /tmp/schedlite-prev
//! ```
//!
//! `--baseline` runs the server scenarios against another build (the previous commit's) in
//! the same run, alternating with this one, and adds a side-by-side table (`baseline.rs`).
//!
//! Scenarios (`--only`, comma-separated): `burst` (N date jobs due at one instant), `raw`
//! (the claim-and-record SQL in a loop, in this process, no scheduler around it), `idle`
//! (50 jobs at distinct instants), `steady` (10,000 interval jobs firing for a while),
//! `api` (HTTP create, get and list rates and latencies), `scale` (a file with 1,000,000 jobs:
//! time to ready, RSS, cost of an idle loop pass), `prune` (a burst beside a history of
//! 10,000,000 prunable runs, with the pruner off and on), `retries` (a burst of failing HTTP
//! jobs retried three times each, against as many first attempts), `bulk` (jobs created 1,000
//! per `POST /jobs:bulk`, against the probe inserting the same rows), and `pg` (the PostgreSQL engine: bursts
//! on 1 and 3 nodes, its raw claim limit, idle lateness, GET; only when selected, with
//! `--postgres`). `peer` (only when selected) runs APScheduler 3 (`bench/run_peer.sh`) on the
//! same bursts, for the ratio. Every burst is also run by the direct-driver probe (`probe.rs`),
//! SQLite with nothing in between, and reported as a ratio to it.

mod api;
mod baseline;
mod bulk;
mod burst;
mod db;
mod peer;
mod pg;
mod probe;
mod prune;
mod realistic;
mod report;
mod retries;
mod scale;
mod server;
mod steady;

// Every module starts with `use crate::*;`: the imports and items below are shared that way.
pub(crate) use std::error::Error;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{ExitCode, Stdio};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use api::*;
pub(crate) use baseline::*;
pub(crate) use bulk::*;
pub(crate) use burst::*;
pub(crate) use chrono::{DateTime, SecondsFormat, Utc};
pub(crate) use clap::Parser;
pub(crate) use db::*;
pub(crate) use peer::*;
pub(crate) use pg::*;
pub(crate) use probe::*;
pub(crate) use prune::*;
pub(crate) use realistic::*;
pub(crate) use report::*;
pub(crate) use retries::*;
pub(crate) use scale::*;
pub(crate) use schedlite::actions::Action;
pub(crate) use schedlite::model::{JobSettings, NewJob, RunStatus};
pub(crate) use schedlite::schedule::Trigger;
pub(crate) use schedlite::scheduler::{CLAIM_BATCH, plan};
pub(crate) use schedlite::store::{RunRecord, SeedHistory, SeedTrigger, Store};
pub(crate) use server::*;
pub(crate) use sqlx::Row;
pub(crate) use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
pub(crate) use steady::*;

pub(crate) type BoxError = Box<dyn Error + Send + Sync>;
pub(crate) type Result<T, E = BoxError> = std::result::Result<T, E>;

/// The admin key provisioned in every server the suite starts.
pub(crate) const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";
/// API prefix.
pub(crate) const API: &str = "/api/v1alpha1";
/// `next_run_at` of jobs waiting for their burst instant: far enough that the server ignores them.
pub(crate) const PLACEHOLDER: &str = "2099-01-01T00:00:00.000Z";
/// How far after the jobs are made due the burst instant lies, so the server is idle then.
pub(crate) const LEAD: Duration = Duration::from_millis(2000);
/// Outcomes written per transaction in the raw loop, as the server's writer does.
pub(crate) const RAW_RECORD_BATCH: usize = 1024;
pub(crate) const SCENARIOS: [&str; 11] = [
    "burst", "raw", "idle", "steady", "api", "bulk", "scale", "prune", "retries", "pg", "peer",
];
/// Scenarios that run only when named in `--only` (they need a PostgreSQL server).
pub(crate) const ON_REQUEST: [&str; 2] = ["pg", "peer"];

/// Benchmarks of schedlite against the real release binary.
#[derive(Debug, Parser)]
#[command(name = "schedlite-bench", about)]
pub(crate) struct Opts {
    /// Smaller sizes and shorter windows (under 3 minutes); long scenarios run once.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Scenarios to run, comma-separated: burst, raw, idle, steady, api, bulk, scale, prune, retries (the
    /// default: all of these), pg and peer (only when named).
    #[arg(long, value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Runs per figure; the table shows their median, min and max.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) runs: u32,
    /// The `schedlite` binary to run (default: `schedlite` next to this executable).
    #[arg(long)]
    pub(crate) server: Option<PathBuf>,
    /// Another `schedlite` binary (the previous commit's) to run the same server scenarios
    /// against in the same run, alternating with this one round by round; the table then
    /// compares the two (`--runs` rounds, each figure once per round and build).
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// Where to write the table (default: `bench/results/latest.md` in the source tree).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// The PostgreSQL server for `--only pg` (each run creates and drops a database on it).
    #[arg(long, env = "SCHEDLITE_BENCH_POSTGRES_URL")]
    pub(crate) postgres: Option<String>,
}

/// Sizes and windows of one mode.
pub(crate) struct Sizes {
    pub(crate) bursts: Vec<usize>,
    pub(crate) steady_jobs: usize,
    pub(crate) steady_interval_s: i64,
    pub(crate) steady_window: Duration,
    pub(crate) idle_jobs: usize,
    pub(crate) big: usize,
    pub(crate) load_window: Duration,
    pub(crate) idle_cpu_window: Duration,
    pub(crate) scale_burst: usize,
    pub(crate) long_runs: u32,
    /// Run rows of history in the `prune` scenario's file.
    pub(crate) history: u32,
    /// Jobs of the `retries` scenario's burst (each gets four attempts).
    pub(crate) retry_jobs: usize,
}

impl Sizes {
    pub(crate) fn of(opts: &Opts) -> Sizes {
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
                history: 1_000_000,
                retry_jobs: 500,
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
                history: 10_000_000,
                retry_jobs: 2_500,
            }
        }
    }
}

/// The 1-minute load average: other work on the machine skews every figure.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub(crate) fn machine() -> String {
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

/// The commit the figures describe: the source tree's HEAD, whether it had uncommitted changes,
/// and the commit the server binary says it was built from (`schedlite --version`). BENCHMARKS.md
/// takes figures only from a clean tree whose server matches it.
pub(crate) fn source_stamp(server_bin: &Path) -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // The bench's own outputs (`bench/results/`, rewritten by every run) are not the source.
    let status = [
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":(exclude)bench/results",
    ];
    let dirty = match git(&status) {
        Some(changes) if changes.is_empty() => "clean",
        Some(_) => "dirty",
        None => "unknown",
    };
    let server = std::process::Command::new(server_bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let matches = if server.contains(&head) {
        ""
    } else {
        " (NOT this commit)"
    };
    format!("commit {head} ({dirty} tree) · server `{server}`{matches}")
}

/// Runs the selected scenarios, then prints the table and writes it to `--out`.
pub(crate) async fn run(opts: Opts) -> Result<()> {
    let selected = selected_scenarios(&opts)?;
    let server_bin = server_binary(&opts)?;
    let stamp = Utc::now().format("%Y%m%d-%H%M%S");
    let dir = std::env::temp_dir().join(format!("schedlite-bench-{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut ctx = Ctx {
        server_bin,
        dir: dir.clone(),
        http,
        sizes: Sizes::of(&opts),
        runs: opts.runs,
        clk_tck: clk_tck(),
        report: Report::default(),
        servers_started: 0,
        server_args: Vec::new(),
    };
    let started = Instant::now();
    let load_before = loadavg();
    // Stamped before the run: a file edited while it runs does not change what was measured.
    let stamp = source_stamp(&ctx.server_bin);
    let postgres = opts.postgres.as_deref();
    let mut compared = String::new();
    let result = match &opts.baseline {
        None => run_scenarios(&mut ctx, &selected, postgres).await,
        Some(baseline) => run_side_by_side(&mut ctx, &selected, baseline, postgres)
            .await
            .map(|base| compared = comparison(&base, &ctx.report, baseline)),
    }
    .map_err(|e| format!("{e} (server logs in {})", dir.display()));
    add_raw_ratios(&mut ctx);
    peer_ratios(&mut ctx.report, &ctx.sizes.bursts.clone());
    let mode = if opts.quick { "quick" } else { "full" };
    let runs = match &opts.baseline {
        None => format!(
            "{} run(s) per figure ({} for long scenarios)",
            ctx.runs, ctx.sizes.long_runs
        ),
        Some(_) => format!("{} rounds, each figure once per round and build", opts.runs),
    };
    let mut doc = format!(
        "# schedlite-bench results\n\n{} · {} · {} · load average {} before, {} after · mode {mode}, {runs} · scenarios {} · {:.0} s\n\n",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        stamp,
        machine(),
        load_before,
        loadavg(),
        selected.join(","),
        started.elapsed().as_secs_f64()
    );
    doc.push_str(&ctx.report.markdown());
    doc.push_str(&compared);
    write_results(&opts, &doc)?;
    if std::env::var_os("SCHEDLITE_BENCH_SERVER_LOG").is_some() {
        println!("server logs kept in {}", dir.display());
    } else if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result.map_err(Into::into)
}

/// Runs each of `selected` once (each with its own `--runs`), stopping at the first failure.
pub(crate) async fn run_scenarios(
    ctx: &mut Ctx,
    selected: &[&'static str],
    postgres: Option<&str>,
) -> Result<()> {
    for name in selected {
        let r = match *name {
            "burst" => scenario_burst(ctx).await,
            "raw" => scenario_raw(ctx).await,
            "idle" => scenario_idle(ctx).await,
            "steady" => scenario_steady(ctx).await,
            "api" => scenario_api(ctx).await,
            "pg" => scenario_pg(ctx, postgres.unwrap_or_default()).await,
            "peer" => scenario_peer(ctx).await,
            "prune" => scenario_prune(ctx).await,
            "retries" => scenario_retries(ctx).await,
            "bulk" => scenario_bulk(ctx).await,
            _ => scenario_scale(ctx).await,
        };
        r.map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// The scenarios to run, in suite order: those named by `--only`, else all but the ones that
/// run only on request. An unknown name, or `pg` without a server, is an error.
fn selected_scenarios(opts: &Opts) -> Result<Vec<&'static str>> {
    for name in &opts.only {
        if !SCENARIOS.contains(&name.as_str()) {
            return Err(format!(
                "--only: unknown scenario `{name}` (choose from {})",
                SCENARIOS.join(", ")
            )
            .into());
        }
    }
    let selected: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| {
            (opts.only.is_empty() && !ON_REQUEST.contains(s)) || opts.only.iter().any(|o| o == s)
        })
        .collect();
    if selected.contains(&"pg") && opts.postgres.is_none() {
        return Err("--only pg needs --postgres URL (or SCHEDLITE_BENCH_POSTGRES_URL)".into());
    }
    Ok(selected)
}

/// The `schedlite` binary to benchmark: `--server`, else the one next to this executable.
fn server_binary(opts: &Opts) -> Result<PathBuf> {
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
    Ok(server_bin)
}

/// Adds, for each burst size measured with its raw loop, the burst's rate over the raw limit.
fn add_raw_ratios(ctx: &mut Ctx) {
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
}

/// Prints the results and writes them to `--out` (default `bench/results/latest.md`).
fn write_results(opts: &Opts, doc: &str) -> Result<()> {
    println!("{doc}");
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("results/latest.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, doc)?;
    eprintln!("written to {}", out.display());
    Ok(())
}

pub(crate) fn main() -> ExitCode {
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
