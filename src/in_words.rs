//! TEMPORARY stub until the in-words branch lands.
use crate::schedule::{Schedule, ScheduleError};
pub fn describe(expression: &str) -> Result<String, ScheduleError> {
    Schedule::parse(expression).map(|s| s.source().to_string())
}
