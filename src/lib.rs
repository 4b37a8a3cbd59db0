//! cronq: a cron-driven background job runner. See README.md and docs/.
//!
//! The pure core (`schedule`, `in_words`, `plan`, `retry`, `settings`, `job`, `limits`)
//! makes every decision from data, and `in_words` says a schedule in plain English;
//! `store`, `lock`, `exec`, `owner`, `time` and `system_zone` are the edges to SQLite,
//! files, processes, the clock and the system's settings; `pass` and `run` put them
//! together; `cli` is the command line.

// `print!` and `eprint!` panic when the write fails (a closed pipe): use
// `cli::output::emit` for data and `cli::output::print_to_stderr` for messages.
#![deny(clippy::print_stdout, clippy::print_stderr)]
pub mod builtin;
pub mod cli;
pub mod control;
pub mod crontab;
pub mod error;
pub mod exec;
pub mod files;
pub mod health;
pub mod heartbeat;
pub mod in_words;
pub mod job;
pub mod limits;
pub mod lock;
pub mod owner;
pub mod pass;
pub mod ping;
pub mod plan;
pub mod quiet;
pub mod recover;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod system_zone;
pub mod time;
pub mod timetable;
#[cfg(feature = "web")]
pub mod web;
pub mod workers;
