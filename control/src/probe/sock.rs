//! Socket helpers shared by the probes: waiting for readiness until a deadline, and reading the
//! ICMP errors that `IP_RECVERR` queues on a socket (who refused, and how).
//!
//! With `IP_RECVERR` set, the kernel queues every ICMP error about a socket's packets on the
//! socket's error queue, with the ICMP type and code, the address of the host that sent it (the
//! "offender") and the start of the packet it quotes, and makes `poll` report `POLLERR`. Without
//! it, a connected UDP socket learns only of "hard" errors (port unreachable, not host
//! unreachable) and a raw socket of none, so the option is what tells a refusal from silence.

use std::io::{self, IoSliceMut};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};

use super::wire;

/// Waits until `fd` is ready for `events` (or has an error or hang-up), or `deadline` passes.
///
/// Returns the ready events, or `None` at the deadline.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    deadline: Instant,
) -> io::Result<Option<PollFlags>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up so that a wait never ends just before its deadline and spins.
        let ms = left.as_micros().div_ceil(1000);
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, timeout) {
            Ok(0) if left.is_zero() => return Ok(None),
            Ok(0) => continue,
            Ok(_) => return Ok(Some(fds[0].revents().unwrap_or(PollFlags::empty()))),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Turns on `IP_RECVERR`: ICMP errors about this socket's packets are queued on it (see the
/// module documentation).
pub(crate) fn recv_errors(fd: impl AsFd) -> io::Result<()> {
    setsockopt(&fd, sockopt::Ipv4RecvErr, &true).map_err(io::Error::from)
}

/// One entry of a socket's error queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedError {
    /// The error number the kernel derived (`EHOSTUNREACH`, `ECONNREFUSED`…).
    pub errno: Errno,
    /// Where it came from: an ICMP message from the network, or this host's own stack.
    pub origin: Origin,
    /// The ICMP type (for [`Origin::Icmp`]).
    pub icmp_type: u8,
    /// The ICMP code (for [`Origin::Icmp`]).
    pub icmp_code: u8,
    /// The ICMP message's extra word (the next-hop MTU of "fragmentation needed").
    pub info: u32,
    /// The host that sent the ICMP error.
    pub offender: Option<Ipv4Addr>,
    /// The start of the quoted packet, from its transport header on (for a raw ICMP socket: the
    /// echo request the error is about).
    pub quoted: Vec<u8>,
}

/// The origin of a [`QueuedError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An ICMP message received from the network.
    Icmp,
    /// This host's own stack (a local delivery failure, for example).
    Local,
    /// Anything else (time-stamping, zero-copy notices).
    Other,
}

impl QueuedError {
    /// `ICMP host unreachable from 10.0.1.1`, or `local error: …`.
    pub(crate) fn describe(&self) -> String {
        match self.origin {
            Origin::Icmp => {
                let what = wire::describe_icmp(self.icmp_type, self.icmp_code, self.info);
                match self.offender {
                    Some(from) => format!("ICMP {what} from {from}"),
                    None => format!("ICMP {what}"),
                }
            }
            Origin::Local | Origin::Other => format!("local error: {}", self.errno.desc()),
        }
    }
}

/// Reads every entry of the socket's error queue (never blocks). Reading also clears the
/// socket's pending error when the queue empties.
pub(crate) fn drain_errors(fd: BorrowedFd<'_>) -> Vec<QueuedError> {
    let mut out = Vec::new();
    // A bounded loop: the queue cannot grow faster than we read it in practice, but never spin.
    for _ in 0..64 {
        let mut data = [0u8; 64];
        let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in);
        let mut iov = [IoSliceMut::new(&mut data)];
        let received = recvmsg::<SockaddrIn>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        );
        let (bytes, entry) = match received {
            Ok(msg) => {
                let entry = msg.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|c| match c {
                        ControlMessageOwned::Ipv4RecvErr(ee, offender) => Some((ee, offender)),
                        _ => None,
                    })
                });
                (msg.bytes, entry)
            }
            Err(Errno::EINTR) => continue,
            // EAGAIN: the queue is empty. Anything else: nothing more to learn from it.
            Err(_) => break,
        };
        let Some((ee, offender)) = entry else {
            continue;
        };
        let origin = match ee.ee_origin {
            libc::SO_EE_ORIGIN_ICMP => Origin::Icmp,
            libc::SO_EE_ORIGIN_LOCAL => Origin::Local,
            _ => Origin::Other,
        };
        let errno = Errno::from_raw(i32::try_from(ee.ee_errno).unwrap_or(libc::EIO));
        let offender = offender
            .filter(|sa| i32::from(sa.sin_family) == libc::AF_INET)
            .map(|sa| Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)));
        out.push(QueuedError {
            errno,
            origin,
            icmp_type: ee.ee_type,
            icmp_code: ee.ee_code,
            info: ee.ee_info,
            offender,
            quoted: data[..bytes.min(data.len())].to_vec(),
        });
    }
    out
}

/// Whether an error number means the network (or the local stack's routing or firewall) said no,
/// as opposed to a failure of the probe itself.
pub(crate) fn is_refusal(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::ECONNREFUSED
            | Errno::ECONNRESET
            | Errno::EHOSTUNREACH
            | Errno::ENETUNREACH
            | Errno::EHOSTDOWN
            | Errno::ENONET
            | Errno::ENOPROTOOPT
            | Errno::EPROTO
            | Errno::EACCES
            | Errno::EPERM
            | Errno::EMSGSIZE
    )
}

/// The error number of an I/O error (`EIO` when it carries none).
pub(crate) fn errno_of(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_error_descriptions() {
        let mut e = QueuedError {
            errno: Errno::EHOSTUNREACH,
            origin: Origin::Icmp,
            icmp_type: 3,
            icmp_code: 1,
            info: 0,
            offender: Some(Ipv4Addr::new(10, 0, 1, 1)),
            quoted: Vec::new(),
        };
        assert_eq!(e.describe(), "ICMP host unreachable from 10.0.1.1");
        e.offender = None;
        e.icmp_code = 3;
        assert_eq!(e.describe(), "ICMP port unreachable");
        e.origin = Origin::Local;
        assert_eq!(e.describe(), "local error: No route to host");
    }

    #[test]
    fn refusals() {
        assert!(is_refusal(Errno::ECONNREFUSED));
        assert!(is_refusal(Errno::EHOSTUNREACH));
        assert!(!is_refusal(Errno::EBADF));
        assert!(!is_refusal(Errno::EADDRINUSE));
        assert_eq!(
            errno_of(&io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            Errno::ECONNREFUSED
        );
        assert_eq!(errno_of(&io::Error::other("x")), Errno::EIO);
    }

    #[test]
    fn wait_times_out_and_sees_readiness() {
        use std::io::Write;
        use std::os::unix::net::UnixStream;
        use std::time::Duration;
        let (mut a, b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let got = wait(
            b.as_fd(),
            PollFlags::POLLIN,
            start + Duration::from_millis(30),
        )
        .unwrap();
        assert_eq!(got, None);
        assert!(start.elapsed() >= Duration::from_millis(30));
        a.write_all(b"x").unwrap();
        let got = wait(b.as_fd(), PollFlags::POLLIN, Instant::now()).unwrap();
        assert!(got.is_some_and(|f| f.contains(PollFlags::POLLIN)));
        assert!(drain_errors(b.as_fd()).is_empty());
    }
}
