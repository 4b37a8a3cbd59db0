//! The invocation lock: a file beside the database, held while a pass plans and claims,
//! never while jobs execute. A second invocation that finds it taken exits at once.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held until dropped; the kernel releases it if the process dies.
pub struct InvocationLock {
    _file: File,
}

/// `<database>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl InvocationLock {
    /// Takes the lock without waiting; `None` when another invocation holds it.
    pub fn try_acquire(db: &Path) -> Result<Option<InvocationLock>> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InvocationLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}
