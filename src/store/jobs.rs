//! Queries on the `jobs` table.

use super::parse_column;
use crate::builtin::Builtin;
use crate::job::{Catchup, Overlap};
use crate::time::Timestamp;
use crate::timetable::Timetable;
use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub command: Option<String>,
    pub builtin: Option<String>,
    /// Extra environment variables, a JSON object (`cronq import` sets it from the crontab).
    pub env: Option<String>,
    pub schedule: Option<String>,
    pub tz: String,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub catchup: Catchup,
    pub overlap: Overlap,
    pub requires_target: bool,
    pub active: bool,
    pub last_slot: Option<Timestamp>,
    pub next_slot: Option<Timestamp>,
    pub last_status: Option<String>,
    pub last_finished_at: Option<Timestamp>,
}

/// What `add` and `edit` write; the schedule state is derived from it.
#[derive(Clone, Debug)]
pub struct Definition {
    pub name: String,
    pub command: Option<String>,
    pub builtin: Option<String>,
    pub env: Option<String>,
    pub schedule: Option<String>,
    /// IANA zone the schedule is read in.
    pub tz: String,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub catchup: Catchup,
    pub overlap: Overlap,
    pub requires_target: bool,
    pub active: bool,
}

const COLUMNS: &str = "id, name, command, builtin, env, schedule, tz, timeout, retries, catchup, \
    overlap, requires_target, active, last_slot, next_slot, last_status, last_finished_at";

fn from_row(row: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        name: row.get(1)?,
        command: row.get(2)?,
        builtin: row.get(3)?,
        env: row.get(4)?,
        schedule: row.get(5)?,
        tz: row.get(6)?,
        timeout: row.get(7)?,
        retries: row.get(8)?,
        catchup: parse_column(row, 9)?,
        overlap: parse_column(row, 10)?,
        requires_target: row.get(11)?,
        active: row.get(12)?,
        last_slot: row.get(13)?,
        next_slot: row.get(14)?,
        last_status: row.get(15)?,
        last_finished_at: row.get(16)?,
    })
}

impl Job {
    pub fn definition(&self) -> Definition {
        Definition {
            name: self.name.clone(),
            command: self.command.clone(),
            builtin: self.builtin.clone(),
            env: self.env.clone(),
            schedule: self.schedule.clone(),
            tz: self.tz.clone(),
            timeout: self.timeout,
            retries: self.retries,
            catchup: self.catchup,
            overlap: self.overlap,
            requires_target: self.requires_target,
            active: self.active,
        }
    }
}

/// The first slot after `from` when the job is active and scheduled; `None` otherwise.
/// Expressions and zones are validated before they are stored, so a failure here is most
/// often a zone that cannot be read for a moment: the next pass after the next minute
/// tries again, and `cronq status` reports the job until it reads.
fn next_slot(def: &Definition, from: Timestamp) -> Option<Timestamp> {
    let expression = def.schedule.as_deref().filter(|_| def.active)?;
    match Timetable::parse(expression, &def.tz) {
        Ok(table) => table.next_slot_after(from),
        Err(e) => {
            log::warn!("{e}; its slots cannot be computed: a pass tries again next minute");
            Some(crate::time::next_minute(from))
        }
    }
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Job>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE name = ?1"))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs ORDER BY name");
    let mut stmt = conn.prepare(&sql)?;
    let jobs = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(jobs)
}

pub fn names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM jobs ORDER BY name")?;
    let names = stmt
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

/// Active scheduled jobs whose next slot is due at `now`: one index range, however many
/// jobs exist.
pub fn due(conn: &Connection, now: Timestamp) -> Result<Vec<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE next_slot <= ?1 ORDER BY next_slot, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let jobs = stmt
        .query_map([now], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(jobs)
}

/// Inserts a new job; its schedule starts at `now` (no retroactive runs).
pub fn insert(conn: &Connection, def: &Definition, now: Timestamp) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO jobs (name, command, builtin, schedule, timeout, retries, catchup, overlap, \
         requires_target, active, last_slot, next_slot, created_at, env, tz) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?11, ?13, ?14)",
    )?;
    stmt.execute(params![
        def.name,
        def.command,
        def.builtin,
        def.schedule,
        def.timeout,
        def.retries,
        def.catchup.as_str(),
        def.overlap.as_str(),
        def.requires_target,
        def.active,
        now,
        next_slot(def, now),
        def.env,
        def.tz,
    ])?;
    Ok(())
}

pub fn insert_builtin_job(conn: &Connection, builtin: Builtin, now: Timestamp) -> Result<()> {
    insert(
        conn,
        &Definition {
            name: builtin.name().to_string(),
            command: None,
            builtin: Some(builtin.name().to_string()),
            env: None,
            schedule: Some(builtin.default_schedule().to_string()),
            tz: "UTC".to_string(),
            timeout: None,
            retries: None,
            catchup: Catchup::Latest,
            overlap: Overlap::Skip,
            requires_target: false,
            active: true,
        },
        now,
    )
}

/// Rewrites a job's definition. When its schedule changes or it becomes active, the
/// schedule starts again from `now`: no retroactive runs.
pub fn update(conn: &Connection, old: &Job, def: &Definition, now: Timestamp) -> Result<()> {
    let restart = def.schedule != old.schedule || def.tz != old.tz || (def.active && !old.active);
    let (last_slot, next) = if restart {
        (Some(now), next_slot(def, now))
    } else if def.active {
        (old.last_slot, old.next_slot)
    } else {
        (old.last_slot, None)
    };
    conn.execute(
        "UPDATE jobs SET command = ?2, builtin = ?3, schedule = ?4, timeout = ?5, retries = ?6, \
         catchup = ?7, overlap = ?8, requires_target = ?9, active = ?10, last_slot = ?11, \
         next_slot = ?12, env = ?13, tz = ?14 WHERE id = ?1",
        params![
            old.id,
            def.command,
            def.builtin,
            def.schedule,
            def.timeout,
            def.retries,
            def.catchup.as_str(),
            def.overlap.as_str(),
            def.requires_target,
            def.active,
            last_slot,
            next,
            def.env,
            def.tz,
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
    Ok(())
}

/// Moves a job's schedule past the slots a pass has dealt with.
pub fn advance(
    conn: &Connection,
    id: i64,
    last_slot: Timestamp,
    next_slot: Option<Timestamp>,
) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("UPDATE jobs SET last_slot = ?2, next_slot = ?3 WHERE id = ?1")?;
    stmt.execute(params![id, last_slot, next_slot])?;
    Ok(())
}

/// Remembers the newest finished run's status, for `cronq jobs`.
pub fn record_last_result(
    conn: &Connection,
    name: &str,
    status: &str,
    at: Timestamp,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE jobs SET last_status = ?2, last_finished_at = ?3 WHERE name = ?1",
    )?;
    stmt.execute(params![name, status, at])?;
    Ok(())
}
