//! Per-request plumbing seen from outside: every response carries an `X-Request-Id` (a
//! client's own usable id echoed, otherwise a generated one), and a request past the deadline
//! is answered in the error shape without leaving the database wedged.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

crate::both_engines!(a_request_past_the_deadline_answers_in_the_error_shape);

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("response carries X-Request-Id")
        .to_str()
        .expect("ASCII request id")
        .to_string()
}

/// Success, error and unknown-route responses all carry an id, and two requests get two ids.
#[tokio::test]
async fn every_response_carries_a_generated_request_id() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for path in ["/jobs", "/jobs/missing", "/no-such-route"] {
        let resp = app
            .client
            .get(app.url(path))
            .header("X-API-Key", ADMIN_KEY)
            .send()
            .await
            .expect("sent");
        let id = request_id(&resp);
        // A UUID: 36 characters, 4 dashes.
        assert_eq!((id.len(), id.matches('-').count()), (36, 4), "{path}: {id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each request gets its own id: {ids:?}");
}

/// A client's own id comes back unchanged; one too long to log is replaced by a generated one.
#[tokio::test]
async fn a_client_supplied_request_id_is_echoed() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/auth/me"))
        .header("X-API-Key", MONITOR_KEY)
        .header("X-Request-Id", "client-trace-0042")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    assert_eq!(request_id(&resp), "client-trace-0042");

    let long = "x".repeat(129);
    let resp = app
        .client
        .get(app.url("/auth/me"))
        .header("X-API-Key", MONITOR_KEY)
        .header("X-Request-Id", &long)
        .send()
        .await
        .expect("sent");
    let id = request_id(&resp);
    assert_ne!(id, long);
    assert_eq!(id.len(), 36, "{id}");
}

/// A write waiting on a lock held elsewhere past the deadline gets 503 `REQUEST_TIMEOUT` in the
/// error shape; once the lock is released, writes work again (the abandoned `BEGIN` did not
/// leave the writer connection inside a transaction).
async fn a_request_past_the_deadline_answers_in_the_error_shape(engine: Engine) {
    let (db, guard) = engine::fresh(engine).await;
    let mut config = test_config(&db, &AppOptions::default());
    config.request_timeout = Duration::from_millis(300);
    let mut app = start_with(config).await;
    app.dir = Some(guard);

    // SQLite: the file's write lock. PostgreSQL: a lock on `jobs` that every insert waits for
    // (reads go on).
    let hold: &[&str] = match engine {
        Engine::Sqlite => &["BEGIN IMMEDIATE"],
        Engine::Postgres => &["BEGIN", "LOCK TABLE jobs IN EXCLUSIVE MODE"],
    };
    let (status, body) = on_pool!(&app.pool, p => {
        let mut lock = p.acquire().await.expect("connection");
        for sql in hold {
            sqlx::query(*sql)
                .execute(&mut *lock)
                .await
                .expect("hold the write lock");
        }
        let answer = app
            .call(
                Method::POST,
                "/jobs",
                Some(ADMIN_KEY),
                Some(&interval_job("late", 60)),
            )
            .await;
        sqlx::query("ROLLBACK")
            .execute(&mut *lock)
            .await
            .expect("release the write lock");
        answer
    });
    assert_eq!(
        (status, body),
        (
            503,
            json!({"detail": {
                "code": "REQUEST_TIMEOUT",
                "message": "the request did not finish within 300ms and was abandoned: retry shortly"
            }})
        )
    );

    // The abandoned request's BEGIN may still be completing on the writer connection; a new write
    // must get through once it has (well within the store's busy timeout), never fail for good.
    let created = wait_for(
        "a write after the deadline",
        Duration::from_secs(10),
        || async {
            let (status, body) = app.post("/jobs", &interval_job("on-time", 60)).await;
            match status {
                201 => Some(body),
                503 => None,
                other => panic!("write after an abandoned request: {other} {body}"),
            }
        },
    )
    .await;
    assert_eq!(created["data"]["id"], "on-time");
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE id = 'late'")
            .await,
        0
    );
}
