//! `cronq enqueue NAME`: queue a run for the next pass and print its id; with `--stdin`,
//! queue one run per JSON line, all in one transaction.

use super::output::emit;
use super::run_job::{check_environment_sizes, non_blank, Target};
use super::{find_job, Context};
use crate::control::max_attempts;
use crate::error::usage;
use crate::limits::{shorten, MAX_LINE_BYTES};
use crate::store::jobs::Job;
use crate::store::runs::{self, Request};
use crate::store::sql::Conn;
use crate::time::{parse_time, Timestamp};
use anyhow::{Context as _, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{BufRead, Read};

#[derive(clap::Args)]
pub struct Args {
    /// The job to queue (see `cronq jobs`); with --stdin, for lines that name no job
    name: String,
    #[command(flatten)]
    target: Target,
    /// Do not run before this time: RFC 3339, +5m, 2026-12-01 12:00 or tomorrow 09:00
    /// (local time) [default: now]
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    at: Option<String>,
    /// Higher runs first among due runs
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    priority: i64,
    /// Read JSON lines from standard input, one run each: {"target_id", "target_type",
    /// "data", "at", "priority", "job"}; a bad line rejects them all
    #[arg(long, conflicts_with_all = ["target_id", "target_type", "data", "at"])]
    stdin: bool,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    if args.stdin {
        let lines = read_lines(std::io::stdin().lock())?;
        let ids = store.write(|tx| enqueue_lines(tx, &args, &lines, now))?;
        let mut text = String::with_capacity(ids.len() * 8);
        for id in ids {
            text.push_str(&id.to_string());
            text.push('\n');
        }
        emit(&text)?;
        return Ok(0);
    }
    let at = args
        .at
        .as_deref()
        .map(|text| super::terminal::parse_time_option("--at", text, context))
        .transpose()?;
    let id = store.write(|tx| {
        let job = find_job(tx, &args.name)?;
        args.target.check(&job)?;
        let settings = crate::store::settings::load(tx)?;
        let request = Request {
            job: job.name.clone(),
            target_id: args.target.target_id.clone(),
            target_type: args.target.target_type.clone(),
            data: args.target.data.clone(),
            due_at: at.unwrap_or(now),
            priority: args.priority,
            max_attempts: max_attempts(&job, &settings),
        };
        runs::insert_request(tx, &request, now)
    })?;
    emit(&format!("{id}\n"))?;
    Ok(0)
}

/// Reads the lines of `input`, each in UTF-8 and at most `MAX_LINE_BYTES` long, so that
/// an endless line (`< /dev/zero`) is refused instead of filling memory.
fn read_lines(mut input: impl BufRead) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let number = lines.len() + 1;
        let mut bytes = Vec::new();
        (&mut input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut bytes)
            .context("cannot read standard input")?;
        if bytes.is_empty() {
            return Ok(lines);
        }
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        } else if bytes.len() > MAX_LINE_BYTES {
            return Err(usage(format!(
                "standard input, line {number}: longer than 4 MiB ({MAX_LINE_BYTES} bytes), \
                 more than any run a job can receive; nothing was queued"
            )));
        }
        let line = String::from_utf8(bytes).map_err(|_| {
            usage(format!(
                "standard input, line {number}: not valid UTF-8; cronq reads JSON lines in \
                 UTF-8; nothing was queued"
            ))
        })?;
        lines.push(line);
    }
}

/// Queues every line's run; the first bad line fails the whole batch.
fn enqueue_lines(tx: &dyn Conn, args: &Args, lines: &[String], now: Timestamp) -> Result<Vec<i64>> {
    let settings = crate::store::settings::load(tx)?;
    let mut jobs: HashMap<String, Job> = HashMap::new();
    let mut ids = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fail = |reason: String| {
            usage(format!(
                "standard input, line {}: {reason}; nothing was queued",
                index + 1
            ))
        };
        let fields: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| fail(format!("not a JSON object ({e})")))?;
        let line_request = LineRequest::read(&fields).map_err(fail)?;
        let name = line_request.job.unwrap_or(&args.name);
        if !jobs.contains_key(name) {
            let job = find_job(tx, name).map_err(|e| fail(e.to_string()))?;
            jobs.insert(name.to_string(), job);
        }
        let job = &jobs[name];
        if job.requires_target && line_request.target_id.is_none() {
            return Err(fail(format!(
                "job '{name}' requires a target: give a \"target_id\" that is not blank"
            )));
        }
        let request = Request {
            job: job.name.clone(),
            target_id: line_request.target_id,
            target_type: line_request.target_type,
            data: line_request.data,
            due_at: line_request.at.unwrap_or(now),
            priority: line_request.priority.unwrap_or(args.priority),
            max_attempts: max_attempts(job, &settings),
        };
        ids.push(runs::insert_request(tx, &request, now)?);
    }
    Ok(ids)
}

/// One line's fields, checked.
struct LineRequest<'a> {
    job: Option<&'a str>,
    target_id: Option<String>,
    target_type: Option<String>,
    data: Option<String>,
    at: Option<Timestamp>,
    priority: Option<i64>,
}

impl<'a> LineRequest<'a> {
    fn read(fields: &'a Map<String, Value>) -> Result<LineRequest<'a>, String> {
        const KEYS: [&str; 6] = ["job", "target_id", "target_type", "data", "at", "priority"];
        if let Some(unknown) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key \"{}\"; known keys: {}",
                shorten(unknown),
                KEYS.join(", ")
            ));
        }
        let text = |key: &str| -> Result<Option<String>, String> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(format!(
                    "\"{key}\" must be a string, not {}",
                    shorten(&other.to_string())
                )),
            }
        };
        let job = match fields.get("job") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                return Err(format!(
                    "\"job\" must be a string, not {}",
                    shorten(&other.to_string())
                ))
            }
        };
        let at = text("at")?.map(|t| parse_time(&t)).transpose()?;
        let priority = match fields.get("priority") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                format!(
                    "\"priority\" must be a whole number, not {}",
                    shorten(&v.to_string())
                )
            })?),
        };
        let target_id = non_blank(text("target_id")?);
        let target_type = non_blank(text("target_type")?);
        let data = fields
            .get("data")
            .filter(|v| !v.is_null())
            .map(Value::to_string);
        check_environment_sizes(
            target_id.as_deref(),
            target_type.as_deref(),
            data.as_deref(),
        )?;
        Ok(LineRequest {
            job,
            target_id,
            target_type,
            data,
            at,
            priority,
        })
    }
}
