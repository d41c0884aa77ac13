//! Flow logs, as AWS VPC Flow Logs: per network interface (an ENI, or a NAT gateway's
//! requester-managed interface), one record per flow (5-tuple, direction, action) and
//! aggregation interval, with packets, bytes, TCP flags OR-ed over the interval and the
//! first and last packet's time, written one per line in the default (version 2) format
//! or a custom field list, plus `NODATA` records for interfaces that saw nothing in an
//! interval.
//!
//! A NAT gateway's interface records, as in AWS's "traffic through a NAT gateway"
//! example, the packet from the inside host as it arrives (`srcaddr` the host, `dstaddr`
//! the gateway's primary private address, `pkt-dstaddr` the final destination), the
//! translated packet as it leaves, the reply as it arrives (at the gateway's address) and
//! the reply as it leaves for the inside host (`srcaddr` the gateway, `pkt-srcaddr` the
//! outside host); `instance-id` is `-` (a requester-managed interface).
//!
//! The fast path only updates a counter record (one hash-map entry per interface and flow);
//! records are formatted when an interval closes, from
//! [`crate::datapath::Dataplane::expire`] (every 50 ms in vpcd), and handed to the
//! [`Writer`] thread, which appends them to the file (an interval's records in one write).
//! When its queue is full the interval's records are dropped and counted (the stats
//! report's `flow_log_records_dropped`); the records of intervals that an apply or a stop
//! closes wait for room instead. Not logged, as in AWS:
//! DHCP, DNS to the VPC's resolver (`.2`), the metadata and time-sync addresses, and the
//! router's own address (its answers never reach the pipeline's forward path).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use foldhash::fast::RandomState;

use crate::observe::writer::{Delivery, FileId, Kind, Writer};
use crate::vpc::config::{
    DataplaneConfig, EniIdx, FlowLogConfig, FlowLogTraffic, Interface, NatIdx,
};
use crate::vpc::verdict::DropReason;

/// The account id written in records (a lab has no AWS account).
pub const ACCOUNT_ID: &str = "000000000000";

/// The fields of the default format (version 2), in order.
pub const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Every field a custom format may use, with the format version that introduced it.
pub const FIELDS: [(&str, u8); 29] = [
    ("version", 2),
    ("account-id", 2),
    ("interface-id", 2),
    ("srcaddr", 2),
    ("dstaddr", 2),
    ("srcport", 2),
    ("dstport", 2),
    ("protocol", 2),
    ("packets", 2),
    ("bytes", 2),
    ("start", 2),
    ("end", 2),
    ("action", 2),
    ("log-status", 2),
    ("vpc-id", 3),
    ("subnet-id", 3),
    ("instance-id", 3),
    ("tcp-flags", 3),
    ("type", 3),
    ("pkt-srcaddr", 3),
    ("pkt-dstaddr", 3),
    ("region", 4),
    ("az-id", 4),
    ("sublocation-type", 4),
    ("sublocation-id", 4),
    ("pkt-src-aws-service", 5),
    ("pkt-dst-aws-service", 5),
    ("flow-direction", 5),
    ("traffic-path", 5),
];

/// The version of a format: the highest version among its fields.
pub fn format_version(fields: &[String]) -> u8 {
    fields
        .iter()
        .filter_map(|f| FIELDS.iter().find(|(n, _)| n == f).map(|&(_, v)| v))
        .max()
        .unwrap_or(2)
}

/// Where a packet went after leaving an interface (the `traffic-path` field, egress
/// only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// Another resource of the same VPC (1).
    SameVpc,
    /// The internet gateway (8: on Nitro, AWS reports 8 for the IGW).
    InternetGateway,
    /// An intra-Region peering connection (4).
    Peering,
}

impl Path {
    fn code(self) -> u8 {
        match self {
            Path::SameVpc => 1,
            Path::InternetGateway => 8,
            Path::Peering => 4,
        }
    }
}

/// One flow of one interface: the record's identity.
#[derive(Debug, Clone, Copy)]
pub struct RecordKey {
    /// The interface's index: an ENI's, or a NAT gateway's when `nat` (two plain fields
    /// rather than an [`Interface`], which kept the record-table lookup from inlining on
    /// the fast path); see [`RecordKey::iface`].
    index: u32,
    /// Whether `index` is a NAT gateway's.
    nat: bool,
    /// Arriving at the interface (`true`) or leaving it.
    pub ingress: bool,
    /// Accepted or rejected.
    pub accept: bool,
    /// IP protocol.
    pub proto: u8,
    /// The packet's source as seen at the interface.
    pub src: IpAddr,
    /// The packet's destination as seen at the interface.
    pub dst: IpAddr,
    /// TCP/UDP source port (0 otherwise).
    pub sport: u16,
    /// TCP/UDP destination port (0 otherwise).
    pub dport: u16,
}

impl RecordKey {
    /// The record of packet `ip` at interface `iface` (ports only for TCP and UDP).
    pub fn of(
        iface: impl Into<Interface>,
        ingress: bool,
        accept: bool,
        ip: &crate::wire::IpMeta,
    ) -> RecordKey {
        let ports = matches!(ip.proto, 6 | 17);
        let (index, nat) = match iface.into() {
            Interface::Eni(e) => (e.0, false),
            Interface::NatGateway(n) => (n.0, true),
        };
        RecordKey {
            index,
            nat,
            ingress,
            accept,
            proto: ip.proto,
            src: ip.src,
            dst: ip.dst,
            sport: if ports { ip.src_port } else { 0 },
            dport: if ports { ip.dst_port } else { 0 },
        }
    }

    /// The interface (an ENI, or a NAT gateway's).
    #[inline]
    pub fn iface(&self) -> Interface {
        if self.nat {
            Interface::NatGateway(NatIdx(self.index))
        } else {
            Interface::Eni(EniIdx(self.index))
        }
    }

    /// The same record with the packet's addresses (and ports) after `nat`.
    pub fn translated(mut self, nat: crate::vpc::verdict::Nat) -> RecordKey {
        let ports = matches!(self.proto, 6 | 17);
        let (src, dst) = nat.ends();
        if let Some((a, p)) = src {
            self.src = IpAddr::V4(a);
            if let (Some(p), true) = (p, ports) {
                self.sport = p;
            }
        }
        if let Some((a, p)) = dst {
            self.dst = IpAddr::V4(a);
            if let (Some(p), true) = (p, ports) {
                self.dport = p;
            }
        }
        self
    }
}

impl RecordKey {
    /// The key as three words, one to one: the interface, direction, action, protocol,
    /// the addresses' families and the ports, then each address as 128 bits.
    #[inline]
    fn words(&self) -> (u128, u128, u128) {
        let addr = |a: IpAddr| match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 0),
            IpAddr::V6(v) => (u128::from(v), 1),
        };
        let ((s, s6), (d, d6)) = (addr(self.src), addr(self.dst));
        (
            u128::from(self.index)
                | u128::from(self.ingress) << 32
                | u128::from(self.accept) << 33
                | u128::from(self.nat) << 34
                | s6 << 35
                | d6 << 36
                | u128::from(self.proto) << 40
                | u128::from(self.sport) << 48
                | u128::from(self.dport) << 64,
            s,
            d,
        )
    }
}

/// Compared as words (the derived field-by-field comparison kept the record-table
/// lookup from inlining on the fast path).
impl PartialEq for RecordKey {
    #[inline]
    fn eq(&self, other: &RecordKey) -> bool {
        self.words() == other.words()
    }
}

impl Eq for RecordKey {}

impl std::hash::Hash for RecordKey {
    /// Five machine words (the derived hash feeds each field separately, which showed
    /// in profiles of the flow-cache key).
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let (head, s, d) = self.words();
        h.write_u64(head as u64);
        h.write_u64(s as u64 ^ ((head >> 64) as u64) << 48);
        h.write_u64(d as u64);
        h.write_u64((s >> 64) as u64);
        h.write_u64((d >> 64) as u64);
    }
}

/// The counts of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordVal {
    packets: u64,
    bytes: u64,
    flags: u8,
    first_ms: u64,
    last_ms: u64,
    path: Option<Path>,
}

/// A flow log: its settings, output, current interval and records.
#[derive(Debug)]
struct Sink {
    cfg: FlowLogConfig,
    /// The log file, owned by the writer thread (`None`: it could not be opened).
    out: Option<FileId>,
    /// The current interval's start (engine ms).
    window: u64,
    /// Records written so far.
    written: u64,
    /// The current interval's records.
    records: HashMap<RecordKey, RecordVal, RandomState>,
    /// Packets not counted because the record table was full (`SKIPDATA`).
    skipped: u64,
}

/// Every flow log of a data plane and the records of their current intervals.
#[derive(Debug, Default)]
pub struct FlowLogs {
    /// The flow logs covering each interface, by slot (see [`Slots`]).
    logged: Vec<Vec<u16>>,
    sinks: Vec<Sink>,
    /// Per interface, by slot, what its records say about it.
    ifaces: Vec<IfaceInfo>,
    /// How interfaces are numbered here.
    slots: Slots,
    /// The thread that writes the files.
    writer: Writer,
}

impl Drop for FlowLogs {
    /// Closes the files (after the records queued before).
    fn drop(&mut self) {
        for s in &self.sinks {
            if let Some(id) = s.out {
                self.writer.close(id);
            }
        }
    }
}

/// The numbering of interfaces in [`FlowLogs`]: ENIs first (ENI `i` is slot `i`), then
/// the NAT gateways' interfaces.
#[derive(Debug, Clone, Copy, Default)]
struct Slots {
    enis: usize,
    nats: usize,
}

impl Slots {
    /// The slot of `i` (`usize::MAX`, which no table holds, when its index is out of
    /// range).
    #[inline]
    fn of(self, i: Interface) -> usize {
        match i {
            Interface::Eni(e) if e.idx() < self.enis => e.idx(),
            Interface::NatGateway(n) if n.idx() < self.nats => self.enis + n.idx(),
            _ => usize::MAX,
        }
    }

    /// How many slots there are.
    fn len(self) -> usize {
        self.enis + self.nats
    }
}

/// What records say about an interface.
#[derive(Debug, Clone)]
struct IfaceInfo {
    id: String,
    primary: Option<Ipv4Addr>,
    vpc: String,
    subnet: String,
    /// The VPC's DNS resolver (its base address + 2), whose traffic is not logged.
    resolver: Option<Ipv4Addr>,
}

/// Most records held at once (bounded memory); beyond, packets are counted as skipped
/// and the interval's records say `SKIPDATA`.
const MAX_RECORDS: usize = 1 << 20;

/// The TCP flags flow logs keep, as AWS documents them: FIN 1, SYN 2, RST 4, and ACK
/// only with SYN (SYN-ACK 18); a packet with only ACK counts as 0.
fn logged_flags(flags: u8) -> u8 {
    let mut f = flags & 0x07;
    if flags & 0x02 != 0 && flags & 0x10 != 0 {
        f |= 0x10;
    }
    f
}

impl FlowLogs {
    /// Flow logs for `config`, opening (appending to) their files, which `writer`'s
    /// thread then writes. A file that cannot be opened is reported in the returned
    /// warnings and its log writes nothing.
    pub fn new(config: &DataplaneConfig, now: u64, writer: &Writer) -> (FlowLogs, Vec<String>) {
        let mut warnings = Vec::new();
        let slots = Slots {
            enis: config.enis.len(),
            nats: config.nat_gateways.len(),
        };
        let mut logged = vec![Vec::new(); slots.len()];
        let sinks = config
            .flow_logs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                for &e in &f.interfaces {
                    if let Some(l) = logged.get_mut(slots.of(e)) {
                        l.push(i as u16);
                    }
                }
                let out = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&f.path)
                    .map_err(|e| e.to_string())
                    .and_then(|file| {
                        writer
                            .open(file, Kind::FlowLog, &f.id, &f.path, None)
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|e| {
                        tracing::warn!(flow_log = %f.id, path = %f.path, error = %e, "cannot open the flow log file");
                        warnings.push(format!("{}: cannot open {}: {e}", f.id, f.path));
                    })
                    .ok();
                Sink {
                    cfg: f.clone(),
                    out,
                    window: now,
                    written: 0,
                    records: HashMap::default(),
                    skipped: 0,
                }
            })
            .collect();
        let info = |id: &str, primary: Option<Ipv4Addr>, subnet: crate::vpc::config::SubnetIdx| {
            let subnet = config.subnets.get(subnet.idx());
            let vpc = subnet.and_then(|s| config.vpcs.get(s.vpc.idx()));
            let resolver = vpc.and_then(|v| {
                v.cidrs.iter().find_map(|c| match c {
                    ipnet::IpNet::V4(n) => {
                        Some(Ipv4Addr::from(u32::from(n.network()).wrapping_add(2)))
                    }
                    ipnet::IpNet::V6(_) => None,
                })
            });
            IfaceInfo {
                id: if id.is_empty() { "-" } else { id }.to_string(),
                primary,
                vpc: vpc.map_or_else(|| "-".to_string(), |v| v.id.clone()),
                subnet: subnet.map_or_else(|| "-".to_string(), |s| s.id.clone()),
                resolver,
            }
        };
        let ifaces = config
            .enis
            .iter()
            .map(|e| info(&e.id, e.ipv4.first().copied(), e.subnet))
            .chain(
                config
                    .nat_gateways
                    .iter()
                    .map(|n| info(&n.interface_id, n.addrs.first().copied(), n.subnet)),
            )
            .collect();
        (
            FlowLogs {
                logged,
                sinks,
                ifaces,
                slots,
                writer: writer.clone(),
            },
            warnings,
        )
    }

    /// Whether any flow log is configured (the fast path checks this first).
    #[inline]
    pub fn active(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// Whether interface `i` (an ENI, or a NAT gateway's) is covered.
    #[inline]
    pub fn covers(&self, i: impl Into<Interface>) -> bool {
        self.logged
            .get(self.slots.of(i.into()))
            .is_some_and(|l| !l.is_empty())
    }

    /// Traffic that flow logs never record (DHCP, the VPC resolver, metadata); `slot` is
    /// the record's interface's.
    #[inline]
    fn excluded(&self, k: &RecordKey, slot: usize) -> bool {
        let meta = |a: IpAddr| {
            matches!(a, IpAddr::V4(v) if v == Ipv4Addr::new(169, 254, 169, 254)
                || v == Ipv4Addr::new(169, 254, 169, 123))
        };
        let dhcp = k.proto == 17 && matches!(k.dport, 67 | 68);
        let resolver = self
            .ifaces
            .get(slot)
            .and_then(|e| e.resolver)
            .is_some_and(|r| {
                (k.dst == IpAddr::V4(r) && k.dport == 53)
                    || (k.src == IpAddr::V4(r) && k.sport == 53)
            });
        dhcp || resolver || meta(k.src) || meta(k.dst)
    }

    /// Counts `packets` packets (more than one for an offloaded super-frame: its
    /// segments) of `bytes` (IP length) with TCP `flags` in the record `k`; `path` is
    /// where an egress packet went.
    #[inline]
    pub fn count(
        &mut self,
        k: RecordKey,
        packets: u64,
        bytes: u64,
        flags: u8,
        path: Option<Path>,
        now: u64,
    ) {
        let slot = self.slots.of(k.iface());
        let Some(logs) = self.logged.get(slot).filter(|l| !l.is_empty()) else {
            return;
        };
        if self.excluded(&k, slot) {
            return;
        }
        let flags = logged_flags(flags);
        for &i in logs {
            let Some(sink) = self.sinks.get_mut(usize::from(i)) else {
                continue;
            };
            let full = sink.records.len() >= MAX_RECORDS;
            match sink.records.get_mut(&k) {
                Some(v) => {
                    v.packets += packets;
                    v.bytes += bytes;
                    v.flags |= flags;
                    v.last_ms = now;
                }
                None if full => sink.skipped += 1,
                None => {
                    sink.records.insert(
                        k,
                        RecordVal {
                            packets,
                            bytes,
                            flags,
                            first_ms: now,
                            last_ms: now,
                            path,
                        },
                    );
                }
            }
        }
    }

    /// Closes every interval that ended by `now`: queues its records (and `NODATA` for
    /// covered ENIs without any) for the log files, never waiting (records that do not
    /// fit in the writer's queue are dropped and counted). `wall_ms` maps engine time to
    /// Unix time (ms). Returns the records queued.
    pub fn flush(&mut self, now: u64, wall_ms: u64) -> usize {
        self.close_intervals(now, wall_ms, Delivery::DropIfFull)
    }

    fn close_intervals(&mut self, now: u64, wall_ms: u64, how: Delivery) -> usize {
        let secs = |ms: u64| (wall_ms + ms) / 1000;
        let mut written = 0;
        for sink in &mut self.sinks {
            if now < sink.window + sink.cfg.interval_ms.max(1) {
                continue;
            }
            let window = std::mem::replace(&mut sink.window, now);
            let skipdata = std::mem::take(&mut sink.skipped) > 0;
            let mut lines = Vec::new();
            let mut seen = vec![false; self.ifaces.len()];
            for (k, v) in sink.records.drain() {
                if let Some(s) = seen.get_mut(self.slots.of(k.iface())) {
                    *s = true;
                }
                let keep = match sink.cfg.traffic {
                    FlowLogTraffic::All => true,
                    FlowLogTraffic::Accept => k.accept,
                    FlowLogTraffic::Reject => !k.accept,
                };
                if keep {
                    let (first, last) = (secs(v.first_ms), secs(v.last_ms));
                    lines.push(line(
                        &sink.cfg.fields,
                        self.ifaces.get(self.slots.of(k.iface())),
                        Some((&k, &v)),
                        first,
                        last,
                        skipdata,
                    ));
                }
            }
            for &e in &sink.cfg.interfaces {
                let slot = self.slots.of(e);
                if !seen.get(slot).copied().unwrap_or(true) {
                    lines.push(line(
                        &sink.cfg.fields,
                        self.ifaces.get(slot),
                        None,
                        secs(window),
                        secs(now),
                        false,
                    ));
                }
            }
            lines.sort();
            let n = lines.len();
            let queued = match sink.out {
                Some(id) if n > 0 => {
                    let mut text = lines.join("\n");
                    text.push('\n');
                    self.writer.flow_log_lines(id, text, n as u64, how)
                }
                _ => true,
            };
            if queued {
                sink.written += n as u64;
                written += n;
            }
        }
        written
    }

    /// Closes every running interval now (before a new configuration replaces these
    /// flow logs, or the data plane stops); these records wait for room in the writer's
    /// queue rather than be dropped.
    pub fn flush_all(&mut self, now: u64, wall_ms: u64) -> usize {
        for s in &mut self.sinks {
            s.window = now.saturating_sub(s.cfg.interval_ms.max(1));
        }
        self.close_intervals(now, wall_ms, Delivery::Wait)
    }

    /// Records queued for writing per flow log so far, by position in the configuration.
    pub fn written(&self) -> Vec<u64> {
        self.sinks.iter().map(|s| s.written).collect()
    }
}

/// Whether a drop reason makes a `REJECT` record (refused by a security group or a
/// network ACL, or a packet after its connection closed).
pub fn rejects(r: DropReason) -> bool {
    matches!(
        r,
        DropReason::NaclDeny
            | DropReason::SgNoMatch
            | DropReason::InvalidTcpState
            | DropReason::ConntrackFull
    )
}

/// One record line of the interface `info` says about (`None`: a `NODATA` record over
/// `start..end`).
fn line(
    fields: &[String],
    info: Option<&IfaceInfo>,
    rec: Option<(&RecordKey, &RecordVal)>,
    start: u64,
    end: u64,
    skipdata: bool,
) -> String {
    let (id, primary, vpc, subnet) = info.map_or(("-", None, "-", "-"), |e| {
        (e.id.as_str(), e.primary, e.vpc.as_str(), e.subnet.as_str())
    });
    let primary = primary.map_or_else(|| "-".to_string(), |a| a.to_string());
    let version = format_version(fields);
    let dash = || "-".to_string();
    fields
        .iter()
        .map(|f| match (f.as_str(), rec) {
            ("version", _) => version.to_string(),
            ("account-id", _) => ACCOUNT_ID.into(),
            ("interface-id", _) => id.into(),
            ("vpc-id", _) => vpc.into(),
            ("subnet-id", _) => subnet.into(),
            ("instance-id", _) => dash(),
            ("start", _) => start.to_string(),
            ("end", _) => end.to_string(),
            ("log-status", None) => "NODATA".into(),
            ("log-status", Some(_)) => if skipdata { "SKIPDATA" } else { "OK" }.into(),
            ("region", _) => "lab".into(),
            (_, None) => dash(),
            (f, Some((k, v))) => match f {
                // The ENI's side always shows its primary private IPv4.
                "srcaddr" if !k.ingress => primary.clone(),
                "srcaddr" => k.src.to_string(),
                "dstaddr" if k.ingress => primary.clone(),
                "dstaddr" => k.dst.to_string(),
                "pkt-srcaddr" => k.src.to_string(),
                "pkt-dstaddr" => k.dst.to_string(),
                "srcport" => k.sport.to_string(),
                "dstport" => k.dport.to_string(),
                "protocol" => k.proto.to_string(),
                "packets" => v.packets.to_string(),
                "bytes" => v.bytes.to_string(),
                "action" => if k.accept { "ACCEPT" } else { "REJECT" }.into(),
                "tcp-flags" => v.flags.to_string(),
                "type" => match k.src {
                    IpAddr::V4(_) => "IPv4",
                    IpAddr::V6(_) => "IPv6",
                }
                .into(),
                "flow-direction" => if k.ingress { "ingress" } else { "egress" }.into(),
                "traffic-path" => match (k.ingress, v.path) {
                    (false, Some(p)) => p.code().to_string(),
                    _ => dash(),
                },
                _ => dash(),
            },
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[path = "flowlog_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "flowlog_nat_tests.rs"]
mod nat_tests;
