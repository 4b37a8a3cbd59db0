//! `cronq runs` and `cronq show`: what ran, what is queued, and why something did not run.

use super::escape::{escape, escape_field, LineBreaks};
use super::output::{emit, emit_bytes, emit_json, fitted_table, run_json, time_or_null, Column};
use super::terminal::{self, Times};
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
    /// Print the output so far, then what the job writes as it comes (every 2 s at most),
    /// and the run's status line at its end; exit 0 when it succeeded, 1 otherwise
    #[arg(long, short = 'f', conflicts_with_all = ["json", "raw"])]
    follow: bool,
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
    if args.follow {
        return follow(store.conn(), run);
    }
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
    if !pings.is_empty() {
        shown.extend_from_slice(b"pings:\n");
        for p in &pings {
            shown.extend_from_slice(escape_field(&ping_line(p, &times)).as_bytes());
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
fn ping_line(p: &pings::Ping, times: &Times) -> String {
    let state = p.state();
    let mut line = format!(
        "  {} (attempt {}): {}",
        p.kind.as_str(),
        p.attempt,
        state.as_str()
    );
    match state {
        pings::State::Delivered => line += &format!(" {}", times.field_or_dash(p.delivered_at)),
        pings::State::Pending => line += &format!(", next try {}", times.field_or_dash(p.next_try)),
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

/// How often `show --follow` looks at the run.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// `show --follow`: the run's output as it grows, like `tail -f`, to the run's end. The
/// row holds a sliding tail of 64 KiB, with a note of how many bytes came before it; the
/// count of bytes printed so far tells what is new, and what slid out unseen is said.
fn follow(conn: &dyn crate::store::sql::Conn, mut run: runs::Run) -> Result<u8> {
    let to_terminal = std::io::stdout().is_terminal();
    let mut follower = Follower::default();
    loop {
        let output = runs::output_of(conn, run.id)?.unwrap_or_default();
        emit_bytes(&follower.next(&run, &output, to_terminal))?;
        if is_final(run.status) {
            return Ok(if run.status == RunStatus::Success {
                0
            } else {
                1
            });
        }
        std::thread::sleep(FOLLOW_EVERY);
        run = runs::get(conn, run.id)?
            .ok_or_else(|| anyhow::anyhow!("run {} was deleted while it was followed", run.id))?;
    }
}

/// Whether a run has ended for good.
fn is_final(status: RunStatus) -> bool {
    !matches!(status, RunStatus::Pending | RunStatus::Running)
}

/// What `show --follow` has printed of a run.
#[derive(Default)]
struct Follower {
    /// Bytes of the current attempt's output printed so far.
    printed: u64,
    /// The attempt being followed, and whether it was seen running.
    attempt: i64,
    running: bool,
    /// The output the row held when the run went back to the queue: a new start writes
    /// over it at its first output, and until then it is not new output.
    stale: Option<Vec<u8>>,
    /// Whether the last byte printed ended a line.
    at_line_start: bool,
}

impl Follower {
    /// What to print for the run as it is now, with `output` as its row holds it.
    fn next(&mut self, run: &runs::Run, output: &[u8], to_terminal: bool) -> Vec<u8> {
        let mut shown = Vec::new();
        if self.attempt == 0 {
            self.attempt = run.attempt;
            self.at_line_start = true;
        }
        let back_in_queue =
            run.status == RunStatus::Pending && (self.running || run.attempt != self.attempt);
        let fresh = self.stale.as_deref() != Some(output);
        if run.status == RunStatus::Running || is_final(run.status) || back_in_queue {
            if run.status == RunStatus::Running && run.attempt != self.attempt {
                self.new_attempt(&mut shown, &format!("attempt {} started", run.attempt));
                self.attempt = run.attempt;
            }
            if fresh {
                self.stale = None;
                self.print_new(&mut shown, output, to_terminal);
            }
            self.running = run.status == RunStatus::Running;
        }
        if back_in_queue {
            let reason = run.error.as_deref().unwrap_or("-");
            let what = if run.attempt != self.attempt {
                format!(
                    "attempt {} failed ({reason}); attempt {} is due at {}",
                    self.attempt,
                    run.attempt,
                    format_time(run.due_at)
                )
            } else {
                format!("run {} is back in the queue ({reason})", run.id)
            };
            self.new_attempt(&mut shown, &escape_field(&what));
            self.attempt = run.attempt;
            self.running = false;
            self.stale = Some(output.to_vec());
        }
        if is_final(run.status) {
            let reason = run
                .error
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let line = format!("run {}: {}{reason}", run.id, run.status);
            self.note(&mut shown, &escape_field(&line));
        }
        shown
    }

    /// Prints the part of `output` not printed yet; says how many bytes slid out of the
    /// kept tail before they could be printed.
    fn print_new(&mut self, shown: &mut Vec<u8>, output: &[u8], to_terminal: bool) {
        let (dropped, kept) = crate::exec::split_dropped(output);
        let total = dropped + kept.len() as u64;
        if total < self.printed {
            // Less than was printed: the job started again.
            self.note(shown, "the output starts again");
            self.printed = 0;
        }
        let new = if self.printed < dropped {
            let missed = dropped - self.printed;
            self.note(shown, &format!("{missed} bytes of output not kept"));
            kept
        } else {
            &kept[(self.printed - dropped) as usize..]
        };
        if !new.is_empty() {
            shown.extend_from_slice(&output_section(new, to_terminal));
            self.at_line_start = new.ends_with(b"\n");
        }
        self.printed = total;
    }

    /// Ends what was printed of one attempt, with a note.
    fn new_attempt(&mut self, shown: &mut Vec<u8>, what: &str) {
        self.note(shown, what);
        self.printed = 0;
    }

    /// A line of cronq's own between the job's output, on a line of its own.
    fn note(&mut self, shown: &mut Vec<u8>, what: &str) {
        if !self.at_line_start {
            shown.push(b'\n');
        }
        shown.extend_from_slice(format!("[cronq: {what}]\n").as_bytes());
        self.at_line_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: RunStatus, attempt: i64, error: Option<&str>) -> runs::Run {
        runs::Run {
            id: 7,
            job: "j".to_string(),
            slot: None,
            status,
            priority: 0,
            due_at: 1_795_424_460,
            attempt,
            max_attempts: 3,
            target_id: None,
            target_type: None,
            data: None,
            created_at: 1_795_424_400,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            exit_code: None,
            error: error.map(str::to_string),
            interruptions: 0,
            host: None,
        }
    }

    fn step(f: &mut Follower, run: &runs::Run, output: &str) -> String {
        String::from_utf8(f.next(run, output.as_bytes(), false)).unwrap()
    }

    #[test]
    fn a_retried_run_is_followed_into_its_next_attempt() {
        let mut f = Follower::default();
        let running = run(RunStatus::Running, 1, None);
        assert_eq!(step(&mut f, &running, "a\n"), "a\n");
        assert_eq!(step(&mut f, &running, "a\nb"), "b");
        assert_eq!(step(&mut f, &running, "a\nb"), "");
        let retry = run(RunStatus::Pending, 2, Some("exit status 1"));
        assert_eq!(
            step(&mut f, &retry, "a\nbc\n"),
            "c\n[cronq: attempt 1 failed (exit status 1); attempt 2 is due at \
             2026-11-23T09:01:00Z]\n"
        );
        assert_eq!(step(&mut f, &retry, "a\nbc\n"), "");
        // The next attempt has written nothing yet: the row still holds the last one's.
        let second = run(RunStatus::Running, 2, None);
        assert_eq!(step(&mut f, &second, "a\nbc\n"), "");
        assert_eq!(step(&mut f, &second, "x\n"), "x\n");
        let done = run(RunStatus::Success, 2, None);
        assert_eq!(step(&mut f, &done, "x\ny"), "y\n[cronq: run 7: success]\n");
    }

    #[test]
    fn a_run_put_back_by_a_shutdown_is_followed_into_its_next_start() {
        let mut f = Follower::default();
        assert_eq!(
            step(&mut f, &run(RunStatus::Running, 1, None), "a\n"),
            "a\n"
        );
        let requeued = run(RunStatus::Pending, 1, Some("stopped: shut down"));
        assert_eq!(
            step(&mut f, &requeued, "a\nb\n"),
            "b\n[cronq: run 7 is back in the queue (stopped: shut down)]\n"
        );
        assert_eq!(step(&mut f, &requeued, "a\nb\n"), "");
        let again = run(RunStatus::Running, 1, None);
        assert_eq!(step(&mut f, &again, "a\nb\n"), "");
        assert_eq!(step(&mut f, &again, "new\n"), "new\n");
        let failed = run(RunStatus::Failed, 1, Some("exit status 2"));
        assert_eq!(
            step(&mut f, &failed, "new\n"),
            "[cronq: run 7: failed (exit status 2)]\n"
        );
    }

    #[test]
    fn bytes_that_slid_out_unseen_are_counted() {
        let mut f = Follower::default();
        let running = run(RunStatus::Running, 1, None);
        assert_eq!(step(&mut f, &running, "abc"), "abc");
        let slid = "[cronq: 10 earlier bytes of output not kept]\nklm";
        assert_eq!(
            step(&mut f, &running, slid),
            "\n[cronq: 7 bytes of output not kept]\nklm"
        );
        let more = "[cronq: 11 earlier bytes of output not kept]\nlmn";
        assert_eq!(step(&mut f, &running, more), "n");
    }
}
