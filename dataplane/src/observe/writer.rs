//! The writer thread: flow-log and packet-capture file writes off the forwarding thread.
//!
//! The forwarding thread formats flow-log records and pcap records into memory and hands
//! them over as owned jobs on a bounded channel; one thread per [`Writer`] (started with
//! the first file, stopped and joined when the last handle is dropped) owns the files and
//! does every write, flush and close, logging failures through `tracing`.
//!
//! Two ways to queue a job ([`Delivery`]):
//! - [`Delivery::DropIfFull`], for the periodic work (an interval's records, a batch of
//!   packets every 50 ms): never blocks; when the queue is full the job is dropped and its
//!   records are counted ([`Overflows`], in the stats report and the metrics);
//! - [`Delivery::Wait`], for a file's life cycle (open, the last records of a flow log or
//!   a capture that an apply or a stop closes, close): waits for room, so that a closing
//!   file is complete. These happen at apply and stop, a few per configured file.
//!
//! Each job is one `write_all` of whole records (no buffering in the thread): a reader of a
//! growing file sees whole flow-log intervals and whole pcap records, except in the middle
//! of that write. [`Writer::sync`] waits until everything queued so far is written (tests,
//! shutdown, an apply that truncates a file the thread still writes).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

/// Jobs the queue holds (a pcap job is at most about 512 KiB, so the queue holds at most
/// about 32 MiB of capture data).
pub const QUEUE_JOBS: usize = 64;

/// Why a file could not be handed to the writer thread.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// The thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Spawn(String),
    /// The thread is gone (it panicked).
    #[error("the writer thread is gone")]
    Gone,
}

/// What a file holds: decides how a write failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A flow log: a failed write is logged and the file kept (the next interval tries
    /// again, as an append).
    FlowLog,
    /// A pcap file: a failed write stops the capture (a half-written record would make
    /// the rest of the file unreadable), until an apply opens it again.
    Capture,
}

/// A file owned by the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(u64);

/// What the writer thread reports about one file, read by the forwarding thread.
#[derive(Debug, Default)]
pub struct FileStatus {
    failed: AtomicBool,
    errors: AtomicU64,
    error: Mutex<Option<String>>,
}

impl FileStatus {
    /// Records a failure.
    pub fn fail(&self, error: String) {
        self.failed.store(true, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.error.lock() {
            *e = Some(error);
        }
    }

    /// Whether writing stopped (a capture's file failed).
    #[inline]
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Failures so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The last failure.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// How to queue a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Never block: drop the job (and count its records) when the queue is full.
    DropIfFull,
    /// Wait for room in the queue (a file's last records, at apply and stop).
    Wait,
}

/// Records dropped because the queue was full, per kind of file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflows {
    /// Flow-log records.
    pub flow_log_records: u64,
    /// Packets of packet captures.
    pub capture_packets: u64,
}

/// One job for the writer thread.
enum Job {
    /// From now on the thread owns `file`.
    Open {
        id: FileId,
        file: File,
        kind: Kind,
        /// The flow log's or capture's id (for logs).
        name: String,
        /// The file's path (for logs and errors).
        path: String,
        status: Option<Arc<FileStatus>>,
    },
    /// Whole flow-log lines, each ending in `\n`.
    FlowLogLines { id: FileId, text: String },
    /// Whole pcap records.
    PcapBytes { id: FileId, bytes: Vec<u8> },
    /// Close the file.
    Close { id: FileId },
    /// Answer once every job queued before is done.
    Sync { done: mpsc::Sender<()> },
}

/// The running thread.
struct Chan {
    tx: SyncSender<Job>,
    thread: thread::JoinHandle<()>,
}

struct Shared {
    capacity: usize,
    /// Started with the first file; `Err` if the thread could not be started.
    chan: OnceLock<Result<Chan, String>>,
    next_id: AtomicU64,
    flow_log_records_dropped: AtomicU64,
    capture_packets_dropped: AtomicU64,
}

impl Drop for Shared {
    /// Closes the queue and waits for the thread to write what it holds.
    fn drop(&mut self) {
        if let Some(Ok(Chan { tx, thread })) = self.chan.take() {
            drop(tx);
            if thread.join().is_err() {
                tracing::error!("the flow-log and capture writer thread panicked");
            }
        }
    }
}

/// A handle to a writer thread; clones share the thread. The thread starts with the
/// first [`Writer::open`] and stops, after writing everything queued, when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::new(QUEUE_JOBS)
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("capacity", &self.shared.capacity)
            .field("started", &self.shared.chan.get().is_some())
            .field("overflows", &self.overflows())
            .finish()
    }
}

impl Writer {
    /// A writer whose queue holds `capacity` jobs (at least 1). No thread runs until the
    /// first file is opened.
    pub fn new(capacity: usize) -> Writer {
        Writer {
            shared: Arc::new(Shared {
                capacity: capacity.max(1),
                chan: OnceLock::new(),
                next_id: AtomicU64::new(0),
                flow_log_records_dropped: AtomicU64::new(0),
                capture_packets_dropped: AtomicU64::new(0),
            }),
        }
    }

    /// The queue, starting the thread if needed.
    fn start(&self) -> Result<&SyncSender<Job>, WriterError> {
        let chan = self.shared.chan.get_or_init(|| {
            let (tx, rx) = mpsc::sync_channel(self.shared.capacity);
            thread::Builder::new()
                .name("writer".into())
                .spawn(move || run(rx))
                .map(|thread| Chan { tx, thread })
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot start the flow-log and capture writer thread");
                    e.to_string()
                })
        });
        match chan {
            Ok(c) => Ok(&c.tx),
            Err(e) => Err(WriterError::Spawn(e.clone())),
        }
    }

    /// The queue if the thread runs.
    fn running(&self) -> Option<&SyncSender<Job>> {
        match self.shared.chan.get() {
            Some(Ok(c)) => Some(&c.tx),
            _ => None,
        }
    }

    /// Hands `file` (open for writing) to the thread; `name` and `path` say what it is in
    /// logs; write failures are recorded in `status` when given. Waits for room in the
    /// queue.
    pub fn open(
        &self,
        file: File,
        kind: Kind,
        name: &str,
        path: &str,
        status: Option<Arc<FileStatus>>,
    ) -> Result<FileId, WriterError> {
        let tx = self.start()?;
        let id = FileId(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        tx.send(Job::Open {
            id,
            file,
            kind,
            name: name.to_string(),
            path: path.to_string(),
            status,
        })
        .map_err(|_| WriterError::Gone)?;
        Ok(id)
    }

    /// Queues `text` (`records` whole lines) for flow log `id`. Returns whether it was
    /// queued (else the records are counted as dropped).
    pub fn flow_log_lines(&self, id: FileId, text: String, records: u64, how: Delivery) -> bool {
        let queued = self.queue(Job::FlowLogLines { id, text }, how);
        if !queued {
            self.shared
                .flow_log_records_dropped
                .fetch_add(records, Ordering::Relaxed);
        }
        queued
    }

    /// Queues `bytes` (`packets` whole pcap records) for capture file `id`. Returns
    /// whether it was queued (else the packets are counted as dropped).
    pub fn pcap_bytes(&self, id: FileId, bytes: Vec<u8>, packets: u64, how: Delivery) -> bool {
        let queued = self.queue(Job::PcapBytes { id, bytes }, how);
        if !queued {
            self.shared
                .capture_packets_dropped
                .fetch_add(packets, Ordering::Relaxed);
        }
        queued
    }

    fn queue(&self, job: Job, how: Delivery) -> bool {
        let Some(tx) = self.running() else {
            return false;
        };
        match how {
            Delivery::DropIfFull => match tx.try_send(job) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => false,
                Err(TrySendError::Disconnected(_)) => {
                    tracing::error!("the flow-log and capture writer thread is gone");
                    false
                }
            },
            Delivery::Wait => tx.send(job).is_ok(),
        }
    }

    /// Closes file `id` after the writes queued before (waits for room in the queue).
    pub fn close(&self, id: FileId) {
        if let Some(tx) = self.running() {
            let _ = tx.send(Job::Close { id });
        }
    }

    /// Waits until every job queued so far is done (the files hold what was queued).
    pub fn sync(&self) {
        let Some(tx) = self.running() else { return };
        let (done, wait) = mpsc::channel();
        if tx.send(Job::Sync { done }).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Records dropped so far because the queue was full.
    pub fn overflows(&self) -> Overflows {
        Overflows {
            flow_log_records: self.shared.flow_log_records_dropped.load(Ordering::Relaxed),
            capture_packets: self.shared.capture_packets_dropped.load(Ordering::Relaxed),
        }
    }
}

/// A file the thread owns.
struct OpenFile {
    file: File,
    kind: Kind,
    name: String,
    path: String,
    status: Option<Arc<FileStatus>>,
}

impl OpenFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.file.flush()
    }
}

/// The thread: jobs in order until every handle is gone; then the files close.
fn run(rx: Receiver<Job>) {
    let mut files: HashMap<FileId, OpenFile> = HashMap::new();
    for job in rx {
        match job {
            Job::Open {
                id,
                file,
                kind,
                name,
                path,
                status,
            } => {
                files.insert(
                    id,
                    OpenFile {
                        file,
                        kind,
                        name,
                        path,
                        status,
                    },
                );
            }
            Job::FlowLogLines { id, text } => write(&mut files, id, text.as_bytes()),
            Job::PcapBytes { id, bytes } => write(&mut files, id, &bytes),
            Job::Close { id } => {
                files.remove(&id);
            }
            Job::Sync { done } => {
                let _ = done.send(());
            }
        }
    }
}

/// Writes `bytes` to file `id` (gone after a capture's failure: nothing to do).
fn write(files: &mut HashMap<FileId, OpenFile>, id: FileId, bytes: &[u8]) {
    let Some(f) = files.get_mut(&id) else { return };
    let Err(e) = f.write(bytes) else { return };
    match f.kind {
        Kind::FlowLog => {
            tracing::warn!(flow_log = %f.name, path = %f.path, error = %e, "writing the flow log failed");
        }
        Kind::Capture => {
            tracing::warn!(
                capture = %f.name,
                path = %f.path,
                error = %e,
                "packet capture stopped: writing the file failed"
            );
        }
    }
    if let Some(s) = &f.status {
        s.fail(format!("writing {}: {e}", f.path));
    }
    if f.kind == Kind::Capture {
        files.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> (String, File) {
        let p = std::env::temp_dir().join(format!("vpcd-writer-{}-{name}", std::process::id()));
        let f = File::create(&p).unwrap();
        (p.to_string_lossy().into_owned(), f)
    }

    #[test]
    fn writes_in_order_and_sync_waits_for_them() {
        let w = Writer::default();
        let (p, f) = temp("order");
        let id = w.open(f, Kind::FlowLog, "fl-1", &p, None).unwrap();
        for i in 0..10 {
            assert!(w.flow_log_lines(id, format!("line {i}\n"), 1, Delivery::Wait));
        }
        w.sync();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 10);
        assert!(text.starts_with("line 0\nline 1\n"));
        w.close(id);
        drop(w);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_blocks() {
        use std::io::Read;
        use std::os::fd::OwnedFd;
        use std::os::unix::net::UnixStream;
        // The thread writes into a socket nobody reads yet: the first job fills its buffer
        // and the thread blocks there, so the queue (one job) fills up.
        let (a, mut b) = UnixStream::pair().unwrap();
        let w = Writer::new(1);
        let id = w
            .open(
                File::from(OwnedFd::from(a)),
                Kind::Capture,
                "cap-1",
                "socket",
                None,
            )
            .unwrap();
        let big = 4 << 20;
        assert!(w.pcap_bytes(id, vec![0; big], 1, Delivery::Wait));
        let mut queued = 0;
        for _ in 0..3 {
            if w.pcap_bytes(id, vec![1; 10], 2, Delivery::DropIfFull) {
                queued += 1;
            }
        }
        assert!(queued <= 1, "{queued}");
        assert_eq!(w.overflows().capture_packets, 2 * (3 - queued));
        assert_eq!(w.overflows().flow_log_records, 0);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got.len()
        });
        w.sync();
        w.close(id);
        drop(w);
        assert_eq!(reader.join().unwrap(), big + 10 * queued as usize);
    }

    #[test]
    fn dropping_the_last_handle_drains_the_queue() {
        let w = Writer::default();
        let (p, f) = temp("drain");
        let id = w.open(f, Kind::FlowLog, "fl-1", &p, None).unwrap();
        let other = w.clone();
        assert!(w.flow_log_lines(id, "a\nb\n".into(), 2, Delivery::Wait));
        drop(w);
        assert!(other.flow_log_lines(id, "c\n".into(), 1, Delivery::Wait));
        drop(other);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\nc\n");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_failed_capture_write_is_reported_and_stops_the_file() {
        let w = Writer::default();
        // /dev/full fails every write with ENOSPC.
        let Ok(f) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            eprintln!("SKIP: no /dev/full");
            return;
        };
        let status = Arc::new(FileStatus::default());
        let id = w
            .open(f, Kind::Capture, "cap-x", "/dev/full", Some(status.clone()))
            .unwrap();
        assert!(w.pcap_bytes(id, vec![1; 100], 1, Delivery::Wait));
        w.sync();
        assert!(status.failed());
        assert_eq!(status.errors(), 1);
        assert!(status.error().unwrap().starts_with("writing /dev/full: "));
        // Later writes go nowhere (the file is closed): no second error.
        assert!(w.pcap_bytes(id, vec![1; 100], 1, Delivery::Wait));
        w.sync();
        assert_eq!(status.errors(), 1);
    }

    #[test]
    fn an_unused_writer_starts_no_thread() {
        let w = Writer::default();
        w.sync();
        assert!(!w.flow_log_lines(FileId(0), "x\n".into(), 1, Delivery::DropIfFull));
        assert_eq!(w.overflows().flow_log_records, 1);
        assert!(w.shared.chan.get().is_none());
    }
}
