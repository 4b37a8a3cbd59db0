//! The admin screens in a real browser (headless Chromium over WebDriver), walked as an
//! operator walks them: add a job and watch its preview, run it now and read its output,
//! change a setting, disable and remove a job, see the banner come and go, and a page that
//! stops refreshing while it is hidden. With `CRONQ_SCREENSHOTS=DIR` the tests also save
//! the screenshots docs/web.md shows.

mod common;

use common::browser::Browser;
use common::web::{Server, Site};
use common::{Backend, START};
use std::path::PathBuf;
use std::time::Duration;

/// Long enough for a page's 5 s refresh to come round twice on a slow machine.
const REFRESHED: Duration = Duration::from_secs(20);

/// A database with the screens on it, a host for passes and commands, and a browser.
struct Operator {
    site: Site,
    browser: Browser,
}

impl Operator {
    fn new() -> Operator {
        Operator {
            site: Site::new(Backend::Sqlite),
            browser: Browser::start(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.site.web.authority)
    }

    fn open(&self, path: &str) {
        self.browser.goto(&self.url(path));
    }

    /// `cronq ARGS` at `START`; exit 0 or 1 (a pass whose job failed).
    fn cronq(&self, args: &[&str]) -> String {
        let out = self
            .site
            .host
            .command(&self.site.db.arg(), START, args)
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "cronq {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn job_status(&self, name: &str) -> String {
        self.site.job(name).map_or_else(
            || "gone".to_string(),
            |j| j["status"].as_str().unwrap().to_string(),
        )
    }

    /// Saves a screenshot for docs/web.md when `CRONQ_SCREENSHOTS` names a directory.
    fn screenshot(&self, name: &str) {
        let path = match std::env::var_os("CRONQ_SCREENSHOTS") {
            Some(dir) => PathBuf::from(dir).join(format!("{name}.png")),
            None => self.site.db.dir.path().join(format!("{name}.png")),
        };
        self.browser.screenshot(&path);
        let png = std::fs::read(&path).unwrap();
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            path.display()
        );
    }
}

#[test]
fn an_operator_adds_a_job_sees_its_preview_runs_it_now_and_reads_its_output() {
    let op = Operator::new();
    op.open("/jobs");
    op.browser.find("a[href='/jobs/new']").click();
    op.browser.wait_until("the add form", REFRESHED, |b| {
        b.current_url().ends_with("/jobs/new")
    });
    op.browser.find("#name").type_text("greet");
    op.browser
        .find("#command")
        .type_text("echo hello from the browser; printf '<b>not bold</b>\\n'");
    op.browser.find("#schedule").type_text("*/5 9-17 * * 1-5");
    op.browser
        .wait_for_text("#preview-words", "Monday through Friday", REFRESHED);
    let slots = op.browser.find_all("#preview-slots li");
    assert_eq!(slots.len(), 5);
    // The first slot is what `cronq next` says.
    let next = op.cronq(&[
        "next",
        "*/5 9-17 * * 1-5",
        "--after",
        &common::rfc3339(START),
    ]);
    assert!(
        slots[0].text().contains(next.lines().next().unwrap()),
        "{}",
        slots[0].text()
    );
    op.screenshot("add-a-job");
    // A schedule the parser refuses is said at once.
    op.browser.find("#schedule").clear();
    op.browser.find("#schedule").type_text("61 * * * *");
    op.browser.wait_for_text(
        "#preview-error",
        "minute: value 61 is out of range",
        REFRESHED,
    );
    op.browser.find("#schedule").clear();
    op.browser.find("#schedule").type_text("*/5 9-17 * * 1-5");
    op.browser
        .wait_for_text("#preview-words", "Monday through Friday", REFRESHED);
    op.browser.find("form.job button[type=submit]").click();
    op.browser.wait_until("the job's page", REFRESHED, |b| {
        b.current_url().ends_with("/jobs/greet")
    });
    assert_eq!(op.job_status("greet"), "active");

    op.browser
        .find("form[action='/jobs/greet/run'] button")
        .click();
    op.browser.wait_until("the new run's page", REFRESHED, |b| {
        b.current_url().contains("/runs/")
    });
    op.browser.wait_for_text("#status", "pending", REFRESHED);
    op.cronq(&["run"]);
    // The page refreshes itself: no reload.
    op.browser.wait_for_text("#status", "success", REFRESHED);
    let output = op.browser.find("#output").text();
    assert!(output.contains("hello from the browser"), "{output}");
    assert!(
        output.contains("<b>not bold</b>"),
        "shown as text: {output}"
    );
    assert!(
        op.browser.try_find("#output b").is_none(),
        "no markup from the output"
    );
    op.screenshot("run");
}

#[test]
fn an_operator_changes_a_setting_disables_and_removes_a_job() {
    let op = Operator::new();
    op.cronq(&["add", "nightly", "--schedule", "0 3 * * *", "--", "true"]);
    op.cronq(&[
        "add",
        "report",
        "--schedule",
        "30 2 * * 1-5",
        "--tz",
        "Europe/Berlin",
        "--",
        "exit 3",
    ]);
    for job in ["nightly", "nightly", "report", "nightly"] {
        op.cronq(&["run-job", job]);
    }
    op.open("/settings");
    let input = op.browser.find("#value-jobs_max_portion");
    input.clear();
    input.type_text("20");
    op.browser.find("#setting-jobs_max_portion button").click();
    op.browser.wait_until("the setting saved", REFRESHED, |_| {
        op.cronq(&["settings", "jobs_max_portion"]).trim() == "20"
    });
    op.screenshot("settings");

    op.open("/jobs");
    op.browser
        .find("tr[data-job='nightly'] form[action='/jobs/nightly/disable'] button")
        .click();
    op.browser.wait_until("the job disabled", REFRESHED, |_| {
        op.job_status("nightly") == "inactive"
    });
    op.browser
        .wait_for_text("tr[data-job='nightly']", "inactive", REFRESHED);
    op.screenshot("scheduled-jobs");

    op.open("/jobs/nightly");
    op.browser
        .find("form[action='/jobs/nightly/remove'] button")
        .click();
    // Remove asks first.
    op.browser.accept_alert();
    op.browser.wait_until("the job removed", REFRESHED, |_| {
        op.job_status("nightly") == "gone"
    });
}

#[test]
fn the_banner_says_when_passes_stop_and_goes_when_they_run() {
    let op = Operator::new();
    op.cronq(&["add", "ping", "--schedule", "*/15 * * * *", "--", "true"]);
    op.cronq(&["add", "flaky", "--", "exit 1"]);
    for job in ["ping", "ping", "flaky", "ping"] {
        op.cronq(&["run-job", job]);
    }
    op.open("/health");
    op.browser
        .wait_for_text("#banner", "No pass has run yet", REFRESHED);
    op.cronq(&["run"]);
    op.browser.wait_until("the banner gone", REFRESHED, |b| {
        b.find("#banner").text().trim().is_empty()
    });
    op.browser.wait_for_text("#verdict", "Healthy", REFRESHED);
    op.screenshot("health");
    // Four minutes later, with no pass since.
    let later = Server::start(&op.site.db.arg(), START + 240, &[]);
    op.browser.goto(&format!("http://{}/runs", later.authority));
    op.browser
        .wait_for_text("#banner", "No pass has run for 4m", REFRESHED);
    op.screenshot("jobs-with-banner");
}

#[test]
fn a_hidden_page_does_not_refresh_and_catches_up_when_shown() {
    let op = Operator::new();
    op.open("/jobs");
    let refreshes = |b: &Browser| {
        b.execute("return window.cronqRefreshes;", &[])
            .as_i64()
            .unwrap()
    };
    op.browser
        .wait_until("a first refresh", REFRESHED, |b| refreshes(b) >= 1);
    // Hide the page as a background tab is hidden.
    op.browser.execute(
        "Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); \
         document.dispatchEvent(new Event('visibilitychange'));",
        &[],
    );
    let hidden_at = refreshes(&op.browser);
    std::thread::sleep(Duration::from_secs(11));
    assert_eq!(
        refreshes(&op.browser),
        hidden_at,
        "a hidden page asked for refreshes"
    );
    op.browser.execute(
        "Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }); \
         document.dispatchEvent(new Event('visibilitychange'));",
        &[],
    );
    assert_eq!(
        refreshes(&op.browser),
        hidden_at + 1,
        "shown again, it refreshes at once"
    );
}

#[test]
fn the_screens_fit_a_phone_and_work_by_keyboard() {
    let op = Operator::new();
    op.cronq(&[
        "add",
        "a-job-with-a-rather-long-name",
        "--schedule",
        "0 9 * * 1-5",
        "--",
        "echo a rather long command line that goes on and on",
    ]);
    op.cronq(&["run-job", "a-job-with-a-rather-long-name"]);
    op.browser.set_window_size(390, 844);
    for path in ["/jobs", "/runs", "/settings", "/health", "/jobs/new"] {
        op.open(path);
        let overflow = op
            .browser
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                &[],
            )
            .as_i64()
            .unwrap();
        assert!(
            overflow <= 0,
            "{path} is {overflow} px wider than the phone"
        );
    }
    op.open("/jobs");
    op.screenshot("phone");
    // Every control is a link, a button or a form field: reachable with Tab, and the
    // first Tab stop is the link that skips to the content.
    let first = op.browser.execute(
        "document.activeElement.blur(); \
         const all = [...document.querySelectorAll('a[href], button, input, select, textarea')]; \
         return all.length > 0 && all[0].classList.contains('skip') && \
                [...document.querySelectorAll('[onclick], div[role=button], span[role=button]')].length === 0;",
        &[],
    );
    assert_eq!(first, serde_json::Value::Bool(true));
}
