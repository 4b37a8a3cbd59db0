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

/// A `printf` format (for `/bin/sh`) that prints every byte value once, 0x00 to 0xff.
fn printf_every_byte() -> String {
    let format: String = (0..=255u8).map(|b| format!("\\{b:03o}")).collect();
    format!("printf '{format}'")
}

fn every_byte() -> Vec<u8> {
    (0..=255u8).collect()
}

/// Sets columns of run `id` directly, as any writer (an older release, a script) may have.
fn set_run_columns(db: &Path, id: i64, assignments: &str, values: &[&dyn rusqlite::ToSql]) {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let changed = conn
        .execute(
            &format!("UPDATE runs SET {assignments} WHERE id = {id}"),
            values,
        )
        .expect("update the run");
    assert_eq!(changed, 1);
}

/// Runs `cronq ... ARGS` under `script`, so that its stdout is a terminal; returns what the
/// terminal received, with the terminal's `\r\n` line ends back as `\n`.
fn on_a_terminal(db: &Db, args: &str) -> Vec<u8> {
    let command = format!(
        "'{}' --db '{}' --now {NOW} {args}",
        assert_cmd::cargo::cargo_bin("cronq").display(),
        db.path.display()
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    assert!(output.status.success(), "cronq {args} on a terminal failed");
    let mut bytes = Vec::with_capacity(output.stdout.len());
    for (i, &b) in output.stdout.iter().enumerate() {
        if !(b == b'\r' && output.stdout.get(i + 1) == Some(&b'\n')) {
            bytes.push(b);
        }
    }
    bytes
}

/// Whether `bytes` hold a control character a terminal acts on: C0 but `\n` and `\t`,
/// DEL, or a C1 control (as a raw byte or encoded in UTF-8).
fn has_terminal_controls(bytes: &[u8]) -> bool {
    // A byte 0x80 to 0x9f inside a valid UTF-8 character (`…` is e2 80 a6) is no control.
    bytes.utf8_chunks().any(|chunk| {
        chunk
            .valid()
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
            || chunk.invalid().iter().any(|b| (0x80..0xa0).contains(b))
    })
}

#[test]
fn binary_output_is_kept_as_at_most_64_kib_of_bytes_and_show_raw_returns_them_exactly() {
    let db = Db::new();
    let command = format!(
        "printf '\\033]0;pwned\\007'; head -c 100000 /dev/urandom; {}",
        printf_every_byte()
    );
    db.ok(&["add", "binary", "--", &command]);
    db.ok(&["enqueue", "binary"]);
    db.ok(&["run"]);
    assert_eq!(db.last_run_of("binary")["status"], "success");

    let raw = db
        .cronq(&["show", "1", "--raw"])
        .output()
        .expect("cronq runs");
    assert!(raw.status.success(), "{}", text(&raw.stderr));
    let written = 10 + 100_000 + 256;
    let note = format!(
        "[cronq: {} earlier bytes of output not kept]\n",
        written - 64 * 1024
    );
    assert_eq!(raw.stdout.len(), note.len() + 64 * 1024);
    assert!(raw.stdout.starts_with(note.as_bytes()));
    assert!(raw.stdout.ends_with(&every_byte()));

    // JSON has no bytes: there the output is text, invalid UTF-8 replaced by U+FFFD.
    let json: Value =
        serde_json::from_str(&db.ok(&["show", "1", "--json"])).expect("show --json is JSON");
    let output = json["output"].as_str().expect("output is a string");
    assert!(output.starts_with(&note), "{}", &output[..80]);
    assert!(output.contains('\u{fffd}'));
}

#[test]
fn show_raw_writes_only_the_output_and_reads_text_rows_of_the_previous_release() {
    let db = Db::new();
    db.ok(&["add", "bytes", "--", &printf_every_byte()]);
    db.ok(&["run-job", "bytes"]);
    let raw = db
        .cronq(&["show", "1", "--raw"])
        .output()
        .expect("cronq runs");
    assert_eq!(raw.stdout, every_byte());

    // The previous release stored output as TEXT.
    set_run_columns(&db.path, 1, "output = ?1", &[&"old\ntext"]);
    let raw = db
        .cronq(&["show", "1", "--raw"])
        .output()
        .expect("cronq runs");
    assert_eq!(text(&raw.stdout), "old\ntext");
    let json: Value = serde_json::from_str(&db.ok(&["show", "1", "--json"])).expect("JSON");
    assert_eq!(json["output"], "old\ntext");

    db.cronq(&["show", "1", "--raw", "--json"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot be used with"));
}

/// A run of a job that prints an OSC title sequence and bytes that are not UTF-8, with
/// escape sequences in its target id, target type, data and reason.
fn run_with_escape_sequences() -> Db {
    let db = Db::new();
    db.ok(&[
        "add",
        "hostile",
        "--",
        "printf 'title \\033]0;pwned\\007 bytes \\200\\377 c1 \\302\\233 tab\\there\\n'",
    ]);
    db.ok(&["run-job", "hostile"]);
    set_run_columns(
        &db.path,
        1,
        "target_id = ?1, target_type = ?2, data = ?3, error = ?4",
        &[
            &"\u{1b}]0;pwned\u{7}",
            &"Account\u{1b}[2J",
            &"\"\u{9b}31m\"",
            &"line\nbreak\r",
        ],
    );
    db
}

const HOSTILE_OUTPUT: &[u8] = b"title \x1b]0;pwned\x07 bytes \x80\xff c1 \xc2\x9b tab\there\n";
const ESCAPED_OUTPUT: &str = "title \\x1b]0;pwned\\x07 bytes \\x80\\xff c1 \\u{9b} tab\there\n";
const ESCAPED_FIELDS: &str = "target id: \\x1b]0;pwned\\x07\n\
     target type: Account\\x1b[2J\n\
     data: \"\\u{9b}31m\"\n\
     reason: line\\x0abreak\\x0d\n";

#[test]
fn show_escapes_untrusted_fields_and_writes_the_output_as_bytes_to_a_pipe() {
    let db = run_with_escape_sequences();
    let shown = db.cronq(&["show", "1"]).output().expect("cronq runs");
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let separator = b"output:\n";
    let at = shown
        .stdout
        .windows(separator.len())
        .position(|w| w == separator)
        .expect("an output section");
    let (fields, output) = shown.stdout.split_at(at + separator.len());
    assert!(!has_terminal_controls(fields), "{}", text(fields));
    assert!(text(fields).contains(ESCAPED_FIELDS), "{}", text(fields));
    assert_eq!(output, HOSTILE_OUTPUT);
}

#[test]
fn show_on_a_terminal_escapes_the_output_too() {
    let db = run_with_escape_sequences();
    let screen = on_a_terminal(&db, "show 1");
    assert!(!has_terminal_controls(&screen), "{}", text(&screen));
    let screen = text(&screen);
    assert!(screen.contains(ESCAPED_FIELDS), "{screen}");
    assert!(
        screen.ends_with(&format!("output:\n{ESCAPED_OUTPUT}")),
        "{screen}"
    );
}

#[test]
fn tables_escape_their_cells() {
    let db = run_with_escape_sequences();
    db.ok(&["add", "titled", "--", "echo \u{1b}]0;pwned\u{7}"]);
    let jobs = db.ok(&["jobs"]);
    assert!(!has_terminal_controls(jobs.as_bytes()), "{jobs}");
    assert!(jobs.contains("echo \\x1b]0;pwned\\x07"), "{jobs}");
    let runs = db.ok(&["runs"]);
    assert!(!has_terminal_controls(runs.as_bytes()), "{runs}");
    assert!(runs.contains("line\\x0abreak\\x0d"), "{runs}");
    // The same on a terminal.
    let screen = on_a_terminal(&db, "jobs");
    assert!(!has_terminal_controls(&screen), "{}", text(&screen));
}

#[test]
fn run_job_times_out_on_time_when_nobody_reads_its_stdout() {
    let db = Db::new();
    db.ok(&[
        "add",
        "chatty",
        "--timeout",
        "2",
        "--",
        "head -c 4000000 /dev/zero | tr '\\0' x; sleep 60",
    ]);
    // stdout: a pipe that stays open but that nobody reads.
    let (unread, writer) = std::io::pipe().expect("a pipe");
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(&db.path)
        .args(["--now", NOW, "run-job", "chatty"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("cronq runs");
    // No clock to inject here: the timeout is real time. Poll the real process.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cronq") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("run-job still running after 30 s: its timeout of 2 s did not fire");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    drop(unread);
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr is piped"), &mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        elapsed < std::time::Duration::from_secs(15),
        "run-job took {elapsed:?}"
    );
    assert!(stderr.contains("timed out after 2 s"), "{stderr}");
    assert_eq!(
        stderr
            .matches("stopped copying the job's output to stdout")
            .count(),
        1,
        "{stderr}"
    );
    let run = db.last_run_of("chatty");
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"], "timed out after 2 s", "{run:#}");
}
