//! Small compiled topologies for unit tests and benches (the control crate compiles
//! real topology files; these stand in where a test wants the data plane alone).

use std::net::Ipv4Addr;

use crate::engine::port::PortIdx;
use crate::vpc::config::{
    Attachment, DataplaneConfig, EniConfig, EniIdx, IgwIdx, InternetGatewayConfig, MappingTarget,
    NatGatewayConfig, NatIdx, Outside, PortRange, PublicMapping, RouteConfig, RouteTableConfig,
    RouteTableIdx, RouteTarget, SubnetConfig, SubnetIdx, Uplink, VpcConfig, VpcIdx,
};
use crate::wire::MacAddr;

/// ENI index of A (10.0.1.10, subnet A).
pub const A: EniIdx = EniIdx(0);
/// ENI index of A2 (10.0.1.11 and secondary 10.0.1.12, subnet A).
pub const A2: EniIdx = EniIdx(1);
/// ENI index of B (10.0.2.20, subnet B).
pub const B: EniIdx = EniIdx(2);
/// ENI index of FW (10.0.3.30, subnet C, source/destination check off).
pub const FW: EniIdx = EniIdx(3);
/// ENI index of D (10.0.2.40, subnet B, never attached).
pub const D: EniIdx = EniIdx(4);

/// The router MAC of subnet `i` (0 = A, 1 = B, 2 = C).
pub fn router_mac(i: u8) -> MacAddr {
    MacAddr([0x06, 0, 0, 0, i + 1, 1])
}

/// The MAC of ENI `i`.
pub fn eni_mac(i: EniIdx) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, i.0 as u8 + 1])
}

/// One VPC 10.0.0.0/16 with subnets A 10.0.1.0/24 and C 10.0.3.0/24 on the main table
/// (local only) and B 10.0.2.0/24 on a table with `10.0.1.0/24 → FW` (a route more
/// specific than local) and `0.0.0.0/0 → blackhole`; ENIs A, A2, B, FW, D (see the
/// constants).
pub fn two_subnets_and_middlebox() -> DataplaneConfig {
    let net = |s: &str| s.parse().ok();
    let att = |ns: &str| {
        Some(Attachment {
            netns: ns.to_string(),
            ifname: "eth0".into(),
            dhcp: false,
            kind: Default::default(),
        })
    };
    let eni =
        |i: EniIdx, subnet: u32, ips: &[&str], check: bool, a: Option<Attachment>| EniConfig {
            id: format!("eni-{i}"),
            subnet: SubnetIdx(subnet),
            mac: eni_mac(i),
            ipv4: ips.iter().filter_map(|s| s.parse().ok()).collect(),
            ipv6: vec![],
            source_dest_check: check,
            mtu: 9001,
            attachment: a,
            security_groups: None,
            conntrack: Default::default(),
            pps_allowance: 0,
            instance: Default::default(),
        };
    let local = RouteConfig {
        destination: "10.0.0.0/16"
            .parse()
            .unwrap_or(ipnet::IpNet::V4(Default::default())),
        target: RouteTarget::Local,
        deleted_target: None,
    };
    DataplaneConfig {
        vpcs: vec![VpcConfig {
            id: "vpc-1".into(),
            cidrs: local.destination.to_string().parse().into_iter().collect(),
            dhcp: Default::default(),
        }],
        subnets: ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
            .iter()
            .enumerate()
            .map(|(i, c)| SubnetConfig {
                id: format!("subnet-{i}"),
                vpc: VpcIdx(0),
                ipv4_cidr: net(c),
                ipv6_cidr: None,
                route_table: RouteTableIdx(u32::from(i == 1)),
                router_mac: router_mac(i as u8),
                network_acl: None,
                availability_zone: String::new(),
            })
            .collect(),
        route_tables: vec![
            RouteTableConfig {
                id: "rtb-main".into(),
                vpc: VpcIdx(0),
                routes: vec![local.clone()],
            },
            RouteTableConfig {
                id: "rtb-b".into(),
                vpc: VpcIdx(0),
                routes: vec![
                    local,
                    RouteConfig {
                        destination: "10.0.1.0/24"
                            .parse()
                            .unwrap_or(ipnet::IpNet::V4(Default::default())),
                        target: RouteTarget::Eni(FW),
                        deleted_target: None,
                    },
                    RouteConfig {
                        destination: "0.0.0.0/0"
                            .parse()
                            .unwrap_or(ipnet::IpNet::V4(Default::default())),
                        target: RouteTarget::Blackhole,
                        deleted_target: None,
                    },
                ],
            },
        ],
        enis: vec![
            eni(A, 0, &["10.0.1.10"], true, att("a")),
            eni(A2, 0, &["10.0.1.11", "10.0.1.12"], true, att("a2")),
            eni(B, 1, &["10.0.2.20"], true, att("b")),
            eni(FW, 2, &["10.0.3.30"], false, att("fw")),
            eni(D, 1, &["10.0.2.40"], true, None),
        ],
        network_acls: Vec::new(),
        security_groups: Vec::new(),
        internet_gateways: Vec::new(),
        nat_gateways: Vec::new(),
        peerings: Vec::new(),
        flow_logs: Vec::new(),
        captures: Vec::new(),
        mirror_sessions: Vec::new(),
        dns: Default::default(),
        region: String::new(),
    }
}

/// A data plane running `config` with an in-memory port on every attached ENI and
/// internet-gateway uplink (ports
/// that keep what they are sent when `keep_tx`, counting-only ports otherwise).
pub fn mem_dataplane(
    config: DataplaneConfig,
    flow_capacity: usize,
    keep_tx: bool,
) -> Result<crate::datapath::Dataplane<crate::engine::port::MemPort>, crate::vpc::tables::TableError>
{
    use crate::datapath::{Dataplane, EniPlan, PortChange};
    use crate::engine::port::MemPort;
    let mut dp = Dataplane::new(flow_capacity);
    let attached = config
        .enis
        .iter()
        .map(|e| e.attachment.is_some())
        .chain(config.internet_gateways.iter().map(|g| g.uplink.is_some()));
    let plan = attached
        .map(|a| EniPlan {
            previous: None,
            port: match (a, keep_tx) {
                (true, true) => PortChange::Replace(MemPort::new()),
                (true, false) => PortChange::Replace(MemPort::sink()),
                (false, _) => PortChange::Remove,
            },
        })
        .collect();
    dp.install(config, plan).map_err(|e| e.error)?;
    Ok(dp)
}

/// The internet gateway's MAC in [`behind_nat_gateway`].
pub const IGW_MAC: MacAddr = MacAddr([0x0a, 0, 0, 0, 0, 1]);
/// The internet namespace's MAC in [`behind_nat_gateway`].
pub const INTERNET_HOST_MAC: MacAddr = MacAddr([0x0e, 0, 0, 0, 0, 1]);
/// The NAT gateway's Elastic IP in [`behind_nat_gateway`].
pub const NAT_EIP: [u8; 4] = [198, 51, 100, 7];
/// The NAT gateway's private address in [`behind_nat_gateway`].
pub const NAT_IP: [u8; 4] = [10, 0, 3, 220];
/// The id of the NAT gateway's network interface in [`behind_nat_gateway`].
pub const NAT_ENI: &str = "eni-nat-1";
/// An internet host in [`behind_nat_gateway`].
pub const INTERNET_HOST: [u8; 4] = [203, 0, 113, 5];
/// The internet gateway's uplink port in [`behind_nat_gateway`] (after the 5 ENIs).
pub const UPLINK: PortIdx = PortIdx(5);

/// The fixture VPC with subnet 0 (A, A2) private behind NAT gateway `nat-1`, which lives
/// in subnet 2 (10.0.3.0/24, whose main table sends 0.0.0.0/0 to the internet gateway)
/// with 10.0.3.220 ↔ 198.51.100.7.
pub fn behind_nat_gateway(ports: (u16, u16)) -> DataplaneConfig {
    let mut c = two_subnets_and_middlebox();
    c.internet_gateways = vec![InternetGatewayConfig {
        id: "igw-1".into(),
        vpc: VpcIdx(0),
        mac: IGW_MAC,
        uplink: Some(Uplink {
            attachment: Attachment {
                netns: "internet".into(),
                ifname: "eth0".into(),
                dhcp: false,
                kind: Default::default(),
            },
            host_mac: INTERNET_HOST_MAC,
            mtu: 1500,
            outside: Outside::Namespace {
                cidr: "203.0.113.0/24".parse().unwrap_or_default(),
                gateway_ip: Ipv4Addr::new(203, 0, 113, 1),
                hosts: vec![Ipv4Addr::from(INTERNET_HOST)],
            },
        }),
        mappings: vec![PublicMapping {
            public: Ipv4Addr::from(NAT_EIP),
            target: MappingTarget::NatGateway(NatIdx(0)),
            private: Ipv4Addr::from(NAT_IP),
            source: "eipalloc-nat".into(),
        }],
    }];
    c.nat_gateways = vec![NatGatewayConfig {
        id: "nat-1".into(),
        interface_id: NAT_ENI.into(),
        subnet: SubnetIdx(2),
        addrs: vec![Ipv4Addr::from(NAT_IP)],
        public: true,
        ports: PortRange {
            from: ports.0,
            to: ports.1,
        },
        max_per_destination: NatGatewayConfig::MAX_PER_DESTINATION,
        idle_timeout_ms: 10_000,
        max_connections: NatGatewayConfig::MAX_CONNECTIONS,
    }];
    c.route_tables[0].routes.push(RouteConfig {
        destination: "0.0.0.0/0"
            .parse()
            .unwrap_or(ipnet::IpNet::V4(Default::default())),
        target: RouteTarget::InternetGateway(IgwIdx(0)),
        deleted_target: None,
    });
    let local = c.route_tables[0].routes[0].clone();
    c.route_tables.push(RouteTableConfig {
        id: "rtb-private".into(),
        vpc: VpcIdx(0),
        routes: vec![
            local,
            RouteConfig {
                destination: "0.0.0.0/0"
                    .parse()
                    .unwrap_or(ipnet::IpNet::V4(Default::default())),
                target: RouteTarget::NatGateway(NatIdx(0)),
                deleted_target: None,
            },
        ],
    });
    c.subnets[0].route_table = RouteTableIdx(2);
    c
}
