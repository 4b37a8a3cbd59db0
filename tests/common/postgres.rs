//! PostgreSQL for the tests: a fresh database per test, on whatever server this machine
//! offers, so that `cargo test` works on any machine. docs/testing.md tells the story.
//!
//! The server is chosen once per test binary, in this order:
//! 1. the admin URL in `CRONQ_TEST_POSTGRES` (CI sets it to the cluster it started);
//! 2. a server at 127.0.0.1:5432 that lets `postgres` in without a password;
//! 3. a private cluster, started by `postgres-cluster.sh` beside this file, which
//!    installs Debian's postgresql first when we are root and it is missing.
//!
//! A test that cannot get a server fails and says why; none is skipped.

use postgres::{Client, Config, NoTls};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that names the server to use: an admin URL whose user may
/// create and drop databases.
pub const ENV: &str = "CRONQ_TEST_POSTGRES";

/// The server tried when `CRONQ_TEST_POSTGRES` is unset: Debian's default cluster with
/// trust authentication for local connections.
pub const LOCAL_URL: &str = "postgresql://postgres@127.0.0.1:5432/postgres";

/// Starts, stops and probes private clusters; `.ci/postgres` runs the same script.
pub const CLUSTER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/common/postgres-cluster.sh"
);

/// `DROP DATABASE ... WITH (FORCE)` needs it: a test's connections (or a cronq it
/// started) may still be open when its database is dropped.
const MIN_SERVER_VERSION: i32 = 130_000;

/// A database of its own for one test, dropped with it.
pub struct TestDatabase {
    /// `postgresql://…` URL of the database, for cronq's `--db`.
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDatabase {
    /// A connection to this database, for a test's own checks.
    pub fn connect(&self) -> Client {
        connect(&self.url)
    }
}

impl Drop for TestDatabase {
    /// Drops the database even when connections to it are still open. Never panics: a
    /// drop may run while a failed test unwinds, where a second panic would abort.
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let result = try_connect(&self.admin_url)
            .and_then(|mut admin| admin.batch_execute(&sql).map_err(|e| e.to_string()));
        if let Err(e) = result {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// A fresh, empty database on the test server (found or started on first use), with a
/// name no concurrent test or test process uses.
pub fn fresh_database() -> TestDatabase {
    fresh_database_on(admin_url())
}

/// Like [`fresh_database`], on the server of `admin_url`.
pub fn fresh_database_on(admin_url: &str) -> TestDatabase {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // pid and counter keep names apart within this machine; the random part keeps them
    // apart from test processes of other machines or containers on a shared server.
    let name = format!(
        "cronq_test_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        RandomState::new().hash_one(Instant::now()) as u32
    );
    connect(admin_url)
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("cannot create test database {name} at {admin_url}: {e}"));
    TestDatabase {
        url: with_database(admin_url, &name),
        name,
        admin_url: admin_url.to_string(),
    }
}

/// The admin URL of the server this test binary uses, found or started once. Panics
/// with the reason when there is none, in every test that asks.
pub fn admin_url() -> &'static str {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    match SERVER.get_or_init(find_server) {
        Ok(Server::External(url)) => url,
        Ok(Server::Private(cluster)) => &cluster.url,
        Err(why) => panic!("no PostgreSQL server for the tests: {why}\n(see docs/testing.md)"),
    }
}

/// Where the tests' databases live. A private cluster is held in a static and so never
/// dropped: its watchdog stops it when this process is gone.
enum Server {
    External(String),
    Private(Cluster),
}

fn find_server() -> Result<Server, String> {
    if let Some(url) = std::env::var(ENV).ok().filter(|url| !url.is_empty()) {
        // Set on purpose, so no fallback: a typo should fail, not be papered over.
        return check_server(&url)
            .map(|()| Server::External(url.clone()))
            .map_err(|e| {
                format!(
                    "{ENV}={url} is not usable: {e}. Point it at a server where this user \
                 may create databases (PostgreSQL 13 or newer), or unset it to use a \
                 server at 127.0.0.1:5432 or a private cluster"
                )
            });
    }
    let local = match check_server(LOCAL_URL) {
        Ok(()) => return Ok(Server::External(LOCAL_URL.to_string())),
        Err(e) => e,
    };
    start_cluster(std::process::id())
        .map(Server::Private)
        .map_err(|e| format!("{LOCAL_URL} is not usable ({local}), and {e}"))
}

/// Connects and checks the version; the user's right to create databases shows itself
/// in the first `CREATE DATABASE`, with the server's own message.
fn check_server(url: &str) -> Result<(), String> {
    let mut client = try_connect(url)?;
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(|e| e.to_string())?;
    let version: i32 = row.get(0);
    if version < MIN_SERVER_VERSION {
        return Err(format!(
            "server version {version} is older than PostgreSQL 13, which the tests need"
        ));
    }
    Ok(())
}

/// A connection to `url`, or a panic that names it.
pub fn connect(url: &str) -> Client {
    try_connect(url).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// A connection that gives up after 5 s, so a server that does not answer fails the
/// tests instead of hanging them.
pub fn try_connect(url: &str) -> Result<Client, String> {
    Config::from_str(url)
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .connect(NoTls)
        .map_err(|e| e.to_string())
}

/// `url` with its database name replaced by `name`, keeping user, host, port and query.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("{url} is not a postgresql:// URL"));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{name}{query}")
}

/// A throwaway PostgreSQL cluster of this test process, on 127.0.0.1 at a free port,
/// with trust authentication. Dropping it stops it and removes its directory; should
/// the process die first, its watchdog does the same.
pub struct Cluster {
    /// Admin URL: user `postgres`, database `postgres`.
    pub url: String,
    pub port: u16,
    /// Data directory, server log and unix socket; removed when the cluster stops.
    pub dir: PathBuf,
}

/// Starts a private cluster now, whatever other server there is (about a second; more
/// when Debian's postgresql must be installed first).
pub fn private_cluster() -> Cluster {
    private_cluster_owned_by(std::process::id())
}

/// A private cluster whose watchdog waits for process `owner` instead of this one,
/// which lets a test show that the cluster goes away when its owner dies.
pub fn private_cluster_owned_by(owner: u32) -> Cluster {
    start_cluster(owner).unwrap_or_else(|e| panic!("{e}"))
}

fn start_cluster(owner: u32) -> Result<Cluster, String> {
    let out = Command::new("bash")
        .arg(CLUSTER_SCRIPT)
        .arg("start")
        .arg(owner.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run bash {CLUSTER_SCRIPT}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "starting a private PostgreSQL cluster failed ({}):\n{stderr}",
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .ok_or_else(|| format!("{CLUSTER_SCRIPT} printed no {key}=:\n{stdout}{stderr}"))
    };
    let cluster = Cluster {
        url: field("url")?,
        port: field("port")?
            .parse()
            .map_err(|e| format!("{CLUSTER_SCRIPT} printed a bad port: {e}"))?,
        dir: PathBuf::from(field("dir")?),
    };
    // The script waited until the server accepted connections; this proves it to us.
    check_server(&cluster.url)
        .map_err(|e| format!("the private cluster at {} is not usable: {e}", cluster.url))?;
    Ok(cluster)
}

impl Drop for Cluster {
    /// Stops the server at once (`pg_ctl stop -m immediate`: nothing in it is worth a
    /// checkpoint) and removes its directory; the watchdog then finds nothing to do.
    fn drop(&mut self) {
        let stopped = Command::new("bash")
            .arg(CLUSTER_SCRIPT)
            .arg("stop")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .status();
        if !matches!(stopped, Ok(status) if status.success()) {
            eprintln!(
                "warning: could not stop the private cluster in {}: {stopped:?}",
                self.dir.display()
            );
        }
    }
}
