//! The password file libpq reads (`~/.pgpass`, or the file `PGPASSFILE` names), read the
//! same way, because the PostgreSQL client cronq uses does not. A password in `--db`
//! would stand in every crontab line and in every process listing; the file keeps it
//! out of both. Read only when the URL has no password.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

/// Where the connection goes, as the file's first four fields match it.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password file's path: `PGPASSFILE`, or `.pgpass` in the home directory.
pub fn path() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("PGPASSFILE").filter(|f| !f.is_empty()) {
        return Some(PathBuf::from(file));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".pgpass"))
}

/// The password for `target` from the password file, if it has one. As libpq does, a file
/// that group or other users can read is ignored, with a warning; so is one that is not a
/// regular file. A missing file is no error.
pub fn lookup(target: &Target) -> Option<String> {
    read(&path()?, target)
}

fn read(path: &std::path::Path, target: &Target) -> Option<String> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK) // a FIFO must not hang the open
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        log::warn!(
            "the password file {} is not a plain file; it was ignored",
            path.display()
        );
        return None;
    }
    if meta.mode() & 0o077 != 0 {
        log::warn!(
            "the password file {} was ignored: group or other users may read it; \
             fix it with: chmod 600 {}",
            path.display(),
            path.display()
        );
        return None;
    }
    let mut text = String::new();
    // A file larger than this is no password file.
    (&mut file).take(1 << 20).read_to_string(&mut text).ok()?;
    find(&text, target)
}

/// The password of the first line whose fields match `target` (`*` matches anything).
pub fn find(text: &str, target: &Target) -> Option<String> {
    let port = target.port.to_string();
    let wanted = [target.host, &port, target.database, target.user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split(line)?;
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// The five fields of a line, `\:` and `\\` unescaped; `None` for a line with fewer.
fn split(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            // Everything after the fourth colon is the password, colons included.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Target = Target {
        host: "db.example.org",
        port: 5432,
        database: "cronq",
        user: "cron",
    };

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let text = "# comment\n\
                    other.example.org:5432:cronq:cron:wrong\n\
                    db.example.org:5433:cronq:cron:wrong port\n\
                    db.example.org:*:cronq:cron:s3cret\n\
                    *:*:*:*:fallback\n";
        assert_eq!(find(text, &TARGET).as_deref(), Some("s3cret"));
        assert_eq!(
            find("*:*:*:*:fallback", &TARGET).as_deref(),
            Some("fallback")
        );
        assert_eq!(find("db.example.org:5432:other:cron:x", &TARGET), None);
        assert_eq!(find("", &TARGET), None);
    }

    #[test]
    fn colons_and_backslashes_are_escaped() {
        let text = r"db.example.org:5432:cronq:cron:a\:b\\c:d";
        assert_eq!(find(text, &TARGET).as_deref(), Some(r"a:b\c:d"));
        let host = Target {
            host: "fe80::1",
            ..TARGET
        };
        assert_eq!(
            find(r"fe80\:\:1:5432:cronq:cron:v6", &host).as_deref(),
            Some("v6")
        );
    }

    #[test]
    fn a_file_others_may_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        fs::write(&file, "*:*:*:*:s3cret\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&file, &TARGET).as_deref(), Some("s3cret"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&file, &TARGET), None);
        assert_eq!(read(dir.path(), &TARGET), None, "a directory");
        assert_eq!(read(&dir.path().join("missing"), &TARGET), None);
    }

    #[test]
    fn short_lines_match_nothing() {
        assert_eq!(find("db.example.org:5432:cronq:cron", &TARGET), None);
        assert_eq!(find("garbage", &TARGET), None);
    }
}
