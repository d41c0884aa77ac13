//! Packet captures and traffic mirroring on in-memory frames: pcap files that parse,
//! filters and snap lengths, captures kept or reopened across applies; mirror filters
//! (first rule by number, reject rules, no rules), exact VXLAN copies with truncation
//! (packet length, target MTU, GSO super-frames), the lowest session number, what is
//! never mirrored (ARP, the router's answers, packets refused by a security group,
//! outbound without outbound rules), and no loops when a target is also a source.

use std::path::PathBuf;

use etherparse::PacketBuilder;

use crate::datapath::{Dataplane, EniPlan, PortChange};
use crate::engine::port::{MemPort, PortIdx};
use crate::fixtures::{self, eni_mac, router_mac, A, A2, B, FW};
use crate::observe::capture::tests::read_pcap;
use crate::observe::capture::LINKTYPE_ETHERNET;
use crate::observe::mirror::{ENCAP_LEN, VXLAN_PORT};
use crate::vpc::config::{
    CaptureConfig, CaptureFilter, DataplaneConfig, EniIdx, MirrorRule, MirrorSessionConfig,
    PortRange, Protocol, SecurityGroupConfig, SgIdx, SgPeer, SgRule, TrafficMatch, VpcIdx,
};
use crate::vpc::verdict::DropReason;
use crate::wire::checksum::{checksum, fold, sum};
use crate::wire::vnet::{VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, VNET_HDR_LEN};
use crate::wire::MacAddr;

const A_IP: [u8; 4] = [10, 0, 1, 10];
const A2_IP: [u8; 4] = [10, 0, 1, 11];
const FW_IP: [u8; 4] = [10, 0, 3, 30];
const TCP: Protocol = Protocol::Number(6);
const UDP: Protocol = Protocol::Number(17);

/// A scratch directory for pcap files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("vpcd-taps-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn traffic(protocol: Protocol, ports: Option<(u16, u16)>) -> TrafficMatch {
    TrafficMatch {
        protocol,
        ports: ports.map(|(from, to)| PortRange { from, to }),
        icmp: None,
    }
}

fn allow(protocol: Protocol, ports: Option<(u16, u16)>) -> SgRule {
    SgRule {
        traffic: traffic(protocol, ports),
        peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
    }
}

/// The fixture VPC with security groups: A2 (the usual mirror source) admits TCP 80 and
/// 443 and ICMP only; everyone else admits everything; all send anything.
fn vpc() -> DataplaneConfig {
    let mut c = fixtures::two_subnets_and_middlebox();
    c.security_groups = vec![
        SecurityGroupConfig {
            id: "sg-open".into(),
            vpc: VpcIdx(0),
            inbound: vec![allow(Protocol::All, None)],
            outbound: vec![allow(Protocol::All, None)],
        },
        SecurityGroupConfig {
            id: "sg-web".into(),
            vpc: VpcIdx(0),
            inbound: vec![
                allow(TCP, Some((80, 80))),
                allow(TCP, Some((443, 443))),
                allow(Protocol::Number(1), None),
            ],
            outbound: vec![allow(Protocol::All, None)],
        },
    ];
    for (i, e) in c.enis.iter_mut().enumerate() {
        e.security_groups = Some(vec![SgIdx(u32::from(EniIdx(i as u32) == A2))]);
    }
    c
}

fn rule(n: u16, accept: bool, protocol: Protocol, dports: Option<(u16, u16)>) -> MirrorRule {
    MirrorRule {
        rule_number: n,
        accept,
        protocol,
        source: "0.0.0.0/0".parse().unwrap(),
        destination: "0.0.0.0/0".parse().unwrap(),
        source_ports: None,
        destination_ports: dports.map(|(from, to)| PortRange { from, to }),
    }
}

fn session(
    id: &str,
    source: EniIdx,
    target: EniIdx,
    number: u16,
    inbound: Vec<MirrorRule>,
    outbound: Vec<MirrorRule>,
) -> MirrorSessionConfig {
    MirrorSessionConfig {
        id: id.into(),
        source,
        target,
        session_number: number,
        vni: u32::from(number) * 1000 + 42,
        packet_length: None,
        inbound,
        outbound,
    }
}

/// Scenario 44's session: A2 → FW, VNI 42, packet length 100, inbound `10 accept tcp dst
/// 443 0/0`, no outbound rules.
fn scenario_44() -> MirrorSessionConfig {
    MirrorSessionConfig {
        vni: 42,
        packet_length: Some(100),
        ..session(
            "tms-44",
            A2,
            FW,
            1,
            vec![rule(10, true, TCP, Some((443, 443)))],
            vec![],
        )
    }
}

fn dp_with(c: DataplaneConfig) -> Dataplane<MemPort> {
    let mut dp = fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1);
    dp
}

/// Re-installs `config` keeping every ENI (same indices).
fn reapply(dp: &mut Dataplane<MemPort>, config: DataplaneConfig) {
    let plan = (0..config.enis.len() as u32)
        .map(|i| EniPlan {
            previous: Some(PortIdx(i)),
            port: PortChange::Keep,
        })
        .collect();
    dp.install(config, plan).map_err(|e| e.error).unwrap();
}

fn send(dp: &mut Dataplane<MemPort>, from: EniIdx, mut frame: Vec<u8>) {
    dp.process(from, &mut frame);
}

fn take(dp: &mut Dataplane<MemPort>, eni: EniIdx) -> Vec<Vec<u8>> {
    std::mem::take(&mut dp.port_mut(eni).unwrap().tx)
}

/// A TCP frame from `src` to its neighbour `dst` in subnet A (layer 2), with a zero
/// `virtio_net_hdr`.
#[allow(clippy::too_many_arguments)]
fn tcp(
    src: (EniIdx, [u8; 4]),
    dst: (MacAddr, [u8; 4]),
    sport: u16,
    dport: u16,
    syn: bool,
    payload: usize,
) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    let b = PacketBuilder::ethernet2(eni_mac(src.0).0, dst.0 .0)
        .ipv4(src.1, dst.1, 64)
        .tcp(sport, dport, 1, 64000);
    let b = if syn { b.syn() } else { b.ack(1) };
    b.write(&mut v, &vec![0x61; payload]).unwrap();
    v
}

fn a_to_a2(dport: u16, payload: usize) -> Vec<u8> {
    tcp((A, A_IP), (eni_mac(A2), A2_IP), 40000, dport, true, payload)
}

fn udp(src: (EniIdx, [u8; 4]), dst: (MacAddr, [u8; 4]), dport: u16) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(src.0).0, dst.0 .0)
        .ipv4(src.1, dst.1, 64)
        .udp(40001, dport)
        .write(&mut v, b"query")
        .unwrap();
    v
}

fn ping(src: (EniIdx, [u8; 4]), dst: (MacAddr, [u8; 4])) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(src.0).0, dst.0 .0)
        .ipv4(src.1, dst.1, 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut v, b"ping")
        .unwrap();
    v
}

fn arp_request(from: EniIdx, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0u8; VNET_HDR_LEN];
    v.extend_from_slice(&[0xff; 6]);
    v.extend_from_slice(&eni_mac(from).0);
    v.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 1]);
    v.extend_from_slice(&eni_mac(from).0);
    v.extend_from_slice(&spa);
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&tpa);
    v
}

/// The inner frame of a VXLAN copy (asserting the outer headers' fixed fields) and its
/// VNI.
fn unwrap_vxlan(copy: &[u8]) -> (u32, &[u8]) {
    let f = &copy[VNET_HDR_LEN..];
    assert_eq!(&copy[..VNET_HDR_LEN], &[0; VNET_HDR_LEN]);
    assert_eq!(&f[12..14], &[0x08, 0x00]);
    assert_eq!(f[14], 0x45);
    assert_eq!(f[23], 17, "UDP");
    assert_eq!(checksum(&f[14..34]), 0, "outer IPv4 header checksum");
    assert_eq!(u16::from_be_bytes([f[36], f[37]]), VXLAN_PORT);
    assert_eq!(
        usize::from(u16::from_be_bytes([f[16], f[17]])),
        f.len() - 14
    );
    assert_eq!(
        usize::from(u16::from_be_bytes([f[38], f[39]])),
        f.len() - 34
    );
    assert_eq!(f[42], 0x08, "VXLAN flags");
    let vni = u32::from_be_bytes([0, f[46], f[47], f[48]]);
    (vni, &f[ENCAP_LEN..])
}

fn report(dp: &Dataplane<MemPort>, id: &str) -> crate::observe::mirror::MirrorSessionReport {
    dp.taps
        .mirrors
        .report()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

// --- captures ------------------------------------------------------------------------------

#[test]
fn captures_write_pcap_with_filter_and_snap_length() {
    let dir = Dir::new("filter");
    let mut c = vpc();
    c.captures = vec![
        CaptureConfig {
            id: "cap-a2".into(),
            eni: A2,
            path: dir.file("a2.pcap"),
            snaplen: 60,
            filter: Some(CaptureFilter {
                protocol: Some(6),
                host: None,
                port: Some(80),
            }),
        },
        CaptureConfig {
            id: "cap-a".into(),
            eni: A,
            path: dir.file("a.pcap"),
            snaplen: 262_144,
            filter: None,
        },
    ];
    let mut dp = dp_with(c);
    // Delivered to A2 (TCP 80): kept. UDP 53 (refused by A2's group): not, filter.
    let syn = a_to_a2(80, 100);
    send(&mut dp, A, syn.clone());
    send(&mut dp, A, udp((A, A_IP), (eni_mac(A2), A2_IP), 53));
    let delivered = take(&mut dp, A2);
    assert_eq!(delivered.len(), 1, "only the SYN reaches A2");
    // Sent by A2: its answer from port 80 (kept), a ping (not: filter), and a frame with a
    // spoofed source from port 80 (kept: captured as sent, though dropped).
    let answer = tcp((A2, A2_IP), (eni_mac(A), A_IP), 80, 40000, false, 100);
    send(&mut dp, A2, answer.clone());
    send(&mut dp, A2, ping((A2, A2_IP), (eni_mac(A), A_IP)));
    let spoofed = tcp(
        (A2, [10, 0, 1, 99]),
        (eni_mac(A), A_IP),
        80,
        40000,
        false,
        0,
    );
    send(&mut dp, A2, spoofed.clone());
    assert_eq!(
        dp.counters(A2).unwrap().drops[DropReason::SourceIpSpoofed.index()],
        1
    );
    // A asks for the router's MAC: the request and the router's reply, unfiltered.
    let arp = arp_request(A, A_IP, [10, 0, 1, 1]);
    send(&mut dp, A, arp.clone());
    let arp_reply = take(&mut dp, A).pop().unwrap();
    dp.expire();
    dp.sync_writes();

    let (snap, link, recs) = read_pcap(&std::fs::read(dir.file("a2.pcap")).unwrap());
    assert_eq!((snap, link), (60, LINKTYPE_ETHERNET));
    let want = [&delivered[0], &answer, &spoofed];
    assert_eq!(recs.len(), want.len(), "{recs:?}");
    for (r, w) in recs.iter().zip(want) {
        let frame = &w[VNET_HDR_LEN..];
        assert_eq!(r.orig_len as usize, frame.len());
        assert_eq!(r.data, frame[..frame.len().min(60)]);
    }
    assert_eq!(recs[0].data.len(), 60, "cut to the snap length");
    assert_eq!(
        recs[2].data.len(),
        54,
        "shorter than the snap length: whole"
    );
    assert!(recs.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));

    let (snap, _, recs) = read_pcap(&std::fs::read(dir.file("a.pcap")).unwrap());
    assert_eq!(snap, 262_144);
    let frames: Vec<&[u8]> = recs.iter().map(|r| r.data.as_slice()).collect();
    // A's own frames (SYN, UDP), what it received (A2's answer and ping), the ARP
    // exchange.
    assert_eq!(frames.len(), 6, "{frames:?}");
    assert_eq!(frames[0], &syn[VNET_HDR_LEN..]);
    assert_eq!(frames[4], &arp[VNET_HDR_LEN..]);
    assert_eq!(frames[5], &arp_reply[VNET_HDR_LEN..]);
    let rep = dp.taps.captures.report();
    assert_eq!(
        rep.iter()
            .map(|r| (r.id.as_str(), r.packets))
            .collect::<Vec<_>>(),
        [("cap-a2", 3), ("cap-a", 6)]
    );
    assert_eq!(rep[0].bytes, 60 + 60 + 54);
    assert!(rep.iter().all(|r| r.error.is_none()));
}

#[test]
fn captures_survive_applies_unless_their_file_or_snap_length_change() {
    let dir = Dir::new("reapply");
    let mut c = vpc();
    let cap = CaptureConfig {
        id: "cap-a".into(),
        eni: A,
        path: dir.file("a.pcap"),
        snaplen: 1000,
        filter: None,
    };
    c.captures = vec![cap.clone()];
    let mut dp = dp_with(c.clone());
    send(&mut dp, A, a_to_a2(80, 1));
    // Same settings, a new filter: the file goes on, with its counters.
    c.captures[0].filter = Some(CaptureFilter {
        protocol: Some(17),
        host: None,
        port: None,
    });
    reapply(&mut dp, c.clone());
    send(&mut dp, A, a_to_a2(80, 2)); // filtered out now
    send(&mut dp, A, udp((A, A_IP), (eni_mac(A2), A2_IP), 53));
    dp.expire();
    dp.sync_writes();
    let (_, _, recs) = read_pcap(&std::fs::read(dir.file("a.pcap")).unwrap());
    assert_eq!(recs.len(), 2);
    assert_eq!(dp.taps.captures.report()[0].packets, 2);
    // A new snap length: a new file.
    c.captures[0].snaplen = 40;
    reapply(&mut dp, c.clone());
    send(&mut dp, A, udp((A, A_IP), (eni_mac(A2), A2_IP), 53));
    // Removed: flushed and closed.
    c.captures.clear();
    reapply(&mut dp, c);
    let (snap, _, recs) = read_pcap(&std::fs::read(dir.file("a.pcap")).unwrap());
    assert_eq!((snap, recs.len()), (40, 1));
    assert_eq!(recs[0].data.len(), 40);
    assert!(dp.taps.captures.report().is_empty());
    assert!(!dp.taps.capturing && !dp.taps.active);
}

#[test]
fn bad_capture_and_session_references_are_refused() {
    let mut c = vpc();
    c.captures.push(CaptureConfig {
        id: "cap-x".into(),
        eni: EniIdx(42),
        path: "/tmp/x.pcap".into(),
        snaplen: 100,
        filter: None,
    });
    assert!(fixtures::mem_dataplane(c, 16, true).is_err());
    let mut c = vpc();
    c.mirror_sessions
        .push(session("tms-x", A2, EniIdx(99), 1, vec![], vec![]));
    assert!(fixtures::mem_dataplane(c, 16, true).is_err());
    let mut c = vpc();
    c.mirror_sessions
        .push(session("tms-x", A2, FW, 1, vec![], vec![]));
    c.mirror_sessions
        .push(session("tms-x", A, FW, 1, vec![], vec![]));
    assert!(fixtures::mem_dataplane(c, 16, true).is_err());
}

// --- mirroring -----------------------------------------------------------------------------

/// Scenario 44: the first 100 bytes of inbound 443 packets, nothing else.
#[test]
fn scenario_44_mirrors_inbound_443_truncated_to_the_packet_length() {
    let mut c = vpc();
    c.mirror_sessions = vec![scenario_44()];
    let mut dp = dp_with(c);
    send(&mut dp, A, a_to_a2(443, 300));
    let delivered = take(&mut dp, A2);
    assert_eq!(delivered.len(), 1);
    let copies = take(&mut dp, FW);
    assert_eq!(copies.len(), 1);
    let copy = &copies[0];
    let f = &copy[VNET_HDR_LEN..];
    assert_eq!(&f[0..6], &eni_mac(FW).0, "to the target ENI");
    assert_eq!(
        &f[6..12],
        &router_mac(2).0,
        "from the target subnet's router"
    );
    assert_eq!(&f[20..22], &[0, 0], "DF clear, not a fragment");
    assert_eq!(f[22], 64, "TTL");
    assert_eq!(&f[26..30], &A2_IP, "outer source: the source ENI");
    assert_eq!(&f[30..34], &FW_IP, "outer destination: the target ENI");
    let sport = u16::from_be_bytes([f[34], f[35]]);
    assert!(sport >= 49152);
    assert_eq!(&f[40..42], &[0, 0], "no UDP checksum");
    let (vni, inner) = unwrap_vxlan(copy);
    assert_eq!(vni, 42);
    assert_eq!(inner.len(), 100);
    assert_eq!(inner, &delivered[0][VNET_HDR_LEN..VNET_HDR_LEN + 100]);
    let fw = dp.counters(FW).unwrap();
    assert_eq!((fw.tx_packets, fw.tx_bytes), (1, (ENCAP_LEN + 100) as u64));

    // Other ports, A2's own traffic (no outbound rules), ARP, the router's answers, and
    // a packet A2's group refuses: never.
    send(&mut dp, A, a_to_a2(80, 300));
    send(
        &mut dp,
        A2,
        tcp((A2, A2_IP), (eni_mac(A), A_IP), 443, 40000, false, 300),
    );
    send(&mut dp, A2, arp_request(A2, A2_IP, [10, 0, 1, 1]));
    send(
        &mut dp,
        A2,
        ping((A2, A2_IP), (router_mac(0), [10, 0, 1, 1])),
    );
    send(&mut dp, A, a_to_a2(8443, 10));
    assert_eq!(
        dp.counters(A).unwrap().drops[DropReason::SgNoMatch.index()],
        1,
        "8443 refused by A2's group (charged to the sender)"
    );
    assert_eq!(take(&mut dp, A2).len(), 3, "port 80, ARP reply, echo reply");
    assert!(take(&mut dp, FW).is_empty());
    // The same flow again, from the flow cache: mirrored again.
    send(&mut dp, A, a_to_a2(443, 300));
    assert_eq!(take(&mut dp, FW).len(), 1);
    let r = report(&dp, "tms-44");
    assert_eq!((r.packets, r.truncated, r.dropped), (2, 2, 0));
    assert_eq!(r.bytes, 2 * (ENCAP_LEN + 100) as u64);
    assert_eq!((r.source.as_str(), r.target.as_str()), ("eni-1", "eni-3"));
}

#[test]
fn outbound_rules_mirror_what_the_source_sent_before_rewrites() {
    let mut c = vpc();
    c.mirror_sessions = vec![session(
        "tms-out",
        A,
        FW,
        1,
        vec![],
        vec![rule(100, true, Protocol::All, None)],
    )];
    let mut dp = dp_with(c);
    // Routed to B (another subnet): the copy holds A's frame as sent (to the router).
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(A_IP, [10, 0, 2, 20], 64)
        .udp(1234, 5678)
        .write(&mut f, b"hello")
        .unwrap();
    send(&mut dp, A, f.clone());
    let to_b = take(&mut dp, B);
    assert_eq!(to_b.len(), 1);
    assert_eq!(
        &to_b[0][VNET_HDR_LEN + 6..VNET_HDR_LEN + 12],
        &router_mac(1).0
    );
    let copies = take(&mut dp, FW);
    assert_eq!(copies.len(), 1);
    let (vni, inner) = unwrap_vxlan(&copies[0]);
    assert_eq!(vni, 1042);
    assert_eq!(inner, &f[VNET_HDR_LEN..], "untruncated, as sent");
    // Inbound to A: no inbound rules, nothing.
    send(
        &mut dp,
        A2,
        tcp((A2, A2_IP), (eni_mac(A), A_IP), 443, 40000, true, 5),
    );
    assert_eq!(take(&mut dp, A).len(), 1);
    assert!(take(&mut dp, FW).is_empty());
}

#[test]
fn filter_rules_decide_by_number_and_no_rules_mirror_nothing() {
    let mut c = vpc();
    // Given out of order: 20 accepts all TCP, 10 rejects TCP 80.
    c.mirror_sessions = vec![
        session(
            "tms-rules",
            A2,
            FW,
            1,
            vec![
                rule(20, true, TCP, None),
                rule(10, false, TCP, Some((80, 80))),
            ],
            vec![],
        ),
        // No rules at all: nothing, whatever its number.
        session("tms-empty", A, FW, 1, vec![], vec![]),
    ];
    let mut dp = dp_with(c);
    send(&mut dp, A, a_to_a2(80, 10));
    assert!(take(&mut dp, FW).is_empty(), "rule 10 rejects first");
    send(&mut dp, A, a_to_a2(443, 10));
    assert_eq!(take(&mut dp, FW).len(), 1, "rule 20 accepts");
    send(&mut dp, A, ping((A, A_IP), (eni_mac(A2), A2_IP)));
    assert!(take(&mut dp, FW).is_empty(), "no rule matches ICMP");
    // tms-empty's source A sent and received all of the above.
    send(
        &mut dp,
        A2,
        tcp((A2, A2_IP), (eni_mac(A), A_IP), 443, 40000, false, 10),
    );
    assert!(take(&mut dp, FW).is_empty());
    assert_eq!(report(&dp, "tms-empty").packets, 0);
    assert!(!dp
        .taps
        .mirrors
        .mirrors(A, crate::observe::mirror::Direction::Inbound));
}

#[test]
fn the_lowest_session_number_whose_filter_accepts_mirrors_alone() {
    let mut c = vpc();
    c.mirror_sessions = vec![
        session(
            "tms-2",
            A2,
            FW,
            2,
            vec![rule(1, true, Protocol::All, None)],
            vec![],
        ),
        session("tms-1", A2, B, 1, vec![rule(1, true, UDP, None)], vec![]),
    ];
    // A2 admits UDP for this test.
    c.security_groups[1].inbound.push(allow(UDP, None));
    let mut dp = dp_with(c);
    send(&mut dp, A, udp((A, A_IP), (eni_mac(A2), A2_IP), 53));
    assert_eq!(take(&mut dp, B).len(), 1, "session 1 takes UDP");
    assert!(take(&mut dp, FW).is_empty(), "mirrored once");
    send(&mut dp, A, a_to_a2(443, 10));
    assert!(take(&mut dp, B).is_empty(), "session 1 does not take TCP");
    let copies = take(&mut dp, FW);
    assert_eq!(copies.len(), 1, "session 2 does");
    assert_eq!(unwrap_vxlan(&copies[0]).0, 2042);
}

#[test]
fn a_target_that_is_also_a_source_never_loops() {
    let dir = Dir::new("loop");
    let all = || vec![rule(1, true, Protocol::All, None)];
    let mut c = vpc();
    c.mirror_sessions = vec![
        session("tms-a2", A2, FW, 1, all(), all()),
        session("tms-fw", FW, A2, 1, all(), all()),
    ];
    c.captures = vec![CaptureConfig {
        id: "cap-fw".into(),
        eni: FW,
        path: dir.file("fw.pcap"),
        snaplen: 262_144,
        filter: Some(CaptureFilter {
            protocol: Some(17),
            host: None,
            port: Some(VXLAN_PORT),
        }),
    }];
    let mut dp = dp_with(c);
    send(&mut dp, A, a_to_a2(443, 10));
    assert_eq!(take(&mut dp, A2).len(), 1, "the packet, no copy back");
    let copies = take(&mut dp, FW);
    assert_eq!(copies.len(), 1);
    // FW sends something: its copy goes to A2, and stops there.
    let mut f = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(FW).0, router_mac(2).0)
        .ipv4(FW_IP, A_IP, 64)
        .udp(1, 2)
        .write(&mut f, b"x")
        .unwrap();
    send(&mut dp, FW, f);
    assert_eq!(take(&mut dp, A).len(), 1);
    assert_eq!(take(&mut dp, A2).len(), 1, "FW's outbound copy");
    assert!(take(&mut dp, FW).is_empty());
    assert_eq!(report(&dp, "tms-a2").packets, 1);
    assert_eq!(report(&dp, "tms-fw").packets, 1);
    // The copy FW received shows in its capture (as the instance would see it).
    dp.expire();
    dp.sync_writes();
    let (_, _, recs) = read_pcap(&std::fs::read(dir.file("fw.pcap")).unwrap());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].data, copies[0][VNET_HDR_LEN..]);
}

#[test]
fn copies_fit_the_target_mtu_and_whole_packets_get_their_checksum() {
    let mut c = vpc();
    c.enis[FW.idx()].mtu = 1500;
    c.mirror_sessions = vec![session(
        "tms-mtu",
        A2,
        FW,
        1,
        vec![rule(1, true, Protocol::All, None)],
        vec![],
    )];
    let mut dp = dp_with(c);
    // A small packet whose TCP checksum A left to offload: whole, checksum completed.
    let mut f = a_to_a2(443, 500);
    let good = u16::from_be_bytes([f[VNET_HDR_LEN + 50], f[VNET_HDR_LEN + 51]]);
    let tcp_len = f.len() - VNET_HDR_LEN - 34;
    let pseudo = fold(
        sum(0, &f[VNET_HDR_LEN + 26..VNET_HDR_LEN + 34])
            .wrapping_add(6)
            .wrapping_add(tcp_len as u32),
    );
    f[VNET_HDR_LEN + 50..VNET_HDR_LEN + 52].copy_from_slice(&pseudo.to_be_bytes());
    VnetHdr {
        flags: F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 16,
        ..VnetHdr::default()
    }
    .emit(&mut f)
    .unwrap();
    send(&mut dp, A, f);
    let delivered = take(&mut dp, A2);
    assert_eq!(
        delivered[0][0], F_NEEDS_CSUM,
        "the original keeps its offload"
    );
    let copies = take(&mut dp, FW);
    let (_, inner) = unwrap_vxlan(&copies[0]);
    assert_eq!(inner.len(), delivered[0].len() - VNET_HDR_LEN);
    assert_eq!(u16::from_be_bytes([inner[50], inner[51]]), good);
    // A GSO super-frame: one packet, cut so that it plus 54 bytes fits 1500.
    let payload = vec![0x5a; 30_000];
    let mut g = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, eni_mac(A2).0)
        .ipv4(A_IP, A2_IP, 64)
        .tcp(40000, 443, 1, 64000)
        .ack(1)
        .write(&mut g, &payload)
        .unwrap();
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1448,
        csum_start: 34,
        csum_offset: 16,
    }
    .emit(&mut g)
    .unwrap();
    let glen = g.len();
    send(&mut dp, A, g);
    assert_eq!(take(&mut dp, A2)[0].len(), glen, "delivered whole");
    let copies = take(&mut dp, FW);
    assert_eq!(copies.len(), 1);
    let (_, inner) = unwrap_vxlan(&copies[0]);
    assert_eq!(inner.len(), 1500 - 54 + 14);
    assert_eq!(
        copies[0].len() - VNET_HDR_LEN - 14,
        1500 - 4,
        "outer packet fits"
    );
    let r = report(&dp, "tms-mtu");
    assert_eq!((r.packets, r.truncated), (2, 1));
}

#[test]
fn copies_to_a_target_without_a_port_are_counted_as_dropped() {
    let mut c = vpc();
    // D (index 4) is never attached.
    c.mirror_sessions = vec![session(
        "tms-d",
        A2,
        fixtures::D,
        1,
        vec![rule(1, true, Protocol::All, None)],
        vec![],
    )];
    let mut dp = dp_with(c);
    send(&mut dp, A, a_to_a2(443, 10));
    assert_eq!(take(&mut dp, A2).len(), 1, "the original is delivered");
    let r = report(&dp, "tms-d");
    assert_eq!((r.packets, r.dropped), (0, 1));
}

#[test]
fn nothing_configured_means_nothing_happens() {
    let mut dp = dp_with(vpc());
    assert!(!dp.taps.active && !dp.taps.capturing && !dp.taps.mirroring);
    send(&mut dp, A, a_to_a2(443, 10));
    assert_eq!(take(&mut dp, A2).len(), 1);
    assert!(take(&mut dp, FW).is_empty());
    assert_eq!(dp.counters(FW).unwrap().tx_packets, 0);
}
