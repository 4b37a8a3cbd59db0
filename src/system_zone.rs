//! The name of the system's time zone, the one cron reads a crontab without `CRON_TZ` in:
//! `TZ` from the environment if set, else the zone `/etc/localtime` links to, else
//! `/etc/timezone`. `import` gives it to such lines; a refused `--tz localtime` names it.
//!
//! cron reads the clock through the C library, which knows the zone only as a file; cronq
//! stores a zone by its IANA name, so the name is read from where the file was chosen.
//! `TZ` comes first so that `TZ=UTC cronq import …` can say which zone is meant.

use std::path::{Component, Path, PathBuf};

/// A zone name and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemZone {
    pub name: String,
    pub source: Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `TZ` environment variable.
    Tz,
    /// The `/etc/localtime` link or the `/etc/timezone` file.
    System,
}

impl SystemZone {
    /// Where the name came from, as a summary says it: `the system's zone`, `from TZ`.
    pub fn origin(&self) -> &'static str {
        match self.source {
            Source::Tz => "from TZ",
            Source::System => "the system's zone",
        }
    }
}

/// Finds the system's zone name, or `None` when no name can be found (then ask for one).
pub fn detect() -> Option<SystemZone> {
    let tz = std::env::var_os("TZ").map(|tz| tz.to_string_lossy().into_owned());
    let timezone_file = || {
        let text = std::fs::read_to_string("/etc/timezone").ok()?;
        Some(text.lines().next()?.trim().to_string())
    };
    find(
        tz.as_deref(),
        &|path| std::fs::read_link(path).ok(),
        &timezone_file,
    )
}

/// The rules of `detect`, with the file system passed in.
fn find(
    tz: Option<&str>,
    read_link: &dyn Fn(&Path) -> Option<PathBuf>,
    timezone_file: &dyn Fn() -> Option<String>,
) -> Option<SystemZone> {
    let found = |name: String, source| {
        Some(SystemZone {
            name: canonical(name),
            source,
        })
    };
    if let Some(tz) = tz {
        // POSIX: a leading ':' means "implementation-defined", for glibc a zone file.
        let tz = tz.strip_prefix(':').unwrap_or(tz);
        if tz.is_empty() {
            // glibc reads a set but empty TZ as UTC.
            return found("UTC".to_string(), Source::Tz);
        }
        if !tz.starts_with('/') {
            return found(tz.to_string(), Source::Tz);
        }
        let path = Path::new(tz);
        let name = name_in_zoneinfo(path).or_else(|| name_in_zoneinfo(&read_link(path)?))?;
        return found(name, Source::Tz);
    }
    if let Some(name) = read_link(Path::new("/etc/localtime"))
        .as_deref()
        .and_then(name_in_zoneinfo)
    {
        return found(name, Source::System);
    }
    found(timezone_file().filter(|n| !n.is_empty())?, Source::System)
}

/// `Europe/Berlin` from `/usr/share/zoneinfo/Europe/Berlin` or `../usr/share/zoneinfo/…`:
/// what follows the last `zoneinfo` directory.
fn name_in_zoneinfo(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    let zoneinfo = parts.iter().rposition(|&part| part == "zoneinfo")?;
    let name = parts[zoneinfo + 1..].join("/");
    (!name.is_empty()).then_some(name)
}

/// The name as cronq stores it: `posix/X` is the same zone as `X`, and `Etc/UTC` is UTC,
/// cronq's default.
fn canonical(name: String) -> String {
    match name.strip_prefix("posix/") {
        Some(rest) => canonical(rest.to_string()),
        None if name == "Etc/UTC" => "UTC".to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_link(_: &Path) -> Option<PathBuf> {
        None
    }

    fn no_file() -> Option<String> {
        None
    }

    fn tz(name: &str) -> Option<SystemZone> {
        Some(SystemZone {
            name: name.to_string(),
            source: Source::Tz,
        })
    }

    fn system(name: &str) -> Option<SystemZone> {
        Some(SystemZone {
            name: name.to_string(),
            source: Source::System,
        })
    }

    #[test]
    fn tz_comes_first_in_each_of_its_forms() {
        let berlin_link = |p: &Path| {
            (p == Path::new("/etc/localtime"))
                .then(|| PathBuf::from("/usr/share/zoneinfo/Europe/Berlin"))
        };
        assert_eq!(
            find(Some("Asia/Tokyo"), &berlin_link, &no_file),
            tz("Asia/Tokyo")
        );
        assert_eq!(
            find(Some(":Asia/Tokyo"), &berlin_link, &no_file),
            tz("Asia/Tokyo")
        );
        assert_eq!(find(Some(""), &berlin_link, &no_file), tz("UTC"));
        assert_eq!(
            find(
                Some("/usr/share/zoneinfo/America/New_York"),
                &no_link,
                &no_file
            ),
            tz("America/New_York")
        );
        assert_eq!(
            find(Some(":/etc/localtime"), &berlin_link, &no_file),
            tz("Europe/Berlin")
        );
        // A path outside any zoneinfo directory has no name: do not guess another zone.
        assert_eq!(find(Some("/tmp/zone"), &berlin_link, &no_file), None);
        // A POSIX rule is passed on; loading it as a zone then fails with its name.
        assert_eq!(
            find(Some("CET-1CEST,M3.5.0,M10.5.0/3"), &no_link, &no_file),
            tz("CET-1CEST,M3.5.0,M10.5.0/3")
        );
    }

    #[test]
    fn without_tz_the_localtime_link_names_the_zone() {
        let relative = |_: &Path| Some(PathBuf::from("../usr/share/zoneinfo/Europe/Berlin"));
        let debian = || Some("Asia/Tokyo".to_string());
        assert_eq!(find(None, &relative, &debian), system("Europe/Berlin"));
        let posix = |_: &Path| Some(PathBuf::from("/usr/share/zoneinfo/posix/Europe/Berlin"));
        assert_eq!(find(None, &posix, &no_file), system("Europe/Berlin"));
        let utc = |_: &Path| Some(PathBuf::from("/usr/share/zoneinfo/Etc/UTC"));
        assert_eq!(find(None, &utc, &no_file), system("UTC"));
        let elsewhere = |_: &Path| Some(PathBuf::from("/opt/zone"));
        assert_eq!(find(None, &elsewhere, &debian), system("Asia/Tokyo"));
    }

    #[test]
    fn then_etc_timezone_and_else_nothing() {
        let debian = || Some("Europe/Lisbon".to_string());
        assert_eq!(find(None, &no_link, &debian), system("Europe/Lisbon"));
        let empty = || Some(String::new());
        assert_eq!(find(None, &no_link, &empty), None);
        assert_eq!(find(None, &no_link, &no_file), None);
    }
}
