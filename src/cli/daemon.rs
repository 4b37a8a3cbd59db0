//! `cronq daemon`: passes in a loop, for hosts where a long-lived process is allowed.
//! SIGTERM or SIGINT stops it gracefully (docs/daemon.md). It outlives a failed pass, but
//! not its database: deleted, its directory deleted or another file in its place, the
//! daemon exits 1 rather than go on with an empty one (docs/daemon.md#a-database-that-vanished).

use super::Context;
use crate::store::vanished::{self, Identity};
use crate::store::{Location, Store};
use crate::{pass, shutdown, store};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Seconds between passes [default: setting daemon_interval]
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: Option<u64>,
    #[command(flatten)]
    time_travel: super::run::TimeTravel,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    args.time_travel.check(&context.clock)?;
    shutdown::install()?;
    let location = context.location()?;
    log::info!("daemon started on {location}");
    // A database file: the one at the start, or else the one the first pass created; the
    // daemon stops when it is deleted or replaced.
    let file = store::location::file(&location);
    let mut started_with = file.and_then(Identity::of);
    // On PostgreSQL the daemon keeps its connection between passes (connecting costs more
    // than an idle pass); a file is opened afresh each pass, which its checks rely on.
    let mut kept: Option<Store> = None;
    while !shutdown::requested() {
        let began = Instant::now();
        ensure_unchanged(file, started_with, context)?;
        let passed = match &location {
            Location::File(_) => pass::run_pass(&location, &context.clock),
            Location::Postgres(_) => kept_store(&mut kept, &location, context)
                .and_then(|store| pass::run_pass_on(store, &context.clock)),
        };
        match passed {
            Err(e) if vanished::is_vanished(&e) => return Err(e),
            // A daemon outlives a bad moment (a locked or briefly unreadable database).
            Err(e) => log::error!("pass failed: {e:#}"),
            Ok(_) => {}
        }
        started_with = started_with.or_else(|| file.and_then(Identity::of));
        // Reading the interval opens the database too: it must not create one either.
        ensure_unchanged(file, started_with, context)?;
        let interval = match args.interval {
            Some(seconds) => seconds,
            None => {
                let settings = match kept.as_ref() {
                    Some(store) => store::settings::load(store.conn()),
                    None => context.open().and_then(|s| store::settings::load(s.conn())),
                };
                settings.map_or(10, |s| s.daemon_interval as u64)
            }
        };
        let next = began + Duration::from_secs(interval);
        while !shutdown::requested() && Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    log::info!("daemon stopped");
    Ok(0)
}

/// The daemon's PostgreSQL connection: the kept one, its clock read again, or a new one
/// when there is none or the old one closed (a restarted server, a network failure).
fn kept_store<'a>(
    kept: &'a mut Option<Store>,
    location: &Location,
    context: &Context,
) -> Result<&'a mut Store> {
    let lost = || format!("the connection to {location} was lost; the next pass connects again");
    let store = match kept.take() {
        Some(store) if store.is_closed() => return Err(anyhow::anyhow!(lost())),
        Some(store) => {
            // The first statement on a connection the server ended fails here.
            store.refresh_clock().with_context(lost)?;
            store
        }
        None => Store::open(location, context.clock.now())?,
    };
    Ok(kept.insert(store))
}

/// Fails when the database is no longer the file the daemon started with, if it has one.
fn ensure_unchanged(
    file: Option<&Path>,
    started_with: Option<Identity>,
    context: &Context,
) -> Result<()> {
    match (file, started_with) {
        (Some(db), Some(known)) => vanished::ensure_same(db, known, context.clock.now()),
        _ => Ok(()),
    }
}
