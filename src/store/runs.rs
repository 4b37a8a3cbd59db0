//! Queries on the `runs` table.

use super::parse_column;
use crate::job::RunStatus;
use crate::time::Timestamp;
use anyhow::Result;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A run as stored (without its output, which only `show` reads).
#[derive(Clone, Debug)]
pub struct Run {
    pub id: i64,
    pub job: String,
    pub slot: Option<Timestamp>,
    pub status: RunStatus,
    pub priority: i64,
    pub due_at: Timestamp,
    pub attempt: i64,
    pub max_attempts: i64,
    pub target_id: Option<String>,
    pub target_type: Option<String>,
    pub data: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
}

const COLUMNS: &str = "id, job, slot, status, priority, due_at, attempt, max_attempts, \
    target_id, target_type, data, created_at, started_at, finished_at, duration_ms, exit_code, error";

fn from_row(row: &Row) -> rusqlite::Result<Run> {
    Ok(Run {
        id: row.get(0)?,
        job: row.get(1)?,
        slot: row.get(2)?,
        status: parse_column(row, 3)?,
        priority: row.get(4)?,
        due_at: row.get(5)?,
        attempt: row.get(6)?,
        max_attempts: row.get(7)?,
        target_id: row.get(8)?,
        target_type: row.get(9)?,
        data: row.get(10)?,
        created_at: row.get(11)?,
        started_at: row.get(12)?,
        finished_at: row.get(13)?,
        duration_ms: row.get(14)?,
        exit_code: row.get(15)?,
        error: row.get(16)?,
    })
}

/// A request for a run that does not come from a slot.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub job: String,
    pub target_id: Option<String>,
    pub target_type: Option<String>,
    pub data: Option<String>,
    pub due_at: Timestamp,
    pub priority: i64,
    pub max_attempts: i64,
}

/// Who claimed a run: enough to tell later, on this host, whether it is still alive.
#[derive(Clone, Debug)]
pub struct Owner {
    pub host: String,
    pub boot_id: String,
    pub pid: i64,
    pub started: i64,
}

/// Records a slot's decision. `INSERT OR IGNORE` on UNIQUE(job, slot): a slot that already
/// has a row keeps it, so no slot ever becomes two runs.
pub fn insert_slot(
    conn: &Connection,
    job: &str,
    slot: Timestamp,
    status: RunStatus,
    reason: Option<&str>,
    max_attempts: i64,
    now: Timestamp,
) -> Result<bool> {
    let finished_at = (status != RunStatus::Pending).then_some(now);
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO runs (job, slot, status, due_at, max_attempts, error, created_at, finished_at) \
         VALUES (?1, ?2, ?3, ?2, ?4, ?5, ?6, ?7)",
    )?;
    let inserted = stmt.execute(params![
        job,
        slot,
        status.as_str(),
        max_attempts,
        reason,
        now,
        finished_at
    ])?;
    Ok(inserted == 1)
}

/// Queues a run (enqueue), or with `status` running, records one being started now (run-job).
pub fn insert_request(
    conn: &Connection,
    request: &Request,
    status: RunStatus,
    now: Timestamp,
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO runs (job, status, due_at, priority, max_attempts, target_id, target_type, data, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    stmt.execute(params![
        request.job,
        status.as_str(),
        request.due_at,
        request.priority,
        request.max_attempts,
        request.target_id,
        request.target_type,
        request.data,
        now,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// An earlier run of `job` that is pending or running: what the overlap policy looks at.
pub fn unfinished_of(conn: &Connection, job: &str) -> Result<Option<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM runs WHERE job = ?1 AND status IN ('pending', 'running') ORDER BY id LIMIT 1",
    )?;
    Ok(stmt.query_row([job], |row| row.get(0)).optional()?)
}

/// Marks up to `limit` due pending runs as running for `owner`: higher priority first,
/// then earlier due time, then lower id. Returns their ids in that order.
pub fn claim(conn: &Connection, now: Timestamp, limit: i64, owner: &Owner) -> Result<Vec<i64>> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM runs WHERE status = 'pending' AND due_at <= ?1 \
             ORDER BY priority DESC, due_at, id LIMIT ?2",
        )?;
        let ids = stmt.query_map(params![now, limit], |row| row.get(0))?;
        ids.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        take(conn, *id, now, owner)?;
    }
    Ok(ids)
}

/// Marks one pending run as running for `owner`; false when it was not pending.
pub fn take(conn: &Connection, id: i64, now: Timestamp, owner: &Owner) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE runs SET status = 'running', claimed_at = ?2, owner_host = ?3, owner_boot_id = ?4, \
         owner_pid = ?5, owner_started = ?6 WHERE id = ?1 AND status = 'pending'",
    )?;
    let changed = stmt.execute(params![
        id,
        now,
        owner.host,
        owner.boot_id,
        owner.pid,
        owner.started
    ])?;
    Ok(changed == 1)
}

/// Starts a claimed run for `me`: only while it is still running, claimed by
/// `claimed_by` and not yet started. False means recovery took it back in between (its
/// claimer died), and it must not be started.
pub fn start(
    conn: &Connection,
    id: i64,
    now: Timestamp,
    me: &Owner,
    claimed_by: i64,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE runs SET started_at = ?2, owner_host = ?3, owner_boot_id = ?4, owner_pid = ?5, \
         owner_started = ?6 WHERE id = ?1 AND status = 'running' AND owner_pid = ?7 AND started_at IS NULL",
    )?;
    let changed = stmt.execute(params![
        id, now, me.host, me.boot_id, me.pid, me.started, claimed_by
    ])?;
    Ok(changed == 1)
}

/// Records the job's process group, and when its leader started (to tell it from a
/// later group that reuses the number).
pub fn set_group(conn: &Connection, id: i64, pgid: i64, leader_started: Option<i64>) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("UPDATE runs SET pgid = ?2, pgid_started = ?3 WHERE id = ?1")?;
    stmt.execute(params![id, pgid, leader_started])?;
    Ok(())
}

/// Every running run, with its effective timeout, for recovery.
pub fn running(conn: &Connection, default_timeout: i64) -> Result<Vec<crate::recover::RunningRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.job, r.claimed_at, r.started_at, coalesce(j.timeout, ?1), r.owner_host, \
         r.owner_boot_id, r.owner_pid, r.owner_started, r.pgid, r.pgid_started \
         FROM runs r LEFT JOIN jobs j ON j.name = r.job WHERE r.status = 'running'",
    )?;
    let rows = stmt.query_map([default_timeout], |row| {
        Ok(crate::recover::RunningRun {
            id: row.get(0)?,
            job: row.get(1)?,
            claimed_at: row.get(2)?,
            started_at: row.get(3)?,
            timeout: row.get(4)?,
            owner_host: row.get(5)?,
            owner_boot_id: row.get(6)?,
            owner_pid: row.get(7)?,
            owner_started: row.get(8)?,
            pgid: row.get(9)?,
            pgid_started: row.get(10)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Puts a run stopped by a shutdown back in the queue, due now. It gets another attempt
/// even if it had used its last one: the stop was not its failure.
pub fn interrupt(conn: &Connection, id: i64, result: &Outcome, now: Timestamp) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE runs SET status = 'pending', attempt = attempt + 1, \
         max_attempts = max(max_attempts, attempt + 1), due_at = ?2, error = ?3, output = ?4, \
         duration_ms = ?5, claimed_at = NULL, started_at = NULL, owner_host = NULL, \
         owner_boot_id = NULL, owner_pid = NULL, owner_started = NULL, pgid = NULL, \
         pgid_started = NULL WHERE id = ?1 AND status = 'running'",
        params![id, now, result.error, result.output, result.duration_ms],
    )?;
    Ok(changed == 1)
}

/// Puts a claimed run that never started back in the queue, with no attempt used.
pub fn requeue(conn: &Connection, id: i64, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE runs SET status = 'pending', error = ?2, claimed_at = NULL, owner_host = NULL, \
         owner_boot_id = NULL, owner_pid = NULL, owner_started = NULL WHERE id = ?1 AND status = 'running'",
        params![id, reason],
    )?;
    Ok(())
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: RunStatus,
    /// Stopped by a shutdown rather than by its own failure: queued again at once.
    pub interrupted: bool,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    /// The kept tail of the output, as bytes (stored as a BLOB).
    pub output: Vec<u8>,
    pub duration_ms: i64,
}

/// Records a finished attempt: final (`success`/`failed`), or when `retry_at` is given,
/// back to pending for another attempt at that time.
pub fn finish(
    conn: &Connection,
    id: i64,
    result: &Outcome,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool> {
    let changed = match retry_at {
        None => {
            let mut stmt = conn.prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, exit_code = ?4, error = ?5, output = ?6, \
                 duration_ms = ?7 WHERE id = ?1 AND status = 'running'",
            )?;
            stmt.execute(params![
                id,
                result.status.as_str(),
                now,
                result.exit_code,
                result.error,
                result.output,
                result.duration_ms
            ])?
        }
        Some(at) => {
            let mut stmt = conn.prepare_cached(
                "UPDATE runs SET status = 'pending', attempt = attempt + 1, due_at = ?2, exit_code = ?3, \
                 error = ?4, output = ?5, duration_ms = ?6, claimed_at = NULL, started_at = NULL, \
                 finished_at = NULL, owner_host = NULL, owner_boot_id = NULL, owner_pid = NULL, \
                 owner_started = NULL, pgid = NULL, pgid_started = NULL WHERE id = ?1 AND status = 'running'",
            )?;
            stmt.execute(params![
                id,
                at,
                result.exit_code,
                result.error,
                result.output,
                result.duration_ms
            ])?
        }
    };
    Ok(changed == 1)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Run>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

/// The kept tail of a run's output, as bytes (only `show` reads it: it can be 64 KiB). Rows
/// written before output became bytes hold it as TEXT.
pub fn output_of(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    let output = conn
        .query_row("SELECT output FROM runs WHERE id = ?1", [id], |row| {
            Ok(match row.get_ref(0)? {
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(bytes.to_vec()),
                _ => None,
            })
        })
        .optional()?;
    Ok(output.flatten())
}

/// Runs, newest first, optionally of one job and one status.
pub fn list(
    conn: &Connection,
    job: Option<&str>,
    status: Option<RunStatus>,
    limit: i64,
) -> Result<Vec<Run>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR status = ?2) \
         ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    let runs = stmt
        .query_map(params![job, status.map(|s| s.as_str()), limit], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(runs)
}

pub fn job_has_runs(conn: &Connection, job: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE job = ?1)",
        [job],
        |row| row.get(0),
    )?)
}

/// Drops a removed job's queued runs (its history stays).
pub fn delete_pending_of(conn: &Connection, job: &str) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM runs WHERE job = ?1 AND status = 'pending'",
        [job],
    )?)
}
