//! Opening an SQLite database safely: the file and the directories above it only their
//! owner controls, no link followed, no empty database put in place of one that vanished,
//! the schema created or migrated, SQLite tuned for many short-lived processes.

use crate::builtin::Builtin;
use crate::error::usage;
use crate::files::{self, beside};
use crate::quiet;
use crate::store::sql::Conn;
use crate::store::{jobs, vanished};
use crate::time::Timestamp;
use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The version `schema.sql` creates; kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 3;
const SCHEMA: &str = include_str!("../../../schema.sql");

/// How a database of each older version becomes the next one: `MIGRATIONS[v - 1]` takes
/// version `v` to `v + 1`. Each runs in one transaction with the version bump.
const MIGRATIONS: [&str; (SCHEMA_VERSION - 1) as usize] = [
    // 1 -> 2: fenced claims, the boot-clock start, bounded shutdown requeues.
    "ALTER TABLE runs ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN started_boot INTEGER;
     ALTER TABLE runs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE jobs ADD COLUMN last_host TEXT;",
    // 2 -> 3: an operator's request to stop a running run; the web screens' tokens; the
    // earlier attempts of retried runs; monitoring pings.
    "ALTER TABLE runs ADD COLUMN stop_requested INTEGER;
     CREATE TABLE web_tokens (
         name       TEXT PRIMARY KEY,
         role       TEXT NOT NULL CHECK (role IN ('read', 'operator')),
         hash       TEXT NOT NULL UNIQUE,
         created_at INTEGER NOT NULL,
         last_used  INTEGER
     ) WITHOUT ROWID;
     CREATE TABLE attempts (
         run_id      INTEGER NOT NULL,
         attempt     INTEGER NOT NULL,
         host        TEXT,
         started_at  INTEGER,
         finished_at INTEGER NOT NULL,
         duration_ms INTEGER,
         exit_code   INTEGER,
         error       TEXT,
         output      BLOB,
         PRIMARY KEY (run_id, attempt)
     );
     ALTER TABLE jobs ADD COLUMN ping TEXT;
     CREATE TABLE pings (
         id           INTEGER PRIMARY KEY,
         run_id       INTEGER NOT NULL,
         attempt      INTEGER NOT NULL,
         kind         TEXT NOT NULL,
         url          TEXT NOT NULL,
         body         BLOB,
         created_at   INTEGER NOT NULL,
         tries        INTEGER NOT NULL DEFAULT 0,
         next_try     INTEGER,
         delivered_at INTEGER,
         last_error   TEXT
     );
     CREATE INDEX pings_due ON pings (next_try) WHERE next_try IS NOT NULL;
     CREATE INDEX pings_by_run ON pings (run_id);",
];

/// How long a statement waits for another invocation's write transaction, in attempts
/// about a millisecond apart (after the first `QUICK_ATTEMPTS`).
const BUSY_ATTEMPTS: i32 = QUICK_ATTEMPTS + 30_000;

/// The first tries come 50 µs apart: a pass's transactions hold the lock for a fraction
/// of a millisecond, and parallel mode's workers take it several times per run, so a
/// millisecond's sleep at every meeting would leave the cores idle.
const QUICK_ATTEMPTS: i32 = 20;

/// A cronq database in an SQLite file: the connection, and the path it was opened by.
pub struct Database {
    pub conn: Connection,
    pub path: PathBuf,
    /// `<database>.quiet`, where the connection notes each commit (`quiet`). Boxed: SQLite
    /// holds its address; declared after `conn`, so it outlives the connection.
    _commits: Option<Box<fs::File>>,
}

impl Database {
    /// Opens the database at `path`, creating it (mode 0600, with the schema) when it does
    /// not exist. A file that is not a cronq database, or one from a newer cronq, is
    /// refused and left exactly as it was; so are a database, a `-wal` or `-shm` file, or a
    /// directory above them that another user could change, and a database that is a
    /// symbolic link (`files`). A database that is gone after cronq used it is not replaced
    /// by an empty one (`vanished`).
    pub fn open(path: &Path, now: Timestamp) -> Result<Database> {
        let shown = path.display();
        let name = path.file_name().ok_or_else(|| {
            usage(format!(
                "{shown} does not name a file; --db must name a database file, e.g. {}",
                path.join("cronq.db").display()
            ))
        })?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // SQLite gets the real path: with SQLITE_OPEN_NOFOLLOW it refuses a link anywhere in
        // the path, and only the last component is cronq's to refuse.
        let real = prepare_directory(dir)?.join(name);
        let mut file = match open_file(path, &real)? {
            Some(file) => file,
            None => {
                vanished::refuse_if_used(path, now)?;
                create_empty(&real)?;
                open_file(path, &real)?.with_context(|| {
                    format!("the database {shown} vanished while it was being created")
                })?
            }
        };
        let mut header = [0u8; 16];
        let read = file
            .read(&mut header)
            .with_context(|| format!("cannot read the database {shown}"))?;
        // An empty file is a new database to SQLite; anything else must say so.
        if read > 0 && header != *b"SQLite format 3\0" {
            bail!(
                "{shown} is not an SQLite database, so not a cronq database; it was left \
                 untouched. Point --db (or CRONQ_DB) at another path, or move the file away."
            );
        }
        // Closed before SQLite opens the file: closing any descriptor of a file drops every
        // POSIX lock this process holds on it, SQLite's included, and another process could
        // then take this connection's WAL for unused and corrupt the database.
        drop(file);
        check_wal_files(path, &real)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(&real, flags)
            .with_context(|| format!("cannot open the database {shown}"))?;
        conn.busy_handler(Some(wait_for_lock))?;
        let version = user_version(&conn, path)?;
        if version > SCHEMA_VERSION {
            bail!(
                "{shown} was written by a newer cronq (schema version {version}; this cronq knows \
                 {SCHEMA_VERSION}); upgrade cronq. The database was left untouched."
            );
        }
        // A new database gets the file once it is known to be ours (`create_schema`
        // refuses a foreign one); an existing one before it is migrated, so that the
        // migration's commits are noted.
        let commits = match version {
            0 => None,
            _ => Some(commits_file(&conn, path)?),
        };
        let mut store = Database {
            conn,
            path: path.to_path_buf(),
            _commits: commits,
        };
        if version == 0 {
            store.create_schema(now)?;
            store._commits = Some(commits_file(&store.conn, path)?);
        } else if version < SCHEMA_VERSION {
            store.migrate()?;
        }
        // Only now that the file is known to be ours: a refused file must not be left with
        // WAL files beside it.
        keep_wal_files_empty(&store.conn)?;
        // Per connection, not stored in the file: WAL makes a crash safe without an fsync per
        // commit; a power cut may lose the last moments, which recovery treats as a crash.
        store.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(store)
    }

    /// Runs `work` in a `BEGIN IMMEDIATE` transaction, committing only when it succeeds.
    /// It takes `&self` so that a running job's claim check can read while the runner
    /// records the job's process group; SQLite itself refuses a nested `BEGIN`.
    pub fn write<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        self.write_sqlite(|tx| work(tx))
    }

    /// `write`: SQLite has one writer at a time whatever the write, and a statement on
    /// its own that reads first and takes the write lock later could fail without
    /// waiting (another commit in between makes its snapshot stale). `Store::write_one`.
    pub fn write_one<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        self.write(work)
    }

    /// `write`: SQLite has one writer at a time whatever the write. `Store::write_fenced`.
    pub fn write_fenced<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        self.write(work)
    }

    /// `write`, with SQLite's own API for the schema's pragmas. `BEGIN IMMEDIATE` and
    /// `COMMIT` are statements prepared once per connection, like every other: a drain
    /// ran three transactions per run when this was measured, and parsing them each time
    /// was a sixth of its instructions.
    fn write_sqlite<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let failure = describe_failure(&self.path);
        run_cached(&self.conn, "BEGIN IMMEDIATE").with_context(|| failure.clone())?;
        // Rolls back unless the commit below went through (an error, or a panic).
        let open = OpenTransaction(&self.conn);
        let value = work(&self.conn)?;
        run_cached(&self.conn, "COMMIT").context(failure)?;
        std::mem::forget(open);
        Ok(value)
    }

    /// Gives the pages that deleted rows freed back to the file system, in small steps,
    /// each its own short transaction with a pause after it, so waiting passes get in.
    pub fn reclaim_space(&self, pause: Duration) -> Result<()> {
        loop {
            let free: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
            if free == 0 {
                break;
            }
            self.write_sqlite(|tx| {
                pragma(tx, &format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            })?;
            std::thread::sleep(pause);
        }
        // Passive: copies what it can without making anyone wait.
        pragma(&self.conn, "PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// Brings a database of an older version up to `SCHEMA_VERSION`, one version per
    /// transaction; another invocation that migrated first leaves nothing to do.
    fn migrate(&mut self) -> Result<()> {
        let shown = self.path.display().to_string();
        loop {
            let done = self.write_sqlite(|tx| {
                let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
                let Some(step) = usize::try_from(version - 1)
                    .ok()
                    .and_then(|i| MIGRATIONS.get(i))
                else {
                    return Ok(true);
                };
                tx.execute_batch(step)?;
                tx.pragma_update(None, "user_version", version + 1)?;
                log::info!(
                    "{shown}: schema upgraded from version {version} to {}",
                    version + 1
                );
                Ok(false)
            })?;
            if done {
                return Ok(());
            }
        }
    }

    fn create_schema(&mut self, now: Timestamp) -> Result<()> {
        let shown = self.path.display().to_string();
        // Refuse another program's database before anything below writes to the file.
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .with_context(|| describe_failure(&self.path))?;
        if tables > 0 {
            if user_version(&self.conn, &self.path)? == SCHEMA_VERSION {
                // Another invocation created it between our two reads.
                return Ok(());
            }
            bail!(
                "{shown} is an SQLite database of something else (it has tables but no cronq \
                 version); it was left untouched. Point --db at another path."
            );
        }
        // Both must come before the first table: auto_vacuum lets Cleanup give space back.
        self.conn
            .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        self.conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .with_context(|| describe_failure(&self.path))?;
        self.write_sqlite(|tx| {
            // Another invocation may have created it while this one waited for the lock.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if version != 0 {
                return Ok(());
            }
            tx.execute_batch(SCHEMA)?;
            for builtin in Builtin::ALL {
                jobs::insert_builtin_job(tx, *builtin, now)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Ok(())
        })
    }
}

/// SQLite's busy handler: try again soon, then every millisecond, for about 30 s. Its
/// default backs off to 100 ms between tries, so a waiter could sleep through every short
/// gap between another process's transactions (Cleanup's batches) and starve.
fn wait_for_lock(attempt: i32) -> bool {
    if attempt >= BUSY_ATTEMPTS {
        return false;
    }
    std::thread::sleep(if attempt < QUICK_ATTEMPTS {
        Duration::from_micros(50)
    } else {
        Duration::from_millis(1)
    });
    true
}

/// The schema version the database says it has (0: none yet).
fn user_version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .with_context(|| describe_failure(path))
}

/// Runs a statement that returns no rows, prepared once per connection.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// A transaction `write_sqlite` began; dropped before its commit, it rolls back.
struct OpenTransaction<'c>(&'c Connection);

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            if let Err(e) = self.0.execute_batch("ROLLBACK") {
                log::warn!("cannot roll back a failed transaction: {e}");
            }
        }
    }
}

/// Opens `<database>.quiet` and makes SQLite note each commit of `conn` in it (`quiet`),
/// through its WAL hook, which it calls once a commit is done. The hook takes the place
/// of SQLite's own, which checkpoints the WAL once it holds 1,000 frames: `after_commit`
/// checkpoints too, less often.
fn commits_file(conn: &Connection, path: &Path) -> Result<Box<fs::File>> {
    let commits = Box::new(quiet::open(path, true)?);
    note_commits(conn, &commits);
    Ok(commits)
}

fn note_commits(conn: &Connection, commits: &fs::File) {
    // SAFETY: `commits` is boxed in the `Database` that owns `conn` and is dropped after
    // it, so the pointer is valid whenever SQLite calls the hook.
    unsafe {
        rusqlite::ffi::sqlite3_wal_hook(
            conn.handle(),
            Some(after_commit),
            (commits as *const fs::File).cast_mut().cast(),
        );
    }
}

/// Checkpoint when a commit leaves this many frames (pages) in the WAL: about 40 MB.
/// SQLite's default is 1,000, which in a drain (about ten frames a run, most of them the
/// same few table and index pages again) meant a checkpoint every hundred runs, each
/// copying those pages once more and syncing two files: a sixth of a drain's time, and
/// parallel mode's workers waited on each other's. The WAL is emptied when the last
/// connection closes, as before.
const AUTOCHECKPOINT_FRAMES: std::ffi::c_int = 10_000;

unsafe extern "C" fn after_commit(
    commits: *mut std::ffi::c_void,
    db: *mut rusqlite::ffi::sqlite3,
    name: *const std::ffi::c_char,
    frames: std::ffi::c_int,
) -> std::ffi::c_int {
    // SAFETY: the pointer `note_commits` registered, valid while the connection lives.
    let file = unsafe { &*(commits as *const fs::File) };
    quiet::note_commit(file);
    if frames >= AUTOCHECKPOINT_FRAMES {
        // As SQLite's own hook: a checkpoint that cannot finish now is tried again later.
        // SAFETY: SQLite passes its own connection and the database's name.
        unsafe { rusqlite::ffi::sqlite3_wal_checkpoint(db, name) };
    }
    rusqlite::ffi::SQLITE_OK
}

/// Asks SQLite to keep the `-wal` and `-shm` files when the last connection closes, but
/// empty. Every pass would otherwise create, size and delete both: most of an idle pass's
/// file-system work (keeping them is best effort: without it everything works, only
/// slower). And a kept WAL full of old frames costs every later open a third of a
/// millisecond, so the WAL is cut back to nothing whenever it is reset or closed. Public
/// for the tests that play another program set up as cronq's connections are.
pub fn keep_wal_files_empty(conn: &Connection) -> rusqlite::Result<()> {
    let mut keep: std::ffi::c_int = 1;
    // SAFETY: the handle is valid for the life of `conn`; SQLITE_FCNTL_PERSIST_WAL reads
    // and writes one int through the pointer, which outlives the call.
    unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut keep as *mut std::ffi::c_int).cast(),
        );
    }
    conn.pragma_update(None, "journal_size_limit", 0)
}

fn describe_failure(path: &Path) -> String {
    format!(
        "cannot use the database {} (if it is damaged, check it with \
         sqlite3 {} 'PRAGMA integrity_check'; cronq does not modify a damaged file)",
        path.display(),
        path.display()
    )
}

/// Resolves the database's directory to its real path (links resolved), creating it with
/// mode 0700 when missing, and refuses it, or any directory above it, when another user
/// could change it. What exists is checked before anything is created inside it.
fn prepare_directory(dir: &Path) -> Result<PathBuf> {
    let real = match fs::canonicalize(dir) {
        Ok(real) => real,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let existing = dir
                .ancestors()
                .skip(1)
                .map(|a| {
                    if a.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        a
                    }
                })
                .find_map(|a| fs::canonicalize(a).ok());
            if let Some(existing) = existing {
                files::ensure_directories(&existing)?;
            }
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
            fs::canonicalize(dir)
                .with_context(|| format!("cannot find the directory {}", dir.display()))?
        }
        Err(e) => bail!("cannot use the directory {}: {e}", dir.display()),
    };
    files::ensure_directories(&real)?;
    Ok(real)
}

/// Opens the database file `real` (shown as `path`) to read its header, without following
/// a link, and refuses it unless only its owner controls it; `None` when there is no file.
fn open_file(path: &Path, real: &Path) -> Result<Option<fs::File>> {
    let shown = path.display();
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(real)
    {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if files::is_link(&e) => {
            return Err(files::link_refused(
                "the database",
                path,
                "Point --db (or CRONQ_DB) at the file the link points to.",
            ))
        }
        Err(e) => bail!("cannot open the database {shown}: {e}"),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("cannot look at the database {shown}"))?;
    if meta.is_dir() {
        return Err(usage(format!(
            "{shown} is a directory; --db must name a database file, e.g. {}",
            path.join("cronq.db").display()
        )));
    }
    files::ensure_owner_only("the database", path, &meta)?;
    Ok(Some(file))
}

/// Refuses SQLite's `-wal` and `-shm` files beside the database, when present, if another
/// user could change them (whoever writes the WAL writes the database), or if they are
/// links (SQLite would fail on them with a message that names neither). One `lstat` each.
fn check_wal_files(path: &Path, real: &Path) -> Result<()> {
    for suffix in ["-wal", "-shm"] {
        let shown = beside(path, suffix);
        let meta = match fs::symlink_metadata(beside(real, suffix)) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => bail!("cannot look at {}: {e}", shown.display()),
        };
        let what = format!("SQLite's {suffix} file");
        if meta.file_type().is_symlink() {
            let fix = format!(
                "Stop cronq, then move the file the link points to in its place, or remove \
                 the link with: rm {}",
                shown.display()
            );
            return Err(files::link_refused(&what, &shown, &fix));
        }
        files::ensure_owner_only(&what, &shown, &meta)?;
    }
    Ok(())
}

/// Creates the database file with mode 0600 before SQLite opens it, so it is never
/// readable by others, not even for a moment. Another invocation may create it first.
fn create_empty(path: &Path) -> Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create the database {}", path.display())),
    }
}

/// Free pages given back to the file system per transaction.
const VACUUM_PAGES: i64 = 256;

/// Runs a pragma that may or may not return rows.
fn pragma(conn: &Connection, sql: &str) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}
