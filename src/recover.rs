//! Deciding what becomes of a running run whose owner may have died (crash, kill -9,
//! reboot, a host gone silent) (design §5). Pure: the facts come in as data — the run's
//! row (`store::runs::RunningRun`), what this host's operating system says of its
//! processes (`owner::liveness`), what the database says of its host (`Elsewhere`) — and a
//! decision goes out.
//!
//! A run is stale only when it provably is: its owner is gone on this host and boot, and
//! so is the job's process group (a job orphaned by a killed runner keeps its run until
//! it ends, so it is never started twice at once); or it has been running for longer than
//! its timeout plus a grace. On its own boot, how long a run has been running is read on
//! the boot clock, which never steps: a wall clock stepped forward does not make a healthy
//! job look overdue. A run that was claimed but has not started has no timeout yet.
//!
//! A run an operator asked to stop (`cronq stop`) is stopped by its runner. When the
//! runner is gone, recovery carries the request out: the run is never put back in the
//! queue, an orphaned job of this host is killed rather than waited for, and the attempt
//! is recorded as the last (`run::settle` sees the request).

use crate::settings::Settings;
pub use crate::store::runs::RunningRun;
use crate::store::Host;
use crate::time::{human_duration, Timestamp};

/// Beyond a run's timeout (and the kill grace), how long before a pass calls it stale
/// when its age is read on the wall clock (a run from before the boot clock was
/// recorded): room for a clock that stepped.
pub const STALE_GRACE: i64 = 60;

/// A host silent this long has its runs flagged by `cronq status`.
pub const HOST_SILENT_AFTER: i64 = 180;

/// The same, when its age is read on this boot's clock: room only for a runner that is
/// slow to record a result after it killed its job.
pub const BOOT_CLOCK_GRACE: i64 = 10;

/// What the operating system says about a run's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// Same host and boot as this process: the other facts can be trusted.
    pub same_boot: bool,
    /// The machine was rebooted since the run was claimed (same host, other boot id).
    pub rebooted: bool,
    pub owner_alive: bool,
    pub job_alive: bool,
}

/// The two clocks a judgement reads: the wall clock (or `--now`), and the boot clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub wall: Timestamp,
    pub since_boot: i64,
}

/// What the database says of the owner's host, for a run of another host: the host's row
/// (if it ever passed on this database), and the operator's opt-in presumption.
#[derive(Clone, Copy, Debug, Default)]
pub struct Elsewhere<'a> {
    pub host: Option<&'a Host>,
    /// `presume_dead_hosts`: a host silent this long is presumed dead.
    pub presume_dead_after: Option<i64>,
}

impl<'a> Elsewhere<'a> {
    /// What `hosts` (the database's) and `settings` say of the host that owns `run`.
    pub fn of(run: &RunningRun, hosts: &'a [Host], settings: &Settings) -> Elsewhere<'a> {
        Elsewhere {
            host: hosts
                .iter()
                .find(|h| Some(&h.id) == run.owner_host.as_ref()),
            presume_dead_after: settings.presumed_dead_after(),
        }
    }
}

/// What to do with a running run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It is, or may be, still running.
    Leave,
    /// It was claimed but never started: back to pending, no attempt used.
    Requeue(String),
    /// It counts as a failed attempt (retried if attempts remain). With `kill`, its process
    /// group is killed first.
    Fail { reason: String, kill: bool },
}

/// How long a started run has been running, and the grace that goes with the clock it
/// was read on.
fn age(run: &RunningRun, live: &Liveness, now: Now) -> Option<(i64, i64)> {
    let started_at = run.started_at?;
    Some(match run.started_boot {
        Some(started) if live.same_boot => (now.since_boot - started, BOOT_CLOCK_GRACE),
        _ => (now.wall - started_at, STALE_GRACE),
    })
}

/// Decides what becomes of a running run. On its own host, liveness is proven by the
/// operating system; of another host's run nothing is known but what that host wrote, so
/// it is taken over only on proof (its host came back on another boot) or by the
/// operator's presumption after a silence — never because of time alone.
pub fn judge(run: &RunningRun, live: &Liveness, elsewhere: &Elsewhere, now: Now) -> Decision {
    let kill_grace = crate::exec::KILL_GRACE.as_secs() as i64;
    // How far past its timeout a started run is, once that is beyond the graces.
    let overdue = age(run, live, now).and_then(|(age, grace)| {
        let late = age - run.timeout;
        (late > kill_grace + grace).then_some(late)
    });
    let owner = run
        .owner_pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    if live.rebooted {
        return gone(run, "the machine rebooted while it was running".to_string());
    }
    if !live.same_boot {
        return judge_elsewhere(run, elsewhere, now);
    }
    let alive = live.owner_alive || live.job_alive;
    if run.stop_requested.is_some() && !live.owner_alive && live.job_alive && run.pgid.is_some() {
        // Nobody watches the job for the operator's request: carry it out here.
        return Decision::Fail {
            reason: format!(
                "its runner (pid {owner}) died while its job ran on; the job was killed"
            ),
            kill: true,
        };
    }
    // A job whose group was never recorded can be killed only while its runner lives
    // (`owner::kill_job`); found by its environment alone, it is waited for.
    let killable = run.pgid.is_some() || live.owner_alive;
    match overdue {
        Some(late) if alive && killable => Decision::Fail {
            reason: format!(
                "still running {late} s past its timeout of {} s; killed",
                run.timeout
            ),
            kill: true,
        },
        _ if alive => Decision::Leave,
        _ => gone(
            run,
            format!("its runner (pid {owner}) died: crash, kill -9 or power loss"),
        ),
    }
}

fn judge_elsewhere(run: &RunningRun, elsewhere: &Elsewhere, now: Now) -> Decision {
    let name = run.owner_host.as_deref().unwrap_or("?");
    let Some(host) = elsewhere.host else {
        return Decision::Leave;
    };
    if run
        .owner_boot_id
        .as_deref()
        .is_some_and(|boot| !boot.is_empty() && boot != host.boot_id)
    {
        return gone(
            run,
            format!("its host {name} rebooted while it was running (its boot changed)"),
        );
    }
    let silent = now.wall - host.last_seen;
    match elsewhere.presume_dead_after {
        Some(limit) if silent > limit => gone(
            run,
            format!(
                "its host {name} was silent for {}: presumed dead (presume_dead_hosts)",
                human_duration(silent)
            ),
        ),
        _ => Decision::Leave,
    }
}

/// Why `cronq status` flags a run that recovery leaves: it belongs to another host that
/// has been silent (or never said a word on this database), so only the operator can
/// tell whether it still runs.
pub fn flag(run: &RunningRun, live: &Liveness, elsewhere: &Elsewhere, now: Now) -> Option<String> {
    if live.same_boot || live.rebooted {
        return None;
    }
    let name = run.owner_host.as_deref().unwrap_or("?");
    match elsewhere.host {
        None => Some(format!("its host {name} has never passed on this database")),
        Some(host) if now.wall - host.last_seen > HOST_SILENT_AFTER => Some(format!(
            "its host {name} has been silent for {}",
            human_duration(now.wall - host.last_seen)
        )),
        Some(_) => None,
    }
}

fn gone(run: &RunningRun, reason: String) -> Decision {
    // A run an operator asked to stop is not queued again, started or not.
    if run.started_at.is_none() && run.stop_requested.is_none() {
        Decision::Requeue(format!("claimed but never started: {reason}"))
    } else {
        Decision::Fail {
            reason,
            kill: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::runs::Claim;

    /// Claimed at wall time 1000, started then (boot clock 500) when `started`.
    fn run(started: bool) -> RunningRun {
        RunningRun {
            id: 7,
            job: "j".into(),
            claimed_at: Some(1000),
            started_at: started.then_some(1000),
            started_boot: started.then_some(500),
            timeout: 600,
            owner_host: Some("h".into()),
            owner_boot_id: Some("b".into()),
            owner_pid: Some(42),
            owner_started: Some(1),
            pgid: started.then_some(43),
            pgid_started: Some(2),
            claim: Claim {
                run: 7,
                token: 1,
                attempt: 1,
            },
            stop_requested: None,
        }
    }

    /// `run(started)` that an operator asked to stop.
    fn stop_requested(started: bool) -> RunningRun {
        RunningRun {
            stop_requested: Some(1010),
            ..run(started)
        }
    }

    /// `seconds` after the start, on both clocks.
    fn after(seconds: i64) -> Now {
        Now {
            wall: 1000 + seconds,
            since_boot: 500 + seconds,
        }
    }

    const HERE: Liveness = Liveness {
        same_boot: true,
        rebooted: false,
        owner_alive: false,
        job_alive: false,
    };

    const ALIVE: Liveness = Liveness {
        owner_alive: true,
        ..HERE
    };

    /// Just past the timeout, the kill grace and the boot-clock grace.
    const OVERDUE: i64 = 600 + 5 + BOOT_CLOCK_GRACE + 1;

    #[test]
    fn a_dead_owner_with_a_dead_job_fails_the_attempt() {
        let d = judge(&run(true), &HERE, &Elsewhere::default(), after(100));
        assert!(
            matches!(d, Decision::Fail { kill: false, ref reason } if reason.contains("pid 42) died")),
            "{d:?}"
        );
    }

    #[test]
    fn a_run_never_started_goes_back_to_the_queue() {
        assert!(matches!(
            judge(&run(false), &HERE, &Elsewhere::default(), after(100)),
            Decision::Requeue(_)
        ));
    }

    #[test]
    fn an_orphaned_job_still_running_is_left_alone_until_overdue() {
        let live = Liveness {
            job_alive: true,
            ..HERE
        };
        assert_eq!(
            judge(&run(true), &live, &Elsewhere::default(), after(500)),
            Decision::Leave
        );
        assert!(matches!(
            judge(&run(true), &live, &Elsewhere::default(), after(OVERDUE)),
            Decision::Fail { kill: true, .. }
        ));
    }

    #[test]
    fn an_overdue_job_whose_group_was_never_recorded_is_killed_only_through_its_live_runner() {
        let unrecorded = RunningRun {
            pgid: None,
            pgid_started: None,
            ..run(true)
        };
        // Its runner lives (frozen, say): the job is its child, and can be named.
        assert!(matches!(
            judge(&unrecorded, &ALIVE, &Elsewhere::default(), after(OVERDUE)),
            Decision::Fail { kill: true, .. }
        ));
        // Its runner is dead and the job was found by its environment alone: it may be
        // another database's run, so it is waited for, not killed, and not run again.
        let orphan = Liveness {
            job_alive: true,
            ..HERE
        };
        assert_eq!(
            judge(&unrecorded, &orphan, &Elsewhere::default(), after(OVERDUE)),
            Decision::Leave
        );
    }

    #[test]
    fn a_live_owner_is_left_alone_until_overdue() {
        assert_eq!(
            judge(&run(true), &ALIVE, &Elsewhere::default(), after(200)),
            Decision::Leave
        );
        assert_eq!(
            judge(
                &run(true),
                &ALIVE,
                &Elsewhere::default(),
                after(OVERDUE - 1)
            ),
            Decision::Leave
        );
        assert!(matches!(
            judge(&run(true), &ALIVE, &Elsewhere::default(), after(OVERDUE)),
            Decision::Fail { kill: true, .. }
        ));
    }

    #[test]
    fn a_claimed_run_has_no_timeout_before_it_starts() {
        // Its claimer (a parallel pass about to start a child) is alive: however long ago
        // the claim was, nothing has run, so nothing can be past its timeout.
        assert_eq!(
            judge(&run(false), &ALIVE, &Elsewhere::default(), after(100_000)),
            Decision::Leave
        );
    }

    #[test]
    fn a_wall_clock_step_does_not_make_a_healthy_run_overdue() {
        // Two hours later on the wall clock, five minutes on the boot clock.
        let stepped = Now {
            wall: 1000 + 7200,
            since_boot: 500 + 300,
        };
        assert_eq!(
            judge(&run(true), &ALIVE, &Elsewhere::default(), stepped),
            Decision::Leave
        );
        // ...and a step backwards does not hide a run that is overdue.
        let back = Now {
            wall: 1000 - 7200,
            since_boot: 500 + OVERDUE,
        };
        assert!(matches!(
            judge(&run(true), &ALIVE, &Elsewhere::default(), back),
            Decision::Fail { kill: true, .. }
        ));
    }

    const THERE: Liveness = Liveness {
        same_boot: false,
        ..HERE
    };

    fn host(boot: &str, last_seen: i64) -> Host {
        Host {
            id: "h".into(),
            boot_id: boot.into(),
            last_seen,
            version: "0".into(),
        }
    }

    #[test]
    fn another_hosts_run_is_never_taken_over_because_of_time_alone() {
        let alive = host("b", 1000 + 100_000);
        let seen = Elsewhere {
            host: Some(&alive),
            presume_dead_after: None,
        };
        assert_eq!(
            judge(&run(true), &THERE, &seen, after(100_000)),
            Decision::Leave
        );
        // A host that never passed here, or one silent for a day: left, and flagged.
        let silent = host("b", 1000);
        let quiet = Elsewhere {
            host: Some(&silent),
            presume_dead_after: None,
        };
        assert_eq!(
            judge(&run(true), &THERE, &quiet, after(86_400)),
            Decision::Leave
        );
        assert!(flag(&run(true), &THERE, &quiet, after(86_400))
            .unwrap()
            .contains("silent for 1d00h"));
        assert!(flag(&run(true), &THERE, &Elsewhere::default(), after(5))
            .unwrap()
            .contains("never passed"));
        assert_eq!(flag(&run(true), &THERE, &seen, after(5)), None);
    }

    #[test]
    fn another_hosts_new_boot_proves_its_runs_gone() {
        let rebooted = host("new-boot", 1000 + 50);
        let seen = Elsewhere {
            host: Some(&rebooted),
            presume_dead_after: None,
        };
        assert!(matches!(
            judge(&run(true), &THERE, &seen, after(60)),
            Decision::Fail { kill: false, ref reason } if reason.contains("rebooted")
        ));
        assert!(matches!(
            judge(&run(false), &THERE, &seen, after(60)),
            Decision::Requeue(_)
        ));
    }

    #[test]
    fn a_silent_host_is_presumed_dead_only_when_the_operator_opted_in() {
        let silent = host("b", 1000);
        let opted_in = Elsewhere {
            host: Some(&silent),
            presume_dead_after: Some(600),
        };
        assert_eq!(
            judge(&run(true), &THERE, &opted_in, after(600)),
            Decision::Leave
        );
        assert!(matches!(
            judge(&run(true), &THERE, &opted_in, after(601)),
            Decision::Fail { kill: false, ref reason } if reason.contains("presumed dead")
        ));
    }

    #[test]
    fn a_stop_request_is_carried_out_when_the_runner_is_gone() {
        // The runner lives: it stops the job itself.
        assert_eq!(
            judge(
                &stop_requested(true),
                &ALIVE,
                &Elsewhere::default(),
                after(20)
            ),
            Decision::Leave
        );
        // An orphaned job is killed instead of waited for.
        let orphan = Liveness {
            job_alive: true,
            ..HERE
        };
        assert!(matches!(
            judge(&stop_requested(true), &orphan, &Elsewhere::default(), after(20)),
            Decision::Fail { kill: true, ref reason } if reason.contains("pid 42) died")
        ));
        // ...but only when its group is known: a job found by its environment alone is
        // waited for, as any orphan.
        let unknown_group = RunningRun {
            pgid: None,
            ..stop_requested(true)
        };
        assert_eq!(
            judge(&unknown_group, &orphan, &Elsewhere::default(), after(20)),
            Decision::Leave
        );
        // Owner and job gone: failed as usual (settle does not retry it).
        assert!(matches!(
            judge(
                &stop_requested(true),
                &HERE,
                &Elsewhere::default(),
                after(20)
            ),
            Decision::Fail { kill: false, .. }
        ));
        // Never started: not queued again, but ended.
        assert!(matches!(
            judge(&stop_requested(false), &HERE, &Elsewhere::default(), after(20)),
            Decision::Fail { kill: false, ref reason } if reason.contains("died")
        ));
        // Another host's run: left as any other, until that host is proven or presumed dead.
        let there = Liveness {
            same_boot: false,
            ..HERE
        };
        assert_eq!(
            judge(
                &stop_requested(true),
                &there,
                &Elsewhere::default(),
                after(20)
            ),
            Decision::Leave
        );
    }

    #[test]
    fn a_reboot_ends_every_run_of_the_previous_boot() {
        let rebooted = Liveness {
            same_boot: false,
            rebooted: true,
            ..HERE
        };
        assert!(matches!(
            judge(&run(true), &rebooted, &Elsewhere::default(), after(1)),
            Decision::Fail { kill: false, .. }
        ));
        assert!(matches!(
            judge(&run(false), &rebooted, &Elsewhere::default(), after(1)),
            Decision::Requeue(_)
        ));
    }
}
