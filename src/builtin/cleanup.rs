//! Cleanup (design §7): deletes finished runs older than `cleanup_period` days, keeping the
//! newest 10 of each job whatever their age, then gives the space back to the file system.
//!
//! It deletes in small batches, each its own short transaction, so a pass that needs the
//! database waits for one batch at most, never for the whole cleanup.

use crate::params;
use crate::settings::Settings;
use crate::store::Store;
use crate::time::Timestamp;
use anyhow::Result;

/// Finished runs of each job that are kept whatever their age.
pub const KEEP_PER_JOB: i64 = 10;
/// Rows deleted per transaction.
const BATCH: i64 = 500;
/// The pause after each batch: longer than a waiting writer's retry interval.
const YIELD: std::time::Duration = std::time::Duration::from_millis(2);

/// Runs Cleanup; returns the line recorded as the run's output.
pub fn run(store: &Store, now: Timestamp, settings: &Settings) -> Result<String> {
    let cutoff = now - settings.cleanup_period * 86_400;
    let db = store.conn();
    let jobs: Vec<String> = db
        .query(db.sql().jobs_with_runs, &[])?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_>>()?;
    let mut deleted = 0;
    for job in &jobs {
        // Runs older than the KEEP_PER_JOB-th newest finished one may go.
        let keep_from = match db.query_opt(db.sql().keep_from, params![job, KEEP_PER_JOB - 1])? {
            Some(row) => row.int(0)?,
            None => continue,
        };
        loop {
            let n = store.write(|tx| {
                let batch = params![job, keep_from, cutoff, BATCH];
                tx.execute(tx.sql().delete_old_attempts, batch)?;
                tx.execute(tx.sql().delete_old_runs, batch)
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
        store.reclaim_space(YIELD)?;
    }
    Ok(format!(
        "deleted {deleted} finished runs older than {} days (kept the newest {KEEP_PER_JOB} of each job)",
        settings.cleanup_period
    ))
}
