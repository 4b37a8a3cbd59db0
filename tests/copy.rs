//! Moving an installation from SQLite to PostgreSQL with `cronq copy --to URL`: jobs,
//! settings and history arrive as they were, run ids included, all or nothing.

mod common;

use common::postgres::fresh_database;
use common::{rfc3339, START};
use serde_json::Value;
use std::ffi::OsStr;
use std::process::Output;
use tempfile::TempDir;

const BINARY: &str = env!("CARGO_BIN_EXE_cronq");

fn cronq(db: &OsStr, now: i64, args: &[&str]) -> Output {
    std::process::Command::new(BINARY)
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(db)
        .arg("--now")
        .arg(rfc3339(now))
        .args(args)
        .output()
        .unwrap()
}

fn ok(db: &OsStr, now: i64, args: &[&str]) -> String {
    let out = cronq(db, now, args);
    assert!(
        out.status.success(),
        "cronq {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(db: &OsStr, args: &[&str]) -> Value {
    serde_json::from_str(&ok(db, START + 3600, args)).unwrap()
}

/// An SQLite installation with a little of everything: scheduled and queued jobs, a
/// zone, settings, successes, a failure awaiting its retry, missed slots, binary output.
fn an_installation(dir: &TempDir) -> std::ffi::OsString {
    let file = dir.path().join("cronq.db").into_os_string();
    let db = file.as_os_str();
    ok(
        db,
        START,
        &[
            "add",
            "tick",
            "--schedule",
            "*/10 * * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "printf 'a\\001\\377b'",
        ],
    );
    ok(
        db,
        START,
        &["add", "flaky", "--retries", "2", "--", "echo no; exit 3"],
    );
    ok(db, START, &["settings", "jobs_max_portion", "40"]);
    ok(db, START, &["token", "add", "dashboard"]);
    ok(
        db,
        START,
        &[
            "enqueue",
            "flaky",
            "--target-id",
            "42",
            "--data",
            "{\"k\": 1}",
        ],
    );
    // Passes that run a failing job exit 1: that is part of the history to copy.
    for minutes in [10, 20, 90] {
        cronq(db, START + minutes * 60, &["run"]);
    }
    file
}

#[test]
fn copy_moves_jobs_settings_and_history_as_they_were() {
    let dir = TempDir::new().unwrap();
    let file = an_installation(&dir);
    let pg = fresh_database();
    let url = OsStr::new(&pg.url);

    let said = ok(&file, START + 3600, &["copy", "--to", &pg.url]);
    assert!(
        said.starts_with("copied 3 job(s), 1 setting(s) and "),
        "{said}"
    );

    for view in [
        &["jobs", "--json"][..],
        &["runs", "--json", "--limit", "1000"],
        &["settings"],
    ] {
        let (before, after) = if view == ["settings"] {
            (
                Value::String(ok(&file, START, view)),
                Value::String(ok(url, START, view)),
            )
        } else {
            (json(&file, view), json(url, view))
        };
        assert_eq!(before, after, "cronq {view:?} differs after the copy");
    }
    let runs = json(&file, &["runs", "--json", "--limit", "1000"]);
    let ticked = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "tick" && r["status"] == "success")
        .unwrap();
    let id = ticked["id"].to_string();
    let raw = |db: &OsStr| cronq(db, START, &["show", &id, "--raw"]).stdout;
    assert_eq!(raw(url), b"a\x01\xffb", "output bytes survive the copy");
    // A retried run keeps its earlier attempts, and the web screens their tokens.
    let flaky = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "flaky")
        .unwrap()["id"]
        .to_string();
    let shown = json(&file, &["show", &flaky, "--json"]);
    assert!(!shown["attempts"].as_array().unwrap().is_empty(), "{shown}");
    assert_eq!(shown, json(url, &["show", &flaky, "--json"]));
    assert_eq!(
        ok(&file, START, &["token", "list"]),
        ok(url, START, &["token", "list"])
    );

    // The copy goes on where the file left off: new ids follow the copied ones.
    let newest = runs[0]["id"].as_i64().unwrap();
    let next: i64 = ok(url, START + 3600, &["enqueue", "flaky"])
        .trim()
        .parse()
        .unwrap();
    assert!(next > newest, "{next} after {newest}");
    cronq(url, START + 3700, &["run"]);
    let ran = json(url, &["show", &next.to_string(), "--json"]);
    assert_eq!(
        ran["error"], "exit status 3",
        "the copied database runs: {ran}"
    );
}

#[test]
fn copy_refuses_a_target_that_is_not_empty_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let file = an_installation(&dir);
    let pg = fresh_database();
    let url = OsStr::new(&pg.url);
    ok(url, START, &["add", "theirs", "--", "true"]);
    let out = cronq(&file, START, &["copy", "--to", &pg.url]);
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("is not empty") && message.contains("nothing was copied"),
        "{message}"
    );
    let names: Vec<String> = json(url, &["jobs", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Cleanup", "theirs"]);
}

#[test]
fn copy_refuses_while_a_run_is_running() {
    let dir = TempDir::new().unwrap();
    let file = an_installation(&dir);
    let first = json(&file, &["runs", "--json", "--limit", "1"])[0]["id"].clone();
    let conn = rusqlite::Connection::open(dir.path().join("cronq.db")).unwrap();
    conn.execute(
        &format!("UPDATE runs SET status = 'running' WHERE id = {first}"),
        [],
    )
    .unwrap();
    let pg = fresh_database();
    let out = cronq(&file, START, &["copy", "--to", &pg.url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("running run(s)"));
    assert_eq!(
        json(OsStr::new(&pg.url), &["runs", "--json"]),
        serde_json::json!([])
    );
}

#[test]
fn copy_takes_a_file_and_a_url() {
    let dir = TempDir::new().unwrap();
    let file = an_installation(&dir);
    let out = cronq(&file, START, &["copy", "--to", "/tmp/elsewhere.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a postgresql:// URL"));
}
