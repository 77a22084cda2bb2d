//! Runs a live process claimed but never started (issue 11, item 4): a claim whose commit
//! reached the database while its answer was lost with the connection leaves `running` rows
//! owned by a process that is alive, so no other process recovers them. The process itself
//! finds them (it is not executing them) and marks them `interrupted` with the reason, once
//! they are older than 30 s; runs it is executing are left alone.
//!
//! The lost answer is simulated by writing such a row by hand, as the committed claim would
//! have left it.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::helpers::clock::trunc_ms;
use crate::helpers::*;

crate::both_engines!(a_claim_this_process_never_started_is_interrupted_with_the_reason);

async fn a_claim_this_process_never_started_is_interrupted_with_the_reason(engine: Engine) {
    let app = spawn_app_on_with(engine, scheduler_on()).await;
    app.create_job(
        &json!({"id": "held", "trigger": {"type": "interval", "seconds": 3600},
        "action": {"type": "noop"}}),
    )
    .await;
    let sql = "SELECT id FROM instances WHERE stopped_at IS NULL";
    let owner: String = on_pool!(&app.pool, p => sqlx::query_scalar(sql).fetch_one(p).await)
        .expect("this process's instance");
    let claimed_at = trunc_ms(Utc::now() - chrono::Duration::seconds(40));
    let scheduled = claimed_at;
    let sql = "INSERT INTO job_runs (job_id, scheduled_at, kind, status, started_at, owner_id)
         VALUES ('held', $1, 'scheduled', 'running', $2, $3) RETURNING id";
    let run_id: i64 = on_pool!(&app.pool, p => sqlx::query_scalar(sql)
        .bind(Stamp(scheduled))
        .bind(Stamp(claimed_at))
        .bind(&owner)
        .fetch_one(p)
        .await)
    .expect("the row a lost commit left");
    let (status, error) = wait_for(
        "the unstarted claim interrupted",
        Duration::from_secs(10),
        || async {
            let sql = "SELECT status, error FROM job_runs WHERE id = $1";
            let row: (String, Option<String>) =
                on_pool!(&app.pool, p => sqlx::query_as(sql).bind(run_id).fetch_one(p).await)
                    .expect("row");
            (row.0 != "running").then_some(row)
        },
    )
    .await;
    assert_eq!(status, "interrupted");
    assert_eq!(
        error.as_deref(),
        Some(
            "claimed by this process but never started: the claim's commit was not confirmed to it"
        )
    );
}
