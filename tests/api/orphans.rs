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

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_this_process_never_started_is_interrupted_with_the_reason() {
    let app = spawn_app_with(scheduler_on()).await;
    app.create_job(
        &json!({"id": "held", "trigger": {"type": "interval", "seconds": 3600},
        "action": {"type": "noop"}}),
    )
    .await;
    let owner: String = sqlx::query_scalar("SELECT id FROM instances WHERE stopped_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .expect("this process's instance");
    let claimed_at = schedlite::timestamp::format(Utc::now() - chrono::Duration::seconds(40));
    let scheduled = schedlite::timestamp::format(Utc::now() - chrono::Duration::seconds(40));
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO job_runs (job_id, scheduled_at, kind, status, started_at, owner_id)
         VALUES ('held', ?, 'scheduled', 'running', ?, ?) RETURNING id",
    )
    .bind(&scheduled)
    .bind(&claimed_at)
    .bind(&owner)
    .fetch_one(&app.pool)
    .await
    .expect("the row a lost commit left");
    let (status, error) = wait_for(
        "the unstarted claim interrupted",
        Duration::from_secs(10),
        || async {
            let row: (String, Option<String>) =
                sqlx::query_as("SELECT status, error FROM job_runs WHERE id = ?")
                    .bind(run_id)
                    .fetch_one(&app.pool)
                    .await
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
