//! The PostgreSQL test harness itself (tests/common/postgres.rs): fresh databases are
//! distinct, usable and dropped; a private cluster starts, serves, and stops both when
//! dropped and when its owner dies; a bad `CRONQ_TEST_POSTGRES` fails loudly.

mod common;

use common::postgres::{
    admin_url, connect, fresh_database, fresh_database_on, private_cluster,
    private_cluster_owned_by, with_database, ENV,
};
use common::wait_for;
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;

fn database_exists(admin: &str, name: &str) -> bool {
    let row = connect(admin)
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .expect("query pg_database");
    row.get::<_, i64>(0) == 1
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
}

#[test]
fn fresh_databases_are_distinct_usable_and_dropped() {
    let a = fresh_database();
    let b = fresh_database();
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);
    assert!(a.url.starts_with("postgresql://"), "{}", a.url);
    assert!(a.url.contains(&format!("/{}", a.name)), "{}", a.url);

    // The same table in each, with different contents: they are separate databases.
    for (db, value) in [(&a, "in a"), (&b, "in b")] {
        let mut client = db.connect();
        client
            .batch_execute("CREATE TABLE t (id serial PRIMARY KEY, value text NOT NULL)")
            .expect("create table");
        client
            .execute("INSERT INTO t (value) VALUES ($1)", &[&value])
            .expect("insert");
    }
    for (db, value) in [(&a, "in a"), (&b, "in b")] {
        let rows = db
            .connect()
            .query("SELECT value FROM t", &[])
            .expect("select");
        let values: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        assert_eq!(values, [value]);
    }

    // Dropped even while a connection to it is still open.
    let admin = admin_url();
    let name = a.name.clone();
    let still_open = a.connect();
    assert!(database_exists(admin, &name));
    drop(a);
    assert!(
        !database_exists(admin, &name),
        "{name} outlived its TestDatabase"
    );
    assert!(
        database_exists(admin, &b.name),
        "dropping one database took another"
    );
    drop(still_open);
}

#[test]
fn a_private_cluster_serves_and_stops_when_dropped() {
    let cluster = private_cluster();
    let (port, dir) = (cluster.port, cluster.dir.clone());
    assert!(dir.join("data").is_dir(), "{}", dir.display());
    let version: String = connect(&cluster.url)
        .query_one("SHOW server_version", &[])
        .expect("ask the private cluster its version")
        .get(0);
    assert!(!version.is_empty());
    {
        let db = fresh_database_on(&cluster.url);
        db.connect()
            .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            .expect("use a database of the private cluster");
    }

    drop(cluster);
    assert!(refuses_connections(port), "port {port} still answers");
    assert!(!dir.exists(), "{} is still there", dir.display());
}

#[test]
fn a_private_cluster_stops_when_its_owner_dies() {
    // The owner stands for a test process that is killed and never drops anything.
    let mut owner = Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep");
    let cluster = private_cluster_owned_by(owner.id());
    let (port, dir) = (cluster.port, cluster.dir.clone());
    connect(&cluster.url);

    owner.kill().expect("kill the owner");
    owner.wait().expect("reap the owner"); // a zombie would still count as alive
    wait_for("the watchdog to stop the cluster", || {
        refuses_connections(port) && !dir.exists()
    });
    drop(cluster); // nothing left to do
}

#[test]
fn a_bad_cronq_test_postgres_fails_with_a_clear_message() {
    // Port 1 on the loopback refuses at once. The child runs one test of this binary.
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "fresh_databases_are_distinct_usable_and_dropped"])
        .env(ENV, "postgresql://postgres@127.0.0.1:1/postgres")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("no PostgreSQL server for the tests")
            && stdout.contains("CRONQ_TEST_POSTGRES=postgresql://postgres@127.0.0.1:1/postgres")
            && stdout.contains("docs/testing.md"),
        "{stdout}"
    );
}

#[test]
fn with_database_replaces_only_the_database() {
    assert_eq!(
        with_database("postgresql://postgres@127.0.0.1:5432/postgres", "x"),
        "postgresql://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@db.example:6543", "x"),
        "postgres://u:p@db.example:6543/x"
    );
    assert_eq!(
        with_database("postgresql://u@h/admin?sslmode=disable", "x"),
        "postgresql://u@h/x?sslmode=disable"
    );
}
