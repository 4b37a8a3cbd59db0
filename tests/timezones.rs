//! Per-job time zones with Debian cron's DST rules, around real 2026 transitions.
//!
//! A fixed-time slot (neither minute nor hour starts with `*`, as in Debian's cron) that
//! falls in a spring-forward gap runs at the first valid time after the gap; one in a
//! fall-back overlap runs once, at the first occurrence. A job whose minute or hour field
//! starts with `*` follows the wall clock: no slots in a gap, both passes through an
//! overlap. Slots print in UTC.
//!
//! The transition instants were checked against Python's zoneinfo (system tzdata).

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn next(expr: &str, tz: &str, after: &str, count: usize) -> Vec<String> {
    let out = Command::cargo_bin("cronq")
        .unwrap()
        .args([
            "next",
            expr,
            "--tz",
            tz,
            "--after",
            after,
            "--count",
            &count.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn new_york() {
    // 2026-03-08 07:00Z: 02:00 EST -> 03:00 EDT. 02:30 does not exist that night.
    assert_eq!(
        next("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3),
        [
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z"
        ]
    );
    assert_eq!(
        next("30 * * * *", "America/New_York", "2026-03-08T05:00:00Z", 3),
        [
            "2026-03-08T05:30:00Z",
            "2026-03-08T06:30:00Z",
            "2026-03-08T07:30:00Z"
        ]
    );
    // 2026-11-01 06:00Z: 02:00 EDT -> 01:00 EST. 01:30 comes twice.
    assert_eq!(
        next("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    assert_eq!(
        next("30 * * * *", "America/New_York", "2026-11-01T04:00:00Z", 4),
        [
            "2026-11-01T04:30:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:30:00Z"
        ]
    );
}

#[test]
fn berlin() {
    // 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST.
    assert_eq!(
        next("30 2 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", 3),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z"
        ]
    );
    // 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET. 02:00-02:59 comes twice.
    assert_eq!(
        next("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
    assert_eq!(
        next("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z", 5),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:00:00Z"
        ]
    );
}

/// Debian's cron(8) counts a job as a wall-clock job only when its minute or hour field
/// starts with `*`. `0-59/30 2 * * *` has a step but starts with a digit, so it is a
/// fixed-time job: its 02:00 and 02:30 fall in the spring-forward gap and run once, at its
/// end, and through the fall-back overlap it runs only in the first pass.
#[test]
fn a_step_without_a_leading_star_is_a_fixed_time_job() {
    // 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST (01:00Z is 03:00 local).
    assert_eq!(
        next(
            "0-59/30 2 * * *",
            "Europe/Berlin",
            "2026-03-28T23:00:00Z",
            3
        ),
        [
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:00:00Z",
            "2026-03-30T00:30:00Z"
        ]
    );
    // 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET. The first 02:00 and 02:30 only.
    assert_eq!(
        next(
            "0-59/30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00Z",
            4
        ),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:00:00Z",
            "2026-10-26T01:30:00Z"
        ]
    );
}

/// `*/30 2 * * *` starts with `*`: a wall-clock job, with no slot in the gap at all, and
/// both passes through the overlap.
#[test]
fn a_leading_star_is_a_wall_clock_job() {
    assert_eq!(
        next("*/30 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", 3),
        [
            "2026-03-30T00:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:00:00Z"
        ]
    );
    assert_eq!(
        next("*/30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 5),
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T01:30:00Z",
            "2026-10-26T01:00:00Z"
        ]
    );
}

#[test]
fn london() {
    // 2026-03-29 01:00Z: 01:00 GMT -> 02:00 BST.
    assert_eq!(
        next("30 1 * * *", "Europe/London", "2026-03-28T00:00:00Z", 3),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z"
        ]
    );
    // 2026-10-25 01:00Z: 02:00 BST -> 01:00 GMT.
    assert_eq!(
        next("30 1 * * *", "Europe/London", "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
}

#[test]
fn lord_howe_shifts_by_thirty_minutes() {
    // 2026-04-04 15:00Z: 02:00 (+11) -> 01:30 (+10:30). 01:30-01:59 comes twice.
    assert_eq!(
        next(
            "45 1 * * *",
            "Australia/Lord_Howe",
            "2026-04-03T00:00:00Z",
            3
        ),
        [
            "2026-04-03T14:45:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-05T15:15:00Z"
        ]
    );
    assert_eq!(
        next(
            "*/15 * * * *",
            "Australia/Lord_Howe",
            "2026-04-04T14:20:00Z",
            5
        ),
        [
            "2026-04-04T14:30:00Z",
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:00:00Z",
            "2026-04-04T15:15:00Z",
            "2026-04-04T15:30:00Z"
        ]
    );
    // 2026-10-03 15:30Z: 02:00 (+10:30) -> 02:30 (+11). 02:00-02:29 does not exist.
    assert_eq!(
        next(
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-02T00:00:00Z",
            3
        ),
        [
            "2026-10-02T15:45:00Z",
            "2026-10-03T15:30:00Z",
            "2026-10-04T15:15:00Z"
        ]
    );
    assert_eq!(
        next(
            "*/15 * * * *",
            "Australia/Lord_Howe",
            "2026-10-03T15:00:00Z",
            3
        ),
        [
            "2026-10-03T15:15:00Z",
            "2026-10-03T15:30:00Z",
            "2026-10-03T15:45:00Z"
        ]
    );
}

#[test]
fn santiago_midnight_does_not_exist_on_the_change_day() {
    // 2026-09-06 04:00Z: 00:00 (-04) -> 01:00 (-03). The midnight job runs at 01:00.
    assert_eq!(
        next("0 0 * * *", "America/Santiago", "2026-09-04T12:00:00Z", 3),
        [
            "2026-09-05T04:00:00Z",
            "2026-09-06T04:00:00Z",
            "2026-09-07T03:00:00Z"
        ]
    );
    // 2026-04-05 03:00Z: 24:00 (-03) -> 23:00 (-04) on 4 April: 23:30 comes twice.
    assert_eq!(
        next("30 23 * * *", "America/Santiago", "2026-04-04T12:00:00Z", 2),
        ["2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"]
    );
}

#[test]
fn an_unknown_zone_is_bad_input() {
    for args in [
        vec!["next", "* * * * *", "--tz", "Europe/Atlantis"],
        vec![
            "add",
            "j",
            "--schedule",
            "* * * * *",
            "--tz",
            "EST5EDT6",
            "--",
            "true",
        ],
    ] {
        let dir = TempDir::new().unwrap();
        Command::cargo_bin("cronq")
            .unwrap()
            .arg("--db")
            .arg(dir.path().join("db"))
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("unknown time zone"));
    }
}

/// Passes every five minutes through a night with a DST change run each slot once: a
/// fixed-time job once, a wall-clock job through both passes of the repeated hour.
#[test]
fn every_slot_runs_once_through_the_berlin_fall_back() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let cronq = |now: &str, args: &[&str]| {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        cmd.arg("--db").arg(&db).args(["--now", now]).args(args);
        cmd
    };
    let start = "2026-10-24T22:00:00Z";
    cronq(
        start,
        &[
            "add",
            "fixed",
            "--schedule",
            "30 2 * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "true",
        ],
    )
    .assert()
    .success();
    cronq(
        start,
        &[
            "add",
            "halfhourly",
            "--schedule",
            "*/30 * * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "true",
        ],
    )
    .assert()
    .success();
    let begin = chrono::DateTime::parse_from_rfc3339(start)
        .unwrap()
        .timestamp();
    for step in 1..=60 {
        let now = chrono::DateTime::from_timestamp(begin + step * 300 + 7, 0).unwrap();
        cronq(&now.format("%Y-%m-%dT%H:%M:%SZ").to_string(), &["run"])
            .assert()
            .success()
            .stderr("");
    }
    let slots = |job: &str| -> Vec<String> {
        let out = cronq(start, &["runs", "--job", job, "--json", "--limit", "1000"])
            .output()
            .unwrap();
        let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut slots: Vec<String> = runs
            .as_array()
            .unwrap()
            .iter()
            .inspect(|r| assert_eq!(r["status"], "success", "{r}"))
            .map(|r| r["slot"].as_str().unwrap().to_string())
            .collect();
        slots.sort();
        slots
    };
    assert_eq!(slots("fixed"), ["2026-10-25T00:30:00Z"]);
    let halfhourly = slots("halfhourly");
    // 22:30Z .. 03:00Z: ten slots, 02:00 and 02:30 local twice.
    assert_eq!(halfhourly.len(), 10, "{halfhourly:?}");
    assert_eq!(halfhourly.first().unwrap(), "2026-10-24T22:30:00Z");
    assert_eq!(halfhourly.last().unwrap(), "2026-10-25T03:00:00Z");
}

#[test]
fn jobs_shows_the_next_slot_in_utc_and_in_the_zone() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let cronq = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        cmd.arg("--db")
            .arg(&db)
            .args(["--now", "2026-03-07T12:00:00Z"])
            .args(args);
        cmd
    };
    cronq(&[
        "add",
        "nightly",
        "--schedule",
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--",
        "true",
    ])
    .assert()
    .success();
    let out = cronq(&["jobs", "--json"]).output().unwrap();
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nightly = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "nightly")
        .unwrap();
    assert_eq!(nightly["tz"], "America/New_York");
    assert_eq!(nightly["next_slot"], "2026-03-08T07:00:00Z");
    assert_eq!(nightly["next_slot_local"], "2026-03-08T03:00:00-04:00");
    cronq(&["jobs"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "2026-03-08T07:00:00Z  2026-03-08T03:00:00-04:00",
        ));
    // Changing the zone restarts the schedule from now, in the new zone.
    cronq(&["edit", "nightly", "--tz", "Europe/Berlin"])
        .assert()
        .success();
    let out = cronq(&["jobs", "--json"]).output().unwrap();
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nightly = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "nightly")
        .unwrap();
    assert_eq!(nightly["next_slot"], "2026-03-08T01:30:00Z");
}

#[test]
fn import_takes_the_zone_from_cron_tz_lines() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let tab = dir.path().join("crontab");
    std::fs::write(
        &tab,
        "0 6 * * * echo utc\nCRON_TZ=Asia/Tokyo\n# cronq: tokyo\n0 6 * * * echo tokyo\n",
    )
    .unwrap();
    let cronq = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        // Lines without CRON_TZ are read in the system's zone, as cron does: pin it.
        cmd.env("TZ", "UTC")
            .arg("--db")
            .arg(&db)
            .args(["--now", "2026-11-23T00:00:00Z"])
            .args(args);
        cmd
    };
    cronq(&["import", tab.to_str().unwrap()]).assert().success();
    let out = cronq(&["jobs", "--json"]).output().unwrap();
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str| {
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(find("echo-utc")["next_slot"], "2026-11-23T06:00:00Z");
    assert_eq!(find("tokyo")["tz"], "Asia/Tokyo");
    assert_eq!(find("tokyo")["next_slot"], "2026-11-23T21:00:00Z");

    std::fs::write(&tab, "CRON_TZ=Moon/Base\n0 6 * * * true\n").unwrap();
    cronq(&["import", tab.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "line 2: CRON_TZ: unknown time zone 'Moon/Base'",
        ));
}
