//! The OpenAPI document (issue 4): it parses, describes exactly the routes the router serves,
//! and documents exactly the error codes the code returns.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Every (method, path) the service answers, by hand: if a route is added to the router
/// without documentation, or documented without being served, this table and the document
/// disagree, or the probe below finds a 404/405.
const SERVED: &[(&str, &str)] = &[
    ("GET", "/api/v1alpha1/jobs"),
    ("POST", "/api/v1alpha1/jobs"),
    ("POST", "/api/v1alpha1/jobs:bulk"),
    ("GET", "/api/v1alpha1/jobs/{job_id}"),
    ("PUT", "/api/v1alpha1/jobs/{job_id}"),
    ("DELETE", "/api/v1alpha1/jobs/{job_id}"),
    ("GET", "/api/v1alpha1/jobs/{job_id}/preview"),
    ("POST", "/api/v1alpha1/triggers/preview"),
    ("GET", "/api/v1alpha1/jobs/{job_id}/runs"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/pause"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/resume"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/run"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/skip"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/catch-up"),
    ("GET", "/api/v1alpha1/jobs/{job_id}/revisions"),
    ("GET", "/api/v1alpha1/jobs/{job_id}/revisions/{a}/diff/{b}"),
    ("POST", "/api/v1alpha1/jobs/{job_id}/revisions/{n}/restore"),
    ("GET", "/api/v1alpha1/auth/me"),
    ("GET", "/api/v1alpha1/audit"),
    ("GET", "/api/v1alpha1/alerts"),
    ("POST", "/api/v1alpha1/admin/backup"),
    ("GET", "/api/v1alpha1/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
];

async fn document(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent");
    let (status, doc) = parse(resp).await;
    assert_eq!(status, 200, "{doc}");
    doc
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// Every `$ref` in `value`, with where it was found.
fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => out.push((at.to_string(), target.clone())),
                    _ => refs(inner, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                refs(inner, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every `$ref` points at a schema the document holds: a client generator (and schemathesis)
/// cannot use a part of the document whose reference dangles.
#[tokio::test]
async fn every_reference_resolves_to_a_component() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut found = Vec::new();
    refs(&doc, "", &mut found);
    assert!(found.len() > 10, "the document uses references: {found:?}");
    let dangling: Vec<_> = found
        .iter()
        .filter(|(_, target)| {
            let name = target.strip_prefix("#/components/schemas/");
            name.is_none_or(|n| doc["components"]["schemas"].get(n).is_none())
        })
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

/// The document is OpenAPI 3.1 and lists exactly the served routes.
#[tokio::test]
async fn the_document_lists_every_served_route() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let documented = documented_routes(&doc);
    let served: BTreeSet<(String, String)> = SERVED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);
    assert!(
        doc["components"]["securitySchemes"]["api_key"].is_object(),
        "auth scheme documented"
    );
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "bearer documented"
    );
    // Every documented route is really served: without a key it is a 401 (or a probe's 200),
    // never a 404 or 405.
    for (method, path) in &documented {
        let url = format!("{}{}", app.address, path.replace("{job_id}", "some-job"));
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let resp = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("sent");
        let status = resp.status().as_u16();
        assert!(
            status == 401 || path.ends_with("z") && status == 200,
            "{method} {path}: {status}"
        );
    }
}

/// The documented error codes are exactly the codes the API returns.
#[tokio::test]
async fn documented_error_codes_are_the_returned_ones() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let codes: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("error code enum")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    let known: BTreeSet<String> = schedlite::api::ERROR_CODES
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(codes, known);
    // A sample of real answers: each code seen is documented.
    let seen = [
        app.call(Method::GET, "/jobs", None, None).await,
        app.call(Method::GET, "/jobs", Some(MONITOR_KEY), None)
            .await,
        app.get("/jobs/nope").await,
        app.get("/jobs?limit=0").await,
        app.get("/no-such-route").await,
        app.call(Method::PATCH, "/jobs", Some(ADMIN_KEY), None)
            .await,
    ];
    for (status, body) in seen {
        let code = body["detail"]["code"].as_str().expect("code").to_string();
        assert!(codes.contains(&code), "{status} {code} is documented");
    }
}

/// Pause, resume, run, skip and the preview document their 409 `JOB_BROKEN` (a job whose
/// stored row cannot be read), so a client generated from the document expects it; nothing
/// else does.
#[tokio::test]
async fn only_the_actions_on_a_job_and_its_preview_document_job_broken() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut documented = BTreeSet::new();
    for (method, path) in documented_routes(&doc) {
        let conflict = &doc["paths"][&path][method.to_lowercase()]["responses"]["409"];
        let description = conflict["description"].as_str().unwrap_or_default();
        if description.starts_with("JOB_BROKEN") {
            assert_eq!(
                conflict["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}"
            );
            documented.insert(format!("{method} {path}"));
        }
    }
    let mut expected: BTreeSet<String> = ["pause", "resume", "run", "skip"]
        .map(|action| format!("POST /api/v1alpha1/jobs/{{job_id}}/{action}"))
        .into();
    expected.insert("GET /api/v1alpha1/jobs/{job_id}/preview".to_string());
    expected.insert("POST /api/v1alpha1/jobs/{job_id}/revisions/{n}/restore".to_string());
    assert_eq!(documented, expected);
}

/// Each documented route serves exactly the roles its document names, so a new route cannot
/// slip through without its role check and the document cannot promise what the server
/// refuses: a 403 described as `only an admin or viewer key may read this` serves a viewer and
/// refuses a monitor; `only an admin key may do this` refuses both; a route with no 403
/// (`/auth/me`, `/metrics`) serves every key. DESIGN.md's rule holds too: a viewer may call
/// every `GET` and nothing else. Each refusal is DESIGN.md's exact 403, and nothing changes.
#[tokio::test]
async fn every_route_serves_exactly_the_roles_its_document_names() {
    let app = spawn_app().await;
    app.create_job(&interval_job("some-job", 3600)).await;
    let viewer = app.create_key("looker", "viewer");
    let doc = document(&app).await;
    let forbidden = json!({"detail": {"code": "FORBIDDEN",
        "message": "Admin role required for this operation"}});
    let mut served_to_viewer = BTreeSet::new();
    for (method, path) in documented_routes(&doc) {
        if !path.starts_with("/api/") {
            continue;
        }
        let refusal = &doc["paths"][&path][method.to_lowercase()]["responses"]["403"];
        let (monitor_may, viewer_may) = match refusal["description"].as_str() {
            None => (true, true),
            Some("FORBIDDEN: only an admin or viewer key may read this") => (false, true),
            Some("FORBIDDEN: only an admin key may do this") => (false, false),
            Some(other) => panic!("{method} {path}: a 403 naming no roles: {other:?}"),
        };
        assert_eq!(
            viewer_may,
            method == "GET",
            "{method} {path}: a viewer reads everything and changes nothing"
        );
        // Revision numbers: the job's first (its creation) exists.
        let path_of_job = path
            .replace("{job_id}", "some-job")
            .replace("{a}", "1")
            .replace("{b}", "1")
            .replace("{n}", "1");
        let url = format!("{}{}", app.address, path_of_job);
        for (role, key, may) in [
            ("monitor", MONITOR_KEY, monitor_may),
            ("viewer", viewer.as_str(), viewer_may),
        ] {
            let mut request = app
                .client
                .request(Method::from_bytes(method.as_bytes()).expect("method"), &url)
                .header("X-API-Key", key);
            if method != "GET" {
                request = request
                    .header("content-type", "application/json")
                    .body(interval_job("some-job", 60).to_string());
            }
            let (status, body) = parse(request.send().await.expect("sent")).await;
            if may {
                assert_eq!(status, 200, "{role}: {method} {path}: {body}");
            } else {
                assert_eq!(
                    (status, &body),
                    (403, &forbidden),
                    "{role}: {method} {path}"
                );
            }
            if may && role == "viewer" {
                served_to_viewer.insert(path.clone());
            }
        }
    }
    assert_eq!(
        served_to_viewer.len(),
        10,
        "jobs, a job, its preview, runs, revisions and a diff, the audit, alerts, /auth/me and /metrics: {served_to_viewer:?}"
    );
    let (_, job) = app.get("/jobs/some-job").await;
    assert_eq!(
        (&job["data"]["paused"], &job["data"]["trigger"]["seconds"]),
        (&json!(false), &json!(3600)),
        "the job is as created"
    );
    for (table, rows) in [("jobs", 1), ("job_runs", 0), ("audit_log", 1)] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")).await,
            rows,
            "{table}: nothing changed"
        );
    }
}

/// The query parameter `name` of `method path` in the document.
fn param<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    doc["paths"][format!("/api/v1alpha1{path}")][method]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} documents `{name}`"))
}

/// A client generator can build from the document (issue 9): the job body's trigger and
/// action are satisfiable tagged unions derived from the real types, and every limit, format
/// and enum the server enforces on query parameters is stated.
#[tokio::test]
async fn the_document_states_the_shapes_and_limits_the_server_enforces() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    assert!(schemas.get("TriggerDoc").is_none() && schemas.get("ActionDoc").is_none());
    for (name, tags) in [
        ("TriggerBody", vec!["cron", "interval", "date"]),
        ("Action", vec!["noop", "http", "command"]),
    ] {
        let branches = schemas[name]["oneOf"].as_array().expect(name);
        let found: Vec<&str> = branches
            .iter()
            .map(|b| {
                assert_eq!(b["required"][0], "type", "{name}: the tag is required: {b}");
                assert_eq!(b["additionalProperties"], false, "{name}: {b}");
                b["properties"]["type"]["enum"][0].as_str().expect("tag")
            })
            .collect();
        assert_eq!(found, tags, "{name}");
    }
    for (method, path, name, min, max) in [
        ("get", "/jobs", "limit", 1, 1000),
        ("get", "/jobs/{job_id}/runs", "limit", 1, 1000),
        ("get", "/audit", "limit", 1, 1000),
        ("get", "/alerts", "limit", 1, 1000),
        ("get", "/jobs/{job_id}/preview", "count", 1, 1000),
    ] {
        let schema = &param(&doc, method, path, name)["schema"];
        assert_eq!(
            (&schema["minimum"], &schema["maximum"]),
            (&Value::from(min), &Value::from(max)),
            "{path} {name}: {schema}"
        );
    }
    let from = &param(&doc, "get", "/jobs/{job_id}/preview", "from")["schema"];
    let from = match from["$ref"].as_str() {
        Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
        None => from,
    };
    assert_eq!(from["format"], "date-time", "{from}");
    let enums = [
        ("trigger_type", vec!["date", "interval", "cron"]),
        ("order", vec!["next_run", "id"]),
    ];
    for (name, values) in enums {
        let schema = &param(&doc, "get", "/jobs", name)["schema"];
        assert_eq!(schema["enum"], Value::from(values), "{name}: {schema}");
    }
    let dst = &schemas["Dst"]["enum"];
    assert_eq!(dst, &Value::from(vec!["shifted", "repeated"]));
}
