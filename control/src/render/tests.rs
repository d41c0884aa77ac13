//! Tests of the reports for people: the summary, every section of `vpcctl show`, tables
//! and durations.

use dataplane::observe::stats::{EniReport, NaclDenyReport, NatGatewayReport, PortCounters};
use dataplane::vpc::config::{DataplaneConfig, EniIdx};
use dataplane::vpc::verdict::DropReason;

use super::flow_logs::flow_log_scope;
use super::text::duration_text;
use super::*;

const TOPO: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        [[route_table]]
        id = "rtb-fw"
        vpc = "vpc-demo"
        routes = [{ destination = "0.0.0.0/0", target = "eni-a" }]
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        route_table = "rtb-fw"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        netns = "ns-a"
    "#;

#[test]
fn summary_counts_implicit_main() {
    let c = crate::compile_str(TOPO).unwrap();
    assert_eq!(
        summary(&c.config),
        "1 VPC, 1 subnet, 2 route tables, 1 ENI, 1 network ACL, 1 security group"
    );
}

#[test]
fn show_lists_everything() {
    let c = crate::compile_str(TOPO).unwrap();
    let mut counters = PortCounters {
        rx_packets: 5,
        rx_bytes: 500,
        ..Default::default()
    };
    counters.drops[DropReason::NoRoute as usize] = 2;
    let mut engine = dataplane::observe::stats::EngineCounters {
        flow_hits: 11,
        ..Default::default()
    };
    engine.drops[DropReason::NoRoute as usize] = 2;
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 4,
        config: c.config,
        enis: vec![EniReport {
            id: "eni-a".into(),
            tap: Some("vpc0".into()),
            port: None,
            counters,
            kernel: None,
        }],
        engine,
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = show(&report);
    for needle in [
        "epoch 4",
        "vpc-demo  10.0.0.0/16",
        "rtb-fw (vpc-demo)",
        "0.0.0.0/0    → eni-a",
        "10.0.0.0/16  → local",
        "rtb-main-demo",
        "ns-a/eth0",
        "vpc0",
        "5/500",
        "no_route=2",
        "flow hits 11",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

/// A report of `config` with no counters at all.
fn quiet_report(config: dataplane::vpc::config::DataplaneConfig) -> StatsReport {
    let a = dataplane::vpc::tables::Tables::build(config).unwrap();
    dataplane::observe::report::assemble(&a, Default::default())
}

#[test]
fn show_says_when_the_file_writer_fell_behind_and_only_then() {
    let c = crate::compile_str(TOPO).unwrap();
    let mut report = quiet_report(c.config);
    assert!(!show(&report).contains("file writer behind"));
    report.engine.flow_log_records_dropped = 3;
    report.engine.capture_packets_dropped = 7;
    let text = show(&report);
    assert!(
        text.contains("file writer behind: flow-log records dropped 3, capture packets dropped 7"),
        "{text}"
    );
}

#[test]
fn show_lists_internet_gateways_and_public_ips() {
    let topo = format!(
        "{TOPO}
        [[eni]]
        id = \"eni-b\"
        subnet = \"subnet-a\"
        private_ip = \"10.0.1.11\"
        secondary_ips = [\"10.0.1.12\"]
        public_ip = \"198.51.100.41\"
        [[internet_gateway]]
        id = \"igw-a\"
        vpc = \"vpc-demo\"
        internet = {{ netns = \"inet\", cidr = \"203.0.113.0/24\", gateway = \"203.0.113.1\", hosts = [\"203.0.113.5\", \"203.0.113.6\"] }}
        [[elastic_ip]]
        id = \"eipalloc-a\"
        public_ip = \"198.51.100.40\"
        eni = \"eni-a\"
        [[elastic_ip]]
        id = \"eipalloc-b\"
        public_ip = \"198.51.100.42\"
        eni = \"eni-b\"
        private_ip = \"10.0.1.12\"
        "
    );
    let c = crate::compile_str(&topo).unwrap();
    assert!(summary(&c.config).ends_with(", 1 internet gateway"));
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: c.config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = show(&report);
    for needle in [
        "Internet gateways",
        "igw-a (vpc-demo), mac 0a:",
        "  uplink: inet/eth0, outside 203.0.113.0/24, gateway 203.0.113.1, hosts 203.0.113.5, 203.0.113.6, host mac 0e:",
        ", mtu 1500",
        "  PUBLIC         ENI    PRIVATE    SOURCE",
        "  198.51.100.40  eni-a  10.0.1.10  eipalloc-a",
        "  198.51.100.42  eni-b  10.0.1.12  eipalloc-b",
        "  198.51.100.41  eni-b  10.0.1.11  public_ip",
        "PUBLIC IP",
        "10.0.1.11,10.0.1.12  198.51.100.42,198.51.100.41  ",
        "10.0.1.10            198.51.100.40                ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let plain = show(&StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: crate::compile_str(TOPO).unwrap().config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    });
    assert!(plain.contains("Internet gateways (1:1 NAT between public and private IPv4)\nnone\n"));
}

/// VPC-7: a route whose target was deleted shows the id it names and its state, as AWS
/// shows it; an ENI without a namespace is marked unattached.
#[test]
fn show_marks_deleted_route_targets_and_unattached_enis() {
    let topo = format!(
        "{TOPO}
        [[route_table]]
        id = \"rtb-gone\"
        vpc = \"vpc-demo\"
        routes = [
          {{ destination = \"0.0.0.0/0\", target = \"nat-gone\", state = \"blackhole\" }},
          {{ destination = \"192.0.2.0/24\", target = \"blackhole\" }},
        ]
        [[eni]]
        id = \"eni-loose\"
        subnet = \"subnet-a\"
        private_ip = \"10.0.1.20\"
        "
    );
    let c = crate::compile_str(&topo).unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.starts_with("eni-loose.netns: not set, so the ENI is not attached")),
        "{:?}",
        c.warnings
    );
    let text = show(&quiet_report(c.config));
    assert!(
        text.contains(
            "rtb-gone (vpc-demo)\n  10.0.0.0/16   → local\n  0.0.0.0/0     → nat-gone (blackhole: target deleted)\n  192.0.2.0/24  → blackhole\n"
        ),
        "{text}"
    );
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row for {id} in\n{text}"))
            .to_string()
    };
    assert!(row("eni-loose").contains(" (unattached) "), "{text}");
    assert!(row("eni-a").contains(" ns-a/eth0 "), "{text}");
}

#[test]
fn table_pads_columns() {
    let t = table(&["A", "B"], &[vec!["long".into(), "x".into()]]);
    assert_eq!(t, "A     B\nlong  x\n");
}

const FIREWALLS: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-demo"
        cidr = "10.0.2.0/24"
        [[prefix_list]]
        id = "pl-admins"
        entries = ["203.0.113.0/24", "198.51.100.7/32"]
        [[network_acl]]
        id = "acl-b"
        vpc = "vpc-demo"
        subnets = ["subnet-b"]
        inbound = [
          { rule = 100, protocol = "-1", cidr = "10.0.0.0/16", action = "allow" },
          { rule = 90, protocol = "tcp", ports = "23", cidr = "0.0.0.0/0", action = "deny" },
          { rule = 120, protocol = "icmp", icmp_type = 3, icmp_code = 4, cidr = "0.0.0.0/0", action = "allow" },
        ]
        [[security_group]]
        id = "sg-web"
        vpc = "vpc-demo"
        inbound = [
          { protocol = "tcp", ports = "80", source = "0.0.0.0/0" },
          { protocol = "-1", source = "sg-web" },
          { protocol = "tcp", ports = "22", source = "pl-admins" },
        ]
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-web"]
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
    "#;

#[test]
fn show_lists_nacls_and_security_groups() {
    let c = crate::compile_str(FIREWALLS).unwrap();
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: c.config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![
            NaclDenyReport {
                nacl: "acl-b".into(),
                direction: "inbound".into(),
                rule: "90".into(),
                packets: 7,
            },
            NaclDenyReport {
                nacl: "acl-b".into(),
                direction: "outbound".into(),
                rule: "*".into(),
                packets: 3,
            },
        ],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = show(&report);
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("missing {needle:?} in\n{text}"))
    };
    // Subnet and ENI columns.
    assert!(
        text.contains("subnet-a  vpc-demo  10.0.1.0/24  rtb-main-demo  acl-default-demo"),
        "{text}"
    );
    assert!(
        text.contains("subnet-b  vpc-demo  10.0.2.0/24  rtb-main-demo  acl-b "),
        "{text}"
    );
    assert!(text.contains("eni-a  subnet-a  sg-web "), "{text}");
    assert!(text.contains("eni-b  subnet-b  sg-default-demo "), "{text}");
    // NACL entries sorted by rule number, then the `*` deny.
    pos("acl-b (vpc-demo), subnets: subnet-b");
    pos("acl-default-demo (vpc-demo), subnets: subnet-a");
    let r90 = pos("    90    tcp       23             0.0.0.0/0    DENY    7");
    let r100 = pos("    100   all       all            10.0.0.0/16  ALLOW   -");
    let r120 = pos("    120   icmp      type 3 code 4  0.0.0.0/0    ALLOW   -");
    let star = pos("    *     all       all            0.0.0.0/0    DENY    0");
    assert!(r90 < r100 && r100 < r120 && r120 < star, "{text}");
    pos("    *     all       all    0.0.0.0/0  DENY    3");
    // Security groups with their members and resolved peers.
    pos("sg-web (vpc-demo), members: eni-a");
    pos("sg-default-demo (vpc-demo), members: eni-b");
    pos("    tcp       22     pl-admins (2 entries)");
    pos("    all       all    sg-web");
    pos("    all       all    sg-default-demo");
    pos("    all       all    0.0.0.0/0");
}

/// TOPO plus a public subnet with a public NAT gateway (two addresses) that subnet-a
/// uses, and a private NAT gateway.
fn nat_topology() -> String {
    TOPO.replace(
        "routes = [{ destination = \"0.0.0.0/0\", target = \"eni-a\" }]",
        "routes = [{ destination = \"0.0.0.0/0\", target = \"nat-a\" }]",
    ) + r#"
        [lab]
        nat_gateway_idle_timeout = 1.5
        [[subnet]]
        id = "subnet-pub"
        vpc = "vpc-demo"
        cidr = "10.0.0.0/24"
        route_table = "rtb-pub"
        [[route_table]]
        id = "rtb-pub"
        vpc = "vpc-demo"
        routes = [{ destination = "0.0.0.0/0", target = "igw-a" }]
        [[internet_gateway]]
        id = "igw-a"
        vpc = "vpc-demo"
        [[eni]]
        id = "eni-pub"
        subnet = "subnet-pub"
        private_ip = "10.0.0.40"
        public_ip = "198.51.100.40"
        [[nat_gateway]]
        id = "nat-a"
        subnet = "subnet-pub"
        allocation_id = "eipalloc-nat"
        private_ip = "10.0.0.220"
        secondary_private_ips = ["10.0.0.221"]
        secondary_allocation_ids = ["eipalloc-nat2"]
        [[nat_gateway]]
        id = "nat-p"
        subnet = "subnet-a"
        connectivity = "private"
        [[elastic_ip]]
        id = "eipalloc-nat"
        public_ip = "198.51.100.7"
        [[elastic_ip]]
        id = "eipalloc-nat2"
        public_ip = "198.51.100.8"
        "#
}

#[test]
fn show_lists_nat_gateways_with_their_metrics() {
    let c = crate::compile_str(&nat_topology()).unwrap();
    assert!(
        summary(&c.config).ends_with(", 1 internet gateway, 2 NAT gateways"),
        "{}",
        summary(&c.config)
    );
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: c.config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![NatGatewayReport {
            id: "nat-a".into(),
            metrics: dataplane::observe::stats::NatMetrics {
                active_connection_count: 3,
                translations: 5,
                connection_attempt_count: 10,
                connection_established_count: 9,
                error_port_allocation: 2,
                idle_timeout_count: 1,
                packets_drop_count: 4,
                resets_sent: 6,
                packets_in_from_source: 100,
                bytes_in_from_source: 8000,
                packets_out_to_destination: 99,
                bytes_out_to_destination: 7900,
                packets_in_from_destination: 80,
                bytes_in_from_destination: 120_000,
                packets_out_to_source: 79,
                bytes_out_to_source: 119_000,
            },
        }],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = show(&report);
    for needle in [
        "0.0.0.0/0    → nat-a",
        // The internet gateway's table names the NAT gateway.
        "  PUBLIC         TARGET   PRIVATE     SOURCE",
        "  198.51.100.40  eni-pub  10.0.0.40   public_ip",
        "  198.51.100.7   nat-a    10.0.0.220  eipalloc-nat",
        "  198.51.100.8   nat-a    10.0.0.221  eipalloc-nat2",
        "\nNAT gateways (",
        "nat-a (vpc-demo), public, subnet subnet-pub, ports 1024-65535, idle timeout 1.5s, 55000 per address and destination, up to 1048576 translations\n",
        "  PRIVATE     ADDRESS    ELASTIC IP    ALLOCATION\n",
        "  10.0.0.220  primary    198.51.100.7  eipalloc-nat\n",
        "  10.0.0.221  secondary  198.51.100.8  eipalloc-nat2\n",
        "  ActiveConnectionCount 3, ConnectionAttemptCount 10, ConnectionEstablishedCount 9, ErrorPortAllocation 2, IdleTimeoutCount 1, PacketsDropCount 4 (translations 5, resets sent 6)\n",
        "  TRAFFIC            PACKETS  BYTES\n",
        "  InFromSource       100      8000\n",
        "  OutToDestination   99       7900\n",
        "  InFromDestination  80       120000\n",
        "  OutToSource        79       119000\n",
        "nat-p (vpc-demo), private, subnet subnet-a, ports 1024-65535, idle timeout 1.5s,",
        "  10.0.1.254  primary  -           -\n",
        "  metrics: not reported\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // eni-pub's public address is listed, not the NAT gateway's.
    assert!(text.contains("10.0.0.40  198.51.100.40  "), "{text}");
    // Without NAT gateways the section says so.
    let plain = show(&StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: crate::compile_str(TOPO).unwrap().config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    });
    assert!(plain.contains("\nNAT gateways ("), "{plain}");
    assert!(
        plain.contains("Elastic IPs at the internet gateway)\nnone\n"),
        "{plain}"
    );
}

#[test]
fn show_lists_nat_gateway_interfaces_with_their_subnet_and_addresses() {
    // nat-p: a given interface id and its own idle timeout; a flow log on nat-a's
    // derived interface id and one on subnet-a (an ENI and nat-p's interface).
    let dir = std::env::temp_dir();
    let src = nat_topology().replace(
        "connectivity = \"private\"\n",
        "connectivity = \"private\"\n        network_interface_id = \"eni-0natp\"\n        idle_timeout = 0.25\n",
    ) + &format!(
        r#"
        [[flow_log]]
        id = "fl-nat"
        resource = "eni-nat-a"
        traffic_type = "ALL"
        log_destination = "{}"
        lab_interval = 0.5
        [[flow_log]]
        id = "fl-sub"
        resource = "subnet-a"
        traffic_type = "ALL"
        log_destination = "{}"
        "#,
        dir.join("vpcctl-render-nat.log").display(),
        dir.join("vpcctl-render-sub.log").display(),
    );
    let c = crate::compile_str(&src).unwrap();
    let text = show(&bare_report(c.config));
    for needle in [
        "\nNAT gateway network interfaces (requester-managed)\n",
        "ID         TYPE         SUBNET      IPS                    PUBLIC IP                  NAT GATEWAY\n",
        "eni-nat-a  nat_gateway  subnet-pub  10.0.0.220,10.0.0.221  198.51.100.7,198.51.100.8  nat-a\n",
        "eni-0natp  nat_gateway  subnet-a    10.0.1.254             -                          nat-p\n",
        "nat-p (vpc-demo), private, subnet subnet-a, ports 1024-65535, idle timeout 0.25s,",
        "nat-a (vpc-demo), public, subnet subnet-pub, ports 1024-65535, idle timeout 1.5s,",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(row("fl-nat"), "fl-nat eni-nat-a eni-nat-a ALL 0.5s");
    assert_eq!(row("fl-sub"), "fl-sub subnet-a eni-a,eni-0natp ALL 600s");
}

/// Two peered VPCs (and a pending peering with a third), routes both ways, a group of
/// one VPC that references a group of the other, and a fourth VPC that overlaps the
/// second (not peered).
const PEERED: &str = r#"
        [[vpc]]
        id = "vpc-a"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.50.0.0/16"]
        [[vpc]]
        id = "vpc-b"
        cidr = "10.1.0.0/16"
        [[vpc]]
        id = "vpc-c"
        cidr = "10.2.0.0/16"
        [[vpc]]
        id = "vpc-d"
        cidr = "10.1.0.0/16"
        [[peering_connection]]
        id = "pcx-ab"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-b"
        [[peering_connection]]
        id = "pcx-ac"
        requester_vpc = "vpc-a"
        accepter_vpc = "vpc-c"
        status = "pending-acceptance"
        [[route_table]]
        id = "rtb-a"
        vpc = "vpc-a"
        main = true
        routes = [
          { destination = "10.1.0.0/16", target = "pcx-ab" },
          { destination = "10.2.0.0/16", target = "pcx-ac" },
        ]
        [[route_table]]
        id = "rtb-b"
        vpc = "vpc-b"
        main = true
        routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }]
        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-a"
        cidr = "10.0.1.0/24"
        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-b"
        cidr = "10.1.1.0/24"
        [[subnet]]
        id = "subnet-d"
        vpc = "vpc-d"
        cidr = "10.1.1.0/24"
        [[security_group]]
        id = "sg-b"
        vpc = "vpc-b"
        inbound = [{ protocol = "tcp", ports = 80, source = "sg-a" }]
        [[security_group]]
        id = "sg-a"
        vpc = "vpc-a"
        [[eni]]
        id = "eni-a"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        security_groups = ["sg-a"]
        [[eni]]
        id = "eni-b"
        subnet = "subnet-b"
        private_ip = "10.1.1.10"
        security_groups = ["sg-b"]
        [[eni]]
        id = "eni-d"
        subnet = "subnet-d"
        private_ip = "10.1.1.10"
    "#;

fn bare_report(config: DataplaneConfig) -> StatsReport {
    StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config,
        enis: vec![],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    }
}

#[test]
fn show_lists_peering_connections_and_several_vpcs() {
    let c = crate::compile_str(PEERED).unwrap();
    assert_eq!(
        summary(&c.config),
        "4 VPCs, 3 subnets, 4 route tables, 3 ENIs, 4 network ACLs, 6 security groups, 2 peering connections"
    );
    let text = show(&bare_report(c.config.clone()));
    for needle in [
        // Every VPC, the overlapping ones included.
        "vpc-a  10.0.0.0/16, 10.50.0.0/16\n",
        "vpc-b  10.1.0.0/16\n",
        "vpc-d  10.1.0.0/16\n",
        "subnet-b  vpc-b  10.1.1.0/24",
        "subnet-d  vpc-d  10.1.1.0/24",
        // Route targets name the peering; a pending one says what it does.
        "rtb-a (vpc-a)\n",
        "  10.1.0.0/16   → pcx-ab\n",
        "  10.2.0.0/16   → pcx-ac (blackhole: pending-acceptance)\n",
        "rtb-b (vpc-b)\n  10.1.0.0/16  → local\n  10.0.0.0/16  → pcx-ab\n",
        // The section.
        "\nPeering connections (traffic crosses only between the two VPCs' own CIDRs: no transitive or edge-to-edge routing; routes to a pending one are blackholes)\n",
        "ID      REQUESTER                          ACCEPTER             STATUS\n",
        "pcx-ab  vpc-a (10.0.0.0/16, 10.50.0.0/16)  vpc-b (10.1.0.0/16)  active\n",
        "pcx-ac  vpc-a (10.0.0.0/16, 10.50.0.0/16)  vpc-c (10.2.0.0/16)  pending-acceptance\n",
        // A group of vpc-b whose rule names a group of vpc-a.
        "sg-b (vpc-b), members: eni-b\n",
        // (a group of another VPC is named with its VPC).
        "    tcp       80     sg-a (vpc-a)\n",
        // The ENIs of the overlapping VPCs, told apart by their subnets.
        "eni-b  subnet-b",
        "eni-d  subnet-d",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // The section comes after the NAT gateways and before the network ACLs.
    let at = |n: &str| text.find(n).unwrap();
    assert!(at("\nNAT gateways (") < at("\nPeering connections ("));
    assert!(at("\nPeering connections (") < at("\nNetwork ACLs ("));
    // JSON carries the peerings as the data plane has them.
    let json = serde_json::to_value(bare_report(c.config)).unwrap();
    assert_eq!(
        json["config"]["peerings"][1],
        serde_json::json!({ "id": "pcx-ac", "requester": 0, "accepter": 2, "active": false })
    );
    // Without peerings the section says so and the summary does not mention them.
    let plain = crate::compile_str(TOPO).unwrap().config;
    assert!(!summary(&plain).contains("peering"));
    assert!(show(&bare_report(plain)).contains("routes to a pending one are blackholes)\nnone\n"));
}

#[test]
fn durations_print_as_seconds() {
    assert_eq!(duration_text(350_000), "350s");
    assert_eq!(duration_text(1_500), "1.5s");
    assert_eq!(duration_text(1), "0.001s");
    assert_eq!(duration_text(0), "0s");
}

#[test]
fn show_lists_flow_logs_with_scope_traffic_interval_destination_and_format() {
    let dir = std::env::temp_dir();
    let dest = |n: &str| {
        dir.join(format!("vpcctl-render-{n}.log"))
            .display()
            .to_string()
    };
    let src = format!(
        r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[subnet]]
            id = "subnet-a"
            vpc = "vpc-a"
            cidr = "10.0.1.0/24"
            [[subnet]]
            id = "subnet-b"
            vpc = "vpc-a"
            cidr = "10.0.2.0/24"
            [[eni]]
            id = "eni-a1"
            subnet = "subnet-a"
            private_ip = "10.0.1.10"
            [[eni]]
            id = "eni-a2"
            subnet = "subnet-a"
            private_ip = "10.0.1.20"
            [[eni]]
            id = "eni-b1"
            subnet = "subnet-b"
            private_ip = "10.0.2.10"
            [[flow_log]]
            id = "fl-vpc"
            resource = "vpc-a"
            traffic_type = "ALL"
            log_destination = "{}"
            [[flow_log]]
            id = "fl-sub"
            resource = "subnet-a"
            traffic_type = "REJECT"
            max_aggregation_interval = 60
            log_destination = "{}"
            log_format = "${{version}} ${{srcaddr}} ${{flow-direction}}"
            [[flow_log]]
            id = "fl-eni"
            resource = "eni-b1"
            traffic_type = "accept"
            log_destination = "{}"
            [lab]
            flow_log_interval = 1.5
            "#,
        dest("vpc"),
        dest("sub"),
        dest("eni"),
    );
    let c = crate::compile_str(&src).unwrap().config;
    assert!(summary(&c).ends_with(", 3 flow logs"), "{}", summary(&c));
    let text = show(&bare_report(c.clone()));
    let section = flow_logs(&c);
    assert!(text.contains(&section), "{text}");
    let lines: Vec<&str> = section.lines().collect();
    assert!(
        lines[1].starts_with("Flow logs (one record per flow, ENI and aggregation interval"),
        "{section}"
    );
    let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        cells(lines[2]),
        [
            "ID",
            "SCOPE",
            "ENIS",
            "TRAFFIC",
            "INTERVAL",
            "DESTINATION",
            "FORMAT"
        ]
    );
    let row = |id: &str| {
        cells(
            lines
                .iter()
                .find(|l| l.starts_with(id))
                .unwrap_or_else(|| panic!("no {id} in\n{section}")),
        )
    };
    assert_eq!(
        row("fl-vpc"),
        [
            "fl-vpc",
            "vpc-a",
            "eni-a1,eni-a2,eni-b1",
            "ALL",
            "1.5s",
            &dest("vpc"),
            "v2",
            "default"
        ]
    );
    assert_eq!(
        row("fl-sub"),
        [
            "fl-sub",
            "subnet-a",
            "eni-a1,eni-a2",
            "REJECT",
            "1.5s",
            &dest("sub"),
            "v5",
            "custom",
            "(3",
            "fields)"
        ]
    );
    assert_eq!(
        row("fl-eni"),
        [
            "fl-eni",
            "eni-b1",
            "eni-b1",
            "ACCEPT",
            "1.5s",
            &dest("eni"),
            "v2",
            "default"
        ]
    );
    // Without flow logs the section says so and the summary does not mention them.
    let plain = crate::compile_str(TOPO).unwrap().config;
    assert!(!summary(&plain).contains("flow log"));
    assert!(flow_logs(&plain).ends_with("file on vpcd's host)\nnone\n"));
    // A subnet with one ENI shows as that ENI; ENIs matching no resource are counted.
    let mut c = c;
    c.flow_logs[0].interfaces = vec![EniIdx(0).into(), EniIdx(2).into()];
    c.flow_logs[1].interfaces = vec![];
    assert_eq!(flow_log_scope(&c, &c.flow_logs[0].interfaces), "2 ENIs");
    assert_eq!(flow_log_scope(&c, &[]), "- (no ENIs)");
    assert_eq!(flow_log_scope(&c, &[EniIdx(2).into()]), "eni-b1");
}

/// A DHCP ENI is marked `(dhcp)` after its namespace, and the router's DHCP answers and
/// ignored messages are shown per ENI.
#[test]
fn show_marks_dhcp_enis_and_counts_dhcp() {
    let src = TOPO.replace(
        "netns = \"ns-a\"",
        "netns = \"ns-a\"\naddressing = \"dhcp\"",
    );
    let c = crate::compile_str(&src).unwrap();
    let report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: c.config,
        enis: vec![EniReport {
            id: "eni-a".into(),
            tap: Some("vpc0".into()),
            port: None,
            counters: PortCounters {
                dhcp_replies: 2,
                dhcp_ignored: 1,
                ..Default::default()
            },
            kernel: None,
        }],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    let text = show(&report);
    assert!(text.contains("DHCP ANSWERED/IGNORED"), "{text}");
    let row = text.lines().find(|l| l.starts_with("eni-a")).unwrap();
    assert!(row.contains("ns-a/eth0 (dhcp)"), "{row}");
    assert!(row.contains(" 2/1 "), "{row}");
}

#[test]
fn show_names_each_enis_instance_and_its_metadata_options_when_not_default() {
    let src = format!(
        "{TOPO}
        [[eni]]
        id = \"eni-b\"
        subnet = \"subnet-a\"
        private_ip = \"10.0.1.11\"
        netns = \"ns-a\"
        ifname = \"eth1\"
        instance_id = \"i-0123456789abcdef0\"
        metadata_options = {{ http_tokens = \"required\", http_put_response_hop_limit = 2 }}
        "
    );
    let c = crate::compile_str(&src).unwrap();
    let text = show(&bare_report(c.config));
    assert!(
        text.contains("eni-a: instance i-0123456789abcdef0 (eth0 device 0) · metadata: tokens required, hop limit 2\n"),
        "{text}"
    );
    assert!(
        text.contains("eni-b: instance i-0123456789abcdef0 (eth1 device 1) · metadata"),
        "{text}"
    );
    // Default options are not spelled out.
    let c = crate::compile_str(TOPO).unwrap();
    let text = show(&bare_report(c.config));
    let line = text
        .lines()
        .find(|l| l.contains("eni-a: instance i-"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.ends_with("(eth0 device 0)"), "{line}");
}

/// No id, however long, makes `show` panic (a formatting width above `u16::MAX` would):
/// validation caps ids at 64 characters, and the renderers pad by hand anyway.
#[test]
fn show_renders_a_100000_character_id() {
    let mut c = crate::compile_str(TOPO).unwrap().config;
    let long = |prefix: &str| format!("{prefix}{}", "x".repeat(100_000 - prefix.len()));
    c.enis[0].id = long("eni-");
    for g in &mut c.security_groups {
        g.id = long("sg-");
    }
    for (i, rt) in c.route_tables.iter_mut().enumerate() {
        rt.id = long(&format!("rtb-{i}-"));
    }
    c.subnets[0].id = long("subnet-");
    let report = quiet_report(c);
    let text = show(&report);
    assert!(text.contains(&long("eni-")));
    assert!(text.contains(&long("sg-")));
    assert!(summary(&report.config).contains("1 ENI"));
    let wide = table(&["id", "x"], &[vec![long("eni-"), "y".into()]]);
    assert!(wide.ends_with("  y\n"));
}

#[test]
fn show_lists_the_kernel_drops_of_the_taps_when_reported() {
    let c = crate::compile_str(TOPO).unwrap();
    let mut report = StatsReport {
        workers: Vec::new(),
        epoch: 1,
        config: c.config,
        enis: vec![EniReport {
            id: "eni-a".into(),
            tap: Some("vpc0".into()),
            port: None,
            counters: PortCounters::default(),
            kernel: None,
        }],
        engine: Default::default(),
        nacl_denies: vec![],
        uplinks: vec![],
        nat_gateways: vec![],
        captures: vec![],
        mirror_sessions: vec![],
    };
    assert!(!show(&report).contains("DROPPED BEFORE VPCD READ"));
    report.enis[0].kernel = Some(dataplane::observe::stats::KernelLinkReport {
        netns: "ns-a".into(),
        ifname: "eth0".into(),
        counters: dataplane::sys::linkstats::LinkStats {
            tx_packets: 9000,
            tx_bytes: 900_000,
            tx_dropped: 1234,
            rx_dropped: 56,
            ..Default::default()
        },
    });
    let text = show(&report);
    for needle in [
        "DROPPED BEFORE VPCD READ",
        "DROPPED AFTER VPCD WROTE",
        "9000/900000",
        "1234",
        "56",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
