//! What a job does when it fires (DESIGN.md, *Actions*): the [`Action`] data stored as JSON in
//! the job row and accepted in API bodies, its validation, and the [`Executor`] that runs one
//! occurrence and reports an [`Outcome`].
//!
//! Never returns `Err` to the scheduler: every failure (an invalid stored action, a refused
//! connection, a non-2xx answer, a missing program, a non-zero exit, a timeout) is an
//! [`Outcome`] that the caller writes into the run row. No SQL and no scheduling here.
//! Header values are never logged: they may carry secrets.

mod command;
mod http;
mod noop;

pub use command::CommandAction;
pub use http::{FromEnv, HeaderSpec, HttpAction, REDACTED};

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Most bytes of response body (http) or of each output stream (command) kept in an
/// [`Outcome`]: the first KiB of a body, the last KiB of stdout and of stderr.
pub const OUTPUT_LIMIT: usize = 1024;

/// Smallest accepted `timeout_seconds`.
const MIN_TIMEOUT_SECONDS: u64 = 1;
/// Largest accepted `timeout_seconds`: one day.
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// What a job does when it fires; stored as JSON text in the job row and accepted in API
/// bodies, e.g. `{"type":"noop"}`, `{"type":"http","url":"https://…"}`,
/// `{"type":"command","program":"/usr/local/bin/backup","args":["--full"]}`.
///
/// Unknown fields are rejected, in the outer object and in each variant's fields.
/// Deserializing does not check limits: call [`Action::validate`] before accepting one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    deny_unknown_fields,
    from = "ActionRepr"
)]
pub enum Action {
    /// Records a run and does nothing (tests, benchmarks, heartbeats).
    Noop,
    /// Sends one HTTP request; success is a 2xx status.
    Http(HttpAction),
    /// Runs one program on the host, without a shell; success is exit code 0.
    Command(CommandAction),
}

/// The deserialization shape of [`Action`].
///
/// N.B. serde ignores `deny_unknown_fields` for the unit variant of an internally tagged
/// enum, so `{"type":"noop","x":1}` would pass; deserializing `noop` into an empty struct
/// that denies unknown fields rejects it, while `Action::Noop` stays a unit variant.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ActionRepr {
    Noop(NoopFields),
    Http(HttpAction),
    Command(CommandAction),
}

/// The (absent) fields of a `noop` action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopFields {}

impl From<ActionRepr> for Action {
    fn from(repr: ActionRepr) -> Action {
        match repr {
            ActionRepr::Noop(NoopFields {}) => Action::Noop,
            ActionRepr::Http(http) => Action::Http(http),
            ActionRepr::Command(command) => Action::Command(command),
        }
    }
}

impl Action {
    /// This action as API responses show it: HTTP header values replaced by
    /// [`REDACTED`] (they are write-only).
    pub fn redacted(&self) -> Action {
        match self {
            Action::Http(http) => Action::Http(http.redacted()),
            other => other.clone(),
        }
    }

    /// Fills each HTTP header value sent as [`REDACTED`] from `stored` (the job's current
    /// action), so a client can send back what it read; see [`HttpAction::keep_redacted_from`].
    pub fn keep_redacted_from(&mut self, stored: &Action) {
        if let (Action::Http(new), Action::Http(old)) = (self, stored) {
            new.keep_redacted_from(old);
        }
    }

    /// The action's type as written in its JSON `type`: `"noop"`, `"http"` or `"command"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Noop => "noop",
            Action::Http(_) => "http",
            Action::Command(_) => "command",
        }
    }

    /// Checks limits and well-formedness. The error names the field as a JSON path, e.g.
    /// `action.url: ...`, `action.headers: at most 32 headers, got 33`,
    /// `action.timeout_seconds: must be between 1 and 86400, got 0`.
    ///
    /// http: `url` parses, is `http` or `https` and has at most 2048 characters; `method` is
    /// one of GET POST PUT PATCH DELETE HEAD OPTIONS (any case); at most 32 headers, each a
    /// valid header name and value, name and value together at most 8 KiB, and none of
    /// `Idempotency-Key` (set by the executor), `Content-Length` or `Transfer-Encoding`
    /// (computed from the body); `body` at most 64 KiB.
    /// command: `program` non-empty, at most 4096 characters, no NUL; at most 256 `args`,
    /// none with a NUL, at most 64 KiB together.
    /// Both: `timeout_seconds` between 1 and 86400.
    pub fn validate(&self) -> Result<(), ActionError> {
        match self {
            Action::Noop => Ok(()),
            Action::Http(http) => http.validate(),
            Action::Command(command) => command.validate(),
        }
    }
}

/// Checks a `timeout_seconds` field against the accepted range.
fn validate_timeout(seconds: u64) -> Result<(), ActionError> {
    if (MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
        Ok(())
    } else {
        Err(ActionError::invalid(
            "action.timeout_seconds",
            format!(
                "must be between {MIN_TIMEOUT_SECONDS} and {MAX_TIMEOUT_SECONDS}, got {seconds}"
            ),
        ))
    }
}

/// Why an action was refused or the executor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A field breaks a limit or is malformed; the API answers 422 `VALIDATION_ERROR`.
    #[error("{field}: {message}")]
    Invalid {
        /// JSON path of the offending field, e.g. `action.url`.
        field: String,
        /// What is wrong, lowercase, no final period.
        message: String,
    },
    /// The shared HTTP client could not be built (TLS backend initialisation failed).
    #[error("cannot build the http client")]
    HttpClient(#[source] reqwest::Error),
}

impl ActionError {
    /// Builds an [`ActionError::Invalid`].
    fn invalid(field: &str, message: impl Into<String>) -> ActionError {
        ActionError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// JSON path of the offending field (`action.url`); `action` for errors not tied to
    /// one field.
    pub fn field(&self) -> &str {
        match self {
            ActionError::Invalid { field, .. } => field,
            ActionError::HttpClient(_) => "action",
        }
    }

    /// What is wrong, without the field name.
    pub fn message(&self) -> &str {
        match self {
            ActionError::Invalid { message, .. } => message,
            ActionError::HttpClient(_) => "cannot build the http client",
        }
    }
}

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
    fn timed_out(seconds: u64) -> Outcome {
        Outcome {
            status: OutcomeStatus::TimedOut,
            error: Some(format!("timed out after {seconds} s")),
            ..Outcome::succeeded()
        }
    }
}

/// Owns what executions share: one `reqwest::Client` (connection pooling, at most 5
/// redirects followed, user agent `schedlite/<version>`, proxies from the usual
/// environment variables). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Executor {
    client: reqwest::Client,
}

impl Executor {
    /// Builds the shared HTTP client; fails only if the TLS backend cannot be initialised.
    pub fn new() -> Result<Executor, ActionError> {
        Ok(Executor {
            client: http::build_client()?,
        })
    }

    /// Runs `action` for the occurrence (`job_id`, `scheduled_at`) and reports how it went.
    ///
    /// Never panics or returns `Err`: every failure is an [`Outcome`]. The action is
    /// validated again first (rows can be edited by hand), and an invalid one fails without
    /// running. http sends `Idempotency-Key: <job_id>@<scheduled_at>` (RFC 3339, millis,
    /// `Z`); its timeout covers the whole request including reading the first KiB of body.
    /// command runs the program without a shell, stdin null, environment inherited; on
    /// timeout the child is killed and reaped and the output so far is kept.
    /// Cancel-safe: dropping the future drops the request or kills the child.
    #[tracing::instrument(
        name = "execute_action",
        skip_all,
        fields(
            job.id = %job_id,
            scheduled_at = %scheduled_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            action = action.kind(),
        )
    )]
    pub async fn execute(
        &self,
        action: &Action,
        job_id: &str,
        scheduled_at: DateTime<Utc>,
    ) -> Outcome {
        if let Err(error) = action.validate() {
            tracing::warn!(%error, "refusing to execute an invalid action");
            return Outcome::failed(format!("invalid action: {error}"));
        }
        let started = Instant::now();
        let outcome = match action {
            Action::Noop => noop::execute(),
            Action::Http(http) => http::execute(&self.client, http, job_id, scheduled_at).await,
            Action::Command(command) => command::execute(command).await,
        };
        tracing::debug!(
            status = outcome.status.as_str(),
            http_status = outcome.http_status,
            exit_code = outcome.exit_code,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "action finished"
        );
        outcome
    }
}

/// Decodes the start of `bytes` (at most `limit` of them) as lossy UTF-8 of at most `limit`
/// bytes. A multi-byte character cut at the end is dropped rather than replaced.
fn lossy_head(bytes: &[u8], limit: usize) -> String {
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
fn lossy_tail(bytes: &[u8], limit: usize) -> String {
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
    use serde_json::json;
    use std::collections::BTreeMap;

    fn http(url: &str) -> HttpAction {
        HttpAction {
            method: "POST".to_owned(),
            url: url.to_owned(),
            headers: BTreeMap::new(),
            body: None,
            timeout_seconds: 30,
        }
    }

    fn command(program: &str) -> CommandAction {
        CommandAction {
            program: program.to_owned(),
            args: Vec::new(),
            timeout_seconds: 60,
        }
    }

    fn with_headers(pairs: &[(&str, &str)]) -> Action {
        let mut action = http("https://example.com/hook");
        action.headers = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), HeaderSpec::from(*value)))
            .collect();
        Action::Http(action)
    }

    fn parse(value: serde_json::Value) -> Result<Action, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[tokio::test]
    async fn noop_succeeds_with_nothing_to_report() {
        let executor = Executor::new().expect("client builds");
        let scheduled_at = "2026-11-28T12:00:00Z".parse().expect("valid instant");

        let outcome = executor.execute(&Action::Noop, "job-1", scheduled_at).await;

        assert_eq!(outcome, Outcome::succeeded());
    }

    #[tokio::test]
    async fn an_invalid_stored_action_fails_without_running() {
        let executor = Executor::new().expect("client builds");
        let mut action = command("true");
        action.timeout_seconds = 0;

        let outcome = executor
            .execute(&Action::Command(action), "job-1", Utc::now())
            .await;

        assert_eq!(outcome.status, OutcomeStatus::Failed);
        assert_eq!(
            outcome.error.as_deref(),
            Some("invalid action: action.timeout_seconds: must be between 1 and 86400, got 0")
        );
        assert_eq!(outcome.exit_code, None);
    }

    #[test]
    fn kind_and_status_names_are_the_stored_words() {
        assert_eq!(Action::Noop.kind(), "noop");
        assert_eq!(Action::Http(http("http://x")).kind(), "http");
        assert_eq!(Action::Command(command("true")).kind(), "command");
        assert_eq!(OutcomeStatus::Succeeded.as_str(), "succeeded");
        assert_eq!(OutcomeStatus::Failed.as_str(), "failed");
        assert_eq!(OutcomeStatus::TimedOut.as_str(), "timed_out");
    }

    #[test]
    fn each_variant_round_trips_through_json() {
        let mut full_http = http("https://example.com/hook?x=1");
        full_http.method = "PUT".to_owned();
        full_http
            .headers
            .insert("Authorization".to_owned(), "Bearer t".into());
        full_http.body = Some("{\"a\":1}".to_owned());
        full_http.timeout_seconds = 5;
        let mut full_command = command("/bin/echo");
        full_command.args = vec!["a b".to_owned(), "".to_owned()];
        full_command.timeout_seconds = 7;
        let cases = [
            Action::Noop,
            Action::Http(http("http://127.0.0.1:8080/")),
            Action::Http(full_http),
            Action::Command(command("true")),
            Action::Command(full_command),
        ];

        for action in cases {
            let text = serde_json::to_string(&action).expect("serializes");
            let back: Action = serde_json::from_str(&text).expect("deserializes");
            assert_eq!(back, action, "round trip of {text}");
        }
    }

    #[test]
    fn serialized_form_is_the_documented_json() {
        assert_eq!(
            serde_json::to_value(Action::Noop).expect("serializes"),
            json!({"type": "noop"})
        );
        assert_eq!(
            serde_json::to_value(Action::Http(http("https://example.com/"))).expect("serializes"),
            json!({"type": "http", "method": "POST", "url": "https://example.com/",
                   "headers": {}, "timeout_seconds": 30})
        );
        assert_eq!(
            serde_json::to_value(Action::Command(command("true"))).expect("serializes"),
            json!({"type": "command", "program": "true", "args": [], "timeout_seconds": 60})
        );
    }

    #[test]
    fn defaults_are_applied_and_method_is_stored_upper_case() {
        assert_eq!(
            parse(json!({"type": "http", "url": "https://example.com/"})).expect("valid"),
            Action::Http(http("https://example.com/"))
        );
        assert_eq!(
            parse(json!({"type": "command", "program": "true"})).expect("valid"),
            Action::Command(command("true"))
        );
        let Action::Http(lower) =
            parse(json!({"type": "http", "method": "get", "url": "http://x/"})).expect("valid")
        else {
            panic!("expected an http action");
        };
        assert_eq!(lower.method, "GET");
        assert_eq!(parse(json!({"type": "noop"})).expect("valid"), Action::Noop);
    }

    #[test]
    fn unknown_fields_missing_fields_and_unknown_types_are_rejected() {
        let cases = [
            ("extra field on noop", json!({"type": "noop", "x": 1})),
            (
                "extra field on http",
                json!({"type": "http", "url": "http://x/", "bogus": 1}),
            ),
            (
                "extra field on command",
                json!({"type": "command", "program": "true", "shell": true}),
            ),
            ("missing url", json!({"type": "http", "method": "GET"})),
            ("missing program", json!({"type": "command", "args": []})),
            ("missing type", json!({"url": "http://x/"})),
            ("unknown type", json!({"type": "python", "code": "1"})),
            ("type in wrong case", json!({"type": "Noop"})),
            (
                "wrong field type",
                json!({"type": "command", "program": "true", "timeout_seconds": "5"}),
            ),
            (
                "negative timeout",
                json!({"type": "http", "url": "http://x/", "timeout_seconds": -1}),
            ),
        ];

        for (description, value) in cases {
            assert!(parse(value).is_err(), "{description} should be rejected");
        }
    }

    #[test]
    fn good_actions_at_the_limits_pass_validation() {
        let mut at_limits = http(&format!("https://example.com/{}", "a".repeat(2028)));
        assert_eq!(at_limits.url.chars().count(), 2048);
        at_limits.method = "options".to_owned();
        at_limits.headers = (0..32).map(|i| (format!("X-H{i}"), "v".into())).collect();
        at_limits
            .headers
            .insert("X-H0".to_owned(), HeaderSpec::Value("v".repeat(8192 - 4)));
        at_limits.body = Some("b".repeat(64 * 1024));
        at_limits.timeout_seconds = 86_400;
        let mut command_at_limits = command(&"p".repeat(4096));
        command_at_limits.args = vec!["a".repeat(256); 256];
        command_at_limits.timeout_seconds = 1;
        let cases = [
            Action::Noop,
            Action::Http(http("http://127.0.0.1:1/")),
            Action::Http(at_limits),
            Action::Command(command("true")),
            Action::Command(command_at_limits),
            with_headers(&[("Authorization", "Bearer abc"), ("Content-Type", "a/b")]),
        ];

        for action in cases {
            assert!(
                action.validate().is_ok(),
                "{} should be valid: {:?}",
                action.kind(),
                action.validate()
            );
        }
    }

    #[test]
    fn bad_actions_are_refused_naming_the_field() {
        let with_http = |edit: &dyn Fn(&mut HttpAction)| {
            let mut action = http("https://example.com/hook");
            edit(&mut action);
            Action::Http(action)
        };
        let with_command = |edit: &dyn Fn(&mut CommandAction)| {
            let mut action = command("/usr/bin/backup");
            edit(&mut action);
            Action::Command(action)
        };
        let many_headers: Vec<(String, String)> =
            (0..33).map(|i| (format!("X-H{i}"), "v".into())).collect();
        let many_headers: Vec<(&str, &str)> = many_headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let big_value = "v".repeat(8192);
        let cases: Vec<(&str, Action, &str)> = vec![
            (
                "url not a url",
                with_http(&|a| a.url = "not a url".into()),
                "action.url",
            ),
            (
                "url empty",
                with_http(&|a| a.url = String::new()),
                "action.url",
            ),
            (
                "url ftp",
                with_http(&|a| a.url = "ftp://example.com/".into()),
                "action.url",
            ),
            (
                "url file",
                with_http(&|a| a.url = "file:///etc/passwd".into()),
                "action.url",
            ),
            (
                "url too long",
                with_http(&|a| a.url = format!("https://e.com/{}", "a".repeat(2040))),
                "action.url",
            ),
            (
                "method unknown",
                with_http(&|a| a.method = "FETCH".into()),
                "action.method",
            ),
            (
                "method empty",
                with_http(&|a| a.method = String::new()),
                "action.method",
            ),
            ("33 headers", with_headers(&many_headers), "action.headers"),
            (
                "header name with space",
                with_headers(&[("Bad Name", "v")]),
                "action.headers",
            ),
            (
                "header name empty",
                with_headers(&[("", "v")]),
                "action.headers",
            ),
            (
                "header value newline",
                with_headers(&[("X-A", "a\nb")]),
                "action.headers",
            ),
            (
                "header too large",
                with_headers(&[("X-A", &big_value)]),
                "action.headers",
            ),
            (
                "idempotency key set by user",
                with_headers(&[("idempotency-key", "mine")]),
                "action.headers",
            ),
            (
                "content-length set",
                with_headers(&[("Content-Length", "3")]),
                "action.headers",
            ),
            (
                "body too large",
                with_http(&|a| a.body = Some("b".repeat(64 * 1024 + 1))),
                "action.body",
            ),
            (
                "http timeout 0",
                with_http(&|a| a.timeout_seconds = 0),
                "action.timeout_seconds",
            ),
            (
                "http timeout above a day",
                with_http(&|a| a.timeout_seconds = 86_401),
                "action.timeout_seconds",
            ),
            (
                "program empty",
                with_command(&|a| a.program = String::new()),
                "action.program",
            ),
            (
                "program with NUL",
                with_command(&|a| a.program = "a\0b".into()),
                "action.program",
            ),
            (
                "program too long",
                with_command(&|a| a.program = "p".repeat(4097)),
                "action.program",
            ),
            (
                "257 args",
                with_command(&|a| a.args = vec!["a".into(); 257]),
                "action.args",
            ),
            (
                "arg with NUL",
                with_command(&|a| a.args = vec!["ok".into(), "x\0".into()]),
                "action.args",
            ),
            (
                "args too large together",
                with_command(&|a| a.args = vec!["a".repeat(40_000), "b".repeat(40_000)]),
                "action.args",
            ),
            (
                "command timeout 0",
                with_command(&|a| a.timeout_seconds = 0),
                "action.timeout_seconds",
            ),
        ];

        for (description, action, field) in cases {
            let error = action
                .validate()
                .expect_err(&format!("{description} should be refused"));
            assert_eq!(error.field(), field, "{description}: {error}");
            assert!(!error.message().is_empty(), "{description}");
            assert_eq!(
                error.to_string(),
                format!("{field}: {}", error.message()),
                "{description}"
            );
        }
    }

    #[test]
    fn validation_messages_read_as_documented() {
        let mut action = http("https://example.com/");
        action.timeout_seconds = 0;
        assert_eq!(
            Action::Http(action)
                .validate()
                .expect_err("refused")
                .to_string(),
            "action.timeout_seconds: must be between 1 and 86400, got 0"
        );
        let many: Vec<(String, String)> =
            (0..33).map(|i| (format!("X-H{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert!(
            with_headers(&many)
                .validate()
                .expect_err("refused")
                .to_string()
                .starts_with("action.headers: at most 32 headers")
        );
    }

    #[test]
    fn header_errors_never_echo_the_value() {
        let error = with_headers(&[("X-Secret", "s3cr3t\n")])
            .validate()
            .expect_err("refused");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        assert!(error.to_string().contains("X-Secret"), "{error}");
    }

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
