//! `cronq settings [KEY [VALUE]]`: show all settings, one, or change one.

use super::output::{emit, emit_json};
use super::Context;
use crate::error::usage;
use crate::settings::{key, Settings, KEYS};
use crate::store;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The setting to show or change
    key: Option<String>,
    /// Its new value
    #[arg(allow_hyphen_values = true)]
    value: Option<String>,
    /// Print every setting as JSON: its value, its default and whether it is the default
    #[arg(long, conflicts_with_all = ["key", "value"])]
    json: bool,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    if args.json {
        let settings = store::settings::load(store.conn())?;
        emit_json(&as_json(&settings))?;
        return Ok(0);
    }
    match (args.key, args.value) {
        (None, _) => {
            let settings = store::settings::load(store.conn())?;
            let text: String = settings
                .pairs()
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect();
            emit(&text)?;
        }
        (Some(name), None) => {
            key(&name).map_err(|e| usage(e.0))?;
            let settings = store::settings::load(store.conn())?;
            let value = settings
                .pairs()
                .into_iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v);
            emit(&format!("{}\n", value.unwrap_or_default()))?;
        }
        (Some(name), Some(value)) => {
            let checked = key(&name)
                .and_then(|k| k.validate(&value))
                .map_err(|e| usage(e.0))?;
            store.write(|tx| store::settings::set(tx, &name, &checked))?;
        }
    }
    Ok(0)
}

/// `{"jobs_max_portion": {"value": 20, "default": 15, "is_default": false, "help": …}, …}`:
/// numbers as numbers, true and false as booleans, the keys sorted by name.
fn as_json(settings: &Settings) -> serde_json::Value {
    let defaults = Settings::default().pairs();
    let mut all = serde_json::Map::new();
    for (name, value) in settings.pairs() {
        let default = defaults
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let help = KEYS.iter().find(|k| k.name == name).map(|k| k.help);
        all.insert(
            name.to_string(),
            serde_json::json!({
                "value": typed(&value),
                "default": typed(&default),
                "is_default": value == default,
                "help": help,
            }),
        );
    }
    serde_json::Value::Object(all)
}

/// A setting's text as JSON: a boolean, a number, or else the text.
fn typed(text: &str) -> serde_json::Value {
    match text {
        "true" => true.into(),
        "false" => false.into(),
        _ => text
            .parse::<i64>()
            .map_or_else(|_| text.into(), serde_json::Value::from),
    }
}
