//! The parent's side of parallel mode: start workers as they are needed (never more than
//! `jobs_pool_concurrency`), hand each worker orders until the portion is taken or nothing
//! is due, count the results, and close the workers' stdin at the end.
//!
//! A busy worker may be handed its next order before it answers the one it carries out,
//! so that it finds that order waiting when its run ends and claims the next run in the
//! same commit as the result, without waiting for this process. Only while the portion
//! left exceeds the concurrency: an order waiting behind a long job is a run that an idle
//! worker could have taken, and near the portion's end every order must go to a worker
//! that is free.

use super::{Order, Reply};
use crate::pass::Summary;
use crate::shutdown;
use crate::store::runs::{self, Claim, Run};
use crate::store::Store;
use crate::time::{format_time, Clock};
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One worker process, as its parent sees it.
struct Worker {
    child: Child,
    /// Its stdin; `None` once closed (the worker then exits when its run is over).
    orders: Option<ChildStdin>,
    /// Orders it has not answered yet: at most `AHEAD` + 1.
    outstanding: usize,
    alive: bool,
}

/// How many orders a busy worker may have waiting behind the one it carries out.
const AHEAD: usize = 1;

/// What a reader thread passes on: a worker's reply, or `None` when its stdout closed
/// (it exited).
type Heard = (usize, Option<Reply>);

/// Carries out up to `portion` due runs in at most `concurrency` workers, starting with
/// `first`, which this pass claimed for a worker to start.
pub fn execute(
    store: &mut Store,
    clock: &Clock,
    first: (Run, Claim),
    concurrency: i64,
    portion: i64,
) -> Result<Summary> {
    let exe =
        std::env::current_exe().context("cannot find this program to start worker processes")?;
    let mut base = Command::new(&exe);
    base.args(verbosity())
        .arg("--db")
        .arg(store.location().as_arg());
    if let Some(now) = clock.pinned() {
        base.args(["--now", &format_time(now)]);
    }
    base.arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());

    let (heard, replies) = mpsc::channel::<Heard>();
    let mut workers: Vec<Worker> = Vec::new();
    let mut first = Some(first);
    let mut handed = 0;
    let mut drained = false;
    let mut stopping = false;
    let mut summary = Summary::default();
    loop {
        if !stopping && shutdown::requested() {
            stopping = true;
            for worker in workers.iter_mut().filter(|w| w.alive) {
                worker.orders = None;
                // SAFETY: kill has no memory effects; this is our own unreaped child.
                unsafe { libc::kill(worker.child.id() as i32, libc::SIGTERM) };
            }
        }
        while !stopping && !drained && handed < portion {
            let free = workers.iter().position(|w| w.alive && w.outstanding == 0);
            let alive = workers.iter().filter(|w| w.alive).count() as i64;
            let index = match free {
                Some(index) => index,
                None if alive < concurrency => match spawn(&mut base, workers.len(), &heard) {
                    Ok(worker) => {
                        workers.push(worker);
                        workers.len() - 1
                    }
                    Err(e) => {
                        log::error!("cannot start a worker process: {e:#}");
                        break;
                    }
                },
                None if portion - handed > concurrency => {
                    match workers
                        .iter()
                        .position(|w| w.alive && w.outstanding <= AHEAD)
                    {
                        Some(index) => index,
                        None => break,
                    }
                }
                None => break,
            };
            let order = match &first {
                Some((run, claim)) => Order::Start {
                    run: run.id,
                    token: claim.token,
                },
                None => Order::Next,
            };
            let worker = &mut workers[index];
            if tell(worker, order) {
                first = None;
                worker.outstanding += 1;
                handed += 1;
            } else {
                log::error!("worker process {} ended early", worker.child.id());
                worker.alive = false;
            }
        }
        // A run claimed for a worker that none started goes back to the queue: as any
        // claimed run at a shutdown (not a failure), or as one no worker could start.
        if let Some((run, claim)) = &first {
            if stopping {
                let reason = "not started: cronq was shutting down";
                log::warn!("job {} run {}: {reason}; queued again", run.job, run.id);
                store.write(|tx| runs::requeue(tx, claim, reason))?;
                first = None;
            } else if !workers.iter().any(|w| w.alive) {
                let reason = "not started: no worker process could start it";
                log::error!("run {}: {reason}", run.id);
                store.write(|tx| runs::requeue(tx, claim, reason))?;
                summary.count(false);
                first = None;
            }
        }
        if !workers.iter().any(|w| w.outstanding > 0) {
            break;
        }
        match replies.recv_timeout(Duration::from_millis(100)) {
            Ok((index, Some(Reply::Done { succeeded, .. }))) => {
                workers[index].outstanding -= 1;
                summary.count(succeeded);
            }
            Ok((index, Some(Reply::Drained))) => {
                workers[index].outstanding -= 1;
                handed -= 1;
                drained = true;
            }
            Ok((index, Some(Reply::Leaving))) => {
                // It holds no run, and its orders not carried out go back to the portion.
                let worker = &mut workers[index];
                worker.alive = false;
                worker.orders = None;
                handed -= worker.outstanding as i64;
                worker.outstanding = 0;
            }
            Ok((index, None)) => {
                let worker = &mut workers[index];
                worker.alive = false;
                if worker.outstanding > 0 {
                    // Orders are answered in turn: the first unanswered one was under way.
                    log::error!(
                        "worker process {} ended before it answered; recovery settles a run \
                         it left",
                        worker.child.id()
                    );
                    summary.count(false);
                    worker.outstanding = 0;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Unreachable while `heard` lives here; ends the pass rather than spinning.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for worker in &mut workers {
        // A closed stdin tells a worker to exit.
        worker.orders = None;
    }
    for worker in &mut workers {
        let _ = worker.child.wait();
    }
    Ok(summary)
}

/// Starts worker number `index`, with a thread that passes on its replies.
fn spawn(base: &mut Command, index: usize, heard: &mpsc::Sender<Heard>) -> Result<Worker> {
    let mut child = base.spawn().context("cannot start `cronq worker`")?;
    let orders = child.stdin.take();
    let Some(stdout) = child.stdout.take() else {
        anyhow::bail!("the worker process has no stdout pipe");
    };
    let heard = heard.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let reply = match line
                .map_err(|e| e.to_string())
                .and_then(|l| Reply::parse(&l))
            {
                Ok(reply) => reply,
                Err(e) => {
                    log::error!("worker process: {e}");
                    break;
                }
            };
            if heard.send((index, Some(reply))).is_err() {
                return;
            }
        }
        let _ = heard.send((index, None));
    });
    Ok(Worker {
        child,
        orders,
        outstanding: 0,
        alive: true,
    })
}

/// Writes one order, whole in one write (a pipe takes a short write at once, so the
/// worker never sees half an order); false when the worker is gone.
fn tell(worker: &mut Worker, order: Order) -> bool {
    let Some(orders) = worker.orders.as_mut() else {
        return false;
    };
    orders.write_all(format!("{order}\n").as_bytes()).is_ok()
}

/// The flags that give a worker this process's log level, so `-v` shows the workers'
/// `info` lines too. Each worker reports its own runs (a failure for good once, as a
/// warning); the parent prints nothing about them.
fn verbosity() -> &'static [&'static str] {
    match log::max_level() {
        log::LevelFilter::Off | log::LevelFilter::Error => &["--quiet"],
        log::LevelFilter::Warn => &[],
        log::LevelFilter::Info => &["-v"],
        log::LevelFilter::Debug | log::LevelFilter::Trace => &["-vv"],
    }
}
