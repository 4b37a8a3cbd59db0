//! Process supervision for command jobs: spawn `/bin/sh -c COMMAND` in its own process
//! group, keep the tail of its output without ever blocking it, enforce its timeout, and
//! make sure nothing of it outlives it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How much output a run keeps: the last 64 KiB of stdout and stderr together.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// After the job's process group is gone, how long to wait for its pipes to close (a
/// process that left the group with `setsid` may hold them open forever).
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// What to run.
pub struct Spec<'a> {
    pub command: &'a str,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// After a shutdown request, how long the job may go on.
    pub shutdown_grace: Duration,
    /// Copy the job's output to this process's stdout and stderr as it arrives (run-job).
    pub echo: bool,
}

/// A started job.
pub struct Running {
    child: Child,
    pgid: i32,
    tail: Arc<Mutex<Tail>>,
    drains_done: mpsc::Receiver<()>,
    drains: usize,
    timeout: Duration,
    shutdown_grace: Duration,
    started: Instant,
}

/// Why the watchdog stopped a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    TimedOut,
    ShutDown,
}

/// How a job ended.
#[derive(Debug)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stopped: Option<Stop>,
    pub output: String,
    pub duration: Duration,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && self.stopped.is_none()
    }

    /// Why it failed, in words; `None` on success.
    pub fn failure(&self, timeout: Duration) -> Option<String> {
        if self.stopped == Some(Stop::TimedOut) {
            Some(format!("timed out after {} s", timeout.as_secs()))
        } else if self.stopped == Some(Stop::ShutDown) {
            Some("stopped: cronq was shut down before the job finished".to_string())
        } else if let Some(signal) = self.signal {
            Some(format!("killed by signal {signal}"))
        } else {
            match self.exit_code {
                Some(0) => None,
                Some(code) => Some(format!("exit status {code}")),
                None => Some("ended without an exit status".to_string()),
            }
        }
    }
}

/// Starts the job in a new process group whose id is its pid.
pub fn spawn(spec: &Spec) -> io::Result<Running> {
    let mut child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(spec.command)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let started = Instant::now();
    let pgid = child.id() as i32;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let (done, drains_done) = mpsc::channel();
    let mut drains = 0;
    if let Some(out) = child.stdout.take() {
        drain(
            out,
            Arc::clone(&tail),
            spec.echo
                .then(|| Box::new(io::stdout()) as Box<dyn Write + Send>),
            done.clone(),
        );
        drains += 1;
    }
    if let Some(err) = child.stderr.take() {
        drain(
            err,
            Arc::clone(&tail),
            spec.echo
                .then(|| Box::new(io::stderr()) as Box<dyn Write + Send>),
            done,
        );
        drains += 1;
    }
    Ok(Running {
        child,
        pgid,
        tail,
        drains_done,
        drains,
        timeout: spec.timeout,
        shutdown_grace: spec.shutdown_grace,
        started,
    })
}

impl Running {
    pub fn pgid(&self) -> i64 {
        self.pgid as i64
    }

    /// Waits for the job, killing its group when the timeout passes, then clears out
    /// whatever it left running in its group.
    pub fn wait(mut self) -> Finished {
        let pgid = self.pgid;
        let (timeout, shutdown_grace) = (self.timeout, self.shutdown_grace);
        let (finished, watching) = mpsc::channel::<()>();
        let watchdog = thread::spawn(move || watch(pgid, timeout, shutdown_grace, watching));
        let status = self.child.wait();
        drop(finished);
        let stopped = watchdog.join().unwrap_or(None);
        end_group(pgid);
        let deadline = Instant::now() + PIPE_GRACE;
        for _ in 0..self.drains {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.drains_done.recv_timeout(left).is_err() {
                log::warn!("job process group {pgid}: output pipe still open after the job ended; not waiting for it");
                break;
            }
        }
        let output = match self.tail.lock() {
            Ok(tail) => tail.text(),
            Err(poisoned) => poisoned.into_inner().text(),
        };
        let (exit_code, signal) = match &status {
            Ok(s) => (s.code(), s.signal()),
            Err(_) => (None, None),
        };
        Finished {
            exit_code,
            signal,
            stopped,
            output,
            duration: self.started.elapsed(),
        }
    }
}

/// How often the watchdog looks at the clock and for a shutdown request.
const TICK: Duration = Duration::from_millis(100);

/// Watches a running job until `finished` closes; stops it (SIGTERM to its group, SIGKILL
/// after the kill grace) when its timeout passes, or when a shutdown was requested and
/// its grace has passed.
fn watch(
    pgid: i32,
    timeout: Duration,
    shutdown_grace: Duration,
    finished: mpsc::Receiver<()>,
) -> Option<Stop> {
    let started = Instant::now();
    let mut shutdown_seen: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if shutdown_seen.is_none() && crate::shutdown::requested() {
            shutdown_seen = Some(now);
        }
        let stop = if now - started >= timeout {
            Some(Stop::TimedOut)
        } else if shutdown_seen.is_some_and(|seen| now - seen >= shutdown_grace) {
            Some(Stop::ShutDown)
        } else {
            None
        };
        if let Some(stop) = stop {
            signal_group(pgid, libc::SIGTERM);
            if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(KILL_GRACE) {
                signal_group(pgid, libc::SIGKILL);
            }
            return Some(stop);
        }
        let until_timeout = timeout.saturating_sub(now - started);
        if let Err(RecvTimeoutError::Disconnected) = finished.recv_timeout(until_timeout.min(TICK))
        {
            return None;
        }
    }
}

/// Sends `signal` to every process in group `pgid`; returns false when none is left.
pub fn signal_group(pgid: i32, signal: i32) -> bool {
    // SAFETY: killpg has no memory effects; a bad pgid only yields an error code.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// Ends what a job left behind in its group: SIGTERM, then SIGKILL after the grace.
fn end_group(pgid: i32) {
    if !signal_group(pgid, libc::SIGTERM) {
        return;
    }
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        if !signal_group(pgid, 0) {
            return;
        }
    }
    signal_group(pgid, libc::SIGKILL);
}

/// Reads a pipe to its end on a thread of its own, so the child never blocks on a full pipe.
fn drain(
    mut pipe: impl Read + Send + 'static,
    tail: Arc<Mutex<Tail>>,
    mut echo: Option<Box<dyn Write + Send>>,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(out) = echo.as_mut() {
                        // A closed terminal must not stop the job or its recording.
                        if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                            echo = None;
                        }
                    }
                    match tail.lock() {
                        Ok(mut t) => t.push(&buf[..n]),
                        Err(poisoned) => poisoned.into_inner().push(&buf[..n]),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
}

/// The last `OUTPUT_LIMIT` bytes of output, and how many came before them.
#[derive(Default)]
struct Tail {
    bytes: VecDeque<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let keep = &chunk[chunk.len().saturating_sub(OUTPUT_LIMIT)..];
        self.dropped += (chunk.len() - keep.len()) as u64;
        let overflow = (self.bytes.len() + keep.len()).saturating_sub(OUTPUT_LIMIT);
        self.bytes.drain(..overflow);
        self.dropped += overflow as u64;
        self.bytes.extend(keep);
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        if self.dropped > 0 {
            format!(
                "[cronq: {} earlier bytes of output not kept]\n{text}",
                self.dropped
            )
        } else {
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, timeout: Duration) -> Finished {
        let spec = Spec {
            command,
            env: vec![("CRONQ_TEST".to_string(), "yes".to_string())],
            timeout,
            shutdown_grace: Duration::from_secs(30),
            echo: false,
        };
        spawn(&spec).unwrap().wait()
    }

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let f = run(
            "echo out; echo err >&2; echo $CRONQ_TEST; exit 3",
            Duration::from_secs(10),
        );
        assert_eq!(f.exit_code, Some(3));
        assert!(
            f.output.contains("out\n") && f.output.contains("err\n") && f.output.contains("yes\n")
        );
        assert_eq!(f.failure(Duration::from_secs(10)).unwrap(), "exit status 3");
    }

    #[test]
    fn keeps_only_the_tail_of_long_output() {
        let f = run(
            "head -c 300000 /dev/zero | tr '\\0' x; echo END",
            Duration::from_secs(10),
        );
        assert!(f.success());
        assert!(
            f.output
                .starts_with("[cronq: 234468 earlier bytes of output not kept]\n"),
            "{}",
            &f.output[..80]
        );
        assert!(f.output.ends_with("xEND\n"));
        assert!(f.output.len() < OUTPUT_LIMIT + 100);
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let f = run("sleep 30 & sleep 30; echo never", Duration::from_secs(1));
        assert_eq!(f.stopped, Some(Stop::TimedOut));
        assert!(!f.output.contains("never"));
        assert_eq!(
            f.failure(Duration::from_secs(1)).unwrap(),
            "timed out after 1 s"
        );
        assert!(f.duration < Duration::from_secs(10));
    }
}
