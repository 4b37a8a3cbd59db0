//! `cronq web` for the tests: a server on a free loopback port (or on all addresses,
//! where tokens are needed), and plain HTTP/1.1 requests whose every header the test
//! chooses, as a browser, a script or an attacker's page would send them.

use super::{Backend, Host, TestDb, START};
use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A database, a host to run passes and commands, and `cronq web` on it, all at `START`.
pub struct Site {
    pub db: TestDb,
    pub host: Host,
    pub web: Server,
}

impl Site {
    pub fn new(backend: Backend) -> Site {
        let db = TestDb::new(backend);
        let host = Host::new("web-host");
        // The database exists (with its schema) before the server opens it.
        let site_db = db.arg();
        let out = host.command(&site_db, START, &["jobs"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let web = Server::start(&site_db, START, &[]);
        Site { db, host, web }
    }

    /// `cronq ARGS` at `now`; fails the test when it fails.
    pub fn cronq_at(&self, now: i64, args: &[&str]) -> String {
        let out = self
            .host
            .command(&self.db.arg(), now, args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cronq {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn cronq(&self, args: &[&str]) -> String {
        self.cronq_at(START, args)
    }

    /// A pass at `now`, whatever its jobs' results (it exits 1 when one failed).
    pub fn pass_at(&self, now: i64) {
        let out = self
            .host
            .command(&self.db.arg(), now, &["run"])
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.cronq(args)).unwrap()
    }

    pub fn runs(&self) -> Vec<Value> {
        self.json(&["runs", "--json", "--limit", "1000"])
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn run(&self, id: i64) -> Value {
        self.runs()
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no run {id}"))
    }

    pub fn job(&self, name: &str) -> Option<Value> {
        self.json(&["jobs", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .cloned()
    }

    /// The id at the end of a redirect to `/runs/ID`.
    pub fn run_id(location: &str) -> i64 {
        location
            .strip_prefix("/runs/")
            .unwrap_or_else(|| panic!("not a run's page: {location}"))
            .parse()
            .unwrap()
    }
}

/// A running `cronq web`, stopped (SIGTERM) when dropped.
pub struct Server {
    pub child: Child,
    /// `127.0.0.1:PORT`, what a browser's Host header says.
    pub authority: String,
    /// What it wrote to stderr after its first line: shown when a test fails.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// `cronq --db DB --now NOW web --listen 127.0.0.1:0 EXTRA...`.
    pub fn start(db: &OsStr, now: i64, extra: &[&str]) -> Server {
        Server::listen(db, now, "127.0.0.1:0", extra)
    }

    /// The same on another address; it is reached through 127.0.0.1 whatever it is.
    pub fn listen(db: &OsStr, now: i64, address: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cronq"))
            .env_remove("CRONQ_DB")
            .env_remove("CRONQ_NOW")
            .arg("--db")
            .arg(db)
            .arg("--now")
            .arg(super::rfc3339(now))
            .args(["web", "--listen", address])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        // "cronq web: serving http://ADDRESS:PORT/ (...)"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("cronq web did not say where it serves: {line:?}"));
        let port = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        // Keep reading its log, so that a full pipe never blocks it, and keep it for a
        // failing test to show.
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Ok(mut log) = kept.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        Server {
            child,
            authority: format!("127.0.0.1:{port}"),
            log,
        }
    }

    /// A GET as a browser sends it, from this server's own page.
    pub fn get(&self, path: &str) -> Reply {
        self.send(&Request::get(path))
    }

    /// A form POST as this server's own page sends it.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send(&Request::post(path, form).header("Sec-Fetch-Site", "same-origin"))
    }

    pub fn send(&self, request: &Request) -> Reply {
        let mut stream = TcpStream::connect(&self.authority).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
        if !request
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            head.push_str(&format!("Host: {}\r\n", self.authority));
        }
        for (k, v) in &request.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            request.body.len()
        ));
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&request.body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        Reply::parse(&raw)
    }

    /// Stops it with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            if let Ok(log) = self.log.lock() {
                eprintln!("cronq web's log:\n{log}");
            }
        }
    }
}

/// A request, header by header.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(path: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A form POST with no Sec-Fetch-Site and no Origin: add what the test needs.
    pub fn post(path: &str, form: &[(&str, &str)]) -> Request {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        Request {
            method: "POST".into(),
            path: path.into(),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: body.join("&").into_bytes(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// HTTP Basic credentials with the token as the password.
    pub fn token(self, token: &str) -> Request {
        let credentials = base64(format!("someone:{token}").as_bytes());
        self.header("Authorization", &format!("Basic {credentials}"))
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Where a 303 points.
    pub fn location(&self) -> &str {
        assert_eq!(self.status, 303, "not a redirect: {self:?}");
        self.header("location").unwrap()
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
