//! Flow-log hooks: what the forwarding path reports to [`crate::observe::flowlog`].

use super::*;
use crate::vpc::verdict::OutPort;

impl<P: Port> Dataplane<P> {
    /// Writes the flow logs' running intervals now (before the data plane stops), and
    /// waits until the writer thread has written them.
    pub fn close_flow_logs(&mut self) {
        self.update_clock();
        let now = self.clock.now();
        self.flowlogs.flush_all(now, self.wall_base_ms);
        self.writer.sync();
    }

    /// Waits until the writer thread has written every flow-log and capture record
    /// handed to it so far (after [`Dataplane::expire`], say).
    pub fn sync_writes(&self) {
        self.writer.sync();
    }

    /// Counts a forwarded packet in the flow logs: egress on the sending ENI, ingress on
    /// the receiving one (with the addresses it is delivered with).
    pub(super) fn log_forward(
        &mut self,
        in_port: PortIdx,
        ip: &crate::wire::IpMeta,
        d: &Delivery,
        bytes: u64,
        packets: u64,
    ) {
        let now = self.clock.now();
        let from = self.tables.eni_of_port(in_port);
        if let Some(from) = from.filter(|&e| self.flowlogs.covers(e)) {
            let path = match (d.to, d.nat) {
                (OutPort::Eni(to), _) => self.path_between(from, to),
                // Through a NAT gateway (port translated) the next hop is in the VPC.
                (OutPort::Uplink(_), Nat::Src(_, Some(_))) => FlowPath::SameVpc,
                (OutPort::Uplink(_), _) => FlowPath::InternetGateway,
            };
            let k = RecordKey::of(from, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if let Some(to) = d.to.eni().filter(|&e| self.flowlogs.covers(e)) {
            // The receiver sees the packet as delivered (after any translation).
            let k = RecordKey::of(to, true, true, ip).translated(d.nat);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
        }
    }

    /// `traffic-path` of a packet from ENI `from` to ENI `to`.
    pub(super) fn path_between(&self, from: EniIdx, to: EniIdx) -> FlowPath {
        let vpc = |e: EniIdx| self.tables.enis.get(e.idx()).map(|e| e.vpc);
        if vpc(from) == vpc(to) {
            FlowPath::SameVpc
        } else {
            FlowPath::Peering
        }
    }

    /// Counts a refused packet (by a security group or network ACL) in the flow logs of
    /// the ENI it is charged to; `bytes` is its IP length.
    pub(super) fn log_reject(
        &mut self,
        in_port: PortIdx,
        owner: Option<(EniIdx, bool)>,
        reason: DropReason,
        ip: &crate::wire::IpMeta,
        bytes: u64,
        packets: u64,
    ) {
        let Some((eni, ingress)) = owner else { return };
        if !crate::observe::flowlog::rejects(reason) {
            return;
        }
        let now = self.clock.now();
        let from = self.tables.eni_of_port(in_port);
        if let Some(from) = from.filter(|&f| ingress && f != eni && self.flowlogs.covers(f)) {
            // Refused at the receiver: it did leave the sender.
            let path = self.path_between(from, eni);
            let k = RecordKey::of(from, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if self.flowlogs.covers(eni) {
            let k = RecordKey::of(eni, ingress, false, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
        }
    }
}
