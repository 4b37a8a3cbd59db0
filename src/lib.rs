//! cronq: a cron-driven background job runner. See README.md and docs/.
pub mod job;
pub mod plan;
pub mod retry;
pub mod schedule;
pub mod settings;
pub mod time;
