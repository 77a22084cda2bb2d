//! [`ActionError`]: why an action was refused (a field out of its limits, named as a JSON
//! path) or the executor could not be built. The API turns the first into a 422.

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
    pub(super) fn invalid(field: &str, message: impl Into<String>) -> ActionError {
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
