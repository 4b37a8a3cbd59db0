//! Sending a run's pings, and keeping them: a ping never delays a run's record nor fails
//! it. The start ping goes out from a thread while the job starts; the ending ping only
//! after the run's result is committed, outside any write transaction; how each went is
//! written afterwards in one short transaction. A ping that was not delivered is tried
//! again by later passes (`retry_due`).

use super::send::{self, Delivered, Failure};
use super::{next_try, tail, url_for, Kind, BODY_LIMIT, KEEP_FOR, MAX_BODY_LIMIT};
use crate::run::Ending;
use crate::store::jobs::Job;
use crate::store::pings::{self, Tried};
use crate::store::runs::{Outcome, Run};
use crate::store::Store;
use crate::time::Timestamp;
use anyhow::Result;
use std::thread::JoinHandle;

/// Pings a pass tries again at most, the longest waiting first.
const RETRY_BATCH: i64 = 20;

/// Old pings deleted at most per run that pings.
const DELETE_BATCH: i64 = 100;

/// The start ping of an attempt, on its way.
pub struct Started {
    base: String,
    run_id: i64,
    attempt: i64,
    url: String,
    sending: Option<JoinHandle<Result<Delivered, Failure>>>,
}

/// Sends the start ping of `run`'s attempt from a thread, when its job has a ping URL:
/// the job starts at once, whatever the server does.
pub fn start(job: &Job, run: &Run) -> Option<Started> {
    let base = job.ping.clone()?;
    let url = url_for(&base, Kind::Start, None, run.id);
    let sent = url.clone();
    let sending = std::thread::Builder::new()
        .name("ping".to_string())
        .spawn(move || {
            block_signals();
            send::send(&sent, b"")
        });
    let sending = match sending {
        Ok(handle) => Some(handle),
        Err(e) => {
            log::warn!(
                "run {}: cannot start a thread for its start ping: {e}",
                run.id
            );
            None
        }
    };
    Some(Started {
        base,
        run_id: run.id,
        attempt: run.attempt,
        url,
        sending,
    })
}

/// What the ending of an attempt pings: success, failure for good, or an attempt that
/// will be retried (`log`); nothing for a run queued again by a shutdown or whose claim
/// was taken back (its next attempt, or its new owner, pings).
fn ending_kind(ending: &Ending) -> Option<Kind> {
    match ending {
        Ending::Succeeded => Some(Kind::Success),
        Ending::Failed(_) => Some(Kind::Fail),
        Ending::WillRetry { .. } => Some(Kind::Log),
        Ending::Requeued(_) | Ending::Abandoned(_) => None,
    }
}

/// Once the attempt's result is recorded: waits for the start ping (at most its timeout
/// from the job's start), sends the ending ping with the output's tail as its body, and
/// records both. The ending ping is not sent now, only kept for the next pass, when the
/// start ping could not reach the server: a pass waits for one timeout at most.
pub fn finish(
    store: &Store,
    started: Option<Started>,
    outcome: &Outcome,
    ending: &Ending,
    now: Timestamp,
) {
    let Some(started) = started else {
        return;
    };
    let start_result = match started.sending {
        Some(handle) => handle.join().unwrap_or_else(|_| {
            Err(Failure {
                reason: "the thread that sent it failed".to_string(),
                answered: false,
            })
        }),
        None => Err(Failure {
            reason: "no thread could be started to send it".to_string(),
            answered: false,
        }),
    };
    let end = ending_kind(ending).map(|kind| {
        let url = url_for(&started.base, kind, outcome.exit_code, started.run_id);
        let limit = match &start_result {
            Ok(Delivered {
                body_limit: Some(limit),
            }) => (*limit).min(MAX_BODY_LIMIT),
            _ => BODY_LIMIT,
        };
        let body = tail(&outcome.output, limit);
        let tried = match &start_result {
            Err(failure) if !failure.answered => Tried {
                tries: 0,
                next_try: Some(now),
                delivered_at: None,
                last_error: Some(format!(
                    "not tried yet: the start ping failed ({})",
                    failure.reason
                )),
            },
            _ => match send::send(&url, body) {
                Ok(_) => delivered(now),
                Err(failure) => {
                    log::warn!(
                        "run {}: its {} ping was not delivered: {}; a later pass tries again",
                        started.run_id,
                        kind.as_str(),
                        failure.reason
                    );
                    Tried {
                        tries: 1,
                        next_try: next_try(now, 1, now),
                        delivered_at: None,
                        last_error: Some(failure.reason),
                    }
                }
            },
        };
        (kind, url, body, tried)
    });
    // A start ping is not tried again: it means something only while the attempt runs.
    let start_tried = match &start_result {
        Ok(_) => delivered(now),
        Err(failure) => {
            log::warn!(
                "run {}: its start ping was not delivered: {}",
                started.run_id,
                failure.reason
            );
            Tried {
                tries: 1,
                next_try: None,
                delivered_at: None,
                last_error: Some(format!(
                    "{} (a start ping is not tried again)",
                    failure.reason
                )),
            }
        }
    };
    let recorded = store.write(|tx| {
        let (run_id, attempt) = (started.run_id, started.attempt);
        pings::insert(
            tx,
            run_id,
            attempt,
            Kind::Start,
            &started.url,
            b"",
            now,
            &start_tried,
        )?;
        if let Some((kind, url, body, tried)) = &end {
            pings::insert(tx, run_id, attempt, *kind, url, body, now, tried)?;
        }
        pings::delete_old(tx, now - KEEP_FOR, DELETE_BATCH)?;
        Ok(())
    });
    if let Err(e) = recorded {
        log::warn!(
            "run {}: cannot record its monitoring pings: {e:#}",
            started.run_id
        );
    }
}

/// Blocks every signal in the calling thread, so that the shutdown's handlers (SIGTERM,
/// SIGINT) run on the runner's own thread: a socket read with a timeout is not restarted
/// after a handler ran on its thread (signal(7)), and would fail the ping with EINTR.
fn block_signals() {
    // SAFETY: sigfillset and pthread_sigmask only write the set on the stack and this
    // thread's mask; a null old-set pointer is allowed.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

fn delivered(now: Timestamp) -> Tried {
    Tried {
        tries: 1,
        next_try: None,
        delivered_at: Some(now),
        last_error: None,
    }
}

/// Tries again the pings due at `now`, up to `RETRY_BATCH`, stopping at the first that
/// fails (its server is most likely still away): a pass waits for one timeout at most.
/// Each is leased first, so that two passes do not send it both.
pub fn retry_due(store: &Store, now: Timestamp) {
    if let Err(e) = try_retry_due(store, now) {
        log::warn!("cannot try the pending monitoring pings again: {e:#}");
    }
}

fn try_retry_due(store: &Store, now: Timestamp) -> Result<()> {
    let lease_until = now + 2 * send::timeout().as_secs() as i64 + 60;
    for ping in pings::due(store.conn(), now, RETRY_BATCH)? {
        if !store.write(|tx| pings::lease(tx, ping.id, now, lease_until))? {
            continue;
        }
        let tries = ping.tries + 1;
        match send::send(&ping.url, &ping.body) {
            Ok(_) => store.write(|tx| pings::tried(tx, ping.id, None, Some(now), None))?,
            Err(failure) => {
                let next = next_try(ping.created_at, tries, now);
                log::warn!(
                    "run {}: its {} ping was not delivered (try {tries}): {}; {}",
                    ping.run_id,
                    ping.kind.as_str(),
                    failure.reason,
                    if next.is_some() {
                        "a later pass tries again"
                    } else {
                        "given up"
                    }
                );
                store.write(|tx| pings::tried(tx, ping.id, next, None, Some(&failure.reason)))?;
                break;
            }
        }
    }
    Ok(())
}
