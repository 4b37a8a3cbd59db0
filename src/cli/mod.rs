//! The command line (design §6): argument parsing, the shared context, and one file per
//! command. Errors become exit codes here (docs/exit-codes.md).

mod add;
mod completions;
mod control;
mod copy;
mod daemon;
mod enqueue;
pub mod escape;
mod import;
mod jobs;
mod manage;
mod next;
pub mod output;
mod print_crontab;
mod resolve;
mod run;
mod run_job;
mod runs;
mod settings;
mod shortened;
mod status;
pub mod terminal;
#[cfg(feature = "web")]
mod token;
#[cfg(feature = "web")]
mod web;
mod worker;

use crate::error::{exit_code, usage};
use crate::limits::shorten;
use crate::store::{self, Location, Store};
use crate::time::{Clock, Timestamp};
use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cronq",
    version,
    about = "A cron-driven background job runner: every slot once, every result recorded.",
    long_about = "A cron-driven background job runner. Put `cronq run` in the crontab (see \
                  `crontab.example`); define jobs with `cronq add`; see what ran with `cronq runs`.\n\n\
                  Exit codes: 0 ok; 1 a job or an operation failed; 2 bad usage or input."
)]
pub struct Cli {
    /// The database: an SQLite file, or postgresql://USER@HOST:PORT/DBNAME for several hosts
    /// [default: $XDG_DATA_HOME/cronq/cronq.db, or ~/.local/share/cronq/cronq.db]
    // Offered by every command that opens the database (see `command`), not global.
    #[arg(long, env = "CRONQ_DB", value_name = "PATH|URL", help_heading = GLOBAL)]
    db: Option<OsString>,

    /// Take this time as now for every scheduling decision (tests, "what if"): RFC 3339,
    /// +5m or -1h from the real clock, 2026-12-01 12:00 or tomorrow 09:00 (local time)
    #[arg(long, env = "CRONQ_NOW", value_name = "TIME", allow_hyphen_values = true, value_parser = terminal::parse_now, help_heading = GLOBAL)]
    now: Option<Timestamp>,

    /// Log more to stderr (-v: each run, -vv: debugging)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    verbose: u8,

    /// Log only errors
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One pass: queue due slots, run up to jobs_max_portion due runs, exit (the crontab entry point)
    Run(run::Args),
    /// Passes in a loop every daemon_interval seconds; SIGTERM stops it gracefully
    Daemon(daemon::Args),
    /// Last pass, queue counts, stuck runs, failing jobs, next slots; exit 1 when unhealthy
    Status(status::Args),
    /// Run a job now in the foreground and record it; exit 1 if it fails
    RunJob(run_job::Args),
    /// List every job: schedule, status, next slot, last result
    Jobs(jobs::Args),
    /// Define a command job (or, with --builtin, schedule a built-in job)
    Add(add::AddArgs),
    /// Change a job's definition
    Edit(add::EditArgs),
    /// Remove a job and its queued runs (its history stays)
    Remove(manage::Args),
    /// Start a job's schedule again, from now
    Enable(manage::Args),
    /// Stop a job's schedule (queued and manual runs still work)
    Disable(manage::Args),
    /// Queue a run for the next pass; prints its id
    Enqueue(enqueue::Args),
    /// List runs, newest first
    Runs(runs::ListArgs),
    /// Show one run with its output
    Show(runs::ShowArgs),
    /// Print the next slots of a cron expression, one RFC 3339 UTC time a line
    Next(next::Args),
    /// Show or change settings
    Settings(settings::Args),
    /// Print the four crontab lines for this binary and database, ready to paste
    Crontab(print_crontab::Args),
    /// Turn an existing crontab's lines into command jobs, all or nothing
    Import(import::Args),
    /// End a run whose host is dead (status flags such runs), or forget a retired host
    Resolve(resolve::Args),
    /// Ask the host that runs a running run to stop it: recorded failed, not retried
    Stop(control::StopArgs),
    /// End a pending run without running it: recorded skipped
    Cancel(control::CancelArgs),
    /// Queue a new run with the job, target and data of a failed, skipped or missed run; prints its id
    Retry(control::RetryArgs),
    /// Copy this SQLite database's jobs, settings and history into a new PostgreSQL one
    Copy(copy::Args),
    /// Serve the admin screens in the browser (loopback only unless tokens are made)
    #[cfg(feature = "web")]
    Web(web::Args),
    /// Make, list or remove the access tokens of `cronq web`
    #[cfg(feature = "web")]
    Token(token::Args),
    /// Print a shell completion script
    Completions(completions::Args),
    /// Carry out the runs a pass in parallel mode hands over on stdin (started by the pass)
    #[command(hide = true)]
    Worker(worker::Args),
    /// List job names or setting keys for the completion scripts
    #[command(name = "__complete", hide = true)]
    Complete(completions::CompleteArgs),
}

/// The heading under which `--help` lists the options every command has.
const GLOBAL: &str = "Global options";

/// The commands that open no database, which offer no --db.
const NO_DATABASE: [&str; 2] = ["next", "completions"];
/// The commands that read no clock, which offer no --now.
const NO_CLOCK: [&str; 2] = ["completions", "crontab"];

/// The command line: `Cli` with --db and --now given to each command that uses them, and
/// help wrapped at 80 columns.
pub fn command() -> clap::Command {
    let cli = Cli::command().max_term_width(80);
    let find = |id: &str| cli.get_arguments().find(|a| a.get_id() == id).cloned();
    match (find("db"), find("now")) {
        (Some(db), Some(now)) => offer_database_and_clock(cli, &db, &now, true),
        // Both are fields of `Cli`: never reached.
        _ => cli,
    }
}

/// Adds `db` and `now` to the subcommands of `cmd` that use them (`top`: skip those in
/// NO_DATABASE and NO_CLOCK), and to theirs.
fn offer_database_and_clock(
    mut cmd: clap::Command,
    db: &clap::Arg,
    now: &clap::Arg,
    top: bool,
) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |mut sub| {
            if !(top && NO_DATABASE.contains(&name.as_str())) {
                sub = sub.arg(db.clone());
            }
            if !(top && NO_CLOCK.contains(&name.as_str())) {
                sub = sub.arg(now.clone());
            }
            offer_database_and_clock(sub, db, now, false)
        });
    }
    cmd
}

/// The value of `id` (`db`, `now`) given nearest the command: after the subcommand wins
/// over before it, and the command line over the environment.
fn nearest<T: Clone + Send + Sync + 'static>(matches: &clap::ArgMatches, id: &str) -> Option<T> {
    let mut levels = vec![matches];
    while let Some((_, sub)) = levels.last().and_then(|m| m.subcommand()) {
        levels.push(sub);
    }
    let given = |m: &&&clap::ArgMatches| {
        m.try_get_one::<T>(id).ok().flatten().is_some()
            && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    };
    let level = levels.iter().rev().find(given).or_else(|| levels.first())?;
    level.try_get_one::<T>(id).ok().flatten().cloned()
}

/// What every command gets: where the database is and what time it is.
pub struct Context {
    db: Option<OsString>,
    pub clock: Clock,
}

impl Context {
    /// Where the database is: --db, CRONQ_DB, or the default file.
    pub fn location(&self) -> Result<Location> {
        match &self.db {
            Some(db) => Ok(Location::parse(db)),
            None => default_db().map(Location::File),
        }
    }

    pub fn open(&self) -> Result<Store> {
        Store::open(&self.location()?, self.clock.now())
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> u8 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let parsed = match crontab_pass(&args, |name| std::env::var_os(name)) {
        Some(db) => Ok(Cli {
            db,
            now: None,
            verbose: 0,
            quiet: false,
            command: Command::Run(run::Args::default()),
        }),
        None => parse(),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version land here too, with exit code 0.
            let _ = e.print();
            return e.exit_code().clamp(0, 255) as u8;
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match execute(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            output::print_to_stderr(&format!("cronq: error: {e:#}"));
            exit_code(&e)
        }
    }
}

/// The crontab's own command line, `cronq [--db PATH] run` as `cronq crontab` prints it
/// (or with `--db` after `run`), read without building the command tree: four times a
/// minute for years, parsing every command's options would cost more than the idle pass
/// itself (docs/performance.md). Returns the `--db` to use (`None`: the default or
/// `CRONQ_DB`), or `None` for any other command line, which clap reads as usual. An
/// environment that sets `--now` or `--time-travel`, or an empty `CRONQ_DB`, goes to clap
/// too, so both ways always read the same command line the same way.
fn crontab_pass(
    args: &[OsString],
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<Option<OsString>> {
    if env("CRONQ_NOW").is_some() || env("CRONQ_TIME_TRAVEL").is_some() {
        return None;
    }
    // A path as clap would take it: not empty, not an option.
    let value = |v: &str| (!v.is_empty() && !v.starts_with('-')).then(|| OsString::from(v));
    let db = match args {
        [run] if run == "run" => {
            return match env("CRONQ_DB") {
                Some(v) if v.is_empty() => None,
                // As clap takes it: the variable, or the default database.
                from_env => Some(from_env),
            };
        }
        [flag, path, run] | [run, flag, path] if run == "run" && flag == "--db" => {
            value(path.to_str()?)?
        }
        [flag, run] | [run, flag] if run == "run" => value(flag.to_str()?.strip_prefix("--db=")?)?,
        _ => return None,
    };
    Some(Some(db))
}

/// Every other command line: clap, with `--db` and `--now` taken from wherever they
/// were given.
fn parse() -> Result<Cli, clap::Error> {
    command().try_get_matches().and_then(|matches| {
        let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command()))?;
        cli.db = nearest(&matches, "db");
        cli.now = nearest(&matches, "now");
        Ok(cli)
    })
}

fn execute(cli: Cli) -> Result<u8> {
    let context = Context {
        db: cli.db,
        clock: Clock::new(cli.now),
    };
    match cli.command {
        Command::Run(args) => run::execute(args, &context),
        Command::RunJob(args) => run_job::execute(args, &context),
        Command::Daemon(args) => daemon::execute(args, &context),
        Command::Status(args) => status::execute(args, &context),
        Command::Jobs(args) => jobs::execute(args, &context),
        Command::Add(args) => add::add(args, &context),
        Command::Edit(args) => add::edit(args, &context),
        Command::Remove(args) => manage::remove(args, &context),
        Command::Enable(args) => manage::set_active(args, &context, true),
        Command::Disable(args) => manage::set_active(args, &context, false),
        Command::Enqueue(args) => enqueue::execute(args, &context),
        Command::Runs(args) => runs::list(args, &context),
        Command::Show(args) => runs::show(args, &context),
        Command::Settings(args) => settings::execute(args, &context),
        Command::Next(args) => next::execute(args, &context),
        Command::Worker(args) => worker::execute(args, &context),
        Command::Crontab(args) => print_crontab::execute(args, &context),
        Command::Import(args) => import::execute(args, &context),
        Command::Resolve(args) => resolve::execute(args, &context),
        Command::Stop(args) => control::stop(args, &context),
        Command::Cancel(args) => control::cancel(args, &context),
        Command::Retry(args) => control::retry(args, &context),
        Command::Copy(args) => copy::execute(args, &context),
        #[cfg(feature = "web")]
        Command::Web(args) => web::execute(args, &context),
        #[cfg(feature = "web")]
        Command::Token(args) => token::execute(args, &context),
        Command::Completions(args) => completions::execute(args),
        Command::Complete(args) => completions::complete(args, &context),
    }
}

/// `$XDG_DATA_HOME/cronq/cronq.db`, else `$HOME/.local/share/cronq/cronq.db`.
fn default_db() -> Result<PathBuf> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let data = non_empty("XDG_DATA_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".local/share")))
        .ok_or_else(|| usage("neither XDG_DATA_HOME nor HOME is set: give the database with --db PATH or CRONQ_DB"))?;
    Ok(data.join("cronq").join("cronq.db"))
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder
        .format(|f, record| {
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug | log::Level::Trace => "debug",
            };
            writeln!(f, "cronq: {level}: {}", record.args())
        })
        .init();
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Finds a job or fails with exit code 2, naming the jobs there are.
pub fn find_job(conn: &dyn store::sql::Conn, name: &str) -> Result<store::jobs::Job> {
    if let Some(job) = store::jobs::get(conn, name)? {
        return Ok(job);
    }
    Err(unknown_job(conn, name))
}

pub fn unknown_job(conn: &dyn store::sql::Conn, name: &str) -> anyhow::Error {
    match store::jobs::names(conn) {
        Ok(names) if names.is_empty() => usage(format!(
            "unknown job '{}'; there are no jobs yet (add one with `cronq add`)",
            shorten(name)
        )),
        Ok(names) => usage(format!(
            "unknown job '{}'; available jobs: {}",
            shorten(name),
            names.join(", ")
        )),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crontab_line_is_read_without_clap_and_nothing_else_is() {
        let os = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        let none = |_: &str| None;
        let db = |path: &str| Some(Some(OsString::from(path)));
        assert_eq!(crontab_pass(&os(&["run"]), none), Some(None));
        assert_eq!(
            crontab_pass(&os(&["--db", "/x.db", "run"]), none),
            db("/x.db")
        );
        assert_eq!(
            crontab_pass(&os(&["run", "--db", "/x.db"]), none),
            db("/x.db")
        );
        assert_eq!(crontab_pass(&os(&["--db=/x.db", "run"]), none), db("/x.db"));
        assert_eq!(crontab_pass(&os(&["run", "--db=/x.db"]), none), db("/x.db"));
        for other in [
            &["run", "-v"][..],
            &["-q", "run"],
            &["run", "--time-travel"],
            &["--db", "-q", "run"],
            &["--db=", "run"],
            &["--db", "/x.db", "run", "--now", "+1m"],
            &["runs"],
            &["run", "--help"],
            &["--db", "/x.db", "daemon"],
            &[],
        ] {
            assert_eq!(crontab_pass(&os(other), none), None, "{other:?}");
        }
        // What the environment says goes through clap, as does an empty CRONQ_DB.
        for name in ["CRONQ_NOW", "CRONQ_TIME_TRAVEL"] {
            let set = |n: &str| (n == name).then(|| OsString::from("1"));
            assert_eq!(crontab_pass(&os(&["--db", "/x.db", "run"]), set), None);
        }
        let empty = |n: &str| (n == "CRONQ_DB").then(OsString::new);
        assert_eq!(crontab_pass(&os(&["run"]), empty), None);
        let set = |n: &str| (n == "CRONQ_DB").then(|| OsString::from("/y.db"));
        assert_eq!(crontab_pass(&os(&["run"]), set), db("/y.db"));
    }

    #[test]
    fn the_command_line_is_consistent_and_offers_db_and_now_where_used() {
        let cli = command();
        cli.clone().debug_assert();
        let offers = |name: &str, id: &str| {
            cli.find_subcommand(name)
                .is_some_and(|sub| sub.get_arguments().any(|a| a.get_id() == id))
        };
        assert!(offers("jobs", "db") && offers("jobs", "now"));
        assert!(!offers("next", "db") && offers("next", "now"));
        assert!(!offers("completions", "db") && !offers("completions", "now"));
        assert!(offers("crontab", "db") && !offers("crontab", "now"));
    }

    #[test]
    fn db_and_now_given_after_the_command_win() {
        let matches = command()
            .try_get_matches_from([
                "cronq",
                "--db",
                "a.db",
                "--now",
                "+0s",
                "runs",
                "--db",
                "b.db",
                "--now",
                "2026-11-23T09:00:00Z",
            ])
            .unwrap();
        assert_eq!(nearest::<OsString>(&matches, "db"), Some("b.db".into()));
        assert_eq!(nearest::<Timestamp>(&matches, "now"), Some(1_795_424_400));
        let matches = command()
            .try_get_matches_from(["cronq", "--db", "a.db", "runs"])
            .unwrap();
        assert_eq!(nearest::<OsString>(&matches, "db"), Some("a.db".into()));
    }
}
