//! A claimed run belongs to its runner alone, for exactly as long as its claim holds
//! (docs/recovery.md): a runner frozen past its job's timeout finds its claim taken back
//! and records nothing over the retry; a run waiting behind others stays pending; a run's
//! age on its own boot is read on a clock that never steps; and a shutdown neither costs a
//! retry nor requeues a run without end.
//!
//! These tests drive real processes. Where a run's age matters it is measured on the boot
//! clock, which no flag can move, so the frozen-runner tests wait for real time to pass
//! (about 30 s, polling with bounded deadlines).

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
mod common;

use common::{rfc3339, wait_within, Backend, TestDb};

/// Monday 23 November 2026, 09:00:00 UTC.
const T0: i64 = 1_795_424_400;

const BINARY: &str = env!("CARGO_BIN_EXE_cronq");

struct Db {
    test: TestDb,
    db: std::ffi::OsString,
}

impl Db {
    fn new(backend: Backend) -> Db {
        let test = TestDb::new(backend);
        let db = test.arg();
        Db { test, db }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.test.dir.path().join(name)
    }

    fn command(&self, now: i64, args: &[&str]) -> Command {
        let mut cmd = Command::new(BINARY);
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .arg("--db")
            .arg(&self.db)
            .arg("--now")
            .arg(rfc3339(now))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn output(&self, now: i64, args: &[&str]) -> Output {
        self.command(now, args).output().unwrap()
    }

    fn ok(&self, now: i64, args: &[&str]) -> String {
        let out = self.output(now, args);
        assert!(
            out.status.success(),
            "cronq {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `cronq run` at `now` in the background, its stderr kept in a file.
    fn spawn_pass(&self, now: i64, log: &str) -> Child {
        self.command(now, &["run"])
            .stdout(Stdio::null())
            .stderr(fs::File::create(self.file(log)).unwrap())
            .spawn()
            .unwrap()
    }

    fn enqueue(&self, now: i64, args: &[&str]) -> i64 {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        self.ok(now, &all).trim().parse().unwrap()
    }

    fn run(&self, id: i64) -> Value {
        serde_json::from_str(&self.ok(T0, &["show", &id.to_string(), "--json"])).unwrap()
    }

    fn lines(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.file(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn wait_exit(child: &mut Child, within: u64, what: &str) -> i32 {
    let mut code = None;
    wait_within(within, what, || {
        code = child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    code.unwrap()
}

fn signal(pid: i32, signal: i32) {
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid} {signal}");
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A runner is frozen (SIGSTOP: Ctrl-Z, a frozen cgroup, a swap storm) while its job runs
/// past the timeout. Another pass judges the run stale, kills the job and a later pass
/// starts the retry. When the frozen runner wakes, the retry is running: the woken runner
/// must record nothing, so the run is neither set back to pending nor executed a third
/// time while the second attempt runs.
fn a_frozen_runner_records_nothing_over_the_retry(backend: Backend, parallel: bool) {
    let db = Db::new(backend);
    if parallel {
        db.ok(T0, &["settings", "jobs_run_in_parallel", "true"]);
    }
    // Attempt 1 hangs; attempt 2 waits (within its timeout) until the test releases it.
    // $PPID is the runner (the pass, or its child process in parallel mode).
    let command = format!(
        "echo $CRONQ_ATTEMPT >> {log}; echo $PPID > {runner}; \
         if [ $CRONQ_ATTEMPT = 1 ]; then sleep 120; fi; touch {second}; \
         for i in $(seq 250); do [ -e {release} ] && break; sleep 0.1; done",
        log = db.file("attempts").display(),
        runner = db.file("runner.pid").display(),
        second = db.file("second").display(),
        release = db.file("release").display(),
    );
    db.ok(
        T0,
        &[
            "add",
            "slow",
            "--timeout",
            "30",
            "--retries",
            "1",
            "--",
            &command,
        ],
    );
    let id = db.enqueue(T0, &["slow"]);

    let mut frozen = db.spawn_pass(T0, "frozen.log");
    wait_within(20, "attempt 1 to start", || {
        read_pid(&db.file("runner.pid")).is_some()
    });
    let runner = read_pid(&db.file("runner.pid")).unwrap();
    signal(runner, libc::SIGSTOP);

    // Passes judge the run stale once its age on the boot clock passes the timeout and
    // the graces (30 + 5 + 10 s): the job is killed, the attempt failed, a retry queued.
    // The timeout leaves attempt 2 room to run while the woken runner gives up, which
    // takes seconds on a loaded machine (its PostgreSQL session was ended meanwhile).
    wait_within(120, "recovery to queue attempt 2", || {
        db.output(T0, &["run"]);
        db.run(id)["attempt"] == 2
    });
    let retry = db.run(id);
    assert_eq!(retry["status"], "pending", "{retry}");
    assert!(
        retry["error"]
            .as_str()
            .unwrap()
            .contains("past its timeout of 30 s; killed"),
        "{retry}"
    );

    // The retry falls due and runs; while it does, the frozen runner wakes.
    let mut second = db.spawn_pass(T0 + 3600, "second.log");
    wait_within(30, "attempt 2 to start", || db.file("second").exists());
    signal(runner, libc::SIGCONT);
    if parallel {
        // The woken child exits on its own; its parent pass then ends.
        wait_exit(&mut frozen, 30, "the woken pass to end");
    } else {
        let code = wait_exit(&mut frozen, 30, "the woken runner to end");
        assert_eq!(code, 1, "the woken runner reports its lost run");
    }
    // It says why it recorded nothing: its fenced write found the claim gone, or, when
    // the stop caught it inside a write transaction (recording the job's process group),
    // PostgreSQL had ended that transaction's session after 20 s idle, so it could not
    // write at all. Either way attempt 2 is untouched, as the rest of the test checks.
    let woken = fs::read_to_string(db.file("frozen.log")).unwrap();
    assert!(
        woken.contains("its claim was taken back")
            || (backend == Backend::Postgres
                && woken.contains("terminating connection due to idle-in-transaction timeout")),
        "the woken runner says why it recorded nothing: {woken}"
    );
    let during = db.run(id);
    assert_eq!(
        during["status"], "running",
        "attempt 2 still runs: {during}"
    );
    assert_eq!(during["attempt"], 2, "{during}");

    // Nothing else starts the run while attempt 2 runs.
    db.output(T0 + 3600, &["run"]);
    fs::write(db.file("release"), "").unwrap();
    let code = wait_exit(&mut second, 30, "attempt 2 to end");
    assert_eq!(
        code,
        0,
        "{}",
        fs::read_to_string(db.file("second.log")).unwrap()
    );
    let done = db.run(id);
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["attempt"], 2, "{done}");
    db.ok(T0 + 7200, &["run"]);
    assert_eq!(db.lines("attempts"), ["1", "2"], "each attempt ran once");
}

fn a_frozen_runner_records_nothing_over_the_retry_sequential(backend: Backend) {
    a_frozen_runner_records_nothing_over_the_retry(backend, false);
}

fn a_frozen_child_records_nothing_over_the_retry_parallel(backend: Backend) {
    a_frozen_runner_records_nothing_over_the_retry(backend, true);
}

/// A run queued behind a long job in the same pass is not claimed until its turn: it stays
/// pending, so another invocation can take it, and its one-second timeout cannot run out
/// while it waits. (It used to sit as "running" and be failed by the next pass as "still
/// running past its timeout" although it had never started.)
fn a_run_waiting_behind_a_long_job_stays_pending_and_takeable(backend: Backend) {
    let db = Db::new(backend);
    let started = db.file("long-started");
    db.ok(
        T0,
        &[
            "add",
            "long",
            "--",
            &format!("touch {}; sleep 3", started.display()),
        ],
    );
    db.ok(
        T0,
        &[
            "add",
            "quick",
            "--timeout",
            "1",
            "--retries",
            "0",
            "--",
            &format!("echo $PPID >> {}", db.file("quick.log").display()),
        ],
    );
    let long = db.enqueue(T0, &["long", "--priority", "10"]);
    let quick = db.enqueue(T0, &["quick"]);
    let mut first = db.spawn_pass(T0, "first.log");
    wait_within(20, "the long job to start", || started.exists());
    assert_eq!(db.run(quick)["status"], "pending", "{}", db.run(quick));

    // A pass 100 s later (well past quick's timeout and the graces) takes it and runs it.
    let second = db.output(T0 + 100, &["run"]);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(db.lines("quick.log").len(), 1);
    assert_eq!(wait_exit(&mut first, 30, "the first pass to end"), 0);
    for (id, name) in [(quick, "quick"), (long, "long")] {
        let run = db.run(id);
        assert_eq!(run["status"], "success", "{name}: {run}");
        assert_eq!(run["attempt"], 1, "{name}: {run}");
    }
    assert_eq!(db.lines("quick.log").len(), 1, "quick ran once");
}

/// The wall clock steps two hours forward (NTP, a resumed VM) while a healthy job with a
/// ten-second timeout runs. The next pass must leave it alone: on its own boot a run's age
/// is read on the boot clock.
fn a_wall_clock_step_does_not_kill_a_healthy_job(backend: Backend) {
    let db = Db::new(backend);
    let started = db.file("started");
    db.ok(
        T0,
        &[
            "add",
            "steady",
            "--timeout",
            "10",
            "--",
            &format!("touch {}; sleep 3", started.display()),
        ],
    );
    let id = db.enqueue(T0, &["steady"]);
    let mut first = db.spawn_pass(T0, "first.log");
    wait_within(20, "the job to start", || started.exists());

    let stepped = T0 + 7200;
    db.ok(stepped, &["run"]);
    let status = db.output(stepped, &["status", "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["stuck_runs"], serde_json::json!([]), "{status}");
    assert_eq!(db.run(id)["status"], "running", "{}", db.run(id));

    assert_eq!(wait_exit(&mut first, 30, "the job to end"), 0);
    let run = db.run(id);
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
}

/// A job that sends SIGTERM to its own runner stops the pass gracefully each time. Each
/// such stop queues the run again without using an attempt, but only so often: the third
/// counts as a failed attempt, so with `--retries 0` the run fails for good instead of
/// being queued again for ever.
fn a_job_that_stops_its_runner_is_not_requeued_without_end(backend: Backend) {
    let db = Db::new(backend);
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    let command = format!(
        "echo x >> {}; kill -TERM $PPID; sleep 30",
        db.file("executions").display()
    );
    db.ok(T0, &["add", "rogue", "--retries", "0", "--", &command]);
    let id = db.enqueue(T0, &["rogue"]);
    for minute in 0..6 {
        db.output(T0 + minute * 60, &["run"]);
    }
    let run = db.run(id);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("stopped by a shutdown 3 times"),
        "{run}"
    );
    assert_eq!(db.lines("executions").len(), 3);
}

/// A graceful shutdown stops a job that has one retry left. Restarting must not cost that
/// retry: when the job then fails, it is tried again.
fn a_shutdown_does_not_use_up_a_retry(backend: Backend) {
    let db = Db::new(backend);
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    let marker = db.file("stopped-once");
    let command = format!(
        "if [ -e {m} ]; then exit 3; fi; touch {m}; kill -TERM $PPID; sleep 30",
        m = marker.display()
    );
    db.ok(T0, &["add", "flaky", "--retries", "1", "--", &command]);
    let id = db.enqueue(T0, &["flaky"]);
    db.output(T0, &["run"]);
    let stopped = db.run(id);
    assert_eq!(stopped["status"], "pending", "{stopped}");
    assert_eq!(stopped["attempt"], 1, "the stop used no attempt: {stopped}");

    db.output(T0 + 60, &["run"]);
    let failed_once = db.run(id);
    assert_eq!(failed_once["status"], "pending", "retried: {failed_once}");
    assert_eq!(failed_once["attempt"], 2, "{failed_once}");
    assert_eq!(failed_once["max_attempts"], 2, "{failed_once}");
    assert_eq!(failed_once["error"], "exit status 3", "{failed_once}");
}

/// A database written by the previous release (schema version 1, without the claim
/// columns) is upgraded in place on first use, its runs and jobs kept.
#[test]
fn a_version_1_database_is_upgraded_in_place() {
    let db = Db::new(Backend::Sqlite);
    db.ok(T0, &["add", "old", "--", "true"]);
    let id = db.enqueue(T0, &["old"]);
    let schema = |conn: &rusqlite::Connection| -> Vec<String> {
        let mut names = conn
            .prepare("SELECT type || ' ' || name FROM sqlite_master ORDER BY 1")
            .unwrap();
        let names = names.query_map([], |row| row.get(0)).unwrap();
        names.map(Result::unwrap).collect()
    };
    let fresh = schema(&rusqlite::Connection::open(&db.db).unwrap());
    {
        let conn = rusqlite::Connection::open(&db.db).unwrap();
        conn.execute_batch(
            "ALTER TABLE runs DROP COLUMN claim;
             ALTER TABLE runs DROP COLUMN started_boot;
             ALTER TABLE runs DROP COLUMN interruptions;
             ALTER TABLE jobs DROP COLUMN last_host;
             ALTER TABLE runs DROP COLUMN stop_requested;
             DROP TABLE web_tokens;
             DROP TABLE attempts;
             DROP TABLE pings;
             ALTER TABLE jobs DROP COLUMN ping;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    db.ok(T0, &["run"]);
    assert_eq!(db.run(id)["status"], "success");
    let conn = rusqlite::Connection::open(&db.db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let claim: i64 = conn
        .query_row("SELECT claim FROM runs WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(claim, 1, "claimed once since the upgrade");
    let pings: i64 = conn
        .query_row(
            "SELECT count(*) FROM pings WHERE run_id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(pings, 0, "the job pings nothing, and the table exists");
    assert_eq!(
        schema(&conn),
        fresh,
        "the same tables and indexes as a new database"
    );
}

/// A runner looks at its claim while its job runs. When the claim is taken back without
/// its job being killed (as a pass on another host would: it cannot signal this host's
/// processes), the runner stops the job itself within the check interval and records
/// nothing over the run.
fn a_runner_whose_claim_is_taken_back_stops_its_job_and_records_nothing(backend: Backend) {
    let db = Db::new(backend);
    let job_pid = db.file("job.pid");
    db.ok(
        T0,
        &[
            "add",
            "long",
            "--",
            &format!("echo $$ > {}; sleep 120", job_pid.display()),
        ],
    );
    let id = db.enqueue(T0, &["long"]);
    let mut runner = db.spawn_pass(T0, "runner.log");
    wait_within(20, "the job to start", || read_pid(&job_pid).is_some());
    let pid = read_pid(&job_pid).unwrap();
    // What taking the run over elsewhere leaves behind: a new claim on the row.
    db.test.execute(&format!(
        "UPDATE runs SET claim = claim + 1, owner_host = 'elsewhere' WHERE id = {id}"
    ));
    let code = wait_exit(&mut runner, 40, "the runner to stop its job");
    assert_eq!(code, 1);
    let log = fs::read_to_string(db.file("runner.log")).unwrap();
    assert!(log.contains("its claim was taken back"), "{log}");
    assert!(
        fs::metadata(format!("/proc/{pid}")).is_err()
            || fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z")),
        "the job {pid} still runs"
    );
    let run = db.run(id);
    assert_eq!(
        run["status"], "running",
        "the runner wrote over the row: {run}"
    );
    assert_eq!(run["error"], serde_json::Value::Null, "{run}");
}

on_both_backends!(
    a_frozen_runner_records_nothing_over_the_retry_sequential,
    a_frozen_child_records_nothing_over_the_retry_parallel,
    a_run_waiting_behind_a_long_job_stays_pending_and_takeable,
    a_wall_clock_step_does_not_kill_a_healthy_job,
    a_job_that_stops_its_runner_is_not_requeued_without_end,
    a_shutdown_does_not_use_up_a_retry,
    a_runner_whose_claim_is_taken_back_stops_its_job_and_records_nothing,
);
