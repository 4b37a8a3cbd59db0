//! A pending retry never costs a slot (docs/scheduling.md#a-slot-due-while-a-retry-waits):
//! with the defaults (overlap skip, one retry) a slot that falls due while its job's retry
//! waits is merged into that retry, which runs in the slot's place at the slot's time.
//! Each test runs on both backends (`sqlite::NAME`, `postgres::NAME`).

mod common;

use common::{rfc3339, Backend, TestDb, START};
use serde_json::Value;
use std::collections::BTreeMap;

struct Scratch {
    db: TestDb,
}

impl Scratch {
    fn new(backend: Backend) -> Scratch {
        Scratch {
            db: TestDb::new(backend),
        }
    }

    fn cronq(&self, now: i64, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_cronq"))
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .arg("--db")
            .arg(self.db.arg())
            .arg("--now")
            .arg(rfc3339(now))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, now: i64, args: &[&str]) -> String {
        let out = self.cronq(now, args);
        assert!(
            out.status.success(),
            "cronq {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An every-minute job that fails, logging each attempt's slot and attempt number.
    fn add_failing(&self) -> std::path::PathBuf {
        let log = self.db.dir.path().join("attempts.log");
        let command = format!(
            "echo $CRONQ_RUN_ID $CRONQ_ATTEMPT >> {}; exit 3",
            log.display()
        );
        self.ok(
            START,
            &["add", "f", "--schedule", "* * * * *", "--", &command],
        );
        log
    }

    /// A pass; it fails (exit 1) when a run failed, and prints only failures for good.
    fn pass(&self, now: i64) -> String {
        let out = self.cronq(now, &["run"]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Every run of job f, by id.
    fn runs(&self) -> BTreeMap<i64, Value> {
        let text = self.ok(START, &["runs", "--job", "f", "--limit", "1000", "--json"]);
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_i64().unwrap(), r.clone()))
            .collect()
    }
}

fn a_failing_every_minute_job_loses_no_slot_to_its_retry(backend: Backend) {
    let s = Scratch::new(backend);
    let log = s.add_failing();
    let minutes = 10;
    let mut mails = 0;
    for minute in 1..=minutes {
        let stderr = s.pass(START + minute * 60 + 5);
        mails += stderr.matches("warning").count();
    }
    let runs = s.runs();
    // Each slot has exactly one record.
    let mut by_slot: BTreeMap<String, &Value> = BTreeMap::new();
    for run in runs.values() {
        let slot = run["slot"].as_str().unwrap().to_string();
        assert!(by_slot.insert(slot.clone(), run).is_none(), "{slot} twice");
    }
    let expected: Vec<String> = (1..=minutes).map(|m| rfc3339(START + m * 60)).collect();
    assert_eq!(by_slot.keys().cloned().collect::<Vec<_>>(), expected);
    // No slot is lost to a retry: each is its own run or merged into the pending retry,
    // which was made due at the slot and ran at it.
    let mut merged = 0;
    for (slot, run) in &by_slot {
        let reason = run["error"].as_str().unwrap_or_default();
        assert!(!reason.contains("overlap skip"), "{slot}: {run}");
        match run["status"].as_str().unwrap() {
            "skipped" => {
                let into: i64 = reason
                    .strip_prefix("merged into run ")
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|id| id.parse().ok())
                    .unwrap_or_else(|| panic!("{slot}: {run}"));
                let retry = &runs[&into];
                assert_eq!(retry["due_at"].as_str().unwrap(), slot, "{retry}");
                assert_eq!(retry["attempt"], 2, "{retry}");
                merged += 1;
            }
            "failed" | "pending" => {}
            other => panic!("{slot}: {other}: {run}"),
        }
    }
    assert_eq!(merged, minutes / 2, "every other slot is merged");
    // One attempt ran for each slot: a run's first attempt, or a retry in a merged
    // slot's place.
    let attempts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(attempts.lines().count() as i64, minutes, "{attempts}");
    // One mail per run that failed for good.
    let failed = runs.values().filter(|r| r["status"] == "failed").count();
    assert_eq!(failed as i64, minutes / 2);
    assert_eq!(mails, failed);
}

fn a_claimed_retry_keeps_overlap_skip(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_failing();
    s.pass(START + 65);
    // Another host claimed the retry (alive, as far as this host can tell): it is
    // running, no longer pending, and the next slot is skipped as before.
    s.db.execute(&format!(
        "UPDATE runs SET status = 'running', claim = claim + 1, claimed_at = {}, \
         owner_host = 'elsewhere' WHERE id = 1",
        START + 100
    ));
    s.pass(START + 125);
    let runs = s.runs();
    let slot = &runs[&2];
    assert_eq!(slot["status"], "skipped", "{slot}");
    assert_eq!(
        slot["error"], "run 1 of this job was still unfinished (overlap skip)",
        "{slot}"
    );
    assert_eq!(runs[&1]["status"], "running");
}

fn a_first_attempt_still_waiting_keeps_overlap_skip(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_failing();
    // One run per pass, and a more urgent run ahead of the 09:01 slot's: that one is
    // still waiting for its first attempt at 09:02.
    s.ok(START, &["settings", "jobs_max_portion", "1"]);
    s.ok(START, &["add", "urgent", "--", "true"]);
    s.ok(START, &["enqueue", "urgent", "--priority", "9"]);
    s.pass(START + 65);
    s.pass(START + 125);
    // Run 1 is the urgent one; run 2, planned as waiting, then ran and failed.
    let runs = s.runs();
    assert_eq!(runs[&3]["status"], "skipped");
    assert_eq!(
        runs[&3]["error"],
        "run 2 of this job was still unfinished (overlap skip)"
    );
}

fn a_retry_beside_another_unfinished_run_keeps_overlap_skip(backend: Backend) {
    let s = Scratch::new(backend);
    s.add_failing();
    s.pass(START + 65);
    // Run 2, queued for later, is unfinished too: merging into run 1 would run the job
    // beside it, so the slot is skipped as before.
    s.ok(
        START + 70,
        &["enqueue", "f", "--at", &rfc3339(START + 3 * 3600)],
    );
    s.pass(START + 125);
    let runs = s.runs();
    assert_eq!(
        runs[&1]["status"], "pending",
        "the retry waits for its backoff"
    );
    assert_eq!(
        runs[&3]["error"],
        "run 1 of this job was still unfinished (overlap skip)"
    );
}

on_both_backends!(
    a_retry_beside_another_unfinished_run_keeps_overlap_skip,
    a_failing_every_minute_job_loses_no_slot_to_its_retry,
    a_claimed_retry_keeps_overlap_skip,
    a_first_attempt_still_waiting_keeps_overlap_skip,
);
