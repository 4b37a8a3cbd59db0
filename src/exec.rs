//! Process supervision for command jobs: spawn `/bin/sh -c COMMAND` in its own process
//! group, keep the tail of its output without ever blocking it, enforce its timeout and
//! the shutdown grace, and make sure nothing of it outlives it.
//!
//! One thread does it all: `poll` waits on the job's two pipes and on a pidfd that
//! becomes readable when the job exits, with the next deadline (timeout, shutdown grace,
//! SIGKILL, the watch's next check) as its timeout. No thread is started per run: at
//! thousands of short runs per pass, threads would cost more than the rest of the
//! bookkeeping. The one exception is run-job's copy of the output to its own stdout and
//! stderr (`echo`): one run per process, and writes that may block are kept off this thread.

mod echo;

use echo::{Echo, Stream};
use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much output a run keeps: the last 64 KiB of stdout and stderr together.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// How the reason of a run that an operator stopped begins (`cronq stop`).
pub const STOPPED_BY_OPERATOR: &str = "stopped by an operator";

/// After the job's process group is gone, how long to wait for its pipes to close (a
/// process that left the group with `setsid` may hold them open forever).
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// The longest the supervisor sleeps without looking for a shutdown request.
const TICK: Duration = Duration::from_millis(100);

/// What to run.
pub struct Spec<'a> {
    pub command: &'a str,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// After a shutdown request, how long the job may go on.
    pub shutdown_grace: Duration,
    /// Copy the job's output to this process's stdout and stderr as it arrives (run-job).
    pub echo: bool,
    /// A check to make while the job runs; the job is stopped when it fails.
    pub watch: Option<Watch<'a>>,
    /// Where the output so far goes while the job runs (`cronq show --follow`).
    pub progress: Option<Progress<'a>>,
}

/// What `Progress` hands the output so far to.
pub type WriteProgress<'a> = dyn FnMut(&[u8]) + 'a;

/// The output so far, handed over while the job runs: at most every `every`, and only
/// when new output came. `write` gets the kept tail as `Finished::output` would be (with
/// its note of the bytes not kept); it runs on the supervisor's thread, so it must be
/// quick: the job's pipes are not drained meanwhile.
pub struct Progress<'a> {
    pub every: Duration,
    pub write: Box<WriteProgress<'a>>,
}

/// A check the supervisor makes while the job runs, at most every `every` and the first
/// time one interval after the start. When `check` returns a reason to stop, the job is
/// stopped as on a timeout (SIGTERM to its group, SIGKILL after `KILL_GRACE`) and ends
/// with that reason: it is how a runner learns that its run's claim was taken over
/// (`Stop::ClaimLost`) or that an operator asked to stop the run (`Stop::Requested`).
pub struct Watch<'a> {
    pub every: Duration,
    pub check: Box<dyn FnMut() -> Option<Stop> + 'a>,
}

/// A started job.
pub struct Running<'a> {
    child: Child,
    pgid: i32,
    pipes: Vec<Pipe>,
    exited: Option<OwnedFd>,
    timeout: Duration,
    shutdown_grace: Duration,
    started: Instant,
    echo: Echo,
    watch: Option<Watch<'a>>,
    /// When the watch's check is next due.
    next_check: Instant,
    progress: Option<Progress<'a>>,
    /// What `once_running_for` set: done once, if the job still runs then.
    once: Option<(Instant, Box<dyn FnOnce() + 'a>)>,
}

/// One of the job's output pipes, and the stream of this process that it is echoed to.
struct Pipe {
    reader: Box<dyn ReadFd>,
    stream: Stream,
}

trait ReadFd: Read + AsRawFd {}
impl<T: Read + AsRawFd> ReadFd for T {}

/// Why the supervisor stopped a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    TimedOut,
    ShutDown,
    /// The watch's check failed: the run's claim was taken over.
    ClaimLost,
    /// The watch's check found that an operator asked to stop the run (`cronq stop`).
    Requested,
}

/// How a job ended.
#[derive(Debug)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stopped: Option<Stop>,
    /// The kept tail, as the bytes the job wrote (not necessarily UTF-8).
    pub output: Vec<u8>,
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
        } else if self.stopped == Some(Stop::ClaimLost) {
            Some("stopped: its claim was taken over (the run was judged stale)".to_string())
        } else if self.stopped == Some(Stop::Requested) {
            // How the job took it: a job may catch SIGTERM and exit as it likes.
            Some(match (self.signal, self.exit_code) {
                (Some(signal), _) => format!("{STOPPED_BY_OPERATOR} (killed by signal {signal})"),
                (None, Some(code)) => format!("{STOPPED_BY_OPERATOR} (exit status {code})"),
                (None, None) => STOPPED_BY_OPERATOR.to_string(),
            })
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
pub fn spawn(spec: Spec<'_>) -> io::Result<Running<'_>> {
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
    let mut pipes = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        pipes.push(Pipe {
            reader: Box::new(out),
            stream: Stream::Stdout,
        });
    }
    if let Some(err) = child.stderr.take() {
        pipes.push(Pipe {
            reader: Box::new(err),
            stream: Stream::Stderr,
        });
    }
    let next_check = started + spec.watch.as_ref().map_or(Duration::ZERO, |w| w.every);
    Ok(Running {
        exited: pidfd_open(pgid),
        child,
        pgid,
        pipes,
        timeout: spec.timeout,
        shutdown_grace: spec.shutdown_grace,
        started,
        echo: if spec.echo {
            Echo::start()
        } else {
            Echo::default()
        },
        watch: spec.watch,
        next_check,
        progress: spec.progress,
        once: None,
    })
}

impl<'a> Running<'a> {
    pub fn pgid(&self) -> i64 {
        self.pgid as i64
    }

    /// Has `wait` call `action` once the job has run for `after`, if it still runs then;
    /// a job that ends sooner never gets it. Like `Progress::write`, it runs on the
    /// supervisor's thread and must be quick.
    pub fn once_running_for(&mut self, after: Duration, action: Box<dyn FnOnce() + 'a>) {
        self.once = Some((self.started + after, action));
    }

    /// Supervises the job to its end: drains its output, stops it when its timeout or the
    /// shutdown grace passes or the watch's check fails, then clears out whatever it left
    /// running in its group.
    pub fn wait(mut self) -> Finished {
        let mut tail = Tail::default();
        let mut stopped = None;
        let mut shutdown_seen: Option<Instant> = None;
        let mut sigkill_at: Option<Instant> = None;
        let mut status: Option<ExitStatus> = None;
        let mut pipes_deadline: Option<Instant> = None;
        // Output handed to `progress` up to this count of bytes, and when it is next due.
        let mut progress_sent = 0;
        let mut progress_at =
            self.started + self.progress.as_ref().map_or(Duration::ZERO, |p| p.every);
        loop {
            let now = Instant::now();
            if let Some(progress) = self.progress.as_mut() {
                if now >= progress_at && tail.total() != progress_sent && status.is_none() {
                    (progress.write)(&tail.to_bytes());
                    progress_sent = tail.total();
                    progress_at = Instant::now() + progress.every;
                }
            }
            if status.is_none() {
                status = self.child.try_wait().ok().flatten();
            }
            if status.is_none() && self.once.as_ref().is_some_and(|(at, _)| now >= *at) {
                if let Some((_, action)) = self.once.take() {
                    action();
                }
            }
            if status.is_some() && pipes_deadline.is_none() {
                end_group(self.pgid);
                pipes_deadline = Some(Instant::now() + PIPE_GRACE);
            }
            if self.pipes.is_empty() && status.is_some() {
                break;
            }
            if pipes_deadline.is_some_and(|d| now >= d) {
                log::warn!(
                    "job process group {}: output pipe still open after the job ended; not waiting for it",
                    self.pgid
                );
                break;
            }
            if status.is_none() {
                if shutdown_seen.is_none() && crate::shutdown::requested() {
                    shutdown_seen = Some(now);
                }
                if stopped.is_none() {
                    let stop = if now - self.started >= self.timeout {
                        Some(Stop::TimedOut)
                    } else if shutdown_seen.is_some_and(|seen| now - seen >= self.shutdown_grace) {
                        Some(Stop::ShutDown)
                    } else {
                        self.watch_says_stop(now)
                    };
                    if let Some(stop) = stop {
                        signal_group(self.pgid, libc::SIGTERM);
                        sigkill_at = Some(now + KILL_GRACE);
                        stopped = Some(stop);
                    }
                }
                if sigkill_at.is_some_and(|at| now >= at) {
                    signal_group(self.pgid, libc::SIGKILL);
                    sigkill_at = None;
                }
            }
            // Sleep until output arrives, the job exits, or the next deadline.
            let mut next = now + TICK;
            if stopped.is_none() && status.is_none() {
                next = next.min(self.started + self.timeout);
                if self.watch.is_some() {
                    next = next.min(self.next_check);
                }
            }
            if self.progress.is_some() && status.is_none() && tail.total() != progress_sent {
                next = next.min(progress_at.max(now));
            }
            if let Some(at) = sigkill_at {
                next = next.min(at);
            }
            if let (Some((at, _)), None) = (&self.once, status) {
                next = next.min(*at);
            }
            if let Some(at) = pipes_deadline {
                next = next.min(at);
            }
            let watch_exit = if status.is_none() {
                self.exited.as_ref()
            } else {
                None
            };
            if status.is_none() && self.pipes.is_empty() && watch_exit.is_none() {
                // No pidfd (an old kernel): look again soon.
                next = next.min(now + Duration::from_millis(5));
            }
            let ready = wait_readable(&self.pipes, watch_exit, next.saturating_duration_since(now));
            let mut buf = [0u8; 16 * 1024];
            let mut index = 0;
            while index < self.pipes.len() {
                if ready.contains(&index) {
                    let Some(n) = read_some(&mut self.pipes[index], &mut buf) else {
                        self.pipes.remove(index);
                        continue;
                    };
                    tail.push(&buf[..n]);
                    self.echo.write(self.pipes[index].stream, &buf[..n]);
                }
                index += 1;
            }
        }
        let (exit_code, signal) = match status {
            Some(s) => (s.code(), s.signal()),
            None => (None, None),
        };
        let finished = Finished {
            exit_code,
            signal,
            stopped,
            output: tail.into_bytes(),
            duration: self.started.elapsed(),
        };
        self.echo.finish();
        finished
    }

    /// Makes the watch's check when it is due; the reason to stop the job, if any.
    fn watch_says_stop(&mut self, now: Instant) -> Option<Stop> {
        let watch = self.watch.as_mut()?;
        if now < self.next_check {
            return None;
        }
        let stop = (watch.check)();
        // Counted from the check's end: a slow check (a busy database) is not repeated
        // sooner than `every` after it.
        self.next_check = Instant::now() + watch.every;
        stop
    }
}

/// Reads what a ready pipe holds into `buf`; the number of bytes read, or `None` at its
/// end (or on an error).
fn read_some(pipe: &mut Pipe, buf: &mut [u8]) -> Option<usize> {
    loop {
        match pipe.reader.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Waits up to `timeout` for pipes to be readable (or closed) or the pidfd to fire;
/// returns the indexes of the ready pipes.
fn wait_readable(pipes: &[Pipe], exited: Option<&OwnedFd>, timeout: Duration) -> Vec<usize> {
    let mut fds: Vec<libc::pollfd> = pipes
        .iter()
        .map(|p| libc::pollfd {
            fd: p.reader.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if let Some(fd) = exited {
        fds.push(libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let millis = timeout.as_millis().clamp(0, i32::MAX as u128) as i32;
    let millis = if millis == 0 && !timeout.is_zero() {
        1
    } else {
        millis
    };
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the whole call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if n <= 0 {
        return Vec::new();
    }
    (0..pipes.len()).filter(|&i| fds[i].revents != 0).collect()
}

/// A file descriptor that becomes readable when process `pid` exits (Linux 5.3 and
/// later); `None` where the kernel has no pidfd, and the supervisor polls instead.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    // SAFETY: a non-negative return is a fresh descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
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
        std::thread::sleep(Duration::from_millis(20));
        if !signal_group(pgid, 0) {
            return;
        }
    }
    signal_group(pgid, libc::SIGKILL);
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

    /// How many bytes came so far, kept or not.
    fn total(&self) -> u64 {
        self.dropped + self.bytes.len() as u64
    }

    /// What `into_bytes` would give, leaving the tail as it is.
    fn to_bytes(&self) -> Vec<u8> {
        let mut output = Vec::with_capacity(self.bytes.len() + 64);
        if self.dropped > 0 {
            output.extend_from_slice(dropped_note(self.dropped).as_bytes());
        }
        output.extend(self.bytes.iter());
        output
    }

    /// The kept bytes, after a one-line note of how many came before them (if any).
    fn into_bytes(self) -> Vec<u8> {
        let mut output = if self.dropped > 0 {
            dropped_note(self.dropped).into_bytes()
        } else {
            Vec::new()
        };
        output.extend(self.bytes);
        output
    }
}

/// The line before a kept tail that lost its first `dropped` bytes.
fn dropped_note(dropped: u64) -> String {
    format!("{DROPPED_NOTE_START}{dropped}{DROPPED_NOTE_END}")
}

const DROPPED_NOTE_START: &str = "[cronq: ";
const DROPPED_NOTE_END: &str = " earlier bytes of output not kept]\n";

/// Splits a run's recorded output into how many bytes of the job's output came before
/// the kept ones (from the note `Tail` puts first) and the kept bytes. An output whose
/// own first line looks exactly like the note is read as one; only a follower's count of
/// bytes depends on it.
pub fn split_dropped(output: &[u8]) -> (u64, &[u8]) {
    let parsed = (|| {
        let rest = output.strip_prefix(DROPPED_NOTE_START.as_bytes())?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let dropped: u64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        let kept = rest[digits..].strip_prefix(DROPPED_NOTE_END.as_bytes())?;
        Some((dropped, kept))
    })();
    parsed.unwrap_or((0, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, timeout: Duration) -> Finished {
        run_watched(command, timeout, None)
    }

    fn run_watched(command: &str, timeout: Duration, watch: Option<Watch>) -> Finished {
        let spec = Spec {
            command,
            env: vec![("CRONQ_TEST".to_string(), "yes".to_string())],
            timeout,
            shutdown_grace: Duration::from_secs(30),
            echo: false,
            watch,
            progress: None,
        };
        spawn(spec).unwrap().wait()
    }

    #[test]
    fn the_output_so_far_is_handed_over_while_the_job_runs() {
        let seen = std::cell::RefCell::new(Vec::<Vec<u8>>::new());
        let spec = Spec {
            command: "echo one; sleep 0.5; echo two; sleep 0.5",
            env: Vec::new(),
            timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            echo: false,
            watch: None,
            progress: Some(Progress {
                every: Duration::from_millis(100),
                write: Box::new(|bytes: &[u8]| seen.borrow_mut().push(bytes.to_vec())),
            }),
        };
        let finished = spawn(spec).unwrap().wait();
        assert_eq!(finished.output, b"one\ntwo\n");
        let seen = seen.into_inner();
        // Once for each piece of new output, not on every tick.
        assert_eq!(seen, vec![b"one\n".to_vec(), b"one\ntwo\n".to_vec()]);
    }

    #[test]
    fn the_note_of_dropped_bytes_is_read_back() {
        let mut tail = Tail::default();
        tail.push(&vec![b'x'; OUTPUT_LIMIT + 10]);
        tail.push(b"end");
        let bytes = tail.to_bytes();
        assert_eq!(bytes, tail.into_bytes());
        let (dropped, kept) = split_dropped(&bytes);
        assert_eq!(dropped, 13);
        assert_eq!(kept.len(), OUTPUT_LIMIT);
        assert!(kept.ends_with(b"xend"));
        assert_eq!(split_dropped(b"plain"), (0, &b"plain"[..]));
        assert_eq!(
            split_dropped(b"[cronq: x earlier"),
            (0, &b"[cronq: x earlier"[..])
        );
    }

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let f = run(
            "echo out; echo err >&2; echo $CRONQ_TEST; exit 3",
            Duration::from_secs(10),
        );
        assert_eq!(f.exit_code, Some(3));
        let output = String::from_utf8_lossy(&f.output);
        assert!(output.contains("out\n") && output.contains("err\n") && output.contains("yes\n"));
        assert_eq!(f.failure(Duration::from_secs(10)).unwrap(), "exit status 3");
    }

    #[test]
    fn keeps_only_the_tail_of_long_output() {
        let f = run(
            "head -c 300000 /dev/zero | tr '\\0' x; echo END",
            Duration::from_secs(10),
        );
        assert!(f.success());
        let note = "[cronq: 234468 earlier bytes of output not kept]\n";
        assert!(
            f.output.starts_with(note.as_bytes()),
            "{}",
            String::from_utf8_lossy(&f.output[..80])
        );
        assert!(f.output.ends_with(b"xEND\n"));
        assert_eq!(f.output.len(), note.len() + OUTPUT_LIMIT);
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let f = run("sleep 30 & sleep 30; echo never", Duration::from_secs(1));
        assert_eq!(f.stopped, Some(Stop::TimedOut));
        assert!(!String::from_utf8_lossy(&f.output).contains("never"));
        assert_eq!(
            f.failure(Duration::from_secs(1)).unwrap(),
            "timed out after 1 s"
        );
        assert!(f.duration < Duration::from_secs(10));
    }

    #[test]
    fn a_failing_watch_stops_the_job_as_a_timeout_does() {
        let started = Instant::now();
        let mut calls = Vec::new();
        let watch = Watch {
            every: Duration::from_millis(300),
            check: Box::new(|| {
                calls.push(started.elapsed());
                Some(Stop::ClaimLost)
            }),
        };
        let f = run_watched("sleep 30 & sleep 30", Duration::from_secs(60), Some(watch));
        assert_eq!(f.stopped, Some(Stop::ClaimLost));
        assert!(!f.success());
        assert_eq!(
            f.failure(Duration::from_secs(60)).unwrap(),
            "stopped: its claim was taken over (the run was judged stale)"
        );
        assert!(f.duration < Duration::from_secs(5), "{:?}", f.duration);
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert!(calls[0] >= Duration::from_millis(300), "{calls:?}");
    }

    #[test]
    fn a_stop_request_stops_the_job_and_says_how_it_ended() {
        let watch = Watch {
            every: Duration::from_millis(200),
            check: Box::new(|| Some(Stop::Requested)),
        };
        let f = run_watched("sleep 30 & sleep 30", Duration::from_secs(60), Some(watch));
        assert_eq!(f.stopped, Some(Stop::Requested));
        assert!(!f.success());
        assert_eq!(
            f.failure(Duration::from_secs(60)).unwrap(),
            "stopped by an operator (killed by signal 15)"
        );
        assert!(f.duration < Duration::from_secs(5), "{:?}", f.duration);

        // A job that catches SIGTERM and exits as it likes: its exit status is kept.
        let watch = Watch {
            every: Duration::from_millis(200),
            check: Box::new(|| Some(Stop::Requested)),
        };
        let f = run_watched(
            "trap 'exit 0' TERM; sleep 30 & wait",
            Duration::from_secs(60),
            Some(watch),
        );
        assert_eq!(f.exit_code, Some(0));
        assert!(
            !f.success(),
            "a stopped job is no success, whatever it exits with"
        );
        assert_eq!(
            f.failure(Duration::from_secs(60)).unwrap(),
            "stopped by an operator (exit status 0)"
        );
    }

    #[test]
    fn a_watch_that_holds_lets_the_job_finish() {
        let mut calls: Vec<Instant> = Vec::new();
        let watch = Watch {
            every: Duration::from_millis(200),
            check: Box::new(|| {
                calls.push(Instant::now());
                None
            }),
        };
        let f = run_watched("sleep 1; echo done", Duration::from_secs(10), Some(watch));
        assert!(f.success(), "{f:?}");
        assert_eq!(f.output, b"done\n");
        assert!(!calls.is_empty(), "the check was never made");
        for pair in calls.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(200), "{calls:?}");
        }
    }
}
