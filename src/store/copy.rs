//! Moving an installation from SQLite to PostgreSQL: every job (with its schedule state),
//! every setting that was set and the whole history of runs (with their monitoring
//! pings), copied in one transaction into a database that holds nothing yet, keeping the
//! run ids that jobs and operators know. All or nothing: a failure leaves the target as it
//! was.

use super::sql::{Conn, Field, Value};
use super::Store;
use crate::error::usage;
use crate::params;
use anyhow::Result;

/// Every column of `jobs`, in both schemas.
const JOB_COLUMNS: &str = "id, name, command, builtin, env, schedule, tz, timeout, retries, \
    catchup, overlap, requires_target, active, last_slot, next_slot, last_status, \
    last_finished_at, created_at, last_host, ping";
/// Where `requires_target` and `active` stand: booleans in PostgreSQL, 0/1 in SQLite.
const JOB_BOOLEANS: [usize; 2] = [11, 12];

/// Every column of `runs`, in both schemas.
const RUN_COLUMNS: &str = "id, job, slot, status, priority, due_at, attempt, max_attempts, \
    target_id, target_type, data, created_at, claimed_at, started_at, finished_at, \
    duration_ms, exit_code, error, output, owner_host, owner_boot_id, owner_pid, \
    owner_started, pgid, pgid_started, claim, started_boot, interruptions, stop_requested";
/// Where `output` stands: bytes in PostgreSQL, text or a blob in SQLite.
const RUN_OUTPUT: usize = 18;

/// Every column of `attempts`, in both schemas, and where its output stands.
const ATTEMPT_COLUMNS: &str =
    "run_id, attempt, host, started_at, finished_at, duration_ms, exit_code, error, output";
const ATTEMPT_OUTPUT: usize = 8;

/// Every column of `pings`, in both schemas.
const PING_COLUMNS: &str = "id, run_id, attempt, kind, url, body, created_at, tries, next_try, \
    delivered_at, last_error";

/// Runs read and written per round trip.
const BATCH: i64 = 500;

/// What was copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub jobs: usize,
    pub settings: usize,
    pub runs: usize,
}

/// Copies the SQLite database `from` into the empty PostgreSQL database `to`. Refused
/// while a run is running (stop the passes first) and when `to` holds anything but the
/// built-in jobs a new database starts with.
pub fn sqlite_to_postgres(from: &Store, to: &Store) -> Result<Copied> {
    let source = from.conn();
    let running = source.query_one("SELECT count(*) FROM runs WHERE status = 'running'", &[])?;
    if running.int(0)? > 0 {
        return Err(usage(format!(
            "{} has {} running run(s): stop cronq's passes (the crontab lines, the daemon) \
             and let them end before copying, so that nothing changes during the copy",
            from.location(),
            running.int(0)?
        )));
    }
    to.write(|target| {
        ensure_empty(target, to)?;
        // The built-in jobs of the new database give way to the source's own.
        target.execute("DELETE FROM jobs", &[])?;
        let mut copied = Copied::default();
        let jobs = source.query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id"), &[])?;
        let insert_job = insert_sql("jobs", JOB_COLUMNS);
        for row in &jobs {
            let mut values: Vec<Value> = row.0.iter().map(value).collect();
            for i in JOB_BOOLEANS {
                if let Value::Int(v) = values[i] {
                    values[i] = Value::Bool(v != 0);
                }
            }
            target.execute(&insert_job, &values)?;
            copied.jobs += 1;
        }
        for row in source.query("SELECT key, value FROM settings ORDER BY key", &[])? {
            target.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)",
                params![&row.text(0)?, &row.text(1)?],
            )?;
            copied.settings += 1;
        }
        // The web screens' tokens keep working: only their hashes are stored.
        for row in source.query(
            "SELECT name, role, hash, created_at, last_used FROM web_tokens ORDER BY name",
            &[],
        )? {
            let values: Vec<Value> = row.0.iter().map(value).collect();
            target.execute(
                "INSERT INTO web_tokens (name, role, hash, created_at, last_used) \
                 VALUES ($1, $2, $3, $4, $5)",
                &values,
            )?;
        }
        let insert_run = insert_sql("runs", RUN_COLUMNS);
        let select_runs =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE id > ?1 ORDER BY id LIMIT ?2");
        let mut after = 0;
        loop {
            let batch = source.query(&select_runs, params![after, BATCH])?;
            for row in &batch {
                let mut values: Vec<Value> = row.0.iter().map(value).collect();
                if let Value::Text(text) = values[RUN_OUTPUT] {
                    values[RUN_OUTPUT] = Value::Bytes(text.as_bytes());
                }
                target.execute(&insert_run, &values)?;
                after = row.int(0)?;
                copied.runs += 1;
            }
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
        let attempts = source.query(
            &format!("SELECT {ATTEMPT_COLUMNS} FROM attempts ORDER BY run_id, attempt"),
            &[],
        )?;
        let insert_attempt = insert_sql("attempts", ATTEMPT_COLUMNS);
        for row in &attempts {
            let mut values: Vec<Value> = row.0.iter().map(value).collect();
            if let Value::Text(text) = values[ATTEMPT_OUTPUT] {
                values[ATTEMPT_OUTPUT] = Value::Bytes(text.as_bytes());
            }
            target.execute(&insert_attempt, &values)?;
        }
        // Monitoring pings: what was delivered, and what later passes still try.
        let insert_ping = insert_sql("pings", PING_COLUMNS);
        for row in source.query(
            &format!("SELECT {PING_COLUMNS} FROM pings ORDER BY id"),
            &[],
        )? {
            let values: Vec<Value> = row.0.iter().map(value).collect();
            target.execute(&insert_ping, &values)?;
        }
        // New rows continue after the copied ids.
        for table in ["jobs", "runs", "pings"] {
            target.query(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )?;
        }
        Ok(copied)
    })
}

/// Refuses a target that already holds runs, settings or jobs of its own.
fn ensure_empty(target: &dyn Conn, to: &Store) -> Result<()> {
    let row = target.query_one(
        "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM settings), \
         (SELECT count(*) FROM jobs WHERE builtin IS NULL OR builtin <> name)",
        &[],
    )?;
    let (runs, settings, jobs) = (row.int(0)?, row.int(1)?, row.int(2)?);
    if runs + settings + jobs > 0 {
        return Err(usage(format!(
            "{} is not empty ({jobs} job(s), {settings} setting(s), {runs} run(s)): copy \
             into a new database, so that nothing in it is lost or mixed; nothing was copied",
            to.location()
        )));
    }
    Ok(())
}

fn insert_sql(table: &str, columns: &str) -> String {
    let count = columns.split(',').count();
    let placeholders: Vec<String> = (1..=count).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE VALUES ({})",
        placeholders.join(", ")
    )
}

fn value(field: &Field) -> Value<'_> {
    match field {
        Field::Null => Value::Null,
        Field::Int(v) => Value::Int(*v),
        Field::Bool(v) => Value::Bool(*v),
        Field::Text(v) => Value::Text(v),
        Field::Bytes(v) => Value::Bytes(v),
    }
}
