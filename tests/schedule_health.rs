//! A schedule never stops without a word: a pass at a `--now` in the future is refused
//! unless asked for, a zone that cannot be read for a moment only delays a job, and
//! `cronq status` reports every active job that cannot run when it should.

mod common;

use common::{cronq, START};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn job(db: &std::path::Path, now: i64, name: &str) -> Value {
    let out = cronq(db, now).args(["jobs", "--json"]).output().unwrap();
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .unwrap()
        .clone()
}

/// `cronq status --json` with the real clock (as a monitor runs it).
fn status_now(db: &std::path::Path) -> (i32, Value) {
    let out = assert_cmd::Command::cargo_bin("cronq")
        .unwrap()
        .env_remove("CRONQ_NOW")
        .arg("--db")
        .arg(db)
        .args(["status", "--json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn problems(status: &Value) -> String {
    status["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_pass_at_a_now_far_ahead_is_refused_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let now = real_now();
    cronq(&db, now)
        .args(["add", "hourly", "--schedule", "0 * * * *", "--", "true"])
        .assert()
        .success();
    let before = job(&db, now, "hourly");
    let future = now + 3 * 365 * 86_400;
    let out = cronq(&db, future).arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("ahead of this machine's clock") && message.contains("--time-travel"),
        "{message}"
    );
    assert_eq!(
        job(&db, now, "hourly"),
        before,
        "the refused pass changed the job"
    );
    let daemon = cronq(&db, future).arg("daemon").output().unwrap();
    assert_eq!(daemon.status.code(), Some(2), "the daemon refuses it too");

    // A few minutes ahead is not time travel.
    cronq(&db, now + 120).arg("run").assert().success();
}

#[test]
fn status_flags_a_schedule_moved_into_the_future_by_an_explicit_time_travel() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let now = real_now();
    cronq(&db, now)
        .args(["add", "hourly", "--schedule", "0 * * * *", "--", "true"])
        .assert()
        .success();
    cronq(&db, now).arg("run").assert().success();
    let (code, healthy) = status_now(&db);
    assert_eq!(code, 0, "{healthy}");

    let future = now + 3 * 365 * 86_400;
    cronq(&db, future)
        .args(["run", "--time-travel"])
        .assert()
        .success();
    let (code, status) = status_now(&db);
    assert_eq!(code, 1, "{status}");
    let problems = problems(&status);
    assert!(
        problems.contains("job hourly: its schedule was moved ahead to")
            && problems.contains("cronq disable hourly"),
        "{problems}"
    );
    // The way out the message gives works (Cleanup was moved ahead too).
    for name in ["hourly", "Cleanup"] {
        cronq(&db, now).args(["disable", name]).assert().success();
        cronq(&db, now).args(["enable", name]).assert().success();
    }
    let (code, status) = status_now(&db);
    assert_eq!(code, 0, "{status}");
}

#[test]
fn a_zone_that_cannot_be_read_for_one_pass_only_delays_the_job() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let log = dir.path().join("ran");
    cronq(&db, START)
        .args([
            "add",
            "berlin",
            "--schedule",
            "*/10 * * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            &format!("echo $CRONQ_SLOT >> {}", log.display()),
        ])
        .assert()
        .success();
    // A tzdata upgrade, or TZDIR wrong for a moment: the pass cannot read the zone.
    let empty = dir.path().join("no-zones");
    std::fs::create_dir(&empty).unwrap();
    let out = cronq(&db, START + 600)
        .env("TZDIR", &empty)
        .arg("run")
        .output()
        .unwrap();
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("job berlin") && warning.contains("trying again next minute"),
        "{warning}"
    );
    let status = cronq(&db, START + 600)
        .env("TZDIR", &empty)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        problems(&status).contains("job berlin: its slots cannot be computed"),
        "{status}"
    );

    // The zone reads again: the next pass runs the slot it missed, by itself.
    cronq(&db, START + 660).arg("run").assert().success();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "2026-11-23T09:10:00Z\n"
    );
    assert_eq!(
        job(&db, START + 660, "berlin")["next_slot"],
        "2026-11-23T09:20:00Z"
    );
}
