//! Crash safety for real: runners killed with SIGKILL at arbitrary moments, again and
//! again, then ordinary passes. Afterwards every run has ended, none ran twice except as a
//! recorded retry, and the database is intact.

mod common;

use common::{all_runs, cronq, rfc3339, START};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const RUNS: usize = 40;

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn unfinished(db: &Path) -> usize {
    all_runs(db)
        .iter()
        .filter(|r| r["status"] == "pending" || r["status"] == "running")
        .count()
}

fn torture(parallel: bool, seed: u64) {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let log: PathBuf = dir.path().join("executions.log");
    let command = format!(
        "echo $CRONQ_RUN_ID:$CRONQ_ATTEMPT >> {}; sleep 0.05",
        log.display()
    );
    cronq(&db, START)
        .args(["add", "work", "--retries", "5", "--", &command])
        .assert()
        .success();
    cronq(&db, START)
        .args([
            "settings",
            "jobs_run_in_parallel",
            if parallel { "true" } else { "false" },
        ])
        .assert()
        .success();
    cronq(&db, START)
        .args(["settings", "jobs_pool_concurrency", "4"])
        .assert()
        .success();
    for _ in 0..RUNS {
        cronq(&db, START)
            .args(["enqueue", "work"])
            .assert()
            .success();
    }

    let binary = assert_cmd::cargo::cargo_bin("cronq");
    let mut rng = Lcg(seed);
    let mut now = START;
    for round in 0..16 {
        now += 600; // retries (at most 6 minutes of backoff here) fall due
        let mut runner = std::process::Command::new(&binary);
        runner
            .arg("--db")
            .arg(&db)
            .args(["--now", &rfc3339(now), "run"]);
        runner.process_group(0).stderr(std::process::Stdio::null());
        let child = runner.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        let pid = child.id() as i32;
        // Odd rounds kill the runner alone (its children and jobs live on); even rounds
        // kill its whole process group, parallel children included (jobs live on).
        let target = if round % 2 == 0 { -pid } else { pid };
        unsafe { libc::kill(target, libc::SIGKILL) };
        let _ = child.wait_with_output();
    }

    // Ordinary passes until everything has ended (orphaned jobs finish within moments).
    let deadline = Instant::now() + Duration::from_secs(60);
    while unfinished(&db) > 0 {
        assert!(
            Instant::now() < deadline,
            "runs still unfinished: {:?}",
            all_runs(&db)
        );
        now += 600;
        let out = cronq(&db, now).arg("run").output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "pass crashed: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let runs = all_runs(&db);
    assert_eq!(runs.len(), RUNS);
    let mut executions: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for line in std::fs::read_to_string(&log).unwrap_or_default().lines() {
        let (id, attempt) = line.split_once(':').unwrap();
        *executions
            .entry((id.parse().unwrap(), attempt.parse().unwrap()))
            .or_default() += 1;
    }
    let twice: Vec<_> = executions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "(run, attempt) executed more than once: {twice:?}"
    );
    let mut succeeded = BTreeSet::new();
    for run in &runs {
        let id = run["id"].as_i64().unwrap();
        let attempt = run["attempt"].as_i64().unwrap();
        let status = run["status"].as_str().unwrap();
        assert!(
            status == "success" || status == "failed",
            "run {id} ended {status}"
        );
        let last_logged = executions
            .keys()
            .filter(|(i, _)| *i == id)
            .map(|(_, a)| *a)
            .max();
        assert!(
            last_logged.unwrap_or(0) <= attempt,
            "run {id} executed an attempt it never recorded"
        );
        if status == "success" {
            assert!(
                executions.contains_key(&(id, attempt)),
                "run {id} succeeded without executing"
            );
            succeeded.insert(id);
        }
    }
    assert!(!succeeded.is_empty());
    let retried = runs
        .iter()
        .filter(|r| r["attempt"].as_i64().unwrap() > 1)
        .count();
    assert!(
        retried > 0,
        "no kill landed mid-run: the test exercised nothing"
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn parallel_runners_killed_again_and_again_lose_nothing() {
    torture(true, 7);
}

#[test]
fn sequential_runners_killed_again_and_again_lose_nothing() {
    torture(false, 11);
}

#[test]
fn a_job_orphaned_by_a_killed_runner_is_not_started_again_while_it_runs() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let marker = dir.path().join("release");
    let log = dir.path().join("log");
    // The job runs until the test creates the marker file.
    let command = format!(
        "echo start >> {log}; while [ ! -e {marker} ]; do sleep 0.02; done; echo end >> {log}",
        log = log.display(),
        marker = marker.display()
    );
    cronq(&db, START)
        .args(["add", "waiter", "--", &command])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "waiter"])
        .assert()
        .success();
    let binary = assert_cmd::cargo::cargo_bin("cronq");
    let mut runner = std::process::Command::new(&binary)
        .arg("--db")
        .arg(&db)
        .args(["--now", &rfc3339(START), "run"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.kill().unwrap();
    runner.wait().unwrap();

    // The runner is dead but its job is not: passes leave the run alone.
    for minute in 1..4 {
        cronq(&db, START + minute * 60)
            .arg("run")
            .assert()
            .success();
        assert_eq!(all_runs(&db)[0]["status"], "running");
    }
    std::fs::write(&marker, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().contains("end") {
        assert!(Instant::now() < deadline, "the job never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Once it has ended, the next pass records the attempt as failed, to be retried.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        cronq(&db, START + 300).arg("run").assert().success();
        let run = &all_runs(&db)[0];
        if run["status"] == "pending" {
            assert_eq!(run["attempt"], 2);
            assert!(run["error"].as_str().unwrap().contains("died"), "{run}");
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {run}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("start")
            .count(),
        1
    );
}
