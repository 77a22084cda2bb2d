//! One-shot runs of the real binary (`schedlite migrate`, `keys …`, a `serve` that must refuse
//! to start) and the checks on what they print: errors are one line, name their cause once and
//! never show a panic.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the real binary with `args` on `db`, with no key provisioned and no log filter from
/// the caller's environment.
pub(crate) fn schedlite(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schedlite"))
        .args(args)
        .env("SCHEDLITE_DB", db)
        .env_remove("SCHEDLITE_ADMIN_KEY")
        .env_remove("SCHEDLITE_MONITOR_KEY")
        .env_remove("RUST_LOG")
        .output()
        .expect("schedlite runs")
}

/// What the process wrote on stdout.
pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// What the process wrote on stderr.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Asserts a non-zero exit with exactly one `error:` line on stderr containing every needle,
/// and no panic.
pub(crate) fn assert_one_line_error(out: &Output, needles: &[&str], what: &str) {
    assert!(
        !out.status.success(),
        "{what}: should fail, got stdout {:?}",
        stdout(out)
    );
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line, got {err:?}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{what}: {:?} should mention {needle:?}",
            lines[0]
        );
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: no panic: {err}"
    );
}
