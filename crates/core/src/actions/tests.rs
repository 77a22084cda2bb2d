//! Tests of the action definition: its JSON form, defaults, and validation naming the field.

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

/// Asserts each action is refused naming `field`, and that the error reads `<field>: <message>`.
fn assert_refused(cases: Vec<(&str, Action, &str)>) {
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

/// An http action `https://example.com/hook` changed by `edit`.
fn with_http(edit: &dyn Fn(&mut HttpAction)) -> Action {
    let mut action = http("https://example.com/hook");
    edit(&mut action);
    Action::Http(action)
}

/// A command action `/usr/bin/backup` changed by `edit`.
fn with_command(edit: &dyn Fn(&mut CommandAction)) -> Action {
    let mut action = command("/usr/bin/backup");
    edit(&mut action);
    Action::Command(action)
}

#[test]
fn bad_http_fields_are_refused_naming_the_field() {
    assert_refused(vec![
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
    ]);
}

#[test]
fn bad_headers_are_refused_naming_the_field() {
    let many_headers: Vec<(String, String)> =
        (0..33).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many_headers: Vec<(&str, &str)> = many_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let big_value = "v".repeat(8192);
    assert_refused(vec![
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
    ]);
}

#[test]
fn bad_commands_are_refused_naming_the_field() {
    assert_refused(vec![
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
    ]);
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
    let many: Vec<(String, String)> = (0..33).map(|i| (format!("X-H{i}"), "v".into())).collect();
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
