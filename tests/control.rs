//! An operator's hand on one run (docs/commands.md): `cronq stop` asks the host that runs a
//! run to stop it, and its runner does at its next look at the run — in a sequential
//! pass, in a parallel pass's child, under `run-job` and in the daemon — recording the run
//! failed, its output kept, without a retry; the next pass carries out a stop request
//! whose runner died. `cronq cancel` ends a pending run unrun; `cronq retry` queues a new
//! run like an ended one. Every test runs on both backends.
//!
//! A runner looks at its run every 10 s. A debug build (what `cargo test` builds) looks as
//! often as `CRONQ_TEST_CLAIM_CHECK_MS` says, and these tests set half a second; a release
//! build ignores it, and the deadlines below follow the interval of the build under test.
//! Times of scheduling are pinned with `--now`; only real processes are waited for, by
//! polling with bounded deadlines.

mod common;

use common::{rfc3339, wait_within, Backend, TestDb};
use serde_json::Value;
use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Monday 23 November 2026, 09:00:00 UTC.
const T0: i64 = 1_795_424_400;

const BINARY: &str = env!("CARGO_BIN_EXE_cronq");

/// How often the runners of these tests look at their run, in a debug build.
const CHECK_MS: u64 = 500;

/// Between SIGTERM and SIGKILL (`exec::KILL_GRACE`).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How often the binary under test looks at a running run.
fn check_interval() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_millis(CHECK_MS)
    } else {
        Duration::from_secs(10)
    }
}

/// How long a runner may take from a stop request to the end of its job's group: one
/// look at the run, and room for a busy machine (the job obeys SIGTERM at once).
fn stop_deadline() -> Duration {
    check_interval() + Duration::from_secs(5)
}

/// How long a runner may take from a stop request to its exit: the above, the kill grace
/// (a group whose processes linger as zombies is waited for) and the recording.
fn exit_deadline() -> u64 {
    (stop_deadline() + KILL_GRACE).as_secs() + 20
}

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

    fn file(&self, name: &str) -> PathBuf {
        self.test.dir.path().join(name)
    }

    fn arg(&self) -> OsString {
        self.test.arg()
    }

    /// `cronq --db DB --now NOW ARGS...`, with nothing leaking in from the environment, a
    /// state directory of the test's own and the shortened look at running runs.
    fn command(&self, now: i64, args: &[&str]) -> Command {
        let mut cmd = Command::new(BINARY);
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env("XDG_STATE_HOME", self.file("state"))
            .env("CRONQ_TEST_CLAIM_CHECK_MS", CHECK_MS.to_string())
            .arg("--db")
            .arg(self.arg())
            .arg("--now")
            .arg(rfc3339(now))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn output(&self, now: i64, args: &[&str]) -> Output {
        self.command(now, args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, now: i64, args: &[&str]) -> String {
        let out = self.output(now, args);
        assert!(
            out.status.success(),
            "cronq {args:?} exited {:?}: {}",
            out.status.code(),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs a command that must be refused as bad usage (exit 2, nothing on stdout);
    /// returns its stderr.
    fn refused(&self, now: i64, args: &[&str]) -> String {
        let out = self.output(now, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "cronq {args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "", "cronq {args:?}");
        text(&out.stderr)
    }

    fn enqueue(&self, now: i64, args: &[&str]) -> i64 {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        let stdout = self.ok(now, &all);
        stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("enqueue should print a run id, printed {stdout:?}"))
    }

    /// The run as `show --json` tells it, output included.
    fn run(&self, id: i64) -> Value {
        serde_json::from_str(&self.ok(T0, &["show", &id.to_string(), "--json"])).unwrap()
    }

    fn job(&self, name: &str) -> Value {
        let jobs: Value = serde_json::from_str(&self.ok(T0, &["jobs", "--json"])).unwrap();
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("job {name} is not listed"))
            .clone()
    }

    /// Starts `cronq ARGS...` at `now` in the background, in a process group of its own,
    /// its stdout and stderr kept in files of the test's directory.
    fn spawn(&self, now: i64, args: &[&str], log: &str) -> Spawned {
        let child = self
            .command(now, args)
            .stdout(fs::File::create(self.file(&format!("{log}.out"))).unwrap())
            .stderr(fs::File::create(self.file(log)).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        Spawned {
            child,
            log: self.file(log),
        }
    }

    fn lines(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.file(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Whether the run has recorded its job's process group: from then on recovery can
    /// tell the job from others by its group.
    fn group_recorded(&self, id: i64) -> bool {
        let sql = format!("SELECT count(*) FROM runs WHERE id = {id} AND pgid IS NOT NULL");
        let count: i64 = match self.backend {
            Backend::Sqlite => rusqlite::Connection::open(self.arg())
                .unwrap()
                .query_row(&sql, [], |row| row.get(0))
                .unwrap(),
            Backend::Postgres => {
                let url = self.arg().into_string().unwrap();
                ::postgres::Client::connect(&url, ::postgres::NoTls)
                    .unwrap()
                    .query_one(sql.as_str(), &[])
                    .unwrap()
                    .get(0)
            }
        };
        count == 1
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A cronq started in the background, killed with its process group when dropped, so
/// that a failed assertion leaves nothing behind.
struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        fs::read_to_string(self.log.with_extension("log.out")).unwrap_or_default()
    }

    /// Waits up to `within` seconds for it to exit; returns its exit code.
    fn wait_exit(&mut self, within: u64, what: &str) -> i32 {
        let mut code = None;
        let child = &mut self.child;
        wait_within(within, what, || {
            code = child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
            code.is_some()
        });
        code.unwrap()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory effects; the pid is our own unreaped child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: as above; the group is the child's own (process_group(0)).
            unsafe { libc::killpg(self.child.id() as i32, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// A job that runs until it is stopped: it says "started", counts its executions, starts
/// a background `sleep` in its group and writes its shell's pid (its process group) once
/// all that is done. Its group is killed when dropped.
struct LongJob {
    pid: PathBuf,
    executions: PathBuf,
}

impl LongJob {
    fn new(db: &Db) -> LongJob {
        LongJob {
            pid: db.file("job.pid"),
            executions: db.file("executions"),
        }
    }

    fn command(&self) -> String {
        format!(
            "echo started; echo $CRONQ_RUN_ID >> {executions}; sleep 600 & \
             echo $$ > {pid}.tmp && mv {pid}.tmp {pid}; sleep 600",
            executions = self.executions.display(),
            pid = self.pid.display()
        )
    }

    fn pgid(&self) -> Option<i32> {
        fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }

    /// Waits for the job to start; returns its process group.
    fn wait_started(&self) -> i32 {
        wait_within(30, "the job to start", || self.pgid().is_some());
        self.pgid().unwrap()
    }

    fn executions(&self) -> usize {
        fs::read_to_string(&self.executions)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for LongJob {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid() {
            if !group_gone(pgid) {
                // SAFETY: killpg has no memory effects; the group is this test's job's.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
        }
    }
}

/// Whether no process of group `pgid` runs any more. A zombie (dead, not yet reaped: here
/// PID 1 may never reap orphans) runs nothing, so it does not count.
fn group_gone(pgid: i32) -> bool {
    let group = pgid.to_string();
    fs::read_dir("/proc").unwrap().flatten().all(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return true; // not a process, or gone meanwhile
        };
        // After the command name: state, parent pid, process group.
        let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        let fields: Vec<&str> = after_name.split_whitespace().take(3).collect();
        fields.get(2) != Some(&group.as_str()) || fields.first() == Some(&"Z")
    })
}

/// Asks to stop run `id` and waits for its job's group to end, which must take no longer
/// than one look at the run.
fn stop_and_see_the_group_end(db: &Db, id: i64, pgid: i32) {
    let asked = Instant::now();
    let out = db.output(T0, &["-v", "stop", &id.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "", "stop prints nothing");
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("run {id}: stop requested")) && said.contains("within about 10 s"),
        "-v says what happens next: {said}"
    );
    wait_within(exit_deadline(), "the job's group to end", || {
        group_gone(pgid)
    });
    let took = asked.elapsed();
    assert!(
        took <= stop_deadline(),
        "the job was stopped {took:?} after the request; the runner looks every {:?}",
        check_interval()
    );
}

/// The reason of a run whose runner stopped its job, which took the SIGTERM as a shell
/// does.
const STOPPED: &str = "stopped by an operator (killed by signal 15)";

/// What a stopped run must look like: failed for good with `reason` on its first attempt
/// though two retries remain; the job's last result is the failure, and later passes do
/// not run it again.
fn assert_stopped_for_good(db: &Db, id: i64, job: &LongJob, reason: &str) {
    let run = db.run(id);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"], reason, "{run}");
    assert_eq!(run["exit_code"], Value::Null, "killed by a signal: {run}");
    assert_eq!(run["attempt"], 1, "{run}");
    assert_eq!(run["max_attempts"], 3, "retries remained: {run}");
    assert_eq!(db.job("long")["last_status"], "failed");
    db.output(T0 + 3600, &["run"]);
    db.output(T0 + 7200, &["run"]);
    assert_eq!(job.executions(), 1, "the stopped run ran again");
    assert_eq!(db.run(id)["status"], "failed");
}

fn a_stop_request_stops_the_job_of_a_pass(backend: Backend, parallel: bool) {
    let db = Db::new(backend);
    if parallel {
        db.ok(T0, &["settings", "jobs_run_in_parallel", "true"]);
    }
    let job = LongJob::new(&db);
    db.ok(T0, &["add", "long", "--retries", "2", "--", &job.command()]);
    let id = db.enqueue(T0, &["long"]);
    let mut pass = db.spawn(T0, &["run"], "pass.log");
    let pgid = job.wait_started();

    stop_and_see_the_group_end(&db, id, pgid);
    let code = pass.wait_exit(exit_deadline(), "the pass to record the run and end");
    let log = pass.log();
    assert_eq!(code, 1, "a stopped run is a failed one: {log}");
    assert!(
        log.contains(&format!("job long run {id} failed: {STOPPED}")),
        "{log}"
    );
    let output = db.run(id)["output"].clone();
    assert_eq!(output, "started\n", "the output is kept");
    assert_stopped_for_good(&db, id, &job, STOPPED);
}

fn a_stop_request_stops_the_job_of_a_sequential_pass(backend: Backend) {
    a_stop_request_stops_the_job_of_a_pass(backend, false);
}

fn a_stop_request_stops_the_job_of_a_parallel_pass(backend: Backend) {
    a_stop_request_stops_the_job_of_a_pass(backend, true);
}

/// `run-job` carries out a stop request as a pass does, and says so as it exits 1.
fn a_stop_request_stops_run_job_in_the_foreground(backend: Backend) {
    let db = Db::new(backend);
    let job = LongJob::new(&db);
    db.ok(T0, &["add", "long", "--retries", "2", "--", &job.command()]);
    let mut foreground = db.spawn(T0, &["run-job", "long"], "run-job.log");
    let pgid = job.wait_started();
    let id: i64 = db.lines("executions")[0].parse().unwrap();

    stop_and_see_the_group_end(&db, id, pgid);
    let code = foreground.wait_exit(exit_deadline(), "run-job to end");
    assert_eq!(code, 1, "{}", foreground.log());
    assert!(
        foreground
            .log()
            .contains(&format!("cronq: job long run {id} failed: {STOPPED}")),
        "{}",
        foreground.log()
    );
    assert_eq!(foreground.stdout(), "started\n", "the output is copied");
    let run = db.run(id);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"], STOPPED, "{run}");
    assert_eq!(run["output"], "started\n", "and recorded: {run}");
    assert_eq!(db.job("long")["last_status"], "failed");
}

/// The daemon's runner carries out a stop request, and the daemon goes on.
fn a_stop_request_stops_a_job_of_the_daemon(backend: Backend) {
    let db = Db::new(backend);
    let job = LongJob::new(&db);
    db.ok(T0, &["add", "long", "--retries", "2", "--", &job.command()]);
    db.ok(T0, &["add", "quick", "--", "true"]);
    let id = db.enqueue(T0, &["long"]);
    let mut daemon = db.spawn(T0, &["-v", "daemon", "--interval", "1"], "daemon.log");
    let pgid = job.wait_started();

    stop_and_see_the_group_end(&db, id, pgid);
    wait_within(
        exit_deadline(),
        "the daemon to record the stopped run",
        || db.run(id)["status"] == "failed",
    );
    // It goes on with its passes: a run queued now is carried out.
    let next = db.enqueue(T0, &["quick"]);
    wait_within(30, "the daemon's next run", || {
        db.run(next)["status"] == "success"
    });
    daemon.signal(libc::SIGTERM);
    let code = daemon.wait_exit(30, "the daemon to stop");
    let log = daemon.log();
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains(&format!("job long run {id} failed: {STOPPED}")),
        "{log}"
    );
    assert_stopped_for_good(&db, id, &job, STOPPED);
}

/// A runner killed (kill -9) while its job runs leaves the job running as an orphan;
/// recovery waits for such a job to end, but not when an operator asked to stop the run:
/// the next pass kills the job and records the run failed, without a retry.
fn a_stop_request_whose_runner_died_is_carried_out_by_the_next_pass(backend: Backend) {
    let db = Db::new(backend);
    let job = LongJob::new(&db);
    db.ok(T0, &["add", "long", "--retries", "2", "--", &job.command()]);
    let id = db.enqueue(T0, &["long"]);
    let mut pass = db.spawn(T0, &["run"], "pass.log");
    let pgid = job.wait_started();
    wait_within(30, "the runner to record the job's group", || {
        db.group_recorded(id)
    });
    let runner = pass.child.id();
    pass.child.kill().unwrap();
    pass.child.wait().unwrap();
    assert!(!group_gone(pgid), "the orphaned job runs on");

    db.ok(T0 + 30, &["stop", &id.to_string()]);
    // Without the request, recovery leaves an orphan alone.
    let out = db.output(T0 + 60, &["run"]);
    let log = text(&out.stderr);
    assert!(out.status.success(), "{log}");
    wait_within(10, "the job's group to end", || group_gone(pgid));
    let reason = format!(
        "stopped by an operator; its runner (pid {runner}) died while its job ran on; the job \
         was killed"
    );
    assert!(
        log.contains(&format!("job long run {id} failed: {reason} (recovered)")),
        "{log}"
    );
    assert_stopped_for_good(&db, id, &job, &reason);
}

/// Only a running run can be stopped: a pending one is canceled instead, an ended one
/// has nothing to stop, and an unknown id is no run. Each refusal changes nothing.
fn stop_is_refused_for_a_run_that_is_not_running(backend: Backend) {
    let db = Db::new(backend);
    db.ok(T0, &["add", "quick", "--", "true"]);
    let done = db.enqueue(T0, &["quick"]);
    db.ok(T0, &["run"]);
    let pending = db.enqueue(T0, &["quick"]);

    let said = db.refused(T0, &["stop", &pending.to_string()]);
    assert_eq!(
        said,
        format!(
            "cronq: error: run {pending} is pending; only a running run can be stopped \
             (cancel a pending one instead)\n"
        )
    );
    let said = db.refused(T0, &["stop", &done.to_string()]);
    assert_eq!(
        said,
        format!("cronq: error: run {done} succeeded; only a running run can be stopped\n")
    );
    let said = db.refused(T0, &["stop", "999"]);
    assert_eq!(
        said,
        "cronq: error: no run with id 999 (see `cronq runs`)\n"
    );

    assert_eq!(db.run(pending)["status"], "pending");
    assert_eq!(db.run(done)["status"], "success");
    db.ok(T0 + 60, &["run"]);
    assert_eq!(
        db.run(pending)["status"],
        "success",
        "the refusal left it queued"
    );
}

/// A canceled run is recorded skipped with who canceled it, and no pass runs it; it can
/// be retried like any skipped run. A running run cannot be canceled (it is stopped),
/// nor can an ended one.
fn cancel_ends_a_pending_run_unrun(backend: Backend) {
    let db = Db::new(backend);
    let marker = db.file("marker");
    db.ok(
        T0,
        &["add", "mark", "--", &format!("touch {}", marker.display())],
    );
    let id = db.enqueue(T0, &["mark"]);
    assert_eq!(db.ok(T0 + 5, &["cancel", &id.to_string()]), "");
    let run = db.run(id);
    assert_eq!(run["status"], "skipped", "{run}");
    assert_eq!(
        run["error"], "canceled by an operator (command line)",
        "{run}"
    );
    assert_eq!(run["finished_at"], rfc3339(T0 + 5), "{run}");
    assert_eq!(run["started_at"], Value::Null, "{run}");

    db.ok(T0 + 60, &["run"]);
    assert!(!marker.exists(), "a pass ran the canceled run");
    assert_eq!(db.run(id)["status"], "skipped");
    assert_eq!(
        db.job("mark")["last_status"],
        Value::Null,
        "{}",
        db.job("mark")
    );

    let said = db.refused(T0 + 60, &["cancel", &id.to_string()]);
    assert_eq!(
        said,
        format!("cronq: error: run {id} was skipped; only a pending run can be canceled\n")
    );
    assert_eq!(
        db.refused(T0, &["cancel", "999"]),
        "cronq: error: no run with id 999 (see `cronq runs`)\n"
    );

    // A run marked running, as a pass elsewhere would have it: no process is needed to
    // see the refusal, and no pass runs here while it is so marked.
    let other = db.enqueue(T0 + 60, &["mark"]);
    db.test.execute(&format!(
        "UPDATE runs SET status = 'running' WHERE id = {other}"
    ));
    let said = db.refused(T0 + 60, &["cancel", &other.to_string()]);
    assert_eq!(
        said,
        format!(
            "cronq: error: run {other} is running; only a pending run can be canceled \
             (stop a running one instead)\n"
        )
    );
    assert_eq!(db.run(other)["status"], "running");
    db.test.execute(&format!(
        "UPDATE runs SET status = 'skipped' WHERE id = {other}"
    ));

    // Changed one's mind: the canceled run is retried, and the next pass runs it.
    let again: i64 = db
        .ok(T0 + 120, &["retry", &id.to_string()])
        .trim()
        .parse()
        .unwrap();
    db.ok(T0 + 120, &["run"]);
    assert_eq!(db.run(again)["status"], "success");
    assert!(marker.exists());
}

/// A retry is a new pending run with the old run's job, target, data and priority, due
/// now; the next pass runs it, and the old run keeps its history. A success is not
/// retried, nor is a run whose job was removed.
fn retry_queues_a_new_run_like_an_ended_one(backend: Backend) {
    let db = Db::new(backend);
    let seen = db.file("seen");
    let ok = db.file("ok");
    // Fails the first time, succeeds after.
    let command = format!(
        "echo \"$CRONQ_TARGET_ID $CRONQ_TARGET_TYPE $CRONQ_DATA\" >> {seen}; \
         [ -e {ok} ] || {{ touch {ok}; exit 3; }}",
        seen = seen.display(),
        ok = ok.display()
    );
    db.ok(T0, &["add", "flaky", "--retries", "0", "--", &command]);
    let failed = db.enqueue(
        T0,
        &[
            "flaky",
            "--target-id",
            "7",
            "--target-type",
            "EmailAccount",
            "--data",
            r#"{"full": true}"#,
            "--priority",
            "5",
        ],
    );
    db.output(T0, &["run"]);
    assert_eq!(db.run(failed)["status"], "failed");

    let out = db.output(T0 + 60, &["-v", "retry", &failed.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: i64 = text(&out.stdout).trim().parse().unwrap();
    assert_ne!(id, failed);
    assert!(
        text(&out.stderr).contains(&format!("run {failed} queued again as run {id}")),
        "{}",
        text(&out.stderr)
    );
    let retry = db.run(id);
    assert_eq!(retry["status"], "pending", "{retry}");
    assert_eq!(retry["job"], "flaky", "{retry}");
    assert_eq!(retry["target_id"], "7", "{retry}");
    assert_eq!(retry["target_type"], "EmailAccount", "{retry}");
    assert_eq!(retry["data"], serde_json::json!({"full": true}), "{retry}");
    assert_eq!(retry["priority"], 5, "{retry}");
    assert_eq!(retry["due_at"], rfc3339(T0 + 60), "{retry}");
    assert_eq!(retry["attempt"], 1, "{retry}");
    assert_eq!(retry["max_attempts"], 1, "{retry}");
    assert_eq!(
        db.run(failed)["status"],
        "failed",
        "the old run stays as it was"
    );

    db.ok(T0 + 60, &["run"]);
    assert_eq!(db.run(id)["status"], "success");
    assert_eq!(
        db.lines("seen"),
        [r#"7 EmailAccount {"full": true}"#; 2],
        "the retry saw the same target and data"
    );

    let said = db.refused(T0 + 60, &["retry", &id.to_string()]);
    assert_eq!(
        said,
        format!(
            "cronq: error: run {id} succeeded; only a failed, skipped or missed run can be \
             retried\n"
        )
    );
    let pending = db.enqueue(T0 + 3600, &["flaky", "--at", &rfc3339(T0 + 7200)]);
    let said = db.refused(T0 + 3600, &["retry", &pending.to_string()]);
    assert!(
        said.contains(&format!("run {pending} is pending; only a failed")),
        "{said}"
    );
    assert_eq!(
        db.refused(T0, &["retry", "999"]),
        "cronq: error: no run with id 999 (see `cronq runs`)\n"
    );

    db.ok(T0 + 3600, &["remove", "flaky"]);
    let said = db.refused(T0 + 3600, &["retry", &failed.to_string()]);
    assert_eq!(
        said,
        format!("cronq: error: run {failed}'s job 'flaky' was removed; add it again to run it\n")
    );
}

on_both_backends!(
    a_stop_request_stops_the_job_of_a_sequential_pass,
    a_stop_request_stops_the_job_of_a_parallel_pass,
    a_stop_request_stops_run_job_in_the_foreground,
    a_stop_request_stops_a_job_of_the_daemon,
    a_stop_request_whose_runner_died_is_carried_out_by_the_next_pass,
    stop_is_refused_for_a_run_that_is_not_running,
    cancel_ends_a_pending_run_unrun,
    retry_queues_a_new_run_like_an_ended_one,
);
