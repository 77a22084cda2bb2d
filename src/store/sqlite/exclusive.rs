//! SQLite: who holds the exclusive groups a claim touches (module `model::exclusive`). The
//! claim's `BEGIN IMMEDIATE` transaction holds the file's write lock, so what it reads here
//! cannot change before it commits: no other process starts a run meanwhile.

use serde::Deserialize;

use super::claims::json_text;
use super::rows::decode;
use crate::model::{Groups, Job};
use crate::store::StoreError;

/// One run holding a group, read by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Held {
    group: String,
    job_id: String,
    retrying: bool,
}

/// Looks up who holds the groups of `jobs` not yet in `groups`: a run of a job of the group
/// that is `running` (in any process) or waiting to be retried. Nothing is read when none of
/// `jobs` is in a group.
pub(super) async fn find_holders(
    tx: &mut sqlx::SqliteConnection,
    jobs: &[&Job],
    groups: &mut Groups,
) -> Result<(), StoreError> {
    let wanted = groups.unknown(jobs);
    if wanted.is_empty() {
        return Ok(());
    }
    let names = json_text(&wanted)?;
    let held = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_object('group', g.exclusive_group, 'job_id', h.job_id,
                  'retrying', json(iif(h.retrying, 'true', 'false')))) AS "held!: String"
           FROM (SELECT job_id, 0 AS retrying FROM job_runs WHERE status = 'running'
                   AND job_id IN (SELECT id FROM jobs
                                  WHERE exclusive_group IN (SELECT value FROM json_each(?1)))
                 UNION ALL
                 SELECT job_id, 1 FROM job_runs WHERE retry_at IS NOT NULL
                   AND job_id IN (SELECT id FROM jobs
                                  WHERE exclusive_group IN (SELECT value FROM json_each(?1))))
                AS h JOIN jobs AS g ON g.id = h.job_id"#,
        names
    )
    .fetch_one(&mut *tx)
    .await?;
    let held: Vec<Held> = decode("job_runs", "exclusive group holders", &held)?;
    let held = held.into_iter().map(|h| (h.group, h.job_id, h.retrying));
    groups.record(&wanted, held);
    Ok(())
}
