//! The database behind one interface (`sql::Conn`), with two backends: SQLite, the
//! embedded default (`sqlite`), and PostgreSQL for several hosts. The queries, one file per
//! table, are written once against the interface; each backend brings its own SQL text,
//! schema, locking and migrations.

pub mod jobs;
pub mod location;
pub mod postgres;
pub mod runs;
pub mod settings;
pub mod sql;
pub mod sqlite;
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

    /// Gives space that deleted rows freed back, after Cleanup; `pause` between steps.
    pub fn reclaim_space(&self, pause: Duration) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(db) => db.reclaim_space(pause),
            Backend::Postgres(db) => db.reclaim_space(pause),
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
}

/// The idle pass's one question, answered from three index probes in one statement.
pub fn pending_work(db: &dyn Conn, now: Timestamp) -> Result<Work> {
    let row = db.query_one(db.sql().pending_work, params![now])?;
    Ok(Work {
        due_slots: row.bool(0)?,
        due_runs: row.bool(1)?,
        running: row.bool(2)?,
    })
}
