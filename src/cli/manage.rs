//! `cronq remove`, `cronq enable`, `cronq disable`.

use super::{find_job, Context};
use crate::error::usage;
use crate::store::{jobs, runs};
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The job's name
    name: String,
}

pub fn remove(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let dropped = store.write(|tx| {
        let job = find_job(tx, &args.name)?;
        if job.builtin.as_deref() == Some(job.name.as_str()) {
            return Err(usage(format!(
                "'{}' is built in and cannot be removed; stop its schedule with `cronq disable {}`",
                job.name, job.name
            )));
        }
        let dropped = runs::delete_pending_of(tx, &job.name)?;
        jobs::delete(tx, job.id)?;
        Ok(dropped)
    })?;
    if dropped > 0 {
        log::info!("removed job {} and {dropped} queued run(s)", args.name);
    }
    Ok(0)
}

pub fn set_active(args: Args, context: &Context, active: bool) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| {
        let job = find_job(tx, &args.name)?;
        if job.active == active {
            return Ok(());
        }
        let mut def = job.definition();
        def.active = active;
        jobs::update(tx, &job, &def, now)
    })?;
    Ok(0)
}
