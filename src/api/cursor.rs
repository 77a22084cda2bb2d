//! Cursors of the paged listings (jobs, a job's runs, the audit trail), in one place: opaque to
//! clients (URL-safe base64 of a short text starting with what it continues), decoded
//! strictly, so a cursor that this API did not hand out, or that belongs to another listing or
//! order, is a 422 naming `cursor` rather than a page from some arbitrary place.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ApiError;
use super::jobs::validate_job_id;

use crate::model::MAX_ATTEMPTS;
use crate::store::{JobCursor, RunCursor};
use crate::timestamp::Timestamp;

fn bad_cursor() -> ApiError {
    ApiError::validation("cursor", "is not a cursor returned by this API")
}

/// The text inside a cursor, or 422 when it is not base64 of UTF-8.
fn open(cursor: &str) -> Result<String, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad_cursor())?;
    String::from_utf8(bytes).map_err(|_| bad_cursor())
}

fn seal(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// Encodes where a job listing continues: `next_run`, the watermark, the next run as of the
/// start (empty for none) and the id; or `id` and the id.
pub fn encode_jobs(cursor: &JobCursor) -> String {
    match cursor {
        JobCursor::NextRun {
            watermark,
            next_run_at,
            id,
        } => {
            let at = next_run_at
                .map(|t| Timestamp::new(t).to_string())
                .unwrap_or_default();
            seal(&format!("next_run\n{watermark}\n{at}\n{id}"))
        }
        JobCursor::Id { id } => seal(&format!("id\n{id}")),
    }
}

/// Decodes a cursor of `GET /jobs`; anything [`encode_jobs`] did not produce is a 422.
pub fn decode_jobs(cursor: &str) -> Result<JobCursor, ApiError> {
    let text = open(cursor)?;
    let fields: Vec<&str> = text.split('\n').collect();
    let decoded = match fields.as_slice() {
        ["next_run", watermark, at, id] => JobCursor::NextRun {
            watermark: watermark
                .parse::<i64>()
                .ok()
                .filter(|w| *w >= 0 && !watermark.starts_with('+'))
                .ok_or_else(bad_cursor)?,
            next_run_at: match *at {
                "" => None,
                at => Some(Timestamp::parse(at).map_err(|_| bad_cursor())?.get()),
            },
            id: (*id).to_string(),
        },
        ["id", id] => JobCursor::Id {
            id: (*id).to_string(),
        },
        _ => return Err(bad_cursor()),
    };
    let id = match &decoded {
        JobCursor::NextRun { id, .. } | JobCursor::Id { id } => id,
    };
    validate_job_id(id).map_err(|_| bad_cursor())?;
    Ok(decoded)
}

/// Encodes where run history continues: before this attempt at this occurrence.
pub fn encode_runs(cursor: RunCursor) -> String {
    seal(&format!(
        "run:{}#{}",
        Timestamp::new(cursor.scheduled_at),
        cursor.attempt
    ))
}

/// Decodes a cursor of `GET /jobs/{job_id}/runs`. A cursor from before retries existed
/// (`run:<instant>`, no attempt) continues where it did: before the first attempt.
pub fn decode_runs(cursor: &str) -> Result<RunCursor, ApiError> {
    let text = open(cursor)?;
    let rest = text.strip_prefix("run:").ok_or_else(bad_cursor)?;
    let (at, attempt) = match rest.split_once('#') {
        Some((at, attempt)) => (
            at,
            attempt
                .parse::<u32>()
                .ok()
                .filter(|a| (1..=MAX_ATTEMPTS).contains(a) && !attempt.starts_with('+'))
                .ok_or_else(bad_cursor)?,
        ),
        None => (rest, 1),
    };
    Ok(RunCursor {
        scheduled_at: Timestamp::parse(at).map_err(|_| bad_cursor())?.get(),
        attempt,
    })
}

/// Encodes where the audit trail continues: before the entry with this id.
pub fn encode_audit(id: i64) -> String {
    seal(&format!("audit:{id}"))
}

/// Decodes a cursor of `GET /audit`.
pub fn decode_audit(cursor: &str) -> Result<i64, ApiError> {
    open(cursor)?
        .strip_prefix("audit:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad_cursor)
}

/// Encodes where the alerts listing continues: before the alert with this id.
pub fn encode_alerts(id: i64) -> String {
    seal(&format!("alerts:{id}"))
}

/// Decodes a cursor of `GET /alerts`.
pub fn decode_alerts(cursor: &str) -> Result<i64, ApiError> {
    open(cursor)?
        .strip_prefix("alerts:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad_cursor)
}

/// Encodes where a job's revisions continue: below this revision.
pub fn encode_revisions(revision: u32) -> String {
    seal(&format!("revisions:{revision}"))
}

/// Decodes a cursor of `GET /jobs/{job_id}/revisions`.
pub fn decode_revisions(cursor: &str) -> Result<u32, ApiError> {
    open(cursor)?
        .strip_prefix("revisions:")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn job_cursors_round_trip() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
            .single()
            .expect("valid");
        for cursor in [
            JobCursor::NextRun {
                watermark: 42,
                next_run_at: Some(at),
                id: "job-1".into(),
            },
            JobCursor::NextRun {
                watermark: 0,
                next_run_at: None,
                id: "paused.job".into(),
            },
            JobCursor::Id { id: "a_b-c".into() },
        ] {
            assert_eq!(decode_jobs(&encode_jobs(&cursor)).ok(), Some(cursor));
        }
    }

    #[test]
    fn runs_and_audit_cursors_round_trip_and_refuse_each_other() {
        let at = Timestamp::parse("2026-11-28T12:00:00.123Z").expect("valid");
        let run = RunCursor {
            scheduled_at: at.get(),
            attempt: 3,
        };
        assert_eq!(decode_runs(&encode_runs(run)).ok(), Some(run));
        let old = seal("run:2026-11-28T12:00:00.123Z");
        let first = RunCursor { attempt: 1, ..run };
        assert_eq!(decode_runs(&old).ok(), Some(first));
        assert_eq!(decode_audit(&encode_audit(42)).ok(), Some(42));
        assert!(decode_runs(&encode_audit(42)).is_err());
        assert_eq!(decode_alerts(&encode_alerts(7)).ok(), Some(7));
        assert!(decode_alerts(&encode_audit(7)).is_err());
        assert!(decode_audit(&encode_alerts(7)).is_err());
        assert!(decode_audit(&encode_runs(run)).is_err());
        assert!(decode_audit(&seal("audit:0")).is_err());
        assert!(decode_runs(&seal("run:yesterday")).is_err());
        for attempt in ["0", "101", "+2", "x", ""] {
            let cursor = seal(&format!("run:2026-11-28T12:00:00.123Z#{attempt}"));
            assert!(decode_runs(&cursor).is_err(), "attempt {attempt:?}");
        }
    }

    #[test]
    fn junk_job_cursors_are_refused() {
        let cases = [
            ("empty", String::new()),
            ("not base64", "!!!".to_string()),
            ("no fields", seal("nope")),
            ("the old format", seal("2026-11-28T12:00:00.000Z\njob-1")),
            ("the old NULL sentinel", seal("next_run\n1\n~\njob-1")),
            ("negative watermark", seal("next_run\n-1\n\njob-1")),
            ("watermark not a number", seal("next_run\nx\n\njob-1")),
            ("bad instant", seal("next_run\n1\nyesterday\njob-1")),
            ("bad id", seal("id\na/b")),
            ("extra field", seal("id\njob-1\nmore")),
            (
                "a runs cursor",
                encode_runs(RunCursor {
                    scheduled_at: chrono::Utc::now(),
                    attempt: 1,
                }),
            ),
            ("an audit cursor", encode_audit(7)),
        ];
        for (what, cursor) in cases {
            assert!(decode_jobs(&cursor).is_err(), "{what}: {cursor:?}");
        }
    }
}
