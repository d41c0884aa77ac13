//! Flow-log hooks: what the forwarding path reports to [`crate::observe::flowlog`].

use super::*;
use crate::vpc::config::Interface;
use crate::vpc::verdict::{Charge, NatHop, OutPort};

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

    /// Counts a forwarded packet in the flow logs: egress on the sending ENI, both ways
    /// on the interface of the NAT gateway it went through (`via`: as it arrived there
    /// and as it left), ingress on the receiving ENI (with the addresses it is delivered
    /// with).
    pub(super) fn log_forward(
        &mut self,
        in_port: PortIdx,
        ip: &crate::wire::IpMeta,
        d: &Delivery,
        via: Option<NatHop>,
        bytes: u64,
        packets: u64,
    ) {
        let now = self.clock.now();
        let from = self.tables.eni_of_port(in_port);
        if let Some(from) = from.filter(|&e| self.flowlogs.covers(e)) {
            let path = match (d.to, via) {
                // Through a NAT gateway the next hop (the gateway) is in the VPC.
                (_, Some(_)) => FlowPath::SameVpc,
                (OutPort::Eni(to), None) => self.path_between(from.into(), to.into()),
                (OutPort::Uplink(_), None) => FlowPath::InternetGateway,
            };
            let k = RecordKey::of(from, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if let Some(h) = via.filter(|h| self.flowlogs.covers(h.nat)) {
            let k = RecordKey::of(h.nat, true, true, ip).translated(h.before);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
            let path = match d.to {
                OutPort::Eni(to) => self.path_between(h.nat.into(), to.into()),
                OutPort::Uplink(_) => FlowPath::InternetGateway,
            };
            let k = RecordKey::of(h.nat, false, true, ip).translated(h.after());
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

    /// `traffic-path` of a packet from interface `from` to interface `to`.
    pub(super) fn path_between(&self, from: Interface, to: Interface) -> FlowPath {
        let t = &self.tables;
        let vpc = |i: Interface| match i {
            Interface::Eni(e) => t.enis.get(e.idx()).map(|e| e.vpc),
            Interface::NatGateway(n) => t.nats.get(n.idx()).map(|n| n.vpc),
        };
        if vpc(from) == vpc(to) {
            FlowPath::SameVpc
        } else {
            FlowPath::Peering
        }
    }

    /// Counts a refused packet (by a security group or network ACL) in the flow logs of
    /// the interface it is charged to (`owner`); the interfaces it passed before were
    /// refused there accepted it: the sender's egress, and the interface of the NAT
    /// gateway it went through (`via`). `bytes` is its IP length.
    pub(super) fn log_reject(
        &mut self,
        in_port: PortIdx,
        (owner, via): (Option<Charge>, Option<NatHop>),
        reason: DropReason,
        ip: &crate::wire::IpMeta,
        bytes: u64,
        packets: u64,
    ) {
        let Some(who) = owner else { return };
        if !crate::observe::flowlog::rejects(reason) {
            return;
        }
        let now = self.clock.now();
        let from = self.tables.eni_of_port(in_port);
        let sent = |f: &EniIdx| who.iface != Interface::Eni(*f);
        if let Some(from) = from.filter(|f| sent(f) && self.flowlogs.covers(*f)) {
            // Refused further on: it did leave the sender.
            let next = via.map_or(who.iface, |h| h.nat.into());
            let path = self.path_between(from.into(), next);
            let k = RecordKey::of(from, false, true, ip);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
        }
        if let Some(h) = via.filter(|h| self.flowlogs.covers(h.nat)) {
            // It went through a NAT gateway first: in, and out unless refused there.
            let nat = Interface::NatGateway(h.nat);
            let k = RecordKey::of(nat, true, true, ip).translated(h.before);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
            if who.iface != nat {
                let path = self.path_between(nat, who.iface);
                let k = RecordKey::of(nat, false, true, ip).translated(h.after());
                self.flowlogs
                    .count(k, packets, bytes, ip.tcp_flags, Some(path), now);
            }
        }
        if self.flowlogs.covers(who.iface) {
            let k = RecordKey::of(who.iface, who.ingress, false, ip).translated(who.seen);
            self.flowlogs
                .count(k, packets, bytes, ip.tcp_flags, None, now);
        }
    }
}
