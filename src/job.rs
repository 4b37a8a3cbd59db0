//! What a job is: its name rules, its policies, and the statuses of its runs.

use std::fmt;
use std::str::FromStr;

/// Checks a job name against `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        return Err(format!(
            "invalid job name '{name}': use 1 to 64 of the characters A-Z a-z 0-9 _ . -"
        ));
    }
    Ok(())
}

/// Seconds a job's own timeout may be: one second to a year.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<i64> = 1..=31_536_000;
/// How many retries a job may have.
pub const RETRIES_RANGE: std::ops::RangeInclusive<i64> = 0..=100;

/// What a pass does with slots that were missed while cronq was not running (design §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catchup {
    /// The missed slots become one run for the newest; the rest are recorded missed.
    Latest,
    /// Each missed slot runs (at most 100 per pass); the rest are recorded missed.
    All,
    /// Missed slots are recorded missed; nothing runs until the next slot.
    Skip,
}

/// What a pass does with a slot that falls due while the job's previous run is unfinished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The slot is recorded skipped.
    Skip,
    /// The slot is queued anyway.
    Allow,
}

/// Where a run is in its life. `Skipped` and `Missed` are slots deliberately not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Pending,
    Running,
    Success,
    Failed,
    Skipped,
    Missed,
}

macro_rules! words {
    ($type:ident, $what:literal, $($variant:ident = $word:literal),+) => {
        impl $type {
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $word),+ }
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($word => Ok($type::$variant),)+
                    _ => Err(format!(
                        "unknown {} '{text}'; use one of: {}",
                        $what,
                        $type::WORDS.join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(
    Catchup,
    "catch-up policy",
    Latest = "latest",
    All = "all",
    Skip = "skip"
);
words!(Overlap, "overlap policy", Skip = "skip", Allow = "allow");
words!(
    RunStatus,
    "run status",
    Pending = "pending",
    Running = "running",
    Success = "success",
    Failed = "failed",
    Skipped = "skipped",
    Missed = "missed"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_pattern() {
        assert!(validate_name("Check.Email-Accounts_2").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("has space").is_err());
        assert!(validate_name(&"x".repeat(65)).is_err());
        assert!(validate_name(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn policies_round_trip_and_refuse_unknown_words() {
        for word in Catchup::WORDS {
            assert_eq!(word.parse::<Catchup>().unwrap().as_str(), *word);
        }
        assert_eq!(
            "sometimes".parse::<Overlap>().unwrap_err(),
            "unknown overlap policy 'sometimes'; use one of: skip, allow"
        );
    }
}
