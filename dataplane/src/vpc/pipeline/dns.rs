//! Element: the VPC resolver (the Amazon-provided DNS server) at the VPC's `+2` address
//! and at 169.254.169.253, UDP and TCP port 53.
//!
//! It answers A and PTR queries for the instances' private DNS names
//! (`ip-10-0-1-10.ec2.internal`, `ip-10-0-1-10.<region>.compute.internal`; every private
//! IPv4 address of every ENI, in its own VPC only), the records of the private hosted
//! zones associated with the VPC (A, CNAME followed within the zone, TXT), and NXDOMAIN
//! for everything else. A name that
//! exists without the asked type gets an empty NOERROR; an answer from a zone carries
//! the zone's SOA in the authority section when it is negative.
//!
//! With an upstream configured (`DnsConfig::upstream`, off by default: there is no
//! internet here), a UDP query for a name outside every zone the resolver knows (not
//! under the instance domain, not in or under an associated hosted zone) is forwarded
//! instead of answered NXDOMAIN: the same message under a new id, remembered in a
//! bounded table ([`dns_upstream::Pending`]) until the upstream's answer is relayed back
//! with the original id, from the address the client asked; on overflow or after
//! [`dns_upstream::TIMEOUT_MS`] the client gets SERVFAIL. Queries over TCP are answered
//! locally (NXDOMAIN) as without an upstream.
//!
//! What it does not serve: other opcodes (NOTIMP), classes other than IN and the
//! meta-types ANY/AXFR/IXFR (NOTIMP), more or less than one question (FORMERR), a
//! message that does not parse past a complete header (FORMERR); a query shorter than a
//! header, or a fragment, is dropped and counted (`dns_malformed`).
//!
//! As in AWS, each ENI may send 1,024 queries per second: a token bucket per ENI on the
//! data plane's clock, the excess dropped and counted (`dns_rate_limited`). The resolver
//! is reached before security groups and network ACLs, and is absent from flow logs.
//!
//! Answers may be longer than queries, so the reply frame is written into a buffer of
//! the resolver's own ([`DnsState::frame`]) rather than over the query. Over UDP an
//! answer is limited to 512 bytes, or to the query's EDNS payload size (at most
//! [`MAX_UDP_PAYLOAD`]); a longer one is sent truncated (TC set, question only).
//!
//! Over TCP the resolver keeps no state: the SYN-ACK's sequence number derives from the
//! connection's addresses and ports, a segment holding up to four whole length-prefixed
//! queries is answered in one segment (at most 1,400 bytes of messages, shared between
//! the answers) with FIN, a FIN gets its ACK; a query split over several segments is not
//! reassembled (dropped, `dns_malformed`).
//!
//! Malformed input never panics, and memory stays bounded by the frame (hickory-proto
//! bounds names to 255 bytes and follows compression pointers only backwards): a query
//! shorter than a header, a fragment, a response (QR set: answering it could start a
//! loop between two servers), a TCP segment whose length prefix claims more than it
//! holds or that holds trailing bytes, more than four queries, or data without ACK is
//! dropped and counted (`dns_malformed`); a message with a complete header that does
//! not parse (a compression loop or a pointer past the end, a label over 63 bytes, a
//! name over 255 bytes, fewer records than its counts) gets FORMERR, as do QDCOUNT 0
//! and QDCOUNT > 1; another opcode gets NOTIMP. Answers never exceed the UDP limit
//! above, whatever EDNS size the query asks for.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, PTR, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::dns_upstream::{self, Pending, PendingQuery};
use crate::vpc::config::{DataplaneConfig, DnsRecordKind, EniIdx, VpcIdx};
use crate::vpc::tables::TableError;
use crate::vpc::verdict::DropReason;
use crate::wire::ethernet::HEADER_LEN;
use crate::wire::ipv4::{Ipv4Packet, PROTO_TCP, PROTO_UDP};
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::{checksum, MacAddr};

/// The resolver's link-local address, the same in every VPC.
pub const LINK_LOCAL: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);
/// The DNS port.
pub const PORT: u16 = 53;
/// The largest UDP answer without EDNS (RFC 1035).
pub const CLASSIC_UDP_PAYLOAD: usize = 512;
/// The largest UDP answer whatever the query's EDNS size says (the resolver's own
/// EDNS payload size, as the DNS flag day 2020 recommends).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// Time to live of the instance names' records (AWS answers with 60 s).
const INSTANCE_TTL: u32 = 60;
/// How many CNAMEs an answer follows inside one zone.
const MAX_CNAME_CHAIN: usize = 8;
/// Time to live of the SOA sent with negative answers.
const SOA_TTL: u32 = 900;

/// The names one VPC's resolver knows besides its zones.
#[derive(Debug, Clone, Default)]
struct VpcNames {
    /// The resolver's `+2` address (base of the primary IPv4 CIDR plus two).
    resolver: Option<Ipv4Addr>,
    /// Instance name (lowercase, fully qualified) → its address.
    forward: HashMap<Name, Ipv4Addr, FixedState>,
    /// Address → instance name.
    reverse: HashMap<Ipv4Addr, Name, FixedState>,
    /// The private hosted zones associated with the VPC (indices into `zones`), the
    /// longest apex first so the most specific zone answers.
    zones: Vec<usize>,
}

/// One private hosted zone, compiled.
#[derive(Debug, Clone)]
struct Zone {
    /// The apex (lowercase, fully qualified).
    apex: Name,
    /// Its SOA record, for negative answers.
    soa: Record,
    /// Owner name (lowercase, fully qualified) → its records.
    records: HashMap<Name, Vec<Record>, FixedState>,
}

/// The resolver's tables, compiled once per apply: per VPC the instance names both ways
/// and the associated zones.
#[derive(Debug, Clone, Default)]
pub struct DnsTable {
    vpcs: Vec<VpcNames>,
    zones: Vec<Zone>,
    /// Queries per second per ENI.
    max_pps: u32,
    /// The instances' domain (lowercase, fully qualified): names under it are never
    /// forwarded.
    instance_domain: Option<Name>,
    /// Whether names outside every known zone go to an upstream.
    upstream: bool,
}

impl Answered {
    /// How `vpcctl trace` tells it: `NOERROR, 1 answer`.
    pub fn describe(&self) -> String {
        if self.forwarded {
            return "forwarded to the upstream resolver".into();
        }
        if self.segment {
            return "TCP segment".into();
        }
        let rcode = match self.rcode {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            _ => "error",
        };
        format!(
            "{rcode}, {} answer{}{}",
            self.answers,
            if self.answers == 1 { "" } else { "s" },
            if self.truncated { ", truncated" } else { "" }
        )
    }
}

/// The private DNS name of `ip` under `domain`: `ip-10-0-1-10.<domain>`.
pub fn instance_name(ip: Ipv4Addr, domain: &str) -> String {
    let o = ip.octets();
    format!("ip-{}-{}-{}-{}.{domain}", o[0], o[1], o[2], o[3])
}

fn fqdn(s: &str, resource: &str, field: &'static str) -> Result<Name, TableError> {
    let mut n = Name::from_ascii(s).map_err(|_| TableError::BadName {
        resource: resource.to_string(),
        field,
        name: s.to_string(),
    })?;
    n.set_fqdn(true);
    Ok(n.to_lowercase())
}

impl DnsTable {
    /// Compiles the resolver's tables from `config` (its ENIs, VPCs and zones).
    pub fn build(config: &DataplaneConfig) -> Result<DnsTable, TableError> {
        let dns = &config.dns;
        let mut vpcs: Vec<VpcNames> = vec![VpcNames::default(); config.vpcs.len()];
        for (v, c) in vpcs.iter_mut().zip(&config.vpcs) {
            v.resolver = c.cidrs.iter().find_map(|n| match n {
                ipnet::IpNet::V4(n) => Some(Ipv4Addr::from(u32::from(n.network()) + 2)),
                ipnet::IpNet::V6(_) => None,
            });
        }
        for e in &config.enis {
            let vpc = config
                .subnets
                .get(e.subnet.idx())
                .map(|s| s.vpc.idx())
                .ok_or_else(|| TableError::BadIndex {
                    resource: e.id.clone(),
                    field: "subnet",
                    index: e.subnet.0,
                })?;
            let Some(v) = vpcs.get_mut(vpc) else { continue };
            for &ip in &e.ipv4 {
                let name = fqdn(
                    &instance_name(ip, &dns.instance_domain),
                    "dns",
                    "instance_domain",
                )?;
                v.forward.insert(name.clone(), ip);
                v.reverse.insert(ip, name);
            }
        }
        let mut zones = Vec::with_capacity(dns.zones.len());
        for (i, z) in dns.zones.iter().enumerate() {
            let apex = fqdn(&z.name, &z.id, "name")?;
            let soa_name = |s: &str| fqdn(s, &z.id, "name");
            let soa = Record::from_rdata(
                apex.clone(),
                SOA_TTL,
                RData::SOA(SOA::new(
                    soa_name("ns-0.awsdns-00.com")?,
                    soa_name("awsdns-hostmaster.amazon.com")?,
                    1,
                    7200,
                    900,
                    1_209_600,
                    86_400,
                )),
            );
            let mut records: HashMap<Name, Vec<Record>, FixedState> = HashMap::default();
            for r in &z.records {
                let owner = fqdn(&r.name, &z.id, "records.name")?;
                let out = records.entry(owner.clone()).or_default();
                for value in &r.values {
                    let rdata = match r.kind {
                        DnsRecordKind::A => {
                            RData::A(A(value.parse().map_err(|_| TableError::BadName {
                                resource: z.id.clone(),
                                field: "records.values",
                                name: value.clone(),
                            })?))
                        }
                        DnsRecordKind::Cname => {
                            RData::CNAME(CNAME(fqdn(value, &z.id, "records.values")?))
                        }
                        DnsRecordKind::Txt => RData::TXT(TXT::new(vec![value.clone()])),
                    };
                    out.push(Record::from_rdata(owner.clone(), r.ttl, rdata));
                }
            }
            for &v in &z.vpcs {
                vpcs.get_mut(v.idx())
                    .ok_or_else(|| TableError::BadIndex {
                        resource: z.id.clone(),
                        field: "vpcs",
                        index: v.0,
                    })?
                    .zones
                    .push(i);
            }
            zones.push(Zone { apex, soa, records });
        }
        for v in &mut vpcs {
            v.zones
                .sort_by_key(|&z| std::cmp::Reverse(zones[z].apex.num_labels()));
        }
        Ok(DnsTable {
            vpcs,
            zones,
            max_pps: dns.max_pps,
            instance_domain: fqdn(&dns.instance_domain, "dns", "instance_domain").ok(),
            upstream: dns.upstream.is_some(),
        })
    }

    /// Whether `dst` is the resolver's address for VPC `vpc` (its `+2` address or
    /// 169.254.169.253).
    #[inline]
    pub fn is_resolver(&self, vpc: VpcIdx, dst: Ipv4Addr) -> bool {
        dst == LINK_LOCAL
            || self
                .vpcs
                .get(vpc.idx())
                .is_some_and(|v| v.resolver == Some(dst))
    }

    /// The `+2` address of VPC `vpc`, if it has an IPv4 CIDR.
    pub fn resolver_address(&self, vpc: VpcIdx) -> Option<Ipv4Addr> {
        self.vpcs.get(vpc.idx()).and_then(|v| v.resolver)
    }

    /// How many instance names VPC `vpc`'s resolver knows.
    pub fn instance_names(&self, vpc: VpcIdx) -> usize {
        self.vpcs.get(vpc.idx()).map_or(0, |v| v.forward.len())
    }

    /// Whether names outside every zone it knows go to an upstream resolver.
    pub fn has_upstream(&self) -> bool {
        self.upstream
    }

    /// Answers `q` (one question, class IN) as VPC `vpc`'s resolver: the response
    /// code, and the answer and authority records. Returns `true` when the answer is
    /// NXDOMAIN because the name is outside every zone the resolver knows (not an
    /// instance name or under the instance domain, not in or under an associated
    /// hosted zone): what an upstream would be asked.
    fn resolve(&self, vpc: VpcIdx, qname: &Name, qtype: RecordType, out: &mut Message) -> bool {
        let Some(v) = self.vpcs.get(vpc.idx()) else {
            out.metadata.response_code = ResponseCode::NXDomain;
            return false;
        };
        let name = qname.to_lowercase();
        if let Some(&ip) = v.forward.get(&name) {
            if qtype == RecordType::A {
                out.add_answer(Record::from_rdata(
                    qname.clone(),
                    INSTANCE_TTL,
                    RData::A(A(ip)),
                ));
            }
            return false;
        }
        if let Some(ip) = reverse_v4(&name) {
            if let Some(target) = v.reverse.get(&ip) {
                if qtype == RecordType::PTR {
                    out.add_answer(Record::from_rdata(
                        qname.clone(),
                        INSTANCE_TTL,
                        RData::PTR(PTR(target.clone())),
                    ));
                }
                return false;
            }
        }
        let Some(zone) = v
            .zones
            .iter()
            .filter_map(|&z| self.zones.get(z))
            .find(|z| z.apex.zone_of(&name))
        else {
            out.metadata.response_code = ResponseCode::NXDomain;
            return !self
                .instance_domain
                .as_ref()
                .is_some_and(|d| d.zone_of(&name));
        };
        let mut current = name;
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(records) = zone.records.get(&current) else {
                if out.answers.is_empty() {
                    out.metadata.response_code = ResponseCode::NXDomain;
                }
                out.add_authority(zone.soa.clone());
                return false;
            };
            let cname = records.iter().find_map(|r| match r.data {
                RData::CNAME(ref c) if qtype != RecordType::CNAME => Some(c.0.clone()),
                _ => None,
            });
            match cname {
                Some(target) => {
                    out.add_answers(records.iter().cloned());
                    if !zone.apex.zone_of(&target) {
                        return false;
                    }
                    current = target;
                }
                None => {
                    let before = out.answers.len();
                    out.add_answers(records.iter().filter(|r| r.record_type() == qtype).cloned());
                    if out.answers.len() == before {
                        out.add_authority(zone.soa.clone());
                    }
                    return false;
                }
            }
        }
        false
    }
}

/// The IPv4 address a `d.c.b.a.in-addr.arpa.` name stands for.
fn reverse_v4(name: &Name) -> Option<Ipv4Addr> {
    if name.num_labels() != 6 {
        return None;
    }
    let labels: Vec<&[u8]> = name.iter().collect();
    if !labels[4].eq_ignore_ascii_case(b"in-addr") || !labels[5].eq_ignore_ascii_case(b"arpa") {
        return None;
    }
    let mut o = [0u8; 4];
    for (i, l) in labels[..4].iter().enumerate() {
        o[3 - i] = std::str::from_utf8(l).ok()?.parse().ok()?;
    }
    Some(Ipv4Addr::from(o))
}

/// One ENI's token bucket: up to `max_pps` tokens, refilled continuously.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Tokens, in thousandths of a query.
    milli: u64,
    /// When it was last refilled (ms of the data-plane clock).
    at: u64,
    /// Whether it has been initialised (a new ENI starts full).
    primed: bool,
}

impl Bucket {
    /// Takes one query's token at `now`, refilling at `pps` per second; `false` when
    /// the bucket is empty.
    fn take(&mut self, now: u64, pps: u32) -> bool {
        let full = u64::from(pps) * 1000;
        if !self.primed {
            *self = Bucket {
                milli: full,
                at: now,
                primed: true,
            };
        }
        let elapsed = now.saturating_sub(self.at);
        self.milli = (self.milli + elapsed * u64::from(pps)).min(full);
        self.at = now;
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

/// The resolver's mutable state in one engine: the per-ENI rate limits, the queries
/// forwarded upstream, and the buffers an answer is built in (reused, so the hot path
/// does not allocate for them).
#[derive(Debug, Default)]
pub struct DnsState {
    buckets: Vec<Bucket>,
    /// Queries forwarded upstream and not answered yet.
    pub pending: Pending,
    /// The last forwarded query (under its new id), for the caller to send upstream
    /// when [`Answered::forwarded`] says so.
    pub upstream_query: Vec<u8>,
    /// The new id of the last forwarded query.
    pub upstream_id: u16,
    encoded: Vec<u8>,
    l4: Vec<u8>,
    /// The length-prefixed answers of one TCP segment.
    tcp_out: Vec<u8>,
    /// The last answer: a `virtio_net_hdr` (zero) and the Ethernet frame, of the length
    /// that [`Answered::len`] gives.
    pub frame: Vec<u8>,
}

impl DnsState {
    /// Takes one packet's token from ENI `eni`'s bucket.
    fn take(&mut self, eni: EniIdx, now: u64, pps: u32) -> Result<(), DropReason> {
        if self.buckets.len() <= eni.idx() {
            self.buckets.resize(eni.idx() + 1, Bucket::default());
        }
        match self.buckets[eni.idx()].take(now, pps) {
            true => Ok(()),
            false => Err(DropReason::DnsRateLimited),
        }
    }
}

/// What the resolver answered (the frame is in [`DnsState::frame`]; `len` 0: nothing to
/// send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The answer's Ethernet frame length (after the `virtio_net_hdr`).
    pub len: usize,
    /// Its response code (`0` NOERROR, `3` NXDOMAIN, …).
    pub rcode: u16,
    /// How many answer records it carries.
    pub answers: u16,
    /// Whether it was truncated (TC).
    pub truncated: bool,
    /// A TCP segment without an answer (the handshake's SYN-ACK, the ACK of a FIN): not
    /// counted as an answer.
    pub segment: bool,
    /// Not answered but forwarded upstream: the query to send is in
    /// [`DnsState::upstream_query`] (`len` 0).
    pub forwarded: bool,
}

/// Answers the query in `frame` (an Ethernet frame from ENI `eni` of VPC `vpc`, UDP to
/// the resolver), writing the reply into `st.frame` from the router's MAC `router_mac`.
/// `now` is the data-plane clock (ms), for the rate limit.
pub fn answer(
    t: &DnsTable,
    st: &mut DnsState,
    (eni, vpc): (EniIdx, VpcIdx),
    router_mac: MacAddr,
    frame: &[u8],
    now: u64,
) -> Result<Answered, DropReason> {
    let ip = frame
        .get(HEADER_LEN..)
        .and_then(|b| Ipv4Packet::new_checked(b).ok())
        .ok_or(DropReason::DnsMalformed)?;
    if ip.frag_offset() != 0 || ip.more_fragments() {
        return Err(DropReason::DnsMalformed);
    }
    if ip.protocol() == PROTO_TCP {
        return answer_tcp(t, st, (eni, vpc), router_mac, frame, now);
    }
    if ip.protocol() != PROTO_UDP {
        return Err(DropReason::DnsMalformed);
    }
    let udp = ip.payload();
    if udp.len() < 8 {
        return Err(DropReason::DnsMalformed);
    }
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let query = udp
        .get(8..udp_len.max(8).min(udp.len()))
        .ok_or(DropReason::DnsMalformed)?;
    if query.len() < 12 || is_response(query) {
        return Err(DropReason::DnsMalformed);
    }
    st.take(eni, now, t.max_pps)?;
    let (src, dst) = (ip.src(), ip.dst());
    let (sport, dport) = (
        u16::from_be_bytes([udp[0], udp[1]]),
        u16::from_be_bytes([udp[2], udp[3]]),
    );
    let requester = frame
        .get(6..12)
        .and_then(|m| <[u8; 6]>::try_from(m).ok())
        .map(MacAddr)
        .ok_or(DropReason::DnsMalformed)?;
    let (mut msg, limit, outside) = respond(t, vpc, query);
    if outside && t.upstream {
        if let Some(q) = msg.queries.first() {
            let p = PendingQuery {
                eni,
                macs: (router_mac, requester),
                client: (src, sport),
                resolver: dst,
                id: msg.metadata.id,
                query: q.clone(),
                rd: msg.metadata.recursion_desired,
                edns: msg.edns.is_some(),
                limit,
                deadline: now + dns_upstream::TIMEOUT_MS,
            };
            match st.pending.insert(p) {
                Some(new_id) => {
                    st.upstream_query.clear();
                    st.upstream_query.extend_from_slice(query);
                    st.upstream_query[..2].copy_from_slice(&new_id.to_be_bytes());
                    st.upstream_id = new_id;
                    return Ok(Answered {
                        len: 0,
                        rcode: 0,
                        answers: 0,
                        truncated: false,
                        segment: false,
                        forwarded: true,
                    });
                }
                // The table is full: the client hears SERVFAIL at once.
                None => {
                    msg.authorities.clear();
                    msg.metadata.response_code = ResponseCode::ServFail;
                }
            }
        }
    }
    let answered = encode(&msg, limit, &mut st.encoded)?;
    let len = udp_frame(st, (router_mac, requester), (dst, dport), (src, sport));
    Ok(Answered { len, ..answered })
}

/// Writes the UDP frame carrying `st.encoded` from `src` to `dst` into `st.frame`;
/// returns the Ethernet frame's length.
fn udp_frame(
    st: &mut DnsState,
    macs: (MacAddr, MacAddr),
    (src, sport): (Ipv4Addr, u16),
    (dst, dport): (Ipv4Addr, u16),
) -> usize {
    let mut l4 = std::mem::take(&mut st.l4);
    l4.clear();
    l4.extend_from_slice(&sport_dport(sport, dport));
    l4.extend_from_slice(&((8 + st.encoded.len()) as u16).to_be_bytes());
    l4.extend_from_slice(&[0, 0]);
    l4.extend_from_slice(&st.encoded);
    let len = build_frame(&mut st.frame, macs, (src, dst), PROTO_UDP, &mut l4);
    st.l4 = l4;
    len
}

/// Relays the upstream's answer `reply` (a DNS message as received on the upstream
/// socket) to the client that asked: its pending query is looked up by id and must ask
/// the same question; the answer goes out with the original id, from the resolver
/// address the client asked, truncated to the client's UDP limit, into `st.frame`.
/// Returns the client's ENI and what was answered; `None` (ignored) for a message that
/// is not a response, does not parse, has an unknown id (late, duplicate) or another
/// question.
pub fn relay(st: &mut DnsState, reply: &[u8]) -> Option<(EniIdx, Answered)> {
    if reply.len() < 12 || !is_response(reply) {
        return None;
    }
    let id = u16::from_be_bytes([reply[0], reply[1]]);
    let p = st.pending.get(id)?;
    let mut msg = Message::from_vec(reply).ok()?;
    // (Names compare case-insensitively.)
    let same = matches!(msg.queries.as_slice(), [q] if q.name() == p.query.name()
        && q.query_type() == p.query.query_type()
        && q.query_class() == p.query.query_class());
    if !same {
        return None;
    }
    let p = st.pending.take(id)?;
    msg.metadata.id = p.id;
    let answered = encode(&msg, p.limit, &mut st.encoded).ok()?;
    let len = udp_frame(st, p.macs, (p.resolver, PORT), p.client);
    Some((p.eni, Answered { len, ..answered }))
}

/// Answers the forwarded query `p` with SERVFAIL (the upstream did not answer in time,
/// or could not be asked), into `st.frame`.
pub fn fail(st: &mut DnsState, p: &PendingQuery) -> Option<Answered> {
    let mut msg = Message::response(p.id, OpCode::Query);
    msg.metadata.recursion_desired = p.rd;
    msg.metadata.recursion_available = true;
    msg.metadata.response_code = ResponseCode::ServFail;
    msg.add_query(p.query.clone());
    if p.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        msg.set_edns(edns);
    }
    let answered = encode(&msg, p.limit, &mut st.encoded).ok()?;
    let len = udp_frame(st, p.macs, (p.resolver, PORT), p.client);
    Some(Answered { len, ..answered })
}

fn sport_dport(sport: u16, dport: u16) -> [u8; 4] {
    let (a, b) = (sport.to_be_bytes(), dport.to_be_bytes());
    [a[0], a[1], b[0], b[1]]
}

/// The largest DNS message answered over TCP: one segment within the MSS the resolver
/// announces.
const TCP_MESSAGE_MAX: usize = 1400;
/// How many length-prefixed queries one TCP segment may carry (RFC 7766 pipelining, as
/// glibc does with A and AAAA); more is dropped (`dns_malformed`).
const TCP_MAX_PIPELINED: usize = 4;
/// The MSS the resolver announces in its SYN-ACK.
const TCP_MSS: u16 = 1460;

/// The resolver's side of a TCP connection, without state: a SYN gets a SYN-ACK whose
/// sequence number derives from the connection's addresses and ports, a segment holding
/// whole length-prefixed queries gets the answers with FIN, a FIN gets its ACK; pure
/// ACKs and RSTs get nothing (`Ok` with `len` 0). A query split over several segments
/// is not reassembled (a counted drop).
fn answer_tcp(
    t: &DnsTable,
    st: &mut DnsState,
    (eni, vpc): (EniIdx, VpcIdx),
    router_mac: MacAddr,
    frame: &[u8],
    now: u64,
) -> Result<Answered, DropReason> {
    let ip = frame
        .get(HEADER_LEN..)
        .and_then(|b| Ipv4Packet::new_checked(b).ok())
        .ok_or(DropReason::DnsMalformed)?;
    let tcp = ip.payload();
    let off = usize::from(tcp.get(12).ok_or(DropReason::DnsMalformed)? >> 4) * 4;
    if off < 20 || tcp.len() < off {
        return Err(DropReason::DnsMalformed);
    }
    st.take(eni, now, t.max_pps)?;
    let (src, dst) = (ip.src(), ip.dst());
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let flags = tcp[13];
    let data = &tcp[off..];
    let (syn, ackf, fin, rst) = (
        flags & 0x02 != 0,
        flags & 0x10 != 0,
        flags & 0x01 != 0,
        flags & 0x04 != 0,
    );
    let nothing = Answered {
        len: 0,
        rcode: 0,
        answers: 0,
        truncated: false,
        segment: true,
        forwarded: false,
    };
    let isn = {
        let x = u64::from(u32::from(src)) << 32 | u64::from(u32::from(dst));
        let h =
            (x ^ (u64::from(sport) << 16 | u64::from(dport))).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 32) as u32
    };
    // (our seq, our ack, flags, mss option, answer?)
    let (rseq, rack, rflags, mss, answer) = if rst {
        return Ok(nothing);
    } else if syn && !ackf {
        (isn, seq.wrapping_add(1), 0x12u8, true, None)
    } else if !ackf {
        // Only a SYN or a RST may come without ACK.
        return Err(DropReason::DnsMalformed);
    } else if !data.is_empty() {
        // Whole queries only (a split one is not reassembled), at most a few.
        let k = tcp_queries(data).count();
        if tcp_queries(data).any(|q| q.is_none_or(|q| q.len() < 12 || is_response(q)))
            || k > TCP_MAX_PIPELINED
        {
            return Err(DropReason::DnsMalformed);
        }
        for _ in 1..k {
            st.take(eni, now, t.max_pps)?;
        }
        // Each answer gets its share of the segment; a truncated one (header, question,
        // OPT: under 300 bytes) always fits its share.
        let limit = (TCP_MESSAGE_MAX - 2 * k) / k;
        st.tcp_out.clear();
        let mut total: Option<Answered> = None;
        for query in tcp_queries(data).flatten() {
            let (msg, _, _) = respond(t, vpc, query);
            let a = encode(&msg, limit, &mut st.encoded)?;
            st.tcp_out
                .extend_from_slice(&(st.encoded.len() as u16).to_be_bytes());
            st.tcp_out.extend_from_slice(&st.encoded);
            total = Some(match total {
                None => a,
                Some(t) => Answered {
                    rcode: if t.rcode != 0 { t.rcode } else { a.rcode },
                    answers: t.answers.saturating_add(a.answers),
                    truncated: t.truncated || a.truncated,
                    ..t
                },
            });
        }
        let consumed = data.len() as u32 + u32::from(fin);
        (ack, seq.wrapping_add(consumed), 0x19, false, total)
    } else if fin {
        (ack, seq.wrapping_add(1), 0x10, false, None)
    } else {
        return Ok(nothing);
    };
    let requester = frame
        .get(6..12)
        .and_then(|m| <[u8; 6]>::try_from(m).ok())
        .map(MacAddr)
        .ok_or(DropReason::DnsMalformed)?;
    let mut l4 = std::mem::take(&mut st.l4);
    l4.clear();
    l4.extend_from_slice(&sport_dport(dport, sport));
    l4.extend_from_slice(&rseq.to_be_bytes());
    l4.extend_from_slice(&rack.to_be_bytes());
    l4.push(if mss { 6 << 4 } else { 5 << 4 });
    l4.push(rflags);
    l4.extend_from_slice(&65_535u16.to_be_bytes());
    l4.extend_from_slice(&[0, 0, 0, 0]);
    if mss {
        l4.extend_from_slice(&[2, 4]);
        l4.extend_from_slice(&TCP_MSS.to_be_bytes());
    }
    if answer.is_some() {
        l4.extend_from_slice(&st.tcp_out);
    }
    let len = build_frame(
        &mut st.frame,
        (router_mac, requester),
        (dst, src),
        PROTO_TCP,
        &mut l4,
    );
    st.l4 = l4;
    Ok(match answer {
        Some(a) => Answered { len, ..a },
        None => Answered { len, ..nothing },
    })
}

/// The length-prefixed DNS messages in TCP data, in order; `None` for trailing bytes that
/// are not a whole message (the iteration ends there).
fn tcp_queries(data: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest.take()?;
        if r.is_empty() {
            return None;
        }
        let Some((n, tail)) = r.split_first_chunk::<2>() else {
            return Some(None);
        };
        let n = usize::from(u16::from_be_bytes(*n));
        let Some(query) = tail.get(..n) else {
            return Some(None);
        };
        rest = tail.get(n..);
        Some(Some(query))
    })
}

/// Whether the DNS message `m` (at least a header long) is a response (QR set): never
/// answered, so that two resolvers cannot answer each other's errors forever.
fn is_response(m: &[u8]) -> bool {
    m.get(2).is_some_and(|b| b & 0x80 != 0)
}

/// The response to the DNS message `query` (at least a header long), the largest UDP
/// payload it may take, and whether it is NXDOMAIN for a name outside every zone the
/// resolver knows (what an upstream would be asked).
fn respond(t: &DnsTable, vpc: VpcIdx, query: &[u8]) -> (Message, usize, bool) {
    let id = u16::from_be_bytes([query[0], query[1]]);
    let opcode = OpCode::from_u8((query[2] >> 3) & 0x0f);
    let rd = query[2] & 1 != 0;
    let mut out = Message::response(id, opcode);
    out.metadata.recursion_desired = rd;
    out.metadata.recursion_available = true;
    let req = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) => {
            out.metadata.response_code = ResponseCode::FormErr;
            return (out, CLASSIC_UDP_PAYLOAD, false);
        }
    };
    let limit = match &req.edns {
        Some(e) => usize::from(e.max_payload().clamp(512, MAX_UDP_PAYLOAD)),
        None => CLASSIC_UDP_PAYLOAD,
    };
    if req.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        out.set_edns(edns);
    }
    if req.metadata.message_type != MessageType::Query {
        out.metadata.response_code = ResponseCode::FormErr;
        return (out, limit, false);
    }
    if req.metadata.op_code != OpCode::Query {
        out.metadata.response_code = ResponseCode::NotImp;
        return (out, limit, false);
    }
    let [q] = req.queries.as_slice() else {
        out.metadata.response_code = ResponseCode::FormErr;
        return (out, limit, false);
    };
    out.add_query(q.clone());
    let qtype = q.query_type();
    if q.query_class() != DNSClass::IN
        || matches!(
            qtype,
            RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT
        )
    {
        out.metadata.response_code = ResponseCode::NotImp;
        return (out, limit, false);
    }
    let outside = t.resolve(vpc, q.name(), qtype, &mut out);
    (out, limit, outside)
}

/// Encodes `msg` into `buf`, truncated (question only, TC set) if it exceeds `limit`.
fn encode(msg: &Message, limit: usize, buf: &mut Vec<u8>) -> Result<Answered, DropReason> {
    let emit = |m: &Message, buf: &mut Vec<u8>| {
        buf.clear();
        let mut enc = BinEncoder::new(buf);
        m.emit(&mut enc).map_err(|_| DropReason::DnsMalformed)
    };
    emit(msg, buf)?;
    let mut truncated = false;
    if buf.len() > limit {
        emit(&msg.truncate(), buf)?;
        truncated = true;
    }
    Ok(Answered {
        len: 0,
        rcode: msg.metadata.response_code.low().into(),
        answers: if truncated {
            0
        } else {
            u16::try_from(msg.answers.len()).unwrap_or(u16::MAX)
        },
        truncated,
        segment: false,
        forwarded: false,
    })
}

/// Writes the reply frame (a zero `virtio_net_hdr`, Ethernet, IPv4, then `l4`: a UDP or
/// TCP header and payload, whose checksum this fills in) into `out`; returns the Ethernet
/// frame's length.
fn build_frame(
    out: &mut Vec<u8>,
    (src_mac, dst_mac): (MacAddr, MacAddr),
    (src, dst): (Ipv4Addr, Ipv4Addr),
    proto: u8,
    l4: &mut [u8],
) -> usize {
    let ip_len = 20 + l4.len();
    out.clear();
    out.resize(VNET_HDR_LEN, 0);
    out.extend_from_slice(&dst_mac.0);
    out.extend_from_slice(&src_mac.0);
    out.extend_from_slice(&[0x08, 0x00]);
    let ip_at = out.len();
    out.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0]);
    out[ip_at + 2..ip_at + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = checksum::checksum(&out[ip_at..ip_at + 20]);
    out[ip_at + 10..ip_at + 12].copy_from_slice(&c.to_be_bytes());
    let mut acc = checksum::sum(0, &src.octets());
    acc = checksum::sum(acc, &dst.octets());
    acc = checksum::sum(acc, &[0, proto]);
    acc = checksum::sum(acc, &(l4.len() as u16).to_be_bytes());
    acc = checksum::sum(acc, l4);
    let c = match !checksum::fold(acc) {
        0 if proto == PROTO_UDP => 0xffff,
        c => c,
    };
    let at = if proto == PROTO_UDP { 6 } else { 16 };
    if let Some(field) = l4.get_mut(at..at + 2) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(l4);
    out.len() - VNET_HDR_LEN
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
