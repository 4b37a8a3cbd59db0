//! Helpers shared by the integration tests: the binary with a database and a pinned
//! clock, RFC 3339 times, and the runs as `cronq runs --json` shows them.
#![allow(dead_code)] // each test file uses its own subset

pub mod browser;
pub mod postgres;
pub mod web;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// 2026-11-23T09:00:00Z, a Monday.
pub const START: i64 = 1_795_424_400;

pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `cronq --db DB --now T`, ready for arguments.
pub fn cronq(db: &Path, now: i64) -> Command {
    let mut cmd = Command::cargo_bin("cronq").unwrap();
    cmd.arg("--db").arg(db).arg("--now").arg(rfc3339(now));
    cmd
}

/// Every run, newest first, as JSON objects.
pub fn all_runs(db: &Path) -> Vec<Value> {
    let out = cronq(db, START)
        .args(["runs", "--limit", "100000", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `done` every 10 ms for up to 20 s: for real processes, where no clock can be
/// injected.
pub fn wait_for(what: &str, done: impl FnMut() -> bool) {
    wait_within(20, what, done);
}

/// Polls `done` every 10 ms for up to `seconds`.
pub fn wait_within(seconds: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The two databases cronq runs on: behaviour tests run on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test, on either backend, and a scratch directory.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    postgres: Option<postgres::TestDatabase>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        TestDb {
            dir: tempfile::TempDir::new().unwrap(),
            postgres: (backend == Backend::Postgres).then(postgres::fresh_database),
        }
    }

    /// Runs one SQL statement on the database, as another program (or another host's
    /// cronq) could.
    pub fn execute(&self, sql: &str) {
        match &self.postgres {
            Some(db) => {
                db.connect().batch_execute(sql).unwrap();
            }
            None => {
                let path = self.dir.path().join("cronq.db");
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
        }
    }

    /// PostgreSQL only: ends every other connection to this test's database, as a server
    /// restart or a network failure would; returns how many there were.
    pub fn terminate_other_connections(&self) -> usize {
        let db = self.postgres.as_ref().expect("a PostgreSQL test database");
        let rows = db
            .connect()
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap();
        rows.len()
    }

    /// What `--db` takes: the file path or the URL.
    pub fn arg(&self) -> std::ffi::OsString {
        match &self.postgres {
            Some(db) => db.url.clone().into(),
            None => self.dir.path().join("cronq.db").into_os_string(),
        }
    }
}

/// Runs each named test function (taking a `Backend`) on SQLite and on PostgreSQL, as
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::common::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::common::Backend::Postgres) })*
        }
    };
}

/// One simulated host: a host id of its own (`CRONQ_HOST_ID`) and a state directory of its
/// own (`XDG_STATE_HOME`, where a host keeps its lock files for a PostgreSQL database), as
/// a separate machine would have. On SQLite the lock files lie beside the database file
/// whatever the state directory.
pub struct Host {
    pub id: String,
    pub state: tempfile::TempDir,
}

impl Host {
    pub fn new(id: &str) -> Host {
        Host {
            id: id.to_string(),
            state: tempfile::TempDir::new().unwrap(),
        }
    }

    /// `cronq --db DB --now NOW ARGS...` on this host, with nothing leaking in from the
    /// environment.
    pub fn command(&self, db: &std::ffi::OsStr, now: i64, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"));
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env("CRONQ_HOST_ID", &self.id)
            .env("XDG_STATE_HOME", self.state.path())
            .arg("--db")
            .arg(db)
            .arg("--now")
            .arg(rfc3339(now))
            .args(args)
            .stdin(std::process::Stdio::null());
        cmd
    }
}
