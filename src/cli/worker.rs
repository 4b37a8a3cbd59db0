//! `cronq worker` (hidden): what a pass in parallel mode starts, up to
//! `jobs_pool_concurrency` of them. It opens its own connection once, then carries out
//! the runs its parent hands it, one at a time: each order is a line on stdin, each
//! answer a line on stdout (`crate::workers`). It exits when its stdin closes (the pass
//! is over, or its parent died) or on a shutdown.

use super::Context;
use crate::error::usage;
use crate::owner;
use crate::run;
use crate::shutdown;
use crate::store::runs::{self, Claim, Owner, Run, Start};
use crate::store::{self, jobs, Store};
use crate::time::{since_boot, Timestamp};
use crate::workers::{Order, Reply};
use anyhow::Result;
use std::io::{BufRead, Write};

#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, context: &Context) -> Result<u8> {
    shutdown::install()?;
    let mut store = context.open()?;
    let settings = store::settings::load(store.conn())?;
    let me = owner::this_process();
    let mut answers = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        if shutdown::requested() {
            break;
        }
        let order = Order::parse(&line?).map_err(usage)?;
        let now = context.clock.now();
        let taken = match order {
            Order::Next => store.write(|tx| {
                runs::claim_next(
                    tx,
                    now,
                    &me,
                    Start::Now {
                        since_boot: since_boot(),
                    },
                )
            })?,
            Order::Start { run, token } => start_claimed(&mut store, run, token, &me, now)?,
        };
        let reply = match (taken, order) {
            (None, Order::Next) => Reply::Drained,
            (None, Order::Start { run, .. }) => Reply::Done {
                run,
                succeeded: false,
            },
            (Some((run, claim)), _) => {
                let job = jobs::get(store.conn(), &run.job)?;
                let ending = run::carry_out(
                    &mut store,
                    &run,
                    &claim,
                    job.as_ref(),
                    &settings,
                    &context.clock,
                    false,
                )?;
                Reply::Done {
                    run: run.id,
                    succeeded: run::report(store.conn(), &run, &ending),
                }
            }
        };
        // The result is recorded: a parent that is gone loses nothing but this answer.
        if writeln!(answers, "{reply}")
            .and_then(|()| answers.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(0)
}

/// Starts the run the pass claimed for a worker, only while that claim still holds.
fn start_claimed(
    store: &mut Store,
    id: i64,
    token: i64,
    me: &Owner,
    now: Timestamp,
) -> Result<Option<(Run, Claim)>> {
    let Some(run) = runs::get(store.conn(), id)? else {
        log::warn!("run {id}: it no longer exists; not started");
        return Ok(None);
    };
    let claim = Claim {
        run: run.id,
        token,
        attempt: run.attempt,
    };
    if !store.write(|tx| runs::start(tx, &claim, now, since_boot(), me))? {
        log::warn!(
            "job {} run {}: its claim was taken back before it started; not started",
            run.job,
            run.id
        );
        return Ok(None);
    }
    Ok(Some((run, claim)))
}
