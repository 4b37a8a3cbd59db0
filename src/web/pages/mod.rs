//! The screens, as HTML that maud escapes: every value from the database (job output,
//! errors, targets, names) is untrusted text and reaches the page only as text. Each page
//! is one function from what it shows to markup; `routes` reads the store for it.

pub mod health;
pub mod jobs;
pub mod runs;
pub mod settings;

use super::guard::Role;
use crate::job::RunStatus;
use crate::time::{format_time, Timestamp};
use maud::{html, Markup, DOCTYPE};

/// The sections of the navigation, as the CRM names its screens.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    ScheduledJobs,
    Jobs,
    Settings,
    Health,
}

/// What every page knows: now, who asks, and whether passes stopped.
pub struct View {
    pub now: Timestamp,
    pub role: Role,
    /// The "cron is not running" notice, when passes stopped.
    pub banner: Option<String>,
}

impl View {
    pub fn may_act(&self) -> bool {
        self.role == Role::Operator
    }
}

/// The frame of every page: navigation, the banner, the content.
pub fn layout(view: &View, section: Section, title: &str, content: Markup) -> Markup {
    let link = |s: Section, href: &str, text: &str| {
        html! {
            a href=(href) aria-current=[(s == section).then_some("page")] { (text) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cronq" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body data-now=(format_time(view.now)) {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/jobs" { "cronq" }
                    nav aria-label="Sections" {
                        (link(Section::ScheduledJobs, "/jobs", "Scheduled Jobs"))
                        (link(Section::Jobs, "/runs", "Jobs"))
                        (link(Section::Settings, "/settings", "Job Settings"))
                        (link(Section::Health, "/health", "Health"))
                    }
                    @if !view.may_act() {
                        span.role title="This token may read every page and change nothing" { "read only" }
                    }
                }
                div #banner data-live {
                    @if let Some(text) = &view.banner {
                        div.banner role="alert" {
                            (text) " "
                            a href="/health" { "Health" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
                footer {
                    small.muted {
                        "Times are in your browser's zone (UTC when you hover over them). "
                        "The server's time: " (format_time(view.now)) "."
                    }
                }
            }
        }
    }
}

/// A time: UTC on the server, turned into the viewer's local time and "in 4 min" by the
/// page's script (the server does not know the viewer's zone).
pub fn time(now: Timestamp, t: Timestamp) -> Markup {
    html! {
        time datetime=(format_time(t)) title=(format_time(t)) {
            (relative(now, t)) " · " (format_time(t).replace('T', " ").replace('Z', " UTC"))
        }
    }
}

pub fn time_or_dash(now: Timestamp, t: Option<Timestamp>) -> Markup {
    match t {
        Some(t) => time(now, t),
        None => html! { "–" },
    }
}

/// "in 4 min", "3 h ago", "now".
pub fn relative(now: Timestamp, t: Timestamp) -> String {
    let d = (t - now).abs();
    let amount = match d {
        0..=44 => return "now".to_string(),
        45..=3_599 => format!("{} min", (d + 30) / 60),
        3_600..=86_399 => format!("{} h", (d + 1_800) / 3_600),
        _ => format!("{} d", (d + 43_200) / 86_400),
    };
    if t > now {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration(ms: i64) -> String {
    match ms {
        ..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000),
    }
}

/// A run's status as a coloured word (the colour repeats what the word says).
pub fn status(status: RunStatus) -> Markup {
    html! { span class={ "status " (status.as_str()) } { (status.as_str()) } }
}

/// A button that POSTs to `action`; `confirm` asks first (the page's script does).
pub fn action_button(action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            button type="submit" data-confirm=[confirm] { (label) }
        }
    }
}

/// The same from the list of jobs, which the browser comes back to afterwards.
pub fn list_action_button(action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="back" value="list";
            button type="submit" { (label) }
        }
    }
}

/// A page that says what went wrong, with the status it comes with.
pub fn problem(view: &View, title: &str, message: &str) -> Markup {
    layout(
        view,
        Section::Health,
        title,
        html! { p.error role="alert" { (message) } },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_as_people_say_them() {
        assert_eq!(relative(1000, 1000), "now");
        assert_eq!(relative(1000, 1000 + 240), "in 4 min");
        assert_eq!(relative(1000 + 3 * 3600, 1000), "3 h ago");
        assert_eq!(relative(0, 2 * 86_400), "in 2 d");
    }

    #[test]
    fn durations_fit_their_size() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
    }

    #[test]
    fn untrusted_text_is_escaped() {
        let view = View {
            now: 0,
            role: Role::Read,
            banner: Some("<script>alert(1)</script>".into()),
        };
        let page = layout(&view, Section::Jobs, "<b>x</b>", html! { "\"&'" }).into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;"));
    }
}
