//! The tests of [`crate::validate`], one file per resource kind. The helpers here build
//! topology files around a small base (one VPC, one subnet) and check their errors and
//! warnings.

use std::net::Ipv4Addr;

use ipnet::{Ipv4Net, Ipv6Net};

use super::*;
use crate::model::{NatConnectivity, RouteState, RouteTargetRef};

mod dhcp_options;
mod elastic_ip;
mod eni;
mod flow_log;
mod ids;
mod internet_gateway;
mod internet_host;
mod lab;
mod limits;
mod nat_gateway;
mod network_acl;
mod parse;
mod peering;
mod prefix_list;
mod private_hosted_zone;
mod route_table;
mod security_group;
mod subnet;
mod taps;
mod traffic;
mod vpc;

const BASE: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
    "#;

fn check_str(src: &str) -> Result<(Topology, Vec<String>), Vec<String>> {
    check(src).map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
}

/// The errors of `BASE + extra`, as displayed.
fn errors(extra: &str) -> Vec<String> {
    match check_str(&format!("{BASE}\n{extra}")) {
        Ok(_) => vec![],
        Err(e) => e,
    }
}

fn ok(extra: &str) -> (Topology, Vec<String>) {
    match check_str(&format!("{BASE}\n{extra}")) {
        Ok(v) => v,
        Err(e) => panic!("unexpected errors:\n{}", e.join("\n")),
    }
}

#[track_caller]
fn expect(extra: &str, prefix: &str, needle: &str) {
    let errs = errors(extra);
    assert!(
        errs.iter()
            .any(|e| e.starts_with(prefix) && e.contains(needle)),
        "expected an error `{prefix}…{needle}…`, got:\n{}",
        errs.join("\n")
    );
}

/// An ENI in subnet-a, attached to a namespace named after it (`eni-a` → `a`), as an
/// instance of a real topology is.
fn eni(id: &str, ip: &str) -> String {
    let ns = id.trim_start_matches("eni-");
    format!("{}netns = \"{ns}\"\n", eni_unattached(id, ip))
}

/// An ENI in subnet-a without `netns` (unattached: a warning).
fn eni_unattached(id: &str, ip: &str) -> String {
    format!("[[eni]]\nid = \"{id}\"\nsubnet = \"subnet-a\"\nprivate_ip = \"{ip}\"\n")
}

const FW: &str = "[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.2.0/24\"\n[[subnet]]\nid = \"subnet-fw\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.3.0/24\"\n[[eni]]\nid = \"eni-fw\"\nsubnet = \"subnet-fw\"\nprivate_ip = \"10.0.3.10\"\nsource_dest_check = false\nnetns = \"fw\"\n";

fn rtb(routes: &str) -> String {
    format!("{FW}[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-demo\"\nroutes = [{routes}]\n")
}

/// A NACL of vpc-demo with the given inbound rules (TOML inline tables).
fn nacl(id: &str, extra: &str, inbound: &str) -> String {
    format!("[[network_acl]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{extra}inbound = [{inbound}]\n")
}

/// A security group of vpc-demo with the given inbound rules.
fn sg(id: &str, extra: &str, inbound: &str) -> String {
    format!("[[security_group]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{extra}inbound = [{inbound}]\n")
}

const OTHER_VPC: &str = "[[vpc]]\nid = \"vpc-b\"\ncidr = \"10.1.0.0/16\"\n[[subnet]]\nid = \"subnet-b\"\nvpc = \"vpc-b\"\ncidr = \"10.1.1.0/24\"\n[[security_group]]\nid = \"sg-b\"\nvpc = \"vpc-b\"\n";

#[track_caller]
fn warns(extra: &str, prefix: &str, needle: &str) {
    let (_, w) = ok(extra);
    assert!(
        w.iter()
            .any(|w| w.starts_with(prefix) && w.contains(needle)),
        "expected a warning `{prefix}…{needle}…`, got:\n{}",
        w.join("\n")
    );
}

/// An internet gateway of vpc-demo with an internet side (`inet` = the inline table's
/// fields; empty for no internet side).
fn igw(id: &str, inet: &str) -> String {
    let inet = if inet.is_empty() {
        String::new()
    } else {
        format!("internet = {{ {inet} }}\n")
    };
    format!("[[internet_gateway]]\nid = \"{id}\"\nvpc = \"vpc-demo\"\n{inet}")
}

const INET: &str = r#"netns = "internet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"]"#;

fn eip(id: &str, public: &str, extra: &str) -> String {
    format!("[[elastic_ip]]\nid = \"{id}\"\npublic_ip = \"{public}\"\n{extra}")
}

/// An ENI 10.0.1.10 (+ .11) with a public IP.
fn eni_pub(id: &str, ip: &str, public: &str) -> String {
    format!("{}public_ip = \"{public}\"\n", eni(id, ip))
}

/// A peering connection; `extra` adds fields (e.g. a status).
fn pcx(id: &str, requester: &str, accepter: &str, extra: &str) -> String {
    format!(
        "[[peering_connection]]\nid = \"{id}\"\nrequester_vpc = \"{requester}\"\naccepter_vpc = \"{accepter}\"\n{extra}"
    )
}

/// A route table `id` of `vpc` with the given routes.
fn table(id: &str, vpc: &str, routes: &str) -> String {
    format!("[[route_table]]\nid = \"{id}\"\nvpc = \"{vpc}\"\nroutes = [{routes}]\n")
}

/// vpc-c (10.2.0.0/16), a third VPC.
const THIRD_VPC: &str = "[[vpc]]\nid = \"vpc-c\"\ncidr = \"10.2.0.0/16\"\n";

/// A NAT gateway in subnet-a (`extra`: more fields).
fn nat(id: &str, extra: &str) -> String {
    format!("[[nat_gateway]]\nid = \"{id}\"\nsubnet = \"subnet-a\"\n{extra}")
}

/// subnet-a made public: an internet gateway and a main table routing 0.0.0.0/0 to it.
fn public_subnet() -> String {
    format!(
        "{}[[route_table]]\nid = \"rtb-pub\"\nvpc = \"vpc-demo\"\nmain = true\nroutes = [{{ destination = \"0.0.0.0/0\", target = \"igw-a\" }}]\n",
        igw("igw-a", INET)
    )
}

/// A public subnet, an Elastic IP `eipalloc-n` and a public NAT gateway `nat-a` using
/// it (`extra`: more fields of the gateway).
fn public_nat(extra: &str) -> String {
    format!(
        "{}{}{}",
        public_subnet(),
        eip("eipalloc-n", "198.51.100.50", ""),
        nat("nat-a", &format!("allocation_id = \"eipalloc-n\"\n{extra}"))
    )
}

/// A path in the temporary directory (which exists) for a flow log file.
fn fl_path(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("vpcctl-validate-{name}.log"))
        .to_string_lossy()
        .into_owned()
}

/// A flow log `id` with the given body (TOML lines after the id).
fn fl(id: &str, body: &str) -> String {
    format!("[[flow_log]]\nid = \"{id}\"\n{body}")
}

/// A valid flow log body on `resource` with `extra` lines, writing to its own file.
fn fl_on(name: &str, resource: &str, extra: &str) -> String {
    format!(
        "resource = \"{resource}\"\ntraffic_type = \"ALL\"\nlog_destination = \"{}\"\n{extra}",
        fl_path(name)
    )
}
