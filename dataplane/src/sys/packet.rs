//! An existing host interface (a hypervisor's TAP, a veth, a NIC) attached with an
//! `AF_PACKET` socket and its vnet header ([`PacketPort`]), so offloads survive: the
//! kernel hands us each frame behind a `virtio_net_hdr` ([`VNET_HDR_LEN`] bytes), TCP
//! super-frames (GSO) and partial checksums intact, and takes ours the same way.
//!
//! The socket is `SOCK_RAW` for `ETH_P_ALL`, non-blocking, bound to the interface's
//! index, with `PACKET_VNET_HDR` (header size checked against [`VNET_HDR_LEN`]),
//! `PACKET_IGNORE_OUTGOING` (it does not read back what it, or the host, sends), a
//! promiscuous membership (frames to the ENI's MAC are seen; released on close) and
//! large socket buffers. Opened inside a named namespace, it lives there for good
//! ([`crate::sys::netns::in_netns`]).
//!
//! # Attaching an ENI to an interface (not wired in yet)
//!
//! Meant as `AttachmentKind::Interface { name, netns }`: the daemon calls
//! [`PacketPort::open`]`(name, netns)` where it creates a TAP for `AttachmentKind::Tap`,
//! wraps the port in a new `AnyPort::Packet` variant (delegating to its
//! [`crate::engine::port::Port`] impl, `crate::engine::packet`), and registers its fd
//! (`AsRawFd`) with epoll for input like any other port. The daemon neither creates nor
//! deletes the interface (it belongs to the hypervisor or the operator): detaching is
//! dropping the port. When the interface is deleted, `recv`/`send` fail (and keep
//! failing, [`PacketPort::attached`] is false): the daemon should report the attachment
//! down and drop the port, reopening it on the next apply if the interface is back.

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::netns::in_netns;
use crate::wire::vnet::VNET_HDR_LEN;

/// The send and receive buffer each socket asks for (8 MiB; as root beyond
/// `net.core.[rw]mem_max`).
pub const SOCKET_BUF: usize = 8 << 20;

/// The legacy `virtio_net_hdr` (no `num_buffers`): what `PACKET_VNET_HDR` puts in front
/// of a frame.
const LEGACY_VNET_HDR_LEN: usize = 10;
const _: () = assert!(VNET_HDR_LEN == LEGACY_VNET_HDR_LEN);

/// `ETH_P_ALL` in network byte order, as `socket`/`sockaddr_ll` want it.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// Why an interface could not be attached.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    /// The name does not fit an interface name.
    #[error("invalid interface name `{0}` (1 to 15 bytes, no '/', ':' or whitespace)")]
    BadName(String),
    /// The namespace could not be entered (missing, not a namespace, not root).
    #[error("cannot enter network namespace `{netns}`: {source}")]
    Namespace {
        /// The namespace's name.
        netns: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// There is no interface of that name (in that namespace).
    #[error("no interface {iface}: {source}")]
    NoInterface {
        /// The interface, with its namespace.
        iface: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A socket call failed.
    #[error("{op} on the AF_PACKET socket of {iface} failed: {source}")]
    Socket {
        /// Which call (`socket`, `setsockopt(PACKET_VNET_HDR)`, `bind`, …).
        op: &'static str,
        /// The interface, with its namespace.
        iface: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The kernel's vnet header is not the engine's.
    #[error("the kernel's virtio_net_hdr on {iface} is {got} bytes, the engine's {VNET_HDR_LEN}")]
    HdrSize {
        /// The interface, with its namespace.
        iface: String,
        /// The size the kernel reported.
        got: usize,
    },
}

/// Counters of what the port dropped itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketStats {
    /// Frames received that did not fit the caller's buffer (dropped).
    pub rx_truncated: u64,
    /// Frames the kernel could not describe with a `virtio_net_hdr` (a GSO kind it has
    /// no virtio name for; `EINVAL`, the frame consumed): dropped.
    pub rx_unrepresentable: u64,
}

/// An interface attached with an `AF_PACKET` socket: one frame per `recv`/`send`, its
/// `virtio_net_hdr` first. Dropping it closes the socket (the interface stays).
#[derive(Debug)]
pub struct PacketPort {
    fd: OwnedFd,
    name: String,
    netns: Option<String>,
    ifindex: i32,
    gone: bool,
    stats: PacketStats,
}

/// `name` (`` `veth0` ``) or `` `veth0` in namespace `ns` `` for messages.
fn describe(name: &str, netns: Option<&str>) -> String {
    match netns {
        Some(ns) if !ns.is_empty() => format!("`{name}` in namespace `{ns}`"),
        _ => format!("`{name}`"),
    }
}

/// Sets socket option `level`/`opt` to `val`.
fn setsockopt<T>(fd: RawFd, level: libc::c_int, opt: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `fd` is an open socket we own; `val` points to a live `T` of
    // `size_of::<T>()` bytes, the type this option expects (checked by callers), which
    // the kernel only reads during the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (val as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Reads integer socket option `level`/`opt`.
fn getsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut val: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is an open socket we own; `val` and `len` are live locals, `len`
    // holding the size of `val`, so the kernel writes at most that many bytes.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            opt,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(val)
    }
}

/// The interface index the socket is bound to (`-1` once its interface is gone).
fn bound_ifindex(fd: RawFd) -> io::Result<i32> {
    // SAFETY: `sockaddr_ll` is plain old data; all zeroes is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `fd` is an open socket we own; `sll` and `len` are live locals, `len`
    // holding the size of `sll`, so the kernel writes at most that many bytes.
    let r = unsafe { libc::getsockname(fd, (&mut sll as *mut libc::sockaddr_ll).cast(), &mut len) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sll.sll_ifindex)
    }
}

/// Opens and configures the socket in the current namespace.
fn open_here(name: &str, iface: &str) -> Result<(OwnedFd, i32), PacketError> {
    let err = |op: &'static str| {
        let iface = iface.to_string();
        move |source| PacketError::Socket { op, iface, source }
    };
    let cname = CString::new(name).map_err(|_| PacketError::BadName(name.to_string()))?;
    // SAFETY: `cname` is a live NUL-terminated string; the call only reads it.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(PacketError::NoInterface {
            iface: iface.to_string(),
            source: io::Error::last_os_error(),
        });
    }
    let ifindex = i32::try_from(ifindex).map_err(|_| PacketError::NoInterface {
        iface: iface.to_string(),
        source: io::Error::from(io::ErrorKind::InvalidData),
    })?;
    // Protocol 0: no frame is queued before `bind` names the interface and `ETH_P_ALL`.
    // SAFETY: plain system call with constant arguments; no memory is passed.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(err("socket(AF_PACKET)")(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a descriptor just returned by `socket`, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let s = fd.as_raw_fd();
    let one: libc::c_int = 1;
    setsockopt(s, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &one)
        .map_err(err("setsockopt(PACKET_VNET_HDR)"))?;
    match getsockopt_int(s, libc::SOL_PACKET, libc::PACKET_VNET_HDR_SZ) {
        Ok(got) if got as usize != VNET_HDR_LEN => {
            return Err(PacketError::HdrSize {
                iface: iface.to_string(),
                got: got as usize,
            })
        }
        Ok(_) => {}
        // Kernels before 6.7 know only `PACKET_VNET_HDR`: the legacy 10-byte header.
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
        Err(e) => return Err(err("getsockopt(PACKET_VNET_HDR_SZ)")(e)),
    }
    setsockopt(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one)
        .map_err(err("setsockopt(PACKET_IGNORE_OUTGOING)"))?;
    let size = libc::c_int::try_from(SOCKET_BUF).unwrap_or(libc::c_int::MAX);
    for (force, plain, op) in [
        (
            libc::SO_SNDBUFFORCE,
            libc::SO_SNDBUF,
            "setsockopt(SO_SNDBUF)",
        ),
        (
            libc::SO_RCVBUFFORCE,
            libc::SO_RCVBUF,
            "setsockopt(SO_RCVBUF)",
        ),
    ] {
        // Beyond `[rw]mem_max` needs CAP_NET_ADMIN; without it, what the limit allows.
        if setsockopt(s, libc::SOL_SOCKET, force, &size).is_err() {
            setsockopt(s, libc::SOL_SOCKET, plain, &size).map_err(err(op))?;
        }
    }
    // SAFETY: `sockaddr_ll` is plain old data; all zeroes is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = ETH_P_ALL_BE;
    sll.sll_ifindex = ifindex;
    // SAFETY: `s` is our open socket; `sll` is a live, initialized `sockaddr_ll` and the
    // length passed is its size; the kernel only reads it.
    let r = unsafe {
        libc::bind(
            s,
            (&sll as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(err("bind")(io::Error::last_os_error()));
    }
    // SAFETY: `packet_mreq` is plain old data; all zeroes is a valid value.
    let mut mreq: libc::packet_mreq = unsafe { mem::zeroed() };
    mreq.mr_ifindex = ifindex;
    mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
    setsockopt(s, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
        .map_err(err("setsockopt(PACKET_ADD_MEMBERSHIP promisc)"))?;
    Ok((fd, ifindex))
}

impl PacketPort {
    /// Attaches the existing interface `name` in namespace `netns` (`/run/netns/NAME`;
    /// `None` or empty: the caller's own namespace).
    pub fn open(name: &str, netns: Option<&str>) -> Result<PacketPort, PacketError> {
        if name.is_empty()
            || name.len() >= libc::IFNAMSIZ
            || name.contains(['/', ':', '\0'])
            || name.contains(char::is_whitespace)
        {
            return Err(PacketError::BadName(name.to_string()));
        }
        let netns = netns.filter(|ns| !ns.is_empty());
        let iface = describe(name, netns);
        let (fd, ifindex) = match netns {
            None => open_here(name, &iface)?,
            Some(ns) => {
                let (n, i) = (name.to_string(), iface.clone());
                in_netns(ns, move || Ok(open_here(&n, &i))).map_err(|source| {
                    PacketError::Namespace {
                        netns: ns.to_string(),
                        source,
                    }
                })??
            }
        };
        Ok(PacketPort {
            fd,
            name: name.to_string(),
            netns: netns.map(str::to_owned),
            ifindex,
            gone: false,
            stats: PacketStats::default(),
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace the interface lives in (`None`: the daemon's own).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The interface's index (in its namespace) when the port was opened.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// What the port dropped itself.
    pub fn stats(&self) -> PacketStats {
        self.stats
    }

    /// Whether the socket is still bound to its interface (false once the interface was
    /// deleted; a new interface of the same name is another one: reopen).
    pub fn attached(&self) -> bool {
        !self.gone && bound_ifindex(self.fd.as_raw_fd()).is_ok_and(|i| i == self.ifindex)
    }

    /// The error of every call once the interface is gone.
    fn gone_error(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "interface {} is gone",
                describe(&self.name, self.netns.as_deref())
            ),
        )
    }

    /// Turns the error of a call into what the caller sees: `ENETDOWN`/`ENXIO`/`ENODEV`
    /// with the socket unbound mean the interface was deleted (remembered: every later
    /// call fails too).
    fn failed(&mut self, e: io::Error) -> io::Error {
        let down = matches!(
            e.raw_os_error(),
            Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV)
        );
        if down && !self.attached() {
            self.gone = true;
            return self.gone_error();
        }
        e
    }

    /// Reads one frame (its `virtio_net_hdr` first) into `buf`; `Ok(None)` when none is
    /// waiting. A frame larger than `buf`, or one whose offloads have no
    /// `virtio_net_hdr` form, is dropped (counted in [`PacketStats`]); a `buf` shorter
    /// than the header is an error. The interface down or gone is an error.
    pub fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.gone {
            return Err(self.gone_error());
        }
        if buf.len() < VNET_HDR_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer shorter than a virtio_net_hdr",
            ));
        }
        loop {
            // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes the kernel
            // writes at most that many bytes into; `fd` is our open socket.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ if e.raw_os_error() == Some(libc::EINVAL) => {
                        self.stats.rx_unrepresentable += 1;
                        continue;
                    }
                    _ => return Err(self.failed(e)),
                }
            }
            // `MSG_TRUNC`: the frame's real length, header included.
            let n = n as usize;
            if n > buf.len() {
                self.stats.rx_truncated += 1;
                continue;
            }
            return Ok(Some(n));
        }
    }

    /// Sends one frame (its `virtio_net_hdr` first: a super-frame is segmented, a
    /// partial checksum completed by the kernel or the device). A full send queue is a
    /// `WouldBlock` error; the interface down or gone is an error.
    pub fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.gone {
            return Err(self.gone_error());
        }
        if frame.len() <= VNET_HDR_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame without an Ethernet frame after its virtio_net_hdr",
            ));
        }
        loop {
            // SAFETY: `frame` is a live slice of `frame.len()` bytes the kernel only
            // reads; `fd` is our open socket, bound to the interface.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                // A datagram goes whole or not at all.
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(self.failed(e));
        }
    }
}

impl AsRawFd for PacketPort {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::port::Port;
    use crate::sys::ip::{netns_add, netns_delete_if_exists, Ip, LinkAttr};
    use crate::sys::netns::in_netns;
    use crate::wire::vnet::{VnetHdr, GSO_ECN, GSO_TCPV4};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    const A_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    const B_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
    /// A local experimental EtherType: nothing else on the link uses it.
    const ETHERTYPE: [u8; 2] = [0x88, 0xb5];

    /// Whether the test may touch the system (root); outside CI a non-root run skips.
    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run as root"
            );
            eprintln!("SKIP: not root");
            return false;
        }
        true
    }

    /// Two namespaces of this run (`vpk<pid><tag>a`, `…b`) joined by a veth pair, `pa`
    /// (10.99.0.1/24) in the first, `pb` (10.99.0.2/24) in the second, MTU 9000, the
    /// kernel's default offloads (TSO on). Dropping it deletes both namespaces (and the
    /// pair with them), also when a test panics.
    struct Veth {
        a: String,
        b: String,
    }

    impl Veth {
        fn new(tag: &str) -> Veth {
            let p = format!("vpk{}{tag}", std::process::id());
            let v = Veth {
                a: format!("{p}a"),
                b: format!("{p}b"),
            };
            for ns in [&v.a, &v.b] {
                netns_delete_if_exists(ns).unwrap();
                netns_add(ns).unwrap();
            }
            Ip::veth_add(Some(&v.a), "pa", "pb", &v.b).run().unwrap();
            for (ns, dev, ip) in [(&v.a, "pa", A_IP), (&v.b, "pb", B_IP)] {
                let attrs = [LinkAttr::NoIpv6LinkLocal, LinkAttr::Mtu(9000), LinkAttr::Up];
                Ip::link_set(Some(ns), dev, &attrs).run().unwrap();
                Ip::addr_add(Some(ns), dev, ip.into(), 24).run().unwrap();
            }
            v
        }
    }

    impl Drop for Veth {
        fn drop(&mut self) {
            for ns in [&self.a, &self.b] {
                let _ = netns_delete_if_exists(ns);
            }
        }
    }

    /// A plain frame (zeroed `virtio_net_hdr`) of `len` payload bytes of `marker`.
    fn raw(dst: [u8; 6], marker: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; VNET_HDR_LEN];
        f.extend_from_slice(&dst);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99]);
        f.extend_from_slice(&ETHERTYPE);
        f.resize(f.len() + len, marker);
        f
    }

    /// The first frame `port` receives within 3 s for which `want` holds.
    fn wait_for(port: &mut PacketPort, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        wait_within(port, Duration::from_secs(3), want)
    }

    /// The first frame `port` receives within `limit` for which `want` holds.
    fn wait_within(
        port: &mut PacketPort,
        limit: Duration,
        want: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 70_000];
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            match port.recv(&mut buf).unwrap() {
                Some(n) if want(&buf[..n]) => return Some(buf[..n].to_vec()),
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        None
    }

    fn marked(marker: u8) -> impl Fn(&[u8]) -> bool {
        move |f: &[u8]| {
            f.len() > VNET_HDR_LEN + 14
                && f[VNET_HDR_LEN + 12..][..2] == ETHERTYPE
                && f[VNET_HDR_LEN + 14] == marker
        }
    }

    #[test]
    fn rejects_bad_names_and_namespaces_without_touching_the_system() {
        for bad in ["", "a-name-that-is-too-long", "a/b", "a b", "a:1"] {
            assert!(
                matches!(PacketPort::open(bad, None), Err(PacketError::BadName(_))),
                "{bad}"
            );
        }
        let e = PacketPort::open("eth0", Some("vpk-no-such-namespace")).unwrap_err();
        assert!(matches!(e, PacketError::Namespace { .. }), "{e}");
        let e = PacketPort::open("eth0", Some("../x")).unwrap_err();
        assert!(matches!(e, PacketError::Namespace { .. }), "{e}");
    }

    #[test]
    fn frames_cross_a_veth_with_their_vnet_header() {
        if !root() {
            return;
        }
        let v = Veth::new("f");
        let e = PacketPort::open("nope0", Some(&v.a)).unwrap_err();
        assert!(matches!(e, PacketError::NoInterface { .. }), "{e}");
        let mut port = PacketPort::open("pa", Some(&v.a)).unwrap();
        let mut peer = PacketPort::open("pb", Some(&v.b)).unwrap();
        assert_eq!((port.name(), port.netns()), ("pa", Some(v.a.as_str())));
        assert!(port.attached() && port.ifindex() > 0);
        let link = Ip::new(["-d", "link", "show", "dev", "pa"])
            .within(Some(&v.a))
            .run()
            .unwrap();
        assert!(link.contains("promiscuity 1"), "{link}");

        // In: frames to a MAC that is not the interface's, up to the MTU, plain.
        let other_mac = [0x02, 0, 0, 0, 0, 0x42];
        for (marker, len) in [(0xa1, 100), (0xa2, 8986)] {
            let sent = raw(other_mac, marker, len);
            peer.send(&sent).unwrap();
            let got = wait_for(&mut port, marked(marker)).expect("frame from the peer");
            let h = VnetHdr::parse(&got).unwrap();
            assert!(!h.is_gso(), "{h:?}");
            assert_eq!(got[VNET_HDR_LEN..], sent[VNET_HDR_LEN..]);
        }

        // Out: what the port sends arrives on the peer, and not back on the port.
        let sent = raw([0xff; 6], 0xb1, 300);
        port.send(&sent).unwrap();
        let got = wait_for(&mut peer, marked(0xb1)).expect("frame from the port");
        assert_eq!(got[VNET_HDR_LEN..], sent[VNET_HDR_LEN..]);
        assert!(wait_within(&mut port, Duration::from_millis(200), marked(0xb1)).is_none());

        // Short buffers and frames: errors or drops, never a panic.
        let mut tiny = [0u8; 5];
        let e = port.recv(&mut tiny).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            port.send(&[0u8; 4]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        peer.send(&raw(other_mac, 0xc1, 500)).unwrap();
        let mut small = [0u8; 64];
        let deadline = Instant::now() + Duration::from_secs(3);
        while port.stats().rx_truncated == 0 && Instant::now() < deadline {
            if port.recv(&mut small).unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(port.stats().rx_truncated, 1);
        assert!(port.recv(&mut small).unwrap().is_none());
    }

    #[test]
    fn tcp_super_frames_arrive_whole() {
        if !root() {
            return;
        }
        let v = Veth::new("g");
        let mut port = PacketPort::open("pa", Some(&v.a)).unwrap();
        let listener = in_netns(&v.a, || TcpListener::bind((A_IP, 0))).unwrap();
        let to = listener.local_addr().unwrap();
        let mut out = in_netns(&v.b, move || TcpStream::connect(to)).unwrap();
        let (mut inp, _) = listener.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            inp.read_to_end(&mut all).map(|_| all.len())
        });
        let writer = std::thread::spawn(move || {
            let chunk = vec![0x5au8; 1 << 20];
            for _ in 0..8 {
                out.write_all(&chunk)?;
            }
            Ok::<_, io::Error>(())
        });
        let gso = wait_for(&mut port, |f| {
            VnetHdr::parse(f).is_ok_and(|h| h.gso_type & !GSO_ECN == GSO_TCPV4)
        })
        .expect("a TCP super-frame");
        let h = VnetHdr::parse(&gso).unwrap();
        assert!(gso.len() - VNET_HDR_LEN > 9000, "{} bytes", gso.len());
        assert!(h.gso_size > 0 && h.hdr_len > 0, "{h:?}");
        writer.join().unwrap().unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 8 << 20);
    }

    #[test]
    fn a_super_frame_sent_leaves_whole_with_its_offloads() {
        if !root() {
            return;
        }
        let v = Veth::new("s");
        let mut port = PacketPort::open("pa", Some(&v.a)).unwrap();
        let mut peer = PacketPort::open("pb", Some(&v.b)).unwrap();
        // A TCP super-frame of three 1000-byte segments, its checksum partial (only the
        // pseudo-header sum in place, as the engine leaves it).
        let payload = vec![0x77u8; 3000];
        let mut f = vec![0u8; VNET_HDR_LEN];
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(A_IP.octets(), [10, 99, 0, 77], 64)
            .tcp(80, 40000, 1000, 64000)
            .ack(1)
            .write(&mut f, &payload)
            .unwrap();
        let tcp_len = (f.len() - VNET_HDR_LEN - 34) as u32;
        let pseudo = crate::wire::checksum::fold(
            crate::wire::checksum::sum(0, &A_IP.octets())
                .wrapping_add(crate::wire::checksum::sum(0, &[10, 99, 0, 77]))
                .wrapping_add(6 + tcp_len),
        );
        let at = VNET_HDR_LEN + 34 + 16;
        f[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
        let sent = VnetHdr {
            flags: crate::wire::vnet::F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1000,
            csum_start: 34,
            csum_offset: 16,
        };
        sent.emit(&mut f).unwrap();
        port.send(&f).unwrap();
        // The veth has TSO: the peer gets it whole, its offloads in its header.
        let got = wait_for(&mut peer, |g| {
            g.len() > VNET_HDR_LEN + 34 && g[VNET_HDR_LEN + 30..][..4] == [10, 99, 0, 77]
        })
        .expect("the super-frame on the peer");
        let h = VnetHdr::parse(&got).unwrap();
        assert_eq!(
            (h.gso_type & !GSO_ECN, h.gso_size),
            (GSO_TCPV4, 1000),
            "{h:?}"
        );
        assert_eq!(got.len(), f.len());
        assert_eq!(got[VNET_HDR_LEN + 54..], f[VNET_HDR_LEN + 54..]);
    }

    #[test]
    fn a_deleted_interface_is_an_error() {
        if !root() {
            return;
        }
        let v = Veth::new("d");
        let mut port = PacketPort::open("pa", Some(&v.a)).unwrap();
        let mut buf = vec![0u8; 10_000];
        // Down is not gone: an error, then frames again once it is up.
        Ip::new(["link", "set", "dev", "pa", "down"])
            .within(Some(&v.a))
            .run()
            .unwrap();
        let e = port.recv(&mut buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN), "{e}");
        assert_eq!(
            port.send(&raw([0xff; 6], 1, 60))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENETDOWN)
        );
        assert!(port.attached());
        Ip::link_up(Some(&v.a), "pa").run().unwrap();
        assert!(port.recv(&mut buf).is_ok());
        port.send(&raw([0xff; 6], 1, 60)).unwrap();

        Ip::link_delete(Some(&v.a), "pa").run().unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let e = loop {
            match port.recv(&mut buf) {
                Err(e) => break e,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                Ok(_) => panic!("recv still fine after the interface was deleted"),
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        assert!(!port.attached());
        let e = port.send(&raw([0xff; 6], 1, 60)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        assert!(port.recv(&mut buf).is_err());
    }
}
