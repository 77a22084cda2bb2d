//! Packaging (issue 12, item 7, and the log format of item 4): `--version` names the commit,
//! shell completions come from the real flags, `--log-format json` writes one JSON object per
//! line, and the systemd unit in `deploy/` passes systemd's own verifier and hardening audit.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::child::Server;
use crate::helpers::cli::{assert_one_line_error, schedlite, stdout};

/// Prints "skipped: why" locally; under `CI=true` a missing tool is a failure.
fn skip(why: &str) {
    println!("skipped: {why}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must have what this test needs: {why}"
    );
}

fn git_head() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `schedlite --version` names the commit it was built from.
#[test]
fn version_names_the_commit() {
    let dir = tempfile::tempdir().expect("dir");
    let out = schedlite(&["--version"], &dir.path().join("x.db"));
    assert!(out.status.success(), "{out:?}");
    let commit = git_head().unwrap_or_else(|| "unknown".into());
    assert_eq!(
        stdout(&out),
        format!(
            "schedlite {} (commit {commit})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// Completion scripts are generated from the real command line, and an unknown shell is refused.
#[test]
fn completions_cover_the_real_subcommands() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let bash = schedlite(&["completions", "bash"], &db);
    assert!(bash.status.success(), "{bash:?}");
    let script = stdout(&bash);
    assert!(script.contains("_schedlite()"), "{script}");
    for word in [
        "serve",
        "migrate",
        "keys",
        "--log-format",
        "--allow-command-jobs",
    ] {
        assert!(script.contains(word), "bash completion knows {word}");
    }
    let zsh = schedlite(&["completions", "zsh"], &db);
    assert!(stdout(&zsh).starts_with("#compdef schedlite"), "{zsh:?}");
    assert!(
        !db.exists(),
        "printing completions never creates a database"
    );
    let bad = schedlite(&["completions", "tcsh"], &db);
    assert_one_line_error(&bad, &["tcsh"], "unknown shell");
}

/// `--log-format json` (or `SCHEDLITE_LOG_FORMAT=json`) writes every log line as one JSON
/// object; a bad value is refused with one line naming it.
#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("logs.db");
    let mut server = Server::start(&db, &["--log-format", "json"]).await;
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let logs = server.logs();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "start and stop are logged: {logs}");
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    for event in &events {
        assert!(event["timestamp"].is_string(), "{event}");
        assert!(event["level"].is_string(), "{event}");
        assert!(event["fields"]["message"].is_string(), "{event}");
    }
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "serving" && e["fields"]["port"].is_u64()),
        "the start line carries its fields as JSON: {logs}"
    );

    let bad = schedlite(&["serve", "--log-format", "yaml"], &db);
    assert_one_line_error(&bad, &["yaml", "--log-format"], "bad --log-format");
    let out = Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(["serve"])
        .env("SCHEDLITE_DB", &db)
        .env("SCHEDLITE_LOG_FORMAT", "xml")
        .output()
        .expect("runs");
    assert_one_line_error(&out, &["xml", "--log-format"], "bad SCHEDLITE_LOG_FORMAT");
}

/// The systemd unit passes `systemd-analyze verify` with no warning, and its hardening audit
/// rates the exposure 2.0 or lower ("OK" on systemd's 0–10 scale).
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip("systemd-analyze is not installed");
    }
    let dir = tempfile::tempdir().expect("dir");
    let unit = dir.path().join("schedlite.service");
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/schedlite.service"),
    )
    .expect("deploy/schedlite.service");
    // The verifier checks that ExecStart names an executable: point it at the one just built.
    let text = source.replace("/usr/local/bin/schedlite", env!("CARGO_BIN_EXE_schedlite"));
    std::fs::write(&unit, text).expect("unit copy");

    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze verify runs");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "verify: {complaints}"
    );
    let audit = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze security runs");
    let report = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success(),
        "exposure above 2.0: {}",
        report.lines().last().unwrap_or_default()
    );
}

/// The Dockerfile is multi-stage, runs as a fixed non-root user and keeps the database in a
/// volume. No Docker daemon or base image can be had on the test machines, so this reads the
/// file; the image itself is not built here.
#[test]
fn the_dockerfile_is_multi_stage_and_non_root() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Dockerfile"))
            .expect("deploy/Dockerfile");
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..instructions.len())
        .filter(|&i| instructions[i].starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let runtime = &instructions[stages[1]..];
    assert!(
        runtime.iter().any(|l| l.starts_with("COPY --from=build ")),
        "the runtime stage takes only the binary from the build stage"
    );
    let user = runtime
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    let uid: u32 = user
        .split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("numeric uid");
    assert_ne!(uid, 0, "not root");
    assert!(runtime.contains(&"VOLUME [\"/data\"]"), "{runtime:?}");
    assert!(
        runtime.iter().any(|l| l.contains("SCHEDLITE_DB=/data/")),
        "the database lives in the volume"
    );
}
