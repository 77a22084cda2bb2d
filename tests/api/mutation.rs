//! The checks can fail (issue 10, item 3): the torture of `torture.rs` is run against a server
//! built with the `mutant-no-advance` feature, whose claim inserts the run rows but never
//! advances `next_run_at`, and it must fail, once with kills and once with none (then the
//! end-of-run audit alone must catch it). `.ci/run` builds that server into its own target
//! directory and runs this test on every CI run, so "the audit catches a broken claim" is
//! proved again each time rather than once in a scratch copy.
//!
//! Ignored by a plain `cargo test` (it needs the mutant binary): `SCHEDLITE_MUTANT_BIN=<path>
//! cargo test --test api mutation:: -- --ignored`.

use crate::helpers::child::Server;
use crate::torture::run_torture;

/// The banner `src/startup.rs` logs in a mutant build (`startup::MUTANT_BANNER`).
const MUTANT_BANNER: &str = schedlite::startup::MUTANT_BANNER;

/// The path of the mutant server, from `SCHEDLITE_MUTANT_BIN`.
fn mutant_bin() -> String {
    std::env::var("SCHEDLITE_MUTANT_BIN").expect(
        "SCHEDLITE_MUTANT_BIN must name a schedlite built with --features mutant-no-advance \
         (see .ci/run)",
    )
}

/// A claim that never advances `next_run_at` fails the torture: the restarted server finds
/// every occurrence already claimed and claims nothing, and the history stops.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs SCHEDLITE_MUTANT_BIN, a server built with --features mutant-no-advance; .ci/run runs it"]
async fn the_torture_fails_against_a_claim_that_does_not_advance_next_run_at() {
    let bin = mutant_bin();
    // It really is the mutant: a wrong path or a product build would prove nothing.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut probe = Server::start_bin(&bin, &dir.path().join("probe.db"), &[], &[]).await;
    let logs = probe.logs();
    probe.kill_hard().await;
    assert!(
        logs.contains(MUTANT_BANNER),
        "{bin} is not a mutant build; its log:\n{logs}"
    );

    // With kills: a restarted server finds nothing it can claim.
    let failed = run_torture(&bin, 3, &[])
        .await
        .expect_err("the torture must fail against a claim that does not advance next_run_at");
    eprintln!("mutant-no-advance, 3 kills: the torture failed as it must: {failed}");
    // Without kills, one server for 2–3 s: the end-of-run audit alone must see the history
    // stop after the first claim of each job.
    let failed = run_torture(&bin, 0, &[])
        .await
        .expect_err("the audit must fail against a claim that does not advance next_run_at");
    assert!(
        failed.starts_with("occurrences lost")
            || failed.starts_with("a job's history does not reach"),
        "the end-of-run audit is what must fail here, not: {failed}"
    );
    eprintln!("mutant-no-advance, no kill: the audit failed as it must: {failed}");
}

/// The binary every other test runs is a product build: it never logs the mutant banner.
#[tokio::test(flavor = "multi_thread")]
async fn the_tested_binary_is_not_a_mutant() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `serving` and the banner are logged before the server answers /readyz.
    let mut server = Server::start(&dir.path().join("product.db"), &[]).await;
    let logs = server.logs();
    server.kill_hard().await;
    assert!(logs.contains("serving"), "the log was read: {logs}");
    assert!(
        !logs.contains(MUTANT_BANNER),
        "the product binary was built with a mutant feature: {logs}"
    );
}
