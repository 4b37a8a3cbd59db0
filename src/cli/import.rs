//! `cronq import FILE`: turn an existing crontab's lines into command jobs, all or nothing,
//! with their schedules read in the zone cron would read them in.

use super::output::emit;
use super::Context;
use crate::crontab::{self, Entry};
use crate::error::usage;
use crate::job::{Catchup, Overlap};
use crate::limits::{decode_utf8, MAX_CRONTAB_BYTES};
use crate::store::jobs::{self, Definition};
use crate::system_zone::{self, SystemZone};
use anyhow::Result;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A user crontab, as `crontab -l` prints it (`-` reads standard input), at most 4 MiB
    file: PathBuf,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let shown = args.file.display().to_string();
    let bytes = if args.file.as_os_str() == "-" {
        read_at_most(std::io::stdin().lock(), "standard input")?
    } else {
        read_file(&args.file)?
    };
    let text = decode_utf8(bytes).map_err(|line| {
        usage(format!(
            "{shown}: line {line}: not valid UTF-8; convert the crontab to UTF-8 (e.g. with \
             iconv -f latin1 -t utf-8); nothing was imported"
        ))
    })?;
    let mut users = HashMap::new();
    // Asked once per distinct word: a user lookup can go to the network (NSS).
    let known_user = |word: &str| {
        *users
            .entry(word.to_string())
            .or_insert_with(|| is_user(word))
    };
    let entries = crontab::parse(&text, known_user)
        .map_err(|e| usage(format!("{shown}: {e}; nothing was imported")))?;
    let zones = zones(&entries, &shown)?;
    let store = context.open()?;
    let now = context.clock.now();
    store.write(|tx| {
        for (entry, (tz, _)) in entries.iter().zip(&zones) {
            if jobs::get(tx, &entry.name)?.is_some() {
                return Err(usage(format!(
                    "{shown}: line {}: a job named '{}' already exists; name the line with a \
                     '# cronq: NAME' comment above it; nothing was imported",
                    entry.line, entry.name
                )));
            }
            let env = (!entry.env.is_empty()).then(|| serde_json::json!(entry.env).to_string());
            let def = Definition {
                name: entry.name.clone(),
                command: Some(entry.command.clone()),
                builtin: None,
                env,
                schedule: Some(entry.schedule.clone()),
                tz: tz.clone(),
                timeout: None,
                retries: None,
                catchup: Catchup::Latest,
                overlap: Overlap::Skip,
                requires_target: false,
                active: true,
            };
            jobs::insert(tx, &def, now)?;
        }
        Ok(())
    })?;
    emit(&format!("{}\n", summary(&zones)))?;
    Ok(0)
}

/// Opens a crontab file without waiting (a FIFO would block until a writer comes) and
/// reads it if it is a regular file of at most `MAX_CRONTAB_BYTES`.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| usage(format!("cannot read {shown}: {e}")))?;
    let metadata = file
        .metadata()
        .map_err(|e| usage(format!("cannot read {shown}: {e}")))?;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        Some("a socket or other special file")
    };
    if let Some(what) = what {
        return Err(usage(format!(
            "{shown} is {what}, not a regular file; import reads a crontab saved to a file \
             (crontab -l > my.crontab) or from standard input (cronq import -)"
        )));
    }
    if metadata.len() > MAX_CRONTAB_BYTES as u64 {
        return Err(too_large(&format!("{shown} has {} bytes", metadata.len())));
    }
    read_at_most(file, &shown.to_string())
}

/// Reads at most `MAX_CRONTAB_BYTES` (one more to tell that there is more), so that an
/// endless input (`< /dev/zero`) is refused instead of filling memory.
fn read_at_most(input: impl Read, shown: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    input
        .take(MAX_CRONTAB_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| usage(format!("cannot read {shown}: {e}")))?;
    if bytes.len() > MAX_CRONTAB_BYTES {
        return Err(too_large(&format!(
            "{shown} has more than {MAX_CRONTAB_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

fn too_large(what: &str) -> anyhow::Error {
    usage(format!(
        "{what}, and import reads at most 4 MiB ({MAX_CRONTAB_BYTES} bytes); a crontab of \
         10,000 jobs takes about 350 KB, so this is likely not a crontab; import a large one \
         in parts; nothing was imported"
    ))
}

/// Whether `name` is a user of this system, as cron checks a system crontab's user column.
fn is_user(name: &str) -> bool {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: an all-zero passwd is a valid value of the plain C struct, filled in below.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and the buffer's length is passed.
    let status = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    status == 0 && !found.is_null()
}

/// Each entry's zone and where it came from: its `CRON_TZ`, else the system's zone, as
/// cron reads it. The system's zone is looked for only when a line needs it.
fn zones(entries: &[Entry], shown: &str) -> Result<Vec<(String, &'static str)>> {
    let mut system: Option<SystemZone> = None;
    let mut zones = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(tz) = entry.env.get("CRON_TZ") {
            crate::timetable::parse_zone(tz).map_err(|e| {
                usage(format!(
                    "{shown}: line {}: CRON_TZ: {e}; nothing was imported",
                    entry.line
                ))
            })?;
            zones.push((tz.clone(), "CRON_TZ"));
            continue;
        }
        let zone = match &system {
            Some(zone) => zone,
            None => system.insert(system_zone(entry.line, shown)?),
        };
        zones.push((zone.name.clone(), zone.origin()));
    }
    Ok(zones)
}

/// The system's zone, checked, for a line without `CRON_TZ`; refused with a hint when it
/// cannot be named.
fn system_zone(line: usize, shown: &str) -> Result<SystemZone> {
    let ask = "; put a CRON_TZ=ZONE line at the top of the crontab (e.g. CRON_TZ=UTC or \
               CRON_TZ=Europe/Berlin); nothing was imported";
    let Some(zone) = system_zone::detect() else {
        return Err(usage(format!(
            "{shown}: line {line} has no CRON_TZ, so cron reads it in the system's time zone, \
             and that has no name cronq can find (TZ, the /etc/localtime link, \
             /etc/timezone){ask}"
        )));
    };
    crate::timetable::parse_zone(&zone.name).map_err(|e| {
        usage(format!(
            "{shown}: line {line} has no CRON_TZ, so cron reads it in the system's time zone \
             ({}): {e}{ask}",
            zone.origin()
        ))
    })?;
    Ok(zone)
}

/// `imported 3 jobs; their schedules are read in Europe/Berlin (the system's zone), as cron
/// does`, or with one count per zone when there are several.
fn summary(zones: &[(String, &'static str)]) -> String {
    let mut groups: Vec<(&str, &str, usize)> = Vec::new();
    for (zone, origin) in zones {
        match groups.iter_mut().find(|(z, o, _)| z == zone && o == origin) {
            Some(group) => group.2 += 1,
            None => groups.push((zone, origin, 1)),
        }
    }
    let count = zones.len();
    match groups[..] {
        [] => "imported 0 jobs".to_string(),
        [(zone, origin, 1)] => {
            format!("imported 1 job; its schedule is read in {zone} ({origin}), as cron does")
        }
        [(zone, origin, _)] => format!(
            "imported {count} jobs; their schedules are read in {zone} ({origin}), as cron does"
        ),
        _ => {
            let parts: Vec<String> = groups
                .iter()
                .map(|(zone, origin, n)| format!("{n} in {zone} ({origin})"))
                .collect();
            format!(
                "imported {count} jobs; their schedules are read as cron does: {}",
                parts.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(list: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        list.iter().map(|(z, o)| (z.to_string(), *o)).collect()
    }

    #[test]
    fn the_summary_names_each_zone_and_where_it_came_from() {
        assert_eq!(summary(&[]), "imported 0 jobs");
        assert_eq!(
            summary(&zones(&[("UTC", "the system's zone")])),
            "imported 1 job; its schedule is read in UTC (the system's zone), as cron does"
        );
        let berlin = ("Europe/Berlin", "from TZ");
        assert_eq!(
            summary(&zones(&[berlin, berlin, berlin])),
            "imported 3 jobs; their schedules are read in Europe/Berlin (from TZ), as cron does"
        );
        let tokyo = ("Asia/Tokyo", "CRON_TZ");
        assert_eq!(
            summary(&zones(&[berlin, tokyo, berlin])),
            "imported 3 jobs; their schedules are read as cron does: 2 in Europe/Berlin \
             (from TZ), 1 in Asia/Tokyo (CRON_TZ)"
        );
    }
}
