//! The cron dialect (design §3), tested from outside the crate.
//!
//! 1. Properties: random valid expressions are generated from a grammar (lists of `*`, `*/n`,
//!    `a`, `a-b`, `a-b/n`, names in random case, `L`, `nW`, `nL`, `n#k`, macros), and the
//!    library's answers are compared with an independent oracle written here from the field
//!    semantics (Debian cron's day-of-month/day-of-week rule included). The oracle never calls
//!    into `cronq`: it works from the generated structure, not from the implementation's parser.
//! 2. A table of known schedules, worked out by hand (dates checked with `date -d`), run
//!    through the `cronq next` binary.
//! 3. The binary refuses bad expressions with exit code 2 and a message naming the field.

use assert_cmd::Command;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use cronq::schedule::Schedule;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// The expression model and its rendering
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const KINDS: [Kind; 5] = [
    Kind::Minute,
    Kind::Hour,
    Kind::DayOfMonth,
    Kind::Month,
    Kind::DayOfWeek,
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Kind {
    /// The values a field accepts, numbered as Debian cron numbers them (day-of-week 0-7).
    fn bounds(self) -> (u32, u32) {
        match self {
            Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
        }
    }

    /// The name of value `v` in this field, if it has one, with letter i upper case when bit i
    /// of `case` is set.
    fn name(self, v: u32, case: u8) -> Option<String> {
        let name = match self {
            Kind::Month => MONTHS.get(v.checked_sub(1)? as usize)?,
            Kind::DayOfWeek => WEEKDAYS.get(v as usize)?,
            _ => return None,
        };
        Some(
            name.chars()
                .enumerate()
                .map(|(i, c)| {
                    if case & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
        )
    }
}

/// One item of a comma-separated field list.
#[derive(Clone, Debug)]
enum Item {
    /// `*` or `*/n`
    Star { step: Option<u32> },
    /// `a`, as a number or (when `name` and the field has one) a name
    Value { v: u32, name: bool, case: u8 },
    /// `a-b` or `a-b/n`
    Range {
        a: u32,
        b: u32,
        step: Option<u32>,
        name_a: bool,
        name_b: bool,
        case: u8,
    },
    /// `L` (day-of-month only)
    LastDay,
    /// `nW` (day-of-month only)
    NearestWeekday(u32),
    /// `nL` (day-of-week only)
    LastWeekday(u32),
    /// `n#k` (day-of-week only)
    Nth {
        w: u32,
        k: u32,
        name: bool,
        case: u8,
    },
}

fn render_value(kind: Kind, v: u32, name: bool, case: u8) -> String {
    if name {
        if let Some(n) = kind.name(v, case) {
            return n;
        }
    }
    v.to_string()
}

fn render_item(kind: Kind, item: &Item) -> String {
    let step = |s: &Option<u32>| s.map(|s| format!("/{s}")).unwrap_or_default();
    match item {
        Item::Star { step: s } => format!("*{}", step(s)),
        Item::Value { v, name, case } => render_value(kind, *v, *name, *case),
        Item::Range {
            a,
            b,
            step: s,
            name_a,
            name_b,
            case,
        } => format!(
            "{}-{}{}",
            render_value(kind, *a, *name_a, *case),
            render_value(kind, *b, *name_b, case.rotate_left(3)),
            step(s)
        ),
        Item::LastDay => "L".to_string(),
        Item::NearestWeekday(n) => format!("{n}W"),
        Item::LastWeekday(w) => format!("{w}L"),
        Item::Nth { w, k, name, case } => format!("{}#{k}", render_value(kind, *w, *name, *case)),
    }
}

#[derive(Clone, Debug)]
struct Expr {
    /// `Some("@daily")` etc. when the expression is a macro; `fields` then holds its meaning.
    macro_name: Option<&'static str>,
    fields: [Vec<Item>; 5],
}

impl Expr {
    fn field_text(&self, i: usize) -> String {
        self.fields[i]
            .iter()
            .map(|item| render_item(KINDS[i], item))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn text(&self) -> String {
        match self.macro_name {
            Some(name) => name.to_string(),
            None => (0..5)
                .map(|i| self.field_text(i))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

fn value(v: u32) -> Item {
    Item::Value {
        v,
        name: false,
        case: 0,
    }
}

fn star() -> Item {
    Item::Star { step: None }
}

/// The macros, expanded by hand from the design (not by the implementation).
fn macro_expr(name: &'static str) -> Expr {
    let fields = match name {
        "@yearly" | "@annually" => [
            vec![value(0)],
            vec![value(0)],
            vec![value(1)],
            vec![value(1)],
            vec![star()],
        ],
        "@monthly" => [
            vec![value(0)],
            vec![value(0)],
            vec![value(1)],
            vec![star()],
            vec![star()],
        ],
        "@weekly" => [
            vec![value(0)],
            vec![value(0)],
            vec![star()],
            vec![star()],
            vec![value(0)],
        ],
        "@daily" | "@midnight" => [
            vec![value(0)],
            vec![value(0)],
            vec![star()],
            vec![star()],
            vec![star()],
        ],
        "@hourly" => [
            vec![value(0)],
            vec![star()],
            vec![star()],
            vec![star()],
            vec![star()],
        ],
        other => panic!("no macro {other}"),
    };
    Expr {
        macro_name: Some(name),
        fields,
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle: a plain evaluator of the model, written from the field semantics
// ---------------------------------------------------------------------------------------------

struct Oracle {
    minute: [bool; 60],
    hour: [bool; 24],
    month: [bool; 13],
    dom: [bool; 32],
    dom_last: bool,
    dom_nearest: Vec<u32>,
    /// Index 0 = Sunday.
    dow: [bool; 7],
    dow_last: Vec<u32>,
    dow_nth: Vec<(u32, u32)>,
    /// Debian cron: AND the day fields when either starts with `*`, else OR them.
    and_days: bool,
}

/// The plain values of one field: `*` is the whole Debian range (day-of-week 0-7).
fn plain_values(kind: Kind, items: &[Item]) -> Vec<u32> {
    let (min, max) = kind.bounds();
    let mut out = Vec::new();
    for item in items {
        let (lo, hi, step) = match *item {
            Item::Star { step } => (min, max, step.unwrap_or(1)),
            Item::Value { v, .. } => (v, v, 1),
            Item::Range { a, b, step, .. } => (a, b, step.unwrap_or(1)),
            _ => continue,
        };
        let mut v = lo;
        while v <= hi {
            out.push(v);
            v += step;
        }
    }
    out
}

impl Oracle {
    fn new(expr: &Expr) -> Oracle {
        let mut o = Oracle {
            minute: [false; 60],
            hour: [false; 24],
            month: [false; 13],
            dom: [false; 32],
            dom_last: false,
            dom_nearest: Vec::new(),
            dow: [false; 7],
            dow_last: Vec::new(),
            dow_nth: Vec::new(),
            and_days: expr.field_text(2).starts_with('*') || expr.field_text(4).starts_with('*'),
        };
        for v in plain_values(Kind::Minute, &expr.fields[0]) {
            o.minute[v as usize] = true;
        }
        for v in plain_values(Kind::Hour, &expr.fields[1]) {
            o.hour[v as usize] = true;
        }
        for v in plain_values(Kind::DayOfMonth, &expr.fields[2]) {
            o.dom[v as usize] = true;
        }
        for v in plain_values(Kind::Month, &expr.fields[3]) {
            o.month[v as usize] = true;
        }
        for v in plain_values(Kind::DayOfWeek, &expr.fields[4]) {
            // 7 is Sunday, like 0.
            o.dow[(v % 7) as usize] = true;
        }
        for item in &expr.fields[2] {
            match *item {
                Item::LastDay => o.dom_last = true,
                Item::NearestWeekday(n) => o.dom_nearest.push(n),
                _ => {}
            }
        }
        for item in &expr.fields[4] {
            match *item {
                Item::LastWeekday(w) => o.dow_last.push(w % 7),
                Item::Nth { w, k, .. } => o.dow_nth.push((w % 7, k)),
                _ => {}
            }
        }
        o
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let (y, m, day) = (date.year(), date.month(), date.day());
        if !self.month[m as usize] {
            return false;
        }
        let last = (28..=31)
            .rev()
            .find(|&d| NaiveDate::from_ymd_opt(y, m, d).is_some())
            .expect("a month has 28 to 31 days");
        let weekday = date.weekday().num_days_from_sunday();
        let dom_ok = self.dom[day as usize]
            || (self.dom_last && day == last)
            || self
                .dom_nearest
                .iter()
                .any(|&n| nearest_weekday(y, m, n, last) == Some(day));
        let dow_ok = self.dow[weekday as usize]
            // nL: no later day of the same weekday in this month.
            || (self.dow_last.contains(&weekday) && NaiveDate::from_ymd_opt(y, m, day + 7).is_none())
            // n#k: this is the k-th such weekday, counting from the 1st.
            || self.dow_nth.iter().any(|&(w, k)| {
                w == weekday
                    && (1..=day)
                        .filter(|&d| {
                            NaiveDate::from_ymd_opt(y, m, d)
                                .is_some_and(|d| d.weekday().num_days_from_sunday() == weekday)
                        })
                        .count() as u32
                        == k
            });
        if self.and_days {
            dom_ok && dow_ok
        } else {
            dom_ok || dow_ok
        }
    }

    fn time_matches(&self, minute_of_day: u32) -> bool {
        self.hour[(minute_of_day / 60) as usize] && self.minute[(minute_of_day % 60) as usize]
    }

    fn matches(&self, t: NaiveDateTime) -> bool {
        self.day_matches(t.date()) && self.time_matches(t.hour() * 60 + t.minute())
    }

    /// The first matching minute strictly after `t`: a scan day by day with the day predicate,
    /// then minute by minute within matching days. Gives up after a whole 400-year Gregorian
    /// cycle, after which dates and weekdays repeat: what does not match in it never does.
    fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let first = floor_minute(t) + Duration::minutes(1);
        let mut date = first.date();
        let mut from = first.hour() * 60 + first.minute();
        for _ in 0..=GREGORIAN_CYCLE_DAYS {
            if self.day_matches(date) {
                if let Some(mod_) = (from..1440).find(|&m| self.time_matches(m)) {
                    return Some(at_minute(date, mod_));
                }
            }
            date = date.succ_opt()?;
            from = 0;
        }
        None
    }

    /// The last matching minute at or before `t`, scanning backwards the same way.
    fn latest_at_or_before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let last = floor_minute(t);
        let mut date = last.date();
        let mut until = last.hour() * 60 + last.minute();
        for _ in 0..=GREGORIAN_CYCLE_DAYS {
            if self.day_matches(date) {
                if let Some(mod_) = (0..=until).rev().find(|&m| self.time_matches(m)) {
                    return Some(at_minute(date, mod_));
                }
            }
            date = date.pred_opt()?;
            until = 1439;
        }
        None
    }
}

/// 400 years of the Gregorian calendar: exactly 20,871 weeks.
const GREGORIAN_CYCLE_DAYS: u32 = 146_097;

/// The day `nW` stands for: the weekday (Mon-Fri) of the month closest to day n; none when the
/// month has no day n. (There is never a tie: a Saturday has Friday one day before, a Sunday
/// has Monday one day after.)
fn nearest_weekday(y: i32, m: u32, n: u32, last: u32) -> Option<u32> {
    if n > last {
        return None;
    }
    (1..=last)
        .filter(|&d| {
            let wd = NaiveDate::from_ymd_opt(y, m, d).unwrap().weekday();
            wd != Weekday::Sat && wd != Weekday::Sun
        })
        .min_by_key(|&d| d.abs_diff(n))
}

fn floor_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.date()
        .and_hms_opt(t.hour(), t.minute(), 0)
        .expect("valid time")
}

fn at_minute(date: NaiveDate, minute_of_day: u32) -> NaiveDateTime {
    date.and_hms_opt(minute_of_day / 60, minute_of_day % 60, 0)
        .expect("valid time")
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn step(span: u32) -> BoxedStrategy<Option<u32>> {
    prop_oneof![
        3 => Just(None),
        2 => (1..=span.min(10)).prop_map(Some),
        1 => (1..=span).prop_map(Some),
    ]
    .boxed()
}

fn item(kind: Kind) -> BoxedStrategy<Item> {
    let (min, max) = kind.bounds();
    let span = max - min;
    let plain = prop_oneof![
        2 => step(span).prop_map(|step| Item::Star { step }),
        3 => (min..=max, any::<bool>(), any::<u8>())
            .prop_map(|(v, name, case)| Item::Value { v, name, case }),
        3 => (min..=max, min..=max, step(span), any::<bool>(), any::<bool>(), any::<u8>())
            .prop_map(|(x, y, step, name_a, name_b, case)| Item::Range {
                a: x.min(y),
                b: x.max(y),
                step,
                name_a,
                name_b,
                case,
            }),
    ];
    match kind {
        Kind::DayOfMonth => prop_oneof![
            6 => plain,
            1 => Just(Item::LastDay),
            2 => (1..=31u32).prop_map(Item::NearestWeekday),
        ]
        .boxed(),
        Kind::DayOfWeek => prop_oneof![
            6 => plain,
            2 => (0..=7u32).prop_map(Item::LastWeekday),
            2 => (0..=7u32, 1..=5u32, any::<bool>(), any::<u8>())
                .prop_map(|(w, k, name, case)| Item::Nth { w, k, name, case }),
        ]
        .boxed(),
        _ => plain.boxed(),
    }
}

fn field(kind: Kind) -> BoxedStrategy<Vec<Item>> {
    prop_oneof![
        2 => Just(vec![star()]),
        3 => prop::collection::vec(item(kind), 1..=3),
    ]
    .boxed()
}

fn expr() -> impl Strategy<Value = Expr> {
    let five = (
        field(Kind::Minute),
        field(Kind::Hour),
        field(Kind::DayOfMonth),
        field(Kind::Month),
        field(Kind::DayOfWeek),
    )
        .prop_map(|(a, b, c, d, e)| Expr {
            macro_name: None,
            fields: [a, b, c, d, e],
        });
    let macros = prop::sample::select(vec![
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ])
    .prop_map(macro_expr);
    prop_oneof![9 => five, 1 => macros]
}

/// Start times in 2000-2040: any second, sometimes with a fraction, often on a whole minute.
fn start_time() -> impl Strategy<Value = NaiveDateTime> {
    (
        2000i32..=2040,
        1u32..=366,
        prop_oneof![0u32..86_400, (0u32..1440).prop_map(|m| m * 60)],
        prop_oneof![3 => Just(0u32), 1 => 0u32..1_000_000_000],
    )
        .prop_map(|(year, ordinal, secs, nanos)| {
            let date = NaiveDate::from_yo_opt(year, ordinal)
                .or_else(|| NaiveDate::from_yo_opt(year, 365))
                .unwrap();
            date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).unwrap())
        })
}

/// Parses a generated expression. A generated expression is always well formed, so the only
/// acceptable refusal is "can never fire", and then the oracle must agree that no day in a
/// full 400-year cycle matches.
fn parse_generated(e: &Expr, oracle: &Oracle) -> Result<Option<Schedule>, TestCaseError> {
    let text = e.text();
    match Schedule::parse(&text) {
        Ok(s) => Ok(Some(s)),
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                message.contains("can never fire"),
                "{text:?} refused: {message}"
            );
            let probe = NaiveDate::from_ymd_opt(2001, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap();
            prop_assert_eq!(
                oracle.next_after(probe),
                None,
                "{:?} refused as never firing, but the oracle finds a slot",
                text
            );
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// (a) and (b): successive `next_after` slots are whole minutes strictly after the start,
    /// match the expression, and are exactly the oracle's next matching minutes, so no
    /// matching minute lies between the start and the first slot or between two slots.
    #[test]
    fn next_after_yields_every_matching_minute_in_order(e in expr(), start in start_time()) {
        let oracle = Oracle::new(&e);
        let Some(schedule) = parse_generated(&e, &oracle)? else { return Ok(()) };
        let text = e.text();
        let mut t = start;
        for i in 0..6 {
            let got = schedule.next_after(t);
            let want = oracle.next_after(t);
            prop_assert_eq!(got, want, "{:?}: slot {} after {}", text, i, t);
            let Some(slot) = got else { break };
            prop_assert!(slot > t, "{text:?}: {slot} is not after {t}");
            prop_assert_eq!((slot.second(), slot.nanosecond()), (0, 0));
            prop_assert!(schedule.matches(slot), "{text:?}: matches({slot}) is false");
            prop_assert!(oracle.matches(slot));
            // The Unix-seconds form agrees.
            let secs = t.and_utc().timestamp();
            prop_assert_eq!(
                schedule.next_slot_after(secs),
                Some(slot.and_utc().timestamp()),
                "{:?}: next_slot_after({})", text, secs
            );
            t = slot;
        }
    }

    /// (c): the newest slot at or before the next slot is that slot; the newest slot at or
    /// before t is at or before t, matches, is the oracle's, and nothing fires after it up to t.
    #[test]
    fn latest_at_or_before_is_consistent(e in expr(), t in start_time()) {
        let oracle = Oracle::new(&e);
        let Some(schedule) = parse_generated(&e, &oracle)? else { return Ok(()) };
        let text = e.text();
        if let Some(next) = schedule.next_after(t) {
            prop_assert_eq!(schedule.latest_at_or_before(next), Some(next), "{:?}", text);
        }
        let latest = schedule.latest_at_or_before(t);
        prop_assert_eq!(latest, oracle.latest_at_or_before(t), "{:?} at or before {}", text, t);
        if let Some(latest) = latest {
            prop_assert!(latest <= t, "{text:?}: {latest} is after {t}");
            prop_assert_eq!((latest.second(), latest.nanosecond()), (0, 0));
            prop_assert!(schedule.matches(latest), "{text:?}: matches({latest}) is false");
            prop_assert_eq!(schedule.next_after(latest), schedule.next_after(t), "{:?}", text);
            prop_assert_eq!(
                schedule.latest_slot_at_or_before(t.and_utc().timestamp()),
                Some(latest.and_utc().timestamp())
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// `matches` agrees with the oracle: on minutes around a random time, and on every day of
    /// that time's month at a time of day the expression accepts (so that the day rule, with
    /// L, nL, nW and n#k near the month's ends, decides).
    #[test]
    fn matches_agrees_with_the_oracle(e in expr(), t in start_time()) {
        let oracle = Oracle::new(&e);
        let Some(schedule) = parse_generated(&e, &oracle)? else { return Ok(()) };
        let text = e.text();
        for offset in [0i64, 1, 59, 60, 1440, -1440] {
            let minute = floor_minute(t) + Duration::minutes(offset);
            prop_assert_eq!(
                schedule.matches(minute),
                oracle.matches(minute),
                "{:?} at {}", text, minute
            );
        }
        let time_of_day = (0..1440).find(|&m| oracle.time_matches(m)).unwrap();
        let first = t.date().with_day(1).unwrap();
        for date in first.iter_days().take_while(|d| d.month() == first.month()) {
            let minute = at_minute(date, time_of_day);
            prop_assert_eq!(
                schedule.matches(minute),
                oracle.day_matches(date),
                "{:?} at {}", text, minute
            );
        }
    }
}

fn cronish_field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9*/,#LWlw?\\-]{0,8}",
        "[0-9]{1,3}(-[0-9]{1,3})?(/[0-9]{1,3})?",
        "[A-Za-z]{3}(-[A-Za-z]{3})?",
        "[0-9]{1,2}[LW#][0-9]?",
        "\\*(/[0-9+\\-]{1,3})?",
    ]
}

fn check_parse_result(text: &str) -> Result<(), TestCaseError> {
    match Schedule::parse(text) {
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                message.starts_with("invalid schedule '"),
                "{text:?}: {message:?}"
            );
        }
        Ok(schedule) => {
            // Accepted: it must fire, and its slots must match.
            let from = NaiveDate::from_ymd_opt(2020, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap();
            let next = schedule.next_after(from);
            prop_assert!(next.is_some(), "{text:?} accepted but never fires");
            prop_assert!(schedule.matches(next.unwrap()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// (d) Arbitrary strings never panic the parser, and every refusal has the prefix.
    #[test]
    fn parse_never_panics_on_any_string(text in any::<String>()) {
        check_parse_result(&text)?;
    }

    /// (d) Strings of cron-ish characters.
    #[test]
    fn parse_never_panics_on_cronish_strings(text in "[0-9A-Za-z*/,#@?\\- \t]{0,40}") {
        check_parse_result(&text)?;
    }

    /// (d) Four to seven cron-ish fields, to reach deep into the field parser.
    #[test]
    fn parse_never_panics_on_cronish_fields(
        fields in prop::collection::vec(cronish_field(), 4..=7),
        at_sign in any::<bool>(),
    ) {
        let mut text = fields.join(" ");
        if at_sign {
            text.insert(0, '@');
        }
        check_parse_result(&text)?;
    }
}

/// Debian cron and the design's "strictly" take only digits in a step and in the k of `n#k`,
/// but the parser uses `u32::from_str`, which also takes a leading '+'.
#[test]
fn a_plus_sign_is_not_a_number() {
    for text in ["*/+5 * * * *", "0 0 1-5/+2 * *", "0 0 * * 1#+2"] {
        let message = match Schedule::parse(text) {
            Ok(_) => panic!("{text:?} accepted"),
            Err(err) => err.to_string(),
        };
        assert!(
            message.starts_with(&format!("invalid schedule '{text}'")),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Through the binary
// ---------------------------------------------------------------------------------------------

fn cronq_next(expr: &str, count: usize, after: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("cronq")
        .unwrap()
        .env_remove("CRONQ_NOW")
        .env("CRONQ_DB", dir.path().join("unused.db"))
        .args([
            "next",
            expr,
            "--count",
            &count.to_string(),
            "--after",
            after,
        ])
        .output()
        .unwrap()
}

/// Known schedules under Debian cron's rules, worked out by hand. Weekdays were checked
/// with `date -u -d YYYY-MM-DD +%a`.
#[test]
fn known_schedules_through_the_binary() {
    let table: &[(&str, &str, &[&str])] = &[
        // OR: every Friday and every 13th (13 Dec 2026 is a Sunday).
        (
            "0 0 13 * 5",
            "2026-12-01T00:00:00Z",
            &[
                "2026-12-04T00:00:00Z",
                "2026-12-11T00:00:00Z",
                "2026-12-13T00:00:00Z",
                "2026-12-18T00:00:00Z",
                "2026-12-25T00:00:00Z",
            ],
        ),
        // The same in lower-case names.
        (
            "0 0 13 * fri",
            "2026-12-01T00:00:00Z",
            &[
                "2026-12-04T00:00:00Z",
                "2026-12-11T00:00:00Z",
                "2026-12-13T00:00:00Z",
            ],
        ),
        // */2 starts with '*': AND. Wednesdays on odd days (Dec 2026 Wednesdays: 2 9 16 23
        // 30; Jan 2027: 6 13 20 27).
        (
            "0 0 */2 * 3",
            "2026-12-01T00:00:00Z",
            &[
                "2026-12-09T00:00:00Z",
                "2026-12-23T00:00:00Z",
                "2027-01-13T00:00:00Z",
                "2027-01-27T00:00:00Z",
            ],
        ),
        // 1-31/2 does not start with '*': OR. Odd days and Wednesdays.
        (
            "0 0 1-31/2 * 3",
            "2026-12-01T00:00:00Z",
            &[
                "2026-12-02T00:00:00Z",
                "2026-12-03T00:00:00Z",
                "2026-12-05T00:00:00Z",
                "2026-12-07T00:00:00Z",
                "2026-12-09T00:00:00Z",
            ],
        ),
        // The classic surprise: not "the first Monday" but days 1-7 and every Monday.
        (
            "0 0 1-7 * 1",
            "2026-11-29T12:00:00Z",
            &[
                "2026-11-30T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2026-12-02T00:00:00Z",
                "2026-12-03T00:00:00Z",
                "2026-12-04T00:00:00Z",
                "2026-12-05T00:00:00Z",
                "2026-12-06T00:00:00Z",
                "2026-12-07T00:00:00Z",
                "2026-12-14T00:00:00Z",
            ],
        ),
        // Only the first character counts: "1,*/10" does not start with '*', so OR:
        // days 1 11 21 31 and Mondays.
        (
            "0 0 1,*/10 * 1",
            "2026-11-29T12:00:00Z",
            &[
                "2026-11-30T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2026-12-07T00:00:00Z",
                "2026-12-11T00:00:00Z",
                "2026-12-14T00:00:00Z",
                "2026-12-21T00:00:00Z",
            ],
        ),
        // OR within one month: Mondays of February and 29 February (2028-02-29 is a Tuesday).
        (
            "0 0 29 2 1",
            "2027-01-31T00:00:00Z",
            &[
                "2027-02-01T00:00:00Z",
                "2027-02-08T00:00:00Z",
                "2027-02-15T00:00:00Z",
                "2027-02-22T00:00:00Z",
                "2028-02-07T00:00:00Z",
                "2028-02-14T00:00:00Z",
                "2028-02-21T00:00:00Z",
                "2028-02-28T00:00:00Z",
                "2028-02-29T00:00:00Z",
            ],
        ),
        // 7 is Sunday, like 0, alone and at the end of a range.
        (
            "0 12 * * 7",
            "2026-11-23T00:00:00Z",
            &["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z"],
        ),
        (
            "0 12 * * 0",
            "2026-11-23T00:00:00Z",
            &["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z"],
        ),
        (
            "0 12 * * 5-7",
            "2026-11-23T00:00:00Z",
            &[
                "2026-11-27T12:00:00Z",
                "2026-11-28T12:00:00Z",
                "2026-11-29T12:00:00Z",
                "2026-12-04T12:00:00Z",
            ],
        ),
        (
            "0 12 * * sun",
            "2026-11-23T00:00:00Z",
            &["2026-11-29T12:00:00Z"],
        ),
        // Last Friday: 27 Nov 2026, 25 Dec 2026, 29 Jan 2027.
        (
            "0 18 * * 5L",
            "2026-11-01T00:00:00Z",
            &[
                "2026-11-27T18:00:00Z",
                "2026-12-25T18:00:00Z",
                "2027-01-29T18:00:00Z",
            ],
        ),
        // Last Sunday, written 7L.
        (
            "0 0 * * 7L",
            "2026-11-01T00:00:00Z",
            &["2026-11-29T00:00:00Z", "2026-12-27T00:00:00Z"],
        ),
        // Second Monday: 9 Nov, 14 Dec 2026, 11 Jan 2027.
        (
            "0 9 * * 1#2",
            "2026-11-01T00:00:00Z",
            &[
                "2026-11-09T09:00:00Z",
                "2026-12-14T09:00:00Z",
                "2027-01-11T09:00:00Z",
            ],
        ),
        // First Sunday, as 7#1 and as sun#1.
        (
            "0 0 * * 7#1",
            "2026-11-23T00:00:00Z",
            &["2026-12-06T00:00:00Z", "2027-01-03T00:00:00Z"],
        ),
        (
            "0 0 * * Sun#1",
            "2026-11-23T00:00:00Z",
            &["2026-12-06T00:00:00Z", "2027-01-03T00:00:00Z"],
        ),
        // Fifth Friday: only months that have one (Jan 2027: 29th; Apr 2027: 30th).
        (
            "0 9 * * 5#5",
            "2026-11-01T00:00:00Z",
            &["2027-01-29T09:00:00Z", "2027-04-30T09:00:00Z"],
        ),
        // 15W: Sat 15 Aug 2026 -> Fri 14; Tue 15 Sep; Thu 15 Oct; Sun 15 Nov -> Mon 16.
        (
            "0 9 15W * *",
            "2026-08-01T00:00:00Z",
            &[
                "2026-08-14T09:00:00Z",
                "2026-09-15T09:00:00Z",
                "2026-10-15T09:00:00Z",
                "2026-11-16T09:00:00Z",
            ],
        ),
        // 1W: Sat 1 Aug 2026 -> Mon 3 Aug (never back into July); Sun 1 Nov -> Mon 2 Nov.
        (
            "0 9 1W * *",
            "2026-07-15T00:00:00Z",
            &[
                "2026-08-03T09:00:00Z",
                "2026-09-01T09:00:00Z",
                "2026-10-01T09:00:00Z",
                "2026-11-02T09:00:00Z",
            ],
        ),
        // 31W: Sun 31 May 2026 -> Fri 29 (never into June); June has no 31st; Fri 31 Jul;
        // Mon 31 Aug; Sat 31 Oct -> Fri 30.
        (
            "0 9 31W * *",
            "2026-05-01T00:00:00Z",
            &[
                "2026-05-29T09:00:00Z",
                "2026-07-31T09:00:00Z",
                "2026-08-31T09:00:00Z",
                "2026-10-30T09:00:00Z",
            ],
        ),
        // L in February of non-leap and leap years.
        (
            "0 0 L 2 *",
            "2027-01-01T00:00:00Z",
            &[
                "2027-02-28T00:00:00Z",
                "2028-02-29T00:00:00Z",
                "2029-02-28T00:00:00Z",
            ],
        ),
        (
            "0 0 L * *",
            "2028-01-15T00:00:00Z",
            &[
                "2028-01-31T00:00:00Z",
                "2028-02-29T00:00:00Z",
                "2028-03-31T00:00:00Z",
                "2028-04-30T00:00:00Z",
            ],
        ),
        // Macros.
        (
            "@weekly",
            "2026-11-23T09:30:00Z",
            &["2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"],
        ),
        (
            "@monthly",
            "2026-11-23T09:30:00Z",
            &["2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        ),
        ("@yearly", "2026-11-23T09:30:00Z", &["2027-01-01T00:00:00Z"]),
        ("@hourly", "2026-11-23T09:30:00Z", &["2026-11-23T10:00:00Z"]),
        // Lower-case and mixed-case names; '*' in day-of-month: AND, so weekdays of July.
        (
            "30 8 * jan,jul mon-fri",
            "2026-06-30T12:00:00Z",
            &[
                "2026-07-01T08:30:00Z",
                "2026-07-02T08:30:00Z",
                "2026-07-03T08:30:00Z",
                "2026-07-06T08:30:00Z",
            ],
        ),
        (
            "0 0 1 Jan,jUL *",
            "2026-02-01T00:00:00Z",
            &["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        ),
        // Strictly after: a start on a slot is not returned; seconds are dropped.
        (
            "*/20 9-10 * * *",
            "2026-11-23T09:00:00Z",
            &[
                "2026-11-23T09:20:00Z",
                "2026-11-23T09:40:00Z",
                "2026-11-23T10:00:00Z",
                "2026-11-23T10:20:00Z",
                "2026-11-23T10:40:00Z",
                "2026-11-24T09:00:00Z",
            ],
        ),
        (
            "* * * * *",
            "2026-11-23T09:00:30Z",
            &["2026-11-23T09:01:00Z", "2026-11-23T09:02:00Z"],
        ),
        // A time with an offset is the same instant in UTC.
        (
            "0 * * * *",
            "2026-11-23T10:30:00+01:00",
            &["2026-11-23T10:00:00Z"],
        ),
        // Year rollover.
        (
            "59 23 31 12 *",
            "2026-12-31T23:59:00Z",
            &["2027-12-31T23:59:00Z"],
        ),
    ];
    let mut failures = Vec::new();
    for (expr, after, expected) in table {
        let out = cronq_next(expr, expected.len(), after);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let got: Vec<&str> = stdout.lines().collect();
        if !out.status.success() || got != *expected {
            failures.push(format!(
                "cronq next {expr:?} --count {} --after {after}: exit {:?}, got {got:?}, \
                 want {expected:?}, stderr {:?}",
                expected.len(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// 29 February on a Sunday fires in 2088 and next in 2128: 2100 is not a leap year, so the
/// wait is 40 years, the longest any schedule has. The search must reach across it. (Dates
/// from Python's datetime.)
#[test]
fn twenty_ninth_of_february_on_a_sunday_reaches_past_2100() {
    let out = cronq_next("0 0 29 2 */7", 3, "2080-01-01T00:00:00Z");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2088-02-29T00:00:00Z\n2128-02-29T00:00:00Z\n2156-02-29T00:00:00Z\n"
    );
}

/// A range that runs backwards is refused with a hint that keeps its meaning: the
/// wrap-around past the field's end, or, for a day-of-week range ending on Sunday, Sunday
/// written as 7 (swapping the ends of `sat-sun` would give `sun-sat`, every day).
#[test]
fn backwards_ranges_get_a_hint_that_keeps_their_meaning() {
    let table = [
        (
            "0 0 * * sat-sun",
            "day-of-week: range 'sat-sun' runs backwards; write sat-7",
        ),
        (
            "0 0 * * 5-0",
            "day-of-week: range '5-0' runs backwards; write 5-7",
        ),
        (
            "0 0 * * fri-mon",
            "day-of-week: range 'fri-mon' runs backwards; to wrap around, write fri-sat,sun-mon",
        ),
        (
            "0 22-2 * * *",
            "hour: range '22-2' runs backwards; to wrap around, write 22-23,0-2",
        ),
        (
            "50-10 * * * *",
            "minute: range '50-10' runs backwards; to wrap around, write 50-59,0-10",
        ),
        (
            "0 0 25-5 * *",
            "day-of-month: range '25-5' runs backwards; to wrap around, write 25-31,1-5",
        ),
        (
            "0 0 1 nov-feb *",
            "month: range 'nov-feb' runs backwards; to wrap around, write nov-dec,jan-feb",
        ),
    ];
    let mut failures = Vec::new();
    for (expr, hint) in table {
        let out = cronq_next(expr, 1, "2026-11-23T09:00:00Z");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !out.stdout.is_empty() || !stderr.contains(hint) {
            failures.push(format!(
                "cronq next {expr:?}: exit {:?}, stderr {stderr:?}, want {hint:?}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fields are separated by spaces and tabs only, as in Debian's cron. Any other white space
/// (a no-break space, a line break, a form feed, a vertical tab, an em space) is part of a
/// field, and so refused with exit code 2 and a one-line message naming that field and the
/// character.
#[test]
fn only_spaces_and_tabs_separate_fields() {
    let table = [
        (
            "0\u{a0}0 * * *",
            "minute: '0\\u{a0}0' contains a no-break space (U+00A0)",
        ),
        (
            "0 0 * *\n*",
            "month: '*\\n*' contains a line break (U+000A)",
        ),
        (
            "0 0 * * *\n",
            "day-of-week: '*\\n' contains a line break (U+000A)",
        ),
        (
            "0 0\u{c}1 * * *",
            "hour: '0\\u{c}1' contains a form feed (U+000C)",
        ),
        (
            "0 0 1\u{b}* * *",
            "day-of-month: '1\\u{b}*' contains a vertical tab (U+000B)",
        ),
        (
            "@daily\u{2003}",
            "'@daily\\u{2003}' contains white space that is not a space or tab (U+2003)",
        ),
    ];
    let mut failures = Vec::new();
    for (expr, message) in table {
        let out = cronq_next(expr, 1, "2026-11-23T09:00:00Z");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = out.status.code() == Some(2)
            && out.stdout.is_empty()
            && stderr.contains(message)
            && stderr.contains("separate fields with plain spaces or tabs")
            && stderr.trim_end().lines().count() == 1;
        if !ok {
            failures.push(format!(
                "cronq next {expr:?}: exit {:?}, stderr {stderr:?}, want {message:?}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Spaces and tabs, also around the expression, are separators.
    let out = cronq_next("\t0\t0 * *  *\t", 1, "2026-11-23T09:00:00Z");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2026-11-24T00:00:00Z\n"
    );
}

/// The binary refuses bad expressions: exit code 2, nothing on stdout, and a message that
/// names what is wrong (the field and its allowed range).
#[test]
fn bad_expressions_are_refused_with_exit_code_2() {
    let table: &[(&str, &[&str])] = &[
        ("60 * * * *", &["minute", "0-59"]),
        ("*/0 * * * *", &["minute", "step"]),
        ("* 24 * * *", &["hour", "0-23"]),
        ("* * 0 * *", &["day-of-month", "1-31"]),
        ("* * 32 * *", &["day-of-month", "1-31"]),
        ("* * * 13 *", &["month", "1-12"]),
        ("* * * 0 *", &["month", "1-12"]),
        ("* * * foo *", &["month", "1-12"]),
        ("* * * * 8", &["day-of-week", "0-7"]),
        ("* * * * mon#6", &["day-of-week", "1-5"]),
        ("* * 1,,2 * *", &["day-of-month"]),
        ("1, * * * *", &["minute"]),
        ("0 0 30 2 *", &["never fire"]),
        ("0 0 31 4,6,9,11 *", &["never fire"]),
        ("0 0 * * * *", &["5 fields"]),
        ("0 0 * * * * 2026", &["5 fields"]),
        ("* * * *", &["5 fields"]),
        ("", &["5 fields"]),
        ("@reboot", &["@reboot"]),
    ];
    let mut failures = Vec::new();
    for (expr, needles) in table {
        let out = cronq_next(expr, 1, "2026-11-23T09:00:00Z");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = out.status.code() == Some(2)
            && out.stdout.is_empty()
            && stderr.contains(&format!("invalid schedule '{expr}'"))
            && needles.iter().all(|n| stderr.contains(n));
        if !ok {
            failures.push(format!(
                "cronq next {expr:?}: exit {:?}, stdout {:?}, stderr {stderr:?}, want {needles:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
