//! Inputs at their limits, as an operator meets them: files that are not files or are too
//! big, data too large for a job's environment, invalid UTF-8, very long bad values, a
//! crontab read as cron reads it (SHELL, the system's zone, a user column), `%` in the
//! printed crontab lines, blank targets and misleading zone names. Every refusal exits 2,
//! says what is wrong, and changes nothing.

use assert_cmd::Command;
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Every test pins the clock to this instant (a Monday in winter: Berlin is UTC+1).
const NOW: &str = "2026-11-23T09:00:00Z";

/// Linux's limit on one environment string, its NUL included (MAX_ARG_STRLEN).
const ENVIRONMENT_STRING: usize = 131_072;

/// The most a job's `CRONQ_DATA` can hold: the limit less `CRONQ_DATA=` and the NUL.
const MAX_DATA: usize = ENVIRONMENT_STRING - "CRONQ_DATA=".len() - 1;

/// A database in a directory of its own, and `cronq` pointed at it.
struct Db {
    dir: TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("cronq.db");
        Db { dir, path }
    }

    /// `cronq --db DB --now NOW ARGS`, with no database, clock, log filter or zone leaking
    /// in from the shell that runs the tests (TZ=UTC unless a test sets its own).
    fn cronq(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("cronq").unwrap();
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env("TZ", "UTC")
            .arg("--db")
            .arg(&self.path)
            .args(["--now", NOW])
            .args(args);
        cmd
    }

    /// The same command as a plain process, for `bounded`.
    fn process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"));
        cmd.env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .env("TZ", "UTC")
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
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    fn file(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn jobs(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.ok(&["jobs", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn job(&self, name: &str) -> Value {
        self.jobs()
            .into_iter()
            .find(|job| job["name"] == name)
            .unwrap_or_else(|| panic!("no job {name}"))
    }

    fn job_names(&self) -> Vec<String> {
        self.jobs()
            .iter()
            .map(|job| job["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn runs(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.ok(&["runs", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a cronq that a regression could make hang or eat memory: with its address space
/// capped at 1 GiB, and killed (failing the test) if it has not finished in 20 seconds.
fn bounded(mut cmd: std::process::Command, stdin: Stdio) -> Output {
    // SAFETY: between fork and exec the closure only calls setrlimit, which is
    // async-signal-safe, on a structure it owns.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).map(|_| bytes)
    });
    // A real process: no clock to inject, so poll it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("cronq did not finish within 20 seconds");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    }
}

/// Asserts exit code 2 and a message that contains every one of `words`.
fn assert_refused(output: &Output, words: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    for word in words {
        assert!(stderr.contains(word), "{word:?} missing from: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------
// 11. Bounded inputs: import

#[test]
fn import_refuses_a_device_at_once() {
    let db = Db::new();
    let output = bounded(db.process(&["import", "/dev/zero"]), Stdio::null());
    assert_refused(&output, &["/dev/zero", "not a regular file"]);
    assert_eq!(db.job_names(), ["Cleanup"]);
}

#[test]
fn import_refuses_a_fifo_without_waiting_for_a_writer() {
    let db = Db::new();
    let fifo = db.dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let output = bounded(
        db.process(&["import", fifo.to_str().unwrap()]),
        Stdio::null(),
    );
    assert_refused(&output, &["FIFO", "not a regular file"]);
}

#[test]
fn import_refuses_a_directory() {
    let db = Db::new();
    let output = bounded(
        db.process(&["import", db.dir.path().to_str().unwrap()]),
        Stdio::null(),
    );
    assert_refused(&output, &["directory", "not a regular file"]);
}

#[test]
fn import_splits_fields_on_spaces_and_tabs_only_as_cron_does() {
    let db = Db::new();
    // A no-break space between minute and hour: one field to cron, refused by name.
    let crontab = db.file("crontab", "0\u{a0}3 * * * /usr/bin/backup\n");
    let output = db
        .cronq(&["import", crontab.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, &["line 1", "expected a schedule and a command"]);
    let tabs = db.file("tabs", "0\t3\t*\t*\t*\t/usr/bin/backup\n");
    db.cronq(&["import", tabs.to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn import_refuses_a_file_over_4_mib_and_takes_one_just_under() {
    let db = Db::new();
    let limit = 4 * 1024 * 1024;
    let line = "# a comment line that cron and cronq both skip, to fill the file\n";
    let mut content = line.repeat(limit / line.len() + 1);
    content.truncate(limit + 1);
    let big = db.file("big", &content);
    let output = db
        .cronq(&["import", big.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, &["4194305 bytes", "4 MiB"]);

    content.truncate(limit - 100);
    content.push_str("\n# cronq: last\n@daily true\n");
    assert!(content.len() <= limit);
    let fits = db.file("fits", &content);
    db.ok(&["import", fits.to_str().unwrap()]);
    assert_eq!(db.job("last")["schedule"], "@daily");
}

#[test]
fn import_reads_at_most_4_mib_from_standard_input() {
    let db = Db::new();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let output = bounded(db.process(&["import", "-"]), Stdio::from(zero));
    assert_refused(&output, &["standard input", "4 MiB"]);
    assert_eq!(db.job_names(), ["Cleanup"]);
}

#[test]
fn import_names_the_line_with_invalid_utf8() {
    let db = Db::new();
    let file = db.file(
        "latin1",
        b"@daily true\n# Sicherung f\xfcr alle\n@hourly true\n",
    );
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, &["line 2", "UTF-8", "nothing was imported"]);
}

#[test]
fn import_refuses_a_line_a_job_could_not_be_started_with() {
    let db = Db::new();
    // /bin/sh -c COMMAND: the command is one argument, limited like an environment string.
    let long_command = format!("@daily echo {}\n", "x".repeat(ENVIRONMENT_STRING));
    let file = db.file("long-command", &long_command);
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, &["line 1", "131072"]);

    let long_variable = format!("BIG={}\n@daily true\n", "x".repeat(ENVIRONMENT_STRING));
    let file = db.file("long-variable", &long_variable);
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, &["line 1", "BIG", "131072"]);
    assert_eq!(db.job_names(), ["Cleanup"]);
}

// ---------------------------------------------------------------------------------------
// 11. Bounded inputs: what a job receives in its environment

fn json_string_of_length(length: usize) -> String {
    format!("\"{}\"", "d".repeat(length - 2))
}

#[test]
fn enqueue_refuses_data_a_job_could_not_receive_and_queues_nothing() {
    let db = Db::new();
    db.ok(&["add", "mail", "--", "true"]);
    // The most one argument to cronq can be is the same limit, so this is as large as
    // --data on a command line gets: 10 bytes too large for CRONQ_DATA.
    let data = json_string_of_length(ENVIRONMENT_STRING - 1);
    let output = db
        .cronq(&["enqueue", "mail", "--data", &data])
        .output()
        .unwrap();
    assert_refused(&output, &["CRONQ_DATA", "131072"]);
    assert!(db.runs().is_empty());

    // From standard input the data can be any size: 200 KB.
    let line = format!("{{\"data\": {}}}\n", json_string_of_length(200_000));
    let output = db
        .cronq(&["enqueue", "mail", "--stdin"])
        .write_stdin(format!("{{\"data\": 1}}\n{line}"))
        .output()
        .unwrap();
    assert_refused(&output, &["line 2", "CRONQ_DATA", "nothing was queued"]);
    assert!(db.runs().is_empty());
}

#[test]
fn data_of_exactly_the_limit_reaches_the_job_and_one_byte_more_is_refused() {
    let db = Db::new();
    db.ok(&[
        "add",
        "size",
        "--",
        &format!("test ${{#CRONQ_DATA}} -eq {MAX_DATA}"),
    ]);
    db.ok(&[
        "run-job",
        "size",
        "--data",
        &json_string_of_length(MAX_DATA),
    ]);

    let output = db
        .cronq(&[
            "run-job",
            "size",
            "--data",
            &json_string_of_length(MAX_DATA + 1),
        ])
        .output()
        .unwrap();
    assert_refused(&output, &["CRONQ_DATA", &format!("{MAX_DATA} bytes")]);
    assert_eq!(db.runs().len(), 1, "the refused run-job recorded nothing");
}

#[test]
fn a_target_too_large_for_the_environment_is_refused() {
    let db = Db::new();
    db.ok(&["add", "mail", "--", "true"]);
    let big = "t".repeat(ENVIRONMENT_STRING - 10);
    let output = db
        .cronq(&["enqueue", "mail", "--target-id", &big])
        .output()
        .unwrap();
    assert_refused(&output, &["CRONQ_TARGET_ID"]);
    let output = db
        .cronq(&["run-job", "mail", "--target-type", &big])
        .output()
        .unwrap();
    assert_refused(&output, &["CRONQ_TARGET_TYPE"]);
    let line = format!("{{\"target_id\": \"{}\"}}\n", "t".repeat(300_000));
    let output = db
        .cronq(&["enqueue", "mail", "--stdin"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_refused(&output, &["line 1", "CRONQ_TARGET_ID"]);
    assert!(db.runs().is_empty());
}

// ---------------------------------------------------------------------------------------
// 11. Bounded inputs: enqueue --stdin

#[test]
fn enqueue_stdin_names_the_line_with_invalid_utf8() {
    let db = Db::new();
    db.ok(&["add", "mail", "--", "true"]);
    let output = db
        .cronq(&["enqueue", "mail", "--stdin"])
        .write_stdin(&b"{\"target_id\": \"1\"}\n{\"target_id\": \"\xff\"}\n"[..])
        .output()
        .unwrap();
    assert_refused(&output, &["line 2", "UTF-8", "nothing was queued"]);
    assert!(db.runs().is_empty());
}

#[test]
fn enqueue_stdin_refuses_an_endless_line() {
    let db = Db::new();
    db.ok(&["add", "mail", "--", "true"]);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let output = bounded(
        db.process(&["enqueue", "mail", "--stdin"]),
        Stdio::from(zero),
    );
    assert_refused(&output, &["line 1", "4 MiB", "nothing was queued"]);
    assert!(db.runs().is_empty());
}

// ---------------------------------------------------------------------------------------
// 11. Long bad input is quoted back shortened

/// The message quotes the start of the input and its size, not all of it.
fn assert_shortened(output: &Output, size: usize) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(
        stderr.len() < 1000,
        "a {} byte message: {}…",
        stderr.len(),
        &stderr[..500]
    );
    assert!(stderr.contains(&format!("({size} bytes)")), "{stderr}");
}

#[test]
fn a_long_unknown_job_name_is_quoted_shortened() {
    let db = Db::new();
    let name = "n".repeat(100_000);
    let output = db.cronq(&["run-job", &name]).output().unwrap();
    assert_shortened(&output, 100_000);
    assert!(text(&output.stderr).contains("unknown job 'nnnn"));

    // 1 MB, from standard input.
    let line = format!("{{\"job\": \"{}\"}}\n", "j".repeat(1_000_000));
    let output = db
        .cronq(&["enqueue", "Cleanup", "--stdin"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_shortened(&output, 1_000_000);
}

#[test]
fn long_bad_json_is_quoted_shortened() {
    let db = Db::new();
    let bad = format!("{{{}", "k".repeat(100_000));
    let output = db
        .cronq(&["enqueue", "Cleanup", "--data", &bad])
        .output()
        .unwrap();
    assert_shortened(&output, 100_001);
    assert!(text(&output.stderr).contains("not valid JSON"));

    let line = format!("{{\"{}\": 1}}\n", "k".repeat(1_000_000));
    let output = db
        .cronq(&["enqueue", "Cleanup", "--stdin"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_shortened(&output, 1_000_000);
    assert!(text(&output.stderr).contains("unknown key"));
}

#[test]
fn a_long_bad_crontab_line_and_zone_are_quoted_shortened() {
    let db = Db::new();
    let file = db.file("crontab", "x".repeat(1_000_000));
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_shortened(&output, 1_000_000);

    let zone = "Z".repeat(100_000);
    let output = db
        .cronq(&["add", "z", "--tz", &zone, "--", "true"])
        .output()
        .unwrap();
    assert_shortened(&output, 100_000);
}

// ---------------------------------------------------------------------------------------
// 13. import reads a crontab as cron does

#[test]
fn import_refuses_a_shell_other_than_sh_with_a_hint() {
    let db = Db::new();
    let file = db.file(
        "crontab",
        "SHELL=/bin/bash\n@daily echo {a,b}\n@hourly true\n",
    );
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(
        &output,
        &[
            "line 1",
            "/bin/bash",
            "/bin/sh",
            "bash -c",
            "nothing was imported",
        ],
    );
    assert_eq!(db.job_names(), ["Cleanup"]);

    let file = db.file("crontab", "SHELL=/bin/sh\n@daily true\n");
    db.ok(&["import", file.to_str().unwrap()]);
}

#[test]
fn import_reads_schedules_in_the_zone_tz_names_and_says_so() {
    let db = Db::new();
    let file = db.file("crontab", "# cronq: six\n0 6 * * * true\n");
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .env("TZ", "Europe/Berlin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("imported 1 job"), "{stdout}");
    assert!(stdout.contains("Europe/Berlin"), "{stdout}");
    assert!(stdout.contains("as cron does"), "{stdout}");
    let job = db.job("six");
    assert_eq!(job["tz"], "Europe/Berlin");
    assert_eq!(job["next_slot"], "2026-11-24T05:00:00Z");
}

#[test]
fn import_prefers_cron_tz_to_the_system_zone() {
    let db = Db::new();
    let file = db.file(
        "crontab",
        "# cronq: berlin\n0 6 * * * true\nCRON_TZ=Asia/Tokyo\n# cronq: tokyo\n0 6 * * * true\n",
    );
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .env("TZ", ":Europe/Berlin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("Europe/Berlin"), "{stdout}");
    assert!(stdout.contains("Asia/Tokyo (CRON_TZ)"), "{stdout}");
    assert_eq!(db.job("berlin")["tz"], "Europe/Berlin");
    assert_eq!(db.job("tokyo")["tz"], "Asia/Tokyo");
    assert_eq!(db.job("tokyo")["next_slot"], "2026-11-23T21:00:00Z");
}

#[test]
fn import_asks_for_cron_tz_when_the_system_zone_is_no_zone_name() {
    let db = Db::new();
    let file = db.file("crontab", "@daily true\n");
    for tz in ["CET-1CEST,M3.5.0,M10.5.0/3", "/nowhere/Berlin"] {
        let output = db
            .cronq(&["import", file.to_str().unwrap()])
            .env("TZ", tz)
            .output()
            .unwrap();
        assert_refused(&output, &["line 1", "CRON_TZ=", "nothing was imported"]);
    }
    assert_eq!(db.job_names(), ["Cleanup"]);
    let file = db.file("crontab", "CRON_TZ=UTC\n@daily true\n");
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .env("TZ", "/nowhere/Berlin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn import_refuses_a_system_crontab_line_with_a_user_column() {
    let db = Db::new();
    let file = db.file(
        "crontab",
        "@daily true\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    );
    let output = db
        .cronq(&["import", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(
        &output,
        &[
            "line 2",
            "'root'",
            "user column",
            "remove",
            "nothing was imported",
        ],
    );
    assert_eq!(db.job_names(), ["Cleanup"]);
}

// ---------------------------------------------------------------------------------------
// 13. cronq crontab

#[test]
fn crontab_escapes_a_percent_in_the_database_path() {
    let db = Db::new();
    let dir = db.dir.path().join("100%");
    std::fs::create_dir(&dir).unwrap();
    let output = Command::cargo_bin("cronq")
        .unwrap()
        .env_remove("CRONQ_DB")
        .arg("--db")
        .arg(dir.join("cron%q.db"))
        .arg("crontab")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for line in lines {
        assert!(line.contains(r"/100\%/cron\%q.db"), "{line}");
        assert!(!line.replace(r"\%", "").contains('%'), "{line}");
    }
}

#[test]
fn crontab_refuses_a_database_path_with_a_newline() {
    let db = Db::new();
    let output = Command::cargo_bin("cronq")
        .unwrap()
        .env_remove("CRONQ_DB")
        .arg("--db")
        .arg(db.dir.path().join("two\nlines.db"))
        .arg("crontab")
        .output()
        .unwrap();
    assert_refused(&output, &["newline"]);
    assert!(output.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------
// 14. Targets

#[test]
fn a_blank_target_id_is_no_target() {
    let db = Db::new();
    db.ok(&["add", "mail", "--requires-target", "--", "true"]);
    db.ok(&["add", "plain", "--", "true"]);
    for blank in ["", "   "] {
        for command in ["enqueue", "run-job"] {
            let output = db
                .cronq(&[command, "mail", "--target-id", blank])
                .output()
                .unwrap();
            assert_refused(&output, &["requires a target", "blank"]);
        }
        let line = format!("{{\"target_id\": \"{blank}\"}}\n");
        let output = db
            .cronq(&["enqueue", "mail", "--stdin"])
            .write_stdin(line)
            .output()
            .unwrap();
        assert_refused(
            &output,
            &["line 1", "requires a target", "nothing was queued"],
        );
    }
    assert!(db.runs().is_empty());

    // For a job that needs none, a blank target is stored as none.
    db.ok(&["enqueue", "plain", "--target-id", " ", "--target-type", ""]);
    db.cronq(&["enqueue", "plain", "--stdin"])
        .write_stdin("{\"target_id\": \"\", \"target_type\": \" \"}\n")
        .assert()
        .success();
    let runs = db.runs();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["target_id"], Value::Null, "{run}");
        assert_eq!(run["target_type"], Value::Null, "{run}");
    }
}

// ---------------------------------------------------------------------------------------
// 14. Zone names

#[test]
fn misleading_zone_names_are_refused_with_the_name_to_use() {
    let db = Db::new();
    let cases: [(&str, &[&str]); 4] = [
        (
            "right/America/New_York",
            &["leap seconds", "use America/New_York"],
        ),
        ("posix/Europe/Berlin", &["same zone", "use Europe/Berlin"]),
        ("localtime", &["not a zone name", "Asia/Tokyo"]),
        ("/etc/localtime", &["not a zone name", "Asia/Tokyo"]),
    ];
    for (zone, words) in cases {
        let add = db
            .cronq(&[
                "add",
                "z",
                "--schedule",
                "0 8 * * *",
                "--tz",
                zone,
                "--",
                "true",
            ])
            .env("TZ", "Asia/Tokyo")
            .output()
            .unwrap();
        assert_refused(&add, words);
        let next = db
            .cronq(&["next", "0 8 * * *", "--tz", zone])
            .env("TZ", "Asia/Tokyo")
            .output()
            .unwrap();
        assert_refused(&next, words);
        let file = db.file("crontab", format!("CRON_TZ={zone}\n0 8 * * * true\n"));
        let import = db
            .cronq(&["import", file.to_str().unwrap()])
            .env("TZ", "Asia/Tokyo")
            .output()
            .unwrap();
        assert_refused(&import, &["line 2", "CRON_TZ"]);
        assert_refused(&import, words);
    }
    assert_eq!(db.job_names(), ["Cleanup"]);
}

// ---------------------------------------------------------------------------------------
// Times as operators write them: --at, --now

/// The due time of run `id`, as `runs --json` shows it.
fn due_at(db: &Db, id: u64) -> String {
    let out = db.cronq(&["runs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["due_at"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn enqueue_at_takes_relative_and_local_times() {
    let db = Db::new();
    assert!(db
        .cronq(&["add", "hello", "--", "true"])
        .output()
        .unwrap()
        .status
        .success());
    let cases = [
        ("+5m", "2026-11-23T09:05:00Z"),
        ("-1h", "2026-11-23T08:00:00Z"),
        ("2026-12-01 12:00", "2026-12-01T11:00:00Z"),
        ("tomorrow 09:00", "2026-11-24T08:00:00Z"),
        ("2026-11-23T10:00:00+01:00", "2026-11-23T09:00:00Z"),
    ];
    for (id, (at, due)) in (1u64..).zip(cases) {
        let out = db
            .cronq(&["enqueue", "hello", "--at", at])
            .env("TZ", "Europe/Berlin")
            .output()
            .unwrap();
        assert!(out.status.success(), "--at {at}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{id}\n"));
        assert_eq!(due_at(&db, id), due, "--at {at}");
    }
}

#[test]
fn bad_times_are_refused_with_the_forms_accepted() {
    let db = Db::new();
    assert!(db
        .cronq(&["add", "hello", "--", "true"])
        .output()
        .unwrap()
        .status
        .success());
    for bad in ["soon", "+5", "5m", "2026-11-23", "tomorrow", "2026-11-23 9"] {
        let out = db
            .cronq(&["enqueue", "hello", "--at", bad])
            .output()
            .unwrap();
        assert_refused(
            &out,
            &[
                "--at",
                "RFC 3339",
                "+5m",
                "2026-12-01 12:00",
                "tomorrow 09:00",
            ],
        );
        let out = db.cronq(&["jobs", "--now", bad]).output().unwrap();
        assert_refused(
            &out,
            &[
                "--now",
                "RFC 3339",
                "+5m",
                "2026-12-01 12:00",
                "tomorrow 09:00",
            ],
        );
    }
    // Nothing was queued.
    let out = db.cronq(&["runs", "--json"]).output().unwrap();
    assert_eq!(text(&out.stdout).trim(), "[]");
}

#[test]
fn now_takes_relative_times_from_the_real_clock_and_local_times() {
    let db = Db::new();
    let real = chrono::Utc::now().timestamp();
    // Given after the command, --now replaces the pinned NOW.
    let out = db
        .cronq(&["enqueue", "--now", "+2d", "Cleanup"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let due = chrono::DateTime::parse_from_rfc3339(&due_at(&db, 1))
        .unwrap()
        .timestamp();
    let expected = real + 2 * 86_400;
    assert!(
        (expected..expected + 60).contains(&due),
        "{due} vs {expected}"
    );
    let out = db
        .cronq(&["enqueue", "--now", "2026-12-01 12:00", "Cleanup"])
        .env("TZ", "America/New_York")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(due_at(&db, 2), "2026-12-01T17:00:00Z");
}
