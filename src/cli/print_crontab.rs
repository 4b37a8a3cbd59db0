//! `cronq crontab`: the crontab lines for this binary and database, ready to paste.

use super::output::emit;
use super::Context;
use anyhow::{Context as _, Result};
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, context: &Context) -> Result<u8> {
    let exe = std::env::current_exe().context("cannot find the path of this program")?;
    let db = absolute(&context.db_path()?)?;
    let run = format!("{} --db {} run", quote(&exe), quote(&db));
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

/// Single-quotes a path for /bin/sh when it holds anything but plain characters.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
