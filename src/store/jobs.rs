//! Queries on the `jobs` table.

use super::sql::{Conn, Row};
use crate::builtin::Builtin;
use crate::job::{Catchup, Overlap};
use crate::params;
use crate::time::Timestamp;
use crate::timetable::Timetable;
use anyhow::Result;

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
    /// The host that ran the newest finished run.
    pub last_host: Option<String>,
    /// The monitoring URL its runs are reported to (`--ping`, docs/pings.md).
    pub ping: Option<String>,
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

/// A job from the columns `Sql`'s job queries return, in their order.
fn from_row(row: &Row) -> Result<Job> {
    Ok(Job {
        id: row.int(0)?,
        name: row.text(1)?,
        command: row.opt_text(2)?,
        builtin: row.opt_text(3)?,
        env: row.opt_text(4)?,
        schedule: row.opt_text(5)?,
        tz: row.text(6)?,
        timeout: row.opt_int(7)?,
        retries: row.opt_int(8)?,
        catchup: row.parse(9)?,
        overlap: row.parse(10)?,
        requires_target: row.bool(11)?,
        active: row.bool(12)?,
        last_slot: row.opt_int(13)?,
        next_slot: row.opt_int(14)?,
        last_status: row.opt_text(15)?,
        last_finished_at: row.opt_int(16)?,
        last_host: row.opt_text(17)?,
        ping: row.opt_text(18)?,
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

pub fn get(db: &dyn Conn, name: &str) -> Result<Option<Job>> {
    db.query_opt(db.sql().job_by_name, params![name])?
        .map(|row| from_row(&row))
        .transpose()
}

pub fn list(db: &dyn Conn) -> Result<Vec<Job>> {
    db.query(db.sql().jobs_by_name, &[])?
        .iter()
        .map(from_row)
        .collect()
}

pub fn names(db: &dyn Conn) -> Result<Vec<String>> {
    db.query(db.sql().job_names, &[])?
        .iter()
        .map(|row| row.text(0))
        .collect()
}

/// Active scheduled jobs whose next slot is due at `now`: one index range, however many
/// jobs exist.
pub fn due(db: &dyn Conn, now: Timestamp) -> Result<Vec<Job>> {
    db.query(db.sql().due_jobs, params![now])?
        .iter()
        .map(from_row)
        .collect()
}

/// Inserts a new job; its schedule starts at `now` (no retroactive runs).
pub fn insert(db: &dyn Conn, def: &Definition, now: Timestamp) -> Result<()> {
    db.execute(
        db.sql().insert_job,
        params![
            &def.name,
            &def.command,
            &def.builtin,
            &def.schedule,
            def.timeout,
            def.retries,
            def.catchup.as_str(),
            def.overlap.as_str(),
            def.requires_target,
            def.active,
            now,
            next_slot(def, now),
            &def.env,
            &def.tz,
        ],
    )?;
    Ok(())
}

pub fn insert_builtin_job(db: &dyn Conn, builtin: Builtin, now: Timestamp) -> Result<()> {
    insert(
        db,
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
pub fn update(db: &dyn Conn, old: &Job, def: &Definition, now: Timestamp) -> Result<()> {
    let restart = def.schedule != old.schedule || def.tz != old.tz || (def.active && !old.active);
    let (last_slot, next) = if restart {
        (Some(now), next_slot(def, now))
    } else if def.active {
        (old.last_slot, old.next_slot)
    } else {
        (old.last_slot, None)
    };
    db.execute(
        db.sql().update_job,
        params![
            old.id,
            &def.command,
            &def.builtin,
            &def.schedule,
            def.timeout,
            def.retries,
            def.catchup.as_str(),
            def.overlap.as_str(),
            def.requires_target,
            def.active,
            last_slot,
            next,
            &def.env,
            &def.tz,
        ],
    )?;
    Ok(())
}

pub fn delete(db: &dyn Conn, id: i64) -> Result<()> {
    db.execute(db.sql().delete_job, params![id])?;
    Ok(())
}

/// Moves a job's schedule past the slots a pass has dealt with.
pub fn advance(
    db: &dyn Conn,
    id: i64,
    last_slot: Timestamp,
    next_slot: Option<Timestamp>,
) -> Result<()> {
    db.execute(db.sql().advance_job, params![id, last_slot, next_slot])?;
    Ok(())
}

/// Remembers the newest finished run's status, for `cronq jobs`, with the host that ran
/// it (`None` for a run nobody ran). Of runs that end in the same second with the same
/// status, the first recorded stays: the row is not written again (on PostgreSQL, hosts
/// draining one job would otherwise wait for each other on it at every run).
pub fn record_last_result(
    db: &dyn Conn,
    name: &str,
    status: &str,
    at: Timestamp,
    host: Option<&str>,
) -> Result<()> {
    db.execute(db.sql().record_last_result, params![name, status, at, host])?;
    Ok(())
}

/// Jobs whose newest finished run failed, with when, by name.
pub fn failing(db: &dyn Conn) -> Result<Vec<(String, Option<Timestamp>)>> {
    db.query(db.sql().failing_jobs, &[])?
        .iter()
        .map(|row| Ok((row.text(0)?, row.opt_int(1)?)))
        .collect()
}

/// The `limit` soonest next slots, with their jobs.
pub fn next_slots(db: &dyn Conn, limit: i64) -> Result<Vec<(String, Timestamp)>> {
    db.query(db.sql().next_slots, params![limit])?
        .iter()
        .map(|row| Ok((row.text(0)?, row.int(1)?)))
        .collect()
}

/// Sets or removes (`None`) the monitoring URL of the job `name`; kept apart from the
/// definition, which `add`, `edit`, `import` and the web screens share.
pub fn set_ping(db: &dyn Conn, name: &str, url: Option<&str>) -> Result<()> {
    db.execute(db.sql().set_job_ping, params![name, url])?;
    Ok(())
}
