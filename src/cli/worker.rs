//! `cronq worker` (hidden): what a pass in parallel mode starts, up to
//! `jobs_pool_concurrency` of them. It opens its own connection once, then carries out
//! the runs its parent hands it, one at a time: each order is a line on stdin, each
//! answer a line on stdout (`crate::workers`). It exits when its stdin closes (the pass
//! is over, or its parent died) or on a shutdown.
//!
//! When the next order is already waiting as a run ends and it is `next`, the worker
//! claims that run in the transaction that records the ended one's result: one commit
//! between two runs, and no wait for the parent.

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
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};

#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, context: &Context) -> Result<u8> {
    shutdown::install()?;
    let mut store = context.open()?;
    let settings = store::settings::load(store.conn())?;
    let me = owner::this_process();
    let mut answers = std::io::stdout().lock();
    let mut orders = Orders::new()?;
    // Orders are carried out only while the pass that gave them lives: one may still wait
    // in the pipe after it died, and a worker takes no run after its pass is gone. An
    // answer that cannot be written says so too.
    let parent = std::os::unix::process::parent_id();
    let parent_lives = || std::os::unix::process::parent_id() == parent;
    let mut parent_gone = false;
    // The run claimed with the last result, and an order read ahead but not yet carried out.
    let mut claimed: Option<(Run, Claim)> = None;
    let mut read_ahead: Option<Order> = None;
    loop {
        let (run, claim) = match claimed.take() {
            Some(taken) => taken,
            None => {
                if shutdown::requested() || parent_gone {
                    break;
                }
                let order = match read_ahead.take() {
                    Some(order) => order,
                    None => match orders.wait()? {
                        Some(order) => order,
                        None => break,
                    },
                };
                if !parent_lives() {
                    break;
                }
                let now = context.clock.now();
                let taken = match order {
                    Order::Next => store.write_fenced(|tx| claim_next(tx, now, &me))?,
                    Order::Start { run, token } => start_claimed(&mut store, run, token, &me, now)?,
                };
                match (taken, order) {
                    (Some(taken), _) => taken,
                    (None, Order::Next) => {
                        parent_gone = !answer(&mut answers, Reply::Drained);
                        continue;
                    }
                    (None, Order::Start { run, .. }) => {
                        let reply = Reply::Done {
                            run,
                            succeeded: false,
                        };
                        parent_gone = !answer(&mut answers, reply);
                        continue;
                    }
                }
            }
        };
        let job = jobs::get(store.conn(), &run.job)?;
        // Whether the order read in the result's transaction was `next`.
        let mut took_next = false;
        let (ending, then) = run::carry_out(
            &mut store,
            &run,
            &claim,
            job.as_ref(),
            &settings,
            &context.clock,
            false,
            |tx| {
                if shutdown::requested() || read_ahead.is_some() || !parent_lives() {
                    return Ok(None);
                }
                match orders.waiting()? {
                    // Its parent may have died since the look above, right after it wrote.
                    Some(Order::Next) if !parent_lives() => Ok(None),
                    Some(Order::Next) => {
                        took_next = true;
                        claim_next(tx, context.clock.now(), &me)
                    }
                    other => {
                        read_ahead = other;
                        Ok(None)
                    }
                }
            },
        )?;
        let succeeded = run::report(store.conn(), &run, &ending);
        // The result is recorded: a parent that is gone loses nothing but this answer.
        parent_gone = !answer(
            &mut answers,
            Reply::Done {
                run: run.id,
                succeeded,
            },
        );
        // A run claimed with the result is carried out even so: it is started.
        claimed = then?;
        if took_next && claimed.is_none() {
            parent_gone |= !answer(&mut answers, Reply::Drained);
        }
    }
    // It holds no run: what it was handed and did not answer was not carried out. (A
    // worker that dies or fails instead is counted by its pass as a failed run.)
    answer(&mut answers, Reply::Leaving);
    Ok(0)
}

/// Claims the first due run and starts it here.
fn claim_next(
    tx: &dyn crate::store::sql::Conn,
    now: Timestamp,
    me: &Owner,
) -> Result<Option<(Run, Claim)>> {
    let start = Start::Now {
        since_boot: since_boot(),
    };
    runs::claim_next(tx, now, me, start)
}

/// Writes one answer; false when the parent is gone.
fn answer(answers: &mut impl Write, reply: Reply) -> bool {
    writeln!(answers, "{reply}")
        .and_then(|()| answers.flush())
        .is_ok()
}

/// The orders on stdin, one a line, through a buffer of its own: whether a whole order
/// is in it already is part of telling whether one is waiting.
struct Orders {
    input: BufReader<File>,
}

impl Orders {
    fn new() -> Result<Orders> {
        let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
        Ok(Orders {
            input: BufReader::new(File::from(stdin)),
        })
    }

    /// The next order, waiting for it; `None` once stdin is closed (a last line without
    /// its newline is no order: its writer died writing it).
    fn wait(&mut self) -> Result<Option<Order>> {
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 || !line.ends_with('\n') {
            return Ok(None);
        }
        Ok(Some(Order::parse(line.trim_end()).map_err(usage)?))
    }

    /// The next order if it has come already; `None` when none has (or stdin is closed,
    /// which the next `wait` finds). A pass writes each order whole in one write, so a
    /// line begun is a line there.
    fn waiting(&mut self) -> Result<Option<Order>> {
        if !self.input.buffer().contains(&b'\n') && !readable(self.input.get_ref().as_raw_fd()) {
            return Ok(None);
        }
        self.wait()
    }
}

/// Whether `fd` has something to read (or its end) at once.
fn readable(fd: i32) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the whole call, and a zero timeout.
    unsafe { libc::poll(&mut poll, 1, 0) == 1 }
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
