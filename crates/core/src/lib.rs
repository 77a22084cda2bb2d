//! schedlite's engine-independent core: the trigger math (`schedule`), what a job does
//! (`actions`), the job model, instants (`timestamp`), crash points for test builds, and the
//! types of the store contract with [`store::StoreError`].
//!
//! It exists as its own crate so that each storage backend can be a crate of its own (sqlx
//! checks a crate's queries against one database, so PostgreSQL's queries need a crate apart
//! from SQLite's) while both return the same types. Dependencies inside point one way:
//! `store` → `model` → `actions`, and all may use `schedule`, `timestamp` and `failpoint`.

#![deny(missing_docs)]

pub mod actions;
#[macro_use]
pub mod failpoint;
pub mod model;
pub mod redact;
pub mod schedule;
pub mod store;
pub mod timestamp;
