//! The quiet mark: an idle pass on SQLite that finds the database as the last pass left
//! it does not open it, and nothing due is ever hidden by that.

mod common;

use common::{all_runs, cronq, START};
use std::path::Path;
use tempfile::TempDir;

/// What a pass that did not open the database says at `-vv`.
const QUIET: &str = "nothing is due: the database is as the last pass left it";

/// A pass at `now` with `-vv`; whether it answered from the quiet mark.
fn pass_was_quiet(db: &Path, now: i64) -> bool {
    let out = cronq(db, now).args(["-vv", "run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr.contains(QUIET)
}

/// A database with one job whose next slot is tomorrow at 03:00, after one pass.
fn quiet_database(dir: &TempDir) -> std::path::PathBuf {
    let db = dir.path().join("cronq.db");
    cronq(&db, START)
        .args([
            "add",
            "nightly",
            "--schedule",
            "0 3 * * *",
            "--",
            "echo ran",
        ])
        .assert()
        .success();
    assert!(!pass_was_quiet(&db, START + 1), "no mark before any pass");
    db
}

#[test]
fn an_idle_pass_answers_from_the_mark_the_last_pass_left() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    assert!(pass_was_quiet(&db, START + 2));
    assert!(pass_was_quiet(&db, START + 250));
    // The heartbeat still beats: 100 s after that pass, status finds a pass recent
    // (the last one that opened the database was 349 s before, more than 3 minutes).
    cronq(&db, START + 350).arg("status").assert().success();
}

#[test]
fn a_run_queued_after_the_mark_runs_at_the_next_pass() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    assert!(pass_was_quiet(&db, START + 2));
    let commits = dir.path().join("cronq.db.quiet");
    let before = std::fs::metadata(&commits).unwrap().len();
    cronq(&db, START + 3)
        .args(["enqueue", "nightly"])
        .assert()
        .success();
    let after = std::fs::metadata(&commits).unwrap().len();
    assert_eq!(after, before + 1, "the enqueue's one commit was noted");
    assert!(!pass_was_quiet(&db, START + 4), "a commit since the mark");
    let runs = all_runs(&db);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success");
}

#[test]
fn every_change_an_operator_makes_ends_the_quiet() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    let mut now = START + 2;
    for change in [
        vec!["settings", "job_timeout", "120"],
        vec!["disable", "nightly"],
        vec!["enable", "nightly"],
        vec!["edit", "nightly", "--schedule", "30 3 * * *"],
    ] {
        assert!(pass_was_quiet(&db, now), "quiet before {change:?}");
        cronq(&db, now).args(&change).assert().success();
        assert!(!pass_was_quiet(&db, now + 1), "{change:?} ended the quiet");
        now += 10;
    }
}

#[test]
fn a_slot_falls_due_through_the_mark() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    cronq(&db, START)
        .args([
            "add",
            "often",
            "--schedule",
            "*/5 * * * *",
            "--",
            "echo ran",
        ])
        .assert()
        .success();
    assert!(!pass_was_quiet(&db, START + 1));
    // The next slot is START + 300: quiet until then, and not a second longer.
    assert!(pass_was_quiet(&db, START + 299));
    assert!(!pass_was_quiet(&db, START + 300));
    let runs = all_runs(&db);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"], "success");
}

#[test]
fn a_mark_holds_five_minutes_at_most_and_not_across_a_clock_step_back() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    assert!(pass_was_quiet(&db, START + 300));
    assert!(
        !pass_was_quiet(&db, START + 301),
        "five minutes after the pass that looked"
    );
    assert!(
        pass_was_quiet(&db, START + 302),
        "that pass left a new mark"
    );
    assert!(!pass_was_quiet(&db, START + 200), "the clock stepped back");
}

#[test]
fn a_run_another_program_writes_into_the_database_is_seen() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    assert!(pass_was_quiet(&db, START + 2));
    // Another program, with its connection set up as cronq's are (WAL kept, and emptied
    // on close), writes a pending run behind cronq's back.
    let conn = rusqlite::Connection::open(&db).unwrap();
    cronq::store::sqlite::keep_wal_files_empty(&conn).unwrap();
    conn.execute(
        "INSERT INTO runs (job, status, due_at, created_at) \
         VALUES ('nightly', 'pending', ?1, ?1)",
        [START + 3],
    )
    .unwrap();
    drop(conn);
    assert!(!pass_was_quiet(&db, START + 4));
    let runs = all_runs(&db);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success");
}

#[test]
fn a_link_planted_as_the_file_of_commits_is_refused() {
    let dir = TempDir::new().unwrap();
    let db = quiet_database(&dir);
    let planted = dir.path().join("cronq.db.quiet");
    std::fs::remove_file(&planted).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &planted).unwrap();
    cronq(&db, START + 2)
        .arg("run")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("symbolic link"));
    cronq(&db, START + 2)
        .arg("jobs")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("symbolic link"));
}
