//! The SQLite backend: the embedded default. `open` opens the file safely and creates or
//! migrates the schema; `sql` has the text of every statement.

mod open;
mod sql;

pub use open::{keep_wal_files_empty, Database, SCHEMA_VERSION};
pub use sql::SQL;

use crate::store::sql::{Conn, Field, Row, Sql, Value};
use anyhow::Result;
use rusqlite::types::{ToSqlOutput, ValueRef};

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(v),
            Value::Bool(v) => ValueRef::Integer(i64::from(v)),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

fn field(value: ValueRef) -> Field {
    match value {
        ValueRef::Null => Field::Null,
        ValueRef::Integer(v) => Field::Int(v),
        // No column of ours is REAL; a stray one reads as its integer part.
        ValueRef::Real(v) => Field::Int(v as i64),
        ValueRef::Text(v) => match std::str::from_utf8(v) {
            Ok(text) => Field::Text(text.to_string()),
            Err(_) => Field::Bytes(v.to_vec()),
        },
        ValueRef::Blob(v) => Field::Bytes(v.to_vec()),
    }
}

/// Statements are prepared once per connection and cached by their text.
impl Conn for rusqlite::Connection {
    fn sql(&self) -> &'static Sql {
        &SQL
    }

    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))?)
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut all = Vec::new();
        while let Some(row) = rows.next()? {
            let fields = (0..columns)
                .map(|i| row.get_ref(i).map(field))
                .collect::<rusqlite::Result<_>>()?;
            all.push(Row(fields));
        }
        Ok(all)
    }
}
