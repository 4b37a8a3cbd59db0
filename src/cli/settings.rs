//! `cronq settings [KEY [VALUE]]`: show all settings, one, or change one.

use super::output::emit;
use super::Context;
use crate::error::usage;
use crate::settings::key;
use crate::store;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The setting to show or change
    key: Option<String>,
    /// Its new value
    #[arg(allow_hyphen_values = true)]
    value: Option<String>,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
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
