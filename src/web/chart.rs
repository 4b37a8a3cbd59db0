//! Runs and failures per hour over the last day, drawn on the server as SVG: a stacked
//! bar an hour, successes below failures. No chart library: 24 rectangles and a few
//! labels, with the figures in each bar's title for a screen reader or a hover.

use crate::time::Timestamp;
use maud::{html, Markup};

const HOURS: i64 = 24;
const WIDTH: i64 = 720;
const HEIGHT: i64 = 160;
/// Room for the labels under the bars and beside the axis.
const BOTTOM: i64 = 20;
const LEFT: i64 = 36;

/// `hours`: (Unix hour, successes, failures), as `runs::hourly_results` returns them.
pub fn hourly(now: Timestamp, hours: &[(i64, i64, i64)]) -> Markup {
    let last_hour = now.div_euclid(3600);
    let first_hour = last_hour - HOURS + 1;
    let counts = |hour: i64| {
        hours
            .iter()
            .find(|h| h.0 == hour)
            .map_or((0, 0), |h| (h.1, h.2))
    };
    let highest = (first_hour..=last_hour)
        .map(|h| {
            let (ok, failed) = counts(h);
            ok + failed
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = HEIGHT - BOTTOM;
    let slot = (WIDTH - LEFT) / HOURS;
    let scale = |n: i64| n * (plot - 4) / highest;
    let (total_ok, total_failed) = (first_hour..=last_hour).fold((0, 0), |(a, b), h| {
        let (ok, failed) = counts(h);
        (a + ok, b + failed)
    });
    let summary = format!(
        "Runs per hour over the last 24 hours: {total_ok} succeeded, {total_failed} failed"
    );
    html! {
        svg.chart #chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(summary) xmlns="http://www.w3.org/2000/svg" {
            title { (summary) }
            line x1=(LEFT) y1=(plot) x2=(WIDTH) y2=(plot) stroke="currentColor" stroke-width="1" {}
            text x=(LEFT - 4) y="12" text-anchor="end" font-size="11" fill="currentColor" { (highest) }
            text x=(LEFT - 4) y=(plot) text-anchor="end" font-size="11" fill="currentColor" { "0" }
            @for (i, hour) in (first_hour..=last_hour).enumerate() {
                @let (ok, failed) = counts(hour);
                @let x = LEFT + i as i64 * slot + 2;
                @let ok_h = scale(ok);
                @let failed_h = scale(failed);
                g {
                    title { (format!("{:02}:00 UTC: {ok} succeeded, {failed} failed", hour.rem_euclid(24))) }
                    rect.ok x=(x) y=(plot - ok_h) width=(slot - 4) height=(ok_h) fill="#2e7d32" {}
                    rect.failed x=(x) y=(plot - ok_h - failed_h) width=(slot - 4) height=(failed_h) fill="#c62828" {}
                    @if hour.rem_euclid(6) == 0 {
                        text x=(x) y=(HEIGHT - 4) font-size="11" fill="currentColor" { (format!("{:02}:00", hour.rem_euclid(24))) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hour_is_a_bar_scaled_to_the_busiest() {
        let now = 1_000 * 3600 + 59;
        let svg = hourly(now, &[(1_000, 10, 0), (999, 5, 5), (900, 99, 99)]).into_string();
        assert_eq!(svg.matches("<rect class=\"ok\"").count(), 24);
        assert!(
            svg.contains("15 succeeded, 5 failed"),
            "the hour 900 is older than a day: {svg}"
        );
        // The busiest hour (10 runs) is the full height.
        assert!(
            svg.contains(&format!("height=\"{}\"", HEIGHT - BOTTOM - 4)),
            "{svg}"
        );
    }

    #[test]
    fn an_empty_day_draws_empty_bars() {
        let svg = hourly(0, &[]).into_string();
        assert!(svg.contains("0 succeeded, 0 failed"));
        assert!(!svg.contains("NaN"));
    }
}
