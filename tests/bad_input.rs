//! Bad input, as an operator meets it: every refusal exits 2 with a message on stderr that
//! names what is wrong, nothing panics (exit 101 never), and a refused command leaves the
//! database exactly as it was (design §6).

use assert_cmd::Command;
use rusqlite::types::Value as SqlValue;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use tempfile::TempDir;

/// Every test pins the clock to this instant (a Monday).
const NOW: &str = "2026-11-23T09:00:00Z";

/// `cronq` with an environment of its own: no database, clock or log filter leaks in from
/// the shell that runs the tests.
fn cronq() -> Command {
    let mut cmd = Command::cargo_bin("cronq").expect("the cronq binary is built");
    cmd.env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that no panic happened, whatever else went wrong.
fn assert_no_panic(output: &Output, what: &str) {
    let stderr = text(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(101),
        "{what}: cronq panicked (exit 101); stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{what}: cronq panicked; stderr:\n{stderr}"
    );
}

/// Every row of every table (and the schema and its version), to prove that a refused
/// command changed nothing.
fn snapshot(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open the database to inspect it");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    let mut lines = vec![format!("user_version={version}")];
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in std::iter::once("sqlite_master".to_string()).chain(tables) {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                let values: Vec<SqlValue> =
                    (0..columns).map(|i| row.get(i)).collect::<Result<_, _>>()?;
                Ok(format!("{table}: {values:?}"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        lines.extend(rows);
    }
    lines
}

/// A database in a directory of its own.
struct Db {
    _dir: TempDir,
    path: PathBuf,
}

impl Db {
    /// A fresh database holding only the built-in Cleanup job.
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronq.db");
        let db = Db { _dir: dir, path };
        db.ok(&["jobs"]);
        db
    }

    /// A database with something in every table: a scheduled job `Nightly`, a job `Tgt`
    /// that requires a target, a finished run, a queued run and a changed setting.
    fn seeded() -> Db {
        let db = Db::new();
        db.ok(&[
            "add",
            "Nightly",
            "--schedule",
            "0 3 * * *",
            "--",
            "echo nightly",
        ]);
        db.ok(&[
            "add",
            "Tgt",
            "--requires-target",
            "--",
            "echo $CRONQ_TARGET_ID",
        ]);
        db.ok(&["run-job", "Nightly"]);
        db.ok(&["enqueue", "Nightly", "--at", "2026-11-24T00:00:00Z"]);
        db.ok(&["settings", "jobs_max_portion", "7"]);
        db
    }

    /// `cronq --db DB ARGS...` (no pinned clock: for tests of --now itself).
    fn bare(&self, args: &[&str]) -> Output {
        cronq()
            .arg("--db")
            .arg(&self.path)
            .args(args)
            .output()
            .unwrap()
    }

    /// `cronq --db DB --now NOW ARGS...`
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--now", NOW];
        all.extend_from_slice(args);
        self.bare(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "cronq {args:?} failed: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    /// Runs `cronq --db DB --now NOW ARGS...`, expects it to be refused with exit 2, stderr
    /// holding every one of `fragments`, nothing on stdout, and the database unchanged.
    /// Returns stderr for further checks.
    fn refuse(&self, args: &[&str], fragments: &[&str]) -> String {
        let mut all = vec!["--now", NOW];
        all.extend_from_slice(args);
        self.refuse_bare(&all, fragments)
    }

    /// Like `refuse`, without the pinned clock.
    fn refuse_bare(&self, args: &[&str], fragments: &[&str]) -> String {
        let before = snapshot(&self.path);
        let output = self.bare(args);
        let what = format!("cronq {args:?}");
        assert_no_panic(&output, &what);
        let stderr = text(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{what}: expected exit 2 (bad input); stderr:\n{stderr}"
        );
        for fragment in fragments {
            assert!(
                stderr.contains(fragment),
                "{what}: stderr should mention {fragment:?}; it was:\n{stderr}"
            );
        }
        assert_eq!(
            text(&output.stdout),
            "",
            "{what}: a refusal prints nothing on stdout"
        );
        assert_eq!(
            snapshot(&self.path),
            before,
            "{what}: a refused command changed the database"
        );
        stderr
    }
}

/// Schedules that must be refused, each with words its message must contain.
const BAD_SCHEDULES: &[(&str, &[&str])] = &[
    // Six or seven fields: cronq has no seconds or year field.
    ("0 0 * * * *", &["5 fields", "found 6"]),
    ("0 0 0 * * * 2026", &["5 fields", "found 7"]),
    ("* * * *", &["5 fields", "found 4"]),
    ("", &["5 fields", "found 0"]),
    // Out of range: the message names the field and the allowed range.
    ("60 * * * *", &["minute", "60", "0-59"]),
    ("0 24 * * *", &["hour", "24", "0-23"]),
    ("0 0 32 * *", &["day-of-month", "32", "1-31"]),
    ("0 0 0 * *", &["day-of-month", "1-31"]),
    ("0 0 * 13 *", &["month", "13", "1-12"]),
    ("0 0 * * 8", &["day-of-week", "8", "0-7"]),
    ("*/0 * * * *", &["minute", "step", "1-59"]),
    // Empty list items.
    ("1,,2 * * * *", &["minute", "empty"]),
    ("0 1, * * *", &["hour", "empty"]),
    // Backwards ranges and unknown macros.
    ("5-1 * * * *", &["minute", "5-1"]),
    ("@often", &["@often", "@daily"]),
    // Schedules that can never fire.
    ("0 0 30 2 *", &["never fire"]),
    ("0 0 31 4 *", &["never fire"]),
];

#[test]
fn add_refuses_bad_schedules_naming_the_field_and_range() {
    let db = Db::seeded();
    for (expression, fragments) in BAD_SCHEDULES {
        let mut wanted = vec!["invalid schedule"];
        wanted.extend_from_slice(fragments);
        db.refuse(
            &["add", "Broken", "--schedule", expression, "--", "echo hi"],
            &wanted,
        );
    }
    // Nothing called Broken came into being.
    assert!(!db.ok(&["jobs"]).contains("Broken"));
}

#[test]
fn next_refuses_bad_schedules_naming_the_field_and_range() {
    let db = Db::new();
    for (expression, fragments) in BAD_SCHEDULES {
        let mut wanted = vec!["invalid schedule"];
        wanted.extend_from_slice(fragments);
        db.refuse(&["next", expression], &wanted);
    }
}

#[test]
fn edit_refuses_a_bad_schedule_and_keeps_the_old_one() {
    let db = Db::seeded();
    db.refuse(
        &["edit", "Nightly", "--schedule", "0 0 30 2 *"],
        &["invalid schedule", "never fire"],
    );
    db.refuse(
        &["edit", "Nightly", "--schedule", "61 * * * *"],
        &["minute", "0-59"],
    );
    assert!(db.ok(&["jobs"]).contains("0 3 * * *"));
}

#[test]
fn an_unknown_job_is_refused_with_the_available_names() {
    let db = Db::seeded();
    let commands: &[&[&str]] = &[
        &["run-job", "Nope"],
        &["enqueue", "Nope"],
        &["edit", "Nope", "--schedule", "* * * * *"],
        &["remove", "Nope"],
        &["enable", "Nope"],
        &["disable", "Nope"],
        &["runs", "--job", "Nope"],
    ];
    for args in commands {
        let stderr = db.refuse(args, &["unknown job", "Nope", "available jobs:"]);
        let listed = &stderr[stderr.find("available jobs:").unwrap()..];
        for name in ["Cleanup", "Nightly", "Tgt"] {
            assert!(
                listed.contains(name),
                "cronq {args:?}: the available jobs should include {name}: {stderr}"
            );
        }
    }
}

#[test]
fn add_refuses_invalid_job_names() {
    let db = Db::seeded();
    let too_long = "x".repeat(65);
    for name in [
        "has space",
        "a/b",
        "",
        "tab\tname",
        "caf\u{e9}",
        too_long.as_str(),
    ] {
        db.refuse(
            &["add", name, "--", "echo hi"],
            &["invalid job name", "A-Z a-z 0-9 _ . -"],
        );
    }
}

#[test]
fn add_refuses_a_name_that_exists() {
    let db = Db::seeded();
    db.refuse(
        &["add", "Nightly", "--", "echo again"],
        &["Nightly", "already exists", "cronq edit Nightly"],
    );
    db.refuse(
        &["add", "Cleanup", "--builtin", "Cleanup"],
        &["Cleanup", "already exists"],
    );
}

#[test]
fn add_refuses_a_job_without_a_command_or_builtin() {
    let db = Db::seeded();
    db.refuse(
        &["add", "Idle", "--schedule", "* * * * *"],
        &["--", "--builtin"],
    );
    // Words that are only blanks are no command either.
    db.refuse(&["add", "Idle", "--", " "], &["--builtin"]);
}

#[test]
fn add_refuses_an_unknown_builtin() {
    let db = Db::seeded();
    db.refuse(
        &["add", "Sweep", "--builtin", "Sweeper"],
        &["unknown built-in job 'Sweeper'", "Cleanup"],
    );
}

#[test]
fn a_job_that_requires_a_target_cannot_have_a_schedule() {
    let db = Db::seeded();
    db.refuse(
        &[
            "add",
            "Both",
            "--requires-target",
            "--schedule",
            "* * * * *",
            "--",
            "echo hi",
        ],
        &[
            "requires a target",
            "schedule",
            "cronq enqueue Both --target-id",
        ],
    );
    // Nor can either be added later to a job that has the other.
    db.refuse(
        &["edit", "Tgt", "--schedule", "* * * * *"],
        &["requires a target"],
    );
    db.refuse(
        &["edit", "Nightly", "--requires-target"],
        &["requires a target"],
    );
}

#[test]
fn a_job_that_requires_a_target_is_not_run_or_queued_without_one() {
    let db = Db::seeded();
    db.refuse(
        &["run-job", "Tgt"],
        &["Tgt", "requires a target", "--target-id"],
    );
    db.refuse(
        &["enqueue", "Tgt"],
        &["Tgt", "requires a target", "--target-id"],
    );
    // A target type alone is not a target.
    db.refuse(
        &["enqueue", "Tgt", "--target-type", "Account"],
        &["--target-id"],
    );
}

#[test]
fn data_must_be_valid_json() {
    let db = Db::seeded();
    for data in ["{bad", "", "{'k': 1}", "[1,", "nope"] {
        db.refuse(
            &["enqueue", "Nightly", "--data", data],
            &["--data", "not valid JSON"],
        );
        db.refuse(
            &["run-job", "Nightly", "--data", data],
            &["--data", "not valid JSON"],
        );
    }
}

#[test]
fn times_must_be_rfc3339() {
    let db = Db::seeded();
    let hint = "RFC 3339 time like 2026-11-23T09:00:00Z";
    for bad in [
        "yesterday",
        "2026-11-23 09:00",
        "2026-11-23",
        "2026-13-01T00:00:00Z",
    ] {
        // --now and --at also take a local date and time (tests/inputs.rs).
        if bad != "2026-11-23 09:00" {
            db.refuse_bare(&["--now", bad, "jobs"], &["--now", bad, hint]);
            db.refuse(&["enqueue", "Nightly", "--at", bad], &["--at", bad, hint]);
        }
        db.refuse(
            &["next", "* * * * *", "--after", bad],
            &["--after", bad, hint],
        );
    }
    // CRONQ_NOW is checked like --now.
    let before = snapshot(&db.path);
    let output = cronq()
        .env("CRONQ_NOW", "soon")
        .arg("--db")
        .arg(&db.path)
        .arg("jobs")
        .output()
        .unwrap();
    assert_no_panic(&output, "CRONQ_NOW=soon cronq jobs");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains(hint));
    assert_eq!(snapshot(&db.path), before);
}

#[test]
fn settings_refuse_unknown_keys_and_list_the_known_ones() {
    let db = Db::seeded();
    let known = [
        "unknown setting 'bogus'",
        "jobs_max_portion",
        "cleanup_period",
    ];
    db.refuse(&["settings", "bogus"], &known);
    db.refuse(&["settings", "bogus", "1"], &known);
    // The key name is exact: no case folding.
    db.refuse(&["settings", "JOBS_MAX_PORTION", "3"], &["unknown setting"]);
}

#[test]
fn settings_refuse_bad_values_naming_the_accepted_ones() {
    let db = Db::seeded();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "jobs_max_portion",
            "0",
            &["jobs_max_portion", "'0'", "1 to 100000"],
        ),
        (
            "jobs_max_portion",
            "-1",
            &["jobs_max_portion", "1 to 100000"],
        ),
        ("jobs_max_portion", "many", &["jobs_max_portion", "'many'"]),
        ("jobs_max_portion", "1.5", &["jobs_max_portion", "'1.5'"]),
        ("job_retries", "101", &["job_retries", "0 to 100"]),
        ("cleanup_period", "0", &["cleanup_period"]),
        (
            "jobs_run_in_parallel",
            "maybe",
            &["jobs_run_in_parallel", "true or false"],
        ),
    ];
    for (key, value, fragments) in cases {
        // `--` lets a negative number through as a value.
        db.refuse(&["settings", "--", key, value], fragments);
    }
    // The value set before is still in force.
    assert_eq!(db.ok(&["settings", "jobs_max_portion"]), "7\n");
}

#[test]
fn runs_refuses_an_unknown_status_listing_the_known_ones() {
    let db = Db::seeded();
    db.refuse(
        &["runs", "--status", "bogus"],
        &[
            "unknown run status 'bogus'",
            "pending",
            "success",
            "failed",
            "missed",
        ],
    );
}

#[test]
fn show_refuses_a_run_that_does_not_exist() {
    let db = Db::seeded();
    db.refuse(&["show", "999"], &["no run with id 999", "cronq runs"]);
    db.refuse(&["show", "first"], &["'first'"]);
}

#[test]
fn the_builtin_cleanup_job_cannot_be_removed() {
    let db = Db::seeded();
    db.refuse(
        &["remove", "Cleanup"],
        &["Cleanup", "built in", "cronq disable Cleanup"],
    );
    db.refuse(&["edit", "Cleanup", "--", "echo hi"], &["built-in"]);
    assert!(db.ok(&["jobs"]).contains("Cleanup"));
}

#[test]
fn numbers_and_policies_out_of_range_are_refused() {
    let db = Db::seeded();
    db.refuse(&["runs", "--limit", "0"], &["--limit", "'0'"]);
    db.refuse(&["next", "* * * * *", "--count", "0"], &["--count", "'0'"]);
    db.refuse(
        &["add", "T", "--timeout", "0", "--", "echo"],
        &["--timeout", "'0'"],
    );
    db.refuse(&["add", "T", "--retries", "-1", "--", "echo"], &["-1"]);
    db.refuse(
        &["add", "T", "--catchup", "sometimes", "--", "echo"],
        &["unknown catch-up policy 'sometimes'", "latest, all, skip"],
    );
    db.refuse(
        &["add", "T", "--overlap", "maybe", "--", "echo"],
        &["unknown overlap policy 'maybe'", "skip, allow"],
    );
    db.refuse(
        &["enqueue", "Nightly", "--priority", "high"],
        &["--priority", "'high'"],
    );
    db.refuse(&["frobnicate"], &["frobnicate"]);
}

/// A file that is not an SQLite database, as --db.
fn not_a_database() -> (TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let bytes = b"these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &bytes).unwrap();
    (dir, path, bytes)
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let (dir, path, bytes) = not_a_database();
    let commands: &[&[&str]] = &[
        &["jobs"],
        &["runs"],
        &["run"],
        &["settings"],
        &["settings", "jobs_max_portion", "3"],
        &["add", "Job", "--", "echo hi"],
        &["run-job", "Cleanup"],
        &["enqueue", "Cleanup"],
    ];
    for args in commands {
        let output = cronq()
            .arg("--db")
            .arg(&path)
            .args(["--now", NOW])
            .args(*args)
            .output()
            .unwrap();
        let what = format!("cronq --db notes.txt {args:?}");
        assert_no_panic(&output, &what);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: stderr:\n{stderr}");
        assert!(
            stderr.contains("notes.txt") && stderr.contains("not an SQLite database"),
            "{what}: the message should name the file and the problem: {stderr}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: file changed");
    }
    // SQLite left no journal beside it either.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-wal") || n.contains("-shm") || n.contains("-journal"))
        .collect();
    names.sort();
    assert_eq!(names, Vec::<String>::new());
}

#[test]
fn an_sqlite_database_of_something_else_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('Ada');",
        )
        .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let output = cronq()
        .arg("--db")
        .arg(&path)
        .args(["--now", NOW, "jobs"])
        .output()
        .unwrap();
    assert_no_panic(&output, "cronq --db other.sqlite jobs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("something else"), "{stderr}");
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "the foreign database's bytes changed"
    );
}

#[test]
fn a_foreign_database_in_wal_mode_is_left_without_new_files_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT);")
            .unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let bytes = std::fs::read(&path).unwrap();
    let output = cronq()
        .arg("--db")
        .arg(&path)
        .args(["--now", NOW, "run"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let mut after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    after.sort();
    let mut before = before;
    before.sort();
    assert_eq!(after, before, "files appeared beside the refused database");
    assert!(std::fs::read(&path).unwrap() == bytes);
}

/// Runs `cronq --db DB --now NOW ARGS...` with stdout a pipe whose read end is already
/// closed, and returns the output (stderr captured).
fn with_closed_stdout(db: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(db)
        .args(["--now", NOW])
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_pipe_does_not_panic() {
    let db = Db::seeded();
    for i in 0..30 {
        db.ok(&["enqueue", "Nightly", "--data", &format!("{{\"n\": {i}}}")]);
    }
    let commands: &[&[&str]] = &[
        &["runs"],
        &["runs", "--json", "--limit", "1000"],
        &["jobs"],
        &["jobs", "--json"],
        &["settings"],
        &["show", "1"],
        &["enqueue", "Nightly"],
        &["next", "* * * * *", "--count", "100000"],
    ];
    for args in commands {
        let output = with_closed_stdout(&db.path, args);
        assert_no_panic(&output, &format!("cronq {args:?} | (closed)"));
    }
}

#[test]
fn run_job_with_a_closed_stdout_still_runs_and_records_the_job() {
    let db = Db::seeded();
    db.ok(&["add", "Loud", "--", "yes | head -c 200000; echo done"]);
    let output = with_closed_stdout(&db.path, &["run-job", "Loud"]);
    assert_no_panic(&output, "cronq run-job Loud | (closed)");
    let runs: serde_json::Value =
        serde_json::from_str(&db.ok(&["runs", "--job", "Loud", "--json"])).unwrap();
    assert_eq!(runs[0]["status"], "success", "{runs:#}");
    assert_eq!(runs[0]["exit_code"], 0, "{runs:#}");
}

#[test]
fn run_job_of_a_builtin_with_a_closed_stdout_does_not_panic() {
    let db = Db::seeded();
    let output = with_closed_stdout(&db.path, &["run-job", "Cleanup"]);
    assert_no_panic(&output, "cronq run-job Cleanup | (closed)");
    let runs: serde_json::Value =
        serde_json::from_str(&db.ok(&["runs", "--job", "Cleanup", "--json"])).unwrap();
    assert_eq!(runs[0]["status"], "success", "{runs:#}");
}

#[test]
fn a_worker_started_by_hand_refuses_what_is_not_an_order_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    cronq()
        .arg("--db")
        .arg(&db)
        .args(["add", "j", "--", "true"])
        .assert()
        .success();
    cronq()
        .arg("--db")
        .arg(&db)
        .args(["enqueue", "j"])
        .assert()
        .success();
    let before = snapshot(&db);
    let output = cronq()
        .arg("--db")
        .arg(&db)
        .arg("worker")
        .write_stdin("run 1\n")
        .output()
        .unwrap();
    assert_no_panic(&output, "cronq worker");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("'run 1' is not an order between a pass and its worker"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(output.stdout, b"", "no answer for a refused order");
    assert_eq!(snapshot(&db), before, "the queued run was left alone");
}
