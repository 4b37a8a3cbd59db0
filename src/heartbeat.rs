//! The heartbeat: every pass that takes the invocation lock writes its time to
//! `<database>.heartbeat`, so `cronq status` can tell whether passes are running. A file
//! rather than a row, so that an idle pass still writes nothing to the database.

use crate::lock::beside;
use crate::time::Timestamp;
use std::path::Path;

pub fn beat(db: &Path, now: Timestamp) {
    if let Err(e) = std::fs::write(beside(db, ".heartbeat"), format!("{now}\n")) {
        log::warn!("cannot write the heartbeat beside {}: {e}", db.display());
    }
}

/// The time of the last pass, if any pass left a readable heartbeat.
pub fn last(db: &Path) -> Option<Timestamp> {
    std::fs::read_to_string(beside(db, ".heartbeat"))
        .ok()?
        .trim()
        .parse()
        .ok()
}
