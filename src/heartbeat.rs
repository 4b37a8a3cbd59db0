//! The heartbeat: every pass that takes the invocation lock sets the lock file's
//! modification time to the pass's time, so `cronq status` can tell whether passes are
//! running. One `futimens` on a file already open, and nothing written to the database: an
//! idle pass stays cheap and leaves the database untouched.

use crate::lock::{lock_path, InvocationLock};
use crate::time::Timestamp;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

pub fn beat(lock: &InvocationLock, now: Timestamp) {
    let at = UNIX_EPOCH + Duration::from_secs(now.max(0) as u64);
    if let Err(e) = lock.file().set_modified(at) {
        log::warn!("cannot record the heartbeat: {e}");
    }
}

/// The time of the last pass, if any pass ran. A link planted as the lock file is not
/// followed (and a pass refuses it).
pub fn last(db: &Path) -> Option<Timestamp> {
    let modified = std::fs::symlink_metadata(lock_path(db))
        .ok()?
        .modified()
        .ok()?;
    let seconds = match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    Some(seconds)
}
