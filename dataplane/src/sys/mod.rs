//! The host's system interfaces: TAP ioctls, epoll, ip(8), QEMU stream sockets. Thin, typed wrappers over the
//! Linux interfaces the engine and the daemon need. `tap` and `epoll` are the crate's only
//! unsafe code (every unsafe block carries a `SAFETY:` comment); `ip` runs the `ip(8)`
//! program and has none.

#[allow(unsafe_code)]
pub mod epoll;
pub mod ip;
pub mod stream;
#[allow(unsafe_code)]
pub mod tap;
