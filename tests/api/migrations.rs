//! Migrations as deployments (DESIGN.md, *Migration-driven deployments*): a database left by
//! the first release (`tests/fixtures/v1.sql`) is upgraded in place by the current binary with
//! every row intact; an up-to-date file is left alone; an edited, unknown or failing migration
//! is refused with one line naming it, and the file is left as it was.
//!
//! The `cli` tests cover `migrate` on a fresh file (twice) and a fresh file with an unknown
//! newer migration; these extend them to a file with data, from an older release.

use std::path::{Path, PathBuf};
use std::process::Output;

use reqwest::StatusCode;
use schedlite::store::Store;
use schedlite::store::sqlite::MIGRATOR;
use schedlite::{Application, Config};
use serde_json::{Value, json};
use sha2::{Digest, Sha384};
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::cli::{assert_one_line_error, schedlite, stderr, stdout};
use crate::helpers::rows::create_pool;
use crate::helpers::run_in_background;

/// The database as the first release left it: migration 1 applied, 3 jobs, 5 runs, 2 keys.
const V1_FIXTURE: &str = include_str!("../fixtures/v1.sql");
/// The admin key whose hash is in the fixture.
const FIXTURE_ADMIN_KEY: &str = "fixture-admin-key-0123456789";
/// The monitor key whose hash is in the fixture.
const FIXTURE_MONITOR_KEY: &str = "fixture-monitor-key-0123456789";
/// The first released migration, the only one applied in the fixture.
const V1: i64 = 20261128000001;
/// The migration that creates `instances`.
const V2: i64 = 20261128000002;
/// The migration that creates `audit_log` and its index.
const V3: i64 = 20261128000003;

/// Asserts that `cause` appears exactly once in the error line (STYLE.md, *Errors*: chains
/// print each cause once).
fn assert_cause_once(out: &Output, cause: &str, what: &str) {
    let err = stderr(out);
    assert_eq!(
        err.matches(cause).count(),
        1,
        "{what}: {cause:?} should be said once: {err:?}"
    );
}

/// Asserts a successful `migrate` whose stdout contains `needle`.
fn assert_migrated(out: &Output, needle: &str, what: &str) {
    assert!(
        out.status.success(),
        "{what}: migrate should succeed: {}",
        stderr(out)
    );
    assert!(
        stdout(out).contains(needle),
        "{what}: {:?} should contain {needle:?}",
        stdout(out)
    );
}

/// Runs SQL statements on `db` and closes the connection.
async fn execute(db: &Path, sql: &str) {
    let pool = create_pool(db).await;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("executing {sql:?}: {e}"));
    pool.close().await;
}

/// Builds `name` in `dir` from the v1 fixture.
async fn v1_database(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name);
    execute(&db, V1_FIXTURE).await;
    db
}

/// Every table and index with its SQL, then every row of every table, as text: two equal
/// dumps mean the file did not change in any way a reader can see.
async fn dump(db: &Path) -> String {
    let pool = create_pool(db).await;
    let mut text = String::new();
    let objects = sqlx::query(
        "SELECT type, name, ifnull(sql, '') AS sql FROM sqlite_schema ORDER BY type, name",
    )
    .fetch_all(&pool)
    .await
    .expect("schema");
    let mut tables = Vec::new();
    for object in &objects {
        let (kind, name, sql): (String, String, String) =
            (object.get("type"), object.get("name"), object.get("sql"));
        text.push_str(&format!("{kind} {name}: {sql}\n"));
        if kind == "table" && !name.starts_with("sqlite_") {
            tables.push(name);
        }
    }
    for table in tables {
        text.push_str(&table_rows(&pool, &table, &[]).await);
    }
    pool.close().await;
    text
}

/// The rows of `table` in rowid order, one line each, leaving out the columns in `except`.
async fn table_rows(pool: &SqlitePool, table: &str, except: &[&str]) -> String {
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
            .bind(table)
            .fetch_all(pool)
            .await
            .expect("columns");
    let quoted: Vec<String> = columns
        .iter()
        .filter(|c| !except.contains(&c.as_str()))
        .map(|c| format!("quote(\"{c}\")"))
        .collect();
    let sql = format!(
        "SELECT {} AS line FROM \"{table}\" ORDER BY rowid",
        quoted.join(" || '|' || ")
    );
    let lines: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .expect("rows");
    lines
        .iter()
        .map(|line| format!("{table}: {line}\n"))
        .collect()
}

/// Columns later migrations added to the tables [`data_rows`] compares: a v1 file has none of
/// them, and once migrated they hold their defaults (which the features' own tests check), so
/// "the data is intact" compares the columns the v1 file had.
const ADDED_SINCE_V1: &[&str] = &[
    // 20261201000003: timed pause and skip.
    "paused_by",
    "paused_at",
    "pause_reason",
    "paused_until",
    "skip_count",
    "skip_reason",
    // 20261201000004: job health (the counters are backfilled from the history, which
    // `the_current_binary_upgrades_a_v1_database_with_all_data_intact` checks through the API).
    "expect",
    "last_success_at",
    "consecutive_failures",
    // 20261201000009: a job's own history limits.
    "history",
    // 20261201000010: retries (v1 runs become attempt 1 with nothing pending, checked by
    // `the_current_binary_upgrades_a_v1_database_with_all_data_intact`).
    "retry",
    "attempt",
    "retry_delay_ms",
    "retry_at",
    // 20261203000012: the catch-up policy (a v1 job keeps the rule it had, `coalesce`, which
    // `the_current_binary_upgrades_a_v1_database_with_all_data_intact` checks through the API).
    "catch_up",
    // 20261203000014: a cron job's own DST policy (NULL for every v1 job: the Time rules).
    "dst_gap",
    "dst_fold",
    // 20261203000015: exclusive groups (NULL for every v1 job: no group).
    "exclusive_group",
    "exclusive_policy",
];

/// The data a release must carry over: jobs, runs and keys, every column the v1 file had.
async fn data_rows(db: &Path) -> String {
    let pool = create_pool(db).await;
    let mut text = String::new();
    for table in ["jobs", "job_runs", "api_keys"] {
        text.push_str(&table_rows(&pool, table, ADDED_SINCE_V1).await);
    }
    pool.close().await;
    text
}

/// The rows of `_sqlx_migrations` as (version, success), oldest first.
async fn applied_versions(db: &Path) -> Vec<(i64, bool)> {
    let pool = create_pool(db).await;
    let rows = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("versions");
    pool.close().await;
    rows
}

/// Whether a table or index named `name` exists in `db`.
async fn has_object(db: &Path, name: &str) -> bool {
    let pool = create_pool(db).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_schema WHERE name = ?")
        .bind(name)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n == 1
}

/// Every version this binary knows, each marked applied: what an up-to-date file holds.
fn all_versions() -> Vec<(i64, bool)> {
    MIGRATOR.iter().map(|m| (m.version, true)).collect()
}

/// The service on `db` with no key provisioned (the file's own keys are used), no scheduler.
struct Served {
    address: String,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Served {
    async fn start(db: &Path) -> Served {
        let mut config = Config::new(db);
        config.listen = "127.0.0.1:0".parse().expect("addr");
        config.run_scheduler = false;
        let mut app = Application::build(config).await.expect("app builds");
        assert_eq!(
            app.take_initial_admin_key(),
            None,
            "a file with keys gets no new admin key"
        );
        let address = format!("http://127.0.0.1:{}/api/v1alpha1", app.port());
        let (tx, server) = run_in_background(app);
        Served {
            address,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.address))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        (status, resp.json().await.expect("JSON body"))
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
    }
}

/// The fixture holds exactly what sqlx builds from migration 1, checksum included.
#[tokio::test]
async fn the_v1_fixture_is_exactly_what_migration_1_builds() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let fixture = v1_database(dir.path(), "fixture.db").await;
    let built = dir.path().join("built.db");
    let built_pool = create_pool(&built).await;
    MIGRATOR.run_to(V1, &built_pool).await.expect("migration 1");
    built_pool.close().await;
    let schema = |db: PathBuf| async move {
        let pool = create_pool(&db).await;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT type, name, ifnull(sql, '') FROM sqlite_schema ORDER BY type, name",
        )
        .fetch_all(&pool)
        .await
        .expect("schema");
        let migrations: Vec<(i64, String, bool, Vec<u8>)> = sqlx::query_as(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .expect("migrations");
        pool.close().await;
        (rows, migrations)
    };

    // Act
    let (fixture_schema, fixture_migrations) = schema(fixture).await;
    let (built_schema, built_migrations) = schema(built).await;

    // Assert
    assert_eq!(fixture_schema, built_schema, "same tables, indexes and SQL");
    assert_eq!(
        fixture_migrations, built_migrations,
        "same sqlx bookkeeping"
    );
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/migrations/sqlite/20261128000001_initial.sql"
    ))
    .expect("migration file");
    assert_eq!(
        fixture_migrations,
        vec![(
            V1,
            "initial".to_string(),
            true,
            Sha384::digest(&file).to_vec()
        )],
        "the checksum is the SHA-384 of the released file's bytes"
    );
}

/// `migrate` from the current binary upgrades a v1 file to the latest schema, keeping every
/// job, run and key, and the service then reads them with the file's own keys.
#[tokio::test]
async fn the_current_binary_upgrades_a_v1_database_with_all_data_intact() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "v1.db").await;
    let before = data_rows(&db).await;

    // Act
    let out = schedlite(&["migrate"], &db);

    // Assert: the file
    let latest = Store::latest_known_version();
    assert_migrated(
        &out,
        &format!(
            "applied {} migration(s); schema version {latest}",
            MIGRATOR.iter().count() - 1
        ),
        "upgrade",
    );
    assert_eq!(applied_versions(&db).await, all_versions());
    assert_eq!(
        data_rows(&db).await,
        before,
        "jobs, runs and keys unchanged"
    );
    let pool = create_pool(&db).await;
    let first_attempts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM job_runs WHERE attempt = 1 AND retry_delay_ms IS NULL AND retry_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    let (jobs_without_retry, runs): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM jobs WHERE retry IS NULL), (SELECT count(*) FROM job_runs)",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    pool.close().await;
    assert_eq!(
        (first_attempts, jobs_without_retry),
        (runs, 3),
        "v1 runs are first attempts, v1 jobs do not retry"
    );
    assert!(has_object(&db, "instances").await && has_object(&db, "audit_log").await);
    assert!(
        has_object(&db, "api_keys_live_name").await,
        "the viewer role's rebuild of api_keys keeps the index on live names"
    );

    // Assert: the service
    let served = Served::start(&db).await;
    let (status, list) = served.get("/jobs", FIXTURE_ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let summary: Vec<Value> = list["data"]["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            json!([
                j["id"],
                j["next_run_time"],
                j["trigger_type"],
                j["trigger_details"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            json!([
                "heartbeat",
                "2026-11-28T13:00:00.000Z",
                "interval",
                "every 3600 seconds"
            ]),
            json!([
                "nightly-backup",
                "2026-11-29T02:00:00.000Z",
                "cron",
                "0 3 * * *"
            ]),
            json!(["year-end-report", null, "date", "2030-12-31T23:00:00.000Z"]),
        ],
        "in next-run order, paused last"
    );
    let (status, job) = served.get("/jobs/nightly-backup", FIXTURE_ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(
        job["data"],
        json!({
            "id": "nightly-backup",
            "next_run_time": "2026-11-29T02:00:00.000Z",
            "trigger_type": "cron",
            "trigger_details": "0 3 * * *",
            "name": "Nightly backup",
            "trigger": {"type": "cron", "expr": "0 3 * * *", "timezone": "Europe/Berlin"},
            "action": {"type": "http", "method": "POST", "url": "https://backup.example/run",
                       "headers": {"X-Team": "<redacted>"}, "body": "{}", "timeout_seconds": 120},
            "paused": false,
            "misfire_grace_seconds": 300,
            "coalesce": true,
            "catch_up": "coalesce",
            "awaiting_approval": null,
            "max_instances": 1,
            "jitter_seconds": 0,
            "exclusive_group": null,
            "exclusive_policy": null,
            "created_at": "2026-11-28T09:10:00.000Z",
            "updated_at": "2026-11-28T09:10:00.000Z",
            "last_run": {
                "id": 2, "job_id": "nightly-backup", "kind": "manual", "status": "failed",
                "scheduled_at": "2026-11-28T09:15:00.000Z", "last_scheduled_at": null,
                "occurrences": 1, "started_at": "2026-11-28T09:15:00.003Z",
                "finished_at": "2026-11-28T09:15:00.250Z", "duration_ms": 247,
                "instance_id": "inst-a", "http_status": 503, "exit_code": null,
                "output": "Service Unavailable", "error": "HTTP 503",
                "attempt": 1, "retry_at": null
            },
            "pause": null,
            "skip": null,
            // Backfilled by 20261201000004 from the history: one success, then one failure.
            "expect": null,
            "history": null,
            // 20261201000010: no policy is one attempt.
            "retry": {"max_attempts": 1, "initial_delay_seconds": 10, "max_delay_seconds": 3600,
                      "multiplier": 2.0, "jitter": true},
            "next_retry_at": null,
            "health": "ok",
            "last_success_at": "2026-11-27T02:00:01.512Z",
            "consecutive_failures": 1
        })
    );
    let (status, job) = served.get("/jobs/year-end-report", FIXTURE_ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(
        (
            &job["data"]["action"],
            &job["data"]["paused"],
            &job["data"]["last_run"]
        ),
        (
            &json!({"type": "command", "program": "/usr/local/bin/report",
                    "args": ["--year", "2030"], "timeout_seconds": 600}),
            &json!(true),
            &Value::Null
        )
    );
    let (status, runs) = served.get("/jobs/heartbeat/runs", FIXTURE_ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    let runs: Vec<Value> = runs["data"]["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| json!([r["id"], r["status"], r["occurrences"]]))
        .collect();
    assert_eq!(
        runs,
        vec![
            json!([3, "missed", 3]),
            json!([5, "skipped", 1]),
            json!([4, "interrupted", 1])
        ],
        "latest occurrence first"
    );
    let (status, me) = served.get("/auth/me", FIXTURE_MONITOR_KEY).await;
    assert_eq!(status, StatusCode::OK, "the monitor key works: {me}");
    let (status, _) = served.get("/jobs", FIXTURE_MONITOR_KEY).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the monitor key is still a monitor"
    );
    served.stop().await;
    let pool = create_pool(&db).await;
    let keys = table_rows(&pool, "api_keys", &["last_used_at"]).await;
    pool.close().await;
    assert_eq!(
        keys,
        format!(
            "api_keys: 1|'ops-admin'|'admin'|'{}'|'2026-11-28T09:00:05.000Z'|NULL\n\
             api_keys: 2|'grafana'|'monitor'|'{}'|'2026-11-28T09:00:06.000Z'|NULL\n",
            schedlite::apikey::hash(FIXTURE_ADMIN_KEY),
            schedlite::apikey::hash(FIXTURE_MONITOR_KEY)
        ),
        "the same two keys, no new one"
    );
}

/// `serve` alone (no `migrate` first) upgrades a v1 file at start, as a container would.
#[tokio::test]
async fn serving_a_v1_database_upgrades_it_at_start() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "v1.db").await;
    let before = data_rows(&db).await;

    // Act
    let served = Served::start(&db).await;
    let (status, job) = served.get("/jobs/heartbeat", FIXTURE_ADMIN_KEY).await;
    served.stop().await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(
        job["data"]["trigger"],
        json!({"type": "interval", "seconds": 3600, "start_at": "2026-11-28T10:00:00.000Z",
               "end_at": "2027-11-28T10:00:00.000Z"})
    );
    assert_eq!(applied_versions(&db).await, all_versions());
    let after = data_rows(&db).await;
    let unchanged_but_key_use = |rows: &str| -> String {
        rows.lines()
            .filter(|l| !l.starts_with("api_keys:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        unchanged_but_key_use(&after),
        unchanged_but_key_use(&before),
        "jobs and runs unchanged"
    );
}

/// A second `migrate` on an upgraded file says it is up to date and changes nothing at all,
/// not even sqlx's bookkeeping.
#[tokio::test]
async fn migrating_an_upgraded_database_again_changes_nothing() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "v1.db").await;
    assert_migrated(&schedlite(&["migrate"], &db), "applied", "first migrate");
    let before = dump(&db).await;

    // Act
    let out = schedlite(&["migrate"], &db);

    // Assert
    assert_migrated(
        &out,
        &format!(
            "schema is up to date (version {})",
            Store::latest_known_version()
        ),
        "second migrate",
    );
    assert_eq!(dump(&db).await, before);
}

/// An applied migration whose file changed since (its checksum differs) is refused by
/// `migrate`, `serve` and `keys`, naming the migration; nothing is applied or changed.
#[tokio::test]
async fn an_applied_migration_that_was_edited_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    // (description, upgrade the v1 file first, the migration whose checksum is edited)
    let mut cases = vec![("v1 file, migration 1 edited".to_string(), false, V1)];
    cases.extend(MIGRATOR.iter().map(|m| {
        let what = format!("up-to-date file, migration {} edited", m.version);
        (what, true, m.version)
    }));
    for (i, (what, upgrade_first, version)) in cases.iter().enumerate() {
        let (what, version) = (what.as_str(), *version);
        // Arrange
        let db = v1_database(dir.path(), &format!("edited-{i}.db")).await;
        if *upgrade_first {
            assert_migrated(&schedlite(&["migrate"], &db), "applied", what);
        }
        let edited = Sha384::digest(format!("-- edited\n{version}")).to_vec();
        let pool = create_pool(&db).await;
        sqlx::query("UPDATE _sqlx_migrations SET checksum = ? WHERE version = ?")
            .bind(edited)
            .bind(version)
            .execute(&pool)
            .await
            .expect("edit checksum");
        pool.close().await;
        let before = dump(&db).await;

        // Act
        let migrate = schedlite(&["migrate"], &db);
        let keys = schedlite(&["keys", "list"], &db);
        let serve = Application::build({
            let mut config = Config::new(&db);
            config.listen = "127.0.0.1:0".parse().expect("addr");
            config.run_scheduler = false;
            config
        })
        .await;

        // Assert
        let named = format!("migration {version} was changed after it was applied");
        assert_one_line_error(&migrate, &[&named], &format!("{what}: migrate"));
        assert_one_line_error(&keys, &[&named], &format!("{what}: keys list"));
        let error = serve
            .err()
            .unwrap_or_else(|| panic!("{what}: serve must refuse"));
        assert!(
            schedlite::error_chain::error_chain(&error).contains(&named),
            "{what}: serve: {}",
            schedlite::error_chain::error_chain(&error)
        );
        assert_eq!(dump(&db).await, before, "{what}: the file is left alone");
    }
}

/// A file with data whose schema comes from a newer binary (an applied migration this binary
/// does not know) is refused by `migrate` and `keys` with one line, and none of this binary's
/// pending migrations is applied to it.
#[tokio::test]
async fn a_database_from_a_newer_binary_is_refused_and_left_alone() {
    // Arrange: a v1 file that a (hypothetical) newer release migrated with its own migration.
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "newer.db").await;
    execute(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (20991231000000, 'from the future', 1, x'00', 0)",
    )
    .await;
    let before = dump(&db).await;

    // Act
    let migrate = schedlite(&["migrate"], &db);
    let keys = schedlite(&["keys", "list"], &db);

    // Assert
    let needles = [
        "newer than this binary",
        "20991231000000",
        "upgrade schedlite",
    ];
    assert_one_line_error(&migrate, &needles, "migrate");
    assert_one_line_error(&keys, &needles, "keys list");
    assert_eq!(dump(&db).await, before, "nothing applied, nothing changed");
    assert!(!has_object(&db, "instances").await);
}

/// A migration row left unfinished (`success = 0`) is refused with one line naming it.
#[tokio::test]
async fn a_migration_marked_unfinished_is_refused_naming_it() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "dirty.db").await;
    execute(
        &db,
        "UPDATE _sqlx_migrations SET success = 0 WHERE version = 20261128000001",
    )
    .await;
    let before = dump(&db).await;

    // Act
    let out = schedlite(&["migrate"], &db);

    // Assert
    assert_one_line_error(
        &out,
        &["migration 20261128000001", "partially applied"],
        "dirty",
    );
    assert_eq!(dump(&db).await, before);
}

/// A migration that fails on its first statement (a hand-made `instances` table is in the way)
/// exits non-zero with one line naming the migration and the cause; the file stays at version 1
/// with its data, and after the obstacle is removed `migrate` completes.
#[tokio::test]
async fn a_failing_migration_is_rolled_back_and_can_be_retried() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "blocked.db").await;
    execute(&db, "CREATE TABLE instances (x)").await;
    let before = dump(&db).await;

    // Act
    let failed = schedlite(&["migrate"], &db);

    // Assert
    assert_one_line_error(
        &failed,
        &[&format!("migration {V2}"), "table instances already exists"],
        "blocked migration 2",
    );
    assert_eq!(applied_versions(&db).await, vec![(V1, true)]);
    assert_eq!(dump(&db).await, before, "data and schema as they were");

    // Act: the operator removes the obstacle and retries.
    execute(&db, "DROP TABLE instances").await;
    let retried = schedlite(&["migrate"], &db);

    // Assert
    let pending = MIGRATOR.iter().filter(|m| m.version > V1).count();
    assert_migrated(
        &retried,
        &format!("applied {pending} migration(s)"),
        "retry",
    );
    assert_eq!(applied_versions(&db).await, all_versions());
}

/// A migration that fails after its first statement succeeded (migration 3 creates `audit_log`,
/// then its index, whose name a hand-made index already uses) is rolled back entirely:
/// `audit_log` does not exist, the version is that of the migration before, and the retry
/// after removing the obstacle completes with the data intact.
#[tokio::test]
async fn a_migration_failing_half_way_leaves_none_of_its_statements_behind() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "halfway.db").await;
    execute(&db, "CREATE INDEX audit_log_by_job ON jobs (name)").await;
    let data = data_rows(&db).await;

    // Act
    let failed = schedlite(&["migrate"], &db);

    // Assert
    assert_one_line_error(
        &failed,
        &[
            &format!("migration {V3}"),
            "index audit_log_by_job already exists",
        ],
        "blocked migration 3",
    );
    assert_eq!(
        applied_versions(&db).await,
        vec![(V1, true), (V2, true)],
        "migration 2 committed, migration 3 not recorded"
    );
    assert!(
        !has_object(&db, "audit_log").await,
        "the statement before the failure was rolled back too"
    );
    assert!(has_object(&db, "instances").await);
    assert_eq!(data_rows(&db).await, data);

    // Act: the operator removes the obstacle and retries.
    execute(&db, "DROP INDEX audit_log_by_job").await;
    let retried = schedlite(&["migrate"], &db);

    // Assert
    let pending = MIGRATOR.iter().filter(|m| m.version > V2).count();
    assert_migrated(
        &retried,
        &format!("applied {pending} migration(s)"),
        "retry",
    );
    assert_eq!(applied_versions(&db).await, all_versions());
    assert_eq!(data_rows(&db).await, data);
}

/// The error line of a failed migration says its cause once (STYLE.md, *Errors*), not once
/// per layer that wraps it.
#[tokio::test]
async fn a_failing_migrations_error_says_its_cause_once() {
    // Arrange
    let dir = tempfile::tempdir().expect("dir");
    let db = v1_database(dir.path(), "blocked.db").await;
    execute(&db, "CREATE TABLE instances (x)").await;

    // Act
    let failed = schedlite(&["migrate"], &db);

    // Assert
    assert_one_line_error(
        &failed,
        &[&format!("migration {V2}")],
        "blocked migration 2",
    );
    assert_cause_once(
        &failed,
        "table instances already exists",
        "blocked migration 2",
    );
}
