//! Revisions (DESIGN.md, *Definitions you can trust*): every create, replace and restore of a
//! job keeps the definition it set, who set it and when, so anyone can say what a job looked
//! like last week and undo a bad edit in one call. A definition is kept in the shape a
//! `PUT /jobs/{id}` takes, so restoring one is parsing and checking it as a PUT would.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::NewJob;
use crate::schedule::Trigger;
use crate::timestamp::Timestamp;

/// What made a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionChange {
    /// `POST /jobs`, or a `PUT` (or bulk item) of a new id.
    Create,
    /// A `PUT` (or bulk item) of an existing job.
    Replace,
    /// `POST /jobs/{id}/revisions/{n}/restore`.
    Restore,
}

impl RevisionChange {
    /// Every change.
    pub const ALL: [RevisionChange; 3] = [
        RevisionChange::Create,
        RevisionChange::Replace,
        RevisionChange::Restore,
    ];

    /// The change a create-or-replace made: `create` when it created the job.
    pub fn of_upsert(created: bool) -> RevisionChange {
        if created {
            RevisionChange::Create
        } else {
            RevisionChange::Replace
        }
    }

    /// The text stored in `job_revisions.change` and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionChange::Create => "create",
            RevisionChange::Replace => "replace",
            RevisionChange::Restore => "restore",
        }
    }
}

stored_as_text!(RevisionChange, "revision change");

/// One kept definition of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The job.
    pub job_id: String,
    /// Its number, from 1, in the order the changes were made.
    pub revision: u32,
    /// The definition as a `PUT` body (secret header values included: the API redacts them).
    pub definition: Value,
    /// The key that made the change.
    pub changed_by: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// What made it.
    pub change: RevisionChange,
    /// For a restore: the revision restored.
    pub restored_from: Option<u32>,
}

/// A trigger in the shape it is accepted and sent back.
pub fn trigger_json(trigger: &Trigger) -> Value {
    match trigger {
        Trigger::Date { run_at } => json!({"type": "date", "run_at": Timestamp::new(*run_at)}),
        Trigger::Interval {
            seconds,
            start_at,
            end_at,
        } => json!({
            "type": "interval",
            "seconds": seconds,
            "start_at": Timestamp::new(*start_at),
            "end_at": end_at.map(Timestamp::new),
        }),
        Trigger::Cron {
            expr,
            timezone,
            dst,
        } => {
            let mut cron =
                json!({"type": "cron", "expr": expr.as_str(), "timezone": timezone.name()});
            // Shown only when the job has one of its own: most follow the Time rules.
            if !dst.is_default() {
                cron["dst"] =
                    json!({"gap": dst.gap.as_str(), "fold": dst.fold.map(|f| f.as_str())});
            }
            cron
        }
    }
}

/// The definition of `job` as a `PUT /jobs/{id}` body: every field, defaults included, so that
/// two revisions compare field by field and a restore sets every field back.
pub fn definition(job: &NewJob) -> Value {
    json!({
        "name": job.name,
        "trigger": trigger_json(&job.trigger),
        "action": job.action,
        "misfire_grace_seconds": job.settings.misfire_grace_seconds,
        "coalesce": job.settings.coalesce,
        "catch_up": job.settings.catch_up.as_str(),
        "max_instances": job.settings.max_instances,
        "jitter_seconds": job.settings.jitter_seconds,
        "paused": job.paused,
        "expect": job.expect,
        "history": job.history,
        "retry": job.retry,
        "exclusive_group": job.exclusive.as_ref().map(|e| e.group.as_str()),
        "exclusive_policy": job.exclusive.as_ref().map(|e| e.policy.as_str()),
    })
}

/// One field that differs between two definitions: its dotted path and both values (`null`
/// where one side does not have it).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// `trigger.seconds`, `action.headers.X-Token`, …
    pub field: String,
    /// The value in the older definition.
    pub from: Value,
    /// The value in the newer one.
    pub to: Value,
}

/// The fields that differ from `a` to `b`, in field order. Objects are compared field by
/// field, at any depth; anything else (arrays included) as a whole.
pub fn diff(a: &Value, b: &Value) -> Vec<FieldChange> {
    let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
    flatten("", a, &mut left);
    flatten("", b, &mut right);
    let mut fields: Vec<&String> = left.keys().chain(right.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|field| {
            let from = left.get(field).cloned().unwrap_or(Value::Null);
            let to = right.get(field).cloned().unwrap_or(Value::Null);
            (from != to).then(|| FieldChange {
                field: field.clone(),
                from,
                to,
            })
        })
        .collect()
}

/// Every leaf of `value` under its dotted path (an empty object is a leaf too).
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip() {
        for c in RevisionChange::ALL {
            assert_eq!(c.as_str().parse::<RevisionChange>(), Ok(c));
        }
    }

    /// Nested fields are named by path; equal ones are left out; a field on one side only is
    /// null on the other; arrays compare whole.
    #[test]
    fn diff_names_each_changed_field() {
        let a = json!({"name": "a", "trigger": {"type": "interval", "seconds": 60},
                       "action": {"type": "command", "program": "x", "args": ["1"]},
                       "expect": null});
        let b = json!({"name": "a", "trigger": {"type": "interval", "seconds": 120},
                       "action": {"type": "command", "program": "x", "args": ["1", "2"]},
                       "expect": {"max_run_seconds": 5}});
        assert_eq!(
            diff(&a, &b),
            vec![
                FieldChange {
                    field: "action.args".into(),
                    from: json!(["1"]),
                    to: json!(["1", "2"])
                },
                FieldChange {
                    field: "expect.max_run_seconds".into(),
                    from: Value::Null,
                    to: json!(5)
                },
                FieldChange {
                    field: "trigger.seconds".into(),
                    from: json!(60),
                    to: json!(120)
                },
            ]
        );
        assert_eq!(diff(&a, &a), Vec::new());
    }
}
