//! Files another user controls, and a database that vanished, as an operator meets them
//! (docs/install.md: "Files and permissions", "A database that vanished").
//!
//! A database, lock file or directory that another user could change is refused with exit
//! code 2 and a message naming the file, its owner and mode, and the fix; cronq never follows
//! a symbolic link to one of its own files. A database deleted after cronq used it is never
//! replaced by an empty one: every command, and the daemon, exits 1 instead.
//!
//! Some tests give a file to another user (uid 65534) and so need root; they assert that they
//! run as root rather than pass without testing anything.

use assert_cmd::Command;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// Every command's pinned clock (a Monday).
const NOW: &str = "2026-11-23T09:00:00Z";

/// A user id that is not the one running the tests ("nobody" on Debian).
const OTHER_UID: u32 = 65534;

/// A database in a directory of its own, `<tmp>/data/cronq.db`, so that the directory's
/// mode and owner can be changed without touching the temporary directory above it.
struct Db {
    dir: TempDir,
    path: PathBuf,
}

impl Db {
    /// A fresh database, created by a first command.
    fn new() -> Db {
        let db = Db::empty();
        db.ok(&["jobs"]);
        db
    }

    /// The path of a database not created yet.
    fn empty() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).unwrap();
        let path = data.join("cronq.db");
        Db { dir, path }
    }

    fn data_dir(&self) -> PathBuf {
        self.path.parent().unwrap().to_path_buf()
    }

    /// `<database><suffix>`, e.g. `.lock` or `-wal`.
    fn beside(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.path.display()))
    }

    /// `cronq --db DB --now NOW ARGS...`
    fn run(&self, args: &[&str]) -> Output {
        run_at(&self.path, args)
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
}

/// `cronq --db PATH --now NOW ARGS...` with no database, clock or log filter from the shell.
fn run_at(db: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("cronq")
        .expect("the cronq binary is built")
        .env_remove("CRONQ_DB")
        .env_remove("CRONQ_NOW")
        .env_remove("RUST_LOG")
        .arg("--db")
        .arg(db)
        .args(["--now", NOW])
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code, and that stderr holds every one of `needles`.
fn assert_refused(output: &Output, code: i32, needles: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}; stderr:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr does not mention {needle:?}:\n{stderr}"
        );
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives `path` (not following a link) to another user; needs root.
fn give_to_another_user(path: &Path) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test gives a file to another user (uid {OTHER_UID}) and must run as root"
    );
    std::os::unix::fs::lchown(path, Some(OTHER_UID), None).unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    fs::symlink_metadata(path).unwrap().modified().unwrap()
}

/// Polls `done` every 10 ms for up to 20 s: for real processes, where no clock can be
/// injected.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// Files another user controls.

#[test]
fn a_database_writable_by_others_is_refused_and_left_as_it_was() {
    let db = Db::new();
    chmod(&db.path, 0o666);
    let before = fs::read(&db.path).unwrap();
    let output = db.run(&["run"]);
    assert_refused(
        &output,
        2,
        &[
            &db.path.display().to_string(),
            "mode 0666",
            "uid 0",
            &format!("chmod 600 {}", db.path.display()),
        ],
    );
    assert_eq!(fs::read(&db.path).unwrap(), before);
    assert!(!db.beside(".lock").exists(), "no pass may have run");
}

#[test]
fn a_database_writable_by_its_group_is_refused_for_every_command() {
    let db = Db::new();
    chmod(&db.path, 0o620);
    for args in [&["jobs"][..], &["status"], &["add", "x", "--", "true"]] {
        assert_refused(&db.run(args), 2, &["mode 0620", "chmod 600"]);
    }
}

#[test]
fn a_database_directory_writable_by_others_is_refused() {
    let db = Db::new();
    chmod(&db.data_dir(), 0o777);
    let output = db.run(&["run"]);
    assert_refused(
        &output,
        2,
        &[
            &db.data_dir().display().to_string(),
            "mode 0777",
            &format!("chmod go-w {}", db.data_dir().display()),
        ],
    );
}

#[test]
fn a_directory_writable_by_others_above_the_database_is_refused() {
    let db = Db::new();
    chmod(db.dir.path(), 0o757);
    assert_refused(
        &db.run(&["jobs"]),
        2,
        &[&db.dir.path().display().to_string(), "mode 0757"],
    );
}

#[test]
fn no_directory_is_created_inside_one_others_control() {
    let db = Db::empty();
    chmod(&db.data_dir(), 0o777);
    let path = db.data_dir().join("sub").join("cronq.db");
    assert_refused(
        &run_at(&path, &["jobs"]),
        2,
        &[&db.data_dir().display().to_string(), "mode 0777"],
    );
    assert!(
        !db.data_dir().join("sub").exists(),
        "a directory was created"
    );
}

#[test]
fn a_root_owned_sticky_directory_like_tmp_is_accepted() {
    let db = Db::empty();
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs a root-owned directory and must run as root"
    );
    chmod(&db.data_dir(), 0o1777);
    db.ok(&["run"]);
    db.ok(&["jobs"]);
}

#[test]
fn a_database_owned_by_another_user_is_refused() {
    let db = Db::new();
    give_to_another_user(&db.path);
    let output = db.run(&["run"]);
    assert_refused(
        &output,
        2,
        &[
            &db.path.display().to_string(),
            &format!("uid {OTHER_UID}"),
            "mode 0600",
            "chown",
        ],
    );
}

#[test]
fn a_database_directory_owned_by_another_user_is_refused() {
    let db = Db::new();
    give_to_another_user(&db.data_dir());
    assert_refused(
        &db.run(&["run"]),
        2,
        &[
            &db.data_dir().display().to_string(),
            &format!("uid {OTHER_UID}"),
            "mode 0700",
        ],
    );
}

#[test]
fn a_lock_file_owned_by_another_user_is_refused() {
    let db = Db::new();
    db.ok(&["run"]);
    give_to_another_user(&db.beside(".lock"));
    assert_refused(
        &db.run(&["run"]),
        2,
        &[
            &db.beside(".lock").display().to_string(),
            &format!("uid {OTHER_UID}"),
        ],
    );
}

#[test]
fn a_worker_lock_file_writable_by_others_is_refused() {
    let db = Db::new();
    db.ok(&["add", "once", "--", "true"]);
    db.ok(&["enqueue", "once"]);
    db.ok(&["run"]);
    let worker = db.beside(".worker-0.lock");
    assert!(worker.exists(), "the pass took a worker place");
    chmod(&worker, 0o646);
    db.ok(&["enqueue", "once"]);
    assert_refused(
        &db.run(&["run"]),
        2,
        &[&worker.display().to_string(), "mode 0646", "chmod 600"],
    );
}

#[test]
fn a_wal_file_writable_by_others_is_refused() {
    let db = Db::new();
    db.ok(&["run"]);
    let wal = db.beside("-wal");
    assert!(wal.exists(), "cronq keeps its WAL file between passes");
    chmod(&wal, 0o666);
    assert_refused(
        &db.run(&["jobs"]),
        2,
        &[&wal.display().to_string(), "mode 0666"],
    );
}

#[test]
fn a_wal_file_that_is_a_symbolic_link_is_refused() {
    let db = Db::new();
    db.ok(&["run"]);
    let wal = db.beside("-wal");
    let elsewhere = db.dir.path().join("elsewhere-wal");
    fs::rename(&wal, &elsewhere).unwrap();
    symlink(&elsewhere, &wal).unwrap();
    assert_refused(
        &db.run(&["jobs"]),
        2,
        &[&wal.display().to_string(), "symbolic link"],
    );
}

#[test]
fn a_lock_file_that_is_a_symbolic_link_is_not_followed() {
    let db = Db::new();
    db.ok(&["run"]);
    let victim = db.dir.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    chmod(&victim, 0o600);
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let lock = db.beside(".lock");
    fs::remove_file(&lock).unwrap();
    symlink(&victim, &lock).unwrap();

    assert_refused(
        &db.run(&["run"]),
        2,
        &[&lock.display().to_string(), "symbolic link", "rm "],
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(mtime(&victim), old, "the link's target was touched");
}

#[test]
fn a_dangling_lock_file_link_creates_nothing() {
    let db = Db::new();
    let target = db.dir.path().join("planted");
    symlink(&target, db.beside(".lock")).unwrap();
    assert_refused(&db.run(&["run"]), 2, &["symbolic link"]);
    assert!(!target.exists(), "cronq created the link's target");
}

#[test]
fn a_database_that_is_a_symbolic_link_is_refused() {
    let db = Db::new();
    let link = db.data_dir().join("link.db");
    symlink(&db.path, &link).unwrap();
    assert_refused(
        &run_at(&link, &["jobs"]),
        2,
        &[&link.display().to_string(), "symbolic link"],
    );
}

#[test]
fn a_database_in_a_linked_directory_is_used() {
    // Only the final component must not be a link: a link to a directory (as in
    // /var/run -> /run) is resolved and the real directories are checked.
    let db = Db::new();
    db.ok(&["add", "x", "--", "true"]);
    let link = db.dir.path().join("linked");
    symlink(db.data_dir(), &link).unwrap();
    let output = run_at(&link.join("cronq.db"), &["jobs"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("x "));
}

// A database that vanished.

#[test]
fn a_deleted_database_is_not_replaced_by_an_empty_one() {
    let db = Db::new();
    db.ok(&["add", "x", "--schedule", "* * * * *", "--", "true"]);
    db.ok(&["run"]);
    fs::remove_file(&db.path).unwrap();

    let output = db.run(&["run"]);
    assert_refused(
        &output,
        1,
        &[
            &db.path.display().to_string(),
            "is gone",
            "the last pass ran at 2026-11-23T09:00:00Z",
            "backup",
            &db.beside(".lock").display().to_string(),
            &db.beside("-wal").display().to_string(),
        ],
    );
    assert!(!db.path.exists(), "an empty database was created");
}

#[test]
fn a_database_deleted_with_its_wal_files_is_not_replaced_either() {
    let db = Db::new();
    db.ok(&["run"]);
    for file in [db.path.clone(), db.beside("-wal"), db.beside("-shm")] {
        fs::remove_file(file).unwrap();
    }
    for args in [&["run"][..], &["jobs"], &["add", "x", "--", "true"]] {
        assert_refused(
            &db.run(args),
            1,
            &["is gone", &db.beside(".lock").display().to_string()],
        );
    }
    assert!(!db.path.exists(), "an empty database was created");
}

#[test]
fn status_reports_a_deleted_database() {
    let db = Db::new();
    db.ok(&["run"]);
    fs::remove_file(&db.path).unwrap();
    let output = db.run(&["status"]);
    assert_refused(&output, 1, &["is gone"]);
    assert!(!text(&output.stdout).contains("status: ok"));
}

#[test]
fn removing_the_files_named_starts_afresh_on_purpose() {
    let db = Db::new();
    db.ok(&["run"]);
    fs::remove_file(&db.path).unwrap();
    for suffix in [".lock", ".quiet", "-wal", "-shm"] {
        fs::remove_file(db.beside(suffix)).unwrap();
    }
    db.ok(&["run"]);
    assert!(db.ok(&["jobs"]).contains("Cleanup"));
}

/// A running `cronq daemon`, killed when dropped so that a failed assertion leaves nothing
/// behind.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// `cronq --db DB --now NOW daemon --interval 1`, its stderr in a log file.
    fn start(db: &Db) -> Daemon {
        let log = db.dir.path().join("daemon.log");
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .env_remove("RUST_LOG")
            .arg("--db")
            .arg(&db.path)
            .args(["--now", NOW, "daemon", "--interval", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("cronq daemon starts");
        Daemon { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for the daemon to exit.
    fn exit_status(&mut self) -> ExitStatus {
        let mut status = None;
        let child = &mut self.child;
        wait_for("the daemon to exit", || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts a daemon on a database, waits for its first pass, lets `vanish` remove the
/// database, and returns how the daemon ended and its log.
fn daemon_after(vanish: impl FnOnce(&Db)) -> (ExitStatus, String, Db) {
    let db = Db::new();
    let lock = db.beside(".lock");
    let mut daemon = Daemon::start(&db);
    wait_for("the daemon's first pass", || lock.exists());
    vanish(&db);
    let status = daemon.exit_status();
    let log = daemon.log();
    (status, log, db)
}

#[test]
fn a_daemon_whose_database_is_deleted_exits_1() {
    let (status, log, db) = daemon_after(|db| fs::remove_file(&db.path).unwrap());
    assert_eq!(status.code(), Some(1), "daemon log:\n{log}");
    assert!(log.contains(&db.path.display().to_string()), "{log}");
    assert!(log.contains("is gone") || log.contains("deleted"), "{log}");
    assert!(!db.path.exists(), "the daemon created an empty database");
}

#[test]
fn a_daemon_whose_database_directory_is_deleted_exits_1() {
    let (status, log, db) = daemon_after(|db| fs::remove_dir_all(db.data_dir()).unwrap());
    assert_eq!(status.code(), Some(1), "daemon log:\n{log}");
    assert!(log.contains("deleted"), "{log}");
    assert!(!db.path.exists(), "the daemon created an empty database");
}

#[test]
fn a_daemon_whose_database_is_replaced_exits_1() {
    let (status, log, _db) = daemon_after(|db| {
        let copy = db.data_dir().join("copy.db");
        fs::copy(&db.path, &copy).unwrap();
        fs::rename(&copy, &db.path).unwrap();
    });
    assert_eq!(status.code(), Some(1), "daemon log:\n{log}");
    assert!(log.contains("replaced"), "{log}");
}
