//! A real browser for end-to-end tests of web pages: Debian's chromium, driven by its
//! chromedriver over the W3C WebDriver protocol (plain HTTP/1.1 and JSON, so no crate
//! is needed). docs/testing.md tells the story.
//!
//! ```ignore
//! let browser = Browser::start();
//! browser.goto(&url);
//! browser.find("#name").type_text("nightly backup");
//! browser.find("button[type=submit]").click();
//! browser.wait_for_text("#status", "saved", Duration::from_secs(5));
//! ```
//!
//! Every `Browser` has a chromedriver, a chromium and a profile of its own, so tests
//! running in parallel never share state; dropping it ends all three. Chromium and
//! chromedriver are installed on first use when missing and we are root
//! (`chromium-install.sh` beside this file); a test that cannot get them fails and says
//! why, none is skipped. Anything WebDriver refuses panics with its message and the
//! command, which is what a test wants.

use serde_json::{json, Value};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The browser, from Debian's `chromium`.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Its WebDriver server, from Debian's `chromium-driver`: the same source package, so
/// always the same version, which chromedriver insists on.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Installs both when either is missing; `.ci/chromium` runs the same script.
pub const INSTALL_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/common/chromium-install.sh"
);

/// Chromium's arguments besides the profile directory and the window size.
/// `--headless`: no display on a test machine. `--no-sandbox`: the sandbox cannot start
/// as root or in most containers. `--disable-gpu`: there is none. The rest keep the
/// browser from calling home (updates, sync, field trials, first-run pages, QUIC probes):
/// the test network refuses those connections, and waiting for them slows every start.
pub const CHROMIUM_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The window every browser starts with: a laptop's screen, so layouts are the ones
/// people see; `set_window_size` changes it.
pub const WINDOW_SIZE: (u32, u32) = (1280, 900);

/// How WebDriver marks an element reference in JSON (W3C WebDriver, "Elements").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a page load or a script may take before WebDriver gives up; our own socket
/// waits a little longer, so WebDriver's message wins over a bare timeout.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// How long chromedriver may take to listen and say it is ready.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the `wait_*` methods look again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long `accept_alert` and friends wait for a dialog: a click's handler may open
/// it a moment after the click returns.
const ALERT_TIMEOUT: Duration = Duration::from_secs(5);

/// One headless chromium with a session of its own, driven through its own chromedriver.
pub struct Browser {
    driver: Child,
    port: u16,
    /// Empty until the session exists, so that a failed start still cleans up.
    session: String,
    /// The profile (`--user-data-dir`), the driver's log and the browser's `HOME` and
    /// `TMPDIR`; removed after both have quit, as fields drop after `Drop::drop`.
    dir: tempfile::TempDir,
}

/// An element of the current page, as WebDriver refers to it. It goes stale when the
/// page replaces it; look it up again then (or use `Browser::try_text`).
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

/// What WebDriver answered instead of a value: its error code (such as `no such
/// element`) and message, or why there was no answer at all.
#[derive(Debug)]
struct Failure {
    error: String,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl Browser {
    /// A fresh browser on a blank page, in a second or two. Installs chromium first when
    /// this machine lacks it and we are root; panics with the reason when it cannot.
    pub fn start() -> Browser {
        ensure_installed();
        let dir = tempfile::Builder::new()
            .prefix("cronq-browser-")
            .tempdir()
            .expect("create a directory for the browser");
        let (driver, port) = start_driver(dir.path());
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            dir,
        };
        browser.wait_for_driver_ready();
        browser.session = browser.create_session();
        browser
    }

    /// Waits until `/status` says chromedriver takes new sessions.
    fn wait_for_driver_ready(&self) {
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            let last = match self.request("GET", "/status", None) {
                Ok(value) if value["ready"] == true => return,
                Ok(value) => value.to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "{CHROMEDRIVER} was not ready within {DRIVER_START_TIMEOUT:?}; /status: \
                 {last}\n{}",
                self.driver_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts chromium with our arguments and returns the session id.
    fn create_session(&self) -> String {
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| arg.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile_dir().display()));
        args.push(format!("--window-size={},{}", WINDOW_SIZE.0, WINDOW_SIZE.1));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "timeouts": {
                        "implicit": 0,
                        "pageLoad": PAGE_LOAD_TIMEOUT.as_millis() as u64,
                        "script": PAGE_LOAD_TIMEOUT.as_millis() as u64,
                    },
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                }
            }
        });
        match self.request("POST", "/session", Some(&capabilities)) {
            Ok(value) => value["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("WebDriver gave no session id: {value}"))
                .to_string(),
            Err(e) => panic!(
                "cannot start {CHROMIUM} through {CHROMEDRIVER}: {e}\n--- {}:\n{}",
                "chromedriver's log",
                self.driver_log()
            ),
        }
    }

    /// Chromium's profile (`--user-data-dir`), a fresh temporary directory removed with
    /// the browser: where downloads land, and how to tell this browser's processes.
    pub fn profile_dir(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    /// What chromedriver and chromium printed, for a failure's message.
    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    /// Sends one HTTP request to chromedriver and returns the answer's `value`. Each
    /// request has a connection of its own: simpler than keep-alive, and local.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let unanswered = |e: std::io::Error| Failure {
            error: "no answer from chromedriver".to_string(),
            message: e.to_string(),
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream =
            TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(unanswered)?;
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(unanswered)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {length}\r\n\
             Connection: close\r\n\r\n{body}",
            port = self.port,
            length = body.len(),
        );
        stream.write_all(request.as_bytes()).map_err(unanswered)?;
        let (status, answer) = read_response(stream).map_err(unanswered)?;
        let answer: Value = serde_json::from_slice(&answer).map_err(|e| Failure {
            error: format!("HTTP {status} without JSON"),
            message: format!("{e}: {}", String::from_utf8_lossy(&answer)),
        })?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        Err(Failure {
            error: value["error"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}"), str::to_string),
            message: value["message"]
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string),
        })
    }

    /// A command of this session (`path` relative to `/session/ID/`), or its failure.
    fn try_command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        // W3C WebDriver wants a JSON object with every POST, even an empty one.
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let path = format!("/session/{}/{path}", self.session);
        self.request(method, &path, body.as_ref())
    }

    /// A command of this session, panicking with WebDriver's message and the command.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let shown = body.as_ref().map(Value::to_string).unwrap_or_default();
        self.try_command(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path} {shown} failed: {e}"))
    }

    /// Opens `url` in the current tab and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.command("POST", "url", Some(json!({ "url": url })));
    }

    /// Loads the current page again, as the reload button would.
    pub fn refresh(&self) {
        self.command("POST", "refresh", None);
    }

    /// Goes one page back in the tab's history, as the back button would.
    pub fn back(&self) {
        self.command("POST", "back", None);
    }

    /// The URL of the current page, after any redirect.
    pub fn current_url(&self) -> String {
        string(self.command("GET", "url", None))
    }

    /// The current page's `<title>`.
    pub fn title(&self) -> String {
        string(self.command("GET", "title", None))
    }

    /// The current DOM serialized as HTML (not the bytes the server sent).
    pub fn page_source(&self) -> String {
        string(self.command("GET", "source", None))
    }

    /// The first element matching `css`; fails the test, naming the selector and the
    /// page, when there is none. Does not wait: use `wait_until` for what comes later.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.try_find(css)
            .unwrap_or_else(|| panic!("no element matches `{css}` on {}", self.current_url()))
    }

    /// The first element matching `css`, or None.
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.find_in("element", css)
    }

    /// Every element matching `css`, in document order; empty when none does.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.find_all_in("elements", css)
    }

    /// `POST path` of a single-element search: None for WebDriver's "no such element".
    fn find_in(&self, path: &str, css: &str) -> Option<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.try_command("POST", path, Some(body)) {
            Ok(reference) => Some(self.element(&reference)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("WebDriver cannot look for `{css}`: {e}"),
        }
    }

    fn find_all_in(&self, path: &str, css: &str) -> Vec<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.try_command("POST", path, Some(body)) {
            Ok(Value::Array(references)) => references.iter().map(|r| self.element(r)).collect(),
            Ok(other) => panic!("WebDriver answered a search for `{css}` with {other}"),
            Err(e) => panic!("WebDriver cannot look for `{css}`: {e}"),
        }
    }

    fn element(&self, reference: &Value) -> Element<'_> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("not a WebDriver element reference: {reference}"));
        Element {
            browser: self,
            id: id.to_string(),
        }
    }

    /// The text of the first element matching `css` as the user sees it, or None when
    /// none matches. Safe while the page re-renders: an element replaced between the
    /// search and the read is searched for again.
    pub fn try_text(&self, css: &str) -> Option<String> {
        for _ in 0..10 {
            let element = self.try_find(css)?;
            match self.try_command("GET", &format!("element/{}/text", element.id), None) {
                Ok(text) => return Some(string(text)),
                Err(e) if e.error == "stale element reference" => continue,
                Err(e) => panic!("WebDriver cannot read the text of `{css}`: {e}"),
            }
        }
        panic!("`{css}` went stale ten times in a row: the page never stopped replacing it")
    }

    /// Polls `check` every 100 ms until it holds; fails the test, saying it was waiting
    /// for `what`, when `timeout` passes first. Pages change on their own (scripts,
    /// timers, answers from the server), so a test waits for the result, never sleeps.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Browser) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !check(self) {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} on {}",
                    self.current_url()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until the first element matching `css` exists and its text contains
    /// `needle`; on timeout, the failure shows the text last seen.
    pub fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) {
        let mut last = None;
        let deadline = Instant::now() + timeout;
        loop {
            last = self.try_text(css).or(last);
            if last.as_deref().is_some_and(|text| text.contains(needle)) {
                return;
            }
            if Instant::now() >= deadline {
                let seen = match &last {
                    Some(text) => format!("its text was {text:?}"),
                    None => "no element matched".to_string(),
                };
                panic!(
                    "timed out after {timeout:?} waiting for `{css}` to contain {needle:?} \
                     on {}: {seen}",
                    self.current_url()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Saves what the current tab shows as a PNG file, for a failure's evidence or a
    /// look at a layout.
    pub fn screenshot(&self, path: &Path) {
        let encoded = string(self.command("GET", "screenshot", None));
        let png = decode_base64(&encoded)
            .unwrap_or_else(|e| panic!("WebDriver's screenshot is not base64: {e}"));
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write the screenshot {}: {e}", path.display()));
    }

    /// Resizes the window, to see a page as a phone or a narrow window shows it.
    pub fn set_window_size(&self, width: u32, height: u32) {
        let body = json!({ "width": width, "height": height });
        self.command("POST", "window/rect", Some(body));
    }

    /// Runs `script` as the body of a function in the page, with `args` as its
    /// `arguments` (an `Element::reference()` arrives as the element), and returns what
    /// it returns: for what no user action shows, such as `document.visibilityState`.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command("POST", "execute/sync", Some(body))
    }

    /// The text of the open `alert()`, `confirm()` or `prompt()` dialog, waiting up to 5 s
    /// for one to open.
    pub fn alert_text(&self) -> String {
        string(self.alert_command("GET", "alert/text"))
    }

    /// Presses OK in the open dialog (a `confirm()` then returns true), waiting up to 5 s
    /// for one to open. An unanswered dialog fails the next command.
    pub fn accept_alert(&self) {
        self.alert_command("POST", "alert/accept");
    }

    /// Presses Cancel in the open dialog (a `confirm()` then returns false), waiting up
    /// to 5 s for one to open.
    pub fn dismiss_alert(&self) {
        self.alert_command("POST", "alert/dismiss");
    }

    fn alert_command(&self, method: &str, path: &str) -> Value {
        let deadline = Instant::now() + ALERT_TIMEOUT;
        loop {
            match self.try_command(method, path, None) {
                Ok(value) => return value,
                Err(e) if e.error == "no such alert" && Instant::now() < deadline => {
                    std::thread::sleep(POLL_INTERVAL)
                }
                Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
            }
        }
    }

    /// Opens a blank tab and returns its handle, without switching to it.
    pub fn new_tab(&self) -> String {
        let opened = self.command("POST", "window/new", Some(json!({ "type": "tab" })));
        string(opened["handle"].clone())
    }

    /// Makes the tab `handle` the one commands go to, and brings it to the front: the
    /// tab that was in front becomes hidden (`document.visibilityState` "hidden").
    pub fn switch_to_window(&self, handle: &str) {
        self.command("POST", "window", Some(json!({ "handle": handle })));
    }

    /// The handle of the tab commands go to.
    pub fn current_window(&self) -> String {
        string(self.command("GET", "window", None))
    }

    /// The handles of every open tab.
    pub fn window_handles(&self) -> Vec<String> {
        match self.command("GET", "window/handles", None) {
            Value::Array(handles) => handles.into_iter().map(string).collect(),
            other => panic!("WebDriver answered window/handles with {other}"),
        }
    }
}

impl Drop for Browser {
    /// Ends the session (chromium quits), then chromedriver's whole process group, so
    /// that nothing outlives the test. Never panics: a drop may run while a failed test
    /// unwinds, where a second panic would abort.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            if let Err(e) = self.request("DELETE", &format!("/session/{}", self.session), None) {
                eprintln!("warning: could not end the browser session: {e}");
            }
        }
        let group = self.driver.id();
        kill_group(group);
        if let Err(e) = self.driver.wait() {
            eprintln!("warning: could not reap chromedriver: {e}");
        }
        // Chromium's processes die with the group; wait for that, so that none still
        // writes to the profile while it is being removed. Dead is enough: reaping the
        // orphans is init's business, and some inits take their time.
        let deadline = Instant::now() + Duration::from_secs(2);
        while group_alive(group) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether any process of process group `group` still runs (is not a zombie).
fn group_alive(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        // /proc/PID/stat: "PID (COMMAND) STATE PPID PGRP ...", COMMAND may hold anything.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let (state, pgrp) = (fields.next(), fields.nth(1));
        pgrp == Some(group.to_string().as_str()) && !matches!(state, Some("Z" | "X"))
    })
}

impl<'b> Element<'b> {
    /// Clicks the element's centre as a user would: scrolled into view, and failing when
    /// something else covers it. To pick an option of a `<select>`, click the `<option>`.
    pub fn click(&self) {
        self.command("POST", "click", None);
    }

    /// Types `text` into the element as keystrokes, after what it already holds.
    pub fn type_text(&self, text: &str) {
        self.command("POST", "value", Some(json!({ "text": text })));
    }

    /// Empties an input or textarea.
    pub fn clear(&self) {
        self.command("POST", "clear", None);
    }

    /// The text as the user sees it: rendered, without hidden parts.
    pub fn text(&self) -> String {
        string(self.command("GET", "text", None))
    }

    /// The attribute as written in the HTML (`href`, `data-…`, `disabled`), or None when
    /// the element has none. An input's current value is `property("value")`.
    pub fn attribute(&self, name: &str) -> Option<String> {
        match self.command("GET", &format!("attribute/{name}"), None) {
            Value::Null => None,
            value => Some(string(value)),
        }
    }

    /// The DOM property, live: `property("value")` is what an input holds now,
    /// `property("checked")` whether a box is ticked; Null when there is none.
    pub fn property(&self, name: &str) -> Value {
        self.command("GET", &format!("property/{name}"), None)
    }

    /// Whether a user could see the element: not `display: none`, not hidden by an
    /// ancestor, not of zero size.
    pub fn is_displayed(&self) -> bool {
        match self.command("GET", "displayed", None) {
            Value::Bool(displayed) => displayed,
            other => panic!("WebDriver answered `displayed` with {other}"),
        }
    }

    /// The first element inside this one matching `css`; fails the test when none does.
    pub fn find(&self, css: &str) -> Element<'b> {
        self.browser
            .find_in(&format!("element/{}/element", self.id), css)
            .unwrap_or_else(|| {
                panic!(
                    "no element matches `{css}` inside {self:?} on {}",
                    self.browser.current_url()
                )
            })
    }

    /// Every element inside this one matching `css`, such as the cells of a row.
    pub fn find_all(&self, css: &str) -> Vec<Element<'b>> {
        self.browser
            .find_all_in(&format!("element/{}/elements", self.id), css)
    }

    /// How to pass this element to `Browser::execute` as an argument.
    pub fn reference(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.browser
            .command(method, &format!("element/{}/{path}", self.id), body)
    }
}

impl fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "element {}", self.id)
    }
}

/// Starts chromedriver with its log in `dir` and returns it with its port.
///
/// Port 0: chromedriver asks the kernel for a free port and names it in its log, so
/// parallel tests never pick the same one. It listens on IPv4 and IPv6, though, and now
/// and then the port it got is taken on the other one ("bind() failed: Address already
/// in use", then "IPv4 port not available. Exiting..."); then we start another. Its own
/// process group lets Drop and the watchdog end it together with the chromium it
/// starts. HOME and TMPDIR are `dir`, so that chromium leaves nothing in the real ones
/// (it keeps a directory for its singleton socket in TMPDIR, which it does not always
/// get to remove when killed).
fn start_driver(dir: &Path) -> (Child, u16) {
    const ATTEMPTS: u32 = 5;
    let log_path = dir.join("chromedriver.log");
    for attempt in 1..=ATTEMPTS {
        let log = std::fs::File::create(&log_path).expect("create the chromedriver log");
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .env("HOME", dir)
            .env("TMPDIR", dir)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the chromedriver log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        start_watchdog(driver.id());
        match wait_for_port(&mut driver, &log_path) {
            Ok(port) => return (driver, port),
            Err(why) => {
                kill_group(driver.id());
                let _ = driver.wait();
                if attempt == ATTEMPTS || !why.contains("Address already in use") {
                    panic!("{why}");
                }
            }
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// Reads the port from chromedriver's log line "ChromeDriver was started successfully
/// on port N.", or says why there is none, with the log.
fn wait_for_port(driver: &mut Child, log_path: &Path) -> Result<u16, String> {
    let deadline = Instant::now() + DRIVER_START_TIMEOUT;
    loop {
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        let port = log.lines().find_map(|line| {
            line.strip_prefix("ChromeDriver was started successfully on port ")?
                .trim_end_matches('.')
                .parse()
                .ok()
        });
        if let Some(port) = port {
            return Ok(port);
        }
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!(
                "{CHROMEDRIVER} exited ({status}) before listening:\n{log}"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{CHROMEDRIVER} did not listen within {DRIVER_START_TIMEOUT:?}:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGKILL to every process of process group `group`.
fn kill_group(group: u32) {
    // SAFETY: kill(2) takes no pointers; a negative pid names a process group.
    unsafe { libc::kill(-(group as libc::pid_t), libc::SIGKILL) };
}

/// Installs chromium and chromedriver once per test binary when missing; every test
/// that asks after a failure fails with the same reason.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let out = Command::new("bash")
            .arg(INSTALL_SCRIPT)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run bash {INSTALL_SCRIPT}: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "{INSTALL_SCRIPT} failed ({}):\n{stderr}",
                out.status
            ));
        }
        eprint!("{stderr}");
        Ok(())
    });
    if let Err(why) = installed {
        panic!("no browser for the tests: {why}\n(see docs/testing.md)");
    }
}

/// Leaves a small shell loop in a session of its own that kills chromedriver's process
/// group (and so chromium) once this test process is gone: a killed or timed-out test
/// never runs Drop, and chromium outlives a killed chromedriver. It ends by itself once
/// the group is gone.
fn start_watchdog(group: u32) {
    const WATCHDOG: &str = r#"
        owner=$1 group=$2
        while kill -0 "$owner" 2>/dev/null; do
          kill -0 -- "-$group" 2>/dev/null || exit 0
          sleep 0.5
        done
        kill -KILL -- "-$group" 2>/dev/null
    "#;
    // The outer shell returns at once; the loop, in the background, is then no child of
    // ours to reap, and a Ctrl-C on the tests does not reach it.
    let started = Command::new("bash")
        .arg("-c")
        .arg(r#"setsid bash -c "$1" watchdog "$2" "$3" &"#)
        .args(["spawn", WATCHDOG])
        .arg(std::process::id().to_string())
        .arg(group.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        matches!(started, Ok(status) if status.success()),
        "cannot start the browser's watchdog: {started:?}"
    );
}

/// Reads an HTTP/1.1 response: the status code and the body, by Content-Length, chunked,
/// or up to the end of the connection.
fn read_response(stream: TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad(format!("not an HTTP status line: {line:?}")))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("the connection closed inside the headers".to_string()));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|e| bad(e.to_string()))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|e| bad(format!("bad chunk size {line:?}: {e}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?; // the CRLF after the chunk
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok((status, body))
}

/// A JSON string's text; anything else panics with what it was.
fn string(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => panic!("WebDriver answered {other} where a string was expected"),
    }
}

/// Decodes standard base64 (RFC 4648, with `=` padding), as WebDriver sends
/// screenshots.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let data = text.trim_end_matches('=');
    if !text.len().is_multiple_of(4) || text.len() - data.len() > 2 {
        return Err(format!(
            "{} characters with {} of padding",
            text.len(),
            text.len() - data.len()
        ));
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for (i, byte) in data.bytes().enumerate() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("{:?} at {i} is not base64", byte as char)),
        };
        bits = (bits << 6) | u32::from(sextet);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Ok(out)
}
