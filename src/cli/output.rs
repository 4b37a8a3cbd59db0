//! How text reaches the operator. Data goes to stdout: aligned tables for people, JSON for
//! programs (snake_case keys, RFC 3339 UTC times, `null` for empty values); a closed pipe
//! ends it quietly. Messages go to stderr, and a failure to write them is ignored.

use super::escape::escape_field;
use crate::store::jobs::Job;
use crate::store::runs::Run;
use crate::time::{format_time, Timestamp};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

/// Writes `text` to stdout. A reader that went away (`| head`) surfaces as a BrokenPipe
/// error, which `cli::main` turns into a quiet exit 0.
pub fn emit(text: &str) -> Result<()> {
    emit_bytes(text.as_bytes())
}

/// Writes `bytes` to stdout, as `emit` does.
pub fn emit_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// Writes one line to stderr. A message nobody can read (stderr closed, `2>&1 | true`) is
/// dropped: `eprintln!` would panic and turn the command's exit code into 101.
pub fn print_to_stderr(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|_| err.flush());
}

pub fn emit_json(value: &Value) -> Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

pub fn time_or_null(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(format_time(t)))
}

/// `t` in the zone `tz`, as RFC 3339 with the offset (`2026-11-23T10:00:00+01:00`).
pub fn local_time(tz: &str, t: Timestamp) -> String {
    match crate::timetable::parse_zone(tz) {
        Ok(Some(zone)) => zone.format(t),
        _ => format_time(t),
    }
}

/// Lays out rows under a header, columns padded to their widest cell. Every cell is
/// escaped (`escape_field`): a job's command or a run's reason may hold control characters.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape_field(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text.push('\n');
    }
    text
}

/// A column of a table fitted to a terminal.
#[derive(Clone, Copy, Debug)]
pub struct Column<'a> {
    pub header: &'a str,
    /// When the table is too wide, columns with a rank are left out, rank 1 first;
    /// columns without one always stay.
    pub drop_rank: Option<u8>,
    /// The narrowest that long cells (a command, a reason) may be cut to with `…`; 0:
    /// never cut.
    pub min_width: usize,
}

impl<'a> Column<'a> {
    /// A column that always stays and is never cut.
    pub const fn kept(header: &'a str) -> Column<'a> {
        Column {
            header,
            drop_rank: None,
            min_width: 0,
        }
    }

    /// A column left out, rank 1 first, when the table is too wide.
    pub const fn droppable(header: &'a str, rank: u8) -> Column<'a> {
        Column {
            header,
            drop_rank: Some(rank),
            min_width: 0,
        }
    }

    /// A column whose long cells are cut with `…`, down to `min_width` characters.
    pub const fn cut(header: &'a str, min_width: usize) -> Column<'a> {
        Column {
            header,
            drop_rank: None,
            min_width,
        }
    }

    /// Cut, and left out at `rank` when cutting is not enough.
    pub const fn cut_or_dropped(header: &'a str, min_width: usize, rank: u8) -> Column<'a> {
        Column {
            header,
            drop_rank: Some(rank),
            min_width,
        }
    }
}

/// `table`, fitted to `width` when given (a terminal): columns are left out in their
/// rank's order until the rest fits with the cuttable columns at their narrowest, then
/// the room left is shared among the cuttable columns, whose longer cells end in `…`.
/// Without a width (a pipe), every column and every cell is kept whole.
pub fn fitted_table(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> String {
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let Some(width) = width else {
        return table(&headers, rows);
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape_field(cell)).collect())
        .collect();
    let full: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([c.header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let is_cut = |i: usize| columns[i].min_width > 0;
    let narrowest = |i: usize| {
        if is_cut(i) {
            full[i].min(columns[i].min_width.max(columns[i].header.chars().count()))
        } else {
            full[i]
        }
    };
    let total = |shown: &[usize]| {
        shown.iter().map(|&i| narrowest(i)).sum::<usize>() + 2 * shown.len().saturating_sub(1)
    };
    let mut shown: Vec<usize> = (0..columns.len()).collect();
    while total(&shown) > width {
        let next = shown
            .iter()
            .enumerate()
            .filter_map(|(at, &i)| columns[i].drop_rank.map(|rank| (rank, at)))
            .min();
        match next {
            Some((_, at)) => {
                shown.remove(at);
            }
            None => break,
        }
    }
    // Every cut column has its narrowest; the room beyond is shared, the column that
    // needs the least first, so that what one leaves unused goes to the others.
    let mut widths: Vec<usize> = (0..columns.len()).map(narrowest).collect();
    let mut room = width.saturating_sub(total(&shown));
    let mut cut: Vec<usize> = shown.iter().copied().filter(|&i| is_cut(i)).collect();
    cut.sort_by_key(|&i| full[i] - widths[i]);
    for (n, &i) in cut.iter().enumerate() {
        let more = (full[i] - widths[i]).min(room / (cut.len() - n));
        widths[i] += more;
        room -= more;
    }
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let last = shown.len().saturating_sub(1);
        for (at, &i) in shown.iter().enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            let w = widths[i];
            let cell = cut_to(cell, w);
            if at == last {
                text.push_str(&cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text.push('\n');
    }
    text
}

/// `cell`, at most `width` characters: a longer one ends in `…`.
fn cut_to(cell: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if cell.chars().count() <= width {
        return std::borrow::Cow::Borrowed(cell);
    }
    let kept: String = cell.chars().take(width.saturating_sub(1)).collect();
    std::borrow::Cow::Owned(format!("{kept}…"))
}

pub fn job_json(job: &Job) -> Value {
    json!({
        "name": job.name,
        "kind": if job.builtin.is_some() { "builtin" } else { "command" },
        "command": job.command,
        "builtin": job.builtin,
        "env": job.env.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()),
        "schedule": job.schedule,
        "tz": job.tz,
        "status": if job.active { "active" } else { "inactive" },
        "next_slot": time_or_null(job.next_slot),
        "next_slot_local": job.next_slot.map(|t| local_time(&job.tz, t)),
        "last_status": job.last_status,
        "last_finished_at": time_or_null(job.last_finished_at),
        "last_host": job.last_host,
        "timeout": job.timeout,
        "retries": job.retries,
        "catchup": job.catchup.as_str(),
        "overlap": job.overlap.as_str(),
        "requires_target": job.requires_target,
    })
}

pub fn run_json(run: &Run, output: Option<&str>) -> Value {
    let data = run
        .data
        .as_deref()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())));
    let mut value = json!({
        "id": run.id,
        "job": run.job,
        "status": run.status.as_str(),
        "slot": time_or_null(run.slot),
        "due_at": format_time(run.due_at),
        "created_at": format_time(run.created_at),
        "started_at": time_or_null(run.started_at),
        "finished_at": time_or_null(run.finished_at),
        "duration_ms": run.duration_ms,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "priority": run.priority,
        "exit_code": run.exit_code,
        "target_id": run.target_id,
        "target_type": run.target_type,
        "data": data,
        "error": run.error,
        "host": run.host,
    });
    if let (Some(output), Value::Object(map)) = (output, &mut value) {
        map.insert("output".to_string(), Value::String(output.to_string()));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COLUMNS: [Column; 4] = [
        Column::kept("ID"),
        Column::droppable("KIND", 1),
        Column::droppable("WHEN", 2),
        Column::cut("COMMAND", 20),
    ];

    fn rows(command: &str) -> Vec<Vec<String>> {
        vec![vec![
            "1".to_string(),
            "command".to_string(),
            "in 4 min (10:04)".to_string(),
            command.to_string(),
        ]]
    }

    #[test]
    fn a_pipe_gets_the_plain_table_and_a_terminal_a_fitted_one() {
        let long = "x".repeat(100);
        assert_eq!(
            fitted_table(&COLUMNS, &rows(&long), None),
            table(&["ID", "KIND", "WHEN", "COMMAND"], &rows(&long))
        );
        // KIND goes first; then the command is cut to its narrowest, 20.
        let fitted = fitted_table(&COLUMNS, &rows(&long), Some(42));
        assert_eq!(
            fitted,
            format!(
                "ID  WHEN              COMMAND\n1   in 4 min (10:04)  {}…\n",
                "x".repeat(19)
            )
        );
        // Narrower still, WHEN goes too, and the command has the rest.
        let fitted = fitted_table(&COLUMNS, &rows(&long), Some(41));
        assert_eq!(fitted, format!("ID  COMMAND\n1   {}…\n", "x".repeat(36)));
        // Room enough: nothing changes.
        assert_eq!(
            fitted_table(&COLUMNS, &rows("echo hi"), Some(80)),
            table(&["ID", "KIND", "WHEN", "COMMAND"], &rows("echo hi"))
        );
    }

    proptest! {
        #[test]
        fn fitted_lines_are_never_wider_than_the_terminal(
            command in "\\PC{0,300}",
            width in 80usize..300,
        ) {
            let fitted = fitted_table(&COLUMNS, &rows(&command), Some(width));
            for line in fitted.lines() {
                prop_assert!(line.chars().count() <= width, "{:?}", line);
            }
            let shown = escape_field(&command);
            // ID, KIND and WHEN take 2 + 7 + 16 columns and 6 of gaps.
            if shown.chars().count() + 31 <= width {
                prop_assert!(fitted.contains(&shown));
            }
        }
    }
}
