//! `cronq runs` and `cronq show`: what ran, what is queued, and why something did not run.

use super::escape::{escape, escape_field, LineBreaks};
use super::output::{emit, emit_bytes, emit_json, fitted_table, run_json, time_or_null, Column};
use super::terminal::{self, Times};
use super::{unknown_job, Context};
use crate::error::usage;
use crate::job::RunStatus;
use crate::store::{jobs, runs};
use crate::time::format_time;
use anyhow::Result;
use std::borrow::Cow;
use std::io::IsTerminal;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only runs of this job
    #[arg(long, value_name = "NAME")]
    job: Option<String>,
    /// Only runs with this status: pending, running, success, failed, skipped, missed
    #[arg(long, value_name = "STATUS")]
    status: Option<RunStatus>,
    /// Only runs due at or after this time: RFC 3339, -1h, 2026-12-01 12:00 or today 09:00
    /// (local time)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    since: Option<String>,
    /// How many runs at most
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    limit: i64,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Show every column, whole, however wide the terminal; in a pipe, add TARGET and
    /// DURATION
    #[arg(long, conflicts_with = "json")]
    wide: bool,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The run's id (see `cronq runs`)
    id: i64,
    /// Print JSON instead of text (the output as text, invalid UTF-8 replaced)
    #[arg(long, conflicts_with = "raw")]
    json: bool,
    /// Print only the output, byte for byte as the job wrote it (for `> FILE`)
    #[arg(long)]
    raw: bool,
}

pub fn list(args: ListArgs, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let conn = store.conn();
    if let Some(name) = &args.job {
        // A removed job's history is still listed; a name never seen is a typo.
        if jobs::get(conn, name)?.is_none() && !runs::job_has_runs(conn, name)? {
            return Err(unknown_job(conn, name));
        }
    }
    let since = args
        .since
        .as_deref()
        .map(|text| terminal::parse_time_option("--since", text, context))
        .transpose()?;
    let filter = runs::Filter {
        job: args.job.clone(),
        status: args.status,
        since,
        ..runs::Filter::default()
    };
    let list = runs::search(conn, &filter, args.limit)?;
    if args.json {
        emit_json(&list.iter().map(|r| run_json(r, None)).collect())?;
        return Ok(0);
    }
    let times = Times::new(context);
    let width = if args.wide { None } else { terminal::width() };
    // A pipe gets the columns it always had, unless --wide asks for all of them.
    let all_columns = args.wide || width.is_some();
    // Which host ran what matters only where several did (a shared PostgreSQL database).
    let several_hosts = list
        .iter()
        .filter_map(|r| r.host.as_deref())
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    let mut columns = vec![
        Column::kept("ID"),
        Column::kept("JOB"),
        Column::kept("STATUS"),
        Column::cut_or_dropped("TARGET", 12, 4),
        Column::droppable("SLOT", 1),
        Column::droppable("DUE", 6),
        Column::kept("FINISHED"),
        Column::droppable("DURATION", 5),
        Column::droppable("ATTEMPT", 2),
        Column::droppable("EXIT", 3),
        Column::droppable("HOST", 7),
        Column::cut("REASON", 20),
    ];
    let dash = || "-".to_string();
    let mut rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let target = match (&r.target_type, &r.target_id) {
                (Some(kind), Some(id)) => format!("{kind} {id}"),
                (None, Some(id)) => id.clone(),
                (Some(kind), None) => kind.clone(),
                (None, None) => dash(),
            };
            vec![
                r.id.to_string(),
                r.job.clone(),
                r.status.to_string(),
                target,
                times.cell_or_dash(r.slot),
                times.cell(r.due_at),
                times.cell_or_dash(r.finished_at),
                r.duration_ms
                    .map_or_else(dash, crate::time::human_duration_ms),
                format!("{}/{}", r.attempt, r.max_attempts),
                r.exit_code.map_or_else(dash, |c| c.to_string()),
                r.host.clone().unwrap_or_else(dash),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let left_out = |header: &str| {
        (header == "HOST" && !several_hosts)
            || (!all_columns && matches!(header, "TARGET" | "DURATION"))
    };
    for i in (0..columns.len()).rev() {
        if left_out(columns[i].header) {
            columns.remove(i);
            for row in &mut rows {
                row.remove(i);
            }
        }
    }
    emit(&fitted_table(&columns, &rows, width))?;
    Ok(0)
}

pub fn show(args: ShowArgs, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let Some(run) = runs::get(store.conn(), args.id)? else {
        return Err(usage(format!(
            "no run with id {} (see `cronq runs`)",
            args.id
        )));
    };
    let output = runs::output_of(store.conn(), run.id)?.unwrap_or_default();
    if args.raw {
        emit_bytes(&output)?;
        return Ok(0);
    }
    let attempts = runs::attempts_of(store.conn(), run.id)?;
    if args.json {
        let mut value = run_json(&run, Some(&String::from_utf8_lossy(&output)));
        value["attempts"] = attempts.iter().map(attempt_json).collect();
        emit_json(&value)?;
        return Ok(0);
    }
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let to_terminal = std::io::stdout().is_terminal();
    let times = Times::for_terminal(context, to_terminal);
    let fields = [
        ("id", run.id.to_string()),
        ("job", run.job.clone()),
        ("status", run.status.to_string()),
        ("slot", times.field_or_dash(run.slot)),
        ("due at", times.field(run.due_at)),
        ("created at", times.field(run.created_at)),
        ("started at", times.field_or_dash(run.started_at)),
        ("finished at", times.field_or_dash(run.finished_at)),
        (
            "duration",
            run.duration_ms
                .map_or_else(|| "-".to_string(), |ms| format!("{ms} ms")),
        ),
        (
            "attempt",
            format!("{} of {}", run.attempt, run.max_attempts),
        ),
        ("priority", run.priority.to_string()),
        ("exit code", or_dash(run.exit_code.map(|c| c.to_string()))),
        ("target id", or_dash(run.target_id.clone())),
        ("target type", or_dash(run.target_type.clone())),
        ("data", or_dash(run.data.clone())),
        ("reason", or_dash(run.error.clone())),
        ("host", or_dash(run.host.clone())),
    ];
    let text: String = fields
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", escape_field(v)))
        .collect();
    let mut shown = text.into_bytes();
    // Earlier attempts first, each with the tail of its output: the run's own output is
    // its latest attempt's.
    for a in &attempts {
        let line = format!(
            "attempt {}: finished {}, exit code {}, on {}: {}\n",
            a.attempt,
            times.field(a.finished_at),
            a.exit_code
                .map_or_else(|| "-".to_string(), |c| c.to_string()),
            a.host.as_deref().unwrap_or("-"),
            a.error.as_deref().unwrap_or("-"),
        );
        shown.extend_from_slice(escape_field(line.trim_end()).as_bytes());
        shown.extend_from_slice(format!("\noutput of attempt {}:\n", a.attempt).as_bytes());
        shown.extend_from_slice(&output_section(&a.output, to_terminal));
        if !a.output.is_empty() && !a.output.ends_with(b"\n") {
            shown.push(b'\n');
        }
    }
    shown.extend_from_slice(b"output:\n");
    shown.extend_from_slice(&output_section(&output, to_terminal));
    if !output.is_empty() && !output.ends_with(b"\n") {
        shown.push(b'\n');
    }
    emit_bytes(&shown)?;
    Ok(0)
}

/// The output as `show` writes it: escaped for a terminal, which would act on the control
/// characters in it; as the bytes themselves for a pipe or a file, which keep them.
fn output_section(output: &[u8], to_terminal: bool) -> Cow<'_, [u8]> {
    if to_terminal {
        Cow::Owned(escape(output, LineBreaks::Keep).into_bytes())
    } else {
        Cow::Borrowed(output)
    }
}

fn attempt_json(a: &runs::Attempt) -> serde_json::Value {
    serde_json::json!({
        "attempt": a.attempt,
        "host": a.host,
        "started_at": time_or_null(a.started_at),
        "finished_at": format_time(a.finished_at),
        "duration_ms": a.duration_ms,
        "exit_code": a.exit_code,
        "error": a.error,
        "output": String::from_utf8_lossy(&a.output),
    })
}
