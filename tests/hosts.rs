//! Several hosts on one PostgreSQL database (docs/postgresql.md). Each simulated host has a
//! host id of its own (`CRONQ_HOST_ID`) and a state directory of its own (where a host keeps
//! its lock files), as separate machines would; they share the database and this
//! machine's processes. Every slot becomes one run and every run is claimed once, however
//! many hosts pass at the same instants; a host never takes over a run of another host
//! whose job may still run.

mod common;

use common::postgres::{fresh_database, TestDatabase};
use common::{wait_within, Host, START};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

impl Host {
    fn cronq(&self, db: &TestDatabase, now: i64, args: &[&str]) -> Command {
        self.command(std::ffi::OsStr::new(&db.url), now, args)
    }

    fn ok(&self, db: &TestDatabase, now: i64, args: &[&str]) -> String {
        let out = self.cronq(db, now, args).output().unwrap();
        assert!(
            out.status.success(),
            "host {}: cronq {args:?} failed: {}",
            self.id,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn spawn(&self, db: &TestDatabase, now: i64, args: &[&str]) -> Child {
        self.cronq(db, now, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a pass failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn runs(host: &Host, db: &TestDatabase) -> Vec<Value> {
    let out = host.ok(db, START, &["runs", "--limit", "100000", "--json"]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn hosts() -> [Host; 3] {
    [
        Host::new("host-a"),
        Host::new("host-b"),
        Host::new("host-c"),
    ]
}

/// Three hosts run a pass at the same instants, every 15 s for ten minutes: each slot of
/// each job becomes exactly one run, executed once.
#[test]
fn three_hosts_passing_at_the_same_instants_run_each_slot_once() {
    let db = fresh_database();
    let hosts = hosts();
    let dir = TempDir::new().unwrap();
    let log: PathBuf = dir.path().join("slots");
    for (name, schedule) in [("minutely", "* * * * *"), ("every2", "*/2 * * * *")] {
        let command = format!("echo {name} $CRONQ_SLOT >> {}", log.display());
        hosts[0].ok(
            &db,
            START,
            &["add", name, "--schedule", schedule, "--", &command],
        );
    }
    for step in 1..=40 {
        let now = START + step * 15;
        let passes: Vec<Child> = hosts.iter().map(|h| h.spawn(&db, now, &["run"])).collect();
        for pass in passes {
            finish(pass);
        }
    }
    let executed = lines(&log);
    let distinct: HashSet<&String> = executed.iter().collect();
    assert_eq!(
        distinct.len(),
        executed.len(),
        "a slot ran twice: {executed:?}"
    );
    assert_eq!(executed.len(), 10 + 5, "{executed:?}");
    let mut per_slot: BTreeMap<(String, String), usize> = BTreeMap::new();
    for run in runs(&hosts[1], &db) {
        if run["job"] == "Cleanup" {
            continue;
        }
        assert_eq!(run["status"], "success", "{run}");
        *per_slot
            .entry((run["job"].to_string(), run["slot"].to_string()))
            .or_default() += 1;
    }
    assert_eq!(per_slot.len(), 15);
    assert!(per_slot.values().all(|&n| n == 1), "{per_slot:?}");
}

/// 300 queued runs drained by three hosts at once: each runs exactly once.
#[test]
fn three_hosts_draining_one_queue_run_each_run_once() {
    let db = fresh_database();
    let hosts = hosts();
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("ran");
    let command = format!("echo $CRONQ_RUN_ID >> {}", log.display());
    hosts[0].ok(&db, START, &["add", "work", "--", &command]);
    hosts[0].ok(&db, START, &["settings", "jobs_max_portion", "1000"]);
    let batch: String = (0..300).map(|_| "{}\n").collect();
    let mut enqueue = hosts[0]
        .cronq(&db, START, &["enqueue", "work", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    enqueue
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    assert!(enqueue.wait().unwrap().success());

    let passes: Vec<Child> = hosts
        .iter()
        .map(|h| h.spawn(&db, START + 1, &["run"]))
        .collect();
    for pass in passes {
        finish(pass);
    }
    let ran = lines(&log);
    let distinct: HashSet<&String> = ran.iter().collect();
    assert_eq!(ran.len(), 300, "every run ran");
    assert_eq!(distinct.len(), 300, "a run ran twice");
    let all = runs(&hosts[2], &db);
    assert_eq!(all.iter().filter(|r| r["status"] == "success").count(), 300);
    // Each run says which host ran it.
    let names: HashSet<&str> = hosts.iter().map(|h| h.id.as_str()).collect();
    assert!(
        all.iter()
            .all(|r| r["host"].as_str().is_some_and(|h| names.contains(h))),
        "a run without its host: {:?}",
        all.iter().find(|r| !r["host"].is_string())
    );
    // Where several hosts ran runs, the tables say which.
    let table = hosts[0].ok(&db, START, &["runs", "--limit", "300"]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("HOST"), "{header}");
    assert!(names.iter().any(|h| table.contains(h)), "{table}");
    let jobs: Value = serde_json::from_str(&hosts[0].ok(&db, START, &["jobs", "--json"])).unwrap();
    let work = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "work")
        .unwrap();
    assert!(
        work["last_host"]
            .as_str()
            .is_some_and(|h| names.contains(h)),
        "{work}"
    );
}

/// A runner on host a is killed (kill -9) while its job goes on. Host b cannot see host
/// a's processes, so it must not start the run again while the job may run; host a's own
/// passes leave the orphan alone until it ends, then record the attempt failed and retry it.
#[test]
fn a_run_whose_runner_died_is_not_taken_over_by_another_host() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    let (log, done) = (dir.path().join("ran"), dir.path().join("done"));
    let command = format!(
        "echo $CRONQ_ATTEMPT >> {log}; \
         for i in $(seq 100); do [ -e {done} ] && break; sleep 0.1; done",
        log = log.display(),
        done = done.display()
    );
    a.ok(&db, START, &["add", "orphaned", "--", &command]);
    let id: i64 = a
        .ok(&db, START, &["enqueue", "orphaned"])
        .trim()
        .parse()
        .unwrap();
    let mut runner = a.spawn(&db, START, &["run"]);
    wait_within(20, "the job to start", || log.exists());
    runner.kill().unwrap();
    runner.wait().unwrap();

    // Later, on both hosts: the job may still run, so nobody starts the run again.
    for host in [&b, &a, &b] {
        host.ok(&db, START + 120, &["run"]);
    }
    let run = |host: &Host| -> Value {
        serde_json::from_str(&host.ok(&db, START, &["show", &id.to_string(), "--json"])).unwrap()
    };
    assert_eq!(run(&b)["status"], "running", "{}", run(&b));
    assert_eq!(lines(&log), ["1"]);

    // The job ends. Host b still cannot prove anything; host a can, once the job's
    // processes are gone.
    fs::write(&done, "").unwrap();
    let mut recovered = None;
    wait_within(20, "host a to recover the run", || {
        b.ok(&db, START + 180, &["run"]);
        let seen_by_b = run(&b);
        assert_eq!(
            seen_by_b["status"], "running",
            "host b must not take over host a's run: {seen_by_b}"
        );
        a.ok(&db, START + 180, &["run"]);
        let seen_by_a = run(&a);
        let done = seen_by_a["status"] == "pending";
        recovered = Some(seen_by_a);
        done
    });
    let retried = recovered.unwrap();
    assert_eq!(retried["status"], "pending", "{retried}");
    assert_eq!(retried["attempt"], 2, "{retried}");
    assert!(
        retried["error"].as_str().unwrap().contains("died"),
        "{retried}"
    );
    assert_eq!(lines(&log), ["1"], "the retry waits for its due time");
}

/// Starts `command` as a job of host `a` (its runner in the background); returns the
/// run id, the runner and the file holding the job's process group id.
fn start_job(db: &TestDatabase, a: &Host, dir: &Path, name: &str) -> (i64, Child, PathBuf) {
    let pgid = dir.join(format!("{name}.pgid"));
    let command = format!("echo $$ > {}; sleep 300", pgid.display());
    a.ok(db, START, &["add", name, "--", &command]);
    let id: i64 = a.ok(db, START, &["enqueue", name]).trim().parse().unwrap();
    let runner = a.spawn(db, START, &["run"]);
    wait_within(20, "the job to start", || {
        fs::read_to_string(&pgid).is_ok_and(|t| t.ends_with('\n'))
    });
    (id, runner, pgid)
}

fn read_pgid(path: &Path) -> i32 {
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

fn group_gone(pgid: i32) -> bool {
    unsafe { libc::killpg(pgid, 0) != 0 }
}

fn show(host: &Host, db: &TestDatabase, id: i64) -> Value {
    serde_json::from_str(&host.ok(db, START, &["show", &id.to_string(), "--json"])).unwrap()
}

fn status(host: &Host, db: &TestDatabase, now: i64) -> (i32, Value) {
    let out = host.cronq(db, now, &["status", "--json"]).output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// Host a is powered off while its job runs: host b cannot prove anything, so the run is
/// left, flagged by `status` (exit 1), until the operator resolves it.
#[test]
fn a_powered_off_hosts_run_is_flagged_then_resolved_by_the_operator() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    let (id, mut runner, pgid) = start_job(&db, &a, dir.path(), "report");
    // The power goes: runner and job vanish at once, and host a never passes again.
    runner.kill().unwrap();
    runner.wait().unwrap();
    unsafe { libc::killpg(read_pgid(&pgid), libc::SIGKILL) };

    let later = START + 600;
    b.ok(&db, later, &["run"]);
    assert_eq!(
        show(&b, &db, id)["status"],
        "running",
        "no proof, no takeover"
    );
    let (code, json) = status(&b, &db, later);
    assert_eq!(code, 1, "{json}");
    let problems = json["problems"].to_string();
    assert!(
        problems.contains(&format!("run {id} of job report cannot be checked"))
            && problems.contains("host-a has been silent for 10m")
            && problems.contains(&format!("cronq resolve {id}")),
        "{problems}"
    );
    assert_eq!(json["flagged_runs"][0]["id"], id, "{json}");

    let resolved = b.ok(&db, later, &["resolve", &id.to_string()]);
    assert!(resolved.contains("resolved by the operator"), "{resolved}");
    let run = show(&b, &db, id);
    assert_eq!(run["status"], "pending", "retried: {run}");
    assert_eq!(run["attempt"], 2, "{run}");

    // The host is gone for good: forget it, and status is healthy again.
    b.ok(&db, later, &["resolve", "--host", "host-a"]);
    let (code, json) = status(&b, &db, later + 1);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["hosts"].as_array().unwrap().len(), 1, "{json}");
}

/// Host a comes back after a reboot (its row shows a new boot): that is proof its runs of
/// the old boot are gone, and host b recovers them.
#[test]
fn a_rebooted_hosts_runs_are_recovered_by_another_host() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    let (id, mut runner, pgid) = start_job(&db, &a, dir.path(), "nightly");
    runner.kill().unwrap();
    runner.wait().unwrap();
    unsafe { libc::killpg(read_pgid(&pgid), libc::SIGKILL) };
    b.ok(&db, START + 60, &["run"]);
    assert_eq!(show(&b, &db, id)["status"], "running");

    // What host a's first pass after the reboot writes.
    let mut admin = db.connect();
    admin
        .execute(
            "UPDATE hosts SET boot_id = 'after-reboot', last_seen = $1 WHERE id = 'host-a'",
            &[&(START + 120)],
        )
        .unwrap();
    let out = b.cronq(&db, START + 120, &["run"]).output().unwrap();
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(warning.contains("host-a rebooted"), "{warning}");
    let run = show(&b, &db, id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
}

/// The operator opted in to presume a silent host dead after 60 s. Host a loses the
/// database (its connection is cut, as a partition would) while its job runs: its runner
/// stops the job itself after 30 s out of touch, before host b, 60 s later by the
/// database's clock, presumes host a dead and takes the run over.
#[test]
fn under_the_presumption_a_cut_off_runner_kills_its_job_before_another_host_takes_it() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    a.ok(&db, START, &["settings", "presume_dead_hosts", "true"]);
    a.ok(&db, START, &["settings", "host_silence", "60"]);
    let (id, mut runner, pgid) = start_job(&db, &a, dir.path(), "sync");
    let group = read_pgid(&pgid);

    // Cut every connection of host a's runner.
    let mut admin = db.connect();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    let cut_at = Instant::now();
    wait_within(60, "the cut-off runner to stop its own job", || {
        group_gone(group)
    });
    let took = cut_at.elapsed();
    assert!(took >= Duration::from_secs(25), "stopped after {took:?}");
    runner.wait().unwrap();

    // Host b: not before the silence, then the run is presumed dead and retried.
    b.ok(&db, START + 30, &["run"]);
    assert_eq!(show(&b, &db, id)["status"], "running");
    let out = b.cronq(&db, START + 61, &["run"]).output().unwrap();
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(warning.contains("presumed dead"), "{warning}");
    let run = show(&b, &db, id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
}

/// `inner` run by another program (`PREFIX... PROGRAM ARGS...`), with `inner`'s
/// environment: a host's command inside a namespace.
fn wrapped(prefix: &[&str], inner: &Command) -> Command {
    let mut cmd = Command::new(prefix[0]);
    cmd.args(&prefix[1..])
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// `cronq ARGS` as host `host` after a reboot: in a mount namespace of its own where the
/// kernel's boot id reads as another (a bind mount over `/proc/sys/kernel/random/boot_id`),
/// which is all a reboot changes for cronq's proofs. Needs root, as CI and this suite run.
fn after_reboot(host: &Host, db: &TestDatabase, now: i64, args: &[&str]) -> Output {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "simulating a reboot needs root (a mount namespace)"
    );
    let fake = host.state.path().join("boot_id");
    fs::write(&fake, "00000000-0000-4000-8000-000000000001\n").unwrap();
    let script = format!(
        "mount --bind '{}' /proc/sys/kernel/random/boot_id && exec \"$@\"",
        fake.display()
    );
    wrapped(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ],
        &host.cronq(db, now, args),
    )
    .output()
    .unwrap()
}

/// Host a reboots for real, as far as cronq can tell (its boot id changes), while a run
/// of it was running: its own first pass after the reboot recovers the run on that proof,
/// and announces the new boot, which is proof for the other hosts too.
#[test]
fn a_hosts_first_pass_after_a_reboot_recovers_its_runs_of_the_old_boot() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    let (id, mut runner, pgid) = start_job(&db, &a, dir.path(), "nightly");
    runner.kill().unwrap();
    runner.wait().unwrap();
    unsafe { libc::killpg(read_pgid(&pgid), libc::SIGKILL) };

    let out = after_reboot(&a, &db, START + 120, &["run"]);
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("the machine rebooted while it was running"),
        "{warning}"
    );
    let run = show(&b, &db, id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    let (_, json) = status(&b, &db, START + 120);
    let host_a = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == "host-a")
        .unwrap()
        .clone();
    assert_eq!(host_a["boot_id"], "00000000-0000-4000-8000-000000000001");
}

/// A host that can be cut off from the database for real: a network namespace whose only
/// way out is a veth link to this machine, on an address range that is not this machine's
/// own (198.18.0.0/15, set aside for tests), with a relay in this process that forwards its
/// connections to the database server. Taking the link down drops its packets, as a
/// network partition does. Needs root, as CI and this suite run.
struct CutOffHost {
    namespace: String,
    link: String,
    url: String,
}

impl CutOffHost {
    fn new(db: &TestDatabase) -> CutOffHost {
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "a network namespace needs root"
        );
        let pid = std::process::id();
        let (namespace, link, peer) =
            (format!("cq{pid}"), format!("cqh{pid}"), format!("cqn{pid}"));
        let net = pid % 250 + 1;
        let (here, there) = (format!("198.18.{net}.1"), format!("198.18.{net}.2"));
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().unwrap();
            assert!(status.success(), "ip {args:?} failed");
        };
        ip(&["netns", "add", &namespace]);
        // From here on, dropping it removes what was made.
        let mut cut = CutOffHost {
            namespace: namespace.clone(),
            link: link.clone(),
            url: String::new(),
        };
        ip(&["link", "add", &link, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &namespace]);
        ip(&["addr", "add", &format!("{here}/30"), "dev", &link]);
        ip(&["link", "set", &link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &namespace, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{there}/30"), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);
        // The relay: connections to HERE:PORT go on to the database server.
        let server = server_address(&db.url);
        let listener = std::net::TcpListener::bind((here.as_str(), 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = std::net::TcpStream::connect(&server) else {
                    continue;
                };
                let (mut c1, mut u1) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let (mut c2, mut u2) = (client, upstream);
                std::thread::spawn(move || std::io::copy(&mut c1, &mut u1));
                std::thread::spawn(move || std::io::copy(&mut u2, &mut c2));
            }
        });
        let name = db.url.rsplit('/').next().unwrap();
        cut.url = format!("postgresql://postgres@{here}:{port}/{name}?sslmode=disable");
        cut
    }

    /// `cronq ARGS` as `host`, inside the namespace, through the relay.
    fn spawn(&self, host: &Host, now: i64, args: &[&str]) -> Child {
        let inner = host.command(std::ffi::OsStr::new(&self.url), now, args);
        let mut cmd = wrapped(&["ip", "netns", "exec", &self.namespace], &inner);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The partition: the link goes down, every packet from now on is dropped.
    fn cut(&self) {
        let status = Command::new("ip")
            .args(["link", "set", &self.link, "down"])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for CutOffHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .status();
    }
}

/// `HOST:PORT` of a `postgresql://USER@HOST:PORT/DB` URL.
fn server_address(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_string()
}

/// The operator opted in to presume a silent host dead after 60 s. A real partition cuts
/// host a off while its job runs (its packets are dropped; nothing closes its connection):
/// its runner's look at its claim fails once TCP gives up (20 s), and at 30 s out of touch
/// the runner stops its own job, before host b, 60 s after host a was last seen,
/// presumes it dead and takes the run over.
#[test]
fn under_the_presumption_a_partitioned_runner_kills_its_job_before_another_host_takes_it() {
    let db = fresh_database();
    let [a, b, _] = hosts();
    let dir = TempDir::new().unwrap();
    b.ok(&db, START, &["settings", "presume_dead_hosts", "true"]);
    b.ok(&db, START, &["settings", "host_silence", "60"]);
    let pgid = dir.path().join("sync.pgid");
    let command = format!("echo $$ > {}; sleep 300", pgid.display());
    b.ok(&db, START, &["add", "sync", "--", &command]);
    let id: i64 = b
        .ok(&db, START, &["enqueue", "sync"])
        .trim()
        .parse()
        .unwrap();

    let network = CutOffHost::new(&db);
    let runner = network.spawn(&a, START, &["run"]);
    wait_within(30, "the job to start on host a", || {
        fs::read_to_string(&pgid).is_ok_and(|t| t.ends_with('\n'))
    });
    let group = read_pgid(&pgid);
    network.cut();
    let cut_at = Instant::now();
    wait_within(90, "the partitioned runner to stop its own job", || {
        group_gone(group)
    });
    let took = cut_at.elapsed();
    assert!(
        took >= Duration::from_secs(15),
        "stopped {took:?} after the cut: before TCP could even give up"
    );
    let out = runner.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("out of touch with the database"), "{log}");

    b.ok(&db, START + 30, &["run"]);
    assert_eq!(show(&b, &db, id)["status"], "running");
    let out = b.cronq(&db, START + 61, &["run"]).output().unwrap();
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(warning.contains("presumed dead"), "{warning}");
    let run = show(&b, &db, id);
    assert_eq!(run["status"], "pending", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
}
