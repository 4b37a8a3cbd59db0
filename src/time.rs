//! Instants as cronq stores them (Unix seconds, UTC), how they are written (RFC 3339,
//! `2026-11-23T09:00:00Z`), how people write and read them (`+5m`, `tomorrow 09:00`, `in 4
//! min`), and the clock, which `--now` can pin.

use crate::timetable::Zone;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};

/// Seconds since the Unix epoch, UTC. Slots are whole minutes.
pub type Timestamp = i64;

/// Parses an RFC 3339 time (`2026-11-23T09:00:00Z`, `2026-11-23T10:00:00+01:00`).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp())
        .map_err(|e| format!("'{text}' is not an RFC 3339 time like 2026-11-23T09:00:00Z ({e})"))
}

/// The forms `parse_when` accepts, as its error message lists them.
pub const TIME_FORMS: &str = "an RFC 3339 time like 2026-11-23T09:00:00Z, a time from now \
     (+5m, -1h, +2d; units s, m, h, d), a local date and time (2026-12-01 12:00), or \
     today or tomorrow at a local time (tomorrow 09:00)";

/// Parses a time as an operator writes it: RFC 3339; `+5m` or `-1h` from `now`; a date
/// and time on the local clock (`2026-12-01 12:00`, seconds optional); or `today`/
/// `tomorrow` and a local time (`tomorrow 09:00`). `zone` is the local zone (`None`:
/// UTC). Pure: the caller passes the clock and the zone.
pub fn parse_when(text: &str, now: Timestamp, zone: Option<&Zone>) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    let refuse = |why: &str| {
        format!(
            "'{}' is not a time{why}; give {TIME_FORMS}",
            crate::limits::shorten(text)
        )
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.timestamp());
    }
    if let Some(sign) = trimmed.chars().next().filter(|c| matches!(c, '+' | '-')) {
        let seconds = relative_seconds(&trimmed[1..]).ok_or_else(|| refuse(""))?;
        let seconds = if sign == '-' { -seconds } else { seconds };
        return now
            .checked_add(seconds)
            .filter(|&t| DateTime::<Utc>::from_timestamp(t, 0).is_some())
            .ok_or_else(|| refuse(" (too far)"));
    }
    let wall = match trimmed.split_once(' ').map(|(a, b)| (a, b.trim())) {
        Some((day @ ("today" | "tomorrow"), clock)) => {
            let time = parse_clock(clock).ok_or_else(|| refuse(""))?;
            let today = wall_time(now, zone).ok_or_else(|| refuse(""))?.date();
            let date = if day == "tomorrow" {
                today.succ_opt().ok_or_else(|| refuse(" (too far)"))?
            } else {
                today
            };
            date.and_time(time)
        }
        Some((date, clock)) => {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| refuse(""))?;
            date.and_time(parse_clock(clock).ok_or_else(|| refuse(""))?)
        }
        None => return Err(refuse("")),
    };
    match zone {
        None => Ok(wall.and_utc().timestamp()),
        Some(zone) => zone
            .instant_at(wall)
            .ok_or_else(|| refuse(" (that local time is skipped when the clocks go forward)")),
    }
}

/// `5m` as 300: a whole number and one unit, s, m, h or d.
fn relative_seconds(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<i64>().ok()?.checked_mul(per)
}

/// `09:00` or `09:00:30`.
fn parse_clock(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// The wall time at `t` in `zone` (`None`: UTC).
pub fn wall_time(t: Timestamp, zone: Option<&Zone>) -> Option<NaiveDateTime> {
    match zone {
        Some(zone) => zone.wall_time(t),
        None => Some(DateTime::<Utc>::from_timestamp(t, 0)?.naive_utc()),
    }
}

/// How far `t` is from `now`, as a person says it: `in 4 min`, `3 h ago`, `now`. Rounded
/// down to the largest unit that fits.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let d = t.saturating_sub(now);
    let s = d.unsigned_abs();
    let amount = match s {
        0 => return "now".to_string(),
        1..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    };
    if d > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `t` on the local clock for a person: `2026-11-23 10:04`. `short` leaves out what
/// `now` already says: the date when it is the same day (`10:04`), the year when it is the
/// same year (`11-24 10:04`).
pub fn local_clock(t: Timestamp, now: Timestamp, zone: Option<&Zone>, short: bool) -> String {
    let Some(wall) = wall_time(t, zone) else {
        return format_time(t);
    };
    let today = wall_time(now, zone).map(|w| w.date());
    if short && today == Some(wall.date()) {
        wall.format("%H:%M").to_string()
    } else if short
        && today.map(|d| d.format("%Y").to_string()) == Some(wall.format("%Y").to_string())
    {
        wall.format("%m-%d %H:%M").to_string()
    } else {
        wall.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// `t` for a person: `in 4 min (10:04)` in a table (`short`), `2026-11-23 10:04 (in 4
/// min)` in a field.
pub fn for_people(t: Timestamp, now: Timestamp, zone: Option<&Zone>, short: bool) -> String {
    if short {
        format!("{} ({})", relative(t, now), local_clock(t, now, zone, true))
    } else {
        format!(
            "{} ({})",
            local_clock(t, now, zone, false),
            relative(t, now)
        )
    }
}

/// A run's duration for a person: `350 ms`, `4.2 s`, `3m`, `1h05m`.
pub fn human_duration_ms(ms: i64) -> String {
    match ms.max(0) {
        ms @ 0..=999 => format!("{ms} ms"),
        ms @ 1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        ms => human_duration(ms / 1000),
    }
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
    // Should the clock fail, 0 makes every elapsed time on this boot look short, the safe
    // side (nothing is judged stale by it).
    boot_clock_ns().map_or(0, |ns| ns / 1_000_000_000)
}

/// CLOCK_BOOTTIME in nanoseconds: the clock the kernel stamps a new process with.
/// CLOCK_BOOTTIME exists on every Linux since 2.6.39.
pub fn boot_clock_ns() -> Option<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a pointer valid for the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
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

    /// 2026-11-23T09:00:00Z, a Monday.
    const NOW: Timestamp = 1_795_424_400;

    fn berlin() -> Zone {
        crate::timetable::parse_zone("Europe/Berlin")
            .unwrap()
            .expect("Europe/Berlin is not UTC")
    }

    #[test]
    fn parse_when_takes_every_form() {
        let z = berlin();
        let at = |text: &str| parse_when(text, NOW, Some(&z));
        assert_eq!(at("2026-11-23T10:00:00+01:00"), Ok(NOW));
        assert_eq!(at("+5m"), Ok(NOW + 300));
        assert_eq!(at("-1h"), Ok(NOW - 3600));
        assert_eq!(at("+2d"), Ok(NOW + 2 * 86_400));
        assert_eq!(at("+30s"), Ok(NOW + 30));
        // Berlin is UTC+1 in November.
        assert_eq!(at("2026-11-23 12:00"), Ok(NOW + 2 * 3600));
        assert_eq!(at("2026-11-23 12:00:30"), Ok(NOW + 2 * 3600 + 30));
        assert_eq!(at("tomorrow 09:00"), Ok(NOW + 86_400 - 3600));
        assert_eq!(at("today 10:00"), Ok(NOW));
        // Summer time: UTC+2.
        assert_eq!(at("2026-07-01 12:00"), parse_time("2026-07-01T10:00:00Z"));
        // Without a zone, the local clock is UTC.
        assert_eq!(
            parse_when("2026-11-23 12:00", NOW, None),
            Ok(NOW + 3 * 3600)
        );
        assert_eq!(parse_when("tomorrow 00:00", NOW, None), Ok(NOW + 15 * 3600));
    }

    #[test]
    fn parse_when_refuses_with_the_list_of_forms() {
        let z = berlin();
        for bad in [
            "",
            "soon",
            "+5",
            "+m",
            "5m",
            "+5w",
            "+-5m",
            "2026-11-23",
            "2026-13-01 12:00",
            "2026-11-23 25:00",
            "yesterday 09:00",
            "tomorrow",
            "tomorrow 9",
            "+99999999999999d",
        ] {
            let e = parse_when(bad, NOW, Some(&z)).unwrap_err();
            assert!(e.contains(TIME_FORMS), "{bad:?}: {e}");
        }
        // 02:30 does not exist in Berlin on 2027-03-28.
        let e = parse_when("2027-03-28 02:30", NOW, Some(&z)).unwrap_err();
        assert!(e.contains("skipped"), "{e}");
    }

    #[test]
    fn relative_times_read_as_people_say_them() {
        assert_eq!(relative(NOW, NOW), "now");
        assert_eq!(relative(NOW + 45, NOW), "in 45 s");
        assert_eq!(relative(NOW + 4 * 60 + 59, NOW), "in 4 min");
        assert_eq!(relative(NOW - 3 * 3600 - 10, NOW), "3 h ago");
        assert_eq!(relative(NOW - 47 * 3600, NOW), "47 h ago");
        assert_eq!(relative(NOW + 3 * 86_400, NOW), "in 3 d");
        let z = berlin();
        assert_eq!(
            for_people(NOW + 240, NOW, Some(&z), true),
            "in 4 min (10:04)"
        );
        assert_eq!(
            for_people(NOW - 2 * 86_400, NOW, Some(&z), true),
            "2 d ago (11-21 10:00)"
        );
        assert_eq!(
            for_people(NOW + 240, NOW, Some(&z), false),
            "2026-11-23 10:04 (in 4 min)"
        );
        assert_eq!(
            local_clock(NOW + 400 * 86_400, NOW, None, true),
            "2027-12-28 09:00"
        );
        assert_eq!(human_duration_ms(350), "350 ms");
        assert_eq!(human_duration_ms(4_250), "4.2 s");
        assert_eq!(human_duration_ms(3_900_000), "1h05m");
    }

    proptest::proptest! {
        #[test]
        fn relative_offsets_and_local_clocks_round_trip(
            offset in -10_000_000i64..10_000_000,
            unit in 0usize..4,
        ) {
            let z = berlin();
            let (letter, per) = [('s', 1), ('m', 60), ('h', 3600), ('d', 86_400)][unit];
            let text = format!("{offset:+}{letter}");
            proptest::prop_assert_eq!(parse_when(&text, NOW, Some(&z)), Ok(NOW + offset * per));
            // A minute on the local clock reads back as itself (in overlaps: the earlier).
            let t = NOW + offset * 60;
            let shown = local_clock(t, NOW, Some(&z), false);
            let back = parse_when(&shown, NOW, Some(&z)).unwrap();
            proptest::prop_assert!(back == t || back + 3600 == t, "{} -> {}", shown, back);
        }
    }

    #[test]
    fn the_boot_clock_moves_forward() {
        let a = since_boot();
        assert!(a > 0);
        assert!(since_boot() >= a);
    }
}
