//! The crontab's command line, `cronq [--db PATH] run`, is read without the full command
//! parser (it runs four times a minute): every spelling of it runs a real pass, and
//! anything more goes through the parser as before.

use std::path::Path;
use std::process::{Command, Output};

/// Environment variables a command line runs with.
type Env<'a> = &'a [(&'a str, &'a Path)];

/// `cronq ARGS` with nothing from the environment but what `env` adds.
fn cronq(args: &[&str], env: Env) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cronq"));
    for name in ["CRONQ_DB", "CRONQ_NOW", "CRONQ_TIME_TRAVEL", "RUST_LOG"] {
        cmd.env_remove(name);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.args(args).output().unwrap()
}

fn status_of_run(db: &str, id: &str) -> String {
    let out = cronq(&["--db", db, "show", id, "--json"], &[]);
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    run["status"].as_str().unwrap().to_string()
}

#[test]
fn every_spelling_of_the_crontab_line_runs_a_pass() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("cronq.db");
    let db = path.to_str().unwrap();
    assert!(cronq(&["--db", db, "add", "hello", "--", "true"], &[])
        .status
        .success());
    let with_db_equals = format!("--db={db}");
    let spellings: [(&[&str], Env); 5] = [
        (&["--db", db, "run"], &[]),
        (&["run", "--db", db], &[]),
        (&[with_db_equals.as_str(), "run"], &[]),
        (&["run", with_db_equals.as_str()], &[]),
        (&["run"], &[("CRONQ_DB", path.as_path())]),
    ];
    for (args, env) in spellings {
        let out = cronq(&["--db", db, "enqueue", "hello"], &[]);
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let pass = cronq(args, env);
        assert!(
            pass.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&pass.stderr)
        );
        assert!(
            pass.stdout.is_empty() && pass.stderr.is_empty(),
            "{args:?} is silent"
        );
        assert_eq!(status_of_run(db, &id), "success", "{args:?} ran run {id}");
    }
}

#[test]
fn anything_more_is_read_by_the_parser() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("cronq.db");
    let db = path.to_str().unwrap();
    let unknown = cronq(&["--db", db, "run", "--bogus"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--bogus"));
    // CRONQ_NOW in the environment is honoured: a pass a day ahead is refused.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cronq"));
    let ahead = cmd
        .env_remove("CRONQ_TIME_TRAVEL")
        .env("CRONQ_NOW", "+1d")
        .args(["--db", db, "run"])
        .output()
        .unwrap();
    assert_eq!(ahead.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ahead.stderr).contains("--time-travel"));
    let help = cronq(&["run", "--help"], &[]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--time-travel"));
}
