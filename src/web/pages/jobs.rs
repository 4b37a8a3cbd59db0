//! Scheduled Jobs: every job with its schedule in notation and in words, its next slots,
//! its last results as a row of marks, and the forms to add and change jobs.

use super::{action_button, duration, layout, list_action_button, time, Section, View};
use crate::job::{Catchup, Overlap};
use crate::store::jobs::Job;
use crate::store::runs::{RecentResult, Run};
use crate::time::{format_time, Timestamp};
use crate::timetable::Timetable;
use crate::web::forms::JobForm;
use maud::{html, Markup};

/// How many results the marks show, and how many next slots a job's page lists.
pub const MARKS: i64 = 10;
pub const NEXT_SLOTS: usize = 5;
/// Most jobs one page of Scheduled Jobs shows.
pub const SHOWN_JOBS: usize = 200;

/// A job with what its row shows.
pub struct JobRow {
    pub job: Job,
    pub recent: Vec<RecentResult>,
}

/// The schedule in words, or why it has none.
pub fn words(job: &Job) -> String {
    match &job.schedule {
        None => "no schedule: runs when queued or run by hand".to_string(),
        Some(expression) => {
            crate::in_words::describe(expression).unwrap_or_else(|e| format!("cannot be read: {e}"))
        }
    }
}

/// The next `count` slots of an active job, from its stored next slot on.
pub fn next_slots(job: &Job, count: usize) -> Vec<Timestamp> {
    let (Some(first), Some(expression)) = (job.next_slot, job.schedule.as_deref()) else {
        return Vec::new();
    };
    let mut slots = vec![first];
    if let Ok(table) = Timetable::parse(expression, &job.tz) {
        slots.extend(table.slots_after(first).take(count.saturating_sub(1)));
    }
    slots
}

/// `part`: the part of a name the list is narrowed to; `total`: how many jobs match it.
pub fn list(view: &View, rows: &[JobRow], part: &str, total: usize) -> Markup {
    let content = html! {
        div.actions {
            @if view.may_act() { a.button href="/jobs/new" { "Add a job" } }
            form.filters method="get" action="/jobs" role="search" {
                label { "Name contains " input name="q" value=(part) size="16"; }
                button type="submit" { "Filter" }
            }
        }
        @if total > rows.len() {
            p.muted { "Showing " (rows.len()) " of " (total) " jobs: narrow the list by name." }
        }
        div.table #jobs data-live {
            table {
                thead { tr {
                    th scope="col" { "Job" }
                    th scope="col" { "Schedule" }
                    th scope="col" { "Next" }
                    th scope="col" { "Last results" }
                    th scope="col" { "Status" }
                    @if view.may_act() { th scope="col" { span.visually-hidden { "Actions" } } }
                } }
                tbody {
                    @for row in rows {
                        (job_row(view, row))
                    }
                }
            }
            @if rows.is_empty() {
                p { "No jobs yet." }
            }
        }
    };
    layout(view, Section::ScheduledJobs, "Scheduled Jobs", content)
}

fn job_row(view: &View, row: &JobRow) -> Markup {
    let job = &row.job;
    let href = format!("/jobs/{}", job.name);
    html! {
        tr data-job=(job.name) {
            td data-label="Job" { a href=(href) { (job.name) } br; small.muted { (what_it_runs(job)) } }
            td data-label="Schedule" {
                code { (job.schedule.as_deref().unwrap_or("–")) }
                @if job.schedule.is_some() { " " small.muted { "(" (job.tz) ")" } }
                br; small.words { (words(job)) }
            }
            td.next data-label="Next" {
                @for (i, slot) in next_slots(job, 2).iter().enumerate() {
                    @if i > 0 { br; small.muted { "then " (time(view.now, *slot)) } }
                    @else { (time(view.now, *slot)) }
                }
                @if job.next_slot.is_none() { "–" }
            }
            td data-label="Last results" { (marks(&row.recent)) }
            td data-label="Status" { @if job.active { span.badge.on { "active" } } @else { span.badge.off { "inactive" } } }
            @if view.may_act() {
                td.row-actions {
                    @if !job.requires_target {
                        (action_button(&format!("{href}/run"), "Run now", None))
                    }
                    @if job.active {
                        (list_action_button(&format!("{href}/disable"), "Disable"))
                    } @else {
                        (list_action_button(&format!("{href}/enable"), "Enable"))
                    }
                }
            }
        }
    }
}

fn what_it_runs(job: &Job) -> String {
    match (&job.command, &job.builtin) {
        (Some(command), _) => crate::limits::shorten(command).to_string(),
        (None, Some(builtin)) => format!("built-in {builtin}"),
        (None, None) => String::new(),
    }
}

/// The newest results, oldest first so that they read left to right: a mark each, with
/// its duration, linking to the run.
fn marks(recent: &[RecentResult]) -> Markup {
    html! {
        @if recent.is_empty() { span.muted { "none yet" } }
        span.marks {
            @for r in recent.iter().rev() {
                @let ok = r.status == crate::job::RunStatus::Success;
                @let took = r.duration_ms.map(duration).unwrap_or_else(|| "–".to_string());
                a class={ "mark " (if ok { "ok" } else { "failed" }) }
                    href={ "/runs/" (r.id) }
                    title={ "run " (r.id) ": " (r.status.as_str()) ", " (took) }
                    aria-label={ "run " (r.id) " " (r.status.as_str()) " in " (took) } {
                    (if ok { "✓" } else { "✗" })
                }
            }
        }
        @if let Some(last) = recent.first() {
            @if let Some(ms) = last.duration_ms { " " small.muted { (duration(ms)) } }
        }
    }
}

/// One job: what it is, its next slots, its recent runs, its actions and its form.
pub fn detail(view: &View, job: &Job, runs: &[Run], form: &JobForm, problems: &[String]) -> Markup {
    let href = format!("/jobs/{}", job.name);
    let content = html! {
        dl.fields {
            dt { "Runs" } dd { code { (what_it_runs(job)) } }
            dt { "Schedule" } dd { code { (job.schedule.as_deref().unwrap_or("–")) } " " (words(job)) }
            dt { "Zone" } dd { (job.tz) }
            dt { "Status" } dd { @if job.active { "active" } @else { "inactive" } }
            dt { "Next slots" } dd #next data-live {
                @let slots = next_slots(job, NEXT_SLOTS);
                @if slots.is_empty() { "–" }
                ol.slots { @for slot in &slots { li { (time(view.now, *slot)) } } }
            }
        }
        @if view.may_act() {
            p.actions {
                @if !job.requires_target { (action_button(&format!("{href}/run"), "Run now", None)) }
                @if job.active { (action_button(&format!("{href}/disable"), "Disable", None)) }
                @else { (action_button(&format!("{href}/enable"), "Enable", None)) }
                @if job.builtin.as_deref() != Some(job.name.as_str()) {
                    (action_button(&format!("{href}/remove"), "Remove", Some("Remove this job and its queued runs? Its history stays.")))
                }
                a.button href={ "/runs?job=" (job.name) } { "All its runs" }
            }
        }
        h2 { "Recent runs" }
        div.table #recent data-live { (super::runs::table(view, runs)) }
        @if view.may_act() {
            h2 #edit { "Change" }
            (job_form(&href, form, problems, false))
        }
    };
    layout(view, Section::ScheduledJobs, &job.name, content)
}

/// The add form, empty or as the operator left it.
pub fn new(view: &View, form: &JobForm, problems: &[String]) -> Markup {
    layout(
        view,
        Section::ScheduledJobs,
        "Add a job",
        job_form("/jobs", form, problems, true),
    )
}

fn job_form(action: &str, form: &JobForm, problems: &[String], new: bool) -> Markup {
    html! {
        form.job method="post" action=(action) {
            @if !problems.is_empty() {
                div.error role="alert" #problems {
                    p { "Nothing was saved:" }
                    ul { @for p in problems { li { (p) } } }
                }
            }
            @if new {
                label for="name" { "Name" }
                input #name name="name" value=(form.name) required autocomplete="off"
                    pattern="[A-Za-z0-9_.\\-]{1,64}" aria-describedby="name-help";
                small #name-help { "1 to 64 of A-Z a-z 0-9 _ . -" }
            }
            @if form.builtin.is_none() {
                label for="command" { "Command" }
                textarea #command name="command" rows="2" required aria-describedby="command-help" { (form.command) }
                small #command-help { "Run by /bin/sh -c" }
            }
            label for="schedule" { "Schedule" }
            input #schedule name="schedule" value=(form.schedule) autocomplete="off"
                placeholder="*/5 * * * *" aria-describedby="preview" data-preview="/preview";
            label for="tz" { "Zone" }
            input #tz name="tz" value=(form.tz) autocomplete="off" aria-describedby="preview";
            output #preview aria-live="polite" { }
            label for="timeout" { "Timeout (seconds)" }
            input #timeout name="timeout" type="number" min="1" max="31536000" value=(form.timeout) placeholder="setting job_timeout";
            label for="retries" { "Retries" }
            input #retries name="retries" type="number" min="0" max="100" value=(form.retries) placeholder="setting job_retries";
            label for="catchup" { "Missed slots" }
            select #catchup name="catchup" {
                @for (value, text) in [(Catchup::Latest, "run the latest"), (Catchup::All, "run all"), (Catchup::Skip, "skip")] {
                    option value=(value.as_str()) selected[form.catchup == value.as_str()] { (text) }
                }
            }
            label for="overlap" { "A slot while the previous run is unfinished" }
            select #overlap name="overlap" {
                @for (value, text) in [(Overlap::Skip, "skip it"), (Overlap::Allow, "run it too")] {
                    option value=(value.as_str()) selected[form.overlap == value.as_str()] { (text) }
                }
            }
            label.check { input type="checkbox" name="requires_target" checked[form.requires_target]; " Requires a target (no schedule)" }
            label.check { input type="checkbox" name="active" checked[form.active]; " Active" }
            button type="submit" { @if new { "Add" } @else { "Save" } }
        }
    }
}

/// The live preview under the schedule field: the words and the next slots, as `cronq
/// next` prints them (UTC), with each in the job's zone; or why the schedule is refused.
pub fn preview(now: Timestamp, schedule: &str, tz: &str) -> Markup {
    let tz = if tz.trim().is_empty() {
        "UTC"
    } else {
        tz.trim()
    };
    if schedule.trim().is_empty() {
        return html! { span.muted { "No schedule: the job runs when queued or run by hand." } };
    }
    let table = match Timetable::parse(schedule, tz) {
        Ok(table) => table,
        Err(e) => return html! { span.error #preview-error { (e) } },
    };
    let slots: Vec<Timestamp> = table.slots_after(now).take(NEXT_SLOTS).collect();
    let words = crate::in_words::describe(schedule).unwrap_or_default();
    html! {
        span.words #preview-words { (words) }
        ol.slots #preview-slots {
            @for slot in &slots {
                li { code { (format_time(*slot)) } @if tz != "UTC" { " · " (crate::cli::output::local_time(tz, *slot)) } " · " (super::relative(now, *slot)) }
            }
        }
        @if slots.is_empty() { span.error { "This schedule has no slot in the next 40 years." } }
    }
}
