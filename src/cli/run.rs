//! `cronq run`: one pass, silent when all is well.

use super::Context;
use crate::error::usage;
use crate::pass;
use crate::time::{format_time, human_duration, Clock, Timestamp};
use anyhow::Result;

/// How far `--now` may lie ahead of this machine's clock before a pass refuses it: a
/// pass at a later time records every slot up to it and moves each schedule past it, so
/// real passes would run nothing until the real clock got there.
pub const TIME_TRAVEL_LIMIT: i64 = 300;

#[derive(clap::Args, Default)]
pub struct Args {
    #[command(flatten)]
    pub time_travel: TimeTravel,
}

/// The explicit consent a pass needs to run at a `--now` in the future.
#[derive(clap::Args, Default)]
pub struct TimeTravel {
    /// Let --now lie more than 5 minutes ahead of this machine's clock. The pass then
    /// records every slot up to that time and moves each schedule past it (for test
    /// databases)
    #[arg(long, env = "CRONQ_TIME_TRAVEL")]
    time_travel: bool,
}

impl TimeTravel {
    /// Refuses a pass at a `--now` well ahead of the system clock unless consented to.
    pub fn check(&self, clock: &Clock) -> Result<()> {
        match too_far_ahead(clock.pinned(), Clock::new(None).now()) {
            Some(ahead) if !self.time_travel => Err(usage(format!(
                "--now {} lies {} ahead of this machine's clock: a pass at that time would \
                 record every slot until then and move every schedule past it, so real passes \
                 would run nothing until the clock got there. To see what runs when, use \
                 `cronq jobs` or `cronq next`; to do it anyway (a test database), add \
                 --time-travel",
                format_time(clock.now()),
                human_duration(ahead)
            ))),
            _ => Ok(()),
        }
    }
}

/// How far a pinned time lies ahead of the real one, when that is beyond the limit.
fn too_far_ahead(pinned: Option<Timestamp>, real: Timestamp) -> Option<i64> {
    pinned
        .map(|pinned| pinned - real)
        .filter(|&ahead| ahead > TIME_TRAVEL_LIMIT)
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    args.time_travel.check(&context.clock)?;
    crate::shutdown::install()?;
    let summary = pass::run_pass(&context.location()?, &context.clock)?;
    // Each failure was already logged to stderr (so cron mails it).
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pinned_time_well_ahead_is_time_travel() {
        assert_eq!(too_far_ahead(None, 1000), None);
        assert_eq!(too_far_ahead(Some(1000 + TIME_TRAVEL_LIMIT), 1000), None);
        assert_eq!(too_far_ahead(Some(500), 1000), None, "the past is fine");
        assert_eq!(
            too_far_ahead(Some(1000 + TIME_TRAVEL_LIMIT + 1), 1000),
            Some(TIME_TRAVEL_LIMIT + 1)
        );
    }
}
