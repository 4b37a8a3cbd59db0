//! One invocation of `cronq run` (design §1): under the invocation lock, turn due slots
//! into runs and claim a portion of the due runs; then, with the lock released, carry
//! them out one by one.
//!
//! A pass that finds nothing due reads a few index entries and writes nothing.

use crate::job::RunStatus;
use crate::lock::InvocationLock;
use crate::owner;
use crate::plan::{self, JobState, Verdict};
use crate::run::{self, Ending};
use crate::schedule::Schedule;
use crate::settings::Settings;
use crate::store::{self, jobs, runs, Store};
use crate::time::{Clock, Timestamp};
use anyhow::Result;
use rusqlite::Connection;
use std::path::Path;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Another invocation held the lock; this one did nothing.
    pub lock_busy: bool,
    pub succeeded: usize,
    pub failed: usize,
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
    let settings = store::settings::load(store.conn())?;
    let claimed = if jobs::any_due(store.conn(), now)? || runs::any_due(store.conn(), now)? {
        let me = owner::this_process();
        store.write(|tx| {
            plan_due_slots(tx, now, &settings)?;
            runs::claim(tx, now, settings.jobs_max_portion, &me)
        })?
    } else {
        Vec::new()
    };
    drop(lock);

    let mut summary = Summary::default();
    for id in claimed {
        let Some((run, _)) = runs::get(store.conn(), id)? else {
            continue;
        };
        let job = jobs::get(store.conn(), &run.job)?;
        let ending = run::carry_out(&mut store, &run, job.as_ref(), &settings, clock, false)?;
        match &ending {
            Ending::Succeeded => {
                summary.succeeded += 1;
                log::info!("{}", run::describe(&run, &ending));
            }
            _ => {
                summary.failed += 1;
                log::warn!("{}", run::describe(&run, &ending));
            }
        }
    }
    Ok(summary)
}

/// Plans every job whose next slot is due, inside the caller's write transaction.
fn plan_due_slots(tx: &Connection, now: Timestamp, settings: &Settings) -> Result<()> {
    for job in jobs::due(tx, now)? {
        let last_slot = job.last_slot.unwrap_or(now);
        let schedule = match job.schedule.as_deref().map(Schedule::parse) {
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
            unfinished_run: runs::unfinished_of(tx, &job.name, now)?,
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
