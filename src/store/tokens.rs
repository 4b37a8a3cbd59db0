//! Queries on the `web_tokens` table: the access tokens of `cronq web`. Only a token's
//! SHA-256 is stored; the token itself is shown once, when it is made.

use super::sql::{Conn, Row};
use crate::params;
use crate::time::Timestamp;
use anyhow::Result;

/// A token as stored, without its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    /// `read` or `operator`.
    pub role: String,
    pub created_at: Timestamp,
    pub last_used: Option<Timestamp>,
}

fn from_row(row: &Row) -> Result<Token> {
    Ok(Token {
        name: row.text(0)?,
        role: row.text(1)?,
        created_at: row.int(2)?,
        last_used: row.opt_int(3)?,
    })
}

pub fn insert(db: &dyn Conn, name: &str, role: &str, hash: &str, now: Timestamp) -> Result<()> {
    db.execute(db.sql().insert_token, params![name, role, hash, now])?;
    Ok(())
}

pub fn list(db: &dyn Conn) -> Result<Vec<Token>> {
    db.query(db.sql().tokens, &[])?
        .iter()
        .map(from_row)
        .collect()
}

/// False when there is no token of that name.
pub fn delete(db: &dyn Conn, name: &str) -> Result<bool> {
    Ok(db.execute(db.sql().delete_token, params![name])? == 1)
}

pub fn by_hash(db: &dyn Conn, hash: &str) -> Result<Option<Token>> {
    db.query_opt(db.sql().token_by_hash, params![hash])?
        .map(|row| from_row(&row))
        .transpose()
}

/// Notes that the token was used `now`.
pub fn touch(db: &dyn Conn, name: &str, now: Timestamp) -> Result<()> {
    db.execute(db.sql().touch_token, params![name, now])?;
    Ok(())
}
