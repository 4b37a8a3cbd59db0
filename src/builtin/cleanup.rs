//! Cleanup (design §7): deletes finished runs older than `cleanup_period` days, keeping the
//! newest 10 of each job whatever their age, then gives the space back to the file system.
//!
//! It deletes in small batches, each its own short transaction, so a pass that needs the
//! database waits for one batch at most, never for the whole cleanup.

use crate::settings::Settings;
use crate::store::Store;
use crate::time::Timestamp;
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// Finished runs of each job that are kept whatever their age.
pub const KEEP_PER_JOB: i64 = 10;
/// Rows deleted per transaction.
const BATCH: i64 = 500;
/// The pause after each batch: longer than a waiting writer's retry interval.
const YIELD: std::time::Duration = std::time::Duration::from_millis(2);
/// Free pages given back to the file system per transaction.
const VACUUM_PAGES: i64 = 256;
const FINISHED: &str = "('success', 'failed', 'skipped', 'missed')";

/// Runs Cleanup; returns the line recorded as the run's output.
pub fn run(store: &mut Store, now: Timestamp, settings: &Settings) -> Result<String> {
    let cutoff = now - settings.cleanup_period * 86_400;
    let jobs: Vec<String> = {
        let mut stmt = store.conn().prepare("SELECT DISTINCT job FROM runs")?;
        let names = stmt.query_map([], |row| row.get(0))?;
        names.collect::<rusqlite::Result<_>>()?
    };
    let mut deleted = 0;
    for job in &jobs {
        // Runs older than the KEEP_PER_JOB-th newest finished one may go.
        let keep_from: Option<i64> = store
            .conn()
            .query_row(
                &format!(
                    "SELECT id FROM runs WHERE job = ?1 AND status IN {FINISHED} \
                     ORDER BY id DESC LIMIT 1 OFFSET ?2"
                ),
                params![job, KEEP_PER_JOB - 1],
                |row| row.get(0),
            )
            .optional()?;
        let Some(keep_from) = keep_from else { continue };
        loop {
            let n = store.write(|tx| {
                Ok(tx.execute(
                    &format!(
                        "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE job = ?1 AND id < ?2 \
                         AND status IN {FINISHED} AND coalesce(finished_at, created_at) < ?3 LIMIT ?4)"
                    ),
                    params![job, keep_from, cutoff, BATCH],
                )?)
            })?;
            deleted += n;
            if (n as i64) < BATCH {
                break;
            }
            // Let a waiting pass in between two batches.
            std::thread::sleep(YIELD);
        }
    }
    if deleted > 0 {
        // Give the freed pages back in small steps too, each its own short transaction.
        loop {
            let free: i64 = store
                .conn()
                .query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
            if free == 0 {
                break;
            }
            store.write(|tx| pragma(tx, &format!("PRAGMA incremental_vacuum({VACUUM_PAGES})")))?;
            std::thread::sleep(YIELD);
        }
        // Passive: copies what it can without making anyone wait.
        pragma(store.conn(), "PRAGMA wal_checkpoint(PASSIVE)")?;
    }
    Ok(format!(
        "deleted {deleted} finished runs older than {} days (kept the newest {KEEP_PER_JOB} of each job)",
        settings.cleanup_period
    ))
}

/// Runs a pragma that may or may not return rows.
fn pragma(conn: &Connection, sql: &str) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}
