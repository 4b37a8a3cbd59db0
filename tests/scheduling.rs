//! Scheduling through the binary, with time driven by `--now`: every slot runs exactly
//! once however the passes fall, and slots missed during downtime are handled per policy.
//! Each test runs on both backends (`sqlite::NAME`, `postgres::NAME`).

mod common;

use assert_cmd::Command;
use common::{rfc3339, Backend, TestDb, START};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A scratch database and a file that jobs append their slot to.
struct Scratch {
    db: TestDb,
}

impl Scratch {
    fn new(backend: Backend) -> Scratch {
        Scratch {
            db: TestDb::new(backend),
        }
    }

    fn db(&self) -> std::ffi::OsString {
        self.db.arg()
    }

    fn log(&self, name: &str) -> PathBuf {
        self.db.dir.path().join(format!("{name}.log"))
    }

    /// `cronq --db DB --now T ARGS...`
    fn cronq(&self, now: i64, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        cmd.arg("--db")
            .arg(self.db())
            .arg("--now")
            .arg(rfc3339(now))
            .args(args);
        cmd
    }

    /// Adds a job that appends its slot to `<name>.log`.
    fn add_slot_logger(&self, now: i64, name: &str, schedule: &str, extra: &[&str]) {
        let command = format!("echo $CRONQ_SLOT >> {}", self.log(name).display());
        let mut args = vec!["add", name, "--schedule", schedule];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", &command]);
        self.cronq(now, &args).assert().success();
    }

    /// One pass; it must be silent and succeed.
    fn pass(&self, now: i64) {
        self.cronq(now, &["run"])
            .assert()
            .success()
            .stdout("")
            .stderr("");
    }

    /// The slots a job logged, with how often each ran.
    fn logged(&self, name: &str) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(self.log(name)).unwrap_or_default();
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            *counts.entry(line.to_string()).or_insert(0) += 1;
        }
        counts
    }

    fn runs(&self, job: &str) -> Vec<Value> {
        let out = self
            .cronq(
                START,
                &["runs", "--job", job, "--limit", "100000", "--json"],
            )
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

    /// (slot, status) of a job's slot runs, oldest first.
    fn slot_statuses(&self, job: &str) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .runs(job)
            .iter()
            .filter(|r| !r["slot"].is_null())
            .map(|r| {
                (
                    r["slot"].as_str().unwrap()[11..16].to_string(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    }
}

/// Every slot of `every_minutes` in (after, until], as RFC 3339.
fn expected_slots(after: i64, until: i64, every_minutes: i64) -> Vec<String> {
    let step = every_minutes * 60;
    let first = (after / step + 1) * step;
    (first..=until)
        .step_by(step as usize)
        .map(rfc3339)
        .collect()
}

fn assert_each_once(logged: &BTreeMap<String, usize>, expected: &[String]) {
    let twice: Vec<_> = logged.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "slots that ran more than once: {twice:?}");
    let got: Vec<&String> = logged.keys().collect();
    let want: Vec<&String> = expected.iter().collect();
    assert_eq!(got, want, "slots that ran");
}

fn two_hours_of_staggered_passes_run_every_slot_exactly_once(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "every-minute", "* * * * *", &[]);
    s.add_slot_logger(START, "every-five", "*/5 * * * *", &[]);
    s.add_slot_logger(START, "hourly", "0 * * * *", &[]);
    let end = START + 2 * 3600;
    // The crontab's four lines: at :00, and after sleep 15, 30 and 45, each started a
    // second or two late, as cron and a loaded machine do.
    let mut now = START;
    let mut i = 0;
    while now < end {
        now = START + 15 * i + (i * 7 % 3);
        s.pass(now);
        i += 1;
    }
    assert_each_once(&s.logged("every-minute"), &expected_slots(START, end, 1));
    assert_each_once(&s.logged("every-five"), &expected_slots(START, end, 5));
    assert_each_once(&s.logged("hourly"), &expected_slots(START, end, 60));
    assert!(s
        .runs("every-minute")
        .iter()
        .all(|r| r["status"] == "success"));
}

fn passes_started_at_the_same_instant_run_each_slot_once(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "every-minute", "* * * * *", &[]);
    s.add_slot_logger(START, "every-two", "*/2 * * * *", &["--overlap", "allow"]);
    let binary = assert_cmd::cargo::cargo_bin("cronq");
    let end = START + 20 * 60;
    for minute in 1..=20 {
        let now = rfc3339(START + minute * 60 + 1);
        let children: Vec<_> = (0..6)
            .map(|_| {
                std::process::Command::new(&binary)
                    .arg("--db")
                    .arg(s.db())
                    .args(["--now", &now, "run"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success());
        }
    }
    assert_each_once(&s.logged("every-minute"), &expected_slots(START, end, 1));
    assert_each_once(&s.logged("every-two"), &expected_slots(START, end, 2));
}

fn a_clock_stepping_backwards_runs_nothing_twice(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "every-minute", "* * * * *", &[]);
    // Forward to 09:10, back to 09:03 (NTP step), then on again.
    let times = [1, 2, 5, 10, 3, 4, 7, 9, 10, 11, 12];
    for minute in times {
        s.pass(START + minute * 60 + 5);
    }
    assert_each_once(
        &s.logged("every-minute"),
        &expected_slots(START, START + 12 * 60, 1),
    );
}

fn catchup_latest_runs_only_the_newest_slot_after_downtime(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "job", "*/30 * * * *", &[]);
    s.pass(START + 30);
    // Down from 09:00:30 to 11:07.
    s.cronq(START + 2 * 3600 + 7 * 60, &["run"])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "job job: 3 slot record(s) marked missed",
        ));
    assert_eq!(
        s.slot_statuses("job"),
        [
            ("09:30".into(), "missed".into()),
            ("10:00".into(), "missed".into()),
            ("10:30".into(), "missed".into()),
            ("11:00".into(), "success".into())
        ]
    );
    let missed = &s.runs("job")[1];
    assert!(missed["error"]
        .as_str()
        .unwrap()
        .contains("catch-up latest runs only the newest slot"));
}

fn catchup_all_runs_every_missed_slot(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "job", "*/30 * * * *", &["--catchup", "all"]);
    s.pass(START + 30);
    s.cronq(START + 2 * 3600 + 7 * 60, &["run"])
        .assert()
        .success();
    assert_each_once(
        &s.logged("job"),
        &expected_slots(START, START + 2 * 3600, 30),
    );
}

fn catchup_skip_runs_nothing_late_and_waits_for_the_next_slot(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "job", "*/30 * * * *", &["--catchup", "skip"]);
    s.cronq(START + 2 * 3600 + 7 * 60, &["run"])
        .assert()
        .success();
    assert!(s.logged("job").is_empty());
    assert!(s
        .slot_statuses("job")
        .iter()
        .all(|(_, status)| status == "missed"));
    s.pass(START + 2 * 3600 + 30 * 60 + 10);
    assert_eq!(
        s.logged("job").keys().collect::<Vec<_>>(),
        ["2026-11-23T11:30:00Z"]
    );
}

fn a_slot_late_by_less_than_the_grace_is_on_time(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_slot_logger(START, "job", "*/30 * * * *", &["--catchup", "skip"]);
    s.pass(START + 30 * 60 + 299);
    assert_eq!(s.slot_statuses("job"), [("09:30".into(), "success".into())]);
}

fn a_slot_due_while_the_previous_run_waits_is_skipped_or_allowed(backend: Backend) {
    let s = Scratch::new(backend);
    // One run per pass, and a more urgent run ahead of the job's first slot: the slot run
    // stays pending past the next slot.
    s.cronq(START, &["settings", "jobs_max_portion", "1"])
        .assert()
        .success();
    s.add_slot_logger(START, "skipper", "* * * * *", &[]);
    s.add_slot_logger(START, "allower", "* * * * *", &["--overlap", "allow"]);
    s.cronq(START, &["add", "urgent", "--", "true"])
        .assert()
        .success();
    s.cronq(START, &["enqueue", "urgent", "--priority", "9"])
        .assert()
        .success();
    s.pass(START + 60);
    s.pass(START + 120);
    let skipper = s.slot_statuses("skipper");
    assert_eq!(
        skipper[1],
        ("09:02".into(), "skipped".into()),
        "{skipper:?}"
    );
    let reason = s.runs("skipper")[0]["error"].as_str().unwrap().to_string();
    assert!(
        reason.contains("still unfinished (overlap skip)"),
        "{reason}"
    );
    let allower = s.slot_statuses("allower");
    assert_eq!(allower.len(), 2);
    assert!(
        allower.iter().all(|(_, status)| status != "skipped"),
        "{allower:?}"
    );
}

/// SQLite only: the bytes of its file.
#[test]
fn an_idle_pass_writes_nothing() {
    let s = Scratch::new(Backend::Sqlite);
    s.add_slot_logger(START, "hourly", "0 * * * *", &[]);
    let file = PathBuf::from(s.db());
    let before = database_bytes(&file);
    s.pass(START + 60);
    s.pass(START + 120);
    assert!(
        database_bytes(&file) == before,
        "an idle pass changed the database or its WAL"
    );
}

/// The database file and its write-ahead log, byte for byte.
fn database_bytes(db: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    (
        std::fs::read(db).unwrap(),
        std::fs::read(PathBuf::from(wal)).unwrap_or_default(),
    )
}

fn the_seed_run_job_examples_work(backend: Backend) {
    let s = Scratch::new(backend);
    // php command.php run-job Cleanup
    s.cronq(START, &["run-job", "Cleanup"])
        .assert()
        .success()
        .stdout(predicates::str::contains("deleted 0 finished runs"));
    // bin/command run-job CheckEmailAccounts --target-id=[id] --target-type=EmailAccount
    s.cronq(
        START,
        &[
            "add",
            "CheckEmailAccounts",
            "--requires-target",
            "--",
            "echo checking $CRONQ_TARGET_TYPE $CRONQ_TARGET_ID",
        ],
    )
    .assert()
    .success();
    s.cronq(
        START,
        &[
            "run-job",
            "CheckEmailAccounts",
            "--target-id=5f1a",
            "--target-type=EmailAccount",
        ],
    )
    .assert()
    .success()
    .stdout("checking EmailAccount 5f1a\n");
    s.cronq(
        START,
        &[
            "run-job",
            "CheckEmailAccounts",
            "--target-id",
            "77",
            "--target-type",
            "EmailAccount",
        ],
    )
    .assert()
    .success()
    .stdout("checking EmailAccount 77\n");
    s.cronq(START, &["run-job", "CheckEmailAccounts"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "requires a target: give --target-id",
        ));
    let runs = s.runs("CheckEmailAccounts");
    assert_eq!(runs.len(), 2, "the refused run-job must not record a run");
    assert_eq!(runs[0]["target_id"], "77");
    assert_eq!(runs[0]["status"], "success");
    assert_eq!(s.runs("Cleanup")[0]["status"], "success");
}

fn a_target_reaches_the_job_only_through_the_environment(backend: Backend) {
    let s = Scratch::new(backend);
    s.cronq(
        START,
        &[
            "add",
            "echoer",
            "--",
            "printf '%s|' \"$CRONQ_TARGET_ID\" \"$CRONQ_DATA\"",
        ],
    )
    .assert()
    .success();
    let hostile = "x; touch pwned; $(touch pwned2)";
    s.cronq(
        START,
        &[
            "run-job",
            "echoer",
            "--target-id",
            hostile,
            "--data",
            "{\"a\": \"$(id)\"}",
        ],
    )
    .current_dir(s.db.dir.path())
    .assert()
    .success()
    .stdout(format!("{hostile}|{{\"a\": \"$(id)\"}}|"));
    assert!(!s.db.dir.path().join("pwned").exists() && !s.db.dir.path().join("pwned2").exists());
}

on_both_backends!(
    two_hours_of_staggered_passes_run_every_slot_exactly_once,
    passes_started_at_the_same_instant_run_each_slot_once,
    a_clock_stepping_backwards_runs_nothing_twice,
    catchup_latest_runs_only_the_newest_slot_after_downtime,
    catchup_all_runs_every_missed_slot,
    catchup_skip_runs_nothing_late_and_waits_for_the_next_slot,
    a_slot_late_by_less_than_the_grace_is_on_time,
    a_slot_due_while_the_previous_run_waits_is_skipped_or_allowed,
    the_seed_run_job_examples_work,
    a_target_reaches_the_job_only_through_the_environment,
);
