//! `--baseline BINARY`: the same scenarios against another `schedlite` build (the previous
//! commit's) in the same run, alternating the two builds round by round (A B, B A, …) so that
//! the machine's load and the files' growth fall on both alike. The comparison table gives, per
//! figure, both medians and the median over the rounds of each round's ratio (this build over
//! the baseline), which is what to read on a shared machine.
//!
//! Scenarios that do not start the server (`raw`, which runs this crate's store code, and
//! `pg`) are run for this build only.

use crate::*;

/// Scenarios that measure the server binary, and so are run against the baseline too.
const SERVER_SCENARIOS: [&str; 5] = ["burst", "idle", "steady", "api", "scale"];

/// Runs `selected` for `rounds` rounds, each round once against `baseline` and once against
/// this build, alternating which goes first. This build's figures end in `ctx.report`; the
/// baseline's are returned.
pub(crate) async fn run_side_by_side(
    ctx: &mut Ctx,
    selected: &[&'static str],
    baseline: &Path,
    postgres: Option<&str>,
) -> Result<Report> {
    if !baseline.is_file() {
        return Err(format!("--baseline: {} not found", baseline.display()).into());
    }
    let this_build = ctx.server_bin.clone();
    let rounds = ctx.runs;
    ctx.runs = 1;
    ctx.sizes.long_runs = 1;
    let mut base_report = Report::default();
    let on_server: Vec<&'static str> = selected
        .iter()
        .copied()
        .filter(|s| SERVER_SCENARIOS.contains(s))
        .collect();
    for round in 0..rounds {
        for baseline_turn in [round % 2 == 0, round % 2 == 1] {
            if baseline_turn {
                eprintln!("== round {}: baseline {}", round + 1, baseline.display());
                ctx.server_bin = baseline.to_path_buf();
                std::mem::swap(&mut ctx.report, &mut base_report);
                let r = run_scenarios(ctx, &on_server, postgres).await;
                std::mem::swap(&mut ctx.report, &mut base_report);
                r?;
            } else {
                eprintln!(
                    "== round {}: this build {}",
                    round + 1,
                    this_build.display()
                );
                ctx.server_bin = this_build.clone();
                run_scenarios(ctx, selected, postgres).await?;
            }
        }
    }
    ctx.server_bin = this_build;
    Ok(base_report)
}

/// The comparison table: for each figure measured on both builds, the baseline's median, this
/// build's, and the median of the per-round ratios (this / baseline).
pub(crate) fn comparison(baseline: &Report, this: &Report, baseline_bin: &Path) -> String {
    let mut out = format!(
        "\n## Side by side with the baseline `{}`\n\n\
         | scenario | metric | baseline median | this median | this / baseline (median of rounds) | unit |\n\
         |---|---|---:|---:|---:|---|\n",
        baseline_bin.display()
    );
    for m in &this.metrics {
        let Some(b) = baseline
            .metrics
            .iter()
            .find(|b| b.scenario == m.scenario && b.name == m.name)
        else {
            continue;
        };
        let ratios: Vec<f64> = m
            .values
            .iter()
            .zip(&b.values)
            .map(|(this, base)| this / base)
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            m.scenario,
            m.name,
            num(stats(&b.values).0),
            num(stats(&m.values).0),
            num(stats(&ratios).0),
            m.unit
        ));
    }
    out
}
