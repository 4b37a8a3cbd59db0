//! `cronq run`: one pass, silent when all is well.

use super::Context;
use crate::pass;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn execute(_args: Args, context: &Context) -> Result<u8> {
    crate::shutdown::install()?;
    let summary = pass::run_pass(&context.db_path()?, &context.clock)?;
    // Each failure was already logged to stderr (so cron mails it).
    Ok(if summary.failed > 0 { 1 } else { 0 })
}
