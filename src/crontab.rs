//! Reading an existing user crontab (`crontab -l`) for `cronq import`. Pure: text in, job
//! definitions or the first bad line out (whether a word is a user name is asked of the
//! caller).
//!
//! Each `EXPR COMMAND` or `@macro COMMAND` line becomes a command job, named by a
//! `# cronq: NAME` comment on the line before it, or else after its command (`name_of`):
//! `/usr/local/bin/backup --all` becomes `backup`, `php /srv/crm/command.php cron`
//! `command-cron`, a second `backup` `backup-2`; `crontab-LINE` when the command gives no
//! name. `VAR=value` lines set
//! the environment of the jobs after them, as cron does. What cron would do differently
//! from cronq is refused rather than imported wrong: a `SHELL` other than /bin/sh, a
//! system crontab's user column, an unescaped `%`, a command or variable too long for a
//! job to be started with.

use crate::job::validate_name;
use crate::limits::{check_command, check_environment, shorten};
use crate::schedule::Schedule;
use std::collections::BTreeMap;
use std::fmt;

/// One job read from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    /// From a `# cronq: NAME` comment, or made from the command.
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

/// Reads a whole crontab; the first bad line fails it all. `is_user` tells whether a word
/// names a user of the system (for a system crontab's user column).
pub fn parse(text: &str, mut is_user: impl FnMut(&str) -> bool) -> Result<Vec<Entry>, LineError> {
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
            check_shell(&key, &value).map_err(fail)?;
            check_environment(&key, &value).map_err(fail)?;
            env.insert(key, value);
            continue;
        }
        let (schedule, command) = split_schedule(trimmed).map_err(fail)?;
        let schedule = Schedule::parse(&schedule).map_err(|e| fail(e.to_string()))?;
        check_user_column(command, &mut is_user).map_err(fail)?;
        let command = unescape_percent(command).map_err(fail)?;
        check_command(&command).map_err(fail)?;
        // Named after its command below, once every `# cronq:` name is known.
        let name = match next_name.take() {
            Some(name) => {
                if let Some(first) = names.insert(name.clone(), line) {
                    return Err(fail(format!(
                        "the name '{name}' is already used by line {first}"
                    )));
                }
                name
            }
            None => String::new(),
        };
        entries.push(Entry {
            line,
            name,
            schedule: schedule.source().to_string(),
            command,
            env: env.clone(),
        });
    }
    for entry in entries.iter_mut().filter(|e| e.name.is_empty()) {
        let base = name_of(&entry.command).unwrap_or_else(|| format!("crontab-{}", entry.line));
        let mut name = base.clone();
        let mut n = 1;
        while names.contains_key(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.insert(name.clone(), entry.line);
        entry.name = name;
    }
    Ok(entries)
}

/// Words that start a command without saying what it does: the command that does comes
/// after them (with the options and arguments they take, which `name_of` skips too).
const WRAPPERS: &[&str] = &[
    "env", "nice", "ionice", "nohup", "sudo", "exec", "time", "timeout", "flock", "chronic", "sh",
    "bash", "dash", "zsh", "php", "python", "python2", "python3", "perl", "ruby", "node", "java",
    "cd", "&&", ";",
];

/// A job name made from a command: the first word that is not a wrapper, a variable, an
/// option or a path given to `cd`/`flock`/`timeout`, without its directory and its
/// extension, then up to two plain words that follow it (`command.php cron` ->
/// `command-cron`). Only A-Z a-z 0-9 _ . - are kept, and at most 56 characters, so that a
/// `-N` suffix still fits the 64 of a name. `None` when nothing is left.
pub fn name_of(command: &str) -> Option<String> {
    let mut words = command.split_whitespace().peekable();
    let mut skip_argument = false;
    let program = loop {
        let word = words.next()?;
        let base = word.rsplit('/').next().unwrap_or(word);
        if skip_argument {
            skip_argument = false;
            continue;
        }
        if WRAPPERS.contains(&base) || base.parse::<f64>().is_ok() {
            // `cd DIR`, `flock FILE`, `timeout 60`: the next word is theirs.
            skip_argument = matches!(base, "cd" | "flock");
            continue;
        }
        if word.starts_with('-') || word.contains('=') {
            continue;
        }
        break base;
    };
    let stem = match program.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() && extension.len() <= 4 => stem,
        _ => program,
    };
    let mut name = slug(stem);
    // Up to two plain words after it: `command.php run-job Cleanup`.
    for argument in words.take(2) {
        let plain = argument
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && !argument.starts_with('-');
        if !plain || name.is_empty() {
            break;
        }
        name = format!("{name}-{argument}");
    }
    let name: String = name.chars().take(56).collect();
    let name = name.trim_matches(|c| c == '-' || c == '.').to_string();
    (!name.is_empty()).then_some(name)
}

/// Keeps the characters a job name may have; a run of others becomes one `-`.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out
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

/// cron runs the commands with `SHELL`; cronq runs every command with /bin/sh, so another
/// shell would change what the commands mean.
fn check_shell(key: &str, value: &str) -> Result<(), String> {
    if key != "SHELL" || matches!(value, "/bin/sh" | "sh") {
        return Ok(());
    }
    let shell = shorten(value);
    Err(format!(
        "SHELL={shell}: cronq runs every command with /bin/sh; wrap each command in \
         {shell} -c '…', or remove the SHELL line if the commands work in /bin/sh"
    ))
}

/// A system crontab (/etc/crontab, /etc/cron.d) has a user column before the command:
/// `17 * * * * root cd / && run-parts /etc/cron.hourly`. Its first word is then a user
/// name and more words follow; cronq would run the user name as a command.
fn check_user_column(command: &str, is_user: &mut impl FnMut(&str) -> bool) -> Result<(), String> {
    let mut words = command.split_whitespace();
    let (Some(first), Some(_)) = (words.next(), words.next()) else {
        return Ok(());
    };
    let could_be_user = first
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !first.starts_with('-');
    if !(first == "root" || could_be_user && is_user(first)) {
        return Ok(());
    }
    Err(format!(
        "'{first}' looks like the user column of a system crontab (/etc/crontab, /etc/cron.d); \
         cronq runs every job as the user who runs cronq: remove the user column and import \
         the lines as that user (if '{first}' is the command itself, write its full path)"
    ))
}

/// Splits off the five schedule fields (or a macro) from the command.
fn split_schedule(line: &str) -> Result<(String, &str), String> {
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let mut rest = line;
    let mut words = Vec::with_capacity(fields);
    // Fields are separated by spaces and tabs only, as cron splits them: any other white
    // space stays in its field, where the dialect refuses it by name.
    let blank = [' ', '\t'];
    for _ in 0..fields {
        rest = rest.trim_start_matches(blank);
        let end = rest.find(blank).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        words.push(&rest[..end]);
        rest = &rest[end..];
    }
    let command = rest.trim();
    if words.len() < fields || command.is_empty() {
        return Err(format!(
            "expected a schedule and a command ('*/5 * * * * /path/to/job' or '@daily /path/to/job'), found '{}'",
            shorten(line)
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

    fn no_users(_: &str) -> bool {
        false
    }

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
        let entries = parse(text, no_users).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].name, "nightly-backup");
        assert_eq!(entries[0].schedule, "30 2 * * *");
        assert_eq!(entries[0].command, "/usr/local/bin/backup --all");
        assert_eq!(entries[0].env["MAILTO"], "ops@example.com");
        assert!(!entries[0].env.contains_key("PATH"));
        assert_eq!(entries[1].name, "date");
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
            (
                "SHELL=/bin/bash\n* * * * * x",
                1,
                "wrap each command in /bin/bash -c",
            ),
            ("* * * * * root cd / && x", 1, "user column"),
            ("# cronq: bad name\n* * * * * x", 1, "invalid job name"),
            (
                "# cronq: a\n* * * * * x\n# cronq: a\n* * * * * y",
                4,
                "already used by line 2",
            ),
        ];
        for (text, line, reason) in cases {
            let e = parse(text, no_users).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(reason), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_user_column_is_a_user_name_with_a_command_after_it() {
        let users = |word: &str| word == "backup" || word == "sync";
        let e = parse("@daily backup /usr/local/bin/backup --all", users).unwrap_err();
        assert!(
            e.reason.contains("'backup' looks like the user column"),
            "{e}"
        );
        // A one-word command that is also a user name is a command.
        let entries = parse("@daily sync", users).unwrap();
        assert_eq!(entries[0].command, "sync");
        // The command written with its path is not a user name.
        let entries = parse("@daily /usr/bin/backup --all", users).unwrap();
        assert_eq!(entries[0].command, "/usr/bin/backup --all");
        // Not asked about words that cannot be user names.
        let entries = parse("@daily a=1 b", |word: &str| panic!("asked about {word}")).unwrap();
        assert_eq!(entries[0].command, "a=1 b");
    }

    #[test]
    fn unnamed_lines_are_named_after_their_commands() {
        let cases = [
            ("/usr/local/bin/backup --all", Some("backup")),
            ("php /srv/crm/command.php cron", Some("command-cron")),
            (
                "/usr/bin/php -f /srv/crm/command.php run-job Cleanup --x",
                Some("command-run-job-Cleanup"),
            ),
            ("sync-all a b c", Some("sync-all-a-b")),
            ("cd /srv/app && ./sync.sh --fast", Some("sync")),
            (
                "env LANG=C nice -n 10 report.py daily",
                Some("report-daily"),
            ),
            ("timeout 60 curl -s https://example.com/ping", Some("curl")),
            ("flock /tmp/lock rsync -a /a /b", Some("rsync")),
            ("date +%H >> /tmp/hours", Some("date")),
            ("(echo hi)", Some("echo")),
            ("{ :; }", None),
        ];
        for (command, name) in cases {
            let got = name_of(command);
            assert_eq!(got.as_deref(), name, "{command}");
            if let Some(got) = got {
                assert!(validate_name(&got).is_ok(), "{got}");
            }
        }
        let long = format!("/bin/{} x", "a".repeat(100));
        assert_eq!(name_of(&long).map(|n| n.len()), Some(56));
    }

    #[test]
    fn a_name_made_twice_gets_a_number_and_leaves_given_names_alone() {
        let text = "\
@daily /usr/bin/backup --all
@hourly /usr/bin/backup --quick
# cronq: backup-3
@weekly /usr/bin/backup --full
@monthly /usr/bin/backup --old
@yearly { :; }
";
        let names: Vec<String> = parse(text, no_users)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            ["backup", "backup-2", "backup-3", "backup-4", "crontab-6"]
        );
    }

    #[test]
    fn sh_is_the_one_shell() {
        let cases = [
            ("SHELL=/bin/sh", "/bin/sh"),
            ("SHELL=sh", "sh"),
            ("SHELL = \"/bin/sh\"", "/bin/sh"),
        ];
        for (line, shell) in cases {
            let entries = parse(&format!("{line}\n@daily true"), no_users).unwrap();
            assert_eq!(entries[0].env["SHELL"], shell, "{line}");
        }
    }
}
