//! `cronq status`: is cronq healthy? The last pass, queue counts, stuck runs, failing jobs
//! and the next slots (`health` gathers them). Exit 1 when no pass ran in the last 3
//! minutes or a run is stuck, so a monitor (or cron's own mail) can raise the alarm.

use super::output::{emit, emit_json, time_or_null};
use super::terminal::Times;
use super::Context;
use crate::health;
use crate::time::{format_time, human_duration};
use anyhow::Result;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let store = context.open()?;
    let now = context.clock.now();
    let health::Health {
        problems,
        last_pass,
        counts,
        stuck,
        flagged,
        hosts,
        failing,
        next,
        ..
    } = health::check(&store, now)?;
    let healthy = problems.is_empty();
    let run_json = |p: &health::RunProblem| json!({"id": p.id, "job": p.job, "reason": p.reason});
    let stuck: Vec<_> = stuck.iter().map(run_json).collect();
    let flagged: Vec<_> = flagged.iter().map(run_json).collect();

    if args.json {
        emit_json(&json!({
            "healthy": healthy,
            "problems": problems,
            "last_pass": time_or_null(last_pass),
            "counts": counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "stuck_runs": stuck,
            "flagged_runs": flagged,
            "hosts": hosts.iter().map(|h| json!({
                "id": h.id,
                "last_seen": format_time(h.last_seen),
                "boot_id": h.boot_id,
                "version": h.version,
            })).collect::<Vec<_>>(),
            "failing_jobs": failing.iter().map(|(name, at)| json!({"name": name, "last_finished_at": time_or_null(*at)})).collect::<Vec<_>>(),
            "next_slots": next.iter().map(|(job, slot)| json!({"job": job, "slot": format_time(*slot), "overdue": *slot < now})).collect::<Vec<_>>(),
        }))?;
    } else {
        let times = Times::new(context);
        // For people, "3 min ago" says it; for a pipe, RFC 3339 and the lateness.
        let ago = |t| {
            if times.for_people() {
                times.field(t)
            } else {
                format!("{} ({} ago)", format_time(t), human_duration(now - t))
            }
        };
        let mut text = String::new();
        text.push_str(&format!(
            "status: {}\n",
            if healthy { "ok" } else { "PROBLEM" }
        ));
        for problem in &problems {
            text.push_str(&format!("  problem: {problem}\n"));
        }
        text.push_str(&match last_pass {
            Some(t) => format!("last pass: {}\n", ago(t)),
            None => "last pass: never\n".to_string(),
        });
        let counted: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        text.push_str(&format!(
            "runs: {}\n",
            if counted.is_empty() {
                "none".to_string()
            } else {
                counted.join(", ")
            }
        ));
        let failing_names: Vec<&str> = failing.iter().map(|(n, _)| n.as_str()).collect();
        text.push_str(&format!(
            "failing jobs: {}\n",
            if failing_names.is_empty() {
                "none".to_string()
            } else {
                failing_names.join(", ")
            }
        ));
        if !hosts.is_empty() {
            text.push_str("hosts:\n");
            for h in &hosts {
                text.push_str(&format!("  {}  last seen {}\n", h.id, ago(h.last_seen)));
            }
        }
        text.push_str("next slots:\n");
        // A next slot already past: no pass has queued it yet.
        for (job, slot) in &next {
            let overdue = if *slot < now { "  (overdue)" } else { "" };
            text.push_str(&format!("  {}  {job}{overdue}\n", times.cell(*slot)));
        }
        emit(&text)?;
    }
    Ok(if healthy { 0 } else { 1 })
}
