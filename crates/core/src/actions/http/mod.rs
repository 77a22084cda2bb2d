//! HTTP actions: the [`HttpAction`] definition and its redaction here, its limits in
//! [`validate`], and sending one request in [`send`].
//!
//! Every failure becomes an [`Outcome`](crate::actions::Outcome); nothing here returns `Err` to the scheduler.
//! Header values are never logged or echoed in errors (they may carry secrets), and user
//! names and passwords in URLs are removed from error messages.

mod send;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

pub(super) use send::{build_client, execute, idempotency_key};
pub use validate::check_url;

/// Methods an action may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Longest accepted URL, in characters.
const MAX_URL_CHARS: usize = 2048;
/// Most headers an action may set.
const MAX_HEADERS: usize = 32;
/// Largest header, name and value together, in bytes.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Largest request body, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Redirects followed before the request fails.
const MAX_REDIRECTS: usize = 5;
/// Header carrying the occurrence, so that targets can drop duplicates.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Headers a user may not set: ours, and framing that reqwest computes from the body
/// (a wrong `Content-Length` would corrupt the request rather than fail validation).
const RESERVED_HEADERS: [&str; 3] = [IDEMPOTENCY_KEY, "Content-Length", "Transfer-Encoding"];

/// What an API response shows instead of a header's stored value: header values are
/// write-only (they often carry tokens). A PUT that sends it back keeps the stored value.
pub const REDACTED: &str = "<redacted>";

/// Longest environment variable name a header may name.
const MAX_ENV_NAME: usize = 256;

/// A header's value: given as is (stored, never shown again), or the name of an environment
/// variable of the server, read each time the request is sent (never stored).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum HeaderSpec {
    /// The value itself.
    Value(String),
    /// `{"from_env": "NAME"}`: the value of the server's environment variable `NAME`.
    Env(FromEnv),
}

/// `{"from_env": "NAME"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromEnv {
    /// An environment variable name: letters, digits and `_`, not starting with a digit.
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_]{0,255}$")]
    pub from_env: String,
}

/// Never prints a stored value, so no log line or error built with `{:?}` can leak one.
impl std::fmt::Debug for HeaderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderSpec::Value(_) => f.write_str(REDACTED),
            HeaderSpec::Env(env) => write!(f, "from_env {:?}", env.from_env),
        }
    }
}

impl From<&str> for HeaderSpec {
    fn from(value: &str) -> HeaderSpec {
        HeaderSpec::Value(value.to_string())
    }
}

/// `{"type":"http","method":"POST","url":"…","headers":{…},"body":"…","timeout_seconds":30}`:
/// sends one request; success is a 2xx status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// GET POST PUT PATCH DELETE HEAD OPTIONS; any case on input, stored upper case.
    /// Default `POST`.
    #[serde(default = "default_method", deserialize_with = "deserialize_method")]
    #[schema(
        required = false,
        pattern = "^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee]|[Hh][Ee][Aa][Dd]|[Oo][Pp][Tt][Ii][Oo][Nn][Ss])$"
    )]
    pub method: String,
    /// Absolute `http` or `https` URL with a host, at most 2048 characters.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Extra request headers (at most 32); `Idempotency-Key` is always set by the executor.
    /// Each value is a string, or `{"from_env": "NAME"}` to send the server's environment
    /// variable `NAME` (read when the request is sent, never stored). Values are write-only:
    /// responses show `"<redacted>"`, and sending `"<redacted>"` back in a PUT keeps the
    /// stored value.
    #[serde(default)]
    #[schema(required = false)]
    pub headers: BTreeMap<String, HeaderSpec>,
    /// Request body, sent as is (at most 64 KiB); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Limit for the whole request, including reading the first KiB of the answer.
    /// 1 to 86400, default 30.
    #[serde(default = "default_timeout_seconds")]
    #[schema(required = false, minimum = 1, maximum = 86_400)]
    pub timeout_seconds: u64,
}

fn default_method() -> String {
    "POST".to_owned()
}

fn default_timeout_seconds() -> u64 {
    30
}

/// Reads a method in any case and keeps it upper case, so that stored rows are uniform.
fn deserialize_method<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    String::deserialize(deserializer).map(|method| method.to_ascii_uppercase())
}

impl HttpAction {
    /// This action as API responses show it: every stored header value replaced by
    /// [`REDACTED`]; `from_env` names are shown (they are not secrets).
    pub fn redacted(&self) -> HttpAction {
        let mut shown = self.clone();
        for value in shown.headers.values_mut() {
            if let HeaderSpec::Value(v) = value {
                *v = REDACTED.to_string();
            }
        }
        shown
    }

    /// Replaces each header value sent as [`REDACTED`] with the value `stored` has for the
    /// same header (names compared without case), so that a client can PUT back what it read.
    /// A marker for a header `stored` lacks is left, and validation refuses it.
    pub fn keep_redacted_from(&mut self, stored: &HttpAction) {
        for (name, value) in self.headers.iter_mut() {
            if !matches!(value, HeaderSpec::Value(v) if v == REDACTED) {
                continue;
            }
            if let Some((_, kept)) = stored
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                *value = kept.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_never_printed_and_redaction_round_trips() {
        let mut action = HttpAction {
            method: "POST".into(),
            url: "https://example.com/hook".into(),
            headers: BTreeMap::from([
                ("Authorization".to_owned(), "Bearer top-secret".into()),
                (
                    "X-Env".to_owned(),
                    HeaderSpec::Env(FromEnv {
                        from_env: "HOOK_TOKEN".into(),
                    }),
                ),
            ]),
            body: None,
            timeout_seconds: 30,
        };
        assert!(!format!("{action:?}").contains("top-secret"));
        let shown = action.redacted();
        assert_eq!(shown.headers["Authorization"], HeaderSpec::from(REDACTED));
        assert_eq!(shown.headers["X-Env"], action.headers["X-Env"]);
        let mut sent_back = shown.clone();
        sent_back
            .headers
            .insert("authorization".into(), REDACTED.into());
        sent_back.headers.remove("Authorization");
        sent_back.keep_redacted_from(&action);
        assert_eq!(
            sent_back.headers["authorization"],
            HeaderSpec::from("Bearer top-secret")
        );
        action.headers.insert("X-New".into(), REDACTED.into());
        assert!(
            action.validate_headers().is_err(),
            "a marker with nothing behind it"
        );
    }
}
