//! The kernel's statistics of the interfaces in a network namespace (what `ip -s link`
//! shows): one rtnetlink `RTM_GETLINK` dump, each link's `IFLA_STATS64` by name.
//!
//! The messages are built and parsed by `netlink-packet-route` and sent on a
//! `netlink-sys` socket (rather than running `ip -j -s link` and parsing its JSON: no
//! process per request, no dependence on the installed iproute2's output, and typed
//! errors). The socket is opened inside the namespace by [`in_netns`] (a short-lived
//! thread enters it); a netlink socket keeps the namespace it was created in, so the dump
//! itself runs on the caller's thread. Control-plane work (a `vpcctl show`, a metrics
//! scrape), never on a forwarding thread.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use serde::{Deserialize, Serialize};

use super::netns::in_netns;

/// How long the kernel has to answer the dump.
const DUMP_TIMEOUT: Duration = Duration::from_secs(2);

/// The kernel's counters of one interface (`IFLA_STATS64`), from the point of view of the
/// namespace it is in: `tx_*` is what the namespace sent through it, `rx_*` what it
/// received. For the kernel end of an ENI's TAP, `tx_dropped` counts frames the instance
/// sent that the TAP's queue dropped before vpcd read them, and `rx_dropped` frames vpcd
/// wrote that the instance's kernel dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Received packets dropped (no room, device down, …).
    pub rx_dropped: u64,
    /// Packets to send that were dropped (for a TAP: its queue to the reader was full).
    pub tx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

impl From<&netlink_packet_route::link::Stats64> for LinkStats {
    fn from(s: &netlink_packet_route::link::Stats64) -> LinkStats {
        LinkStats {
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            rx_dropped: s.rx_dropped,
            tx_dropped: s.tx_dropped,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
        }
    }
}

/// Why the statistics of a namespace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LinkStatsError {
    /// The namespace could not be entered (it does not exist, say) or the socket opened.
    #[error("network namespace `{netns}`: {source}")]
    Namespace {
        /// The namespace.
        netns: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Sending the request or receiving the answer failed.
    #[error("rtnetlink dump: {0}")]
    Io(#[source] io::Error),
    /// The kernel answered with an error.
    #[error("rtnetlink dump refused: error {0}")]
    Refused(i32),
    /// The answer could not be parsed.
    #[error("rtnetlink answer: {0}")]
    Malformed(String),
}

/// The statistics of every interface in namespace `netns` (`/run/netns/NAME`; empty:
/// vpcd's own), by interface name. Interfaces without `IFLA_STATS64` are left out.
pub fn read_namespace(netns: &str) -> Result<HashMap<String, LinkStats>, LinkStatsError> {
    let socket = in_netns(netns, || {
        let mut s = Socket::new(NETLINK_ROUTE)?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(0, 0))?;
        Ok(s)
    })
    .map_err(|source| LinkStatsError::Namespace {
        netns: netns.to_string(),
        source,
    })?;
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(DUMP_TIMEOUT.as_secs() as _, 0),
    )
    .map_err(|e| LinkStatsError::Io(e.into()))?;
    socket
        .send(&dump_request(1), 0)
        .map_err(LinkStatsError::Io)?;
    let mut links = HashMap::new();
    loop {
        let (buf, _) = socket.recv_from_full().map_err(LinkStatsError::Io)?;
        if buf.is_empty() {
            return Err(LinkStatsError::Malformed("empty answer".into()));
        }
        if parse_dump(&buf, &mut links)? {
            return Ok(links);
        }
    }
}

/// An `RTM_GETLINK` dump request with sequence number `seq`.
fn dump_request(seq: u32) -> Vec<u8> {
    let mut msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::from(RouteNetlinkMessage::GetLink(LinkMessage::default())),
    );
    msg.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    msg.header.sequence_number = seq;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Adds the links of one datagram of a dump answer to `links`; `Ok(true)` at the end of
/// the dump (`NLMSG_DONE`).
fn parse_dump(
    mut buf: &[u8],
    links: &mut HashMap<String, LinkStats>,
) -> Result<bool, LinkStatsError> {
    while !buf.is_empty() {
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf)
            .map_err(|e| LinkStatsError::Malformed(e.to_string()))?;
        let len = msg.header.length as usize;
        match msg.payload {
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(e) => {
                return Err(LinkStatsError::Refused(e.raw_code()));
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                let mut name = None;
                let mut stats = None;
                for a in &link.attributes {
                    match a {
                        LinkAttribute::IfName(n) => name = Some(n.clone()),
                        LinkAttribute::Stats64(s) => stats = Some(LinkStats::from(s)),
                        _ => {}
                    }
                }
                if let (Some(n), Some(s)) = (name, stats) {
                    links.insert(n, s);
                }
            }
            _ => {}
        }
        // Messages are 4-byte aligned within a datagram.
        let step = len.div_ceil(4) * 4;
        if len == 0 || step > buf.len() {
            break;
        }
        buf = &buf[step..];
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use netlink_packet_core::DoneMessage;
    use netlink_packet_route::link::Stats64;

    /// A `RTM_NEWLINK` answer for `name` with `stats` (or none), as the kernel sends it.
    fn new_link(name: &str, stats: Option<Stats64>) -> Vec<u8> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.into()));
        if let Some(s) = stats {
            link.attributes.push(LinkAttribute::Stats64(s));
        }
        let mut msg = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::from(RouteNetlinkMessage::NewLink(link)),
        );
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    fn done() -> Vec<u8> {
        let mut msg = NetlinkMessage::<RouteNetlinkMessage>::new(
            NetlinkHeader::default(),
            NetlinkPayload::Done(DoneMessage::default()),
        );
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    #[test]
    fn a_dump_maps_each_named_link_to_its_stats64() {
        let mut s = Stats64::default();
        s.rx_packets = 10;
        s.tx_packets = 20;
        s.rx_bytes = 1000;
        s.tx_bytes = 2000;
        s.rx_dropped = 3;
        s.tx_dropped = 7;
        s.rx_errors = 1;
        s.tx_errors = 2;
        s.collisions = 99;
        let mut dgram = new_link("eth0", Some(s));
        dgram.extend(new_link("nostats", None));
        dgram.extend(new_link("lo", Some(Stats64::default())));
        let mut links = HashMap::new();
        assert!(
            !parse_dump(&dgram, &mut links).unwrap(),
            "no NLMSG_DONE yet"
        );
        assert!(parse_dump(&done(), &mut links).unwrap());
        assert_eq!(links.len(), 2);
        assert_eq!(
            links["eth0"],
            LinkStats {
                rx_packets: 10,
                rx_bytes: 1000,
                tx_packets: 20,
                tx_bytes: 2000,
                rx_dropped: 3,
                tx_dropped: 7,
                rx_errors: 1,
                tx_errors: 2,
            }
        );
        assert_eq!(links["lo"], LinkStats::default());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut links = HashMap::new();
        assert!(parse_dump(&[1, 2, 3, 4, 5, 6, 7], &mut links).is_err());
        let mut bad = new_link("eth0", Some(Stats64::default()));
        bad.truncate(bad.len() - 5);
        assert!(parse_dump(&bad, &mut links).is_err());
        assert!(links.is_empty());
    }

    #[test]
    fn the_request_is_a_getlink_dump() {
        let req = dump_request(7);
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&req).unwrap();
        assert_eq!(msg.header.sequence_number, 7);
        assert_eq!(msg.header.flags, NLM_F_DUMP | NLM_F_REQUEST);
        assert!(matches!(
            msg.payload,
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(_))
        ));
    }

    #[test]
    fn our_own_namespace_has_a_loopback_and_a_missing_one_is_an_error() {
        let links = read_namespace("").unwrap();
        assert!(links.contains_key("lo"), "{links:?}");
        assert!(matches!(
            read_namespace("vpcd-no-such-namespace"),
            Err(LinkStatsError::Namespace { .. })
        ));
    }
}
