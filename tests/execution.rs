//! How runs execute: in parallel when asked, within their timeout, with bounded output,
//! and with no more than `max_processes` invocations at work.

mod common;

use common::{all_runs, cronq, rfc3339, wait_for, START};
use serde_json::Value;
use tempfile::TempDir;

/// The largest resident set, in KiB, of any child this test process has waited for.
fn max_child_rss_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss
}

#[test]
fn a_job_printing_100_mb_keeps_only_its_last_64_kib() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let command = "head -c 100000000 /dev/zero | tr '\\0' x; echo; echo THE END >&2";
    cronq(&db, START)
        .args(["add", "chatty", "--", command])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "chatty"])
        .assert()
        .success();
    cronq(&db, START).arg("run").assert().success();
    // The runner held at most the tail in memory (the job's own processes are tiny too).
    let rss = max_child_rss_kib();
    assert!(
        rss < 64 * 1024,
        "a child of this test reached {rss} KiB resident"
    );
    let run = &all_runs(&db)[0];
    assert_eq!(run["status"], "success");
    let show = cronq(&db, START)
        .args(["show", &run["id"].to_string(), "--json"])
        .output()
        .unwrap();
    let output = serde_json::from_slice::<Value>(&show.stdout).unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        output.starts_with("[cronq: 99934473 earlier bytes of output not kept]\n"),
        "{}",
        &output[..80]
    );
    // stdout and stderr are two pipes read side by side: their order is arrival order, not
    // a promise, so look for the stderr line anywhere in the tail and x's everywhere else.
    let (marker, tail) = output.split_once('\n').unwrap();
    assert!(marker.starts_with("[cronq:"), "{marker}");
    assert_eq!(tail.matches("THE END\n").count(), 1);
    let rest = tail.replacen("THE END\n", "", 1);
    assert!(rest.ends_with("x\n") && rest.trim_end().bytes().all(|b| b == b'x'));
    let size = std::fs::metadata(&db).unwrap().len();
    assert!(size < 1024 * 1024, "database grew to {size} bytes");
}

#[test]
fn max_processes_limits_the_invocations_at_work() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let marker = dir.path().join("release");
    let started = dir.path().join("started");
    let command = format!(
        "touch {started}; while [ ! -e {marker} ]; do sleep 0.02; done",
        started = started.display(),
        marker = marker.display()
    );
    cronq(&db, START)
        .args(["settings", "max_processes", "1"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["settings", "jobs_max_portion", "1"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["add", "holder", "--", &command])
        .assert()
        .success();
    cronq(&db, START)
        .args(["add", "quick", "--", "true"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "holder", "--priority", "1"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "quick"])
        .assert()
        .success();
    let busy = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .arg("--db")
        .arg(&db)
        .args(["--now", &rfc3339(START), "run"])
        .spawn()
        .unwrap();
    wait_for("the first invocation's job to start", || started.exists());

    // Every worker place is taken: this invocation plans, claims nothing, and exits 0 at once.
    cronq(&db, START + 15)
        .arg("run")
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let quick = all_runs(&db)
        .into_iter()
        .find(|r| r["job"] == "quick")
        .unwrap();
    assert_eq!(quick["status"], "pending");

    std::fs::write(&marker, "").unwrap();
    assert!(busy.wait_with_output().unwrap().status.success());
    cronq(&db, START + 30).arg("run").assert().success();
    assert!(all_runs(&db).iter().all(|r| r["status"] == "success"));
}
#[test]
fn a_run_past_its_timeout_is_killed_with_its_whole_group() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let pidfile = dir.path().join("grandchild.pid");
    let command = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    cronq(&db, START)
        .args([
            "add",
            "slow",
            "--timeout",
            "1",
            "--retries",
            "0",
            "--",
            &command,
        ])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "slow"])
        .assert()
        .success();
    cronq(&db, START)
        .arg("run")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("timed out after 1 s"));
    let run = &all_runs(&db)[0];
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"], "timed out after 1 s");
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = unsafe { libc::kill(grandchild, 0) } == 0;
    assert!(!alive, "the job's background process survived its timeout");
}

#[test]
fn parallel_mode_runs_a_portion_at_the_same_time() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let log = dir.path().join("log");
    cronq(&db, START)
        .args(["settings", "jobs_run_in_parallel", "true"])
        .assert()
        .success();
    let command = format!(
        "echo start >> {log}; sleep 1; echo end >> {log}",
        log = log.display()
    );
    for i in 0..4 {
        let name = format!("sleeper{i}");
        cronq(&db, START)
            .args(["add", &name, "--", &command])
            .assert()
            .success();
        cronq(&db, START)
            .args(["enqueue", &name])
            .assert()
            .success();
    }
    cronq(&db, START)
        .arg("run")
        .assert()
        .success()
        .stdout("")
        .stderr("");
    // All four started before any ended: they ran side by side, not one after another.
    let events: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        events,
        ["start", "start", "start", "start", "end", "end", "end", "end"]
    );
    assert!(all_runs(&db).iter().all(|r| r["status"] == "success"));
}

/// `cronq run` as a process of its own, for a test to kill, its stderr kept for
/// `wait_with_output`.
fn pass_in_background(db: &std::path::Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .arg("--db")
        .arg(db)
        .args(["--now", &rfc3339(START), "run"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A database in parallel mode with `concurrency` workers at most.
fn parallel_database(dir: &TempDir, concurrency: u32) -> std::path::PathBuf {
    let db = dir.path().join("cronq.db");
    let concurrency = concurrency.to_string();
    for (key, value) in [
        ("jobs_run_in_parallel", "true"),
        ("jobs_pool_concurrency", concurrency.as_str()),
    ] {
        cronq(&db, START)
            .args(["settings", key, value])
            .assert()
            .success();
    }
    db
}

/// What `cronq show ID --json` says the run's output was, trimmed.
fn output_of(db: &std::path::Path, id: &str) -> String {
    let out = cronq(db, START)
        .args(["show", id, "--json"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["output"].as_str().unwrap().trim().to_string()
}

#[test]
fn parallel_mode_carries_a_portion_out_in_as_many_workers_as_the_concurrency() {
    let dir = TempDir::new().unwrap();
    let db = parallel_database(&dir, 2);
    // $PPID is the process that started the job: the worker that carried the run out.
    cronq(&db, START)
        .args(["add", "who", "--", "sleep 0.2; echo $PPID"])
        .assert()
        .success();
    for _ in 0..6 {
        cronq(&db, START)
            .args(["enqueue", "who"])
            .assert()
            .success();
    }
    cronq(&db, START)
        .arg("run")
        .assert()
        .success()
        .stdout("")
        .stderr("");
    let runs = all_runs(&db);
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:#?}");
    let mut workers: Vec<String> = runs
        .iter()
        .map(|r| output_of(&db, &r["id"].as_i64().unwrap().to_string()))
        .collect();
    workers.sort();
    workers.dedup();
    // Two workers carried out the six runs: a process start per run, not two.
    assert_eq!(workers.len(), 2, "{workers:?}");
}

#[test]
fn near_the_portions_end_no_run_waits_behind_a_long_job_for_its_worker() {
    let dir = TempDir::new().unwrap();
    let db = parallel_database(&dir, 2);
    cronq(&db, START)
        .args(["settings", "jobs_max_portion", "4"])
        .assert()
        .success();
    // $PPID is the worker that carried the run out.
    cronq(&db, START)
        .args(["add", "long", "--", "sleep 2; echo $PPID"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["add", "quick", "--", "echo $PPID"])
        .assert()
        .success();
    cronq(&db, START)
        .args(["enqueue", "long"])
        .assert()
        .success();
    for _ in 0..3 {
        cronq(&db, START)
            .args(["enqueue", "quick"])
            .assert()
            .success();
    }
    cronq(&db, START).arg("run").assert().success();
    let runs = all_runs(&db);
    assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:#?}");
    let worker_of = |job: &str| -> Vec<String> {
        runs.iter()
            .filter(|r| r["job"] == job)
            .map(|r| output_of(&db, &r["id"].as_i64().unwrap().to_string()))
            .collect()
    };
    let (long, quick) = (worker_of("long"), worker_of("quick"));
    // With the portion's last runs handed ahead, one of them would have waited for the
    // long job's worker; the free worker took all three.
    assert_eq!(quick.len(), 3);
    assert!(quick.iter().all(|w| *w == quick[0]), "{quick:?}");
    assert_ne!(long[0], quick[0]);
}

#[test]
fn a_parallel_pass_killed_mid_run_loses_no_result_and_starts_nothing_more() {
    let dir = TempDir::new().unwrap();
    let db = parallel_database(&dir, 1);
    let started = dir.path().join("started");
    let command = format!(
        "echo $CRONQ_RUN_ID >> {}; sleep 1; echo finished",
        started.display()
    );
    cronq(&db, START)
        .args(["add", "slow", "--", &command])
        .assert()
        .success();
    for _ in 0..2 {
        cronq(&db, START)
            .args(["enqueue", "slow"])
            .assert()
            .success();
    }
    let mut pass = pass_in_background(&db);
    wait_for("the first run to start", || started.exists());
    // SIGKILL: the pass gets no chance to tell its worker anything.
    unsafe { libc::kill(pass.id() as i32, libc::SIGKILL) };
    pass.wait().unwrap();

    // The worker records the result of the run it holds, then sees its orders end.
    wait_for("the first run's result", || {
        all_runs(&db).iter().any(|r| r["status"] == "success")
    });
    let runs = all_runs(&db);
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "success"], "{runs:#?}");
    let first = runs[1]["id"].as_i64().unwrap().to_string();
    assert_eq!(output_of(&db, &first), "finished");
    // Nothing started the second run after the pass died; the next pass does.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = std::fs::read_to_string(&started).unwrap();
    assert_eq!(lines.lines().collect::<Vec<_>>(), [first.as_str()]);
    cronq(&db, START).arg("run").assert().success();
    assert!(all_runs(&db).iter().all(|r| r["status"] == "success"));
}

#[test]
fn a_next_run_that_cannot_be_claimed_costs_the_ended_run_nothing() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    cronq(&db, START)
        .args(["add", "t", "--", "echo done"])
        .assert()
        .success();
    for _ in 0..2 {
        cronq(&db, START).args(["enqueue", "t"]).assert().success();
    }
    // Another program leaves the second run with bytes where text belongs: claiming it
    // (in the transaction that records the first run's result) fails.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE runs SET target_id = x'00ff' WHERE id = 2", [])
        .unwrap();
    cronq(&db, START)
        .arg("run")
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "run 2 holds a value cronq cannot read",
        ));
    // The first run's result was recorded on its own; the second is still pending.
    // (`cronq runs` refuses to show the damaged row, so the rows are read directly.)
    let statuses: Vec<(i64, String)> = rusqlite::Connection::open(&db)
        .unwrap()
        .prepare("SELECT id, status FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses,
        [(1, "success".to_string()), (2, "pending".to_string())]
    );
    assert_eq!(output_of(&db, "1"), "done");
}

#[test]
fn a_parallel_pass_stopped_while_its_workers_hold_orders_ahead_exits_0_and_fails_nothing() {
    let dir = TempDir::new().unwrap();
    let db = parallel_database(&dir, 2);
    cronq(&db, START)
        .args(["settings", "shutdown_grace", "0"])
        .assert()
        .success();
    let started = dir.path().join("started");
    let command = format!("echo $CRONQ_RUN_ID >> {}; sleep 30", started.display());
    cronq(&db, START)
        .args(["add", "slow", "--", &command])
        .assert()
        .success();
    // Six runs and a portion of 15: each worker is handed its next order ahead.
    for _ in 0..6 {
        cronq(&db, START)
            .args(["enqueue", "slow"])
            .assert()
            .success();
    }
    let pass = pass_in_background(&db);
    wait_for("both workers' first runs to start", || {
        std::fs::read_to_string(&started).is_ok_and(|s| s.lines().count() == 2)
    });
    unsafe { libc::kill(pass.id() as i32, libc::SIGTERM) };
    let out = pass.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The two runs were stopped and queued again; the orders handed ahead were never
    // carried out, and none of that is a failure.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("ended before it answered"), "{stderr}");
    let runs = all_runs(&db);
    assert!(runs.iter().all(|r| r["status"] == "pending"), "{runs:#?}");
    let lines = std::fs::read_to_string(&started).unwrap();
    assert_eq!(lines.lines().count(), 2, "no run started after the stop");
}
