//! Shared pieces of the fuzz targets: the seeded topologies and frame builders (also used
//! by `examples/gen_corpus.rs`, which writes the seed corpus).

use std::net::Ipv4Addr;

use dataplane::fixtures::{self, eni_mac, router_mac, A};
use dataplane::vpc::config::{
    DataplaneConfig, DhcpConfig, DnsRecordConfig, DnsRecordKind, HostedZoneConfig, VpcIdx,
};
use dataplane::wire::vnet::VNET_HDR_LEN;
use dataplane::wire::MacAddr;
use etherparse::PacketBuilder;

/// ENI A's address in the fixtures.
pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
/// Subnet A's router.
pub const ROUTER_A: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// The VPC resolver (VPC base + 2).
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The instance metadata service.
pub const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// The router services switched on in a fixture: DHCP options, a private hosted zone.
fn with_services(mut c: DataplaneConfig) -> DataplaneConfig {
    c.vpcs[0].dhcp = DhcpConfig {
        dns_servers: vec![RESOLVER],
        domain_name: Some("ec2.internal".into()),
        ntp_servers: vec![Ipv4Addr::new(169, 254, 169, 123)],
        lease_secs: 600,
    };
    c.dns.zones = vec![HostedZoneConfig {
        id: "Zcorp".into(),
        name: "corp.internal".into(),
        vpcs: vec![VpcIdx(0)],
        records: vec![
            DnsRecordConfig {
                name: "db.corp.internal".into(),
                kind: DnsRecordKind::A,
                values: vec!["10.0.3.10".into()],
                ttl: 300,
            },
            DnsRecordConfig {
                name: "www.corp.internal".into(),
                kind: DnsRecordKind::Cname,
                values: vec!["db.corp.internal".into()],
                ttl: 300,
            },
        ],
    }];
    c
}

/// Fixture `which` (0: subnet A behind a NAT gateway with an internet gateway uplink;
/// otherwise: two subnets and a middlebox), with DHCP options and a hosted zone.
pub fn config(which: u8) -> DataplaneConfig {
    with_services(match which {
        0 => fixtures::behind_nat_gateway((1024, 65535)),
        _ => fixtures::two_subnets_and_middlebox(),
    })
}

/// An Ethernet/IPv4/UDP frame from ENI A to `dst`, via subnet A's router.
pub fn udp_from_a(dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp(
        eni_mac(A),
        router_mac(0),
        ADDR_A,
        dst,
        sport,
        dport,
        payload,
    )
}

/// An Ethernet/IPv4/UDP frame.
pub fn udp(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut out, payload);
    out
}

/// TCP flags of [`tcp_from_a`]: bits 0..=4 are FIN, SYN, RST, PSH, ACK.
pub fn tcp_from_a(
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(ADDR_A.octets(), dst.octets(), 64)
        .tcp(sport, dport, seq, 64240);
    if flags & 1 != 0 {
        b = b.fin();
    }
    if flags & 2 != 0 {
        b = b.syn();
    }
    if flags & 4 != 0 {
        b = b.rst();
    }
    if flags & 8 != 0 {
        b = b.psh();
    }
    if flags & 16 != 0 {
        b = b.ack(ack);
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut out, payload);
    out
}

/// `frame` after a zeroed `virtio_net_hdr`.
pub fn with_vnet(frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    v.extend_from_slice(frame);
    v
}

/// One record of the `pipeline` target's input: `op`, the length (u16, little-endian),
/// then the bytes. `op` bits 0..=2: the port (modulo the port count + 1, so one index is
/// out of range); bit 3: the bytes start with their own `virtio_net_hdr` (otherwise a
/// zeroed one is put in front); bit 7: advance the clock by `8^(op>>4 & 7)` ms and
/// expire before this frame.
pub fn pipeline_record(op: u8, bytes: &[u8]) -> Vec<u8> {
    let len = bytes.len().min(usize::from(u16::MAX)) as u16;
    let mut v = vec![op];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&bytes[..usize::from(len)]);
    v
}

/// The `vhost_user` target's input layout: a header of [`VU_HEADER`] bytes, then the
/// guest-memory image written at guest address 0 (the transmit queue's descriptor table,
/// avail and used rings at [`VU_TX_DESC`], [`VU_TX_AVAIL`], [`VU_TX_USED`], the receive
/// queue's at [`VU_RX_DESC`], …; buffers anywhere). Header: `[0]` mode (`& 3 == 3`: the
/// rest goes to a real back end's socket as vhost-user messages; otherwise the rings),
/// `[1]` queue size `1 << ([1] % 11)`, `[2]` flags ([`VU_F_HDR12`], [`VU_F_MRG`],
/// [`VU_F_EVENT_IDX`]), `[3..5]` and `[5..7]` the transmit and receive queues' next avail
/// index (little-endian), `[7..16]` the lengths of the frames pushed to the guest (one
/// byte each, times 97).
pub const VU_HEADER: usize = 16;
/// Guest memory: two regions with a hole between them (`[0, 32 KiB)`, `[36 KiB, 68 KiB)`).
pub const VU_REGIONS: [(u64, usize); 2] = [(0, 0x8000), (0x9000, 0x8000)];
/// The transmit queue's descriptor table. The tables and rings are packed for queues of
/// up to 64 entries, so small inputs reach them; larger queues overlap one another (a
/// guest's right too).
pub const VU_TX_DESC: u64 = 0x0;
/// The receive queue's descriptor table.
pub const VU_RX_DESC: u64 = 0x400;
/// The transmit queue's avail ring.
pub const VU_TX_AVAIL: u64 = 0x800;
/// The receive queue's avail ring.
pub const VU_RX_AVAIL: u64 = 0xc00;
/// The transmit queue's used ring.
pub const VU_TX_USED: u64 = 0x1000;
/// The receive queue's used ring.
pub const VU_RX_USED: u64 = 0x1800;
/// Where the seeds put frame buffers.
pub const VU_BUFS: u64 = 0x2000;
/// Header flag: the 12-byte guest header (`VERSION_1`/`MRG_RXBUF`), else 10 bytes.
pub const VU_F_HDR12: u8 = 1;
/// Header flag: merged receive buffers.
pub const VU_F_MRG: u8 = 2;
/// Header flag: `VIRTIO_RING_F_EVENT_IDX`.
pub const VU_F_EVENT_IDX: u8 = 4;
