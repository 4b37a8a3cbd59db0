//! Monitoring pings (`--ping`), through the binary, against an HTTP server on 127.0.0.1
//! written here: what each run sends, that a ping never delays or loses a run's record,
//! and that a ping a server did not take is kept and sent by a later pass.

mod common;

use common::{Backend, TestDb, START};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The ping timeout the tests give the binary (a debug build reads it), in milliseconds.
const TIMEOUT_MS: u64 = 1500;

/// What the server does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Answers 200, with `Ping-Body-Limit` when given.
    Answer(Option<usize>),
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// Answers 200 after this many milliseconds.
    Slow(u64),
}

/// One request the server answered.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// Path and query.
    target: String,
    body: Vec<u8>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    fn rid(&self) -> &str {
        self.target
            .split_once("rid=")
            .map(|(_, rid)| rid)
            .expect("a rid")
    }
}

struct Server {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    answered: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(mode: Mode) -> Server {
        Server::on(TcpListener::bind("127.0.0.1:0").unwrap(), mode)
    }

    fn on(listener: TcpListener, mode: Mode) -> Server {
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let (m, a) = (mode.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, a) = (m.clone(), a.clone());
                std::thread::spawn(move || serve(stream, &m, &a));
            }
        });
        Server {
            addr,
            mode,
            answered,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/ping/key", self.addr)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn requests(&self) -> Vec<Request> {
        self.answered.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, mode: &Mutex<Mode>, answered: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default().to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let current = *mode.lock().unwrap();
    match current {
        Mode::Silent => {
            // Holds the connection open, answering nothing, until the client gives up.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
        Mode::Answer(_) | Mode::Slow(_) => {
            let limit = match current {
                Mode::Slow(ms) => {
                    std::thread::sleep(Duration::from_millis(ms));
                    None
                }
                Mode::Answer(limit) => limit,
                Mode::Silent => None,
            };
            answered.lock().unwrap().push(Request {
                method,
                target,
                body,
            });
            let limit = limit.map_or(String::new(), |l| format!("Ping-Body-Limit: {l}\r\n"));
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\n{limit}Content-Length: 2\r\nConnection: close\r\n\r\nOK"
            );
        }
    }
}

/// `cronq --db DB --now T ARGS`, with the short ping timeout and no proxy.
fn cronq(db: &TestDb, now: i64, args: &[&str]) -> std::process::Output {
    let mut cmd = assert_cmd::Command::cargo_bin("cronq").unwrap();
    for proxy in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(proxy);
    }
    cmd.env_remove("CRONQ_DB")
        .env("CRONQ_TEST_PING_TIMEOUT_MS", TIMEOUT_MS.to_string())
        .arg("--db")
        .arg(db.arg())
        .arg("--now")
        .arg(common::rfc3339(now))
        .args(args)
        .output()
        .unwrap()
}

fn ok(db: &TestDb, now: i64, args: &[&str]) -> String {
    let out = cronq(db, now, args);
    assert!(
        out.status.success(),
        "cronq {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn enqueue(db: &TestDb, job: &str) -> i64 {
    ok(db, START, &["enqueue", job]).trim().parse().unwrap()
}

fn show(db: &TestDb, id: i64) -> Value {
    serde_json::from_str(&ok(db, START, &["show", &id.to_string(), "--json"])).unwrap()
}

/// `(kind, state)` of each ping of run `id`, in order.
fn ping_states(db: &TestDb, id: i64) -> Vec<(String, String)> {
    show(db, id)["pings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_string(),
                p["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(kind: &str, state: &str) -> (String, String) {
    (kind.to_string(), state.to_string())
}

on_both_backends!(
    start_and_success_are_paired_by_one_rid,
    a_failing_job_pings_its_exit_status_with_the_output_tail,
    a_server_that_never_answers_delays_the_pass_by_one_timeout,
    a_refused_ping_is_sent_by_a_later_pass,
);

fn start_and_success_are_paired_by_one_rid(backend: Backend) {
    let server = Server::start(Mode::Answer(None));
    let db = TestDb::new(backend);
    ok(
        &db,
        START,
        &["add", "j", "--ping", &server.url(), "--", "echo done"],
    );
    let id = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path(), "/ping/key/start");
    assert_eq!(requests[1].path(), "/ping/key");
    assert_eq!(requests[0].rid(), requests[1].rid());
    let rid = requests[0].rid();
    let groups: Vec<usize> = rid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "a UUID: {rid}");
    assert_eq!(requests[1].body, b"done\n");
    assert_eq!(show(&db, id)["status"], "success");
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "delivered"), pair("success", "delivered")]
    );
    // Another run: another rid.
    let second = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_ne!(requests[2].rid(), rid);
    assert_eq!(ping_states(&db, second).len(), 2);
}

fn a_failing_job_pings_its_exit_status_with_the_output_tail(backend: Backend) {
    let server = Server::start(Mode::Answer(None));
    let db = TestDb::new(backend);
    // 12 000 bytes of 'a', then "end": more than the 10 KiB a ping carries.
    let command = "head -c 12000 /dev/zero | tr '\\0' a; echo end; exit 3";
    ok(
        &db,
        START,
        &[
            "add",
            "j",
            "--retries",
            "0",
            "--ping",
            &server.url(),
            "--",
            command,
        ],
    );
    let id = enqueue(&db, "j");
    let out = cronq(&db, START, &["run"]);
    assert!(!out.status.success(), "the run failed");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1].path(), "/ping/key/3");
    assert_eq!(requests[0].rid(), requests[1].rid());
    let body = &requests[1].body;
    assert_eq!(body.len(), 10 * 1024, "the last 10 KiB");
    assert!(body.ends_with(b"aaaend\n"));
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "delivered"), pair("fail", "delivered")]
    );
}

/// A server that takes the connection and never answers: the run's result is recorded,
/// the pass waits for one ping timeout (not one per ping), the ending ping waits in the
/// table, `show` says so, and a pass after the server came back delivers it.
fn a_server_that_never_answers_delays_the_pass_by_one_timeout(backend: Backend) {
    let server = Server::start(Mode::Silent);
    let db = TestDb::new(backend);
    ok(
        &db,
        START,
        &["add", "j", "--ping", &server.url(), "--", "true"],
    );
    let id = enqueue(&db, "j");
    let began = Instant::now();
    ok(&db, START, &["run"]);
    let took = began.elapsed();
    let limit = Duration::from_millis(TIMEOUT_MS + 1200);
    assert!(took < limit, "the pass took {took:?}");
    assert_eq!(show(&db, id)["status"], "success", "recorded first");
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "failed"), pair("success", "pending")]
    );
    let text = ok(&db, START, &["show", &id.to_string()]);
    assert!(text.contains("pings:\n"), "{text}");
    assert!(
        text.contains("success (attempt 1): pending"),
        "show lists the pending ping: {text}"
    );
    assert!(text.contains("start (attempt 1): failed"), "{text}");
    assert!(text.contains("timed out: no answer within 1.5s"), "{text}");
    assert!(server.requests().is_empty());

    server.set(Mode::Answer(None));
    ok(&db, START + 60, &["run"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "only the ending ping: {requests:?}");
    assert_eq!(requests[0].path(), "/ping/key");
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "failed"), pair("success", "delivered")]
    );
    ok(&db, START + 120, &["run"]);
    assert_eq!(
        server.requests().len(),
        1,
        "a delivered ping is not sent again"
    );
}

/// Nothing listens: each try fails at once; the ping is tried again with backoff, and
/// delivered once a server listens.
fn a_refused_ping_is_sent_by_a_later_pass(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/k");
    let db = TestDb::new(backend);
    ok(
        &db,
        START,
        &["add", "j", "--retries", "0", "--ping", &url, "--", "false"],
    );
    let id = enqueue(&db, "j");
    let began = Instant::now();
    let out = cronq(&db, START, &["run"]);
    assert!(began.elapsed() < Duration::from_millis(TIMEOUT_MS));
    assert_eq!(out.status.code(), Some(1), "the run failed, not the ping");
    assert_eq!(show(&db, id)["status"], "failed");
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "failed"), pair("fail", "pending")]
    );
    // Tried by the next pass, refused again: the next try a minute later.
    ok(&db, START, &["run"]);
    let fail = show(&db, id)["pings"][1].clone();
    assert_eq!(fail["tries"], 1);
    assert_eq!(fail["state"], "pending");
    assert_eq!(fail["next_try"], common::rfc3339(START + 60));
    assert!(
        fail["last_error"].as_str().unwrap().contains("refused"),
        "{fail}"
    );

    let server = Server::on(TcpListener::bind(addr).unwrap(), Mode::Answer(None));
    ok(&db, START + 59, &["run"]);
    assert!(server.requests().is_empty(), "not yet due");
    ok(&db, START + 60, &["run"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path(), "/k/1", "false exits with 1");
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "failed"), pair("fail", "delivered")]
    );
}

/// An attempt that will be retried pings `/log`, not a failure; the server's
/// `Ping-Body-Limit` bounds the next body.
#[test]
fn a_retried_attempt_pings_log_and_the_body_limit_is_kept() {
    let server = Server::start(Mode::Answer(Some(4)));
    let db = TestDb::new(Backend::Sqlite);
    let command = "echo attempt-$CRONQ_ATTEMPT; test $CRONQ_ATTEMPT = 2";
    let url = server.url();
    ok(
        &db,
        START,
        &["add", "j", "--retries", "1", "--ping", &url, "--", command],
    );
    let id = enqueue(&db, "j");
    cronq(&db, START, &["run"]);
    let paths: Vec<String> = server.requests().iter().map(|r| r.path().into()).collect();
    assert_eq!(paths, ["/ping/key/start", "/ping/key/log"]);
    assert_eq!(server.requests()[1].body, b"t-1\n", "the last 4 bytes");
    // The retry is due within the backoff; run it.
    ok(&db, START + 3600, &["run"]);
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path()).collect();
    assert_eq!(paths[2..], ["/ping/key/start", "/ping/key"]);
    assert!(
        requests.iter().all(|r| r.rid() == requests[0].rid()),
        "one rid per run"
    );
    let states = ping_states(&db, id);
    assert_eq!(states.len(), 4);
    assert_eq!(states[1], pair("log", "delivered"));
    assert_eq!(show(&db, id)["pings"][3]["attempt"], 2);
}

/// In parallel mode the child that runs the run sends its pings.
#[test]
fn a_child_process_sends_its_runs_pings() {
    let server = Server::start(Mode::Answer(None));
    let db = TestDb::new(Backend::Sqlite);
    ok(&db, START, &["settings", "jobs_run_in_parallel", "true"]);
    ok(
        &db,
        START,
        &["add", "j", "--ping", &server.url(), "--", "true"],
    );
    let id = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "delivered"), pair("success", "delivered")]
    );
}

#[test]
fn edit_sets_and_no_ping_removes_the_url() {
    let server = Server::start(Mode::Answer(None));
    let db = TestDb::new(Backend::Sqlite);
    ok(&db, START, &["add", "j", "--", "true"]);
    ok(&db, START, &["edit", "j", "--ping", &server.url()]);
    let id = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(ping_states(&db, id).len(), 2);
    // An edit of something else keeps the URL.
    ok(&db, START, &["edit", "j", "--timeout", "60"]);
    enqueue(&db, "j");
    ok(&db, START, &["run"]);
    assert_eq!(server.requests().len(), 4);

    ok(&db, START, &["edit", "j", "--no-ping"]);
    let id = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    assert_eq!(server.requests().len(), 4, "no ping after --no-ping");
    assert!(show(&db, id)["pings"].as_array().unwrap().is_empty());
    assert!(!ok(&db, START, &["show", &id.to_string()]).contains("pings:"));
}

#[test]
fn bad_ping_urls_are_usage_errors() {
    let db = TestDb::new(Backend::Sqlite);
    ok(&db, START, &["add", "j", "--", "true"]);
    for (args, says) in [
        (
            vec!["add", "k", "--ping", "ftp://h/x", "--", "true"],
            "https://",
        ),
        (
            vec!["add", "k", "--ping", "https://me:pw@h/x", "--", "true"],
            "password",
        ),
        (
            vec!["edit", "j", "--ping", "https://h/a b"],
            "percent-encode",
        ),
        (
            vec!["edit", "j", "--ping", "https://h/x", "--no-ping"],
            "cannot be used with",
        ),
    ] {
        let out = cronq(&db, START, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let long = format!("https://h/{}", "a".repeat(2100));
    let out = cronq(&db, START, &["edit", "j", "--ping", &long]);
    assert_eq!(out.status.code(), Some(2));
    assert!(ok(&db, START, &["jobs", "--json"]).contains("\"j\""));
    assert_eq!(
        cronq(&db, START, &["show", "1"]).status.code(),
        Some(2),
        "no run was made"
    );
}

/// `cronq copy` takes the job's URL and the pings along: the pending one is delivered
/// from the new database, whose own runs ping too.
#[test]
fn copy_takes_the_pings_along() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/k");
    let file = TestDb::new(Backend::Sqlite);
    ok(&file, START, &["add", "j", "--ping", &url, "--", "true"]);
    let id = enqueue(&file, "j");
    ok(&file, START, &["run"]);
    let pg = TestDb::new(Backend::Postgres);
    let to = pg.arg().into_string().unwrap();
    ok(&file, START, &["copy", "--to", &to]);
    assert_eq!(
        ping_states(&pg, id),
        [pair("start", "failed"), pair("success", "pending")]
    );
    let server = Server::on(TcpListener::bind(addr).unwrap(), Mode::Answer(None));
    let second = enqueue(&pg, "j");
    ok(&pg, START, &["run"]);
    let paths: Vec<String> = server.requests().iter().map(|r| r.path().into()).collect();
    assert_eq!(
        paths,
        ["/k", "/k/start", "/k"],
        "the pending ping, then the new run's"
    );
    assert_eq!(
        ping_states(&pg, id),
        [pair("start", "failed"), pair("success", "delivered")]
    );
    assert_eq!(
        ping_states(&pg, second),
        [pair("start", "delivered"), pair("success", "delivered")]
    );
}

/// The job ends (SIGCHLD) while its start ping waits for a slow server: the ping is not
/// cut short, and the job did not wait for it.
#[test]
fn a_slow_server_gets_the_start_ping_while_the_job_runs() {
    let server = Server::start(Mode::Slow(600));
    let db = TestDb::new(Backend::Sqlite);
    let marker = db.dir.path().join("started");
    let command = format!("date +%s%N > {}", marker.display());
    ok(
        &db,
        START,
        &["add", "j", "--ping", &server.url(), "--", &command],
    );
    let id = enqueue(&db, "j");
    let began = std::time::SystemTime::now();
    ok(&db, START, &["run"]);
    let started: u128 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let began = began
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    assert!(
        started - began < 500_000_000,
        "the job started {} ms after the pass began",
        (started - began) / 1_000_000
    );
    assert_eq!(
        ping_states(&db, id),
        [pair("start", "delivered"), pair("success", "delivered")]
    );
}

/// A pass stops trying pending pings at the first that fails: its server is most
/// likely still away, and each try may cost a timeout.
#[test]
fn a_pass_stops_retrying_at_the_first_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/k", listener.local_addr().unwrap());
    drop(listener);
    let db = TestDb::new(Backend::Sqlite);
    ok(&db, START, &["add", "j", "--ping", &url, "--", "true"]);
    let first = enqueue(&db, "j");
    let second = enqueue(&db, "j");
    ok(&db, START, &["run"]);
    ok(&db, START, &["run"]);
    let tries = |id| show(&db, id)["pings"][1]["tries"].as_i64().unwrap();
    assert_eq!((tries(first), tries(second)), (1, 0));
}

/// The end ping of a run is sent before the next run is claimed: a pass stopped while it
/// waits for that ping starts nothing more, and the next run stays pending, unclaimed.
#[test]
fn a_pass_stopped_during_an_end_ping_starts_no_next_run() {
    let server = Server::start(Mode::Silent);
    let db = TestDb::new(Backend::Sqlite);
    let started = db.dir.path().join("started");
    let command = format!("echo $CRONQ_RUN_ID >> {}", started.display());
    ok(
        &db,
        START,
        &["add", "j", "--ping", &server.url(), "--", &command],
    );
    let first = enqueue(&db, "j");
    let second = enqueue(&db, "j");
    let pass = std::process::Command::new(assert_cmd::cargo::cargo_bin("cronq"))
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("CRONQ_TEST_PING_TIMEOUT_MS", TIMEOUT_MS.to_string())
        .arg("--db")
        .arg(db.arg())
        .args(["--now", &common::rfc3339(START), "run"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for("the first run's job", || started.exists());
    // The job is done at once; the pass now waits up to the 1.5 s ping timeout.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill has no memory effects; the pass is this test's own child.
    unsafe { libc::kill(pass.id() as i32, libc::SIGTERM) };
    let out = pass.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(show(&db, first)["status"], "success");
    let next = show(&db, second);
    assert_eq!(next["status"], "pending", "{next:#}");
    assert_eq!(next["started_at"], Value::Null, "{next:#}");
    let lines = std::fs::read_to_string(&started).unwrap();
    assert_eq!(lines.lines().count(), 1, "no run started after the stop");
}
