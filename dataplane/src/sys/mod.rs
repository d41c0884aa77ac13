//! The only place with `unsafe`: thin, typed wrappers over the Linux interfaces the
//! engine needs (TAP devices and epoll). Every unsafe block carries a `SAFETY:` comment.
#![allow(unsafe_code)]

pub mod epoll;
pub mod tap;
