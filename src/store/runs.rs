//! Queries on the `runs` table, written once for both backends.

use super::sql::{Conn, Row, Value};
use crate::job::RunStatus;
use crate::params;
use crate::time::Timestamp;
use anyhow::{Context, Result};

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
    /// The host that claimed it (that runs it, or ran its last attempt).
    pub host: Option<String>,
}

/// A run from the columns `Sql`'s run queries return, in their order.
fn from_row(row: &Row) -> Result<Run> {
    let id = row.int(0)?;
    read_run(id, row).with_context(|| {
        format!(
            "run {id} holds a value cronq cannot read (was its row changed by another \
             program?)"
        )
    })
}

fn read_run(id: i64, row: &Row) -> Result<Run> {
    Ok(Run {
        id,
        job: row.text(1)?,
        slot: row.opt_int(2)?,
        status: row.parse(3)?,
        priority: row.int(4)?,
        due_at: row.int(5)?,
        attempt: row.int(6)?,
        max_attempts: row.int(7)?,
        target_id: row.opt_text(8)?,
        target_type: row.opt_text(9)?,
        data: row.opt_text(10)?,
        created_at: row.int(11)?,
        started_at: row.opt_int(12)?,
        finished_at: row.opt_int(13)?,
        duration_ms: row.opt_int(14)?,
        exit_code: row.opt_int(15)?,
        error: row.opt_text(16)?,
        interruptions: row.int(17)?,
        host: row.opt_text(18)?,
    })
}

/// How many columns `from_row` reads; a claim returns the token after them.
const RUN_COLUMNS: usize = 19;

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

/// Records a slot's decision. A slot that already has a row keeps it (`ON CONFLICT DO
/// NOTHING` on UNIQUE(job, slot)), so no slot ever becomes two runs.
pub fn insert_slot(
    db: &dyn Conn,
    job: &str,
    slot: Timestamp,
    status: RunStatus,
    reason: Option<&str>,
    max_attempts: i64,
    now: Timestamp,
) -> Result<bool> {
    let finished_at = (status != RunStatus::Pending).then_some(now);
    let inserted = db.execute(
        db.sql().insert_slot,
        params![
            job,
            slot,
            status.as_str(),
            max_attempts,
            reason,
            now,
            finished_at
        ],
    )?;
    Ok(inserted == 1)
}

/// Queues a run (enqueue, run-job); returns its id.
pub fn insert_request(db: &dyn Conn, request: &Request, now: Timestamp) -> Result<i64> {
    let values = params![
        &request.job,
        request.due_at,
        request.priority,
        request.max_attempts,
        &request.target_id,
        &request.target_type,
        &request.data,
        now,
    ];
    match &db.sql().read_back {
        None => db.query_one(db.sql().insert_request, values)?.int(0),
        Some(read_back) => {
            db.execute(db.sql().insert_request, values)?;
            db.query_one(read_back.inserted_id, params![])?.int(0)
        }
    }
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

impl Claim {
    fn fence(&self) -> [Value<'static>; 3] {
        [
            Value::Int(self.run),
            Value::Int(self.token),
            Value::Int(self.attempt),
        ]
    }
}

/// The fence's three parameters (`?1`..`?3`) followed by `rest`.
fn fenced<'a>(claim: &Claim, rest: &[Value<'a>]) -> Vec<Value<'a>> {
    let mut all = claim.fence().to_vec();
    all.extend_from_slice(rest);
    all
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
/// waiting behind others stays pending, visible and takeable by another invocation. On
/// PostgreSQL a run that another transaction holds at that moment (another host claims
/// it, or an operator cancels it) is passed over for the next, never waited for; it may
/// run after a later one of equal rank.
pub fn claim_next(
    db: &dyn Conn,
    now: Timestamp,
    owner: &Owner,
    start: Start,
) -> Result<Option<(Run, Claim)>> {
    if let Some(claim_next) = db.sql().claim_next {
        // One statement, one round trip, that finds the run and claims it: `claim`'s
        // parameters with the due time in the place of the id.
        return claimed(db.query_opt(claim_next, &claim_values(now, now, owner, start))?);
    }
    let Some(row) = db.query_opt(db.sql().next_due_run, params![now])? else {
        return Ok(None);
    };
    claim(db, row.int(0)?, now, owner, start)
}

/// Claims run `id` for `owner` if it is pending; `None` when it is not.
pub fn claim(
    db: &dyn Conn,
    id: i64,
    now: Timestamp,
    owner: &Owner,
    start: Start,
) -> Result<Option<(Run, Claim)>> {
    let values = claim_values(id, now, owner, start);
    let row = match &db.sql().read_back {
        None => db.query_opt(db.sql().claim, &values)?,
        Some(read_back) => match db.execute(db.sql().claim, &values)? {
            0 => None,
            _ => db.query_opt(read_back.claimed, params![id])?,
        },
    };
    claimed(row)
}

/// The parameters of `claim` (and of `claim_next`, where `first` is the due time).
fn claim_values(first: i64, now: Timestamp, owner: &Owner, start: Start) -> Vec<Value<'_>> {
    let (started_at, started_boot) = match start {
        Start::Now { since_boot } => (Some(now), Some(since_boot)),
        Start::Later => (None, None),
    };
    params![
        first,
        now,
        started_at,
        started_boot,
        &owner.host,
        &owner.boot_id,
        owner.pid,
        owner.started
    ]
    .to_vec()
}

/// The run and its claim, from the row a claim returned or read back.
fn claimed(row: Option<Row>) -> Result<Option<(Run, Claim)>> {
    let Some(row) = row else {
        return Ok(None);
    };
    let run = from_row(&row)?;
    let claim = Claim {
        run: run.id,
        token: row.int(RUN_COLUMNS)?,
        attempt: run.attempt,
    };
    Ok(Some((run, claim)))
}

/// Starts a run claimed for a child process: `me` becomes its owner. False when the
/// claim is no longer held or the run already started; it must then not be started.
pub fn start(
    db: &dyn Conn,
    claim: &Claim,
    now: Timestamp,
    since_boot: i64,
    me: &Owner,
) -> Result<bool> {
    let rest = params![now, since_boot, &me.host, &me.boot_id, me.pid, me.started];
    Ok(db.execute(db.sql().start, &fenced(claim, rest))? == 1)
}

/// What a runner finds when it looks at its run while the job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimState {
    /// The run is still this claim's: carry on.
    Held,
    /// Still this claim's, and an operator asked for it to be stopped (`cronq stop`).
    StopRequested,
    /// The claim was taken back (the run was judged stale): stop the job, record nothing.
    Lost,
}

/// Whether `claim` still holds its run, and whether an operator asked to stop it: one
/// statement, which the runner makes every 10 s while its job runs.
pub fn claim_state(db: &dyn Conn, claim: &Claim) -> Result<ClaimState> {
    Ok(match db.query_opt(db.sql().claim_state, &claim.fence())? {
        None => ClaimState::Lost,
        Some(row) if row.bool(0)? => ClaimState::StopRequested,
        Some(_) => ClaimState::Held,
    })
}

/// Records the job's process group, and when its leader started (to tell it from a
/// later group that reuses the number). False when the claim is gone.
pub fn set_group(
    db: &dyn Conn,
    claim: &Claim,
    pgid: i64,
    leader_started: Option<i64>,
) -> Result<bool> {
    let rest = params![pgid, leader_started];
    Ok(db.execute(db.sql().set_group, &fenced(claim, rest))? == 1)
}

/// A running run as recovery sees it: the facts of its row.
#[derive(Clone, Debug)]
pub struct RunningRun {
    pub id: i64,
    pub job: String,
    pub claimed_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    /// Seconds since boot when it started, on its owner's boot.
    pub started_boot: Option<i64>,
    pub timeout: i64,
    pub owner_host: Option<String>,
    pub owner_boot_id: Option<String>,
    pub owner_pid: Option<i64>,
    pub owner_started: Option<i64>,
    pub pgid: Option<i64>,
    pub pgid_started: Option<i64>,
    /// The claim as it stands: recovery's own writes are fenced by it.
    pub claim: Claim,
    /// When an operator asked for it to be stopped (`cronq stop`), if they did.
    pub stop_requested: Option<Timestamp>,
}

/// Every running run, with its effective timeout, for recovery.
pub fn running(db: &dyn Conn, default_timeout: i64) -> Result<Vec<RunningRun>> {
    db.query(db.sql().running, params![default_timeout])?
        .iter()
        .map(|row| {
            Ok(RunningRun {
                id: row.int(0)?,
                job: row.text(1)?,
                claimed_at: row.opt_int(2)?,
                started_at: row.opt_int(3)?,
                timeout: row.int(4)?,
                owner_host: row.opt_text(5)?,
                owner_boot_id: row.opt_text(6)?,
                owner_pid: row.opt_int(7)?,
                owner_started: row.opt_int(8)?,
                pgid: row.opt_int(9)?,
                pgid_started: row.opt_int(10)?,
                claim: Claim {
                    run: row.int(0)?,
                    token: row.int(11)?,
                    attempt: row.int(12)?,
                },
                started_boot: row.opt_int(13)?,
                stop_requested: row.opt_int(14)?,
            })
        })
        .collect()
}

/// Puts a run stopped by a shutdown back in the queue, due now, with the same attempt:
/// the stop was not its failure, so it costs no retry. The caller bounds how often. False
/// when the claim is gone, or when an operator asked to stop the run: it then must not
/// run again (`claim_state` tells which).
pub fn interrupt(db: &dyn Conn, claim: &Claim, result: &Outcome, now: Timestamp) -> Result<bool> {
    let rest = params![
        now,
        &result.error,
        result.output.as_slice(),
        result.duration_ms
    ];
    Ok(db.execute(db.sql().interrupt, &fenced(claim, rest))? == 1)
}

/// Puts a claimed run that never started back in the queue, with no attempt used.
pub fn requeue(db: &dyn Conn, claim: &Claim, reason: &str) -> Result<bool> {
    Ok(db.execute(db.sql().requeue, &fenced(claim, params![reason]))? == 1)
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: RunStatus,
    /// Stopped by a shutdown rather than by its own failure: queued again at once.
    pub interrupted: bool,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    /// The tail of what the job wrote, as bytes (at most 64 KiB and a note).
    pub output: Vec<u8>,
    pub duration_ms: i64,
}

/// Records a finished attempt: final (`success`/`failed`), or when `retry_at` is given,
/// back to pending for another attempt at that time. False when the claim is gone; with
/// `retry_at`, also when an operator asked to stop the run, which is then not retried
/// (`claim_state` tells which).
pub fn finish(
    db: &dyn Conn,
    claim: &Claim,
    result: &Outcome,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool> {
    let output = result.output.as_slice();
    let changed = match retry_at {
        None => db.execute(
            db.sql().finish,
            &fenced(
                claim,
                params![
                    result.status.as_str(),
                    now,
                    result.exit_code,
                    &result.error,
                    output,
                    result.duration_ms
                ],
            ),
        )?,
        Some(at) => {
            // Kept before the run's row takes the next attempt's place.
            db.execute(
                db.sql().record_attempt,
                &fenced(
                    claim,
                    params![
                        now,
                        result.duration_ms,
                        result.exit_code,
                        &result.error,
                        attempt_output(output)
                    ],
                ),
            )?;
            db.execute(
                db.sql().finish_and_retry,
                &fenced(
                    claim,
                    params![
                        at,
                        result.exit_code,
                        &result.error,
                        output,
                        result.duration_ms
                    ],
                ),
            )?
        }
    };
    Ok(changed == 1)
}

/// How much of an earlier attempt's output is kept: the tail, like a run's own output,
/// but shorter, since a run may have a hundred attempts.
pub const ATTEMPT_OUTPUT_BYTES: usize = 16 * 1024;

fn attempt_output(output: &[u8]) -> &[u8] {
    &output[output.len().saturating_sub(ATTEMPT_OUTPUT_BYTES)..]
}

/// An earlier attempt of a retried run.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub attempt: i64,
    pub host: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Timestamp,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub output: Vec<u8>,
}

/// The earlier attempts of run `id`, oldest first; its latest attempt is the run itself.
pub fn attempts_of(db: &dyn Conn, id: i64) -> Result<Vec<Attempt>> {
    db.query(db.sql().attempts_of, params![id])?
        .iter()
        .map(|row| {
            Ok(Attempt {
                attempt: row.int(0)?,
                host: row.opt_text(1)?,
                started_at: row.opt_int(2)?,
                finished_at: row.int(3)?,
                duration_ms: row.opt_int(4)?,
                exit_code: row.opt_int(5)?,
                error: row.opt_text(6)?,
                output: row.bytes(7)?.unwrap_or_default(),
            })
        })
        .collect()
}

pub fn get(db: &dyn Conn, id: i64) -> Result<Option<Run>> {
    db.query_opt(db.sql().run_by_id, params![id])?
        .map(|row| from_row(&row))
        .transpose()
}

/// The kept tail of a run's output, as bytes (only `show` reads it: it can be 64 KiB).
/// Rows of the first release hold text, which reads as its bytes.
pub fn output_of(db: &dyn Conn, id: i64) -> Result<Option<Vec<u8>>> {
    match db.query_opt(db.sql().output_of, params![id])? {
        Some(row) => row.bytes(0),
        None => Ok(None),
    }
}

/// Which runs to list: each field that is set narrows the list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub job: Option<String>,
    pub status: Option<RunStatus>,
    /// The run's `target_id`, exactly.
    pub target: Option<String>,
    /// The host that claimed it, exactly.
    pub host: Option<String>,
    /// Due at or after this time.
    pub since: Option<Timestamp>,
    /// Due before this time.
    pub until: Option<Timestamp>,
}

/// Runs, newest first, optionally of one job and one status.
pub fn list(
    db: &dyn Conn,
    job: Option<&str>,
    status: Option<RunStatus>,
    limit: i64,
) -> Result<Vec<Run>> {
    let filter = Filter {
        job: job.map(str::to_string),
        status,
        ..Filter::default()
    };
    search(db, &filter, limit)
}

/// The newest `limit` runs that pass `filter`, newest first.
pub fn search(db: &dyn Conn, filter: &Filter, limit: i64) -> Result<Vec<Run>> {
    db.query(
        db.sql().list_runs,
        params![
            &filter.job,
            filter.status.map(|s| s.as_str()),
            limit,
            &filter.target,
            &filter.host,
            filter.since,
            filter.until,
        ],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Asks the runner of a running run to stop it: its claim check, every 10 s, sees the
/// request, stops the job and records the run failed. From then on the run is neither
/// retried nor queued again by a shutdown. A claim clears the request: it is about the
/// attempt that was running when it was made. False when the run is not running or a
/// stop was asked for already.
pub fn request_stop(db: &dyn Conn, id: i64, now: Timestamp) -> Result<bool> {
    Ok(db.execute(db.sql().request_stop, params![id, now])? == 1)
}

/// When an operator asked to stop run `id`, if one did.
pub fn stop_requested_of(db: &dyn Conn, id: i64) -> Result<Option<Timestamp>> {
    match db.query_opt(db.sql().stop_requested_of, params![id])? {
        Some(row) => row.opt_int(0),
        None => Ok(None),
    }
}

/// Ends a pending run unrun, as `skipped` with `reason`. False when it is not pending
/// (a pass claimed it meanwhile, or it ended).
pub fn cancel_pending(db: &dyn Conn, id: i64, reason: &str, now: Timestamp) -> Result<bool> {
    Ok(db.execute(db.sql().cancel_pending, params![id, reason, now])? == 1)
}

/// A finished run's result, as the jobs list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentResult {
    pub id: i64,
    pub status: RunStatus,
    pub duration_ms: Option<i64>,
    pub finished_at: Option<Timestamp>,
}

/// The newest `limit` results (success or failed) of `job`, newest first: one probe of
/// the (job, id) index.
pub fn recent_results_of(db: &dyn Conn, job: &str, limit: i64) -> Result<Vec<RecentResult>> {
    db.query(db.sql().recent_results_of, params![job, limit])?
        .iter()
        .map(|row| {
            Ok(RecentResult {
                id: row.int(0)?,
                status: row.parse(1)?,
                duration_ms: row.opt_int(2)?,
                finished_at: row.opt_int(3)?,
            })
        })
        .collect()
}

/// Successes and failures per hour since `since`: (hour as Unix seconds / 3600,
/// successes, failures), oldest first, hours without results left out.
pub fn hourly_results(db: &dyn Conn, since: Timestamp) -> Result<Vec<(i64, i64, i64)>> {
    let mut hours: Vec<(i64, i64, i64)> = Vec::new();
    for row in db.query(db.sql().hourly_results, params![since])? {
        let (hour, status, count) = (row.int(0)?, row.text(1)?, row.int(2)?);
        if hours.last().map(|h| h.0) != Some(hour) {
            hours.push((hour, 0, 0));
        }
        // Just pushed when it was missing.
        let last = hours.last_mut().ok_or_else(|| anyhow::anyhow!("no hour"))?;
        if status == "success" {
            last.1 += count;
        } else {
            last.2 += count;
        }
    }
    Ok(hours)
}

pub fn job_has_runs(db: &dyn Conn, job: &str) -> Result<bool> {
    Ok(db.query_one(db.sql().job_has_runs, params![job])?.int(0)? > 0)
}

/// Drops a removed job's queued runs (its history stays).
pub fn delete_pending_of(db: &dyn Conn, job: &str) -> Result<usize> {
    db.execute(db.sql().delete_pending_of, params![job])
}

/// How many runs there are in each status, by status.
pub fn counts(db: &dyn Conn) -> Result<Vec<(String, i64)>> {
    db.query(db.sql().run_counts, &[])?
        .iter()
        .map(|row| Ok((row.text(0)?, row.int(1)?)))
        .collect()
}

/// Records the output so far of a running run, as `finish` will record it at its end;
/// false when the claim no longer holds it (nothing is written then).
pub fn write_progress(db: &dyn Conn, claim: &Claim, output: &[u8]) -> Result<bool> {
    let rest = params![output];
    Ok(db.execute(db.sql().write_progress, &fenced(claim, rest))? == 1)
}

/// The oldest unfinished (pending or running) run of `job`, and whether it is a pending
/// retry a slot may be merged into: the job's only unfinished run, a slot's run, pending
/// (not claimed) for an attempt after the first.
pub fn unfinished_run_of(db: &dyn Conn, job: &str) -> Result<Option<crate::plan::Unfinished>> {
    let rows = db.query(db.sql().unfinished_runs_of, params![job])?;
    let Some(oldest) = rows.first() else {
        return Ok(None);
    };
    let pending_retry = rows.len() == 1
        && oldest.text(1)? == RunStatus::Pending.as_str()
        && oldest.int(2)? > 1
        && oldest.opt_int(3)?.is_some();
    Ok(Some(crate::plan::Unfinished {
        id: oldest.int(0)?,
        pending_retry,
    }))
}

/// Merges a slot into the pending retry `id`: the retry becomes due at `slot` if it was
/// due later. False when it is no longer a pending retry (claimed meanwhile, by another
/// host, or cancelled): the slot then keeps the overlap policy.
pub fn merge_into_retry(db: &dyn Conn, id: i64, slot: Timestamp) -> Result<bool> {
    Ok(db.execute(db.sql().merge_into_retry, params![id, slot])? == 1)
}
