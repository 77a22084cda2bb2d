//! schedlite: a persistent job scheduler service. Jobs and their triggers live in one SQLite
//! file; a tokio loop fires due jobs; an axum REST API manages them. docs/ARCHITECTURE.md walks
//! through the layers and says which file owns each behaviour.
//!
//! Dependencies point one way: `startup` → `api` → `scheduler` → `store` → `model` → `actions`,
//! and every layer may use the pure leaves (`schedule`, `timestamp`, `apikey`, `config`,
//! `error_chain`, `telemetry`). tests/layers.rs fails on an import against that order.

#![deny(missing_docs)]

pub mod api;
pub mod apikey;
pub mod config;
pub mod error_chain;
pub mod scheduler;
pub mod startup;
pub mod store;
pub mod telemetry;

// The engine-independent core (crates/core), under the paths the rest of the service uses.
pub use schedlite_core::{actions, failpoint, model, redact, schedule, timestamp};

pub use config::Config;
pub use startup::Application;
