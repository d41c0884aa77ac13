//! `vpcctl trace` on a running data plane: a described packet through the same slow path
//! that forwards, on an overlay of the connection and NAT state, so nothing changes.

use super::*;
use crate::vpc::config::{Neighbour, Outside};
use crate::vpc::pipeline::dns::DnsState;
use crate::vpc::pipeline::Overlay;

/// The traced packet's source port (ICMP: echo identifier) when none is given.
const TRACE_SRC_PORT: u16 = 40000;
/// The traced TCP packet's destination port when none is given.
const TRACE_TCP_PORT: u16 = 80;
/// The traced UDP packet's destination port when none is given.
const TRACE_UDP_PORT: u16 = 53;

/// The protocol and L4 identifiers of the packet `spec` traces, as the flow steering
/// reads them ([`crate::engine::steer::flow_hash`]): with several workers, a trace runs
/// on the worker that owns its flow (and holds its tracked connection).
pub fn trace_flow(spec: &TraceSpec) -> (u8, u16, u16) {
    let sport = spec.src_port.unwrap_or(TRACE_SRC_PORT);
    match spec.protocol {
        TraceProtocol::Tcp => (6, sport, spec.dst_port.unwrap_or(TRACE_TCP_PORT)),
        TraceProtocol::Udp => (17, sport, spec.dst_port.unwrap_or(TRACE_UDP_PORT)),
        // An echo's identifier plays the port's part; other ICMP has none.
        TraceProtocol::Icmp => match spec.icmp_type.unwrap_or(8) {
            0 | 8 => (1, sport, 0),
            _ => (1, 0, 0),
        },
    }
}

impl<P: Port> Dataplane<P> {
    /// Traces the packet `spec` describes through the pipeline (and its reply, when
    /// asked), on copies of the connection and NAT state: nothing of the running state,
    /// counters or flow cache changes. See [`crate::observe::trace`].
    pub fn trace(&self, spec: &TraceSpec) -> Result<TraceReport, String> {
        let t = &self.tables;
        let c = &t.config;
        let (port, src_mac, dst_mac, default_src, from) =
            if let Some(g) = c.internet_gateways.iter().position(|g| g.id == spec.from) {
                let igw = &t.igws[g];
                let host = c.internet_gateways[g]
                    .uplink
                    .as_ref()
                    .and_then(|u| match &u.outside {
                        Outside::Namespace { hosts, .. } => hosts.first().copied(),
                        Outside::Segment { neighbours, .. } => neighbours.first().map(|n| n.ip),
                    })
                    .map(IpAddr::V4);
                (
                    igw.port,
                    igw.host_mac,
                    igw.mac,
                    host,
                    format!("{} (internet)", spec.from),
                )
            } else if let Some((g, host)) = internet_host(c, &spec.from, spec.dst) {
                let igw = &t.igws[g];
                (
                    igw.port,
                    host.mac,
                    igw.mac,
                    Some(IpAddr::V4(host.ip)),
                    format!(
                        "{} (internet host, via {})",
                        spec.from, c.internet_gateways[g].id
                    ),
                )
            } else if let Some(e) = c.enis.iter().position(|e| e.id == spec.from) {
                let eni = &t.enis[e];
                let subnet = &t.subnets[eni.subnet.idx()];
                // Like the instance's kernel: a neighbour's MAC inside the subnet, the
                // router's otherwise.
                let neighbour = match spec.dst {
                    IpAddr::V4(d) if subnet.cidr4.contains(&d) => t
                        .owner(eni.vpc, spec.dst)
                        .filter(|&o| t.enis[o.idx()].subnet == eni.subnet)
                        .map(|o| t.enis[o.idx()].mac),
                    _ => None,
                };
                (
                    PortIdx::from(EniIdx(e as u32)),
                    eni.mac,
                    neighbour.unwrap_or(subnet.router_mac),
                    eni.addrs.first().copied(),
                    spec.from.clone(),
                )
            } else {
                return Err(format!(
                    "{}: no ENI, internet gateway or internet host with this id",
                    spec.from
                ));
            };
        let src = spec
            .src
            .or(default_src)
            .ok_or_else(|| format!("{}: give the source address (--src)", spec.from))?;
        let protocol = match spec.protocol {
            TraceProtocol::Tcp => 6,
            TraceProtocol::Udp => 17,
            TraceProtocol::Icmp => 1,
        };
        let header = Header {
            src,
            dst: spec.dst,
            protocol,
            src_port: spec.src_port.unwrap_or(TRACE_SRC_PORT),
            dst_port: match spec.protocol {
                TraceProtocol::Tcp => spec.dst_port.unwrap_or(TRACE_TCP_PORT),
                TraceProtocol::Udp => spec.dst_port.unwrap_or(TRACE_UDP_PORT),
                TraceProtocol::Icmp => {
                    u16::from(spec.icmp_type.unwrap_or(8)) << 8
                        | u16::from(spec.icmp_code.unwrap_or(0))
                }
            },
        };
        let flags = spec
            .tcp_flags
            .unwrap_or(crate::vpc::conntrack::tcp_flags::SYN);
        // Both legs see what the first one changed, and nothing of it reaches the
        // running state: only the tables the packet touches are copied.
        let mut overlay = Overlay::new(&self.conntrack, &self.nats);
        let now = self.clock.now();
        let buf = build_frame(VNET_HDR_LEN, src_mac.0, dst_mac.0, &header, flags)?;
        let (forward, delivered) = self.trace_leg(&mut overlay, now, port, buf, header, from)?;
        let reply = match delivered {
            Some((d, h)) if spec.return_path => {
                let back = Header {
                    src: h.dst,
                    dst: h.src,
                    protocol: h.protocol,
                    src_port: if protocol == 1 {
                        h.src_port
                    } else {
                        h.dst_port
                    },
                    dst_port: if protocol == 1 {
                        // An echo request is answered by an echo reply.
                        if h.dst_port >> 8 == 8 {
                            0
                        } else {
                            h.dst_port
                        }
                    } else {
                        h.src_port
                    },
                };
                use crate::vpc::conntrack::tcp_flags::{ACK, SYN};
                let rflags = if flags & SYN != 0 && flags & ACK == 0 {
                    SYN | ACK
                } else {
                    ACK
                };
                let buf = build_frame(VNET_HDR_LEN, d.dst_mac.0, d.src_mac.0, &back, rflags)?;
                let name = Names::port_name(t, d.to.index(t.enis.len()));
                Some(
                    self.trace_leg(&mut overlay, now, d.to.index(t.enis.len()), buf, back, name)?
                        .0,
                )
            }
            _ => None,
        };
        Ok(TraceReport { forward, reply })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn trace_leg(
        &self,
        state: &mut Overlay<'_>,
        now: u64,
        port: PortIdx,
        mut buf: Vec<u8>,
        header: Header,
        from: String,
    ) -> Result<(TraceLeg, Option<(Delivery, Header)>), String> {
        let frame_len = buf.len().saturating_sub(VNET_HDR_LEN);
        // Room for an answer longer than the request (DHCP).
        buf.resize(crate::engine::buf::BUF_SIZE.max(buf.len()), 0);
        let frame = &mut buf[VNET_HDR_LEN..];
        let meta = parse_frame(&frame[..frame_len])
            .map_err(|e| format!("parsing the traced packet: {e}"))?;
        let mut notes = Vec::new();
        let mut cx = Context {
            tables: &self.tables,
            state,
            now,
            owner: None,
            via_nat: None,
            full_table: None,
            dns: &mut DnsState::default(),
        };
        let action = pipeline::slow_path(&mut cx, port, frame, frame_len, &meta, &mut notes);
        buf.truncate(VNET_HDR_LEN + frame_len);
        let (mut steps, blocking) = describe(&self.tables, header, &notes);
        let drop = |r: DropReason, component: String| Outcome::Dropped {
            reason: r.name().into(),
            code: explanation_code(r).into(),
            component,
        };
        let mut delivered = None;
        // How the hop's MTU shaped a delivered packet: (the MTU, what was done).
        let mut steps_after: Vec<(u16, &str)> = Vec::new();
        let outcome = match action {
            Action::Forward { delivery, .. } => {
                let fit = if delivery.mtu == 0 {
                    Fit::Fits
                } else {
                    mtu_fit(&buf, delivery.mtu)
                };
                match fit {
                    Fit::Segment => steps_after.push((
                        delivery.mtu,
                        "segmented (software TCP segmentation; a segment still too big is \
                         fragmented)",
                    )),
                    Fit::Fragment => steps_after.push((delivery.mtu, "fragmented")),
                    Fit::Fits | Fit::NeedsFragNeeded => {}
                }
                if fit == Fit::NeedsFragNeeded {
                    drop(
                        DropReason::FragmentationNeeded,
                        format!("{}-byte hop", delivery.mtu),
                    )
                } else if self
                    .port(delivery.to.index(self.tables.enis.len()))
                    .is_none()
                {
                    drop(
                        DropReason::EniNotAttached,
                        Names::port_name(&self.tables, delivery.to.index(self.tables.enis.len())),
                    )
                } else {
                    rewrite(&mut buf, delivery.nat)
                        .map_err(|e| format!("rewriting the traced packet: {e}"))?;
                    let h = header_of(&buf[VNET_HDR_LEN..])
                        .ok_or_else(|| "the rewritten packet does not parse".to_string())?;
                    delivered = Some((delivery, h));
                    Outcome::Delivered {
                        to: Names::port_name(
                            &self.tables,
                            delivery.to.index(self.tables.enis.len()),
                        ),
                        header: h,
                    }
                }
            }
            Action::Drop { reason, .. } => drop(reason, blocking),
            Action::Reply { drop, .. } => Outcome::Answered {
                by: match drop {
                    Some(_) => "the NAT gateway (RST)",
                    None => "the VPC router",
                }
                .into(),
            },
            Action::Consumed => Outcome::Answered {
                by: "the VPC router (ignored)".into(),
            },
            Action::DhcpReply { .. } => Outcome::Answered {
                by: "the VPC router (DHCP)".into(),
            },
            Action::DhcpIgnored => Outcome::Answered {
                by: "the VPC router (DHCP, ignored)".into(),
            },
            Action::Resolved(a) => Outcome::Answered {
                by: format!("the VPC resolver ({})", a.describe()),
            },
            Action::Metadata => Outcome::Answered {
                by: "the instance metadata service".into(),
            },
        };
        if let Outcome::Delivered { to, .. } = &outcome {
            for (mtu, detail) in steps_after {
                steps.push(TraceStep {
                    kind: "router".into(),
                    component: format!("{mtu}-byte hop"),
                    detail: detail.into(),
                    rewrite: None,
                });
            }
            steps.push(TraceStep {
                kind: "eni".into(),
                component: to.clone(),
                detail: "out of its port".into(),
                rewrite: None,
            });
        }
        Ok((
            TraceLeg {
                from,
                header,
                steps,
                outcome,
            },
            delivered,
        ))
    }
}

/// Internet host `id` on the shared segment: the gateway it sends to `dst` through (the
/// one owning `dst` among those it sits behind, else the first of those) and its first
/// address there.
fn internet_host<'c>(
    c: &'c DataplaneConfig,
    id: &str,
    dst: IpAddr,
) -> Option<(usize, &'c Neighbour)> {
    let behind = c
        .internet_gateways
        .iter()
        .enumerate()
        .filter_map(|(g, igw)| match &igw.uplink.as_ref()?.outside {
            Outside::Segment { neighbours, .. } => {
                let n = neighbours.iter().find(|n| n.holder == id)?;
                let owns = igw.mappings.iter().any(|m| IpAddr::V4(m.public) == dst);
                Some((g, n, owns))
            }
            Outside::Namespace { .. } => None,
        });
    let mut first = None;
    for (g, n, owns) in behind {
        if owns {
            return Some((g, n));
        }
        first = first.or(Some((g, n)));
    }
    first
}
