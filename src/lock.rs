//! Locks beside the database, held as open files (the kernel releases them if the process
//! dies, so a crash never leaves one stuck):
//!
//! - the invocation lock, `<database>.lock`, held while a pass recovers, plans and claims,
//!   never while jobs execute; a second invocation that finds it taken exits at once;
//! - worker slots, `<database>.worker-N.lock` for N below `max_processes`, one held by
//!   each invocation while it executes runs.
//!
//! Both are opened without following a symbolic link and refused unless only their owner
//! controls them (`files`): a lock file another user could point elsewhere would let that
//! user choose which file a pass writes the heartbeat to.

use crate::files::{self, beside};
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held until dropped.
pub struct InvocationLock {
    file: File,
}

impl InvocationLock {
    /// Takes the lock without waiting; `None` when another invocation holds it.
    pub fn try_acquire(db: &Path) -> Result<Option<InvocationLock>> {
        Ok(try_lock(&lock_path(db))?.map(|file| InvocationLock { file }))
    }

    /// The open lock file (its modification time is the heartbeat).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// `<database>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    beside(db, ".lock")
}

/// One of `max_processes` places for invocations that execute runs.
pub struct WorkerSlot {
    _file: File,
}

impl WorkerSlot {
    /// Takes a free place among `max`; `None` when all are taken.
    pub fn try_acquire(db: &Path, max: i64) -> Result<Option<WorkerSlot>> {
        for index in 0..max {
            if let Some(file) = try_lock(&beside(db, &format!(".worker-{index}.lock")))? {
                return Ok(Some(WorkerSlot { _file: file }));
            }
        }
        Ok(None)
    }
}

fn try_lock(path: &Path) -> Result<Option<File>> {
    let opened = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if files::is_link(&e) => {
            let fix = format!(
                "Remove the link (cronq creates the file again) with: rm {}",
                path.display()
            );
            return Err(files::link_refused("the lock file", path, &fix));
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot open the lock file {}", path.display()))
        }
    };
    let meta = file
        .metadata()
        .with_context(|| format!("cannot look at the lock file {}", path.display()))?;
    files::ensure_owner_only("the lock file", path, &meta)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
