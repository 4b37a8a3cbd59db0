//! A database that vanished. Creating the database where none exists is right on first
//! use and wrong after it: a database deleted under a crontab or a daemon would be replaced
//! by an empty one, every schedule gone without a word, and `status` would say ok. The
//! files cronq leaves beside a database it used tell the two apart: the lock file (every
//! pass takes it, and its modification time is the heartbeat), the file of commits
//! (`quiet`) and SQLite's `-wal` and `-shm`. A daemon also remembers which file it started with, so it notices a deleted
//! directory (which takes those files with it) or a file put in the database's place.
//!
//! Such a database is an operation that failed (exit code 1, so that cron mails it), not
//! bad input: nothing the command line says can fix it.

use crate::files::beside;
use crate::heartbeat;
use crate::lock::lock_path;
use crate::time::{format_time, human_duration, Timestamp};
use anyhow::Result;
use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The database cronq used is gone or is another file now.
#[derive(Debug)]
pub struct Vanished(String);

impl fmt::Display for Vanished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Vanished {}

/// Whether `error` says that the database vanished (which stops a daemon).
pub fn is_vanished(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.is::<Vanished>())
}

/// Refuses to create a database at `db` when files beside it show that cronq used one
/// there. `now` is for the message ("the last pass ran 5m ago").
pub fn refuse_if_used(db: &Path, now: Timestamp) -> Result<()> {
    let leftovers = leftovers(db);
    if leftovers.is_empty() {
        return Ok(());
    }
    Err(gone(db, "is gone", heartbeat::last(db), now, &leftovers))
}

/// Which file a path named: its device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    device: u64,
    inode: u64,
}

impl Identity {
    /// The file at `db` now (a link is not followed), if there is one.
    pub fn of(db: &Path) -> Option<Identity> {
        let meta = fs::symlink_metadata(db).ok()?;
        Some(Identity {
            device: meta.dev(),
            inode: meta.ino(),
        })
    }
}

/// Fails when `db` no longer names the file `known` named: deleted (with or without its
/// directory) or replaced. One `lstat`.
pub fn ensure_same(db: &Path, known: Identity, now: Timestamp) -> Result<()> {
    match Identity::of(db) {
        Some(identity) if identity == known => Ok(()),
        Some(_) => Err(anyhow::Error::new(Vanished(format!(
            "the database {} was replaced by another file while the daemon ran; the daemon \
             stops rather than go on with a database it did not start with. If the new file \
             is the one to use (a restored backup), start the daemon again.",
            db.display()
        )))),
        None => Err(gone(
            db,
            "was deleted while the daemon ran",
            heartbeat::last(db),
            now,
            &leftovers(db),
        )),
    }
}

/// The files beside `db` that a cronq using it leaves: one `lstat` each.
fn leftovers(db: &Path) -> Vec<PathBuf> {
    [
        lock_path(db),
        crate::quiet::path(db),
        beside(db, "-wal"),
        beside(db, "-shm"),
    ]
    .into_iter()
    .filter(|file| fs::symlink_metadata(file).is_ok())
    .collect()
}

/// The message: what happened, when the last pass ran, and the two ways on.
fn gone(
    db: &Path,
    happened: &str,
    last_pass: Option<Timestamp>,
    now: Timestamp,
    leftovers: &[PathBuf],
) -> anyhow::Error {
    let when = match last_pass {
        Some(t) => format!(
            "the last pass ran at {} ({} ago)",
            format_time(t),
            human_duration(now - t)
        ),
        None => "no pass time is known".to_string(),
    };
    let afresh = if leftovers.is_empty() {
        "start cronq again".to_string()
    } else {
        let names: Vec<String> = leftovers.iter().map(|f| f.display().to_string()).collect();
        format!("remove {}", names.join(" "))
    };
    anyhow::Error::new(Vanished(format!(
        "the database {} {happened}, though cronq used it: {when}. cronq does not put an \
         empty database in its place, which would drop every job without a word. Restore \
         the database from a backup; or, to start afresh on purpose, {afresh}",
        db.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_when_the_last_pass_ran_and_which_files_to_remove() {
        let db = Path::new("/srv/cronq.db");
        let leftovers = [PathBuf::from("/srv/cronq.db.lock")];
        let error = gone(db, "is gone", Some(1_000), 1_300, &leftovers);
        assert!(is_vanished(&error));
        let text = error.to_string();
        assert!(
            text.starts_with("the database /srv/cronq.db is gone"),
            "{text}"
        );
        assert!(
            text.contains("the last pass ran at 1970-01-01T00:16:40Z (5m ago)"),
            "{text}"
        );
        assert!(
            text.ends_with("to start afresh on purpose, remove /srv/cronq.db.lock"),
            "{text}"
        );
    }

    #[test]
    fn with_nothing_left_beside_it_starting_again_starts_afresh() {
        let error = gone(Path::new("db"), "was deleted", None, 0, &[]);
        let text = error.to_string();
        assert!(text.contains("no pass time is known"), "{text}");
        assert!(text.ends_with("start cronq again"), "{text}");
    }

    #[test]
    fn other_errors_are_not_a_vanished_database() {
        assert!(!is_vanished(&anyhow::anyhow!("database is locked")));
    }
}
