//! `burst` (N date jobs due at one instant, through the server) and `raw` (the claim-and-record
//! store calls in a loop in this process, no scheduler around them).

use crate::*;

/// What one burst gave.
pub(crate) struct Burst {
    pub(crate) rate: f64,
    pub(crate) last_ms: f64,
    pub(crate) late: Vec<f64>,
    pub(crate) succeeded: i64,
    pub(crate) closed: i64,
    pub(crate) rss_peak: f64,
}

/// Fires the date jobs with `prefix` (already in `db`, at the placeholder instant) in one burst:
/// starts the server, makes them due `LEAD` later, waits for their runs.
pub(crate) async fn fire_burst(
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
pub(crate) async fn scenario_burst(ctx: &mut Ctx) -> Result<()> {
    for n in ctx.sizes.bursts.clone() {
        let scenario = format!("burst {n}");
        eprintln!("== {scenario}");
        let (template, pool) = ctx.new_db(&format!("burst-{n}-template.db")).await?;
        insert_date_jobs(&template, "b", n, PLACEHOLDER).await?;
        close_pool(pool).await?;
        for run in 0..ctx.runs {
            let probe = probe_copy(ctx, &template, "b", n).await?;
            let (db, pool) = ctx.copy_db(&template, &format!("burst-{n}.db")).await?;
            let result = fire_burst(ctx, &db, &pool, "b", n, None).await;
            pool.close().await;
            let b = result?;
            eprintln!(
                "   run {}: {} succeeded, {:.0} occurrences/s ({:.2} of the probe's {:.0}/s), last finished {:.0} ms after due, lateness p99 {:.0} ms",
                run + 1,
                b.succeeded,
                b.rate,
                b.rate / probe.rate(),
                probe.rate(),
                b.last_ms,
                pct(&b.late, 0.99)
            );
            if b.succeeded as usize != n {
                return Err(format!(
                    "{scenario} run {}: only {} of {n} runs succeeded ({} closed) before the deadline",
                    run + 1,
                    b.succeeded,
                    b.closed
                )
                .into());
            }
            let r = &mut ctx.report;
            let first_start = pct(&b.late, 0.0);
            let last_start = pct(&b.late, 1.0);
            r.add(
                &scenario,
                "direct-driver probe per second",
                "1/s",
                probe.rate(),
            );
            r.add(&scenario, "occurrences run per second", "1/s", b.rate);
            r.add(
                &scenario,
                "rate / probe (same run)",
                "",
                b.rate / probe.rate(),
            );
            r.add(
                &scenario,
                "rate from the first start",
                "1/s",
                b.succeeded as f64 / ((b.last_ms - first_start) / 1000.0),
            );
            r.add(
                &scenario,
                "last start / (n ÷ probe rate)",
                "",
                last_start / (n as f64 / probe.rate() * 1000.0),
            );
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
pub(crate) async fn scenario_raw(ctx: &mut Ctx) -> Result<()> {
    for n in ctx.sizes.bursts.clone() {
        let scenario = format!("raw {n}");
        eprintln!("== {scenario}");
        let (template, pool) = ctx.new_db(&format!("raw-{n}-template.db")).await?;
        insert_date_jobs(&template, "r", n, PLACEHOLDER).await?;
        close_pool(pool).await?;
        for _ in 0..ctx.runs {
            let (db, pool) = ctx.copy_db(&template, &format!("raw-{n}.db")).await?;
            set_due(&pool, "r", &ts(Utc::now())).await?;
            close_pool(pool).await?;
            let store = Store::open(&db, false)
                .await
                .map_err(|e| format!("open: {e}"))?;
            let raw = raw_loop(&store).await;
            store.close().await;
            let raw = raw?;
            raw.report(ctx, &scenario, n)?;
            let probe = probe_copy(ctx, &template, "r", n).await?;
            let r = &mut ctx.report;
            r.add(
                &scenario,
                "direct-driver probe per second",
                "1/s",
                probe.rate(),
            );
            r.add(
                &scenario,
                "rate / probe (same run)",
                "",
                raw.rate() / probe.rate(),
            );
        }
    }
    Ok(())
}

/// What one raw loop gave.
pub(crate) struct RawRun {
    claimed: usize,
    secs: f64,
    claim_time: Duration,
    record_time: Duration,
}

impl RawRun {
    /// Claims per second.
    pub(crate) fn rate(&self) -> f64 {
        self.claimed as f64 / self.secs
    }

    /// Adds the run's figures to the report under `scenario` (`n` jobs were due); a run that
    /// claimed fewer than `n` is an error.
    pub(crate) fn report(&self, ctx: &mut Ctx, scenario: &str, n: usize) -> Result<()> {
        let (claimed, secs) = (self.claimed, self.secs);
        let claim_ms = self.claim_time.as_secs_f64() * 1000.0;
        let record_ms = self.record_time.as_secs_f64() * 1000.0;
        if claimed != n {
            return Err(format!("{scenario}: claimed {claimed} of {n} jobs").into());
        }
        eprintln!(
            "   {claimed} in {secs:.3} s: {:.0}/s (claims {claim_ms:.0} ms, records {record_ms:.0} ms)",
            claimed as f64 / secs
        );
        let r = &mut ctx.report;
        r.add(
            scenario,
            "claim+record per second",
            "1/s",
            claimed as f64 / secs,
        );
        r.add(scenario, "time in claim_due", "ms", claim_ms);
        r.add(scenario, "time in record_outcomes", "ms", record_ms);
        Ok(())
    }
}

/// Claims every due job of `store` and records each claimed run `succeeded`, one after the
/// other on one task, until nothing is due: the claim-and-record limit of the engine with no
/// scheduler around it. Outcomes are written in batches of [`RAW_RECORD_BATCH`], as the
/// server's writer writes them.
pub(crate) async fn raw_loop(store: &Store) -> Result<RawRun> {
    let started = Instant::now();
    let mut pending: Vec<RunRecord> = Vec::with_capacity(RAW_RECORD_BATCH * 2);
    let mut raw = RawRun {
        claimed: 0,
        secs: 0.0,
        claim_time: Duration::ZERO,
        record_time: Duration::ZERO,
    };
    loop {
        let now = Utc::now();
        let t = Instant::now();
        let report = store
            .claim_due(now, "bench-raw", CLAIM_BATCH, |job, busy| {
                plan::plan(
                    &job.trigger,
                    &job.settings,
                    job.next_run_at.unwrap_or(now),
                    now,
                    busy.elsewhere,
                )
            })
            .await
            .map_err(|e| format!("claim_due: {e}"))?;
        raw.claim_time += t.elapsed();
        raw.claimed += report.runs.len();
        let at = Utc::now();
        pending.extend(report.runs.iter().map(|run| RunRecord {
            run_id: run.run_id,
            job_id: run.job_id.clone(),
            status: RunStatus::Succeeded,
            started_at: at,
            finished_at: at,
            http_status: None,
            exit_code: None,
            output: None,
            error: None,
            exclusive: run.exclusive,
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
            raw.record_time += t.elapsed();
        }
        if done {
            raw.secs = started.elapsed().as_secs_f64();
            return Ok(raw);
        }
    }
}
