//! Jobs (the CRM's name for runs): what ran, what is queued and why something did not
//! run, with filters; and one run with its output, exit code, reason and owner.

use super::{action_button, duration, layout, status, time, time_or_dash, Section, View};
use crate::cli::escape::{escape, LineBreaks};
use crate::job::RunStatus;
use crate::store::runs::{Attempt, Filter, Run};
use crate::time::Timestamp;
use maud::{html, Markup};

/// The statuses a filter offers.
const STATUSES: [RunStatus; 6] = [
    RunStatus::Pending,
    RunStatus::Running,
    RunStatus::Success,
    RunStatus::Failed,
    RunStatus::Skipped,
    RunStatus::Missed,
];

/// The list with its filter form. `since`/`until` are shown as the operator typed them.
pub fn list(
    view: &View,
    runs: &[Run],
    filter: &Filter,
    shown: &[(String, String)],
    job_names: &[String],
    more: Option<String>,
) -> Markup {
    let typed = |name: &str| {
        shown
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content = html! {
        form.filters method="get" action="/runs" role="search" {
            label { "Job " select name="job" {
                option value="" { "any" }
                @for name in job_names {
                    option value=(name) selected[filter.job.as_deref() == Some(name.as_str())] { (name) }
                }
            } }
            label { "Status " select name="status" {
                option value="" { "any" }
                @for s in STATUSES {
                    option value=(s.as_str()) selected[filter.status == Some(s)] { (s.as_str()) }
                }
            } }
            label { "Target " input name="target" value=(typed("target")) size="12"; }
            label { "Host " input name="host" value=(typed("host")) size="12"; }
            label { "Due from " input name="since" value=(typed("since")) placeholder="2026-11-30T00:00:00Z" size="20"; }
            label { "until " input name="until" value=(typed("until")) placeholder="RFC 3339" size="20"; }
            button type="submit" { "Filter" }
            " " a href="/runs" { "Clear" }
        }
        div.table #runs data-live {
            (table(view, runs))
            @if let Some(href) = more { p { a href=(href) { "Older runs…" } } }
        }
    };
    layout(view, Section::Jobs, "Jobs", content)
}

/// The runs as a table (also on a job's page).
pub fn table(view: &View, runs: &[Run]) -> Markup {
    html! {
        @if runs.is_empty() { p.muted { "No runs." } }
        @else {
            table {
                thead { tr {
                    th scope="col" { "Run" } th scope="col" { "Job" } th scope="col" { "Status" }
                    th scope="col" { "Target" } th scope="col" { "Due" } th scope="col" { "Took" }
                    th scope="col" { "Attempt" } th scope="col" { "Exit" } th scope="col" { "Host" }
                    th scope="col" { "Reason" }
                } }
                tbody {
                    @for run in runs {
                        tr data-run=(run.id) {
                            td data-label="Run" { a href={ "/runs/" (run.id) } { (run.id) } }
                            td data-label="Job" { a href={ "/jobs/" (run.job) } { (run.job) } }
                            td data-label="Status" { (status(run.status)) }
                            td data-label="Target" { (target(run)) }
                            td data-label="Due" { (time(view.now, run.due_at)) }
                            td data-label="Took" { (run.duration_ms.map(duration).unwrap_or_else(|| "–".to_string())) }
                            td data-label="Attempt" { (run.attempt) "/" (run.max_attempts) }
                            td data-label="Exit" { (run.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".to_string())) }
                            td data-label="Host" { (run.host.as_deref().unwrap_or("–")) }
                            td.reason data-label="Reason" { (run.error.as_deref().map(one_line).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn target(run: &Run) -> String {
    match (&run.target_type, &run.target_id) {
        (Some(t), Some(id)) => format!("{t} {id}"),
        (None, Some(id)) => id.clone(),
        _ => "–".to_string(),
    }
}

/// Untrusted one-line text, its control characters made visible.
fn one_line(text: &str) -> String {
    escape(text.as_bytes(), LineBreaks::Escape)
}

/// One run: every field, its output, and what an operator may do with it.
pub fn detail(
    view: &View,
    run: &Run,
    attempts: &[Attempt],
    output: &[u8],
    stop_requested: Option<Timestamp>,
) -> Markup {
    let base = format!("/runs/{}", run.id);
    let or_dash = |v: &Option<String>| {
        v.as_deref()
            .map(one_line)
            .unwrap_or_else(|| "–".to_string())
    };
    let content = html! {
        div #run data-live {
            dl.fields {
                dt { "Job" } dd { a href={ "/jobs/" (run.job) } { (run.job) } }
                dt { "Status" } dd #status { (status(run.status))
                    @if let Some(at) = stop_requested { @if run.status == RunStatus::Running { " · stop asked " (time(view.now, at)) } } }
                dt { "Slot" } dd { (time_or_dash(view.now, run.slot)) }
                dt { "Due" } dd { (time(view.now, run.due_at)) }
                dt { "Started" } dd { (time_or_dash(view.now, run.started_at)) }
                dt { "Finished" } dd { (time_or_dash(view.now, run.finished_at)) }
                dt { "Took" } dd { (run.duration_ms.map(duration).unwrap_or_else(|| "–".to_string())) }
                dt { "Attempt" } dd { (run.attempt) " of " (run.max_attempts)
                    @if run.interruptions > 0 { " (stopped by a shutdown " (run.interruptions) " times)" } }
                dt { "Exit code" } dd #exit { (run.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "–".to_string())) }
                dt { "Reason" } dd #reason { (or_dash(&run.error)) }
                dt { "Host" } dd { (or_dash(&run.host)) }
                dt { "Target" } dd { (target(run)) }
                dt { "Data" } dd { code { (or_dash(&run.data)) } }
                dt { "Priority" } dd { (run.priority) }
                dt { "Queued" } dd { (time(view.now, run.created_at)) }
            }
            @if view.may_act() {
                p.actions {
                    @match run.status {
                        RunStatus::Failed | RunStatus::Skipped | RunStatus::Missed => {
                            (action_button(&format!("{base}/retry"), "Retry", None))
                        }
                        RunStatus::Pending => {
                            (action_button(&format!("{base}/cancel"), "Cancel", Some("Cancel this run? It will not run.")))
                        }
                        RunStatus::Running => {
                            @if stop_requested.is_none() {
                                (action_button(&format!("{base}/stop"), "Stop", Some("Stop this run? Its host kills the job within about 10 seconds.")))
                            }
                        }
                        RunStatus::Success => {}
                    }
                }
            }
            @for a in attempts {
                section.attempt id={ "attempt-" (a.attempt) } {
                    h2 { "Attempt " (a.attempt) }
                    p {
                        "Failed " (time(view.now, a.finished_at))
                        @if let Some(ms) = a.duration_ms { " after " (duration(ms)) }
                        @if let Some(host) = &a.host { " on " (host) }
                        @if let Some(code) = a.exit_code { ", exit code " (code) }
                        @if let Some(why) = &a.error { ": " (one_line(why)) }
                    }
                    @if a.output.is_empty() { p.muted { "No output." } }
                    @else { pre { (escape(&a.output, LineBreaks::Keep)) } }
                }
            }
            h2 { "Output" @if !attempts.is_empty() { " of attempt " (run.attempt) } }
            p.muted {
                "The last 64 KiB of standard output and error, control characters shown as escapes"
                @if !attempts.is_empty() { " (16 KiB of each earlier attempt)" }
                "."
            }
            @if output.is_empty() { p.muted #output-empty { "No output." } }
            @else { pre #output { (escape(output, LineBreaks::Keep)) } }
        }
    };
    layout(
        view,
        Section::Jobs,
        &format!("Run {} of {}", run.id, run.job),
        content,
    )
}
