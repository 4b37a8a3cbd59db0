//! The database behind one interface (`sql::Conn`), with two backends: SQLite, the
//! embedded default (`sqlite`), and PostgreSQL for several hosts. The queries, one file per
//! table, are written once against the interface; each backend brings its own SQL text,
//! schema, locking and migrations.

pub mod copy;
pub mod jobs;
pub mod location;
pub mod pings;
pub mod postgres;
pub mod runs;
pub mod settings;
pub mod sql;
pub mod sqlite;
pub mod tokens;
pub mod vanished;

use crate::params;
use crate::time::Timestamp;
use anyhow::Result;
pub use location::Location;
use sql::Conn;
use std::time::Duration;

/// An open cronq database.
pub struct Store {
    location: Location,
    backend: Backend,
}

/// One store lives per process, so the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Sqlite(sqlite::Database),
    Postgres(postgres::Database),
}

impl Store {
    /// Opens (or on first use creates) the database; see each backend's `open` for what is
    /// refused.
    pub fn open(location: &Location, now: Timestamp) -> Result<Store> {
        let backend = match location {
            Location::File(path) => Backend::Sqlite(sqlite::Database::open(path, now)?),
            Location::Postgres(url) => {
                let db = postgres::Database::open(url, now)?;
                // One clock for every host of the database: the server's.
                crate::time::follow_server_clock(db.server_time()?);
                Backend::Postgres(db)
            }
        };
        Ok(Store {
            location: location.clone(),
            backend,
        })
    }

    /// Whether the connection is gone for good (PostgreSQL: the server closed it, or the
    /// network failed); only a new `open` helps then.
    pub fn is_closed(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            Backend::Postgres(db) => db.is_closed(),
        }
    }

    /// Reads the database server's clock again (PostgreSQL), for a connection kept open
    /// longer than one command: the offset between the clocks drifts.
    pub fn refresh_clock(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(db) => {
                crate::time::follow_server_clock(db.server_time()?);
                Ok(())
            }
        }
    }

    /// Where the database is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The database for reads outside a transaction.
    pub fn conn(&self) -> &dyn Conn {
        match &self.backend {
            Backend::Sqlite(db) => &db.conn,
            Backend::Postgres(db) => db.conn(),
        }
    }

    /// Runs `work` in one transaction that serialises writers, committing only when it
    /// succeeds.
    pub fn write<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(db) => db.write(work),
            Backend::Postgres(db) => db.write(work),
        }
    }

    /// Runs `work` in one transaction whose writes are each fenced by a run's claim (a
    /// result) and whose claims skip rows other transactions hold (`runs::claim_next`):
    /// on PostgreSQL without cronq's lock of all writes, so that hosts recording results
    /// and claiming their next runs do not queue behind each other's commits; on SQLite
    /// as `write`. Nothing in it may decide from what it read but through such a fence.
    pub fn write_fenced<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(db) => db.write_fenced(work),
            Backend::Postgres(db) => db.write_fenced(work),
        }
    }

    /// Runs `work`, one statement that writes a single row fenced by a claim and reads
    /// nothing to decide (a run's process group), as a write of its own: on PostgreSQL
    /// committed on its own, without cronq's lock of all writes, so that it neither waits
    /// for nor holds up other hosts' claims and results; a second statement is refused.
    pub fn write_one<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite(db) => db.write_one(work),
            Backend::Postgres(db) => db.write_one(work),
        }
    }

    /// Gives space that deleted rows freed back, after Cleanup; `pause` between steps.
    pub fn reclaim_space(&self, pause: Duration) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(db) => db.reclaim_space(pause),
            Backend::Postgres(db) => db.reclaim_space(pause),
        }
    }
}

/// A host that passes on a shared database, as the database last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub id: String,
    pub boot_id: String,
    pub last_seen: Timestamp,
    pub version: String,
}

impl Store {
    /// Says this host is alive, at most once every `every` seconds (a pass: once a minute,
    /// so an idle pass rarely writes). On SQLite there is one host, whose heartbeat is the
    /// lock file.
    pub fn note_host(&self, now: Timestamp, every: i64) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(db) => {
                let me = crate::owner::this_process();
                postgres::hosts::note(db.conn(), &me.host, &me.boot_id, now, every)
            }
        }
    }

    /// Forgets a host retired for good; false when there was none of that name.
    pub fn forget_host(&self, id: &str) -> Result<bool> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(false),
            Backend::Postgres(db) => {
                Ok(db.write(|tx| tx.execute("DELETE FROM hosts WHERE id = $1", params![id]))? == 1)
            }
        }
    }

    /// The hosts that pass on this database (none on SQLite).
    pub fn hosts(&self) -> Result<Vec<Host>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Vec::new()),
            Backend::Postgres(db) => postgres::hosts::all(db.conn()),
        }
    }
}

/// What a pass has to look at; all false in an idle pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// A job's next slot is due.
    pub due_slots: bool,
    /// A pending run is due.
    pub due_runs: bool,
    /// A run is marked running (recovery must look at it).
    pub running: bool,
    /// A monitoring ping waits for another try.
    pub due_pings: bool,
}

/// When each kind of work falls due next: what an idle pass reads, from four index probes
/// in one statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outlook {
    /// The earliest next slot of any job.
    pub first_slot: Option<Timestamp>,
    /// The earliest due time of a pending run.
    pub first_run: Option<Timestamp>,
    /// A run is marked running.
    pub running: bool,
    /// The earliest next try of an undelivered ping.
    pub first_ping: Option<Timestamp>,
}

impl Outlook {
    /// What is due at `now`.
    pub fn work(&self, now: Timestamp) -> Work {
        let due = |at: Option<Timestamp>| at.is_some_and(|at| at <= now);
        Work {
            due_slots: due(self.first_slot),
            due_runs: due(self.first_run),
            running: self.running,
            due_pings: due(self.first_ping),
        }
    }

    /// Until when nothing falls due, if nothing runs: `Some(None)` when nothing is
    /// scheduled at all; `None` when a run is running (recovery must look at it each pass).
    pub fn quiet_until(&self) -> Option<Option<Timestamp>> {
        if self.running {
            return None;
        }
        Some(
            [self.first_slot, self.first_run, self.first_ping]
                .into_iter()
                .flatten()
                .min(),
        )
    }
}

/// The idle pass's one question.
pub fn outlook(db: &dyn Conn) -> Result<Outlook> {
    let row = db.query_one(db.sql().outlook, params![])?;
    Ok(Outlook {
        first_slot: row.opt_int(0)?,
        first_run: row.opt_int(1)?,
        running: row.bool(2)?,
        first_ping: row.opt_int(3)?,
    })
}
