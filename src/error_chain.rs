//! One-line rendering of an error and its causes, for logs and for the messages the service
//! stores (`/healthz` problems, run errors). It lives at the crate root, outside every layer, so
//! the scheduler and the API can both use it without one importing the other.

/// Writes the cause chain of an error on one line: `outer: inner: innermost`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_every_cause_in_order() {
        let error = Outer(std::io::Error::other("innermost"));
        assert_eq!(error_chain(&error), "outer: innermost");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
