//! `cronq add` and `cronq edit`: define and change jobs.

use super::shortened::Shortened;
use super::{find_job, Context};
use crate::builtin::Builtin;
use crate::error::usage;
use crate::job::{validate_name, Catchup, Overlap};
use crate::schedule::Schedule;
use crate::store::jobs::{self, Definition};
use anyhow::Result;

/// Options that `add` and `edit` share.
#[derive(clap::Args)]
pub struct JobOptions {
    /// Cron expression: five fields or a macro such as @daily (see `cronq next`)
    #[arg(long, value_name = "EXPR", value_parser = parse_schedule)]
    schedule: Option<String>,
    /// The time zone the schedule is read in, an IANA name (Europe/Berlin) [default: UTC]
    #[arg(long, value_name = "ZONE", value_parser = Shortened(parse_zone))]
    tz: Option<String>,
    /// Seconds a run may take before its process group is killed [default: setting job_timeout]
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(crate::job::TIMEOUT_RANGE))]
    timeout: Option<i64>,
    /// Retries after a failed attempt, with backoff from 60 s [default: setting job_retries]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(crate::job::RETRIES_RANGE))]
    retries: Option<i64>,
    /// Slots missed while cronq was not running: latest (run the newest), all, skip [default: latest]
    #[arg(long, value_name = "POLICY")]
    catchup: Option<Catchup>,
    /// A slot due while the previous run is unfinished: skip (record it skipped) or allow [default: skip]
    #[arg(long, value_name = "POLICY")]
    overlap: Option<Overlap>,
    /// Refuse runs without --target-id (such a job has no schedule: queue it with enqueue)
    #[arg(long)]
    requires_target: bool,
    /// Ping this monitoring URL (Healthchecks.io style) when each run starts and ends
    #[arg(long, value_name = "URL", value_parser = crate::ping::validate_url)]
    ping: Option<String>,
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// The job's name: 1 to 64 of A-Z a-z 0-9 _ . -
    name: String,
    #[command(flatten)]
    options: JobOptions,
    /// Schedule a built-in job (Cleanup) instead of a command
    #[arg(long, value_name = "BUILTIN", conflicts_with = "command")]
    builtin: Option<String>,
    /// Define the job with its schedule stopped (start it with `cronq enable`)
    #[arg(long)]
    inactive: bool,
    /// The command, after `--`: its words are joined with single spaces and run by /bin/sh -c
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(clap::Args)]
pub struct EditArgs {
    /// The job to change
    name: String,
    #[command(flatten)]
    options: JobOptions,
    /// Remove the schedule: the job then runs only when queued or run by hand
    #[arg(long, conflicts_with = "schedule")]
    no_schedule: bool,
    /// Let the job run without a target again
    #[arg(long, conflicts_with = "requires_target")]
    no_requires_target: bool,
    /// Stop pinging the job's monitoring URL
    #[arg(long, conflicts_with = "ping")]
    no_ping: bool,
    /// A new command, after `--`
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Accepts an IANA zone name, as written (`timetable::parse_zone` decides).
pub fn parse_zone(text: &str) -> Result<String, String> {
    crate::timetable::parse_zone(text).map(|_| text.to_string())
}

fn parse_schedule(text: &str) -> Result<String, String> {
    Schedule::parse(text)
        .map(|s| s.source().to_string())
        .map_err(|e| e.to_string())
}

pub fn add(args: AddArgs, context: &Context) -> Result<u8> {
    validate_name(&args.name).map_err(usage)?;
    let (command, builtin) = match (args.builtin, joined(&args.command)) {
        (Some(name), None) => (
            None,
            Some(Builtin::from_name(&name).map_err(usage)?.name().to_string()),
        ),
        (None, Some(command)) => (Some(command), None),
        _ => {
            return Err(usage(
                "give the command after `--`, e.g. cronq add backup --schedule '0 3 * * *' -- \
                 /usr/local/bin/backup, or --builtin Cleanup",
            ))
        }
    };
    let o = args.options;
    let ping = o.ping;
    let def = Definition {
        name: args.name,
        command,
        builtin,
        env: None,
        schedule: o.schedule,
        tz: o.tz.unwrap_or_else(|| "UTC".to_string()),
        timeout: o.timeout,
        retries: o.retries,
        catchup: o.catchup.unwrap_or(Catchup::Latest),
        overlap: o.overlap.unwrap_or(Overlap::Skip),
        requires_target: o.requires_target,
        active: !args.inactive,
    };
    // Refused before the database is opened (or made): bad input touches nothing.
    crate::control::check_definition(&def)?;
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| {
        crate::control::add(tx, &def, now)?;
        match &ping {
            Some(url) => jobs::set_ping(tx, &def.name, Some(url)),
            None => Ok(()),
        }
    })?;
    Ok(0)
}

pub fn edit(args: EditArgs, context: &Context) -> Result<u8> {
    if nothing_to_change(&args) {
        // A slip of usage (a flag forgotten), not a failure: exit code 2, nothing opened.
        return Err(usage(format!(
            "nothing to change: give what to change, e.g. cronq edit {} --schedule '0 3 * * *', \
             --timeout SECONDS, --no-schedule, or a new command after `--` (see cronq edit --help)",
            crate::limits::shorten(&args.name)
        )));
    }
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| {
        let job = find_job(tx, &args.name)?;
        let mut def = job.definition();
        let o = &args.options;
        if let Some(command) = joined(&args.command) {
            if job.builtin.is_some() {
                return Err(usage(format!(
                    "job '{}' runs a built-in; it has no command to change",
                    job.name
                )));
            }
            def.command = Some(command);
        }
        if args.no_schedule {
            def.schedule = None;
        } else if o.schedule.is_some() {
            def.schedule = o.schedule.clone();
        }
        if let Some(tz) = &o.tz {
            def.tz = tz.clone();
        }
        def.timeout = o.timeout.or(def.timeout);
        def.retries = o.retries.or(def.retries);
        def.catchup = o.catchup.unwrap_or(def.catchup);
        def.overlap = o.overlap.unwrap_or(def.overlap);
        if o.requires_target {
            def.requires_target = true;
        } else if args.no_requires_target {
            def.requires_target = false;
        }
        crate::control::edit(tx, &job, &def, now)?;
        if let Some(url) = &o.ping {
            jobs::set_ping(tx, &job.name, Some(url))?;
        } else if args.no_ping {
            jobs::set_ping(tx, &job.name, None)?;
        }
        Ok(())
    })?;
    Ok(0)
}

/// Whether `edit` was given no change at all.
fn nothing_to_change(args: &EditArgs) -> bool {
    let o = &args.options;
    o.schedule.is_none()
        && o.tz.is_none()
        && o.timeout.is_none()
        && o.retries.is_none()
        && o.catchup.is_none()
        && o.overlap.is_none()
        && !o.requires_target
        && !args.no_schedule
        && !args.no_requires_target
        && o.ping.is_none()
        && !args.no_ping
        && joined(&args.command).is_none()
}

/// The words after `--`, joined with single spaces; `None` when there are none.
fn joined(words: &[String]) -> Option<String> {
    let command = words.join(" ");
    (!command.trim().is_empty()).then_some(command)
}
