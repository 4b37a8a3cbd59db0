//! What an operator does to jobs and runs by hand, from the command line or the web
//! screens: run a job now, retry a failed run, cancel a pending one, stop a running one.
//! Each is one write transaction's work; a refusal is a usage error that says why and
//! what to do instead.

use crate::error::usage;
use crate::job::RunStatus;
use crate::settings::Settings;
use crate::store::jobs::{self, Definition, Job};
use crate::store::runs::{self, Request, Run};
use crate::store::sql::Conn;
use crate::time::Timestamp;
use anyhow::Result;

/// The rules of a job's definition that span several of its fields (each field was
/// checked on its own when it was read).
pub fn check_definition(def: &Definition) -> Result<()> {
    if def.requires_target && def.schedule.is_some() {
        return Err(usage(format!(
            "job '{}' requires a target, so it cannot have a schedule (a slot has no target): \
             queue its runs with `cronq enqueue {} --target-id=ID`",
            def.name, def.name
        )));
    }
    Ok(())
}

/// Adds the job `def` describes; its schedule starts at `now`.
pub fn add(tx: &dyn Conn, def: &Definition, now: Timestamp) -> Result<()> {
    check_definition(def)?;
    if jobs::get(tx, &def.name)?.is_some() {
        return Err(usage(format!(
            "job '{}' already exists; change it with `cronq edit {}`",
            def.name, def.name
        )));
    }
    jobs::insert(tx, def, now)
}

/// Rewrites `job`'s definition as `def` (its schedule starts again from `now` when it
/// changed, as `jobs::update` says).
pub fn edit(tx: &dyn Conn, job: &Job, def: &Definition, now: Timestamp) -> Result<()> {
    check_definition(def)?;
    jobs::update(tx, job, def, now)
}

/// Removes a job and its queued runs (its history stays); returns how many queued runs
/// went with it. A built-in job cannot be removed, only disabled.
pub fn remove(tx: &dyn Conn, job: &Job) -> Result<usize> {
    if job.builtin.as_deref() == Some(job.name.as_str()) {
        return Err(usage(format!(
            "'{}' is built in and cannot be removed; stop its schedule with `cronq disable {}`",
            job.name, job.name
        )));
    }
    let dropped = runs::delete_pending_of(tx, &job.name)?;
    jobs::delete(tx, job.id)?;
    Ok(dropped)
}

/// Starts (from `now`) or stops a job's schedule; nothing to do when it already is so.
pub fn set_active(tx: &dyn Conn, job: &Job, active: bool, now: Timestamp) -> Result<()> {
    if job.active == active {
        return Ok(());
    }
    let mut def = job.definition();
    def.active = active;
    jobs::update(tx, job, &def, now)
}

/// How many attempts a new run of `job` gets: its own retries or the setting's, plus one.
pub fn max_attempts(job: &Job, settings: &Settings) -> i64 {
    1 + job.retries.unwrap_or(settings.job_retries)
}

/// Queues a run of `job` due `now`, for the next pass; returns its id. A job that
/// requires a target cannot run without one: queue it with `cronq enqueue`.
pub fn run_now(tx: &dyn Conn, job: &Job, now: Timestamp) -> Result<i64> {
    if job.requires_target {
        return Err(usage(format!(
            "job '{}' requires a target: queue its runs with `cronq enqueue {} --target-id=ID`",
            job.name, job.name
        )));
    }
    let settings = crate::store::settings::load(tx)?;
    let request = Request {
        job: job.name.clone(),
        due_at: now,
        max_attempts: max_attempts(job, &settings),
        ..Request::default()
    };
    runs::insert_request(tx, &request, now)
}

/// Queues a new run with the target and data of the failed (or skipped, or missed) run
/// `id`, due `now`; returns the new run's id. The old run stays as it was: history is
/// never rewritten, and a slot keeps its one row.
pub fn retry(tx: &dyn Conn, id: i64, now: Timestamp) -> Result<i64> {
    let run = existing(tx, id)?;
    if !matches!(
        run.status,
        RunStatus::Failed | RunStatus::Skipped | RunStatus::Missed
    ) {
        return Err(usage(format!(
            "run {id} {}; only a failed, skipped or missed run can be retried",
            state(run.status)
        )));
    }
    let Some(job) = jobs::get(tx, &run.job)? else {
        return Err(usage(format!(
            "run {id}'s job '{}' was removed; add it again to run it",
            run.job
        )));
    };
    let settings = crate::store::settings::load(tx)?;
    let request = Request {
        job: run.job.clone(),
        target_id: run.target_id.clone(),
        target_type: run.target_type.clone(),
        data: run.data.clone(),
        due_at: now,
        priority: run.priority,
        max_attempts: max_attempts(&job, &settings),
    };
    runs::insert_request(tx, &request, now)
}

/// Ends the pending run `id` without running it: recorded `skipped`, with the reason
/// "canceled by BY" (`by` says who: "an operator (command line)").
pub fn cancel(tx: &dyn Conn, id: i64, by: &str, now: Timestamp) -> Result<()> {
    let reason = format!("canceled by {by}");
    for _ in 0..CHANGED_TRIES {
        let run = existing(tx, id)?;
        if run.status != RunStatus::Pending {
            return Err(usage(format!(
                "run {id} {}; only a pending run can be canceled{}",
                state(run.status),
                if run.status == RunStatus::Running {
                    " (stop a running one instead)"
                } else {
                    ""
                }
            )));
        }
        if runs::cancel_pending(tx, id, &reason, now)? {
            return Ok(());
        }
        // Claimed between the read and the write: on PostgreSQL a drain claims without
        // waiting for this write's lock. Say what the run is now.
    }
    Err(changed(id))
}

/// Asks the host that runs the running run `id` to stop it. Its runner sees the request
/// within 10 s, stops the job's process group and records the run failed, without a
/// retry; when the runner is gone, recovery ends the run the same way
/// (docs/recovery.md). Asking twice is not an error.
pub fn stop(tx: &dyn Conn, id: i64, now: Timestamp) -> Result<()> {
    for _ in 0..CHANGED_TRIES {
        let run = existing(tx, id)?;
        if run.status != RunStatus::Running {
            return Err(usage(format!(
                "run {id} {}; only a running run can be stopped{}",
                state(run.status),
                if run.status == RunStatus::Pending {
                    " (cancel a pending one instead)"
                } else {
                    ""
                }
            )));
        }
        if runs::request_stop(tx, id, now)? {
            return Ok(());
        }
        // Asked before (not an error), or its result (or a retry) was recorded between the
        // read and the write: on PostgreSQL a runner records without waiting for this
        // write's lock. Then say what the run is now.
        let now_running = existing(tx, id)?.status == RunStatus::Running;
        if now_running && runs::stop_requested_of(tx, id)?.is_some() {
            return Ok(());
        }
    }
    Err(changed(id))
}

/// How many times `cancel` and `stop` read a run again that changed under them.
const CHANGED_TRIES: usize = 3;

fn changed(id: i64) -> anyhow::Error {
    anyhow::anyhow!("run {id} changed again and again while this command looked at it; try again")
}

/// What a refusal says of a run in `status`: "run 7 succeeded", "run 7 is pending".
fn state(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Pending => "is pending",
        RunStatus::Running => "is running",
        RunStatus::Success => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Skipped => "was skipped",
        RunStatus::Missed => "was missed",
    }
}

fn existing(tx: &dyn Conn, id: i64) -> Result<Run> {
    runs::get(tx, id)?.ok_or_else(|| usage(format!("no run with id {id} (see `cronq runs`)")))
}
