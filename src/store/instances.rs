//! The liveness part of the store contract: serving processes register and beat, and the runs
//! of a process found dead are marked `interrupted` by any live one. Judging who is dead
//! (pid, heartbeat expiry) is the scheduler's (`scheduler/liveness.rs`); the store only records.

use super::{Instance, Store, StoreError};
use chrono::{DateTime, Utc};

impl Store {
    /// Registers this process.
    pub async fn register_instance(
        &self,
        id: &str,
        pid: i64,
        hostname: &str,
        proc_start: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.register_instance(id, pid, hostname, proc_start, now).await)
    }

    /// Refreshes this process's heartbeat. A process alive enough to beat is not stopped:
    /// this undoes a mark set by another process that wrongly took it for dead (a stall longer
    /// than the heartbeat expiry).
    pub async fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        dispatch!(self, s => s.heartbeat(id, now).await)
    }

    /// Marks a process stopped (its own clean shutdown, or found dead by another).
    pub async fn mark_instance_stopped(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.mark_instance_stopped(id, now).await)
    }

    /// The runs of `owner` still `running` whose claim (`started_at`, the claim time until an
    /// outcome is written) is older than `claimed_before`: (run id, job id). A live process
    /// compares them with what it is executing, to find runs it claimed but never started (a
    /// claim whose commit reached the database while the answer was lost with the connection).
    pub async fn stale_running_runs_of(
        &self,
        owner: &str,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        dispatch!(self, s => s.stale_running_runs_of(owner, claimed_before).await)
    }

    /// The owners, other than `except`, that have runs still `running`, each with its instance
    /// row when there is one (`None` for an owner id with no row: a hand edit, or NULL).
    pub async fn owners_of_running_runs(
        &self,
        except: &str,
    ) -> Result<Vec<(Option<String>, Option<Instance>)>, StoreError> {
        dispatch!(self, s => s.owners_of_running_runs(except).await)
    }

    /// Processes other than `except` that are not marked stopped.
    pub async fn unstopped_instances(&self, except: &str) -> Result<Vec<Instance>, StoreError> {
        dispatch!(self, s => s.unstopped_instances(except).await)
    }

    /// Marks every `running` run of `owner` (or of no owner, for `None`) as `interrupted` with
    /// `reason`. Returns how many.
    pub async fn interrupt_runs_of(
        &self,
        owner: Option<&str>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.interrupt_runs_of(owner, now, reason).await)
    }

    /// Marks the given runs of this process `interrupted` (shutdown grace ran out).
    pub async fn interrupt_runs(
        &self,
        run_ids: &[i64],
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.interrupt_runs(run_ids, now, reason).await)
    }
}
