//! The PostgreSQL backend: one database that several hosts share. `open` connects
//! (`connect`, with TLS from `tls` and passwords from `pgpass`) and creates the schema on
//! first use; `sql` has the text of every statement. Writers are serialised across hosts
//! by a transaction-scoped advisory lock (`Database::write`), but for a run's result and
//! the next claim, which each run's claim fences (`Database::write_fenced`); "now" is the server's
//! clock (`Database::server_time`), so hosts whose clocks disagree still agree on it.

mod connect;
pub mod hosts;
mod open;
mod pgpass;
mod sql;
mod tls;

pub use connect::{is_url, CONNECT_TIMEOUT, SCHEMES};
pub use open::{Database, ADVISORY_LOCK_KEY, SCHEMA_VERSION};
pub use sql::SQL;
pub use tls::SslMode;

use crate::store::sql::{Conn, Field, Row, Sql, Value};
use anyhow::{anyhow, bail, Result};
use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, Statement};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::error::Error;
use std::fmt;

/// An error from PostgreSQL or the connection to it, with the server's SQLSTATE code when
/// it sent one (`23505`: a unique key exists; `55P03`: the lock wait timed out).
#[derive(Debug)]
pub struct PgError {
    code: Option<String>,
    message: String,
}

impl PgError {
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The SQLSTATE of `error`, when a PostgreSQL error is in its chain.
    pub fn code_of(error: &anyhow::Error) -> Option<&str> {
        error
            .chain()
            .find_map(|e| e.downcast_ref::<PgError>())
            .and_then(PgError::code)
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for PgError {}

/// A parameter goes to PostgreSQL in the type the server gave its place: an integer as
/// INT8, INT4 or INT2 (refused when out of range), the others only where their own type
/// fits. The server never gets bytes it would read as another type.
impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(v)
                .map_err(|_| out_of_range(v, ty))?
                .to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(v)
                .map_err(|_| out_of_range(v, ty))?
                .to_sql(ty, out),
            Value::Bool(v) if *ty == Type::BOOL => v.to_sql(ty, out),
            Value::Text(v) if <&str as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Value::Bytes(v) if <&[u8] as ToSql>::accepts(ty) => v.to_sql(ty, out),
            _ => Err(format!("cannot pass {self:?} where PostgreSQL expects {ty}").into()),
        }
    }

    /// Every type is accepted here and checked per value in `to_sql`: which types fit
    /// depends on the variant.
    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn out_of_range(v: i64, ty: &Type) -> Box<dyn Error + Sync + Send> {
    format!("the integer {v} is out of range for PostgreSQL's {ty}").into()
}

/// A result row's fields, each by its column's type.
fn row(row: &postgres::Row) -> Result<Row> {
    let fields = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let ty = column.type_();
            let field = if *ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(i)?.map(Field::Int)
            } else if *ty == Type::INT4 {
                row.try_get::<_, Option<i32>>(i)?
                    .map(|v| Field::Int(v.into()))
            } else if *ty == Type::INT2 {
                row.try_get::<_, Option<i16>>(i)?
                    .map(|v| Field::Int(v.into()))
            } else if *ty == Type::BOOL {
                row.try_get::<_, Option<bool>>(i)?.map(Field::Bool)
            } else if [Type::TEXT, Type::VARCHAR, Type::NAME, Type::BPCHAR].contains(ty) {
                row.try_get::<_, Option<String>>(i)?.map(Field::Text)
            } else if *ty == Type::BYTEA {
                row.try_get::<_, Option<Vec<u8>>>(i)?.map(Field::Bytes)
            } else {
                bail!(
                    "PostgreSQL returned column {} ({}) of type {ty}, which cronq does not \
                     read; is the schema cronq's?",
                    i + 1,
                    column.name()
                );
            };
            Ok(field.unwrap_or(Field::Null))
        })
        .collect::<Result<_>>()?;
    Ok(Row(fields))
}

/// One connection to PostgreSQL, with its prepared statements. `Conn` takes `&self`, so
/// the client sits in a `RefCell`; a borrow lasts for one call into the client and is
/// never held across a call into other code, and a conflicting borrow is an error.
pub(crate) struct Connection {
    client: RefCell<Client>,
    /// Every statement is prepared once per connection, on first use, and found again by
    /// its text.
    statements: RefCell<HashMap<String, Statement>>,
    /// The URL for messages, without a password.
    shown: String,
    /// Set when a statement fails: inside a transaction, PostgreSQL then refuses every
    /// later statement and answers COMMIT with a rollback, so `write` must not report
    /// success. Cleared when a transaction begins.
    failed_statement: Cell<bool>,
}

impl Connection {
    fn new(client: Client, shown: String) -> Connection {
        Connection {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            shown,
            failed_statement: Cell::new(false),
        }
    }

    fn client(&self) -> Result<RefMut<'_, Client>> {
        self.client.try_borrow_mut().map_err(|_| {
            anyhow!(
                "the PostgreSQL connection is already in use by another statement: a bug in \
                 cronq, please report it"
            )
        })
    }

    /// The error PostgreSQL (or the connection to it) gave, with the database named.
    fn failed(&self, e: &postgres::Error) -> anyhow::Error {
        self.failed_statement.set(true);
        anyhow::Error::new(PgError {
            code: e.code().map(|code| code.code().to_string()),
            message: format!("PostgreSQL at {}: {}", self.shown, connect::chain(e)),
        })
    }

    /// The prepared statement for `sql`: prepared on first use, then found by its text.
    fn statement(&self, sql: &str) -> Result<Statement> {
        let cached = self
            .statements
            .try_borrow()
            .ok()
            .and_then(|statements| statements.get(sql).cloned());
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = self.client()?.prepare(sql).map_err(|e| self.failed(&e))?;
        // Not cached when the map is borrowed (it never is here): prepared again next time.
        if let Ok(mut statements) = self.statements.try_borrow_mut() {
            statements.insert(sql.to_string(), statement.clone());
        }
        Ok(statement)
    }

    /// Runs one or more statements with the simple query protocol: one round trip.
    fn batch(&self, sql: &str) -> Result<()> {
        self.client()?
            .batch_execute(sql)
            .map_err(|e| self.failed(&e))
    }

    fn is_closed(&self) -> bool {
        self.client.try_borrow().is_ok_and(|c| c.is_closed())
    }
}

impl Conn for Connection {
    fn sql(&self) -> &'static Sql {
        &SQL
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let changed = self
            .client()?
            .execute(&statement, &params)
            .map_err(|e| self.failed(&e))?;
        // A count beyond usize cannot happen on a 64-bit host; saturate rather than wrap.
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self
            .client()?
            .query(&statement, &params)
            .map_err(|e| self.failed(&e))?;
        rows.iter().map(row).collect()
    }
}
