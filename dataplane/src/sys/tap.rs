//! TAP devices opened with `IFF_TAP | IFF_NO_PI | IFF_VNET_HDR` and offloads on, so the
//! kernel hands us (and takes from us) 64 KB TCP super-frames with a `virtio_net_hdr`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::wire::vnet::VNET_HDR_LEN;

// The ioctl numbers and flags of `linux/if_tun.h` all come from `libc` (none is written
// out here). The `ifr_flags` field is a C `short`; libc declares the flags as `c_int`.
use libc::{
    IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_VNET_HDR, TUNSETIFF, TUNSETOFFLOAD, TUNSETPERSIST,
    TUNSETSNDBUF, TUNSETVNETHDRSZ, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN,
};

/// The `ifr_flags` of `TUNSETIFF`: a TAP, without packet information, with vnet headers.
const TAP_FLAGS: libc::c_short = (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) as libc::c_short;

/// Why a TAP device could not be opened or configured.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The name does not fit an interface name.
    #[error("invalid TAP name `{0}` (1 to 15 bytes, no '/' or whitespace)")]
    BadName(String),
    /// A multi-queue TAP needs 1 to [`MAX_QUEUES`] queues.
    #[error("a multi-queue TAP has 1 to {MAX_QUEUES} queues, not {0}")]
    BadQueues(usize),
    /// `/dev/net/tun` could not be opened.
    #[error("cannot open /dev/net/tun (is the tun module loaded, and are we root?): {0}")]
    Open(#[source] io::Error),
    /// The namespace of a TAP to adopt could not be entered.
    #[error("cannot enter network namespace `{netns}` to adopt TAP `{name}`: {source}")]
    Netns {
        /// The namespace.
        netns: String,
        /// The device.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An ioctl failed.
    #[error("{op} on TAP `{name}` failed: {source}")]
    Ioctl {
        /// Which ioctl.
        op: &'static str,
        /// The device.
        name: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open, non-blocking TAP device. Dropping it closes the fd, which removes the
/// device wherever it lives once its last queue is closed; a device made persistent with
/// [`Tap::set_persistent`] is made transient again first, so only a process that dies
/// without dropping it (`kill -9`, a crash, SIGTERM's default action) leaves it behind,
/// for the next vpcd to [adopt](Tap::adopt_queues).
#[derive(Debug)]
pub struct Tap {
    file: File,
    name: String,
    persistent: bool,
}

fn ioctl_ptr<T>(fd: RawFd, req: libc::Ioctl, arg: *mut T) -> io::Result<()> {
    // SAFETY: `fd` is an open descriptor we own and `arg` points to a live, properly
    // sized and aligned value of the type this request expects (checked by callers).
    let r = unsafe { libc::ioctl(fd, req, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn ioctl_val(fd: RawFd, req: libc::Ioctl, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: requests used with this helper take their argument by value; no memory
    // is passed to the kernel.
    let r = unsafe { libc::ioctl(fd, req, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Most queues a multi-queue TAP may have (the kernel's `MAX_TAP_QUEUES`).
pub const MAX_QUEUES: usize = 256;

impl Tap {
    /// Creates TAP `name` in the current namespace with vnet headers, checksum and TSO
    /// offloads, and a send buffer of `sndbuf` bytes.
    pub fn create(name: &str, sndbuf: i32) -> Result<Tap, TapError> {
        Tap::open(name, TAP_FLAGS, sndbuf)
    }

    /// Creates multi-queue TAP `name` (`IFF_MULTI_QUEUE`) with `queues` queues (1 to
    /// [`MAX_QUEUES`]), each its own descriptor set up like [`Tap::create`]'s: the kernel
    /// spreads the frames its side sends over the queues by flow (and learns which queue
    /// a flow's frames are written on), so that several threads can each own a queue.
    /// The device goes when the last queue is closed.
    pub fn create_queues(name: &str, queues: usize, sndbuf: i32) -> Result<Vec<Tap>, TapError> {
        if queues == 0 || queues > MAX_QUEUES {
            return Err(TapError::BadQueues(queues));
        }
        let flags = TAP_FLAGS | IFF_MULTI_QUEUE as libc::c_short;
        (0..queues)
            .map(|_| Tap::open(name, flags, sndbuf))
            .collect()
    }

    fn open(name: &str, flags: libc::c_short, sndbuf: i32) -> Result<Tap, TapError> {
        if name.is_empty()
            || name.len() >= libc::IFNAMSIZ
            || name.contains(['/', ' ', '\t', '\n', ':'])
        {
            return Err(TapError::BadName(name.to_string()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(TapError::Open)?;
        let fd = file.as_raw_fd();
        let err = |op: &'static str| {
            let name = name.to_string();
            move |source| TapError::Ioctl { op, name, source }
        };
        let mut req = IfReqFlags {
            name: [0; libc::IFNAMSIZ],
            flags,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        ioctl_ptr(fd, TUNSETIFF, &mut req).map_err(err("TUNSETIFF"))?;
        let mut hdr_len: libc::c_int = VNET_HDR_LEN as libc::c_int;
        ioctl_ptr(fd, TUNSETVNETHDRSZ, &mut hdr_len).map_err(err("TUNSETVNETHDRSZ"))?;
        let offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        ioctl_val(fd, TUNSETOFFLOAD, libc::c_ulong::from(offloads))
            .map_err(err("TUNSETOFFLOAD"))?;
        let mut sb: libc::c_int = sndbuf;
        ioctl_ptr(fd, TUNSETSNDBUF, &mut sb).map_err(err("TUNSETSNDBUF"))?;
        Ok(Tap {
            file,
            name: name.to_string(),
            persistent: false,
        })
    }

    /// Attaches to the existing persistent TAP `name` in network namespace `netns` (left behind,
    /// persistent, by a vpcd that died) with `queues` descriptors set up like
    /// [`Tap::create`]'s: single-queue when `queues` is 1, multi-queue otherwise, which
    /// must be what the device was created as (else `TUNSETIFF` fails with `EINVAL`; a
    /// device another process holds fails with `EBUSY`). The device keeps its index,
    /// addresses and routes in the namespace. `/dev/net/tun` is opened inside the
    /// namespace (the kernel looks the name up in the opener's namespace); the caller
    /// must know the device exists there, or `TUNSETIFF` would create a new one.
    pub fn adopt_queues(
        netns: &str,
        name: &str,
        queues: usize,
        sndbuf: i32,
    ) -> Result<Vec<Tap>, TapError> {
        if queues == 0 || queues > MAX_QUEUES {
            return Err(TapError::BadQueues(queues));
        }
        let flags = if queues > 1 {
            TAP_FLAGS | IFF_MULTI_QUEUE as libc::c_short
        } else {
            TAP_FLAGS
        };
        let owned = name.to_string();
        // A device left behind is persistent: dropping these queues makes it transient
        // again (see `Drop`) unless the caller keeps it persistent.
        let adopt = move || {
            let mut tap = Tap::open(&owned, flags, sndbuf)?;
            tap.persistent = true;
            Ok(tap)
        };
        crate::sys::netns::in_netns(netns, move || {
            Ok((0..queues)
                .map(|_| adopt())
                .collect::<Result<Vec<Tap>, TapError>>())
        })
        .map_err(|source| TapError::Netns {
            netns: netns.to_string(),
            name: name.to_string(),
            source,
        })?
    }

    /// Makes the device persistent (`TUNSETPERSIST`): it outlives this process if the
    /// process dies without dropping its queues; dropping them (an apply that removes
    /// the port, `vpcctl down`) still deletes it. `false` makes it transient again.
    pub fn set_persistent(&mut self, on: bool) -> Result<(), TapError> {
        ioctl_val(self.fd(), TUNSETPERSIST, libc::c_ulong::from(on)).map_err(|source| {
            TapError::Ioctl {
                op: "TUNSETPERSIST",
                name: self.name.clone(),
                source,
            }
        })?;
        self.persistent = on;
        Ok(())
    }

    /// The device name it was created with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file descriptor, for epoll.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if self.persistent {
            // Transient again, so closing the last queue deletes the device.
            if let Err(e) = ioctl_val(self.fd(), TUNSETPERSIST, 0) {
                tracing::warn!(%e, tap = %self.name, "cannot make the TAP transient; it stays");
            }
        }
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl Tap {
    /// Reads one frame (with its `virtio_net_hdr`) into `buf`; `WouldBlock` when none
    /// is queued.
    #[inline]
    pub fn read_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }

    /// Writes one frame (with its `virtio_net_hdr`); returns how much the device took.
    #[inline]
    pub fn write_frame(&mut self, frame: &[u8]) -> io::Result<usize> {
        self.file.write(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_names_without_touching_the_system() {
        assert!(matches!(
            Tap::create("", 1 << 20),
            Err(TapError::BadName(_))
        ));
        assert!(matches!(
            Tap::create("a-name-that-is-too-long", 1 << 20),
            Err(TapError::BadName(_))
        ));
        assert!(matches!(
            Tap::create("a/b", 1 << 20),
            Err(TapError::BadName(_))
        ));
    }

    #[test]
    fn real_tap_opens_with_offloads_and_vanishes_on_drop() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run as root"
            );
            eprintln!("SKIP: not root");
            return;
        }
        let name = format!("vtu{}", std::process::id() % 100_000);
        let mut tap = Tap::create(&name, 1 << 20).expect("create tap");
        assert!(std::path::Path::new(&format!("/sys/class/net/{name}")).exists());
        // Nothing queued yet (the link is down): a non-blocking read says so.
        let mut buf = vec![0u8; 2048];
        use crate::engine::port::Port;
        assert!(tap.recv(&mut buf).unwrap().is_none());
        drop(tap);
        assert!(!std::path::Path::new(&format!("/sys/class/net/{name}")).exists());
    }

    #[test]
    fn multi_queue_tap_has_its_queues_and_goes_with_the_last() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run as root"
            );
            eprintln!("SKIP: not root");
            return;
        }
        assert!(matches!(
            Tap::create_queues("vtq0", 0, 1 << 20),
            Err(TapError::BadQueues(0))
        ));
        let name = format!("vtq{}", std::process::id() % 100_000);
        let mut queues = Tap::create_queues(&name, 4, 1 << 20).expect("create queues");
        assert_eq!(queues.len(), 4);
        let sys = format!("/sys/class/net/{name}/queues");
        let tx = std::fs::read_dir(&sys)
            .expect("queues in sysfs")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
            .count();
        assert_eq!(tx, 4, "one kernel tx queue per descriptor");
        // A single-queue open of the same name is refused while it is multi-queue.
        assert!(Tap::create(&name, 1 << 20).is_err());
        queues.truncate(1);
        assert!(std::path::Path::new(&format!("/sys/class/net/{name}")).exists());
        drop(queues);
        assert!(!std::path::Path::new(&format!("/sys/class/net/{name}")).exists());
    }

    #[test]
    fn a_persistent_tap_outlives_its_descriptor_and_is_adopted_whole() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run as root"
            );
            eprintln!("SKIP: not root");
            return;
        }
        let name = format!("vtp{}", std::process::id() % 100_000);
        let sys = format!("/sys/class/net/{name}");
        let ifindex = || std::fs::read_to_string(format!("{sys}/ifindex")).ok();
        let mut tap = Tap::create(&name, 1 << 20).expect("create tap");
        tap.set_persistent(true).expect("persist");
        let index = ifindex().expect("exists");
        // The process "dies": the descriptor closes without our Drop.
        let file = std::mem::replace(&mut tap.file, File::open("/dev/null").expect("/dev/null"));
        tap.persistent = false;
        drop(tap);
        drop(file);
        assert_eq!(ifindex().as_deref(), Some(index.as_str()), "still there");
        // A multi-queue open of a single-queue device is refused.
        assert!(Tap::adopt_queues("", &name, 2, 1 << 20).is_err());
        let adopted = Tap::adopt_queues("", &name, 1, 1 << 20).expect("adopt");
        assert_eq!(
            ifindex().as_deref(),
            Some(index.as_str()),
            "the same device"
        );
        // Held: a second single-queue attach is refused (EBUSY).
        assert!(Tap::adopt_queues("", &name, 1, 1 << 20).is_err());
        drop(adopted);
        assert!(
            ifindex().is_none(),
            "dropping the adopted queues deletes it"
        );
    }
}
