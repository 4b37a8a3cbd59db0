//! The browser test harness itself (tests/common/browser.rs), on a page served here
//! rather than by cronq: typing, clicking, waiting, reading, screenshots, dialogs and
//! tabs work; a missing element fails the test; nothing outlives a browser, even when
//! its test process is killed.

mod common;

use common::browser::{decode_base64, Browser};
use common::wait_for;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Harness page</title>
<script src="/app.js" defer></script>
</head>
<body>
<h1>Harness</h1>
<label>Name <input id="name" name="name"></label>
<button id="greet" type="button">Greet</button>
<p id="greeting">Nobody greeted yet</p>
<p id="secret" hidden>Not for your eyes</p>
<select id="color"><option value="red">Red</option><option value="blue">Blue</option></select>
<button id="delete" type="button">Delete</button>
<p id="verdict"></p>
<ul id="items"><li>one</li><li data-kind="even">two</li><li>three</li></ul>
<script>document.title = "inline scripts run";</script>
</body>
</html>
"#;

/// The page's behaviour, from a file of its own: the page's Content-Security-Policy,
/// like the one cronq's admin screens will send, forbids inline scripts.
const SCRIPT: &str = r#"
const $ = (id) => document.getElementById(id);
$("greet").addEventListener("click", async () => {
  // The server holds its answer until the test releases it: the test must wait.
  const answer = await fetch(`/greeting?name=${encodeURIComponent($("name").value)}`);
  $("greeting").textContent = await answer.text();
});
$("delete").addEventListener("click", () => {
  $("verdict").textContent = confirm("Delete everything?") ? "deleted" : "kept";
});
window.visibilityLog = [];
document.addEventListener("visibilitychange", () => {
  window.visibilityLog.push(document.visibilityState);
});
"#;

/// A web server of one test, on 127.0.0.1 at a free port: PAGE at `/`, SCRIPT at
/// `/app.js`, and at `/greeting?name=NAME` "Hello, NAME!", held back until `release`.
/// Its threads live as long as the test process.
struct TestServer {
    url: String,
    released: Arc<AtomicBool>,
}

impl TestServer {
    fn start() -> TestServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a test server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let released = Arc::new(AtomicBool::new(false));
        let gate = released.clone();
        // A thread per connection: a browser may open one and send nothing on it.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let gate = gate.clone();
                std::thread::spawn(move || answer(stream, &gate));
            }
        });
        TestServer { url, released }
    }

    /// Lets the greetings asked for go out.
    fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    /// Lets them go out `delay` from now, while the test waits for them.
    fn release_after(&self, delay: Duration) {
        let released = self.released.clone();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            released.store(true, Ordering::SeqCst);
        });
    }
}

fn answer(stream: TcpStream, released: &AtomicBool) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", PAGE.to_string()),
        "/app.js" => (
            "200 OK",
            "text/javascript; charset=utf-8",
            SCRIPT.to_string(),
        ),
        _ if path.starts_with("/greeting?name=") => {
            while !released.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let name = &path["/greeting?name=".len()..];
            (
                "200 OK",
                "text/plain; charset=utf-8",
                format!("Hello, {name}!"),
            )
        }
        _ => ("404 Not Found", "text/plain", "not found".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: default-src 'self'\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes());
}

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn types_clicks_and_reads_a_page() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    assert_eq!(browser.current_url(), format!("{}/", server.url));
    // The inline script was refused: the title is still the page's own.
    assert_eq!(browser.title(), "Harness page");
    assert!(browser.page_source().contains("<h1>Harness</h1>"));

    let name = browser.find("#name");
    name.type_text("wrong");
    name.clear();
    assert_eq!(name.property("value"), "");
    name.type_text("cronq");
    assert_eq!(name.property("value"), "cronq");
    assert_eq!(name.attribute("name").as_deref(), Some("name"));
    assert_eq!(name.attribute("placeholder"), None);

    browser.find("#greet").click();
    assert_eq!(browser.find("#greeting").text(), "Nobody greeted yet");
    server.release_after(Duration::from_millis(300));
    browser.wait_for_text("#greeting", "Hello, cronq!", WAIT);
    // Read at once: only a wait that really waited sees the greeting already.
    assert_eq!(browser.find("#greeting").text(), "Hello, cronq!");

    assert!(browser.find("h1").is_displayed());
    assert!(!browser.find("#secret").is_displayed());
    assert_eq!(
        browser.find("#secret").text(),
        "",
        "hidden text is not seen"
    );

    let items = browser.find_all("#items li");
    let texts: Vec<String> = items.iter().map(|item| item.text()).collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(items[1].attribute("data-kind").as_deref(), Some("even"));
    let list = browser.find("#items");
    assert_eq!(list.find("li:last-child").text(), "three");
    assert_eq!(list.find_all("li").len(), 3);
    assert!(browser.find_all("table").is_empty());
    assert!(browser.try_find("table").is_none());
    assert_eq!(
        browser.try_text("#greeting").as_deref(),
        Some("Hello, cronq!")
    );
    assert_eq!(browser.try_text("table"), None);

    let color = browser.find("#color");
    assert_eq!(color.property("value"), "red");
    browser.find("#color option[value=blue]").click();
    assert_eq!(color.property("value"), "blue");

    assert_eq!(browser.execute("return 6 * 7", &[]), 42);
    assert_eq!(
        browser.execute(
            "return arguments[0].id + arguments[1]",
            &[color.reference(), json!("!")]
        ),
        "color!"
    );
}

#[test]
fn wait_until_polls_until_the_page_changes() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    browser.find("#greet").click();
    let mut looks = 0;
    browser.wait_until("the greeting", WAIT, |b| {
        looks += 1;
        if looks == 3 {
            server.release();
        }
        b.find("#greeting").text().starts_with("Hello")
    });
    assert!(
        looks >= 3,
        "looked {looks} times, but the greeting cannot come before the third"
    );
}

#[test]
#[should_panic(expected = "no element matches `#missing` on http://127.0.0.1:")]
fn find_fails_the_test_when_nothing_matches() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    browser.find("#missing");
}

#[test]
#[should_panic(expected = "waiting for `#greeting` to contain \"Goodbye\"")]
fn wait_for_text_fails_the_test_on_timeout() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    browser.wait_for_text("#greeting", "Goodbye", Duration::from_millis(500));
}

#[test]
#[should_panic(expected = "timed out after 500ms waiting for a miracle")]
fn wait_until_fails_the_test_on_timeout() {
    let browser = Browser::start();
    browser.wait_until("a miracle", Duration::from_millis(500), |_| false);
}

#[test]
fn screenshots_are_png_files_of_the_window() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("page.png");
    // The page's viewport: the window less what headless chromium counts as its frame.
    let viewport = || {
        let size = browser.execute("return [innerWidth, innerHeight]", &[]);
        (
            size[0].as_u64().unwrap() as u32,
            size[1].as_u64().unwrap() as u32,
        )
    };
    browser.screenshot(&path);
    assert_eq!(png_size(&path), viewport());
    assert_eq!(viewport().0, 1280);

    browser.set_window_size(500, 700);
    browser.screenshot(&path);
    assert_eq!(png_size(&path), viewport());
    assert_eq!(viewport().0, 500);
}

/// Width and height from a PNG file's header, after checking its signature.
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is no PNG file: {:?}",
        path.display(),
        &png[..png.len().min(16)]
    );
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20)) // IHDR, the first chunk, holds them
}

#[test]
fn confirm_dialogs_are_accepted_or_dismissed() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    browser.find("#delete").click();
    assert_eq!(browser.alert_text(), "Delete everything?");
    browser.dismiss_alert();
    assert_eq!(browser.find("#verdict").text(), "kept");

    browser.find("#delete").click();
    browser.accept_alert();
    assert_eq!(browser.find("#verdict").text(), "deleted");
}

#[test]
fn another_tab_in_front_hides_the_page() {
    let server = TestServer::start();
    let browser = Browser::start();
    browser.goto(&server.url);
    let visibility = || browser.execute("return document.visibilityState", &[]);
    assert_eq!(visibility(), "visible");
    let first = browser.current_window();

    let second = browser.new_tab();
    assert_ne!(first, second);
    let mut handles = browser.window_handles();
    handles.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(handles, expected);

    browser.switch_to_window(&second);
    assert_eq!(browser.current_window(), second);
    browser.switch_to_window(&first);
    assert_eq!(visibility(), "visible");
    assert_eq!(
        browser.execute("return window.visibilityLog", &[]),
        json!(["hidden", "visible"]),
        "the page saw itself hidden behind the second tab, then shown again"
    );
}

/// The pids of processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_dropped_browser_leaves_nothing_behind() {
    let browser = Browser::start();
    let profile = browser.profile_dir();
    let needle = profile.to_string_lossy().into_owned();
    assert!(profile.is_dir());
    assert!(
        !processes_with(&needle).is_empty(),
        "no chromium uses {needle}"
    );
    drop(browser);
    assert_eq!(processes_with(&needle), Vec::<u32>::new());
    // The profile's parent is the browser's HOME and TMPDIR as well.
    let dir = profile.parent().unwrap();
    assert!(!dir.exists(), "{} outlived its browser", dir.display());
}

/// Run alone by the test below, in a process of its own: starts a browser, prints its
/// profile directory and waits to be killed. Does nothing in a normal run.
#[test]
fn helper_browser_of_a_killed_process() {
    if std::env::var_os("CRONQ_TEST_BROWSER_HELPER").is_none() {
        return;
    }
    let browser = Browser::start();
    println!("profile={}", browser.profile_dir().display());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn the_browser_of_a_killed_test_process_goes_too() {
    let mut helper = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "helper_browser_of_a_killed_process",
            "--nocapture",
        ])
        .env("CRONQ_TEST_BROWSER_HELPER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the test binary");
    let mut profile = String::new();
    for line in BufReader::new(helper.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(dir) = line.strip_prefix("profile=") {
            profile = dir.to_string();
            break;
        }
    }
    assert!(
        !profile.is_empty(),
        "the helper printed no profile directory"
    );
    assert!(
        !processes_with(&profile).is_empty(),
        "no chromium uses {profile}"
    );

    helper.kill().expect("kill the helper"); // SIGKILL: no Drop runs
    helper.wait().expect("reap the helper");
    wait_for("the watchdog to end chromedriver and chromium", || {
        processes_with(&profile).is_empty()
    });
    // The profile stays (only Drop removes it); it is in the temporary directory.
    let _ = std::fs::remove_dir_all(Path::new(&profile).parent().unwrap());
}

#[test]
fn base64_decodes_as_rfc_4648_says() {
    // RFC 4648, section 10.
    for (encoded, decoded) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
    ] {
        assert_eq!(
            decode_base64(encoded).unwrap(),
            decoded.as_bytes(),
            "{encoded}"
        );
    }
    assert_eq!(decode_base64("+/8=").unwrap(), [0xfb, 0xff]);
    for bad in ["Zg=", "Zm9", "Z===", "Zm9v!A==", "Zm 9"] {
        assert!(decode_base64(bad).is_err(), "{bad} decoded");
    }
}
