//! Several VPCs in one data plane: isolation of overlapping VPCs, forwarding over
//! peering connections (ACLs and groups on both sides), no transitive peering and no
//! edge-to-edge routing, pending peerings as blackholes, the overlapping-peers example
//! of the AWS peering guide (longest prefix decides, replies follow the replier's own
//! table), security-group references across a peering, and a property test: a frame
//! never reaches a VPC that is not its own or directly (and actively) peered.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use proptest::prelude::*;

use crate::datapath::Dataplane;
use crate::engine::port::MemPort;
use crate::vpc::config::{
    Attachment, DataplaneConfig, EniConfig, EniIdx, NaclIdx, PeeringConfig, PeeringIdx, PortRange,
    Protocol, RouteConfig, RouteTableConfig, RouteTableIdx, RouteTarget, SecurityGroupConfig,
    SgIdx, SgPeer, SgRule, SubnetConfig, SubnetIdx, TrafficMatch, VpcConfig, VpcIdx,
};
use crate::vpc::verdict::DropReason;
use crate::wire::vnet::VNET_HDR_LEN;
use crate::wire::MacAddr;

/// ENI indices of [`three_vpcs`].
const A: EniIdx = EniIdx(0); // vpc-a 172.16.1.10
const B5: EniIdx = EniIdx(1); // vpc-b 10.0.0.5
const B77: EniIdx = EniIdx(2); // vpc-b 10.0.0.77
const C77: EniIdx = EniIdx(3); // vpc-c 10.0.0.77
const D: EniIdx = EniIdx(4); // vpc-d 192.168.1.10
/// ENI, subnet (subnet `i` is VPC `i`'s only one), address.
const ENIS: [(EniIdx, u32, [u8; 4]); 5] = [
    (A, 0, [172, 16, 1, 10]),
    (B5, 1, [10, 0, 0, 5]),
    (B77, 1, [10, 0, 0, 77]),
    (C77, 2, [10, 0, 0, 77]),
    (D, 3, [192, 168, 1, 10]),
];

fn router_mac(vpc: u32) -> MacAddr {
    MacAddr([0x06, 0, 0, 0, vpc as u8 + 1, 1])
}

fn eni_mac(i: EniIdx) -> MacAddr {
    MacAddr([0x02, 0, 0, 1, 0, i.0 as u8 + 1])
}

fn route(dst: &str, target: RouteTarget) -> RouteConfig {
    RouteConfig {
        destination: dst.parse().unwrap(),
        target,
        deleted_target: None,
    }
}

/// The peering guide's overlapping example plus a fourth VPC:
/// - vpc-a 172.16.0.0/16 peered with vpc-b (pcx 0) and vpc-c (pcx 1), which overlap each
///   other (10.0.0.0/16 both). vpc-a routes 10.0.0.0/16 → pcx 0 and 10.0.0.77/32 → pcx 1;
/// - vpc-b and vpc-c route 172.16.0.0/16 back over their peering; vpc-b also routes
///   192.168.0.0/16 → pcx 2 and 0.0.0.0/0 → pcx 0 (hoping to use vpc-a as a transit);
/// - vpc-d 192.168.0.0/16 is peered with vpc-b only (pcx 2) and routes 172.16.0.0/16
///   → pcx 2 (hoping to reach vpc-a through vpc-b) and 10.0.0.0/16 → pcx 2.
///
/// One subnet per VPC (its first /24), one route table per VPC, no ACLs or groups.
fn three_vpcs() -> DataplaneConfig {
    let vpcs = [
        "172.16.0.0/16",
        "10.0.0.0/16",
        "10.0.0.0/16",
        "192.168.0.0/16",
    ];
    let subnets = [
        "172.16.1.0/24",
        "10.0.0.0/24",
        "10.0.0.0/24",
        "192.168.1.0/24",
    ];
    let local = |v: usize| route(vpcs[v], RouteTarget::Local);
    DataplaneConfig {
        vpcs: vpcs
            .iter()
            .enumerate()
            .map(|(i, c)| VpcConfig {
                id: format!("vpc-{}", (b'a' + i as u8) as char),
                cidrs: vec![c.parse().unwrap()],
                dhcp: Default::default(),
            })
            .collect(),
        subnets: subnets
            .iter()
            .enumerate()
            .map(|(i, c)| SubnetConfig {
                id: format!("subnet-{}", (b'a' + i as u8) as char),
                vpc: VpcIdx(i as u32),
                ipv4_cidr: c.parse().ok(),
                ipv6_cidr: None,
                route_table: RouteTableIdx(i as u32),
                router_mac: router_mac(i as u32),
                network_acl: None,
                availability_zone: String::new(),
            })
            .collect(),
        route_tables: vec![
            RouteTableConfig {
                id: "rtb-a".into(),
                vpc: VpcIdx(0),
                routes: vec![
                    local(0),
                    route("10.0.0.0/16", RouteTarget::Peering(PeeringIdx(0))),
                    route("10.0.0.77/32", RouteTarget::Peering(PeeringIdx(1))),
                ],
            },
            RouteTableConfig {
                id: "rtb-b".into(),
                vpc: VpcIdx(1),
                routes: vec![
                    local(1),
                    route("172.16.0.0/16", RouteTarget::Peering(PeeringIdx(0))),
                    route("192.168.0.0/16", RouteTarget::Peering(PeeringIdx(2))),
                    route("0.0.0.0/0", RouteTarget::Peering(PeeringIdx(0))),
                ],
            },
            RouteTableConfig {
                id: "rtb-c".into(),
                vpc: VpcIdx(2),
                routes: vec![
                    local(2),
                    route("172.16.0.0/16", RouteTarget::Peering(PeeringIdx(1))),
                ],
            },
            RouteTableConfig {
                id: "rtb-d".into(),
                vpc: VpcIdx(3),
                routes: vec![
                    local(3),
                    route("172.16.0.0/16", RouteTarget::Peering(PeeringIdx(2))),
                    route("10.0.0.0/16", RouteTarget::Peering(PeeringIdx(2))),
                ],
            },
        ],
        enis: ENIS
            .iter()
            .map(|&(i, subnet, ip)| EniConfig {
                id: format!("eni-{i}"),
                subnet: SubnetIdx(subnet),
                mac: eni_mac(i),
                ipv4: vec![Ipv4Addr::from(ip)],
                ipv6: vec![],
                source_dest_check: true,
                mtu: 9001,
                attachment: Some(Attachment {
                    netns: format!("ns{i}"),
                    ifname: "eth0".into(),
                    dhcp: false,
                    kind: Default::default(),
                }),
                security_groups: None,
                conntrack: Default::default(),
                pps_allowance: 0,
                instance: Default::default(),
            })
            .collect(),
        network_acls: vec![],
        security_groups: vec![],
        internet_gateways: vec![],
        nat_gateways: vec![],
        peerings: [(0, 1), (0, 2), (3, 1)]
            .iter()
            .enumerate()
            .map(|(i, &(r, a))| PeeringConfig {
                id: format!("pcx-{i}"),
                requester: VpcIdx(r),
                accepter: VpcIdx(a),
                active: true,
            })
            .collect(),
        ..Default::default()
    }
}

fn dp_with(c: DataplaneConfig) -> Dataplane<MemPort> {
    let mut dp = crate::fixtures::mem_dataplane(c, 1024, true).unwrap();
    dp.set_now(1);
    dp
}

fn ip_of(eni: EniIdx) -> [u8; 4] {
    ENIS[eni.idx()].2
}

fn udp(from: EniIdx, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let vpc = ENIS[from.idx()].1;
    let mut v = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(from).0, router_mac(vpc).0)
        .ipv4(ip_of(from), dst, 64)
        .udp(40000, dport)
        .write(&mut v, b"hello")
        .unwrap();
    v
}

/// Sends `frame` from `from`; returns the ENIs that received something.
fn send(dp: &mut Dataplane<MemPort>, from: EniIdx, mut frame: Vec<u8>) -> Vec<EniIdx> {
    dp.process(from, &mut frame);
    (0..ENIS.len() as u32)
        .map(EniIdx)
        .filter(|&e| !std::mem::take(&mut dp.port_mut(e).unwrap().tx).is_empty())
        .collect()
}

fn drops(dp: &Dataplane<MemPort>, eni: EniIdx, r: DropReason) -> u64 {
    dp.counters(eni).unwrap().drops[r.index()]
}

#[test]
fn longest_prefix_picks_the_peer_and_replies_follow_the_repliers_table() {
    let mut dp = dp_with(three_vpcs());
    // vpc-a → 10.0.0.5: the /16 to vpc-b; → 10.0.0.77: the /32 to vpc-c, not vpc-b's .77.
    assert_eq!(send(&mut dp, A, udp(A, [10, 0, 0, 5], 53)), vec![B5]);
    assert_eq!(send(&mut dp, A, udp(A, [10, 0, 0, 77], 53)), vec![C77]);
    // Both .77s reach vpc-a over their own peering...
    assert_eq!(send(&mut dp, B77, udp(B77, ip_of(A), 53)), vec![A]);
    assert_eq!(send(&mut dp, C77, udp(C77, ip_of(A), 53)), vec![A]);
    // ...but vpc-a's answer to 10.0.0.77 follows vpc-a's table: to vpc-c, whichever .77
    // asked (no reverse-path check), exactly as the peering guide warns.
    let mut reply = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ethernet2(eni_mac(A).0, router_mac(0).0)
        .ipv4(ip_of(A), [10, 0, 0, 77], 64)
        .udp(53, 40000)
        .write(&mut reply, b"answer")
        .unwrap();
    assert_eq!(send(&mut dp, A, reply), vec![C77]);
}

#[test]
fn overlapping_vpcs_are_isolated() {
    let mut dp = dp_with(three_vpcs());
    // vpc-b's 10.0.0.5 → 10.0.0.77 stays in vpc-b, never reaches vpc-c's twin.
    assert_eq!(send(&mut dp, B5, udp(B5, [10, 0, 0, 77], 53)), vec![B77]);
    // vpc-c has no route to vpc-b at all (10.0.0.5 is local there, and unassigned).
    assert_eq!(
        send(&mut dp, C77, udp(C77, [10, 0, 0, 5], 53)),
        Vec::<EniIdx>::new()
    );
    assert_eq!(drops(&dp, C77, DropReason::NoEniForAddress), 1);
}

#[test]
fn no_transitive_peering_and_no_edge_to_edge() {
    let mut dp = dp_with(three_vpcs());
    // vpc-d ↔ vpc-b works.
    assert_eq!(send(&mut dp, D, udp(D, [10, 0, 0, 5], 53)), vec![B5]);
    assert_eq!(send(&mut dp, B5, udp(B5, ip_of(D), 53)), vec![D]);
    // vpc-d → vpc-a through vpc-b: the destination is not in vpc-b.
    assert!(send(&mut dp, D, udp(D, ip_of(A), 53)).is_empty());
    assert_eq!(drops(&dp, D, DropReason::PcxAddressNotInVpcCidr), 1);
    // vpc-b's default route over the peering (to use vpc-a's gateways): refused.
    assert!(send(&mut dp, B5, udp(B5, [203, 0, 113, 5], 53)).is_empty());
    assert_eq!(drops(&dp, B5, DropReason::PcxAddressNotInVpcCidr), 1);
}

#[test]
fn a_pending_peering_is_a_blackhole_and_an_accepted_one_forwards() {
    let mut c = three_vpcs();
    c.peerings[0].active = false;
    let mut dp = dp_with(c.clone());
    assert!(send(&mut dp, A, udp(A, [10, 0, 0, 5], 53)).is_empty());
    assert_eq!(drops(&dp, A, DropReason::Blackhole), 1);
    // The trace names the peering and the route's state, as AWS shows it.
    let spec = crate::observe::trace::TraceSpec {
        from: c.enis[A.idx()].id.clone(),
        src: None,
        dst: Ipv4Addr::new(10, 0, 0, 5).into(),
        protocol: crate::observe::trace::TraceProtocol::Udp,
        src_port: None,
        dst_port: Some(53),
        icmp_type: None,
        icmp_code: None,
        tcp_flags: None,
        return_path: false,
    };
    let text = dp.trace(&spec).unwrap().to_string();
    assert!(
        text.contains("10.0.0.0/16 → pcx-0 (blackhole: pending-acceptance)"),
        "{text}"
    );
    assert!(text.contains("BAD_STATE_ROUTE (blackhole)"), "{text}");
    c.peerings[0].active = true;
    let mut dp = dp_with(c);
    assert_eq!(send(&mut dp, A, udp(A, [10, 0, 0, 5], 53)), vec![B5]);
}

#[test]
fn acls_of_both_subnets_and_the_receivers_groups_apply() {
    let mut c = three_vpcs();
    let tm = |from, to| TrafficMatch {
        protocol: Protocol::Number(17),
        ports: Some(PortRange { from, to }),
        icmp: None,
    };
    // vpc-b's group "sg-b" admits UDP 53 from members of vpc-a's group "sg-a" only.
    c.security_groups = vec![
        SecurityGroupConfig {
            id: "sg-a".into(),
            vpc: VpcIdx(0),
            inbound: vec![],
            outbound: vec![SgRule {
                traffic: TrafficMatch {
                    protocol: Protocol::All,
                    ports: None,
                    icmp: None,
                },
                peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
            }],
        },
        SecurityGroupConfig {
            id: "sg-b".into(),
            vpc: VpcIdx(1),
            inbound: vec![SgRule {
                traffic: tm(53, 53),
                peer: SgPeer::Group(SgIdx(0)),
            }],
            outbound: vec![],
        },
    ];
    c.enis[A.idx()].security_groups = Some(vec![SgIdx(0)]);
    c.enis[B5.idx()].security_groups = Some(vec![SgIdx(1)]);
    let mut dp = dp_with(c.clone());
    assert_eq!(send(&mut dp, A, udp(A, [10, 0, 0, 5], 53)), vec![B5]);
    // vpc-d (not in sg-a) is refused by the same group.
    assert!(send(&mut dp, D, udp(D, [10, 0, 0, 5], 53)).is_empty());
    assert_eq!(drops(&dp, D, DropReason::SgNoMatch), 1);
    // The receiving subnet's ACL applies to traffic from the peer.
    c.network_acls = vec![crate::vpc::config::NetworkAclConfig {
        id: "acl-b".into(),
        vpc: VpcIdx(1),
        inbound: vec![],
        outbound: vec![],
    }];
    c.subnets[1].network_acl = Some(NaclIdx(0));
    let mut dp = dp_with(c);
    assert!(send(&mut dp, A, udp(A, [10, 0, 0, 5], 53)).is_empty());
    assert_eq!(drops(&dp, A, DropReason::NaclDeny), 1);
}

proptest! {
    /// Any frame from any ENI, to any address of any VPC (and some outside), with the
    /// router's or a random MAC: if it is delivered, it lands in the sender's VPC or in
    /// a VPC actively peered with it, and a frame that crossed a peering lands on the
    /// owner of its destination address in that VPC.
    #[test]
    fn frames_never_cross_to_a_vpc_that_is_not_peered(
        from in 0u32..5,
        dst_pick in 0usize..8,
        dst_mac_router in any::<bool>(),
        pending in proptest::collection::vec(any::<bool>(), 3),
        dport in 1u16..1000,
    ) {
        let mut c = three_vpcs();
        for (p, &off) in c.peerings.iter_mut().zip(&pending) {
            p.active = !off;
        }
        let active: Vec<(u32, u32)> = c
            .peerings
            .iter()
            .filter(|p| p.active)
            .map(|p| (p.requester.0, p.accepter.0))
            .collect();
        let mut dp = dp_with(c);
        let dsts: [[u8; 4]; 8] = [
            [172, 16, 1, 10],
            [10, 0, 0, 5],
            [10, 0, 0, 77],
            [192, 168, 1, 10],
            [10, 0, 0, 9],
            [172, 16, 1, 1],
            [203, 0, 113, 5],
            [10, 0, 0, 1],
        ];
        let dst = dsts[dst_pick];
        let from = EniIdx(from);
        let vpc = ENIS[from.idx()].1;
        let dst_mac = if dst_mac_router {
            router_mac(vpc)
        } else {
            eni_mac(EniIdx((from.0 + 1) % 5))
        };
        let mut f = vec![0u8; VNET_HDR_LEN];
        PacketBuilder::ethernet2(eni_mac(from).0, dst_mac.0)
            .ipv4(ip_of(from), dst, 64)
            .udp(40000, dport)
            .write(&mut f, b"x")
            .unwrap();
        for to in send(&mut dp, from, f) {
            let to_vpc = ENIS[to.idx()].1;
            let peered = active
                .iter()
                .any(|&(r, a)| (r, a) == (vpc, to_vpc) || (a, r) == (vpc, to_vpc));
            prop_assert!(to_vpc == vpc || peered, "{from} → {to} across unpeered VPCs");
            prop_assert_eq!(ip_of(to), dst, "delivered to the owner of the destination");
        }
    }
}

#[test]
fn a_peer_group_reference_matches_members_of_that_vpc_only() {
    // vpc-a (172.16/16) peers with vpc-b and vpc-c, which overlap: both have 10.0.0.77.
    // vpc-a's group admits UDP 53 from vpc-b's group "sg-b77" (whose member is vpc-b's
    // .77); vpc-c's .77 has the same address but is no member.
    let mut c = three_vpcs();
    c.security_groups = vec![
        SecurityGroupConfig {
            id: "sg-a".into(),
            vpc: VpcIdx(0),
            inbound: vec![SgRule {
                traffic: TrafficMatch {
                    protocol: Protocol::Number(17),
                    ports: Some(PortRange { from: 53, to: 53 }),
                    icmp: None,
                },
                peer: SgPeer::Group(SgIdx(1)),
            }],
            outbound: vec![],
        },
        SecurityGroupConfig {
            id: "sg-b77".into(),
            vpc: VpcIdx(1),
            inbound: vec![],
            outbound: vec![SgRule {
                traffic: TrafficMatch {
                    protocol: Protocol::All,
                    ports: None,
                    icmp: None,
                },
                peer: SgPeer::Cidr("0.0.0.0/0".parse().unwrap()),
            }],
        },
    ];
    c.enis[A.idx()].security_groups = Some(vec![SgIdx(0)]);
    c.enis[B77.idx()].security_groups = Some(vec![SgIdx(1)]);
    let mut dp = dp_with(c);
    // (vpc-c's first: the same 5-tuple from vpc-b would then ride on the tracked flow.)
    assert!(send(&mut dp, C77, udp(C77, ip_of(A), 53)).is_empty());
    assert_eq!(drops(&dp, C77, DropReason::SgNoMatch), 1);
    assert_eq!(send(&mut dp, B77, udp(B77, ip_of(A), 53)), vec![A]);
}
