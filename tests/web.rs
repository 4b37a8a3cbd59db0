//! `cronq web` at the HTTP level: every page and action as a browser meets them, on both
//! backends, and every refusal of docs/web.md's "Closed by default" as an attacker's page
//! or a stranger on the network would meet it.

mod common;

use common::web::{Request, Server, Site};
use common::{rfc3339, Backend, Host, TestDb, START};
use serde_json::Value;

on_both_backends!(
    every_page_answers_with_its_security_headers,
    scheduled_jobs_show_schedule_words_next_slots_and_marks,
    a_job_added_in_the_form_runs_now_and_its_output_is_shown_escaped,
    a_refused_form_names_every_problem_and_saves_nothing,
    a_job_is_changed_disabled_enabled_and_removed,
    runs_are_filtered_by_job_status_target_host_and_time,
    a_failed_run_is_retried_a_pending_one_canceled_a_running_one_asked_to_stop,
    settings_are_changed_and_a_bad_value_is_refused,
    the_health_page_and_banner_follow_the_passes,
    the_preview_is_the_schedule_in_words_and_cronq_nexts_slots,
    every_attempt_of_a_retried_run_keeps_its_output,
);

fn every_page_answers_with_its_security_headers(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&["add", "hello", "--schedule", "*/5 * * * *", "--", "echo hi"]);
    let id = site.cronq(&["enqueue", "hello"]).trim().to_string();
    for path in [
        "/jobs".to_string(),
        "/jobs/new".to_string(),
        "/jobs/hello".to_string(),
        "/runs".to_string(),
        format!("/runs/{id}"),
        "/settings".to_string(),
        "/health".to_string(),
        "/preview?schedule=%40daily".to_string(),
        "/static/app.js".to_string(),
        "/static/app.css".to_string(),
    ] {
        let reply = site.web.get(&path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let csp = reply.header("content-security-policy").unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    }
    let missing = site.web.get("/jobs/nobody");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("There is no job"));
    assert_eq!(site.web.get("/").location(), "/jobs");
    // No page has an inline script or style for the policy to block.
    let page = site.web.get("/jobs").body;
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "{page}"
    );
}

fn scheduled_jobs_show_schedule_words_next_slots_and_marks(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&[
        "add",
        "report",
        "--schedule",
        "30 2 * * 1-5",
        "--tz",
        "Europe/Berlin",
        "--",
        "exit 3",
    ]);
    site.cronq(&["add", "ping", "--schedule", "*/15 * * * *", "--", "true"]);
    site.cronq(&["run-job", "ping"]);
    let failed = site
        .host
        .command(&site.db.arg(), START, &["run-job", "report"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let page = site.web.get("/jobs").body;
    assert!(page.contains("<code>30 2 * * 1-5</code>"), "{page}");
    assert!(page.contains("at 02:30, Monday through Friday"), "{page}");
    assert!(page.contains("(Europe/Berlin)"), "{page}");
    assert!(page.contains("every 15 minutes"), "{page}");
    // The next slot of ping, then the one after, as machine-readable times.
    assert!(
        page.contains(&format!("datetime=\"{}\"", rfc3339(START + 15 * 60))),
        "{page}"
    );
    assert!(
        page.contains(&format!("datetime=\"{}\"", rfc3339(START + 30 * 60))),
        "{page}"
    );
    assert!(page.contains("class=\"mark ok\""), "{page}");
    assert!(page.contains("class=\"mark failed\""), "{page}");
    assert!(page.contains("title=\"run 2: failed, "), "{page}");
    assert!(page.contains("action=\"/jobs/ping/run\""), "{page}");
    // Narrowed by a part of the name.
    let narrowed = site.web.get("/jobs?q=PIN").body;
    assert!(narrowed.contains("data-job=\"ping\""), "{narrowed}");
    assert!(!narrowed.contains("data-job=\"report\""), "{narrowed}");
}

fn a_job_added_in_the_form_runs_now_and_its_output_is_shown_escaped(backend: Backend) {
    let site = Site::new(backend);
    let command = r#"printf '<script>alert(1)</script>\033[31m & done\n'"#;
    let added = site.web.post(
        "/jobs",
        &[
            ("name", "greet"),
            ("command", command),
            ("schedule", "0 9 * * *"),
            ("tz", "UTC"),
            ("timeout", ""),
            ("retries", "2"),
            ("catchup", "latest"),
            ("overlap", "skip"),
            ("active", "on"),
        ],
    );
    assert_eq!(added.location(), "/jobs/greet");
    let job = site.job("greet").unwrap();
    assert_eq!(job["command"], command);
    assert_eq!(job["schedule"], "0 9 * * *");
    assert_eq!(job["retries"], 2);
    assert_eq!(job["status"], "active");

    let queued = site.web.post("/jobs/greet/run", &[]);
    let id = Site::run_id(queued.location());
    assert_eq!(site.run(id)["status"], "pending");
    assert_eq!(site.run(id)["max_attempts"], 3);
    site.pass_at(START);
    assert_eq!(site.run(id)["status"], "success");

    let page = site.web.get(&format!("/runs/{id}")).body;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m &amp; done"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    // The job's page lists the run, and its command is shown as text.
    let job_page = site.web.get("/jobs/greet").body;
    assert!(
        job_page.contains(&format!("href=\"/runs/{id}\"")),
        "{job_page}"
    );
    assert!(!job_page.contains("<script>alert"), "{job_page}");
}

fn a_refused_form_names_every_problem_and_saves_nothing(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&["add", "taken", "--", "true"]);
    let refused = site.web.post(
        "/jobs",
        &[
            ("name", "bad name"),
            ("command", ""),
            ("schedule", "61 * * * *"),
            ("tz", "Mars/Olympus"),
            ("timeout", "0"),
            ("catchup", "latest"),
            ("overlap", "skip"),
        ],
    );
    assert_eq!(refused.status, 422);
    for problem in [
        "invalid job name 'bad name'",
        "give the command",
        "minute: value 61 is out of range",
        "unknown time zone 'Mars/Olympus'",
        "timeout: '0' is not a whole number from 1 to 31536000",
    ] {
        assert!(
            refused.body.contains(problem),
            "{problem}: {}",
            refused.body
        );
    }
    // The form comes back as it was typed.
    assert!(
        refused.body.contains("value=\"61 * * * *\""),
        "{}",
        refused.body
    );
    let taken = site.web.post(
        "/jobs",
        &[
            ("name", "taken"),
            ("command", "false"),
            ("catchup", "latest"),
            ("overlap", "skip"),
        ],
    );
    assert_eq!(taken.status, 422);
    assert!(
        taken.body.contains("job 'taken' already exists"),
        "{}",
        taken.body
    );
    let names: Vec<Value> = site
        .json(&["jobs", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].clone())
        .collect();
    assert!(!names.contains(&Value::from("bad name")));
    assert_eq!(site.job("taken").unwrap()["command"], "true");
}

fn a_job_is_changed_disabled_enabled_and_removed(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&["add", "nightly", "--schedule", "0 3 * * *", "--", "true"]);
    let saved = site.web.post(
        "/jobs/nightly",
        &[
            ("command", "echo changed"),
            ("schedule", "0 4 * * *"),
            ("tz", "Europe/Berlin"),
            ("timeout", "600"),
            ("retries", ""),
            ("catchup", "skip"),
            ("overlap", "allow"),
            ("active", "on"),
        ],
    );
    assert_eq!(saved.location(), "/jobs/nightly");
    let job = site.job("nightly").unwrap();
    assert_eq!(job["command"], "echo changed");
    assert_eq!(job["schedule"], "0 4 * * *");
    assert_eq!(job["tz"], "Europe/Berlin");
    assert_eq!(job["timeout"], 600);
    assert_eq!(job["catchup"], "skip");

    let refused = site.web.post(
        "/jobs/nightly",
        &[
            ("command", "x"),
            ("schedule", "0 25 * * *"),
            ("catchup", "skip"),
            ("overlap", "allow"),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("hour: value 25"), "{}", refused.body);
    assert_eq!(site.job("nightly").unwrap()["schedule"], "0 4 * * *");

    assert_eq!(
        site.web.post("/jobs/nightly/disable", &[]).location(),
        "/jobs/nightly"
    );
    assert_eq!(site.job("nightly").unwrap()["status"], "inactive");
    assert_eq!(
        site.web.post("/jobs/nightly/enable", &[]).location(),
        "/jobs/nightly"
    );
    assert_eq!(site.job("nightly").unwrap()["status"], "active");
    // From the list of jobs, the browser comes back to the list; nowhere else.
    let from_list = site.web.post("/jobs/nightly/disable", &[("back", "list")]);
    assert_eq!(from_list.location(), "/jobs");
    let elsewhere = site
        .web
        .post("/jobs/nightly/enable", &[("back", "https://evil.example/")]);
    assert_eq!(elsewhere.location(), "/jobs/nightly");
    // A built-in job cannot be removed: the page says why.
    let builtin = site.web.post("/jobs/Cleanup/remove", &[]);
    assert_eq!(builtin.status, 409);
    assert!(
        builtin.body.contains("built in and cannot be removed"),
        "{}",
        builtin.body
    );
    assert_eq!(
        site.web.post("/jobs/nightly/remove", &[]).location(),
        "/jobs"
    );
    assert!(site.job("nightly").is_none());
    assert_eq!(site.web.post("/jobs/nightly/run", &[]).status, 409);
}

fn runs_are_filtered_by_job_status_target_host_and_time(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&["add", "mail", "--", "true"]);
    site.cronq(&["add", "other", "--retries", "0", "--", "false"]);
    let first = site.cronq(&["enqueue", "mail", "--target-id=42", "--target-type=Email"]);
    let later = site.cronq_at(START + 3600, &["enqueue", "mail", "--target-id=43"]);
    site.cronq(&["enqueue", "other"]);
    site.pass_at(START + 7200);
    let ids = |path: &str| -> Vec<String> {
        let reply = site.web.get(path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply
            .body
            .split("data-run=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("/runs").len(), 3);
    assert_eq!(ids("/runs?job=mail").len(), 2);
    assert_eq!(ids("/runs?status=failed").len(), 1);
    assert_eq!(ids("/runs?target=42"), vec![first.trim()]);
    assert_eq!(ids("/runs?host=web-host").len(), 3);
    assert_eq!(ids("/runs?host=elsewhere").len(), 0);
    let since = format!("/runs?job=mail&since={}", rfc3339(START + 1800));
    assert_eq!(ids(&since), vec![later.trim()]);
    let until = format!("/runs?job=mail&until={}", rfc3339(START + 1800));
    assert_eq!(ids(&until), vec![first.trim()]);
    let bad = site.web.get("/runs?since=yesterday&status=done");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body
            .contains("since: 'yesterday' is not an RFC 3339 time"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("status:"), "{}", bad.body);
}

fn a_failed_run_is_retried_a_pending_one_canceled_a_running_one_asked_to_stop(backend: Backend) {
    let site = Site::new(backend);
    site.cronq(&["add", "flaky", "--retries", "0", "--", "exit 3"]);
    let failed: i64 = site
        .cronq(&["enqueue", "flaky", "--target-id=7", "--data={\"a\":1}"])
        .trim()
        .parse()
        .unwrap();
    site.pass_at(START);
    assert_eq!(site.run(failed)["status"], "failed");
    let retry = Site::run_id(
        site.web
            .post(&format!("/runs/{failed}/retry"), &[])
            .location(),
    );
    assert_ne!(retry, failed);
    let new = site.run(retry);
    assert_eq!(new["status"], "pending");
    assert_eq!(new["target_id"], "7");
    assert_eq!(new["data"], serde_json::json!({"a": 1}));
    assert_eq!(site.run(failed)["status"], "failed", "history is kept");

    let canceled = site.web.post(&format!("/runs/{retry}/cancel"), &[]);
    assert_eq!(canceled.location(), format!("/runs/{retry}"));
    let run = site.run(retry);
    assert_eq!(run["status"], "skipped");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("canceled by an operator"),
        "{run}"
    );
    // A finished run can be neither canceled nor stopped; the page says what can.
    let refused = site.web.post(&format!("/runs/{retry}/cancel"), &[]);
    assert_eq!(refused.status, 409);
    assert!(
        refused.body.contains("only a pending run can be canceled"),
        "{}",
        refused.body
    );
    let refused = site.web.post(&format!("/runs/{failed}/stop"), &[]);
    assert_eq!(refused.status, 409);

    // A running run (its row as a runner's claim leaves it) gets a stop request.
    let running: i64 = site.cronq(&["enqueue", "flaky"]).trim().parse().unwrap();
    site.db.execute(&format!(
        "UPDATE runs SET status = 'running', claim = 1 WHERE id = {running}"
    ));
    let page = site.web.get(&format!("/runs/{running}")).body;
    assert!(
        page.contains(&format!("action=\"/runs/{running}/stop\"")),
        "{page}"
    );
    assert_eq!(
        site.web
            .post(&format!("/runs/{running}/stop"), &[])
            .location(),
        format!("/runs/{running}")
    );
    let page = site.web.get(&format!("/runs/{running}")).body;
    assert!(page.contains("stop asked"), "{page}");
    assert!(
        !page.contains(&format!("action=\"/runs/{running}/stop\"")),
        "{page}"
    );
    let missing = site.web.post("/runs/99999/retry", &[]);
    assert_eq!(missing.status, 409, "{}", missing.body);
}

fn settings_are_changed_and_a_bad_value_is_refused(backend: Backend) {
    let site = Site::new(backend);
    let page = site.web.get("/settings").body;
    assert!(page.contains("jobs_max_portion"), "{page}");
    assert!(
        page.contains("most runs one pass claims. Default <code>15</code>; from 1 to 100000."),
        "{page}"
    );
    let saved = site
        .web
        .post("/settings", &[("key", "jobs_max_portion"), ("value", "20")]);
    assert_eq!(saved.location(), "/settings#setting-jobs_max_portion");
    assert_eq!(site.cronq(&["settings", "jobs_max_portion"]).trim(), "20");
    let saved = site.web.post(
        "/settings",
        &[("key", "jobs_run_in_parallel"), ("value", "true")],
    );
    assert_eq!(saved.status, 303);
    assert_eq!(
        site.cronq(&["settings", "jobs_run_in_parallel"]).trim(),
        "true"
    );
    let refused = site
        .web
        .post("/settings", &[("key", "jobs_max_portion"), ("value", "0")]);
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("jobs_max_portion: '0' is not a whole number from 1 to 100000"),
        "{}",
        refused.body
    );
    assert_eq!(site.cronq(&["settings", "jobs_max_portion"]).trim(), "20");
    let unknown = site
        .web
        .post("/settings", &[("key", "colour"), ("value", "red")]);
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("unknown setting"), "{}", unknown.body);
}

fn the_health_page_and_banner_follow_the_passes(backend: Backend) {
    let site = Site::new(backend);
    let banner = "cron is not running";
    let page = site.web.get("/jobs").body;
    assert!(page.contains("No pass has run yet"), "{page}");
    site.cronq(&["add", "ok", "--", "true"]);
    site.cronq(&["add", "bad", "--retries", "0", "--", "false"]);
    site.cronq(&["enqueue", "ok"]);
    site.cronq(&["enqueue", "bad"]);
    // A pass at the server's "now": the banner is gone from every page.
    site.pass_at(START);
    for path in ["/jobs", "/runs", "/settings", "/health"] {
        let page = site.web.get(path).body;
        assert!(!page.contains(banner), "{path}: {page}");
    }
    let health = site.web.get("/health").body;
    assert!(
        health.contains("Healthy"),
        "a failing job is listed, not a problem: {health}"
    );
    assert!(health.contains("href=\"/jobs/bad\""), "{health}");
    assert!(health.contains("<svg class=\"chart\""), "{health}");
    assert!(health.contains("1 succeeded, 1 failed"), "{health}");
    // Four minutes without a pass: the banner is back.
    drop(site.web);
    let later = Server::start(&site.db.arg(), START + 240, &[]);
    let page = later.get("/runs").body;
    assert!(
        page.contains("No pass has run for 4m: cron is not running"),
        "{page}"
    );
}

fn the_preview_is_the_schedule_in_words_and_cronq_nexts_slots(backend: Backend) {
    let site = Site::new(backend);
    let reply = site
        .web
        .get("/preview?schedule=0+9+*+*+1-5&tz=Europe%2FBerlin");
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains("at 09:00, Monday through Friday"),
        "{}",
        reply.body
    );
    let next = site.cronq(&["next", "0 9 * * 1-5", "--tz", "Europe/Berlin"]);
    for slot in next.lines() {
        assert!(
            reply.body.contains(&format!("<code>{slot}</code>")),
            "{slot}: {}",
            reply.body
        );
    }
    let bad = site.web.get("/preview?schedule=*+*+*+13+*");
    assert!(
        bad.body.contains("month: value 13 is out of range"),
        "{}",
        bad.body
    );
}

fn every_attempt_of_a_retried_run_keeps_its_output(backend: Backend) {
    let site = Site::new(backend);
    let count = site.db.dir.path().join("count");
    let command = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; \
         echo \"attempt $n <i>\"; [ $n -ge 3 ] || exit $n",
        count.display()
    );
    site.cronq(&["add", "thrice", "--retries", "2", "--", &command]);
    let id: i64 = site.cronq(&["enqueue", "thrice"]).trim().parse().unwrap();
    for hour in 0..3 {
        site.pass_at(START + hour * 3600);
    }
    assert_eq!(site.run(id)["status"], "success");
    let page = site.web.get(&format!("/runs/{id}")).body;
    for n in 1..=2 {
        let section = page
            .split(&format!("<section class=\"attempt\" id=\"attempt-{n}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("no attempt {n}: {page}"))
            .split("</section>")
            .next()
            .unwrap();
        assert!(
            section.contains(&format!("attempt {n} &lt;i&gt;")),
            "{section}"
        );
        assert!(section.contains(&format!("exit code {n}")), "{section}");
        assert!(section.contains(&format!("exit status {n}")), "{section}");
    }
    assert!(page.contains("Output of attempt 3"), "{page}");
    assert!(page.contains("attempt 3 &lt;i&gt;"), "{page}");
    let shown = site.json(&["show", &id.to_string(), "--json"]);
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{shown}");
    assert_eq!(attempts[0]["output"], "attempt 1 <i>\n");
    assert_eq!(attempts[1]["exit_code"], 2);
    assert_eq!(attempts[1]["host"], "web-host");
    let text = site.cronq(&["show", &id.to_string()]);
    assert!(
        text.contains("output of attempt 1:\nattempt 1 <i>\n"),
        "{text}"
    );
    assert!(text.contains("attempt 2: finished"), "{text}");
}

// What is refused, and that a refusal changes nothing. Backend-independent: SQLite.

#[test]
fn a_state_change_from_another_origin_or_without_one_is_refused() {
    let site = Site::new(Backend::Sqlite);
    site.cronq(&["add", "target", "--", "true"]);
    let attempts = [
        (
            "no Sec-Fetch-Site, no Origin",
            Request::post("/jobs/target/run", &[]),
        ),
        (
            "cross-site",
            Request::post("/jobs/target/run", &[]).header("Sec-Fetch-Site", "cross-site"),
        ),
        (
            "same-site",
            Request::post("/jobs/target/run", &[]).header("Sec-Fetch-Site", "same-site"),
        ),
        (
            "another origin",
            Request::post("/jobs/target/run", &[]).header("Origin", "http://evil.example"),
        ),
        (
            "another port",
            Request::post("/jobs/target/run", &[]).header("Origin", "http://127.0.0.1:1"),
        ),
    ];
    for (what, request) in attempts {
        let reply = site.web.send(&request);
        assert_eq!(reply.status, 403, "{what}: {reply:?}");
        assert!(reply.body.contains("refused"), "{what}: {}", reply.body);
    }
    assert!(site.runs().is_empty(), "nothing was queued");
    // An older browser's same-origin form sends only Origin: accepted.
    let origin = format!("http://{}", site.web.authority);
    let reply = site
        .web
        .send(&Request::post("/jobs/target/run", &[]).header("Origin", &origin));
    assert_eq!(reply.status, 303, "{reply:?}");
    assert_eq!(site.runs().len(), 1);
}

#[test]
fn get_never_changes_anything_and_other_methods_are_refused() {
    let site = Site::new(Backend::Sqlite);
    site.cronq(&["add", "target", "--", "true"]);
    for path in [
        "/jobs/target/run",
        "/jobs/target/disable",
        "/jobs/target/remove",
    ] {
        assert_eq!(site.web.get(path).status, 404, "{path}");
    }
    let mut put = Request::post("/jobs/target/run", &[]).header("Sec-Fetch-Site", "same-origin");
    put.method = "PUT".into();
    let reply = site.web.send(&put);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST"));
    let mut json = Request::post("/jobs/target/run", &[]).header("Sec-Fetch-Site", "same-origin");
    json.headers[0].1 = "application/json".into();
    assert_eq!(site.web.send(&json).status, 415);
    let mut huge = Request::post("/settings", &[("key", "jobs_max_portion")])
        .header("Sec-Fetch-Site", "same-origin");
    huge.body.extend(std::iter::repeat_n(b'x', 100 * 1024));
    assert_eq!(site.web.send(&huge).status, 413);
    assert!(site.runs().is_empty());
    let job = site.job("target").unwrap();
    assert_eq!(job["status"], "active");
}

#[test]
fn a_host_header_of_another_name_is_refused_against_dns_rebinding() {
    let site = Site::new(Backend::Sqlite);
    site.cronq(&["add", "target", "--", "true"]);
    for host in [
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
    ] {
        let reply = site.web.send(&Request::get("/jobs").header("Host", host));
        assert_eq!(reply.status, 421, "{host}");
        let reply = site.web.send(
            &Request::post("/jobs/target/run", &[])
                .header("Host", host)
                .header("Sec-Fetch-Site", "same-origin"),
        );
        assert_eq!(reply.status, 421, "{host}");
    }
    assert!(site.runs().is_empty());
    let port = site.web.authority.rsplit(':').next().unwrap().to_string();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            site.web
                .send(&Request::get("/jobs").header("Host", &host))
                .status,
            200,
            "{host}"
        );
    }
    // A name given with --host-name is served too.
    let named = Server::start(&site.db.arg(), START, &["--host-name", "cron.example.com"]);
    let reply = named.send(&Request::get("/jobs").header("Host", "cron.example.com"));
    assert_eq!(reply.status, 200);
}

#[test]
fn beyond_loopback_every_request_needs_a_token_of_the_right_role() {
    let db = TestDb::new(Backend::Sqlite);
    let host = Host::new("h");
    let cronq = |args: &[&str]| host.command(&db.arg(), START, args).output().unwrap();
    // Without a token, the server does not start.
    let out = cronq(&["web", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0.0.0.0 is not a loopback address"),
        "{stderr}"
    );
    assert!(stderr.contains("cronq token add"), "{stderr}");

    let token = |name: &str, role: &str| {
        let out = cronq(&["token", "add", name, "--role", role]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let reader = token("dashboard", "read");
    let operator = token("ops", "operator");
    assert!(reader.starts_with("cronq_") && operator.starts_with("cronq_"));
    assert_eq!(
        cronq(&["token", "add", "ops"]).status.code(),
        Some(2),
        "names are unique"
    );
    assert!(cronq(&["add", "target", "--", "true"]).status.success());
    // Only hashes are stored.
    let stored = std::fs::read(db.dir.path().join("cronq.db")).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&reader[6..]));

    let web = Server::listen(&db.arg(), START, "0.0.0.0:0", &[]);
    let anonymous = web.get("/jobs");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        web.send(&Request::get("/jobs").token("cronq_wrong")).status,
        401
    );
    let read = web.send(&Request::get("/jobs").token(&reader));
    assert_eq!(read.status, 200);
    assert!(read.body.contains("read only"), "{}", read.body);
    assert!(
        !read.body.contains("action=\"/jobs/target/run\""),
        "no buttons for a reader"
    );
    let refused = web.send(
        &Request::post("/jobs/target/run", &[])
            .header("Sec-Fetch-Site", "same-origin")
            .token(&reader),
    );
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("may only read"));
    let done = web.send(
        &Request::post("/jobs/target/run", &[])
            .header("Sec-Fetch-Site", "same-origin")
            .token(&operator),
    );
    assert_eq!(done.status, 303, "{done:?}");
    let list = String::from_utf8(cronq(&["token", "list"]).stdout).unwrap();
    assert!(
        list.contains("dashboard") && list.contains("read"),
        "{list}"
    );
    assert!(list.contains(&rfc3339(START)), "last used: {list}");
    assert!(cronq(&["token", "remove", "ops"]).status.success());
    assert_eq!(
        web.send(&Request::get("/jobs").token(&operator)).status,
        401
    );
    assert_eq!(cronq(&["token", "remove", "ops"]).status.code(), Some(2));
}

#[test]
fn sigterm_stops_the_server() {
    let site = Site::new(Backend::Sqlite);
    assert_eq!(site.web.get("/jobs").status, 200);
    let started = std::time::Instant::now();
    let status = site.web.terminate();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bad_options_are_refused_with_exit_2() {
    let db = TestDb::new(Backend::Sqlite);
    let host = Host::new("h");
    for (args, message) in [
        (
            vec!["web", "--listen", "localhost"],
            "is not an address and port",
        ),
        (vec!["web", "--host-name", "bad name"], "is not a DNS name"),
        (vec!["token", "add", "bad name"], "invalid token name"),
    ] {
        let out = host.command(&db.arg(), START, &args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_long_list_of_jobs_shows_a_page_of_them_and_says_so() {
    let site = Site::new(Backend::Sqlite);
    let crontab: String = (0..205)
        .map(|i| format!("{} * * * * /bin/true {i}\n", i % 60))
        .collect();
    let file = site.db.dir.path().join("crontab");
    std::fs::write(&file, crontab).unwrap();
    site.cronq(&["import", file.to_str().unwrap()]);
    let page = site.web.get("/jobs").body;
    assert_eq!(page.matches("<tr data-job=").count(), 200);
    assert!(page.contains("Showing 200 of 206 jobs"), "{page}");
}
