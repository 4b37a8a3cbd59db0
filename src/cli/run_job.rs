//! `cronq run-job NAME`: run a job now, in the foreground, once, and record it.

use super::shortened::Shortened;
use super::{find_job, Context};
use crate::error::usage;
use crate::limits;
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
/// An empty or blank id or type is none: "no target" has one spelling in the database.
#[derive(Clone, Default)]
pub struct Target {
    pub target_id: Option<String>,
    pub target_type: Option<String>,
    pub data: Option<String>,
    /// A blank --target-id was given: said in the refusal for a job that requires a target.
    blank_target_id: bool,
}

/// The options as given; `Target` is made from them.
#[derive(clap::Args)]
struct TargetOptions {
    /// The record the run is about (CRONQ_TARGET_ID); empty or blank means none
    #[arg(long, value_name = "ID")]
    target_id: Option<String>,
    /// The kind of record (CRONQ_TARGET_TYPE); empty or blank means none
    #[arg(long, value_name = "TYPE")]
    target_type: Option<String>,
    /// A JSON value for the job (CRONQ_DATA)
    #[arg(long, value_name = "JSON", value_parser = Shortened(parse_json))]
    data: Option<String>,
}

impl From<TargetOptions> for Target {
    fn from(options: TargetOptions) -> Target {
        let blank_target_id = options.target_id.as_deref().is_some_and(is_blank);
        Target {
            target_id: non_blank(options.target_id),
            target_type: non_blank(options.target_type),
            data: options.data,
            blank_target_id,
        }
    }
}

impl clap::FromArgMatches for Target {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        TargetOptions::from_arg_matches(matches).map(Target::from)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Target::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for Target {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        TargetOptions::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        TargetOptions::augment_args_for_update(cmd)
    }
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// `None` for a missing, empty or blank value; others are kept exactly as given.
pub fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !is_blank(v))
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
    /// Refuses a run without a target for a job that requires one, and a target or data
    /// too large for the job's environment.
    pub fn check(&self, job: &crate::store::jobs::Job) -> Result<()> {
        if job.requires_target && self.target_id.is_none() {
            let blank = if self.blank_target_id {
                ", and a blank --target-id is none"
            } else {
                ""
            };
            return Err(usage(format!(
                "job '{}' requires a target{blank}: give --target-id=ID (and --target-type=TYPE)",
                job.name
            )));
        }
        check_environment_sizes(
            self.target_id.as_deref(),
            self.target_type.as_deref(),
            self.data.as_deref(),
        )
        .map_err(usage)
    }
}

/// Refuses a target or data that the job could not receive in its environment.
pub fn check_environment_sizes(
    target_id: Option<&str>,
    target_type: Option<&str>,
    data: Option<&str>,
) -> Result<(), String> {
    let variables = [
        ("CRONQ_TARGET_ID", target_id),
        ("CRONQ_TARGET_TYPE", target_type),
        ("CRONQ_DATA", data),
    ];
    for (name, value) in variables {
        if let Some(value) = value {
            limits::check_environment(name, value)?;
        }
    }
    Ok(())
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
            let id = runs::insert_request(tx, &request, now)?;
            runs::claim(tx, id, now, &me, start)
        })?
        .context("the run just recorded could not be claimed")?;
    let (ending, _) = run::carry_out(
        &mut store,
        &run,
        &claim,
        Some(&job),
        &settings,
        &context.clock,
        true,
        |_| Ok(()),
    )?;
    match ending {
        Ending::Succeeded => Ok(0),
        other => {
            super::output::print_to_stderr(&format!("cronq: {}", run::describe(&run, &other)));
            Ok(1)
        }
    }
}
