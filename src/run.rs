//! Carrying out one claimed run: execute its job (a shell command or a built-in), record
//! how it ended, and decide whether it is tried again.

use crate::builtin::{self, Builtin};
use crate::exec;
use crate::job::RunStatus;
use crate::owner;
use crate::retry::retry_delay;
use crate::settings::Settings;
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Claim, ClaimState, Outcome, Run, RunningRun};
use crate::store::sql::Conn;
use crate::store::Store;
use crate::time::{self, format_time, Clock, Timestamp};
use anyhow::Result;
use std::io::Write;
use std::time::{Duration, Instant};

/// How a run ended, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// Failed for good, with the reason.
    Failed(String),
    /// This attempt failed; the run is pending again until `retry_at`.
    WillRetry {
        reason: String,
        retry_at: Timestamp,
    },
    /// Stopped by a shutdown and queued again, due at once.
    Requeued(String),
    /// Its result not recorded, because the run's claim was taken back (recovery judged
    /// it stale and it may already run elsewhere).
    Abandoned(String),
}

/// After this many shutdowns stopped a run, the next one counts as a failed attempt: a
/// restart costs no retry, and a job that stops its own runner cannot loop for ever.
pub const MAX_INTERRUPTIONS: i64 = 3;

/// How long a job runs before its process group is recorded in its run. A job that ends
/// sooner (many queued jobs do) costs no write for it: a write transaction was a tenth of
/// a drained `true` run's time. Should the runner die before, recovery finds the job's
/// processes by their environment (`owner::processes_of_run`), as it always did for the
/// moment between the spawn and the write.
pub const RECORD_GROUP_AFTER: Duration = Duration::from_millis(50);

/// How often a runner makes sure, while its job runs, that it still holds the run, and
/// looks for an operator's request to stop it.
pub const CLAIM_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The environment variable with which the tests shorten `CLAIM_CHECK_EVERY`, in
/// milliseconds. Only a debug build reads it: a release build always checks every 10 s.
pub const CLAIM_CHECK_VARIABLE: &str = "CRONQ_TEST_CLAIM_CHECK_MS";

/// `CLAIM_CHECK_EVERY`, or in a debug build what `CLAIM_CHECK_VARIABLE` says.
fn claim_check_every() -> Duration {
    if cfg!(debug_assertions) {
        let shortened = std::env::var(CLAIM_CHECK_VARIABLE)
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0);
        if let Some(ms) = shortened {
            return Duration::from_millis(ms);
        }
    }
    CLAIM_CHECK_EVERY
}

/// Executes `run`, which `claim` holds and which has been started, and records the
/// result. `foreground` is run-job's way: the command's output is copied to this
/// process's stdout and stderr, and a shutdown request (Ctrl-C) stops the job at once and
/// counts as its failure.
///
/// `then` runs in the transaction that records the result, after the record: a drain
/// claims its next run there, so that a run costs one commit after its job, not two.
/// That transaction is a fenced write (`Store::write_fenced`: on PostgreSQL, without the
/// lock of all writes), so `then` may only claim (`runs::claim_next`) or write through a
/// claim's fence.
/// What `then` gives comes back beside the ending. Should that transaction fail, the
/// result is recorded in one of its own, so that nothing `then` does can cost a result;
/// the first failure is then what comes back in place of `then`'s value. A job with a
/// monitoring ping has its end ping sent between the two, in a transaction of its own.
#[allow(clippy::too_many_arguments)]
pub fn carry_out<T>(
    store: &mut Store,
    run: &Run,
    claim: &Claim,
    job: Option<&Job>,
    settings: &Settings,
    clock: &Clock,
    foreground: bool,
    then: impl FnOnce(&dyn Conn) -> Result<T>,
) -> Result<(Ending, Result<T>)> {
    let ping = job.and_then(|job| crate::ping::start(job, run));
    let (outcome, stopped_by_operator) = match job {
        None => (
            failure(format!("job '{}' no longer exists", run.job), None),
            false,
        ),
        Some(job) => execute(store, run, claim, job, settings, clock, foreground),
    };
    let now = clock.now();
    let settle = |tx: &dyn Conn| settle_attempt(tx, run, claim, &outcome, stopped_by_operator, now);
    if ping.is_some() {
        // The end ping goes once the result is committed (a ping never delays nor fails
        // the record) and may take seconds: what `then` claims is claimed after it, so
        // that no run is marked started while it waits, nor through a shutdown meanwhile.
        // Tried twice, as the result below: on PostgreSQL a deadlock with recovery's write
        // (which PostgreSQL ends by failing one of the two) can fail the first.
        let ending = store
            .write_fenced(settle)
            .or_else(|_| store.write_fenced(settle))?;
        crate::ping::finish(store, ping, &outcome, &ending, now);
        return Ok((ending, store.write_fenced(then)));
    }
    let (ending, then) = match store.write_fenced(|tx| Ok((settle(tx)?, then(tx)?))) {
        Ok((ending, value)) => (ending, Ok(value)),
        Err(failed) => (store.write_fenced(settle)?, Err(failed)),
    };
    Ok((ending, then))
}

/// Records how an attempt ended, retrying a failure while attempts remain. Nothing is
/// recorded when `claim` no longer holds the run. A run an operator asked to stop is
/// neither retried nor queued again: its attempt is its last.
pub fn settle(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Ending> {
    settle_attempt(tx, run, claim, outcome, false, now)
}

/// `settle`; `stopped_by_operator` when the runner stopped the job because an operator
/// asked it to (the outcome's reason says so already). A request the runner did not see
/// (made after its last look, or while no runner watched: recovery, `resolve`) shows when
/// the requeue or the retry matches no row although the claim holds.
fn settle_attempt(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    stopped_by_operator: bool,
    now: Timestamp,
) -> Result<Ending> {
    let reason = outcome.error.clone().unwrap_or_default();
    if outcome.interrupted && run.interruptions + 1 < MAX_INTERRUPTIONS {
        if runs::interrupt(tx, claim, outcome, now)? {
            return Ok(Ending::Requeued(reason));
        }
        return not_put_back(tx, run, claim, outcome, now);
    }
    let counted;
    let outcome = if outcome.interrupted {
        counted = Outcome {
            interrupted: false,
            error: Some(format!(
                "{reason} (stopped by a shutdown {MAX_INTERRUPTIONS} times: this time counts as a failed attempt)"
            )),
            ..outcome.clone()
        };
        &counted
    } else {
        outcome
    };
    let reason = outcome.error.clone().unwrap_or_default();
    let retries = outcome.status == RunStatus::Failed
        && run.attempt < run.max_attempts
        && !stopped_by_operator;
    if retries {
        let retry_at = now + retry_delay(run.id, run.attempt);
        if runs::finish(tx, claim, outcome, Some(retry_at), now)? {
            return Ok(Ending::WillRetry { reason, retry_at });
        }
        return not_put_back(tx, run, claim, outcome, now);
    }
    finish_for_good(tx, run, claim, outcome, now)
}

/// The run was not put back in the queue (a retry, a shutdown's requeue): its claim is
/// gone, and nothing is recorded; or an operator asked to stop it, and this attempt is
/// its last.
fn not_put_back(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Ending> {
    match runs::claim_state(tx, claim)? {
        ClaimState::StopRequested => finish_stopped(tx, run, claim, outcome, now),
        ClaimState::Lost => Ok(lost()),
        // Both statements fail only for one of the two reasons above, and this runs in
        // the same write transaction as they did.
        ClaimState::Held => Err(anyhow::anyhow!(
            "run {}: the database did not put it back in the queue, though its claim holds \
             and no stop was asked for",
            run.id
        )),
    }
}

/// What a runner whose claim was taken back reports: it records nothing.
fn lost() -> Ending {
    Ending::Abandoned(
        "its claim was taken back (the run was judged stale); this result was not recorded"
            .to_string(),
    )
}

/// Records an attempt as the run's final result.
fn finish_for_good(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Ending> {
    if !runs::finish(tx, claim, outcome, None, now)? {
        return Ok(lost());
    }
    jobs::record_last_result(
        tx,
        &run.job,
        outcome.status.as_str(),
        now,
        run.host.as_deref(),
    )?;
    let reason = outcome.error.clone().unwrap_or_default();
    Ok(match outcome.status {
        RunStatus::Success => Ending::Succeeded,
        _ => Ending::Failed(reason),
    })
}

/// Ends for good, as failed, an attempt that would have been retried or queued again had
/// an operator not asked to stop the run: the reason says so, then how the attempt ended.
fn finish_stopped(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Ending> {
    let reason = outcome.error.as_deref().unwrap_or("ended");
    let stopped = Outcome {
        interrupted: false,
        status: RunStatus::Failed,
        error: Some(format!("{}; {reason}", exec::STOPPED_BY_OPERATOR)),
        ..outcome.clone()
    };
    finish_for_good(tx, run, claim, &stopped, now)
}

/// Ends a running run that is given up on (its owner is dead, or declared dead): the
/// attempt counts as failed with `reason`, retried if attempts remain and no operator
/// asked to stop the run. Fenced by the claim recovery read; `None` when the run is gone.
pub fn fail_stale(
    tx: &dyn Conn,
    stale: &RunningRun,
    reason: String,
    now: Timestamp,
) -> Result<Option<(Run, Ending)>> {
    let Some(run) = runs::get(tx, stale.id)? else {
        return Ok(None);
    };
    let ending = settle(tx, &run, &stale.claim, &failure(reason, None), now)?;
    Ok(Some((run, ending)))
}

/// Logs how a run ended; returns whether it counts as a success for the exit code (a run
/// queued again by a shutdown does). Cron mails whatever a pass prints, so only what
/// needs a person is a warning: a run that failed for good, printed once, by the process
/// that ran it, with the last lines of its output (read from `db`, where they were just
/// recorded). A run a shutdown stopped and queued again stays a warning too (a job killed
/// half-way may have left half its work). A failed attempt that a retry may still make
/// good and a success are logged at `info` (`-v`).
pub fn report(db: &dyn Conn, run: &Run, ending: &Ending) -> bool {
    match ending {
        Ending::Succeeded | Ending::WillRetry { .. } => {
            log::info!("{}", describe(run, ending));
        }
        Ending::Failed(_) => {
            let output = match runs::output_of(db, run.id) {
                Ok(output) => output.unwrap_or_default(),
                Err(e) => {
                    log::debug!("run {}: cannot read its output: {e:#}", run.id);
                    Vec::new()
                }
            };
            log::warn!("{}", failure_message(run, ending, &output));
        }
        Ending::Requeued(_) | Ending::Abandoned(_) => log::warn!("{}", describe(run, ending)),
    }
    matches!(ending, Ending::Succeeded | Ending::Requeued(_))
}

/// How many of a failed run's last output lines its warning shows.
pub const FAILURE_LINES: usize = 10;

/// A line of output in a warning is cut after this many characters.
const FAILURE_LINE_CHARS: usize = 300;

/// The warning for a run that failed for good: what `describe` says, the attempts it had,
/// then the last `FAILURE_LINES` lines of its output, escaped as `cronq show` escapes
/// them for a terminal, each indented.
pub fn failure_message(run: &Run, ending: &Ending, output: &[u8]) -> String {
    let mut message = crate::cli::escape::escape_field(&describe(run, ending));
    if run.max_attempts > 1 {
        message.push_str(&format!(
            " (attempt {} of {})",
            run.attempt, run.max_attempts
        ));
    }
    let text = crate::cli::escape::escape(output, crate::cli::escape::LineBreaks::Keep);
    let lines: Vec<&str> = text.lines().collect();
    let shown = &lines[lines.len().saturating_sub(FAILURE_LINES)..];
    if shown.is_empty() {
        message.push_str("\n  it wrote no output");
        return message;
    }
    let which = if shown.len() == lines.len() {
        "its output".to_string()
    } else {
        format!("the last {} lines of its output", shown.len())
    };
    message.push_str(&format!("\n  {which} (all of it: cronq show {}):", run.id));
    for line in shown {
        message.push_str("\n  | ");
        match line.char_indices().nth(FAILURE_LINE_CHARS) {
            Some((cut, _)) => {
                message.push_str(&line[..cut]);
                message.push_str(" [cut]");
            }
            None => message.push_str(line),
        }
    }
    message
}

/// Describes an ending for a log line.
pub fn describe(run: &Run, ending: &Ending) -> String {
    match ending {
        Ending::Succeeded => format!("job {} run {} succeeded", run.job, run.id),
        Ending::Failed(reason) => format!("job {} run {} failed: {reason}", run.job, run.id),
        Ending::WillRetry { reason, retry_at } => format!(
            "job {} run {} attempt {} of {} failed: {reason}; retrying at {}",
            run.job,
            run.id,
            run.attempt,
            run.max_attempts,
            format_time(*retry_at)
        ),
        Ending::Requeued(reason) => {
            format!("job {} run {}: {reason}; queued again", run.job, run.id)
        }
        Ending::Abandoned(reason) => format!("job {} run {}: {reason}", run.job, run.id),
    }
}

/// Executes the job; the outcome, and whether the runner stopped the job because an
/// operator asked it to.
fn execute(
    store: &mut Store,
    run: &Run,
    claim: &Claim,
    job: &Job,
    settings: &Settings,
    clock: &Clock,
    foreground: bool,
) -> (Outcome, bool) {
    let timeout = Duration::from_secs(job.timeout.unwrap_or(settings.job_timeout).max(1) as u64);
    let started = Instant::now();
    if let Some(name) = &job.builtin {
        let result = Builtin::from_name(name)
            .map_err(anyhow::Error::msg)
            .and_then(|b| builtin::run(b, store, clock.now(), settings));
        let duration_ms = started.elapsed().as_millis() as i64;
        let outcome = match result {
            Ok(text) => {
                if foreground {
                    // A closed stdout must not lose the run's record.
                    let _ = writeln!(std::io::stdout(), "{text}");
                }
                Outcome {
                    interrupted: false,
                    status: RunStatus::Success,
                    exit_code: None,
                    error: None,
                    output: text.into_bytes(),
                    duration_ms,
                }
            }
            Err(e) => failure(format!("{e:#}"), Some(duration_ms)),
        };
        return (outcome, false);
    }
    let Some(command) = job.command.as_deref() else {
        let reason = format!("job '{}' has neither a command nor a built-in", job.name);
        return (failure(reason, None), false);
    };
    // Shared from here: the watch, the progress and the group's record all read or write it.
    let store: &Store = store;
    let spec = exec::Spec {
        command,
        env: environment(run, job),
        timeout,
        shutdown_grace: if foreground {
            Duration::ZERO
        } else {
            Duration::from_secs(settings.shutdown_grace.max(0) as u64)
        },
        echo: foreground,
        watch: Some(exec::Watch {
            every: claim_check_every(),
            check: Box::new(claim_watch(store, claim, settings, clock)),
        }),
        progress: Some(exec::Progress {
            every: PROGRESS_EVERY,
            write: Box::new(progress_writer(store, claim)),
        }),
    };
    let before = time::boot_clock_ns();
    let mut running = match exec::spawn(spec) {
        Ok(running) => running,
        Err(e) => return (failure(format!("cannot start /bin/sh: {e}"), None), false),
    };
    let pgid = running.pgid();
    let told = owner::start_time_between(before, time::boot_clock_ns());
    // Where the boot clock could not tell the leader's start, /proc is read for it only
    // when the group is recorded: a job that ends sooner costs no read either.
    let record_group = move || {
        let leader_started = told.or_else(|| owner::process_start_time(pgid));
        match store.write_one(|tx| runs::set_group(tx, claim, pgid, leader_started)) {
            Ok(true) => {}
            // Taken back between the start and now: the supervisor's next look at the claim
            // stops the job.
            Ok(false) => log::warn!("run {}: its claim was taken back as it started", run.id),
            // The job runs on; recovery can still find it by its environment.
            Err(e) => log::warn!("run {}: cannot record its process group: {e:#}", run.id),
        }
    };
    running.once_running_for(RECORD_GROUP_AFTER, Box::new(record_group));
    let finished = running.wait();
    let stopped_by_operator = finished.stopped == Some(exec::Stop::Requested);
    let outcome = Outcome {
        interrupted: finished.stopped == Some(exec::Stop::ShutDown) && !foreground,
        status: if finished.success() {
            RunStatus::Success
        } else {
            RunStatus::Failed
        },
        exit_code: finished.exit_code.map(i64::from),
        error: finished.failure(timeout),
        output: finished.output,
        duration_ms: finished.duration.as_millis() as i64,
    };
    (outcome, stopped_by_operator)
}

/// What a runner asks every `CLAIM_CHECK_EVERY` while its job runs: does its claim still
/// hold, and did an operator ask to stop the run? Either way the job is stopped
/// (`Stop::ClaimLost`, `Stop::Requested`). An answer renews its host's sign of life
/// (several hosts), so the host of a running job is never silent. A database that cannot answer for a moment is no proof
/// the claim is gone, but under the opt-in presumption (`presume_dead_hosts`) another
/// host may take the run over once this host has been silent for `host_silence`: the
/// runner stops its job when it has been out of touch for half of that, so the job is
/// gone before another host may start it.
fn claim_watch<'a>(
    store: &'a Store,
    claim: &'a Claim,
    settings: &Settings,
    clock: &'a Clock,
) -> impl FnMut() -> Option<exec::Stop> + 'a {
    let out_of_touch_limit = settings
        .presumed_dead_after()
        .map(|silence| Duration::from_secs((silence / 2).max(0) as u64));
    let mut in_touch = Instant::now();
    move || match runs::claim_state(store.conn(), claim) {
        Ok(state) => {
            in_touch = Instant::now();
            let renewed = store.note_host(clock.now(), 0);
            if let Err(e) = renewed {
                log::warn!(
                    "run {}: cannot renew this host's sign of life: {e:#}",
                    claim.run
                );
            }
            match state {
                ClaimState::Held => None,
                ClaimState::StopRequested => {
                    log::info!(
                        "run {}: an operator asked to stop it; stopping its job",
                        claim.run
                    );
                    Some(exec::Stop::Requested)
                }
                ClaimState::Lost => Some(exec::Stop::ClaimLost),
            }
        }
        Err(e) => match out_of_touch_limit {
            Some(limit) if in_touch.elapsed() >= limit => {
                log::warn!(
                    "run {}: out of touch with the database for {} s ({e:#}); stopping the \
                     job before another host may presume this one dead and start it",
                    claim.run,
                    in_touch.elapsed().as_secs()
                );
                Some(exec::Stop::ClaimLost)
            }
            _ => None,
        },
    }
}

/// How often, at most, a running job's output so far is written to its run's row.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Writes a running job's output so far into its run's row, fenced by the claim, for
/// `cronq show` and `show --follow`. A failed write only delays what a follower sees: the
/// job runs on, and its whole output is recorded at its end as before.
fn progress_writer<'a>(store: &'a Store, claim: &'a Claim) -> impl FnMut(&[u8]) + 'a {
    move |output| {
        if let Err(e) = store.write(|tx| runs::write_progress(tx, claim, output)) {
            log::debug!("run {}: cannot record its output so far: {e:#}", claim.run);
        }
    }
}

/// The job's own variables (from `import`), then its run's: target and data reach the job
/// only through the environment, never through the command line.
fn environment(run: &Run, job: &Job) -> Vec<(String, String)> {
    let own: serde_json::Map<String, serde_json::Value> = job
        .env
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = own
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect();
    let run_vars = [
        ("CRONQ_JOB", Some(run.job.clone())),
        ("CRONQ_RUN_ID", Some(run.id.to_string())),
        ("CRONQ_ATTEMPT", Some(run.attempt.to_string())),
        ("CRONQ_SLOT", run.slot.map(format_time)),
        ("CRONQ_TARGET_ID", run.target_id.clone()),
        ("CRONQ_TARGET_TYPE", run.target_type.clone()),
        ("CRONQ_DATA", run.data.clone()),
    ];
    env.extend(
        run_vars
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    env
}

fn failure(reason: String, duration_ms: Option<i64>) -> Outcome {
    Outcome {
        interrupted: false,
        status: RunStatus::Failed,
        exit_code: None,
        error: Some(reason),
        output: Vec::new(),
        duration_ms: duration_ms.unwrap_or(0),
    }
}

#[cfg(test)]
mod failure_message_tests {
    use super::*;

    fn run(attempt: i64, max_attempts: i64) -> Run {
        Run {
            id: 9,
            job: "j".into(),
            slot: None,
            status: RunStatus::Failed,
            priority: 0,
            due_at: 0,
            attempt,
            max_attempts,
            target_id: None,
            target_type: None,
            data: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            exit_code: Some(3),
            error: None,
            interruptions: 0,
            host: None,
        }
    }

    fn failed() -> Ending {
        Ending::Failed("exit status 3".into())
    }

    #[test]
    fn a_run_without_output_says_so() {
        assert_eq!(
            failure_message(&run(1, 1), &failed(), b""),
            "job j run 9 failed: exit status 3\n  it wrote no output"
        );
    }

    #[test]
    fn output_that_fits_is_shown_whole_with_the_attempts() {
        assert_eq!(
            failure_message(&run(2, 2), &failed(), b"a\n\x1b[2Jb\r\n"),
            "job j run 9 failed: exit status 3 (attempt 2 of 2)\n  \
             its output (all of it: cronq show 9):\n  | a\n  | \\x1b[2Jb\\x0d"
        );
    }

    #[test]
    fn only_the_last_lines_are_shown_each_cut_to_a_length() {
        let mut output = String::new();
        for n in 1..=FAILURE_LINES + 2 {
            output.push_str(&format!("line {n}\n"));
        }
        output.push_str(&"x".repeat(FAILURE_LINE_CHARS + 5));
        let message = failure_message(&run(1, 1), &failed(), output.as_bytes());
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 2 + FAILURE_LINES, "{message}");
        assert!(lines[1].starts_with("  the last 10 lines of its output"));
        assert_eq!(lines[2], "  | line 4");
        let cut = format!("  | {} [cut]", "x".repeat(FAILURE_LINE_CHARS));
        assert_eq!(lines[lines.len() - 1], cut);
    }
}
