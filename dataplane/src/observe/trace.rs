//! `vpcctl trace`: a described packet sent through the real pipeline (the same
//! [`crate::vpc::pipeline::slow_path`] that forwards), on copies of the connection and NAT
//! state, so live traffic and connection state are not disturbed. The pipeline's
//! [`Note`]s become hop-by-hop steps naming each component (ENI, security group and rule,
//! network ACL and rule number, route table entry, gateway, NAT rewrite with the headers
//! before and after, peering) and the outcome: delivered to a port, answered, or dropped
//! by the first blocking component with a reason code in the style of AWS Reachability
//! Analyzer's explanation codes. The return path is the reply to the delivered packet,
//! traced from the receiver after the forward packet's connections were committed (on
//! the copies).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use serde::{Deserialize, Serialize};

use crate::engine::port::PortIdx;
use crate::vpc::config::{
    EniIdx, IgwIdx, NaclIdx, NatIdx, PeeringIdx, RouteTableIdx, RouteTarget, SgIdx,
};
use crate::vpc::pipeline::dhcp::DhcpReply;
use crate::vpc::pipeline::nacl::Direction;
use crate::vpc::pipeline::route::NextHop;
use crate::vpc::pipeline::{Note, SgPass};
use crate::vpc::tables::Tables;
use crate::vpc::verdict::DropReason;
use crate::wire::IcmpType;
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, DHCP_CLIENT_PORT, DHCP_SERVER_PORT,
};

/// The protocol of a traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceProtocol {
    /// TCP (with `tcp_flags`, default SYN).
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (with type and code, default echo request).
    Icmp,
}

/// What to trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSpec {
    /// Where the packet starts: an ENI id (`eni-…`), or an internet gateway id (`igw-…`)
    /// for a packet from the internet side of that gateway.
    pub from: String,
    /// The source address; default the ENI's primary IPv4, or the gateway's first
    /// internet host.
    pub src: Option<IpAddr>,
    /// The destination address.
    pub dst: IpAddr,
    /// The protocol.
    pub protocol: TraceProtocol,
    /// TCP/UDP source port (default 40000) or ICMP echo identifier.
    pub src_port: Option<u16>,
    /// TCP/UDP destination port (default 80 for TCP, 53 for UDP).
    pub dst_port: Option<u16>,
    /// ICMP type (default 8, echo request).
    pub icmp_type: Option<u8>,
    /// ICMP code (default 0).
    pub icmp_code: Option<u8>,
    /// TCP flags as a bit set (FIN 1, SYN 2, RST 4, PSH 8, ACK 16); default SYN.
    pub tcp_flags: Option<u8>,
    /// Also trace the reply to the delivered packet.
    pub return_path: bool,
}

/// A packet's IP and L4 header, as shown in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number.
    pub protocol: u8,
    /// TCP/UDP source port, ICMP echo identifier (0 otherwise).
    pub src_port: u16,
    /// TCP/UDP destination port, or ICMP `type << 8 | code`.
    pub dst_port: u16,
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            6 | 17 => write!(
                f,
                "{} {}:{} → {}:{}",
                if self.protocol == 6 { "tcp" } else { "udp" },
                self.src,
                self.src_port,
                self.dst,
                self.dst_port
            ),
            1 => write!(
                f,
                "icmp {} → {} type {} code {} id {}",
                self.src,
                self.dst,
                self.dst_port >> 8,
                self.dst_port & 0xff,
                self.src_port
            ),
            p => write!(f, "proto {p} {} → {}", self.src, self.dst),
        }
    }
}

/// One hop of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    /// The kind of component (`eni`, `security-group`, `network-acl`, `route-table`,
    /// `internet-gateway`, `nat-gateway`, `peering`, `router`).
    pub kind: String,
    /// The component's id (with the rule, when one decided).
    pub component: String,
    /// What it did.
    pub detail: String,
    /// For a translation: the header before and after.
    #[serde(default)]
    pub rewrite: Option<(Header, Header)>,
}

/// How a traced packet ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Sent out of a port.
    Delivered {
        /// The ENI (or `igw-… (internet)`) it reached.
        to: String,
        /// The header as delivered.
        header: Header,
    },
    /// Answered by the data plane itself (the VPC router, a NAT gateway's RST).
    Answered {
        /// Who answered.
        by: String,
    },
    /// Dropped.
    Dropped {
        /// The drop counter's name.
        reason: String,
        /// The explanation code (Reachability Analyzer's, where one fits).
        code: String,
        /// The blocking component.
        component: String,
    },
}

/// One direction of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLeg {
    /// Where the packet was injected.
    pub from: String,
    /// The packet as injected.
    pub header: Header,
    /// Each component it passed.
    pub steps: Vec<TraceStep>,
    /// The result.
    pub outcome: Outcome,
}

/// The answer to a trace request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The described packet.
    pub forward: TraceLeg,
    /// Its reply, when asked for and the forward packet was delivered.
    pub reply: Option<TraceLeg>,
}

impl fmt::Display for TraceLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} from {}", self.header, self.from)?;
        for (i, s) in self.steps.iter().enumerate() {
            write!(
                f,
                "  {:>2}. {:<16} {:<28} {}",
                i + 1,
                s.kind,
                s.component,
                s.detail
            )?;
            if let Some((a, b)) = &s.rewrite {
                write!(f, "\n      {:<16} {a}\n      {:<16} {b}", "before", "after")?;
            }
            writeln!(f)?;
        }
        match &self.outcome {
            Outcome::Delivered { to, header } => writeln!(f, "  => DELIVERED to {to} as {header}"),
            Outcome::Answered { by } => writeln!(f, "  => ANSWERED by {by}"),
            Outcome::Dropped {
                reason,
                code,
                component,
            } => writeln!(f, "  => DROPPED at {component}: {code} ({reason})"),
        }
    }
}

impl fmt::Display for TraceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "forward path:")?;
        write!(f, "{}", self.forward)?;
        if let Some(r) = &self.reply {
            writeln!(f, "return path:")?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// The explanation code for a drop reason (Reachability Analyzer's where one exists).
pub fn explanation_code(r: DropReason) -> &'static str {
    use DropReason as D;
    match r {
        D::NaclDeny => "SUBNET_ACL_RESTRICTION",
        D::SgNoMatch => "ENI_SG_RULES_MISMATCH",
        D::NoRoute => "NO_ROUTE_TO_DESTINATION",
        D::Blackhole => "BAD_STATE_ROUTE",
        D::NoEniForAddress => "NO_POSSIBLE_DESTINATION",
        D::SourceMacSpoofed | D::SourceIpSpoofed | D::DestinationNotOwned => {
            "ENI_SOURCE_DEST_CHECK_RESTRICTION"
        }
        D::IgwNoPublicIp => "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS",
        D::IgwNoPublicMapping => "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS",
        D::IgwPrivateSource => "IGW_SOURCE_ADDRESS_NOT_IN_RFC1918_INGRESS",
        D::IgwPrivateDestination => "IGW_DESTINATION_ADDRESS_NOT_IN_RFC1918_EGRESS",
        D::PcxAddressNotInVpcCidr => "PCX_REQUIRES_ADDRESS_IN_VPC_CIDR",
        D::NatUnsupportedProtocol | D::NatFragment => "PROTOCOL_RESTRICTION",
        D::NatNoTranslation => "NGW_NO_INBOUND_INITIATION",
        D::NatPortAllocation => "NGW_ERROR_PORT_ALLOCATION",
        D::NatReset => "NGW_IDLE_TIMEOUT",
        D::ConntrackFull => "CONNTRACK_ALLOWANCE_EXCEEDED",
        D::PpsAllowanceExceeded => "PPS_ALLOWANCE_EXCEEDED",
        D::InvalidTcpState => "INVALID_TCP_STATE",
        D::EniNotAttached => "BAD_STATE_ATTACHMENT",
        D::FragmentationNeeded => "MTU_EXCEEDED",
        D::HopLimit | D::HairpinLoop => "CANNOT_ROUTE",
        D::UnknownDestinationMac => "NO_POSSIBLE_DESTINATION",
        _ => "PACKET_NOT_FORWARDED",
    }
}

/// Names of components, from the running tables.
pub(crate) struct Names<'a>(&'a Tables);

/// The id of element `i` of `v`, or `kind#i` when out of range.
fn id_of<T>(v: &[T], i: usize, kind: &str, id: impl Fn(&T) -> &str) -> String {
    v.get(i)
        .map_or_else(|| format!("{kind}#{i}"), |x| id(x).to_string())
}

impl Names<'_> {
    /// The name of port `p`: an ENI id, or `igw-… (internet)`.
    pub(crate) fn port_name(t: &Tables, p: PortIdx) -> String {
        Names(t).port(p)
    }
    fn eni(&self, e: EniIdx) -> String {
        id_of(&self.0.config.enis, e.idx(), "eni", |x| &x.id)
    }
    fn port(&self, p: PortIdx) -> String {
        match self.0.igw_of_port(p) {
            Some((g, _)) => format!("{} (internet)", self.igw(g)),
            // Port `i` below the uplinks is ENI `i`'s (`eni#i` when out of range).
            None => id_of(&self.0.config.enis, p.idx(), "eni", |x| &x.id),
        }
    }
    fn igw(&self, g: IgwIdx) -> String {
        id_of(&self.0.config.internet_gateways, g.idx(), "igw", |x| &x.id)
    }
    fn nat(&self, n: NatIdx) -> String {
        id_of(&self.0.config.nat_gateways, n.idx(), "nat", |x| &x.id)
    }
    fn pcx(&self, p: PeeringIdx) -> String {
        id_of(&self.0.config.peerings, p.idx(), "pcx", |x| &x.id)
    }
    fn rtb(&self, r: RouteTableIdx) -> String {
        id_of(&self.0.config.route_tables, r.idx(), "rtb", |x| &x.id)
    }
    fn acl(&self, a: NaclIdx) -> String {
        id_of(&self.0.config.network_acls, a.idx(), "acl", |x| &x.id)
    }
    fn sg(&self, g: SgIdx) -> String {
        id_of(&self.0.config.security_groups, g.idx(), "sg", |x| &x.id)
    }
    /// The target of route `prefix` of table `rt`, with the route's state when it is a
    /// blackhole for want of its target, as AWS shows it: `nat-x (blackhole: target
    /// deleted)` (the id the configuration kept, see
    /// [`RouteConfig::deleted_target`](crate::vpc::config::RouteConfig::deleted_target)),
    /// `pcx-x (blackhole: pending-acceptance)`.
    fn target(&self, rt: RouteTableIdx, prefix: IpNet, t: RouteTarget) -> String {
        match t {
            RouteTarget::Local => "local".into(),
            RouteTarget::Blackhole => {
                let deleted = self
                    .0
                    .config
                    .route_tables
                    .get(rt.idx())
                    .and_then(|table| {
                        table
                            .routes
                            .iter()
                            .find(|r| r.destination.trunc() == prefix)
                    })
                    .and_then(|r| r.deleted_target.as_deref());
                match deleted {
                    Some(id) => format!("{id} (blackhole: target deleted)"),
                    None => "blackhole".into(),
                }
            }
            RouteTarget::Eni(e) => self.eni(e),
            RouteTarget::InternetGateway(g) => self.igw(g),
            RouteTarget::NatGateway(n) => self.nat(n),
            RouteTarget::Peering(p) if self.0.peerings.get(p.idx()).is_some_and(|x| !x.active) => {
                format!("{} (blackhole: pending-acceptance)", self.pcx(p))
            }
            RouteTarget::Peering(p) => self.pcx(p),
        }
    }
    fn groups_of(&self, e: EniIdx) -> String {
        self.0
            .config
            .enis
            .get(e.idx())
            .and_then(|x| x.security_groups.as_ref())
            .map(|g| g.iter().map(|&i| self.sg(i)).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    }
}

fn step(kind: &str, component: String, detail: String) -> TraceStep {
    TraceStep {
        kind: kind.into(),
        component,
        detail,
        rewrite: None,
    }
}

/// Turns the pipeline's notes into steps, and names the component that blocked a
/// dropped packet (the last one that looked at it).
// Longer than the usual ~150 lines on purpose: one arm per kind of note, so the function
// reads as the table of how every decision of the pipeline shows in a trace.
pub(crate) fn describe(t: &Tables, header: Header, notes: &[Note]) -> (Vec<TraceStep>, String) {
    let n = Names(t);
    let mut steps = Vec::new();
    let mut cur = header;
    let mut blocking = String::new();
    for note in notes {
        match *note {
            Note::FromPort(p) => {
                blocking = n.port(p);
                let detail = match t.igw_of_port(p) {
                    Some(_) => "arrives from the internet".to_string(),
                    None => {
                        // Below the uplinks, port `i` is ENI `i`'s.
                        let e = &t.config.enis[p.idx()];
                        let s = &t.config.subnets[e.subnet.idx()];
                        format!(
                            "leaves the instance (subnet {}, {}; source/destination check {})",
                            s.id,
                            t.config.vpcs[s.vpc.idx()].id,
                            if e.source_dest_check { "on" } else { "off" }
                        )
                    }
                };
                steps.push(step("eni", n.port(p), detail));
            }
            Note::RouterReply => {
                steps.push(step("router", "VPC router".into(), "answers".into()));
            }
            Note::Resolver(a) => {
                steps.push(step("resolver", "VPC resolver".into(), a.describe()));
            }
            Note::Metadata => {
                steps.push(step(
                    "metadata",
                    "instance metadata service".into(),
                    "169.254.169.254:80 answers (HTTP, not filtered by security groups or network ACLs)"
                        .into(),
                ));
            }
            Note::RouterIgnored => {
                steps.push(step("router", "VPC router".into(), "ignores".into()));
            }
            Note::Dhcp(reply) => {
                let detail = match reply {
                    Some(DhcpReply::Offer) => "DHCP server answers with an OFFER",
                    Some(DhcpReply::Ack) => "DHCP server answers with an ACK",
                    Some(DhcpReply::Nak) => "DHCP server answers with a NAK",
                    None => "DHCP server: no answer",
                };
                blocking = "VPC router (DHCP)".into();
                steps.push(step("router", "VPC router (DHCP)".into(), detail.into()));
            }
            Note::SecurityGroup { eni, egress, pass } => {
                let dir = if egress { "outbound" } else { "inbound" };
                let (component, detail) = match pass {
                    SgPass::Tracked => (
                        n.groups_of(eni),
                        format!("{dir}: part of a tracked connection of {}", n.eni(eni)),
                    ),
                    SgPass::Related => (
                        n.groups_of(eni),
                        format!("{dir}: ICMP error about a tracked connection"),
                    ),
                    SgPass::New(m) => (
                        format!("{} {dir}[{}]", n.sg(m.group), m.rule),
                        format!(
                            "{dir} rule allows; the connection is tracked on {} once delivered",
                            n.eni(eni)
                        ),
                    ),
                    SgPass::Untracked(m) => (
                        format!("{} {dir}[{}]", n.sg(m.group), m.rule),
                        format!("{dir} rule allows (untracked: open both ways)"),
                    ),
                };
                blocking = component.clone();
                steps.push(step("security-group", component, detail));
            }
            Note::SecurityGroupDenied { eni, egress } => {
                let dir = if egress { "outbound" } else { "inbound" };
                blocking = format!("{} of {}", n.groups_of(eni), n.eni(eni));
                steps.push(step(
                    "security-group",
                    blocking.clone(),
                    format!("no {dir} rule allows it and no tracked connection covers it"),
                ));
            }
            Note::NetworkAcl {
                nacl,
                direction,
                rule,
                allow,
            } => {
                let dir = match direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                };
                let rule = rule.map_or_else(|| "*".to_string(), |r| r.to_string());
                let component = format!("{} {dir} rule {rule}", n.acl(nacl));
                blocking = component.clone();
                steps.push(step(
                    "network-acl",
                    component,
                    if allow { "allow" } else { "deny" }.into(),
                ));
            }
            Note::Layer2(e) => {
                steps.push(step(
                    "eni",
                    n.eni(e),
                    "neighbour in the same subnet: delivered at layer 2".into(),
                ));
            }
            Note::RouteLookup { table, dst } => {
                blocking = n.rtb(table);
                let detail = match t.route(table, dst) {
                    Some((target, prefix)) => {
                        format!("{dst}: {prefix} → {}", n.target(table, prefix, target))
                    }
                    None => format!("{dst}: no route"),
                };
                steps.push(step("route-table", n.rtb(table), detail));
            }
            Note::Routed { next, .. } => {
                if let NextHop::Peering { pcx, peer } = next {
                    blocking = n.pcx(pcx);
                    steps.push(step(
                        "peering",
                        n.pcx(pcx),
                        format!("into {}", t.config.vpcs[peer.idx()].id),
                    ));
                }
            }
            Note::InternetGateway {
                igw,
                inbound,
                from,
                to,
            } => {
                let before = cur;
                if inbound {
                    cur.dst = IpAddr::V4(to);
                } else {
                    cur.src = IpAddr::V4(to);
                }
                blocking = n.igw(igw);
                steps.push(TraceStep {
                    rewrite: Some((before, cur)),
                    ..step(
                        "internet-gateway",
                        n.igw(igw),
                        format!(
                            "1:1 NAT {} {from} → {to}",
                            if inbound { "destination" } else { "source" }
                        ),
                    )
                });
            }
            Note::NatGateway {
                nat,
                inbound,
                from,
                to,
            } => {
                let before = cur;
                if inbound {
                    cur.dst = to.0;
                    if matches!(cur.protocol, 6 | 17) {
                        cur.dst_port = to.1;
                    } else {
                        cur.src_port = to.1;
                    }
                } else {
                    cur.src = to.0;
                    cur.src_port = to.1;
                }
                blocking = n.nat(nat);
                steps.push(TraceStep {
                    rewrite: Some((before, cur)),
                    ..step(
                        "nat-gateway",
                        n.nat(nat),
                        format!(
                            "{} {}:{} → {}:{}",
                            if inbound {
                                "reply: destination"
                            } else {
                                "source"
                            },
                            from.0,
                            from.1,
                            to.0,
                            to.1
                        ),
                    )
                });
            }
            Note::NatReset(nat) => {
                steps.push(step(
                    "nat-gateway",
                    n.nat(nat),
                    "no translation for this TCP packet: answers with a RST".into(),
                ));
            }
            Note::NatRefused(nat) => {
                blocking = n.nat(nat);
                steps.push(step("nat-gateway", n.nat(nat), "refuses the packet".into()));
            }
            Note::Delivered(_) | Note::Dropped(_) => {}
        }
    }
    (steps, blocking)
}

/// The header of the frame `frame` (an Ethernet frame).
pub(crate) fn header_of(frame: &[u8]) -> Option<Header> {
    let m = crate::wire::parse_frame(frame).ok()?;
    match m.l3 {
        crate::wire::L3::Ip(ip) => Some(Header {
            src: ip.src,
            dst: ip.dst,
            protocol: ip.proto,
            src_port: ip.src_port,
            dst_port: ip.icmp.map_or(ip.dst_port, IcmpType::word),
        }),
        _ => None,
    }
}

/// Builds the Ethernet frame (after `vnet` bytes of zeroed `virtio_net_hdr`) of a
/// packet from `src_mac` to `dst_mac` with header `h` and TCP `flags`.
/// A DHCPDISCOVER from `mac`, as a traced DHCP packet's payload.
fn dhcp_discover(mac: [u8; 6]) -> Result<Vec<u8>, String> {
    let repr = DhcpRepr {
        message_type: DhcpMessageType::Discover,
        transaction_id: 0x7472_6163,
        secs: 0,
        client_hardware_address: EthernetAddress(mac),
        client_ip: std::net::Ipv4Addr::UNSPECIFIED,
        your_ip: std::net::Ipv4Addr::UNSPECIFIED,
        server_ip: std::net::Ipv4Addr::UNSPECIFIED,
        router: None,
        subnet_mask: None,
        relay_agent_ip: std::net::Ipv4Addr::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: None,
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: None,
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut DhcpPacket::new_unchecked(&mut out[..]))
        .map_err(|e| format!("building a DHCP DISCOVER: {e}"))?;
    Ok(out)
}

pub(crate) fn build_frame(
    vnet: usize,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    h: &Header,
    flags: u8,
) -> Result<Vec<u8>, String> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (h.src, h.dst) else {
        return Err("only IPv4 packets can be traced".into());
    };
    let b =
        etherparse::PacketBuilder::ethernet2(src_mac, dst_mac).ipv4(src.octets(), dst.octets(), 64);
    let mut v = vec![0u8; vnet];
    let payload = b"vpcctl trace";
    let r = match h.protocol {
        6 => {
            let mut t = b.tcp(h.src_port, h.dst_port, 1000, 64240);
            if flags & 0x02 != 0 {
                t = t.syn();
            }
            if flags & 0x10 != 0 {
                t = t.ack(2000);
            }
            if flags & 0x01 != 0 {
                t = t.fin();
            }
            if flags & 0x04 != 0 {
                t = t.rst();
            }
            if flags & 0x08 != 0 {
                t = t.psh();
            }
            t.write(&mut v, payload)
        }
        // From the DHCP client port to the server port: a DISCOVER from the sender's
        // MAC, so that the trace shows the router's DHCP answer.
        17 if (h.src_port, h.dst_port) == (DHCP_CLIENT_PORT, DHCP_SERVER_PORT) => b
            .udp(h.src_port, h.dst_port)
            .write(&mut v, &dhcp_discover(src_mac)?),
        // To port 53, a DNS query (id 0x7472, RD, `.` type A class IN), so that a trace to
        // the VPC resolver shows how it answers rather than a malformed message.
        17 if h.dst_port == 53 => b.udp(h.src_port, h.dst_port).write(
            &mut v,
            &[0x74, 0x72, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1],
        ),
        17 => b.udp(h.src_port, h.dst_port).write(&mut v, payload),
        1 => {
            let ty = (h.dst_port >> 8) as u8;
            let code = h.dst_port as u8;
            let icmp = match ty {
                8 => etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader {
                    id: h.src_port,
                    seq: 1,
                }),
                0 => etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader {
                    id: h.src_port,
                    seq: 1,
                }),
                _ => etherparse::Icmpv4Type::Unknown {
                    type_u8: ty,
                    code_u8: code,
                    bytes5to8: [0; 4],
                },
            };
            b.icmpv4(icmp).write(&mut v, payload)
        }
        p => return Err(format!("protocol {p} cannot be traced (tcp, udp, icmp)")),
    };
    r.map_err(|e| format!("building the packet: {e}"))?;
    Ok(v)
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
