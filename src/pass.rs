//! One invocation of `cronq run` (design §1): under the invocation lock, recover runs whose
//! owner died, turn due slots into runs and claim the first due run; then, with the lock
//! released, carry out up to a portion of due runs one by one or in parallel worker
//! processes (`workers`), each claimed just before it starts.
//!
//! A pass that finds nothing due reads a few index entries and writes nothing.

use crate::heartbeat;
use crate::job::RunStatus;
use crate::lock::{InvocationLock, WorkerSlot};
use crate::owner;
use crate::plan::{self, JobState, Verdict};
use crate::quiet;
use crate::recover::{self, Decision};
use crate::run;
use crate::settings::Settings;
use crate::shutdown;
use crate::store::runs::{Claim, Owner, Run, Start};
use crate::store::sql::Conn;
use crate::store::{self, jobs, runs, Location, Store};
use crate::time::{format_time, next_minute, since_boot, Clock, Timestamp};
use crate::timetable::Timetable;
use anyhow::Result;
use std::path::Path;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Another invocation held the lock; this one did nothing.
    pub lock_busy: bool,
    pub succeeded: usize,
    pub failed: usize,
}

impl Summary {
    pub(crate) fn count(&mut self, succeeded: bool) {
        if succeeded {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
    }
}

pub fn run_pass(location: &Location, clock: &Clock) -> Result<Summary> {
    if let Location::File(db) = location {
        if let Some(files) = quiet::fingerprint(db) {
            return run_sqlite_pass(db, location, clock, files);
        }
    }
    let mut store = Store::open(location, clock.now())?;
    run_pass_on(&mut store, clock)
}

/// A pass on an SQLite database that exists, whose files looked like `files` before it
/// began: it opens the database only when the quiet mark the last pass left does not
/// hold, and leaves a new one when it finds nothing to do (`quiet`).
fn run_sqlite_pass(
    db: &Path,
    location: &Location,
    clock: &Clock,
    files: quiet::Fingerprint,
) -> Result<Summary> {
    let now = clock.now();
    let Some(lock) = InvocationLock::try_acquire(db)? else {
        return Ok(lock_busy());
    };
    let marks = quiet::open(db, false)?;
    let (mark, commits) = quiet::before_looking(&marks).unzip();
    if mark
        .flatten()
        .is_some_and(|mark| commits.is_some_and(|n| mark.holds(&files, n, now)))
    {
        heartbeat::beat(&lock, now);
        log::debug!("nothing is due: the database is as the last pass left it");
        return Ok(Summary::default());
    }
    let mut store = Store::open(location, now)?;
    let (summary, quiet) = pass_holding(&mut store, clock, lock)?;
    drop(store);
    // Only with the database closed (see `quiet::fingerprint`), and only when nobody
    // changed it while the pass looked.
    if let (Some((lock, quiet_until)), Some(commits)) = (quiet, commits) {
        if quiet::fingerprint(db).as_ref() == Some(&files) {
            let mark = quiet::Mark {
                fingerprint: files,
                commits,
                looked_at: now,
                quiet_until,
            };
            quiet::write(&marks, &mark);
        }
        drop(lock);
    }
    Ok(summary)
}

fn lock_busy() -> Summary {
    log::debug!("another invocation holds the lock; this one has nothing to do");
    Summary {
        lock_busy: true,
        ..Summary::default()
    }
}

/// A pass on a database already open (the daemon keeps its PostgreSQL connection).
pub fn run_pass_on(store: &mut Store, clock: &Clock) -> Result<Summary> {
    let local = store.location().local_base()?;
    let Some(lock) = InvocationLock::try_acquire(&local)? else {
        return Ok(lock_busy());
    };
    Ok(pass_holding(store, clock, lock)?.0)
}

/// What an idle pass hands back for a quiet mark: its lock, still held, and when the
/// first thing falls due (`None`: nothing is scheduled).
type Quiet = (InvocationLock, Option<Timestamp>);

/// A pass that holds the invocation lock. When it finds nothing to do, it hands the lock
/// back with the time the first thing falls due (`None` inside: nothing is scheduled),
/// for a quiet mark; it gives no such answer while a run is marked running.
fn pass_holding(
    store: &mut Store,
    clock: &Clock,
    lock: InvocationLock,
) -> Result<(Summary, Option<Quiet>)> {
    let local = store.location().local_base()?;
    let now = clock.now();
    heartbeat::beat(&lock, now);
    store.note_host(now, store::postgres::hosts::SEEN_EVERY)?;
    let outlook = store::outlook(store.conn())?;
    let work = outlook.work(now);
    if work == store::Work::default() {
        let quiet = outlook.quiet_until().map(|until| (lock, until));
        return Ok((Summary::default(), quiet));
    }
    if work.due_pings {
        crate::ping::retry_due(store, now);
    }
    let settings = store::settings::load(store.conn())?;
    let work = if work.running {
        // Recovery may put runs back in the queue: ask again what is due.
        recover_stale(store, now, &settings)?;
        store::outlook(store.conn())?.work(now)
    } else {
        work
    };
    if !(work.due_slots || work.due_runs) {
        return Ok((Summary::default(), None));
    }
    // Planning goes on when every worker slot is busy: slots are never lost to a busy
    // machine, their runs just wait for a free invocation.
    let worker = WorkerSlot::try_acquire(&local, settings.max_processes)?;
    if worker.is_none() {
        log::info!(
            "all {} worker slots are busy; planning only",
            settings.max_processes
        );
    }
    let taker = Taker::new(&settings);
    let first = store.write(|tx| {
        plan_due_slots(tx, now, &settings)?;
        match worker {
            Some(_) if settings.jobs_max_portion > 0 => taker.take(tx, now),
            _ => Ok(None),
        }
    })?;
    drop(lock);

    let summary = match first {
        None => Summary::default(),
        Some(first) if settings.jobs_run_in_parallel => crate::workers::pool::execute(
            store,
            clock,
            first,
            settings.jobs_pool_concurrency,
            settings.jobs_max_portion,
        )?,
        Some(first) => execute_here(store, clock, first, &taker, &settings)?,
    };
    drop(worker);
    Ok((summary, None))
}

/// Claims due runs for this pass, one at a time and only when it is about to start one:
/// a run waiting behind others stays pending, visible and takeable by another invocation,
/// and its timeout cannot run out before it starts.
struct Taker {
    me: Owner,
    start_here: bool,
}

impl Taker {
    fn new(settings: &Settings) -> Taker {
        Taker {
            me: owner::this_process(),
            start_here: !settings.jobs_run_in_parallel,
        }
    }

    /// Claims the next due run: started at once in sequential mode; for a worker process
    /// to start in parallel mode.
    fn take(&self, tx: &dyn Conn, now: Timestamp) -> Result<Option<(Run, Claim)>> {
        let start = if self.start_here {
            Start::Now {
                since_boot: since_boot(),
            }
        } else {
            Start::Later
        };
        runs::claim_next(tx, now, &self.me, start)
    }
}

/// Carries out due runs one by one in this process, up to the portion. Each run's result
/// and the next run's claim share a commit.
fn execute_here(
    store: &mut Store,
    clock: &Clock,
    first: (Run, Claim),
    taker: &Taker,
    settings: &Settings,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut next = Some(first);
    let mut taken = 0;
    while let Some((run, claim)) = next.take() {
        taken += 1;
        let job = jobs::get(store.conn(), &run.job)?;
        let more = taken < settings.jobs_max_portion;
        let (ending, claimed) = run::carry_out(
            store,
            &run,
            &claim,
            job.as_ref(),
            settings,
            clock,
            false,
            |tx| {
                if more && !shutdown::requested() {
                    taker.take(tx, clock.now())
                } else {
                    Ok(None)
                }
            },
        )?;
        summary.count(run::report(store.conn(), &run, &ending));
        next = claimed?;
    }
    Ok(summary)
}

/// Ends runs whose owner provably died, and runs long past their timeout. Every write is
/// fenced by the claim as recovery read it.
fn recover_stale(store: &mut Store, now: Timestamp, settings: &Settings) -> Result<()> {
    let here = owner::this_process();
    let moment = recover::Now {
        wall: now,
        since_boot: since_boot(),
    };
    let hosts = store.hosts()?;
    store.write(|tx| {
        for stale in runs::running(tx, settings.job_timeout)? {
            let elsewhere = recover::Elsewhere::of(&stale, &hosts, settings);
            let live = owner::liveness(&stale, &here);
            let decision = recover::judge(&stale, &live, &elsewhere, moment);
            match decision {
                Decision::Leave => {}
                Decision::Requeue(reason) => {
                    if runs::requeue(tx, &stale.claim, &reason)? {
                        log::warn!("job {} run {}: {reason}; queued again", stale.job, stale.id);
                    }
                }
                Decision::Fail { reason, kill } => {
                    if kill {
                        owner::kill_job(&stale);
                    }
                    if let Some((run, ending)) = run::fail_stale(tx, &stale, reason, now)? {
                        log::warn!("{} (recovered)", run::describe(&run, &ending));
                    }
                }
            }
        }
        Ok(())
    })
}

/// Plans every job whose next slot is due, inside the caller's write transaction.
fn plan_due_slots(tx: &dyn Conn, now: Timestamp, settings: &Settings) -> Result<()> {
    for job in jobs::due(tx, now)? {
        let last_slot = job.last_slot.unwrap_or(now);
        let schedule = match job
            .schedule
            .as_deref()
            .map(|e| Timetable::parse(e, &job.tz))
        {
            Some(Ok(schedule)) => schedule,
            Some(Err(e)) => {
                // Most often a zone that cannot be read for a moment (a tzdata upgrade, a
                // wrong TZDIR): look again next minute, keeping the last slot, so the job
                // catches up by its policy once the zone reads again.
                log::warn!(
                    "job {}: {e}; its slots cannot be computed: trying again next minute",
                    job.name
                );
                jobs::advance(tx, job.id, last_slot, Some(next_minute(now)))?;
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
            unfinished_run: runs::unfinished_run_of(tx, &job.name)?,
        };
        let plan = plan::plan(&schedule, &state, now, settings.catchup_grace);
        let max_attempts = 1 + job.retries.unwrap_or(settings.job_retries);
        let mut missed = 0;
        for decision in &plan.decisions {
            let slot = decision.slot;
            let merged;
            let (status, reason) = match &decision.verdict {
                Verdict::Queue => (RunStatus::Pending, None),
                Verdict::Missed(reason) => (RunStatus::Missed, Some(reason.as_str())),
                Verdict::Skipped(reason) => (RunStatus::Skipped, Some(reason.as_str())),
                // The retry made due first: the slot's record then tells the truth.
                Verdict::Merge(retry) => {
                    merged = if runs::merge_into_retry(tx, *retry, slot)? {
                        plan::merged_reason(*retry)
                    } else {
                        plan::overlap_skip_reason(*retry)
                    };
                    (RunStatus::Skipped, Some(merged.as_str()))
                }
            };
            let inserted =
                runs::insert_slot(tx, &job.name, slot, status, reason, max_attempts, now)?;
            match (inserted, status) {
                (true, RunStatus::Missed) => missed += 1,
                (true, RunStatus::Skipped) => {
                    log::info!(
                        "job {}: slot {} skipped: {}",
                        job.name,
                        format_time(slot),
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
