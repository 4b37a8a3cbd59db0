//! Carrying out one claimed run: execute its job (a shell command or a built-in), record
//! how it ended, and decide whether it is tried again.

use crate::builtin::{self, Builtin};
use crate::exec;
use crate::job::RunStatus;
use crate::owner;
use crate::retry::retry_delay;
use crate::settings::Settings;
use crate::store::jobs::{self, Job};
use crate::store::runs::{self, Claim, Outcome, Run, RunningRun};
use crate::store::sql::Conn;
use crate::store::Store;
use crate::time::{format_time, Clock, Timestamp};
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

/// How often a runner makes sure, while its job runs, that it still holds the run.
pub const CLAIM_CHECK_EVERY: Duration = Duration::from_secs(10);

/// Executes `run`, which `claim` holds and which has been started, and records the
/// result. `foreground` is run-job's way: the command's output is copied to this
/// process's stdout and stderr, and a shutdown request (Ctrl-C) stops the job at once and
/// counts as its failure.
pub fn carry_out(
    store: &mut Store,
    run: &Run,
    claim: &Claim,
    job: Option<&Job>,
    settings: &Settings,
    clock: &Clock,
    foreground: bool,
) -> Result<Ending> {
    let outcome = match job {
        None => failure(format!("job '{}' no longer exists", run.job), None),
        Some(job) => execute(store, run, claim, job, settings, clock, foreground),
    };
    let now = clock.now();
    store.write(|tx| settle(tx, run, claim, &outcome, now))
}

/// Records how an attempt ended, retrying a failure while attempts remain. Nothing is
/// recorded when `claim` no longer holds the run.
pub fn settle(
    tx: &dyn Conn,
    run: &Run,
    claim: &Claim,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<Ending> {
    let lost = || {
        Ending::Abandoned(
            "its claim was taken back (the run was judged stale); this result was not recorded"
                .to_string(),
        )
    };
    let reason = outcome.error.clone().unwrap_or_default();
    if outcome.interrupted && run.interruptions + 1 < MAX_INTERRUPTIONS {
        return Ok(if runs::interrupt(tx, claim, outcome, now)? {
            Ending::Requeued(reason)
        } else {
            lost()
        });
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
    let retry_at = (outcome.status == RunStatus::Failed && run.attempt < run.max_attempts)
        .then(|| now + retry_delay(run.id, run.attempt));
    if !runs::finish(tx, claim, outcome, retry_at, now)? {
        return Ok(lost());
    }
    if retry_at.is_none() {
        jobs::record_last_result(
            tx,
            &run.job,
            outcome.status.as_str(),
            now,
            run.host.as_deref(),
        )?;
    }
    Ok(match (outcome.status, retry_at) {
        (RunStatus::Success, _) => Ending::Succeeded,
        (_, Some(retry_at)) => Ending::WillRetry { reason, retry_at },
        _ => Ending::Failed(reason),
    })
}

/// Ends a running run that is given up on (its owner is dead, or declared dead): the
/// attempt counts as failed with `reason`, retried if attempts remain. Fenced by the
/// claim recovery read; `None` when the run is gone.
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

/// Logs how a run ended (anything but success as a warning, so cron mails it); returns
/// whether it counts as a success for the exit code (a run queued again by a shutdown does).
pub fn report(run: &Run, ending: &Ending) -> bool {
    let succeeded = matches!(ending, Ending::Succeeded | Ending::Requeued(_));
    if *ending == Ending::Succeeded {
        log::info!("{}", describe(run, ending));
    } else {
        log::warn!("{}", describe(run, ending));
    }
    succeeded
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

fn execute(
    store: &mut Store,
    run: &Run,
    claim: &Claim,
    job: &Job,
    settings: &Settings,
    clock: &Clock,
    foreground: bool,
) -> Outcome {
    let timeout = Duration::from_secs(job.timeout.unwrap_or(settings.job_timeout).max(1) as u64);
    let started = Instant::now();
    if let Some(name) = &job.builtin {
        let result = Builtin::from_name(name)
            .map_err(anyhow::Error::msg)
            .and_then(|b| builtin::run(b, store, clock.now(), settings));
        let duration_ms = started.elapsed().as_millis() as i64;
        return match result {
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
    }
    let Some(command) = job.command.as_deref() else {
        return failure(
            format!("job '{}' has neither a command nor a built-in", job.name),
            None,
        );
    };
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
            every: CLAIM_CHECK_EVERY,
            check: Box::new(claim_watch(store, claim, settings, clock)),
        }),
    };
    let running = match exec::spawn(spec) {
        Ok(running) => running,
        Err(e) => return failure(format!("cannot start /bin/sh: {e}"), None),
    };
    let pgid = running.pgid();
    let leader_started = owner::process_start_time(pgid);
    match store.write(|tx| runs::set_group(tx, claim, pgid, leader_started)) {
        Ok(true) => {}
        // Taken back between the start and now: the supervisor's first look at the claim
        // stops the job.
        Ok(false) => log::warn!("run {}: its claim was taken back as it started", run.id),
        // The job runs on; recovery can still find it by its environment.
        Err(e) => log::warn!("run {}: cannot record its process group: {e:#}", run.id),
    }
    let finished = running.wait();
    Outcome {
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
    }
}

/// What a runner asks every `CLAIM_CHECK_EVERY` while its job runs: does its claim still
/// hold? An answer renews its host's sign of life (several hosts), so the host of a
/// running job is never silent. A database that cannot answer for a moment is no proof
/// the claim is gone, but under the opt-in presumption (`presume_dead_hosts`) another
/// host may take the run over once this host has been silent for `host_silence`: the
/// runner stops its job when it has been out of touch for half of that, so the job is
/// gone before another host may start it.
fn claim_watch<'a>(
    store: &'a Store,
    claim: &'a Claim,
    settings: &Settings,
    clock: &'a Clock,
) -> impl FnMut() -> bool + 'a {
    let out_of_touch_limit = settings
        .presumed_dead_after()
        .map(|silence| Duration::from_secs((silence / 2).max(0) as u64));
    let mut in_touch = Instant::now();
    move || match runs::still_held(store.conn(), claim) {
        Ok(held) => {
            in_touch = Instant::now();
            let renewed = store.note_host(clock.now(), 0);
            if let Err(e) = renewed {
                log::warn!(
                    "run {}: cannot renew this host's sign of life: {e:#}",
                    claim.run
                );
            }
            held
        }
        Err(e) => match out_of_touch_limit {
            Some(limit) if in_touch.elapsed() >= limit => {
                log::warn!(
                    "run {}: out of touch with the database for {} s ({e:#}); stopping the \
                     job before another host may presume this one dead and start it",
                    claim.run,
                    in_touch.elapsed().as_secs()
                );
                false
            }
            _ => true,
        },
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
