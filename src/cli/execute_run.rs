//! `cronq execute-run ID --claimed-by PID` (hidden): what a parallel pass starts in each
//! child process. It opens its own connection, carries out the one run its parent claimed,
//! and records the result itself.

use super::Context;
use crate::error::usage;
use crate::run;
use crate::store::{self, jobs, runs};
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The claimed run
    id: i64,
    /// The pid of the pass that claimed it
    #[arg(long, value_name = "PID")]
    claimed_by: i64,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    crate::shutdown::install()?;
    let mut store = context.open()?;
    let settings = store::settings::load(store.conn())?;
    let Some(run) = runs::get(store.conn(), args.id)? else {
        return Err(usage(format!("no run with id {}", args.id)));
    };
    let job = jobs::get(store.conn(), &run.job)?;
    let ending = run::carry_out(
        &mut store,
        &run,
        job.as_ref(),
        &settings,
        &context.clock,
        false,
        args.claimed_by,
    )?;
    Ok(if run::report(&run, &ending) { 0 } else { 1 })
}
