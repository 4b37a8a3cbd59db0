//! When a failed attempt is tried again: exponential backoff from 60 s with jitter.
//!
//! The jitter is derived from the run id and attempt rather than from a random source,
//! so that many runs failing together spread out, yet a given run's delay is reproducible
//! (and testable).

/// The first retry waits at least this long.
const BASE_DELAY: i64 = 60;
/// No retry waits longer than six hours (plus jitter).
const MAX_DELAY: i64 = 6 * 3600;

/// Seconds to wait before retrying `run_id` after attempt number `failed_attempt` (1-based)
/// failed: 60 s, 120 s, 240 s … capped at 6 h, each plus up to half again as jitter.
pub fn retry_delay(run_id: i64, failed_attempt: i64) -> i64 {
    let doublings = (failed_attempt - 1).clamp(0, 20) as u32;
    let base = (BASE_DELAY << doublings).min(MAX_DELAY);
    let jitter = mix(run_id as u64 ^ ((failed_attempt as u64) << 40)) % (base as u64 / 2 + 1);
    base + jitter as i64
}

/// splitmix64's finaliser: a cheap, well-spread hash of one word.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delay_doubles_within_its_jitter_band(run_id in 1i64..1_000_000, attempt in 1i64..30) {
            let base = (60i64 << (attempt - 1).min(20)).min(MAX_DELAY);
            let delay = retry_delay(run_id, attempt);
            prop_assert!(delay >= base && delay <= base + base / 2, "{delay} vs base {base}");
        }
    }

    #[test]
    fn jitter_spreads_runs_that_fail_together() {
        let delays: std::collections::HashSet<i64> =
            (1..=50).map(|id| retry_delay(id, 1)).collect();
        assert!(delays.len() > 20, "only {} distinct delays", delays.len());
    }
}
