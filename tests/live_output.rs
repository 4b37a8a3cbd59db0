//! Live output (docs/commands.md, `show`): while a command job runs, its runner writes the
//! output so far into the run's row (at most every 2 s, fenced by its claim), so `cronq
//! show` of a running run shows it, and `cronq show --follow` prints it as it grows, each
//! byte once, then the run's status line, and exits 0 on success, 1 otherwise. Every test
//! runs on both backends; the jobs wait for files the tests create, so that what is
//! running at each look is known, and only real processes are waited for, with bounded
//! deadlines.

mod common;

use common::{wait_within, Backend, Host, TestDb, START};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn cronq(db: &TestDb, args: &[&str]) -> Command {
    Host::new("live").command(&db.arg(), START, args)
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = cronq(db, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Adds job `name` running `script`, queues a run of it and starts a pass that runs it;
/// the run's id and the pass.
fn start(db: &TestDb, name: &str, script: &str) -> (String, Child) {
    ok(db, &["add", name, "--retries", "0", "--", script]);
    let id = ok(db, &["enqueue", name]).trim().to_string();
    let pass = cronq(db, &["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (id, pass)
}

fn show(db: &TestDb, id: &str) -> String {
    ok(db, &["show", id])
}

fn wait_for_file_script(dir: &Path, before: &str, after: &str, exit: i32) -> String {
    let go = dir.join("go");
    format!(
        "{before}; while [ ! -e '{}' ]; do sleep 0.05; done; {after}; exit {exit}",
        go.display()
    )
}

fn finish(mut pass: Child) {
    pass.wait().unwrap();
}

fn follow(db: &TestDb, id: &str) -> Child {
    cronq(db, &["show", "--follow", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ended(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn a_running_run_shows_its_output_so_far(backend: Backend) {
    let db = TestDb::new(backend);
    let script = wait_for_file_script(db.dir.path(), "echo first line", "echo second line", 0);
    let (id, pass) = start(&db, "talker", &script);
    wait_within(20, "the first line in the running run's row", || {
        let shown = show(&db, &id);
        shown.contains("status: running") && shown.contains("first line")
    });
    assert!(!show(&db, &id).contains("second line"));
    std::fs::write(db.dir.path().join("go"), "").unwrap();
    finish(pass);
    let shown = show(&db, &id);
    assert!(shown.contains("status: success"), "{shown}");
    assert!(shown.contains("first line\nsecond line\n"), "{shown}");
}

fn follow_prints_each_byte_once_then_the_status(backend: Backend) {
    let db = TestDb::new(backend);
    let script = wait_for_file_script(db.dir.path(), "echo first line", "echo second line", 3);
    let (id, pass) = start(&db, "talker", &script);
    wait_within(20, "the first line in the running run's row", || {
        show(&db, &id).contains("first line")
    });
    let follower = follow(&db, &id);
    // The follower has printed the first line and waits; the job goes on.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::write(db.dir.path().join("go"), "").unwrap();
    finish(pass);
    let out = ended(follower);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        format!("first line\nsecond line\n[cronq: run {id}: failed (exit status 3)]\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}

fn follow_of_a_finished_run_prints_it_and_ends(backend: Backend) {
    let db = TestDb::new(backend);
    let (id, pass) = start(&db, "quick", "printf 'no newline'");
    finish(pass);
    let out = ended(follow(&db, &id));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("no newline\n[cronq: run {id}: success]\n")
    );
    assert_eq!(out.status.code(), Some(0));
}

/// More than the kept 64 KiB while the follower looks: what slid out of the window unseen
/// is counted, and the rest is printed once.
fn follow_says_what_slid_out_of_the_kept_tail(backend: Backend) {
    let db = TestDb::new(backend);
    // 100,000 bytes of 'x' lines, then a marker.
    let script = wait_for_file_script(
        db.dir.path(),
        "echo start",
        "yes xxxxxxxxx | head -c 100000; echo end",
        0,
    );
    let (id, pass) = start(&db, "flood", &script);
    wait_within(20, "the start in the running run's row", || {
        show(&db, &id).contains("output:\nstart\n")
    });
    let follower = follow(&db, &id);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    std::fs::write(db.dir.path().join("go"), "").unwrap();
    finish(pass);
    let out = ended(follower);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("start\n"), "{}", &stdout[..100]);
    let last = &stdout[stdout.len().saturating_sub(200)..];
    assert!(
        stdout.ends_with(&format!("end\n[cronq: run {id}: success]\n")),
        "{last}"
    );
    // 6 + 100,000 + 4 bytes in all; the last 65,536 kept; "start\n" printed before.
    let missed = 6 + 100_000 + 4 - 65_536 - 6;
    let note = format!("[cronq: {missed} bytes of output not kept]\n");
    assert!(stdout.contains(&note), "no {note:?}");
    let printed_x = stdout.matches("xxxxxxxxx\n").count();
    assert_eq!(printed_x, (65_536 - 4) / 10, "each kept line once");
}

on_both_backends!(
    a_running_run_shows_its_output_so_far,
    follow_prints_each_byte_once_then_the_status,
    follow_of_a_finished_run_prints_it_and_ends,
    follow_says_what_slid_out_of_the_kept_tail,
);
