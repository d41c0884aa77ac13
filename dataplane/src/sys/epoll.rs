//! A minimal level-triggered epoll wrapper.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// The epoll instance's own descriptor: readable while any watched fd is ready, so one
/// epoll set can be watched by another (a port's private set inside the run loop's).
impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// One readiness event: the token registered with the fd.
pub type Token = u64;

impl Epoll {
    /// Creates an epoll instance.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative return is a fresh fd
        // that nothing else owns, so OwnedFd may take it.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: see above: `fd` is valid and exclusively ours.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: Token) -> io::Result<()> {
        self.ctl_events(op, fd, token, libc::EPOLLIN as u32)
    }

    fn ctl_events(&self, op: libc::c_int, fd: RawFd, token: Token, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; the kernel
        // copies it. A bad `fd` yields an error, not UB.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Watches `fd` for input, reporting `token`.
    pub fn add(&self, fd: RawFd, token: Token) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token)
    }

    /// Changes what `fd` (already watched) is watched for: input, and output too when
    /// `output` (for a socket with queued output).
    pub fn modify(&self, fd: RawFd, token: Token, output: bool) -> io::Result<()> {
        let mut events = libc::EPOLLIN as u32;
        if output {
            events |= libc::EPOLLOUT as u32;
        }
        self.ctl_events(libc::EPOLL_CTL_MOD, fd, token, events)
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0)
    }

    /// Waits up to `timeout_ms` (-1: forever) and fills `tokens` with ready tokens.
    pub fn wait(&self, events: &mut Events, timeout_ms: i32) -> io::Result<usize> {
        let cap = events.buf.len() as libc::c_int;
        // SAFETY: `events.buf` is a live, writable array of `cap` epoll_event values.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.buf.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                events.len = 0;
                return Ok(0);
            }
            return Err(e);
        }
        events.len = n as usize;
        Ok(events.len)
    }
}

/// A reusable buffer of epoll events.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    /// Room for `n` events per wait.
    pub fn with_capacity(n: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; n.max(1)],
            len: 0,
        }
    }

    /// The token of ready event `i` (of the last wait).
    pub fn token(&self, i: usize) -> Option<Token> {
        (i < self.len).then(|| self.buf[i].u64)
    }

    /// Ready events of the last wait.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last wait returned nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_readable_fd_with_its_token() {
        let ep = Epoll::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        ep.add(b.as_raw_fd(), 7).unwrap();
        let mut ev = Events::with_capacity(4);
        assert_eq!(ep.wait(&mut ev, 0).unwrap(), 0);
        a.write_all(b"x").unwrap();
        assert_eq!(ep.wait(&mut ev, 1000).unwrap(), 1);
        assert_eq!(ev.token(0), Some(7));
        ep.delete(b.as_raw_fd()).unwrap();
        assert_eq!(ep.wait(&mut ev, 0).unwrap(), 0);
    }
}
