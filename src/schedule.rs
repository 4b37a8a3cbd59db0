//! The cron dialect (design §3): parse and validate an expression, test a minute against
//! it, and find the slots before and after an instant. Pure: no clock, no I/O.
//!
//! Fields are held as bitsets, so finding the next slot is a walk over days with a few bit
//! operations per day, never a walk over minutes. Every function works in UTC wall-clock
//! time, whole minutes.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;

/// How far `next_after` and `latest_at_or_before` look before concluding that there is no
/// slot: 14,609 days, 40 years. A search that finds nothing in this span means "never" (that
/// is how `parse` rejects `0 0 30 2 *`), so the span must be the longest possible wait
/// between two slots, derived here rather than guessed.
///
/// Whether a day matches depends only on its month, its day of the month, the month's length
/// and the weekday the month starts on (`L`, `nL`, `n#k` and `nW` included), and the time of
/// day is the same for every day. So a schedule that fires on day d of some month fires on
/// day d of every month of the same kind (month, length, first weekday), and the longest wait
/// is the longest wait between two months of one kind. The Gregorian calendar repeats every
/// 400 years (146,097 days, exactly 20,871 weeks), so that wait is found by going once
/// through the cycle: the rarest kinds are the 29-day Februaries, one for each weekday, and
/// each waits at most 40 years, across a century year that is not a leap year. For example
/// `0 0 29 2 */7` (29 February on a Sunday) fires in 2088 and next in 2128. The unit test
/// `horizon_is_the_longest_wait_between_two_months_of_one_kind` recomputes the figure. A
/// longer horizon would only slow the refusal of schedules that never fire: a search that
/// finds a slot stops there.
const HORIZON_DAYS: i64 = 14_609;

/// A parsed, valid cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    minutes: u64,
    hours: u32,
    months: u16,
    days: DayRule,
    /// The minute or the hour field starts with `*`: the job follows the wall clock through
    /// DST changes instead of being a fixed-time job (see `timetable`).
    wall_clock: bool,
}

/// Day-of-month and day-of-week, combined the way Debian cron combines them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct DayRule {
    /// Bit d set: day d of the month (1..=31).
    dom: u32,
    /// `L`: the last day of the month.
    last_dom: bool,
    /// Bit d set: `dW`, the weekday nearest to day d.
    nearest_weekday: u32,
    /// Bit w set: weekday w (0 = Sunday).
    dow: u8,
    /// Bit w set: `wL`, the last weekday w of the month.
    last_dow: u8,
    /// `nth_dow[k - 1]` bit w set: `w#k`, the k-th weekday w of the month.
    nth_dow: [u8; 5],
    /// Debian cron: when either day field starts with `*`, both must match (AND);
    /// otherwise a day matching either field fires (OR).
    and_days: bool,
}

/// Why an expression was refused. The message names the field and its allowed range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    expression: String,
    reason: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid schedule '{}': {}",
            visible(&self.expression),
            self.reason
        )
    }
}

impl std::error::Error for ScheduleError {}

/// Which of the five fields, for the few rules that differ between them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

struct Field {
    kind: Kind,
    name: &'static str,
    min: u32,
    max: u32,
    /// Names accepted for values, the first standing for `name_base`.
    names: &'static [&'static str],
    name_base: u32,
    range_text: &'static str,
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 5] = [
    Field {
        kind: Kind::Minute,
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        name_base: 0,
        range_text: "0-59",
    },
    Field {
        kind: Kind::Hour,
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        name_base: 0,
        range_text: "0-23",
    },
    Field {
        kind: Kind::DayOfMonth,
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        name_base: 0,
        range_text: "1-31, L or nW",
    },
    Field {
        kind: Kind::Month,
        name: "month",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
        name_base: 1,
        range_text: "1-12 or JAN-DEC",
    },
    Field {
        kind: Kind::DayOfWeek,
        name: "day-of-week",
        min: 0,
        max: 7,
        names: DAY_NAMES,
        name_base: 0,
        range_text: "0-7 or SUN-SAT (0 and 7 are Sunday), nL or n#k",
    },
];

/// What one field parses to: plain values as a bitset, plus the day specials.
#[derive(Default)]
struct ParsedField {
    bits: u64,
    last: bool,
    nearest_weekday: u32,
    last_dow: u8,
    nth_dow: [u8; 5],
}

impl Schedule {
    /// Parses a five-field expression or a macro (`@daily` …), strictly.
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let fail = |reason: String| ScheduleError {
            expression: expression.to_string(),
            reason,
        };
        let trimmed = expression.trim_matches(SEPARATORS);
        if let Some(stray) = trimmed.chars().find(|&c| is_stray_space(c)) {
            return Err(fail(stray_space(trimmed, stray)));
        }
        let expanded = if let Some(name) = trimmed.strip_prefix('@') {
            macro_expansion(name).ok_or_else(|| {
                fail(format!(
                    "unknown macro '@{name}'; use one of @yearly @annually @monthly @weekly \
                     @daily @midnight @hourly, or five fields"
                ))
            })?
        } else {
            trimmed
        };
        let parts: Vec<&str> = expanded
            .split(SEPARATORS)
            .filter(|part| !part.is_empty())
            .collect();
        if parts.len() != 5 {
            let hint = if parts.len() > 5 {
                ": cronq has no seconds or year field"
            } else {
                ""
            };
            return Err(fail(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}{hint}",
                parts.len()
            )));
        }
        let mut parsed = Vec::with_capacity(5);
        for (text, field) in parts.iter().zip(FIELDS.iter()) {
            parsed.push(
                parse_field(text, field)
                    .map_err(|reason| fail(format!("{}: {reason}", field.name)))?,
            );
        }
        let (dom, dow) = (&parsed[2], &parsed[4]);
        let schedule = Schedule {
            source: trimmed.to_string(),
            minutes: parsed[0].bits,
            hours: parsed[1].bits as u32,
            months: parsed[3].bits as u16,
            days: DayRule {
                dom: dom.bits as u32,
                last_dom: dom.last,
                nearest_weekday: dom.nearest_weekday,
                dow: dow.bits as u8,
                last_dow: dow.last_dow,
                nth_dow: dow.nth_dow,
                and_days: parts[2].starts_with('*') || parts[4].starts_with('*'),
            },
            // Debian's entry.c sets MIN_STAR or HR_STAR from a field's first character only,
            // so `0-59/30` is fixed-time and `1,*/5` too.
            wall_clock: parts[..2].iter().any(|f| f.starts_with('*')),
        };
        // A schedule with no slot within the horizon has none at all (see HORIZON_DAYS).
        let probe = NaiveDate::from_ymd_opt(2001, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        if probe.and_then(|p| schedule.next_after(p)).is_none() {
            return Err(fail(
                "this schedule can never fire: no date matches its day-of-month, month and \
                 day-of-week together"
                    .to_string(),
            ));
        }
        Ok(schedule)
    }

    /// The expression as the user wrote it (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The five fields as written, a macro replaced by its expansion (`@daily` gives
    /// `0 0 * * *`). For `in_words`, which describes the notation rather than the bitsets:
    /// `*/15` and `0,15,30,45` hold the same bits but read differently, and the AND/OR rule
    /// for the day fields depends on how they are written.
    pub(crate) fn fields(&self) -> [&str; 5] {
        let expanded = self
            .source
            .strip_prefix('@')
            .and_then(macro_expansion)
            .unwrap_or(self.source.as_str());
        let mut fields = [""; 5];
        // `parse` accepted exactly five fields, so every slot is filled.
        let parts = expanded.split(SEPARATORS).filter(|part| !part.is_empty());
        for (slot, part) in fields.iter_mut().zip(parts) {
            *slot = part;
        }
        fields
    }

    /// Whether the minute or hour field starts with `*`: such a job follows the wall clock at
    /// DST changes; any other is a fixed-time job, steps included (Debian's cron(8)). The
    /// rule looks at the first character only, as Debian's does, so that a crontab moved
    /// from cron to cronq keeps its behaviour on the nights the clocks change.
    pub fn follows_wall_clock(&self) -> bool {
        self.wall_clock
    }

    /// Whether the minute containing `t` is a slot.
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        self.minutes & (1 << t.minute()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.day_matches(t.date())
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = truncate_to_minute(t) + chrono::Duration::minutes(1);
        let limit = start.date() + chrono::Duration::days(HORIZON_DAYS);
        let mut date = start.date();
        let (mut hour, mut minute) = (start.hour(), start.minute());
        while date <= limit {
            if self.months & (1 << date.month()) == 0 {
                date = first_of_next_month(date)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if self.day_matches(date) {
                if let Some((h, m)) = self.first_time_from(hour, minute) {
                    return date.and_hms_opt(h, m, 0);
                }
            }
            date = date.succ_opt()?;
            (hour, minute) = (0, 0);
        }
        None
    }

    /// The newest slot at or before `t`.
    pub fn latest_at_or_before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let end = truncate_to_minute(t);
        let limit = end.date() - chrono::Duration::days(HORIZON_DAYS);
        let mut date = end.date();
        let (mut hour, mut minute) = (end.hour(), end.minute());
        while date >= limit {
            if self.months & (1 << date.month()) == 0 {
                date = date.with_day(1)?.pred_opt()?;
                (hour, minute) = (23, 59);
                continue;
            }
            if self.day_matches(date) {
                if let Some((h, m)) = self.last_time_until(hour, minute) {
                    return date.and_hms_opt(h, m, 0);
                }
            }
            date = date.pred_opt()?;
            (hour, minute) = (23, 59);
        }
        None
    }

    /// The first slot strictly after `t`, both as Unix seconds (UTC).
    pub fn next_slot_after(&self, t: i64) -> Option<i64> {
        let naive = DateTime::from_timestamp(t, 0)?.naive_utc();
        self.next_after(naive).map(|n| n.and_utc().timestamp())
    }

    /// The newest slot at or before `t`, both as Unix seconds (UTC).
    pub fn latest_slot_at_or_before(&self, t: i64) -> Option<i64> {
        let naive = DateTime::from_timestamp(t, 0)?.naive_utc();
        self.latest_at_or_before(naive)
            .map(|n| n.and_utc().timestamp())
    }

    fn first_time_from(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        (hour..24)
            .filter(|h| self.hours & (1 << h) != 0)
            .find_map(|h| {
                let from = if h == hour { minute } else { 0 };
                let candidates = self.minutes & (u64::MAX << from);
                (candidates != 0).then(|| (h, candidates.trailing_zeros()))
            })
    }

    fn last_time_until(&self, hour: u32, minute: u32) -> Option<(u32, u32)> {
        (0..=hour)
            .rev()
            .filter(|h| self.hours & (1 << h) != 0)
            .find_map(|h| {
                let until = if h == hour { minute } else { 59 };
                let candidates = self.minutes & ((1u64 << (until + 1)) - 1);
                (candidates != 0).then(|| (h, 63 - candidates.leading_zeros()))
            })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let rule = &self.days;
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day = date.day();
        let last_day = days_in_month(date);
        let weekday = date.weekday().num_days_from_sunday();
        let dom_matches = rule.dom & (1 << day) != 0
            || (rule.last_dom && day == last_day)
            || (rule.nearest_weekday != 0
                && (1..=last_day).any(|n| {
                    rule.nearest_weekday & (1 << n) != 0
                        && nearest_weekday(date, n, last_day) == day
                }));
        let week_bit = 1u8 << weekday;
        let dow_matches = rule.dow & week_bit != 0
            || (rule.last_dow & week_bit != 0 && day + 7 > last_day)
            || rule.nth_dow[((day - 1) / 7) as usize] & week_bit != 0;
        if rule.and_days {
            dom_matches && dow_matches
        } else {
            dom_matches || dow_matches
        }
    }
}

/// What separates fields: spaces and tabs, as in Debian's cron (entry.c skips only those).
const SEPARATORS: [char; 2] = [' ', '\t'];

/// White space or a control character that is not a separator: part of a field, so never
/// valid, and often invisible (a no-break space pasted from a web page, a line break).
fn is_stray_space(c: char) -> bool {
    (c.is_whitespace() || c.is_control()) && !SEPARATORS.contains(&c)
}

/// The refusal of an expression holding `stray`, naming the field that holds it.
fn stray_space(expression: &str, stray: char) -> String {
    let holder = expression
        .split(SEPARATORS)
        .filter(|part| !part.is_empty())
        .enumerate()
        .find(|(_, part)| part.contains(stray));
    let field = match holder {
        Some((index, part)) if !expression.starts_with('@') && index < FIELDS.len() => {
            format!("{}: '{}'", FIELDS[index].name, visible(part))
        }
        Some((_, part)) => format!("'{}'", visible(part)),
        None => format!("'{}'", visible(expression)),
    };
    let what = match stray {
        '\n' => "a line break",
        '\r' => "a carriage return",
        '\u{b}' => "a vertical tab",
        '\u{c}' => "a form feed",
        '\u{a0}' | '\u{2007}' | '\u{202f}' => "a no-break space",
        c if c.is_whitespace() => "white space that is not a space or tab",
        _ => "a control character",
    };
    format!(
        "{field} contains {what} (U+{:04X}); separate fields with plain spaces or tabs",
        stray as u32
    )
}

/// `text` with its stray spaces written as escapes (`\n`, `\u{a0}`), so that a message
/// quoting it stays on one line and shows what is there.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_stray_space(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn macro_expansion(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        _ => return None,
    })
}

fn parse_field(text: &str, field: &Field) -> Result<ParsedField, String> {
    let mut parsed = ParsedField::default();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("empty list item in '{text}'"));
        }
        parse_item(item, field, &mut parsed)?;
    }
    if field.kind == Kind::DayOfWeek && parsed.bits & (1 << 7) != 0 {
        // 7 is Sunday too.
        parsed.bits = (parsed.bits & !(1 << 7)) | 1;
    }
    Ok(parsed)
}

fn parse_item(item: &str, field: &Field, parsed: &mut ParsedField) -> Result<(), String> {
    if item == "?" {
        return Err("'?' is Quartz syntax; write '*'".to_string());
    }
    if item.eq_ignore_ascii_case("L") {
        return match field.kind {
            Kind::DayOfMonth => {
                parsed.last = true;
                Ok(())
            }
            Kind::DayOfWeek => Err(
                "'L' alone is not a day of week; write nL, e.g. 5L for the last Friday".to_string(),
            ),
            _ => Err(format!(
                "'L' is allowed only in day-of-month and day-of-week, not in {}",
                field.name
            )),
        };
    }
    if let Some(day) = strip_letter(item, 'W') {
        if field.kind != Kind::DayOfMonth {
            return Err(format!(
                "'{item}': nW (nearest weekday) is allowed only in day-of-month"
            ));
        }
        let n = value(day, field)?;
        parsed.nearest_weekday |= 1 << n;
        return Ok(());
    }
    if let Some((weekday, nth)) = item.split_once('#') {
        if field.kind != Kind::DayOfWeek {
            return Err(format!(
                "'{item}': n#k (k-th weekday) is allowed only in day-of-week"
            ));
        }
        let w = value(weekday, field)? % 7;
        let k: u32 = digits(nth)
            .filter(|k| (1..=5).contains(k))
            .ok_or_else(|| format!("'{item}': the k in n#k must be 1-5"))?;
        parsed.nth_dow[(k - 1) as usize] |= 1 << w;
        return Ok(());
    }
    if field.kind == Kind::DayOfWeek && item.len() > 1 {
        if let Some(weekday) = strip_letter(item, 'L') {
            let w = value(weekday, field)? % 7;
            parsed.last_dow |= 1 << w;
            return Ok(());
        }
    }
    let span = field.max - field.min;
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => {
            let step: u32 = digits(step)
                .ok_or_else(|| format!("'{item}': the step after '/' must be a whole number"))?;
            if step == 0 || step > span {
                return Err(format!(
                    "'{item}': step {step} is out of range 1-{span} for {}",
                    field.name
                ));
            }
            (range, Some(step))
        }
        None => (item, None),
    };
    let (low, high) = if range == "*" {
        // For day-of-week, * is 0-6: 7 would only repeat Sunday.
        let top = if field.kind == Kind::DayOfWeek {
            6
        } else {
            field.max
        };
        (field.min, top)
    } else if let Some((a, b)) = range.split_once('-') {
        let (low, high) = (value(a, field)?, value(b, field)?);
        if low > high {
            return Err(backwards_range(item, (a, low), (b, high), step, field));
        }
        (low, high)
    } else {
        let single = value(range, field)?;
        if let Some(step) = step {
            return Err(format!(
                "'{item}': a step needs a range; write {single}-{}/{step} or */{step}",
                field.max
            ));
        }
        (single, single)
    };
    let step = step.unwrap_or(1);
    let mut v = low;
    while v <= high {
        parsed.bits |= 1 << v;
        v += step;
    }
    Ok(())
}

/// The refusal of a range `a-b` whose start comes after its end, as Debian's cron refuses
/// it. The hint writes what such a range most likely means, the wrap-around from a past the
/// field's end to b (`22-2` hours: `22-23,0-2`), in the user's notation, names staying
/// names. In day-of-week, a range that ends on Sunday needs no wrap, as Sunday is also 7:
/// `sat-sun` becomes `sat-7` (swapping the ends, `sun-sat`, would mean every day).
fn backwards_range(
    item: &str,
    (a, low): (&str, u32),
    (b, high): (&str, u32),
    step: Option<u32>,
    field: &Field,
) -> String {
    let step_text = step.map(|s| format!("/{s}")).unwrap_or_default();
    let fix = if field.kind == Kind::DayOfWeek && low == 7 {
        format!("write 0-{b}{step_text} (0 is Sunday too)")
    } else if field.kind == Kind::DayOfWeek && high == 0 {
        format!("write {a}-7{step_text} (7 is Sunday too)")
    } else {
        // Day-of-week wraps from Saturday to Sunday; 7 is left out, as `*` leaves it out.
        let top = if field.kind == Kind::DayOfWeek {
            6
        } else {
            field.max
        };
        // A one-value part is written as the value alone, unless a step needs a range.
        let to_end = if low == top && step.is_none() {
            a.to_string()
        } else {
            format!("{a}-{}{step_text}", written_like(top, a, field))
        };
        let from_start = if high == field.min && step.is_none() {
            b.to_string()
        } else {
            format!("{}-{b}{step_text}", written_like(field.min, b, field))
        };
        format!("to wrap around, write {to_end},{from_start}")
    };
    format!("range '{item}' runs backwards; {fix}")
}

/// `value` written the way the user wrote `like`: as a name in the same case when `like` is
/// a name, else as a number.
fn written_like(value: u32, like: &str, field: &Field) -> String {
    let name = value
        .checked_sub(field.name_base)
        .and_then(|i| field.names.get(i as usize))
        .filter(|_| !like.bytes().all(|b| b.is_ascii_digit()));
    let Some(name) = name else {
        return value.to_string();
    };
    if like.bytes().all(|b| b.is_ascii_uppercase()) {
        name.to_string()
    } else if like.bytes().all(|b| b.is_ascii_lowercase()) {
        name.to_ascii_lowercase()
    } else {
        // Mixed case, as in `Nov`: capitalised.
        name.chars()
            .enumerate()
            .map(|(i, c)| if i == 0 { c } else { c.to_ascii_lowercase() })
            .collect()
    }
}

/// A number written with digits only (no sign, no spaces), as cron writes them.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `text` without a trailing `letter` in either case.
fn strip_letter(text: &str, letter: char) -> Option<&str> {
    text.strip_suffix(letter)
        .or_else(|| text.strip_suffix(letter.to_ascii_lowercase()))
}

/// One value: a number or (for month and day-of-week) a name, checked against the range.
fn value(text: &str, field: &Field) -> Result<u32, String> {
    if text.is_empty() {
        return Err(format!("missing value; allowed: {}", field.range_text));
    }
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(text))
    {
        return Ok(i as u32 + field.name_base);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{text}' is not a value; allowed: {}",
            field.range_text
        ));
    }
    match text.parse::<u32>() {
        Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
        _ => Err(format!(
            "value {text} is out of range; allowed: {}",
            field.range_text
        )),
    }
}

fn truncate_to_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}

fn days_in_month(date: NaiveDate) -> u32 {
    first_of_next_month(date)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The day `nW` stands for in the month of `date`: day n if it is a weekday, else the
/// nearest weekday within the same month (Saturday the 1st moves to Monday the 3rd).
fn nearest_weekday(date: NaiveDate, n: u32, last_day: u32) -> u32 {
    let Some(target) = date.with_day(n) else {
        return 0;
    };
    match target.weekday().num_days_from_sunday() {
        6 if n == 1 => 3,
        6 => n - 1,
        0 if n == last_day => n - 2,
        0 => n + 1,
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn next_n(expr: &str, after: &str, n: usize) -> Vec<String> {
        let schedule = Schedule::parse(expr).unwrap();
        let mut t = at(after);
        let mut out = Vec::new();
        for _ in 0..n {
            t = schedule.next_after(t).unwrap();
            out.push(t.format("%Y-%m-%d %H:%M %a").to_string());
        }
        out
    }

    fn error_of(expr: &str) -> String {
        Schedule::parse(expr).unwrap_err().to_string()
    }

    #[test]
    fn known_schedules_match_debian_cron() {
        // (expression, after, expected next slots). Worked out by hand against cron(8).
        let table: &[(&str, &str, &[&str])] = &[
            (
                "* * * * *",
                "2026-11-23 09:00",
                &["2026-11-23 09:01 Mon", "2026-11-23 09:02 Mon"],
            ),
            (
                "*/15 * * * *",
                "2026-11-23 09:07",
                &[
                    "2026-11-23 09:15 Mon",
                    "2026-11-23 09:30 Mon",
                    "2026-11-23 09:45 Mon",
                    "2026-11-23 10:00 Mon",
                ],
            ),
            (
                "1 1 * * 0",
                "2026-11-23 09:00",
                &["2026-11-29 01:01 Sun", "2026-12-06 01:01 Sun"],
            ),
            (
                "0 0 13 * 5",
                "2026-11-01 00:00",
                &[
                    "2026-11-06 00:00 Fri",
                    "2026-11-13 00:00 Fri",
                    "2026-11-20 00:00 Fri",
                    "2026-11-27 00:00 Fri",
                    "2026-12-04 00:00 Fri",
                ],
            ),
            (
                "0 0 13 * *",
                "2026-11-01 00:00",
                &["2026-11-13 00:00 Fri", "2026-12-13 00:00 Sun"],
            ),
            // */10 starts with '*', so the day fields AND: Mondays falling on 1, 11, 21 or 31.
            (
                "0 0 */10 * 1",
                "2026-11-01 00:00",
                &[
                    "2026-12-21 00:00 Mon",
                    "2027-01-11 00:00 Mon",
                    "2027-02-01 00:00 Mon",
                    "2027-03-01 00:00 Mon",
                ],
            ),
            (
                "0 0 1,15 * 3",
                "2026-11-01 00:00",
                &[
                    "2026-11-04 00:00 Wed",
                    "2026-11-11 00:00 Wed",
                    "2026-11-15 00:00 Sun",
                    "2026-11-18 00:00 Wed",
                ],
            ),
            (
                "30 8 * * MON-FRI",
                "2026-11-27 09:00",
                &["2026-11-30 08:30 Mon", "2026-12-01 08:30 Tue"],
            ),
            ("0 12 * * 7", "2026-11-23 00:00", &["2026-11-29 12:00 Sun"]),
            (
                "0 12 * * 5-7",
                "2026-11-23 00:00",
                &[
                    "2026-11-27 12:00 Fri",
                    "2026-11-28 12:00 Sat",
                    "2026-11-29 12:00 Sun",
                    "2026-12-04 12:00 Fri",
                ],
            ),
            (
                "0 0 L * *",
                "2026-01-15 00:00",
                &[
                    "2026-01-31 00:00 Sat",
                    "2026-02-28 00:00 Sat",
                    "2026-03-31 00:00 Tue",
                    "2026-04-30 00:00 Thu",
                ],
            ),
            ("0 0 L 2 *", "2027-03-01 00:00", &["2028-02-29 00:00 Tue"]),
            (
                "0 0 29 2 *",
                "2026-01-01 00:00",
                &["2028-02-29 00:00 Tue", "2032-02-29 00:00 Sun"],
            ),
            (
                "0 18 * * 5L",
                "2026-11-01 00:00",
                &["2026-11-27 18:00 Fri", "2026-12-25 18:00 Fri"],
            ),
            (
                "0 9 * * 1#2",
                "2026-11-01 00:00",
                &["2026-11-09 09:00 Mon", "2026-12-14 09:00 Mon"],
            ),
            (
                "0 9 * * MON#1,FRI#3",
                "2026-11-01 00:00",
                &[
                    "2026-11-02 09:00 Mon",
                    "2026-11-20 09:00 Fri",
                    "2026-12-07 09:00 Mon",
                ],
            ),
            (
                "0 9 15W * *",
                "2026-11-01 00:00",
                &[
                    "2026-11-16 09:00 Mon",
                    "2026-12-15 09:00 Tue",
                    "2027-01-15 09:00 Fri",
                    "2027-02-15 09:00 Mon",
                ],
            ),
            // August 2026 starts on a Saturday: 1W is Monday the 3rd, not Friday in July.
            (
                "0 9 1W * *",
                "2026-07-15 00:00",
                &["2026-08-03 09:00 Mon", "2026-09-01 09:00 Tue"],
            ),
            // May 2026 ends on a Sunday: 31W is Friday the 29th.
            (
                "0 9 31W * *",
                "2026-05-01 00:00",
                &["2026-05-29 09:00 Fri", "2026-07-31 09:00 Fri"],
            ),
            (
                "5-59/20 */6 * * *",
                "2026-11-23 05:00",
                &[
                    "2026-11-23 06:05 Mon",
                    "2026-11-23 06:25 Mon",
                    "2026-11-23 06:45 Mon",
                    "2026-11-23 12:05 Mon",
                ],
            ),
            (
                "0 0 1 jan,Jul *",
                "2026-02-01 00:00",
                &["2026-07-01 00:00 Wed", "2027-01-01 00:00 Fri"],
            ),
            ("@hourly", "2026-11-23 09:30", &["2026-11-23 10:00 Mon"]),
            ("@daily", "2026-11-23 09:30", &["2026-11-24 00:00 Tue"]),
            ("@midnight", "2026-11-23 09:30", &["2026-11-24 00:00 Tue"]),
            ("@weekly", "2026-11-23 09:30", &["2026-11-29 00:00 Sun"]),
            ("@monthly", "2026-11-23 09:30", &["2026-12-01 00:00 Tue"]),
            ("@yearly", "2026-11-23 09:30", &["2027-01-01 00:00 Fri"]),
            ("@ANNUALLY", "2026-11-23 09:30", &["2027-01-01 00:00 Fri"]),
            (
                "59 23 31 12 *",
                "2026-12-31 23:59",
                &["2027-12-31 23:59 Fri"],
            ),
        ];
        for (expr, after, expected) in table {
            assert_eq!(
                &next_n(expr, after, expected.len()),
                expected,
                "{expr} after {after}"
            );
        }
    }

    /// The horizon is the longest wait between two months of one kind (month, length, first
    /// weekday). Two 400-year cycles are walked, so that the wait from the last month of a
    /// kind in one cycle to the first in the next is counted too.
    #[test]
    fn horizon_is_the_longest_wait_between_two_months_of_one_kind() {
        let mut last_seen = std::collections::HashMap::new();
        let mut longest = 0;
        let mut month = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        while month.year() < 2800 {
            let kind = (
                month.month(),
                days_in_month(month),
                month.weekday().num_days_from_sunday(),
            );
            if let Some(previous) = last_seen.insert(kind, month) {
                longest = longest.max((month - previous).num_days());
            }
            month = first_of_next_month(month).unwrap();
        }
        assert_eq!(longest, HORIZON_DAYS);
    }

    #[test]
    fn the_longest_wait_is_found_forwards_and_backwards() {
        // 29 February on a Sunday: 2088, then 2128, because 2100 is not a leap year.
        assert_eq!(
            next_n("0 0 29 2 */7", "2088-02-29 00:00", 1),
            ["2128-02-29 00:00 Sun"]
        );
        let s = Schedule::parse("0 0 29 2 */7").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2128-02-28 23:59")),
            Some(at("2088-02-29 00:00"))
        );
        // A fifth Tuesday in February needs 29 February on a Tuesday: 2084, then 2124.
        assert_eq!(
            next_n("0 0 * 2 2#5", "2084-02-29 00:00", 1),
            ["2124-02-29 00:00 Tue"]
        );
        let s = Schedule::parse("0 0 * 2 2#5").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2124-02-28 23:59")),
            Some(at("2084-02-29 00:00"))
        );
    }

    proptest::proptest! {
        /// The rarest schedules (a 29-day February starting on a given weekday) have a slot
        /// after and before any minute of a whole 400-year cycle, each at most the horizon
        /// away.
        #[test]
        fn the_rarest_schedules_always_have_a_next_and_a_latest_slot(
            weekday in 0u32..7,
            minute in 0i64..(146_097 * 1440),
        ) {
            let s = Schedule::parse(&format!("0 0 * 2 {weekday}#5")).unwrap();
            let t = at("2000-01-01 00:00") + chrono::Duration::minutes(minute);
            let next = s.next_after(t);
            let latest = s.latest_at_or_before(t);
            proptest::prop_assert!(next.is_some_and(|n| (n - t).num_days() <= HORIZON_DAYS));
            proptest::prop_assert!(latest.is_some_and(|l| (t - l).num_days() <= HORIZON_DAYS));
        }
    }

    #[test]
    fn latest_at_or_before_walks_backwards() {
        let s = Schedule::parse("0 0 L * *").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2026-03-30 12:00")),
            Some(at("2026-02-28 00:00"))
        );
        assert_eq!(
            s.latest_at_or_before(at("2026-03-31 00:00")),
            Some(at("2026-03-31 00:00"))
        );
        let s = Schedule::parse("*/15 9-17 * * *").unwrap();
        assert_eq!(
            s.latest_at_or_before(at("2026-11-23 08:59")),
            Some(at("2026-11-22 17:45"))
        );
        assert_eq!(
            s.latest_at_or_before(at("2026-11-23 09:14")),
            Some(at("2026-11-23 09:00"))
        );
    }

    #[test]
    fn refusals_name_the_field_and_its_range() {
        let cases: &[(&str, &str)] = &[
            ("* * * *", "expected 5 fields"),
            ("0 * * * * *", "no seconds or year field"),
            ("0 0 * * * * 2026", "found 7"),
            (
                "60 * * * *",
                "minute: value 60 is out of range; allowed: 0-59",
            ),
            (
                "* 24 * * *",
                "hour: value 24 is out of range; allowed: 0-23",
            ),
            ("* * 0 * *", "day-of-month: value 0 is out of range"),
            ("* * 32 * *", "day-of-month: value 32"),
            (
                "* * * 13 *",
                "month: value 13 is out of range; allowed: 1-12 or JAN-DEC",
            ),
            (
                "* * * * 8",
                "day-of-week: value 8 is out of range; allowed: 0-7 or SUN-SAT",
            ),
            ("* * * FOO *", "month: 'FOO' is not a value"),
            ("* * * foo *", "month: 'foo' is not a value"),
            ("1,,2 * * * *", "minute: empty list item"),
            ("5-2 * * * *", "minute: range '5-2' runs backwards"),
            ("*/0 * * * *", "minute: '*/0': step 0 is out of range"),
            (
                "5/10 * * * *",
                "minute: '5/10': a step needs a range; write 5-59/10",
            ),
            ("* * ? * *", "day-of-month: '?' is Quartz syntax"),
            (
                "L * * * *",
                "'L' is allowed only in day-of-month and day-of-week",
            ),
            ("* * * * L", "write nL"),
            ("* * * * 1#6", "the k in n#k must be 1-5"),
            ("* * * * 1#+2", "the k in n#k must be 1-5"),
            ("*/+5 * * * *", "the step after '/' must be a whole number"),
            ("* * 1#2 * *", "allowed only in day-of-week"),
            ("* * * * 3W", "allowed only in day-of-month"),
            ("0 0 30 2 *", "can never fire"),
            ("0 0 31 4,6,9,11 *", "can never fire"),
            ("@reboot", "unknown macro '@reboot'"),
            ("", "expected 5 fields"),
            ("* - * * *", "hour: missing value"),
            (
                "0\u{a0}0 * * *",
                "minute: '0\\u{a0}0' contains a no-break space (U+00A0)",
            ),
            (
                "0 0 * * *\r\n",
                "invalid schedule '0 0 * * *\\r\\n': day-of-week: '*\\r\\n' contains a \
                 carriage return (U+000D); separate fields with plain spaces or tabs",
            ),
            ("0 0 * * *\u{1b}", "a control character (U+001B)"),
        ];
        for (expr, expected) in cases {
            let message = error_of(expr);
            assert!(
                message.contains(expected),
                "{expr:?}: {message:?} lacks {expected:?}"
            );
        }
    }

    /// Debian's entry.c marks a job as a wildcard job (for DST) when the first character of
    /// its minute or hour field is `*`, and for no other reason.
    #[test]
    fn a_job_follows_the_wall_clock_only_when_minute_or_hour_starts_with_a_star() {
        let cases = [
            ("* * * * *", true),
            ("*/15 * * * *", true),
            ("0 * * * *", true),
            ("5 */2 * * *", true),
            ("@hourly", true),
            ("0-59/30 2 * * *", false),
            ("0 0-23/2 * * *", false),
            ("1,*/5 2 * * *", false),
            ("30 2 * * *", false),
            ("0 8 */2 * *", false),
            ("@daily", false),
        ];
        for (expr, wall_clock) in cases {
            assert_eq!(
                Schedule::parse(expr).unwrap().follows_wall_clock(),
                wall_clock,
                "{expr}"
            );
        }
    }

    #[test]
    fn backwards_ranges_suggest_the_wrap_around() {
        let cases = [
            ("sat-sun", 4, "write sat-7 (7 is Sunday too)"),
            ("SAT-SUN/2", 4, "write SAT-7/2 (7 is Sunday too)"),
            ("7-2", 4, "write 0-2 (0 is Sunday too)"),
            ("fri-mon", 4, "to wrap around, write fri-sat,sun-mon"),
            ("6-1", 4, "to wrap around, write 6,0-1"),
            ("23-2", 1, "to wrap around, write 23,0-2"),
            ("22-0", 1, "to wrap around, write 22-23,0"),
            ("50-10/5", 0, "to wrap around, write 50-59/5,0-10/5"),
            ("Nov-FEB", 3, "to wrap around, write Nov-Dec,JAN-FEB"),
            ("dec-1", 3, "to wrap around, write dec,1"),
        ];
        for (text, field, hint) in cases {
            let message = parse_field(text, &FIELDS[field]).err().unwrap();
            assert_eq!(
                message,
                format!("range '{text}' runs backwards; {hint}"),
                "{text}"
            );
        }
    }

    /// A step is checked before the range it applies to, so that no hint built from the
    /// range suggests a step that is itself refused.
    #[test]
    fn a_bad_step_is_named_before_the_range() {
        for (expr, expected) in [
            ("5/0 * * * *", "minute: '5/0': step 0 is out of range 1-59"),
            (
                "50-10/60 * * * *",
                "minute: '50-10/60': step 60 is out of range 1-59",
            ),
        ] {
            let message = error_of(expr);
            assert!(message.contains(expected), "{expr}: {message}");
        }
    }

    proptest::proptest! {
        /// Every backwards range, in every field, written with numbers or names in any case
        /// and with or without a step, gets a suggestion that parses; without a step the
        /// suggestion means exactly the wrap-around from the start past the field's end to
        /// the end.
        #[test]
        fn the_suggestion_for_a_backwards_range_parses_and_wraps_around(
            field in 0usize..5,
            ends in (0u32..=59, 0u32..=59),
            names in proptest::prelude::any::<(bool, bool)>(),
            upper in proptest::prelude::any::<bool>(),
            step in proptest::option::of(1u32..=7),
        ) {
            let field = &FIELDS[field];
            let values = field.max - field.min + 1;
            let (x, y) = (field.min + ends.0 % values, field.min + ends.1 % values);
            proptest::prop_assume!(x != y);
            let (low, high) = (x.max(y), x.min(y));
            let write = |v: u32, name: bool| {
                let named = field.names.get(v.wrapping_sub(field.name_base) as usize);
                match named {
                    Some(n) if name && upper => n.to_string(),
                    Some(n) if name => n.to_ascii_lowercase(),
                    _ => v.to_string(),
                }
            };
            let step_text = step.map(|s| format!("/{s}")).unwrap_or_default();
            let text = format!("{}-{}{step_text}", write(low, names.0), write(high, names.1));
            let message = parse_field(&text, field).err().unwrap();
            let suggestion = message
                .split("write ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .unwrap();
            let parsed = parse_field(suggestion, field);
            proptest::prop_assert!(parsed.is_ok(), "{} -> {}: {:?}", text, suggestion, parsed.err());
            if step.is_none() {
                let bits = parsed.map(|p| p.bits).unwrap_or(0);
                let mut wrap: u64 = 0;
                let top = if field.kind == Kind::DayOfWeek { 7 } else { field.max };
                for v in (low..=top).chain(field.min..=high) {
                    wrap |= 1 << if field.kind == Kind::DayOfWeek { v % 7 } else { v };
                }
                proptest::prop_assert_eq!(bits, wrap, "{} -> {}", text, suggestion);
            }
        }
    }

    #[test]
    fn day_fields_and_only_when_one_starts_with_a_star() {
        // */2 starts with '*': AND. Wednesdays that are odd days of the month.
        assert_eq!(
            next_n("0 0 */2 * 3", "2026-11-01 00:00", 2),
            ["2026-11-11 00:00 Wed", "2026-11-25 00:00 Wed"]
        );
        // 1-31/2 does not start with '*': OR. Odd days, and every Wednesday.
        assert_eq!(
            next_n("0 0 1-31/2 * 3", "2026-11-01 00:00", 3),
            [
                "2026-11-03 00:00 Tue",
                "2026-11-04 00:00 Wed",
                "2026-11-05 00:00 Thu"
            ]
        );
    }
}
