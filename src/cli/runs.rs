//! `cronq runs` and `cronq show`: what ran, what is queued, and why something did not run.

use super::escape::{escape, escape_field, LineBreaks};
use super::output::{emit, emit_bytes, emit_json, run_json, table, time_or_dash, time_or_null};
use super::{unknown_job, Context};
use crate::error::usage;
use crate::job::RunStatus;
use crate::store::{jobs, pings, runs};
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
    /// How many runs at most
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    limit: i64,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
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
    let list = runs::list(conn, args.job.as_deref(), args.status, args.limit)?;
    if args.json {
        emit_json(&list.iter().map(|r| run_json(r, None)).collect())?;
        return Ok(0);
    }
    // Which host ran what matters only where several did (a shared PostgreSQL database).
    let several_hosts = list
        .iter()
        .filter_map(|r| r.host.as_deref())
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let mut row = vec![
                r.id.to_string(),
                r.job.clone(),
                r.status.to_string(),
                r.slot.map_or_else(|| "-".to_string(), format_time),
                format_time(r.due_at),
                time_or_dash(r.finished_at),
                format!("{}/{}", r.attempt, r.max_attempts),
                r.exit_code
                    .map_or_else(|| "-".to_string(), |c| c.to_string()),
                r.error.clone().unwrap_or_default(),
            ];
            if several_hosts {
                row.insert(8, r.host.clone().unwrap_or_else(|| "-".to_string()));
            }
            row
        })
        .collect();
    let mut header = vec![
        "ID", "JOB", "STATUS", "SLOT", "DUE", "FINISHED", "ATTEMPT", "EXIT", "REASON",
    ];
    if several_hosts {
        header.insert(8, "HOST");
    }
    emit(&table(&header, &rows))?;
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
    let pings = pings::of_run(store.conn(), run.id)?;
    if args.json {
        let mut value = run_json(&run, Some(&String::from_utf8_lossy(&output)));
        value["attempts"] = attempts.iter().map(attempt_json).collect();
        value["pings"] = pings.iter().map(ping_json).collect();
        emit_json(&value)?;
        return Ok(0);
    }
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let fields = [
        ("id", run.id.to_string()),
        ("job", run.job.clone()),
        ("status", run.status.to_string()),
        (
            "slot",
            run.slot.map_or_else(|| "-".to_string(), format_time),
        ),
        ("due at", format_time(run.due_at)),
        ("created at", format_time(run.created_at)),
        ("started at", time_or_dash(run.started_at)),
        ("finished at", time_or_dash(run.finished_at)),
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
    let to_terminal = std::io::stdout().is_terminal();
    // Earlier attempts first, each with the tail of its output: the run's own output is
    // its latest attempt's.
    for a in &attempts {
        let line = format!(
            "attempt {}: finished {}, exit code {}, on {}: {}\n",
            a.attempt,
            format_time(a.finished_at),
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
    if !pings.is_empty() {
        shown.extend_from_slice(b"pings:\n");
        for p in &pings {
            shown.extend_from_slice(escape_field(&ping_line(p)).as_bytes());
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

/// One ping of a run, for `show`: `  fail (attempt 2): pending, 3 tries, next 2026-..., last
/// error: ...`.
fn ping_line(p: &pings::Ping) -> String {
    let state = p.state();
    let mut line = format!(
        "  {} (attempt {}): {}",
        p.kind.as_str(),
        p.attempt,
        state.as_str()
    );
    match state {
        pings::State::Delivered => line += &format!(" {}", time_or_dash(p.delivered_at)),
        pings::State::Pending => line += &format!(", next try {}", time_or_dash(p.next_try)),
        pings::State::Failed => {}
    }
    line += &format!(", {} tr{}", p.tries, if p.tries == 1 { "y" } else { "ies" });
    if let (Some(error), false) = (&p.last_error, state == pings::State::Delivered) {
        line += &format!(", last error: {error}");
    }
    line
}

fn ping_json(p: &pings::Ping) -> serde_json::Value {
    serde_json::json!({
        "kind": p.kind.as_str(),
        "attempt": p.attempt,
        "url": p.url,
        "state": p.state().as_str(),
        "tries": p.tries,
        "next_try": time_or_null(p.next_try),
        "delivered_at": time_or_null(p.delivered_at),
        "last_error": p.last_error,
        "body_bytes": p.body.len(),
    })
}
