//! Crash safety for real: runners killed with SIGKILL at arbitrary moments, again and
//! again, then ordinary passes. Afterwards every run has ended, none ran twice except as a
//! recorded retry, and every run row is consistent (on SQLite, the file is intact too).
//!
//! Each test runs on both backends (`sqlite::NAME`, `postgres::NAME`); the two-host tests
//! on PostgreSQL only, where several hosts share one database.

mod common;

use common::{Backend, Host, TestDb, START};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

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

impl Host {
    fn output(&self, db: &TestDb, now: i64, args: &[&str]) -> Output {
        self.command(&db.arg(), now, args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, db: &TestDb, now: i64, args: &[&str]) -> String {
        let out = self.output(db, now, args);
        assert!(
            out.status.success(),
            "host {}: cronq {args:?} failed: {}",
            self.id,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// An ordinary pass: it may report failed runs (exit 1), but must not crash.
    fn pass(&self, db: &TestDb, now: i64) {
        let out = self.output(db, now, &["run"]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "host {}: pass crashed: {out:?}",
            self.id
        );
    }

    /// Every run, newest first, as `cronq runs --json` shows them.
    fn runs(&self, db: &TestDb) -> Vec<Value> {
        let out = self.ok(db, START, &["runs", "--limit", "100000", "--json"]);
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn unfinished(runs: &[Value]) -> usize {
    runs.iter()
        .filter(|r| r["status"] == "pending" || r["status"] == "running")
        .count()
}

/// A run row as stored, with the columns `cronq runs` does not show.
#[derive(Debug)]
struct Row {
    id: i64,
    status: String,
    attempt: i64,
    max_attempts: i64,
    claim: i64,
    owner_host: Option<String>,
    owner_pid: Option<i64>,
    claimed_at: Option<i64>,
    finished_at: Option<i64>,
}

const ROWS: &str = "SELECT id, status, attempt, max_attempts, claim, owner_host, owner_pid, \
                    claimed_at, finished_at FROM runs ORDER BY id";

/// Every run row, read directly from the database.
fn stored_rows(backend: Backend, db: &TestDb) -> Vec<Row> {
    match backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(PathBuf::from(db.arg())).unwrap();
            let mut statement = conn.prepare(ROWS).unwrap();
            statement
                .query_map([], |r| {
                    Ok(Row {
                        id: r.get(0)?,
                        status: r.get(1)?,
                        attempt: r.get(2)?,
                        max_attempts: r.get(3)?,
                        claim: r.get(4)?,
                        owner_host: r.get(5)?,
                        owner_pid: r.get(6)?,
                        claimed_at: r.get(7)?,
                        finished_at: r.get(8)?,
                    })
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
        Backend::Postgres => {
            let url = db.arg().into_string().unwrap();
            common::postgres::connect(&url)
                .query(ROWS, &[])
                .unwrap()
                .iter()
                .map(|r| Row {
                    id: r.get(0),
                    status: r.get(1),
                    attempt: r.get(2),
                    max_attempts: r.get(3),
                    claim: r.get(4),
                    owner_host: r.get(5),
                    owner_pid: r.get(6),
                    claimed_at: r.get(7),
                    finished_at: r.get(8),
                })
                .collect()
        }
    }
}

/// How many runs have their job's process group recorded (a runner records it once the
/// job has run for a moment).
fn recorded_groups(backend: Backend, db: &TestDb) -> i64 {
    const SQL: &str = "SELECT count(*) FROM runs WHERE pgid IS NOT NULL";
    let count: i64 = match backend {
        Backend::Sqlite => rusqlite::Connection::open(PathBuf::from(db.arg()))
            .unwrap()
            .query_row(SQL, [], |r| r.get(0))
            .unwrap(),
        Backend::Postgres => common::postgres::connect(&db.arg().into_string().unwrap())
            .query_one(SQL, &[])
            .unwrap()
            .get(0),
    };
    count
}

/// The database is intact and every run row consistent: a running run has an owner; a
/// pending one has none; an ended one was claimed at least once per attempt (each attempt
/// needs a claim of its own, and every claim raises the counter) and at least once per
/// execution of its job, and has ended at a time. On SQLite, `PRAGMA integrity_check`
/// must say ok as well.
fn assert_consistent(backend: Backend, db: &TestDb, executions: &BTreeMap<(i64, i64), usize>) {
    let rows = stored_rows(backend, db);
    assert!(!rows.is_empty(), "no run rows at all");
    for row in &rows {
        let executed: usize = executions
            .iter()
            .filter(|((id, _), _)| *id == row.id)
            .map(|(_, n)| n)
            .sum();
        assert!(
            row.claim >= executed as i64,
            "run {} executed {executed} times with {} claims: {row:?}",
            row.id,
            row.claim
        );
        assert!(
            (1..=row.max_attempts).contains(&row.attempt),
            "attempt out of range: {row:?}"
        );
        match row.status.as_str() {
            "running" => assert!(
                row.claim >= 1
                    && row.owner_host.is_some()
                    && row.owner_pid.is_some()
                    && row.claimed_at.is_some(),
                "a running run without an owner or claim: {row:?}"
            ),
            "pending" => assert!(
                row.owner_host.is_none() && row.claimed_at.is_none(),
                "a pending run with an owner: {row:?}"
            ),
            "success" | "failed" => assert!(
                row.claim >= row.attempt
                    && row.owner_host.is_some()
                    && row.claimed_at.is_some()
                    && row.finished_at.is_some(),
                "an ended run that was not claimed for each attempt, or has no end: {row:?}"
            ),
            other => panic!("unexpected status {other}: {row:?}"),
        }
    }
    if backend == Backend::Sqlite {
        let conn = rusqlite::Connection::open(PathBuf::from(db.arg())).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}

/// What the job logged: `(run, attempt)` with how often it executed, and the hosts that
/// executed anything.
fn executions(log: &Path) -> (BTreeMap<(i64, i64), usize>, BTreeSet<String>) {
    let mut executions: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    let mut hosts = BTreeSet::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let mut fields = line.split(':');
        let (id, attempt, host) = (fields.next(), fields.next(), fields.next());
        let key = (
            id.unwrap().parse().unwrap(),
            attempt.unwrap().parse().unwrap(),
        );
        *executions.entry(key).or_default() += 1;
        hosts.insert(host.unwrap_or_default().to_string());
    }
    (executions, hosts)
}

/// 40 runs of a job with 5 retries, drained by runners on `hosts` that are killed with
/// SIGKILL at pseudo-random moments, 16 rounds; then ordinary passes on every host until
/// everything has ended.
fn torture(backend: Backend, hosts: &[Host], parallel: bool, seed: u64) {
    let db = TestDb::new(backend);
    let first = &hosts[0];
    let log: PathBuf = db.dir.path().join("executions.log");
    let command = format!(
        "echo $CRONQ_RUN_ID:$CRONQ_ATTEMPT:$CRONQ_HOST_ID >> {}; sleep 0.05",
        log.display()
    );
    first.ok(
        &db,
        START,
        &["add", "work", "--retries", "5", "--", &command],
    );
    let mode = if parallel { "true" } else { "false" };
    first.ok(&db, START, &["settings", "jobs_run_in_parallel", mode]);
    first.ok(&db, START, &["settings", "jobs_pool_concurrency", "4"]);
    let mut enqueue = first
        .command(&db.arg(), START, &["enqueue", "work", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let batch = "{}\n".repeat(RUNS);
    enqueue
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    assert!(enqueue.wait().unwrap().success());

    let mut rng = Lcg(seed);
    let mut now = START;
    for round in 0..16 {
        now += 600; // retries (60 s to 24 min of backoff here) fall due within rounds
                    // Every host starts a runner at once; each is killed at a moment of its own.
        let mut kills: Vec<(u64, usize)> =
            (0..hosts.len()).map(|h| (5 + rng.below(120), h)).collect();
        kills.sort();
        let began = Instant::now();
        let mut runners: Vec<_> = hosts
            .iter()
            .map(|host| {
                host.command(&db.arg(), now, &["run"])
                    .process_group(0)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (after, h) in kills {
            let at = began + Duration::from_millis(after);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            if round == 0 {
                // At least one kill lands while a job runs, however slowly this machine
                // starts passes (on PostgreSQL each pass and each child connects first):
                // in the first round each host is killed only once one of its jobs runs.
                let mine = format!(":{}\n", hosts[h].id);
                let started = Instant::now();
                while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains(&mine))
                    && started.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let pid = runners[h].id() as i32;
            // Alternately the runner alone (its children and jobs live on) and its whole
            // process group, parallel children included (jobs live on).
            let target = if (round + h) % 2 == 0 { -pid } else { pid };
            unsafe { libc::kill(target, libc::SIGKILL) };
        }
        for runner in &mut runners {
            runner.wait().unwrap();
        }
    }

    // Ordinary passes on every host until everything has ended (orphaned jobs finish
    // within moments). A run whose runner died is recovered by its own host's passes
    // only: no other host can prove that runner dead.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = first.runs(&db);
        if unfinished(&runs) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "runs still unfinished: {runs:?}");
        now += 600;
        for host in hosts {
            host.pass(&db, now);
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let runs = first.runs(&db);
    assert_eq!(runs.len(), RUNS);
    let (executions, executed_on) = executions(&log);
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
        // A repeat only as a recorded retry: every attempt executed is one the run
        // recorded.
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
        // Runs were recovered by their own hosts, never judged from afar.
        let error = run["error"].as_str().unwrap_or_default();
        assert!(
            !error.contains("cannot be checked from here"),
            "run {id} was taken from a host that could not check it: {run}"
        );
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
    let expected: BTreeSet<String> = hosts.iter().map(|h| h.id.clone()).collect();
    assert_eq!(executed_on, expected, "the hosts that executed runs");
    assert_consistent(backend, &db, &executions);
}

fn parallel_runners_killed_again_and_again_lose_nothing(backend: Backend) {
    torture(backend, &[Host::new("host-a")], true, 7);
}

fn sequential_runners_killed_again_and_again_lose_nothing(backend: Backend) {
    torture(backend, &[Host::new("host-a")], false, 11);
}

/// Two hosts on one PostgreSQL database, their runners killed at moments of their own.
#[test]
fn runners_on_two_hosts_killed_again_and_again_lose_nothing_sequential() {
    let hosts = [Host::new("host-a"), Host::new("host-b")];
    torture(Backend::Postgres, &hosts, false, 13);
}

#[test]
fn runners_on_two_hosts_killed_again_and_again_lose_nothing_parallel() {
    let hosts = [Host::new("host-a"), Host::new("host-b")];
    torture(Backend::Postgres, &hosts, true, 17);
}

fn a_job_orphaned_by_a_killed_runner_is_not_started_again_while_it_runs(backend: Backend) {
    orphaned_job_is_left_alone_while_it_runs(backend, GroupRecord::Kept);
}

/// On PostgreSQL a run's process group is committed without waiting for the disk, so a
/// server crash can lose it; the runner can also die before writing it. Recovery then
/// finds the job's processes by their environment.
fn a_job_whose_group_was_never_recorded_is_not_started_again_while_it_runs(backend: Backend) {
    orphaned_job_is_left_alone_while_it_runs(backend, GroupRecord::Lost);
}

enum GroupRecord {
    Kept,
    Lost,
}

fn orphaned_job_is_left_alone_while_it_runs(backend: Backend, group: GroupRecord) {
    let db = TestDb::new(backend);
    let host = Host::new("host-a");
    let marker = db.dir.path().join("release");
    let log = db.dir.path().join("log");
    // The job runs until the test creates the marker file.
    let command = format!(
        "echo start >> {log}; while [ ! -e {marker} ]; do sleep 0.02; done; echo end >> {log}",
        log = log.display(),
        marker = marker.display()
    );
    // Named apart: the tests run at once, and recovery recognises a job whose group was
    // never recorded by its run's number, job and attempt in its environment.
    let name = format!(
        "waiter-{}-{}",
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        },
        match group {
            GroupRecord::Kept => "kept",
            GroupRecord::Lost => "lost",
        }
    );
    host.ok(&db, START, &["add", &name, "--", &command]);
    host.ok(&db, START, &["enqueue", &name]);
    let mut runner = host
        .command(&db.arg(), START, &["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorded_groups(backend, &db) == 0 {
        assert!(
            Instant::now() < deadline,
            "the job's group was never recorded"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.kill().unwrap();
    runner.wait().unwrap();
    if let GroupRecord::Lost = group {
        db.execute("UPDATE runs SET pgid = NULL, pgid_started = NULL");
    }

    // The runner is dead but its job is not: passes leave the run alone.
    for minute in 1..4 {
        host.ok(&db, START + minute * 60, &["run"]);
        assert_eq!(host.runs(&db)[0]["status"], "running");
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
        host.ok(&db, START + 300, &["run"]);
        let run = &host.runs(&db)[0];
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
    assert_consistent(backend, &db, &BTreeMap::new());
}

fn a_job_that_ends_at_once_costs_no_group_record_and_a_longer_one_gets_it(backend: Backend) {
    let db = TestDb::new(backend);
    let host = Host::new("host-a");
    host.ok(&db, START, &["add", "quick", "--", "true"]);
    host.ok(&db, START, &["add", "slower", "--", "sleep 0.3"]);
    for _ in 0..5 {
        host.ok(&db, START, &["enqueue", "quick"]);
    }
    host.ok(&db, START, &["run"]);
    // Each `true` ends long before the moment its group would be recorded; a machine
    // loaded enough to hold one back that long is not seen five times in a row.
    let quick = recorded_groups(backend, &db);
    assert!(quick < 5, "every one of 5 quick runs recorded its group");
    host.ok(&db, START, &["enqueue", "slower"]);
    host.ok(&db, START, &["run"]);
    assert_eq!(recorded_groups(backend, &db), quick + 1);
    let runs = host.runs(&db);
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:?}");
}

on_both_backends!(
    parallel_runners_killed_again_and_again_lose_nothing,
    sequential_runners_killed_again_and_again_lose_nothing,
    a_job_orphaned_by_a_killed_runner_is_not_started_again_while_it_runs,
    a_job_whose_group_was_never_recorded_is_not_started_again_while_it_runs,
    a_job_that_ends_at_once_costs_no_group_record_and_a_longer_one_gets_it,
);
