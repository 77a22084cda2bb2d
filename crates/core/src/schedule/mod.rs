//! Triggers and next-fire-time math: the date, interval and cron triggers of DESIGN.md
//! ("Time"), with our own crontab parser and the DST gap and fold rules.
//!
//! Pure: no IO, no SQL, and it never reads the clock. Every "now" is a parameter, so the
//! scheduler, the API preview and the tests all get the same answer for the same input.
//! Depends on nothing else of ours.

pub mod cron;
pub mod dst;
pub mod trigger;

pub use cron::CronExpr;
pub use dst::{DstPolicy, Fold, Gap};
pub use trigger::{DstMark, Fire, Trigger, TriggerError, TriggerKind, parse_timezone};
