//! The bytes of a probe: the answering servers' one-line protocol, the probes' payloads, and the
//! ICMP echo messages (built and parsed with `etherparse`, never by offset arithmetic).
//!
//! The servers' protocol, TCP and UDP alike: whatever the client sends, the server answers with
//! one line `SEEN <ip>:<port>\n` (the client's address and port as the server's socket saw them,
//! after every translation on the way) followed by an echo of the data. On TCP the line comes
//! once, before the echo of the first bytes; on UDP it heads every reply datagram.

use std::net::{Ipv4Addr, SocketAddrV4};

use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Ipv4Slice};

/// The first word of a server's answer.
const SEEN: &[u8] = b"SEEN ";

/// The longest `SEEN` line: `SEEN 255.255.255.255:65535\n`.
const MAX_SEEN_LINE: usize = 27;

/// The line a server sends first: `SEEN 10.0.1.5:43512\n`.
pub(crate) fn seen_line(peer: SocketAddrV4) -> String {
    format!("SEEN {peer}\n")
}

/// The payload of probe number `nonce`: `probe <nonce>\n` (the nonce tells this probe's echo
/// from a late echo of an earlier probe that used the same source port).
pub(crate) fn probe_payload(nonce: u32) -> Vec<u8> {
    format!("probe {nonce}\n").into_bytes()
}

/// What the bytes received so far say about a server's answer to `sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A prefix of a well-formed answer: wait for more.
    Incomplete,
    /// The `SEEN` line and the complete echo of what was sent.
    Complete {
        /// The address the server reported.
        seen: SocketAddrV4,
    },
    /// A well-formed `SEEN` line, but the echo is of something else (an earlier probe's datagram
    /// arriving late, for example).
    OtherEcho {
        /// The address the server reported.
        seen: SocketAddrV4,
    },
    /// Not this protocol: something other than our servers answered.
    Foreign,
}

/// Judges the bytes received so far (`buf`, from the start of the answer) against what the client
/// sent.
pub(crate) fn parse_reply(buf: &[u8], sent: &[u8]) -> Reply {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        let head = &buf[..buf.len().min(SEEN.len())];
        return if buf.len() < MAX_SEEN_LINE && SEEN.starts_with(head) {
            Reply::Incomplete
        } else {
            Reply::Foreign
        };
    };
    let Some(seen) = std::str::from_utf8(&buf[..nl])
        .ok()
        .and_then(parse_seen_line)
    else {
        return Reply::Foreign;
    };
    let echo = &buf[nl + 1..];
    if echo.len() < sent.len() {
        if sent.starts_with(echo) {
            Reply::Incomplete
        } else {
            Reply::OtherEcho { seen }
        }
    } else if echo.starts_with(sent) {
        Reply::Complete { seen }
    } else {
        Reply::OtherEcho { seen }
    }
}

/// Parses `SEEN <ip>:<port>` (without the newline).
pub(crate) fn parse_seen_line(line: &str) -> Option<SocketAddrV4> {
    line.strip_prefix("SEEN ")?
        .trim_end_matches('\r')
        .parse()
        .ok()
}

/// An ICMP echo request (type 8) with its checksum, ready for a raw socket (the kernel adds the
/// IPv4 header).
pub(crate) fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let header =
        Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(IcmpEchoHeader { id, seq }), payload);
    let mut out = Vec::with_capacity(header.header_len() + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    out
}

/// Whether `packet` (an IPv4 packet as a raw ICMP socket receives it, header included) is the
/// echo reply from `from` to the request (`id`, `seq`).
pub(crate) fn is_echo_reply(packet: &[u8], from: Ipv4Addr, id: u16, seq: u16) -> bool {
    let Ok(ip) = Ipv4Slice::from_slice(packet) else {
        return false;
    };
    if Ipv4Addr::from(ip.header().source()) != from {
        return false;
    }
    let Ok(icmp) = Icmpv4Slice::from_slice(ip.payload().payload) else {
        return false;
    };
    matches!(icmp.icmp_type(), Icmpv4Type::EchoReply(h) if h.id == id && h.seq == seq)
}

/// The echo identifier and sequence number of the ICMP message at the start of `icmp`, if it is an
/// echo request: an error queue entry of a raw socket quotes the request it is about this way.
pub(crate) fn quoted_echo(icmp: &[u8]) -> Option<(u16, u16)> {
    match Icmpv4Header::from_slice(icmp).ok()?.0.icmp_type {
        Icmpv4Type::EchoRequest(h) => Some((h.id, h.seq)),
        _ => None,
    }
}

/// A person's words for an ICMP error type and code: `port unreachable`, `time exceeded (TTL)`…
pub(crate) fn describe_icmp(icmp_type: u8, code: u8, info: u32) -> String {
    use DestUnreachableHeader as D;
    const DEST_UNREACHABLE: u8 = 3;
    const TIME_EXCEEDED: u8 = 11;
    const PARAMETER_PROBLEM: u8 = 12;
    match icmp_type {
        DEST_UNREACHABLE => {
            let mtu = u16::try_from(info).unwrap_or(u16::MAX);
            let what = match D::from_values(code, mtu) {
                Some(D::Network) => "network unreachable".to_owned(),
                Some(D::Host) => "host unreachable".to_owned(),
                Some(D::Protocol) => "protocol unreachable".to_owned(),
                Some(D::Port) => "port unreachable".to_owned(),
                Some(D::FragmentationNeeded { next_hop_mtu }) => {
                    format!("fragmentation needed (next-hop MTU {next_hop_mtu})")
                }
                Some(D::SourceRouteFailed) => "source route failed".to_owned(),
                Some(D::NetworkUnknown) => "network unknown".to_owned(),
                Some(D::HostUnknown) => "host unknown".to_owned(),
                Some(D::Isolated) => "source host isolated".to_owned(),
                Some(D::NetworkProhibited) => "network administratively prohibited".to_owned(),
                Some(D::HostProhibited) => "host administratively prohibited".to_owned(),
                Some(D::TosNetwork) => "network unreachable for TOS".to_owned(),
                Some(D::TosHost) => "host unreachable for TOS".to_owned(),
                Some(D::FilterProhibited) => "communication administratively prohibited".to_owned(),
                Some(D::HostPrecedenceViolation) => "host precedence violation".to_owned(),
                Some(D::PrecedenceCutoff) => "precedence cutoff".to_owned(),
                None => format!("destination unreachable (code {code})"),
            };
            what
        }
        TIME_EXCEEDED => match TimeExceededCode::from_u8(code) {
            Some(TimeExceededCode::TtlExceededInTransit) => "time exceeded (TTL)".to_owned(),
            Some(TimeExceededCode::FragmentReassemblyTimeExceeded) => {
                "time exceeded (reassembly)".to_owned()
            }
            None => format!("time exceeded (code {code})"),
        },
        PARAMETER_PROBLEM => format!("parameter problem (code {code})"),
        other => format!("ICMP type {other} code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_line_round_trips() {
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 40), 43512);
        let line = seen_line(a);
        assert_eq!(line, "SEEN 198.51.100.40:43512\n");
        assert_eq!(parse_seen_line(line.trim_end_matches('\n')), Some(a));
        let widest = seen_line(SocketAddrV4::new(Ipv4Addr::BROADCAST, 65535));
        assert_eq!(widest.len(), MAX_SEEN_LINE);
        assert_eq!(parse_seen_line("SEEN 10.0.0.1"), None);
        assert_eq!(parse_seen_line("SEEN 10.0.0.1:70000"), None);
        assert_eq!(parse_seen_line("HTTP/1.1 400 Bad Request"), None);
        assert_eq!(
            parse_seen_line("SEEN 10.0.0.1:80\r"),
            Some("10.0.0.1:80".parse().unwrap())
        );
    }

    #[test]
    fn reply_states() {
        let sent = probe_payload(7);
        assert_eq!(sent, b"probe 7\n");
        let seen: SocketAddrV4 = "10.0.1.5:40000".parse().unwrap();
        let full = [seen_line(seen).as_bytes(), &sent].concat();
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut], &sent), Reply::Incomplete, "{cut}");
        }
        assert_eq!(parse_reply(&full, &sent), Reply::Complete { seen });
        // More echo than sent (a TCP stream with a later line in it) is still complete.
        let more = [&full[..], b"alive 1\n"].concat();
        assert_eq!(parse_reply(&more, &sent), Reply::Complete { seen });
        let stale = [seen_line(seen).as_bytes(), b"probe 6\n"].concat();
        assert_eq!(parse_reply(&stale, &sent), Reply::OtherEcho { seen });
        let short_stale = [seen_line(seen).as_bytes(), b"probe 6"].concat();
        assert_eq!(parse_reply(&short_stale, &sent), Reply::OtherEcho { seen });
        assert_eq!(parse_reply(b"HTTP/1.1 400 Bad", &sent), Reply::Foreign);
        assert_eq!(
            parse_reply(b"SEEN nonsense\nprobe 7\n", &sent),
            Reply::Foreign
        );
        assert_eq!(parse_reply(&[b'S'; 40], &sent), Reply::Foreign);
    }

    #[test]
    fn echo_request_bytes() {
        let req = echo_request(0x1234, 0x0001, b"ab");
        // type 8, code 0, checksum, id, seq, payload. The checksum is the ones' complement of
        // the ones' complement sum of 0x0800 + 0x1234 + 0x0001 + 0x6162 = 0x7b97.
        assert_eq!(
            req,
            [0x08, 0x00, 0x84, 0x68, 0x12, 0x34, 0x00, 0x01, b'a', b'b']
        );
        assert_eq!(quoted_echo(&req), Some((0x1234, 1)));
        assert_eq!(quoted_echo(&req[..7]), None);
        let reply = [0u8, 0, 0, 0, 0x12, 0x34, 0, 1];
        assert_eq!(quoted_echo(&reply), None, "a reply is not a quoted request");
    }

    /// An IPv4 packet carrying `icmp`, from `src` to 10.0.0.1 (checksums not needed by the parser).
    fn ipv4(src: [u8; 4], icmp: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + icmp.len()).unwrap().to_be_bytes();
        let mut p = vec![
            0x45, 0, total[0], total[1], 0, 0, 0x40, 0, 64, 1, 0, 0, src[0], src[1], src[2],
            src[3], 10, 0, 0, 1,
        ];
        p.extend_from_slice(icmp);
        p
    }

    #[test]
    fn echo_reply_matching() {
        let from = Ipv4Addr::new(10, 0, 0, 2);
        let mut reply = echo_request(77, 5, b"x");
        reply[0] = 0; // type 0: echo reply
        let packet = ipv4(from.octets(), &reply);
        assert!(is_echo_reply(&packet, from, 77, 5));
        assert!(!is_echo_reply(&packet, from, 77, 6), "other sequence");
        assert!(!is_echo_reply(&packet, from, 78, 5), "other identifier");
        assert!(
            !is_echo_reply(&packet, Ipv4Addr::new(10, 0, 0, 3), 77, 5),
            "other source"
        );
        let request = ipv4(from.octets(), &echo_request(77, 5, b"x"));
        assert!(!is_echo_reply(&request, from, 77, 5), "a request");
        assert!(!is_echo_reply(&packet[..24], from, 77, 5), "truncated");
        assert!(!is_echo_reply(b"", from, 77, 5));
    }

    #[test]
    fn icmp_descriptions() {
        assert_eq!(describe_icmp(3, 3, 0), "port unreachable");
        assert_eq!(describe_icmp(3, 1, 0), "host unreachable");
        assert_eq!(
            describe_icmp(3, 13, 0),
            "communication administratively prohibited"
        );
        assert_eq!(
            describe_icmp(3, 4, 1400),
            "fragmentation needed (next-hop MTU 1400)"
        );
        assert_eq!(describe_icmp(3, 99, 0), "destination unreachable (code 99)");
        assert_eq!(describe_icmp(11, 0, 0), "time exceeded (TTL)");
        assert_eq!(describe_icmp(12, 0, 0), "parameter problem (code 0)");
        assert_eq!(describe_icmp(5, 1, 0), "ICMP type 5 code 1");
    }
}
