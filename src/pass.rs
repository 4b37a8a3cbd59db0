//! One invocation of `cronq run` (design §1): under the invocation lock, recover runs whose
//! owner died, turn due slots into runs and claim a portion of the due runs; then, with the
//! lock released, carry them out one by one or in parallel child processes.
//!
//! A pass that finds nothing due reads a few index entries and writes nothing.

use crate::heartbeat;
use crate::job::RunStatus;
use crate::lock::{InvocationLock, WorkerSlot};
use crate::owner;
use crate::plan::{self, JobState, Verdict};
use crate::recover::{self, Decision};
use crate::run;
use crate::settings::Settings;
use crate::shutdown;
use crate::store::runs::Outcome;
use crate::store::{self, jobs, runs, Store};
use crate::time::{format_time, Clock, Timestamp};
use crate::timetable::Timetable;
use anyhow::{Context, Result};
use rusqlite::Connection;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Another invocation held the lock; this one did nothing.
    pub lock_busy: bool,
    pub succeeded: usize,
    pub failed: usize,
}

impl Summary {
    fn count(&mut self, succeeded: bool) {
        if succeeded {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
    }
}

pub fn run_pass(db: &Path, clock: &Clock) -> Result<Summary> {
    let mut store = Store::open(db, clock.now())?;
    let Some(lock) = InvocationLock::try_acquire(db)? else {
        log::debug!("another invocation holds the lock; this one has nothing to do");
        return Ok(Summary {
            lock_busy: true,
            ..Summary::default()
        });
    };
    let now = clock.now();
    heartbeat::beat(&lock, now);
    let work = store::pending_work(store.conn(), now)?;
    if work == store::Work::default() {
        return Ok(Summary::default());
    }
    let settings = store::settings::load(store.conn())?;
    let work = if work.running {
        // Recovery may put runs back in the queue: ask again what is due.
        recover_stale(&mut store, now, &settings)?;
        store::pending_work(store.conn(), now)?
    } else {
        work
    };
    let mut worker = None;
    let claimed = if work.due_slots || work.due_runs {
        // Planning goes on when every worker slot is busy: slots are never lost to a busy
        // machine, their runs just wait for a free invocation.
        worker = WorkerSlot::try_acquire(db, settings.max_processes)?;
        let portion = if worker.is_some() {
            settings.jobs_max_portion
        } else {
            log::info!(
                "all {} worker slots are busy; planning only",
                settings.max_processes
            );
            0
        };
        let me = owner::this_process();
        store.write(|tx| {
            plan_due_slots(tx, now, &settings)?;
            runs::claim(tx, now, portion, &me)
        })?
    } else {
        Vec::new()
    };
    drop(lock);

    let summary = if settings.jobs_run_in_parallel {
        execute_in_children(&mut store, clock, &claimed, settings.jobs_pool_concurrency)?
    } else {
        execute_here(&mut store, &claimed, &settings, clock)?
    };
    drop(worker);
    Ok(summary)
}

/// Carries out the claimed runs one by one in this process.
fn execute_here(
    store: &mut Store,
    claimed: &[i64],
    settings: &Settings,
    clock: &Clock,
) -> Result<Summary> {
    let me = std::process::id() as i64;
    let mut summary = Summary::default();
    for (i, &id) in claimed.iter().enumerate() {
        if shutdown::requested() {
            requeue_unstarted(store, &claimed[i..])?;
            break;
        }
        let Some(run) = runs::get(store.conn(), id)? else {
            continue;
        };
        let job = jobs::get(store.conn(), &run.job)?;
        let ending = run::carry_out(store, &run, job.as_ref(), settings, clock, false, me)?;
        summary.count(run::report(&run, &ending));
    }
    Ok(summary)
}

/// Carries out the claimed runs in child processes, at most `concurrency` at once. Each
/// child opens its own connection and records its own result, so this process may die
/// mid-pass without losing any of them. On shutdown no more children start, the claimed
/// runs left are queued again, and the running children are told to stop.
fn execute_in_children(
    store: &mut Store,
    clock: &Clock,
    claimed: &[i64],
    concurrency: i64,
) -> Result<Summary> {
    let exe =
        std::env::current_exe().context("cannot find this program to start child processes")?;
    let db = store.path().to_path_buf();
    let me = std::process::id().to_string();
    let (done, finished) = mpsc::channel();
    let mut next = 0;
    let mut children: HashSet<u32> = HashSet::new();
    let mut stopping = false;
    let mut summary = Summary::default();
    loop {
        if !stopping && shutdown::requested() {
            stopping = true;
            requeue_unstarted(store, &claimed[next..])?;
            next = claimed.len();
            for pid in &children {
                // SAFETY: kill has no memory effects; these are our own unreaped children.
                unsafe { libc::kill(*pid as i32, libc::SIGTERM) };
            }
        }
        while !stopping && (children.len() as i64) < concurrency && next < claimed.len() {
            let id = claimed[next];
            next += 1;
            let mut child = Command::new(&exe);
            child.arg("--db").arg(&db);
            if let Some(now) = clock.pinned() {
                child.args(["--now", &format_time(now)]);
            }
            child
                .args(["execute-run", &id.to_string(), "--claimed-by", &me])
                .stdin(Stdio::null());
            match child.spawn() {
                Ok(mut child) => {
                    let done = done.clone();
                    children.insert(child.id());
                    thread::spawn(move || {
                        let succeeded = child.wait().is_ok_and(|status| status.success());
                        let _ = done.send((child.id(), succeeded));
                    });
                }
                Err(e) => {
                    // Still claimed by this process and never started: the first pass after
                    // this one ends puts it back in the queue.
                    log::error!("run {id}: cannot start a child process: {e}");
                    summary.count(false);
                }
            }
        }
        if children.is_empty() && (stopping || next >= claimed.len()) {
            break;
        }
        match finished.recv_timeout(Duration::from_millis(100)) {
            Ok((pid, succeeded)) => {
                children.remove(&pid);
                summary.count(succeeded);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(summary)
}

/// Puts claimed runs that this process will not start back in the queue.
fn requeue_unstarted(store: &mut Store, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    log::warn!("shutting down: {} claimed run(s) queued again", ids.len());
    store.write(|tx| {
        for &id in ids {
            runs::requeue(tx, id, "not started: cronq was shutting down")?;
        }
        Ok(())
    })
}

/// Ends runs whose owner provably died, and runs long past their timeout.
fn recover_stale(store: &mut Store, now: Timestamp, settings: &Settings) -> Result<()> {
    let here = owner::this_process();
    store.write(|tx| {
        for stale in runs::running(tx, settings.job_timeout)? {
            let decision = recover::judge(&stale, &recover::probe(&stale, &here), now);
            match decision {
                Decision::Leave => {}
                Decision::Requeue(reason) => {
                    log::warn!("job {} run {}: {reason}; queued again", stale.job, stale.id);
                    runs::requeue(tx, stale.id, &reason)?;
                }
                Decision::Fail { reason, kill } => {
                    if let (true, Some(pgid)) = (kill, stale.pgid) {
                        crate::exec::signal_group(pgid as i32, libc::SIGKILL);
                    }
                    let Some(run) = runs::get(tx, stale.id)? else {
                        continue;
                    };
                    let outcome = Outcome {
                        interrupted: false,
                        status: RunStatus::Failed,
                        exit_code: None,
                        error: Some(reason),
                        output: Vec::new(),
                        duration_ms: 0,
                    };
                    let ending = run::settle(tx, &run, &outcome, now)?;
                    log::warn!("{} (recovered)", run::describe(&run, &ending));
                }
            }
        }
        Ok(())
    })
}

/// Plans every job whose next slot is due, inside the caller's write transaction.
fn plan_due_slots(tx: &Connection, now: Timestamp, settings: &Settings) -> Result<()> {
    for job in jobs::due(tx, now)? {
        let last_slot = job.last_slot.unwrap_or(now);
        let schedule = match job
            .schedule
            .as_deref()
            .map(|e| Timetable::parse(e, &job.tz))
        {
            Some(Ok(schedule)) => schedule,
            Some(Err(e)) => {
                log::warn!(
                    "job {}: {e}; not scheduled until fixed with `cronq edit`",
                    job.name
                );
                jobs::advance(tx, job.id, last_slot, None)?;
                continue;
            }
            None => {
                jobs::advance(tx, job.id, last_slot, None)?;
                continue;
            }
        };
        let state = JobState {
            catchup: job.catchup,
            overlap: job.overlap,
            last_slot,
            unfinished_run: runs::unfinished_of(tx, &job.name)?,
        };
        let plan = plan::plan(&schedule, &state, now, settings.catchup_grace);
        let max_attempts = 1 + job.retries.unwrap_or(settings.job_retries);
        let mut missed = 0;
        for decision in &plan.decisions {
            let (status, reason) = match &decision.verdict {
                Verdict::Queue => (RunStatus::Pending, None),
                Verdict::Missed(reason) => (RunStatus::Missed, Some(reason.as_str())),
                Verdict::Skipped(reason) => (RunStatus::Skipped, Some(reason.as_str())),
            };
            let slot = decision.slot;
            let inserted =
                runs::insert_slot(tx, &job.name, slot, status, reason, max_attempts, now)?;
            match (inserted, status) {
                (true, RunStatus::Missed) => missed += 1,
                (true, RunStatus::Skipped) => {
                    log::info!(
                        "job {}: slot skipped: {}",
                        job.name,
                        reason.unwrap_or_default()
                    )
                }
                _ => {}
            }
        }
        if missed > 0 {
            log::warn!(
                "job {}: {missed} slot record(s) marked missed (cronq was not running); \
                 see `cronq runs --job {} --status missed`",
                job.name,
                job.name
            );
        }
        let next = schedule.next_slot_after(plan.last_slot.max(now));
        jobs::advance(tx, job.id, plan.last_slot, next)?;
    }
    Ok(())
}
