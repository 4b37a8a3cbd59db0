//! cronq: a cron-driven background job runner. See README.md and docs/.
//!
//! The pure core (`schedule`, `plan`, `retry`, `settings`, `job`) makes every decision
//! from data; `store`, `lock`, `exec`, `owner` and `time` are the edges to SQLite, files,
//! processes and the clock; `pass` and `run` put them together; `cli` is the command line.
pub mod builtin;
pub mod cli;
pub mod crontab;
pub mod error;
pub mod exec;
pub mod files;
pub mod heartbeat;
pub mod job;
pub mod lock;
pub mod owner;
pub mod pass;
pub mod plan;
pub mod recover;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod time;
pub mod timetable;
