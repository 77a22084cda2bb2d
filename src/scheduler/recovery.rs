//! The scheduler's maintenance (DESIGN.md, *Firing semantics*): the heartbeat, and the runs
//! left `running` by a process that died (any process's, on start and every heartbeat) or by a
//! claim of this process whose commit it never saw confirmed; each heartbeat also ends the timed
//! pauses that are due (`pauses.rs`). Whether a process is alive is
//! decided by [`liveness`](super::liveness); the SQL is the store's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schedlite_core::crash_point;
use tokio::sync::watch;

use super::{Scheduler, StorageNote, Writer, liveness};
use crate::error_chain::error_chain;
use crate::store::{Instance, StoreError};
use crate::timestamp;

/// How old a claim of this process must be before a `running` row it is not executing is taken
/// for one it never started: far longer than the step from a claim's commit to its dispatch.
const UNSTARTED_CLAIM_AGE: chrono::Duration = chrono::Duration::seconds(30);

impl Scheduler {
    /// The heartbeat expiry as a chrono duration.
    fn expiry(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.heartbeat_expiry)
            .unwrap_or(liveness::HEARTBEAT_EXPIRY)
    }

    /// Marks `interrupted` the running runs of every other process that is no longer alive.
    /// Returns how many runs were recovered.
    pub async fn recover_dead_owners(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut recovered = 0;
        for (owner, instance) in self.store.owners_of_running_runs(&self.instance_id).await? {
            if let Some(i) = &instance
                && liveness::is_alive(i, &self.hostname, now, self.expiry())
            {
                continue;
            }
            recovered += self
                .recover_runs_of(owner.as_deref(), instance.as_ref(), now)
                .await?;
        }
        // Processes that died with nothing running are marked stopped too, so `instances`
        // tells the truth about who is alive.
        for instance in self.store.unstopped_instances(&self.instance_id).await? {
            if !liveness::is_alive(&instance, &self.hostname, now, self.expiry()) {
                self.store.mark_instance_stopped(&instance.id, now).await?;
                tracing::info!(instance.id = %instance.id, pid = instance.pid, "marked a dead process stopped");
            }
        }
        Ok(recovered)
    }

    /// Marks `interrupted` the running runs of `owner`, a dead process (`instance` is its
    /// registration, `None` when it is unknown), and marks the process stopped.
    async fn recover_runs_of(
        &self,
        owner: Option<&str>,
        instance: Option<&Instance>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let reason = match instance {
            Some(i) => format!(
                "the process running it (instance {}, pid {}) died",
                i.id, i.pid
            ),
            None => "the process running it is unknown and presumed dead".to_string(),
        };
        let n = self.store.interrupt_runs_of(owner, now, &reason).await?;
        crash_point!("recovery-between-statements");
        if let Some(i) = instance {
            self.store.mark_instance_stopped(&i.id, now).await?;
        }
        if n > 0 {
            tracing::warn!(
                owner = owner.unwrap_or("-"),
                runs = n,
                "recovered runs of a dead process"
            );
        }
        Ok(n)
    }

    /// Heartbeat and recovery of dead owners, every [`liveness::HEARTBEAT_EVERY`].
    pub(super) async fn maintain(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(liveness::HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let now = timestamp::now();
            self.heartbeat(now).await;
            if let Err(e) = self.recover_dead_owners(now).await {
                tracing::warn!(error = %e, "recovery of dead processes' runs failed");
            }
            if let Err(e) = self.interrupt_unstarted_claims(now).await {
                tracing::warn!(error = %e, "the check for claims this process never started failed");
            }
            if let Err(e) = self.end_timed_pauses(now).await {
                tracing::warn!(error = %e, "the look for timed pauses that have ended failed");
            }
        }
    }

    /// Refreshes this process's heartbeat; a failure is noted for `/readyz` and the metrics.
    async fn heartbeat(&self, now: DateTime<Utc>) {
        let written = match self.store.check_file() {
            Ok(()) => self.store.heartbeat(&self.instance_id, now).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => self.handle.note(Writer::Heartbeat, None),
            Err(e) if e.is_transient() => {
                self.handle.metrics().database_error("busy");
                tracing::warn!(error = %error_chain(&e), "heartbeat waited out a busy database");
            }
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot write to the database");
                self.handle.metrics().database_error("unavailable");
                let note = StorageNote::now(error_chain(&e), e.condition());
                self.handle.note(Writer::Heartbeat, Some(note));
            }
        }
    }

    /// Marks `interrupted` the runs the database holds as `running` for this process that it
    /// is neither executing nor holding an outcome for, claimed more than
    /// [`UNSTARTED_CLAIM_AGE`] ago. They exist when a
    /// claim's commit reached the database but its answer was lost with the connection (a
    /// PostgreSQL node cut off mid-commit): the process took the claim for failed and never
    /// started them, while its heartbeat keeps any other process from recovering them, so
    /// without this they would stay `running` for ever and block `max_instances`.
    async fn interrupt_unstarted_claims(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let stale = self
            .store
            .stale_running_runs_of(&self.instance_id, now - UNSTARTED_CLAIM_AGE)
            .await?;
        if stale.is_empty() {
            return Ok(0);
        }
        // A run that finished while the database was away has its outcome held by the writer,
        // its row still `running`: it is not a claim this process never started, and marking it
        // `interrupted` would set a retry for an attempt that may have succeeded.
        let ids: Vec<i64> = stale.iter().map(|(id, _)| *id).collect();
        let Some(orphans) = self.in_flight.never_started(&ids) else {
            return Ok(0);
        };
        if orphans.is_empty() {
            return Ok(0);
        }
        let reason =
            "claimed by this process but never started: the claim's commit was not confirmed to it";
        self.store.interrupt_runs(&orphans, now, reason).await?;
        tracing::warn!(
            runs = orphans.len(),
            "interrupted runs claimed by this process that it never started"
        );
        Ok(orphans.len() as u64)
    }
}
