//! `cronq status`: is cronq healthy? The last pass, queue counts, stuck runs, failing jobs
//! and the next slots. Exit 1 when no pass ran in the last 3 minutes or a run is stuck, so
//! a monitor (or cron's own mail) can raise the alarm.

use super::output::{emit, emit_json, time_or_null};
use super::Context;
use crate::heartbeat;
use crate::owner;
use crate::recover::{self, Decision};
use crate::store::jobs::{self, Job};
use crate::store::{self, runs, Location};
use crate::time::{format_time, human_duration, since_boot, Timestamp};
use crate::timetable::Timetable;
use anyhow::Result;
use serde_json::json;

/// A pass older than this means cron (or the daemon) is not running cronq.
const PASS_TOO_OLD: i64 = 180;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let location = context.location()?;
    let store = context.open()?;
    let conn = store.conn();
    let now = context.clock.now();
    let settings = store::settings::load(conn)?;

    // On a shared database every host's passes count, as the hosts table says; on a file
    // the lock file's time is the heartbeat.
    let hosts = store.hosts()?;
    let last_pass = match &location {
        Location::File(_) => heartbeat::last(&location.local_base()?),
        Location::Postgres(_) => hosts.iter().map(|h| h.last_seen).max(),
    };
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
        let elsewhere = recover::Elsewhere {
            host: hosts
                .iter()
                .find(|h| Some(&h.id) == run.owner_host.as_ref()),
            presume_dead_after: settings.presumed_dead_after(),
        };
        let live = owner::liveness(&run, &here);
        let reason = match recover::judge(&run, &live, &elsewhere, moment) {
            Decision::Leave => {
                if let Some(why) = recover::flag(&run, &live, &elsewhere, moment) {
                    problems.push(format!(
                        "run {} of job {} cannot be checked: {why}; if that host is dead, \
                         `cronq resolve {}` ends the run (retried if attempts remain)",
                        run.id, run.job, run.id
                    ));
                    flagged.push(json!({"id": run.id, "job": run.job, "reason": why}));
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
        stuck.push(json!({"id": run.id, "job": run.job, "reason": reason}));
    }

    for job in jobs::list(conn)? {
        if let Some(problem) = schedule_problem(&job, now, settings.catchup_grace) {
            problems.push(format!("job {}: {problem}", job.name));
        }
    }

    let counts = runs::counts(conn)?;
    let failing = jobs::failing(conn)?;
    let next = jobs::next_slots(conn, 5)?;
    let healthy = problems.is_empty();

    if args.json {
        emit_json(&json!({
            "healthy": healthy,
            "problems": problems,
            "last_pass": time_or_null(last_pass),
            "counts": counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "stuck_runs": stuck,
            "flagged_runs": flagged,
            "hosts": hosts.iter().map(|h| json!({
                "id": h.id,
                "last_seen": format_time(h.last_seen),
                "boot_id": h.boot_id,
                "version": h.version,
            })).collect::<Vec<_>>(),
            "failing_jobs": failing.iter().map(|(name, at)| json!({"name": name, "last_finished_at": time_or_null(*at)})).collect::<Vec<_>>(),
            "next_slots": next.iter().map(|(job, slot)| json!({"job": job, "slot": format_time(*slot)})).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut text = String::new();
        text.push_str(&format!(
            "status: {}\n",
            if healthy { "ok" } else { "PROBLEM" }
        ));
        for problem in &problems {
            text.push_str(&format!("  problem: {problem}\n"));
        }
        text.push_str(&match last_pass {
            Some(t) => format!(
                "last pass: {} ({} ago)\n",
                format_time(t),
                human_duration(now - t)
            ),
            None => "last pass: never\n".to_string(),
        });
        let counted: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        text.push_str(&format!(
            "runs: {}\n",
            if counted.is_empty() {
                "none".to_string()
            } else {
                counted.join(", ")
            }
        ));
        let failing_names: Vec<&str> = failing.iter().map(|(n, _)| n.as_str()).collect();
        text.push_str(&format!(
            "failing jobs: {}\n",
            if failing_names.is_empty() {
                "none".to_string()
            } else {
                failing_names.join(", ")
            }
        ));
        if !hosts.is_empty() {
            text.push_str("hosts:\n");
            for h in &hosts {
                text.push_str(&format!(
                    "  {}  last seen {} ({} ago)\n",
                    h.id,
                    format_time(h.last_seen),
                    human_duration(now - h.last_seen)
                ));
            }
        }
        text.push_str("next slots:\n");
        for (job, slot) in &next {
            text.push_str(&format!("  {}  {job}\n", format_time(*slot)));
        }
        emit(&text)?;
    }
    Ok(if healthy { 0 } else { 1 })
}

/// What keeps an active scheduled job from running when it should: a schedule that cannot
/// be computed (a zone that cannot be read), no next slot at all, or a schedule moved past
/// the present (a pass ran with `--now` in the future, or the clock stepped back).
fn schedule_problem(job: &Job, now: Timestamp, grace: i64) -> Option<String> {
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
