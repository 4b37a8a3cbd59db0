//! The socket side of `cronq web`: a few worker threads take requests from one listener,
//! each with its own connection to the store, check them (`guard`), answer them
//! (`routes`) and add the security headers every answer carries. SIGTERM or SIGINT stops
//! it within half a second, after the requests being answered.

use super::guard::{self, Role};
use super::http::{parse_fields, Reply, Request};
use super::routes::{self, Site};
use super::tokens;
use crate::error::usage;
use crate::store::{self, Location, Store};
use crate::time::Clock;
use anyhow::{anyhow, Result};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests answered at once: an admin screen has few viewers, and a slow one (or a
/// slow database) must not hold up the others.
const WORKERS: usize = 4;
/// The largest form accepted: a job's command is at most a few KiB.
const MAX_BODY: u64 = 64 * 1024;
/// The longest URL accepted.
const MAX_URL: usize = 8 * 1024;

/// Sent with every answer. The pages load only their own script and style, send no
/// referrer, cannot be framed, and are never cached (they show live state).
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
];

/// How `cronq web` was asked to serve.
pub struct Options {
    pub listen: SocketAddr,
    /// Names besides IP addresses and `localhost` that the Host header may carry (the
    /// name a reverse proxy or DNS gives this server).
    pub host_names: Vec<String>,
    pub location: Location,
    pub clock: Clock,
}

/// What every worker shares.
struct Shared {
    options: Options,
    /// Every request needs a token: the listener is not on loopback.
    tokens_required: bool,
}

/// Serves until SIGTERM or SIGINT.
pub fn serve(options: Options) -> Result<()> {
    let tokens_required = !guard::is_loopback(options.listen.ip());
    // Open the store once before listening: a database that cannot be opened is said now,
    // not on the first request.
    let store = Store::open(&options.location, options.clock.now())?;
    if tokens_required && store::tokens::list(store.conn())?.is_empty() {
        return Err(usage(format!(
            "{} is not a loopback address, so every request needs a token, and there is \
             none yet: make one with `cronq token add NAME --role operator` (or listen on \
             127.0.0.1 and reach it through an SSH tunnel; see docs/web.md)",
            options.listen.ip()
        )));
    }
    drop(store);
    let server = tiny_http::Server::http(options.listen)
        .map_err(|e| anyhow!("cannot listen on {}: {e}", options.listen))?;
    let address = server
        .server_addr()
        .to_ip()
        .map_or_else(|| options.listen.to_string(), |a| a.to_string());
    crate::cli::output::print_to_stderr(&format!(
        "cronq web: serving http://{address}/ ({}); SIGTERM or Ctrl-C stops it",
        if tokens_required {
            "every request needs a token"
        } else {
            "loopback only, no token needed"
        }
    ));
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let shared = Arc::new(Shared {
        options,
        tokens_required,
    });
    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, shared, stop) =
                (Arc::clone(&server), Arc::clone(&shared), Arc::clone(&stop));
            std::thread::spawn(move || work(&server, &shared, &stop))
        })
        .collect();
    for worker in workers {
        if worker.join().is_err() {
            log::error!("a web worker failed");
        }
    }
    Ok(())
}

/// One worker: its own store, opened on the first request and again after the database
/// went away (a PostgreSQL restart).
fn work(server: &tiny_http::Server, shared: &Shared, stop: &AtomicBool) {
    let mut store: Option<Store> = None;
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(request)) => handle(request, &mut store, shared),
            Ok(None) => {}
            Err(e) => {
                log::warn!("cannot accept a request: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn handle(mut request: tiny_http::Request, store: &mut Option<Store>, shared: &Shared) {
    let reply = match answer(&mut request, store, shared) {
        Ok(reply) => reply,
        Err(e) => {
            log::error!("{} {}: {e:#}", request.method(), request.url());
            if store.as_ref().is_some_and(Store::is_closed) {
                *store = None;
            }
            Reply::text(500, format!("cronq could not answer: {e:#}\n"))
        }
    };
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    let mut add = |name: &str, value: &str| {
        // Header names and values here are ASCII without line breaks: cronq's own
        // constants, a Location it built from a path, or a content type.
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    };
    add("Content-Type", reply.content_type);
    for (name, value) in SECURITY_HEADERS {
        add(name, value);
    }
    for (name, value) in &reply.headers {
        add(name, value);
    }
    if let Err(e) = request.respond(response) {
        log::debug!("could not send an answer: {e}");
    }
}

fn header<'a>(request: &'a tiny_http::Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn answer(
    request: &mut tiny_http::Request,
    store: &mut Option<Store>,
    shared: &Shared,
) -> Result<Reply> {
    let options = &shared.options;
    let host = header(request, "Host").map(str::to_string);
    if !guard::host_is_expected(host.as_deref(), &options.host_names) {
        return Ok(Reply::text(
            421,
            "This server does not answer to that Host name (a protection against DNS \
             rebinding). Use its address, localhost, or a name given with --host-name.\n",
        ));
    }
    if request.url().len() > MAX_URL {
        return Ok(Reply::text(414, "The URL is too long.\n"));
    }
    let method = request.method().clone();
    let changes = match method {
        tiny_http::Method::Get | tiny_http::Method::Head => false,
        tiny_http::Method::Post => true,
        _ => {
            let mut reply = Reply::text(405, "Only GET and POST are answered.\n");
            reply.headers.push(("Allow", "GET, HEAD, POST".to_string()));
            return Ok(reply);
        }
    };
    let now = options.clock.now();
    if store.as_ref().is_none_or(Store::is_closed) {
        *store = Some(Store::open(&options.location, now)?);
    }
    let Some(store) = store.as_ref() else {
        // Opened just above.
        return Err(anyhow!("no store"));
    };
    let role = if shared.tokens_required {
        match authenticate(request, store, now)? {
            Some(role) => role,
            None => {
                let mut reply = Reply::text(
                    401,
                    "A token is needed: give it as the password of HTTP Basic \
                     authentication (any user name). `cronq token add` makes one.\n",
                );
                reply.headers.push((
                    "WWW-Authenticate",
                    "Basic realm=\"cronq\", charset=\"UTF-8\"".to_string(),
                ));
                return Ok(reply);
            }
        }
    } else {
        Role::Operator
    };
    let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
    let mut parsed = Request {
        path: super::http::decode(path),
        query: parse_fields(query),
        form: Vec::new(),
    };
    let site = Site { store, now, role };
    if !changes {
        return routes::get(&site, &parsed);
    }
    let same_origin = guard::same_origin(
        header(request, "Sec-Fetch-Site"),
        header(request, "Origin"),
        "http",
        host.as_deref().unwrap_or(""),
    );
    if let Err(why) = same_origin {
        return Ok(Reply::text(403, format!("{why}\n")));
    }
    if role != Role::Operator {
        return Ok(Reply::text(
            403,
            "This token may only read: ask for an operator token to change anything.\n",
        ));
    }
    let form_type = header(request, "Content-Type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Ok(Reply::text(
            415,
            "A change is a form: Content-Type application/x-www-form-urlencoded.\n",
        ));
    }
    if request.body_length().is_some_and(|n| n as u64 > MAX_BODY) {
        return Ok(Reply::text(413, "The form is too large.\n"));
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BODY {
        return Ok(Reply::text(413, "The form is too large.\n"));
    }
    parsed.form = parse_fields(&String::from_utf8_lossy(&body));
    routes::post(&site, &parsed)
}

/// The role of the token the request carries; `None` without a known token.
fn authenticate(request: &tiny_http::Request, store: &Store, now: i64) -> Result<Option<Role>> {
    let Some(token) = guard::basic_password(header(request, "Authorization")) else {
        return Ok(None);
    };
    let Some(found) = store::tokens::by_hash(store.conn(), &tokens::hash(&token))? else {
        return Ok(None);
    };
    // To the minute: a page that refreshes itself writes once a minute, not every time.
    if found.last_used.is_none_or(|t| now - t >= 60) {
        store.write(|tx| store::tokens::touch(tx, &found.name, now))?;
    }
    Ok(Role::parse(&found.role))
}
