//! The limits of an HTTP action (DESIGN.md, *Actions*): URL, method, headers, body and
//! timeout, each refusal naming the field. Header values are never echoed.

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

use super::{
    HeaderSpec, HttpAction, MAX_BODY_BYTES, MAX_ENV_NAME, MAX_HEADER_BYTES, MAX_HEADERS,
    MAX_URL_CHARS, METHODS, REDACTED, RESERVED_HEADERS,
};
use crate::actions::{ActionError, validate_timeout};

impl HttpAction {
    /// See [`crate::actions::Action::validate`].
    pub(in crate::actions) fn validate(&self) -> Result<(), ActionError> {
        self.validate_url()?;
        if !METHODS.contains(&self.method.to_ascii_uppercase().as_str()) {
            return Err(ActionError::invalid(
                "action.method",
                format!(
                    "must be one of {}, got {:?}",
                    METHODS.join(", "),
                    self.method
                ),
            ));
        }
        self.validate_headers()?;
        if let Some(body) = &self.body
            && body.len() > MAX_BODY_BYTES
        {
            return Err(ActionError::invalid(
                "action.body",
                format!("at most {MAX_BODY_BYTES} bytes, got {}", body.len()),
            ));
        }
        validate_timeout(self.timeout_seconds)
    }

    fn validate_url(&self) -> Result<(), ActionError> {
        check_url("action.url", &self.url)
    }

    pub(super) fn validate_headers(&self) -> Result<(), ActionError> {
        let invalid = |message: String| ActionError::invalid("action.headers", message);
        if self.headers.len() > MAX_HEADERS {
            return Err(invalid(format!(
                "at most {MAX_HEADERS} headers, got {}",
                self.headers.len()
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(invalid(format!("{name:?} is not a valid header name")));
            }
            // Header names are case-insensitive: `X-A` and `x-a` would be sent twice.
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(invalid(format!(
                    "{name:?} is given twice (header names are case-insensitive)"
                )));
            }
            if let Some(reserved) = RESERVED_HEADERS
                .iter()
                .find(|reserved| reserved.eq_ignore_ascii_case(name))
            {
                return Err(invalid(format!(
                    "{reserved} may not be set: schedlite sets it"
                )));
            }
            let value = match value {
                HeaderSpec::Value(value) => value,
                HeaderSpec::Env(env) => {
                    validate_env_name(name, &env.from_env)?;
                    continue;
                }
            };
            if value == REDACTED {
                return Err(invalid(format!(
                    "{name:?}: {REDACTED:?} stands for a value this job already has, and it has none for this header"
                )));
            }
            // The value is never echoed: it may be a secret.
            if HeaderValue::from_str(value).is_err() {
                return Err(invalid(format!(
                    "the value of {name:?} is not a valid header value (visible ASCII, spaces and tabs only)"
                )));
            }
            let size = name.len() + value.len();
            if size > MAX_HEADER_BYTES {
                return Err(invalid(format!(
                    "{name:?}: name and value at most {MAX_HEADER_BYTES} bytes together, got {size}"
                )));
            }
        }
        Ok(())
    }
}

/// Checks the variable name of a `from_env` header value.
fn validate_env_name(header: &str, env: &str) -> Result<(), ActionError> {
    let valid = !env.is_empty()
        && env.len() <= MAX_ENV_NAME
        && !env.starts_with(|c: char| c.is_ascii_digit())
        && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ActionError::invalid(
            "action.headers",
            format!(
                "{header:?}: from_env must name an environment variable (letters, digits and _, not starting with a digit, at most {MAX_ENV_NAME}), got {env:?}"
            ),
        ))
    }
}

/// Checks that `url`, given as `field`, is an http or https URL with a host and at most
/// [`MAX_URL_CHARS`] characters: an action's target, or where alerts are POSTed.
pub fn check_url(field: &str, url: &str) -> Result<(), ActionError> {
    let invalid = |message: String| ActionError::invalid(field, message);
    let chars = url.chars().count();
    if chars > MAX_URL_CHARS {
        return Err(invalid(format!(
            "at most {MAX_URL_CHARS} characters, got {chars}"
        )));
    }
    let url = Url::parse(url).map_err(|error| invalid(format!("not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme must be http or https, got {:?}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must have a host".to_owned()));
    }
    Ok(())
}
