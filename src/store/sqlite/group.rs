//! SQLite: group commit of the API's single job writes (`POST /jobs`, `PUT /jobs/{id}`).
//!
//! SQLite runs one writer at a time, and each statement is a hand-off to the driver's thread,
//! so concurrent creates used to queue one transaction (six statements) each behind the one
//! API writer connection. Here a write joins a queue, and whoever leads takes everything queued
//! and writes it in one transaction with the set-based statements of `write.rs`: while one
//! transaction runs, the writes that arrive meanwhile gather for the next. A lone write costs
//! what it did; eight concurrent ones share one transaction.
//!
//! Each write is still its own: a create whose id exists gets its own `JobExists` and the rest
//! of the group is written; writes of the same id never share a transaction (the later one
//! waits for the next), so each sees the one before it; and a group whose transaction fails
//! on one write's account is written again one write per transaction, so one write's failure
//! is never another's (a storage that refuses every write, busy or full, answers them all).
//! The transaction runs in a task of its own: a caller that goes away (a client gone, a
//! deadline) must not cancel the others' writes halfway. Its own write is dropped instead, if
//! the transaction has not started it (checked once the write lock is held): a request
//! answered 503 `REQUEST_TIMEOUT` must not be written after all.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::SqliteStore;
use super::write::{JobWrite, existing, write_changes};
use crate::model::NewJob;
use crate::store::StoreError;

/// How many writes one transaction takes at most.
const MAX_GROUP: usize = 256;

/// What a single write asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteKind {
    /// Create only: an existing id is refused.
    Create,
    /// Create or replace.
    Put,
}

/// A write waiting in the queue, with where its answer goes: whether it created its job.
struct Pending {
    kind: WriteKind,
    job: NewJob,
    next_run_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    key_name: String,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

impl Pending {
    fn write(&self) -> JobWrite<'_> {
        JobWrite {
            job: &self.job,
            next_run_at: self.next_run_at,
            at: self.at,
            key_name: &self.key_name,
        }
    }
}

/// The queue of writes and the lead: one per store, shared by its clones.
#[derive(Default)]
pub(super) struct GroupCommit {
    queue: std::sync::Mutex<Vec<Pending>>,
    lead: tokio::sync::Mutex<()>,
}

/// The queue, whether or not a thread panicked holding it: it is a list of pending writes,
/// never left half-changed by the code that holds it.
fn queue(group: &GroupCommit) -> std::sync::MutexGuard<'_, Vec<Pending>> {
    group
        .queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = queue(self).len();
        f.debug_struct("GroupCommit")
            .field("queued", &queued)
            .finish()
    }
}

impl SqliteStore {
    /// Writes `job` (with its next run) as `key_name`'s change at `at`, in a group with the
    /// writes queued beside it. Returns whether it created the job; a [`WriteKind::Create`] of
    /// an existing id gives [`StoreError::JobExists`] and writes nothing.
    pub(super) async fn write_job(
        &self,
        kind: WriteKind,
        job: &NewJob,
        next_run_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
        key_name: &str,
    ) -> Result<bool, StoreError> {
        self.check_file()?;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            kind,
            job: job.clone(),
            next_run_at,
            at,
            key_name: key_name.to_string(),
            reply,
        };
        queue(&self.group).push(pending);
        let store = self.clone();
        tokio::spawn(async move { store.lead_groups().await });
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::corrupt(
                "jobs",
                &job.id,
                "the group commit ended without an answer",
            ))
        })
    }

    /// Takes the lead, then writes groups until the queue is empty (another write's leader may
    /// have emptied it already: then there is nothing to do).
    async fn lead_groups(&self) {
        let _lead = self.group.lead.lock().await;
        loop {
            let group = self.next_group();
            if group.is_empty() {
                return;
            }
            self.commit_group(group).await;
        }
    }

    /// The queued writes for one transaction, in arrival order: up to [`MAX_GROUP`], stopping
    /// before an id the group already has.
    fn next_group(&self) -> Vec<Pending> {
        let mut queue = queue(&self.group);
        let mut ids = HashSet::new();
        let end = queue
            .iter()
            .position(|p| ids.len() == MAX_GROUP || !ids.insert(p.job.id.clone()))
            .unwrap_or(queue.len());
        queue.drain(..end).collect()
    }

    /// Writes `group` in one transaction and answers each write. When that transaction fails
    /// on one write's account, writes each alone so that each gets its own answer; when the
    /// storage refuses writes as such (busy, full, …), answers each with that error.
    async fn commit_group(&self, group: Vec<Pending>) {
        if group.len() > 1 {
            match self.write_group(&group).await {
                Ok(answers) => {
                    for (pending, answer) in group.into_iter().zip(answers) {
                        if let Some(answer) = answer {
                            let _ = pending.reply.send(answer);
                        }
                    }
                    return;
                }
                Err(e) => {
                    // The storage refuses every write alike (busy, full, …): each gets the
                    // error at once. Written again one by one, each would wait out the busy
                    // timeout anew, and the last answer would come many timeouts late.
                    let copies: Option<Vec<StoreError>> =
                        group.iter().map(|_| e.storage_wide()).collect();
                    if let Some(copies) = copies {
                        for (pending, copy) in group.into_iter().zip(copies) {
                            let _ = pending.reply.send(Err(copy));
                        }
                        return;
                    }
                    tracing::debug!(error = %e, writes = group.len(), "group write failed; writing each alone");
                }
            }
        }
        for pending in group {
            let answer = match self.write_group(std::slice::from_ref(&pending)).await {
                Ok(mut answers) => answers.pop().flatten(),
                Err(e) => Some(Err(e)),
            };
            if let Some(answer) = answer {
                let _ = pending.reply.send(answer);
            }
        }
    }

    /// One transaction for `group` (distinct ids): the existing ids, then the rows, audit rows
    /// and revisions of every write but the refused creates and the abandoned ones. The
    /// answers, in order; `None` for a write abandoned by its caller (a request past its
    /// deadline, a client gone), which is not written: its client was told it failed.
    async fn write_group(
        &self,
        group: &[Pending],
    ) -> Result<Vec<Option<Result<bool, StoreError>>>, StoreError> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<&str> = group.iter().map(|p| p.job.id.as_str()).collect();
        let existed = existing(&mut tx, &ids).await?;
        let mut answers = Vec::with_capacity(group.len());
        let mut writes = Vec::with_capacity(group.len());
        for pending in group {
            let exists = existed.contains(&pending.job.id);
            // Checked once the lock is ours: BEGIN may have waited long for another writer.
            if pending.reply.is_closed() {
                answers.push(None);
            } else if exists && pending.kind == WriteKind::Create {
                answers.push(Some(Err(StoreError::JobExists(pending.job.id.clone()))));
            } else {
                answers.push(Some(Ok(!exists)));
                writes.push((pending.write(), !exists));
            }
        }
        if writes.is_empty() {
            // Only refusals: nothing to write, and the connection goes back to the pool.
            tx.rollback().await?;
            return Ok(answers);
        }
        write_changes(&mut tx, &writes).await?;
        tx.commit().await?;
        Ok(answers)
    }
}
