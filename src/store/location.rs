//! Where the database is: an SQLite file (the embedded default), or a PostgreSQL database
//! that several hosts share, named by a `postgresql://` (or `postgres://`) URL. What `--db`
//! and `CRONQ_DB` say is one or the other.

use anyhow::{Context, Result};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Postgres(String),
}

impl Location {
    /// Reads `--db`: a URL whose scheme is `postgresql` or `postgres`, else a file path.
    pub fn parse(text: &OsStr) -> Location {
        match text.to_str() {
            Some(url) if url.starts_with("postgresql://") || url.starts_with("postgres://") => {
                Location::Postgres(url.to_string())
            }
            _ => Location::File(PathBuf::from(text)),
        }
    }

    /// The text that names it again on another command line (a child process, a crontab).
    pub fn as_arg(&self) -> OsString {
        match self {
            Location::File(path) => path.clone().into_os_string(),
            Location::Postgres(url) => OsString::from(url),
        }
    }

    /// Where this host keeps what belongs to the database but not in it: the invocation
    /// lock (whose modification time is the heartbeat) and the worker places, as
    /// `<base>.lock` and `<base>.worker-N.lock`. For a file, beside it; for PostgreSQL, in
    /// this host's state directory (`$XDG_STATE_HOME/cronq`, or `~/.local/state/cronq`,
    /// created with mode 0700), named after the server and database.
    pub fn local_base(&self) -> Result<PathBuf> {
        match self {
            Location::File(path) => Ok(path.clone()),
            Location::Postgres(url) => {
                let dir = state_dir()?;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .with_context(|| format!("cannot create the directory {}", dir.display()))?;
                let real = std::fs::canonicalize(&dir)
                    .with_context(|| format!("cannot find the directory {}", dir.display()))?;
                crate::files::ensure_directories(&real)?;
                Ok(real.join(file_name_for(url)))
            }
        }
    }
}

impl fmt::Display for Location {
    /// A file's path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// `$XDG_STATE_HOME/cronq`, else `$HOME/.local/state/cronq`.
fn state_dir() -> Result<PathBuf> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let state = non_empty("XDG_STATE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".local/state")))
        .ok_or_else(|| {
            crate::error::usage(
                "neither XDG_STATE_HOME nor HOME is set: cronq keeps this host's lock files for \
                 a PostgreSQL database there; set one of them",
            )
        })?;
    Ok(state.join("cronq"))
}

/// A file name for a database URL: its host, port and database name in plain characters
/// (`db.example.com-5432-cronq`), without user or password.
fn file_name_for(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let name: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("pg-{}", name.trim_matches('-'))
}

/// The URL with the password of its user part, if any, replaced by `***`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The path, for a location that is a file.
pub fn file(location: &Location) -> Option<&Path> {
    match location {
        Location::File(path) => Some(path),
        Location::Postgres(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_both_schemes_are_postgres_and_the_rest_are_files() {
        for url in [
            "postgresql://u@h/db",
            "postgres://h:5433/db?sslmode=require",
        ] {
            assert_eq!(
                Location::parse(OsStr::new(url)),
                Location::Postgres(url.to_string())
            );
        }
        for path in [
            "cronq.db",
            "/var/lib/cronq/cronq.db",
            "postgresql:/not-a-url",
        ] {
            assert_eq!(
                Location::parse(OsStr::new(path)),
                Location::File(PathBuf::from(path))
            );
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("postgresql://cron:s3cr%40t@db:5432/jobs?sslmode=require"),
            "postgresql://cron:***@db:5432/jobs?sslmode=require"
        );
        assert_eq!(
            without_password("postgresql://cron@db/jobs"),
            "postgresql://cron@db/jobs"
        );
        assert_eq!(
            without_password("postgresql://db/jobs?user=a@b"),
            "postgresql://db/jobs?user=a@b"
        );
    }

    #[test]
    fn lock_file_names_name_server_and_database_only() {
        assert_eq!(
            file_name_for("postgresql://cron:pw@db.example.com:5432/jobs?sslmode=require"),
            "pg-db.example.com-5432-jobs"
        );
        assert_eq!(file_name_for("postgres://h/d"), "pg-h-d");
    }
}
