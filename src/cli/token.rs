//! `cronq token`: the access tokens `cronq web` asks for on addresses other than
//! loopback. A token is printed once, when it is made; the database keeps its hash.

use super::output::{emit, table};
use super::Context;
use crate::error::usage;
use crate::store::tokens;
use crate::time::format_time;
use crate::web::guard::Role;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Make a token and print it (once: only its hash is kept)
    Add {
        /// A name for the token: who or what uses it (1 to 64 of A-Z a-z 0-9 _ . -)
        name: String,
        /// read: every page, no change; operator: also run, retry, cancel, stop, edit
        #[arg(long, value_name = "ROLE", default_value = "read", value_parser = ["read", "operator"])]
        role: String,
    },
    /// List the tokens: name, role, when made, when last used
    List,
    /// Remove a token: requests with it are refused from then on
    Remove {
        /// The token's name
        name: String,
    },
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    match args.action {
        Action::Add { name, role } => {
            crate::job::validate_name(&name)
                .map_err(|e| usage(e.replace("job name", "token name")))?;
            let role = Role::parse(&role).ok_or_else(|| usage("--role is read or operator"))?;
            let token = crate::web::tokens::generate()?;
            let hash = crate::web::tokens::hash(&token);
            store.write(|tx| {
                if tokens::list(tx)?.iter().any(|t| t.name == name) {
                    return Err(usage(format!(
                        "there is a token named '{name}' already; remove it first with \
                         `cronq token remove {name}`"
                    )));
                }
                tokens::insert(tx, &name, role.as_str(), &hash, now)
            })?;
            emit(&format!("{token}\n"))?;
        }
        Action::List => {
            let rows: Vec<Vec<String>> = tokens::list(store.conn())?
                .into_iter()
                .map(|t| {
                    vec![
                        t.name,
                        t.role,
                        format_time(t.created_at),
                        t.last_used.map_or_else(|| "never".to_string(), format_time),
                    ]
                })
                .collect();
            emit(&table(&["NAME", "ROLE", "CREATED", "LAST USED"], &rows))?;
        }
        Action::Remove { name } => {
            if !store.write(|tx| tokens::delete(tx, &name))? {
                return Err(usage(format!(
                    "there is no token named '{name}' (see `cronq token list`)"
                )));
            }
        }
    }
    Ok(0)
}
