//! What cron mails (docs/scheduling.md#what-cron-mails): a pass prints only what needs a
//! person. A run that failed for good is one warning, with its last output lines; a failed
//! attempt that a retry may still make good is logged at `-v` only; a success prints
//! nothing. In parallel mode each child reports its own run and the parent adds nothing.
//! Each test runs on both backends (`sqlite::NAME`, `postgres::NAME`).

mod common;

use common::{rfc3339, Backend, TestDb, START};
use std::process::Output;

/// The hourly slot 10:00 of START's day.
const SLOT: i64 = START + 3600;

/// A job that writes 15 numbered lines, a terminal escape on stderr, and exits 3.
const FAILING: &str =
    "for i in $(seq 1 15); do echo line $i; done; printf 'bad \\033]0;title\\007\\n' >&2; exit 3";

struct Scratch {
    db: TestDb,
}

impl Scratch {
    fn new(backend: Backend, parallel: bool) -> Scratch {
        let scratch = Scratch {
            db: TestDb::new(backend),
        };
        if parallel {
            scratch.ok(START, &["settings", "jobs_run_in_parallel", "true"]);
        }
        scratch
    }

    /// `cronq --db DB --now NOW ARGS...`, with nothing leaking in from the environment.
    fn cronq(&self, now: i64, args: &[&str]) -> Output {
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

    fn ok(&self, now: i64, args: &[&str]) {
        let out = self.cronq(now, args);
        assert!(
            out.status.success(),
            "cronq {args:?}: {}",
            text(&out.stderr)
        );
    }

    /// A pass at `now`, with `flags` (`-v`) before `run`; what it printed.
    fn pass(&self, now: i64, flags: &[&str]) -> (String, String) {
        let mut args = flags.to_vec();
        args.push("run");
        let out = self.cronq(now, &args);
        (text(&out.stdout), text(&out.stderr))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failing hourly job with one retry: the first pass fails its first attempt, the
/// second (after the backoff) fails it for good. What each pass wrote to stderr.
fn failing_twice(backend: Backend, parallel: bool, flags: &[&str]) -> (String, String) {
    let s = Scratch::new(backend, parallel);
    s.ok(
        START,
        &[
            "add",
            "f",
            "--schedule",
            "0 * * * *",
            "--retries",
            "1",
            "--",
            FAILING,
        ],
    );
    let (out1, first) = s.pass(SLOT + 5, flags);
    // The first retry waits 60–90 s.
    let (out2, second) = s.pass(SLOT + 5 + 120, flags);
    assert_eq!(out1 + &out2, "", "a pass writes nothing to stdout");
    (first, second)
}

fn assert_failed_for_good_once(second: &str) {
    assert_eq!(second.matches("warning").count(), 1, "{second}");
    assert_eq!(
        second.matches("job f run 1 failed: exit status 3").count(),
        1,
        "{second}"
    );
    assert!(second.contains("(attempt 2 of 2)"), "{second}");
    // The last 10 lines: line 7 … line 15 and the escaped stderr line.
    assert!(second.contains("last 10 lines of its output"), "{second}");
    for n in 7..=15 {
        assert!(
            second.contains(&format!("  | line {n}\n")),
            "line {n}: {second}"
        );
    }
    assert!(!second.contains("line 6\n"), "{second}");
    assert!(second.contains("  | bad \\x1b]0;title\\x07"), "{second}");
    assert!(
        !second.contains('\x1b'),
        "a control character reached stderr"
    );
}

fn a_failure_is_mailed_once_when_no_retry_is_left(backend: Backend) {
    let (first, second) = failing_twice(backend, false, &[]);
    assert_eq!(
        first, "",
        "a failed attempt with a retry left is not mailed"
    );
    assert_failed_for_good_once(&second);
}

fn a_failed_attempt_with_a_retry_left_is_logged_at_verbose(backend: Backend) {
    let (first, second) = failing_twice(backend, false, &["-v"]);
    assert!(
        first.contains("info: job f run 1 attempt 1 of 2 failed: exit status 3; retrying at"),
        "{first}"
    );
    assert!(!first.contains("warning"), "{first}");
    assert_failed_for_good_once(&second);
}

fn parallel_mode_mails_a_failure_once(backend: Backend) {
    let (first, second) = failing_twice(backend, true, &[]);
    assert_eq!(
        first, "",
        "a failed attempt with a retry left is not mailed"
    );
    assert_failed_for_good_once(&second);
}

fn parallel_children_log_at_the_parents_verbosity(backend: Backend) {
    let (first, second) = failing_twice(backend, true, &["-v"]);
    assert!(first.contains("attempt 1 of 2 failed"), "{first}");
    assert!(!first.contains("warning"), "{first}");
    assert_failed_for_good_once(&second);
}

fn a_job_without_retries_is_mailed_at_its_first_failure(backend: Backend) {
    let s = Scratch::new(backend, false);
    s.ok(
        START,
        &[
            "add",
            "g",
            "--schedule",
            "0 * * * *",
            "--retries",
            "0",
            "--",
            "echo only; exit 4",
        ],
    );
    let (_, err) = s.pass(SLOT + 5, &[]);
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    assert!(err.contains("job g run 1 failed: exit status 4\n"), "{err}");
    assert!(
        err.contains("its output (all of it: cronq show 1):\n  | only\n"),
        "{err}"
    );
}

fn a_job_that_succeeds_prints_nothing(backend: Backend) {
    for parallel in [false, true] {
        let s = Scratch::new(backend, parallel);
        s.ok(
            START,
            &[
                "add",
                "ok",
                "--schedule",
                "0 * * * *",
                "--",
                "echo fine; echo also >&2",
            ],
        );
        let out = s.cronq(SLOT + 5, &["run"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "parallel {parallel}");
        assert_eq!(text(&out.stderr), "", "parallel {parallel}");
    }
}

fn the_daemon_mails_a_failure_once(backend: Backend) {
    let s = Scratch::new(backend, false);
    s.ok(START, &["add", "once", "--retries", "0", "--", FAILING]);
    s.ok(START, &["add", "twice", "--retries", "1", "--", FAILING]);
    s.ok(START, &["enqueue", "once"]);
    s.ok(START, &["enqueue", "twice"]);
    let log = s.db.dir.path().join("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"))
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(s.db.arg())
        .arg("--now")
        .arg(rfc3339(START))
        .args(["daemon", "--interval", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let runs = || {
        let out = s.cronq(START, &["runs", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    common::wait_for("both runs to end an attempt", || {
        let runs = runs();
        let runs = runs.as_array().unwrap();
        runs.len() == 2
            && runs
                .iter()
                .all(|r| r["status"] == "failed" || r["attempt"] == 2)
    });
    // A few more passes: none may repeat the warning.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // SAFETY: kill has no memory effects; the daemon is this test's own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(
        stderr.contains("job once run 1 failed: exit status 3\n"),
        "{stderr}"
    );
    assert!(stderr.contains("  | line 15\n"), "{stderr}");
}

on_both_backends!(
    the_daemon_mails_a_failure_once,
    a_failure_is_mailed_once_when_no_retry_is_left,
    a_failed_attempt_with_a_retry_left_is_logged_at_verbose,
    parallel_mode_mails_a_failure_once,
    parallel_children_log_at_the_parents_verbosity,
    a_job_without_retries_is_mailed_at_its_first_failure,
    a_job_that_succeeds_prints_nothing,
);
