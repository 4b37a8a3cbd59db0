//! `cronq jobs`: every job, with its schedule, status, next slot and last result.

use super::output::{emit, emit_json, fitted_table, job_json, local_time, Column};
use super::terminal::{self, Times};
use super::Context;
use crate::store::jobs;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Show every column, whole, however wide the terminal (a pipe always gets them)
    #[arg(long, conflicts_with = "json")]
    wide: bool,
}

/// The columns, as a pipe gets them; on a terminal the ranked ones go first when the
/// table is too wide, and the command and last result are cut.
const COLUMNS: [Column; 9] = [
    Column::kept("NAME"),
    Column::droppable("KIND", 1),
    Column::droppable("SCHEDULE", 6),
    Column::droppable("TZ", 3),
    Column::droppable("STATUS", 4),
    Column::kept("NEXT SLOT"),
    Column::droppable("NEXT SLOT (TZ)", 2),
    Column::cut_or_dropped("LAST", 12, 5),
    Column::cut("COMMAND", 20),
];

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let jobs = jobs::list(store.conn())?;
    if args.json {
        emit_json(&jobs.iter().map(job_json).collect())?;
        return Ok(0);
    }
    let times = Times::new(context);
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
                    format!("{status} {}{on}", times.cell(at))
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
                times.cell_or_dash(job.next_slot),
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
    let width = if args.wide { None } else { terminal::width() };
    emit(&fitted_table(&COLUMNS, &rows, width))?;
    Ok(0)
}
