//! `cronq enqueue NAME`: queue a run for the next pass; prints the run's id.

use super::output::emit;
use super::run_job::Target;
use super::{find_job, Context};
use crate::job::RunStatus;
use crate::store::runs::{self, Request};
use crate::time::{parse_time, Timestamp};
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The job to queue (see `cronq jobs`)
    name: String,
    #[command(flatten)]
    target: Target,
    /// Do not run before this RFC 3339 time [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<Timestamp>,
    /// Higher runs first among due runs [default: 0]
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    priority: i64,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let mut store = context.open()?;
    let now = context.clock.now();
    let id = store.write(|tx| {
        let job = find_job(tx, &args.name)?;
        args.target.check(&job)?;
        let settings = crate::store::settings::load(tx)?;
        let request = Request {
            job: job.name.clone(),
            target_id: args.target.target_id.clone(),
            target_type: args.target.target_type.clone(),
            data: args.target.data.clone(),
            due_at: args.at.unwrap_or(now),
            priority: args.priority,
            max_attempts: 1 + job.retries.unwrap_or(settings.job_retries),
        };
        runs::insert_request(tx, &request, RunStatus::Pending, now)
    })?;
    emit(&format!("{id}\n"))?;
    Ok(0)
}
