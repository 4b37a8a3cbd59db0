//! The one interface both backends offer (SQLite and PostgreSQL): statements with
//! positional parameters, and rows of plain values. The queries in `jobs`, `runs` and
//! `settings` are written once against it; each backend brings its own SQL text for every
//! statement (`Sql`), its own schema, and its own way to open, lock and migrate.

use anyhow::{anyhow, Result};

/// A parameter of a statement.
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::Text)
    }
}

/// Builds a parameter list: `params![id, name, None::<i64>]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::sql::Value::from($value)),*] as &[$crate::store::sql::Value]
    };
}

/// A value read from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// One row of a result, its fields in the statement's column order.
#[derive(Clone, Debug)]
pub struct Row(pub Vec<Field>);

impl Row {
    fn field(&self, i: usize) -> Result<&Field> {
        self.0
            .get(i)
            .ok_or_else(|| anyhow!("the database returned no column {i}"))
    }

    fn mismatch(&self, i: usize, wanted: &str) -> anyhow::Error {
        anyhow!(
            "the database returned {:?} in column {i} where {wanted} was expected",
            self.0.get(i)
        )
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.field(i)? {
            Field::Null => Ok(None),
            Field::Int(v) => Ok(Some(*v)),
            Field::Bool(v) => Ok(Some(i64::from(*v))),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or_else(|| self.mismatch(i, "an integer"))
    }

    /// A boolean: SQLite stores them as 0 and 1.
    pub fn bool(&self, i: usize) -> Result<bool> {
        match self.field(i)? {
            Field::Bool(v) => Ok(*v),
            Field::Int(v) => Ok(*v != 0),
            _ => Err(self.mismatch(i, "a boolean")),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.field(i)? {
            Field::Null => Ok(None),
            Field::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "text"))
    }

    /// Bytes; text is taken as its UTF-8 bytes (output written by older releases).
    pub fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.field(i)? {
            Field::Null => Ok(None),
            Field::Bytes(v) => Ok(Some(v.clone())),
            Field::Text(v) => Ok(Some(v.clone().into_bytes())),
            _ => Err(self.mismatch(i, "bytes")),
        }
    }

    /// A text column holding one of a set of words (`FromStr`).
    pub fn parse<T: std::str::FromStr<Err = String>>(&self, i: usize) -> Result<T> {
        self.text(i)?.parse().map_err(|e: String| anyhow!(e))
    }
}

/// A connection, or a transaction on one. Methods take `&self`: a running job's claim
/// check reads while the runner holds the store (each backend guards its own state).
/// See `Sql::read_back`.
pub struct ReadBack {
    pub inserted_id: &'static str,
    pub claimed: &'static str,
}

pub trait Conn {
    /// This backend's text for each statement.
    fn sql(&self) -> &'static Sql;
    /// Runs a statement; returns the number of rows it changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize>;
    /// Runs a query; returns every row.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// The first row, if any.
    fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row a query must return.
    fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| anyhow!("the database returned no row for: {sql}"))
    }
}

/// Every statement cronq runs, in one backend's SQL. Parameters are positional (`?1` in
/// SQLite, `$1` in PostgreSQL) and mean the same in both texts; so do the columns a query
/// returns, in order.
pub struct Sql {
    // Jobs.
    pub job_by_name: &'static str,
    pub jobs_by_name: &'static str,
    pub job_names: &'static str,
    pub due_jobs: &'static str,
    pub insert_job: &'static str,
    pub update_job: &'static str,
    pub delete_job: &'static str,
    pub advance_job: &'static str,
    pub record_last_result: &'static str,
    pub failing_jobs: &'static str,
    pub next_slots: &'static str,
    // Runs.
    pub insert_slot: &'static str,
    pub insert_request: &'static str,
    /// Where `insert_request` and `claim` say RETURNING (PostgreSQL): `None`. Where they
    /// do not (SQLite, which builds a temporary table for every RETURNING statement, a
    /// tenth of a millisecond each): the query that reads back the id of the run just
    /// inserted, and the one that reads back the run just claimed (`?1`: its id).
    pub read_back: Option<ReadBack>,
    pub next_due_run: &'static str,
    pub claim: &'static str,
    /// The claim of the first due run in one statement, where a statement is a round trip
    /// and writers may claim at once (PostgreSQL: it skips the rows other transactions
    /// hold, `Store::write_fenced`); `None` where `next_due_run` then `claim` cost nothing
    /// more and one writer at a time claims (SQLite).
    pub claim_next: Option<&'static str>,
    pub start: &'static str,
    pub claim_state: &'static str,
    pub set_group: &'static str,
    pub running: &'static str,
    pub interrupt: &'static str,
    pub requeue: &'static str,
    pub finish: &'static str,
    pub finish_and_retry: &'static str,
    pub record_attempt: &'static str,
    pub attempts_of: &'static str,
    pub run_by_id: &'static str,
    pub output_of: &'static str,
    pub list_runs: &'static str,
    pub job_has_runs: &'static str,
    pub delete_pending_of: &'static str,
    pub run_counts: &'static str,
    pub request_stop: &'static str,
    pub stop_requested_of: &'static str,
    pub cancel_pending: &'static str,
    pub recent_results_of: &'static str,
    pub hourly_results: &'static str,
    // The web screens' tokens.
    pub insert_token: &'static str,
    pub tokens: &'static str,
    pub delete_token: &'static str,
    pub token_by_hash: &'static str,
    pub touch_token: &'static str,
    // Settings.
    pub settings: &'static str,
    pub set_setting: &'static str,
    // What a pass has to do.
    pub outlook: &'static str,
    // Cleanup.
    pub jobs_with_runs: &'static str,
    pub keep_from: &'static str,
    pub delete_old_attempts: &'static str,
    pub delete_old_runs: &'static str,
    // Monitoring pings.
    pub set_job_ping: &'static str,
    pub insert_ping: &'static str,
    pub due_pings: &'static str,
    pub lease_ping: &'static str,
    pub ping_tried: &'static str,
    pub pings_of: &'static str,
    pub delete_old_pings: &'static str,
    // Live output.
    pub write_progress: &'static str,
    // A slot merged into its job's pending retry.
    pub unfinished_runs_of: &'static str,
    pub merge_into_retry: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_convert_what_each_backend_returns() {
        let row = Row(vec![
            Field::Int(1),
            Field::Bool(true),
            Field::Null,
            Field::Text("x".into()),
            Field::Bytes(vec![0xff]),
        ]);
        assert_eq!(row.int(0).unwrap(), 1);
        assert!(row.bool(0).unwrap(), "SQLite's 1 is true");
        assert!(row.bool(1).unwrap());
        assert_eq!(row.opt_int(2).unwrap(), None);
        assert!(row.int(2).is_err());
        assert_eq!(row.text(3).unwrap(), "x");
        assert_eq!(row.bytes(3).unwrap().unwrap(), b"x");
        assert_eq!(row.bytes(4).unwrap().unwrap(), [0xff]);
        assert!(row.text(4).is_err());
        assert!(row.int(9).is_err());
    }
}
