//! Who this process is, in terms that survive it: host, boot, pid and start time. A run
//! records its owner when claimed, so a later pass can prove the owner gone (design §5).
//!
//! The host is named by `CRONQ_HOST_ID`, else by the machine id (`/etc/machine-id`), not
//! by the host name: two containers with one host name must not look like one host, whose
//! processes each could then judge dead.

use crate::recover::Liveness;
use crate::store::runs::{Owner, RunningRun};
use std::fs;
use std::sync::OnceLock;

/// This process as an owner, read once. Fields that cannot be read are empty or 0, which
/// later recovery treats as "cannot prove anything".
pub fn this_process() -> Owner {
    static ME: OnceLock<Owner> = OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id() as i64;
        Owner {
            host: host_id(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            pid,
            started: process_start_time(pid).unwrap_or(0),
        }
    })
    .clone()
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat). With
/// the boot id it tells a live process from a new one that reused its pid.
pub fn process_start_time(pid: i64) -> Option<i64> {
    stat_field(pid, START_TIME)
}

/// The parent of `pid` (field 4 of /proc/PID/stat).
fn parent_of(pid: i64) -> Option<i64> {
    stat_field(pid, PARENT)
}

/// The fields of /proc/PID/stat that cronq reads, numbered as proc(5) numbers them.
const PARENT: usize = 4;
const START_TIME: usize = 22;

/// Numeric field `field` of /proc/PID/stat.
fn stat_field(pid: i64, field: usize) -> Option<i64> {
    // One read into a buffer that holds any stat line (52 numbers and a name of at most
    // 64 bytes): `read_to_string` asks the size first and reads in small steps, seven
    // system calls for a file that has no size, once for every run a pass starts.
    let mut file = fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() {
        match std::io::Read::read(&mut file, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
        // The line ends with a newline: no need to ask again for the end of the file.
        if buf[..len].ends_with(b"\n") {
            break;
        }
    }
    parse_field(std::str::from_utf8(&buf[..len]).ok()?, field)
}

/// The start time `process_start_time` reads for a process that began between two
/// readings of the boot clock (`time::boot_clock_ns`, before and after the spawn), when
/// it can be told without reading /proc: the kernel stamps a new process with the boot
/// clock, and /proc shows that stamp in whole clock ticks, so when both readings fall in
/// one tick, that tick is the start time. `None` when they straddle a tick's end (about
/// one spawn in a hundred), or a tick is no whole number of nanoseconds; the caller then
/// reads /proc. It saves a run's start an open and a read of /proc: in a drain of short
/// runs, about a tenth of the pass's own CPU time.
pub fn start_time_between(before: Option<i64>, after: Option<i64>) -> Option<i64> {
    let per_tick = nanoseconds_per_tick()?;
    let (before, after) = (before?, after?);
    (before <= after && before / per_tick == after / per_tick).then_some(before / per_tick)
}

/// The length of /proc's clock tick (`sysconf(_SC_CLK_TCK)`, 100 a second on Linux), if
/// it is a whole number of nanoseconds, as the kernel's plain division then is exact.
fn nanoseconds_per_tick() -> Option<i64> {
    static PER_TICK: OnceLock<Option<i64>> = OnceLock::new();
    *PER_TICK.get_or_init(|| {
        // SAFETY: sysconf reads a system constant and has no memory effects.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as i64;
        (ticks > 0 && 1_000_000_000 % ticks == 0).then(|| 1_000_000_000 / ticks)
    })
}

/// Numeric field `field` (from 3 on) of a /proc/PID/stat line.
fn parse_field(stat: &str, field: usize) -> Option<i64> {
    // The command name (field 2) may contain spaces and parentheses: split after the last
    // ')'; the state (field 3) comes first after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name
        .split_whitespace()
        .nth(field.checked_sub(3)?)?
        .parse()
        .ok()
}

/// Whether process group `pgid` still has members, and is still the job's: while any
/// member lives, Linux does not hand its number to a new process, so a live leader with
/// another start time means the old group is gone and the number was reused.
pub fn group_alive(pgid: i64, leader_started: Option<i64>) -> bool {
    if !crate::exec::signal_group(pgid as i32, 0) {
        return false;
    }
    match (process_start_time(pgid), leader_started) {
        (Some(now), Some(then)) => now == then,
        _ => true,
    }
}

/// Processes whose environment says they belong to `run`'s attempt (`CRONQ_RUN_ID`,
/// `CRONQ_JOB` and `CRONQ_ATTEMPT` all match: another database on this machine may have a
/// run of the same number running). Only used when the job's process group was not
/// recorded: its runner died or stopped in the job's first moments (`run::RECORD_GROUP_AFTER`),
/// or the database lost the record.
pub fn processes_of_run(run: &RunningRun) -> impl Iterator<Item = i64> {
    let wanted = [
        format!("CRONQ_RUN_ID={}", run.id),
        format!("CRONQ_JOB={}", run.job),
        format!("CRONQ_ATTEMPT={}", run.claim.attempt),
    ];
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(move |pid| {
            fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                wanted.iter().all(|w| vars.contains(&w.as_bytes()))
            })
        })
}

/// Kills what is left of `run`'s job on this host: its recorded process group, or, when
/// none was recorded, the group its runner started, which is named for sure only while
/// the runner lives: its child whose environment names the run (`processes_of_run`) and
/// that leads a group of its own. A job found by its environment alone may be another
/// database's run of the same number, job and attempt, and is never killed
/// (`recover::judge` leaves such a run). Never the caller's own group.
pub fn kill_job(run: &RunningRun) {
    if let Some(pgid) = run.pgid {
        crate::exec::signal_group(pgid as i32, libc::SIGKILL);
        return;
    }
    let Some(runner) = run.owner_pid else {
        return;
    };
    // SAFETY: getpgid has no memory effects; a pid that is gone yields -1.
    let own = unsafe { libc::getpgid(0) };
    for pid in processes_of_run(run) {
        let Ok(leader) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: as above.
        let group = unsafe { libc::getpgid(leader) };
        if group == leader && group != own && parent_of(pid) == Some(runner) {
            crate::exec::signal_group(group, libc::SIGKILL);
        }
    }
}

/// `CRONQ_HOST_ID`, else `/etc/machine-id`, else the host name.
pub fn host_id() -> String {
    std::env::var("CRONQ_HOST_ID")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .or_else(|| Some(read_trimmed("/etc/machine-id")).filter(|id| !id.is_empty()))
        .unwrap_or_else(|| read_trimmed("/proc/sys/kernel/hostname"))
}

/// What this host's operating system says about `run`'s owner and job: the facts
/// recovery judges by.
pub fn liveness(run: &RunningRun, here: &Owner) -> Liveness {
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
        (Some(pid), Some(started)) => process_start_time(pid) == Some(started),
        _ => false,
    };
    let job_alive = match run.pgid {
        Some(pgid) => group_alive(pgid, run.pgid_started),
        // Started but its group not recorded: the runner died in the job's first moments,
        // or the database lost the record. Look for the job's processes by their
        // environment.
        None => run.started_at.is_some() && processes_of_run(run).next().is_some(),
    };
    Liveness {
        same_boot,
        rebooted: false,
        owner_alive,
        job_alive,
    }
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {

    #[test]
    fn stat_fields_are_read_after_a_name_with_spaces_and_parentheses() {
        let fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        let stat = format!("4242 (a) b (c)) S {}\n", fields[1..].join(" "));
        // Field 22 is the 20th after the state (field 3).
        assert_eq!(parse_field(&stat, START_TIME), Some(22));
        assert_eq!(parse_field(&stat, PARENT), Some(4));
        assert_eq!(parse_field("4242 (no end", START_TIME), None);
    }

    use super::*;
    use crate::store::runs::Claim;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn unrecorded(id: i64, job: &str, attempt: i64) -> RunningRun {
        RunningRun {
            id,
            job: job.to_string(),
            claimed_at: Some(1),
            started_at: Some(1),
            started_boot: Some(1),
            timeout: 1,
            owner_host: None,
            owner_boot_id: None,
            owner_pid: None,
            owner_started: None,
            pgid: None,
            pgid_started: None,
            claim: Claim {
                run: id,
                token: 1,
                attempt,
            },
            stop_requested: None,
        }
    }

    #[test]
    fn a_job_whose_group_was_never_recorded_is_killed_only_as_its_runners_child() {
        // A number no other test's job has. This test process stands for the runner.
        let id = 900_000_000 + i64::from(std::process::id());
        let job = |name: &str, attempt: &str| {
            Command::new("sh")
                .args(["-c", "sleep 60 & wait"])
                .env("CRONQ_RUN_ID", id.to_string())
                .env("CRONQ_JOB", name)
                .env("CRONQ_ATTEMPT", attempt)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut ours = job("nightly", "2");
        let others = [job("hourly", "2"), job("nightly", "1")];
        let run = RunningRun {
            owner_pid: Some(i64::from(std::process::id())),
            ..unrecorded(id, "nightly", 2)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while processes_of_run(&run).count() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the job's sleep never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Found by its environment, but not the child of the run's runner: left alone.
        kill_job(&RunningRun {
            owner_pid: Some(1),
            ..run.clone()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            ours.try_wait().unwrap().is_none(),
            "a job not named for sure was killed"
        );

        kill_job(&run);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let ended = loop {
            if let Some(ended) = ours.try_wait().unwrap() {
                break ended;
            }
            if std::time::Instant::now() > deadline {
                ours.kill().unwrap();
                panic!("the job was not killed");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(ended.signal(), Some(libc::SIGKILL));
        for mut other in others {
            assert!(
                other.try_wait().unwrap().is_none(),
                "another run's job was killed"
            );
            other.kill().unwrap();
            other.wait().unwrap();
        }
        // Its sleep, in the same group, is gone too.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while processes_of_run(&run).next().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "a process of the job lives on"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_start_time_told_from_the_boot_clock_is_the_one_proc_shows() {
        let mut told = 0;
        for _ in 0..300 {
            let before = crate::time::boot_clock_ns();
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let after = crate::time::boot_clock_ns();
            // Read while the child is not yet reaped: a zombie keeps its stat.
            let shown = process_start_time(child.id() as i64);
            if let Some(start) = start_time_between(before, after) {
                assert_eq!(Some(start), shown);
                told += 1;
            }
            child.wait().unwrap();
        }
        // Most spawns fall within one tick (a straddle is left to /proc), even on a busy
        // machine where a spawn takes milliseconds.
        assert!(told > 30, "told {told} of 300");
    }

    #[test]
    fn readings_in_two_ticks_or_out_of_order_tell_nothing() {
        let tick = nanoseconds_per_tick().unwrap();
        assert_eq!(
            start_time_between(Some(5 * tick), Some(5 * tick + 1)),
            Some(5)
        );
        assert_eq!(start_time_between(Some(6 * tick - 1), Some(6 * tick)), None);
        assert_eq!(
            start_time_between(Some(5 * tick + 2), Some(5 * tick + 1)),
            None
        );
        assert_eq!(start_time_between(None, Some(5 * tick)), None);
    }

    #[test]
    fn this_process_has_a_start_time() {
        let me = this_process();
        assert_eq!(me.pid, std::process::id() as i64);
        assert!(me.started > 0);
        assert_eq!(process_start_time(me.pid), Some(me.started));
    }
}
