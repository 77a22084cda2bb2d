//! Shared parts of the store contract for pauses and skips: the audit details both backends
//! write, so an audit row reads the same on either engine.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::model::PauseNote;
use crate::timestamp;

/// The key name on the audit row of a timed pause's end: no API key ended it, its time did.
/// Key names are chosen by operators, so the row's detail says so as well.
pub const PAUSE_ENDED_BY: &str = "schedlite";

/// How many jobs whose timed pause has ended one look resumes; more wait for the next look.
pub const PAUSE_ENDS_PER_LOOK: u32 = 500;

/// The audit detail of a pause: its reason and end, when given (`None` for a plain pause).
pub fn pause_detail(note: &PauseNote) -> Option<String> {
    let mut detail = Map::new();
    if let Some(reason) = &note.reason {
        detail.insert("reason".into(), Value::String(reason.clone()));
    }
    if let Some(until) = note.until {
        detail.insert("until".into(), Value::String(timestamp::format(until)));
    }
    (!detail.is_empty()).then(|| Value::Object(detail).to_string())
}

/// The audit detail of the resume that ends a timed pause at `until`.
pub fn pause_end_detail(until: DateTime<Utc>) -> String {
    json!({"pause_ended": timestamp::format(until)}).to_string()
}

/// The audit detail of a skip request (`count` 0: the rest cancelled).
pub fn skip_detail(count: u32, reason: Option<&str>) -> String {
    json!({"count": count, "reason": reason}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_name_only_what_was_given() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut note = PauseNote {
            by: "ops".into(),
            at,
            reason: None,
            until: None,
        };
        assert_eq!(pause_detail(&note), None);
        note.reason = Some("db upgrade".into());
        note.until = Some(at);
        assert_eq!(
            pause_detail(&note).as_deref(),
            Some(r#"{"reason":"db upgrade","until":"2026-12-01T10:00:00.000Z"}"#)
        );
        assert_eq!(
            pause_end_detail(at),
            r#"{"pause_ended":"2026-12-01T10:00:00.000Z"}"#
        );
        assert_eq!(skip_detail(0, None), r#"{"count":0,"reason":null}"#);
    }
}
