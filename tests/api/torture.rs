//! Crash torture (issue "Reliability", item 1): a server with 1,000 every-second jobs is killed
//! with SIGKILL at random moments and restarted on the same file, cycle after cycle; after each
//! restart the file must be intact and recovered, and at the end every occurrence of every job
//! between the first start and the last stop must be accounted for exactly once.
//!
//! `TORTURE_CYCLES` (default 20; the long mode is 200) sets the number of kills and
//! `TORTURE_SEED` replays a run (the seed is printed first). The child servers, the jobs
//! inserted with SQL and the occurrence audit are in `helpers/` (`child`, `rows`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::SqlitePool;

use crate::helpers::child::{Server, migrate};
use crate::helpers::clock::next_whole_second;
use crate::helpers::random::{XorShift, env_number, seed_from_env};
use crate::helpers::rows::{
    FINAL_STATUSES, assert_integrity_ok, audit_occurrences, doubled_occurrences,
    insert_interval_jobs, job_definitions, open_pool, print_counts, running_runs,
};

/// SIGKILL at a random moment, restart, check, again: the file stays intact, dead runs are
/// recovered within 5 s, job definitions never change and no occurrence is lost or doubled.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_at_random_moments_loses_and_doubles_no_occurrence_of_a_thousand_jobs() {
    // Arrange: 1,000 every-second jobs inserted with SQL in a migrated file.
    let cycles: u32 = env_number("TORTURE_CYCLES", 20);
    let seed = seed_from_env("TORTURE_SEED");
    eprintln!("torture: TORTURE_SEED={seed} TORTURE_CYCLES={cycles}");
    let mut rng = XorShift::new(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("torture.db");
    migrate(&db);
    let pool = open_pool(&db).await;
    let start_at = next_whole_second(Utc::now());
    let ids = insert_interval_jobs(&pool, "torture", 1_000, 1, start_at, 1).await;
    let definitions = job_definitions(&pool).await;
    let began = Instant::now();

    // Act + Assert after every restart.
    let mut kill_delays = Vec::new();
    let mut recoveries = Vec::new();
    for cycle in 1..=cycles {
        let mut server = Server::start(&db, &[]).await;
        let ready_at = Instant::now();
        let owner = server.instance_id(&pool).await;
        recoveries.push(wait_until_only_owner_runs(&pool, &owner, &server, cycle).await);
        check_file_after_restart(&pool, &definitions, &owner, cycle, &server).await;
        let delay = Duration::from_millis(rng.between(200, 1_500));
        kill_delays.push(delay);
        tokio::time::sleep_until((ready_at + delay).into()).await;
        server.kill_hard().await;
    }

    // The last server recovers, runs a while and stops cleanly.
    let mut server = Server::start(&db, &[]).await;
    let owner = server.instance_id(&pool).await;
    recoveries.push(wait_until_only_owner_runs(&pool, &owner, &server, cycles + 1).await);
    check_file_after_restart(&pool, &definitions, &owner, cycles + 1, &server).await;
    tokio::time::sleep(Duration::from_millis(rng.between(1_000, 2_000))).await;
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the last server exits 0 on SIGTERM, got {status:?}; logs:\n{}",
        server.logs()
    );

    // Assert: the whole history.
    print_counts(&pool).await;
    assert_eq!(
        running_runs(&pool).await,
        0,
        "no run is left running after the clean stop"
    );
    assert_eq!(job_definitions(&pool).await, definitions, "job definitions");
    assert_integrity_ok(&pool).await;
    assert_eq!(doubled_occurrences(&pool).await, 0, "doubled occurrences");
    let audit = audit_occurrences(&pool, &ids, 1, FINAL_STATUSES).await;
    let max_recovery = recoveries.iter().max().copied().unwrap_or_default();
    eprintln!(
        "torture: seed {seed}: {cycles} cycles survived in {:?}; kill delays {:?}..{:?}; \
         slowest recovery {max_recovery:?}; {} occurrences over {} jobs checked",
        began.elapsed(),
        kill_delays.iter().min().copied().unwrap_or_default(),
        kill_delays.iter().max().copied().unwrap_or_default(),
        audit.occurrences,
        ids.len()
    );
    assert_eq!(
        audit.first_problems(20),
        Vec::<String>::new(),
        "occurrences lost, doubled or mislabelled (seed {seed}, {} problems in all)",
        audit.problems.len()
    );
}

/// Waits (5 s at most) until every `running` run belongs to `owner`, the live server: the runs
/// of the killed ones are recovered. Returns how long that took.
async fn wait_until_only_owner_runs(
    pool: &SqlitePool,
    owner: &str,
    server: &Server,
    cycle: u32,
) -> Duration {
    let since = Instant::now();
    let deadline = since + Duration::from_secs(5);
    loop {
        let foreign: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT owner_id, count(*) FROM job_runs WHERE status = 'running'
             AND (owner_id IS NULL OR owner_id != ?) GROUP BY owner_id",
        )
        .bind(owner)
        .fetch_all(pool)
        .await
        .expect("running runs by owner");
        if foreign.is_empty() {
            return since.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "cycle {cycle}: 5 s after restart, runs of dead owners still read running: \
             {foreign:?}; logs:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What must hold once a restarted server has recovered: the file is intact, no occurrence has
/// two rows, the definitions are the ones created, and every other instance is marked stopped.
async fn check_file_after_restart(
    pool: &SqlitePool,
    definitions: &BTreeMap<String, String>,
    owner: &str,
    cycle: u32,
    server: &Server,
) {
    assert_integrity_ok(pool).await;
    assert_eq!(
        doubled_occurrences(pool).await,
        0,
        "cycle {cycle}: an occurrence has two rows"
    );
    let now = job_definitions(pool).await;
    if &now != definitions {
        let changed: Vec<_> = definitions
            .iter()
            .filter(|(id, def)| now.get(*id) != Some(def))
            .take(3)
            .collect();
        panic!(
            "cycle {cycle}: the jobs table changed ({} jobs now, {} created); first changes: \
             {changed:?}",
            now.len(),
            definitions.len()
        );
    }
    let alive: Vec<String> =
        sqlx::query_scalar("SELECT id FROM instances WHERE stopped_at IS NULL AND id != ?")
            .bind(owner)
            .fetch_all(pool)
            .await
            .expect("instances");
    assert_eq!(
        alive,
        Vec::<String>::new(),
        "cycle {cycle}: dead instances not marked stopped after restart; logs:\n{}",
        server.logs()
    );
}
