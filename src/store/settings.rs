//! Queries on the `settings` table: only values that were set are stored.

use super::sql::Conn;
use crate::params;
use crate::settings::Settings;
use anyhow::Result;

pub fn load(db: &dyn Conn) -> Result<Settings> {
    let pairs: Vec<(String, String)> = db
        .query(db.sql().settings, &[])?
        .iter()
        .map(|row| Ok((row.text(0)?, row.text(1)?)))
        .collect::<Result<_>>()?;
    Ok(Settings::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

pub fn set(db: &dyn Conn, key: &str, value: &str) -> Result<()> {
    db.execute(db.sql().set_setting, params![key, value])?;
    Ok(())
}
