//! What changes when a person reads the output on a terminal: its width, and times told
//! relative to now on the local clock. Piped output and JSON keep the stable forms
//! (every column, RFC 3339 UTC) that scripts read.

use super::Context;
use crate::time::{for_people, format_time, parse_when, Timestamp};
use crate::timetable::Zone;
use std::io::IsTerminal;

/// The narrowest width tables are fitted to.
pub const MIN_WIDTH: usize = 80;

/// The width of the terminal stdout writes to, at least `MIN_WIDTH`; `None` when stdout
/// is not a terminal (a pipe, a file), where tables stay complete.
pub fn width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through a pointer valid for the call; on
    // failure it writes nothing and the zero width falls back to $COLUMNS.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    let columns = if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(MIN_WIDTH)
    };
    Some(columns.max(MIN_WIDTH))
}

/// The machine's zone (`TZ`, else `/etc/localtime`), as the system's database has it;
/// `None` (UTC) when it cannot be found or read.
pub fn local_zone() -> Option<Zone> {
    let system = crate::system_zone::detect()?;
    crate::timetable::parse_zone(&system.name).ok().flatten()
}

/// Parses `--now`: relative forms are relative to the real clock.
pub fn parse_now(text: &str) -> Result<Timestamp, String> {
    parse_when(text, chrono::Utc::now().timestamp(), local_zone().as_ref())
}

/// Parses a time option (`--at`, `--since`) against the command's clock, which `--now`
/// may pin; an error is a usage error (exit 2) naming the option.
pub fn parse_time_option(option: &str, text: &str, context: &Context) -> anyhow::Result<Timestamp> {
    parse_when(text, context.clock.now(), local_zone().as_ref())
        .map_err(|e| crate::error::usage(format!("invalid value for '{option}': {e}")))
}

/// How a command writes times: for people on a terminal, RFC 3339 UTC otherwise.
pub struct Times {
    now: Timestamp,
    /// The local zone, when times are for people.
    people: Option<Option<Zone>>,
}

impl Times {
    /// Times for people when stdout is a terminal.
    pub fn new(context: &Context) -> Times {
        Times::for_terminal(context, std::io::stdout().is_terminal())
    }

    pub fn for_terminal(context: &Context, terminal: bool) -> Times {
        Times {
            now: context.clock.now(),
            people: terminal.then(local_zone),
        }
    }

    /// Whether times are written for people.
    pub fn for_people(&self) -> bool {
        self.people.is_some()
    }

    /// A time in a table cell: `in 4 min (10:04)`.
    pub fn cell(&self, t: Timestamp) -> String {
        match &self.people {
            Some(zone) => for_people(t, self.now, zone.as_ref(), true),
            None => format_time(t),
        }
    }

    /// A time in a field of its own: `2026-11-23 10:04 (in 4 min)`.
    pub fn field(&self, t: Timestamp) -> String {
        match &self.people {
            Some(zone) => for_people(t, self.now, zone.as_ref(), false),
            None => format_time(t),
        }
    }

    pub fn cell_or_dash(&self, t: Option<Timestamp>) -> String {
        t.map_or_else(|| "-".to_string(), |t| self.cell(t))
    }

    pub fn field_or_dash(&self, t: Option<Timestamp>) -> String {
        t.map_or_else(|| "-".to_string(), |t| self.field(t))
    }
}
