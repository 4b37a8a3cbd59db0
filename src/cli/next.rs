//! `cronq next EXPR`: the next slots of an expression, to check a schedule before using it.

use super::output::emit;
use super::shortened::Shortened;
use super::Context;
use crate::error::usage;
use crate::time::{format_time, parse_time, Timestamp};
use crate::timetable::Timetable;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// A cron expression: five fields (quote it) or a macro such as @daily
    expression: String,
    /// How many slots
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Slots strictly after this RFC 3339 time [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    after: Option<Timestamp>,
    /// Read the expression in this time zone (an IANA name); slots are still printed in UTC
    #[arg(long, value_name = "ZONE", default_value = "UTC", value_parser = Shortened(super::add::parse_zone))]
    tz: String,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let schedule = Timetable::parse(&args.expression, &args.tz).map_err(usage)?;
    let after = args.after.unwrap_or_else(|| context.clock.now());
    let mut text = String::new();
    for slot in schedule.slots_after(after).take(args.count as usize) {
        text.push_str(&format_time(slot));
        text.push('\n');
    }
    emit(&text)?;
    Ok(0)
}
