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
    /// How often a shutdown stopped it and queued it again.
    pub interruptions: i64,
}

const COLUMNS: &str = "id, job, slot, status, priority, due_at, attempt, max_attempts, \
    target_id, target_type, data, created_at, started_at, finished_at, duration_ms, exit_code, error, interruptions";
const COLUMN_COUNT: usize = 18;

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
        interruptions: row.get(17)?,
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

/// The proof a runner holds that a run is still its own. Every claim raises the run's
/// `claim` counter, and every write after it (start, process group, result, requeue)
/// names the token, the attempt and the run: a runner whose claim was taken back (its run
/// judged stale and given to another) changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub run: i64,
    pub token: i64,
    pub attempt: i64,
}

/// When a claimed run starts: at once in this process, or in a child process that will
/// start it with `start` (parallel mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Started now; the seconds since boot at this moment (the clock that never steps).
    Now {
        since_boot: i64,
    },
    Later,
}

/// Claims the first due pending run (higher priority first, then earlier due time, then
/// lower id) for `owner`. Runs are claimed one at a time, just before they start: a run
/// waiting behind others stays pending, visible and takeable by another invocation.
pub fn claim_next(
    conn: &Connection,
    now: Timestamp,
    owner: &Owner,
    start: Start,
) -> Result<Option<(Run, Claim)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM runs WHERE status = 'pending' AND due_at <= ?1 \
         ORDER BY priority DESC, due_at, id LIMIT 1",
    )?;
    let Some(id) = stmt.query_row([now], |row| row.get(0)).optional()? else {
        return Ok(None);
    };
    claim(conn, id, now, owner, start)
}

/// Claims run `id` for `owner` if it is pending; `None` when it is not.
pub fn claim(
    conn: &Connection,
    id: i64,
    now: Timestamp,
    owner: &Owner,
    start: Start,
) -> Result<Option<(Run, Claim)>> {
    let (started_at, started_boot) = match start {
        Start::Now { since_boot } => (Some(now), Some(since_boot)),
        Start::Later => (None, None),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE runs SET status = 'running', claim = claim + 1, claimed_at = ?2, \
         started_at = ?3, started_boot = ?4, owner_host = ?5, owner_boot_id = ?6, \
         owner_pid = ?7, owner_started = ?8, pgid = NULL, pgid_started = NULL \
         WHERE id = ?1 AND status = 'pending' RETURNING {COLUMNS}, claim"
    ))?;
    let claimed = stmt
        .query_row(
            params![
                id,
                now,
                started_at,
                started_boot,
                owner.host,
                owner.boot_id,
                owner.pid,
                owner.started
            ],
            |row| {
                let run = from_row(row)?;
                let token = row.get(COLUMN_COUNT)?;
                Ok((run, token))
            },
        )
        .optional()?;
    Ok(claimed.map(|(run, token)| {
        let claim = Claim {
            run: run.id,
            token,
            attempt: run.attempt,
        };
        (run, claim)
    }))
}

/// Starts a run claimed for a child process: `me` becomes its owner. False when the
/// claim is no longer held or the run already started; it must then not be started.
pub fn start(
    conn: &Connection,
    claim: &Claim,
    now: Timestamp,
    since_boot: i64,
    me: &Owner,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE runs SET started_at = ?4, started_boot = ?5, owner_host = ?6, \
         owner_boot_id = ?7, owner_pid = ?8, owner_started = ?9 \
         WHERE id = ?1 AND claim = ?2 AND attempt = ?3 AND status = 'running' \
         AND started_at IS NULL",
    )?;
    let changed = stmt.execute(params![
        claim.run,
        claim.token,
        claim.attempt,
        now,
        since_boot,
        me.host,
        me.boot_id,
        me.pid,
        me.started
    ])?;
    Ok(changed == 1)
}

/// Whether `claim` still holds its run: the runner asks while its job runs, and stops the
/// job when the answer is no.
pub fn still_held(conn: &Connection, claim: &Claim) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND claim = ?2 AND attempt = ?3 \
         AND status = 'running')",
    )?;
    Ok(
        stmt.query_row(params![claim.run, claim.token, claim.attempt], |row| {
            row.get(0)
        })?,
    )
}

/// Records the job's process group, and when its leader started (to tell it from a
/// later group that reuses the number). False when the claim is gone.
pub fn set_group(
    conn: &Connection,
    claim: &Claim,
    pgid: i64,
    leader_started: Option<i64>,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "UPDATE runs SET pgid = ?4, pgid_started = ?5 \
         WHERE id = ?1 AND claim = ?2 AND attempt = ?3 AND status = 'running'",
    )?;
    let changed = stmt.execute(params![
        claim.run,
        claim.token,
        claim.attempt,
        pgid,
        leader_started
    ])?;
    Ok(changed == 1)
}

/// Every running run, with its effective timeout, for recovery.
pub fn running(conn: &Connection, default_timeout: i64) -> Result<Vec<crate::recover::RunningRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.job, r.claimed_at, r.started_at, coalesce(j.timeout, ?1), r.owner_host, \
         r.owner_boot_id, r.owner_pid, r.owner_started, r.pgid, r.pgid_started, r.claim, \
         r.attempt, r.started_boot \
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
            claim: Claim {
                run: row.get(0)?,
                token: row.get(11)?,
                attempt: row.get(12)?,
            },
            started_boot: row.get(13)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Puts a run stopped by a shutdown back in the queue, due now, with the same attempt:
/// the stop was not its failure, so it costs no retry. The caller bounds how often.
pub fn interrupt(
    conn: &Connection,
    claim: &Claim,
    result: &Outcome,
    now: Timestamp,
) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE runs SET status = 'pending', interruptions = interruptions + 1, due_at = ?4, \
         error = ?5, output = ?6, duration_ms = ?7, claimed_at = NULL, started_at = NULL, \
         started_boot = NULL, owner_host = NULL, owner_boot_id = NULL, owner_pid = NULL, \
         owner_started = NULL, pgid = NULL, pgid_started = NULL \
         WHERE id = ?1 AND claim = ?2 AND attempt = ?3 AND status = 'running'",
        params![
            claim.run,
            claim.token,
            claim.attempt,
            now,
            result.error,
            result.output,
            result.duration_ms
        ],
    )?;
    Ok(changed == 1)
}

/// Puts a claimed run that never started back in the queue, with no attempt used.
pub fn requeue(conn: &Connection, claim: &Claim, reason: &str) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE runs SET status = 'pending', error = ?4, claimed_at = NULL, started_at = NULL, \
         started_boot = NULL, owner_host = NULL, owner_boot_id = NULL, owner_pid = NULL, \
         owner_started = NULL WHERE id = ?1 AND claim = ?2 AND attempt = ?3 \
         AND status = 'running' AND started_at IS NULL",
        params![claim.run, claim.token, claim.attempt, reason],
    )?;
    Ok(changed == 1)
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
/// back to pending for another attempt at that time. False when the claim is gone.
pub fn finish(
    conn: &Connection,
    claim: &Claim,
    result: &Outcome,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool> {
    let changed = match retry_at {
        None => {
            let mut stmt = conn.prepare_cached(
                "UPDATE runs SET status = ?4, finished_at = ?5, exit_code = ?6, error = ?7, \
                 output = ?8, duration_ms = ?9 \
                 WHERE id = ?1 AND claim = ?2 AND attempt = ?3 AND status = 'running'",
            )?;
            stmt.execute(params![
                claim.run,
                claim.token,
                claim.attempt,
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
                "UPDATE runs SET status = 'pending', attempt = attempt + 1, due_at = ?4, \
                 exit_code = ?5, error = ?6, output = ?7, duration_ms = ?8, claimed_at = NULL, \
                 started_at = NULL, started_boot = NULL, finished_at = NULL, owner_host = NULL, \
                 owner_boot_id = NULL, owner_pid = NULL, owner_started = NULL, pgid = NULL, \
                 pgid_started = NULL \
                 WHERE id = ?1 AND claim = ?2 AND attempt = ?3 AND status = 'running'",
            )?;
            stmt.execute(params![
                claim.run,
                claim.token,
                claim.attempt,
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
