//! Authentication and roles (DESIGN.md, *API*; seed story AC 4 and 5).

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

crate::both_engines!(
    missing_wrong_and_revoked_keys_get_401,
    bearer_tokens_are_accepted,
    monitor_key_is_forbidden_on_jobs_routes,
    a_viewer_reads_what_an_admin_reads_and_changes_nothing,
    authentication_comes_before_validation,
    keys_are_stored_hashed_only,
    last_use_is_recorded,
    a_key_revoked_while_in_use_is_refused_from_the_next_request,
    a_key_revoked_by_hand_is_refused_within_the_lookup_trust
);

/// Missing, unknown and revoked keys get 401 with the exact bodies DESIGN.md gives.
async fn missing_wrong_and_revoked_keys_get_401(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let (status, body) = app.call(Method::GET, "/jobs", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"detail": {"code": "UNAUTHORIZED", "message": "API key required"}})
    );

    let (status, body) = app
        .call(Method::GET, "/jobs", Some("sl_not-a-real-key"), None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"detail": {"code": "UNAUTHORIZED", "message": "Invalid API key"}})
    );

    // Revoke the monitor key in the file, as `schedlite keys revoke` does.
    let revoke =
        "UPDATE api_keys SET revoked_at = '2026-01-01T00:00:00.000Z' WHERE name = 'env-monitor'";
    assert_eq!(app.pool.execute(revoke).await, 1, "revoked");
    let (status, body) = app
        .call(Method::GET, "/auth/me", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"detail": {"code": "UNAUTHORIZED", "message": "Invalid API key"}})
    );
}

/// `Authorization: Bearer` works like `X-API-Key`; another scheme is a wrong key.
async fn bearer_tokens_are_accepted(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let resp = app
        .client
        .get(app.url("/auth/me"))
        .header("Authorization", format!("Bearer {ADMIN_KEY}"))
        .send()
        .await
        .expect("sent");
    let (status, body) = parse(resp).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ok", "data": {"name": "env-admin", "role": "admin"}})
    );

    let resp = app
        .client
        .get(app.url("/auth/me"))
        .header("Authorization", format!("Basic {ADMIN_KEY}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(parse(resp).await.0, 401);
}

/// A monitor may call /auth/me but gets 403 on every /jobs route (seed story AC 4, 5).
async fn monitor_key_is_forbidden_on_jobs_routes(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("j1", 3600)).await;
    let (status, body) = app
        .call(Method::GET, "/auth/me", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "ok", "data": {"name": "env-monitor", "role": "monitor"}})
        )
    );

    let forbidden = json!({"detail": {"code": "FORBIDDEN", "message": "Admin role required for this operation"}});
    let body = interval_job("j2", 60);
    let cases = [
        (Method::GET, "/jobs", None),
        (Method::POST, "/jobs", Some(&body)),
        (Method::GET, "/jobs/j1", None),
        (Method::PUT, "/jobs/j1", Some(&body)),
        (Method::DELETE, "/jobs/j1", None),
        (Method::GET, "/jobs/j1/preview", None),
        (Method::GET, "/jobs/j1/runs", None),
    ];
    for (method, path, body) in cases {
        let (status, json) = app
            .call(method.clone(), path, Some(MONITOR_KEY), body)
            .await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(json, forbidden, "{method} {path}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM jobs").await,
        1,
        "nothing changed"
    );
}

/// A viewer key made with `keys create --role viewer` reads what an admin reads, with the very
/// same answers, and every change it asks for gets DESIGN.md's 403 with no row changed.
async fn a_viewer_reads_what_an_admin_reads_and_changes_nothing(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.create_job(&interval_job("j1", 3600)).await;
    let viewer = app.create_key("looker", "viewer");
    let (status, body) = app
        .call(Method::GET, "/auth/me", Some(viewer.as_str()), None)
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "ok", "data": {"name": "looker", "role": "viewer"}})
        )
    );

    for path in [
        "/jobs",
        "/jobs?paused=false&trigger_type=interval&order=id",
        "/jobs/j1",
        "/jobs/j1/preview?count=3&from=2027-01-01T00:00:00Z",
        "/jobs/j1/runs",
        "/audit?job_id=j1",
        "/alerts?job_id=j1",
    ] {
        let as_viewer = app
            .call(Method::GET, path, Some(viewer.as_str()), None)
            .await;
        assert_eq!(as_viewer.0, 200, "{path}: {}", as_viewer.1);
        let as_admin = app.call(Method::GET, path, Some(ADMIN_KEY), None).await;
        assert_eq!(
            as_viewer, as_admin,
            "{path}: the viewer reads what the admin reads"
        );
    }
    let (status, metrics) = app
        .call(Method::GET, "/metrics", Some(viewer.as_str()), None)
        .await;
    assert_eq!(status, 200, "{metrics}");

    let forbidden = json!({"detail": {"code": "FORBIDDEN", "message": "Admin role required for this operation"}});
    let body = interval_job("j2", 60);
    let trigger = json!({"trigger": {"type": "interval", "seconds": 60}});
    let cases = [
        (Method::POST, "/jobs", Some(&body)),
        (Method::PUT, "/jobs/j1", Some(&body)),
        (Method::PUT, "/jobs/j2", Some(&body)),
        (Method::DELETE, "/jobs/j1", None),
        (Method::POST, "/jobs/j1/pause", None),
        (Method::POST, "/jobs/j1/resume", None),
        (Method::POST, "/jobs/j1/run", None),
        (Method::POST, "/triggers/preview", Some(&trigger)),
        (Method::POST, "/admin/backup", None),
    ];
    for (method, path, body) in cases {
        let (status, json) = app
            .call(method.clone(), path, Some(viewer.as_str()), body)
            .await;
        assert_eq!((status, json), (403, forbidden.clone()), "{method} {path}");
    }
    let (_, job) = app.get("/jobs/j1").await;
    assert_eq!(
        (&job["data"]["paused"], &job["data"]["trigger"]["seconds"]),
        (&json!(false), &json!(3600)),
        "j1 is as created"
    );
    for (table, rows) in [("jobs", 1), ("job_runs", 0), ("audit_log", 1)] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")).await,
            rows,
            "{table}: nothing changed"
        );
    }
}

/// Authentication comes before validation: a bad body with no key is a 401, not a 422.
async fn authentication_comes_before_validation(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/jobs",
            None,
            Some(&json!({"nonsense": true})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(
            Method::POST,
            "/jobs",
            Some(MONITOR_KEY),
            Some(&json!({"nonsense": true})),
        )
        .await;
    assert_eq!(status, 403);
}

/// Keys are stored only as SHA-256 hashes: neither provisioned key appears in the file.
async fn keys_are_stored_hashed_only(engine: Engine) {
    let mut app = spawn_app_on(engine).await;
    let (status, _) = app
        .call(Method::GET, "/auth/me", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, 200);
    let sql = "SELECT key_hash FROM api_keys ORDER BY name";
    let hashes: Vec<String> =
        on_pool!(&app.pool, p => sqlx::query_scalar(sql).fetch_all(p).await).expect("hashes");
    assert_eq!(
        hashes,
        vec![
            schedlite::apikey::hash(ADMIN_KEY),
            schedlite::apikey::hash(MONITOR_KEY)
        ]
    );
    let path = app.db_path.clone();
    app.stop().await;
    if engine == Engine::Postgres {
        // No file to scan: the rows read above are all the server keeps of a key.
        return;
    }
    for file in [path.clone(), path.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            for key in [ADMIN_KEY, MONITOR_KEY] {
                assert!(
                    !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                    "{key} found in clear in {}",
                    file.display()
                );
            }
        }
    }
}

/// last_used_at is recorded for a key that authenticates.
async fn last_use_is_recorded(engine: Engine) {
    let app = spawn_app_on(engine).await;
    app.get("/jobs").await;
    wait_for("last_used_at", std::time::Duration::from_secs(5), || async {
        let n = app
            .count("SELECT count(*) FROM api_keys WHERE name = 'env-admin' AND last_used_at IS NOT NULL")
            .await;
        (n == 1).then_some(())
    })
    .await;
}

/// A key revoked with `schedlite keys revoke` while a client is using it (from another
/// process, as an operator does) is refused from the very next request after the command
/// returns: DESIGN.md states no delay ("unknown or revoked key → 401"). The server trusts a
/// key lookup for a second (`src/api/key_cache.rs`), so the command waits that out before it
/// returns; without the wait this request is answered from the cache (seen: 200). The key is
/// in use up to the moment the command returns (a request every 20 ms), so it was used, and
/// cached, less than a second before.
async fn a_key_revoked_while_in_use_is_refused_from_the_next_request(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let created = cli::schedlite(
        &["keys", "create", "--name", "ops", "--role", "admin"],
        &app.db_path,
    );
    assert!(created.status.success(), "{}", cli::stderr(&created));
    let key = cli::stdout(&created).trim().to_string();
    let (status, body) = app.call(Method::GET, "/auth/me", Some(&key), None).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"status": "ok", "data": {"name": "ops", "role": "admin"}})
        )
    );

    // The client keeps using the key while the revocation runs.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let client = {
        let (client, url, key) = (app.client.clone(), app.url("/auth/me"), key.clone());
        tokio::spawn(async move {
            let mut last_ok = None;
            while !*stopped.borrow_and_update() {
                let resp = client.get(&url).header("X-API-Key", &key).send().await;
                if resp.is_ok_and(|r| r.status().as_u16() == 200) {
                    last_ok = Some(std::time::Instant::now());
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            last_ok
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let db = app.db_path.clone();
    let revoked =
        tokio::task::spawn_blocking(move || cli::schedlite(&["keys", "revoke", "ops"], &db))
            .await
            .expect("join");
    let revoked_at = std::time::Instant::now();
    stop.send(true).expect("client listens");
    assert!(revoked.status.success(), "{}", cli::stderr(&revoked));
    let last_ok = client
        .await
        .expect("client")
        .expect("the key worked before");
    eprintln!(
        "last successful use {:?} before the revocation returned",
        revoked_at - last_ok
    );
    assert!(
        revoked_at - last_ok < std::time::Duration::from_secs(1),
        "the key was in use within the last second"
    );

    // The very next request, and every one after it.
    for attempt in 0..3 {
        let (status, body) = app.call(Method::GET, "/auth/me", Some(&key), None).await;
        assert_eq!(
            (status, body),
            (
                401,
                json!({"detail": {"code": "UNAUTHORIZED", "message": "Invalid API key"}})
            ),
            "request {attempt} after the revocation"
        );
    }
}

/// How soon a key revoked by hand is refused: the README's "within that second".
const REVOKED_BY_HAND_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// A key revoked by hand in the database, not through `schedlite keys revoke` (which waits the
/// key cache out), is refused within a second of the revocation (`apikey::LOOKUP_TRUST`), as
/// the README says, and from then on. The bound is written out, not imported, so raising it is
/// a visible change here; the deadline adds 1 s for a loaded machine. With a trust of 5 s
/// (tried) the test fails.
async fn a_key_revoked_by_hand_is_refused_within_the_lookup_trust(engine: Engine) {
    let app = spawn_app_on(engine).await;
    let (status, _) = app
        .call(Method::GET, "/auth/me", Some(MONITOR_KEY), None)
        .await;
    assert_eq!(status, 200, "the key works and is now cached");
    let revoke =
        "UPDATE api_keys SET revoked_at = '2026-01-01T00:00:00.000Z' WHERE name = 'env-monitor'";
    assert_eq!(app.pool.execute(revoke).await, 1, "revoked");

    let deadline = REVOKED_BY_HAND_BOUND + std::time::Duration::from_secs(1);
    let body = wait_for("the revoked key to be refused", deadline, || async {
        let (status, body) = app
            .call(Method::GET, "/auth/me", Some(MONITOR_KEY), None)
            .await;
        (status == 401).then_some(body)
    })
    .await;
    let invalid = json!({"detail": {"code": "UNAUTHORIZED", "message": "Invalid API key"}});
    assert_eq!(body, invalid);
    for attempt in 0..3 {
        let (status, body) = app
            .call(Method::GET, "/auth/me", Some(MONITOR_KEY), None)
            .await;
        assert_eq!(
            (status, body),
            (401, invalid.clone()),
            "request {attempt} after"
        );
    }
}
