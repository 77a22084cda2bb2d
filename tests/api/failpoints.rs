//! Kills that aim (issue 10, item 2): the crash torture of `torture.rs` against a server built
//! with the `failpoints` feature, where every second cycle arms one crash point
//! (`crates/core/src/failpoint.rs`) instead of a random SIGKILL: inside the claim transaction (after the
//! run rows are inserted; before the commit), before an outcome is written, and between the
//! two statements of recovery. Every check of the torture must still pass, and each point must
//! have landed at least once.
//!
//! Ignored by a plain `cargo test` (it needs that build): `.ci/run` builds it and runs
//! `SCHEDLITE_FAILPOINTS_BIN=<path> cargo test --test api failpoints:: -- --ignored`.

use crate::helpers::child::Server;
use crate::helpers::random::env_number;
use crate::torture::run_torture;

/// The crash points aimed at, in turn.
const AIMS: &[&str] = &[
    "claim-after-insert",
    "claim-before-commit",
    "outcome-before-write",
    "recovery-between-statements",
];

/// Half of the cycles die at a crash point; nothing is lost, doubled or sent twice.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs SCHEDLITE_FAILPOINTS_BIN, a server built with --features failpoints; .ci/run runs it"]
async fn kills_inside_the_claim_the_outcome_write_and_recovery_lose_and_double_nothing() {
    let bin = std::env::var("SCHEDLITE_FAILPOINTS_BIN").expect(
        "SCHEDLITE_FAILPOINTS_BIN must name a schedlite built with --features failpoints \
         (see .ci/run)",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut probe = Server::start_bin(&bin, &dir.path().join("probe.db"), &[], &[]).await;
    let logs = probe.logs();
    probe.kill_hard().await;
    assert!(
        logs.contains(schedlite::startup::MUTANT_BANNER),
        "{bin} is not a test build; its log:\n{logs}"
    );

    let cycles: u32 = env_number("TORTURE_CYCLES", 16);
    let landed = run_torture(&bin, cycles, AIMS)
        .await
        .unwrap_or_else(|failed| panic!("torture with crash points: {failed}"));
    let inside: u32 = landed.values().sum();
    eprintln!(
        "failpoints: {inside} of {} aimed kills landed at their crash point: {landed:?}",
        cycles / 2
    );
    for aim in AIMS {
        assert!(
            landed.get(aim).copied().unwrap_or(0) > 0,
            "no kill landed at {aim} in {cycles} cycles: {landed:?}"
        );
    }
}
