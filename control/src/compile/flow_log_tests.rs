//! Tests of the flow logs' compilation: scopes, fields and intervals.

use super::units::idx;
use super::*;
use crate::compile_str;

/// Two VPCs: vpc-a with subnets a1 (eni-a1, eni-a3) and a2 (eni-a2), vpc-b with eni-b1
/// (listed between them), and flow logs on each kind of scope.
fn flow_log_topology(lab: &str) -> String {
    let dir = std::env::temp_dir();
    let dest = |n: &str| {
        dir.join(format!("vpcctl-compile-{n}.log"))
            .display()
            .to_string()
    };
    format!(
        r#"
            [[vpc]]
            id = "vpc-a"
            cidr = "10.0.0.0/16"
            [[vpc]]
            id = "vpc-b"
            cidr = "10.1.0.0/16"
            [[subnet]]
            id = "subnet-a1"
            vpc = "vpc-a"
            cidr = "10.0.1.0/24"
            [[subnet]]
            id = "subnet-b"
            vpc = "vpc-b"
            cidr = "10.1.1.0/24"
            [[subnet]]
            id = "subnet-a2"
            vpc = "vpc-a"
            cidr = "10.0.2.0/24"
            [[eni]]
            id = "eni-a1"
            subnet = "subnet-a1"
            private_ip = "10.0.1.10"
            netns = "a1"
            [[eni]]
            id = "eni-b1"
            subnet = "subnet-b"
            private_ip = "10.1.1.10"
            netns = "b1"
            [[eni]]
            id = "eni-a2"
            subnet = "subnet-a2"
            private_ip = "10.0.2.10"
            netns = "a2"
            [[eni]]
            id = "eni-a3"
            subnet = "subnet-a1"
            private_ip = "10.0.1.30"
            netns = "a3"
            [[flow_log]]
            id = "fl-vpc"
            resource = "vpc-a"
            traffic_type = "ALL"
            log_destination = "{}"
            [[flow_log]]
            id = "fl-subnet"
            resource = "subnet-a1"
            traffic_type = "reject"
            max_aggregation_interval = 60
            log_destination = "{}"
            log_format = "${{version}} ${{interface-id}} ${{tcp-flags}}  ${{flow-direction}}"
            [[flow_log]]
            id = "fl-eni"
            resource = "eni-b1"
            traffic_type = "Accept"
            log_destination = "{}"
            {lab}
            "#,
        dest("vpc"),
        dest("subnet"),
        dest("eni")
    )
}

#[test]
fn flow_logs_compile_with_the_enis_of_their_scope_in_eni_order() {
    let c = compile_str(&flow_log_topology("")).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let f = &c.config.flow_logs;
    let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["fl-vpc", "fl-subnet", "fl-eni"]);
    let eni = |id: &str| {
        dataplane::vpc::config::Interface::Eni(idx(c
            .config
            .enis
            .iter()
            .position(|e| e.id == id)
            .unwrap()))
    };
    assert_eq!(
        f[0].interfaces,
        [eni("eni-a1"), eni("eni-a2"), eni("eni-a3")]
    );
    assert_eq!(f[1].interfaces, [eni("eni-a1"), eni("eni-a3")]);
    assert_eq!(f[2].interfaces, [eni("eni-b1")]);
    assert_eq!(
        f.iter().map(|f| f.traffic).collect::<Vec<_>>(),
        [
            dataplane::vpc::config::FlowLogTraffic::All,
            dataplane::vpc::config::FlowLogTraffic::Reject,
            dataplane::vpc::config::FlowLogTraffic::Accept,
        ]
    );
    assert!(
        f[0].path.ends_with("vpcctl-compile-vpc.log"),
        "{}",
        f[0].path
    );
}

#[test]
fn flow_log_fields_and_intervals_compile() {
    let c = compile_str(&flow_log_topology("")).unwrap().config;
    let f = &c.flow_logs;
    assert_eq!(f[0].fields, dataplane::observe::flowlog::DEFAULT_FIELDS);
    assert_eq!(
        f[1].fields,
        ["version", "interface-id", "tcp-flags", "flow-direction"]
    );
    assert_eq!(dataplane::observe::flowlog::format_version(&f[1].fields), 5);
    assert_eq!(
        f.iter().map(|f| f.interval_ms).collect::<Vec<_>>(),
        [600_000, 60_000, 600_000]
    );
    // `[lab] flow_log_interval` replaces every interval.
    let c = compile_str(&flow_log_topology("[lab]\nflow_log_interval = 0.25"))
        .unwrap()
        .config;
    assert!(c.flow_logs.iter().all(|f| f.interval_ms == 250));
    // The data plane takes them, and they survive the wire.
    let json = serde_json::to_string(&c).unwrap();
    let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    dataplane::vpc::tables::Tables::build(c).unwrap();
}

#[test]
fn an_unvalidated_flow_log_is_reported_instead_of_compiled() {
    let mut t = compile_str(&flow_log_topology("")).unwrap().topology;
    t.flow_logs[0].resource = "subnet-nope".into();
    t.flow_logs[1].traffic_type = None;
    t.flow_logs[2].log_format = Some("${version} ${nope}".into());
    let e = compile(&t).unwrap_err();
    let got: Vec<(&str, &str)> = e
        .iter()
        .map(|e| (e.resource.as_str(), e.field.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("fl-vpc", "resource"),
            ("fl-subnet", "traffic_type"),
            ("fl-eni", "log_format")
        ]
    );
}

#[test]
fn nat_gateway_interfaces_are_logged_by_id_and_with_their_subnet_and_vpc() {
    use dataplane::vpc::config::{Interface, NatIdx};
    let dest = std::env::temp_dir().join("vpcctl-compile-nat.log");
    let extra = format!(
        r#"
            [[nat_gateway]]
            id = "nat-x"
            subnet = "subnet-a1"
            connectivity = "private"
            [[flow_log]]
            id = "fl-nat"
            resource = "eni-nat-x"
            traffic_type = "ALL"
            log_destination = "{}"
            lab_interval = 0.1
            [lab]
            flow_log_interval = 0.25
        "#,
        dest.display()
    );
    let c = compile_str(&flow_log_topology(&extra)).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let c = c.config;
    let eni = |id: &str| Interface::Eni(idx(c.enis.iter().position(|e| e.id == id).unwrap()));
    let nat = Interface::NatGateway(NatIdx(0));
    let f = &c.flow_logs;
    assert_eq!(c.nat_gateways[0].interface_id, "eni-nat-x");
    // The VPC's and the subnet's flow logs include the gateway's interface (after the
    // ENIs); a flow log on its id covers it alone.
    assert_eq!(
        f[0].interfaces,
        [eni("eni-a1"), eni("eni-a2"), eni("eni-a3"), nat]
    );
    assert_eq!(f[1].interfaces, [eni("eni-a1"), eni("eni-a3"), nat]);
    assert_eq!(f[2].interfaces, [eni("eni-b1")]);
    assert_eq!(f[3].interfaces, [nat]);
    // A flow log's own lab_interval wins over [lab] flow_log_interval.
    assert_eq!(
        f.iter().map(|f| f.interval_ms).collect::<Vec<_>>(),
        [250, 250, 250, 100]
    );
    dataplane::vpc::tables::Tables::build(c).unwrap();
}
