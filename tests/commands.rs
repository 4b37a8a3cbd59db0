//! The commands as a user meets them (design §6). Each test reads as a short session at a
//! terminal: the clock is pinned with `--now`, and every test has a database of its own.

use assert_cmd::Command;
use chrono::{DateTime, Duration, Utc};
use predicates::prelude::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Monday 23 November 2026, 09:00 UTC: the start of every session below.
const T0: &str = "2026-11-23T09:00:00Z";

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

fn parse_time(t: &Value) -> DateTime<Utc> {
    let t = t.as_str().unwrap_or_else(|| panic!("not a time: {t}"));
    DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A cronq database in a directory of its own, and the commands a user types against it.
struct Cronq {
    _dir: TempDir,
    db: PathBuf,
}

impl Cronq {
    fn new() -> Cronq {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cronq.db");
        Cronq { _dir: dir, db }
    }

    /// `cronq --db DB --now NOW ARGS...`
    fn at(&self, now: &str, args: &[&str]) -> Command {
        let mut cmd = cronq();
        cmd.arg("--db")
            .arg(&self.db)
            .args(["--now", now])
            .args(args);
        cmd
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, now: &str, args: &[&str]) -> String {
        let output = self.at(now, args).output().unwrap();
        assert!(
            output.status.success(),
            "cronq --now {now} {args:?} exited {:?}: {}",
            output.status.code(),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    fn json(&self, now: &str, args: &[&str]) -> Value {
        let stdout = self.ok(now, args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("cronq {args:?} printed no JSON ({e}): {stdout}"))
    }

    /// `cronq add NAME OPTIONS... -- COMMAND`
    fn add(&self, now: &str, name: &str, options: &[&str], command: &str) {
        let mut args = vec!["add", name];
        args.extend_from_slice(options);
        args.extend(["--", command]);
        self.ok(now, &args);
    }

    /// `cronq enqueue ...`, returning the id it prints.
    fn enqueue(&self, now: &str, args: &[&str]) -> i64 {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        let stdout = self.ok(now, &all);
        stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("enqueue should print a run id, printed {stdout:?}"))
    }

    /// `cronq run` at `now`; returns its exit code.
    fn pass(&self, now: &str) -> i32 {
        self.at(now, &["run"])
            .output()
            .unwrap()
            .status
            .code()
            .unwrap()
    }

    /// `cronq jobs --json`
    fn jobs(&self, now: &str) -> Vec<Value> {
        self.json(now, &["jobs", "--json"])
            .as_array()
            .expect("jobs --json is an array")
            .clone()
    }

    /// One job of `cronq jobs --json`; panics when it is not listed.
    fn job(&self, now: &str, name: &str) -> Value {
        self.jobs(now)
            .into_iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("job {name} is not listed"))
    }

    fn job_names(&self, now: &str) -> Vec<String> {
        self.jobs(now)
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// `cronq runs --json FILTERS...`
    fn runs(&self, filters: &[&str]) -> Vec<Value> {
        let mut args = vec!["runs", "--json"];
        args.extend_from_slice(filters);
        self.json(T0, &args)
            .as_array()
            .expect("runs --json is an array")
            .clone()
    }

    /// `cronq show ID --json`
    fn show(&self, id: i64) -> Value {
        self.json(T0, &["show", &id.to_string(), "--json"])
    }
}

fn ids(runs: &[Value]) -> Vec<i64> {
    runs.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[test]
fn a_new_database_lists_the_builtin_cleanup_job_scheduled_weekly() {
    let c = Cronq::new();
    let jobs = c.jobs(T0);
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    let cleanup = &jobs[0];
    assert_eq!(cleanup["name"], "Cleanup");
    assert_eq!(cleanup["kind"], "builtin");
    assert_eq!(cleanup["command"], Value::Null);
    assert_eq!(cleanup["schedule"], "1 1 * * 0");
    assert_eq!(cleanup["tz"], "UTC");
    assert_eq!(cleanup["status"], "active");
    // The next Sunday, 01:01 UTC.
    assert_eq!(cleanup["next_slot"], "2026-11-29T01:01:00Z");
    assert_eq!(cleanup["last_status"], Value::Null);
    // The table says the same.
    c.at(T0, &["jobs"]).assert().success().stdout(
        predicate::str::contains("Cleanup")
            .and(predicate::str::contains("1 1 * * 0"))
            .and(predicate::str::contains("2026-11-29T01:01:00Z")),
    );
}

#[test]
fn add_defines_a_command_job_that_jobs_lists() {
    let c = Cronq::new();
    c.add(T0, "Report", &["--schedule", "*/5 * * * *"], "echo hi");
    let job = c.job(T0, "Report");
    for key in [
        "name",
        "kind",
        "command",
        "schedule",
        "tz",
        "status",
        "next_slot",
        "last_status",
    ] {
        assert!(job.get(key).is_some(), "jobs --json lacks {key}: {job:#}");
    }
    assert_eq!(job["kind"], "command");
    assert_eq!(job["command"], "echo hi");
    assert_eq!(job["schedule"], "*/5 * * * *");
    assert_eq!(job["tz"], "UTC");
    assert_eq!(job["status"], "active");
    assert_eq!(job["next_slot"], "2026-11-23T09:05:00Z");
    assert_eq!(job["last_status"], Value::Null);
    assert_eq!(c.job_names(T0), ["Cleanup", "Report"]);
    c.at(T0, &["jobs"]).assert().success().stdout(
        predicate::str::contains("Report")
            .and(predicate::str::contains("*/5 * * * *"))
            .and(predicate::str::contains("echo hi")),
    );
}

#[test]
fn the_words_after_the_double_dash_become_one_command() {
    let c = Cronq::new();
    c.ok(T0, &["add", "Words", "--", "echo", "one", "two"]);
    assert_eq!(c.job(T0, "Words")["command"], "echo one two");
    c.at(T0, &["run-job", "Words"])
        .assert()
        .success()
        .stdout("one two\n");
}

#[test]
fn a_job_without_a_schedule_has_no_next_slot() {
    let c = Cronq::new();
    c.add(T0, "Manual", &[], "echo manual");
    let job = c.job(T0, "Manual");
    assert_eq!(job["schedule"], Value::Null);
    assert_eq!(job["next_slot"], Value::Null);
    assert_eq!(job["status"], "active");
}

#[test]
fn a_scheduled_slot_runs_once_at_its_time() {
    let c = Cronq::new();
    c.add(T0, "Tick", &["--schedule", "*/5 * * * *"], "echo tick");
    // Before the slot nothing happens.
    assert_eq!(c.pass("2026-11-23T09:04:59Z"), 0);
    assert!(c.runs(&[]).is_empty());
    // At the slot it runs; a second pass in the same minute adds nothing.
    assert_eq!(c.pass("2026-11-23T09:05:00Z"), 0);
    assert_eq!(c.pass("2026-11-23T09:05:30Z"), 0);
    let runs = c.runs(&[]);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["job"], "Tick");
    assert_eq!(runs[0]["slot"], "2026-11-23T09:05:00Z");
    assert_eq!(runs[0]["status"], "success");
    let job = c.job("2026-11-23T09:06:00Z", "Tick");
    assert_eq!(job["last_status"], "success");
    assert_eq!(job["next_slot"], "2026-11-23T09:10:00Z");
}

#[test]
fn edit_changes_the_command() {
    let c = Cronq::new();
    c.add(T0, "Greet", &[], "echo hello");
    c.ok(T0, &["edit", "Greet", "--", "echo goodbye"]);
    assert_eq!(c.job(T0, "Greet")["command"], "echo goodbye");
    c.at(T0, &["run-job", "Greet"])
        .assert()
        .success()
        .stdout("goodbye\n");
}

#[test]
fn editing_a_schedule_restarts_it_from_now() {
    let c = Cronq::new();
    c.add(T0, "Tick", &["--schedule", "*/5 * * * *"], "echo tick");
    // No pass ran since 09:00; the slots 09:05 .. 09:20 of the old schedule are forgotten.
    c.ok(
        "2026-11-23T09:22:00Z",
        &["edit", "Tick", "--schedule", "*/10 * * * *"],
    );
    let job = c.job("2026-11-23T09:22:00Z", "Tick");
    assert_eq!(job["schedule"], "*/10 * * * *");
    assert_eq!(job["next_slot"], "2026-11-23T09:30:00Z");
    assert_eq!(c.pass("2026-11-23T09:22:00Z"), 0);
    assert!(
        c.runs(&[]).is_empty(),
        "no retroactive runs, not even missed records: {:#?}",
        c.runs(&[])
    );
    assert_eq!(c.pass("2026-11-23T09:30:00Z"), 0);
    let runs = c.runs(&[]);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["slot"], "2026-11-23T09:30:00Z");
}

#[test]
fn disable_stops_the_schedule_and_enable_restarts_it_from_now() {
    let c = Cronq::new();
    c.add(T0, "Tick", &["--schedule", "*/5 * * * *"], "echo tick");
    c.ok("2026-11-23T09:02:00Z", &["disable", "Tick"]);
    let job = c.job("2026-11-23T09:02:00Z", "Tick");
    assert_eq!(job["status"], "inactive");
    assert_eq!(job["next_slot"], Value::Null);
    // While disabled, passes run nothing.
    assert_eq!(c.pass("2026-11-23T09:30:00Z"), 0);
    assert!(c.runs(&[]).is_empty());
    // Enabled at 09:32: the slots 09:05 .. 09:30 are not run after the fact.
    c.ok("2026-11-23T09:32:00Z", &["enable", "Tick"]);
    let job = c.job("2026-11-23T09:32:00Z", "Tick");
    assert_eq!(job["status"], "active");
    assert_eq!(job["next_slot"], "2026-11-23T09:35:00Z");
    assert_eq!(c.pass("2026-11-23T09:32:00Z"), 0);
    assert!(c.runs(&[]).is_empty(), "{:#?}", c.runs(&[]));
    assert_eq!(c.pass("2026-11-23T09:35:00Z"), 0);
    let runs = c.runs(&[]);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["slot"], "2026-11-23T09:35:00Z");
}

#[test]
fn a_job_added_inactive_waits_for_enable() {
    let c = Cronq::new();
    c.add(
        T0,
        "Later",
        &["--schedule", "0 * * * *", "--inactive"],
        "echo",
    );
    let job = c.job(T0, "Later");
    assert_eq!(job["status"], "inactive");
    assert_eq!(job["next_slot"], Value::Null);
    c.ok("2026-11-23T10:30:00Z", &["enable", "Later"]);
    assert_eq!(
        c.job("2026-11-23T10:30:00Z", "Later")["next_slot"],
        "2026-11-23T11:00:00Z"
    );
}

#[test]
fn remove_deletes_the_job_and_its_queue_but_keeps_its_history() {
    let c = Cronq::new();
    c.add(T0, "Old", &["--schedule", "0 * * * *"], "echo old");
    c.ok(T0, &["run-job", "Old"]);
    let queued = c.enqueue(T0, &["Old", "--at", "2026-11-24T00:00:00Z"]);
    c.ok(T0, &["remove", "Old"]);
    assert_eq!(c.job_names(T0), ["Cleanup"]);
    let history = c.runs(&["--job", "Old"]);
    assert_eq!(history.len(), 1, "{history:#?}");
    assert_eq!(history[0]["status"], "success");
    assert!(!ids(&history).contains(&queued));
    // The name is free again.
    c.add(T0, "Old", &[], "echo new");
    assert_eq!(c.job(T0, "Old")["command"], "echo new");
}

#[test]
fn enqueue_prints_the_run_id_and_queues_a_pending_run() {
    let c = Cronq::new();
    c.add(T0, "Notify", &[], "echo notify");
    let id = c.enqueue(
        T0,
        &[
            "Notify",
            "--target-id",
            "42",
            "--target-type",
            "Account",
            "--data",
            r#"{"reason": "welcome", "n": 1}"#,
        ],
    );
    let runs = c.runs(&[]);
    assert_eq!(ids(&runs), [id]);
    let run = &runs[0];
    assert_eq!(run["job"], "Notify");
    assert_eq!(run["status"], "pending");
    assert_eq!(run["target_id"], "42");
    assert_eq!(run["target_type"], "Account");
    assert_eq!(run["data"]["reason"], "welcome");
    assert_eq!(run["data"]["n"], 1);
    assert_eq!(run["due_at"], T0);
    assert_eq!(run["slot"], Value::Null);
    assert_eq!(run["started_at"], Value::Null);
    assert_eq!(run["attempt"], 1);
    // Every enqueue gets a new id.
    let second = c.enqueue(T0, &["Notify"]);
    assert!(second > id);
}

#[test]
fn a_pass_runs_the_queued_run_and_show_has_its_output() {
    let c = Cronq::new();
    c.add(
        T0,
        "Notify",
        &[],
        r#"echo "job=$CRONQ_JOB target=$CRONQ_TARGET_TYPE/$CRONQ_TARGET_ID data=$CRONQ_DATA""#,
    );
    let id = c.enqueue(
        T0,
        &[
            "Notify",
            "--target-id",
            "42",
            "--target-type",
            "Account",
            "--data",
            r#"{"k": 1}"#,
        ],
    );
    c.at(T0, &["run"]).assert().success();
    let run = c.show(id);
    assert_eq!(run["id"], id);
    assert_eq!(run["status"], "success");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["started_at"], T0);
    assert_eq!(run["finished_at"], T0);
    assert_eq!(run["error"], Value::Null);
    assert_eq!(
        run["output"],
        "job=Notify target=Account/42 data={\"k\": 1}\n"
    );
    // The text form shows the output too.
    c.at(T0, &["show", &id.to_string()])
        .assert()
        .success()
        .stdout(predicate::str::contains("job=Notify target=Account/42"));
}

#[test]
fn runs_json_has_the_documented_keys() {
    let c = Cronq::new();
    c.add(T0, "Fail", &["--retries", "0"], "exit 4");
    c.ok(T0, &["enqueue", "Fail"]);
    assert_eq!(c.pass(T0), 1);
    let runs = c.runs(&[]);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    for key in [
        "id",
        "job",
        "status",
        "slot",
        "due_at",
        "started_at",
        "finished_at",
        "attempt",
        "exit_code",
        "target_id",
        "target_type",
        "error",
    ] {
        assert!(run.get(key).is_some(), "runs --json lacks {key}: {run:#}");
    }
    assert_eq!(run["job"], "Fail");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["exit_code"], 4);
    assert!(run["error"].as_str().unwrap().contains('4'), "{run:#}");
    assert_eq!(run["target_id"], Value::Null);
    assert_eq!(run["target_type"], Value::Null);
    assert_eq!(run["slot"], Value::Null);
    for key in ["due_at", "started_at", "finished_at"] {
        assert_eq!(rfc3339(parse_time(&run[key])), T0, "{key} in {run:#}");
    }
}

#[test]
fn runs_filter_by_job_status_and_limit_newest_first() {
    let c = Cronq::new();
    c.add(T0, "Good", &[], "true");
    c.add(T0, "Bad", &[], "false");
    for _ in 0..3 {
        c.ok(T0, &["run-job", "Good"]);
    }
    for _ in 0..2 {
        c.at(T0, &["run-job", "Bad"]).assert().code(1);
    }
    let pending = c.enqueue(T0, &["Good", "--at", "2026-11-24T00:00:00Z"]);

    let all = c.runs(&[]);
    assert_eq!(ids(&all), [6, 5, 4, 3, 2, 1], "newest first");
    let good = c.runs(&["--job", "Good"]);
    assert_eq!(ids(&good), [pending, 3, 2, 1]);
    let good_done = c.runs(&["--job", "Good", "--status", "success"]);
    assert_eq!(ids(&good_done), [3, 2, 1]);
    let newest_two = c.runs(&["--job", "Good", "--status", "success", "--limit", "2"]);
    assert_eq!(ids(&newest_two), [3, 2]);
    let failed = c.runs(&["--status", "failed"]);
    assert_eq!(ids(&failed), [5, 4]);
    assert!(failed.iter().all(|r| r["job"] == "Bad"));
    assert_eq!(ids(&c.runs(&["--status", "pending"])), [pending]);
    assert!(c.runs(&["--job", "Bad", "--status", "success"]).is_empty());
    assert_eq!(ids(&c.runs(&["--limit", "1"])), [pending]);
}

#[test]
fn settings_lists_every_key_with_its_default() {
    let c = Cronq::new();
    let stdout = c.ok(T0, &["settings"]);
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "jobs_run_in_parallel=false",
        "jobs_max_portion=15",
        "jobs_pool_concurrency=8",
        "max_processes=5",
        "daemon_interval=10",
        "job_timeout=36000",
        "job_retries=1",
        "catchup_grace=300",
        "cleanup_period=30",
    ] {
        assert!(lines.contains(&expected), "{expected} missing:\n{stdout}");
    }
}

#[test]
fn a_setting_set_is_read_back() {
    let c = Cronq::new();
    assert_eq!(c.ok(T0, &["settings", "jobs_max_portion"]), "15\n");
    assert_eq!(c.ok(T0, &["settings", "jobs_max_portion", "3"]), "");
    assert_eq!(c.ok(T0, &["settings", "jobs_max_portion"]), "3\n");
    assert!(c
        .ok(T0, &["settings"])
        .lines()
        .any(|l| l == "jobs_max_portion=3"));
    c.ok(T0, &["settings", "jobs_run_in_parallel", "true"]);
    assert_eq!(c.ok(T0, &["settings", "jobs_run_in_parallel"]), "true\n");
    // Other settings keep their defaults.
    assert_eq!(c.ok(T0, &["settings", "job_retries"]), "1\n");
}

#[test]
fn a_higher_priority_run_goes_first() {
    let c = Cronq::new();
    c.ok(T0, &["settings", "jobs_max_portion", "1"]);
    c.add(T0, "Low", &[], "echo low");
    c.add(T0, "High", &[], "echo high");
    let low = c.enqueue(T0, &["Low"]);
    let high = c.enqueue(T0, &["High", "--priority", "10"]);
    // One run per pass: the higher priority, although queued later.
    assert_eq!(c.pass(T0), 0);
    assert_eq!(c.show(high)["status"], "success");
    assert_eq!(c.show(low)["status"], "pending");
    assert_eq!(c.pass(T0), 0);
    assert_eq!(c.show(low)["status"], "success");
}

#[test]
fn a_run_enqueued_for_later_waits_for_its_time() {
    let c = Cronq::new();
    c.add(T0, "Later", &[], "echo later");
    let id = c.enqueue(T0, &["Later", "--at", "2026-11-23T10:00:00Z"]);
    assert_eq!(c.show(id)["due_at"], "2026-11-23T10:00:00Z");
    assert_eq!(c.pass("2026-11-23T09:59:59Z"), 0);
    let run = c.show(id);
    assert_eq!(run["status"], "pending");
    assert_eq!(run["started_at"], Value::Null);
    assert_eq!(c.pass("2026-11-23T10:00:00Z"), 0);
    let run = c.show(id);
    assert_eq!(run["status"], "success");
    assert_eq!(run["started_at"], "2026-11-23T10:00:00Z");
}

#[test]
fn a_failed_run_is_retried_after_a_backoff_then_fails_for_good() {
    let c = Cronq::new();
    c.add(T0, "Flaky", &["--retries", "1"], "echo trying; exit 3");
    let id = c.enqueue(T0, &["Flaky"]);
    assert_eq!(c.pass(T0), 1);

    // Back in the queue as the same run, second attempt, at least 60 s later.
    let run = c.show(id);
    assert_eq!(run["status"], "pending", "{run:#}");
    assert_eq!(run["attempt"], 2);
    let due = parse_time(&run["due_at"]);
    let t0 = parse_time(&Value::from(T0));
    assert!(due >= t0 + Duration::seconds(60), "retry due at {due}");
    assert!(due <= t0 + Duration::seconds(90), "retry due at {due}");
    assert_eq!(c.runs(&[]).len(), 1, "a retry reuses the run");

    // A pass just before that time leaves it alone.
    let just_before = rfc3339(due - Duration::seconds(1));
    assert_eq!(c.pass(&just_before), 0);
    assert_eq!(c.show(id)["status"], "pending");

    // At that time the second attempt runs, fails, and there are no attempts left.
    assert_eq!(c.pass(&rfc3339(due)), 1);
    let run = c.show(id);
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["attempt"], 2);
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["finished_at"], rfc3339(due));
    assert_eq!(run["output"], "trying\n");
    assert_eq!(c.job(&rfc3339(due), "Flaky")["last_status"], "failed");
}

#[test]
fn run_exits_1_when_a_job_failed() {
    let c = Cronq::new();
    c.add(T0, "Broken", &["--retries", "0"], "echo broken >&2; exit 3");
    c.add(T0, "Fine", &[], "true");
    c.ok(T0, &["enqueue", "Fine"]);
    let broken = c.enqueue(T0, &["Broken"]);
    c.at(T0, &["run"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Broken"));
    assert_eq!(c.show(broken)["status"], "failed");
    assert_eq!(c.runs(&["--status", "success"]).len(), 1);
}

#[test]
fn run_is_silent_when_all_went_well() {
    let c = Cronq::new();
    c.add(
        T0,
        "Chatty",
        &["--schedule", "* * * * *"],
        "echo lots of output",
    );
    c.add(T0, "Queued", &[], "echo queued; echo warnings too >&2");
    c.ok(T0, &["enqueue", "Queued"]);
    // The output goes to the database, not to cron's mail.
    c.at("2026-11-23T09:01:00Z", &["run"])
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
    let runs = c.runs(&["--status", "success"]);
    assert_eq!(
        runs.len(),
        2,
        "the queued run and the 09:01 slot of Chatty: {runs:#?}"
    );
    // A pass with nothing to do is silent too.
    c.at("2026-11-23T09:01:10Z", &["run"])
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
}

#[test]
fn run_job_runs_in_the_foreground_and_records_the_run() {
    let c = Cronq::new();
    c.add(T0, "Hello", &[], "echo hello from $CRONQ_JOB");
    c.at(T0, &["run-job", "Hello"])
        .assert()
        .code(0)
        .stdout("hello from Hello\n");
    let runs = c.runs(&["--job", "Hello"]);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success");
    assert_eq!(runs[0]["exit_code"], 0);
    assert_eq!(runs[0]["slot"], Value::Null);
    assert_eq!(runs[0]["finished_at"], T0);
    let id = runs[0]["id"].as_i64().unwrap();
    assert_eq!(c.show(id)["output"], "hello from Hello\n");
    assert_eq!(c.job(T0, "Hello")["last_status"], "success");
}

#[test]
fn run_job_exits_1_when_the_job_fails_and_does_not_retry() {
    let c = Cronq::new();
    c.add(T0, "Oops", &["--retries", "3"], "echo oops; exit 5");
    c.at(T0, &["run-job", "Oops"])
        .assert()
        .code(1)
        .stdout("oops\n");
    let runs = c.runs(&["--job", "Oops"]);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "failed", "no retry: {runs:#?}");
    assert_eq!(runs[0]["exit_code"], 5);
    assert_eq!(runs[0]["attempt"], 1);
}

#[test]
fn run_job_passes_the_target_through_the_environment() {
    let c = Cronq::new();
    c.add(
        T0,
        "PerAccount",
        &["--requires-target"],
        r#"echo "$CRONQ_TARGET_TYPE $CRONQ_TARGET_ID $CRONQ_DATA""#,
    );
    c.at(
        T0,
        &[
            "run-job",
            "PerAccount",
            "--target-id=7; echo injected",
            "--target-type=Account",
            "--data",
            "[1,2]",
        ],
    )
    .assert()
    .success()
    .stdout("Account 7; echo injected [1,2]\n");
}

#[test]
fn run_job_of_the_builtin_cleanup_succeeds() {
    let c = Cronq::new();
    c.ok(T0, &["run-job", "Cleanup"]);
    let runs = c.runs(&["--job", "Cleanup"]);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success");
}

#[test]
fn the_database_comes_from_db_or_cronq_db_and_db_wins() {
    let dir = tempfile::tempdir().unwrap();
    let from_env = dir.path().join("env.db");
    let from_flag = dir.path().join("flag.db");
    let with_env = |args: &[&str]| {
        let mut cmd = cronq();
        cmd.env("CRONQ_DB", &from_env)
            .args(["--now", T0])
            .args(args);
        cmd
    };
    with_env(&["add", "ViaEnv", "--", "true"])
        .assert()
        .success();
    with_env(&[
        "--db",
        from_flag.to_str().unwrap(),
        "add",
        "ViaFlag",
        "--",
        "true",
    ])
    .assert()
    .success();
    assert!(from_env.exists() && from_flag.exists());

    let names = |db: &Path| -> Vec<String> {
        let out = cronq()
            .arg("--db")
            .arg(db)
            .args(["--now", T0, "jobs", "--json"])
            .output()
            .unwrap();
        let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&from_env), ["Cleanup", "ViaEnv"]);
    assert_eq!(names(&from_flag), ["Cleanup", "ViaFlag"]);
    // CRONQ_NOW pins the clock like --now.
    let out = cronq()
        .env("CRONQ_DB", &from_env)
        .env("CRONQ_NOW", "2030-01-01T00:00:00Z")
        .args(["next", "@yearly", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "2031-01-01T00:00:00Z\n");
}

#[test]
fn the_database_file_is_created_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data").join("cronq").join("cronq.db");
    cronq()
        .arg("--db")
        .arg(&db)
        .args(["--now", T0, "jobs"])
        .assert()
        .success();
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
}

#[test]
fn next_prints_slots_strictly_after_a_time() {
    let c = Cronq::new();
    c.at(
        T0,
        &[
            "next",
            "*/15 * * * *",
            "--after",
            "2026-11-23T09:15:00Z",
            "--count",
            "3",
        ],
    )
    .assert()
    .success()
    .stdout("2026-11-23T09:30:00Z\n2026-11-23T09:45:00Z\n2026-11-23T10:00:00Z\n");
    // Five by default, after now.
    let out = c.ok(T0, &["next", "0 0 13 * 5"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "2026-11-27T00:00:00Z",
            "2026-12-04T00:00:00Z",
            "2026-12-11T00:00:00Z",
            "2026-12-13T00:00:00Z",
            "2026-12-18T00:00:00Z",
        ]
    );
}

#[test]
fn version_prints_the_name_and_version() {
    cronq()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("cronq {}\n", env!("CARGO_PKG_VERSION")));
}
