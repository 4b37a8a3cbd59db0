//! `cronq completions SHELL`: shell completion scripts. For bash and fish, the script
//! clap generates is followed by a few lines that complete job names (`run-job NAME`,
//! `edit`, `remove`, `enable`, `disable`, `enqueue`, `runs --job`) and setting keys
//! (`settings KEY`) from the live database, by calling the hidden `cronq __complete jobs`
//! and `cronq __complete settings`, with the `--db` of the command line being completed.

use super::output::emit;
use super::Context;
use crate::store::{self, Location};
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell
    shell: clap_complete::Shell,
}

/// The commands whose first argument names a job.
const JOB_COMMANDS: &str = "run-job edit remove enable disable enqueue";

pub fn execute(args: Args) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::command(), "cronq", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    match args.shell {
        clap_complete::Shell::Bash => {
            script.push_str(&BASH.replace("@JOB_COMMANDS@", JOB_COMMANDS))
        }
        clap_complete::Shell::Fish => script.push_str(&fish()),
        _ => {}
    }
    emit(&script)?;
    Ok(0)
}

/// Wraps clap's `_cronq`: a job name or a setting key where one is asked for, else what
/// clap completes.
const BASH: &str = r#"
# Job names and setting keys, from the database of the command line (--db) or CRONQ_DB.
_cronq_live() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local i word command="" positional=0 db=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$word" in
            --db) db=(--db "${COMP_WORDS[i+1]}"); ((i++)) ;;
            --db=*) db=(--db "${word#--db=}") ;;
            --now|--job|--schedule|--tz|--timeout|--retries|--catchup|--overlap|--limit|--status|--target-id|--target-type|--data|--priority|--at) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$command" ]]; then command="$word"; else ((positional++)); fi ;;
        esac
    done
    local what=""
    if [[ "$prev" == "--job" && "$command" == "runs" ]]; then
        what=jobs
    elif [[ -n "$command" && $positional -eq 0 && "$cur" != -* ]]; then
        case " @JOB_COMMANDS@ " in
            *" $command "*) what=jobs ;;
        esac
        [[ "$command" == "settings" ]] && what=settings
    fi
    if [[ -n "$what" ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${db[@]}" __complete "$what" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _cronq "$@"
}
complete -F _cronq_live -o bashdefault -o default cronq
"#;

fn fish() -> String {
    format!(
        "
# Job names and setting keys, from the database of CRONQ_DB (or the default one).
complete -c cronq -n '__fish_seen_subcommand_from {JOB_COMMANDS}' -f -a '(cronq __complete jobs 2>/dev/null)'
complete -c cronq -n '__fish_seen_subcommand_from runs' -l job -f -r -a '(cronq __complete jobs 2>/dev/null)'
complete -c cronq -n '__fish_seen_subcommand_from settings' -f -a '(cronq __complete settings 2>/dev/null)'
"
    )
}

#[derive(clap::Args)]
pub struct CompleteArgs {
    /// What to list: jobs or settings
    #[arg(value_parser = ["jobs", "settings"])]
    what: String,
}

/// `cronq __complete jobs|settings`: the names, one a line, for a completion script.
/// Silent and successful whatever happens: a completion must never print an error into
/// the command line, nor create a database that is not there.
pub fn complete(args: CompleteArgs, context: &Context) -> Result<u8> {
    let names = match args.what.as_str() {
        "settings" => crate::settings::KEYS
            .iter()
            .map(|k| k.name.to_string())
            .collect(),
        _ => job_names(context).unwrap_or_default(),
    };
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    let _ = emit(&text);
    Ok(0)
}

fn job_names(context: &Context) -> Option<Vec<String>> {
    let location = context.location().ok()?;
    if let Location::File(path) = &location {
        if !path.exists() {
            return None;
        }
    }
    let store = store::Store::open(&location, context.clock.now()).ok()?;
    store::jobs::names(store.conn()).ok()
}
