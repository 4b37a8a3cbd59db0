//! The settings an operator can change (`cronq settings`), their defaults and validation.
//! Pure: the store keeps the values that differ from the defaults.

use std::fmt;

/// Every setting, with its default, as design §6 lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub jobs_run_in_parallel: bool,
    pub jobs_max_portion: i64,
    pub jobs_pool_concurrency: i64,
    pub max_processes: i64,
    pub daemon_interval: i64,
    pub job_timeout: i64,
    pub job_retries: i64,
    pub catchup_grace: i64,
    pub cleanup_period: i64,
    pub shutdown_grace: i64,
    /// Opt-in: take over a run of a host silent for `host_silence` seconds (PostgreSQL).
    pub presume_dead_hosts: bool,
    pub host_silence: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            jobs_run_in_parallel: false,
            jobs_max_portion: 15,
            jobs_pool_concurrency: 8,
            max_processes: 5,
            daemon_interval: 10,
            job_timeout: 36000,
            job_retries: 1,
            catchup_grace: 300,
            cleanup_period: 30,
            shutdown_grace: 30,
            presume_dead_hosts: false,
            host_silence: 600,
        }
    }
}

/// One key's name, meaning and accepted values.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub help: &'static str,
    /// Inclusive range for numbers; `None` for a boolean.
    range: Option<(i64, i64)>,
}

pub const KEYS: &[Key] = &[
    Key {
        name: "jobs_run_in_parallel",
        help: "run a pass's runs in parallel, in worker processes (true/false)",
        range: None,
    },
    Key {
        name: "jobs_max_portion",
        help: "most runs one pass claims",
        range: Some((1, 100_000)),
    },
    Key {
        name: "jobs_pool_concurrency",
        help: "most runs at once in parallel mode",
        range: Some((1, 256)),
    },
    Key {
        name: "max_processes",
        help: "most invocations doing work at once",
        range: Some((1, 1000)),
    },
    Key {
        name: "daemon_interval",
        help: "seconds between the daemon's passes",
        range: Some((1, 86_400)),
    },
    Key {
        name: "job_timeout",
        help: "seconds a run may take unless its job says otherwise",
        range: Some((1, 31_536_000)),
    },
    Key {
        name: "job_retries",
        help: "retries after a failed attempt unless its job says otherwise",
        range: Some((0, 100)),
    },
    Key {
        name: "catchup_grace",
        help: "seconds a slot may be late and still count as on time",
        range: Some((0, 86_400)),
    },
    Key {
        name: "cleanup_period",
        help: "days Cleanup keeps finished runs (the newest 10 of each job are always kept)",
        range: Some((1, 36_500)),
    },
    Key {
        name: "shutdown_grace",
        help:
            "seconds running jobs get to finish after SIGTERM before they are killed and requeued",
        range: Some((0, 86_400)),
    },
    Key {
        name: "presume_dead_hosts",
        help: "several hosts: take over the runs of a host silent for host_silence seconds, \
               whose runners then kill their own jobs at half that silence (true/false)",
        range: None,
    },
    Key {
        name: "host_silence",
        help: "several hosts: seconds without a sign of life after which presume_dead_hosts \
               presumes a host dead",
        range: Some((60, 86_400)),
    },
];

/// A refused key or value; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError(pub String);

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingError {}

pub fn key(name: &str) -> Result<&'static Key, SettingError> {
    KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        SettingError(format!(
            "unknown setting '{name}'; known settings: {}",
            names.join(", ")
        ))
    })
}

impl Key {
    /// The inclusive range of a number; `None` for a boolean.
    pub fn range(&self) -> Option<(i64, i64)> {
        self.range
    }

    /// Checks `value` and returns it in its canonical spelling.
    pub fn validate(&self, value: &str) -> Result<String, SettingError> {
        match self.range {
            None => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok("true".into()),
                "false" | "0" | "no" | "off" => Ok("false".into()),
                _ => Err(SettingError(format!(
                    "{}: '{value}' is not true or false",
                    self.name
                ))),
            },
            Some((low, high)) => match value.trim().parse::<i64>() {
                Ok(n) if (low..=high).contains(&n) => Ok(n.to_string()),
                _ => Err(SettingError(format!(
                    "{}: '{value}' is not a whole number from {low} to {high}",
                    self.name
                ))),
            },
        }
    }
}

impl Settings {
    /// The silence after which a host is presumed dead, when the operator opted in.
    pub fn presumed_dead_after(&self) -> Option<i64> {
        self.presume_dead_hosts.then_some(self.host_silence)
    }

    /// Applies stored `(key, value)` pairs over the defaults. Values were validated when
    /// set; a pair that no longer parses (an older or newer cronq wrote it) keeps the default.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Settings {
        let mut s = Settings::default();
        for (name, value) in pairs {
            let Ok(checked) = key(name).and_then(|k| k.validate(value)) else {
                log::warn!("ignoring stored setting {name}={value}: not valid for this cronq");
                continue;
            };
            let n = checked.parse::<i64>().unwrap_or_default();
            match name {
                "jobs_run_in_parallel" => s.jobs_run_in_parallel = checked == "true",
                "jobs_max_portion" => s.jobs_max_portion = n,
                "jobs_pool_concurrency" => s.jobs_pool_concurrency = n,
                "max_processes" => s.max_processes = n,
                "daemon_interval" => s.daemon_interval = n,
                "job_timeout" => s.job_timeout = n,
                "job_retries" => s.job_retries = n,
                "catchup_grace" => s.catchup_grace = n,
                "cleanup_period" => s.cleanup_period = n,
                "shutdown_grace" => s.shutdown_grace = n,
                "presume_dead_hosts" => s.presume_dead_hosts = checked == "true",
                "host_silence" => s.host_silence = n,
                _ => {}
            }
        }
        s
    }

    /// Every key with its current value, in the order of `KEYS`.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let values = [
            self.jobs_run_in_parallel.to_string(),
            self.jobs_max_portion.to_string(),
            self.jobs_pool_concurrency.to_string(),
            self.max_processes.to_string(),
            self.daemon_interval.to_string(),
            self.job_timeout.to_string(),
            self.job_retries.to_string(),
            self.catchup_grace.to_string(),
            self.cleanup_period.to_string(),
            self.shutdown_grace.to_string(),
            self.presume_dead_hosts.to_string(),
            self.host_silence.to_string(),
        ];
        KEYS.iter().map(|k| k.name).zip(values).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_override_defaults_and_bad_ones_are_ignored() {
        let s = Settings::from_pairs([
            ("jobs_max_portion", "40"),
            ("job_retries", "-3"),
            ("bogus", "1"),
        ]);
        assert_eq!(s.jobs_max_portion, 40);
        assert_eq!(s.job_retries, 1);
    }

    #[test]
    fn validation_names_the_range() {
        let e = key("jobs_max_portion").unwrap().validate("0").unwrap_err();
        assert_eq!(
            e.0,
            "jobs_max_portion: '0' is not a whole number from 1 to 100000"
        );
        assert!(key("nope").unwrap_err().0.contains("jobs_max_portion"));
        assert_eq!(
            key("jobs_run_in_parallel")
                .unwrap()
                .validate("YES")
                .unwrap(),
            "true"
        );
    }

    #[test]
    fn pairs_cover_every_key() {
        assert_eq!(Settings::default().pairs().len(), KEYS.len());
    }
}
