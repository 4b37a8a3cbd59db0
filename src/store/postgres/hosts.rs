//! The `hosts` table: which hosts pass on this database, on which boot, and when each was
//! last seen. Only PostgreSQL has it: on SQLite every run belongs to the one host, and the
//! lock file's time is its heartbeat.

use crate::params;
use crate::store::sql::Conn;
use crate::store::Host;
use crate::time::Timestamp;
use anyhow::Result;

/// How often a host says it is alive: an idle pass writes at most once a minute.
pub const SEEN_EVERY: i64 = 60;

/// Records that `id` is alive on `boot_id` at `now`: at most once every `every` seconds
/// (`SEEN_EVERY` for a pass), and at once when its boot changed (a reboot is news).
pub fn note(db: &dyn Conn, id: &str, boot_id: &str, now: Timestamp, every: i64) -> Result<()> {
    let known = db.query_opt(
        "SELECT boot_id, last_seen FROM hosts WHERE id = $1",
        params![id],
    )?;
    if let Some(row) = &known {
        if row.text(0)? == boot_id && row.int(1)? > now - every {
            return Ok(());
        }
    }
    db.execute(
        "INSERT INTO hosts (id, boot_id, last_seen, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET boot_id = excluded.boot_id, \
         last_seen = greatest(hosts.last_seen, excluded.last_seen), version = excluded.version",
        params![id, boot_id, now, env!("CARGO_PKG_VERSION")],
    )?;
    Ok(())
}

/// Every host, by id.
pub fn all(db: &dyn Conn) -> Result<Vec<Host>> {
    db.query(
        "SELECT id, boot_id, last_seen, version FROM hosts ORDER BY id",
        &[],
    )?
    .iter()
    .map(|row| {
        Ok(Host {
            id: row.text(0)?,
            boot_id: row.text(1)?,
            last_seen: row.int(2)?,
            version: row.text(3)?,
        })
    })
    .collect()
}
