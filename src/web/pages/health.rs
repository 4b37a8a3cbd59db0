//! Health: what `cronq status` says, for the browser: problems, the last pass of each
//! host, queue counts, stuck, flagged and failing, the next slots, and a day of results.

use super::{layout, time, time_or_dash, Section, View};
use crate::health::Health;
use maud::{html, Markup};

pub fn page(view: &View, health: &Health, chart: Markup) -> Markup {
    let content = html! {
        div #health data-live {
            p #verdict class=(if health.healthy() { "ok" } else { "problem" }) {
                strong { @if health.healthy() { "Healthy" } @else { "Problems" } }
            }
            @if !health.problems.is_empty() {
                ul #problems { @for p in &health.problems { li { (p) } } }
            }
            h2 { "Passes" }
            @if health.hosts.is_empty() {
                p { "Last pass: " (time_or_dash(view.now, health.last_pass)) }
            } @else {
                table { thead { tr { th scope="col" { "Host" } th scope="col" { "Last seen" } th scope="col" { "cronq" } } }
                    tbody { @for h in &health.hosts {
                        tr { td { (h.id) } td { (time(view.now, h.last_seen)) } td { (h.version) } }
                    } } }
            }
            h2 { "Runs" }
            p #counts {
                @if health.counts.is_empty() { "none" }
                @for (i, (s, n)) in health.counts.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href={ "/runs?status=" (s) } { (s) " " (n) }
                }
            }
            (chart)
            h2 { "Stuck and unchecked runs" }
            @if health.stuck.is_empty() && health.flagged.is_empty() { p.muted { "None." } }
            ul { @for r in health.stuck.iter().chain(&health.flagged) {
                li { a href={ "/runs/" (r.id) } { "run " (r.id) } " of " (r.job) ": " (r.reason) }
            } }
            h2 { "Failing jobs" }
            @if health.failing.is_empty() { p.muted { "None." } }
            ul #failing { @for (name, at) in &health.failing {
                li { a href={ "/jobs/" (name) } { (name) } " failed " (time_or_dash(view.now, *at)) }
            } }
            h2 { "Next slots" }
            ul { @for (job, slot) in &health.next {
                li { (time(view.now, *slot)) " " a href={ "/jobs/" (job) } { (job) } }
            } }
        }
    };
    layout(view, Section::Health, "Health", content)
}
