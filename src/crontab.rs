//! Reading an existing user crontab (`crontab -l`) for `cronq import`. Pure: text in, job
//! definitions or the first bad line out.
//!
//! Each `EXPR COMMAND` or `@macro COMMAND` line becomes a command job, named by a
//! `# cronq: NAME` comment on the line before it, or `crontab-LINE`. `VAR=value` lines set
//! the environment of the jobs after them, as cron does.

use crate::job::validate_name;
use crate::schedule::Schedule;
use std::collections::BTreeMap;
use std::fmt;

/// One job read from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub name: String,
    pub schedule: String,
    pub command: String,
    pub env: BTreeMap<String, String>,
}

/// A line that cannot be imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Reads a whole crontab; the first bad line fails it all.
pub fn parse(text: &str) -> Result<Vec<Entry>, LineError> {
    let mut entries = Vec::new();
    let mut env = BTreeMap::new();
    let mut next_name: Option<String> = None;
    let mut names = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |reason: String| LineError { line, reason };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            if let Some(name) = comment.trim().strip_prefix("cronq:") {
                let name = name.trim();
                validate_name(name).map_err(fail)?;
                next_name = Some(name.to_string());
            }
            continue;
        }
        if let Some((key, value)) = assignment(trimmed) {
            env.insert(key, value);
            continue;
        }
        let (schedule, command) = split_schedule(trimmed).map_err(fail)?;
        let schedule = Schedule::parse(&schedule).map_err(|e| fail(e.to_string()))?;
        let command = unescape_percent(command).map_err(fail)?;
        let name = next_name
            .take()
            .unwrap_or_else(|| format!("crontab-{line}"));
        if let Some(first) = names.insert(name.clone(), line) {
            return Err(fail(format!(
                "the name '{name}' is already used by line {first}"
            )));
        }
        entries.push(Entry {
            line,
            name,
            schedule: schedule.source().to_string(),
            command,
            env: env.clone(),
        });
    }
    Ok(entries)
}

/// `NAME=value`, `NAME = "value"`: cron's environment settings.
fn assignment(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let is_name = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !key.as_bytes()[0].is_ascii_digit();
    if !is_name {
        return None;
    }
    let value = value.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
        .unwrap_or(value);
    Some((key.to_string(), unquoted.to_string()))
}

/// Splits off the five schedule fields (or a macro) from the command.
fn split_schedule(line: &str) -> Result<(String, &str), String> {
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let mut rest = line;
    let mut words = Vec::with_capacity(fields);
    for _ in 0..fields {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        words.push(&rest[..end]);
        rest = &rest[end..];
    }
    let command = rest.trim();
    if words.len() < fields || command.is_empty() {
        return Err(format!(
            "expected a schedule and a command ('*/5 * * * * /path/to/job' or '@daily /path/to/job'), found '{line}'"
        ));
    }
    Ok((words.join(" "), command))
}

/// cron turns an unescaped `%` into a newline and feeds the rest to the command's stdin.
/// cronq gives jobs no stdin, so such a line is refused; `\%` becomes `%`.
fn unescape_percent(command: &str) -> Result<String, String> {
    let mut out = String::with_capacity(command.len());
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => {
                return Err(
                    "an unescaped '%' (cron makes it a newline and sends the rest to \
                            stdin, which cronq jobs do not have); write \\% for a literal %"
                        .to_string(),
                )
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jobs_names_and_environment() {
        let text = "\
# m h dom mon dow command
SHELL=/bin/sh
MAILTO=\"ops@example.com\"

# cronq: nightly-backup
30 2 * * *   /usr/local/bin/backup --all
@hourly date +\\%H >> /tmp/hours
PATH = /usr/bin:/bin
*/5 9-17 * * MON-FRI  curl -s https://example.com/ping
";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].name, "nightly-backup");
        assert_eq!(entries[0].schedule, "30 2 * * *");
        assert_eq!(entries[0].command, "/usr/local/bin/backup --all");
        assert_eq!(entries[0].env["MAILTO"], "ops@example.com");
        assert!(!entries[0].env.contains_key("PATH"));
        assert_eq!(entries[1].name, "crontab-7");
        assert_eq!(entries[1].schedule, "@hourly");
        assert_eq!(entries[1].command, "date +%H >> /tmp/hours");
        assert_eq!(entries[2].env["PATH"], "/usr/bin:/bin");
        assert_eq!(entries[2].schedule, "*/5 9-17 * * MON-FRI");
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let cases = [
            ("* * * * * ok\n61 * * * * bad", 2, "minute"),
            ("* * * *", 1, "expected a schedule and a command"),
            ("@reboot /bin/start", 1, "unknown macro '@reboot'"),
            ("* * * * * echo 50%", 1, "unescaped '%'"),
            ("# cronq: bad name\n* * * * * x", 1, "invalid job name"),
            (
                "# cronq: a\n* * * * * x\n# cronq: a\n* * * * * y",
                4,
                "already used by line 2",
            ),
        ];
        for (text, line, reason) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(reason), "{text:?}: {e}");
        }
    }
}
