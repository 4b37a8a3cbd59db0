//! What cronq writes, as an operator meets it: a job's output is bytes, kept to a bounded
//! tail and never written raw to a terminal; a closed stdout or stderr never makes cronq
//! panic; and a reader that stops reading `run-job`'s output cannot hold back its timeout.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tempfile::TempDir;

/// Every test pins the clock to this instant (a Monday).
const NOW: &str = "2026-11-23T09:00:00Z";

/// A database in a directory of its own.
struct Db {
    _dir: TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = TempDir::new().expect("a temporary directory");
        let path = dir.path().join("cronq.db");
        Db { _dir: dir, path }
    }

    /// `cronq --db DB --now NOW ARGS...` with nothing leaking in from the test's shell.
    fn cronq(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cronq").expect("the cronq binary is built");
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .arg("--db")
            .arg(&self.path)
            .args(["--now", NOW])
            .args(args);
        cmd
    }

    /// Runs a command that must succeed; returns its stdout as text.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cronq(args).output().expect("cronq runs");
        assert!(
            output.status.success(),
            "cronq {args:?} failed: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// The newest run of `job`, as `runs --json` shows it.
    fn last_run_of(&self, job: &str) -> Value {
        let runs: Value =
            serde_json::from_str(&self.ok(&["runs", "--job", job, "--json"])).expect("JSON");
        runs[0].clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `cronq --db DB --now NOW ARGS...` with both stdout and stderr one pipe whose
/// reader has already gone (as in `cronq ... 2>&1 | true`); returns the exit code.
fn with_closed_stdout_and_stderr(db: &Path, args: &[&str]) -> Option<i32> {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(db)
        .args(["--now", NOW])
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().expect("a second handle on the pipe"))
        .stderr(writer)
        .status()
        .expect("cronq runs");
    status.code()
}

#[test]
fn a_closed_stderr_never_makes_cronq_panic_and_the_run_is_still_recorded() {
    let db = Db::new();
    db.ok(&[
        "add",
        "failing",
        "--retries",
        "0",
        "--",
        "echo trying; exit 3",
    ]);

    // run-job writes the job's output, then its failure, to the closed pipe.
    let code = with_closed_stdout_and_stderr(&db.path, &["run-job", "failing"]);
    assert_eq!(code, Some(1), "run-job of a failing job");
    let run = db.last_run_of("failing");
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"], "exit status 3", "{run:#}");

    // Errors (exit 2) whose message cannot be written.
    for args in [
        &["show", "99"][..],
        &["settings", "no_such_setting"],
        &["enqueue", "no_such_job"],
        &["run-job", "no_such_job"],
    ] {
        let code = with_closed_stdout_and_stderr(&db.path, args);
        assert_eq!(code, Some(2), "cronq {args:?} 2>&1 | (closed)");
    }

    // A pass logs its failed run through the logger, to the closed pipe.
    db.ok(&["enqueue", "failing"]);
    let code = with_closed_stdout_and_stderr(&db.path, &["run"]);
    assert_eq!(code, Some(1), "run with a failing job");
    let run = db.last_run_of("failing");
    assert_eq!(run["id"], 2, "{run:#}");
    assert_eq!(run["status"], "failed", "{run:#}");
}

#[test]
fn a_closed_stderr_pipe_is_the_same_from_a_shell() {
    // The shape operators meet: `cronq run-job failing 2>&1 | true`.
    let db = Db::new();
    db.ok(&[
        "add",
        "failing",
        "--retries",
        "0",
        "--",
        "echo trying; exit 3",
    ]);
    let script = format!(
        "'{}' --db '{}' --now {NOW} run-job failing 2>&1 | true; echo ${{PIPESTATUS[0]}}",
        assert_cmd::cargo::cargo_bin("cronq").display(),
        db.path.display()
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash runs");
    assert_eq!(
        text(&output.stdout),
        "1\n",
        "exit code of run-job failing 2>&1 | true"
    );
    assert_eq!(db.last_run_of("failing")["status"], "failed");
}
