//! `scale`: a file with 1,000,000 jobs and their history (`realistic.rs`): time to ready
//! (recovery of a dead process's runs included), RSS, the cost of an idle loop pass.

use crate::*;

/// `scale`: a big file: time to ready, RSS at rest and in a burst, idle pass cost vs 10 jobs.
pub(crate) async fn scenario_scale(ctx: &mut Ctx) -> Result<()> {
    let big = ctx.sizes.big;
    let window = ctx.sizes.idle_cpu_window;
    let burst = ctx.sizes.scale_burst;
    let scenario = format!("scale {big} jobs");
    eprintln!("== {scenario}");
    let template = big_template(ctx).await?;
    for _ in 0..ctx.sizes.long_runs {
        let (db, pool) = ctx.copy_db(&template, "scale.db").await?;
        let (server, ready_ms, pass) = start_recovered(ctx, &db, &pool, &scenario).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rest = rss_mib(server.pid)?;
        let cpu = idle_cpu(&server, window).await?;
        let b = fire_burst(ctx, &db, &pool, "b", burst, Some(&server)).await?;
        server.stop().await?;
        pool.close().await;

        let (small_ready_ms, small_rest, small_cpu) = small_file(ctx, window).await?;

        let per_s = |cpu: f64| cpu * 1000.0 / window.as_secs_f64();
        eprintln!(
            "   ready {ready_ms:.0} ms (10 jobs: {small_ready_ms:.0}), RSS rest {rest:.1} MiB (10 jobs: {small_rest:.1}), \
             burst {burst}: peak {:.1} MiB, last {:.0} ms; idle CPU {:.2} ms/s (10 jobs: {:.2})",
            b.rss_peak,
            b.last_ms,
            per_s(cpu),
            per_s(small_cpu)
        );
        let figures = Figures {
            ready_ms,
            small_ready_ms,
            pass,
            rest,
            small_rest,
            idle_cpu: per_s(cpu),
            small_idle_cpu: per_s(small_cpu),
        };
        figures.record(&mut ctx.report, &scenario, burst, &b);
    }
    Ok(())
}

/// One run's figures besides the burst's.
struct Figures {
    ready_ms: f64,
    small_ready_ms: f64,
    /// The first retention pass: its duration and server CPU (ms), when the build counts it.
    pass: Option<(f64, f64)>,
    rest: f64,
    small_rest: f64,
    idle_cpu: f64,
    small_idle_cpu: f64,
}

impl Figures {
    /// Adds the run's figures, with those of its burst of `burst` (`b`), to the report.
    fn record(&self, r: &mut Report, scenario: &str, burst: usize, b: &Burst) {
        r.add(
            scenario,
            "process start → /readyz 200, recovery included",
            "ms",
            self.ready_ms,
        );
        r.add(
            scenario,
            "process start → /readyz 200, 10 jobs",
            "ms",
            self.small_ready_ms,
        );
        if let Some((took, cpu)) = self.pass {
            r.add(scenario, "first retention pass, ready → done", "ms", took);
            r.add(
                scenario,
                "server CPU during the first retention pass",
                "ms",
                cpu,
            );
        }
        r.add(scenario, "VmRSS at rest", "MiB", self.rest);
        r.add(scenario, "VmRSS at rest, 10 jobs", "MiB", self.small_rest);
        r.add(
            scenario,
            &format!("peak VmRSS during a burst of {burst}"),
            "MiB",
            b.rss_peak,
        );
        r.add(
            scenario,
            &format!("burst of {burst}: due → last succeeded"),
            "ms",
            b.last_ms,
        );
        r.add(
            scenario,
            &format!("burst of {burst}: lateness p99"),
            "ms",
            pct(&b.late, 0.99),
        );
        r.add(
            scenario,
            "idle server CPU after the first retention pass",
            "ms CPU/s",
            self.idle_cpu,
        );
        r.add(
            scenario,
            "idle server CPU, 10 jobs",
            "ms CPU/s",
            self.small_idle_cpu,
        );
    }
}

/// Starts a server on `db` (a copy of the realistic file), checks that it had recovered the
/// dead process's runs when it said it was ready, and waits for its first retention pass.
/// Returns the server, its time to ready (ms) and, for a build that counts its passes, the
/// pass's duration and the server CPU it took (both ms).
async fn start_recovered(
    ctx: &mut Ctx,
    db: &Path,
    pool: &SqlitePool,
    scenario: &str,
) -> Result<(Server, f64, Option<(f64, f64)>)> {
    let server = ctx.start_server(db).await?;
    let ready_ms = server.ready_in.as_secs_f64() * 1000.0;
    // Ready means recovered: the dead process's runs are closed before /readyz says 200.
    let unrecovered = left_running(pool).await?;
    if unrecovered != 0 {
        return Err(format!(
            "{scenario}: {unrecovered} runs of the dead process still running once ready"
        )
        .into());
    }
    let cpu_before = cpu_seconds_precise(server.pid)?;
    let pass = first_prune_pass(&ctx.http, &server, Duration::from_secs(300)).await?;
    let pass_cpu = cpu_seconds_precise(server.pid)? - cpu_before;
    let pass = pass.map(|took| (took.as_secs_f64() * 1000.0, pass_cpu * 1000.0));
    Ok((server, ready_ms, pass))
}

/// The same measures on a file of 10 jobs: time to ready (ms), RSS at rest (MiB) and idle CPU
/// over `window`.
async fn small_file(ctx: &mut Ctx, window: Duration) -> Result<(f64, f64, f64)> {
    let _ = std::fs::remove_file(ctx.dir.join("small.db"));
    let (small, pool) = ctx.new_db("small.db").await?;
    insert_interval_jobs(
        &small,
        "s",
        10,
        86_400,
        Utc::now() + chrono::Duration::days(1),
        1000.0,
    )
    .await?;
    pool.close().await;
    let server = ctx.start_server(&small).await?;
    let ready_ms = server.ready_in.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rest = rss_mib(server.pid)?;
    let cpu = idle_cpu(&server, window).await?;
    server.stop().await?;
    Ok((ready_ms, rest, cpu))
}
