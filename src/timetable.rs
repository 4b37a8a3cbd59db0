//! A schedule in a time zone (design §4, issue 5): slots are found on the zone's wall clock
//! and returned as UTC instants, with Debian cron's rules where the clock jumps. Pure.
//!
//! - A **fixed-time** job (neither its minute nor its hour field starts with `*`; steps such
//!   as `0-59/30` do not count) whose slot falls in a spring-forward gap runs at the first
//!   valid time after the gap; one whose slot falls in a fall-back overlap runs once, at the
//!   first occurrence.
//! - A **wall-clock** job (minute or hour starts with `*`: `*`, `*/15`) follows the wall
//!   clock: the minutes of a gap do not exist for it, and the minutes of an overlap come
//!   twice.
//!
//! Zones come from the system's time zone database (`$TZDIR` or `/usr/share/zoneinfo`, the
//! tzdata package), as for cron itself: the rules follow the operating system's updates,
//! and no tables are compiled into the binary (which would slow every start).
//!
//! Either way each resulting instant is one slot, so exactly-once holds across every
//! transition. Away from transitions, wall time maps to UTC by one offset; near one, the
//! search looks at wall times a shift's width on either side, because around an overlap
//! the order of wall times is not the order of instants.

use crate::limits::shorten;
use crate::schedule::Schedule;
use crate::time::Timestamp;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// A time zone read from the system's database.
#[derive(Clone, Debug)]
pub struct Zone {
    rules: Arc<tz::TimeZone>,
}

/// A schedule and the zone its wall clock is read in (`None`: UTC).
#[derive(Clone, Debug)]
pub struct Timetable {
    schedule: Schedule,
    zone: Option<Zone>,
}

/// How a wall time maps to instants.
enum Wall {
    Single(Timestamp),
    /// In a fall-back overlap: the earlier and the later instant.
    Twice(Timestamp, Timestamp),
    /// In a spring-forward gap.
    Missing,
}

/// Loads an IANA zone (`Europe/Berlin`, `UTC`) from the system's database; `UTC` needs none.
/// Loaded zones are kept for the life of the process. The one place that decides whether
/// a zone name is accepted (`--tz`, `CRON_TZ`, stored jobs).
pub fn parse_zone(name: &str) -> Result<Option<Zone>, String> {
    if matches!(name, "UTC" | "Etc/UTC") {
        return Ok(None);
    }
    misleading_zone_name(name)?;
    let unknown = |why: &str| {
        format!(
            "unknown time zone '{}' ({why}); use an IANA name such as UTC, Europe/Berlin or \
             America/New_York from the system's time zone database (the tzdata package)",
            shorten(name)
        )
    };
    let safe = !name.is_empty()
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !safe {
        return Err(unknown("not a zone name"));
    }
    static LOADED: OnceLock<Mutex<HashMap<String, Zone>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(zone) = loaded.lock().ok().and_then(|m| m.get(name).cloned()) {
        return Ok(Some(zone));
    }
    let dir = std::env::var_os("TZDIR")
        .map_or_else(|| PathBuf::from("/usr/share/zoneinfo"), PathBuf::from);
    let data =
        std::fs::read(dir.join(name)).map_err(|_| unknown(&format!("not in {}", dir.display())))?;
    let rules = tz::TimeZone::from_tz_data(&data).map_err(|_| unknown("not a zone file"))?;
    let zone = Zone {
        rules: Arc::new(rules),
    };
    if let Ok(mut map) = loaded.lock() {
        map.insert(name.to_string(), zone.clone());
    }
    Ok(Some(zone))
}

/// Refuses names that load from the database but do not mean what cron means by them,
/// saying which name to give instead.
fn misleading_zone_name(name: &str) -> Result<(), String> {
    if let Some(zone) = name.strip_prefix("right/") {
        return Err(format!(
            "time zone '{}' counts leap seconds, which cron does not: use {}",
            shorten(name),
            shorten(zone)
        ));
    }
    if let Some(zone) = name.strip_prefix("posix/") {
        return Err(format!(
            "time zone '{}' is the same zone as {}: use {}",
            shorten(name),
            shorten(zone),
            shorten(zone)
        ));
    }
    if name == "localtime" || name.starts_with('/') {
        let example = match crate::system_zone::detect() {
            Some(system) => format!("{} (this system's zone)", shorten(&system.name)),
            None => "Europe/Berlin".to_string(),
        };
        return Err(format!(
            "'{}' is not a zone name but a zone file, whose zone can change under the job: \
             give an IANA name, e.g. {example}",
            shorten(name)
        ));
    }
    Ok(())
}

impl Zone {
    /// `t` on this zone's clock, as RFC 3339 with the offset (`2026-11-23T10:00:00+01:00`).
    pub fn format(&self, t: Timestamp) -> String {
        let offset = FixedOffset::east_opt(self.offset(t) as i32);
        match (offset, DateTime::<Utc>::from_timestamp(t, 0)) {
            (Some(offset), Some(utc)) => utc.with_timezone(&offset).to_rfc3339(),
            _ => crate::time::format_time(t),
        }
    }

    /// The wall time at `t` on this zone's clock.
    pub fn wall_time(&self, t: Timestamp) -> Option<NaiveDateTime> {
        self.local(t)
    }

    /// The instant whose wall time is `wall`: the earlier one in a fall-back overlap,
    /// `None` in a spring-forward gap (that wall time does not exist).
    pub fn instant_at(&self, wall: NaiveDateTime) -> Option<Timestamp> {
        match self.instants(wall) {
            Wall::Single(t) | Wall::Twice(t, _) => Some(t),
            Wall::Missing => None,
        }
    }

    /// The UTC offset at `t`, in seconds.
    fn offset(&self, t: Timestamp) -> i64 {
        self.rules
            .find_local_time_type(t)
            .map_or(0, |local| local.ut_offset() as i64)
    }

    /// The wall time at `t`.
    fn local(&self, t: Timestamp) -> Option<NaiveDateTime> {
        Some(DateTime::<Utc>::from_timestamp(t + self.offset(t), 0)?.naive_utc())
    }

    /// The instants whose wall time is `wall`: try each offset in force within a day of
    /// it, and keep those that hold at the instant they give.
    fn instants(&self, wall: NaiveDateTime) -> Wall {
        let as_utc = wall.and_utc().timestamp();
        let mut found: Vec<Timestamp> = [as_utc - 26 * 3600, as_utc, as_utc + 26 * 3600]
            .iter()
            .map(|&probe| self.offset(probe))
            .map(|offset| as_utc - offset)
            .filter(|&instant| instant + self.offset(instant) == as_utc)
            .collect();
        found.sort_unstable();
        found.dedup();
        match found[..] {
            [] => Wall::Missing,
            [one] => Wall::Single(one),
            [first, .., last] => Wall::Twice(first, last),
        }
    }
}

impl Timetable {
    /// `zone` is an IANA name; `UTC` (the default) needs no conversion at all.
    pub fn new(schedule: Schedule, zone: &str) -> Result<Timetable, String> {
        Ok(Timetable {
            schedule,
            zone: parse_zone(zone)?,
        })
    }

    /// Parses both at once, with the expression's own error message.
    pub fn parse(expression: &str, zone: &str) -> Result<Timetable, String> {
        let schedule = Schedule::parse(expression).map_err(|e| e.to_string())?;
        Timetable::new(schedule, zone)
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The slots strictly after `t`, in order: what `cronq next` prints and the web
    /// screens list.
    pub fn slots_after(&self, t: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        std::iter::successors(self.next_slot_after(t), |&slot| self.next_slot_after(slot))
    }

    /// The first slot strictly after `t`.
    pub fn next_slot_after(&self, t: Timestamp) -> Option<Timestamp> {
        let Some(zone) = &self.zone else {
            return self.schedule.next_slot_after(t);
        };
        let shift = shift_near(zone, t);
        let mut wall = zone.local(t)? - chrono::Duration::seconds(shift);
        let mut best: Option<(Timestamp, NaiveDateTime)> = None;
        loop {
            wall = self.schedule.next_after(wall)?;
            if let Some((_, found)) = best {
                if wall > found + chrono::Duration::seconds(2 * shift) {
                    break;
                }
            }
            for instant in self.instants(zone, wall).into_iter().flatten() {
                if instant > t && best.is_none_or(|(b, _)| instant < b) {
                    best = Some((instant, best.map_or(wall, |(_, w)| w)));
                }
            }
        }
        best.map(|(instant, _)| instant)
    }

    /// The newest slot at or before `t`.
    pub fn latest_slot_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let Some(zone) = &self.zone else {
            return self.schedule.latest_slot_at_or_before(t);
        };
        let shift = shift_near(zone, t);
        let mut wall = zone.local(t)? + chrono::Duration::seconds(shift);
        let mut best: Option<(Timestamp, NaiveDateTime)> = None;
        loop {
            wall = self.schedule.latest_at_or_before(wall)?;
            if let Some((_, found)) = best {
                if wall < found - chrono::Duration::seconds(2 * shift) {
                    break;
                }
            }
            for instant in self.instants(zone, wall).into_iter().flatten() {
                if instant <= t && best.is_none_or(|(b, _)| instant > b) {
                    best = Some((instant, best.map_or(wall, |(_, w)| w)));
                }
            }
            wall -= chrono::Duration::minutes(1);
        }
        best.map(|(instant, _)| instant)
    }

    /// The instants a wall-clock slot stands for, by Debian's rules.
    fn instants(&self, zone: &Zone, wall: NaiveDateTime) -> [Option<Timestamp>; 2] {
        match zone.instants(wall) {
            Wall::Single(at) => [Some(at), None],
            Wall::Twice(first, second) if self.schedule.follows_wall_clock() => {
                [Some(first), Some(second)]
            }
            Wall::Twice(first, _) => [Some(first), None],
            Wall::Missing if self.schedule.follows_wall_clock() => [None, None],
            Wall::Missing => [end_of_gap(zone, wall), None],
        }
    }
}

/// How far the offset changes within a day and a bit of `t`: 0 away from transitions,
/// else the size of the jump (an hour, half an hour at Lord Howe).
fn shift_near(zone: &Zone, t: Timestamp) -> i64 {
    const SPAN: i64 = 26 * 3600;
    let offsets = [zone.offset(t - SPAN), zone.offset(t), zone.offset(t + SPAN)];
    offsets.iter().max().unwrap_or(&0) - offsets.iter().min().unwrap_or(&0)
}

/// The first valid instant after the gap that swallowed `wall` (where the clock resumes).
fn end_of_gap(zone: &Zone, wall: NaiveDateTime) -> Option<Timestamp> {
    let mut later = wall;
    for _ in 0..(26 * 60) {
        later += chrono::Duration::minutes(1);
        match zone.instants(later) {
            Wall::Single(at) | Wall::Twice(at, _) => return Some(at),
            Wall::Missing => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{format_time, parse_time};

    fn slots(expr: &str, zone: &str, after: &str, n: usize) -> Vec<String> {
        let table = Timetable::parse(expr, zone).unwrap();
        let mut t = parse_time(after).unwrap();
        (0..n)
            .map(|_| {
                t = table.next_slot_after(t).unwrap();
                format_time(t)
            })
            .collect()
    }

    #[test]
    fn utc_and_unknown_zones() {
        assert_eq!(
            slots("0 9 * * *", "UTC", "2026-11-23T09:00:00Z", 1),
            ["2026-11-24T09:00:00Z"]
        );
        assert!(Timetable::parse("* * * * *", "Mars/Olympus")
            .unwrap_err()
            .contains("unknown time zone 'Mars/Olympus'"));
    }

    #[test]
    fn new_york_spring_forward_runs_a_fixed_slot_after_the_gap() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC); 02:30 does not exist.
        assert_eq!(
            slots("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3),
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:30:00Z"
            ]
        );
        // A wall-clock job simply has no 02:xx that night.
        assert_eq!(
            slots("30 * * * *", "America/New_York", "2026-03-08T05:00:00Z", 3),
            [
                "2026-03-08T05:30:00Z",
                "2026-03-08T06:30:00Z",
                "2026-03-08T07:30:00Z"
            ]
        );
    }

    #[test]
    fn new_york_fall_back_runs_a_fixed_slot_once_and_a_wall_clock_job_twice() {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:30 comes twice.
        assert_eq!(
            slots("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
        );
        assert_eq!(
            slots("30 * * * *", "America/New_York", "2026-11-01T04:00:00Z", 4),
            [
                "2026-11-01T04:30:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T06:30:00Z",
                "2026-11-01T07:30:00Z"
            ]
        );
    }

    const ZONES: [&str; 6] = [
        "America/New_York",
        "Europe/Berlin",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kolkata",
    ];
    const EXPRESSIONS: [&str; 7] = [
        "*/15 * * * *",
        // A step, but no leading `*`: fixed-time, several slots in one gap.
        "0-59/20 1-3 * * *",
        "30 2 * * *",
        "0 0 * * *",
        "45 1 * * 0",
        "*/7 1-3 * * *",
        "30 23 * * *",
    ];

    proptest::proptest! {
        /// Forward and backward search agree, slots strictly increase, and each slot's wall
        /// time is one of the schedule's, or (fixed-time jobs) the end of a gap.
        #[test]
        fn forward_and_backward_agree(zone in 0..ZONES.len(), expr in 0..EXPRESSIONS.len(), start in 1_767_225_600i64..1_798_761_600) {
            let table = Timetable::parse(EXPRESSIONS[expr], ZONES[zone]).unwrap();
            let rules = parse_zone(ZONES[zone]).unwrap().unwrap();
            let mut t = start;
            for _ in 0..20 {
                let slot = table.next_slot_after(t).unwrap();
                proptest::prop_assert!(slot > t);
                proptest::prop_assert_eq!(table.latest_slot_at_or_before(slot), Some(slot));
                // No slot lies strictly between t and the next one.
                let before = table.latest_slot_at_or_before(slot - 1);
                proptest::prop_assert!(before.is_none_or(|p| p <= t), "{:?} between {} and {}", before.map(format_time), format_time(t), format_time(slot));
                let wall = rules.local(slot).unwrap();
                let on_schedule = table.schedule().matches(wall);
                let gap_end = !table.schedule().follows_wall_clock() && rules.offset(slot - 1) != rules.offset(slot);
                proptest::prop_assert!(on_schedule || gap_end, "{} at {}", EXPRESSIONS[expr], format_time(slot));
                t = slot;
            }
        }
    }

    #[test]
    fn latest_walks_back_through_an_overlap() {
        let table = Timetable::parse("*/20 * * * *", "America/New_York").unwrap();
        let mut t = parse_time("2026-11-01T07:00:00Z").unwrap();
        let mut seen = Vec::new();
        for _ in 0..7 {
            let slot = table.latest_slot_at_or_before(t).unwrap();
            seen.push(format_time(slot)[11..16].to_string());
            t = slot - 60;
        }
        assert_eq!(
            seen,
            ["07:00", "06:40", "06:20", "06:00", "05:40", "05:20", "05:00"]
        );
    }
}
