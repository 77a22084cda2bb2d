//! Command actions: the [`CommandAction`] definition, its limits, and running one program.
//!
//! Runs the program directly (no shell, so arguments are never re-parsed), stdin null,
//! environment inherited. Output is read concurrently into bounded tail buffers, so a program
//! printing gigabytes costs a few KiB. Every failure becomes an [`Outcome`]. Whether command
//! jobs are allowed at all (`--allow-command-jobs`) is decided by the caller, not here.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::{ActionError, OUTPUT_LIMIT, Outcome, OutcomeStatus, lossy_tail, validate_timeout};

/// Longest accepted program, in characters.
const MAX_PROGRAM_CHARS: usize = 4096;
/// Most arguments accepted.
const MAX_ARGS: usize = 256;
/// Largest total size of all arguments, in bytes.
const MAX_ARGS_BYTES: usize = 64 * 1024;
/// How long to wait for the output pipes to close once the child has exited or been killed.
/// A grandchild that inherited them can keep them open for ever; after this we give up on
/// them and keep what was read.
const PIPE_GRACE: Duration = Duration::from_secs(1);
/// How long to wait for a killed child to be reaped (it may be stuck in the kernel).
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Size of one read from a pipe.
const READ_CHUNK: usize = 8 * 1024;

/// `{"type":"command","program":"…","args":[…],"timeout_seconds":60}`: runs one program;
/// success is exit code 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandAction {
    /// Program path, or a name looked up in `PATH`. Not interpreted by a shell.
    #[schema(min_length = 1, max_length = 4096)]
    pub program: String,
    /// Arguments, passed as they are. At most 256, 64 KiB together.
    #[serde(default)]
    #[schema(required = false, max_items = 256)]
    pub args: Vec<String>,
    /// The child is killed after this long. 1 to 86400, default 60.
    #[serde(default = "default_timeout_seconds")]
    #[schema(required = false, minimum = 1, maximum = 86_400)]
    pub timeout_seconds: u64,
}

fn default_timeout_seconds() -> u64 {
    60
}

impl CommandAction {
    /// See [`super::Action::validate`].
    pub(super) fn validate(&self) -> Result<(), ActionError> {
        let program = |message: String| ActionError::invalid("action.program", message);
        if self.program.is_empty() {
            return Err(program("must not be empty".to_owned()));
        }
        let chars = self.program.chars().count();
        if chars > MAX_PROGRAM_CHARS {
            return Err(program(format!(
                "at most {MAX_PROGRAM_CHARS} characters, got {chars}"
            )));
        }
        if self.program.contains('\0') {
            return Err(program("must not contain a NUL byte".to_owned()));
        }
        let args = |message: String| ActionError::invalid("action.args", message);
        if self.args.len() > MAX_ARGS {
            return Err(args(format!(
                "at most {MAX_ARGS} arguments, got {}",
                self.args.len()
            )));
        }
        if let Some(index) = self.args.iter().position(|arg| arg.contains('\0')) {
            return Err(args(format!("argument {index} contains a NUL byte")));
        }
        let total: usize = self.args.iter().map(String::len).sum();
        if total > MAX_ARGS_BYTES {
            return Err(args(format!(
                "at most {MAX_ARGS_BYTES} bytes together, got {total}"
            )));
        }
        validate_timeout(self.timeout_seconds)
    }
}

/// Runs `action` and reports how it went. Expects a validated action.
pub(super) async fn execute(
    action: &CommandAction,
    idempotency_key: &str,
    attempt: u32,
) -> Outcome {
    let spawned = Command::new(&action.program)
        .args(&action.args)
        .env("SCHEDLITE_IDEMPOTENCY_KEY", idempotency_key)
        .env("SCHEDLITE_ATTEMPT", attempt.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return Outcome::failed(format!("failed to start `{}`: {error}", action.program));
        }
    };
    let stdout = Arc::new(Mutex::new(Tail::default()));
    let stderr = Arc::new(Mutex::new(Tail::default()));
    let mut readers = Vec::with_capacity(2);
    if let Some(pipe) = child.stdout.take() {
        readers.push(AbortOnDrop(tokio::spawn(read_into(pipe, stdout.clone()))));
    }
    if let Some(pipe) = child.stderr.take() {
        readers.push(AbortOnDrop(tokio::spawn(read_into(pipe, stderr.clone()))));
    }

    let limit = Duration::from_secs(action.timeout_seconds);
    let (status, exit_code, error) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(exit)) => exit_outcome(exit),
        Ok(Err(error)) => {
            kill_and_reap(&mut child).await;
            let reason = format!("failed to wait for `{}`: {error}", action.program);
            (OutcomeStatus::Failed, None, Some(reason))
        }
        Err(_elapsed) => {
            kill_and_reap(&mut child).await;
            let reason = format!("timed out after {} s", action.timeout_seconds);
            (OutcomeStatus::TimedOut, None, Some(reason))
        }
    };

    let drained = tokio::time::timeout(PIPE_GRACE, async {
        for reader in &mut readers {
            // A reader that panicked has nothing more to give; what it read is kept.
            let _ = (&mut reader.0).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::debug!("output pipes still open after the child ended; giving up on them");
    }
    // Dropping the readers aborts any still waiting on a pipe held open by a grandchild.
    drop(readers);

    Outcome {
        status,
        http_status: None,
        exit_code,
        output: render_output(&lock(&stdout), &lock(&stderr)),
        error,
    }
}

/// Status, exit code and reason for a child that ended by itself.
fn exit_outcome(exit: ExitStatus) -> (OutcomeStatus, Option<i32>, Option<String>) {
    match exit.code() {
        Some(0) => (OutcomeStatus::Succeeded, Some(0), None),
        Some(code) => (
            OutcomeStatus::Failed,
            Some(code),
            Some(format!("exit code {code}")),
        ),
        None => (OutcomeStatus::Failed, None, Some(no_code_reason(exit))),
    }
}

/// Why a child has no exit code: on Unix, the signal that killed it.
#[cfg(unix)]
fn no_code_reason(exit: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match exit.signal() {
        Some(signal) => format!("killed by signal {signal}"),
        None => format!("ended abnormally ({exit})"),
    }
}

/// Why a child has no exit code.
#[cfg(not(unix))]
fn no_code_reason(exit: ExitStatus) -> String {
    format!("ended abnormally ({exit})")
}

/// Kills the child (SIGKILL on Unix) and waits for it, so that no zombie is left; gives up
/// after [`KILL_GRACE`] (tokio then reaps it in the background once it dies).
async fn kill_and_reap(child: &mut Child) {
    if let Err(error) = child.start_kill() {
        // Already exited: the wait below reaps it.
        tracing::debug!(%error, "killing the child failed");
    }
    match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "waiting for the killed child failed"),
        Err(_) => tracing::warn!("the killed child has not ended; leaving it to be reaped"),
    }
}

/// Aborts the task when dropped, so that readers never outlive the execution.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The last [`OUTPUT_LIMIT`] bytes written to a stream.
#[derive(Debug, Default)]
struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    /// Appends `chunk`, keeping only the last [`OUTPUT_LIMIT`] bytes.
    fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= OUTPUT_LIMIT {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[chunk.len() - OUTPUT_LIMIT..]);
        } else {
            self.bytes.extend_from_slice(chunk);
            let excess = self.bytes.len().saturating_sub(OUTPUT_LIMIT);
            self.bytes.drain(..excess);
        }
    }
}

/// Locks a tail; a reader that panicked while holding the lock left valid bytes behind.
fn lock(tail: &Mutex<Tail>) -> MutexGuard<'_, Tail> {
    tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `pipe` to its end into `tail`.
async fn read_into<R: AsyncRead + Unpin>(mut pipe: R, tail: Arc<Mutex<Tail>>) {
    let mut chunk = vec![0_u8; READ_CHUNK];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => lock(&tail).push(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                tracing::debug!(%error, "reading child output failed");
                break;
            }
        }
    }
}

/// `"stdout:\n…\nstderr:\n…"` with empty parts omitted and trailing newlines trimmed;
/// `None` when both are empty.
fn render_output(stdout: &Tail, stderr: &Tail) -> Option<String> {
    let parts: Vec<String> = [("stdout", stdout), ("stderr", stderr)]
        .into_iter()
        .filter_map(|(name, tail)| {
            let text = lossy_tail(&tail.bytes, OUTPUT_LIMIT);
            let text = text.trim_end_matches(['\n', '\r']);
            (!text.is_empty()).then(|| format!("{name}:\n{text}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const KEY: &str = "job-1@2026-12-02T00:00:00.000Z";

    #[tokio::test]
    async fn the_attempt_and_the_idempotency_key_are_in_the_environment() {
        let script = "echo \"$SCHEDLITE_ATTEMPT $SCHEDLITE_IDEMPOTENCY_KEY\"";
        let outcome = execute(&sh(script, 10), KEY, 3).await;
        assert_eq!(outcome.status, OutcomeStatus::Succeeded);
        assert_eq!(
            outcome.output.as_deref(),
            Some("stdout:\n3 job-1@2026-12-02T00:00:00.000Z")
        );
    }

    fn sh(script: &str, timeout_seconds: u64) -> CommandAction {
        CommandAction {
            program: "sh".to_owned(),
            args: vec!["-c".to_owned(), script.to_owned()],
            timeout_seconds,
        }
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_code_and_both_streams() {
        let outcome = execute(&sh("echo out; echo err >&2; exit 3", 10), KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, Some(3));
        assert_eq!(outcome.error.as_deref(), Some("exit code 3"));
        assert_eq!(
            outcome.output.as_deref(),
            Some("stdout:\nout\nstderr:\nerr")
        );
        assert_eq!(outcome.http_status, None);
    }

    #[tokio::test]
    async fn true_succeeds_with_no_output() {
        let action = CommandAction {
            program: "true".to_owned(),
            args: Vec::new(),
            timeout_seconds: 10,
        };

        let outcome = execute(&action, KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.exit_code, Some(0));
        assert_eq!(outcome.output, None);
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn arguments_are_passed_without_a_shell() {
        let action = CommandAction {
            program: "echo".to_owned(),
            args: vec!["$HOME".to_owned(), "a  b;".to_owned()],
            timeout_seconds: 10,
        };

        let outcome = execute(&action, KEY, 1).await;

        assert_eq!(outcome.output.as_deref(), Some("stdout:\n$HOME a  b;"));
    }

    #[tokio::test]
    async fn a_slow_program_is_killed_and_reaped_at_the_timeout() {
        let started = Instant::now();

        let outcome = execute(&sh("echo $$; exec sleep 30", 1), KEY, 1).await;

        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(outcome.status, OutcomeStatus::TimedOut);
        assert_eq!(outcome.exit_code, None);
        assert_eq!(outcome.error.as_deref(), Some("timed out after 1 s"));
        let output = outcome.output.expect("output so far is kept");
        let pid = output
            .strip_prefix("stdout:\n")
            .expect("stdout part")
            .trim();
        assert!(pid.parse::<u32>().is_ok(), "{output}");
        if cfg!(target_os = "linux") {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "child {pid} still exists (not killed or not reaped)"
            );
        }
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_pipes_does_not_hang_a_timeout() {
        let started = Instant::now();

        let outcome = execute(&sh("sleep 10 & exec sleep 30", 1), KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::TimedOut);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_pipes_does_not_hang_a_success() {
        let started = Instant::now();

        let outcome = execute(&sh("sleep 10 & echo done", 10), KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.output.as_deref(), Some("stdout:\ndone"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_program_killed_by_a_signal_fails_naming_it() {
        let outcome = execute(&sh("kill -9 $$", 10), KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, None);
        assert_eq!(outcome.error.as_deref(), Some("killed by signal 9"));
    }

    #[tokio::test]
    async fn a_missing_program_fails_with_the_reason() {
        let action = CommandAction {
            program: "schedlite-no-such-program".to_owned(),
            args: Vec::new(),
            timeout_seconds: 10,
        };

        let outcome = execute(&action, KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(outcome.exit_code, None);
        let error = outcome.error.expect("a reason");
        assert!(
            error.starts_with("failed to start `schedlite-no-such-program`: "),
            "{error}"
        );
        assert!(error.contains("No such file or directory"), "{error}");
    }

    #[tokio::test]
    async fn a_flood_of_output_keeps_only_the_tail() {
        let outcome = execute(&sh("yes | head -c 5000000; echo oops >&2", 30), KEY, 1).await;

        assert_eq!(outcome.status, OutcomeStatus::Succeeded, "{outcome:?}");
        let output = outcome.output.expect("output kept");
        assert!(
            output.len() <= "stdout:\n\nstderr:\n".len() + 2 * OUTPUT_LIMIT,
            "{} bytes kept",
            output.len()
        );
        assert!(output.starts_with("stdout:\ny\ny\n"), "{output}");
        assert!(output.ends_with("y\nstderr:\noops"), "{output}");
    }

    #[test]
    fn the_tail_keeps_the_last_kib() {
        let mut tail = Tail::default();
        tail.push(b"abc");
        tail.push(&[b'x'; 2000]);
        tail.push(b"end");

        assert_eq!(tail.bytes.len(), OUTPUT_LIMIT);
        assert!(tail.bytes.ends_with(b"xend"));
    }
}
