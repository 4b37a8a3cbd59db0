//! Instants as cronq stores them (Unix seconds, UTC), how they are written (RFC 3339,
//! `2026-11-23T09:00:00Z`), and the clock, which `--now` can pin.

use chrono::{DateTime, SecondsFormat, Utc};

/// Seconds since the Unix epoch, UTC. Slots are whole minutes.
pub type Timestamp = i64;

/// Parses an RFC 3339 time (`2026-11-23T09:00:00Z`, `2026-11-23T10:00:00+01:00`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp())
        .map_err(|e| format!("'{text}' is not an RFC 3339 time like 2026-11-23T09:00:00Z ({e})"))
}

/// Writes an instant as RFC 3339 UTC with a `Z`.
pub fn format_time(t: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("@{t}"))
}

/// The first whole minute after `t`: when a schedule that could not be read is tried again.
pub fn next_minute(t: Timestamp) -> Timestamp {
    (t.div_euclid(60) + 1) * 60
}

/// `3h05m`, `12m`, `45s`: a lateness an operator reads at a glance.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The source of "now" for every scheduling decision.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pinned: Option<Timestamp>,
}

/// Seconds to add to this machine's clock to read the database server's: set when a
/// PostgreSQL database is opened, so that every host of one database decides by one clock
/// and a host whose clock is wrong can neither plan a slot early nor judge a run late.
static SERVER_OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Reads the wall clock as the database server's from now on (`server_now` was read
/// from it just now).
pub fn follow_server_clock(server_now: Timestamp) {
    let offset = server_now - Utc::now().timestamp();
    SERVER_OFFSET.store(offset, std::sync::atomic::Ordering::Relaxed);
}

impl Clock {
    /// A clock pinned to `now` when given (`--now`, `CRONQ_NOW`), else the system clock.
    pub fn new(now: Option<Timestamp>) -> Clock {
        Clock { pinned: now }
    }

    /// The pinned time, if any (passed on to child processes).
    pub fn pinned(&self) -> Option<Timestamp> {
        self.pinned
    }

    /// The pinned time, else the wall clock (the database server's, for PostgreSQL).
    pub fn now(&self) -> Timestamp {
        self.pinned.unwrap_or_else(|| {
            Utc::now().timestamp() + SERVER_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
        })
    }
}

/// Seconds since this machine booted, counting time asleep (CLOCK_BOOTTIME). Unlike the
/// wall clock it never steps (NTP, a resumed VM, an operator's `date -s`), so it measures how
/// long a run has been going on this boot. `--now` does not move it: `--now` stands for
/// the wall clock, steps included.
pub fn since_boot() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a pointer valid for the call.
    // CLOCK_BOOTTIME exists on every Linux since 2.6.39; should it fail, 0 makes every
    // elapsed time on this boot look short, the safe side (nothing is judged stale by it).
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339_in_utc() {
        let t = parse_time("2026-11-23T10:00:00+01:00").unwrap();
        assert_eq!(format_time(t), "2026-11-23T09:00:00Z");
        assert!(parse_time("2026-11-23 09:00")
            .unwrap_err()
            .contains("RFC 3339"));
    }

    #[test]
    fn the_boot_clock_moves_forward() {
        let a = since_boot();
        assert!(a > 0);
        assert!(since_boot() >= a);
    }
}
