//! The host's system interfaces: TAP ioctls, epoll, ip(8), vhost-user. Thin, typed wrappers over
//! the Linux interfaces the engine and the daemon need. `tap` and `epoll` are the crate's only
//! unsafe code (every unsafe block carries a `SAFETY:` comment); `ip` runs the `ip(8)`
//! program and has none; `vhost_user` is a vhost-user net back end on the rust-vmm crates
//! (whose own unsafe code maps and touches guest memory) and has none either.

#[allow(unsafe_code)]
pub mod epoll;
pub mod ip;
#[allow(unsafe_code)]
pub mod tap;
pub mod vhost_user;
