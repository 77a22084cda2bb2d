//! The pruner: walks the store's pruning steps (DESIGN.md, *Run history retention*) with a
//! pause between transactions, so years of history are cut while firing keeps its lateness.
//! Runs beside the loop, never inside a claim; `schedlite prune` calls the same walk once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::SchedulerHandle;
use super::metrics::TableLabel;
use crate::config::RetentionPolicy;
use crate::model::HistoryLimits;
use crate::store::{AgeCutoffs, PRUNE_JOBS_PER_STEP, Store, StoreError};

/// Pause between two pruning transactions of the background pruner: the write lock is free
/// for claims and API writes most of the time even while a large backlog is cut.
pub const PRUNE_PAUSE: Duration = Duration::from_millis(5);

/// What one pruning pass removed (or, dry, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Run rows.
    pub runs: u64,
    /// Audit rows.
    pub audit: u64,
    /// Job revisions (pruned with the audit trail, never a job's newest).
    pub revisions: u64,
}

/// The age cut-offs of `policy` at `now`.
pub fn cutoffs(policy: &RetentionPolicy, now: DateTime<Utc>) -> AgeCutoffs {
    let days = |d: u32| chrono::Duration::days(i64::from(d));
    AgeCutoffs {
        ok_before: now - days(policy.keep_days),
        failed_before: now - days(policy.keep_failed_days),
    }
}

/// One whole pass: runs past their age, runs beyond each job's count, audit rows past their
/// age, each in steps of at most one small transaction with `pause` between them.
pub async fn prune_history(
    store: &Store,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    dry_run: bool,
    pause: Duration,
) -> Result<PruneReport, StoreError> {
    let cut = cutoffs(policy, now);
    let mut report = PruneReport::default();
    let mut after = 0;
    loop {
        let step = store.prune_runs_by_age(after, cut, dry_run).await?;
        report.runs += step.removed;
        match step.next {
            Some(next) => after = next,
            None => break,
        }
        tokio::time::sleep(pause).await;
    }
    let mut after_job: Option<String> = None;
    loop {
        let step = store
            .prune_runs_over_count(after_job.as_deref(), policy.keep_runs, cut, dry_run)
            .await?;
        report.runs += step.removed;
        match step.next {
            Some(next) => after_job = Some(next),
            None => break,
        }
        tokio::time::sleep(pause).await;
    }
    report.runs += prune_jobs_with_own_limits(store, policy, now, dry_run, pause).await?;
    let audit_before = now - chrono::Duration::days(i64::from(policy.keep_audit_days));
    loop {
        let step = store.prune_audit(audit_before, dry_run).await?;
        report.audit += step.removed;
        if step.next.is_none() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    loop {
        let step = store.prune_revisions(audit_before, dry_run).await?;
        report.revisions += step.removed;
        if step.next.is_none() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    Ok(report)
}

/// `policy` with a job's own limits in place of the server's, field by field.
pub fn policy_for(policy: &RetentionPolicy, own: &HistoryLimits) -> RetentionPolicy {
    RetentionPolicy {
        keep_days: own.keep_days.unwrap_or(policy.keep_days),
        keep_failed_days: own.keep_failed_days.unwrap_or(policy.keep_failed_days),
        keep_runs: own.keep_runs.unwrap_or(policy.keep_runs),
        keep_audit_days: policy.keep_audit_days,
    }
}

/// Prunes, one job at a time, the runs of the jobs with history limits of their own (which the
/// passes over all runs leave out), each by `policy` with its own limits in place.
async fn prune_jobs_with_own_limits(
    store: &Store,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    dry_run: bool,
    pause: Duration,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store.jobs_with_own_history(after.as_deref()).await?;
        for (job, limits) in &page {
            let Some(limits) = limits else {
                tracing::warn!(job = %job, "its history limits cannot be read; its runs are kept until a PUT repairs it");
                continue;
            };
            let own = policy_for(policy, limits);
            removed += store
                .prune_job_runs(job, cutoffs(&own, now), own.keep_runs, dry_run)
                .await?;
            tokio::time::sleep(pause).await;
        }
        match page.last() {
            Some((last, _)) if page.len() == PRUNE_JOBS_PER_STEP as usize => {
                after = Some(last.clone());
            }
            _ => return Ok(removed),
        }
    }
}

/// Prunes at start and then every `interval` until `shutdown`, counting what it removed in
/// the handle's counters. A failed pass is logged and retried at the next interval.
pub async fn run_pruner(
    store: Store,
    handle: SchedulerHandle,
    policy: RetentionPolicy,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let pass = prune_history(&store, &policy, Utc::now(), false, PRUNE_PAUSE);
        tokio::select! {
            result = pass => match result {
                Ok(report) => {
                    // Counted first: whoever sees the pass's rows counted sees the pass.
                    handle.metrics().prune_passes.inc();
                    let pruned = &handle.metrics().pruned;
                    pruned.get_or_create(&TableLabel { table: "job_runs" }).inc_by(report.runs);
                    pruned.get_or_create(&TableLabel { table: "audit_log" }).inc_by(report.audit);
                    pruned.get_or_create(&TableLabel { table: "job_revisions" }).inc_by(report.revisions);
                    if report.runs + report.audit + report.revisions > 0 {
                        tracing::info!(runs = report.runs, audit = report.audit, revisions = report.revisions, "history pruned");
                    }
                }
                Err(e) => tracing::warn!(error = %crate::error_chain::error_chain(&e), "pruning history failed; retrying later"),
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_the_policy_days_before_now() {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("instant");
        let c = cutoffs(&RetentionPolicy::default(), now);
        assert_eq!(c.ok_before.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(c.failed_before.to_rfc3339(), "2026-09-02T00:00:00+00:00");
    }

    #[test]
    fn a_job_s_own_limits_replace_the_server_s_field_by_field() {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("instant");
        let own = HistoryLimits {
            keep_days: Some(1),
            keep_failed_days: None,
            keep_runs: Some(3),
        };
        let policy = policy_for(&RetentionPolicy::default(), &own);
        assert_eq!(policy.keep_runs, 3);
        assert_eq!(policy.keep_audit_days, 365);
        let c = cutoffs(&policy, now);
        assert_eq!(c.ok_before.to_rfc3339(), "2026-11-30T00:00:00+00:00");
        assert_eq!(c.failed_before.to_rfc3339(), "2026-09-02T00:00:00+00:00");
    }
}
