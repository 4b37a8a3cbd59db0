//! Finding runs whose owner died (crash, kill -9, reboot) and deciding what becomes of
//! them (design §5). `judge` is pure; `probe` asks the operating system.
//!
//! A run is stale only when it provably is: its owner is gone on this host and boot, and
//! so is the job's process group (a job orphaned by a killed runner keeps its run until
//! it ends, so it is never started twice at once); or it has been running for longer than
//! its timeout plus a grace, whoever owns it.

use crate::owner;
use crate::time::Timestamp;

/// Beyond a run's timeout (and the kill grace), how long before any pass calls it stale.
pub const STALE_GRACE: i64 = 60;

/// A running run as recovery sees it.
#[derive(Clone, Debug)]
pub struct RunningRun {
    pub id: i64,
    pub job: String,
    pub claimed_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub timeout: i64,
    pub owner_host: Option<String>,
    pub owner_boot_id: Option<String>,
    pub owner_pid: Option<i64>,
    pub owner_started: Option<i64>,
    pub pgid: Option<i64>,
    pub pgid_started: Option<i64>,
}

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

pub fn judge(run: &RunningRun, live: &Liveness, now: Timestamp) -> Decision {
    let since = run.started_at.or(run.claimed_at).unwrap_or(now);
    let deadline = since + run.timeout + crate::exec::KILL_GRACE.as_secs() as i64 + STALE_GRACE;
    let overdue = now > deadline;
    let owner = run
        .owner_pid
        .map_or_else(|| "?".to_string(), |p| p.to_string());
    if live.rebooted {
        return gone(run, "the machine rebooted while it was running".to_string());
    }
    if !live.same_boot {
        return if overdue {
            Decision::Fail {
                reason: format!(
                    "still running {} s past its timeout on host {} (cannot be checked from here)",
                    now - since - run.timeout,
                    run.owner_host.as_deref().unwrap_or("?")
                ),
                kill: false,
            }
        } else {
            Decision::Leave
        };
    }
    if overdue && (live.owner_alive || live.job_alive) {
        return Decision::Fail {
            reason: format!(
                "still running {} s past its timeout of {} s; killed",
                now - since - run.timeout,
                run.timeout
            ),
            kill: true,
        };
    }
    if live.owner_alive || live.job_alive {
        return Decision::Leave;
    }
    gone(
        run,
        format!("its runner (pid {owner}) died: crash, kill -9 or power loss"),
    )
}

fn gone(run: &RunningRun, reason: String) -> Decision {
    if run.started_at.is_none() {
        Decision::Requeue(format!("claimed but never started: {reason}"))
    } else {
        Decision::Fail {
            reason,
            kill: false,
        }
    }
}

/// Asks the operating system about `run`'s owner and job.
pub fn probe(run: &RunningRun, here: &crate::store::runs::Owner) -> Liveness {
    let same_host = run.owner_host.as_deref() == Some(here.host.as_str());
    let same_boot = same_host
        && !here.boot_id.is_empty()
        && run.owner_boot_id.as_deref() == Some(here.boot_id.as_str());
    if !same_boot {
        return Liveness {
            same_boot,
            rebooted: same_host
                && !here.boot_id.is_empty()
                && run.owner_boot_id.as_deref().is_some_and(|b| !b.is_empty()),
            owner_alive: false,
            job_alive: false,
        };
    }
    let owner_alive = match (run.owner_pid, run.owner_started) {
        (Some(pid), Some(started)) => owner::process_start_time(pid) == Some(started),
        _ => false,
    };
    let job_alive = match run.pgid {
        Some(pgid) => owner::group_alive(pgid, run.pgid_started),
        // Started but its group never recorded: the runner died right after spawning.
        // Look for the job's processes by the run id in their environment.
        None => run.started_at.is_some() && owner::processes_of_run(run.id).next().is_some(),
    };
    Liveness {
        same_boot,
        rebooted: false,
        owner_alive,
        job_alive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(started: Option<Timestamp>) -> RunningRun {
        RunningRun {
            id: 7,
            job: "j".into(),
            claimed_at: Some(1000),
            started_at: started,
            timeout: 600,
            owner_host: Some("h".into()),
            owner_boot_id: Some("b".into()),
            owner_pid: Some(42),
            owner_started: Some(1),
            pgid: started.map(|_| 43),
            pgid_started: Some(2),
        }
    }

    const HERE: Liveness = Liveness {
        same_boot: true,
        rebooted: false,
        owner_alive: false,
        job_alive: false,
    };

    #[test]
    fn a_dead_owner_with_a_dead_job_fails_the_attempt() {
        let d = judge(&run(Some(1000)), &HERE, 1100);
        assert!(
            matches!(d, Decision::Fail { kill: false, ref reason } if reason.contains("pid 42) died")),
            "{d:?}"
        );
    }

    #[test]
    fn a_run_never_started_goes_back_to_the_queue() {
        assert!(matches!(
            judge(&run(None), &HERE, 1100),
            Decision::Requeue(_)
        ));
    }

    #[test]
    fn an_orphaned_job_still_running_is_left_alone_until_overdue() {
        let live = Liveness {
            job_alive: true,
            ..HERE
        };
        assert_eq!(judge(&run(Some(1000)), &live, 1500), Decision::Leave);
        let late = 1000 + 600 + 5 + STALE_GRACE + 1;
        assert!(matches!(
            judge(&run(Some(1000)), &live, late),
            Decision::Fail { kill: true, .. }
        ));
    }

    #[test]
    fn a_live_owner_is_left_alone() {
        let live = Liveness {
            owner_alive: true,
            ..HERE
        };
        assert_eq!(judge(&run(Some(1000)), &live, 1200), Decision::Leave);
    }

    #[test]
    fn another_host_is_judged_by_the_timeout_only() {
        let elsewhere = Liveness {
            same_boot: false,
            ..HERE
        };
        assert_eq!(judge(&run(Some(1000)), &elsewhere, 1200), Decision::Leave);
        assert!(matches!(
            judge(&run(Some(1000)), &elsewhere, 9999),
            Decision::Fail { kill: false, .. }
        ));
    }

    #[test]
    fn a_reboot_ends_every_run_of_the_previous_boot() {
        let rebooted = Liveness {
            same_boot: false,
            rebooted: true,
            ..HERE
        };
        assert!(matches!(
            judge(&run(Some(1000)), &rebooted, 1001),
            Decision::Fail { kill: false, .. }
        ));
        assert!(matches!(
            judge(&run(None), &rebooted, 1001),
            Decision::Requeue(_)
        ));
    }
}
