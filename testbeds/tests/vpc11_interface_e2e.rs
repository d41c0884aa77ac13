//! End-to-end test of the `interface` attachment (issue VPC-11): an ENI attached to an
//! existing interface, as a hypervisor's TAP or a veth is. The test plays the hypervisor:
//! in a namespace of the run it creates a veth pair, gives vpcd one end (`vif`, read and
//! written with `AF_PACKET` and its vnet header) and treats the other (`inst`, with the
//! ENI's MAC) as the instance's NIC. The instance configures itself by DHCP from the VPC
//! router through vpcd, pings an instance in another subnet, and sends a TCP stream whose
//! super-frames cross the `AF_PACKET` port whole.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use testbeds::Lab;

mod common;
use common::{ip, ping_ok, start};

/// The VPC: two subnets, an open group, and eni-b in subnet-b.
const BASE: &str = r#"
[[vpc]]
id = "vpc-if"
cidr = "10.0.0.0/16"

[[subnet]]
id = "subnet-a"
vpc = "vpc-if"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-if"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-open"
vpc = "vpc-if"
inbound = [{ protocol = "all", source = "10.0.0.0/16" }]
outbound = [{ protocol = "all", destination = "0.0.0.0/0" }]

[[eni]]
id = "eni-b"
subnet = "subnet-b"
private_ip = "10.0.2.20"
security_groups = ["sg-open"]
netns = "b"

"#;

/// The first topology adds a stand-in ENI in namespace `hv` so that the harness creates
/// the namespace the veth pair goes into (the second apply removes it).
const STANDIN: &str = r#"
[[eni]]
id = "eni-standin"
subnet = "subnet-a"
private_ip = "10.0.1.99"
security_groups = ["sg-open"]
netns = "hv"
addressing = "static"
"#;

/// The second adds eni-vm, attached to the existing interface `vif` in namespace `hv`.
const VM: &str = r#"
[[eni]]
id = "eni-vm"
subnet = "subnet-a"
private_ip = "10.0.1.30"
mac = "02:00:00:00:aa:01"
security_groups = ["sg-open"]
attachment = "interface"
interface = "vif"
netns = "hv"
"#;

#[test]
fn an_existing_interface_carries_an_instance_that_configures_itself() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let mut lab: Lab = start(&format!("{BASE}{STANDIN}"));
    let hv = lab.ns("eni-standin").clone();
    // The hypervisor's side: a veth pair, jumbo frames as the VPC has them.
    hv.ip(&[
        "link", "add", "vif", "mtu", "9001", "type", "veth", "peer", "name", "inst", "mtu", "9001",
    ])
    .unwrap();
    hv.ip(&["link", "set", "dev", "inst", "address", "02:00:00:00:aa:01"])
        .unwrap();
    hv.ip(&["link", "set", "dev", "vif", "up"]).unwrap();
    hv.ip(&["link", "set", "dev", "inst", "addrgenmode", "none"])
        .unwrap();
    hv.ip(&["link", "set", "dev", "inst", "up"]).unwrap();
    lab.apply(&format!("{BASE}{VM}")).unwrap();
    let report = lab.show().unwrap();
    let shown = control::render::show(&report);
    assert!(shown.contains("interface vif"), "{shown}");

    // The instance asks the VPC router for its address, through vif.
    let dir = testbeds::Scratch::new("vif-dhcp").unwrap();
    let (lease, client) = control::dhcp_client::start(
        "eni-vm",
        hv.name(),
        "inst",
        dir.path(),
        &control::dhcp_client::ClientOptions::default(),
    )
    .unwrap();
    assert_eq!(lease.ip.to_string(), "10.0.1.30", "{lease:?}");
    assert_eq!(lease.mtu, Some(9001));
    let route = hv.ip(&["-4", "route", "show", "default"]).unwrap();
    assert!(route.contains("via 10.0.1.1 dev inst"), "{route}");

    ping_ok(&hv, "10.0.2.20");
    // A TCP stream from the instance: the kernel hands the veth super-frames, which the
    // AF_PACKET port passes whole (with their vnet header) through the pipeline.
    let r =
        testbeds::traffic::tcp_transfer(lab.ns("eni-b"), ip("10.0.2.20"), 9300, &hv, 20_000_000)
            .unwrap();
    assert!(r.intact(), "{r:?}");
    eprintln!(
        "20 MB instance behind vif -> eni-b in {:?} ({:.2} Gbit/s)",
        r.elapsed,
        r.gbps()
    );
    let c = lab.counters("eni-vm").unwrap();
    assert!(c.dhcp_replies >= 2, "{c:?}");
    // Fewer frames than 1448-byte segments: super-frames crossed whole.
    assert!(c.rx_bytes >= 20_000_000, "{c:?}");
    assert!(c.rx_packets < 20_000_000 / 1448, "{c:?}");
    let _ = client.stop(Duration::from_secs(2));
}
