//! Crash points (issue 10, item 2): named places where a test build can abort the process, so
//! the crash torture (`tests/api/failpoints.rs`) can aim its kills inside the claim
//! transaction, before an outcome is written and in the middle of recovery, instead of hoping
//! that a random SIGKILL lands there.
//!
//! Only a build with the `failpoints` cargo feature has them: without it `crash_point!`
//! expands to nothing and the `fail` crate is not compiled in. With it, the `FAILPOINTS`
//! environment variable arms them in the `fail` crate's syntax, e.g.
//! `FAILPOINTS='claim-after-insert=20*off->return'` lets the point pass 20 times, then aborts
//! the process at the 21st (SIGABRT, like a crash: no destructor, no rollback, no flush). The
//! process says which point it aborted at on stderr first.
//!
//! The points: `claim-after-insert` (the claim transaction has inserted the run rows but not
//! advanced `next_run_at`), `claim-before-commit` (both done, not committed),
//! `outcome-before-write` (an action has finished, its outcome is not written) and
//! `recovery-between-statements` (a dead process's runs are marked `interrupted`, its instance
//! row not yet marked stopped).

/// Aborts the process here when the build has the `failpoints` feature and `FAILPOINTS` arms
/// the point named `$name`; nothing otherwise.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        $crate::failpoint::hit($name);
    };
}

/// Aborts the process if the point `name` is armed and triggers now.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if fail::eval(name, |_| ()).is_some() {
        eprintln!("crash point {name}: aborting the process");
        std::process::abort();
    }
}

/// Reads `FAILPOINTS`; the points stay armed while the returned guard lives.
#[cfg(feature = "failpoints")]
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}
