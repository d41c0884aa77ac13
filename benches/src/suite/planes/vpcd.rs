//! vpcd planes, each on a private `vpcd` through [`testbeds::Lab`] (a vpcd found next to the
//! running executable, `$VPCD_BIN`, or the given binary for `--compare`):
//!
//! - [`full`]: client (10.0.1.10, subnet A) → server (10.0.2.20, subnet B) behind the
//!   realistic rule set: a 20-entry network ACL per direction on both subnets and each ENI
//!   in 5 security groups of 60 rules per direction, the matching rule last, connection
//!   tracking on (the rule set the older `firewall_throughput.sh` script used, whose last
//!   rules allow every protocol from the VPC so that UDP and ping pass too);
//! - [`nat`]: client (10.0.1.10, private subnet, 0/0 → NAT gateway) → NAT gateway
//!   (10.0.0.220 → 198.51.100.7) → internet gateway → internet host 203.0.113.5 (the
//!   topology the older `nat_throughput.sh` script used).
//!
//! ENIs use static addressing (vpcd writes the address and route; no DHCP wait) and MTU
//! [`MTU`]; the internet side has 1500, the largest an internet gateway forwards.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use testbeds::{Lab, VpcdOptions};

use super::{Plane, MTU};

/// The 20 network-ACL entries of one direction: 19 that do not match the bench traffic
/// (alternating allow and deny), then rule 200 allowing everything from the VPC.
pub fn nacl_rules() -> String {
    let mut out = String::from("[");
    for i in 0..19u32 {
        let act = if i % 2 == 1 { "deny" } else { "allow" };
        let _ = write!(
            out,
            "{{ rule = {}, protocol = \"tcp\", ports = \"{}\", cidr = \"192.168.{i}.0/24\", action = \"{act}\" }}, ",
            10 + i * 5,
            20000 + i
        );
    }
    out.push_str("{ rule = 200, protocol = \"-1\", cidr = \"10.0.0.0/16\", action = \"allow\" } ]");
    out
}

/// The 60 rules of one direction of one security group: 59 that do not match, then every
/// protocol from/to the VPC. `key` is `source` (inbound) or `destination` (outbound).
pub fn sg_rules(key: &str) -> String {
    let mut out = String::from("[");
    for i in 0..59u32 {
        let _ = write!(
            out,
            "{{ protocol = \"tcp\", ports = \"{}\", {key} = \"172.16.{i}.0/24\" }}, ",
            10000 + i
        );
    }
    let _ = write!(out, "{{ protocol = \"-1\", {key} = \"10.0.0.0/16\" }} ]");
    out
}

fn eni(id: &str, subnet: &str, ip: &str, netns: &str, groups: Option<&str>) -> String {
    let mut s = format!(
        "\n[[eni]]\nid = \"{id}\"\nsubnet = \"{subnet}\"\nprivate_ip = \"{ip}\"\nnetns = \"{netns}\"\n\
         addressing = \"static\"\nmtu = {MTU}\n"
    );
    if let Some(g) = groups {
        let _ = writeln!(s, "security_groups = {g}");
    }
    s
}

/// The routed topology with the realistic rule set (namespaces `a` and `b`, prefixed by
/// the lab).
pub fn full_topology() -> String {
    let mut t = String::from(
        "[[vpc]]\nid = \"vpc-bench\"\ncidr = \"10.0.0.0/16\"\n\n\
         [[subnet]]\nid = \"subnet-a\"\nvpc = \"vpc-bench\"\ncidr = \"10.0.1.0/24\"\n\n\
         [[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-bench\"\ncidr = \"10.0.2.0/24\"\n\n\
         [[network_acl]]\nid = \"acl-bench\"\nvpc = \"vpc-bench\"\nsubnets = [\"subnet-a\", \"subnet-b\"]\n",
    );
    let _ = writeln!(t, "inbound = {}", nacl_rules());
    let _ = writeln!(t, "outbound = {}", nacl_rules());
    for g in 0..5 {
        let _ = write!(
            t,
            "\n[[security_group]]\nid = \"sg-bench{g}\"\nvpc = \"vpc-bench\"\ninbound = {}\noutbound = {}\n",
            sg_rules("source"),
            sg_rules("destination")
        );
    }
    let groups = "[\"sg-bench0\", \"sg-bench1\", \"sg-bench2\", \"sg-bench3\", \"sg-bench4\"]";
    t.push_str(&eni("eni-a", "subnet-a", "10.0.1.10", "a", Some(groups)));
    t.push_str(&eni("eni-b", "subnet-b", "10.0.2.20", "b", Some(groups)));
    t
}

/// The NAT topology: private subnet → NAT gateway → internet gateway → internet host.
pub fn nat_topology() -> String {
    let mut t = String::from(
        r#"[[vpc]]
id = "vpc-bench"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-public"
vpc = "vpc-bench"
routes = [ { destination = "0.0.0.0/0", target = "igw-bench" } ]

[[route_table]]
id = "rtb-private"
vpc = "vpc-bench"
routes = [ { destination = "0.0.0.0/0", target = "nat-bench" } ]

[[subnet]]
id = "subnet-public"
vpc = "vpc-bench"
cidr = "10.0.0.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-private"
vpc = "vpc-bench"
cidr = "10.0.1.0/24"
route_table = "rtb-private"

[[internet_gateway]]
id = "igw-bench"
vpc = "vpc-bench"
internet = { netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "198.51.100.7"

[[nat_gateway]]
id = "nat-bench"
subnet = "subnet-public"
allocation_id = "eipalloc-nat"
private_ip = "10.0.0.220"
"#,
    );
    t.push_str(&eni("eni-a", "subnet-private", "10.0.1.10", "a", None));
    t
}

fn options(binary: Option<&Path>, workers: usize) -> VpcdOptions {
    let extra_args = if workers > 1 {
        vec!["--workers".to_string(), workers.to_string()]
    } else {
        Vec::new()
    };
    VpcdOptions {
        binary: binary.map(Path::to_path_buf),
        extra_args,
        ..VpcdOptions::default()
    }
}

/// (a) vpcd, full pipeline: the routed topology behind the realistic rule set. `binary`
/// picks another vpcd (`--compare`); `label` names the plane; `workers` is vpcd's
/// `--workers`.
pub fn full(label: &str, binary: Option<&Path>, workers: usize) -> testbeds::Result<Plane> {
    let lab = Lab::start_with(&full_topology(), options(binary, workers))?;
    let client_ns = lab.ns("eni-a").name().to_owned();
    let server_ns = lab.ns("eni-b").name().to_owned();
    let pid = lab.vpcd().pid();
    Ok(Plane {
        label: label.to_owned(),
        client_ns,
        server_ns,
        server_ip: Ipv4Addr::new(10, 0, 2, 20),
        dataplane_pids: vec![pid],
        guard: Box::new(lab),
    })
}

/// (b) vpcd through the NAT gateway and internet gateway to an internet namespace.
pub fn nat(label: &str, binary: Option<&Path>, workers: usize) -> testbeds::Result<Plane> {
    let lab = Lab::start_with(&nat_topology(), options(binary, workers))?;
    let client_ns = lab.ns("eni-a").name().to_owned();
    let server_ns = lab.internet("igw-bench").name().to_owned();
    let pid = lab.vpcd().pid();
    Ok(Plane {
        label: label.to_owned(),
        client_ns,
        server_ns,
        server_ip: Ipv4Addr::new(203, 0, 113, 5),
        dataplane_pids: vec![pid],
        guard: Box::new(lab),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validates(toml: &str) {
        let mut topo = control::validate::parse(toml).unwrap_or_else(|e| panic!("{e:?}"));
        control::validate::validate(&mut topo).unwrap_or_else(|e| panic!("{e:?}"));
        control::compile::compile(&topo).unwrap_or_else(|e| panic!("{e:?}"));
    }

    #[test]
    fn topologies_validate_and_compile() {
        validates(&full_topology());
        validates(&nat_topology());
    }

    #[test]
    fn rule_set_sizes() {
        assert_eq!(nacl_rules().matches("rule =").count(), 20);
        assert_eq!(sg_rules("source").matches("protocol =").count(), 60);
        let t = full_topology();
        assert_eq!(t.matches("[[security_group]]").count(), 5);
        assert!(t.contains("mtu = 9001"));
    }
}
