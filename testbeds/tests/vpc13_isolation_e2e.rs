//! End-to-end tests of tenant isolation (issue VPC-13, item 3): a hostile tenant in a real
//! namespace, on a real TAP of a real `vpcd`, tries to impersonate another ENI (its IP
//! address, its MAC address), to poison a neighbour's ARP cache, to reach a VPC it is not
//! peered with, to reach a NAT gateway's private side from the internet, to use a peer's
//! gateways, and to read another instance's metadata. Each attempt is asserted twice: on
//! the victim's side (tcpdump in the victim's namespace, ready once it says "listening on",
//! ended after a marker packet that must arrive after the attempt) nothing of it arrived,
//! and vpcd counted the drop by reason (`vpcctl show`).
//!
//! Tools: ping, socat, curl, busybox arping, tcpdump, python3 (an `AF_PACKET` socket for
//! hand-made ARP replies), python3 http.server.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use dataplane::vpc::verdict::DropReason;
use testbeds::process::Stream;
use testbeds::{MacAddr, Netns, NsChild};

mod common;
use common::{
    curl_blocked, curl_ok, curl_url, drops, expect_drops, expect_uplink_drops, http_server, ip,
    ping, ping_ok, ping_unanswered, start, sysctl, tcpdump, uplink, CMD,
};

// --- captures and markers ------------------------------------------------------------------

/// The payload size of marker pings, and the ICMP length tcpdump prints for them.
const MARKER_SIZE: &str = "1234";
const MARKER_LEN: &str = "length 1242";

/// tcpdump on eth0 of `ns` (link-level headers, no name resolution) for `filter`, listening.
fn capture(ns: &Netns, filter: &str) -> NsChild {
    tcpdump(
        ns,
        &[
            "-n",
            "-l",
            "-e",
            "-p",
            "--immediate-mode",
            "-i",
            "eth0",
            filter,
        ],
    )
}

/// Sends one marker ping from `from` to `dst` (answered), waits until `cap` printed it (as
/// an echo `kind`: `request` or `reply`), then ends the capture and returns its text: every
/// packet the victim received before the marker is in it.
fn close_with_marker(cap: &mut NsChild, from: &Netns, dst: &str, kind: &str) -> String {
    let (r, out) = ping(from, &["-c", "1", "-W", "2", "-s", MARKER_SIZE, dst]);
    assert!(r.all_received(), "marker {} -> {dst}: {out}", from.name());
    let want = format!("ICMP echo {kind},");
    cap.wait_for_line(
        |s, l| s == Stream::Stdout && l.contains(&want) && l.contains(MARKER_LEN),
        CMD,
    )
    .unwrap_or_else(|e| panic!("marker {} -> {dst} not captured: {e}", from.name()));
    cap.terminate(Duration::from_secs(2));
    cap.stdout_text()
}

/// The lines of `text` that mention `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

// --- one VPC with an attacker and its neighbours ---------------------------------------------

const ATK: &str = "eni-atk";
const ATK_IP: &str = "10.0.1.10";
const VIC: &str = "eni-vic";
const VIC_IP: &str = "10.0.1.20";
const NBR: &str = "eni-nbr";
const NBR_IP: &str = "10.0.1.30";
const FAR: &str = "eni-far";
const FAR_IP: &str = "10.0.2.40";
const ROUTER_IP: &str = "10.0.1.1";

/// vpc-t 10.0.0.0/16: subnet-a 10.0.1.0/24 holds the attacker (10.0.1.10), the victim
/// (10.0.1.20) and a neighbour (10.0.1.30); subnet-b 10.0.2.0/24 holds `far` (10.0.2.40).
/// Everyone is in a group open to everything, so that only vpcd's checks stand between
/// the attacker and the others.
const ONE_VPC: &str = r#"
[lab]
region = "eu-west-1"

[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-t"
main = true

[[subnet]]
id = "subnet-a"
vpc = "vpc-t"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-t"
cidr = "10.0.2.0/24"

[[security_group]]
id = "sg-open"
vpc = "vpc-t"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-atk"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "atk"
security_groups = ["sg-open"]

[[eni]]
id = "eni-vic"
subnet = "subnet-a"
private_ip = "10.0.1.20"
netns = "vic"
security_groups = ["sg-open"]

[[eni]]
id = "eni-nbr"
subnet = "subnet-a"
private_ip = "10.0.1.30"
netns = "nbr"
security_groups = ["sg-open"]

[[eni]]
id = "eni-far"
subnet = "subnet-b"
private_ip = "10.0.2.40"
netns = "far"
security_groups = ["sg-open"]
"#;

// --- 1. spoofed source IP and MAC ---------------------------------------------------------------

/// The attacker adds the victim's address as a secondary one and sends with it as the
/// source (ping -I, UDP with socat), to a neighbour in its subnet and to an instance in
/// another subnet: `src_ip_spoofed` on the attacker; neither target's capture shows the
/// victim's address as a source, and the victim (who would get the answers) sees nothing.
#[test]
fn a_tenant_cannot_send_with_another_enis_ip_address() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(ONE_VPC);
    let (atk, vic, nbr, far) = (lab.ns(ATK), lab.ns(VIC), lab.ns(NBR), lab.ns(FAR));
    let mut caps = [
        (VIC, capture(vic, "ip")),
        (NBR, capture(nbr, "ip")),
        (FAR, capture(far, "ip")),
    ];
    // The attacker's neighbour entries are resolved first (with its own address), so that
    // its forged packets leave at once.
    ping_ok(atk, NBR_IP);
    ping_ok(atk, FAR_IP);
    atk.ip(&["addr", "add", &format!("{VIC_IP}/32"), "dev", "eth0"])
        .unwrap();

    let before = drops(&lab, ATK, DropReason::SourceIpSpoofed);
    for dst in [NBR_IP, FAR_IP] {
        let r = ping_unanswered(atk, dst, 3, &["-I", VIC_IP]);
        assert_eq!((r.transmitted, r.received), (3, 0), "spoofed ping -> {dst}");
        atk.exec_ok(
            &[
                "sh",
                "-c",
                &format!("echo spoof | socat -u STDIN UDP4-SENDTO:{dst}:9999,bind={VIC_IP}"),
            ],
            CMD,
        )
        .unwrap();
    }
    let n = lab
        .wait_drops(
            ATK,
            DropReason::SourceIpSpoofed,
            before + 8,
            common::COUNTER_WAIT,
        )
        .unwrap();
    assert!(n >= before + 8, "src_ip_spoofed {before} -> {n}");

    // Markers from the attacker's own address (which still works) close the captures of
    // the targets; the victim's own neighbour closes the victim's.
    for (eni, cap) in &mut caps {
        let text = match *eni {
            VIC => close_with_marker(cap, nbr, VIC_IP, "request"),
            NBR => close_with_marker(cap, atk, NBR_IP, "request"),
            _ => close_with_marker(cap, atk, FAR_IP, "request"),
        };
        // (The marker to the victim and its answer are the only lines about it.)
        let forged: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(VIC_IP) && !l.contains(MARKER_LEN))
            .collect();
        assert!(
            forged.is_empty(),
            "{eni} received packets forged with {VIC_IP}, or answers to them:\n{text}"
        );
    }
    for e in [VIC, NBR, FAR] {
        assert_eq!(drops(&lab, e, DropReason::SourceIpSpoofed), 0, "{e}");
    }
}

/// The attacker takes the victim's MAC address (and, in a second round, its IP address as
/// well) and pings a neighbour and an instance in another subnet: `src_mac_spoofed` on the
/// attacker (its ARP requests too); no capture shows the victim's MAC coming from anyone
/// but the victim, and the victim gets no answers meant for the impostor.
#[test]
fn a_tenant_cannot_send_with_another_enis_mac_address() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(ONE_VPC);
    let (atk, vic, nbr, far) = (lab.ns(ATK), lab.ns(VIC), lab.ns(NBR), lab.ns(FAR));
    let vic_mac = lab.eni_mac(VIC).unwrap().to_string();
    let mut caps = [
        (VIC, capture(vic, "ip or arp")),
        (NBR, capture(nbr, "ip or arp")),
        (FAR, capture(far, "ip or arp")),
    ];
    atk.ip(&["link", "set", "dev", "eth0", "address", &vic_mac])
        .unwrap();
    // Static neighbour entries (after the change of address, which flushes the table): the
    // forged frames leave without the ARP that the new MAC would need first (refused too).
    for (addr, mac) in [
        (NBR_IP, lab.eni_mac(NBR).unwrap()),
        (ROUTER_IP, lab.router_mac(ATK).unwrap()),
    ] {
        atk.ip(&[
            "neigh",
            "replace",
            addr,
            "lladdr",
            &mac.to_string(),
            "dev",
            "eth0",
            "nud",
            "permanent",
        ])
        .unwrap();
    }
    assert_eq!(atk.link_mac("eth0").unwrap().to_string(), vic_mac);

    let before = drops(&lab, ATK, DropReason::SourceMacSpoofed);
    let mut seen = vec![before];
    for dst in [NBR_IP, FAR_IP] {
        let r = ping_unanswered(atk, dst, 3, &[]);
        assert_eq!((r.transmitted, r.received), (3, 0), "ping -> {dst}");
        seen.push(expect_drops(
            &lab,
            ATK,
            DropReason::SourceMacSpoofed,
            *seen.last().unwrap(),
        ));
    }
    // Full impersonation: the victim's MAC and its IP address.
    atk.ip(&["addr", "add", &format!("{VIC_IP}/32"), "dev", "eth0"])
        .unwrap();
    let r = ping_unanswered(atk, NBR_IP, 2, &["-I", VIC_IP]);
    assert_eq!(r.received, 0);
    let n = lab
        .wait_drops(
            ATK,
            DropReason::SourceMacSpoofed,
            before + 8,
            common::COUNTER_WAIT,
        )
        .unwrap();
    assert!(
        n >= before + 8,
        "src_mac_spoofed {seen:?} -> {n}; counters: {:?}",
        lab.counters(ATK).unwrap().drop_map()
    );

    for (eni, cap) in &mut caps {
        let text = match *eni {
            VIC => close_with_marker(cap, nbr, VIC_IP, "request"),
            NBR => close_with_marker(cap, vic, NBR_IP, "request"),
            _ => close_with_marker(cap, vic, FAR_IP, "request"),
        };
        // The victim's MAC appears (the marker comes from the victim), but nothing of the
        // impostor's: no echo request from 10.0.1.10 or from a forged 10.0.1.20 other than
        // the marker, no ARP of the impostor.
        let forged: Vec<&str> = text
            .lines()
            .filter(|l| {
                (l.contains(&format!("{ATK_IP} >"))
                    || (l.contains(&format!("{VIC_IP} >")) && l.contains("echo request")))
                    && !l.contains(MARKER_LEN)
            })
            .collect();
        assert!(
            forged.is_empty(),
            "{eni} received the impostor's packets:\n{text}"
        );
        if *eni == VIC {
            assert!(
                lines_with(&text, "echo reply")
                    .iter()
                    .all(|l| l.contains(MARKER_LEN)),
                "the victim got answers meant for the impostor:\n{text}"
            );
        }
    }
}

// --- 2. ARP poisoning ---------------------------------------------------------------------------

/// Sends hand-made ARP frames from the interface's own MAC: args ifname, Ethernet
/// destination, op (1 request, 2 reply), sender MAC, sender IP, target MAC, target IP,
/// count.
const ARP_SEND: &str = r#"
import socket, struct, sys
ifname, dst, op, sha, spa, tha, tpa, count = sys.argv[1:9]
mac = lambda s: bytes.fromhex(s.replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
own = s.getsockname()[4]
frame = (mac(dst) + own + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, int(op))
         + mac(sha) + socket.inet_aton(spa) + mac(tha) + socket.inet_aton(tpa))
for _ in range(int(count)):
    s.send(frame)
print("sent", count)
"#;

/// Sends `count` ARP frames from `ns` (see [`ARP_SEND`]).
#[allow(clippy::too_many_arguments)]
fn arp_send(ns: &Netns, dst: &str, op: u8, sha: &str, spa: &str, tha: &str, tpa: &str, n: u32) {
    let (op, n) = (op.to_string(), n.to_string());
    ns.exec_ok(
        &[
            "python3", "-c", ARP_SEND, "eth0", dst, &op, sha, spa, tha, tpa, &n,
        ],
        CMD,
    )
    .unwrap();
}

/// The MAC address `ns`'s neighbour table maps `addr` to on eth0.
fn neigh_mac(ns: &Netns, addr: &str) -> Option<MacAddr> {
    ns.neigh("eth0")
        .unwrap()
        .into_iter()
        .find(|n| n.ip == ip(addr))
        .and_then(|n| n.mac)
}

/// The attacker claims the router's address and the neighbour's, as gratuitous ARP
/// (busybox `arping -U`, broadcast), as unsolicited ARP replies (`arping -A`) and as ARP
/// replies sent straight to the victim's MAC (python, `AF_PACKET`): `src_ip_spoofed` on the
/// attacker for every one of them; the victim's capture shows no ARP from the attacker's
/// MAC, and its neighbour table still maps the router and the neighbour to their own MACs.
#[test]
fn a_tenant_cannot_poison_a_neighbours_arp_cache() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(ONE_VPC);
    let (atk, vic, nbr) = (lab.ns(ATK), lab.ns(VIC), lab.ns(NBR));
    let atk_mac = lab.eni_mac(ATK).unwrap().to_string();
    let vic_mac = lab.eni_mac(VIC).unwrap().to_string();
    let router_mac = lab.router_mac(VIC).unwrap();
    let nbr_mac = lab.eni_mac(NBR).unwrap();
    // The victim knows both addresses (entries an attacker would overwrite).
    ping_ok(vic, ROUTER_IP);
    ping_ok(vic, NBR_IP);
    assert_eq!(neigh_mac(vic, ROUTER_IP), Some(router_mac));
    assert_eq!(neigh_mac(vic, NBR_IP), Some(nbr_mac));
    let mut cap = capture(vic, "arp or icmp");
    // arping binds its probe socket to the claimed source address.
    sysctl(atk, "net.ipv4.ip_nonlocal_bind=1");

    let before = drops(&lab, ATK, DropReason::SourceIpSpoofed);
    for claimed in [ROUTER_IP, NBR_IP] {
        for mode in ["-U", "-A"] {
            // arping may wait for answers that never come: its exit status is not the point.
            let out = atk
                .exec(
                    &[
                        "busybox", "arping", mode, "-c", "2", "-w", "2", "-I", "eth0", "-s",
                        claimed, claimed,
                    ],
                    CMD,
                )
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("bind"),
                "arping {mode} -s {claimed}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // "CLAIMED is at the attacker's MAC", straight to the victim.
        arp_send(atk, &vic_mac, 2, &atk_mac, claimed, &vic_mac, VIC_IP, 3);
    }
    // 2 addresses × (2 + 2 arping frames + 3 replies).
    let n = lab
        .wait_drops(
            ATK,
            DropReason::SourceIpSpoofed,
            before + 14,
            common::COUNTER_WAIT,
        )
        .unwrap();
    assert!(
        n >= before + 14,
        "src_ip_spoofed {before} -> {n}; counters: {:?}",
        lab.counters(ATK).unwrap().drop_map()
    );

    let text = close_with_marker(&mut cap, nbr, VIC_IP, "request");
    let seen = lines_with(&text, &atk_mac);
    assert!(
        seen.is_empty(),
        "the victim saw the attacker's ARP: {seen:#?}"
    );
    assert!(
        lines_with(&text, "ARP")
            .iter()
            .all(|l| !l.contains(&format!("Reply {ROUTER_IP}"))
                || l.contains(&router_mac.to_string())),
        "a reply for the router with another MAC reached the victim:\n{text}"
    );
    assert_eq!(neigh_mac(vic, ROUTER_IP), Some(router_mac), "router entry");
    assert_eq!(neigh_mac(vic, NBR_IP), Some(nbr_mac), "neighbour entry");
    ping_ok(vic, ROUTER_IP);
    ping_ok(vic, NBR_IP);
}

// --- 3. another VPC without a peering -----------------------------------------------------------

/// vpc-a 10.0.0.0/16 (a1 10.0.1.10), vpc-b with the same CIDR (b1 10.0.1.20, in a subnet
/// with the same range), vpc-c 10.9.0.0/16 (c1 10.9.1.10); no peering at all.
const THREE_VPCS: &str = r#"
[[vpc]]
id = "vpc-a"
cidr = "10.0.0.0/16"

[[vpc]]
id = "vpc-b"
cidr = "10.0.0.0/16"

[[vpc]]
id = "vpc-c"
cidr = "10.9.0.0/16"

[[route_table]]
id = "rtb-a"
vpc = "vpc-a"
main = true

[[route_table]]
id = "rtb-b"
vpc = "vpc-b"
main = true

[[route_table]]
id = "rtb-c"
vpc = "vpc-c"
main = true

[[subnet]]
id = "subnet-a"
vpc = "vpc-a"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-b"
vpc = "vpc-b"
cidr = "10.0.1.0/24"

[[subnet]]
id = "subnet-c"
vpc = "vpc-c"
cidr = "10.9.1.0/24"

[[security_group]]
id = "sg-a"
vpc = "vpc-a"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[security_group]]
id = "sg-b"
vpc = "vpc-b"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[security_group]]
id = "sg-c"
vpc = "vpc-c"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-a1"
subnet = "subnet-a"
private_ip = "10.0.1.10"
netns = "a1"
security_groups = ["sg-a"]

[[eni]]
id = "eni-b1"
subnet = "subnet-b"
private_ip = "10.0.1.20"
netns = "b1"
security_groups = ["sg-b"]

[[eni]]
id = "eni-c1"
subnet = "subnet-c"
private_ip = "10.9.1.10"
netns = "c1"
security_groups = ["sg-c"]
"#;

/// a1 tries b1 (overlapping CIDR: its ARP for 10.0.1.20 gets no answer, and a static
/// neighbour entry with b1's MAC is `unknown_dst_mac`) and c1 (distinct CIDR: `no_route`
/// by its default route via the router; a static neighbour entry with c1's MAC:
/// `unknown_dst_mac`). Neither victim's capture shows anything from a1.
#[test]
fn a_tenant_cannot_reach_another_vpc_without_a_peering() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(THREE_VPCS);
    let (a1, b1, c1) = (lab.ns("eni-a1"), lab.ns("eni-b1"), lab.ns("eni-c1"));
    let mut cap_b = capture(b1, "ip or arp");
    let mut cap_c = capture(c1, "ip or arp");
    let a_mac = lab.eni_mac("eni-a1").unwrap().to_string();

    // Overlapping: nobody in vpc-a owns 10.0.1.20.
    let ignored = lab.counters("eni-a1").unwrap().arp_ignored;
    let r = ping_unanswered(a1, "10.0.1.20", 2, &[]);
    assert_eq!(r.received, 0);
    assert!(lab.counters("eni-a1").unwrap().arp_ignored > ignored);
    // Distinct: the default route leads to the router, which has no route.
    let before = drops(&lab, "eni-a1", DropReason::NoRoute);
    let r = ping_unanswered(a1, "10.9.1.10", 3, &[]);
    assert_eq!(r.received, 0);
    expect_drops(&lab, "eni-a1", DropReason::NoRoute, before);
    curl_blocked(a1, "10.9.1.10");

    // Straight at the other VPCs' MACs, as if they were on the same link.
    let unknown = drops(&lab, "eni-a1", DropReason::UnknownDestinationMac);
    for (eni, addr) in [("eni-b1", "10.0.1.20"), ("eni-c1", "10.9.1.10")] {
        let mac = lab.eni_mac(eni).unwrap().to_string();
        a1.ip(&["route", "replace", &format!("{addr}/32"), "dev", "eth0"])
            .unwrap();
        a1.ip(&[
            "neigh",
            "replace",
            addr,
            "lladdr",
            &mac,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ])
        .unwrap();
        let r = ping_unanswered(a1, addr, 2, &[]);
        assert_eq!(r.received, 0, "a1 -> {addr} by {eni}'s MAC");
    }
    let n = lab
        .wait_drops(
            "eni-a1",
            DropReason::UnknownDestinationMac,
            unknown + 4,
            common::COUNTER_WAIT,
        )
        .unwrap();
    assert!(
        n >= unknown + 4,
        "unknown_dst_mac {unknown} -> {n}; counters: {:?}",
        lab.counters("eni-a1").unwrap().drop_map()
    );

    for (cap, ns, router) in [(&mut cap_b, b1, "10.0.1.1"), (&mut cap_c, c1, "10.9.1.1")] {
        let text = close_with_marker(cap, ns, router, "reply");
        assert!(
            lines_with(&text, "10.0.1.10 >").is_empty() && lines_with(&text, &a_mac).is_empty(),
            "{} received a1's packets:\n{text}",
            ns.name()
        );
    }
}

// --- 4. a NAT gateway's private side from the internet ------------------------------------------

const IGW: &str = "igw-t";
const HOST: &str = "203.0.113.5";
const NAT_EIP: &str = "198.51.100.7";
const NAT_IP: &str = "10.0.1.220";
const APP: &str = "eni-app1";
const APP_IP: &str = "10.0.2.20";

/// vpc-t 10.0.0.0/16: subnet-pub 10.0.1.0/24 routes `0.0.0.0/0` to igw-t and holds nat-t
/// (10.0.1.220, Elastic IP 198.51.100.7); subnet-priv 10.0.2.0/24 routes `0.0.0.0/0` to
/// nat-t and holds app1 (10.0.2.20) in a group open to everything. The internet namespace
/// 203.0.113.0/24 (gateway .1, host .5).
const NAT_VPC: &str = r#"
[[vpc]]
id = "vpc-t"
cidr = "10.0.0.0/16"

[[route_table]]
id = "rtb-main"
vpc = "vpc-t"
main = true

[[route_table]]
id = "rtb-public"
vpc = "vpc-t"
routes = [{ destination = "0.0.0.0/0", target = "igw-t" }]

[[route_table]]
id = "rtb-priv"
vpc = "vpc-t"
routes = [{ destination = "0.0.0.0/0", target = "nat-t" }]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-t"
cidr = "10.0.1.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-priv"
vpc = "vpc-t"
cidr = "10.0.2.0/24"
route_table = "rtb-priv"

[[internet_gateway]]
id = "igw-t"
vpc = "vpc-t"
internet = { netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

[[security_group]]
id = "sg-open"
vpc = "vpc-t"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-app1"
subnet = "subnet-priv"
private_ip = "10.0.2.20"
netns = "app1"
security_groups = ["sg-open"]

[[nat_gateway]]
id = "nat-t"
subnet = "subnet-pub"
connectivity = "public"
allocation_id = "eipalloc-nat"
private_ip = "10.0.1.220"

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "198.51.100.7"
"#;

/// The private instance reaches the internet through the NAT gateway; from the internet,
/// the Elastic IP on a port without a translation (TCP 80, 22; ping) is `nat_no_translation`
/// and the private addresses (the instance's, the gateway's) are `igw_no_public_mapping`,
/// both on the uplink. The instance's capture shows nothing from the internet host but the
/// answers to its own connection, and its server logs no request.
#[test]
fn the_internet_cannot_reach_a_nat_gateways_private_side() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(NAT_VPC);
    let (inet, app) = (lab.internet(IGW), lab.ns(APP));
    let _host = http_server(inet, HOST, "the internet");
    curl_ok(app, HOST, "the internet");
    let web = http_server(app, "0.0.0.0", "app1");
    let mut cap = capture(app, "ip");

    let nat = DropReason::NatNoTranslation;
    let mut b = uplink(&lab, IGW).drops[nat.index()];
    for url in [
        format!("http://{NAT_EIP}/"),
        format!("http://{NAT_EIP}:22/"),
    ] {
        assert!(curl_url(inet, &url, 2).is_err(), "{url} answered");
        b = expect_uplink_drops(&lab, IGW, nat, b);
    }
    let r = ping_unanswered(inet, NAT_EIP, 2, &[]);
    assert_eq!(r.received, 0);
    expect_uplink_drops(&lab, IGW, nat, b);

    let mapping = DropReason::IgwNoPublicMapping;
    let mut b = uplink(&lab, IGW).drops[mapping.index()];
    for dst in [APP_IP, NAT_IP] {
        curl_blocked(inet, dst);
        b = expect_uplink_drops(&lab, IGW, mapping, b);
        let r = ping_unanswered(inet, dst, 2, &[]);
        assert_eq!(r.received, 0, "{dst} answered the internet");
        b = expect_uplink_drops(&lab, IGW, mapping, b);
    }

    let text = close_with_marker(&mut cap, app, HOST, "reply");
    let from_inet: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&format!("{HOST}.")) || l.contains(&format!("{HOST} >")))
        .filter(|l| !l.contains(MARKER_LEN))
        .collect();
    assert!(
        from_inet.is_empty(),
        "the private instance received from the internet: {from_inet:#?}"
    );
    assert!(!web.log().contains("GET"), "{}", web.log());
}

// --- 5. a peer's gateways (edge-to-edge) ---------------------------------------------------------

/// vpc-a 10.0.0.0/16 owns igw-a and nat-a (subnet-a-pub 10.0.1.0/24 → igw-a, with a1
/// 10.0.1.10 and its public IP 198.51.100.10, and the NAT gateway at 10.0.1.220;
/// subnet-a-priv 10.0.2.0/24 → nat-a, with a2 10.0.2.20). vpc-b 10.1.0.0/16 (b1 10.1.1.10)
/// is peered with vpc-a by pcx-ab and routes `B_DEFAULT` (10.0.0.0/16 and `0.0.0.0/0`) to
/// it; vpc-a routes 10.1.0.0/16 back.
const PEERS: &str = r#"
[[vpc]]
id = "vpc-a"
cidr = "10.0.0.0/16"

[[vpc]]
id = "vpc-b"
cidr = "10.1.0.0/16"

[[route_table]]
id = "rtb-a-main"
vpc = "vpc-a"
main = true

[[route_table]]
id = "rtb-a-pub"
vpc = "vpc-a"
routes = [{ destination = "10.1.0.0/16", target = "pcx-ab" }, { destination = "0.0.0.0/0", target = "igw-a" }]

[[route_table]]
id = "rtb-a-priv"
vpc = "vpc-a"
routes = [{ destination = "10.1.0.0/16", target = "pcx-ab" }, { destination = "0.0.0.0/0", target = "nat-a" }]

[[route_table]]
id = "rtb-b-main"
vpc = "vpc-b"
main = true
routes = [{ destination = "10.0.0.0/16", target = "pcx-ab" }, B_DEFAULT]

[[subnet]]
id = "subnet-a-pub"
vpc = "vpc-a"
cidr = "10.0.1.0/24"
route_table = "rtb-a-pub"

[[subnet]]
id = "subnet-a-priv"
vpc = "vpc-a"
cidr = "10.0.2.0/24"
route_table = "rtb-a-priv"

[[subnet]]
id = "subnet-b"
vpc = "vpc-b"
cidr = "10.1.1.0/24"

[[security_group]]
id = "sg-a"
vpc = "vpc-a"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[security_group]]
id = "sg-b"
vpc = "vpc-b"
inbound = [{ protocol = "-1", source = "0.0.0.0/0" }]

[[eni]]
id = "eni-a1"
subnet = "subnet-a-pub"
private_ip = "10.0.1.10"
public_ip = "198.51.100.10"
netns = "a1"
security_groups = ["sg-a"]

[[eni]]
id = "eni-a2"
subnet = "subnet-a-priv"
private_ip = "10.0.2.20"
netns = "a2"
security_groups = ["sg-a"]

[[eni]]
id = "eni-b1"
subnet = "subnet-b"
private_ip = "10.1.1.10"
netns = "b1"
security_groups = ["sg-b"]

[[internet_gateway]]
id = "igw-a"
vpc = "vpc-a"
internet = { netns = "inet", cidr = "203.0.113.0/24", gateway = "203.0.113.1", hosts = ["203.0.113.5"] }

[[nat_gateway]]
id = "nat-a"
subnet = "subnet-a-pub"
connectivity = "public"
allocation_id = "eipalloc-nat"
private_ip = "10.0.1.220"

[[elastic_ip]]
id = "eipalloc-nat"
public_ip = "198.51.100.7"

[[peering_connection]]
id = "pcx-ab"
requester_vpc = "vpc-a"
accepter_vpc = "vpc-b"
status = "active"
"#;

fn peers(b_default: &str) -> String {
    PEERS.replace(
        "B_DEFAULT",
        &format!("{{ destination = \"0.0.0.0/0\", target = \"{b_default}\" }}"),
    )
}

/// Validation refuses routes in vpc-b's table to vpc-a's internet gateway and NAT gateway
/// (another VPC's gateways); it accepts `0.0.0.0/0` to the peering, and then vpc-a's own
/// instances reach the internet host through both gateways while b1's packets for the host
/// and for a1's public IP are `pcx_address_not_in_vpc_cidr` on b1: the internet's capture
/// shows nothing from b1 (nor anything but vpc-a's own public addresses), the host's server
/// logs only vpc-a's requests. The internet cannot reach b1 either.
#[test]
fn a_tenant_cannot_use_a_peers_gateways() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&peers("pcx-ab"));
    for gw in ["igw-a", "nat-a"] {
        let errs = lab
            .compile(&peers(gw))
            .map(|_| ())
            .expect_err(&format!("vpc-b's route 0.0.0.0/0 -> {gw} was accepted"));
        assert!(
            errs.iter().any(|e| e.contains(gw)),
            "refusal does not name {gw}: {errs:?}"
        );
    }

    let inet = lab.internet("igw-a");
    let (a1, a2, b1) = (lab.ns("eni-a1"), lab.ns("eni-a2"), lab.ns("eni-b1"));
    let mut host = http_server(inet, HOST, "the internet");
    let mut cap = capture(inet, "ip");
    curl_ok(a1, HOST, "the internet");
    assert_eq!(host.next_client("/").ip(), ip("198.51.100.10"));
    curl_ok(a2, HOST, "the internet");
    assert_eq!(host.next_client("/").ip(), ip(NAT_EIP));

    let pcx = DropReason::PcxAddressNotInVpcCidr;
    let mut before = drops(&lab, "eni-b1", pcx);
    curl_blocked(b1, HOST);
    before = expect_drops(&lab, "eni-b1", pcx, before);
    for dst in [HOST, "198.51.100.10", NAT_EIP] {
        let r = ping_unanswered(b1, dst, 2, &[]);
        assert_eq!(r.received, 0, "b1 -> {dst}");
        before = expect_drops(&lab, "eni-b1", pcx, before);
    }
    // The other way: the internet host for b1's private address.
    let mapping = DropReason::IgwNoPublicMapping;
    let b = uplink(&lab, "igw-a").drops[mapping.index()];
    let r = ping_unanswered(inet, "10.1.1.10", 2, &[]);
    assert_eq!(r.received, 0);
    expect_uplink_drops(&lab, "igw-a", mapping, b);

    let text = close_with_marker(&mut cap, a2, HOST, "request");
    // Every IPv4 packet is vpc-a's (its public addresses) or the host's own ping to b1.
    let ours =
        |l: &str| l.contains("198.51.100.10") || l.contains(NAT_EIP) || l.contains("> 10.1.1.10:");
    let foreign: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" IPv4") && !ours(l))
        .collect();
    assert!(
        lines_with(&text, "10.1.1.10 >").is_empty() && foreign.is_empty(),
        "the internet saw traffic that is not vpc-a's own: {foreign:#?}\n{text}"
    );
    assert_eq!(host.log().matches("\"GET / ").count(), 2, "{}", host.log());
}

// --- 6. another instance's metadata ---------------------------------------------------------------

/// `curl -s ARGS… http://169.254.169.254PATH` in `ns`: (HTTP status, body).
fn metadata(ns: &Netns, path: &str, args: &[&str]) -> (u16, String) {
    let url = format!("http://169.254.169.254{path}");
    let mut argv = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
    argv.extend_from_slice(args);
    argv.push(&url);
    let out = ns.exec(&argv, CMD).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The metadata service answers each instance about itself: local-ipv4, mac, instance-id
/// and the identity document of the attacker and the victim are their own; the attacker
/// cannot read the victim's interface entry by its MAC (404); a token issued to the
/// attacker is refused on the victim (401) and vice versa, while each works at home; and
/// a request with the victim's address as the source never reaches the service
/// (`src_ip_spoofed`).
#[test]
fn a_tenant_cannot_read_another_instances_metadata() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(ONE_VPC);
    let (atk, vic) = (lab.ns(ATK), lab.ns(VIC));
    let vic_mac = lab.eni_mac(VIC).unwrap().to_string();

    let mut ids = Vec::new();
    for (ns, addr, eni) in [(atk, ATK_IP, ATK), (vic, VIC_IP, VIC)] {
        assert_eq!(
            metadata(ns, "/latest/meta-data/local-ipv4", &[]),
            (200, addr.to_string()),
            "{eni}"
        );
        assert_eq!(
            metadata(ns, "/latest/meta-data/mac", &[]),
            (200, lab.eni_mac(eni).unwrap().to_string()),
            "{eni}"
        );
        let (code, doc) = metadata(ns, "/latest/dynamic/instance-identity/document", &[]);
        assert_eq!(code, 200);
        let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(doc["privateIp"], addr, "{eni}: {doc}");
        let (code, id) = metadata(ns, "/latest/meta-data/instance-id", &[]);
        assert_eq!(code, 200);
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "both instances got the same instance-id");

    // The victim's interface entry, by its MAC, from the attacker.
    for leaf in ["local-ipv4s", "subnet-id", ""] {
        let path = format!("/latest/meta-data/network/interfaces/macs/{vic_mac}/{leaf}");
        let (code, body) = metadata(atk, &path, &[]);
        assert_ne!(code, 200, "{path} from the attacker: {body:?}");
        assert!(!body.contains(VIC_IP), "{path}: {body:?}");
    }

    // Tokens are per instance.
    let put = [
        "-X",
        "PUT",
        "-H",
        "X-aws-ec2-metadata-token-ttl-seconds: 60",
    ];
    let mut tokens = Vec::new();
    for ns in [atk, vic] {
        let (code, token) = metadata(ns, "/latest/api/token", &put);
        assert_eq!(code, 200, "{}", ns.name());
        tokens.push(format!("X-aws-ec2-metadata-token: {token}"));
    }
    for (ns, own, other) in [(atk, &tokens[0], &tokens[1]), (vic, &tokens[1], &tokens[0])] {
        let path = "/latest/meta-data/local-ipv4";
        assert_eq!(metadata(ns, path, &["-H", own]).0, 200, "{}", ns.name());
        let (code, body) = metadata(ns, path, &["-H", other]);
        assert_eq!(code, 401, "{}: the other's token: {body:?}", ns.name());
    }

    // Asking as the victim (its address as the source) is a spoofed packet.
    atk.ip(&["addr", "add", &format!("{VIC_IP}/32"), "dev", "eth0"])
        .unwrap();
    let before = drops(&lab, ATK, DropReason::SourceIpSpoofed);
    let out = atk
        .exec(
            &[
                "curl",
                "-s",
                "-m",
                "2",
                "--interface",
                VIC_IP,
                "http://169.254.169.254/latest/meta-data/local-ipv4",
            ],
            CMD,
        )
        .unwrap();
    assert!(
        !out.status.success(),
        "answered: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    expect_drops(&lab, ATK, DropReason::SourceIpSpoofed, before);
    let c = lab.counters(VIC).unwrap();
    assert_eq!(c.drops[DropReason::SourceIpSpoofed.index()], 0, "{c:?}");
}
