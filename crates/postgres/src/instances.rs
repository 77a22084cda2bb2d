//! PostgreSQL: the `instances` table (serving nodes) and the recovery of runs whose node died.

use chrono::{DateTime, Utc};
use schedlite_core::store::{Instance, StoreError};

use super::{PgStore, ms};

impl PgStore {
    /// Registers this node.
    pub async fn register_instance(
        &self,
        id: &str,
        pid: i64,
        hostname: &str,
        proc_start: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO instances (id, pid, hostname, proc_start, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
            id,
            pid,
            hostname,
            proc_start,
            ms(now)
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Refreshes this node's heartbeat, undoing a stop mark set by a node that wrongly took it
    /// for dead.
    pub async fn heartbeat(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE instances SET heartbeat_at = $1, stopped_at = NULL WHERE id = $2",
            ms(now),
            id
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Marks a node stopped (its own clean shutdown, or found dead by another).
    pub async fn mark_instance_stopped(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE instances SET stopped_at = $1 WHERE id = $2 AND stopped_at IS NULL",
            ms(now),
            id
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// The owners other than `except` with runs still `running`, each with its instance row
    /// when there is one.
    pub async fn owners_of_running_runs(
        &self,
        except: &str,
    ) -> Result<Vec<(Option<String>, Option<Instance>)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT o.owner_id, i.id AS "instance_id?", i.pid AS "pid?", i.hostname AS "hostname?",
                      i.proc_start, i.started_at AS "started_at?", i.heartbeat_at AS "heartbeat_at?",
                      i.stopped_at
               FROM (SELECT DISTINCT owner_id FROM job_runs
                     WHERE status = 'running' AND owner_id IS DISTINCT FROM $1) AS o
               LEFT JOIN instances AS i ON i.id = o.owner_id"#,
            except
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let instance = match (
                    r.instance_id,
                    r.pid,
                    r.hostname,
                    r.started_at,
                    r.heartbeat_at,
                ) {
                    (Some(id), Some(pid), Some(hostname), Some(started_at), Some(heartbeat_at)) => {
                        Some(Instance {
                            id,
                            pid,
                            hostname,
                            proc_start: r.proc_start,
                            started_at,
                            heartbeat_at,
                            stopped_at: r.stopped_at,
                        })
                    }
                    _ => None,
                };
                (r.owner_id, instance)
            })
            .collect())
    }

    /// The runs of `owner` still `running`, claimed before `claimed_before`: (run id, job id).
    pub async fn stale_running_runs_of(
        &self,
        owner: &str,
        claimed_before: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query!(
            "SELECT id, job_id FROM job_runs WHERE status = 'running' AND owner_id = $1 AND started_at < $2",
            owner,
            ms(claimed_before)
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.job_id)).collect())
    }

    /// Nodes other than `except` not marked stopped.
    pub async fn unstopped_instances(&self, except: &str) -> Result<Vec<Instance>, StoreError> {
        let rows = sqlx::query!(
            "SELECT * FROM instances WHERE stopped_at IS NULL AND id != $1",
            except
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Instance {
                id: r.id,
                pid: r.pid,
                hostname: r.hostname,
                proc_start: r.proc_start,
                started_at: r.started_at,
                heartbeat_at: r.heartbeat_at,
                stopped_at: r.stopped_at,
            })
            .collect())
    }

    /// Marks every `running` run of `owner` (or of no owner) `interrupted` with `reason`.
    pub async fn interrupt_runs_of(
        &self,
        owner: Option<&str>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            "UPDATE job_runs SET status = 'interrupted', finished_at = $1, error = $2,
                retry_at = $1::timestamptz + retry_delay_ms * interval '1 millisecond'
             WHERE status = 'running' AND owner_id IS NOT DISTINCT FROM $3",
            ms(now),
            reason,
            owner
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks the given runs of this node `interrupted` (shutdown grace ran out).
    pub async fn interrupt_runs(
        &self,
        run_ids: &[i64],
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE job_runs SET status = 'interrupted', finished_at = $1, error = $2,
                retry_at = $1::timestamptz + retry_delay_ms * interval '1 millisecond'
             WHERE id = ANY($3) AND status = 'running'",
            ms(now),
            reason,
            run_ids
        )
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }
}
