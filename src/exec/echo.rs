//! run-job's copy of the job's output to this process's stdout and stderr. Whoever reads
//! them may stop reading (a full pipe nobody drains); the supervisor must still enforce
//! the timeout and record the run. So each stream is written by a thread of its own, fed
//! through a bounded queue that the supervisor never waits on: when a queue is full, that
//! stream's copy stops for good (with a notice on stderr, when the full one is stdout) and
//! the output is still recorded. Only run-job echoes, so only it pays for the threads.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How many chunks of output (each at most one read, 16 KiB) may wait to be written: up to
/// 1 MiB that a terminal may fall behind the job before the copy stops.
const QUEUE: usize = 64;

/// At the end, how long to wait for a copy that makes no progress before leaving it.
const STALL: Duration = Duration::from_secs(1);

/// One of this process's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a copying thread is given to write.
enum Message {
    Output(Vec<u8>),
    /// A warning, written through the logger (so `-q` and the log format apply).
    Notice(&'static str),
}

const STDOUT_STOPPED: &str = "stopped copying the job's output to stdout: it is not being \
    read (or too slowly); the output is still recorded (see it with `cronq show`)";

/// The copies to stdout and stderr; a stream without one is not copied (or no longer).
#[derive(Default)]
pub struct Echo {
    stdout: Option<Copier>,
    stderr: Option<Copier>,
}

impl Echo {
    /// Starts copying to both streams.
    pub fn start() -> Echo {
        Echo {
            stdout: Copier::start(io::stdout()),
            stderr: Copier::start(io::stderr()),
        }
    }

    /// Queues `bytes` for `stream`, never blocking. A full queue stops that stream's copy;
    /// a stream that can no longer be written (its thread ended) stops quietly.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) {
        let copier = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let Some(copy) = copier else {
            return;
        };
        match copy.queue.try_send(Message::Output(bytes.to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Disconnected(_)) => *copier = None,
            Err(TrySendError::Full(_)) => {
                // Its thread is stuck writing: dropping the copier leaves it to end with
                // the process. A stuck stderr cannot be told about itself.
                *copier = None;
                if stream == Stream::Stdout {
                    if let Some(stderr) = &self.stderr {
                        let _ = stderr.queue.try_send(Message::Notice(STDOUT_STOPPED));
                    }
                }
            }
        }
    }

    /// Lets both threads write what is queued, and ends them.
    pub fn finish(self) {
        for copy in [self.stdout, self.stderr].into_iter().flatten() {
            copy.finish();
        }
    }
}

/// A thread that writes queued messages to one stream.
struct Copier {
    queue: SyncSender<Message>,
    /// Holds a token when something was written since `finish` last looked; closed when
    /// the thread ends.
    written: Receiver<()>,
    thread: JoinHandle<()>,
}

impl Copier {
    /// `None` when no thread can be started: then that stream is not copied.
    fn start(mut out: impl Write + Send + 'static) -> Option<Copier> {
        let (queue, messages) = mpsc::sync_channel::<Message>(QUEUE);
        let (wrote, written) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("cronq-echo".to_string())
            .spawn(move || {
                for message in messages {
                    match message {
                        Message::Output(bytes) => {
                            // A closed terminal ends the copy, not the job or its record.
                            if out.write_all(&bytes).and_then(|_| out.flush()).is_err() {
                                return;
                            }
                        }
                        Message::Notice(text) => log::warn!("{text}"),
                    }
                    // Full: progress is already signalled.
                    let _ = wrote.try_send(());
                }
            });
        match thread {
            Ok(thread) => Some(Copier {
                queue,
                written,
                thread,
            }),
            Err(e) => {
                log::warn!("cannot start a thread to copy the job's output ({e}); not copying it");
                None
            }
        }
    }

    /// Closes the queue and waits for the thread to write the rest; leaves it (to end with
    /// the process) once it makes no progress for `STALL`: its reader has just stopped.
    fn finish(self) {
        drop(self.queue);
        loop {
            match self.written.recv_timeout(STALL) {
                Ok(()) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.thread.join();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => return,
            }
        }
    }
}
