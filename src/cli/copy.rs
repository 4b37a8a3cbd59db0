//! `cronq copy --to URL`: moves an installation from its SQLite file (`--db`) into a new
//! PostgreSQL database, with its jobs, settings and history, all or nothing.

use super::output::emit;
use super::Context;
use crate::error::usage;
use crate::store::{copy, Location, Store};
use anyhow::Result;
use std::ffi::OsString;

#[derive(clap::Args)]
pub struct Args {
    /// The new PostgreSQL database: postgresql://USER@HOST:PORT/DBNAME
    #[arg(long, value_name = "URL")]
    to: OsString,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let from = context.location()?;
    if !matches!(from, Location::File(_)) {
        return Err(usage(format!(
            "--db {from} is not an SQLite file: `cronq copy` moves an SQLite database into \
             PostgreSQL; give the file with --db"
        )));
    }
    let to = Location::parse(&args.to);
    if !matches!(to, Location::Postgres(_)) {
        return Err(usage(format!(
            "--to {to} is not a postgresql:// URL: give the new PostgreSQL database, e.g. \
             --to postgresql://cronq@db.example.com/cronq"
        )));
    }
    let now = context.clock.now();
    let source = Store::open(&from, now)?;
    let target = Store::open(&to, now)?;
    let copied = copy::sqlite_to_postgres(&source, &target)?;
    emit(&format!(
        "copied {} job(s), {} setting(s) and {} run(s) from {from} to {to}\n\
         next: point every host's crontab at it (CRONQ_DB={to} cronq crontab), and stop \
         using {from}\n",
        copied.jobs, copied.settings, copied.runs
    ))?;
    Ok(0)
}
