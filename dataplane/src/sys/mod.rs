//! The host's system interfaces: TAP ioctls, epoll, ip(8), sockets in a namespace, QEMU
//! stream sockets, `AF_PACKET` sockets on existing interfaces, vhost-user, interfaces'
//! kernel statistics (rtnetlink). Thin, typed
//! wrappers over the Linux interfaces the engine and the daemon need. `tap`, `epoll`,
//! `packet` and `vhost_user::proxy` (file descriptors received on the vhost-user control
//! socket) are the crate's only unsafe code (every unsafe block carries a `SAFETY:`
//! comment); `ip` runs the `ip(8)` program and has none; the rest of `vhost_user` is a
//! vhost-user net back end on the rust-vmm crates (whose own unsafe code maps and touches
//! guest memory).

#[allow(unsafe_code)]
pub mod epoll;
pub mod ip;
pub mod linkstats;
pub mod netns;
#[allow(unsafe_code)]
pub mod packet;
pub mod stream;
#[allow(unsafe_code)]
pub mod tap;
pub mod vhost_user;
