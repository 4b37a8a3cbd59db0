//! `cronq crontab`: the crontab lines for this binary and database, ready to paste.

use super::output::emit;
use super::Context;
use crate::error::usage;
use crate::store::Location;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, context: &Context) -> Result<u8> {
    let exe = std::env::current_exe().context("cannot find the path of this program")?;
    let db = match context.location()? {
        Location::File(path) => absolute(&path)?,
        // As given: the crontab needs the password too, if the URL has one (a password
        // file, ~/.pgpass, keeps it out of both).
        Location::Postgres(url) => PathBuf::from(url),
    };
    let run = format!(
        "{} --db {} run",
        crontab_word(
            &exe,
            "this program's path",
            "move cronq to a path without one"
        )?,
        crontab_word(&db, "the database path", "give --db a path without one")?
    );
    let text = format!(
        "# cronq: a pass every 15 seconds (cron starts commands at most once a minute).\n\
         * * * * * {run}\n\
         * * * * * sleep 15; {run}\n\
         * * * * * sleep 30; {run}\n\
         * * * * * sleep 45; {run}\n"
    );
    emit(&text)?;
    Ok(0)
}

fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(path))
}

/// A path as a word of a crontab line: single-quoted for /bin/sh when it holds anything but
/// plain characters, and with `%` escaped, which cron would otherwise turn into a newline
/// (crontab(5)). A path with a newline, or not in UTF-8, cannot be written in one line.
fn crontab_word(path: &Path, what: &str, fix: &str) -> Result<String> {
    let Some(text) = path.to_str() else {
        return Err(usage(format!(
            "{what} {} is not valid UTF-8, so it cannot be written exactly in a crontab \
             line; {fix}",
            path.display()
        )));
    };
    if text.contains(['\n', '\r']) {
        return Err(usage(format!(
            "{what} {text:?} contains a newline, which ends a crontab line; {fix}"
        )));
    }
    Ok(quote(text).replace('%', r"\%"))
}

/// Single-quotes a word for /bin/sh when it holds anything but plain characters.
fn quote(text: &str) -> String {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
