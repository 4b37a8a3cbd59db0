//! A schedule in plain English, for people reading a list of jobs: the admin page shows
//! each schedule in crontab notation and in words. Pure: no clock, no I/O.
//!
//! The words follow the fields as written, not the set of minutes they select, because the
//! notation carries what the bits lose: `*/15` reads "every 15 minutes" where `0,15,30,45`
//! reads "at minutes 0, 15, 30 and 45", and whether the two day fields combine with AND or
//! with OR depends on their first characters (see `schedule`). The OR is always said as
//! "or", since it is the part of cron that people most often get wrong.
//!
//! The description is short and never longer than [`MAX_CHARS`]: a list longer than a few
//! items is shown in compact notation (`minutes 0,5,7,11,13,17,…`) instead of in words.

use crate::schedule::{Kind, Schedule, ScheduleError};

/// The most characters `describe` returns: the text goes in a table cell next to the
/// expression, so it must stay short whatever the expression.
pub const MAX_CHARS: usize = 200;

/// The most parts a list is spelled out with ("days 1, 8, 15, 22 and 29"); a longer list
/// is shown in compact notation, which the reader can check against the expression.
const MAX_PARTS: usize = 6;

/// The most characters the words for one day field take before the field is shown in
/// compact notation instead, so that one field cannot crowd the others out of the cap.
const MAX_FIELD_CHARS: usize = 64;

/// Describes a cron expression (five fields or a macro) in plain English, with 24-hour
/// times: `30 2 * * 1-5` is "at 02:30, Monday through Friday".
///
/// The expression is first checked by [`Schedule::parse`], so exactly the expressions it
/// refuses are refused here, with the same error.
pub fn describe(expression: &str) -> Result<String, ScheduleError> {
    let schedule = Schedule::parse(expression)?;
    // `sentence` reads only what `parse` accepted, so it does not fail; should it ever,
    // the notation itself is a truthful description.
    let words = sentence(schedule.fields())
        .unwrap_or_else(|| format!("on the schedule {}", schedule.source()));
    Ok(capped(words))
}

/// The words for five accepted fields, or `None` if a field is not in the dialect.
fn sentence([minute, hour, dom, month, dow]: [&str; 5]) -> Option<String> {
    let minutes = Field::read(minute, &MINUTE)?;
    let hours = Field::read(hour, &HOUR)?;
    let doms = Field::read(dom, &DAY_OF_MONTH)?;
    let months = Field::read(month, &MONTH)?;
    let dows = Field::read(dow, &DAY_OF_WEEK)?;
    let (time, clock_times) = time_words(&minutes, &hours);
    // Debian cron: when either day field starts with `*`, a day must match both.
    let and_days = dom.starts_with('*') || dow.starts_with('*');
    let days = day_words(&doms, &dows, &months, and_days, clock_times);
    // "every hour, on the hour" ends in an aside, so what follows is set off too.
    let pause = if time.ends_with("on the hour") && !days.is_empty() && !days.starts_with(',') {
        ","
    } else {
        ""
    };
    Some(format!("{time}{pause}{days}"))
}

/// What a field allows, as far as reading an accepted field needs.
struct Spec {
    kind: Kind,
    min: u32,
    max: u32,
    /// Full names, the first standing for `min`; a name is written with its first three
    /// letters in the expression.
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: &[&str] = &[
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const NTH: &[&str] = &["first", "second", "third", "fourth", "fifth"];

const MINUTE: Spec = Spec {
    kind: Kind::Minute,
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Spec = Spec {
    kind: Kind::Hour,
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Spec = Spec {
    kind: Kind::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Spec = Spec {
    kind: Kind::Month,
    min: 1,
    max: 12,
    names: MONTHS,
};
const DAY_OF_WEEK: Spec = Spec {
    kind: Kind::DayOfWeek,
    min: 0,
    max: 7,
    names: WEEKDAYS,
};

impl Spec {
    /// The top of `*`: in day-of-week 6, as 7 only repeats Sunday.
    fn top(&self) -> u32 {
        if self.kind == Kind::DayOfWeek {
            6
        } else {
            self.max
        }
    }

    /// How many distinct values the field has (Sunday counted once).
    fn count(&self) -> usize {
        (self.top() - self.min + 1) as usize
    }
}

/// One item of a field's list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Item {
    /// `*`, `*/n`, `a`, `a-b` or `a-b/n`: every `step`-th value from `low` through `high`.
    Span {
        low: u32,
        high: u32,
        step: u32,
        star: bool,
    },
    /// `L`: the last day of the month.
    LastDay,
    /// `nW`: the weekday nearest day n.
    NearestWeekday(u32),
    /// `wL`: the last weekday w of the month.
    LastWeekday(u32),
    /// `w#k`: the k-th weekday w of the month.
    NthWeekday(u32, u32),
}

impl Item {
    /// The item in canonical notation (numbers, not names), for compact text: short
    /// whatever way it was written (`0005` is 5).
    fn notation(&self) -> String {
        match *self {
            Item::Span {
                step: 1,
                star: true,
                ..
            } => "*".to_string(),
            Item::Span {
                step, star: true, ..
            } => format!("*/{step}"),
            Item::Span { low, high, .. } if low == high => low.to_string(),
            Item::Span {
                low, high, step: 1, ..
            } => format!("{low}-{high}"),
            Item::Span {
                low, high, step, ..
            } => format!("{low}-{high}/{step}"),
            Item::LastDay => "L".to_string(),
            Item::NearestWeekday(day) => format!("{day}W"),
            Item::LastWeekday(weekday) => format!("{weekday}L"),
            Item::NthWeekday(weekday, nth) => format!("{weekday}#{nth}"),
        }
    }
}

/// A field read into its items and the plain values they select.
struct Field {
    spec: &'static Spec,
    items: Vec<Item>,
    /// The values selected by `Span` items, ascending, each once (Sunday as 0).
    values: Vec<u32>,
}

impl Field {
    /// Reads a field that `Schedule::parse` accepted, mirroring its rules; `None` for
    /// anything else.
    fn read(text: &str, spec: &'static Spec) -> Option<Field> {
        let items = text
            .split(',')
            .map(|item| read_item(item, spec))
            .collect::<Option<Vec<Item>>>()?;
        let mut selected = vec![false; spec.max as usize + 1];
        for item in &items {
            if let Item::Span {
                low, high, step, ..
            } = *item
            {
                let mut v = low;
                while v <= high {
                    if let Some(slot) = selected.get_mut(canonical(v, spec) as usize) {
                        *slot = true;
                    }
                    v += step.max(1);
                }
            }
        }
        let values = (0..selected.len() as u32)
            .filter(|&v| selected[v as usize])
            .collect();
        Some(Field {
            spec,
            items,
            values,
        })
    }

    /// Whether the plain values alone select every value of the field.
    fn covers_all(&self) -> bool {
        self.values.len() == self.spec.count()
    }

    /// Whether the field has items other than plain values (`L`, `nW`, `wL`, `w#k`).
    fn has_specials(&self) -> bool {
        self.items
            .iter()
            .any(|item| !matches!(item, Item::Span { .. }))
    }

    /// The single step item (`*/n`, `a-b/n`, n > 1) the field consists of, if it does.
    fn lone_step(&self) -> Option<u32> {
        match self.items.as_slice() {
            [Item::Span { step, .. }] if *step > 1 && self.values.len() > 1 => Some(*step),
            _ => None,
        }
    }

    /// The first items in canonical notation, comma-separated as in crontab, with `…`
    /// when some are left out.
    fn compact(&self) -> String {
        let mut shown: Vec<String> = self
            .items
            .iter()
            .take(MAX_PARTS)
            .map(Item::notation)
            .collect();
        if self.items.len() > MAX_PARTS {
            shown.push("…".to_string());
        }
        shown.join(",")
    }
}

/// Day-of-week 7 is Sunday, 0.
fn canonical(value: u32, spec: &Spec) -> u32 {
    if spec.kind == Kind::DayOfWeek {
        value % 7
    } else {
        value
    }
}

fn read_item(text: &str, spec: &Spec) -> Option<Item> {
    // The same order of checks as `schedule::parse_item`, so that, say, `JUL` in the month
    // field is a name and not `JU` with an `L`.
    if text.eq_ignore_ascii_case("L") {
        return (spec.kind == Kind::DayOfMonth).then_some(Item::LastDay);
    }
    if let Some(day) = strip_letter(text, 'W') {
        return (spec.kind == Kind::DayOfMonth)
            .then(|| value(day, spec).map(Item::NearestWeekday))
            .flatten();
    }
    if let Some((weekday, nth)) = text.split_once('#') {
        let weekday = value(weekday, spec)? % 7;
        return Some(Item::NthWeekday(weekday, nth.parse().ok()?));
    }
    if spec.kind == Kind::DayOfWeek && text.len() > 1 {
        if let Some(weekday) = strip_letter(text, 'L') {
            return Some(Item::LastWeekday(value(weekday, spec)? % 7));
        }
    }
    let (range, step) = match text.split_once('/') {
        Some((range, step)) => (range, step.parse().ok()?),
        None => (text, 1),
    };
    let (low, high, star) = if range == "*" {
        (spec.min, spec.top(), true)
    } else if let Some((a, b)) = range.split_once('-') {
        (value(a, spec)?, value(b, spec)?, false)
    } else {
        let v = value(range, spec)?;
        (v, v, false)
    };
    Some(Item::Span {
        low,
        high,
        step,
        star,
    })
}

/// `text` without a trailing `letter` in either case.
fn strip_letter(text: &str, letter: char) -> Option<&str> {
    text.strip_suffix(letter)
        .or_else(|| text.strip_suffix(letter.to_ascii_lowercase()))
}

/// A number, or a name written with its first three letters in any case.
fn value(text: &str, spec: &Spec) -> Option<u32> {
    let named = spec.names.iter().position(|name| {
        name.get(..3)
            .is_some_and(|short| short.eq_ignore_ascii_case(text))
    });
    match named {
        Some(i) => Some(i as u32 + spec.min),
        None => text.parse().ok(),
    }
}

// ---------------------------------------------------------------------------------------
// The time of day: minute and hour.

/// How the minute or the hour field reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// Every value: `*`, `0-59`, `*/1`.
    All,
    /// A step written alone (`*/15`, `5-59/15`): every `every` from `first` through
    /// `last`. `even` when the gap from `last` round to `first` is `every` too, so that the
    /// field is an even beat ("every 15 minutes") and not a beat that restarts each hour.
    Step {
        every: u32,
        first: u32,
        last: u32,
        even: bool,
    },
    /// Any other set of values, read from `Field::values`.
    Set,
}

/// How a minute or hour field reads. A step that selects only a few values unevenly
/// (`0-30/10`) reads better as the values themselves.
fn clock(field: &Field) -> Clock {
    let cycle = field.spec.max + 1;
    if field.covers_all() {
        return Clock::All;
    }
    let (Some(every), Some(&first), Some(&last)) =
        (field.lone_step(), field.values.first(), field.values.last())
    else {
        return Clock::Set;
    };
    let even = last + every == first + cycle;
    if even || field.values.len() > MAX_PARTS {
        Clock::Step {
            every,
            first,
            last,
            even,
        }
    } else {
        Clock::Set
    }
}

/// The time-of-day words, and whether they are a list of clock times ("at 09:00 and
/// 17:00"), which alone need "every day" when no day is named.
fn time_words(minutes: &Field, hours: &Field) -> (String, bool) {
    let (m, h) = (clock(minutes), clock(hours));
    if m != Clock::All && minutes.values.len() * hours.values.len() <= MAX_PARTS {
        let times: Vec<String> = hours
            .values
            .iter()
            .flat_map(|h| minutes.values.iter().map(move |m| format!("{h:02}:{m:02}")))
            .collect();
        return (format!("at {}", join(&times, "and")), true);
    }
    let span = hour_span(hours);
    let words = match (m, h, span) {
        (Clock::All, Clock::All, _) => "every minute".to_string(),
        (Clock::All, _, Some((first, last))) => {
            format!("every minute from {first:02}:00 through {last:02}:59")
        }
        (Clock::All, _, None) => format!("every minute during {}", hour_words(hours, h)),
        (Clock::Step { .. }, Clock::All, _) => minute_words(minutes, m),
        // An even beat runs on across the hours, so it reads as one stretch of time.
        (
            Clock::Step {
                every,
                first,
                last,
                even: true,
            },
            _,
            Some((from, to)),
        ) => {
            format!("every {every} minutes from {from:02}:{first:02} through {to:02}:{last:02}")
        }
        (Clock::Step { .. }, _, _) => format!(
            "{} during {}",
            minute_words(minutes, m),
            hour_words(hours, h)
        ),
        (Clock::Set, Clock::All, _) => match minutes.values.as_slice() {
            [0] => "every hour, on the hour".to_string(),
            _ => format!("every hour {}", minute_words(minutes, m)),
        },
        (Clock::Set, _, _) => match (minutes.values.as_slice(), span) {
            ([minute], Some((first, last))) => {
                format!("every hour from {first:02}:{minute:02} through {last:02}:{minute:02}")
            }
            _ if matches!(h, Clock::Step { .. }) => {
                format!("{} of {}", minute_words(minutes, m), hour_words(hours, h))
            }
            _ => format!("{} past {}", minute_words(minutes, m), hour_words(hours, h)),
        },
    };
    (words, false)
}

/// The first and last hour when the hours are one unbroken run (`9-17`, `9`).
fn hour_span(hours: &Field) -> Option<(u32, u32)> {
    let (&first, &last) = (hours.values.first()?, hours.values.last()?);
    (clock(hours) == Clock::Set && (last - first) as usize + 1 == hours.values.len())
        .then_some((first, last))
}

/// The minute field as a phrase of its own: "every 15 minutes", "at minutes 0 and 30".
fn minute_words(minutes: &Field, shape: Clock) -> String {
    match shape {
        Clock::All => "every minute".to_string(),
        Clock::Step {
            every,
            first: 0,
            even: true,
            ..
        } => format!("every {every} minutes"),
        Clock::Step {
            every, first, last, ..
        } => format!("every {every} minutes from minute {first} through {last}"),
        Clock::Set => {
            let noun = if minutes.values.len() == 1 {
                "minute"
            } else {
                "minutes"
            };
            let list = spelled(minutes, |v| v.to_string()).unwrap_or_else(|| minutes.compact());
            format!("at {noun} {list}")
        }
    }
}

/// The hour field as what the minutes happen in: "every 2nd hour", "hours 09 and 17".
fn hour_words(hours: &Field, shape: Clock) -> String {
    match shape {
        Clock::All => "every hour".to_string(),
        Clock::Step {
            every,
            first: 0,
            even: true,
            ..
        } => format!("every {} hour", ordinal(every)),
        Clock::Step {
            every, first, last, ..
        } => format!(
            "every {} hour from {first:02} through {last:02}",
            ordinal(every)
        ),
        Clock::Set => match hours.values.as_slice() {
            [hour] => format!("hour {hour:02}"),
            [first, .., last] if hour_span(hours).is_some() => {
                format!("every hour from {first:02} through {last:02}")
            }
            _ => {
                let list = spelled(hours, |v| format!("{v:02}")).unwrap_or_else(|| hours.compact());
                format!("hours {list}")
            }
        },
    }
}

// ---------------------------------------------------------------------------------------
// The days and the months.

/// The day and month words, each starting with its separator (" on …", " in …"), or "".
fn day_words(
    doms: &Field,
    dows: &Field,
    months: &Field,
    and_days: bool,
    clock_times: bool,
) -> String {
    let (dom_any, dow_any) = (doms.covers_all(), dows.covers_all());
    // With OR, a day field that selects every day makes every day fire; with AND, it
    // restricts nothing.
    let (dom_counts, dow_counts) = if and_days {
        (!dom_any, !dow_any)
    } else {
        let both = !dom_any && !dow_any;
        (both, both)
    };
    // One month and plain days read as a date ("January 1"), which names the month too;
    // in an OR the month is said again at the end, as it bounds the weekdays as well.
    let date = dom_counts.then(|| date_words(doms, months)).flatten();
    let months_said = months.covers_all() || (date.is_some() && and_days);
    let dom = || date.clone().unwrap_or_else(|| dom_words(doms));
    let mut out = String::new();
    match (dom_counts, dow_counts) {
        (false, false) if clock_times => out.push_str(" every day"),
        (false, false) => {}
        (true, false) => {
            out.push_str(" on ");
            out.push_str(&dom());
        }
        (false, true) => out.push_str(&weekdays_alone(dows)),
        (true, true) if and_days => {
            out.push_str(&format!(" on {} if it is {}", dom(), dow_words(dows, "or")));
        }
        (true, true) => {
            out.push_str(&format!(" on {} or on {}", dom(), dow_words(dows, "or")));
        }
    }
    if !months_said {
        out.push_str(" in ");
        out.push_str(&month_words(months));
    }
    out
}

/// Days of one month, when the day of the month is plain days and the month is one:
/// "January 1", "January 1 and 15".
fn date_words(doms: &Field, months: &Field) -> Option<String> {
    let [month] = months.values.as_slice() else {
        return None;
    };
    if doms.has_specials() || doms.lone_step().is_some() {
        return None;
    }
    let days = spelled(doms, |v| v.to_string())?;
    Some(format!("{} {days}", name(*month, &MONTH)))
}

/// The day-of-month field with "of the month": "day 1", "days 1 and 15", "the last day",
/// "the weekday nearest day 15", or a step "every 2nd day … from day 1 through 31".
fn dom_words(doms: &Field) -> String {
    if let (Some(step), Some(first), Some(last)) =
        (doms.lone_step(), doms.values.first(), doms.values.last())
    {
        if doms.values.len() > MAX_PARTS {
            return format!(
                "every {} day of the month from day {first} through {last}",
                ordinal(step)
            );
        }
    }
    let mut parts = Vec::new();
    let mut fits = true;
    if !doms.values.is_empty() {
        let noun = if doms.values.len() == 1 {
            "day"
        } else {
            "days"
        };
        match spelled(doms, |v| v.to_string()) {
            Some(list) => parts.push(format!("{noun} {list}")),
            None => fits = false,
        }
    }
    let mut nearest: Vec<u32> = doms
        .items
        .iter()
        .filter_map(|item| match item {
            Item::NearestWeekday(day) => Some(*day),
            _ => None,
        })
        .collect();
    nearest.sort_unstable();
    nearest.dedup();
    match nearest.as_slice() {
        [] => {}
        [day] => parts.push(format!("the weekday nearest day {day}")),
        days if days.len() <= MAX_PARTS => {
            let days: Vec<String> = days.iter().map(u32::to_string).collect();
            parts.push(format!("the weekdays nearest days {}", join(&days, "and")));
        }
        _ => fits = false,
    }
    if doms.items.contains(&Item::LastDay) {
        parts.push("the last day".to_string());
    }
    let words = join(&parts, "and");
    if fits && words.chars().count() <= MAX_FIELD_CHARS {
        format!("{words} of the month")
    } else {
        format!("days {} of the month", doms.compact())
    }
}

/// The day of the week when it is the only day rule: ", Monday through Friday" for one
/// range of days (as one says it), else " on Sunday", " on the last Friday of the month".
fn weekdays_alone(dows: &Field) -> String {
    let runs = cyclic_runs(dows, 0);
    match runs.as_slice() {
        [(first, length)] if *length >= 3 && !dows.has_specials() => format!(
            ", {} through {}",
            name(*first, &DAY_OF_WEEK),
            name((first + length - 1) % 7, &DAY_OF_WEEK)
        ),
        _ => format!(" on {}", dow_words(dows, "and")),
    }
}

/// The day-of-week field, its items joined by `conjunction`: "and" when the days stand
/// alone ("Monday and Friday"), "or" when they are one side of a condition.
fn dow_words(dows: &Field, conjunction: &str) -> String {
    let mut parts: Vec<String> = runs_in_words(&cyclic_runs(dows, 0), &DAY_OF_WEEK);
    let mut specials = Vec::new();
    for item in &dows.items {
        let words = match *item {
            Item::LastWeekday(weekday) => format!("the last {}", name(weekday, &DAY_OF_WEEK)),
            Item::NthWeekday(weekday, nth) => format!(
                "the {} {}",
                (nth as usize)
                    .checked_sub(1)
                    .and_then(|i| NTH.get(i))
                    .copied()
                    .unwrap_or("nth"),
                name(weekday, &DAY_OF_WEEK)
            ),
            _ => continue,
        };
        if !specials.contains(&words) {
            specials.push(words);
        }
    }
    let has_specials = !specials.is_empty();
    parts.extend(specials);
    let mut words = join(&parts, conjunction);
    if has_specials {
        words.push_str(" of the month");
    }
    if parts.len() <= MAX_PARTS && words.chars().count() <= MAX_FIELD_CHARS {
        words
    } else {
        format!("days {} of the week", dows.compact())
    }
}

/// The months: "January", "January through March", "November through February".
fn month_words(months: &Field) -> String {
    join(&runs_in_words(&cyclic_runs(months, 1), &MONTH), "and")
}

// ---------------------------------------------------------------------------------------
// Lists.

/// The values as a list of at most `MAX_PARTS` parts, a run of three or more written as
/// "a through b": "0 and 30", "1 through 7 and 15". `None` when the list is longer.
fn spelled(field: &Field, write: impl Fn(u32) -> String) -> Option<String> {
    let mut parts = Vec::new();
    let mut rest = field.values.as_slice();
    while let Some(&first) = rest.first() {
        // At least 1: the first value starts its own run.
        let length = rest
            .iter()
            .enumerate()
            .take_while(|&(i, &v)| v == first + i as u32)
            .count();
        if length >= 3 {
            parts.push(format!(
                "{} through {}",
                write(first),
                write(rest[length - 1])
            ));
        } else {
            parts.extend(rest[..length].iter().map(|&v| write(v)));
        }
        rest = &rest[length..];
    }
    (parts.len() <= MAX_PARTS).then(|| join(&parts, "and"))
}

/// Runs of consecutive values (first, length) of a field whose values go round (months,
/// weekdays), starting at `start` unless a run goes across it: December and January are
/// consecutive, and so are Saturday, Sunday and Monday.
fn cyclic_runs(field: &Field, start: u32) -> Vec<(u32, u32)> {
    let count = field.spec.count() as u32;
    let base = field.spec.min;
    let index = |v: u32| (v + count - base) % count;
    let selected = |i: u32| field.values.contains(&(base + i % count));
    let from = index(start);
    if field.values.len() as u32 == count {
        return vec![(base + from, count)];
    }
    // Start at the beginning of a run that goes across `start` when that run reads as a
    // range ("November through February") or is all there is ("Sunday and Monday"); a
    // list of single months still starts in January.
    let mut begin = from;
    while selected(begin + count - 1) && selected(begin) {
        begin = (begin + count - 1) % count;
    }
    let mut end = from;
    while selected(end) {
        end += 1;
    }
    let across = (end + count - begin) % count;
    if begin != from && across < 3 && (across as usize) < field.values.len() {
        begin = from;
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for offset in 0..count {
        let i = (begin + offset) % count;
        if !selected(i) {
            continue;
        }
        match runs.last_mut() {
            Some((first, length)) if (index(*first) + *length) % count == i => *length += 1,
            _ => runs.push((base + i, 1)),
        }
    }
    runs
}

/// Runs of named values in words: a run of three or more as "a through b".
fn runs_in_words(runs: &[(u32, u32)], spec: &Spec) -> Vec<String> {
    let count = spec.count() as u32;
    let at = |first: u32, offset: u32| spec.min + (first - spec.min + offset) % count;
    let mut parts = Vec::new();
    for &(first, length) in runs {
        if length >= 3 {
            parts.push(format!(
                "{} through {}",
                name(first, spec),
                name(at(first, length - 1), spec)
            ));
        } else {
            parts.extend((0..length).map(|offset| name(at(first, offset), spec)));
        }
    }
    parts
}

/// A month's or weekday's full name.
fn name(value: u32, spec: &Spec) -> String {
    let index = canonical(value, spec).wrapping_sub(spec.min) as usize;
    spec.names
        .get(index)
        .map_or_else(|| value.to_string(), |name| name.to_string())
}

/// "a", "a and b", "a, b and c".
fn join(parts: &[String], conjunction: &str) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `words`, cut at a word boundary with `…` if longer than `MAX_CHARS`. The compact
/// notation keeps every field short, so only an expression long in every field gets here.
fn capped(words: String) -> String {
    if words.chars().count() <= MAX_CHARS {
        return words;
    }
    let mut cut: String = words.chars().take(MAX_CHARS - 1).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    // A cut list should not end on its joining word.
    for joining in [" and", " or", " through"] {
        if let Some(shorter) = cut.strip_suffix(joining) {
            cut.truncate(shorter.len());
        }
    }
    let mut cut = cut.trim_end_matches([',', ' ']).to_string();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_schedules_in_words() {
        let table: &[(&str, &str)] = &[
            // The minute and the hour.
            ("* * * * *", "every minute"),
            ("*/15 * * * *", "every 15 minutes"),
            ("0-59/15 * * * *", "every 15 minutes"),
            (
                "5-59/15 * * * *",
                "every 15 minutes from minute 5 through 50",
            ),
            // 56 to 0 is 4 minutes, so this is not "every 7 minutes".
            ("*/7 * * * *", "every 7 minutes from minute 0 through 56"),
            ("0-59 * * * *", "every minute"),
            ("0 * * * *", "every hour, on the hour"),
            ("30 * * * *", "every hour at minute 30"),
            ("0005 * * * *", "every hour at minute 5"),
            ("0-30/10 * * * *", "every hour at minutes 0, 10, 20 and 30"),
            (
                "0-10,30 * * * *",
                "every hour at minutes 0 through 10 and 30",
            ),
            (
                "0,5,7,11,13,17,19 * * * *",
                "every hour at minutes 0,5,7,11,13,17,…",
            ),
            ("0 3 * * *", "at 03:00 every day"),
            ("0 9,17 * * *", "at 09:00 and 17:00 every day"),
            ("0 */6 * * *", "at 00:00, 06:00, 12:00 and 18:00 every day"),
            (
                "*/30 */12 * * *",
                "at 00:00, 00:30, 12:00 and 12:30 every day",
            ),
            (
                "0,30 9-17 * * *",
                "at minutes 0 and 30 past every hour from 09 through 17",
            ),
            ("0 9-17 * * *", "every hour from 09:00 through 17:00"),
            ("0 */2 * * *", "at minute 0 of every 2nd hour"),
            (
                "5 1-23/2 * * *",
                "at minute 5 of every 2nd hour from 01 through 23",
            ),
            (
                "0 0-20/3 * * *",
                "at minute 0 of every 3rd hour from 00 through 18",
            ),
            (
                "0 0-5,8,12,18-23 * * *",
                "at minute 0 past hours 00 through 05, 08, 12 and 18 through 23",
            ),
            ("* 9 * * *", "every minute from 09:00 through 09:59"),
            ("* 9-17 * * *", "every minute from 09:00 through 17:59"),
            ("* */2 * * *", "every minute during every 2nd hour"),
            ("*/10 */3 * * *", "every 10 minutes during every 3rd hour"),
            ("*/15 9,17 * * *", "every 15 minutes during hours 09 and 17"),
            (
                "5-59/15 9-17 * * *",
                "every 15 minutes from 09:05 through 17:50",
            ),
            // Not an even beat: 09:56 to 10:00 is 4 minutes.
            (
                "*/7 9-17 * * *",
                "every 7 minutes from minute 0 through 56 during every hour from 09 through 17",
            ),
            // The day of the week.
            ("30 2 * * 1-5", "at 02:30, Monday through Friday"),
            ("30 8 * * mon-fri", "at 08:30, Monday through Friday"),
            (
                "*/15 9-17 * * 1-5",
                "every 15 minutes from 09:00 through 17:45, Monday through Friday",
            ),
            ("0 0 * * 0", "at 00:00 on Sunday"),
            ("0 0 * * SUN", "at 00:00 on Sunday"),
            ("0 0 * * 7", "at 00:00 on Sunday"),
            ("0 0 * * 5-7", "at 00:00, Friday through Sunday"),
            ("0 0 * * sat,sun", "at 00:00 on Saturday and Sunday"),
            ("0 0 * * 0,3", "at 00:00 on Sunday and Wednesday"),
            (
                "0 0 * * */2",
                "at 00:00 on Sunday, Tuesday, Thursday and Saturday",
            ),
            ("0 12 * * 0-7", "at 12:00 every day"),
            ("* * * * 1", "every minute on Monday"),
            // The day of the month and the month.
            ("0 0 1 * *", "at 00:00 on day 1 of the month"),
            ("0 0 1,15 * *", "at 00:00 on days 1 and 15 of the month"),
            ("0 0 1-7 * *", "at 00:00 on days 1 through 7 of the month"),
            (
                "0 0 1,3,5,7,9,11,13 * *",
                "at 00:00 on days 1,3,5,7,9,11,… of the month",
            ),
            (
                "0 0 */2 * *",
                "at 00:00 on every 2nd day of the month from day 1 through 31",
            ),
            (
                "0 0 */10 * *",
                "at 00:00 on days 1, 11, 21 and 31 of the month",
            ),
            ("0 0 1 1 *", "at 00:00 on January 1"),
            ("0 0 1,15 1 *", "at 00:00 on January 1 and 15"),
            (
                "0 0 1 1-3 *",
                "at 00:00 on day 1 of the month in January through March",
            ),
            ("0 0 * 1-3 *", "at 00:00 every day in January through March"),
            ("30 8 * jun *", "at 08:30 every day in June"),
            (
                "0 0 1 jan,Jul *",
                "at 00:00 on day 1 of the month in January and July",
            ),
            (
                "0 0 1 nov-dec,jan-feb *",
                "at 00:00 on day 1 of the month in November through February",
            ),
            (
                "0 0 1 */3 *",
                "at 00:00 on day 1 of the month in January, April, July and October",
            ),
            // The specials.
            ("0 0 L * *", "at 00:00 on the last day of the month"),
            (
                "0 0 1,L * *",
                "at 00:00 on day 1 and the last day of the month",
            ),
            (
                "0 9 15W * *",
                "at 09:00 on the weekday nearest day 15 of the month",
            ),
            (
                "0 9 1w,15W * *",
                "at 09:00 on the weekdays nearest days 1 and 15 of the month",
            ),
            ("0 18 * * 5L", "at 18:00 on the last Friday of the month"),
            ("0 9 * * 1#2", "at 09:00 on the second Monday of the month"),
            (
                "0 9 * * MON#1,FRI#3",
                "at 09:00 on the first Monday and the third Friday of the month",
            ),
            (
                "0 9 * * 1-5,5L",
                "at 09:00 on Monday through Friday and the last Friday of the month",
            ),
            (
                "0 0 * 2 2#5",
                "at 00:00 on the fifth Tuesday of the month in February",
            ),
            // Both day fields: OR unless one starts with `*`.
            ("0 0 1 * MON", "at 00:00 on day 1 of the month or on Monday"),
            ("0 0 13 * 5", "at 00:00 on day 13 of the month or on Friday"),
            (
                "0 0 1-7 * 1",
                "at 00:00 on days 1 through 7 of the month or on Monday",
            ),
            (
                "0 0 1,15 * 3",
                "at 00:00 on days 1 and 15 of the month or on Wednesday",
            ),
            (
                "0 0 1 * 0,1",
                "at 00:00 on day 1 of the month or on Sunday or Monday",
            ),
            (
                "0 0 L * 5",
                "at 00:00 on the last day of the month or on Friday",
            ),
            (
                "0 0 1 * 5L",
                "at 00:00 on day 1 of the month or on the last Friday of the month",
            ),
            (
                "0 0 1-31/2 * 3",
                "at 00:00 on every 2nd day of the month from day 1 through 31 or on Wednesday",
            ),
            (
                "0 0 1 1 MON",
                "at 00:00 on January 1 or on Monday in January",
            ),
            (
                "0 0 */2 * 3",
                "at 00:00 on every 2nd day of the month from day 1 through 31 if it is Wednesday",
            ),
            (
                "0 0 */10 * 1",
                "at 00:00 on days 1, 11, 21 and 31 of the month if it is Monday",
            ),
            (
                "0 0 */10 * 1,5",
                "at 00:00 on days 1, 11, 21 and 31 of the month if it is Monday or Friday",
            ),
            ("0 0 29 2 */7", "at 00:00 on February 29 if it is Sunday"),
            // A day field that selects every day: with OR every day fires.
            ("0 0 1 * 0-7", "at 00:00 every day"),
            ("0 0 1-31 * 1", "at 00:00 every day"),
            // Macros.
            ("@daily", "at 00:00 every day"),
            ("@midnight", "at 00:00 every day"),
            ("@hourly", "every hour, on the hour"),
            ("0 * * * 1", "every hour, on the hour, on Monday"),
            (
                "0 * * * 1-5",
                "every hour, on the hour, Monday through Friday",
            ),
            ("0 * * 1 *", "every hour, on the hour, in January"),
            ("@weekly", "at 00:00 on Sunday"),
            ("@monthly", "at 00:00 on day 1 of the month"),
            ("@yearly", "at 00:00 on January 1"),
            ("@Annually", "at 00:00 on January 1"),
            // Separators as `parse` takes them.
            ("  0\t3  * * *  ", "at 03:00 every day"),
        ];
        let mut failures = Vec::new();
        for (expression, expected) in table {
            let words = describe(expression).unwrap();
            if words != *expected {
                failures.push(format!(
                    "{expression:?}\n  got      {words:?}\n  expected {expected:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn refusals_are_the_parsers() {
        for expression in [
            "@reboot",
            "* * * *",
            "60 * * * *",
            "0 22-2 * * *",
            "5/10 * * * *",
            "0 0 30 2 *",
            "* * * * L",
            "0\u{a0}0 * * *",
        ] {
            assert_eq!(
                describe(expression),
                Err(Schedule::parse(expression).unwrap_err()),
                "{expression:?}"
            );
        }
    }

    /// Every field at its longest still gives words under the cap, cut at a word.
    #[test]
    fn a_long_expression_is_cut_to_the_cap() {
        let expression = "1,2,3,4,5,6,7,8,9 0,1,2,3,4,5,6,7,8 1,3,5,7,9,11,13,15 \
                          1,3,5,7,8,10,12 1#1,2#2,3#3,4#4,5#5,6#1,0#2";
        let words = describe(expression).unwrap();
        assert!(words.chars().count() <= MAX_CHARS, "{words}");
        assert!(words.ends_with('…'), "{words}");
        assert!(
            words.starts_with("at minutes 1 through 9 past every hour from 00 through 08"),
            "{words}"
        );
    }

    #[test]
    fn lists_are_joined_and_cut_to_the_cap_at_a_word() {
        let parts: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join(&parts[..1], "and"), "a");
        assert_eq!(join(&parts[..2], "or"), "a or b");
        assert_eq!(join(&parts, "and"), "a, b and c");
        let long = "word and ".repeat(40);
        let cut = capped(long);
        assert!(cut.chars().count() <= MAX_CHARS);
        assert!(cut.ends_with("word…"), "{cut}");
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd"]
        );
    }

    /// A field's generator: its values, its names (written with three letters), and its
    /// specials.
    #[derive(Clone, Copy)]
    struct Pieces {
        min: u32,
        max: u32,
        names: &'static [&'static str],
        kind: Kind,
    }

    /// A value written as a number or, where the field has one, as a name in either case.
    fn written(pieces: Pieces, v: u32, style: u8) -> String {
        let name = v
            .checked_sub(pieces.min)
            .and_then(|i| pieces.names.get(i as usize))
            .and_then(|name| name.get(..3));
        match (name, style % 3) {
            (Some(name), 1) => name.to_ascii_uppercase(),
            (Some(name), 2) => name.to_ascii_lowercase(),
            _ => v.to_string(),
        }
    }

    /// One list item, now and then one the parser refuses (one past the top, a backwards
    /// range, a step too long, a special in the wrong place).
    fn item(p: Pieces) -> BoxedStrategy<String> {
        let span = p.max - p.min;
        let value = (p.min..=p.max, any::<u8>()).prop_map(move |(v, style)| written(p, v, style));
        let range =
            (p.min..=p.max, p.min..=p.max, any::<(u8, u8)>()).prop_map(move |(a, b, (s, t))| {
                format!("{}-{}", written(p, a.min(b), s), written(p, a.max(b), t))
            });
        let weekday = (0u32..=7, any::<u8>()).prop_map(move |(w, s)| written(p, w, s));
        let mut options = vec![
            (3, Just("*".to_string()).boxed()),
            (4, value.boxed()),
            (3, range.clone().boxed()),
            (2, (1..=span).prop_map(|n| format!("*/{n}")).boxed()),
            (
                2,
                (range, 1..=span)
                    .prop_map(|(r, n)| format!("{r}/{n}"))
                    .boxed(),
            ),
        ];
        match p.kind {
            Kind::DayOfMonth => {
                options.push((1, Just("L".to_string()).boxed()));
                options.push((1, (1u32..=31).prop_map(|d| format!("{d}W")).boxed()));
            }
            Kind::DayOfWeek => {
                options.push((1, weekday.clone().prop_map(|w| format!("{w}L")).boxed()));
                options.push((
                    1,
                    (weekday, 1u32..=5)
                        .prop_map(|(w, k)| format!("{w}#{k}"))
                        .boxed(),
                ));
            }
            _ => {}
        }
        let refused = prop_oneof![
            Just((p.max + 1).to_string()),
            (p.min..p.max).prop_map(|v| format!("{}-{v}", v + 1)),
            Just(format!("*/{}", span + 1)),
            Just("L".to_string()),
            Just("32W".to_string()),
            Just("1#6".to_string()),
            Just("5/10".to_string()),
        ];
        options.push((1, refused.boxed()));
        proptest::strategy::Union::new_weighted(options).boxed()
    }

    fn field(p: Pieces) -> impl Strategy<Value = String> {
        proptest::collection::vec(item(p), 1..=4).prop_map(|items| items.join(","))
    }

    fn expression() -> impl Strategy<Value = String> {
        let piece = |spec: &Spec| Pieces {
            min: spec.min,
            max: spec.max,
            names: spec.names,
            kind: spec.kind,
        };
        let fields = (
            field(piece(&MINUTE)),
            field(piece(&HOUR)),
            field(piece(&DAY_OF_MONTH)),
            field(piece(&MONTH)),
            field(piece(&DAY_OF_WEEK)),
        )
            .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"));
        let macros = proptest::sample::select(vec![
            "@daily",
            "@HOURLY",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@midnight",
            "@reboot",
        ])
        .prop_map(str::to_string);
        prop_oneof![20 => fields, 1 => macros]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `describe` never panics, refuses exactly what `parse` refuses with the same
        /// error, and otherwise gives tidy words under the cap, read from the fields (never
        /// the fallback that shows the notation).
        #[test]
        fn words_for_every_expression_parse_accepts(expression in expression()) {
            match (describe(&expression), Schedule::parse(&expression)) {
                (Ok(words), Ok(_)) => {
                    prop_assert!(!words.is_empty());
                    prop_assert!(words.chars().count() <= MAX_CHARS, "{}: {}", expression, words);
                    prop_assert!(!words.starts_with("on the schedule"), "{}: {}", expression, words);
                    prop_assert!(!words.contains("  ") && words.trim() == words, "{}: {:?}", expression, words);
                }
                (Err(refused), Err(parse_refused)) => prop_assert_eq!(refused, parse_refused),
                (described, parsed) => prop_assert!(
                    false,
                    "{}: describe {:?}, parse {:?}",
                    expression,
                    described,
                    parsed.map(|_| ())
                ),
            }
        }
    }
}
