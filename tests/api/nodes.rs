//! Several nodes on one PostgreSQL database (issue 11, item 7; DESIGN.md, *Storage engines*
//! and *Firing semantics*), black-box: real `schedlite serve` processes on a fresh database,
//! every-second HTTP jobs calling a target owned by the test ([`Stub`]) that counts the
//! `Idempotency-Key` of every request, and the evidence audited at the end exactly as the
//! single-host torture audits it (`torture.rs`; the same checks, read from PostgreSQL):
//!
//! - every instant from each job's start to the final stop is accounted for (a run, `missed`
//!   or `skipped` with its reason, or `interrupted`), none twice; each job's `next_run_at`
//!   lies within one step of the final stop; no key arrived twice, every `succeeded` row's key
//!   arrived once, and every key belongs to a `succeeded` row or one interrupted by a kill;
//! - every node that was started claimed runs, and the `running` runs of a killed node were
//!   recovered by a live node within the heartbeat expiry (5 s, PostgreSQL's default). All
//!   nodes share this host, so a live node sees a dead one's pid gone at once; the
//!   heartbeat-only path of other hosts is `hosts.rs`'s (faked there);
//! - skips decided although the job's previous run had finished are counted and printed, not
//!   failed (the single-host torture fails them): across nodes `max_instances` counts the runs
//!   that read `running` in the database, and a finished run reads so until its node writes
//!   its outcome or a live node recovers it, longer than the scheduler's settle time on a
//!   loaded machine (RELIABILITY.md, finding 8).
//!
//! The four faults: SIGKILL of random nodes at random moments (`NODES_CYCLES`, default 20,
//! 200 in long mode; `NODES_JOBS`, default 300, 1,000 in long mode; `NODES_SEED` replays a
//! run), every connection terminated mid-burst, repeatedly (`NODES_CUTS`, default 6), the
//! database server stopped and started again mid-burst, and nodes whose clocks disagree by
//! ±2 s (`serve --test-clock-offset-ms`, hidden). They need a PostgreSQL server
//! (`SCHEDLITE_TEST_POSTGRES_URL`); without one each prints why it was skipped, a failure
//! under `CI=true`. The restart runs on a throwaway server of its own
//! (`tests/support/throwaway_postgres.rs`), since the shared one serves every other test.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;

use crate::helpers::child::{KEY, Server, migrate};
use crate::helpers::clock::{from_now, next_whole_second, ts};
use crate::helpers::pg;
use crate::helpers::postgres::throwaway::Throwaway;
use crate::helpers::postgres::{self, TestDatabase};
use crate::helpers::random::{XorShift, env_number, seed_from_env};
use crate::helpers::rows::audit_history;
use crate::helpers::stub::Stub;
use crate::helpers::{AppOptions, scheduler_on, skip_or_fail, start_with, test_config, wait_for};
use crate::torture::{STEP, key_problems_in, tail_problems_in};

const BIN: &str = env!("CARGO_BIN_EXE_schedlite");

/// The tests here run one at a time: each keeps the two cores of the test machine busy with
/// several debug-built nodes firing hundreds of occurrences a second, and two at once would measure
/// the machine rather than the product.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The heartbeat expiry the nodes run with: PostgreSQL's default in DESIGN.md. A killed
/// node's runs must be recovered within it.
const EXPIRY: Duration = Duration::from_secs(5);

/// How long after a connection cut the API may still answer 503: until each pooled connection
/// ended by the cut has been found broken and replaced.
const CUT_WINDOW: Duration = Duration::from_secs(2);

/// Jobs of every test here by default (`NODES_JOBS` for the SIGKILL test, `NODES_FAULT_JOBS`
/// for the others): at 1,000 a second, debug-built nodes fall behind on the shared 2-core
/// machine while the rest of the suite runs (947 of 1,000 jobs still behind after 15 s, once),
/// and the test would measure the machine. The long mode runs 1,000.
const FAULT_JOBS: usize = 300;

/// One `schedlite serve` on the test's database, with its instance id.
struct Node {
    server: Server,
    id: String,
}

/// The database, the target, the jobs created with SQL and every node started so far.
struct Cluster {
    pool: PgPool,
    stub: Stub,
    ids: Vec<String>,
    definitions: BTreeMap<String, String>,
    /// Every instance id started, in order.
    owners: Vec<String>,
    dir: TempDir,
    seed: u64,
    // Dropped last: dropping it drops the database.
    db: TestDatabase,
}

impl Cluster {
    /// A migrated database with `jobs` HTTP jobs every second calling the stub, their instants
    /// spread over the second; `None` (after saying why) when there is no PostgreSQL server.
    async fn new(jobs: usize) -> Option<Cluster> {
        Some(Cluster::on(postgres::create().await?, jobs).await)
    }

    /// [`Cluster::new`] on the database `db`.
    async fn on(db: TestDatabase, jobs: usize) -> Cluster {
        migrate(Path::new(&db.url));
        let pool = pg::pool(&db.url).await;
        let stub = Stub::start().await;
        let start_at = next_whole_second(Utc::now()) + STEP;
        let stagger = STEP / i32::try_from(jobs).expect("jobs");
        let action = json!({"type": "http", "method": "POST", "url": stub.url("/ok"),
            "timeout_seconds": 10})
        .to_string();
        let ids =
            pg::insert_interval_jobs(&pool, "node", jobs, 1, (start_at, stagger), &action).await;
        let definitions = pg::job_definitions(&pool).await;
        let seed = seed_from_env("NODES_SEED");
        eprintln!("nodes: NODES_SEED={seed} jobs={jobs}");
        Cluster {
            pool,
            stub,
            ids,
            definitions,
            owners: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            seed,
            db,
        }
    }

    /// Starts a node whose clock is `offset_ms` off the system's.
    async fn start(&mut self, offset_ms: i64) -> Node {
        let offset = offset_ms.to_string();
        let flags = [
            "--heartbeat-expiry-seconds",
            "5",
            "--test-clock-offset-ms",
            offset.as_str(),
        ];
        let server = pg::start_node(BIN, &self.db.url, self.dir.path(), &flags).await;
        let id = pg::instance_of(&self.pool, &server).await;
        self.owners.push(id.clone());
        Node { server, id }
    }

    /// Waits (5 s at most: five instants of every job) until `node` has claimed a run.
    async fn wait_claimed(&self, node: &Node, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let claimed: i64 =
                sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE owner_id = $1")
                    .bind(&node.id)
                    .fetch_one(&self.pool)
                    .await
                    .expect("runs of the node");
            if claimed > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: node {} claimed no run in 5 s; logs:\n{}",
                node.id,
                node.server.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILLs `node`, then waits until a live node has recovered its `running` runs and
    /// marked it stopped; fails past the heartbeat expiry. Returns how long that took.
    async fn kill_and_wait_recovered(&self, node: &mut Node, what: &str) -> Duration {
        node.server.kill_hard().await;
        let since = Instant::now();
        loop {
            let (running, stopped): (i64, bool) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM job_runs WHERE status = 'running' AND owner_id = $1),
                        (SELECT stopped_at IS NOT NULL FROM instances WHERE id = $1)",
            )
            .bind(&node.id)
            .fetch_one(&self.pool)
            .await
            .expect("the dead node's runs");
            if running == 0 && stopped {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < EXPIRY,
                "{what}: {EXPIRY:?} after node {} was killed, {running} of its runs still read \
                 running (instance stopped: {stopped}); by owner: {:?}",
                node.id,
                pg::running_by_owner(&self.pool).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// No key has arrived twice so far.
    fn assert_no_key_twice(&self, what: &str) {
        let twice = self.stub.duplicate_keys();
        assert!(
            twice.is_empty(),
            "{what}: keys sent more than once (seed {}): {twice:?}",
            self.seed
        );
    }

    /// Waits (15 s at most) until every job's `next_run_at` is less than a step behind: the
    /// nodes have caught up with what a loaded machine delayed, so the final stop can be
    /// checked against the tail of every history. Fails with the jobs still behind.
    async fn wait_caught_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let behind: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE id = ANY($1)
                 AND (next_run_at IS NULL OR next_run_at <= now() - interval '1 second')",
            )
            .bind(&self.ids)
            .fetch_one(&self.pool)
            .await
            .expect("jobs behind");
            if behind == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{behind} jobs still a step behind after 15 s (seed {})",
                self.seed
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the nodes have caught up, then SIGTERM to every node at once; each must
    /// exit 0. Returns the instant of the signal and the instant every node had exited: the
    /// nodes may claim until they exit, not after.
    async fn stop_all(&self, nodes: &mut [Node]) -> (DateTime<Utc>, DateTime<Utc>) {
        self.wait_caught_up().await;
        let stop_at = Utc::now();
        for node in nodes.iter() {
            node.server.signal("TERM");
        }
        for node in nodes.iter_mut() {
            let status = node.server.wait_exit(Duration::from_secs(20)).await;
            assert!(
                status.is_some_and(|s| s.success()),
                "node {} exits 0 on SIGTERM, got {status:?}; logs:\n{}",
                node.id,
                node.server.log_tail(30)
            );
        }
        (stop_at, Utc::now())
    }

    /// The audit of the whole history once every node has stopped (see the module doc). The
    /// final stop is seen by the nodes' clocks somewhere in `stop`; `statuses` are those the
    /// rows may read. Returns a one-line summary.
    async fn audit(
        &self,
        stop: (DateTime<Utc>, DateTime<Utc>),
        statuses: &[&str],
        every_node_claims: bool,
    ) -> String {
        let pool = &self.pool;
        let seed = self.seed;
        let (per_owner, per_status) = pg::counts(pool).await;
        eprintln!(
            "(owner, rows, occurrences): {per_owner:?}\n(status, rows, occurrences): {per_status:?}"
        );
        assert_eq!(
            pg::running_by_owner(pool).await,
            vec![],
            "runs left running after every node stopped"
        );
        let now = pg::job_definitions(pool).await;
        let changed: Vec<_> = self
            .definitions
            .iter()
            .filter(|(id, def)| now.get(*id) != Some(def))
            .take(3)
            .collect();
        assert!(changed.is_empty(), "job definitions changed: {changed:?}");
        let (jobs, runs) = pg::audit_rows(pool, &self.ids).await;
        let audit = audit_history(self.ids.len(), &jobs, &runs, 1, statuses);
        assert!(
            audit.problems.is_empty(),
            "occurrences lost, doubled or mislabelled (seed {seed}, {} problems in all): {:#?}",
            audit.problems.len(),
            audit.first_problems(20)
        );
        let (stale_own, stale_cross) = pg::stale_skips(pool).await;
        let mut next_runs = pg::next_runs(pool).await;
        next_runs.retain(|(id, _)| self.definitions.contains_key(id));
        let tail = tail_problems_in(&next_runs, stop);
        assert!(
            tail.is_empty(),
            "a job's history does not reach the final stop at {} (seed {seed}, {} jobs): {:#?}",
            ts(stop.0),
            tail.len(),
            &tail[..tail.len().min(20)]
        );
        let (problems, interrupted) =
            key_problems_in(&pg::key_rows(pool).await, &self.stub.key_counts());
        assert!(
            problems.is_empty(),
            "keys and rows disagree (seed {seed}, {} problems): {:#?}",
            problems.len(),
            &problems[..problems.len().min(20)]
        );
        for owner in self.owners.iter().filter(|_| every_node_claims) {
            assert!(
                per_owner
                    .iter()
                    .any(|(o, rows, _)| o.as_deref() == Some(owner) && *rows > 0),
                "node {owner} claimed no run: {per_owner:?}"
            );
        }
        format!(
            "{} occurrences over {} jobs and {} nodes checked; {} requests, {interrupted} of \
             them for runs then interrupted by a kill; skips decided while the previous run had \
             finished: {stale_own} by its own node, {stale_cross} by another",
            audit.occurrences,
            self.ids.len(),
            self.owners.len(),
            self.stub.key_counts().len()
        )
    }
}

/// Three nodes, a random one SIGKILLed at a random moment and started again once a live node
/// has recovered its runs, cycle after cycle: nothing lost, doubled or changed.
#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_killed_at_random_moments_lose_and_double_nothing() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let jobs: usize = env_number("NODES_JOBS", FAULT_JOBS);
    let cycles: u32 = env_number("NODES_CYCLES", 20);
    let Some(mut cluster) = Cluster::new(jobs).await else {
        return;
    };
    let began = Instant::now();
    let mut rng = XorShift::new(cluster.seed);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(cluster.start(0).await);
    }
    for node in &nodes {
        cluster.wait_claimed(node, "start").await;
    }
    let mut recoveries = Vec::new();
    for cycle in 1..=cycles {
        tokio::time::sleep(Duration::from_millis(rng.between(0, 1_500))).await;
        let victim = rng.between(0, 2) as usize;
        let what = format!("cycle {cycle} (seed {})", cluster.seed);
        recoveries.push(
            cluster
                .kill_and_wait_recovered(&mut nodes[victim], &what)
                .await,
        );
        cluster.assert_no_key_twice(&what);
        nodes[victim] = cluster.start(0).await;
        cluster.wait_claimed(&nodes[victim], &what).await;
    }
    tokio::time::sleep(Duration::from_millis(rng.between(2_000, 3_000))).await;
    let stop = cluster.stop_all(&mut nodes).await;
    let summary = cluster
        .audit(stop, &["succeeded", "interrupted", "skipped"], true)
        .await;
    recoveries.sort();
    eprintln!(
        "nodes: seed {}: {cycles} kills of 3 nodes survived in {:?}; recovery by a live node \
         median {:?}, slowest {:?}; {summary}",
        cluster.seed,
        began.elapsed(),
        recoveries
            .get(recoveries.len() / 2)
            .copied()
            .unwrap_or_default(),
        recoveries.last().copied().unwrap_or_default(),
    );
}

/// One API answer seen by the traffic of [`connections_terminated_mid_burst_cost_no_500_no_double_and_catch_up`].
struct Answer {
    /// Which client asked (one per node).
    client: usize,
    at: Instant,
    request: String,
    status: u16,
    code: Option<String>,
    retry_after: bool,
}

/// Requests to `base` until `stop` is set: reads of the jobs `ids` and, one time in ten, the
/// creation of a date job an hour away (a write). Returns every answer.
async fn traffic(base: String, ids: Vec<String>, tag: usize, stop: Arc<AtomicBool>) -> Vec<Answer> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (request, sent) = if n.is_multiple_of(10) {
            let body = json!({"id": format!("api-{tag}-{n}"),
                "trigger": {"type": "date", "run_at": from_now(chrono::Duration::hours(1))},
                "action": {"type": "noop"}});
            let sent = client
                .post(format!("{base}/api/v1alpha1/jobs"))
                .header("X-API-Key", KEY)
                .json(&body)
                .send()
                .await;
            (format!("POST /jobs api-{tag}-{n}"), sent)
        } else {
            let id = &ids[n % ids.len()];
            let sent = client
                .get(format!("{base}/api/v1alpha1/jobs/{id}"))
                .header("X-API-Key", KEY)
                .send()
                .await;
            (format!("GET /jobs/{id}"), sent)
        };
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                // No answer at all: status 0, always wrong.
                answers.push(Answer {
                    client: tag,
                    at: Instant::now(),
                    request: format!("{request}: {e}"),
                    status: 0,
                    code: None,
                    retry_after: false,
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let code = body["detail"]["code"].as_str().map(str::to_string);
        answers.push(Answer {
            client: tag,
            at: Instant::now(),
            request,
            status,
            code,
            retry_after,
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    answers
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {} {:?} (Retry-After: {})",
            self.request, self.status, self.code, self.retry_after
        )
    }
}

/// The answers that break the rule: 200 or 201, or 503 `DATABASE_UNAVAILABLE` with
/// `Retry-After` during one of the `faults` (from, to) or within [`CUT_WINDOW`] after its end;
/// nothing else.
fn wrong_answers<'a>(answers: &'a [Answer], faults: &[(Instant, Instant)]) -> Vec<&'a Answer> {
    answers
        .iter()
        .filter(|a| match a.status {
            200 | 201 => false,
            503 => {
                let in_window = faults
                    .iter()
                    .any(|(from, to)| a.at >= *from && a.at <= *to + CUT_WINDOW);
                !(in_window && a.retry_after && a.code.as_deref() == Some("DATABASE_UNAVAILABLE"))
            }
            _ => true,
        })
        .collect()
}

/// Clients reading and writing through every node until [`Traffic::finish`].
struct Traffic {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Answer>>>,
}

impl Traffic {
    /// Stops the clients and returns every answer they saw.
    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let mut answers = Vec::new();
        for client in self.clients {
            answers.extend(client.await.expect("traffic task"));
        }
        answers
    }
}

impl Cluster {
    /// Waits (5 s at most) until some node has claimed a run.
    async fn wait_first_claim(&self) {
        let pool = &self.pool;
        wait_for("a first claim", Duration::from_secs(5), || async move {
            let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs")
                .fetch_one(pool)
                .await
                .expect("runs");
            (runs > 0).then_some(())
        })
        .await;
    }

    /// Starts one client per node (see [`traffic`]).
    fn traffic(&self, nodes: &[Node]) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = nodes
            .iter()
            .enumerate()
            .map(|(tag, node)| {
                let ids = self.ids.iter().step_by(37).cloned().collect();
                tokio::spawn(traffic(
                    node.server.base().to_string(),
                    ids,
                    tag,
                    stop.clone(),
                ))
            })
            .collect();
        Traffic { stop, clients }
    }

    /// Catch-up after a fault that ended at `ended`: waits (15 s at most) until every job has
    /// succeeded again for an instant a step after it, then (10 s at most) until no run
    /// scheduled before it reads `running` (its outcome was written, whatever connection it
    /// had been waiting for).
    async fn wait_caught_up_after(&self, ended: DateTime<Utc>, what: &str) {
        let pool = &self.pool;
        let jobs = i64::try_from(self.ids.len()).expect("jobs");
        let again = ts(ended + STEP);
        wait_for(
            &format!("every job to succeed again after {what}"),
            Duration::from_secs(15),
            || {
                let again = again.clone();
                async move {
                    let fired: i64 = sqlx::query_scalar(
                        "SELECT count(DISTINCT job_id) FROM job_runs
                         WHERE status = 'succeeded' AND scheduled_at > $1::timestamptz",
                    )
                    .bind(again)
                    .fetch_one(pool)
                    .await
                    .expect("runs after the fault");
                    (fired == jobs).then_some(())
                }
            },
        )
        .await;
        let stuck = wait_for_none_running_before(pool, &ts(ended)).await;
        assert_eq!(stuck, 0, "runs claimed before {what} still read running");
    }
}

/// The longest run of 503s one client saw in a row: after a cut, the requests that were in
/// flight fail, and the next ones must not (each finding another pooled connection dead).
fn longest_unavailable_streak(answers: &[Answer]) -> usize {
    let clients = answers.iter().map(|a| a.client).max().map_or(0, |c| c + 1);
    let mut longest = 0;
    for client in 0..clients {
        let mut streak = 0;
        for a in answers.iter().filter(|a| a.client == client) {
            streak = if a.status == 503 { streak + 1 } else { 0 };
            longest = longest.max(streak);
        }
    }
    longest
}

/// Asserts that every answer keeps the rule of [`wrong_answers`] and that some answer after
/// the last fault's window was a success; returns how many answers were 503.
fn check_answers(answers: &[Answer], faults: &[(Instant, Instant)], seed: u64) -> usize {
    let wrong = wrong_answers(answers, faults);
    assert!(
        wrong.is_empty(),
        "{} wrong answers of {} (seed {seed}); first: {:#?}",
        wrong.len(),
        answers.len(),
        &wrong[..wrong.len().min(10)]
    );
    let last = faults.last().expect("faults").1;
    let clean_after = answers
        .iter()
        .filter(|a| a.at > last + CUT_WINDOW && a.status < 300)
        .count();
    assert!(clean_after > 0, "no answer after the faults were over");
    answers.iter().filter(|a| a.status == 503).count()
}

/// Every connection to the database (both nodes', their listeners', the test's) terminated
/// with `pg_terminate_backend` mid-burst, again and again, while clients read and write
/// through both nodes: never a 500 (a 503 with `Retry-After` only just after a cut), nothing
/// doubled, and afterwards every job fires again and every outcome is written.
#[tokio::test(flavor = "multi_thread")]
async fn connections_terminated_mid_burst_cost_no_500_no_double_and_catch_up() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let jobs: usize = env_number("NODES_FAULT_JOBS", FAULT_JOBS);
    let cuts: u32 = env_number("NODES_CUTS", 6);
    let Some(mut cluster) = Cluster::new(jobs).await else {
        return;
    };
    let mut rng = XorShift::new(cluster.seed);
    let mut nodes = vec![cluster.start(0).await, cluster.start(0).await];
    cluster.wait_first_claim().await;
    let traffic = cluster.traffic(&nodes);

    let mut admin = pg::connection(&cluster.db.url).await;
    let mut cut_at = Vec::new();
    for _ in 0..cuts {
        tokio::time::sleep(Duration::from_millis(rng.between(500, 2_000))).await;
        let at = Instant::now();
        cut_at.push((at, at));
        let ended = pg::terminate_other_connections(&mut admin).await;
        assert!(
            ended > 0,
            "the cut ended no connection; logs:\n{}\n{}",
            nodes[0].server.log_tail(20),
            nodes[1].server.log_tail(20)
        );
    }
    cluster
        .wait_caught_up_after(Utc::now(), "the last cut")
        .await;
    tokio::time::sleep(CUT_WINDOW).await;
    let answers = traffic.finish().await;
    let unavailable = check_answers(&answers, &cut_at, cluster.seed);
    let streak = longest_unavailable_streak(&answers);
    let stop = cluster.stop_all(&mut nodes).await;
    let summary = cluster.audit(stop, &["succeeded", "skipped"], false).await;
    eprintln!(
        "nodes: seed {}: {cuts} cuts of every connection; {} API answers, {unavailable} of them \
         503, at most {streak} in a row; {summary}",
        cluster.seed,
        answers.len()
    );
}

/// How long the restart test keeps the database server down: several heartbeats, claim passes
/// and outcome batches of every node fail meanwhile, yet less than the heartbeat expiry, so no
/// node takes another for dead (same host: their pids live on anyway).
const OUTAGE: Duration = Duration::from_secs(3);

/// The database server stopped mid-burst (`pg_ctl stop -m immediate`, as a crash stops it) for
/// [`OUTAGE`], then started again, under two nodes serving clients: never a 500 (a 503
/// `DATABASE_UNAVAILABLE` with `Retry-After` only while it is down and just after), nothing
/// doubled, the outcomes of runs that finished meanwhile kept and written once it is back (no
/// run is left `running` or `interrupted`), and every job firing again. The server is a
/// throwaway one of the test's own: the shared server may not be stopped.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_restarted_mid_burst_costs_no_500_no_double_and_catch_up() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let server = match tokio::task::spawn_blocking(Throwaway::start)
        .await
        .expect("start task")
    {
        Ok(server) => server,
        Err(e) => {
            // CI installs PostgreSQL (`.ci/run`) and runs as root, where the server runs as
            // the `postgres` user through `runuser`: nothing there excuses a skip.
            skip_or_fail(&format!(
                "the database restart test needs a PostgreSQL server of its own, started from \
                 the machine's binaries, to stop and start: {e}"
            ));
            return;
        }
    };
    let jobs: usize = env_number("NODES_FAULT_JOBS", FAULT_JOBS);
    let mut cluster = Cluster::on(postgres::create_on(server.url()).await, jobs).await;
    let mut rng = XorShift::new(cluster.seed);
    let mut nodes = vec![cluster.start(0).await, cluster.start(0).await];
    cluster.wait_first_claim().await;
    let traffic = cluster.traffic(&nodes);
    tokio::time::sleep(Duration::from_millis(rng.between(500, 1_500))).await;

    let down_at = Instant::now();
    tokio::task::block_in_place(|| server.stop()).expect("stop the server");
    tokio::time::sleep(OUTAGE).await;
    tokio::task::block_in_place(|| server.start_again()).expect("start the server again");
    let up_at = Instant::now();
    cluster
        .wait_caught_up_after(Utc::now(), "the restart")
        .await;
    tokio::time::sleep(CUT_WINDOW).await;
    let answers = traffic.finish().await;
    let unavailable = check_answers(&answers, &[(down_at, up_at)], cluster.seed);
    assert!(
        unavailable > 0,
        "no client saw the database down: did the server stop?"
    );
    let held: usize = nodes
        .iter()
        .map(|n| {
            n.server
                .logs()
                .matches("could not record run outcomes; retrying")
                .count()
        })
        .sum();
    let stop = cluster.stop_all(&mut nodes).await;
    let summary = cluster.audit(stop, &["succeeded", "skipped"], false).await;
    eprintln!(
        "nodes: seed {}: the server down for {:?}; {} API answers, {unavailable} of them 503; \
         {held} outcome batches held and retried; {summary}",
        cluster.seed,
        up_at - down_at,
        answers.len()
    );
}

/// Waits (10 s at most) until no run scheduled before `before` reads `running`; returns how
/// many still do at the deadline.
async fn wait_for_none_running_before(pool: &PgPool, before: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM job_runs WHERE status = 'running' AND scheduled_at < $1::timestamptz",
        )
        .bind(before)
        .fetch_one(pool)
        .await
        .expect("running runs");
        if running == 0 || Instant::now() >= deadline {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long node B's loop may sleep in [`a_job_created_on_one_node_wakes_the_loop_of_another`]
/// without a wake-up: far longer than the test waits for B to start a job.
const LONG_IDLE: Duration = Duration::from_secs(600);

/// A job created through node A, due 200 ms later, is started on time by node B, whose loop
/// sleeps up to [`LONG_IDLE`] between looks at the database: only A's `NOTIFY` can have woken
/// it (DESIGN.md, *Storage engines*). A runs no scheduler, so B is the only node that claims.
/// A first job is created the same way and run before the one that counts, so that B's loop
/// has spent every wake-up of its start (its first pass, the one after it began to listen)
/// and sleeps on nothing due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_created_on_one_node_wakes_the_loop_of_another() {
    let Some(db) = postgres::create().await else {
        return;
    };
    let url = std::path::PathBuf::from(&db.url);
    let mut a = start_with(test_config(&url, &AppOptions::default())).await;
    let mut b_config = test_config(&url, &scheduler_on());
    b_config.scheduler_max_idle = LONG_IDLE;
    let mut b = start_with(b_config).await;
    let pool = pg::pool(&db.url).await;
    let b_id: String = sqlx::query_scalar("SELECT id FROM instances WHERE stopped_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("B is the only node with a scheduler");
    let listening = &pool;
    wait_for(
        "B to listen for job changes",
        Duration::from_secs(10),
        || async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .fetch_one(listening)
            .await
            .expect("listeners");
            (n == 1).then_some(())
        },
    )
    .await;
    for id in ["first", "woken"] {
        let run_at = from_now(chrono::Duration::milliseconds(200));
        a.create_job(
            &json!({"id": id, "trigger": {"type": "date", "run_at": run_at},
            "action": {"type": "noop"}}),
        )
        .await;
        let (owner, lateness_ms): (Option<String>, f64) = wait_for(
            &format!("node B to run job {id} (its loop sleeps {LONG_IDLE:?} unless woken)"),
            Duration::from_secs(10),
            || {
                let pool = pool.clone();
                async move {
                    sqlx::query_as(
                        "SELECT owner_id,
                                extract(epoch FROM started_at - scheduled_at)::float8 * 1000
                         FROM job_runs WHERE job_id = $1 AND status = 'succeeded'",
                    )
                    .bind(id)
                    .fetch_optional(&pool)
                    .await
                    .expect("the job's run")
                }
            },
        )
        .await;
        assert_eq!(owner.as_deref(), Some(b_id.as_str()), "job {id} ran on B");
        eprintln!(
            "nodes: job {id} created on A started on B {lateness_ms:.1} ms after its instant"
        );
    }
    a.stop().await;
    b.stop().await;
}

/// Three nodes whose clocks read 0 s, +2 s and -2 s off the system's; the work passes from
/// one to the next as they are killed (ahead → on time → behind → ahead again): nothing
/// doubled, nothing lost, however far apart their clocks put each instant.
#[tokio::test(flavor = "multi_thread")]
async fn nodes_whose_clocks_differ_by_2_s_fire_each_occurrence_once() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let jobs: usize = env_number("NODES_FAULT_JOBS", FAULT_JOBS);
    let Some(mut cluster) = Cluster::new(jobs).await else {
        return;
    };
    let offsets = [0, 2_000, -2_000];
    let mut nodes = Vec::new();
    for offset in offsets {
        nodes.push(cluster.start(offset).await);
    }
    // The node ahead sees every instant first, so it claims them all while it lives.
    cluster.wait_claimed(&nodes[1], "ahead").await;
    let mut recoveries = Vec::new();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The offsets are in effect: each node writes its heartbeat by its own clock, at most a
    // heartbeat period (1 s) before the database's clock reads it, plus scheduling slack.
    for (node, offset) in nodes.iter().zip(offsets) {
        let skew: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM heartbeat_at - now())::float8 FROM instances WHERE id = $1",
        )
        .bind(&node.id)
        .fetch_one(&cluster.pool)
        .await
        .expect("heartbeat");
        let expected = offset as f64 / 1000.0;
        assert!(
            skew <= expected + 0.1 && skew > expected - 1.6,
            "node {} with clock offset {offset} ms wrote a heartbeat {skew:.3} s off the \
             database's clock",
            node.id
        );
    }
    recoveries.push(
        cluster
            .kill_and_wait_recovered(&mut nodes[1], "ahead killed")
            .await,
    );
    cluster.wait_claimed(&nodes[0], "on time after ahead").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    recoveries.push(
        cluster
            .kill_and_wait_recovered(&mut nodes[0], "on time killed")
            .await,
    );
    cluster
        .wait_claimed(&nodes[2], "behind after on time")
        .await;
    cluster.assert_no_key_twice("behind took over");
    tokio::time::sleep(Duration::from_secs(2)).await;
    nodes[1] = cluster.start(offsets[1]).await;
    cluster.wait_claimed(&nodes[1], "ahead again").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut alive = vec![nodes.remove(2), nodes.remove(1)];
    let (signalled, exited) = cluster.stop_all(&mut alive).await;
    let skew = chrono::Duration::milliseconds(2_000);
    let summary = cluster
        .audit(
            (signalled - skew, exited + skew),
            &["succeeded", "interrupted", "skipped"],
            true,
        )
        .await;
    eprintln!(
        "nodes: seed {}: clocks at 0, +2 s and -2 s; recoveries {recoveries:?}; {summary}",
        cluster.seed
    );
}
