//! `cronq import FILE`: turn an existing crontab's lines into command jobs, all or nothing.

use super::output::emit;
use super::Context;
use crate::crontab;
use crate::error::usage;
use crate::job::{Catchup, Overlap};
use crate::store::jobs::{self, Definition};
use anyhow::{Context as _, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A user crontab, as `crontab -l` prints it (`-` reads standard input)
    file: PathBuf,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?
    };
    let shown = args.file.display().to_string();
    let entries =
        crontab::parse(&text).map_err(|e| usage(format!("{shown}: {e}; nothing was imported")))?;
    let mut store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| {
        for entry in &entries {
            if jobs::get(tx, &entry.name)?.is_some() {
                return Err(usage(format!(
                    "{shown}: line {}: a job named '{}' already exists; name the line with a \
                     '# cronq: NAME' comment above it; nothing was imported",
                    entry.line, entry.name
                )));
            }
            let env = (!entry.env.is_empty()).then(|| serde_json::json!(entry.env).to_string());
            // cronie's CRON_TZ sets the zone of the lines after it.
            let tz = entry
                .env
                .get("CRON_TZ")
                .cloned()
                .unwrap_or_else(|| "UTC".to_string());
            crate::timetable::parse_zone(&tz).map_err(|e| {
                usage(format!(
                    "{shown}: line {}: CRON_TZ: {e}; nothing was imported",
                    entry.line
                ))
            })?;
            let def = Definition {
                name: entry.name.clone(),
                command: Some(entry.command.clone()),
                builtin: None,
                env,
                schedule: Some(entry.schedule.clone()),
                tz,
                timeout: None,
                retries: None,
                catchup: Catchup::Latest,
                overlap: Overlap::Skip,
                requires_target: false,
                active: true,
            };
            jobs::insert(tx, &def, now)?;
        }
        Ok(())
    })?;
    emit(&format!("imported {} jobs\n", entries.len()))?;
    Ok(0)
}
