//! The run loop: epoll over the ports' file descriptors, each ready port drained in
//! bounded batches (run to completion), periodic housekeeping (timers) a few times a
//! second, and a wake-up descriptor through which another thread hands work in between
//! two batches. Generic over what it drives ([`Driven`]): it knows ports and file
//! descriptors, not what the data plane does with a frame.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::engine::port::PortIdx;
use crate::sys::epoll::{Epoll, Events};

/// Epoll token of the wake-up descriptor (port numbers are below it).
const WAKE_TOKEN: u64 = u64::MAX;
/// Epoll tokens of the extra descriptors ([`Driven::extra_fds`]) start here: above every
/// port number (a `u32`), below the wake-up token.
const EXTRA_TOKEN_BASE: u64 = 1 << 32;
/// How many extra descriptors a driven thing may have (their tokens stay below
/// the wake-up descriptor's).
pub const MAX_EXTRA: u64 = 1 << 16;

/// What the run loop drives: ports that can be polled, and timers.
pub trait Driven {
    /// Reads and processes up to one batch from `port`; an I/O error of the port is
    /// returned as is (the loop then detaches the port).
    fn poll(&mut self, port: PortIdx) -> io::Result<usize>;
    /// Periodic work (connection expiry, flushing observers' buffers).
    fn housekeeping(&mut self);
    /// The port type.
    type Port: AsRawFd;
    /// The file descriptor of every attached port, with its number.
    fn port_fds(&self) -> Vec<(PortIdx, RawFd)>;
    /// Detaches a port that failed and hands it over (it closes when dropped).
    fn detach(&mut self, port: PortIdx) -> Option<Self::Port>;
    /// Other descriptors to watch besides the ports (sockets of its own), each with a
    /// number of its choosing below [`MAX_EXTRA`]; none by default.
    fn extra_fds(&self) -> Vec<(u64, RawFd)> {
        Vec::new()
    }
    /// Handles readiness of the extra descriptor numbered `id` (see
    /// [`Driven::extra_fds`]).
    fn poll_extra(&mut self, id: u64) {
        let _ = id;
    }
    /// Asked right after [`Driven::poll`] of `port`: how long the loop should stop
    /// reading the port (it went over an allowance). Meanwhile what its sender sends
    /// waits in the kernel's queue, and the kernel drops the excess there, at the
    /// sender's cost rather than the forwarding thread's. `None` (the default): go on.
    fn park(&mut self, port: PortIdx) -> Option<Duration> {
        let _ = port;
        None
    }
}

/// What the wake-up handler asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Go on.
    Continue,
    /// Return.
    Stop,
}

/// The ports the loop watches: the wake-up handler resynchronises it after it changed
/// the driven ports (an install).
pub struct Watched {
    epoll: Epoll,
    /// Watched descriptors with their tokens.
    fds: Vec<(RawFd, u64)>,
    /// Ports not watched for a while ([`Driven::park`]): until when, descriptor, token.
    parked: Vec<(Instant, RawFd, u64)>,
}

impl Watched {
    /// Watches exactly the ports `d` has now (parked ones included: an install ends
    /// every pause).
    pub fn sync<D: Driven>(&mut self, d: &D) {
        for (fd, _) in self.fds.drain(..) {
            // A port that was released is closed already (and gone from the set).
            let _ = self.epoll.delete(fd);
        }
        self.parked.clear();
        for (port, fd) in d.port_fds() {
            let token = u64::from(port.0);
            match self.epoll.add(fd, token) {
                Ok(()) => self.fds.push((fd, token)),
                Err(e) => tracing::error!(%e, port = port.0, "cannot watch port"),
            }
        }
        for (id, fd) in d.extra_fds() {
            if id >= MAX_EXTRA {
                tracing::error!(id, "extra descriptor number out of range; not watched");
                continue;
            }
            match self.epoll.add(fd, EXTRA_TOKEN_BASE + id) {
                Ok(()) => self.fds.push((fd, EXTRA_TOKEN_BASE + id)),
                Err(e) => tracing::error!(%e, id, "cannot watch descriptor"),
            }
        }
    }

    /// Stops watching the port with `token` until `until`.
    fn park(&mut self, token: u64, until: Instant) {
        let Some(i) = self.fds.iter().position(|&(_, t)| t == token) else {
            return;
        };
        let (fd, _) = self.fds.swap_remove(i);
        match self.epoll.delete(fd) {
            Ok(()) => self.parked.push((until, fd, token)),
            // Not watched after all: forget it (the next sync restores the set).
            Err(e) => tracing::warn!(%e, token, "cannot pause a port"),
        }
    }

    /// Watches again the ports whose pause ended by `now`.
    fn unpark(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.parked.len() {
            let (until, fd, token) = self.parked[i];
            if until <= now {
                self.parked.swap_remove(i);
                match self.epoll.add(fd, token) {
                    Ok(()) => self.fds.push((fd, token)),
                    Err(e) => tracing::error!(%e, token, "cannot watch a paused port again"),
                }
            } else {
                i += 1;
            }
        }
    }

    /// Milliseconds until the next pause ends (rounded up), if any.
    fn next_unpark_ms(&self, now: Instant) -> Option<i32> {
        self.parked
            .iter()
            .map(|&(until, _, _)| until.saturating_duration_since(now))
            .min()
            .map(|d| i32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i32::MAX))
    }
}

/// The loop's epoll set, its wake-up descriptor and the housekeeping interval.
pub struct RunLoop {
    watched: Watched,
    wake: UnixStream,
    interval_ms: i32,
    spin: Duration,
    spins: u64,
    blocking_waits: u64,
}

impl RunLoop {
    /// A loop woken through `wake` (the other end of a socket pair another thread
    /// writes a byte to), doing housekeeping every `interval_ms`.
    pub fn new(wake: UnixStream, interval_ms: i32) -> io::Result<RunLoop> {
        let epoll = Epoll::new()?;
        epoll.add(wake.as_raw_fd(), WAKE_TOKEN)?;
        Ok(RunLoop {
            watched: Watched {
                epoll,
                fds: Vec::new(),
                parked: Vec::new(),
            },
            wake,
            interval_ms,
            spin: Duration::ZERO,
            spins: 0,
            blocking_waits: 0,
        })
    }

    /// Adaptive polling: after a round that found work, the loop keeps polling without
    /// sleeping (`epoll_wait` with a zero timeout) for up to `spin` before it blocks again.
    /// A frame that arrives within that window (the next batch of a stream, the answer to a
    /// request just forwarded) is picked up without a sleep and a wake-up, which cost
    /// tens of microseconds on a virtual machine; an idle loop sleeps as before, so the
    /// CPU it burns is bounded by `spin` per burst of traffic. Zero (the default) never
    /// spins.
    pub fn with_spin(mut self, spin: Duration) -> RunLoop {
        self.spin = spin;
        self
    }

    /// How many waits polled without blocking, and how many could block (a timeout
    /// above zero; they may still return at once with events).
    pub fn wait_counts(&self) -> (u64, u64) {
        (self.spins, self.blocking_waits)
    }

    /// Runs until `on_wake` says [`Next::Stop`] or epoll fails. `on_wake` is called
    /// after a wake-up, between two batches, to take the work handed in; when it changes
    /// the ports it calls [`Watched::sync`].
    pub fn run<D: Driven>(
        &mut self,
        d: &mut D,
        mut on_wake: impl FnMut(&mut D, &mut Watched) -> Next,
    ) {
        self.watched.sync(d);
        let mut events = Events::with_capacity(64);
        let mut scratch = [0u8; 64];
        let mut last = Instant::now();
        // Until when the loop polls instead of sleeping (see `with_spin`).
        let mut spin_until: Option<Instant> = None;
        loop {
            let timeout = match spin_until {
                Some(t) if Instant::now() < t => {
                    self.spins += 1;
                    0
                }
                _ => {
                    spin_until = None;
                    self.blocking_waits += 1;
                    self.interval_ms
                }
            };
            // A paused port is watched again on time.
            let timeout = match self.watched.next_unpark_ms(Instant::now()) {
                Some(ms) => timeout.min(ms),
                None => timeout,
            };
            if let Err(e) = self.watched.epoll.wait(&mut events, timeout) {
                tracing::error!(%e, "epoll_wait failed; the run loop stops");
                return;
            }
            if !events.is_empty() && !self.spin.is_zero() {
                spin_until = Some(Instant::now() + self.spin);
            }
            if !self.watched.parked.is_empty() {
                self.watched.unpark(Instant::now());
            }
            // Timers: a bounded step a few times a second, never per packet.
            if last.elapsed().as_millis() >= self.interval_ms as u128 {
                d.housekeeping();
                last = Instant::now();
            }
            for i in 0..events.len() {
                let Some(token) = events.token(i) else {
                    continue;
                };
                if token == WAKE_TOKEN {
                    let _ = self.wake.read(&mut scratch);
                    if on_wake(d, &mut self.watched) == Next::Stop {
                        return;
                    }
                    continue;
                }
                if let Some(id) = token.checked_sub(EXTRA_TOKEN_BASE) {
                    d.poll_extra(id);
                    continue;
                }
                let port = PortIdx(token as u32);
                let polled = d.poll(port);
                if polled.is_ok() {
                    if let Some(pause) = d.park(port) {
                        self.watched.park(token, Instant::now() + pause);
                    }
                }
                if let Err(e) = polled {
                    // The device is gone (its namespace was deleted) or broken: stop
                    // watching it rather than spin on the error.
                    if let Some(p) = d.detach(port) {
                        let fd = p.as_raw_fd();
                        let _ = self.watched.epoll.delete(fd);
                        self.watched.fds.retain(|&(w, _)| w != fd);
                        tracing::warn!(port = port.0, %e, "port failed; detached");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;

    use super::*;

    /// Two socket "ports": port 0 reads what arrives, port 1 always fails.
    struct Fake {
        ports: Vec<Option<UnixStream>>,
        read: Vec<u8>,
        polled: mpsc::Sender<PortIdx>,
        housekeeping: u32,
    }

    impl Driven for Fake {
        type Port = UnixStream;

        fn poll(&mut self, port: PortIdx) -> io::Result<usize> {
            let _ = self.polled.send(port);
            if port.0 == 1 {
                return Err(io::Error::other("broken"));
            }
            let mut buf = [0u8; 16];
            match self.ports.get_mut(port.idx()).and_then(Option::as_mut) {
                Some(s) => {
                    let n = s.read(&mut buf)?;
                    self.read.extend_from_slice(&buf[..n]);
                    Ok(n)
                }
                None => Ok(0),
            }
        }

        fn housekeeping(&mut self) {
            self.housekeeping += 1;
        }

        fn port_fds(&self) -> Vec<(PortIdx, RawFd)> {
            self.ports
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_ref().map(|p| (PortIdx(i as u32), p.as_raw_fd())))
                .collect()
        }

        fn detach(&mut self, port: PortIdx) -> Option<UnixStream> {
            self.ports.get_mut(port.idx())?.take()
        }
    }

    #[test]
    fn ready_ports_are_polled_failed_ones_detached_and_a_wake_up_stops_it() {
        let (p0, mut p0_peer) = UnixStream::pair().unwrap();
        let (p1, mut p1_peer) = UnixStream::pair().unwrap();
        let (wake, mut waker) = UnixStream::pair().unwrap();
        let (polled_tx, polled) = mpsc::channel();
        let mut fake = Fake {
            ports: vec![Some(p0), Some(p1)],
            read: Vec::new(),
            polled: polled_tx,
            housekeeping: 0,
        };
        let mut run = RunLoop::new(wake, 5).unwrap();
        let feeder = std::thread::spawn(move || {
            p0_peer.write_all(b"frame").unwrap();
            p1_peer.write_all(b"x").unwrap();
            // Both ports were polled (readiness, not time): now stop the loop.
            let mut seen = [false; 2];
            while !(seen[0] && seen[1]) {
                let p = polled.recv().unwrap();
                seen[p.idx()] = true;
            }
            waker.write_all(&[1]).unwrap();
            (p0_peer, p1_peer)
        });
        let mut wakes = 0;
        run.run(&mut fake, |_, _| {
            wakes += 1;
            Next::Stop
        });
        let _peers = feeder.join().unwrap();
        assert_eq!(fake.read, b"frame");
        assert!(fake.ports[1].is_none(), "the failed port was detached");
        assert!(fake.ports[0].is_some());
        assert_eq!(wakes, 1);
        assert_eq!(run.watched.fds.len(), 1, "only the healthy port is watched");
    }

    /// A driven thing with no port and one extra descriptor.
    struct Extra {
        sock: UnixStream,
        polled: Vec<u64>,
        /// Written to once the extra descriptor was handled: the loop then stops.
        waker: UnixStream,
    }

    impl Driven for Extra {
        type Port = UnixStream;
        fn poll(&mut self, _: PortIdx) -> io::Result<usize> {
            Ok(0)
        }
        fn housekeeping(&mut self) {}
        fn port_fds(&self) -> Vec<(PortIdx, RawFd)> {
            Vec::new()
        }
        fn detach(&mut self, _: PortIdx) -> Option<UnixStream> {
            None
        }
        fn extra_fds(&self) -> Vec<(u64, RawFd)> {
            vec![(7, self.sock.as_raw_fd())]
        }
        fn poll_extra(&mut self, id: u64) {
            let mut buf = [0u8; 16];
            let _ = (&self.sock).read(&mut buf);
            self.polled.push(id);
            let _ = self.waker.write_all(&[1]);
        }
    }

    #[test]
    fn extra_descriptors_are_watched_under_their_own_number() {
        let (sock, mut peer) = UnixStream::pair().unwrap();
        let (wake, waker) = UnixStream::pair().unwrap();
        let mut extra = Extra {
            sock,
            polled: Vec::new(),
            waker,
        };
        let mut run = RunLoop::new(wake, 1000).unwrap();
        peer.write_all(b"x").unwrap();
        let mut woken = false;
        run.run(&mut extra, |d, _| {
            woken = true;
            assert_eq!(d.polled, [7]);
            Next::Stop
        });
        assert!(woken);
        assert_eq!(extra.polled, [7]);
        drop(peer);
    }

    /// Two ports; port 0 asks for a pause after every poll and stays ready (it reads a
    /// byte a time); port 1 is made ready again after each of its first three polls.
    struct Pausing {
        ports: Vec<UnixStream>,
        port1_peer: UnixStream,
        polls: Vec<(PortIdx, Instant)>,
        pause: Duration,
        /// Written to once port 0 was polled twice: the loop then stops.
        waker: UnixStream,
    }

    impl Driven for Pausing {
        type Port = UnixStream;
        fn poll(&mut self, port: PortIdx) -> io::Result<usize> {
            self.polls.push((port, Instant::now()));
            let mut b = [0u8; 1];
            let n = (&self.ports[port.idx()]).read(&mut b)?;
            let count = |p: u32| self.polls.iter().filter(|(q, _)| q.0 == p).count();
            if port.0 == 1 && count(1) < 3 {
                self.port1_peer.write_all(&[1])?;
            }
            if count(0) == 2 {
                let _ = self.waker.write_all(&[1]);
            }
            Ok(n)
        }
        fn housekeeping(&mut self) {}
        fn port_fds(&self) -> Vec<(PortIdx, RawFd)> {
            self.ports
                .iter()
                .enumerate()
                .map(|(i, p)| (PortIdx(i as u32), p.as_raw_fd()))
                .collect()
        }
        fn detach(&mut self, _: PortIdx) -> Option<UnixStream> {
            None
        }
        fn park(&mut self, port: PortIdx) -> Option<Duration> {
            (port.0 == 0).then_some(self.pause)
        }
    }

    #[test]
    fn a_paused_port_is_not_read_until_its_pause_ends_and_others_are() {
        let (p0, mut p0_peer) = UnixStream::pair().unwrap();
        let (p1, mut port1_peer) = UnixStream::pair().unwrap();
        let (wake, waker) = UnixStream::pair().unwrap();
        let pause = Duration::from_millis(200);
        // Port 0 always has more to read; port 1 one byte, then one per poll.
        p0_peer.write_all(&[0; 64]).unwrap();
        port1_peer.write_all(&[1]).unwrap();
        let mut d = Pausing {
            ports: vec![p0, p1],
            port1_peer,
            polls: Vec::new(),
            pause,
            waker,
        };
        let mut run = RunLoop::new(wake, 1000).unwrap();
        run.run(&mut d, |_, _| Next::Stop);
        let at = |p: u32| -> Vec<Instant> {
            d.polls
                .iter()
                .filter(|(q, _)| q.0 == p)
                .map(|(_, t)| *t)
                .collect()
        };
        let (zero, one) = (at(0), at(1));
        // Port 0, ready all along, waited out its pause; port 1 was served meanwhile.
        assert_eq!(zero.len(), 2, "{:?}", d.polls);
        assert!(
            zero[1] - zero[0] >= pause,
            "read again after {:?}",
            zero[1] - zero[0]
        );
        assert_eq!(one.len(), 3);
        assert!(one.iter().all(|t| *t < zero[1]), "{:?}", d.polls);
        drop(p0_peer);
    }
}
