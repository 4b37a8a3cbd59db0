//! `cronq resolve RUN_ID` and `cronq resolve --host ID`: the operator's word that a host is
//! dead. A run of another host cannot be proven dead from here, so recovery leaves it and
//! `status` flags it; once the operator knows its host is gone (powered off, destroyed),
//! this ends the run: a failed attempt, retried if attempts remain. `--host` does it for
//! every run of a host retired for good, and forgets the host.

use super::output::emit;
use super::Context;
use crate::error::usage;
use crate::owner;
use crate::recover::RunningRun;
use crate::run;
use crate::store::runs;
use crate::store::sql::Conn;
use crate::store::{self, Store};
use crate::time::Timestamp;
use anyhow::Result;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "host"])))]
pub struct Args {
    /// The run to end (see the runs `cronq status` flags)
    id: Option<i64>,
    /// Forget this host and end every run it holds (a host retired for good)
    #[arg(long, value_name = "ID")]
    host: Option<String>,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    let settings = store::settings::load(store.conn())?;
    let here = owner::this_process();
    let held_by = |run: &RunningRun| -> Result<()> {
        if run.owner_host.as_deref() == Some(here.host.as_str()) {
            return Err(usage(format!(
                "run {} belongs to this host ({}), where cronq proves by itself whether its \
                 runner and job live: `cronq run` recovers it when they are gone",
                run.id, here.host
            )));
        }
        Ok(())
    };
    let mut lines = String::new();
    match (args.id, args.host) {
        (Some(id), _) => {
            let ended = store.write(|tx| {
                let running = runs::running(tx, settings.job_timeout)?;
                let Some(run) = running.iter().find(|r| r.id == id) else {
                    return Err(usage(format!(
                        "run {id} is not running, so there is nothing to resolve (see `cronq show {id}`)"
                    )));
                };
                held_by(run)?;
                end(tx, run, now)
            })?;
            lines.push_str(&ended);
        }
        (None, Some(host)) => {
            if host == here.host {
                return Err(usage(format!(
                    "{host} is this host; run `cronq resolve --host {host}` from another one"
                )));
            }
            let ended = store.write(|tx| {
                let mut ended = String::new();
                for run in runs::running(tx, settings.job_timeout)? {
                    if run.owner_host.as_deref() == Some(host.as_str()) {
                        ended.push_str(&end(tx, &run, now)?);
                    }
                }
                Ok(ended)
            })?;
            lines.push_str(&ended);
            forget(&store, &host)?;
            lines.push_str(&format!("host {host} forgotten\n"));
        }
        (None, None) => return Err(usage("give a run id, or --host ID")),
    }
    emit(&lines)?;
    Ok(0)
}

/// Ends a run the operator declared dead: back to the queue if it never started, else a
/// failed attempt (retried if attempts remain). Fenced by the claim just read.
fn end(tx: &dyn Conn, stale: &RunningRun, now: Timestamp) -> Result<String> {
    let host = stale.owner_host.as_deref().unwrap_or("?");
    let reason = format!("resolved by the operator: its host {host} was declared dead");
    if stale.started_at.is_none() {
        runs::requeue(tx, &stale.claim, &reason)?;
        return Ok(format!(
            "run {} queued again (it had not started)\n",
            stale.id
        ));
    }
    Ok(match run::fail_stale(tx, stale, reason, now)? {
        Some((run, ending)) => format!("{}\n", run::describe(&run, &ending)),
        None => String::new(),
    })
}

/// Removes a host's row; on SQLite there are no hosts to forget.
fn forget(store: &Store, host: &str) -> Result<()> {
    if !store.forget_host(host)? {
        return Err(usage(format!(
            "no host {host} has passed on this database (see `cronq status`)"
        )));
    }
    Ok(())
}
