//! Locks beside the database, held as open files (the kernel releases them if the process
//! dies, so a crash never leaves one stuck):
//!
//! - the invocation lock, `<database>.lock`, held while a pass recovers, plans and claims,
//!   never while jobs execute; a second invocation that finds it taken exits at once;
//! - worker slots, `<database>.worker-N.lock` for N below `max_processes`, one held by
//!   each invocation while it executes runs.

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

/// `<database><suffix>`.
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn try_lock(path: &Path) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
