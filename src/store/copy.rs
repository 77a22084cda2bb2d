//! Moving a whole store to another engine (`schedlite copy --from URL --to URL`): jobs, keys,
//! run history and audit, with their ids and instants, in pages of [`COPY_PAGE`] rows per
//! transaction. The target must be empty (an existing database is never merged into), and the
//! copy is verified afterwards: the counts of every table, and a checksum of every job's
//! definition as each side reads it back.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{AuditEntry, COPY_PAGE, JobFilter, JobOrder, Store, StoreError, TableCounts};
use crate::model::{Job, JobEntry, KeyInfo, Run};
use crate::store::JobCursor;

/// What a copy moved (equal on both sides once verified).
pub type CopyReport = TableCounts;

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds rows already.
    #[error(
        "the target is not empty ({} jobs, {} keys, {} runs, {} audit rows): copy only into a new, empty database",
        .0.jobs, .0.keys, .0.runs, .0.audit
    )]
    TargetNotEmpty(TableCounts),
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target, read back, differs from the source.
    #[error("verification failed: {0}")]
    Mismatch(String),
}

impl Store {
    /// How many rows each table the copy moves holds.
    pub async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        dispatch!(self, s => s.table_counts().await)
    }

    /// Every API key with its hash (for the copy only: nothing else reads hashes in bulk).
    pub async fn export_keys(&self) -> Result<Vec<(KeyInfo, String)>, StoreError> {
        dispatch!(self, s => s.export_keys().await)
    }

    /// Up to `limit` runs with ids above `after`, by id.
    pub async fn export_runs(&self, after: i64, limit: u32) -> Result<Vec<Run>, StoreError> {
        dispatch!(self, s => s.export_runs(after, limit).await)
    }

    /// Writes jobs exactly as given (ids, instants, paused state), in one transaction.
    pub async fn import_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        dispatch!(self, s => s.import_jobs(jobs).await)
    }

    /// Writes keys exactly as given (ids, hashes, revocations), in one transaction.
    pub async fn import_keys(&self, keys: &[(KeyInfo, String)]) -> Result<(), StoreError> {
        dispatch!(self, s => s.import_keys(keys).await)
    }

    /// Writes runs exactly as given, in one transaction; their jobs must exist.
    pub async fn import_runs(&self, runs: &[Run]) -> Result<(), StoreError> {
        dispatch!(self, s => s.import_runs(runs).await)
    }

    /// Writes audit rows exactly as given, in one transaction.
    pub async fn import_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        dispatch!(self, s => s.import_audit(entries).await)
    }
}

/// Copies everything `from` holds into the empty `to`, then verifies it. `progress` hears the
/// table being copied and how many of its rows are done.
pub async fn copy_store(
    from: &Store,
    to: &Store,
    mut progress: impl FnMut(&str, i64),
) -> Result<CopyReport, CopyError> {
    let existing = to.table_counts().await?;
    if !existing.is_empty() {
        return Err(CopyError::TargetNotEmpty(existing));
    }
    let jobs = copy_jobs(from, to, &mut progress).await?;
    let keys = from.export_keys().await?;
    to.import_keys(&keys).await?;
    progress("keys", keys.len() as i64);
    let mut runs = 0;
    let mut after = 0;
    loop {
        let page = from.export_runs(after, COPY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        to.import_runs(&page).await?;
        runs += page.len() as i64;
        progress("runs", runs);
    }
    let audit = copy_audit(from, to, &mut progress).await?;
    let copied = TableCounts {
        jobs: jobs.len() as i64,
        keys: keys.len() as i64,
        runs,
        audit,
    };
    verify(from, to, &jobs, copied).await?;
    Ok(copied)
}

/// Copies the jobs in id order; returns each job's definition checksum, by id.
async fn copy_jobs(
    from: &Store,
    to: &Store,
    progress: &mut impl FnMut(&str, i64),
) -> Result<BTreeMap<String, String>, CopyError> {
    let mut sums = BTreeMap::new();
    let mut after: Option<JobCursor> = None;
    loop {
        let page = from
            .list_jobs(
                &JobFilter::default(),
                JobOrder::Id,
                after.as_ref(),
                COPY_PAGE,
            )
            .await?;
        // A broken row cannot be rebuilt on the other engine: the copy stops naming it, and the
        // operator repairs it (PUT) or deletes it first.
        let jobs = page
            .jobs
            .into_iter()
            .map(|entry| match entry {
                JobEntry::Readable(job) => Ok(job),
                JobEntry::Broken(b) => Err(StoreError::corrupt("jobs", &b.id, b.problem)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        to.import_jobs(&jobs).await?;
        for job in &jobs {
            sums.insert(job.id.clone(), definition_sum(job));
        }
        progress("jobs", sums.len() as i64);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(sums),
        }
    }
}

/// Copies the audit trail, oldest page last (order does not matter: ids are kept).
async fn copy_audit(
    from: &Store,
    to: &Store,
    progress: &mut impl FnMut(&str, i64),
) -> Result<i64, CopyError> {
    let mut copied = 0;
    let mut before = None;
    loop {
        let page = from.list_audit(None, before, COPY_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(copied);
        };
        before = Some(last.id);
        to.import_audit(&page).await?;
        copied += page.len() as i64;
        progress("audit", copied);
    }
}

/// Reads the target back: every table's count, and every job's definition checksum.
async fn verify(
    from: &Store,
    to: &Store,
    sums: &BTreeMap<String, String>,
    copied: TableCounts,
) -> Result<(), CopyError> {
    let source = from.table_counts().await?;
    let target = to.table_counts().await?;
    if target != copied || source != copied {
        return Err(CopyError::Mismatch(format!(
            "rows copied {copied:?}, source now holds {source:?}, target holds {target:?} (was the source changed while copying?)"
        )));
    }
    for (id, sum) in sums {
        let Some(job) = to.get_job(id).await? else {
            return Err(CopyError::Mismatch(format!(
                "job `{id}` is missing in the target"
            )));
        };
        if definition_sum(&job) != *sum {
            return Err(CopyError::Mismatch(format!(
                "job `{id}` reads back different in the target"
            )));
        }
    }
    Ok(())
}

/// A checksum of everything that defines a job (trigger, action, settings, state, instants),
/// as the domain type holds it after reading its row: equal on both engines for equal jobs.
/// The action is taken as JSON too, since its `Debug` hides header values.
fn definition_sum(job: &Job) -> String {
    let action = serde_json::to_string(&job.action).unwrap_or_default();
    hex::encode(Sha256::digest(format!("{job:?}\n{action}").as_bytes()))
}
