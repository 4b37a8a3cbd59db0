//! `cronq remove`, `cronq enable`, `cronq disable`.

use super::{find_job, Context};
use crate::control;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The job's name
    name: String,
}

pub fn remove(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let dropped = store.write(|tx| control::remove(tx, &find_job(tx, &args.name)?))?;
    if dropped > 0 {
        log::info!("removed job {} and {dropped} queued run(s)", args.name);
    }
    Ok(0)
}

pub fn set_active(args: Args, context: &Context, active: bool) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| control::set_active(tx, &find_job(tx, &args.name)?, active, now))?;
    Ok(0)
}
