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
    /// waiting. A frame larger than `buf` is dropped (counted in
    /// [`PacketStats::rx_truncated`]); a `buf` shorter than the header is an error. The
    /// interface down or gone is an error.
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
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(self.failed(e)),
                };
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
