//! [`Outcome`]: what one execution produced, as the caller writes it into the run row, and
//! the lossy UTF-8 cuts that keep a run's output within [`OUTPUT_LIMIT`] bytes.

/// Most bytes of response body (http) or of each output stream (command) kept in an
/// [`Outcome`]: the first KiB of a body, the last KiB of stdout and of stderr.
pub const OUTPUT_LIMIT: usize = 1024;

/// How one execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStatus {
    /// http: a 2xx answer; command: exit code 0; noop: always.
    Succeeded,
    /// Anything else that ended before the timeout: non-2xx, connection failure, non-zero
    /// exit, killed by a signal, could not start, invalid stored action.
    Failed,
    /// The action's `timeout_seconds` elapsed; the request was dropped or the child killed.
    TimedOut,
}

impl OutcomeStatus {
    /// The run status as stored: `"succeeded"`, `"failed"` or `"timed_out"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Succeeded => "succeeded",
            OutcomeStatus::Failed => "failed",
            OutcomeStatus::TimedOut => "timed_out",
        }
    }
}

/// What one execution produced; written into the run row by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// How it ended.
    pub status: OutcomeStatus,
    /// http actions that got an answer (also when the body then timed out).
    pub http_status: Option<u16>,
    /// command actions that exited; `None` when killed by a signal or on timeout.
    pub exit_code: Option<i32>,
    /// http: the first KiB of the response body (lossy UTF-8, cut on a char boundary);
    /// command: the last KiB of stdout and of stderr as `"stdout:\n…\nstderr:\n…"`, empty
    /// parts omitted. `None` when there was nothing.
    pub output: Option<String>,
    /// Human reason when not succeeded, e.g. `HTTP 500 Internal Server Error`,
    /// `timed out after 2 s`, `exit code 3`; `None` on success.
    pub error: Option<String>,
}

impl Outcome {
    /// A success with nothing to report.
    pub fn succeeded() -> Outcome {
        Outcome {
            status: OutcomeStatus::Succeeded,
            http_status: None,
            exit_code: None,
            output: None,
            error: None,
        }
    }

    /// A failure with only a reason, e.g. for an action that panicked or could not start.
    pub fn failed(error: impl Into<String>) -> Outcome {
        Outcome {
            status: OutcomeStatus::Failed,
            error: Some(error.into()),
            ..Outcome::succeeded()
        }
    }

    /// A timeout after `seconds`, with nothing else to report.
    pub(super) fn timed_out(seconds: u64) -> Outcome {
        Outcome {
            status: OutcomeStatus::TimedOut,
            error: Some(format!("timed out after {seconds} s")),
            ..Outcome::succeeded()
        }
    }
}

/// Decodes the start of `bytes` (at most `limit` of them) as lossy UTF-8 of at most `limit`
/// bytes. A multi-byte character cut at the end is dropped rather than replaced.
pub(super) fn lossy_head(bytes: &[u8], limit: usize) -> String {
    let bytes = &bytes[..bytes.len().min(limit)];
    let mut text = String::with_capacity(bytes.len());
    let mut chunks = bytes.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        text.push_str(chunk.valid());
        // The invalid part of the last chunk is, at most, a character cut by the limit.
        if !chunk.invalid().is_empty() && chunks.peek().is_some() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    // Replacement characters can make the text longer than the bytes it replaced.
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Decodes the end of `bytes` (at most `limit` of them) as lossy UTF-8 of at most `limit`
/// bytes. A multi-byte character cut at the start is dropped rather than replaced.
pub(super) fn lossy_tail(bytes: &[u8], limit: usize) -> String {
    let mut bytes = &bytes[bytes.len().saturating_sub(limit)..];
    // Up to three continuation bytes at the start are the rest of a character cut off.
    for _ in 0..3 {
        match bytes.split_first() {
            Some((first, rest)) if first & 0b1100_0000 == 0b1000_0000 => bytes = rest,
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let mut start = text.len().saturating_sub(limit);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_head_cuts_on_a_char_boundary_and_stays_within_the_limit() {
        let euros = "€".repeat(400).into_bytes();
        assert_eq!(lossy_head(&euros, 1024), "€".repeat(341));
        assert_eq!(lossy_head(b"abc", 1024), "abc");
        assert_eq!(lossy_head(b"a\xffb", 1024), "a\u{fffd}b");
        let invalid = vec![0xff_u8; 2000];
        assert!(lossy_head(&invalid, 1024).len() <= 1024);
    }

    #[test]
    fn lossy_tail_cuts_on_a_char_boundary_and_stays_within_the_limit() {
        let euros = "€".repeat(400).into_bytes();
        assert_eq!(lossy_tail(&euros, 1024), "€".repeat(341));
        assert_eq!(lossy_tail(b"abc", 2), "bc");
        assert_eq!(lossy_tail(b"a\xffb", 1024), "a\u{fffd}b");
        let invalid = vec![0xff_u8; 2000];
        assert!(lossy_tail(&invalid, 1024).len() <= 1024);
    }
}
