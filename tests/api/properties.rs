//! Properties of `POST /jobs` and `PUT /jobs/{job_id}` over generated request bodies (issue
//! "Reliability", item 5): arbitrary JSON, and valid bodies with a few fields dropped, retyped,
//! added or pushed out of range. Whatever the body, the answer is a 2xx or a 4xx in the error
//! shape, never a 5xx or a dropped connection, and a 4xx changes no row.
//!
//! One app serves every case of a property (spawning one per case would cost seconds); the
//! number of cases is 256 unless `PROPTEST_CASES` says otherwise. Failures are not persisted
//! to files: proptest prints the minimal failing body.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration as ChronoDuration;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

use crate::helpers::clock::from_now;
use crate::helpers::{ADMIN_KEY, Engine, TestApp, on_pool, spawn_app_on};

crate::both_engines!(sync:
    any_job_body_gets_a_2xx_or_a_4xx_that_changes_nothing,
    a_created_job_reads_back_equal
);

/// Field names of a job body and of its trigger and action, so that generated objects often
/// hit a real field with a wrong value rather than only unknown fields.
const FIELD_NAMES: &[&str] = &[
    "id",
    "name",
    "trigger",
    "action",
    "type",
    "expr",
    "timezone",
    "seconds",
    "start_at",
    "end_at",
    "run_at",
    "url",
    "method",
    "headers",
    "body",
    "timeout_seconds",
    "program",
    "args",
    "misfire_grace_seconds",
    "coalesce",
    "catch_up",
    "max_instances",
    "jitter_seconds",
    "paused",
];

/// Where a mutation can apply in a job body.
const PATHS: &[&[&str]] = &[
    &["id"],
    &["name"],
    &["trigger"],
    &["trigger", "type"],
    &["trigger", "expr"],
    &["trigger", "timezone"],
    &["trigger", "seconds"],
    &["trigger", "start_at"],
    &["trigger", "end_at"],
    &["trigger", "run_at"],
    &["action"],
    &["action", "type"],
    &["action", "url"],
    &["action", "method"],
    &["action", "headers"],
    &["action", "body"],
    &["action", "timeout_seconds"],
    &["misfire_grace_seconds"],
    &["coalesce"],
    &["catch_up"],
    &["max_instances"],
    &["jitter_seconds"],
    &["paused"],
];

/// Number literals JSON allows (or nearly) that no Rust number type holds as written.
const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "-1",
    "-0",
    "0.5",
    "1.0",
    "1e2",
    "1E-7",
    "01",
    "NaN",
    "Infinity",
    "0x10",
];

/// Ids that are valid, borderline or invalid, for bodies and paths.
const WEIRD_IDS: &[&str] = &[
    "",
    ".",
    "..",
    "...",
    "a/b",
    "a b",
    "%2F",
    "é",
    "job\u{0}",
    "job\n",
    "-",
    "_",
    "a.b-c_d",
    "🙂",
    "ＡＢＣ",
];

/// The marker a raw-number mutation puts in a string before the text is patched.
const RAW_MARKER: &str = "@@raw-number@@";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn runner() -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases: cases(),
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

/// Any JSON value: nested arrays and objects of nulls, booleans, extreme integers, floats and
/// unicode strings, with keys often taken from the real field names.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(u32::MAX),
            json!(u64::from(u32::MAX) + 1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(-0.0),
            json!(0.5),
        ]),
        any::<String>().prop_map(Value::from),
        // Cron-like text, to reach the parser's error paths through the API.
        "[0-9*/,?LW#A-Za-z@ -]{0,24}".prop_map(Value::from),
        // Timestamp-like text: leap seconds, years at both ends, odd offsets and fractions.
        "(0000|1969|1970|2026|9999)-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,10})?(Z|z|[+-][0-2][0-9]:[0-5][0-9])?"
            .prop_map(Value::from),
        prop::sample::select(vec![
            "cron",
            "interval",
            "date",
            "noop",
            "http",
            "command",
            "0 3 * * *",
            "@daily",
            "Europe/Berlin",
            "2030-01-01T00:00:00Z",
            "https://example.com/",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// An object key: a real field name, or any string.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// A valid id, made unique by the caller.
fn id_prefix() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}"
}

/// A valid trigger: cron in some timezone, interval with optional bounds, or a future date.
fn valid_trigger() -> impl Strategy<Value = Value> {
    let cron = (
        prop::sample::select(vec![
            "0 3 * * *",
            "*/5 * * * *",
            "30 2 * * *",
            "0 0 1,15 * MON",
            "0 9-17 * * 1-5",
            "15 10 * JAN,JUL SUN",
            "0 0 29 2 *",
            "*/10 * * * * *",
            "@hourly",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
        ]),
        prop::option::of(prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "Pacific/Chatham",
        ])),
    )
        .prop_map(|(expr, timezone)| match timezone {
            Some(tz) => json!({"type": "cron", "expr": expr, "timezone": tz}),
            None => json!({"type": "cron", "expr": expr}),
        });
    let interval = (
        1u64..=315_360_000,
        prop::option::of(1i64..=10 * 365 * 24 * 3600),
        prop::option::of(1i64..=3),
    )
        .prop_map(|(seconds, start_in, end_after)| {
            let mut trigger = json!({"type": "interval", "seconds": seconds});
            if let Some(start_in) = start_in {
                trigger["start_at"] = json!(from_now(ChronoDuration::seconds(start_in)));
                if let Some(k) = end_after {
                    let end = start_in + i64::try_from(seconds).expect("small") * k;
                    trigger["end_at"] = json!(from_now(ChronoDuration::seconds(end)));
                }
            }
            trigger
        });
    let date = (3600i64..=20 * 365 * 24 * 3600).prop_map(|in_seconds| {
        json!({"type": "date", "run_at": from_now(ChronoDuration::seconds(in_seconds))})
    });
    prop_oneof![cron, interval, date]
}

/// A valid action: noop or http (command jobs are disabled in this app).
fn valid_action() -> impl Strategy<Value = Value> {
    let http = (
        prop::sample::select(vec![
            "https://example.com/hook",
            "http://127.0.0.1:9/x?y=1",
            "https://xn--bcher-kva.example/ä",
        ]),
        prop::option::of(prop::sample::select(vec![
            "GET", "post", "Put", "PATCH", "DELETE", "HEAD", "OPTIONS",
        ])),
        // Header names are case-insensitive: a name given twice in two cases is invalid, so
        // keep the first spelling of each.
        prop::collection::btree_map("[A-Za-z][A-Za-z0-9-]{0,20}", "[ -~]{0,40}", 0..4).prop_map(
            |headers| {
                let mut seen = std::collections::HashSet::new();
                headers
                    .into_iter()
                    .filter(|(name, _)| seen.insert(name.to_ascii_lowercase()))
                    .collect::<std::collections::BTreeMap<_, _>>()
            },
        ),
        prop::option::of(any::<String>()),
        prop::option::of(1u64..=86_400),
    )
        .prop_map(|(url, method, headers, body, timeout)| {
            let mut action = json!({"type": "http", "url": url});
            if let Some(method) = method {
                action["method"] = json!(method);
            }
            if !headers.is_empty() {
                action["headers"] = json!(headers);
            }
            if let Some(body) = body {
                action["body"] = json!(body);
            }
            if let Some(timeout) = timeout {
                action["timeout_seconds"] = json!(timeout);
            }
            action
        });
    prop_oneof![Just(json!({"type": "noop"})), http]
}

/// A valid job body; `id` is a prefix the caller makes unique (or drops).
fn valid_body() -> impl Strategy<Value = Value> {
    (
        prop::option::of(id_prefix()),
        // Any characters but control characters, which names may not contain.
        prop::option::of(prop::collection::vec(
            any::<char>().prop_filter("not a control character", |c| !c.is_control()),
            0..=256,
        )),
        valid_trigger(),
        valid_action(),
        prop::option::of(0u32..=604_800),
        prop::option::of(any::<bool>()),
        prop::option::of(1u32..=1000),
        prop::option::of(0u32..=86_400),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(id, name, trigger, action, grace, coalesce, max, jitter, paused)| {
                let mut body = Map::new();
                if let Some(id) = id {
                    body.insert("id".into(), json!(id));
                }
                if let Some(name) = name {
                    body.insert("name".into(), json!(String::from_iter(name)));
                }
                body.insert("trigger".into(), trigger);
                body.insert("action".into(), action);
                let optional = [
                    ("misfire_grace_seconds", grace.map(Value::from)),
                    ("coalesce", coalesce.map(Value::from)),
                    ("max_instances", max.map(Value::from)),
                    ("jitter_seconds", jitter.map(Value::from)),
                    ("paused", paused.map(Value::from)),
                ];
                for (field, value) in optional {
                    if let Some(value) = value {
                        body.insert(field.into(), value);
                    }
                }
                Value::Object(body)
            },
        )
}

/// One change to a valid body.
#[derive(Debug, Clone)]
enum Mutation {
    /// Remove the field at the path.
    Drop(&'static [&'static str]),
    /// Put any JSON value at the path.
    Set(&'static [&'static str], Value),
    /// Add an unknown member to the object at the path (the body when empty).
    AddUnknown(&'static [&'static str], String, Value),
    /// Put a raw number literal at the path (patched into the text).
    RawNumber(&'static [&'static str], &'static str),
    /// Put a borderline or invalid id in the body.
    WeirdId(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let path = || prop::sample::select(PATHS);
    prop_oneof![
        path().prop_map(Mutation::Drop),
        (path(), any_json()).prop_map(|(p, v)| Mutation::Set(p, v)),
        (
            prop::sample::select(vec![&[][..], &["trigger"][..], &["action"][..]]),
            "[a-z_]{1,12}|\\PC{1,8}",
            any_json()
        )
            .prop_map(|(p, k, v)| Mutation::AddUnknown(p, k, v)),
        (path(), prop::sample::select(RAW_NUMBERS)).prop_map(|(p, n)| Mutation::RawNumber(p, n)),
        prop_oneof![
            prop::sample::select(WEIRD_IDS).prop_map(str::to_string),
            "[A-Za-z0-9._-]{129,140}",
            any::<String>(),
        ]
        .prop_map(Mutation::WeirdId),
    ]
}

/// The object holding the last segment of `path`, if the body has one there.
fn parent<'a>(body: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let (_, init) = path.split_last()?;
    let mut node = body;
    for segment in init {
        node = node.get_mut(*segment)?;
    }
    node.as_object_mut()
}

/// Applies `mutations` to `body` and returns the text to send.
fn mutate(mut body: Value, mutations: &[Mutation]) -> String {
    for m in mutations {
        match m {
            Mutation::Drop(path) => {
                if let Some(obj) = parent(&mut body, path) {
                    obj.remove(*path.last().expect("non-empty path"));
                }
            }
            Mutation::Set(path, value) => {
                if let Some(obj) = parent(&mut body, path) {
                    obj.insert(path.last().expect("path").to_string(), value.clone());
                }
            }
            Mutation::AddUnknown(path, key, value) => {
                let target = path.iter().try_fold(&mut body, |node, s| node.get_mut(*s));
                if let Some(Value::Object(obj)) = target
                    && !FIELD_NAMES.contains(&key.as_str())
                {
                    obj.insert(key.clone(), value.clone());
                }
            }
            Mutation::RawNumber(path, _) => {
                if let Some(obj) = parent(&mut body, path) {
                    obj.insert(path.last().expect("path").to_string(), json!(RAW_MARKER));
                }
            }
            Mutation::WeirdId(id) => {
                if let Value::Object(obj) = &mut body {
                    obj.insert("id".into(), json!(id));
                }
            }
        }
    }
    let mut text = body.to_string();
    for m in mutations {
        if let Mutation::RawNumber(_, literal) = m {
            text = text.replacen(&format!("\"{RAW_MARKER}\""), literal, 1);
        }
    }
    text
}

/// Path segments as sent, percent-encoded: bytes that are not UTF-8, an overlong or surrogate
/// sequence, NUL, a lone or bad escape, an escaped slash.
const RAW_SEGMENTS: &[&str] = &[
    "%ff",
    "%c3%28",
    "%ed%a0%80",
    "%c0%af",
    "%00",
    "%",
    "%zz",
    "%25",
    "a%2fb",
];

/// A request to make: the method, the job id segment of the path for PUT (percent-encoded, as
/// sent), and the exact body text.
#[derive(Debug, Clone)]
struct Case {
    put: bool,
    path_segment: String,
    body: String,
}

/// Percent-encodes every byte of `id` but the URL-unreserved ones, for use as one segment.
fn encode_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Bodies: arbitrary JSON, mutated valid bodies, a few non-JSON texts.
fn body_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any_json().prop_map(|v| v.to_string()),
        6 => (valid_body(), prop::collection::vec(mutation(), 1..4))
            .prop_map(|(body, mutations)| mutate(body, &mutations)),
        1 => valid_body().prop_map(|v| v.to_string()),
        1 => prop_oneof![
            any::<String>(),
            Just(String::new()),
            Just("{\"id\":\"x\"".to_string()),
            Just("{} {}".to_string()),
            Just(format!("[{}1]", "1,".repeat(40_000))),
            Just(format!("{}{}", "[".repeat(200), "]".repeat(200))),
        ],
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        body_text(),
        any::<bool>(),
        prop_oneof![
            2 => Just(None),
            1 => id_prefix().prop_map(|id| Some(encode_segment(&id))),
            1 => prop::sample::select(WEIRD_IDS).prop_map(|s| Some(encode_segment(s))),
            1 => prop::sample::select(RAW_SEGMENTS).prop_map(|s| Some(s.to_string())),
        ],
    )
        .prop_map(|(body, put, path_segment)| {
            // Without a chosen segment, PUT uses the body's own id, so that some PUTs succeed.
            let path_segment = path_segment.unwrap_or_else(|| {
                serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(encode_segment))
                    .unwrap_or_else(|| "put-target".to_string())
            });
            Case {
                put,
                path_segment,
                body,
            }
        })
}

/// Every column of `jobs`, read as text on either engine.
const JOB_COLUMNS: [&str; 18] = [
    "id",
    "name",
    "trigger_type",
    "cron_expr",
    "timezone",
    "interval_seconds",
    "start_at",
    "end_at",
    "run_at",
    "action",
    "next_run_at",
    "paused",
    "misfire_grace_seconds",
    "coalesce_missed",
    "max_instances",
    "jitter_seconds",
    "created_at",
    "updated_at",
];

/// Every row of `jobs` and the number of audit rows: what a refused request must not change.
async fn snapshot(app: &TestApp) -> String {
    use sqlx::Row;
    let columns: Vec<String> = JOB_COLUMNS
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect();
    let sql = format!("SELECT {} FROM jobs ORDER BY id", columns.join(", "));
    let audit = app.count("SELECT count(*) FROM audit_log").await;
    let jobs: Vec<Vec<Option<String>>> = on_pool!(&app.pool, p => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(p)
            .await
            .expect("snapshot");
        rows.iter()
            .map(|row| (0..JOB_COLUMNS.len()).map(|i| row.get(i)).collect())
            .collect()
    });
    format!("{audit} {jobs:?}")
}

/// The URL of `/jobs`, or of `/jobs/{id}` with the id percent-encoded as one path segment.
fn jobs_url(app: &TestApp, id: Option<&str>) -> Url {
    let mut url = Url::parse(&app.url("/jobs")).expect("url");
    if let Some(id) = id {
        url.path_segments_mut().expect("base").push(id);
    }
    url
}

/// Sends `body` as JSON; a transport error (dropped connection, reset) is a test failure.
async fn send(
    app: &TestApp,
    method: Method,
    url: Url,
    body: Option<String>,
) -> Result<(u16, Value), TestCaseError> {
    let mut request = app
        .client
        .request(method.clone(), url.clone())
        .header("X-API-Key", ADMIN_KEY);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("{method} {url}: no answer: {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| TestCaseError::fail(format!("{method} {url}: body cut short: {e}")))?;
    let json = serde_json::from_str(&text).map_err(|e| {
        TestCaseError::fail(format!(
            "{method} {url}: {status} with a non-JSON body {text:?}: {e}"
        ))
    })?;
    Ok((status, json))
}

/// Checks the DESIGN.md error shape: exactly `{"detail":{"code","message"}}`, an upper-case
/// documented code and a non-empty message.
fn check_error_shape(status: u16, body: &Value) -> Result<(), TestCaseError> {
    let detail = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("detail"))
        .and_then(Value::as_object)
        .filter(|d| d.len() == 2);
    let Some(detail) = detail else {
        return Err(TestCaseError::fail(format!(
            "{status}: not the error shape: {body}"
        )));
    };
    let code = detail.get("code").and_then(Value::as_str).unwrap_or("");
    let message = detail.get("message").and_then(Value::as_str).unwrap_or("");
    prop_assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{status}: code {code:?} is not UPPER_CASE: {body}"
    );
    prop_assert!(
        schedlite::api::ERROR_CODES.contains(&code),
        "{status}: code {code:?} is not documented: {body}"
    );
    prop_assert!(
        !message.trim().is_empty(),
        "{status}: empty message: {body}"
    );
    Ok(())
}

/// Runs one case: the request is answered with a 2xx that reads back, or a 4xx in the error
/// shape that changed nothing. Returns the status.
async fn check_case(app: &TestApp, case: &Case) -> Result<u16, TestCaseError> {
    let before = snapshot(app).await;
    let (method, url) = if case.put {
        let url = format!("{}/{}", app.url("/jobs"), case.path_segment);
        (Method::PUT, Url::parse(&url).expect("url"))
    } else {
        (Method::POST, jobs_url(app, None))
    };
    let (status, body) = send(app, method.clone(), url, Some(case.body.clone())).await?;
    match status {
        200..=299 => {
            let allowed: &[u16] = if case.put { &[200, 201] } else { &[201] };
            prop_assert!(allowed.contains(&status), "{method}: {status}: {body}");
            prop_assert_eq!(&body["status"], &json!("ok"), "{}", body);
            let id = body["data"]["id"].as_str().unwrap_or_default().to_string();
            prop_assert!(!id.is_empty(), "no id: {}", body);
            let (status, read) = send(app, Method::GET, jobs_url(app, Some(&id)), None).await?;
            prop_assert_eq!(status, 200, "GET {} after {}: {}", id, method, read);
            prop_assert_eq!(
                &read["data"],
                &body["data"],
                "job {} reads back as written",
                id
            );
        }
        400..=499 => {
            check_error_shape(status, &body)?;
            let after = snapshot(app).await;
            prop_assert_eq!(
                after,
                before,
                "{} {} changed rows: {}",
                method,
                status,
                body
            );
        }
        _ => {
            return Err(TestCaseError::fail(format!(
                "{method} answered {status}: {body}"
            )));
        }
    }
    Ok(status)
}

/// A multi-threaded runtime for one property, with the app spawned on it.
fn runtime_and_app(engine: Engine) -> (tokio::runtime::Runtime, TestApp) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime.block_on(spawn_app_on(engine));
    (runtime, app)
}

/// Any body sent to `POST /jobs` or `PUT /jobs/{id}` gets a 2xx that reads back, or a 4xx in
/// the error shape that leaves the jobs and audit tables unchanged; never a 5xx or no answer.
fn any_job_body_gets_a_2xx_or_a_4xx_that_changes_nothing(engine: Engine) {
    let (runtime, mut app) = runtime_and_app(engine);
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let result = runner().run(&case(), |case| {
        let status = runtime.block_on(check_case(&app, &case))?;
        let counter = if status < 300 { &accepted } else { &refused };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    runtime.block_on(app.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    eprintln!("{accepted} bodies accepted, {refused} refused");
    assert!(
        accepted > 0 && refused > 0,
        "the generators must reach both outcomes: {accepted} accepted, {refused} refused"
    );
}

/// A valid body is created (201) and `GET /jobs/{id}` returns the same job, with the fields
/// as given.
fn a_created_job_reads_back_equal(engine: Engine) {
    let (runtime, mut app) = runtime_and_app(engine);
    let unique = AtomicUsize::new(0);
    let result = runner().run(&valid_body(), |mut body| {
        runtime.block_on(async {
            let n = unique.fetch_add(1, Ordering::Relaxed);
            if let Some(id) = body.get("id").and_then(Value::as_str) {
                body["id"] = json!(format!("{id}-{n}"));
            }
            let (status, created) = send(
                &app,
                Method::POST,
                jobs_url(&app, None),
                Some(body.to_string()),
            )
            .await?;
            prop_assert_eq!(status, 201, "{} -> {}", body, created);
            let job = &created["data"];
            let id = job["id"].as_str().unwrap_or_default();
            let (status, read) = send(&app, Method::GET, jobs_url(&app, Some(id)), None).await?;
            prop_assert_eq!(status, 200, "{}", read);
            prop_assert_eq!(&read["data"], job);

            if let Some(given) = body.get("id") {
                prop_assert_eq!(&job["id"], given);
            } else {
                prop_assert!(id.starts_with("job-"), "generated id {}", id);
            }
            prop_assert_eq!(&job["name"], body.get("name").unwrap_or(&Value::Null));
            prop_assert_eq!(&job["trigger"]["type"], &body["trigger"]["type"]);
            if body["trigger"]["type"] == "cron" {
                prop_assert_eq!(&job["trigger"]["expr"], &body["trigger"]["expr"]);
                let utc = json!("UTC");
                let timezone = body["trigger"].get("timezone").unwrap_or(&utc);
                prop_assert_eq!(&job["trigger"]["timezone"], timezone);
            }
            if body["trigger"]["type"] == "interval" {
                prop_assert_eq!(&job["trigger"]["seconds"], &body["trigger"]["seconds"]);
                for bound in ["start_at", "end_at"] {
                    if let Some(given) = body["trigger"].get(bound) {
                        prop_assert_eq!(&job["trigger"][bound], given);
                    }
                }
            }
            if body["trigger"]["type"] == "date" {
                prop_assert_eq!(&job["trigger"]["run_at"], &body["trigger"]["run_at"]);
            }
            prop_assert_eq!(&job["action"]["type"], &body["action"]["type"]);
            if body["action"]["type"] == "http" {
                prop_assert_eq!(&job["action"]["url"], &body["action"]["url"]);
                let method = body["action"]["method"].as_str().unwrap_or("POST");
                prop_assert_eq!(
                    &job["action"]["method"],
                    &json!(method.to_ascii_uppercase())
                );
                prop_assert_eq!(
                    &job["action"]["body"],
                    body["action"].get("body").unwrap_or(&Value::Null)
                );
            }
            let settings = [
                ("misfire_grace_seconds", json!(60)),
                ("coalesce", json!(true)),
                ("max_instances", json!(1)),
                ("jitter_seconds", json!(0)),
                ("paused", json!(false)),
            ];
            for (field, default) in settings {
                prop_assert_eq!(
                    &job[field],
                    body.get(field).unwrap_or(&default),
                    "{}",
                    field
                );
            }
            if job["paused"] == json!(true) {
                prop_assert_eq!(&job["next_run_time"], &Value::Null);
            } else {
                prop_assert!(job["next_run_time"].is_string(), "{}", job);
            }
            Ok(())
        })
    });
    runtime.block_on(app.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
}
