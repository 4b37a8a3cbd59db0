//! Queries on the `pings` table: every monitoring ping of a run, delivered, pending or
//! given up (docs/pings.md).

use super::sql::{Conn, Row};
use crate::params;
use crate::ping::Kind;
use crate::time::Timestamp;
use anyhow::Result;

/// A ping as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    pub id: i64,
    pub run_id: i64,
    pub attempt: i64,
    pub kind: Kind,
    pub url: String,
    pub body: Vec<u8>,
    pub created_at: Timestamp,
    pub tries: i64,
    pub next_try: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Where a ping stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Delivered,
    /// A later pass tries again.
    Pending,
    /// Not tried again.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Delivered => "delivered",
            State::Pending => "pending",
            State::Failed => "failed",
        }
    }
}

impl Ping {
    pub fn state(&self) -> State {
        if self.delivered_at.is_some() {
            State::Delivered
        } else if self.next_try.is_some() {
            State::Pending
        } else {
            State::Failed
        }
    }
}

/// A ping from the columns of `due_pings` and `pings_of`, in their order.
fn from_row(row: &Row) -> Result<Ping> {
    Ok(Ping {
        id: row.int(0)?,
        run_id: row.int(1)?,
        attempt: row.int(2)?,
        kind: row.parse(3)?,
        url: row.text(4)?,
        body: row.bytes(5)?.unwrap_or_default(),
        created_at: row.int(6)?,
        tries: row.int(7)?,
        next_try: row.opt_int(8)?,
        delivered_at: row.opt_int(9)?,
        last_error: row.opt_text(10)?,
    })
}

/// How the first try of a new ping went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried {
    /// Tries made: 0 when it was not tried yet.
    pub tries: i64,
    pub next_try: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Records a ping of run `run_id`'s attempt `attempt`, made at `now`.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    db: &dyn Conn,
    run_id: i64,
    attempt: i64,
    kind: Kind,
    url: &str,
    body: &[u8],
    now: Timestamp,
    tried: &Tried,
) -> Result<()> {
    db.execute(
        db.sql().insert_ping,
        params![
            run_id,
            attempt,
            kind.as_str(),
            url,
            body,
            now,
            tried.tries,
            tried.next_try,
            tried.delivered_at,
            tried.last_error.as_deref(),
        ],
    )?;
    Ok(())
}

/// Up to `limit` pings due for another try at `now`, the longest waiting first.
pub fn due(db: &dyn Conn, now: Timestamp, limit: i64) -> Result<Vec<Ping>> {
    db.query(db.sql().due_pings, params![now, limit])?
        .iter()
        .map(from_row)
        .collect()
}

/// Takes a due ping for this process until `until`, so that no other pass sends it
/// meanwhile; false when another took it first.
pub fn lease(db: &dyn Conn, id: i64, now: Timestamp, until: Timestamp) -> Result<bool> {
    Ok(db.execute(db.sql().lease_ping, params![id, now, until])? == 1)
}

/// Records one more try of a ping: delivered at `delivered_at`, or failed with `error`
/// and tried again at `next_try` (`None`: not again).
pub fn tried(
    db: &dyn Conn,
    id: i64,
    next_try: Option<Timestamp>,
    delivered_at: Option<Timestamp>,
    error: Option<&str>,
) -> Result<()> {
    db.execute(
        db.sql().ping_tried,
        params![id, next_try, delivered_at, error],
    )?;
    Ok(())
}

/// The pings of a run, in the order they were made.
pub fn of_run(db: &dyn Conn, run_id: i64) -> Result<Vec<Ping>> {
    db.query(db.sql().pings_of, params![run_id])?
        .iter()
        .map(from_row)
        .collect()
}

/// Deletes up to `limit` delivered or given-up pings made before `before`.
pub fn delete_old(db: &dyn Conn, before: Timestamp, limit: i64) -> Result<usize> {
    db.execute(db.sql().delete_old_pings, params![before, limit])
}
