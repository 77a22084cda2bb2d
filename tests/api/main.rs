//! Black-box tests: the real service on a random port against a temp SQLite file.

mod auth;
mod backup;
mod cli;
mod contention;
mod failpoints;
mod faults;
mod firing;
mod full_disk;
mod helpers;
mod hosts;
mod jobs;
mod listing;
mod load;
mod manage;
mod metrics;
mod migrations;
mod mutation;
mod openapi;
mod packaging;
mod processes;
mod properties;
mod requests;
mod retention;
mod scheduler;
mod security;
mod torture;
