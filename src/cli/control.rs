//! `cronq stop RUN_ID`, `cronq cancel RUN_ID` and `cronq retry RUN_ID`: an operator's
//! hand on one run. Each is one write transaction of `crate::control`, which says what is
//! refused and why (exit 2).

use super::output::emit;
use super::Context;
use crate::control;
use crate::store::runs;
use anyhow::Result;

/// Who cancels a run from the command line, as its reason says.
const CANCELED_BY: &str = "an operator (command line)";

#[derive(clap::Args)]
pub struct StopArgs {
    /// The running run to stop (see `cronq runs --status running`)
    #[arg(value_name = "RUN_ID")]
    id: i64,
}

#[derive(clap::Args)]
pub struct CancelArgs {
    /// The pending run to cancel (see `cronq runs --status pending`)
    #[arg(value_name = "RUN_ID")]
    id: i64,
}

#[derive(clap::Args)]
pub struct RetryArgs {
    /// The failed, skipped or missed run to run again (see `cronq runs`)
    #[arg(value_name = "RUN_ID")]
    id: i64,
}

/// Asks the host that runs the run to stop it; that host's runner carries it out.
pub fn stop(args: StopArgs, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    let run = store.write(|tx| {
        control::stop(tx, args.id, now)?;
        runs::get(tx, args.id)
    })?;
    let host = run
        .and_then(|run| run.host)
        .unwrap_or_else(|| "?".to_string());
    log::info!(
        "run {}: stop requested; its runner on host {host} stops the job within about {} s \
         and records the run failed, without a retry",
        args.id,
        crate::run::CLAIM_CHECK_EVERY.as_secs()
    );
    Ok(0)
}

/// Ends a pending run without running it.
pub fn cancel(args: CancelArgs, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| control::cancel(tx, args.id, CANCELED_BY, now))?;
    log::info!("run {} canceled", args.id);
    Ok(0)
}

/// Queues a new run like an ended one; prints its id.
pub fn retry(args: RetryArgs, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    let id = store.write(|tx| control::retry(tx, args.id, now))?;
    log::info!("run {} queued again as run {id}", args.id);
    emit(&format!("{id}\n"))?;
    Ok(0)
}
