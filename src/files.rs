//! Files only their owner controls. Whoever can write the database, replace it, or point a
//! lock file elsewhere chooses the commands cronq runs, as the user who runs cronq. So,
//! like ssh with an `authorized_keys` file other users could change, cronq refuses:
//!
//! - a database, lock, WAL or shared-memory file that is not owned by the user running
//!   cronq (or root), or that group or others may write;
//! - a directory holding the database, or any directory above it, with the same faults,
//!   except a root-owned directory with the sticky bit (like `/tmp`), where others cannot
//!   rename or delete what is not theirs;
//! - a symbolic link as any of cronq's own files (a link in the directories above is
//!   resolved and the real directories are checked).
//!
//! The rules are a pure function of a file's owner and mode; the `stat` calls are at the
//! edge, as few as possible (an `fstat` on a file already open where there is one), since
//! every pass pays for them.

use crate::error::usage;
use anyhow::{Context, Result};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Write permission for the group and for others.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// The sticky bit: in such a directory only an entry's owner may rename or delete it.
const STICKY: u32 = 0o1000;
const ROOT: u32 = 0;

/// What is wrong with a file or directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Owned by neither the user running cronq nor root.
    OwnedByAnother,
    /// Group or others may write it.
    WritableByOthers,
}

/// The facts the rules look at, taken from a `stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    pub owner: u32,
    /// The permission bits, with setuid, setgid and sticky.
    pub mode: u32,
    pub is_dir: bool,
}

impl Facts {
    pub fn of(meta: &Metadata) -> Facts {
        Facts {
            owner: meta.uid(),
            mode: meta.mode() & 0o7777,
            is_dir: meta.is_dir(),
        }
    }
}

/// What lets a user other than `euid` (or root) control a file or directory with these
/// facts; `None` when nothing does.
pub fn judge(euid: u32, facts: Facts) -> Option<Fault> {
    if facts.owner != euid && facts.owner != ROOT {
        return Some(Fault::OwnedByAnother);
    }
    let shared_but_sticky = facts.is_dir && facts.owner == ROOT && facts.mode & STICKY != 0;
    if facts.mode & WRITABLE_BY_OTHERS != 0 && !shared_but_sticky {
        return Some(Fault::WritableByOthers);
    }
    None
}

/// Refuses `path` (described as `what`, e.g. "the database") with exit code 2 unless only
/// the user running cronq (or root) controls it.
pub fn ensure_owner_only(what: &str, path: &Path, meta: &Metadata) -> Result<()> {
    let facts = Facts::of(meta);
    let euid = effective_uid();
    let Some(fault) = judge(euid, facts) else {
        return Ok(());
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = |uid| user_name(&passwd, uid);
    Err(usage(refusal(what, path, facts, fault, euid, &name)))
}

/// Checks `real_dir`, a directory path without links (from `canonicalize`), and every
/// directory above it up to `/`: one `stat` each.
pub fn ensure_directories(real_dir: &Path) -> Result<()> {
    for dir in real_dir.ancestors() {
        let meta = std::fs::symlink_metadata(dir)
            .with_context(|| format!("cannot look at the directory {}", dir.display()))?;
        ensure_owner_only("the directory", dir, &meta)?;
    }
    Ok(())
}

/// Whether opening with `O_NOFOLLOW` failed because the last component is a link.
pub fn is_link(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

/// The exit-2 refusal of a symbolic link found where cronq keeps `what`; `fix` says what
/// to do about it.
pub fn link_refused(what: &str, path: &Path, fix: &str) -> anyhow::Error {
    usage(format!(
        "refusing {what} {}: it is a symbolic link, and cronq does not follow links to its \
         own files, since whoever can change a link chooses the file cronq writes. {fix}",
        path.display()
    ))
}

/// `<database><suffix>`: the lock files and SQLite's WAL files live beside the database.
pub fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The effective user id of this process: the one that owns what cronq creates.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

/// The message for a refused file: which file, its owner and mode, why, and the fix.
fn refusal(
    what: &str,
    path: &Path,
    facts: Facts,
    fault: Fault,
    euid: u32,
    name: &dyn Fn(u32) -> Option<String>,
) -> String {
    let shown = path.display();
    let who = |uid: u32| match name(uid) {
        Some(name) => format!("{name}, uid {uid}"),
        None => format!("uid {uid}"),
    };
    let found = format!(
        "{what} {shown} (owner {}, mode {:04o})",
        who(facts.owner),
        facts.mode
    );
    let changes = if facts.is_dir {
        "could replace the database in it"
    } else {
        "could change or block what cronq runs"
    };
    match fault {
        Fault::OwnedByAnother => {
            let me = name(euid).unwrap_or_else(|| euid.to_string());
            let owner = name(facts.owner).unwrap_or_else(|| format!("uid {}", facts.owner));
            format!(
                "refusing {found}: another user owns it and {changes}; cronq runs as {}. \
                 Run cronq as {owner}, or give it to {me} with: chown {me} {shown}",
                who(euid)
            )
        }
        Fault::WritableByOthers => {
            let fix = if facts.is_dir {
                format!("chmod go-w {shown}")
            } else {
                format!("chmod 600 {shown}")
            };
            format!(
                "refusing {found}: group or other users may write to it, and so {changes}. \
                 Fix it with: {fix}"
            )
        }
    }
}

/// The name of `uid` in the text of `/etc/passwd`. The file, not the C library's NSS
/// lookup: a statically linked binary cannot use NSS, and a message needs no more.
fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;
    const OTHER: u32 = 1001;

    fn file(owner: u32, mode: u32) -> Facts {
        Facts {
            owner,
            mode,
            is_dir: false,
        }
    }

    fn dir(owner: u32, mode: u32) -> Facts {
        Facts {
            owner,
            mode,
            is_dir: true,
        }
    }

    #[test]
    fn private_files_of_the_user_or_root_are_safe() {
        assert_eq!(judge(ME, file(ME, 0o600)), None);
        assert_eq!(judge(ME, file(ME, 0o644)), None);
        assert_eq!(judge(ME, file(ROOT, 0o644)), None);
        assert_eq!(judge(ROOT, file(ROOT, 0o600)), None);
        assert_eq!(judge(ME, dir(ME, 0o700)), None);
        assert_eq!(judge(ME, dir(ROOT, 0o755)), None);
    }

    #[test]
    fn another_users_file_is_refused_even_for_root() {
        assert_eq!(judge(ME, file(OTHER, 0o600)), Some(Fault::OwnedByAnother));
        assert_eq!(judge(ROOT, file(ME, 0o600)), Some(Fault::OwnedByAnother));
        assert_eq!(judge(ROOT, dir(ME, 0o700)), Some(Fault::OwnedByAnother));
    }

    #[test]
    fn write_access_for_group_or_others_is_refused() {
        assert_eq!(judge(ME, file(ME, 0o620)), Some(Fault::WritableByOthers));
        assert_eq!(judge(ME, file(ME, 0o602)), Some(Fault::WritableByOthers));
        assert_eq!(judge(ME, dir(ME, 0o770)), Some(Fault::WritableByOthers));
        assert_eq!(judge(ME, dir(ROOT, 0o775)), Some(Fault::WritableByOthers));
    }

    #[test]
    fn only_a_root_owned_sticky_directory_may_be_shared() {
        assert_eq!(judge(ME, dir(ROOT, 0o1777)), None);
        assert_eq!(judge(ME, dir(ME, 0o1777)), Some(Fault::WritableByOthers));
        assert_eq!(judge(ME, file(ROOT, 0o1666)), Some(Fault::WritableByOthers));
        assert_eq!(judge(ME, dir(OTHER, 0o1777)), Some(Fault::OwnedByAnother));
    }

    proptest::proptest! {
        #[test]
        fn taking_write_access_from_group_and_others_makes_ours_safe(
            euid in 0u32..3, mine: bool, mode in 0u32..0o7777, is_dir: bool,
        ) {
            let owner = if mine { euid } else { ROOT };
            let facts = Facts { owner, mode: mode & !WRITABLE_BY_OTHERS, is_dir };
            proptest::prop_assert_eq!(judge(euid, facts), None);
        }

        #[test]
        fn more_permissions_never_cure_a_fault(
            euid in 0u32..3, owner in 0u32..3, mode in 0u32..0o7777, more in 0u32..0o777,
            is_dir: bool,
        ) {
            let facts = Facts { owner, mode, is_dir };
            if judge(euid, facts).is_some() {
                let wider = Facts { mode: mode | more, ..facts };
                proptest::prop_assert!(judge(euid, wider).is_some());
            }
        }
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                          broken line\n";

    #[test]
    fn user_names_come_from_the_passwd_text() {
        assert_eq!(user_name(PASSWD, 0).as_deref(), Some("root"));
        assert_eq!(user_name(PASSWD, 65534).as_deref(), Some("nobody"));
        assert_eq!(user_name(PASSWD, 1000), None);
        assert_eq!(user_name("", 0), None);
    }

    fn names(uid: u32) -> Option<String> {
        user_name(PASSWD, uid)
    }

    #[test]
    fn a_refusal_names_the_file_its_owner_mode_and_fix() {
        let path = Path::new("/srv/cronq.db");
        let text = refusal(
            "the database",
            path,
            file(ROOT, 0o666),
            Fault::WritableByOthers,
            ROOT,
            &names,
        );
        assert!(text.contains("the database /srv/cronq.db (owner root, uid 0, mode 0666)"));
        assert!(
            text.ends_with("Fix it with: chmod 600 /srv/cronq.db"),
            "{text}"
        );

        let text = refusal(
            "the directory",
            Path::new("/srv"),
            dir(ROOT, 0o777),
            Fault::WritableByOthers,
            ROOT,
            &names,
        );
        assert!(text.ends_with("chmod go-w /srv"), "{text}");
    }

    #[test]
    fn a_refusal_of_another_users_file_says_whose_it_is() {
        let text = refusal(
            "the lock file",
            Path::new("/srv/cronq.db.lock"),
            file(65534, 0o600),
            Fault::OwnedByAnother,
            ROOT,
            &names,
        );
        assert!(
            text.contains("(owner nobody, uid 65534, mode 0600)"),
            "{text}"
        );
        assert!(text.contains("cronq runs as root, uid 0."), "{text}");
        assert!(
            text.ends_with(
                "Run cronq as nobody, or give it to root with: chown root /srv/cronq.db.lock"
            ),
            "{text}"
        );
        let unnamed = refusal(
            "the database",
            Path::new("/srv/cronq.db"),
            file(4242, 0o600),
            Fault::OwnedByAnother,
            1000,
            &names,
        );
        assert!(unnamed.contains("(owner uid 4242, mode 0600)"), "{unnamed}");
        assert!(unnamed.contains("chown 1000 /srv/cronq.db"), "{unnamed}");
    }
}
