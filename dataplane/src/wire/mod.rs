//! Checked, zero-copy views over packet headers, in the style of `smoltcp::wire`: a view
//! is built with `new_checked`, after which its accessors never panic. [`parse_frame`]
//! reads everything the pipeline needs from a frame in one pass.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
mod mac;
mod meta;
pub mod rewrite;
pub mod tcp;
pub mod vnet;

pub use mac::{MacAddr, ParseMacError};
pub use meta::{
    icmp_error_quote, is_icmp_error, parse_frame, IcmpType, IpMeta, PacketMeta, Quoted, L3,
};

/// Why bytes could not be parsed as the expected header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the header or the length it declares.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A field holds an impossible value.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Well-formed but not something we handle.
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}
