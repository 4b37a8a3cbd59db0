//! `cronq run-job NAME`: run a job now, in the foreground, once, and record it.

use super::{find_job, Context};
use crate::error::usage;
use crate::job::RunStatus;
use crate::owner;
use crate::run::{self, Ending};
use crate::store::runs::{self, Request, Start};
use crate::time::since_boot;
use anyhow::{Context as _, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The job to run (see `cronq jobs`)
    name: String,
    #[command(flatten)]
    target: Target,
}

/// What a run is about, passed to the job as CRONQ_TARGET_ID, CRONQ_TARGET_TYPE, CRONQ_DATA.
#[derive(clap::Args, Clone, Default)]
pub struct Target {
    /// The record the run is about (CRONQ_TARGET_ID)
    #[arg(long, value_name = "ID")]
    pub target_id: Option<String>,
    /// The kind of record (CRONQ_TARGET_TYPE)
    #[arg(long, value_name = "TYPE")]
    pub target_type: Option<String>,
    /// A JSON value for the job (CRONQ_DATA)
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    pub data: Option<String>,
}

/// Accepts any valid JSON text, as written.
pub fn parse_json(text: &str) -> Result<String, String> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| text.to_string())
        .map_err(|e| {
            format!("not valid JSON ({e}); quote it for the shell, e.g. --data '{{\"k\": 1}}'")
        })
}

impl Target {
    /// Refuses a run without a target for a job that requires one.
    pub fn check(&self, job: &crate::store::jobs::Job) -> Result<()> {
        if job.requires_target && self.target_id.is_none() {
            return Err(usage(format!(
                "job '{}' requires a target: give --target-id=ID (and --target-type=TYPE)",
                job.name
            )));
        }
        Ok(())
    }
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    crate::shutdown::install()?;
    let mut store = context.open()?;
    let job = find_job(store.conn(), &args.name)?;
    args.target.check(&job)?;
    let settings = crate::store::settings::load(store.conn())?;
    let now = context.clock.now();
    let request = Request {
        job: job.name.clone(),
        target_id: args.target.target_id,
        target_type: args.target.target_type,
        data: args.target.data,
        due_at: now,
        priority: 0,
        max_attempts: 1,
    };
    let me = owner::this_process();
    let start = Start::Now {
        since_boot: since_boot(),
    };
    let (run, claim) = store
        .write(|tx| {
            let id = runs::insert_request(tx, &request, RunStatus::Pending, now)?;
            runs::claim(tx, id, now, &me, start)
        })?
        .context("the run just recorded could not be claimed")?;
    let ending = run::carry_out(
        &mut store,
        &run,
        &claim,
        Some(&job),
        &settings,
        &context.clock,
        true,
    )?;
    match ending {
        Ending::Succeeded => Ok(0),
        other => {
            super::output::print_to_stderr(&format!("cronq: {}", run::describe(&run, &other)));
            Ok(1)
        }
    }
}
