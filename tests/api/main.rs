//! Black-box tests: the real service on a random port against a temp SQLite file.

mod auth;
mod cli;
mod faults;
mod helpers;
mod jobs;
mod manage;
mod openapi;
mod processes;
mod scheduler;
mod security;
