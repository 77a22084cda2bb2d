//! `prune`: does cutting years of history slow firing down? (issue 12, item 2). A file holds
//! a burst of date jobs and, beside them, `Sizes::history` run rows 400 days old (1,000 jobs
//! with an equal share each), all past the default retention of 30 days but each job's newest.
//! The same burst is fired on copies of that file with the server's pruner off
//! (`--prune-every-seconds 0`) and on (its first pass starts with the server, so it is
//! deleting during the burst), alternately, and the two are compared run by run.

use crate::*;

/// Jobs that own the seeded history.
const HISTORY_JOBS: u32 = 1_000;

/// Runs the scenario; see the module documentation.
pub(crate) async fn scenario_prune(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.scale_burst;
    let history = ctx.sizes.history;
    let scenario = format!("prune: burst {n} beside {history} prunable runs");
    eprintln!("== {scenario}");
    let (template, rows) = seed_template(ctx, n, history).await?;
    for run in 0..ctx.runs {
        // A B, B A, …: whatever the first burst after a copy pays (the first two runs of
        // 2026-12-02 paid it only with the pruner off, which ran first) falls on both sides.
        let order = if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for pruning in order {
            let label = if pruning { "pruner on" } else { "pruner off" };
            ctx.server_args = if pruning {
                Vec::new()
            } else {
                vec!["--prune-every-seconds".into(), "0".into()]
            };
            let (db, pool) = ctx.copy_db(&template, "prune.db").await?;
            let result = fire_burst(ctx, &db, &pool, "b", n, None).await;
            ctx.server_args.clear();
            let left = history_left(&pool).await;
            pool.close().await;
            let (b, left) = (result?, left?);
            if b.succeeded as usize != n {
                return Err(format!(
                    "{scenario} ({label}) run {}: {} of {n} runs succeeded",
                    run + 1,
                    b.succeeded
                )
                .into());
            }
            eprintln!(
                "   run {} {label}: {:.0}/s, lateness p99 {:.0} ms, {left} history rows left",
                run + 1,
                b.rate,
                pct(&b.late, 0.99)
            );
            record_run(
                &mut ctx.report,
                &scenario,
                label,
                &b,
                rows as f64 - left as f64,
            );
        }
    }
    let rate = |r: &Report, label: &str| {
        r.median(&scenario, &format!("occurrences run per second, {label}"))
    };
    if let (Some(on), Some(off)) = (
        rate(&ctx.report, "pruner on"),
        rate(&ctx.report, "pruner off"),
    ) {
        ctx.report
            .add(&scenario, "median rate, pruner on / off", "", on / off);
    }
    Ok(())
}

/// The template file: `n` burst jobs `b-…` and [`HISTORY_JOBS`] jobs `h-…` sharing `history`
/// run rows 400 days old. Returns its path and how many rows were seeded.
async fn seed_template(ctx: &Ctx, n: usize, history: u32) -> Result<(PathBuf, u64)> {
    let (template, pool) = ctx.new_db("prune-template.db").await?;
    insert_date_jobs(&template, "b", n, PLACEHOLDER).await?;
    insert_date_jobs(&template, "h", HISTORY_JOBS as usize, PLACEHOLDER).await?;
    let seeded = Instant::now();
    let store = Store::open(&template, false)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let rows = store
        .seed_history(SeedHistory {
            prefix: "h",
            jobs: HISTORY_JOBS,
            per_job: history / HISTORY_JOBS,
            first: Utc::now() - chrono::Duration::days(400),
            step_ms: 1_000,
            status: RunStatus::Succeeded,
            owner: None,
        })
        .await
        .map_err(|e| format!("seed history: {e}"));
    store.close().await;
    let rows = rows?;
    eprintln!(
        "   seeded {rows} runs in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    close_pool(pool).await?;
    Ok((template, rows))
}

/// Adds one burst's figures to the report, each named with `label` (pruner on or off).
fn record_run(r: &mut Report, scenario: &str, label: &str, b: &Burst, pruned: f64) {
    let name = |m: &str| format!("{m}, {label}");
    r.add(scenario, &name("occurrences run per second"), "1/s", b.rate);
    r.add(scenario, &name("lateness p50"), "ms", pct(&b.late, 0.5));
    r.add(scenario, &name("lateness p99"), "ms", pct(&b.late, 0.99));
    r.add(scenario, &name("lateness max"), "ms", pct(&b.late, 1.0));
    r.add(
        scenario,
        &name("history rows pruned by the server's stop"),
        "",
        pruned,
    );
}

/// Run rows of the history jobs still in the file.
async fn history_left(pool: &SqlitePool) -> Result<i64> {
    let (lo, hi) = id_range("h");
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE job_id BETWEEN ?1 AND ?2")
            .bind(lo)
            .bind(hi)
            .fetch_one(pool)
            .await?,
    )
}
