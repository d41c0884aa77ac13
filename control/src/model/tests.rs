//! Tests of the model: defaults, unknown fields, route targets, protocols and TOML round
//! trips of every resource kind.

use std::net::Ipv4Addr;

use super::*;

#[test]
fn defaults_apply() {
    let eni: Eni = toml::from_str(
        r#"
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            "#,
    )
    .unwrap();
    assert!(eni.source_dest_check);
    assert_eq!(eni.mtu, DEFAULT_MTU);
    assert_eq!(eni.ifname, "eth0");
    assert_eq!(eni.mac, None);
    assert_eq!(eni.netns, None);
    assert_eq!(eni.instance_id, None);
    assert_eq!(eni.device_index, None);
    assert_eq!(eni.instance_type, None);
    assert_eq!(eni.image_id, None);
    assert_eq!(eni.metadata_options, None);
    let m = InstanceMetadataOptions::default();
    assert_eq!(m.resolved(), (true, false, DEFAULT_METADATA_HOP_LIMIT));
    let subnet: Subnet =
        toml::from_str("id = \"subnet-a\"\nvpc = \"vpc-a\"\ncidr = \"10.0.1.0/24\"\n").unwrap();
    assert_eq!(subnet.availability_zone, None);
    assert_eq!(subnet.availability_zone_in("eu-west-3"), "eu-west-3a");
}

#[test]
fn instance_fields_round_trip_and_defaults_are_not_written() {
    let src = r#"
            [[subnet]]
            id = "subnet-a"
            vpc = "vpc-a"
            cidr = "10.0.1.0/24"
            availability_zone = "us-east-1b"

            [[subnet]]
            id = "subnet-b"
            vpc = "vpc-a"
            cidr = "10.0.2.0/24"

            [[eni]]
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            instance_id = "i-0123456789abcdef0"
            device_index = 1
            instance_type = "t3.large"
            image_id = "ami-0123abcd"
            metadata_options = { http_endpoint = "disabled", http_tokens = "required", http_put_response_hop_limit = 3 }

            [[eni]]
            id = "eni-b"
            subnet = "subnet-b"
            private_ip = "10.0.2.10"
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let m = t.enis[0].metadata_options.unwrap();
    assert_eq!(m.http_endpoint, Some(HttpEndpoint::Disabled));
    assert_eq!(m.http_tokens, Some(HttpTokens::Required));
    let text = toml::to_string(&t).unwrap();
    let again: Topology = toml::from_str(&text).unwrap();
    assert_eq!(t, again);
    // Absent fields stay absent: each is written once, for the ENI or subnet that sets it.
    for key in [
        "availability_zone",
        "instance_id",
        "device_index",
        "instance_type",
        "image_id",
        "http_tokens",
    ] {
        assert_eq!(text.matches(key).count(), 1, "{key} in\n{text}");
    }
    // Unknown values are errors naming the value and the choices.
    let err = toml::from_str::<InstanceMetadataOptions>("http_tokens = \"maybe\"").unwrap_err();
    assert!(
        err.message().contains("`maybe`") && err.message().contains("`required`"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let err =
        toml::from_str::<Vpc>("id = \"vpc-a\"\ncidr = \"10.0.0.0/16\"\ncidrs = []\n").unwrap_err();
    assert!(err.message().contains("unknown field `cidrs`"), "{err}");
}

#[test]
fn route_targets_classify() {
    assert_eq!(RouteTargetRef::parse("local"), RouteTargetRef::Local);
    assert_eq!(
        RouteTargetRef::parse("blackhole"),
        RouteTargetRef::Blackhole
    );
    assert_eq!(
        RouteTargetRef::parse("eni-fw"),
        RouteTargetRef::Eni("eni-fw")
    );
    assert_eq!(
        RouteTargetRef::parse("igw-1"),
        RouteTargetRef::InternetGateway("igw-1")
    );
    assert_eq!(
        RouteTargetRef::parse("eigw-1"),
        RouteTargetRef::Unsupported("eigw-1")
    );
    assert_eq!(
        RouteTargetRef::parse("nat-1"),
        RouteTargetRef::NatGateway("nat-1")
    );
    assert_eq!(
        RouteTargetRef::parse("pcx-1"),
        RouteTargetRef::Peering("pcx-1")
    );
    assert_eq!(
        RouteTargetRef::parse("tgw-1"),
        RouteTargetRef::Unsupported("tgw-1")
    );
    assert_eq!(RouteTargetRef::parse("foo"), RouteTargetRef::Invalid("foo"));
}

#[test]
fn round_trips_through_toml() {
    let src = r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            ipv6_cidr = "2600:1f18:aa00:100::/56"

            [[route_table]]
            id = "rtb-a"
            vpc = "vpc-a"
            main = true
            routes = [{ destination = "0.0.0.0/0", target = "blackhole" }]
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
}

#[test]
fn firewalls_round_trip_through_toml() {
    let src = r#"
            [lab]
            conntrack_time_scale = 0.01

            [[prefix_list]]
            id = "pl-a"
            entries = ["203.0.113.0/24"]
            max_entries = 4

            [[network_acl]]
            id = "acl-a"
            vpc = "vpc-a"
            default = true
            subnets = ["subnet-a"]
            inbound = [
              { rule = 100, protocol = "TCP", ports = "1024-65535", cidr = "0.0.0.0/0", action = "allow" },
              { rule = 110, protocol = 47, ports = 80, cidr = "0.0.0.0/0", action = "deny" },
              { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
            ]

            [[security_group]]
            id = "sg-a"
            vpc = "vpc-a"
            name = "a"
            inbound = [
              { protocol = -1, source = "sg-a" },
              { protocol = "17", ports = "53", source = "pl-a", description = "dns" },
            ]
            outbound = []

            [[eni]]
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            security_groups = ["sg-a"]
            conntrack = { udp_timeout = 60 }
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let n = &t.network_acls[0];
    assert_eq!(n.inbound[0].protocol, RuleProtocol::Number(PROTO_TCP));
    assert_eq!(
        n.inbound[0].ports,
        Some(PortSpec {
            from: 1024,
            to: 65535
        })
    );
    assert_eq!(n.inbound[1].ports, Some(PortSpec { from: 80, to: 80 }));
    assert_eq!(n.inbound[1].action, NaclAction::Deny);
    let g = &t.security_groups[0];
    assert_eq!(g.inbound[0].protocol, RuleProtocol::All);
    assert_eq!(g.inbound[0].source, Some(RulePeer::Group("sg-a".into())));
    assert_eq!(
        g.inbound[1].source,
        Some(RulePeer::PrefixList("pl-a".into()))
    );
    assert_eq!(g.outbound, Some(vec![]));
    assert_eq!(t.enis[0].conntrack.unwrap().udp_timeout, Some(60));
    assert_eq!(t.lab.clone().unwrap().conntrack_time_scale, 0.01);
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
}

#[test]
fn gateways_round_trip_through_toml() {
    let src = r#"
            [[internet_gateway]]
            id = "igw-a"
            vpc = "vpc-a"
            internet = { netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

            [[internet_gateway]]
            id = "igw-b"
            vpc = "vpc-b"

            [[elastic_ip]]
            id = "eipalloc-a"
            public_ip = "198.51.100.40"
            eni = "eni-a"
            private_ip = "10.0.1.11"

            [[elastic_ip]]
            id = "eipalloc-free"
            public_ip = "198.51.100.41"

            [[eni]]
            id = "eni-a"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            public_ip = "198.51.100.42"
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let inet = t.internet_gateways[0].internet.as_ref().unwrap();
    assert_eq!(inet.ifname, "eth0");
    assert_eq!(inet.mtu, DEFAULT_INTERNET_MTU);
    assert_eq!(t.internet_gateways[1].internet, None);
    assert_eq!(t.elastic_ips[1].eni, None);
    assert_eq!(t.enis[0].public_ip, Some(Ipv4Addr::new(198, 51, 100, 42)));
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
    let err = toml::from_str::<InternetGateway>("id = \"igw-a\"\nvpc = \"vpc-a\"\nnat = true\n")
        .unwrap_err();
    assert!(err.message().contains("unknown field `nat`"), "{err}");
}

#[test]
fn nat_gateways_round_trip_through_toml() {
    let src = r#"
            [lab]
            nat_gateway_ports = [2000, 2009]
            nat_gateway_idle_timeout = 2.5

            [[nat_gateway]]
            id = "nat-a"
            name = "a"
            subnet = "subnet-a"
            allocation_id = "eipalloc-a"
            private_ip = "10.0.0.220"
            secondary_private_ips = ["10.0.0.221"]
            secondary_allocation_ids = ["eipalloc-b"]

            [[nat_gateway]]
            id = "nat-p"
            subnet = "subnet-a"
            connectivity = "private"
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let a = &t.nat_gateways[0];
    assert_eq!(a.connectivity, NatConnectivity::Public, "the default");
    assert_eq!(a.private_ip, Some(Ipv4Addr::new(10, 0, 0, 220)));
    assert_eq!(a.secondary_allocation_ids, ["eipalloc-b"]);
    let p = &t.nat_gateways[1];
    assert_eq!(p.connectivity, NatConnectivity::Private);
    assert_eq!((p.allocation_id.as_ref(), p.private_ip), (None, None));
    let lab = t.lab.clone().unwrap();
    assert_eq!(lab.nat_gateway_ports, Some([2000, 2009]));
    assert_eq!(lab.nat_gateway_idle_timeout, Some(2.5));
    assert_eq!(lab.conntrack_time_scale, 1.0);
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
    let err =
        toml::from_str::<NatGateway>("id = \"nat-a\"\nconnectivity = \"both\"\n").unwrap_err();
    assert!(
        err.message().contains("expected `public` or `private`"),
        "{err}"
    );
}

#[test]
fn peerings_round_trip_through_toml() {
    let src = r#"
            [[peering_connection]]
            id = "pcx-a"
            name = "a-b"
            requester_vpc = "vpc-a"
            accepter_vpc = "vpc-b"

            [[peering_connection]]
            id = "pcx-p"
            requester_vpc = "vpc-a"
            accepter_vpc = "vpc-c"
            status = "pending-acceptance"

            [[route_table]]
            id = "rtb-a"
            vpc = "vpc-a"
            routes = [{ destination = "10.1.0.0/16", target = "pcx-a" }]
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let a = &t.peering_connections[0];
    assert_eq!(a.status, PeeringStatus::Active, "the default");
    assert!(a.is_active());
    assert_eq!(a.name.as_deref(), Some("a-b"));
    let p = &t.peering_connections[1];
    assert_eq!(p.status, PeeringStatus::PendingAcceptance);
    assert_eq!(p.status.as_str(), "pending-acceptance");
    assert!(!p.is_active());
    assert_eq!(
        t.route_tables[0].routes[0].target_ref(),
        RouteTargetRef::Peering("pcx-a")
    );
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
    let err = toml::from_str::<PeeringConnection>(
        "id = \"pcx-a\"\nrequester_vpc = \"vpc-a\"\naccepter_vpc = \"vpc-b\"\nstatus = \"pending\"\n",
    )
    .unwrap_err();
    assert!(
        err.message().contains("`active`") && err.message().contains("`pending-acceptance`"),
        "{err}"
    );
    let err = toml::from_str::<PeeringConnection>("id = \"pcx-a\"\nvpc = \"vpc-a\"\n").unwrap_err();
    assert!(err.message().contains("unknown field `vpc`"), "{err}");
}

#[test]
fn flow_logs_round_trip_through_toml() {
    let src = r#"
            [lab]
            flow_log_interval = 0.5

            [[flow_log]]
            id = "fl-a"
            resource = "subnet-a"
            traffic_type = "reject"
            max_aggregation_interval = 60
            log_destination = "/tmp/a.log"
            log_format = "${version}  ${srcaddr} ${tcp-flags}"

            [[flow_log]]
            id = "fl-b"
            resource = "eni-b"
            traffic_type = "ALL"
            log_destination = "/tmp/b.log"
        "#;
    let t: Topology = toml::from_str(src).unwrap();
    let a = &t.flow_logs[0];
    assert_eq!(a.traffic_type, Some(FlowLogTrafficType::Reject));
    assert_eq!(a.scope(), FlowLogScope::Subnet("subnet-a"));
    assert_eq!(
        a.format_tokens().unwrap(),
        [
            ("${version}", Some("version")),
            ("${srcaddr}", Some("srcaddr")),
            ("${tcp-flags}", Some("tcp-flags"))
        ]
    );
    let b = &t.flow_logs[1];
    assert_eq!(b.max_aggregation_interval, DEFAULT_FLOW_LOG_INTERVAL);
    assert_eq!(b.format_tokens(), None);
    assert_eq!(b.scope(), FlowLogScope::Eni("eni-b"));
    assert_eq!(t.lab.clone().unwrap().flow_log_interval, Some(0.5));
    let again: Topology = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
    assert_eq!(t, again);
    assert_eq!(
        log_format_tokens("$version ${} ${a}x ${b}"),
        [
            ("$version", None),
            ("${}", None),
            ("${a}x", None),
            ("${b}", Some("b"))
        ]
    );
    assert_eq!(FlowLogScope::parse("igw-1"), FlowLogScope::Other("igw-1"));
    let err = toml::from_str::<FlowLog>("id = \"fl-a\"\ntraffic_type = \"some\"\n").unwrap_err();
    assert!(
        err.message().contains("expected ALL, ACCEPT or REJECT"),
        "{err}"
    );
}

#[test]
fn protocols_parse_by_name_and_number() {
    for (s, p) in [
        ("tcp", RuleProtocol::Number(6)),
        ("UDP", RuleProtocol::Number(17)),
        ("Icmp", RuleProtocol::Number(1)),
        ("icmpv6", RuleProtocol::Number(58)),
        ("all", RuleProtocol::All),
        ("-1", RuleProtocol::All),
        ("47", RuleProtocol::Number(47)),
    ] {
        assert_eq!(RuleProtocol::parse(s), Some(p), "{s}");
    }
    for s in ["", "256", "gre", "+6", "-2"] {
        assert_eq!(RuleProtocol::parse(s), None, "{s}");
    }
    assert_eq!(RuleProtocol::Number(6).to_string(), "tcp");
    assert_eq!(RuleProtocol::Number(47).to_string(), "47");
}
