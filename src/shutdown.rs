//! Graceful shutdown on SIGTERM or SIGINT: no new runs start, running jobs get the
//! `shutdown_grace` to finish, then their process groups are killed and their runs go back
//! to the queue (docs/daemon.md).

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

static REQUESTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Makes SIGTERM and SIGINT request a shutdown instead of ending the process at once.
pub fn install() -> Result<()> {
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&REQUESTED))
            .context("cannot install the shutdown signal handler")?;
    }
    Ok(())
}

/// Whether a shutdown was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
