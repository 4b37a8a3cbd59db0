//! Which of a job's slots become runs in this pass (design §4): catch-up and overlap
//! decisions. Pure: the pass hands in the job's state and the time, and stores the result.
//!
//! A pass considers the slots in (last slot dealt with, now]. Each gets exactly one
//! decision, and the pass then moves the job's last slot to the newest of them, so the
//! next pass starts where this one stopped. A clock that steps backwards makes the window
//! empty: nothing is planned twice.

use crate::job::{Catchup, Overlap};
use crate::time::{format_time, human_duration, Timestamp};
use crate::timetable::Timetable;

/// A pass records at most this many slots of one job individually; older ones in the
/// same window are summed up in one `missed` record. This bounds both the work of a pass
/// after long downtime and the history it writes.
pub const MAX_SLOTS_PER_PASS: usize = 100;

/// What happens to one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Becomes a pending run.
    Queue,
    /// Recorded as missed, with the reason.
    Missed(String),
    /// Recorded as skipped, with the reason.
    Skipped(String),
    /// Folded into the job's pending retry, this run: the retry is made due at the slot
    /// and runs in its place, and the slot's record says so. A pending retry never costs
    /// a slot.
    Merge(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotDecision {
    pub slot: Timestamp,
    pub verdict: Verdict,
}

/// The decisions for one job in one pass, oldest slot first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub decisions: Vec<SlotDecision>,
    /// The job's new last slot; equal to the old one when nothing was due.
    pub last_slot: Timestamp,
}

/// The job's state as the pass found it.
#[derive(Clone, Copy, Debug)]
pub struct JobState {
    pub catchup: Catchup,
    pub overlap: Overlap,
    /// The newest slot already dealt with (or the time the schedule started).
    pub last_slot: Timestamp,
    /// An earlier run of this job that is still pending or running.
    pub unfinished_run: Option<Unfinished>,
}

/// The oldest earlier run of a job that is still pending or running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unfinished {
    pub id: i64,
    /// It is the job's only unfinished run, and it is a slot's run waiting (pending, not
    /// claimed) for a retry: a slot that falls due meanwhile is merged into it rather
    /// than skipped. A claimed or running run, a queued first attempt or a request's run
    /// (with its own target and data) keeps the overlap policy.
    pub pending_retry: bool,
}

/// Decides every slot of `schedule` in (state.last_slot, now].
pub fn plan(schedule: &Timetable, state: &JobState, now: Timestamp, grace: i64) -> Plan {
    // Walk back from now: the newest slots matter most, and the walk stops at the cap
    // however long cronq was away.
    let mut newest_first = Vec::new();
    let mut cursor = now;
    while newest_first.len() < MAX_SLOTS_PER_PASS {
        match schedule.latest_slot_at_or_before(cursor) {
            Some(slot) if slot > state.last_slot => {
                newest_first.push(slot);
                cursor = slot - 60;
            }
            _ => break,
        }
    }
    let Some(&newest) = newest_first.first() else {
        return Plan {
            decisions: Vec::new(),
            last_slot: state.last_slot,
        };
    };
    let oldest_listed = newest_first[newest_first.len() - 1];
    let unlisted = schedule
        .next_slot_after(state.last_slot)
        .filter(|&first| first < oldest_listed);

    let is_late = |slot: Timestamp| now - slot >= grace;
    let any_on_time = newest_first.iter().any(|&s| !is_late(s));
    let mut decisions = Vec::with_capacity(newest_first.len() + 1);
    if let Some(first) = unlisted {
        decisions.push(SlotDecision {
            slot: first,
            verdict: Verdict::Missed(format!(
                "cronq did not run for {}: this and every slot up to {} missed \
                 (a pass records at most {MAX_SLOTS_PER_PASS} slots of a job one by one)",
                human_duration(now - first),
                format_time(
                    schedule
                        .latest_slot_at_or_before(oldest_listed - 60)
                        .unwrap_or(first)
                ),
            )),
        });
    }
    for &slot in newest_first.iter().rev() {
        let late_by = human_duration(now - slot);
        let runs = !is_late(slot)
            || match state.catchup {
                Catchup::All => true,
                Catchup::Latest => !any_on_time && slot == newest,
                Catchup::Skip => false,
            };
        let verdict = if !runs {
            Verdict::Missed(match state.catchup {
                Catchup::Skip => format!("late by {late_by} (catch-up skip)"),
                _ => format!(
                    "late by {late_by}; catch-up latest runs only the newest slot, {}",
                    format_time(newest)
                ),
            })
        } else if let (Overlap::Skip, Some(run)) = (state.overlap, state.unfinished_run) {
            if run.pending_retry {
                Verdict::Merge(run.id)
            } else {
                Verdict::Skipped(overlap_skip_reason(run.id))
            }
        } else {
            Verdict::Queue
        };
        decisions.push(SlotDecision { slot, verdict });
    }
    Plan {
        decisions,
        last_slot: newest,
    }
}

/// Why a slot is skipped under `--overlap skip` while run `run` is unfinished.
pub fn overlap_skip_reason(run: i64) -> String {
    format!("run {run} of this job was still unfinished (overlap skip)")
}

/// What the record of a slot merged into the pending retry `run` says.
pub fn merged_reason(run: i64) -> String {
    format!("merged into run {run}, this job's pending retry, made due at this slot")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;
    use crate::timetable::Timetable;
    use proptest::prelude::*;

    fn t(text: &str) -> Timestamp {
        parse_time(text).unwrap()
    }

    fn state(catchup: Catchup, last: &str) -> JobState {
        JobState {
            catchup,
            overlap: Overlap::Skip,
            last_slot: t(last),
            unfinished_run: None,
        }
    }

    fn summary(plan: &Plan) -> Vec<(String, &'static str)> {
        plan.decisions
            .iter()
            .map(|d| {
                let word = match d.verdict {
                    Verdict::Queue => "queue",
                    Verdict::Missed(_) => "missed",
                    Verdict::Skipped(_) => "skipped",
                    Verdict::Merge(_) => "merge",
                };
                (format_time(d.slot)[11..16].to_string(), word)
            })
            .collect()
    }

    fn hourly() -> Timetable {
        Timetable::parse("0 * * * *", "UTC").unwrap()
    }

    #[test]
    fn an_on_time_slot_is_queued_and_moves_the_last_slot() {
        let p = plan(
            &hourly(),
            &state(Catchup::Latest, "2026-11-23T08:00:00Z"),
            t("2026-11-23T09:00:15Z"),
            300,
        );
        assert_eq!(summary(&p), [("09:00".into(), "queue")]);
        assert_eq!(p.last_slot, t("2026-11-23T09:00:00Z"));
    }

    #[test]
    fn nothing_is_due_before_the_next_slot_or_when_the_clock_went_back() {
        let s = state(Catchup::Latest, "2026-11-23T09:00:00Z");
        for now in ["2026-11-23T09:59:59Z", "2026-11-23T07:00:00Z"] {
            let p = plan(&hourly(), &s, t(now), 300);
            assert!(p.decisions.is_empty(), "{now}");
            assert_eq!(p.last_slot, s.last_slot);
        }
    }

    #[test]
    fn catchup_latest_runs_only_the_newest_missed_slot() {
        let p = plan(
            &hourly(),
            &state(Catchup::Latest, "2026-11-23T05:30:00Z"),
            t("2026-11-23T09:20:00Z"),
            300,
        );
        assert_eq!(
            summary(&p),
            [
                ("06:00".into(), "missed"),
                ("07:00".into(), "missed"),
                ("08:00".into(), "missed"),
                ("09:00".into(), "queue")
            ]
        );
    }

    #[test]
    fn catchup_latest_prefers_an_on_time_slot() {
        let p = plan(
            &hourly(),
            &state(Catchup::Latest, "2026-11-23T07:30:00Z"),
            t("2026-11-23T09:02:00Z"),
            300,
        );
        assert_eq!(
            summary(&p),
            [("08:00".into(), "missed"), ("09:00".into(), "queue")]
        );
    }

    #[test]
    fn catchup_all_runs_every_missed_slot() {
        let p = plan(
            &hourly(),
            &state(Catchup::All, "2026-11-23T05:30:00Z"),
            t("2026-11-23T09:20:00Z"),
            300,
        );
        assert!(summary(&p).iter().all(|(_, w)| *w == "queue"));
        assert_eq!(p.decisions.len(), 4);
    }

    #[test]
    fn catchup_skip_runs_nothing_late() {
        let p = plan(
            &hourly(),
            &state(Catchup::Skip, "2026-11-23T05:30:00Z"),
            t("2026-11-23T09:20:00Z"),
            300,
        );
        assert!(summary(&p).iter().all(|(_, w)| *w == "missed"));
        assert_eq!(p.last_slot, t("2026-11-23T09:00:00Z"));
    }

    #[test]
    fn a_slot_within_the_grace_is_on_time_under_every_policy() {
        for catchup in [Catchup::Latest, Catchup::All, Catchup::Skip] {
            let p = plan(
                &hourly(),
                &state(catchup, "2026-11-23T08:30:00Z"),
                t("2026-11-23T09:04:59Z"),
                300,
            );
            assert_eq!(summary(&p), [("09:00".into(), "queue")], "{catchup}");
        }
    }

    #[test]
    fn an_unfinished_run_makes_overlap_skip_record_skipped() {
        let mut s = state(Catchup::Latest, "2026-11-23T08:30:00Z");
        s.unfinished_run = Some(Unfinished {
            id: 7,
            pending_retry: false,
        });
        let p = plan(&hourly(), &s, t("2026-11-23T09:00:00Z"), 300);
        assert_eq!(summary(&p), [("09:00".into(), "skipped")]);
        s.overlap = Overlap::Allow;
        let p = plan(&hourly(), &s, t("2026-11-23T09:00:00Z"), 300);
        assert_eq!(summary(&p), [("09:00".into(), "queue")]);
    }

    #[test]
    fn a_slot_due_while_a_retry_is_pending_is_merged_into_it() {
        let mut s = state(Catchup::Latest, "2026-11-23T08:30:00Z");
        s.unfinished_run = Some(Unfinished {
            id: 7,
            pending_retry: true,
        });
        let p = plan(&hourly(), &s, t("2026-11-23T09:00:05Z"), 300);
        assert_eq!(p.decisions.len(), 1);
        assert_eq!(p.decisions[0].verdict, Verdict::Merge(7));
        // overlap allow queues the slot beside the retry, as it queues beside any run.
        s.overlap = Overlap::Allow;
        let p = plan(&hourly(), &s, t("2026-11-23T09:00:05Z"), 300);
        assert_eq!(summary(&p), [("09:00".into(), "queue")]);
    }

    #[test]
    fn a_late_slot_the_catchup_policy_drops_is_missed_even_with_a_pending_retry() {
        let mut s = state(Catchup::Latest, "2026-11-23T06:30:00Z");
        s.unfinished_run = Some(Unfinished {
            id: 3,
            pending_retry: true,
        });
        let p = plan(&hourly(), &s, t("2026-11-23T09:20:00Z"), 300);
        assert_eq!(
            summary(&p),
            [
                ("07:00".into(), "missed"),
                ("08:00".into(), "missed"),
                ("09:00".into(), "merge")
            ]
        );
    }

    #[test]
    fn long_downtime_is_capped_and_summed_up() {
        let every_minute = Timetable::parse("* * * * *", "UTC").unwrap();
        let p = plan(
            &every_minute,
            &state(Catchup::All, "2026-01-01T00:00:00Z"),
            t("2026-11-23T09:00:00Z"),
            300,
        );
        assert_eq!(p.decisions.len(), MAX_SLOTS_PER_PASS + 1);
        let first = &p.decisions[0];
        assert_eq!(first.slot, t("2026-01-01T00:01:00Z"));
        let Verdict::Missed(reason) = &first.verdict else {
            panic!("{first:?}")
        };
        assert!(
            reason.contains("every slot up to 2026-11-23T07:20:00Z missed"),
            "{reason}"
        );
        assert!(p.decisions[1..].iter().all(|d| d.verdict == Verdict::Queue));
    }

    fn unfinished() -> impl Strategy<Value = Option<Unfinished>> {
        proptest::option::of(
            (1i64..100, any::<bool>())
                .prop_map(|(id, pending_retry)| Unfinished { id, pending_retry }),
        )
    }

    proptest! {
        /// Under overlap skip, a slot that runs is queued when nothing is unfinished,
        /// merged into the unfinished run exactly when that is a pending retry, and
        /// skipped only for a run that is not one: a pending retry never costs a slot.
        #[test]
        fn a_pending_retry_never_costs_a_slot(
            unfinished in unfinished(),
            catchup in prop_oneof![Just(Catchup::Latest), Just(Catchup::All), Just(Catchup::Skip)],
            last_back in 1i64..20,
            late in 0i64..3000,
        ) {
            let schedule = Timetable::parse("*/5 * * * *", "UTC").unwrap();
            let now = t("2026-11-23T09:00:00Z") + late;
            let mut s = state(catchup, "2026-11-23T09:00:00Z");
            s.last_slot -= last_back * 300;
            s.unfinished_run = unfinished;
            let p = plan(&schedule, &s, now, 300);
            for d in &p.decisions {
                match (&d.verdict, unfinished) {
                    (Verdict::Queue, None) | (Verdict::Missed(_), _) => {}
                    (Verdict::Merge(id), Some(u)) => {
                        prop_assert!(u.pending_retry && *id == u.id, "{d:?}");
                    }
                    (Verdict::Skipped(_), Some(u)) => prop_assert!(!u.pending_retry, "{d:?}"),
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            // The slots that run are the same whatever is unfinished: only how changes.
            let mut free = s;
            free.unfinished_run = None;
            let runs = |p: &Plan| p.decisions.iter().filter(|d| !matches!(d.verdict, Verdict::Missed(_))).count();
            let q = plan(&schedule, &free, now, 300);
            prop_assert_eq!(runs(&p), runs(&q));
        }

        /// However the passes are spaced (including clocks going backwards), every slot is
        /// decided at most once, and with passes at least every grace period, exactly once.
        #[test]
        fn each_slot_is_decided_once(steps in proptest::collection::vec(-600i64..900, 1..60)) {
            let schedule = Timetable::parse("*/5 * * * *", "UTC").unwrap();
            let start = t("2026-11-23T09:00:00Z");
            let mut s = state(Catchup::Latest, "2026-11-23T09:00:00Z");
            let mut now = start;
            let mut high = start;
            let mut decided = std::collections::BTreeSet::new();
            for step in steps {
                now += step;
                let p = plan(&schedule, &s, now, 300);
                for d in &p.decisions {
                    prop_assert!(decided.insert(d.slot), "slot {} decided twice", format_time(d.slot));
                    prop_assert!(d.slot <= now);
                }
                prop_assert!(p.last_slot >= s.last_slot);
                s.last_slot = p.last_slot;
                high = high.max(now);
            }
            // Every slot up to the latest time seen was decided.
            let mut slot = start;
            while let Some(next) = schedule.next_slot_after(slot).filter(|&n| n <= high) {
                prop_assert!(decided.contains(&next), "slot {} never decided", format_time(next));
                slot = next;
            }
        }
    }
}
