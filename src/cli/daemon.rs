//! `cronq daemon`: passes in a loop, for hosts where a long-lived process is allowed.
//! SIGTERM or SIGINT stops it gracefully (docs/daemon.md).

use super::Context;
use crate::{pass, shutdown, store};
use anyhow::Result;
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
    let db = context.db_path()?;
    log::info!("daemon started on {}", db.display());
    while !shutdown::requested() {
        let began = Instant::now();
        if let Err(e) = pass::run_pass(&db, &context.clock) {
            // A daemon outlives a bad moment (a locked or briefly unreadable database).
            log::error!("pass failed: {e:#}");
        }
        let interval = match args.interval {
            Some(seconds) => seconds,
            None => context
                .open()
                .and_then(|s| store::settings::load(s.conn()))
                .map_or(10, |s| s.daemon_interval as u64),
        };
        let next = began + Duration::from_secs(interval);
        while !shutdown::requested() && Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    log::info!("daemon stopped");
    Ok(0)
}
