//! A job's form: what the browser sent, kept as typed so that a refused form comes back
//! as the operator wrote it, and its reading into a `Definition` with the same checks as
//! `cronq add` and `cronq edit` (the same parser, zones, names and ranges).

use super::http::Request;
use crate::builtin::Builtin;
use crate::job::{validate_name, Catchup, Overlap, RETRIES_RANGE, TIMEOUT_RANGE};
use crate::schedule::Schedule;
use crate::store::jobs::{Definition, Job};

/// The fields of the add and edit forms, as text.
#[derive(Clone, Debug, Default)]
pub struct JobForm {
    pub name: String,
    pub command: String,
    pub schedule: String,
    pub tz: String,
    pub timeout: String,
    pub retries: String,
    pub catchup: String,
    pub overlap: String,
    pub requires_target: bool,
    pub active: bool,
    /// The built-in it runs, for an existing built-in job (not editable).
    pub builtin: Option<String>,
}

impl JobForm {
    /// An empty form for a new job, with the defaults `cronq add` uses.
    pub fn new_job() -> JobForm {
        JobForm {
            tz: "UTC".to_string(),
            catchup: Catchup::Latest.as_str().to_string(),
            overlap: Overlap::Skip.as_str().to_string(),
            active: true,
            ..JobForm::default()
        }
    }

    /// The form for changing `job`, filled with what it is now.
    pub fn of(job: &Job) -> JobForm {
        JobForm {
            name: job.name.clone(),
            command: job.command.clone().unwrap_or_default(),
            schedule: job.schedule.clone().unwrap_or_default(),
            tz: job.tz.clone(),
            timeout: job.timeout.map(|t| t.to_string()).unwrap_or_default(),
            retries: job.retries.map(|r| r.to_string()).unwrap_or_default(),
            catchup: job.catchup.as_str().to_string(),
            overlap: job.overlap.as_str().to_string(),
            requires_target: job.requires_target,
            active: job.active,
            builtin: job.builtin.clone(),
        }
    }

    /// What the browser sent. Checkboxes are absent when unticked.
    pub fn from_request(request: &Request) -> JobForm {
        let text = |name| request.form(name).unwrap_or("").to_string();
        JobForm {
            name: text("name").trim().to_string(),
            command: text("command"),
            schedule: text("schedule").trim().to_string(),
            tz: text("tz").trim().to_string(),
            timeout: text("timeout").trim().to_string(),
            retries: text("retries").trim().to_string(),
            catchup: text("catchup"),
            overlap: text("overlap"),
            requires_target: request.form("requires_target").is_some(),
            active: request.form("active").is_some(),
            builtin: None,
        }
    }

    /// The definition this form describes, or every problem with it. `existing`: the job
    /// being edited (its name and built-in stay).
    pub fn definition(&self, existing: Option<&Job>) -> Result<Definition, Vec<String>> {
        let mut problems = Vec::new();
        let name = match existing {
            Some(job) => job.name.clone(),
            None => {
                if let Err(e) = validate_name(&self.name) {
                    problems.push(e);
                }
                self.name.clone()
            }
        };
        let builtin = existing.and_then(|job| job.builtin.clone());
        let command = if builtin.is_some() {
            None
        } else if self.command.trim().is_empty() {
            problems.push("give the command: a shell command line, run by /bin/sh -c".to_string());
            None
        } else if self.command.contains('\0') {
            problems.push("the command cannot contain a NUL character".to_string());
            None
        } else {
            Some(self.command.trim().to_string())
        };
        let schedule = if self.schedule.is_empty() {
            None
        } else {
            match Schedule::parse(&self.schedule) {
                Ok(s) => Some(s.source().to_string()),
                Err(e) => {
                    problems.push(format!("schedule: {e}"));
                    None
                }
            }
        };
        let tz = if self.tz.is_empty() { "UTC" } else { &self.tz };
        if let Err(e) = crate::timetable::parse_zone(tz) {
            problems.push(format!("zone: {e}"));
        }
        let timeout = number(&self.timeout, "timeout", TIMEOUT_RANGE, &mut problems);
        let retries = number(&self.retries, "retries", RETRIES_RANGE, &mut problems);
        let catchup = self.catchup.parse::<Catchup>().unwrap_or_else(|e| {
            problems.push(format!("catch-up: {e}"));
            Catchup::Latest
        });
        let overlap = self.overlap.parse::<Overlap>().unwrap_or_else(|e| {
            problems.push(format!("overlap: {e}"));
            Overlap::Skip
        });
        if let Some(b) = &builtin {
            if let Err(e) = Builtin::from_name(b) {
                problems.push(e);
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Definition {
            name,
            command,
            builtin,
            env: existing.and_then(|job| job.env.clone()),
            schedule,
            tz: tz.to_string(),
            timeout,
            retries,
            catchup,
            overlap,
            requires_target: self.requires_target,
            active: self.active,
        })
    }
}

/// A whole number in `range`, or nothing when blank (the setting's default applies).
fn number(
    text: &str,
    what: &str,
    range: std::ops::RangeInclusive<i64>,
    problems: &mut Vec<String>,
) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    match text.parse::<i64>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            problems.push(format!(
                "{what}: '{text}' is not a whole number from {} to {}; leave it empty for the \
                 setting's default",
                range.start(),
                range.end()
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> JobForm {
        let request = Request {
            form: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        };
        JobForm::from_request(&request)
    }

    #[test]
    fn a_good_form_is_the_definition_add_would_write() {
        let def = form(&[
            ("name", "backup"),
            ("command", "/usr/local/bin/backup --all"),
            ("schedule", "0 3 * * *"),
            ("tz", "Europe/Berlin"),
            ("timeout", "600"),
            ("retries", ""),
            ("catchup", "all"),
            ("overlap", "allow"),
            ("active", "on"),
        ])
        .definition(None)
        .unwrap();
        assert_eq!(def.name, "backup");
        assert_eq!(def.command.as_deref(), Some("/usr/local/bin/backup --all"));
        assert_eq!(def.schedule.as_deref(), Some("0 3 * * *"));
        assert_eq!(def.tz, "Europe/Berlin");
        assert_eq!((def.timeout, def.retries), (Some(600), None));
        assert_eq!((def.catchup, def.overlap), (Catchup::All, Overlap::Allow));
        assert!(def.active && !def.requires_target);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let problems = form(&[
            ("name", "bad name"),
            ("command", " "),
            ("schedule", "61 * * * *"),
            ("tz", "Mars/Olympus"),
            ("timeout", "0"),
            ("retries", "many"),
            ("catchup", "sometimes"),
            ("overlap", "skip"),
        ])
        .definition(None)
        .unwrap_err();
        assert_eq!(problems.len(), 7, "{problems:#?}");
        assert!(problems[0].contains("invalid job name"));
        assert!(problems.iter().any(|p| p.starts_with("schedule:")));
        assert!(problems.iter().any(|p| p.starts_with("zone:")));
        assert!(problems.iter().any(|p| p.starts_with("timeout:")));
    }
}
