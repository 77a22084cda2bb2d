//! The README's queries for operators (DESIGN.md, *Operators with `sqlite3`*; issue 10, item
//! 6; issue 11, item 2) run with the real shells against a database a real server wrote: every
//! `sqlite3 FILE "…"` line of README.md runs in the `sqlite3` shell on a file, and every
//! `psql "$URL" -c "…"` line in `psql` on a PostgreSQL database, each taken from the README
//! itself, so a query that names a column or table that does not exist fails here, and each
//! must return the columns and rows expected of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::helpers::child::{KEY, Server};
use crate::helpers::stub::Stub;
use crate::helpers::{Pool, cli, pg, postgres, skip_or_fail, wait_for};

/// Every `sqlite3 FILE "QUERY"` in `readme`, as (FILE, QUERY), in order.
fn readme_queries(readme: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find("sqlite3 ") {
        rest = &rest[at + "sqlite3 ".len()..];
        let Some((file, after)) = rest.split_once(' ') else {
            break;
        };
        if file.contains(['`', '"']) || !after.starts_with('"') {
            continue;
        }
        let Some((query, _)) = after[1..].split_once('"') else {
            panic!("an unterminated sqlite3 query in README.md: {after:?}");
        };
        found.push((file.to_string(), query.to_string()));
    }
    found
}

/// What the real `sqlite3` shell prints for `sql` on `db`, with a header line of the column
/// names; `None` (a skip, a failure under `CI=true`) where the shell is not installed. A
/// failing query (a column that does not exist) fails the test with the shell's message.
fn shell(db: &Path, sql: &str) -> Option<Vec<String>> {
    let out = match std::process::Command::new("sqlite3")
        .args(["-header", "-bail"])
        .arg(db)
        .arg(sql)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            skip_or_fail(&format!("the sqlite3 shell cannot run ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "README query failed: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Every `psql "$URL" -c "QUERY"` in `readme`, in order.
fn readme_psql_queries(readme: &str) -> Vec<String> {
    const PREFIX: &str = "psql \"$URL\" -c \"";
    readme
        .split(PREFIX)
        .skip(1)
        .map(|rest| {
            let (query, _) = rest
                .split_once('"')
                .unwrap_or_else(|| panic!("an unterminated psql query in README.md: {rest:?}"));
            query.to_string()
        })
        .collect()
}

/// What the real `psql` prints for `sql` on the database `url`: unaligned, `|` between
/// cells, a header line, no footer, instants in UTC (`PGTZ`); `None` (a skip, a failure
/// under `CI=true`) where psql is not installed. A failing query fails the test.
fn psql(url: &str, sql: &str) -> Option<Vec<String>> {
    let out = match std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-F",
            "|",
            "-P",
            "footer=off",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-d", url, "-c", sql])
        .env("PGTZ", "UTC")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            skip_or_fail(&format!("the psql shell cannot run ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "README query failed: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// A header line with each engine's name for an unnamed column made the same: SQLite names
/// it by its expression (`count(*)`), PostgreSQL by its function (`count`).
fn column_names(header: &str) -> String {
    header
        .split('|')
        .map(|name| name.split_once('(').map_or(name, |(f, _)| f))
        .collect::<Vec<_>>()
        .join("|")
}

/// The rows of a shell answer (without the header), each split into its cells.
fn cells(lines: &[String]) -> Vec<Vec<&str>> {
    lines[1..].iter().map(|l| l.split('|').collect()).collect()
}

/// The instant of the `hang` job, years ahead: it runs only when run now.
const HANG_AT: &str = "2030-01-01T00:00:00.000Z";

/// Three jobs that never fire on their own during the test (a daily cron, an hourly interval,
/// a date years ahead) created through `server`, each run once with run-now: the noop run
/// succeeds, the HTTP 500 one fails, the one whose target answers after 30 s is still
/// `running` when the server is killed, so the database `db` holds exactly these three runs,
/// audit rows and a key. Returns the killed server's pid.
async fn arrange(mut server: Server, db: &Path, stub: &Stub) -> String {
    for body in [
        json!({"id": "tick", "trigger": {"type": "cron", "expr": "0 3 * * *"},
               "action": {"type": "noop"}, "history": {"keep_days": 3650}}),
        json!({"id": "broken", "trigger": {"type": "interval", "seconds": 3600},
               "action": {"type": "http", "method": "POST", "url": stub.url("/fail")},
               "retry": {"max_attempts": 3, "initial_delay_seconds": 3600, "jitter": false},
               "exclusive_group": "db",
               "expect": {"max_consecutive_failures": 1,
                          "alert_webhook": stub.url("/hook/1000")}}),
        json!({"id": "hang", "trigger": {"type": "date", "run_at": HANG_AT},
               "action": {"type": "http", "method": "GET", "url": stub.url("/sleep/30000"),
                          "timeout_seconds": 60},
               "exclusive_group": "reports"}),
    ] {
        server.create_job(&body).await;
    }
    let client = reqwest::Client::new();
    for id in ["tick", "broken", "hang"] {
        let resp = client
            .post(format!("{}/api/v1alpha1/jobs/{id}/run", server.base()))
            .header("X-API-Key", KEY)
            .send()
            .await
            .expect("run-now sent");
        assert_eq!(resp.status().as_u16(), 202, "run {id} now");
    }
    let pool = Pool::connect(db).await;
    let pid = pool.count("SELECT pid FROM instances").await.to_string();
    let (pool, stub) = (&pool, &stub);
    wait_for(
        "succeeded, failed and running rows",
        Duration::from_secs(10),
        || async move {
            let n = pool
                .count(
                    "SELECT count(*) FROM job_runs WHERE (job_id, status) IN
                    (VALUES ('tick', 'succeeded'), ('broken', 'failed'), ('hang', 'running'))",
                )
                .await;
            // `broken`'s alert (ok to failing) was tried once at least; its webhook answers 503.
            let tried = pool
                .count("SELECT count(*) FROM alerts WHERE attempts >= 1")
                .await;
            (n == 3 && stub.keys("sleep").len() == 1 && tried == 1).then_some(())
        },
    )
    .await;
    server.kill_hard().await;
    pool.close().await;
    pid
}

/// Runs each query with `run` and checks its answer against `expected`, by its header; every
/// expectation must be met exactly once.
fn check_all(
    queries: &[(&Path, String)],
    run: impl Fn(&Path, &str) -> Option<Vec<String>>,
    expected: &BTreeMap<String, Check<'_>>,
) {
    let mut checked = Vec::new();
    for (target, sql) in queries {
        let Some(lines) = run(target, sql) else {
            return;
        };
        let header = column_names(lines.first().map(String::as_str).unwrap_or_default());
        let check = expected
            .get(&header)
            .unwrap_or_else(|| panic!("README query with no expectation here: {sql}\n{lines:?}"));
        check(&cells(&lines));
        checked.push(header);
    }
    eprintln!("{} README queries checked", checked.len());
    let mut unused: Vec<&str> = expected.keys().map(String::as_str).collect();
    unused.retain(|h| !checked.iter().any(|c| c == h));
    assert_eq!(
        unused,
        Vec::<&str>::new(),
        "expected queries not in README.md"
    );
    assert_eq!(
        checked.len(),
        expected.len(),
        "each query once: {checked:?}"
    );
}

/// The `sqlite3` queries on a file a real server wrote (the backup query on a `schedlite
/// backup` copy of it).
#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_sqlite3_queries_run_and_return_what_they_say() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("schedlite.db");
    let pid = arrange(Server::start(&db, &[]).await, &db, &stub).await;
    let copy = dir.path().join("copy.db");
    let out = cli::schedlite(&["backup", copy.to_str().expect("utf-8 path")], &db);
    assert!(out.status.success(), "backup: {}", cli::stderr(&out));

    let queries: Vec<(&Path, String)> = readme_queries(&readme)
        .into_iter()
        .map(|(file, sql)| {
            let target: &Path = if file == "schedlite.db" { &db } else { &copy };
            (target, sql)
        })
        .collect();
    let mut expected = expectations(HANG_AT, "0", &pid);
    expected.insert(
        "integrity_check".to_string(),
        Box::new(|rows| assert_eq!(rows, [vec!["ok"]])),
    );
    check_all(&queries, shell, &expected);
}

/// The `psql` queries on a PostgreSQL database a real server wrote: the same rows, in
/// PostgreSQL's types (`timestamptz` in UTC, `boolean`).
#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_psql_queries_run_and_return_what_they_say() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let Some(database) = postgres::create().await else {
        return;
    };
    let stub = Stub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_schedlite");
    let server = pg::start_node(bin, &database.url, dir.path(), &[]).await;
    let db = Path::new(&database.url);
    let pid = arrange(server, db, &stub).await;

    let queries: Vec<(&Path, String)> = readme_psql_queries(&readme)
        .into_iter()
        .map(|sql| (db, sql))
        .collect();
    let expected = expectations("2030-01-01 00:00:00+00", "f", &pid);
    check_all(
        &queries,
        |db, sql| psql(db.to_str().expect("the URL"), sql),
        &expected,
    );
}

/// A check of the rows of one query's answer.
type Check<'a> = Box<dyn Fn(&[Vec<&str>]) + 'a>;

/// What each README query must print on the database of the test, by its header line (see
/// [`column_names`]): the rows of the three runs (`hang` running on the killed process `pid`),
/// the audit and the key. The shells differ only in how they show `hang`'s instant and a false
/// `paused` (`no`).
fn expectations<'a>(hang_at: &'a str, no: &'a str, pid: &'a str) -> BTreeMap<String, Check<'a>> {
    let mut expected: BTreeMap<String, Check<'a>> = BTreeMap::new();
    expected.insert(
        column_names("id|trigger_type|coalesce(cron_expr, interval_seconds, run_at)|timezone|next_run_at|paused"),
        Box::new(move |rows| {
            let mut by_next = rows.to_vec();
            by_next.sort_by_key(|r| r[4]);
            assert_eq!(by_next, rows, "ordered by next run");
            let mut got: Vec<[&str; 5]> = rows
                .iter()
                .map(|r| [r[0], r[1], r[2], r[3], r[5]])
                .collect();
            got.sort_unstable();
            assert_eq!(
                got,
                [
                    ["broken", "interval", "3600", "UTC", no],
                    ["hang", "date", hang_at, "UTC", no],
                    ["tick", "cron", "0 3 * * *", "UTC", no],
                ]
            );
        }),
    );
    expected.insert(
        column_names(
            "job_id|scheduled_at|status|duration_ms|coalesce(http_status, exit_code)|error",
        ),
        Box::new(|rows| {
            let got: Vec<[&str; 4]> = rows.iter().map(|r| [r[0], r[2], r[4], r[5]]).collect();
            assert_eq!(
                got,
                [
                    ["hang", "running", "", ""],
                    ["broken", "failed", "500", "HTTP 500 Internal Server Error"],
                    ["tick", "succeeded", "", ""],
                ],
                "newest first: {rows:?}"
            );
        }),
    );
    expected.insert(
        column_names("job_id|status|count(*)|sum(occurrences)"),
        Box::new(|rows| {
            let mut rows = rows.to_vec();
            rows.sort_unstable();
            assert_eq!(
                rows,
                [
                    vec!["broken", "failed", "1", "1"],
                    vec!["hang", "running", "1", "1"]
                ]
            );
        }),
    );
    expected.insert(
        column_names("job_id|started_at|hostname|pid|heartbeat_at"),
        Box::new(move |rows| {
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!([rows[0][0], rows[0][3]], ["hang", pid]);
        }),
    );
    expected.insert(
        column_names("at|key_name|action|job_id"),
        Box::new(|rows| {
            let got: Vec<[&str; 3]> = rows.iter().map(|r| [r[1], r[2], r[3]]).collect();
            assert_eq!(
                got,
                [
                    ["env-admin", "run", "hang"],
                    ["env-admin", "run", "broken"],
                    ["env-admin", "run", "tick"],
                    ["env-admin", "create", "hang"],
                    ["env-admin", "create", "broken"],
                    ["env-admin", "create", "tick"],
                ]
            );
        }),
    );
    expected.insert(
        column_names("id|history"),
        Box::new(|rows| {
            // psql prints jsonb with a space after the colon, sqlite3 the text as stored.
            let got: Vec<(&str, String)> =
                rows.iter().map(|r| (r[0], r[1].replace(' ', ""))).collect();
            assert_eq!(got, [("tick", r#"{"keep_days":3650}"#.to_string())]);
        }),
    );
    expected.insert(
        column_names("job_id|scheduled_at|attempt|status|retry_at"),
        Box::new(|rows| {
            // `broken` failed its first attempt and retries in an hour.
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(
                [rows[0][0], rows[0][2], rows[0][3]],
                ["broken", "1", "failed"]
            );
            assert!(!rows[0][4].is_empty(), "{rows:?}");
        }),
    );
    expected.insert(
        column_names(
            "id|job_id|from_health|to_health|delivery|attempts|next_attempt_at|last_error",
        ),
        Box::new(|rows| {
            // `broken` failed once, which its `expect` calls failing; its webhook refuses.
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(
                [rows[0][1], rows[0][2], rows[0][3], rows[0][4], rows[0][7]],
                [
                    "broken",
                    "ok",
                    "failing",
                    "pending",
                    "the webhook answered HTTP 503"
                ]
            );
            assert!(rows[0][5].parse::<u32>().is_ok_and(|n| n >= 1), "{rows:?}");
            assert!(!rows[0][6].is_empty(), "{rows:?}");
        }),
    );
    expected.insert(
        column_names("exclusive_group|job_id|status|owner_id|retry_at"),
        Box::new(|rows| {
            let mut got: Vec<[&str; 3]> = rows.iter().map(|r| [r[0], r[1], r[2]]).collect();
            got.sort_unstable();
            assert_eq!(
                got,
                [["db", "broken", "failed"], ["reports", "hang", "running"]],
                "{rows:?}"
            );
            let retry_at: Vec<bool> = rows.iter().map(|r| r[4].is_empty()).collect();
            assert_eq!(
                retry_at.iter().filter(|empty| !**empty).count(),
                1,
                "{rows:?}"
            );
        }),
    );
    expected.insert(
        column_names("name|role|created_at|last_used_at|revoked_at"),
        Box::new(|rows| {
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(
                [rows[0][0], rows[0][1], rows[0][4]],
                ["env-admin", "admin", ""]
            );
            assert!(!rows[0][3].is_empty(), "the key was used: {rows:?}");
        }),
    );
    expected
}
