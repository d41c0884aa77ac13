//! One ENI's TCP endpoint for 169.254.169.254:80: a `smoltcp` interface (IP medium: the
//! data plane strips and adds the Ethernet header) whose device is two queues the data
//! plane fills and drains, and a fixed pool of listening sockets. Each connection keeps
//! its request bytes (at most [`MAX_REQUEST`]) and the answer not yet in the socket.
//!
//! Bounds: [`SOCKETS`] connections at once (a SYN beyond them gets a RST from smoltcp),
//! [`RX_QUEUE`] packets waiting, a request unfinished after [`SLOW_CLIENT_MS`] is reset,
//! an idle kept-alive connection is closed after [`IDLE_MS`].

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use super::catalog::Catalog;
use super::http::{self, Parsed, Request, MAX_REQUEST};
use super::METADATA_IP;
use crate::vpc::config::EniIdx;
use crate::vpc::tables::Tables;

/// The metadata service's TCP port.
pub const PORT: u16 = 80;
/// Connections one ENI may hold open at once.
pub const SOCKETS: usize = 8;
/// Packets from the instance waiting for the stack, at most.
pub const RX_QUEUE: usize = 64;
/// A request still incomplete this long after its first byte is reset (ms).
pub const SLOW_CLIENT_MS: u64 = 10_000;
/// A kept-alive connection idle this long is closed (ms).
pub const IDLE_MS: u64 = 60_000;
const RX_BUF: usize = 4096;
const TX_BUF: usize = 8192;

/// What answering one request produced.
pub struct Reply {
    /// The whole HTTP response.
    pub bytes: Vec<u8>,
    /// The status (for counters).
    pub status: u16,
    /// The IP TTL of the packets carrying it (`None`: the default, 64).
    pub hop_limit: Option<u8>,
}

/// The data plane's side of the stack's device: packets in, packets out.
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    mtu: usize,
}

struct Rx(Vec<u8>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0u8; len];
        let r = f(&mut b);
        self.0.push(b);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = self.mtu;
        c
    }
}

/// One connection's HTTP state.
#[derive(Default)]
struct Conn {
    handle: Option<SocketHandle>,
    inbuf: Vec<u8>,
    overflow: bool,
    out: Vec<u8>,
    close_after: bool,
    first_byte: Option<u64>,
    last: u64,
}

/// What a run of the stack reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Requests answered with 2xx.
    pub ok: u64,
    /// Requests answered with an error status.
    pub errors: u64,
    /// Connections reset for a request that never completed.
    pub timeouts: u64,
}

/// One ENI's metadata endpoint.
pub struct Stack {
    iface: Interface,
    dev: Queues,
    sockets: SocketSet<'static>,
    conns: Vec<Conn>,
    /// The last time a packet came in (ms).
    pub last_seen: u64,
    /// The instance's metadata under the configuration epoch it was built in.
    cached: Option<(u64, Catalog)>,
}

impl Stack {
    /// A stack answering at 169.254.169.254:80 with IP MTU `mtu`.
    pub fn new(mtu: usize, now: u64) -> Stack {
        let mut dev = Queues {
            mtu: mtu.clamp(576, 9001),
            ..Default::default()
        };
        let mut config = Config::new(HardwareAddress::Ip);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(now);
        config.random_seed = h.finish();
        let ts = Instant::from_millis(now as i64);
        let mut iface = Interface::new(config, &mut dev, ts);
        let [a, b, c, d] = METADATA_IP.octets();
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::v4(a, b, c, d), 32));
        });
        // The IP medium needs no neighbour: every answer leaves through the data plane,
        // which addresses it to the ENI.
        let _ = iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Address::new(169, 254, 169, 1));
        let mut sockets = SocketSet::new(Vec::new());
        let mut conns = Vec::with_capacity(SOCKETS);
        for _ in 0..SOCKETS {
            let mut s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; RX_BUF]),
                tcp::SocketBuffer::new(vec![0; TX_BUF]),
            );
            s.set_nagle_enabled(false);
            // A peer that stops acknowledging is given up after 30 s (after the
            // slow-client limit, which answers a stalled request first).
            s.set_timeout(Some(Duration::from_secs(30)));
            let _ = s.listen(PORT);
            conns.push(Conn {
                handle: Some(sockets.add(s)),
                ..Default::default()
            });
        }
        Stack {
            iface,
            dev,
            sockets,
            conns,
            last_seen: now,
            cached: None,
        }
    }

    /// The instance's catalog for configuration `epoch`, taken out of the cache (built
    /// from `t` when the cache is of another epoch); hand it back with
    /// [`Stack::keep_catalog`].
    pub fn catalog(&mut self, t: &Tables, epoch: u64, eni: EniIdx) -> Option<Catalog> {
        match self.cached.take() {
            Some((e, c)) if e == epoch => Some(c),
            _ => Catalog::of(t, eni),
        }
    }

    /// Keeps `catalog` (of `epoch`) for the next requests.
    pub fn keep_catalog(&mut self, epoch: u64, catalog: Option<Catalog>) {
        self.cached = catalog.map(|c| (epoch, c));
    }

    /// Queues one IP packet from the instance; `false` when the queue is full (the
    /// packet is dropped: the client retransmits).
    pub fn push(&mut self, packet: &[u8], now: u64) -> bool {
        self.last_seen = now;
        if self.dev.rx.len() >= RX_QUEUE {
            return false;
        }
        self.dev.rx.push_back(packet.to_vec());
        true
    }

    /// Runs the stack at `now`: takes the queued packets, answers whole requests with
    /// `answer`, runs the timers; the IP packets to send wait in [`Stack::take_output`].
    pub fn run(&mut self, now: u64, answer: &mut dyn FnMut(&Request) -> Reply) -> Activity {
        let ts = Instant::from_millis(now as i64);
        let mut act = Activity::default();
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
        for c in &mut self.conns {
            c.work(&mut self.sockets, now, answer, &mut act);
        }
        self.iface.poll(ts, &mut self.dev, &mut self.sockets);
        act
    }

    /// The IP packets the stack sent since the last call.
    pub fn take_output(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.dev.tx)
    }

    /// Whether no connection is open (every socket listens).
    pub fn idle(&self) -> bool {
        self.conns.iter().all(|c| {
            c.handle
                .map(|h| self.sockets.get::<tcp::Socket>(h).is_listening())
                .unwrap_or(true)
        })
    }
}

impl Conn {
    fn work(
        &mut self,
        sockets: &mut SocketSet<'static>,
        now: u64,
        answer: &mut dyn FnMut(&Request) -> Reply,
        act: &mut Activity,
    ) {
        let Some(h) = self.handle else { return };
        let s = sockets.get_mut::<tcp::Socket>(h);
        match s.state() {
            tcp::State::Closed => {
                *self = Conn {
                    handle: Some(h),
                    ..Default::default()
                };
                s.set_hop_limit(None);
                let _ = s.listen(PORT);
                return;
            }
            // A connection we closed first: nothing more comes; free the socket for
            // the next client rather than hold it through TIME-WAIT.
            tcp::State::TimeWait => {
                s.abort();
                return;
            }
            tcp::State::Listen | tcp::State::SynReceived => {
                self.last = now;
                return;
            }
            _ => {}
        }
        // Twice at most: the receive ring hands out its bytes in up to two slices (the
        // end of the ring, then its start).
        for _ in 0..2 {
            if !s.can_recv() {
                break;
            }
            let inbuf = &mut self.inbuf;
            let overflow = &mut self.overflow;
            let _ = s.recv(|d| {
                let room = MAX_REQUEST.saturating_sub(inbuf.len());
                let n = d.len().min(room);
                inbuf.extend_from_slice(&d[..n]);
                if n < d.len() {
                    *overflow = true;
                }
                (d.len(), ())
            });
            self.last = now;
            if self.first_byte.is_none() && !self.inbuf.is_empty() {
                self.first_byte = Some(now);
            }
        }
        while !self.close_after && !self.inbuf.is_empty() {
            match http::parse(&self.inbuf) {
                Parsed::Partial if !self.overflow => break,
                Parsed::Partial => {
                    self.error(431, act);
                }
                Parsed::Error(code) => {
                    self.error(code, act);
                }
                Parsed::Request(req, n) => {
                    let reply = answer(&req);
                    if (200..300).contains(&reply.status) {
                        act.ok += 1;
                    } else {
                        act.errors += 1;
                    }
                    s.set_hop_limit(reply.hop_limit);
                    self.out.extend_from_slice(&reply.bytes);
                    self.inbuf.drain(..n.min(self.inbuf.len()));
                    self.first_byte = (!self.inbuf.is_empty()).then_some(now);
                    if req.close {
                        self.close_after = true;
                        self.inbuf.clear();
                    }
                }
            }
        }
        while !self.out.is_empty() && s.can_send() {
            match s.send_slice(&self.out) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.out.drain(..n);
                }
            }
        }
        if self.out.is_empty() && (self.close_after || !s.may_recv()) {
            s.close();
            return;
        }
        if let Some(f) = self.first_byte {
            if now.saturating_sub(f) > SLOW_CLIENT_MS {
                act.timeouts += 1;
                s.abort();
                return;
            }
        }
        if self.inbuf.is_empty() && self.out.is_empty() && now.saturating_sub(self.last) > IDLE_MS {
            s.close();
        }
    }

    /// Answers `status` and closes after it.
    fn error(&mut self, status: u16, act: &mut Activity) {
        act.errors += 1;
        self.out.extend_from_slice(&http::response(
            status,
            &http::error_body(status),
            false,
            true,
            &[],
        ));
        self.close_after = true;
        self.inbuf.clear();
        self.first_byte = None;
    }
}
