//! A full disk that is cleared while nobody calls the API (issue 17): the probes judge the
//! present, so they turn 200 again within seconds of space being freed, with no API write to
//! clear a remembered failure; the scheduler catches up; nothing acknowledged is lost.
//!
//! Two variants with one body: a real ENOSPC on a 3 MiB tmpfs (needs root to mount; CI is
//! root), and SQLite's page cap (`--max-db-pages`), which runs anywhere. Space is freed from
//! outside the server in both: by deleting a file on the tmpfs, by deleting rows through the
//! test's own connection under the cap.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// How long the probes may take to notice that space was freed (the bound).
const RECOVERY_BOUND: Duration = Duration::from_secs(5);

/// A small tmpfs mounted for one test, unmounted (lazily, so a busy file cannot keep it) on
/// drop, even when the test panics.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount` spells it) on a fresh directory, or says why not.
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A filler job: big enough that a few of them need new pages.
fn filler(i: usize) -> Value {
    json!({"id": format!("filler-{i}"), "trigger": {"type": "interval", "seconds": 3600},
           "action": {"type": "http", "url": "http://127.0.0.1:9/", "body": "x".repeat(30_000)}})
}

/// Creates filler jobs until the storage refuses one; returns the ids acknowledged with 201.
async fn fill_until_refused(app: &TestApp) -> Vec<String> {
    let mut created = Vec::new();
    loop {
        let body = filler(created.len());
        let (status, answer) = app.post("/jobs", &body).await;
        match status {
            201 => created.push(body["id"].as_str().expect("id").to_string()),
            503 => {
                assert_eq!(
                    answer,
                    json!({"detail": {"code": "DATABASE_UNAVAILABLE",
                        "message": "the database or disk is full: writes are refused"}}),
                    "a full disk refuses a create with this exact body"
                );
                return created;
            }
            other => panic!("filling: unexpected {other}: {answer}"),
        }
        assert!(created.len() < 2000, "the storage never filled up");
    }
}

async fn succeeded_runs(app: &TestApp, job: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM job_runs WHERE job_id = '{job}' AND status = 'succeeded'"
    ))
    .await
}

/// Fills the storage through the API until a create is refused, checks both probes say so,
/// frees space with `free` (never through the API; it returns the ids it deleted on purpose),
/// and checks that the probes turn 200 within [`RECOVERY_BOUND`] with no API traffic, the
/// scheduler catches up, and every other acknowledged job is still there.
async fn probes_recover_without_api_traffic<F, Fut>(app: &TestApp, free: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    app.create_job(&interval_job("tick", 1)).await;
    wait_for("tick runs", Duration::from_secs(5), || async {
        (succeeded_runs(app, "tick").await >= 1).then_some(())
    })
    .await;

    let created = fill_until_refused(app).await;
    for probe in ["/healthz", "/readyz"] {
        let (status, body) = app.probe(probe).await;
        assert_eq!(status, 503, "{probe} while full: {body}");
        assert_eq!(
            body["detail"]["code"], "DATABASE_UNAVAILABLE",
            "{probe}: {body}"
        );
        let message = body["detail"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("the database or disk is full"),
            "{probe} names the full disk: {body}"
        );
    }

    let removed = free().await;
    let freed_at = tokio::time::Instant::now();
    // No API call from here on until both probes are green: only the probes themselves.
    wait_for("both probes turn 200", RECOVERY_BOUND, || async {
        let (health, _) = app.probe("/healthz").await;
        let (ready, _) = app.probe("/readyz").await;
        (health == 200 && ready == 200).then_some(())
    })
    .await;
    println!(
        "probes green {} ms after space was freed",
        freed_at.elapsed().as_millis()
    );

    let before = succeeded_runs(app, "tick").await;
    wait_for(
        "the scheduler fires again",
        Duration::from_secs(5),
        || async { (succeeded_runs(app, "tick").await > before).then_some(()) },
    )
    .await;

    // Every acknowledged create is still there.
    assert!(
        !created.is_empty(),
        "some fillers fitted before the disk was full"
    );
    let kept: Vec<&String> = created.iter().filter(|id| !removed.contains(id)).collect();
    for id in &kept {
        let (status, job) = app.get(&format!("/jobs/{id}")).await;
        assert_eq!(status, 200, "acknowledged job {id} is readable: {job}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE id LIKE 'filler-%'")
            .await,
        kept.len() as i64,
        "no filler beyond the acknowledged ones was stored"
    );
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(app.pool.sqlite())
        .await
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
}

/// A real ENOSPC: the file lives on a 3 MiB tmpfs that a filler file fills; deleting the filler
/// frees the space.
#[tokio::test]
async fn after_a_real_full_disk_is_cleared_the_probes_recover_without_api_traffic() {
    let tmpfs = match Tmpfs::mount("3m") {
        Ok(t) => t,
        Err(why) => {
            println!("skipped: {why} (mounting a tmpfs needs root)");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run the real full-disk test: {why}"
            );
            return;
        }
    };
    let db = tmpfs.path().join("full.db");
    let mut app = start_with(test_config(&db, &scheduler_on())).await;

    // Take most of the space with a file, leaving the database a little to grow into.
    let ballast: PathBuf = tmpfs.path().join("ballast");
    let free_bytes = available_bytes(tmpfs.path());
    std::fs::write(
        &ballast,
        vec![0u8; free_bytes.saturating_sub(512 * 1024) as usize],
    )
    .expect("ballast written");

    probes_recover_without_api_traffic(&app, || async {
        std::fs::remove_file(&ballast).expect("ballast removed");
        Vec::new()
    })
    .await;
    app.stop().await;
}

/// The page cap: under `--max-db-pages` the file is full; deleting fillers through the test's
/// own connection (not the API) frees pages.
#[tokio::test]
async fn after_the_page_cap_is_cleared_the_probes_recover_without_api_traffic() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("capped.db");
    let mut config = test_config(&db, &scheduler_on());
    config.max_db_pages = Some(90);
    let mut app = start_with(config).await;
    app.dir = Some(dir.into());
    let pool = app.pool.sqlite().clone();
    probes_recover_without_api_traffic(&app, || async move {
        let removed: Vec<String> = sqlx::query_scalar(
            "DELETE FROM jobs WHERE id IN ('filler-0', 'filler-1', 'filler-2') RETURNING id",
        )
        .fetch_all(&pool)
        .await
        .expect("rows deleted from outside the server");
        assert_eq!(removed.len(), 3, "three fillers deleted");
        removed
    })
    .await;
    app.stop().await;
}

/// Free bytes on the filesystem holding `dir`, as `df` reports them.
fn available_bytes(dir: &Path) -> u64 {
    let output = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .expect("df runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the free bytes")
}
