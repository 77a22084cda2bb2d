//! `idle` (a few jobs at distinct instants: lateness when nothing else happens) and `steady`
//! (10,000 interval jobs firing for a while).

use crate::*;

/// `idle`: jobs at distinct instants on an otherwise idle server.
pub(crate) async fn scenario_idle(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.idle_jobs;
    let scenario = format!("idle {n}");
    eprintln!("== {scenario}");
    for _ in 0..ctx.runs {
        let _ = std::fs::remove_file(ctx.dir.join("idle.db"));
        let (db, pool) = ctx.new_db("idle.db").await?;
        let server = ctx.start_server(&db).await?;
        let base = Utc::now() + LEAD;
        let base = DateTime::from_timestamp_millis(base.timestamp_millis()).ok_or("bad instant")?;
        // Created through the store, as the API would (the server is not woken: it finds them
        // on its next look at the file, well before the first is due).
        let store = Store::open(&db, false)
            .await
            .map_err(|e| format!("open {}: {e}", db.display()))?;
        // 97 ms apart plus a little: never on a whole second, never two at once.
        for i in 0..n {
            let at = base + chrono::Duration::milliseconds(97 * i as i64 + (i as i64 * 13) % 50);
            let job = NewJob {
                id: format!("i{i:07}"),
                name: None,
                trigger: Trigger::Date { run_at: at },
                action: Action::Noop,
                settings: JobSettings::default(),
                paused: false,
                expect: None,
                history: None,
                retry: Default::default(),
                exclusive: None,
            };
            store
                .insert_job(&job, Some(at), Utc::now(), "bench")
                .await?;
        }
        store.close().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (ok, _) = wait_runs(&pool, "i", n, deadline).await?;
        let (late, _) = run_figures(&pool, "i", "0", "9999").await?;
        server.stop().await?;
        pool.close().await;
        if ok as usize != n {
            ctx.report
                .note(format!("{scenario}: only {ok} of {n} runs succeeded"));
        }
        eprintln!(
            "   p50 {:.1} p99 {:.1} max {:.1} ms",
            pct(&late, 0.5),
            pct(&late, 0.99),
            pct(&late, 1.0)
        );
        let r = &mut ctx.report;
        r.add(&scenario, "lateness p50", "ms", pct(&late, 0.5));
        r.add(&scenario, "lateness p99", "ms", pct(&late, 0.99));
        r.add(&scenario, "lateness max", "ms", pct(&late, 1.0));
    }
    Ok(())
}

/// `steady`: interval jobs spread evenly over their interval, firing for a window.
pub(crate) async fn scenario_steady(ctx: &mut Ctx) -> Result<()> {
    let n = ctx.sizes.steady_jobs;
    let every = ctx.sizes.steady_interval_s;
    let window = ctx.sizes.steady_window;
    let scenario = format!("steady {n} jobs every {every} s, {} s", window.as_secs());
    eprintln!("== {scenario}");
    for _ in 0..ctx.sizes.long_runs {
        let _ = std::fs::remove_file(ctx.dir.join("steady.db"));
        let (db, pool) = ctx.new_db("steady.db").await?;
        let server = ctx.start_server(&db).await?;
        let first = Utc::now() + LEAD;
        let first =
            DateTime::from_timestamp_millis(first.timestamp_millis()).ok_or("bad instant")?;
        let step_ms = (every * 1000) as f64 / n as f64;
        insert_interval_jobs(&db, "s", n, every, first, step_ms).await?;
        let wait = (first - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        let cpu0 = cpu_seconds(server.pid, ctx.clk_tck)?;
        let (stop_rss, rss_task) = rss_sampler(server.pid);
        tokio::time::sleep(window).await;
        let cpu1 = cpu_seconds(server.pid, ctx.clk_tck)?;
        let _ = stop_rss.send(());
        let rss_peak = rss_task.await.unwrap_or(f64::NAN);
        // Let the last outcomes of the window reach the file.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let to = first + chrono::Duration::from_std(window)?;
        let (late, _) = run_figures(&pool, "s", &ts(first), &ts(to)).await?;
        let expected = n as f64 * window.as_secs_f64() / every as f64;
        server.stop().await?;
        pool.close().await;
        let count = late.len() as f64;
        if count < expected * 0.99 {
            ctx.report.note(format!(
                "{scenario}: {count} runs succeeded in the window, {expected:.0} expected"
            ));
        }
        let cpu_us = (cpu1 - cpu0) * 1e6 / count.max(1.0);
        eprintln!(
            "   {count} runs, lateness p50 {:.1} p99 {:.1} max {:.1} ms, CPU {:.0} µs/occurrence ({:.1}% of a core)",
            pct(&late, 0.5),
            pct(&late, 0.99),
            pct(&late, 1.0),
            cpu_us,
            (cpu1 - cpu0) * 100.0 / window.as_secs_f64()
        );
        let r = &mut ctx.report;
        r.add(&scenario, "occurrences in window", "", count);
        r.add(&scenario, "lateness p50", "ms", pct(&late, 0.5));
        r.add(&scenario, "lateness p99", "ms", pct(&late, 0.99));
        r.add(&scenario, "lateness max", "ms", pct(&late, 1.0));
        r.add(&scenario, "server CPU per occurrence", "µs", cpu_us);
        r.add(
            &scenario,
            "server CPU",
            "% of a core",
            (cpu1 - cpu0) * 100.0 / window.as_secs_f64(),
        );
        r.add(&scenario, "peak RSS", "MiB", rss_peak);
    }
    Ok(())
}
