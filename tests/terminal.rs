//! The operator's view: on a terminal, tables fit its width and times read as a person
//! reads them; in a pipe, the columns and RFC 3339 times scripts read stay as they were.
//! `--help` lists the global options apart and fits 80 columns.

use assert_cmd::Command;
use std::path::PathBuf;
use std::process::Stdio;
use tempfile::TempDir;

/// Every test pins the clock to this instant (a Monday in winter: Berlin is UTC+1).
const NOW: &str = "2026-11-23T09:00:00Z";

/// A command longer than any terminal's share of a table.
const LONG_COMMAND: &str = "/usr/local/bin/backup --quiet --exclude /var/cache --exclude /tmp \
                            --target s3://backups.example.com/nightly/host-01";

struct Db {
    _dir: TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("cronq.db");
        Db { _dir: dir, path }
    }

    /// `cronq --db DB --now NOW ARGS` with nothing leaking in from the test's shell, in
    /// Berlin's zone.
    fn cronq(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env_remove("COLUMNS")
            .env("TZ", "Europe/Berlin")
            .arg("--db")
            .arg(&self.path)
            .args(["--now", NOW])
            .args(args);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.cronq(args).output().unwrap();
        assert!(
            output.status.success(),
            "cronq {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `cronq --db DB --now now ARGS` on a terminal `columns` wide, in Berlin's zone;
    /// returns what the terminal received, its `\r\n` back as `\n`, and the exit code.
    fn on_terminal(&self, columns: u16, now: &str, args: &str) -> (String, Option<i32>) {
        let command = format!(
            "stty cols {columns}; '{}' --db '{}' --now {now} {args}",
            assert_cmd::cargo::cargo_bin("cronq").display(),
            self.path.display()
        );
        let output = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env_remove("COLUMNS")
            .env("TZ", "Europe/Berlin")
            .stdin(Stdio::null())
            .output()
            .expect("script (util-linux) runs");
        let screen = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
        (screen, output.status.code())
    }

    fn jobs_with_a_long_command(&self) {
        self.ok(&[
            "add",
            "backup",
            "--schedule",
            "*/15 * * * *",
            "--",
            LONG_COMMAND,
        ]);
    }
}

fn widest_line(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[test]
fn jobs_fit_an_80_column_terminal_with_the_command_cut() {
    let db = Db::new();
    db.jobs_with_a_long_command();
    let (screen, code) = db.on_terminal(80, NOW, "jobs");
    assert_eq!(code, Some(0), "{screen}");
    assert!(widest_line(&screen) <= 80, "{screen}");
    assert!(screen.contains("/usr/local/bin/backu…"), "{screen}");
    assert!(screen.contains('…'), "{screen}");
    assert!(!screen.contains("host-01"), "{screen}");
    // The next slot, 09:15 UTC, relative and on Berlin's clock.
    assert!(screen.contains("in 15 min (10:15)"), "{screen}");
    // A wider terminal shows more.
    let (wide, _) = db.on_terminal(250, NOW, "jobs");
    assert!(wide.contains(LONG_COMMAND), "{wide}");
    assert!(widest_line(&wide) <= 250, "{wide}");
}

#[test]
fn jobs_wide_on_a_terminal_shows_every_column_whole() {
    let db = Db::new();
    db.jobs_with_a_long_command();
    let (screen, code) = db.on_terminal(80, NOW, "jobs --wide");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains(LONG_COMMAND), "{screen}");
    for header in ["KIND", "SCHEDULE", "TZ", "STATUS", "NEXT SLOT (TZ)", "LAST"] {
        assert!(screen.contains(header), "{header} missing: {screen}");
    }
    assert!(!screen.contains('…'), "{screen}");
}

#[test]
fn piped_jobs_and_runs_keep_their_columns_and_rfc3339_times() {
    let db = Db::new();
    db.ok(&[
        "add",
        "hello",
        "--schedule",
        "*/15 * * * *",
        "--",
        "echo hi",
    ]);
    assert_eq!(
        db.ok(&["jobs"]),
        "NAME     KIND     SCHEDULE      TZ   STATUS  NEXT SLOT             NEXT SLOT (TZ)        LAST  COMMAND\n\
         Cleanup  builtin  1 1 * * 0     UTC  active  2026-11-29T01:01:00Z  2026-11-29T01:01:00Z  -     Cleanup\n\
         hello    command  */15 * * * *  UTC  active  2026-11-23T09:15:00Z  2026-11-23T09:15:00Z  -     echo hi\n"
    );
    db.ok(&["run-job", "hello"]);
    assert_eq!(
        db.ok(&["runs"]),
        "ID  JOB    STATUS   SLOT  DUE                   FINISHED              ATTEMPT  EXIT  REASON\n\
         1   hello  success  -     2026-11-23T09:00:00Z  2026-11-23T09:00:00Z  1/1      0     \n"
    );
    // --wide adds what a terminal shows.
    let wide = db.ok(&["runs", "--wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID", "JOB", "STATUS", "TARGET", "SLOT", "DUE", "FINISHED", "DURATION", "ATTEMPT",
            "EXIT", "REASON"
        ]
    );
}

#[test]
fn runs_on_a_terminal_show_target_duration_and_relative_times_within_80_columns() {
    let db = Db::new();
    db.ok(&["add", "mail", "--requires-target", "--", "echo checked"]);
    db.ok(&[
        "enqueue",
        "mail",
        "--target-id",
        "5f1a",
        "--target-type",
        "EmailAccount",
        "--at",
        "+5m",
    ]);
    db.ok(&[
        "run-job",
        "mail",
        "--target-id",
        "77",
        "--target-type",
        "EmailAccount",
    ]);
    set_reason(&db, 2, &"a reason far too long for any column ".repeat(4));
    let (screen, code) = db.on_terminal(80, "2026-11-23T12:00:00Z", "runs");
    assert_eq!(code, Some(0), "{screen}");
    assert!(widest_line(&screen) <= 80, "{screen}");
    // Finished 3 h ago, at 10:00 in Berlin; the pending run is due at 09:05 UTC, 10:05.
    for shown in ["3 h ago (10:00)", "2 h ago (10:05)", "a reason far", "…"] {
        assert!(screen.contains(shown), "{shown} missing: {screen}");
    }
    // A wider terminal has room for the target and the duration.
    let (screen, _) = db.on_terminal(140, "2026-11-23T12:00:00Z", "runs");
    assert!(widest_line(&screen) <= 140, "{screen}");
    for shown in ["TARGET", "DURATION", "EmailAccount 5f1a", " ms  "] {
        assert!(screen.contains(shown), "{shown} missing: {screen}");
    }
}

fn set_reason(db: &Db, id: i64, reason: &str) {
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    let changed = conn
        .execute(
            "UPDATE runs SET error = ?1 WHERE id = ?2",
            rusqlite::params![reason, id],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[test]
fn runs_since_takes_every_time_form_and_filters_by_due_time() {
    let db = Db::new();
    db.ok(&["add", "hello", "--", "echo hi"]);
    for at in ["-2h", "-30m", "+1h"] {
        db.ok(&["enqueue", "hello", "--at", at]);
    }
    let ids = |since: &str| -> Vec<u64> {
        let json: serde_json::Value =
            serde_json::from_str(&db.ok(&["runs", "--json", "--since", since])).unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("-1h"), [3, 2]);
    assert_eq!(ids("2026-11-23 09:29"), [3, 2]); // 08:29 UTC
    assert_eq!(ids("today 10:00"), [3]); // 09:00 UTC
    assert_eq!(ids("2026-11-23T06:00:00Z"), [3, 2, 1]);
    let refused = db
        .cronq(&["runs", "--since", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--since") && stderr.contains("tomorrow 09:00"),
        "{stderr}"
    );
}

#[test]
fn status_says_overdue_for_a_next_slot_already_past() {
    let db = Db::new();
    db.ok(&[
        "add",
        "hello",
        "--schedule",
        "*/15 * * * *",
        "--",
        "echo hi",
    ]);
    // No pass ran since 09:00: the 09:15 slot is past at 09:20.
    let later = "2026-11-23T09:20:00Z";
    let (screen, code) = db.on_terminal(80, later, "status");
    assert_eq!(code, Some(1), "{screen}");
    assert!(
        screen.contains("5 min ago (10:15)  hello  (overdue)"),
        "{screen}"
    );
    assert!(
        screen.contains("in 5 d (11-29 02:01)  Cleanup\n"),
        "{screen}"
    );
    let piped = db.cronq(&["status", "--now", later]).output().unwrap();
    let piped = String::from_utf8_lossy(&piped.stdout);
    assert!(
        piped.contains("  2026-11-23T09:15:00Z  hello  (overdue)\n"),
        "{piped}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &db.cronq(&["status", "--json", "--now", later])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["next_slots"][0]["overdue"], true, "{json}");
    assert_eq!(json["next_slots"][1]["overdue"], false, "{json}");
}

#[test]
fn show_on_a_terminal_gives_local_and_relative_times() {
    let db = Db::new();
    db.ok(&["add", "hello", "--", "echo hi"]);
    db.ok(&["run-job", "hello"]);
    let (screen, code) = db.on_terminal(80, "2026-11-23T09:04:00Z", "show 1");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("finished at: 2026-11-23 10:00 (4 min ago)\n"),
        "{screen}"
    );
    let piped = db.ok(&["show", "1"]);
    assert!(
        piped.contains("finished at: 2026-11-23T09:00:00Z\n"),
        "{piped}"
    );
}

/// The names of cronq's commands, as `cronq --help` lists them.
fn command_names() -> Vec<String> {
    let help = Db::new().ok(&["--help"]);
    let commands = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    commands
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_lists_global_options_apart_and_fits_80_columns() {
    let names = command_names();
    assert!(names.len() > 20, "{names:?}");
    let db = Db::new();
    for name in std::iter::once("").chain(names.iter().map(String::as_str)) {
        let args: Vec<&str> = [name, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let help = db.ok(&args);
        for line in help.lines() {
            assert!(line.chars().count() <= 80, "cronq {name} --help: {line:?}");
        }
        assert!(
            help.contains("\nGlobal options:\n"),
            "cronq {name} --help: {help}"
        );
    }
    let jobs = db.ok(&["jobs", "--help"]);
    let (own, global) = jobs.split_once("Global options:").unwrap();
    assert!(own.contains("--json") && own.contains("--wide"), "{jobs}");
    for option in ["--db", "--now", "--verbose", "--quiet"] {
        assert!(
            global.contains(option) && !own.contains(option),
            "{option}: {jobs}"
        );
    }
}

#[test]
fn commands_without_a_database_offer_no_db() {
    let db = Db::new();
    let next = db.ok(&["next", "--help"]);
    assert!(!next.contains("--db"), "{next}");
    assert!(next.contains("--now"), "{next}");
    let completions = db.ok(&["completions", "--help"]);
    assert!(
        !completions.contains("--db") && !completions.contains("--now"),
        "{completions}"
    );
    let crontab = db.ok(&["crontab", "--help"]);
    assert!(
        crontab.contains("--db") && !crontab.contains("--now"),
        "{crontab}"
    );
    db.cronq(&["next", "@daily", "--db", "x.db"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unexpected argument '--db'"));
    // Given after the command, --db and --now still work where they are offered.
    let other = Db::new();
    let added = db
        .cronq(&["add", "hello", "--db"])
        .arg(&other.path)
        .args([
            "--now",
            "2026-11-23T10:00:00Z",
            "--schedule",
            "@hourly",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(other.ok(&["jobs"]).contains("hello"));
    let slot = other.ok(&["jobs", "--json"]);
    assert!(slot.contains("2026-11-23T11:00:00Z"), "{slot}");
}
