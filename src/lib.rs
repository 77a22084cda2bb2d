//! schedlite: a persistent job scheduler service. Jobs and their triggers live in one SQLite
//! file; a tokio loop fires due jobs; an axum REST API manages them. See DESIGN.md.
//!
//! Dependencies point one way: `api` and `scheduler` call `store`; `scheduler` calls `actions`
//! and `schedule`; `schedule` calls nothing of ours.

#![deny(missing_docs)]

pub mod actions;
pub mod api;
pub mod apikey;
pub mod config;
pub mod model;
pub mod schedule;
pub mod scheduler;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod timestamp;

pub use config::Config;
pub use startup::Application;
