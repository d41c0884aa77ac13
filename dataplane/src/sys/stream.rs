//! A QEMU `-netdev stream` socket: vpcd listens on a Unix socket, one guest at a time
//! connects (`-netdev stream,server=off,addr.type=unix,addr.path=…`), and each Ethernet
//! frame crosses it after a 4-byte big-endian length, without a `virtio_net_hdr`.
//!
//! [`StreamPort`] owns the listener and the current connection behind one small epoll
//! instance of its own (level-triggered): its descriptor is what the run loop watches, and
//! it stays the same while guests come and go, so accepting a guest or losing one needs no
//! change to the run loop's set. Reading ([`StreamPort::recv_frame`]) accepts a waiting
//! guest, notices a disconnect, and reassembles frames across partial reads; writing
//! ([`StreamPort::send_plain`]) queues a bounded amount of output when the socket is full.
//! The `virtio_net_hdr` work (completing checksums, segmenting super-frames) is the
//! engine's (`engine::stream`): this module moves plain frames. No unsafe code.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::sys::epoll::Epoll;
use crate::wire::vnet::VNET_HDR_LEN;

/// The longest socket path that fits `sun_path` (108 bytes with its terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;
/// The largest frame length the stream may announce (QEMU's own limit: 16 bits).
pub const MAX_FRAME: usize = 65_535;
/// The smallest: an Ethernet header.
pub const MIN_FRAME: usize = 14;
/// Output queued while the guest does not read, at most (beyond it frames are dropped).
pub const MAX_PENDING: usize = 1 << 20;
/// The reassembly buffer: room for a few frames per read.
const RX_BUF: usize = 4 * (4 + MAX_FRAME);

/// Token of the listener in the port's own epoll set.
const LISTENER: u64 = 0;
/// Token of the connection.
const CONN: u64 = 1;

/// Why a stream socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The path does not fit `sun_path`.
    #[error("socket path {} is {len} bytes; a Unix socket path has at most {MAX_SOCKET_PATH}", path.display())]
    PathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// Something that is not a socket is in the way.
    #[error("{} exists and is not a socket; remove it or choose another socket path", .0.display())]
    NotASocket(PathBuf),
    /// A live process listens on the path already.
    #[error("{} is in use: something accepts connections on it", .0.display())]
    InUse(PathBuf),
    /// A system call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// What a stream port has seen (monotonic counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Guests accepted.
    pub connections: u64,
    /// Connections that ended (the guest closed it, or it was dropped for garbage).
    pub disconnects: u64,
    /// Connections dropped because a length prefix was out of bounds (< 14 or > 65535).
    pub garbage: u64,
    /// Frames not sent: no guest connected, or the bounded output queue was full.
    pub tx_dropped: u64,
}

/// The current guest connection: the socket, the bytes read but not yet returned as
/// frames (`rx[start..end]`), and the output not yet written.
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    rx: Box<[u8]>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Whether EPOLLOUT is in the watch set (output is pending).
    want_out: bool,
}

/// The next frame in a connection's buffer (see [`next_frame`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A whole frame at `range` of the bytes looked at.
    Frame(std::ops::Range<usize>),
    /// A length out of bounds: the stream is garbage from here.
    Garbage,
    /// Not a whole frame yet.
    More,
}

/// The framing itself, without the socket: what the front of `have` (bytes received and
/// not yet returned) holds; a frame's range is relative to `have`. Public for the fuzz
/// target (`fuzz/fuzz_targets/stream_framing.rs`).
pub fn next_frame(have: &[u8]) -> Next {
    let Some(prefix) = have.first_chunk::<4>() else {
        return Next::More;
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if !(MIN_FRAME..=MAX_FRAME).contains(&len) {
        return Next::Garbage;
    }
    if have.len() < 4 + len {
        return Next::More;
    }
    Next::Frame(4..4 + len)
}

impl Conn {
    fn new(stream: UnixStream) -> Conn {
        Conn {
            stream,
            rx: vec![0u8; RX_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            out: Vec::new(),
            want_out: false,
        }
    }

    fn next(&mut self) -> Next {
        let r = match next_frame(&self.rx[self.start..self.end]) {
            Next::Frame(r) => r,
            other => return other,
        };
        let (at, len) = (self.start + r.start, r.len());
        self.start = at + len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Next::Frame(at..at + len)
    }

    /// Reads more bytes; `Ok(false)` when none are waiting, an error or `UnexpectedEof`
    /// when the connection is over.
    fn fill(&mut self) -> io::Result<bool> {
        if self.end == self.rx.len() {
            // Move the partial frame to the front (it is shorter than one frame).
            self.rx.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        match self.stream.read(&mut self.rx[self.end..]) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.end += n;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Writes queued output until the socket is full; an error ends the connection.
    fn flush(&mut self) -> io::Result<()> {
        let mut done = 0;
        while done < self.out.len() {
            match self.stream.write(&self.out[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.drain(..done);
        Ok(())
    }
}

/// A listening `-netdev stream` socket and the guest connected to it, if any. Dropping it
/// closes both and removes the socket file.
#[derive(Debug)]
pub struct StreamPort {
    path: PathBuf,
    /// The socket file's inode, so that drop removes our file only.
    ino: u64,
    listener: UnixListener,
    conn: Option<Conn>,
    epoll: Epoll,
    stats: StreamStats,
}

impl StreamPort {
    /// Listens on `path` (mode 0600): a stale socket file there (nobody accepting) is
    /// replaced, anything else in the way is an error. The parent directory is created
    /// (mode 0700) when missing.
    pub fn bind(path: &Path) -> Result<StreamPort, StreamError> {
        let len = path.as_os_str().len();
        if len == 0 || len > MAX_SOCKET_PATH {
            return Err(StreamError::PathTooLong {
                path: path.to_path_buf(),
                len,
            });
        }
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |source| StreamError::Io { op, path, source }
        };
        if let Ok(m) = std::fs::symlink_metadata(path) {
            if !m.file_type().is_socket() {
                return Err(StreamError::NotASocket(path.to_path_buf()));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(StreamError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io("removing stale socket"))?;
        }
        let listener = bind_restricted(path).map_err(|(op, source)| StreamError::Io {
            op,
            path: path.to_path_buf(),
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(io("making non-blocking"))?;
        let ino = std::fs::metadata(path).map_err(io("reading"))?.ino();
        let epoll = Epoll::new().map_err(io("creating the epoll set of"))?;
        epoll
            .add(listener.as_raw_fd(), LISTENER)
            .map_err(io("watching"))?;
        Ok(StreamPort {
            path: path.to_path_buf(),
            ino,
            listener,
            conn: None,
            epoll,
            stats: StreamStats::default(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a guest is connected now.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The counters so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Accepts a waiting guest when none is connected. While one is, the listener is out
    /// of the watch set, so a second guest waits in the backlog until the first leaves.
    fn accept(&mut self) {
        if self.conn.is_some() {
            return;
        }
        match self.listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = stream.set_nonblocking(true) {
                    tracing::warn!(%e, path = %self.path.display(), "cannot use guest connection");
                    return;
                }
                if let Err(e) = self.epoll.add(stream.as_raw_fd(), CONN) {
                    tracing::warn!(%e, path = %self.path.display(), "cannot watch guest connection");
                    return;
                }
                let _ = self.epoll.delete(self.listener.as_raw_fd());
                self.stats.connections += 1;
                tracing::info!(path = %self.path.display(), "guest connected");
                self.conn = Some(Conn::new(stream));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => tracing::warn!(%e, path = %self.path.display(), "accept failed"),
        }
    }

    /// Ends the current connection and listens for the next guest.
    fn disconnect(&mut self, why: &dyn std::fmt::Display) {
        if let Some(c) = self.conn.take() {
            let _ = self.epoll.delete(c.stream.as_raw_fd());
            self.stats.disconnects += 1;
            tracing::info!(path = %self.path.display(), %why, "guest disconnected");
        }
        if let Err(e) = self.epoll.add(self.listener.as_raw_fd(), LISTENER) {
            tracing::error!(%e, path = %self.path.display(), "cannot watch the listener again");
        }
    }

    /// Keeps EPOLLOUT in the watch set exactly while output is pending.
    fn watch_output(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let want = !c.out.is_empty();
        if want != c.want_out {
            if let Err(e) = self.epoll.modify(c.stream.as_raw_fd(), CONN, want) {
                tracing::warn!(%e, "cannot change the guest connection's watch");
                return;
            }
            c.want_out = want;
        }
    }

    /// Reads one frame into `buf` after a zeroed `virtio_net_hdr` (the stream carries no
    /// offload information); `Ok(None)` when no whole frame is waiting. Accepting a guest,
    /// a guest leaving and a garbage length (counted; the connection is dropped) are
    /// handled here and read as `Ok(None)`. A frame longer than `buf` is dropped.
    pub fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.conn.is_none() {
            self.accept();
        }
        let Some(c) = self.conn.as_mut() else {
            return Ok(None);
        };
        if !c.out.is_empty() {
            if let Err(e) = c.flush() {
                self.disconnect(&e);
                return Ok(None);
            }
            self.watch_output();
        }
        loop {
            let Some(c) = self.conn.as_mut() else {
                return Ok(None);
            };
            match c.next() {
                Next::Frame(r) => {
                    let len = r.len();
                    let Some(dst) = buf.get_mut(..VNET_HDR_LEN + len) else {
                        self.stats.garbage += 1;
                        continue;
                    };
                    dst[..VNET_HDR_LEN].fill(0);
                    dst[VNET_HDR_LEN..].copy_from_slice(&c.rx[r]);
                    return Ok(Some(VNET_HDR_LEN + len));
                }
                Next::Garbage => {
                    self.stats.garbage += 1;
                    self.disconnect(&"garbage frame length");
                    return Ok(None);
                }
                Next::More => match c.fill() {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(e) => {
                        self.disconnect(&e);
                        return Ok(None);
                    }
                },
            }
        }
    }

    /// Sends one plain Ethernet frame (no `virtio_net_hdr`) after its length. What the
    /// socket does not take now is queued (up to [`MAX_PENDING`] bytes) and written on
    /// the next send or when the socket drains. `Err` (the frame is not sent; counted in
    /// [`StreamStats::tx_dropped`]) when no guest is connected, the frame is out of
    /// bounds, the queue is full or the connection broke.
    pub fn send_plain(&mut self, frame: &[u8]) -> io::Result<()> {
        let r = self.try_send(frame);
        if r.is_err() {
            self.stats.tx_dropped += 1;
        }
        r
    }

    fn try_send(&mut self, frame: &[u8]) -> io::Result<()> {
        if !(MIN_FRAME..=MAX_FRAME).contains(&frame.len()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame length out of bounds",
            ));
        }
        if self.conn.is_none() {
            self.accept();
        }
        let Some(c) = self.conn.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if c.out.len() + 4 + frame.len() > MAX_PENDING {
            // Make room first; still full: drop this frame.
            if let Err(e) = c.flush() {
                self.disconnect(&e);
                return Err(io::ErrorKind::NotConnected.into());
            }
            if c.out.len() + 4 + frame.len() > MAX_PENDING {
                self.watch_output();
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        c.out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        c.out.extend_from_slice(frame);
        if let Err(e) = c.flush() {
            self.disconnect(&e);
            return Err(io::ErrorKind::NotConnected.into());
        }
        self.watch_output();
        Ok(())
    }
}

/// The descriptor the run loop watches: the port's own epoll set, readable when a guest
/// waits to connect, the guest sent something (or left), or queued output can go.
impl AsRawFd for StreamPort {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}

impl Drop for StreamPort {
    fn drop(&mut self) {
        // Only our own socket file: a later port may have replaced it already.
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds a Unix socket at `path` that only its owner can connect to (mode 0600), creating
/// the parent directory (mode 0700) when missing. Bound under a temporary name,
/// restricted, then renamed into place: no one can connect before the mode is 0600. An
/// error names the step that failed. (The vhost-user back end binds the same way.)
pub(crate) fn bind_restricted(path: &Path) -> Result<UnixListener, (&'static str, io::Error)> {
    let io = |op: &'static str| move |e| (op, e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(io("creating the directory of"))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io("setting the mode of the directory of"))?;
        }
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    if tmp.as_os_str().len() <= MAX_SOCKET_PATH {
        let l = UnixListener::bind(&tmp).map_err(io("binding"))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(io("setting the mode of"))?;
        std::fs::rename(&tmp, path).map_err(io("renaming into place"))?;
        Ok(l)
    } else {
        let l = UnixListener::bind(path).map_err(io("binding"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("setting the mode of"))?;
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::epoll::Events;
    use std::time::{Duration, Instant};

    /// A test's scratch directory, removed when the test ends.
    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A socket path in a fresh scratch directory (removed with the guard).
    fn sock(name: &str) -> (Dir, PathBuf) {
        let dir = std::env::temp_dir().join(format!("vpcd-stream-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("eni.sock");
        (Dir(dir), path)
    }

    fn frame(n: usize, fill: u8) -> Vec<u8> {
        vec![fill; n]
    }

    /// Waits (on the port's own descriptor, as the run loop does) until a frame is read.
    fn recv_within(p: &mut StreamPort, buf: &mut [u8]) -> Option<usize> {
        let outer = Epoll::new().unwrap();
        outer.add(p.as_raw_fd(), 9).unwrap();
        let mut ev = Events::with_capacity(4);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(n) = p.recv_frame(buf).unwrap() {
                return Some(n);
            }
            outer.wait(&mut ev, 100).unwrap();
        }
        None
    }

    /// Waits until the port reports `connected == want`, driven by its descriptor.
    fn wait_connected(p: &mut StreamPort, want: bool) {
        let outer = Epoll::new().unwrap();
        outer.add(p.as_raw_fd(), 9).unwrap();
        let mut ev = Events::with_capacity(4);
        let mut buf = vec![0u8; 70_000];
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.connected() != want {
            assert!(Instant::now() < deadline, "connected never became {want}");
            outer.wait(&mut ev, 100).unwrap();
            let _ = p.recv_frame(&mut buf).unwrap();
        }
    }

    #[test]
    fn next_frame_reads_the_length_prefix() {
        let mut b = 14u32.to_be_bytes().to_vec();
        assert_eq!(next_frame(&b), Next::More);
        b.extend_from_slice(&[7; 14]);
        assert_eq!(next_frame(&b), Next::Frame(4..18));
        assert_eq!(next_frame(&[0, 0, 0, 13, 1]), Next::Garbage);
        assert_eq!(next_frame(&[0, 1, 0, 0]), Next::Garbage);
        assert_eq!(next_frame(&[0, 0, 0]), Next::More);
    }

    #[test]
    fn frames_reassemble_across_partial_writes_and_go_out_with_their_length() {
        let (_dir, path) = sock("partial");
        let mut p = StreamPort::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut guest = UnixStream::connect(&path).unwrap();
        let mut wire = Vec::new();
        for (n, fill) in [(60usize, 1u8), (1514, 2), (9014, 3)] {
            wire.extend_from_slice(&(n as u32).to_be_bytes());
            wire.extend_from_slice(&frame(n, fill));
        }
        let mut buf = vec![0xffu8; 70_000];
        // Dribble the bytes in uneven pieces: every frame comes out whole, in order.
        let mut got = Vec::new();
        for chunk in wire.chunks(7).chain(std::iter::once(&[][..])) {
            guest.write_all(chunk).unwrap();
            while let Some(n) = p.recv_frame(&mut buf).unwrap() {
                assert!(buf[..VNET_HDR_LEN].iter().all(|&b| b == 0));
                got.push(buf[VNET_HDR_LEN..n].to_vec());
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], frame(1514, 2));
        assert_eq!(got[2], frame(9014, 3));
        assert!(p.connected());
        // Sent frames arrive with their length prefix.
        p.send_plain(&frame(100, 7)).unwrap();
        let mut hdr = [0u8; 4];
        guest.read_exact(&mut hdr).unwrap();
        assert_eq!(u32::from_be_bytes(hdr), 100);
        let mut body = vec![0u8; 100];
        guest.read_exact(&mut body).unwrap();
        assert_eq!(body, frame(100, 7));
        drop(p);
        assert!(!path.exists(), "the socket file is removed with the port");
    }

    #[test]
    fn garbage_length_is_counted_and_the_next_guest_is_picked_up() {
        let (_dir, path) = sock("garbage");
        // A stale socket file (nobody accepting) is replaced.
        drop(UnixListener::bind({
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            &path
        }));
        let mut p = StreamPort::bind(&path).unwrap();
        let mut buf = vec![0u8; 70_000];
        let mut guest = UnixStream::connect(&path).unwrap();
        wait_connected(&mut p, true);
        guest.write_all(&70_000u32.to_be_bytes()).unwrap();
        guest.write_all(&[0; 64]).unwrap();
        wait_connected(&mut p, false);
        assert_eq!(p.stats().garbage, 1);
        // The dropped guest sees EOF.
        let mut rest = Vec::new();
        guest.read_to_end(&mut rest).unwrap();
        // No guest: a send fails and is counted.
        assert!(p.send_plain(&frame(60, 1)).is_err());
        assert_eq!(p.stats().tx_dropped, 1);
        // Reconnect on the same socket, no rebinding.
        let mut guest = UnixStream::connect(&path).unwrap();
        guest.write_all(&60u32.to_be_bytes()).unwrap();
        guest.write_all(&frame(60, 9)).unwrap();
        let n = recv_within(&mut p, &mut buf).unwrap();
        assert_eq!(&buf[VNET_HDR_LEN..n], &frame(60, 9)[..]);
        assert_eq!(p.stats().connections, 2);
        // A guest that goes away (QEMU exits) is noticed; the next one is accepted.
        drop(guest);
        wait_connected(&mut p, false);
        let _guest = UnixStream::connect(&path).unwrap();
        wait_connected(&mut p, true);
        assert_eq!(p.stats().connections, 3);
        assert_eq!(p.stats().disconnects, 2);
    }

    #[test]
    fn output_to_a_guest_that_does_not_read_is_bounded() {
        let (_dir, path) = sock("bounded");
        let mut p = StreamPort::bind(&path).unwrap();
        let guest = UnixStream::connect(&path).unwrap();
        wait_connected(&mut p, true);
        let big = frame(MAX_FRAME, 1);
        let mut sent = 0usize;
        while p.send_plain(&big).is_ok() {
            sent += 1;
            assert!(sent < 1000, "never filled");
        }
        assert_eq!(p.stats().tx_dropped, 1);
        assert!(p.connected());
        drop(guest);
    }

    #[test]
    fn bad_paths_are_refused() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        assert!(matches!(
            StreamPort::bind(&long),
            Err(StreamError::PathTooLong { .. })
        ));
        let (_dir, path) = sock("file");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        assert!(matches!(
            StreamPort::bind(&path),
            Err(StreamError::NotASocket(_))
        ));
        let _ = std::fs::remove_file(&path);
        let _live = StreamPort::bind(&path).unwrap();
        assert!(matches!(
            StreamPort::bind(&path),
            Err(StreamError::InUse(_))
        ));
    }
}
