//! `peer`: APScheduler 3 on the same bursts, in the same run, so "N× the peer" is a ratio of
//! figures measured minutes apart on one machine, not across days. It runs
//! `bench/run_peer.sh` (which installs `apscheduler<4` from PyPI into `bench/.venv` on first
//! use) with WAL and `synchronous=NORMAL`, schedlite's own settings, the burst sizes of this
//! mode and `--runs` runs each, and reads its per-run values back from JSON.

use crate::*;

/// Runs the peer's bursts and adds its figures to the report under `peer burst N (journal=wal)`.
pub(crate) async fn scenario_peer(ctx: &mut Ctx) -> Result<()> {
    eprintln!("== peer (APScheduler 3)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("run_peer.sh");
    let sizes: Vec<String> = ctx.sizes.bursts.iter().map(usize::to_string).collect();
    let json = ctx.dir.join("peer.json");
    let table = ctx.dir.join("peer.md");
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .args(["--journal", "wal", "--only", "burst"])
        .args(["--runs", &ctx.runs.to_string(), "--burst", &sizes.join(",")])
        .arg("--out")
        .arg(&table)
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "the APScheduler peer failed ({status}); see {}",
            table.display()
        )
        .into());
    }
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    for metric in metrics.as_array().ok_or("peer JSON: not a list")? {
        let field = |name: &str| {
            metric[name]
                .as_str()
                .ok_or_else(|| format!("peer JSON: `{name}` missing in {metric}"))
        };
        let unit = match field("unit")? {
            "1/s" => "1/s",
            "ms" => "ms",
            _ => "",
        };
        let values = metric["values"].as_array().ok_or("peer JSON: no values")?;
        for value in values {
            // The peer writes NaN (a run with no record) as JSON NaN, which serde reads as null.
            let value = value.as_f64().unwrap_or(f64::NAN);
            ctx.report
                .add(field("scenario")?, field("metric")?, unit, value);
        }
    }
    Ok(())
}

/// `burst N` against the peer's burst of the same size, medians of the same run.
pub(crate) fn peer_ratios(report: &mut Report, bursts: &[usize]) {
    for n in bursts {
        let ours = report.median(&format!("burst {n}"), "occurrences run per second");
        let peer = report.median(
            &format!("peer burst {n} (journal=wal)"),
            "occurrences run per second",
        );
        if let (Some(ours), Some(peer)) = (ours, peer) {
            report.add(
                &format!("burst {n}"),
                "median rate / APScheduler 3 median rate",
                "",
                ours / peer,
            );
        }
    }
}
