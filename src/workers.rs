//! Parallel mode's worker processes (`jobs_run_in_parallel`): a pass starts up to
//! `jobs_pool_concurrency` hidden `cronq worker` processes and hands each its orders, one
//! line on the worker's stdin per run to carry out; the worker carries them out one at a
//! time, in turn, and answers each with one line on its stdout when the run is over. A
//! worker may be handed its next order while it carries out a run (`pool`).
//!
//! Each worker opens its own connection once, claims and starts each run itself, carries
//! it out and records the result, as a sequential pass does. So a run costs one process
//! start (the job's), not two, and the parent may die mid-pass without losing a result:
//! its workers finish the runs they hold, record them, and exit. A worker takes no run its
//! parent did not hand it, and starts none once its parent is gone.
//!
//! This module is the protocol, as data; `pool` is the parent's side, and
//! `cli::worker` the worker's.

pub mod pool;

use std::fmt;

/// What a pass tells a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Start run `run`, which the pass claimed (under the invocation lock, with `token`)
    /// for a worker to start.
    Start { run: i64, token: i64 },
    /// Claim the first due run and carry it out.
    Next,
}

/// What a worker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A run is over (or could not start): whether it counts as a success for the pass's
    /// exit code, as `run::report` says.
    Done { run: i64, succeeded: bool },
    /// Nothing was due.
    Drained,
    /// The worker exits (a shutdown, its pass gone, or its orders ended) and holds no run:
    /// the orders it has not answered were not carried out.
    Leaving,
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::Start { run, token } => write!(f, "start {run} {token}"),
            Order::Next => write!(f, "next"),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Done { run, succeeded } => {
                write!(f, "done {run} {}", if *succeeded { "ok" } else { "failed" })
            }
            Reply::Drained => write!(f, "drained"),
            Reply::Leaving => write!(f, "leaving"),
        }
    }
}

impl Order {
    pub fn parse(line: &str) -> Result<Order, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["next"] => Ok(Order::Next),
            ["start", run, token] => Ok(Order::Start {
                run: number(run, line)?,
                token: number(token, line)?,
            }),
            _ => Err(not_understood(line)),
        }
    }
}

impl Reply {
    pub fn parse(line: &str) -> Result<Reply, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["drained"] => Ok(Reply::Drained),
            ["leaving"] => Ok(Reply::Leaving),
            ["done", run, "ok"] => Ok(Reply::Done {
                run: number(run, line)?,
                succeeded: true,
            }),
            ["done", run, "failed"] => Ok(Reply::Done {
                run: number(run, line)?,
                succeeded: false,
            }),
            _ => Err(not_understood(line)),
        }
    }
}

fn number(word: &str, line: &str) -> Result<i64, String> {
    word.parse().map_err(|_| not_understood(line))
}

fn not_understood(line: &str) -> String {
    format!(
        "'{line}' is not an order between a pass and its worker (`cronq worker` is started \
         by a pass in parallel mode, not by hand)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn orders_and_replies_read_back_as_written() {
        for order in [Order::Next, Order::Start { run: 7, token: -3 }] {
            assert_eq!(Order::parse(&order.to_string()), Ok(order));
        }
        for reply in [
            Reply::Drained,
            Reply::Leaving,
            Reply::Done {
                run: 12,
                succeeded: true,
            },
            Reply::Done {
                run: 12,
                succeeded: false,
            },
        ] {
            assert_eq!(Reply::parse(&reply.to_string()), Ok(reply));
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_line() {
        for line in [
            "",
            "start 1",
            "start x 2",
            "next 1",
            "done 1 maybe",
            "Drained",
        ] {
            assert!(Order::parse(line).is_err(), "{line}");
            assert!(Reply::parse(line).is_err(), "{line}");
        }
        let refused = Order::parse("run 5").unwrap_err();
        assert!(refused.contains("'run 5'"), "{refused}");
        assert!(Reply::parse("done 1 maybe").is_err());
        assert!(Order::parse("start 1 x").is_err());
    }

    proptest! {
        #[test]
        fn any_start_order_survives_the_line(run in any::<i64>(), token in any::<i64>()) {
            let order = Order::Start { run, token };
            prop_assert_eq!(Order::parse(&order.to_string()), Ok(order));
        }
    }
}
