//! What a job does when it fires (DESIGN.md, *Actions*): the [`Action`] data stored as JSON in
//! the job row and accepted in API bodies, its validation, and the [`Executor`] that runs one
//! occurrence and reports an [`Outcome`].
//!
//! Never returns `Err` to the scheduler: every failure (an invalid stored action, a refused
//! connection, a non-2xx answer, a missing program, a non-zero exit, a timeout) is an
//! [`Outcome`] that the caller writes into the run row. No SQL and no scheduling here.
//! Header values are never logged: they may carry secrets.

mod command;
mod error;
mod executor;
mod http;
mod noop;
mod outcome;

pub use command::CommandAction;
pub use error::ActionError;
pub use executor::Executor;
pub use http::{FromEnv, HeaderSpec, HttpAction, REDACTED, check_url};
pub use outcome::{OUTPUT_LIMIT, Outcome, OutcomeStatus};

use outcome::{lossy_head, lossy_tail};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests;
