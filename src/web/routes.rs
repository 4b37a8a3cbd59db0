//! Which page or action a request asks for, and the store reads and writes behind each.
//! GET only reads; every change is a POST (which `server` lets through only from the
//! screens' own origin and an operator) answered by a redirect to the page showing it.

use super::assets;
use super::chart;
use super::forms::JobForm;
use super::guard::Role;
use super::http::{encode, Reply, Request};
use super::pages::{self, jobs::JobRow, View};
use crate::control;
use crate::error::UsageError;
use crate::health;
use crate::job::RunStatus;
use crate::settings::key;
use crate::store::runs::{self, Filter};
use crate::store::{self, jobs, Store};
use crate::time::{parse_time, Timestamp};
use anyhow::Result;

/// Most runs a list shows at once.
const PAGE: i64 = 100;

/// What a request is answered with: the store, the time, and who asks.
pub struct Site<'a> {
    pub store: &'a Store,
    pub now: Timestamp,
    pub role: Role,
}

impl Site<'_> {
    fn view(&self) -> Result<View> {
        Ok(self.view_after(health::last_pass(self.store)?))
    }

    /// The view when the last pass is known already (the health page read it).
    fn view_after(&self, last_pass: Option<Timestamp>) -> View {
        View {
            now: self.now,
            role: self.role,
            banner: health::stopped_passes_notice(last_pass, self.now),
        }
    }

    fn not_found(&self, what: &str) -> Result<Reply> {
        Ok(Reply::page(
            404,
            pages::problem(&self.view()?, "Not found", what),
        ))
    }

    /// A refused action (a usage error): the page says why, nothing changed.
    fn refused(&self, message: &str) -> Result<Reply> {
        Ok(Reply::page(
            409,
            pages::problem(&self.view()?, "Not done", message),
        ))
    }
}

pub fn get(site: &Site, request: &Request) -> Result<Reply> {
    let conn = site.store.conn();
    match request.segments().as_slice() {
        [] => Ok(Reply::see_other("/jobs")),
        ["static", "app.js"] => Ok(Reply::asset(
            "text/javascript; charset=utf-8",
            assets::SCRIPT,
        )),
        ["static", "app.css"] => Ok(Reply::asset("text/css; charset=utf-8", assets::STYLE)),
        ["jobs"] => {
            // Each shown job costs one index probe for its marks: a page shows at most
            // `SHOWN_JOBS` of them, narrowed by a part of their name.
            let part = request.query("q").unwrap_or("");
            let matching: Vec<_> = jobs::list(conn)?
                .into_iter()
                .filter(|job| job.name.to_lowercase().contains(&part.to_lowercase()))
                .collect();
            let total = matching.len();
            let mut rows = Vec::new();
            for job in matching.into_iter().take(pages::jobs::SHOWN_JOBS) {
                let recent = runs::recent_results_of(conn, &job.name, pages::jobs::MARKS)?;
                rows.push(JobRow { job, recent });
            }
            Ok(Reply::page(
                200,
                pages::jobs::list(&site.view()?, &rows, part, total),
            ))
        }
        ["jobs", "new"] => {
            if site.role != Role::Operator {
                return Ok(read_only());
            }
            Ok(Reply::page(
                200,
                pages::jobs::new(&site.view()?, &JobForm::new_job(), &[]),
            ))
        }
        ["jobs", name] => match jobs::get(conn, name)? {
            Some(job) => job_page(site, 200, &job, &JobForm::of(&job), &[]),
            None => site.not_found(&format!("There is no job '{name}'.")),
        },
        ["preview"] => {
            let schedule = request.query("schedule").unwrap_or("");
            let tz = request.query("tz").unwrap_or("UTC");
            let fragment = pages::jobs::preview(site.now, schedule, tz);
            Ok(Reply::page(200, fragment))
        }
        ["runs"] => runs_page(site, request),
        ["runs", id] => {
            let Some(run) = id
                .parse()
                .ok()
                .and_then(|id| runs::get(conn, id).transpose())
            else {
                return site.not_found(&format!("There is no run '{id}'."));
            };
            let run = run?;
            let output = runs::output_of(conn, run.id)?.unwrap_or_default();
            let attempts = runs::attempts_of(conn, run.id)?;
            let stop = runs::stop_requested_of(conn, run.id)?;
            Ok(Reply::page(
                200,
                pages::runs::detail(&site.view()?, &run, &attempts, &output, stop),
            ))
        }
        ["settings"] => {
            let settings = store::settings::load(conn)?;
            Ok(Reply::page(
                200,
                pages::settings::page(&site.view()?, &settings, None),
            ))
        }
        ["health"] => {
            let health = health::check(site.store, site.now)?;
            let hours = runs::hourly_results(conn, site.now - 24 * 3600)?;
            let chart = chart::hourly(site.now, &hours);
            Ok(Reply::page(
                200,
                pages::health::page(&site.view_after(health.last_pass), &health, chart),
            ))
        }
        _ => site.not_found("There is no such page."),
    }
}

/// The runs, filtered as the query says; a filter that does not read is said, not
/// guessed at.
fn runs_page(site: &Site, request: &Request) -> Result<Reply> {
    let conn = site.store.conn();
    let mut problems = Vec::new();
    let time = |name: &str, problems: &mut Vec<String>| {
        request.query(name).and_then(|text| {
            parse_time(text)
                .map_err(|e| problems.push(format!("{name}: {e}")))
                .ok()
        })
    };
    let status = request.query("status").and_then(|s| {
        s.parse::<RunStatus>()
            .map_err(|e| problems.push(format!("status: {e}")))
            .ok()
    });
    let filter = Filter {
        job: request.query("job").map(str::to_string),
        status,
        target: request.query("target").map(str::to_string),
        host: request.query("host").map(str::to_string),
        since: time("since", &mut problems),
        until: time("until", &mut problems),
    };
    let limit = request
        .query("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(PAGE)
        .clamp(1, 10 * PAGE);
    let list = runs::search(conn, &filter, limit + 1)?;
    let more = (list.len() as i64 > limit).then(|| {
        let mut query: Vec<String> = request
            .query
            .iter()
            .filter(|(k, v)| k != "limit" && !v.is_empty())
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("limit={}", (limit + PAGE).min(10 * PAGE)));
        format!("/runs?{}", query.join("&"))
    });
    let shown: Vec<_> = list.into_iter().take(limit as usize).collect();
    let view = site.view()?;
    if !problems.is_empty() {
        return Ok(Reply::page(
            400,
            pages::problem(&view, "Jobs", &problems.join("; ")),
        ));
    }
    Ok(Reply::page(
        200,
        pages::runs::list(
            &view,
            &shown,
            &filter,
            &request.query,
            &jobs::names(conn)?,
            more,
        ),
    ))
}

pub fn post(site: &Site, request: &Request) -> Result<Reply> {
    let store = site.store;
    let now = site.now;
    let result = match request.segments().as_slice() {
        ["jobs"] => return add_job(site, request),
        ["jobs", name] => return edit_job(site, request, name),
        ["jobs", name, action] => {
            let name = name.to_string();
            // Enable and disable from the list go back to the list; only that one value
            // is honoured, so no form can send the browser elsewhere.
            let page = match request.form("back") {
                Some("list") => "/jobs".to_string(),
                _ => format!("/jobs/{name}"),
            };
            store.write(|tx| {
                let job = crate::cli::find_job(tx, &name)?;
                match *action {
                    "run" => control::run_now(tx, &job, now).map(|id| format!("/runs/{id}")),
                    "enable" => control::set_active(tx, &job, true, now).map(|()| page),
                    "disable" => control::set_active(tx, &job, false, now).map(|()| page),
                    "remove" => control::remove(tx, &job).map(|_| "/jobs".to_string()),
                    _ => Err(crate::error::usage("there is no such action")),
                }
            })
        }
        ["runs", id, action] => {
            let Ok(id) = id.parse::<i64>() else {
                return site.not_found(&format!("There is no run '{id}'."));
            };
            store.write(|tx| match *action {
                "retry" => control::retry(tx, id, now).map(|new| format!("/runs/{new}")),
                "cancel" => control::cancel(tx, id, "an operator (web)", now)
                    .map(|()| format!("/runs/{id}")),
                "stop" => control::stop(tx, id, now).map(|()| format!("/runs/{id}")),
                _ => Err(crate::error::usage("there is no such action")),
            })
        }
        ["settings"] => return change_setting(site, request),
        _ => return site.not_found("There is no such action."),
    };
    match result {
        Ok(location) => Ok(Reply::see_other(location)),
        Err(e) => match e.downcast_ref::<UsageError>() {
            Some(refusal) => site.refused(&refusal.0),
            None => Err(e),
        },
    }
}

fn add_job(site: &Site, request: &Request) -> Result<Reply> {
    let form = JobForm::from_request(request);
    let refused = |problems: Vec<String>| -> Result<Reply> {
        Ok(Reply::page(
            422,
            pages::jobs::new(&site.view()?, &form, &problems),
        ))
    };
    let def = match form.definition(None) {
        Ok(def) => def,
        Err(problems) => return refused(problems),
    };
    match site.store.write(|tx| control::add(tx, &def, site.now)) {
        Ok(()) => Ok(Reply::see_other(format!("/jobs/{}", def.name))),
        Err(e) => match e.downcast_ref::<UsageError>() {
            Some(refusal) => refused(vec![refusal.0.clone()]),
            None => Err(e),
        },
    }
}

fn edit_job(site: &Site, request: &Request, name: &str) -> Result<Reply> {
    let conn = site.store.conn();
    let Some(job) = jobs::get(conn, name)? else {
        return site.not_found(&format!("There is no job '{name}'."));
    };
    let mut form = JobForm::from_request(request);
    form.builtin = job.builtin.clone();
    let outcome = match form.definition(Some(&job)) {
        Ok(def) => site.store.write(|tx| {
            // Read again under the write lock: another host may have changed it.
            let current = crate::cli::find_job(tx, name)?;
            control::edit(tx, &current, &def, site.now)
        }),
        Err(problems) => Err(anyhow::Error::new(UsageError(problems.join("\n")))),
    };
    match outcome {
        Ok(()) => Ok(Reply::see_other(format!("/jobs/{name}"))),
        Err(e) => match e.downcast_ref::<UsageError>() {
            Some(refusal) => {
                let problems: Vec<String> = refusal.0.lines().map(str::to_string).collect();
                job_page(site, 422, &job, &form, &problems)
            }
            None => Err(e),
        },
    }
}

/// A job's page with its 20 newest runs, and its form as given (with what was refused).
fn job_page(
    site: &Site,
    status: u16,
    job: &jobs::Job,
    form: &JobForm,
    problems: &[String],
) -> Result<Reply> {
    let filter = Filter {
        job: Some(job.name.clone()),
        ..Filter::default()
    };
    let recent = runs::search(site.store.conn(), &filter, 20)?;
    Ok(Reply::page(
        status,
        pages::jobs::detail(&site.view()?, job, &recent, form, problems),
    ))
}

fn change_setting(site: &Site, request: &Request) -> Result<Reply> {
    let name = request.form("key").unwrap_or("");
    let value = request.form("value").unwrap_or("");
    match key(name).and_then(|k| k.validate(value)) {
        Ok(checked) => {
            site.store
                .write(|tx| store::settings::set(tx, name, &checked))?;
            Ok(Reply::see_other(format!("/settings#setting-{name}")))
        }
        Err(e) => {
            let settings = store::settings::load(site.store.conn())?;
            Ok(Reply::page(
                422,
                pages::settings::page(&site.view()?, &settings, Some((name, value, &e.0))),
            ))
        }
    }
}

/// A read-only token asked for a form that only changes things.
fn read_only() -> Reply {
    Reply::text(
        403,
        "This token may only read: ask for an operator token to change anything.\n",
    )
}
