//! Opening a cronq database on PostgreSQL: connect, check the schema version (one round
//! trip when the schema exists), or create the schema and the built-in jobs on first use,
//! under cronq's advisory lock so that hosts opening a new database together create it
//! once. Writes are transactions serialised across hosts by the same lock.

use super::connect;
use super::{Connection, PgError};
use crate::builtin::Builtin;
use crate::params;
use crate::store::jobs;
use crate::store::sql::Conn;
use crate::time::Timestamp;
use anyhow::{anyhow, bail, Result};
use std::cell::Cell;
use std::time::Duration;

/// The version `schema.postgres.sql` creates, kept in the one row of `cronq_schema`. The
/// same number as SQLite's `user_version`: the tables and columns are the same.
pub const SCHEMA_VERSION: i64 = 3;
const SCHEMA: &str = include_str!("../../../schema.postgres.sql");

/// The first version cronq wrote to PostgreSQL; no older one exists there.
const FIRST_VERSION: i64 = 2;

/// How a database of each older version becomes the next one: `MIGRATIONS[v - 2]` takes
/// version `v` to `v + 1`. They run in one transaction under the advisory lock.
const MIGRATIONS: [&str; (SCHEMA_VERSION - FIRST_VERSION) as usize] = [
    // 2 -> 3: an operator's request to stop a running run; the web screens' tokens; the
    // earlier attempts of retried runs.
    "ALTER TABLE runs ADD COLUMN stop_requested BIGINT;
     CREATE TABLE web_tokens (
         name       TEXT PRIMARY KEY,
         role       TEXT NOT NULL CHECK (role IN ('read', 'operator')),
         hash       TEXT NOT NULL UNIQUE,
         created_at BIGINT NOT NULL,
         last_used  BIGINT
     );
     CREATE TABLE attempts (
         run_id      BIGINT NOT NULL,
         attempt     BIGINT NOT NULL,
         host        TEXT,
         started_at  BIGINT,
         finished_at BIGINT NOT NULL,
         duration_ms BIGINT,
         exit_code   BIGINT,
         error       TEXT,
         output      BYTEA,
         PRIMARY KEY (run_id, attempt)
     );",
];

/// The key of cronq's advisory lock: "cronq" in ASCII, then 0x000001. Advisory locks are
/// per database, so cronq databases on one server do not wait for each other.
pub const ADVISORY_LOCK_KEY: i64 = 0x6372_6f6e_7100_0001;

macro_rules! lock_key {
    () => {
        "7165912477232791553"
    };
}

/// How every write transaction starts, in one round trip. READ COMMITTED whatever the
/// server's default: each statement then sees what the previous lock holder committed;
/// a snapshot taken before the lock was granted would not. The lock is the first statement
/// that reads or writes anything; the two `SET LOCAL`s before it bound the transaction:
/// - `lock_timeout`: a write waits at most 30 s for another host's write transaction, as
///   SQLite's busy handler waits about 30 s;
/// - `idle_in_transaction_session_timeout`: a write transaction left idle for 20 s (its
///   process stopped: SIGSTOP, a frozen cgroup, a swap storm) is ended by the server,
///   which releases the lock for the others. cronq does no slow work inside a write.
const BEGIN: &str = concat!(
    "BEGIN ISOLATION LEVEL READ COMMITTED; ",
    "SET LOCAL lock_timeout = '30s'; ",
    "SET LOCAL idle_in_transaction_session_timeout = '20s'; ",
    "SELECT pg_advisory_xact_lock(",
    lock_key!(),
    ")"
);

/// PostgreSQL's code for a table that does not exist.
const UNDEFINED_TABLE: &str = "42P01";
/// PostgreSQL's code for a lock wait that `lock_timeout` ended.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// PostgreSQL's code for a missing privilege.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// A cronq database on a PostgreSQL server: one connection, used from one thread.
pub struct Database {
    conn: Connection,
    /// Whether a write transaction is open: writes cannot nest.
    writing: Cell<bool>,
}

impl Database {
    /// Connects to the database `url` names (`postgresql://` or `postgres://`), creating
    /// cronq's tables and built-in jobs on first use (`now`: when their schedules start).
    /// A URL that does not parse is a usage error (exit 2). A database with a newer
    /// cronq's schema, or with a `jobs`, `runs` or `settings` table but no cronq version,
    /// is refused and left untouched.
    pub fn open(url: &str, now: Timestamp) -> Result<Database> {
        let target = connect::parse(url)?;
        let client = connect::connect(&target)?;
        let db = Database {
            conn: Connection::new(client, target.shown),
            writing: Cell::new(false),
        };
        match db.stored_version()? {
            Some(version) if (FIRST_VERSION..SCHEMA_VERSION).contains(&version) => db.migrate()?,
            Some(version) => db.check_version(version)?,
            None => db.create_schema(now)?,
        }
        Ok(db)
    }

    /// The database for reads outside a transaction (each statement commits on its own).
    pub fn conn(&self) -> &dyn Conn {
        &self.conn
    }

    /// Runs `work` in one transaction whose first statement takes cronq's advisory lock,
    /// so write transactions are serialised across every host as `BEGIN IMMEDIATE`
    /// serialises them on one. Commits only when `work` and all its statements succeed;
    /// rolls back otherwise (also when `work` panics).
    pub fn write<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        self.transaction(|| work(&self.conn))
    }

    /// Nothing to do: PostgreSQL's autovacuum makes the space of deleted rows reusable
    /// (the files do not shrink, as SQLite's incremental vacuum makes them; `VACUUM FULL`
    /// would, but it locks the tables, which no pass may wait for).
    pub fn reclaim_space(&self, _pause: Duration) -> Result<()> {
        Ok(())
    }

    /// The server's clock in whole Unix seconds (rounded down). On PostgreSQL "now" is
    /// the database server's clock, so hosts whose own clocks are wrong still agree.
    pub fn server_time(&self) -> Result<Timestamp> {
        self.conn
            .query_one(
                "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint",
                &[],
            )?
            .int(0)
    }

    /// The URL for messages, without any password:
    /// `postgresql://USER@HOST:PORT/DATABASE[?sslmode=MODE]`.
    pub fn describe(&self) -> String {
        self.conn.shown.clone()
    }

    /// Whether the connection is gone (the server closed it, or the network failed); a
    /// closed connection fails every statement, and only a new `open` helps.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    fn transaction<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.writing.replace(true) {
            bail!(
                "a write transaction is already open on this connection, and writes cannot \
                 nest: a bug in cronq, please report it"
            );
        }
        let mut open = Open {
            db: self,
            done: false,
        };
        self.conn.failed_statement.set(false);
        self.conn.batch(BEGIN).map_err(|e| {
            if PgError::code_of(&e) == Some(LOCK_NOT_AVAILABLE) {
                e.context(format!(
                    "another cronq held the write lock of {} for 30 s; try again (a pass \
                     that cannot write does nothing, and the next pass catches up)",
                    self.conn.shown
                ))
            } else {
                e
            }
        })?;
        let value = work()?;
        if self.conn.failed_statement.get() {
            // PostgreSQL would answer COMMIT with a rollback, without an error.
            bail!(
                "a statement of this transaction failed, so nothing of it was written (the \
                 error was handled, but PostgreSQL rolls the whole transaction back)"
            );
        }
        open.done = true;
        self.conn.batch("COMMIT")?;
        Ok(value)
    }

    /// The version in `cronq_schema`; `None` when the database has no such table.
    fn stored_version(&self) -> Result<Option<i64>> {
        match self.conn.query("SELECT version FROM cronq_schema", &[]) {
            Ok(rows) => self.one_version(rows).map(Some),
            Err(e) if PgError::code_of(&e) == Some(UNDEFINED_TABLE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn one_version(&self, rows: Vec<crate::store::sql::Row>) -> Result<i64> {
        match rows.as_slice() {
            [row] => row.int(0),
            _ => bail!(
                "{} has a cronq_schema table with {} rows instead of one; it is damaged or \
                 not cronq's, and was left untouched",
                self.conn.shown,
                rows.len()
            ),
        }
    }

    fn check_version(&self, version: i64) -> Result<()> {
        let shown = &self.conn.shown;
        if version > SCHEMA_VERSION {
            bail!(
                "{shown} was written by a newer cronq (schema version {version}; this cronq \
                 knows {SCHEMA_VERSION}); upgrade cronq. The database was left untouched."
            );
        }
        if version < FIRST_VERSION {
            bail!(
                "{shown} says it has cronq schema version {version}, which no cronq writes to \
                 PostgreSQL (the first is {FIRST_VERSION}); it was left untouched"
            );
        }
        Ok(())
    }

    /// Brings the schema up to `SCHEMA_VERSION` in one transaction under the advisory
    /// lock: hosts that open an older database together upgrade it once, and a host whose
    /// pass is writing waits for it.
    fn migrate(&self) -> Result<()> {
        let shown = self.conn.shown.clone();
        self.transaction(|| {
            let rows = self.conn.query("SELECT version FROM cronq_schema", &[])?;
            let mut version = self.one_version(rows)?;
            while (FIRST_VERSION..SCHEMA_VERSION).contains(&version) {
                // The range check above keeps the index within MIGRATIONS.
                let step = MIGRATIONS[(version - FIRST_VERSION) as usize];
                self.conn.batch(step)?;
                version += 1;
                log::info!("{shown}: schema upgraded to version {version}");
            }
            self.check_version(version)?;
            self.conn
                .execute("UPDATE cronq_schema SET version = $1", params![version])?;
            Ok(())
        })
    }

    /// Creates the schema, the built-in jobs and the version in one transaction under the
    /// advisory lock. Another host may have done it while this one waited for the lock;
    /// then only the version is checked.
    fn create_schema(&self, now: Timestamp) -> Result<()> {
        let shown = self.conn.shown.clone();
        self.transaction(|| {
            let found = self.conn.query_one(
                "SELECT to_regclass('cronq_schema') IS NOT NULL, to_regclass('jobs') IS NOT \
                 NULL, to_regclass('runs') IS NOT NULL, to_regclass('settings') IS NOT NULL",
                &[],
            )?;
            if found.bool(0)? {
                let rows = self.conn.query("SELECT version FROM cronq_schema", &[])?;
                return self.check_version(self.one_version(rows)?);
            }
            let mut foreign = Vec::new();
            for (i, table) in ["jobs", "runs", "settings"].into_iter().enumerate() {
                if found.bool(i + 1)? {
                    foreign.push(table);
                }
            }
            if !foreign.is_empty() {
                bail!(
                    "{shown} is a PostgreSQL database of something else (it has a {} table \
                     but no cronq version); it was left untouched. Point --db at another \
                     database, e.g. one made with: createdb -O USER cronq",
                    foreign.join(" and a ")
                );
            }
            self.conn.batch(SCHEMA).map_err(|e| {
                if PgError::code_of(&e) == Some(INSUFFICIENT_PRIVILEGE) {
                    anyhow!(
                        "{e:#}. cronq creates its tables on first use, and this user may not \
                         create tables here. Let the database's owner run GRANT CREATE ON \
                         SCHEMA public TO this user (PostgreSQL 15 and later let only the \
                         owner create tables in public), or create the database owned by \
                         this user: createdb -O USER DATABASE"
                    )
                } else {
                    e
                }
            })?;
            for builtin in Builtin::ALL {
                jobs::insert_builtin_job(&self.conn, *builtin, now)?;
            }
            self.conn.execute(
                "INSERT INTO cronq_schema (version) VALUES ($1)",
                params![SCHEMA_VERSION],
            )?;
            log::info!("{shown}: created cronq's tables (schema version {SCHEMA_VERSION})");
            Ok(())
        })
    }
}

/// An open write transaction: rolled back when dropped before it committed, whether
/// `work` failed or panicked, so the connection is never left inside a transaction.
struct Open<'a> {
    db: &'a Database,
    done: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done && !self.db.conn.is_closed() {
            if let Err(e) = self.db.conn.batch("ROLLBACK") {
                // The server rolls back on its own when the connection ends.
                log::warn!("could not roll back a failed transaction: {e:#}");
            }
        }
        self.db.writing.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_statement_takes_cronqs_key() {
        assert_eq!(lock_key!(), ADVISORY_LOCK_KEY.to_string());
        assert!(BEGIN.ends_with(&format!("pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")));
    }
}
