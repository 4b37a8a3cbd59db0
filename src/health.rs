//! Is cronq healthy? The last pass, queue counts, stuck and flagged runs, failing jobs,
//! schedules that cannot run and the next slots: what `cronq status` prints and the web
//! screens show, gathered once here so that both say the same.

use crate::heartbeat;
use crate::owner;
use crate::recover::{self, Decision};
use crate::store::jobs::{self, Job};
use crate::store::{self, runs, Host, Location, Store};
use crate::time::{format_time, human_duration, since_boot, Timestamp};
use crate::timetable::Timetable;
use anyhow::Result;

/// A pass older than this means cron (or the daemon) is not running cronq.
pub const PASS_TOO_OLD: i64 = 180;

/// A run that needs an operator's eye, and why.
#[derive(Clone, Debug)]
pub struct RunProblem {
    pub id: i64,
    pub job: String,
    pub reason: String,
}

/// Everything `status` reports.
#[derive(Clone, Debug)]
pub struct Health {
    /// Each problem in words, with what to do about it; empty when all is well.
    pub problems: Vec<String>,
    /// The newest pass of any host.
    pub last_pass: Option<Timestamp>,
    /// How many runs there are in each status.
    pub counts: Vec<(String, i64)>,
    /// Running runs that recovery would end now.
    pub stuck: Vec<RunProblem>,
    /// Running runs that cannot be checked (their host is silent).
    pub flagged: Vec<RunProblem>,
    /// The hosts that share the database (PostgreSQL), by id.
    pub hosts: Vec<Host>,
    /// Jobs whose newest result failed, with when.
    pub failing: Vec<(String, Option<Timestamp>)>,
    /// The soonest next slots, with their jobs.
    pub next: Vec<(String, Timestamp)>,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The newest pass of any host: on a shared database every host's passes count, as the
/// hosts table says; on a file the lock file's time is the heartbeat.
pub fn last_pass(store: &Store) -> Result<Option<Timestamp>> {
    last_pass_of(store.location(), &store.hosts()?)
}

fn last_pass_of(location: &Location, hosts: &[Host]) -> Result<Option<Timestamp>> {
    Ok(match location {
        Location::File(_) => heartbeat::last(&location.local_base()?),
        Location::Postgres(_) => hosts.iter().map(|h| h.last_seen).max(),
    })
}

/// The banner every web page shows when passes stopped, from the same rule as `status`.
pub fn stopped_passes_notice(last_pass: Option<Timestamp>, now: Timestamp) -> Option<String> {
    match last_pass {
        None => Some(
            "No pass has run yet: cron is not running `cronq run` (see `cronq crontab`)."
                .to_string(),
        ),
        Some(t) if now - t > PASS_TOO_OLD => Some(format!(
            "No pass has run for {}: cron is not running `cronq run`.",
            human_duration(now - t)
        )),
        Some(_) => None,
    }
}

/// Looks at everything `Health` reports, at `now`.
pub fn check(store: &Store, now: Timestamp) -> Result<Health> {
    let location = store.location();
    let conn = store.conn();
    let settings = store::settings::load(conn)?;

    let hosts = store.hosts()?;
    let last_pass = last_pass_of(location, &hosts)?;
    let mut problems = Vec::new();
    for host in &hosts {
        if now - host.last_seen > PASS_TOO_OLD {
            problems.push(format!(
                "host {} has not passed for {} (last seen {}): is cron running `cronq run` \
                 there? If the host is gone for good, `cronq resolve --host {}` forgets it",
                host.id,
                human_duration(now - host.last_seen),
                format_time(host.last_seen),
                host.id
            ));
        }
    }
    match last_pass {
        None => problems.push(
            "no pass has run yet: is `cronq run` in the crontab (see `cronq crontab`)?".to_string(),
        ),
        // On a shared database each silent host was named above.
        Some(t) if now - t > PASS_TOO_OLD && hosts.is_empty() => problems.push(format!(
            "the last pass was {} ago: is cron running `cronq run`?",
            human_duration(now - t)
        )),
        Some(_) => {}
    }

    let here = owner::this_process();
    let moment = recover::Now {
        wall: now,
        since_boot: since_boot(),
    };
    let mut stuck = Vec::new();
    let mut flagged = Vec::new();
    for run in runs::running(conn, settings.job_timeout)? {
        let elsewhere = recover::Elsewhere::of(&run, &hosts, &settings);
        let live = owner::liveness(&run, &here);
        let reason = match recover::judge(&run, &live, &elsewhere, moment) {
            Decision::Leave => {
                if let Some(why) = recover::flag(&run, &live, &elsewhere, moment) {
                    problems.push(format!(
                        "run {} of job {} cannot be checked: {why}; if that host is dead, \
                         `cronq resolve {}` ends the run (retried if attempts remain)",
                        run.id, run.job, run.id
                    ));
                    flagged.push(RunProblem {
                        id: run.id,
                        job: run.job.clone(),
                        reason: why,
                    });
                }
                continue;
            }
            Decision::Requeue(reason) => reason,
            Decision::Fail { reason, .. } => reason,
        };
        problems.push(format!(
            "run {} of job {} is stuck: {reason}",
            run.id, run.job
        ));
        stuck.push(RunProblem {
            id: run.id,
            job: run.job.clone(),
            reason,
        });
    }

    for job in jobs::list(conn)? {
        if let Some(problem) = schedule_problem(&job, now, settings.catchup_grace) {
            problems.push(format!("job {}: {problem}", job.name));
        }
    }

    Ok(Health {
        problems,
        last_pass,
        counts: runs::counts(conn)?,
        stuck,
        flagged,
        hosts,
        failing: jobs::failing(conn)?,
        next: jobs::next_slots(conn, 5)?,
    })
}

/// What keeps an active scheduled job from running when it should: a schedule that cannot
/// be computed (a zone that cannot be read), no next slot at all, or a schedule moved past
/// the present (a pass ran with `--now` in the future, or the clock stepped back).
pub fn schedule_problem(job: &Job, now: Timestamp, grace: i64) -> Option<String> {
    let expression = job.schedule.as_deref().filter(|_| job.active)?;
    if let Err(e) = Timetable::parse(expression, &job.tz) {
        return Some(format!(
            "its slots cannot be computed ({e}); passes try again every minute"
        ));
    }
    if job.next_slot.is_none() {
        return Some(format!(
            "active, but its schedule '{expression}' has no next slot; \
             `cronq disable {0}` then `cronq enable {0}` starts it again from now",
            job.name
        ));
    }
    match job.last_slot {
        Some(last) if last > now + grace => Some(format!(
            "its schedule was moved ahead to {} (a pass with --now in the future, or a clock \
             that stepped back): nothing runs until then; `cronq disable {1}` then \
             `cronq enable {1}` starts it again from now",
            format_time(last),
            job.name
        )),
        _ => None,
    }
}
