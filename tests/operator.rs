//! The operator's commands (design §6, issue 4): `daemon` with a graceful shutdown on a real
//! SIGTERM or SIGINT, `status` for monitoring, `crontab`, `import`, `enqueue --stdin`,
//! `completions` and `--version`. Every test has a database of its own and pins the clock
//! with `--now` wherever it matters; where a real process must be waited for (the daemon
//! and its jobs), it polls with a bounded deadline.
//!
//! The daemon's and `status`'s tests run on both backends (`sqlite::NAME`,
//! `postgres::NAME`, listed at the end). The others run on SQLite only: `crontab`'s
//! tests are about the path of a database file (a relative one, one with spaces) and the
//! file a pass creates; `import_takes_10000_lines` counts the jobs in the SQLite file; the
//! other `import` and `enqueue` tests check parsing and validation that happen before the
//! database is touched, and the storage beneath them is tested on both backends in
//! tests/store_contract.rs; `completions` and `--version` use no database.

mod common;

use assert_cmd::Command;
use common::{Backend, TestDb};
use serde_json::Value;
use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Monday 23 November 2026, 09:00:00 UTC.
const T0: i64 = 1_795_424_400;

/// The error a run stopped by a shutdown is recorded with.
const SHUTDOWN_ERROR: &str = "stopped: cronq was shut down before the job finished";

const BINARY: &str = env!("CARGO_BIN_EXE_cronq");

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cronq` with no database, clock, log filter or time zone leaking in from the
/// environment (`import` reads a crontab in the system's zone, as cron does).
fn cronq() -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .env("TZ", "UTC");
    cmd
}

/// Polls `done` every 20 ms for up to `within`; panics with `what` (evaluated then) when
/// it never becomes true.
fn wait_for(within: Duration, what: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {}",
            what()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` is gone. A zombie (dead, not yet reaped: here PID 1 may never reap
/// orphans) counts as gone: it runs nothing.
fn process_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
            after_name.split_whitespace().next() == Some("Z")
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A database of its own on either backend (a file in a directory of its own, or a fresh
/// PostgreSQL database and a scratch directory), and the commands an operator types
/// against it.
struct Db {
    test: TestDb,
    backend: Backend,
}

impl Db {
    fn new(backend: Backend) -> Db {
        Db {
            test: TestDb::new(backend),
            backend,
        }
    }

    /// A file in the test's directory.
    fn file(&self, name: &str) -> PathBuf {
        self.test.dir.path().join(name)
    }

    /// What `--db` takes: the file or the URL.
    fn arg(&self) -> OsString {
        self.test.arg()
    }

    /// The SQLite file, for the tests that look inside it.
    fn sqlite_file(&self) -> PathBuf {
        assert_eq!(self.backend, Backend::Sqlite, "only SQLite has a file");
        PathBuf::from(self.test.arg())
    }

    /// This host's state directory (`XDG_STATE_HOME`): for a PostgreSQL database it holds
    /// the lock file whose time is the heartbeat `status` reads, so every command and the
    /// daemon get the same one, a directory of the test's own.
    fn state(&self) -> PathBuf {
        self.file("state")
    }

    /// `cronq --db DB --now NOW ARGS...`
    fn at(&self, now: i64, args: &[&str]) -> Command {
        let mut cmd = cronq();
        cmd.env("XDG_STATE_HOME", self.state())
            .arg("--db")
            .arg(self.arg())
            .args(["--now", &rfc3339(now)])
            .args(args);
        cmd
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, now: i64, args: &[&str]) -> String {
        let output = self.at(now, args).output().unwrap();
        assert!(
            output.status.success(),
            "cronq {args:?} exited {:?}: {}",
            output.status.code(),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    fn json(&self, now: i64, args: &[&str]) -> Value {
        let stdout = self.ok(now, args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cronq {args:?} printed no JSON ({e}): {stdout}"))
    }

    /// `cronq add NAME OPTIONS... -- COMMAND`
    fn add(&self, name: &str, options: &[&str], command: &str) {
        let mut args = vec!["add", name];
        args.extend_from_slice(options);
        args.extend(["--", command]);
        self.ok(T0, &args);
    }

    /// `cronq enqueue ARGS...` at `now`, returning the id it prints.
    fn enqueue(&self, now: i64, args: &[&str]) -> i64 {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        let stdout = self.ok(now, &all);
        stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("enqueue should print a run id, printed {stdout:?}"))
    }

    fn runs(&self) -> Vec<Value> {
        self.json(T0, &["runs", "--limit", "100000", "--json"])
            .as_array()
            .expect("runs --json is an array")
            .clone()
    }

    fn run(&self, id: i64) -> Value {
        self.runs()
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("run {id} is not listed"))
    }

    fn jobs(&self) -> Vec<Value> {
        self.json(T0, &["jobs", "--json"])
            .as_array()
            .expect("jobs --json is an array")
            .clone()
    }

    fn job_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .jobs()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    fn job(&self, name: &str) -> Value {
        self.jobs()
            .into_iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("job {name} is not listed"))
    }

    /// The time of the last pass, as `status --json` tells it (whatever its exit code).
    fn last_pass(&self, now: i64) -> Value {
        let output = self.at(now, &["status", "--json"]).output().unwrap();
        let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json printed no JSON ({e}): {}{}",
                text(&output.stdout),
                text(&output.stderr)
            )
        });
        json["last_pass"].clone()
    }
}

/// A running `cronq daemon`, killed (with its process group, and the process groups of the
/// jobs whose pid files are listed) when dropped, so that a failed assertion leaves nothing
/// behind.
struct Daemon {
    child: Child,
    log: PathBuf,
    /// Files a job writes its shell's pid (its process group) to.
    job_pid_files: Vec<PathBuf>,
}

impl Daemon {
    /// `cronq --db DB --now NOW daemon ARGS...`, its stderr in a log file in the test's
    /// directory, in a process group of its own.
    fn start(db: &Db, now: i64, args: &[&str], job_pid_files: Vec<PathBuf>) -> Daemon {
        let log = db.file("daemon.log");
        let child = std::process::Command::new(BINARY)
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env("XDG_STATE_HOME", db.state())
            .arg("--db")
            .arg(db.arg())
            .args(["--now", &rfc3339(now), "-v", "daemon"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("cronq daemon starts");
        Daemon {
            child,
            log,
            job_pid_files,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory effects; the pid is our own unreaped child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Polls until `done`, naming `what` and showing the daemon's log on a timeout.
    fn wait_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        let log = self.log.clone();
        wait_for(
            Duration::from_secs(20),
            || {
                format!(
                    "{what}; daemon log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                )
            },
            &mut done,
        );
    }

    /// Waits (bounded) for the daemon to exit; returns its status.
    fn exit_status(&mut self) -> ExitStatus {
        let mut status = None;
        let child = &mut self.child;
        let log = self.log.clone();
        wait_for(
            Duration::from_secs(20),
            || {
                format!(
                    "the daemon to exit; its log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                )
            },
            || {
                status = child.try_wait().unwrap();
                status.is_some()
            },
        );
        status.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id() as i32;
            // SAFETY: as above; the group is the daemon's own (process_group(0)).
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
        for file in &self.job_pid_files {
            if let Some(pid) = read_pid(file) {
                if !process_gone(pid) {
                    // SAFETY: as above; a job of this test leads a process group of its own.
                    unsafe { libc::killpg(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

/// A job command that starts a background `sleep` (its pid in `bg`), records its shell's
/// pid (its process group) in `sh`, and then runs until it is killed.
fn long_job(bg: &Path, sh: &Path) -> String {
    format!(
        "echo $$ > {sh}.tmp && mv {sh}.tmp {sh}; sleep 600 & echo $! > {bg}.tmp && mv {bg}.tmp {bg}; sleep 600",
        sh = sh.display(),
        bg = bg.display()
    )
}

// ---------------------------------------------------------------------------------------
// daemon

fn the_daemon_picks_up_queued_work_within_one_interval_pass_after_pass(backend: Backend) {
    let db = Db::new(backend);
    let ran = db.file("ran");
    db.add(
        "touch",
        &[],
        &format!("echo $CRONQ_RUN_ID >> {}", ran.display()),
    );
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![]);
    daemon.wait_until("the daemon's first pass", || !db.last_pass(T0).is_null());

    // Its passes leave the heartbeat that `status` reads.
    let status = db.at(T0, &["status", "--json"]).output().unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stdout));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["last_pass"], rfc3339(T0));

    // Work queued while it waits is picked up by its next pass, within one interval (1 s,
    // plus slack for a loaded machine; the default interval would take 10 s).
    for round in 0..2 {
        let id = db.enqueue(T0, &["touch"]);
        let queued = Instant::now();
        daemon.wait_until(&format!("run {id} (round {round})"), || {
            fs::read_to_string(&ran)
                .unwrap_or_default()
                .lines()
                .any(|l| l == id.to_string())
        });
        let took = queued.elapsed();
        assert!(
            took < Duration::from_millis(3500),
            "round {round}: run {id} picked up after {took:?} with --interval 1"
        );
        daemon.wait_until(&format!("run {id} to be recorded"), || {
            db.run(id)["status"] == "success"
        });
    }
    assert!(daemon.running(), "the daemon stopped on its own");
    daemon.signal(libc::SIGTERM);
    let status = daemon.exit_status();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
}

/// On PostgreSQL the daemon keeps its connection between passes. When the server ends it
/// (a restart, a failover, a network failure), the daemon logs it, connects again and goes
/// on picking up work.
#[test]
fn the_daemon_connects_again_when_postgresql_drops_its_connection() {
    let db = Db::new(Backend::Postgres);
    let ran = db.file("ran");
    db.add(
        "touch",
        &[],
        &format!("echo $CRONQ_RUN_ID >> {}", ran.display()),
    );
    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![]);
    daemon.wait_until("the daemon's first pass", || !db.last_pass(T0).is_null());
    let dropped = db.test.terminate_other_connections();
    assert!(dropped >= 1, "the daemon held no connection");
    let id = db.enqueue(T0, &["touch"]);
    daemon.wait_until(&format!("run {id} after the reconnection"), || {
        fs::read_to_string(&ran)
            .unwrap_or_default()
            .lines()
            .any(|l| l == id.to_string())
    });
    assert!(daemon.running(), "the daemon stopped on its own");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.exit_status().code(), Some(0));
    assert!(
        daemon
            .log()
            .contains("was lost; the next pass connects again"),
        "log:\n{}",
        daemon.log()
    );
}

fn the_daemon_uses_the_daemon_interval_setting_without_the_flag(backend: Backend) {
    let db = Db::new(backend);
    let ran = db.file("ran");
    db.add("touch", &[], &format!("echo ran >> {}", ran.display()));
    db.ok(T0, &["settings", "daemon_interval", "1"]);
    let mut daemon = Daemon::start(&db, T0, &[], vec![]);
    daemon.wait_until("the daemon's first pass", || !db.last_pass(T0).is_null());
    db.enqueue(T0, &["touch"]);
    let queued = Instant::now();
    daemon.wait_until("the queued run", || ran.exists());
    let took = queued.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "picked up after {took:?} with daemon_interval 1"
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.exit_status().code(), Some(0));
}

fn sigterm_kills_a_running_job_after_the_grace_requeues_it_and_the_unstarted_runs(
    backend: Backend,
) {
    let db = Db::new(backend);
    let (bg, sh) = (db.file("bg.pid"), db.file("sh.pid"));
    let quick_log = db.file("quick.log");
    db.add("blocker", &[], &long_job(&bg, &sh));
    db.add(
        "quick",
        &[],
        &format!("echo $CRONQ_RUN_ID >> {}", quick_log.display()),
    );
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    // The blocker runs first (priority); the others wait, pending, for their turn.
    let blocker = db.enqueue(T0, &["blocker", "--priority", "10"]);
    let quick: Vec<i64> = (0..2).map(|_| db.enqueue(T0, &["quick"])).collect();

    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![sh.clone()]);
    daemon.wait_until("the blocker's background process", || {
        read_pid(&bg).is_some()
    });
    let bg_pid = read_pid(&bg).unwrap();
    assert!(!process_gone(bg_pid));
    for id in &quick {
        assert_eq!(
            db.run(*id)["status"],
            "pending",
            "a run waiting behind another stays pending, takeable by another invocation"
        );
    }

    daemon.signal(libc::SIGTERM);
    let status = daemon.exit_status();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());

    let run = db.run(blocker);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 1, "a shutdown costs no attempt: {run}");
    assert_eq!(run["error"], SHUTDOWN_ERROR, "{run}");
    for id in &quick {
        let run = db.run(*id);
        assert_eq!(run["status"], "pending", "never claimed: {run}");
        assert_eq!(run["attempt"], 1, "no attempt used: {run}");
    }
    assert!(!quick_log.exists(), "a run started after the shutdown");

    // Nothing of the killed job survives.
    wait_for(
        Duration::from_secs(2),
        || format!("the job's background process {bg_pid} to be gone"),
        || process_gone(bg_pid),
    );
    let sh_pid = read_pid(&sh).unwrap();
    assert!(process_gone(sh_pid), "the job's shell {sh_pid} survived");
}

fn sigterm_also_kills_a_background_process_that_ignores_sigterm(backend: Backend) {
    let db = Db::new(backend);
    let (bg, sh) = (db.file("bg.pid"), db.file("sh.pid"));
    // The background process ignores SIGTERM: only SIGKILL ends it.
    let command = format!(
        "echo $$ > {sh}.tmp && mv {sh}.tmp {sh}; (trap '' TERM; exec sleep 600) & echo $! > {bg}.tmp && mv {bg}.tmp {bg}; sleep 600",
        sh = sh.display(),
        bg = bg.display()
    );
    db.add("stubborn", &[], &command);
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    let id = db.enqueue(T0, &["stubborn"]);
    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![sh.clone()]);
    daemon.wait_until("the background process", || read_pid(&bg).is_some());
    let bg_pid = read_pid(&bg).unwrap();
    // Let the subshell install its trap before the signal arrives.
    wait_for(
        Duration::from_secs(10),
        || format!("process {bg_pid} to become sleep"),
        || fs::read_to_string(format!("/proc/{bg_pid}/comm")).is_ok_and(|c| c.trim() == "sleep"),
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.exit_status().code(),
        Some(0),
        "log:\n{}",
        daemon.log()
    );
    assert!(
        process_gone(bg_pid),
        "the job's background process {bg_pid} survived the shutdown"
    );
    let run = db.run(id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 1, "a shutdown costs no attempt: {run}");
    assert_eq!(run["error"], SHUTDOWN_ERROR, "{run}");
}

fn sigterm_in_parallel_mode_requeues_the_run_and_kills_the_job(backend: Backend) {
    let db = Db::new(backend);
    let (bg, sh) = (db.file("bg.pid"), db.file("sh.pid"));
    db.add("blocker", &[], &long_job(&bg, &sh));
    db.ok(T0, &["settings", "shutdown_grace", "1"]);
    db.ok(T0, &["settings", "jobs_run_in_parallel", "true"]);
    let id = db.enqueue(T0, &["blocker"]);
    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![sh.clone()]);
    daemon.wait_until("the background process", || read_pid(&bg).is_some());
    let bg_pid = read_pid(&bg).unwrap();
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.exit_status().code(),
        Some(0),
        "log:\n{}",
        daemon.log()
    );
    let run = db.run(id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 1, "a shutdown costs no attempt: {run}");
    assert_eq!(run["error"], SHUTDOWN_ERROR, "{run}");
    wait_for(
        Duration::from_secs(2),
        || format!("the job's background process {bg_pid} to be gone"),
        || process_gone(bg_pid),
    );
}

fn sigint_lets_a_job_finish_within_the_grace_and_claims_nothing_new(backend: Backend) {
    let db = Db::new(backend);
    let (started, release, sh) = (db.file("started"), db.file("release"), db.file("sh.pid"));
    let late_log = db.file("late.log");
    db.add(
        "finisher",
        &[],
        &format!(
            "echo $$ > {sh}; touch {started}; while [ ! -e {release} ]; do sleep 0.02; done; echo finished",
            sh = sh.display(),
            started = started.display(),
            release = release.display()
        ),
    );
    db.add("late", &[], &format!("echo ran >> {}", late_log.display()));
    db.ok(T0, &["settings", "shutdown_grace", "10"]);
    let id = db.enqueue(T0, &["finisher"]);
    let mut daemon = Daemon::start(&db, T0, &["--interval", "1"], vec![sh.clone()]);
    daemon.wait_until("the job to start", || started.exists());

    daemon.signal(libc::SIGINT);
    // The job is within its grace: the daemon waits for it.
    let signalled = Instant::now();
    while signalled.elapsed() < Duration::from_millis(300) {
        assert!(
            daemon.running(),
            "the daemon exited while its job was within the grace; log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Work queued after the signal is not claimed.
    let late = db.enqueue(T0, &["late"]);
    fs::write(&release, "").unwrap();

    assert_eq!(
        daemon.exit_status().code(),
        Some(0),
        "log:\n{}",
        daemon.log()
    );
    let run = db.run(id);
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["exit_code"], 0, "{run}");
    assert_eq!(run["attempt"], 1, "{run}");
    let run = db.run(late);
    assert_eq!(
        run["status"], "pending",
        "claimed after the shutdown: {run}"
    );
    assert!(!late_log.exists(), "a run started after the shutdown");
}

// ---------------------------------------------------------------------------------------
// status

fn status(db: &Db, now: i64) -> (i32, Value) {
    let output = db.at(now, &["status", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json printed no JSON ({e}): {}{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    });
    (output.status.code().unwrap(), json)
}

fn status_reports_the_last_pass_counts_failing_jobs_and_next_slots(backend: Backend) {
    let db = Db::new(backend);
    db.add("worker", &[], "true");
    db.add("failing", &["--retries", "0"], "exit 3");
    db.add("every5", &["--schedule", "*/5 * * * *"], "true");
    db.ok(T0, &["run-job", "worker"]);
    db.at(T0, &["run-job", "failing"]).assert().code(1);
    db.enqueue(T0, &["worker", "--at", &rfc3339(T0 + 3600)]);
    db.enqueue(T0, &["worker", "--at", &rfc3339(T0 + 3600)]);
    db.ok(T0, &["run"]);

    let (code, json) = status(&db, T0 + 60);
    assert_eq!(code, 0, "{json}");
    for key in [
        "healthy",
        "problems",
        "last_pass",
        "counts",
        "stuck_runs",
        "failing_jobs",
        "next_slots",
    ] {
        assert!(json.get(key).is_some(), "status --json lacks {key}: {json}");
    }
    assert_eq!(json["healthy"], true, "{json}");
    assert_eq!(json["problems"], serde_json::json!([]), "{json}");
    assert_eq!(json["last_pass"], rfc3339(T0));
    assert_eq!(json["counts"]["pending"], 2, "{json}");
    assert_eq!(json["counts"]["success"], 1, "{json}");
    assert_eq!(json["counts"]["failed"], 1, "{json}");
    assert_eq!(json["stuck_runs"], serde_json::json!([]), "{json}");
    let failing: Vec<&str> = json["failing_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["failing"], "{json}");
    let next = json["next_slots"].as_array().unwrap();
    assert!(
        next.iter()
            .any(|n| n["job"] == "every5" && n["slot"] == rfc3339(T0 + 300)),
        "{json}"
    );

    // The text form says the same to a person.
    let output = db.at(T0 + 60, &["status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&rfc3339(T0)), "{stdout}");
    assert!(stdout.contains("failing"), "{stdout}");
    assert!(stdout.contains("every5"), "{stdout}");
}

fn status_fails_when_no_pass_ran_in_the_last_3_minutes(backend: Backend) {
    let db = Db::new(backend);
    db.add("worker", &[], "true");
    let (code, json) = status(&db, T0);
    assert_eq!(code, 1, "no pass ever ran: {json}");
    assert_eq!(json["healthy"], false);
    assert_eq!(json["last_pass"], Value::Null);

    db.ok(T0, &["run"]);
    let (code, json) = status(&db, T0 + 179);
    assert_eq!(code, 0, "a pass 179 s ago: {json}");
    assert_eq!(json["healthy"], true);

    let (code, json) = status(&db, T0 + 181);
    assert_eq!(code, 1, "a pass 181 s ago: {json}");
    assert_eq!(json["healthy"], false);
    assert_eq!(json["last_pass"], rfc3339(T0));
    assert_eq!(
        json["problems"].as_array().unwrap().len(),
        1,
        "one problem, the old pass: {json}"
    );
    db.at(T0 + 181, &["status"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(rfc3339(T0)));

    // A new pass makes it healthy again.
    db.ok(T0 + 181, &["run"]);
    assert_eq!(status(&db, T0 + 182).0, 0);
}

/// The start time of this test process (field 22 of /proc/self/stat).
fn my_start_time() -> i64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    after_name
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

/// Inserts a `running` run of `job`, claimed and started at T0 by `pid` on this host and
/// boot, as a runner would have; returns its id.
fn insert_running(db: &Db, job: &str, pid: i64, started: i64) -> i64 {
    // The host as cronq names it: its machine id (CRONQ_HOST_ID is not set here).
    let host = fs::read_to_string("/etc/machine-id")
        .ok()
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| fs::read_to_string("/proc/sys/kernel/hostname").unwrap());
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let literal = |text: &str| format!("'{}'", text.trim().replace('\'', "''"));
    db.test.execute(&format!(
        "INSERT INTO runs (job, status, due_at, created_at, claimed_at, started_at, attempt, \
         max_attempts, claim, owner_host, owner_boot_id, owner_pid, owner_started) \
         VALUES ({}, 'running', {T0}, {T0}, {T0}, {T0}, 1, 2, 1, {}, {}, {pid}, {started})",
        literal(job),
        literal(&host),
        literal(&boot)
    ));
    // The newest run is the one just inserted.
    db.runs()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .max()
        .unwrap()
}

fn status_fails_when_a_run_is_stuck(backend: Backend) {
    let db = Db::new(backend);
    db.add("worker", &[], "true");
    db.ok(T0, &["run"]);
    // A run owned by a live process (this test) is not stuck.
    let alive = insert_running(&db, "worker", std::process::id() as i64, my_start_time());
    let (code, json) = status(&db, T0 + 30);
    assert_eq!(code, 0, "a live run is not stuck: {json}");
    assert_eq!(json["stuck_runs"], serde_json::json!([]));

    // A run whose owner, on this host and boot, no longer exists is.
    let dead = insert_running(&db, "worker", (1 << 22) + 12345, 12345);
    let (code, json) = status(&db, T0 + 30);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["healthy"], false);
    let stuck = json["stuck_runs"].as_array().unwrap();
    assert_eq!(stuck.len(), 1, "{json}");
    assert_eq!(stuck[0]["id"], dead, "{json}");
    assert_ne!(stuck[0]["id"], alive);
    assert_eq!(stuck[0]["job"], "worker", "{json}");
    let problems = json["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains(&dead.to_string())),
        "the problems name the stuck run: {json}"
    );
    db.at(T0 + 30, &["status"]).assert().code(1);
}

// ---------------------------------------------------------------------------------------
// crontab

/// The command of a crontab line: what follows its five schedule fields.
fn command_part(line: &str) -> &str {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest.trim()
}

/// The four entry lines `cronq crontab` prints (comments and blank lines left out),
/// checked for their schedules and sleeps; returns the minute line's command.
fn crontab_command(stdout: &str) -> String {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(lines.len(), 4, "four crontab lines: {stdout}");
    for line in &lines {
        assert!(line.starts_with("* * * * * "), "every minute: {line}");
    }
    let command = command_part(lines[0]).to_string();
    assert!(!command.starts_with("sleep"), "{stdout}");
    for (line, sleep) in lines[1..].iter().zip([15, 30, 45]) {
        assert_eq!(
            command_part(line),
            format!("sleep {sleep}; {command}"),
            "{stdout}"
        );
    }
    command
}

#[test]
fn crontab_prints_four_lines_with_absolute_paths_even_for_a_relative_db() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = fs::canonicalize(dir.path()).unwrap();
    let output = cronq()
        .current_dir(&dir_path)
        .args(["--db", "rel.db", "crontab"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let command = crontab_command(&stdout);
    let exe = fs::canonicalize(BINARY).unwrap();
    let db = dir_path.join("rel.db");
    assert!(
        command.contains(&exe.display().to_string()),
        "the binary's absolute path {}: {command}",
        exe.display()
    );
    assert!(
        command.contains(&db.display().to_string()),
        "the database's absolute path {}: {command}",
        db.display()
    );

    // cron runs the line from another directory: it reaches the same database.
    let elsewhere = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(elsewhere.path())
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .output()
        .unwrap();
    assert!(run.status.success(), "{command}: {}", text(&run.stderr));
    assert!(db.exists(), "the pass used {}", db.display());
    let status = cronq()
        .arg("--db")
        .arg(&db)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        !status["last_pass"].is_null(),
        "the line ran a pass: {status}"
    );
    assert!(!elsewhere.path().join("rel.db").exists());
}

#[test]
fn crontab_quotes_paths_with_spaces_and_the_line_runs_under_sh() {
    let dir = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(dir.path()).unwrap();
    // A copy of the binary in a directory with a space, and a database whose path has a
    // space and a quote.
    let bin_dir = root.join("bin dir");
    fs::create_dir(&bin_dir).unwrap();
    let exe = bin_dir.join("cronq");
    fs::copy(BINARY, &exe).unwrap();
    let data_dir = root.join("data dir");
    fs::create_dir(&data_dir).unwrap();
    let db = data_dir.join("it's here.db");

    // A freshly written binary may be briefly busy (ETXTBSY) while another test forks.
    let mut output = None;
    for _ in 0..100 {
        match std::process::Command::new(&exe)
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .arg("--db")
            .arg(&db)
            .arg("crontab")
            .current_dir(&root)
            .output()
        {
            Ok(o) => {
                output = Some(o);
                break;
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("cannot run the copied binary: {e}"),
        }
    }
    let output = output.expect("the copied binary runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let command = crontab_command(&stdout);
    assert!(
        !command.contains(&format!(" {} ", exe.display()))
            && !command.starts_with(&format!("{} ", exe.display())),
        "the binary's path is quoted: {command}"
    );

    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir("/")
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "sh -c {command:?}: {}",
        text(&run.stderr)
    );
    assert!(db.exists(), "the pass used {}", db.display());
    let status = cronq()
        .arg("--db")
        .arg(&db)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        !status["last_pass"].is_null(),
        "the line ran a pass: {status}"
    );
}

// ---------------------------------------------------------------------------------------
// import

const GREETING: &str = "CRONQ_OPERATOR_TEST_GREETING";

fn write_file(db: &Db, name: &str, content: &str) -> PathBuf {
    let path = db.file(name);
    fs::write(&path, content).unwrap();
    path
}

#[test]
fn import_makes_named_jobs_with_their_environment_and_literal_percents() {
    let db = Db::new(Backend::Sqlite);
    let crontab = format!(
        "# m h dom mon dow command\n\
         SHELL=/bin/sh\n\
         \n\
         # cronq: nightly\n\
         30 2 * * * echo \"[${GREETING}]\"\n\
         {GREETING}=\"hello there\"\n\
         @hourly echo \"[${GREETING}]\"\n\
         0 */2 * * * echo 100\\% done\n"
    );
    let file = write_file(&db, "crontab", &crontab);
    let stdout = db.ok(T0, &["import", file.to_str().unwrap()]);
    assert!(stdout.contains('3'), "{stdout}");
    assert_eq!(db.job_names(), ["Cleanup", "echo", "echo-2", "nightly"]);
    let nightly = db.job("nightly");
    assert_eq!(nightly["schedule"], "30 2 * * *");
    assert_eq!(nightly["command"], format!("echo \"[${GREETING}]\""));
    assert_eq!(nightly["status"], "active");
    assert_eq!(nightly["next_slot"], "2026-11-24T02:30:00Z");
    assert_eq!(db.job("echo")["schedule"], "@hourly");
    assert_eq!(db.job("echo-2")["command"], "echo 100% done");

    // The variable reaches the jobs after it, not the one before.
    let run_job = |name: &str| {
        let output = db
            .at(T0, &["run-job", name])
            .env_remove(GREETING)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    assert_eq!(run_job("nightly"), "[]\n");
    assert_eq!(run_job("echo"), "[hello there]\n");
    assert_eq!(run_job("echo-2"), "100% done\n");
}

#[test]
fn import_reports_a_bad_line_by_number_and_imports_nothing() {
    let db = Db::new(Backend::Sqlite);
    db.add("keep", &[], "true");
    let before = db.job_names();
    let cases = [
        ("61 * * * * echo bad", "minute"),
        ("* * * * * echo 50%", "%"),
        ("* * * *", "line 4"),
        ("@reboot /bin/start", "@reboot"),
        ("0 0 30 2 * echo never", "line 4"),
        ("# cronq: first", "first"),
    ];
    for (bad, names) in cases {
        // Line 4 is the bad one (for the last case: a second job named 'first').
        let content = if bad.starts_with("# cronq") {
            "# cronq: first\n* * * * * echo 1\n# cronq: first\n* * * * * echo 2\n".to_string()
        } else {
            format!("# cronq: first\n* * * * * echo 1\nFOO=bar\n{bad}\n@daily echo 5\n")
        };
        let file = write_file(&db, "crontab", &content);
        let output = db
            .at(T0, &["import", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.contains("line 4"),
            "{bad:?}: the line number: {stderr}"
        );
        assert!(stderr.contains(names), "{bad:?}: {stderr}");
        assert_eq!(db.job_names(), before, "{bad:?}: nothing imported");
    }
}

#[test]
fn import_refuses_an_unescaped_percent_but_takes_an_escaped_one() {
    let db = Db::new(Backend::Sqlite);
    let file = write_file(&db, "bad", "0 * * * * date +%H\n");
    db.at(T0, &["import", file.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("line 1"));
    assert_eq!(db.job_names(), ["Cleanup"]);
    let file = write_file(&db, "good", "0 * * * * date +\\%H\n");
    db.ok(T0, &["import", file.to_str().unwrap()]);
    assert_eq!(db.job("date")["command"], "date +%H");
}

#[test]
fn import_fails_whole_when_a_name_clashes_with_an_existing_job() {
    let db = Db::new(Backend::Sqlite);
    db.add("backup", &[], "echo original");
    let file = write_file(
        &db,
        "crontab",
        "# cronq: fresh\n* * * * * echo fresh\n# cronq: backup\n@daily echo replaced\n",
    );
    db.at(T0, &["import", file.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("backup"));
    assert_eq!(db.job_names(), ["Cleanup", "backup"]);
    assert_eq!(db.job("backup")["command"], "echo original");

    // The same for a generated name.
    db.add("echo-theirs", &[], "echo mine");
    let file = write_file(&db, "crontab", "FOO=1\n* * * * * echo theirs\n");
    db.at(T0, &["import", file.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("echo-theirs"));
    assert_eq!(db.job_names(), ["Cleanup", "backup", "echo-theirs"]);
    assert_eq!(db.job("echo-theirs")["command"], "echo mine");
}

#[test]
fn import_reads_standard_input_for_a_dash() {
    let db = Db::new(Backend::Sqlite);
    db.at(T0, &["import", "-"])
        .write_stdin("# cronq: from-stdin\n*/10 * * * * echo hi\n")
        .assert()
        .success();
    let job = db.job("from-stdin");
    assert_eq!(job["schedule"], "*/10 * * * *");
    assert_eq!(job["command"], "echo hi");
}

#[test]
fn import_takes_10000_lines() {
    let db = Db::new(Backend::Sqlite);
    let mut content = String::with_capacity(300_000);
    for i in 0..10_000 {
        content.push_str(&format!("*/5 * * * * echo {i}\n"));
    }
    let file = write_file(&db, "crontab", &content);
    db.ok(T0, &["import", file.to_str().unwrap()]);
    let conn = rusqlite::Connection::open(db.sqlite_file()).unwrap();
    let count: i64 = conn
        .query_row(
            "SELECT count(DISTINCT name) FROM jobs WHERE name LIKE 'echo-%' AND command LIKE 'echo %'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 10_000);
    let last: String = conn
        .query_row(
            "SELECT command FROM jobs WHERE name = 'echo-9999'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last, "echo 9999");
}

// ---------------------------------------------------------------------------------------
// enqueue

#[test]
fn enqueue_stdin_queues_one_run_per_line_and_prints_their_ids() {
    let db = Db::new(Backend::Sqlite);
    db.add("mail", &["--requires-target"], "true");
    db.add("other", &[], "true");
    let input = "\
{\"target_id\":\"42\",\"target_type\":\"Account\",\"data\":{\"k\":1}}
{\"target_id\":\"43\",\"at\":\"2026-11-23T10:00:00Z\",\"priority\":5}
{\"job\":\"other\",\"priority\":-1}
";
    let output = db
        .at(T0, &["enqueue", "mail", "--stdin"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let ids: Vec<i64> = text(&output.stdout)
        .lines()
        .map(|l| l.parse().unwrap_or_else(|_| panic!("not an id: {l:?}")))
        .collect();
    assert_eq!(ids.len(), 3, "one id per line");

    let run = db.run(ids[0]);
    assert_eq!(run["job"], "mail");
    assert_eq!(run["status"], "pending");
    assert_eq!(run["target_id"], "42");
    assert_eq!(run["target_type"], "Account");
    assert_eq!(run["data"], serde_json::json!({"k": 1}));
    assert_eq!(run["due_at"], rfc3339(T0));
    assert_eq!(run["priority"], 0);
    let run = db.run(ids[1]);
    assert_eq!(run["job"], "mail");
    assert_eq!(run["target_id"], "43");
    assert_eq!(run["due_at"], "2026-11-23T10:00:00Z");
    assert_eq!(run["priority"], 5);
    let run = db.run(ids[2]);
    assert_eq!(run["job"], "other");
    assert_eq!(run["target_id"], Value::Null);
    assert_eq!(run["priority"], -1);
    assert_eq!(db.runs().len(), 3);
}

#[test]
fn enqueue_stdin_rejects_the_whole_batch_for_one_bad_line() {
    let db = Db::new(Backend::Sqlite);
    db.add("mail", &["--requires-target"], "true");
    db.add("other", &[], "true");
    let cases = [
        ("{\"target_id\": \"2\",", "JSON"),
        ("{\"target_id\":\"2\",\"colour\":\"red\"}", "colour"),
        ("{\"target_id\":\"2\",\"at\":\"tomorrow\"}", "tomorrow"),
        ("{\"job\":\"nosuch\",\"target_id\":\"2\"}", "nosuch"),
        ("{\"target_type\":\"Account\"}", "target"),
    ];
    for (bad, names) in cases {
        let input = format!(
            "{{\"target_id\":\"1\"}}\n{{\"job\":\"other\"}}\n{bad}\n{{\"target_id\":\"4\"}}\n"
        );
        let output = db
            .at(T0, &["enqueue", "mail", "--stdin"])
            .write_stdin(input)
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("line 3"),
            "{bad}: the line number: {stderr}"
        );
        assert!(stderr.contains(names), "{bad}: {stderr}");
        assert_eq!(text(&output.stdout), "", "{bad}: no ids printed");
        assert_eq!(db.runs(), Vec::<Value>::new(), "{bad}: nothing queued");
    }
}

#[test]
fn enqueue_at_and_priority_decide_when_and_in_which_order_runs_go() {
    let db = Db::new(Backend::Sqlite);
    let log = db.file("log");
    db.add(
        "w",
        &[],
        &format!("echo $CRONQ_RUN_ID >> {}", log.display()),
    );
    db.ok(T0, &["settings", "jobs_max_portion", "1"]);
    let plain = db.enqueue(T0, &["w"]);
    let urgent = db.enqueue(T0, &["w", "--priority", "7"]);
    let later = db.enqueue(T0, &["w", "--at", &rfc3339(T0 + 3600), "--priority", "9"]);
    assert_eq!(db.run(later)["due_at"], rfc3339(T0 + 3600));
    assert_eq!(db.run(later)["priority"], 9);
    assert_eq!(db.run(urgent)["priority"], 7);
    assert_eq!(db.run(plain)["priority"], 0);

    let ran = || -> Vec<i64> {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect()
    };
    db.ok(T0, &["run"]);
    assert_eq!(
        ran(),
        [urgent],
        "the higher priority first; --at not yet due"
    );
    db.ok(T0 + 60, &["run"]);
    assert_eq!(ran(), [urgent, plain]);
    db.ok(T0 + 120, &["run"]);
    assert_eq!(ran(), [urgent, plain], "not before its --at time");
    assert_eq!(db.run(later)["status"], "pending");
    db.ok(T0 + 3600, &["run"]);
    assert_eq!(ran(), [urgent, plain, later]);

    db.at(T0, &["enqueue", "w", "--at", "tomorrow"])
        .assert()
        .code(2);
    assert_eq!(db.runs().len(), 3);
}

// ---------------------------------------------------------------------------------------
// completions and version

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let output = cronq().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
        let script = text(&output.stdout);
        assert!(script.contains("cronq"), "{shell}: {script}");
        for subcommand in [
            "daemon",
            "status",
            "crontab",
            "import",
            "enqueue",
            "run-job",
            "completions",
        ] {
            assert!(
                script.contains(subcommand),
                "{shell}: no {subcommand} in the script"
            );
        }
    }
}

#[test]
fn completions_for_an_unknown_shell_are_a_usage_error() {
    cronq()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("tcsh"));
}

#[test]
fn version_prints_the_version() {
    cronq()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("cronq {}\n", env!("CARGO_PKG_VERSION")));
}

on_both_backends!(
    the_daemon_picks_up_queued_work_within_one_interval_pass_after_pass,
    the_daemon_uses_the_daemon_interval_setting_without_the_flag,
    sigterm_kills_a_running_job_after_the_grace_requeues_it_and_the_unstarted_runs,
    sigterm_also_kills_a_background_process_that_ignores_sigterm,
    sigterm_in_parallel_mode_requeues_the_run_and_kills_the_job,
    sigint_lets_a_job_finish_within_the_grace_and_claims_nothing_new,
    status_reports_the_last_pass_counts_failing_jobs_and_next_slots,
    status_fails_when_no_pass_ran_in_the_last_3_minutes,
    status_fails_when_a_run_is_stuck,
);
