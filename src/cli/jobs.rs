//! `cronq jobs`: every job, with its schedule, status, next slot and last result.

use super::output::{emit, emit_json, job_json, local_time, table, time_or_dash};
use super::Context;
use crate::store::jobs;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let jobs = jobs::list(store.conn())?;
    if args.json {
        emit_json(&jobs.iter().map(job_json).collect())?;
        return Ok(0);
    }
    // Which host ran the last result matters only where several did.
    let several_hosts = jobs
        .iter()
        .filter_map(|j| j.last_host.as_deref())
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            let last = match (&job.last_status, job.last_finished_at) {
                (Some(status), Some(at)) => {
                    let on = match &job.last_host {
                        Some(host) if several_hosts => format!(" on {host}"),
                        _ => String::new(),
                    };
                    format!("{status} {}{on}", crate::time::format_time(at))
                }
                _ => "-".to_string(),
            };
            vec![
                job.name.clone(),
                if job.builtin.is_some() {
                    "builtin"
                } else {
                    "command"
                }
                .to_string(),
                job.schedule.clone().unwrap_or_else(|| "-".to_string()),
                job.tz.clone(),
                if job.active { "active" } else { "inactive" }.to_string(),
                time_or_dash(job.next_slot),
                job.next_slot
                    .map_or_else(|| "-".to_string(), |t| local_time(&job.tz, t)),
                last,
                job.command
                    .clone()
                    .or_else(|| job.builtin.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    emit(&table(
        &[
            "NAME",
            "KIND",
            "SCHEDULE",
            "TZ",
            "STATUS",
            "NEXT SLOT",
            "NEXT SLOT (TZ)",
            "LAST",
            "COMMAND",
        ],
        &rows,
    ))?;
    Ok(0)
}
