//! Who this process is, in terms that survive it: host, boot, pid and start time. A run
//! records its owner when claimed, so a later pass can prove the owner gone (design §5).

use crate::store::runs::Owner;
use std::fs;

/// This process as an owner. Fields that cannot be read are empty or 0, which later
/// recovery treats as "cannot prove anything".
pub fn this_process() -> Owner {
    let pid = std::process::id() as i64;
    Owner {
        host: read_trimmed("/proc/sys/kernel/hostname"),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
        pid,
        started: process_start_time(pid).unwrap_or(0),
    }
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat). With
/// the boot id it tells a live process from a new one that reused its pid.
pub fn process_start_time(pid: i64) -> Option<i64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time() {
        let me = this_process();
        assert_eq!(me.pid, std::process::id() as i64);
        assert!(me.started > 0);
        assert_eq!(process_start_time(me.pid), Some(me.started));
    }
}
