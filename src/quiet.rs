//! The quiet mark: how an idle pass on SQLite knows that nothing is due without opening
//! the database.
//!
//! Opening an SQLite database costs more than everything else an idle pass does: SQLite
//! parses the whole schema on the first statement. Yet most passes find the database as
//! the last pass left it. So a pass that found nothing to do leaves a mark in
//! `<database>.quiet`: when the first job slot, pending run or ping retry falls due, and
//! what the database looked like when it looked. The next pass holds the mark against the
//! database; while nothing changed and that time has not come, nothing can be due, and the
//! pass is over without opening it.
//!
//! "Nothing changed" is told two ways:
//!
//! - **cronq's own commits**: every connection cronq opens appends one byte to the same
//!   file after each commit (SQLite's WAL hook runs once the commit is done). The mark
//!   records the file's length as it was before the pass looked: a commit the pass did
//!   not see appends after that, and the lengths differ.
//! - **anyone else's**: the mark holds a fingerprint of the database file and its `-wal`
//!   file (device, inode, size, modification time, headers), taken before the pass looked
//!   and compared with the files after it closed the database; a mark is written only if
//!   they were the same.
//!
//! A mark is never written while a run is marked running (recovery must look at those
//! every pass) nor for PostgreSQL (other hosts write), and it holds for at most
//! `HOLDS_FOR` seconds and never across a clock step backwards: even a change made outside
//! cronq that no fingerprint caught is seen within five minutes.

use crate::files::beside;
use crate::time::Timestamp;
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The longest a mark holds, in seconds, whatever it says.
pub const HOLDS_FOR: i64 = 300;

/// The mark's place at the start of the file; commits append after it.
const MARK_BYTES: u64 = 1024;

/// Past this length a pass that is about to look starts the file over.
const RESET_AFTER: u64 = 64 * 1024;

/// What the file says first when it holds a mark. A mark in another format holds nothing.
const FORMAT: &str = "cronq quiet mark 1";

/// The database files as a pass saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

/// A pass's word that nothing was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub fingerprint: Fingerprint,
    /// The file's length before the pass looked: one byte more for every commit since.
    pub commits: u64,
    /// When the pass looked.
    pub looked_at: Timestamp,
    /// When the first thing falls due; `None`: nothing is scheduled.
    pub quiet_until: Option<Timestamp>,
}

impl Mark {
    /// Whether nothing can be due at `now` in a database whose files look like `files`
    /// and whose file of commits is `commits` bytes long.
    pub fn holds(&self, files: &Fingerprint, commits: u64, now: Timestamp) -> bool {
        self.fingerprint == *files
            && self.commits == commits
            && self.looked_at <= now
            && now < self.looked_at.saturating_add(HOLDS_FOR)
            && self.quiet_until.is_none_or(|until| now < until)
    }

    fn to_text(&self) -> String {
        let until = self
            .quiet_until
            .map_or_else(|| "-".to_string(), |t| t.to_string());
        format!(
            "{FORMAT} {} {} {until} {}\n",
            self.commits, self.looked_at, self.fingerprint.0
        )
    }

    fn from_text(text: &str) -> Option<Mark> {
        let line = text.strip_prefix(FORMAT)?.strip_prefix(' ')?;
        let line = &line[..line.find('\n')?];
        let mut words = line.splitn(4, ' ');
        let commits = words.next()?.parse().ok()?;
        let looked_at = words.next()?.parse().ok()?;
        let quiet_until = match words.next()? {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        let fingerprint = words.next().filter(|f| !f.is_empty() && !f.contains(' '))?;
        Some(Mark {
            fingerprint: Fingerprint(fingerprint.to_string()),
            commits,
            looked_at,
            quiet_until,
        })
    }
}

/// The fingerprint of the database file and its `-wal` file; `None` when either cannot
/// be read, is a link, or is not owner-only (such a pass opens the database, where the
/// file checks say what is wrong). Opens and closes both files: call it only while this
/// process has no connection to the database, since closing any descriptor of a file
/// drops this process's POSIX locks on it, SQLite's included.
pub fn fingerprint(db: &Path) -> Option<Fingerprint> {
    let mut print = String::with_capacity(400);
    for (path, header) in [(db.to_path_buf(), 100), (beside(db, "-wal"), 32)] {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .ok()?;
        let meta = file.metadata().ok()?;
        crate::files::ensure_owner_only("the database", &path, &meta).ok()?;
        print.push_str(&format!(
            "{}:{}:{}:{}.{}:",
            meta.dev(),
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        ));
        let mut bytes = [0u8; 100];
        let read = read_start(&file, &mut bytes[..header])?;
        for byte in &bytes[..read] {
            print.push_str(&format!("{byte:02x}"));
        }
        print.push('/');
    }
    Some(Fingerprint(print))
}

/// Reads the start of a file (up to `buf`'s length); `None` on an error.
fn read_start(file: &File, buf: &mut [u8]) -> Option<usize> {
    let mut read = 0;
    while read < buf.len() {
        match file.read_at(&mut buf[read..], read as u64) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(read)
}

/// `<database>.quiet`.
pub fn path(db: &Path) -> PathBuf {
    beside(db, ".quiet")
}

/// Opens (creating it, mode 0600) the database's file of commits and marks, refusing a
/// link or a file others control, as for the lock file.
pub fn open(db: &Path, append: bool) -> Result<File> {
    let path = path(db);
    let file = OpenOptions::new()
        .read(!append)
        .write(!append)
        .append(append)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| {
            if crate::files::is_link(&e) {
                let fix = format!(
                    "Remove the link (cronq creates the file again) with: rm {}",
                    path.display()
                );
                crate::files::link_refused("the file of commits", &path, &fix)
            } else {
                anyhow::Error::new(e).context(format!("cannot open {}", path.display()))
            }
        })?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot look at {}", path.display()))?;
    crate::files::ensure_owner_only("the file of commits", &path, &meta)?;
    Ok(file)
}

/// The file of a pass that holds the invocation lock: the mark it finds, and its length
/// now (started over first when it grew long: only a pass about to look may do that).
pub fn before_looking(file: &File) -> Option<(Option<Mark>, u64)> {
    let mut length = file.metadata().ok()?.len();
    let mut text = [0u8; MARK_BYTES as usize];
    let read = read_start(file, &mut text)?;
    let mark = std::str::from_utf8(&text[..read])
        .ok()
        .and_then(Mark::from_text);
    if !(MARK_BYTES..=RESET_AFTER).contains(&length) {
        file.set_len(0).ok()?;
        file.set_len(MARK_BYTES).ok()?;
        length = MARK_BYTES;
        return Some((None, length));
    }
    Some((mark, length))
}

/// Writes `mark` at the start of the file, which the caller's invocation lock keeps to
/// it. Best effort: without a mark the next pass opens the database.
pub fn write(file: &File, mark: &Mark) {
    let mut text = mark.to_text().into_bytes();
    if text.len() > MARK_BYTES as usize {
        log::debug!("the quiet mark is too long for its place; not written");
        return;
    }
    text.resize(MARK_BYTES as usize, b' ');
    if let Err(e) = file.write_all_at(&text, 0) {
        // A half-written mark does not parse, and so holds nothing.
        log::debug!("cannot write the quiet mark: {e}");
    }
}

/// What every connection does after each commit: one byte more in the file.
pub fn note_commit(file: &File) {
    use std::io::Write;
    let mut file = file;
    if let Err(e) = file.write_all(b".") {
        // The fingerprint still sees the commit; a pass of at most five minutes' delay
        // would be the cost if it did not.
        log::warn!("cannot note a commit for the idle passes: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn mark(looked_at: Timestamp, quiet_until: Option<Timestamp>) -> Mark {
        Mark {
            fingerprint: Fingerprint("1:2:3:4.5:53514c69/1:9:0:4.5:/".into()),
            commits: 1024,
            looked_at,
            quiet_until,
        }
    }

    #[test]
    fn a_mark_holds_only_for_the_same_files_and_commits_before_anything_falls_due() {
        let m = mark(1000, Some(1060));
        let same = m.fingerprint.clone();
        assert!(m.holds(&same, 1024, 1000));
        assert!(m.holds(&same, 1024, 1059));
        assert!(
            !m.holds(&same, 1024, 1060),
            "the slot at 1060 is due at 1060"
        );
        assert!(!m.holds(&same, 1025, 1001), "a commit since");
        assert!(!m.holds(&Fingerprint("other".into()), 1024, 1001));
        assert!(!m.holds(&same, 1024, 999), "the clock stepped back");
    }

    #[test]
    fn a_mark_holds_for_five_minutes_at_most() {
        let m = mark(1000, None);
        assert!(m.holds(&m.fingerprint, 1024, 1000 + HOLDS_FOR - 1));
        assert!(!m.holds(&m.fingerprint, 1024, 1000 + HOLDS_FOR));
        let far = mark(1000, Some(1_000_000));
        assert!(!far.holds(&far.fingerprint, 1024, 1000 + HOLDS_FOR));
    }

    #[test]
    fn anything_but_a_whole_mark_holds_nothing() {
        let text = mark(1000, Some(1060)).to_text();
        for cut in 0..text.len() {
            assert_eq!(Mark::from_text(&text[..cut]), None, "{:?}", &text[..cut]);
        }
        assert_eq!(
            Mark::from_text(&text.replace("mark 1", "mark 2")),
            None,
            "another format"
        );
        assert_eq!(Mark::from_text(&"..........".repeat(30)), None);
    }

    proptest! {
        #[test]
        fn a_mark_reads_back_as_written(
            commits in any::<u64>(),
            looked_at in any::<i64>(),
            until in proptest::option::of(any::<i64>()),
            print in "[0-9a-f:./]{1,80}",
        ) {
            let m = Mark { fingerprint: Fingerprint(print), commits, looked_at, quiet_until: until };
            prop_assert_eq!(Mark::from_text(&m.to_text()), Some(m));
        }
    }

    #[test]
    fn the_fingerprint_sees_what_another_program_writes_and_not_what_it_reads() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("x.db");
        // Another program's connections, keeping the WAL file, empty, as cronq's do.
        let open = || {
            let conn = rusqlite::Connection::open(&db).unwrap();
            crate::store::sqlite::keep_wal_files_empty(&conn).unwrap();
            conn
        };
        let conn = open();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        drop(conn);
        let before = fingerprint(&db).expect("the kept WAL file");
        let reader = open();
        reader
            .query_row("SELECT count(*) FROM t", [], |_| Ok(()))
            .unwrap();
        drop(reader);
        assert_eq!(
            fingerprint(&db),
            Some(before.clone()),
            "a read changes nothing"
        );
        let longest = Mark {
            fingerprint: before.clone(),
            commits: u64::MAX,
            looked_at: i64::MIN,
            quiet_until: Some(i64::MIN),
        };
        assert!(
            longest.to_text().len() <= MARK_BYTES as usize,
            "a mark fits its place"
        );
        // A commit made while another connection stays open stays in the WAL.
        let holder = open();
        holder
            .query_row("SELECT count(*) FROM t", [], |_| Ok(()))
            .unwrap();
        let writer = open();
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        drop(writer);
        drop(holder);
        assert_ne!(fingerprint(&db), Some(before));
        std::fs::remove_file(beside(&db, "-wal")).unwrap();
        assert_eq!(fingerprint(&db), None, "no WAL file, no fingerprint");
    }

    #[test]
    fn a_pass_finds_the_mark_it_left_and_every_commit_since_changes_the_length() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("x.db");
        let pass = open(&db, false).unwrap();
        let (found, length) = before_looking(&pass).unwrap();
        assert_eq!((found, length), (None, MARK_BYTES));
        let m = Mark {
            commits: length,
            ..mark(1000, Some(1060))
        };
        write(&pass, &m);
        let (found, again) = before_looking(&pass).unwrap();
        assert_eq!((found.as_ref(), again), (Some(&m), length));
        let writer = open(&db, true).unwrap();
        note_commit(&writer);
        let (found, after) = before_looking(&pass).unwrap();
        assert_eq!(after, length + 1);
        assert!(!found.unwrap().holds(&m.fingerprint, after, 1001));
    }

    #[test]
    fn a_long_file_starts_over_before_a_pass_looks() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("x.db");
        let writer = open(&db, true).unwrap();
        for _ in 0..(RESET_AFTER + 1) / 64 + 1 {
            (&writer).write_all(&[b'.'; 64]).unwrap();
        }
        let pass = open(&db, false).unwrap();
        assert_eq!(before_looking(&pass).unwrap(), (None, MARK_BYTES));
        assert_eq!(pass.metadata().unwrap().len(), MARK_BYTES);
    }

    #[test]
    fn a_link_in_place_of_the_file_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("x.db");
        std::os::unix::fs::symlink("/etc/passwd", path(&db)).unwrap();
        let refused = open(&db, true).unwrap_err().to_string();
        assert!(refused.contains("symbolic link"), "{refused}");
    }
}
