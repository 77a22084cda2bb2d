//! The `schedlite` binary: bad files and flags give one-line errors and a non-zero exit, keys
//! are printed alone, and the file is readable with `sqlite3`. `keys`, `migrate` and the first
//! start of several processes at once run on both engines.

use std::process::Command;

use crate::helpers::Engine;
use crate::helpers::child::{free_port, terminate_and_collect};
use crate::helpers::cli::{assert_one_line_error, schedlite, stderr};
use crate::helpers::engine::fresh;

crate::both_engines!(
    keys_are_created_listed_and_revoked,
    migrate_twice_is_a_no_op,
    processes_starting_together_on_an_empty_database_print_one_first_key
);

/// A file that is not a database, a directory, and a newer schema are refused cleanly.
#[test]
fn bad_database_files_are_refused_with_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "these are not the pages you are looking for\n".repeat(200),
    )
    .expect("write");
    assert_one_line_error(
        &schedlite(&["migrate"], &text),
        &["is not a SQLite database"],
        "text file",
    );
    assert_eq!(
        std::fs::read_to_string(&text).expect("read"),
        "these are not the pages you are looking for\n".repeat(200),
        "the file is left untouched"
    );

    assert_one_line_error(
        &schedlite(&["migrate"], dir.path()),
        &["directory"],
        "directory",
    );

    let newer = dir.path().join("newer.db");
    let out = schedlite(&["migrate"], &newer);
    assert!(out.status.success(), "{}", stderr(&out));
    tokio::runtime::Runtime::new().expect("rt").block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", newer.display())).await.expect("open");
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'future', 1, x'00', 0)")
            .execute(&pool)
            .await
            .expect("insert");
        pool.close().await;
    });
    assert_one_line_error(
        &schedlite(&["migrate"], &newer),
        &["newer than this binary"],
        "newer schema",
    );
    assert_one_line_error(
        &schedlite(&["serve", "--listen", "127.0.0.1:0"], &newer),
        &["newer than this binary"],
        "serve on newer schema",
    );
}

/// `keys create` prints the key alone; an unknown role is refused; list never shows keys.
async fn keys_are_created_listed_and_revoked(engine: Engine) {
    let (db, _guard) = fresh(engine).await;
    let out = schedlite(
        &["keys", "create", "--name", "ops", "--role", "monitor"],
        &db,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let key = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "the key alone: {stdout:?}");
    assert!(key.starts_with("sl_") && key.len() == 67, "{key}");

    let out = schedlite(
        &["keys", "create", "--name", "x", "--role", "superuser"],
        &db,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("superuser"), "{}", stderr(&out));

    let out = schedlite(&["keys", "create", "--name", "ops", "--role", "admin"], &db);
    assert_one_line_error(&out, &["already exists"], "duplicate name");
    let out = schedlite(
        &["keys", "create", "--name", "looker", "--role", "viewer"],
        &db,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = schedlite(&["keys", "list"], &db);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let roles: Vec<(&str, &str)> = listing
        .lines()
        .skip(1)
        .filter_map(|line| {
            line.split_whitespace()
                .next()
                .zip(line.split_whitespace().nth(1))
        })
        .collect();
    assert_eq!(
        roles,
        [("ops", "monitor"), ("looker", "viewer")],
        "{listing}"
    );
    assert!(!listing.contains(&key[3..]), "list never shows a key");

    let out = schedlite(&["keys", "revoke", "ops"], &db);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_one_line_error(
        &schedlite(&["keys", "revoke", "ops"], &db),
        &["no live key"],
        "revoke twice",
    );
}

/// `migrate` twice is a no-op the second time.
async fn migrate_twice_is_a_no_op(engine: Engine) {
    let (db, _guard) = fresh(engine).await;
    let first = schedlite(&["migrate"], &db);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = schedlite(&["migrate"], &db);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
}

/// Four `serve` processes started together on an empty database, no key provisioned: every
/// one starts, exactly one prints a first admin key (the banner, then the key alone), the
/// others print nothing, one key is stored, and the printed key works on every process.
async fn processes_starting_together_on_an_empty_database_print_one_first_key(engine: Engine) {
    let (db, _guard) = fresh(engine).await;
    let mut servers: Vec<_> = (0..4).map(|_| serve_piped(&db)).collect();
    let client = reqwest::Client::new();
    for (i, (child, url, _)) in servers.iter_mut().enumerate() {
        let ready = url.replace("/api/v1alpha1", "/readyz");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                let err = logs_of(url);
                panic!("process {i} exited before serving ({status}): {err}");
            }
            let up = client.get(&ready).send().await;
            if up.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "process {i} not ready after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    // A process prints its banner before it serves: every line is there by now.
    let printed: Vec<Vec<String>> = servers
        .iter()
        .map(|(_, _, lines)| lines.try_iter().collect())
        .collect();
    let banners: Vec<&Vec<String>> = printed.iter().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        banners.len(),
        1,
        "exactly one process prints a first key: {printed:?}"
    );
    let (banner, key) = (&banners[0][..2], &banners[0][2]);
    assert_eq!(
        banner,
        [
            "schedlite: no API keys existed, so an admin key named 'admin' was created.",
            "schedlite: it is shown only this once; only its hash is stored:",
        ]
    );
    assert_eq!(banners[0].len(), 3, "{:?}", banners[0]);
    for (_, url, _) in &servers {
        assert_me(&client, url, key).await;
    }
    let store = schedlite::store::Store::open(&db, false)
        .await
        .expect("open");
    let keys = store.list_keys().await.expect("keys");
    store.close().await;
    let keys: Vec<_> = keys
        .iter()
        .map(|k| (k.name.as_str(), k.role, k.revoked_at.is_none()))
        .collect();
    assert_eq!(keys, [("admin", schedlite::model::Role::Admin, true)]);
    for (child, url, lines) in servers {
        let out = terminate_and_collect(child).await;
        assert!(out.status.success(), "{}", logs_of(&url));
        assert_eq!(lines.iter().count(), 0, "nothing more on stdout");
    }
}

/// Bad flags and environment values get an error naming them, not a panic.
#[test]
fn bad_flags_are_named() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("f.db");
    let out = schedlite(&["serve", "--listen", "not-an-address"], &db);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--listen"), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SCHEDLITE_DB", &db)
        .env("SCHEDLITE_ADMIN_KEY", "short")
        .output()
        .expect("runs");
    assert_one_line_error(&out, &["SCHEDLITE_ADMIN_KEY"], "short admin key");
    for bad in ["-1", "soon", "604801"] {
        let flag = format!("--prune-every-seconds={bad}");
        let out = schedlite(&["serve", &flag], &db);
        assert_one_line_error(&out, &["--prune-every-seconds", bad], "prune interval");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SCHEDLITE_DB", &db)
        .env("SCHEDLITE_PRUNE_EVERY_SECONDS", "1.5")
        .output()
        .expect("runs");
    assert_one_line_error(
        &out,
        &["--prune-every-seconds", "1.5"],
        "prune interval env",
    );
}

/// The first start with no keys prints an admin key, and only then: exactly three lines on
/// stdout (two saying what happened, then the key alone); a second start on the same file
/// prints nothing on stdout and no key anywhere. The printed key works on both; the file is
/// readable with sqlite3; the key appears neither in the logs nor in the file.
#[tokio::test]
async fn first_start_prints_a_working_key_once_and_never_logs_it() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("first.db");
    let (child, url, stdout) = serve_piped(&db);
    let line = |what: &str| {
        stdout
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{what} on stdout: {e}"))
    };
    let banner = [line("first line"), line("second line")];
    let key = line("the key");
    assert_eq!(
        banner,
        [
            "schedlite: no API keys existed, so an admin key named 'admin' was created.",
            "schedlite: it is shown only this once; only its hash is stored:",
        ]
    );
    assert!(key.starts_with("sl_") && key.len() == 67, "{key:?}");
    let client = reqwest::Client::new();
    let created = crate::helpers::wait_for("server up", std::time::Duration::from_secs(10), || async {
        client
            .post(format!("{url}/jobs"))
            .header("X-API-Key", &key)
            .header("content-type", "application/json")
            .body(r#"{"id":"readable","trigger":{"type":"cron","expr":"0 3 * * *"},"action":{"type":"noop"}}"#)
            .send()
            .await
            .ok()
    })
    .await;
    assert_eq!(created.status().as_u16(), 201);
    assert_me(&client, &url, &key).await;

    let rows = crate::helpers::sqlite3(&db, "select id, trigger_type, next_run_at from jobs").await;
    assert!(
        rows.starts_with("readable|cron|") && rows.trim_end().ends_with("T03:00:00.000Z"),
        "{rows:?}"
    );

    // SIGTERM: a clean exit, and nothing more on stdout.
    let output = terminate_and_collect(child).await;
    assert!(
        output.status.success(),
        "exit 0 on SIGTERM: {:?}",
        output.status
    );
    assert_eq!(stdout.iter().collect::<Vec<_>>(), Vec::<String>::new());
    let logs = logs_of(&url);
    assert!(logs.contains("serving"), "logs were captured: {logs}");
    assert!(!logs.contains(&key), "the key must not be logged");
    assert!(
        !logs.contains(&key[3..]),
        "no part of the key body is logged"
    );

    // The second start on the same file: no key is created or printed.
    let (child, url, stdout) = serve_piped(&db);
    crate::helpers::wait_for(
        "second server up",
        std::time::Duration::from_secs(10),
        || async {
            client
                .get(format!("{url}/auth/me"))
                .header("X-API-Key", &key)
                .send()
                .await
                .ok()
        },
    )
    .await;
    assert_me(&client, &url, &key).await;
    let output = terminate_and_collect(child).await;
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(
        stdout.iter().collect::<Vec<_>>(),
        Vec::<String>::new(),
        "the second start prints nothing on stdout"
    );
    let logs = logs_of(&url);
    assert!(logs.contains("serving"), "logs were captured: {logs}");
    assert!(
        !logs.contains(&key[3..]) && !logs.contains("no API keys existed"),
        "no key on the second start: {logs}"
    );
    let keys =
        crate::helpers::sqlite3(&db, "select name, role, revoked_at is null from api_keys").await;
    assert_eq!(
        keys, "admin|admin|1\n",
        "one key, created by the first start"
    );

    for file in [db.clone(), db.with_extension("db-wal")] {
        if let Ok(bytes) = std::fs::read(&file) {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "key in clear in {}",
                file.display()
            );
        }
    }
}

/// Starts `schedlite serve` on `db` with no key provisioned and debug logs on stderr; returns
/// the child, its API base URL and its stdout line by line (ends when the process exits).
/// Its stderr goes to a file in the temp dir named by its port ([`logs_of`]), not a pipe: debug logs fill a pipe's
/// 64 KiB long before the test reads it, and the server would block writing its logs.
fn serve_piped(
    db: &std::path::Path,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let port = free_port();
    let log = std::fs::File::create(log_path(port)).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SCHEDLITE_DB", db)
        .env_remove("SCHEDLITE_ADMIN_KEY")
        .env_remove("SCHEDLITE_MONITOR_KEY")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, format!("http://127.0.0.1:{port}/api/v1alpha1"), rx)
}

/// Where [`serve_piped`] writes the logs of the server on `port` (a port is one server's at a
/// time, and a new one truncates the file).
fn log_path(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("schedlite-cli-{port}.log"))
}

/// The logs the server at `url` (started by [`serve_piped`]) wrote.
fn logs_of(url: &str) -> String {
    let port: u16 = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in url");
    std::fs::read_to_string(log_path(port)).expect("log file")
}

/// `GET /auth/me` with `key` names the first start's admin key.
async fn assert_me(client: &reqwest::Client, url: &str, key: &str) {
    let resp = client
        .get(format!("{url}/auth/me"))
        .bearer_auth(key)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "data": {"name": "admin", "role": "admin"}})
    );
}
