//! SQLite: the `instances` table (serving processes) and the recovery of runs whose owner died.

use chrono::{DateTime, Utc};

use super::{SqliteStore, parse_opt_ts, parse_ts, ts};
use crate::store::{Instance, StoreError};

struct InstanceRow {
    id: String,
    pid: i64,
    hostname: String,
    proc_start: Option<String>,
    started_at: String,
    heartbeat_at: String,
    stopped_at: Option<String>,
}

impl TryFrom<InstanceRow> for Instance {
    type Error = StoreError;
    fn try_from(row: InstanceRow) -> Result<Instance, StoreError> {
        let key = row.id.as_str();
        Ok(Instance {
            started_at: parse_ts("instances", key, "started_at", &row.started_at)?,
            heartbeat_at: parse_ts("instances", key, "heartbeat_at", &row.heartbeat_at)?,
            stopped_at: parse_opt_ts("instances", key, "stopped_at", row.stopped_at.as_deref())?,
            id: row.id,
            pid: row.pid,
            hostname: row.hostname,
            proc_start: row.proc_start,
        })
    }
}

impl SqliteStore {
    /// Registers this process.
    pub async fn register_instance(
        &self,
        id: &str,
        pid: i64,
        hostname: &str,
        proc_start: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = ts(now);
        sqlx::query!(
            "INSERT INTO instances (id, pid, hostname, proc_start, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
            id,
            pid,
            hostname,
            proc_start,
            at,
            at
        )
        .execute(&self.loop_writer)
        .await?;
        Ok(())
    }

    /// Refreshes this process's heartbeat. A process alive enough to beat is not stopped:
    /// this undoes a mark set by another process that wrongly took it for dead (a stall longer
    /// than the heartbeat expiry).
    pub async fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let at = ts(now);
        sqlx::query!(
            "UPDATE instances SET heartbeat_at = ?, stopped_at = NULL WHERE id = ?",
            at,
            id
        )
        .execute(&self.loop_writer)
        .await?;
        Ok(())
    }

    /// Marks a process stopped (its own clean shutdown, or found dead by another).
    pub async fn mark_instance_stopped(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = ts(now);
        sqlx::query!(
            "UPDATE instances SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL",
            at,
            id
        )
        .execute(&self.loop_writer)
        .await?;
        Ok(())
    }

    /// The owners, other than `except`, that have runs still `running`, each with its instance
    /// row when there is one (`None` for an owner id with no row: a hand edit, or NULL).
    pub async fn owners_of_running_runs(
        &self,
        except: &str,
    ) -> Result<Vec<(Option<String>, Option<Instance>)>, StoreError> {
        let owners = sqlx::query_scalar!(
            "SELECT DISTINCT owner_id FROM job_runs WHERE status = 'running' AND (owner_id IS NULL OR owner_id != ?)",
            except
        )
        .fetch_all(&self.pool)
        .await?;
        let mut result = Vec::with_capacity(owners.len());
        for owner in owners {
            let instance = match &owner {
                None => None,
                Some(id) => sqlx::query_as!(
                    InstanceRow,
                    r#"SELECT id AS "id!", pid, hostname, proc_start, started_at, heartbeat_at, stopped_at
                       FROM instances WHERE id = ?"#,
                    id
                )
                .fetch_optional(&self.pool)
                .await?
                .map(Instance::try_from)
                .transpose()?,
            };
            result.push((owner, instance));
        }
        Ok(result)
    }

    /// See [`crate::store::Store::stale_running_runs_of`].
    pub async fn stale_running_runs_of(
        &self,
        owner: &str,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let before = ts(claimed_before);
        let rows = sqlx::query!(
            r#"SELECT id AS "id!: i64", job_id FROM job_runs
               WHERE status = 'running' AND owner_id = ? AND started_at < ?"#,
            owner,
            before
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.job_id)).collect())
    }

    /// Processes other than `except` that are not marked stopped.
    pub async fn unstopped_instances(&self, except: &str) -> Result<Vec<Instance>, StoreError> {
        let rows = sqlx::query_as!(
            InstanceRow,
            r#"SELECT id AS "id!", pid, hostname, proc_start, started_at, heartbeat_at, stopped_at
               FROM instances WHERE stopped_at IS NULL AND id != ?"#,
            except
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Instance::try_from).collect()
    }

    /// Marks every `running` run of `owner` (or of no owner, for `None`) as `interrupted` with
    /// `reason`, scheduling the retry of each that has attempts left (its claim decided the
    /// delay, `retry_delay_ms`). Returns how many.
    pub async fn interrupt_runs_of(
        &self,
        owner: Option<&str>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let at = ts(now);
        let done = sqlx::query!(
            "UPDATE job_runs SET status = 'interrupted', finished_at = ?1, error = ?2,
                retry_at = iif(retry_delay_ms IS NULL, NULL,
                    strftime('%Y-%m-%dT%H:%M:%fZ', ?1, format('%+.3f seconds', retry_delay_ms / 1000.0)))
             WHERE status = 'running' AND owner_id IS ?3",
            at,
            reason,
            owner
        )
        .execute(&self.loop_writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks the given runs of this process `interrupted` (shutdown grace ran out), scheduling
    /// their retries as [`Self::interrupt_runs_of`] does.
    pub async fn interrupt_runs(
        &self,
        run_ids: &[i64],
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let at = ts(now);
        let mut tx = self.begin_loop_write().await?;
        for id in run_ids {
            sqlx::query!(
                "UPDATE job_runs SET status = 'interrupted', finished_at = ?1, error = ?2,
                    retry_at = iif(retry_delay_ms IS NULL, NULL,
                        strftime('%Y-%m-%dT%H:%M:%fZ', ?1, format('%+.3f seconds', retry_delay_ms / 1000.0)))
                 WHERE id = ?3 AND status = 'running'",
                at,
                reason,
                id
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
