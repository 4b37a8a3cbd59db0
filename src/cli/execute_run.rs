//! `cronq execute-run ID --claim TOKEN` (hidden): what a parallel pass starts in each
//! child process. It opens its own connection, starts the one run its parent claimed —
//! only while that claim still holds — carries it out and records the result itself.

use super::Context;
use crate::error::usage;
use crate::owner;
use crate::run;
use crate::store::runs::{self, Claim};
use crate::store::{self, jobs};
use crate::time::since_boot;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The claimed run
    id: i64,
    /// The claim token the parent pass holds for it
    #[arg(long, value_name = "TOKEN")]
    claim: i64,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    crate::shutdown::install()?;
    let mut store = context.open()?;
    let settings = store::settings::load(store.conn())?;
    let Some(run) = runs::get(store.conn(), args.id)? else {
        return Err(usage(format!("no run with id {}", args.id)));
    };
    let claim = Claim {
        run: run.id,
        token: args.claim,
        attempt: run.attempt,
    };
    let me = owner::this_process();
    let now = context.clock.now();
    if !store.write(|tx| runs::start(tx, &claim, now, since_boot(), &me))? {
        log::warn!(
            "job {} run {}: its claim was taken back before it started; not started",
            run.job,
            run.id
        );
        return Ok(1);
    }
    let job = jobs::get(store.conn(), &run.job)?;
    let ending = run::carry_out(
        &mut store,
        &run,
        &claim,
        job.as_ref(),
        &settings,
        &context.clock,
        false,
    )?;
    Ok(if run::report(store.conn(), &run, &ending) {
        0
    } else {
        1
    })
}
