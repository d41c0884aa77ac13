//! End-to-end tests of the internet gateway (VPC-3): 1:1 NAT between public IPv4s (Elastic
//! IPs, an ENI's `public_ip`) and private addresses, the gateway's refusals, the 1500-byte
//! hop (ICMP "fragmentation needed", fragmentation, TCP path-MTU discovery), a NAT instance,
//! and an inbound network ACL in front of an Elastic IP — through real namespaces, real TAPs
//! and `vpcd`, with real clients (curl, python3 http.server, socat, ping, nftables).
//!
//! Every test builds its own topology on its own [`Lab`] (VPC 10.0.0.0/16; subnet-pub
//! 10.0.1.0/24 routing `0.0.0.0/0` to igw-t; subnet-priv 10.0.2.0/24 on the main table; the
//! internet namespace on 203.0.113.0/24 with the gateway at .1 and a host at .5; public
//! addresses from 198.51.100.0/24), so tests run in parallel. Readiness is a signal (the
//! HTTP server's `Serving HTTP` line, socat's `listening on`), counters are polled with a
//! deadline; nothing sleeps to synchronise.
//!
//! Drops of frames that came in from the internet are charged to the gateway's uplink;
//! drops of frames an ENI sent are charged to that ENI.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use dataplane::vpc::verdict::DropReason;
use testbeds::{Netns, NsChild};

mod common;
use common::{
    curl_blocked, curl_ok, drops, expect_drops, expect_uplink_drops, http_server, ip, nacl_denied,
    ping, ping_unanswered, python_ready, start, sysctl, uplink, CMD,
};

// --- topology text -------------------------------------------------------------------------

const IGW: &str = "igw-t";
/// The internet host (the namespace of igw-t).
const HOST: &str = "203.0.113.5";
/// The gateway's outside address.
const GW_OUTSIDE: &str = "203.0.113.1";

/// The VPC, its tables, two subnets, the internet gateway, and `sg-web` (HTTP from anywhere,
/// ICMP from anywhere, all out). `priv_table` associates a table with subnet-priv.
fn base(priv_table: Option<&str>) -> String {
    let priv_rt = priv_table
        .map(|t| format!("route_table = \"{t}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
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
routes = [{{ destination = "0.0.0.0/0", target = "{IGW}" }}]

[[subnet]]
id = "subnet-pub"
vpc = "vpc-t"
cidr = "10.0.1.0/24"
route_table = "rtb-public"

[[subnet]]
id = "subnet-priv"
vpc = "vpc-t"
cidr = "10.0.2.0/24"
{priv_rt}
[[internet_gateway]]
id = "{IGW}"
vpc = "vpc-t"
internet = {{ netns = "inet", cidr = "203.0.113.0/24", gateway = "{GW_OUTSIDE}", hosts = ["{HOST}"] }}

[[security_group]]
id = "sg-web"
vpc = "vpc-t"
inbound = [
  {{ protocol = "tcp", ports = "80", source = "0.0.0.0/0" }},
  {{ protocol = "icmp", source = "0.0.0.0/0" }},
]
"#
    )
}

/// An ENI in namespace `id` without its `eni-` prefix; no groups = the VPC's default group.
fn eni(id: &str, subnet: &str, addr: &str, groups: &[&str], extra: &str) -> String {
    let ns = id.trim_start_matches("eni-");
    let groups = if groups.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
        format!("security_groups = [{}]\n", quoted.join(", "))
    };
    format!(
        "\n[[eni]]\nid = \"{id}\"\nsubnet = \"{subnet}\"\nprivate_ip = \"{addr}\"\nnetns = \"{ns}\"\n{groups}{extra}\n"
    )
}

/// An Elastic IP associated with `eni`'s primary private address.
fn eip(id: &str, public: &str, eni: &str) -> String {
    format!("\n[[elastic_ip]]\nid = \"{id}\"\npublic_ip = \"{public}\"\neni = \"{eni}\"\n")
}

// --- servers and clients -------------------------------------------------------------------

/// A ping that must be fully answered.
fn ping_ok(ns: &Netns, dst: &str) {
    let r = ns.ping(ip(dst), 2, Duration::from_secs(5)).unwrap();
    assert_eq!(
        (r.transmitted, r.received),
        (2, 2),
        "ping {} -> {dst}",
        ns.name()
    );
}

/// Runs `ping -n ARGS` in `ns`: stdout and stderr together (errors are expected output here).
fn ping_text(ns: &Netns, args: &[&str]) -> String {
    let mut argv = vec!["ping", "-n"];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv, CMD).unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One `Ip:` counter of `/proc/net/snmp` in `ns` (e.g. `ReasmOKs`).
fn ip_stat(ns: &Netns, field: &str) -> u64 {
    let snmp = ns.exec_ok(&["cat", "/proc/net/snmp"], CMD).unwrap();
    let mut ip_lines = snmp.lines().filter(|l| l.starts_with("Ip:"));
    let (names, values) = (ip_lines.next().unwrap(), ip_lines.next().unwrap());
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == field)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no Ip: {field} in {snmp}"))
}

/// The route `ns` uses to reach `dst` (`ip route get`), with any cached PMTU.
fn route_get(ns: &Netns, dst: &str) -> String {
    ns.ip(&["route", "get", dst]).unwrap()
}

// --- 1. an Elastic IP both ways -----------------------------------------------------------------

/// The internet reaches a web server by its Elastic IP (and another by its `public_ip`) and
/// sees the real client address; the server reaches the internet, which sees the EIP.
#[test]
fn eip_serves_the_internet_and_egress_leaves_with_the_eip() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eni(
            "eni-web2",
            "subnet-pub",
            "10.0.1.11",
            &["sg-web"],
            "public_ip = \"198.51.100.60\"\n"
        ),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let web1 = lab.ns("eni-web1");

    // Inbound: internet → EIP → 10.0.1.10; the server sees the internet host itself.
    let mut srv1 = http_server(web1, "10.0.1.10", "web1");
    curl_ok(inet, "198.51.100.40", "web1");
    assert_eq!(
        srv1.next_client("/").ip().to_string(),
        HOST,
        "web1's access log"
    );
    // An ENI's own public IP works the same way.
    let mut srv2 = http_server(lab.ns("eni-web2"), "10.0.1.11", "web2");
    curl_ok(inet, "198.51.100.60", "web2");
    assert_eq!(
        srv2.next_client("/").ip().to_string(),
        HOST,
        "web2's access log"
    );
    // ICMP from anywhere is allowed by sg-web.
    ping_ok(inet, "198.51.100.40");

    // Outbound: web1 → internet host; the host sees the EIP, never the private address.
    let mut host = http_server(inet, HOST, "the internet");
    curl_ok(web1, HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.40",
        "host's access log"
    );
    curl_ok(lab.ns("eni-web2"), HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.60",
        "host's access log"
    );
    assert!(
        !host.log().contains("10.0.1."),
        "a private address reached the internet: {}",
        host.log()
    );
    // Nothing was dropped on the way.
    for e in ["eni-web1", "eni-web2"] {
        let m = lab.counters(e).unwrap().drop_map();
        assert!(
            m.keys()
                .all(|k| k == "ipv6_not_forwarded" || k == "multicast"),
            "{e}: {m:?}"
        );
    }
}

// --- 1b. hairpin through the internet gateway --------------------------------------------------

/// web1 reaches web2 by web2's Elastic IP: the packet turns around in the gateway (the
/// internet namespace forwards nothing: its kernel's `ip_forward` is off), web2's server
/// sees web1's Elastic IP, and nothing of it leaves on the uplink. web3, without a public
/// address, is dropped at the gateway (`igw_no_public_ip`).
#[test]
fn hairpin_through_the_gateway_between_elastic_ips() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eni("eni-web2", "subnet-pub", "10.0.1.11", &["sg-web"], ""),
        eni("eni-web3", "subnet-pub", "10.0.1.12", &["sg-web"], ""),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
        eip("eipalloc-web2", "198.51.100.41", "eni-web2"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let forwarding = inet
        .exec_ok(&["cat", "/proc/sys/net/ipv4/ip_forward"], CMD)
        .unwrap();
    assert_eq!(forwarding.trim(), "0", "the internet does not route");
    let mut srv = http_server(lab.ns("eni-web2"), "10.0.1.11", "web2");
    let sent_out = uplink(&lab, IGW).tx_packets;
    curl_ok(lab.ns("eni-web1"), "198.51.100.41", "web2");
    assert_eq!(
        srv.next_client("/").ip().to_string(),
        "198.51.100.40",
        "web2 sees web1's Elastic IP"
    );
    assert_eq!(
        uplink(&lab, IGW).tx_packets,
        sent_out,
        "nothing of the hairpin left on the uplink"
    );
    let before = drops(&lab, "eni-web3", DropReason::IgwNoPublicIp);
    curl_blocked(lab.ns("eni-web3"), "198.51.100.41");
    expect_drops(&lab, "eni-web3", DropReason::IgwNoPublicIp, before);
}

// --- 2. scenario 36: no public IP ------------------------------------------------------------

/// A1 in the public subnet without a public IP: its packets die at the gateway
/// (`igw_no_public_ip`, charged to A1); associating an Elastic IP fixes it at once and the
/// internet sees the EIP.
#[test]
fn s36_no_public_ip_is_dropped_at_the_gateway_until_an_eip_is_associated() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let without = format!(
        "{}{}",
        base(None),
        eni("eni-a1", "subnet-pub", "10.0.1.30", &[], "")
    );
    let mut lab = start(&without);
    let inet = lab.internet(IGW);
    let mut host = http_server(inet, HOST, "the internet");

    let before = drops(&lab, "eni-a1", DropReason::IgwNoPublicIp);
    curl_blocked(lab.ns("eni-a1"), HOST);
    expect_drops(&lab, "eni-a1", DropReason::IgwNoPublicIp, before);
    let r = ping_unanswered(lab.ns("eni-a1"), HOST, 2, &[]);
    assert_eq!(r.received, 0, "ping without a public IP");
    let c = uplink(&lab, IGW);
    assert_eq!(
        c.tx_packets,
        c.arp_replies + c.icmp_echo_replies,
        "nothing but the gateway's own answers may leave through {IGW}: {c:?}"
    );
    assert!(!host.log().contains("GET"), "{}", host.log());

    let with = format!("{without}{}", eip("eipalloc-a1", "198.51.100.41", "eni-a1"));
    lab.apply(&with).unwrap();
    curl_ok(lab.ns("eni-a1"), HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.41",
        "host's access log"
    );
}

// --- 3. what the internet cannot address ----------------------------------------------------

/// From the internet: a public address nobody holds is dropped (`igw_no_public_mapping`, on
/// the uplink); a private address cannot be addressed at all (the same drop; nothing reaches
/// the private ENI); a private source is refused (`igw_private_source`). From inside: a
/// private destination behind the gateway is refused (`igw_private_destination`).
#[test]
fn internet_cannot_address_unmapped_or_private_addresses() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eni("eni-app1", "subnet-priv", "10.0.2.20", &["sg-web"], ""),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let app = http_server(lab.ns("eni-app1"), "10.0.2.20", "app1");

    // A public address that is no one's.
    let b = uplink(&lab, IGW).drops[DropReason::IgwNoPublicMapping.index()];
    curl_blocked(inet, "198.51.100.99");
    let b = expect_uplink_drops(&lab, IGW, DropReason::IgwNoPublicMapping, b);

    // The private instance's private address: the internet's only way is its default route
    // to the gateway, which maps public addresses only.
    let app_before = lab.counters("eni-app1").unwrap();
    curl_blocked(inet, "10.0.2.20");
    let r = ping_unanswered(inet, "10.0.2.20", 2, &[]);
    assert_eq!(r.received, 0);
    expect_uplink_drops(&lab, IGW, DropReason::IgwNoPublicMapping, b);
    let app_after = lab.counters("eni-app1").unwrap();
    assert_eq!(
        app_after.tx_packets, app_before.tx_packets,
        "a frame from the internet reached eni-app1"
    );
    assert!(!app.log().contains("GET"), "{}", app.log());
    // The same from a public-subnet instance's private address.
    curl_blocked(inet, "10.0.1.10");

    // A private (RFC 1918 / RFC 6598) source from the internet side.
    inet.ip(&["addr", "add", "100.64.7.7/32", "dev", "eth0"])
        .unwrap();
    let b = uplink(&lab, IGW).drops[DropReason::IgwPrivateSource.index()];
    let r = ping_unanswered(inet, "198.51.100.40", 2, &["-I", "100.64.7.7"]);
    assert_eq!(r.received, 0, "ping from a shared-space source");
    expect_uplink_drops(&lab, IGW, DropReason::IgwPrivateSource, b);

    // A private destination routed to the gateway from inside.
    let b = drops(&lab, "eni-web1", DropReason::IgwPrivateDestination);
    let r = ping_unanswered(lab.ns("eni-web1"), "192.168.7.7", 2, &[]);
    assert_eq!(r.received, 0);
    expect_drops(&lab, "eni-web1", DropReason::IgwPrivateDestination, b);
}

// --- 4. the gateway's outside address ---------------------------------------------------------

#[test]
fn gateway_outside_address_answers_ping() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], "")
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let (r, out) = ping(inet, &["-c", "3", "-i", "0.2", "-W", "2", GW_OUTSIDE]);
    assert!(r.all_received(), "ping {GW_OUTSIDE}: {out}");
    assert!(out.contains("ttl=64"), "gateway replies with TTL 64: {out}");
    let c = uplink(&lab, IGW);
    assert!(c.icmp_echo_replies >= 3, "uplink counters: {c:?}");
    assert!(c.arp_replies >= 1, "the gateway answers ARP: {c:?}");
}

// --- 5. the 1500-byte hop ---------------------------------------------------------------------

/// ENIs run MTU 9001, the gateway forwards 1500: DF clear is fragmented by vpcd (and
/// reassembled by the host); DF set and too big gets ICMP "fragmentation needed" (MTU 1500)
/// from the subnet router, counted `frag_needed`, and the kernel caches the PMTU; 1500
/// exactly passes.
#[test]
fn mtu_1500_at_the_gateway_fragments_or_answers_frag_needed() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let web1 = lab.ns("eni-web1");
    assert!(
        web1.ip(&["link", "show", "dev", "eth0"])
            .unwrap()
            .contains("mtu 9001"),
        "the ENI runs jumbo frames"
    );

    // DF clear, 3028 bytes: vpcd fragments, the host reassembles and answers.
    let reasm = ip_stat(inet, "ReasmOKs");
    let tx = uplink(&lab, IGW).tx_packets;
    let (r, out) = ping(
        web1,
        &[
            "-M", "dont", "-s", "3000", "-c", "2", "-i", "0.2", "-W", "2", HOST,
        ],
    );
    assert!(r.all_received(), "ping -M dont -s 3000: {out}");
    assert!(
        ip_stat(inet, "ReasmOKs") >= reasm + 2,
        "the host reassembled the fragments vpcd sent"
    );
    assert!(
        uplink(&lab, IGW).tx_packets >= tx + 6,
        "3028-byte packets leave in 3 fragments each"
    );
    assert_eq!(drops(&lab, "eni-web1", DropReason::FragmentationNeeded), 0);

    // DF set, exactly 1500 bytes: fits.
    let (r, out) = ping(
        web1,
        &[
            "-M", "do", "-s", "1472", "-c", "2", "-i", "0.2", "-W", "2", HOST,
        ],
    );
    assert!(r.all_received(), "ping -M do -s 1472: {out}");
    assert_eq!(drops(&lab, "eni-web1", DropReason::FragmentationNeeded), 0);

    // DF set, too big: the router answers "fragmentation needed", MTU 1500.
    let out = ping_text(
        web1,
        &["-M", "do", "-s", "3000", "-c", "1", "-W", "2", HOST],
    );
    assert!(
        out.contains("From 10.0.1.1") && out.contains("Frag needed") && out.contains("mtu = 1500"),
        "ping -M do -s 3000: {out}"
    );
    expect_drops(&lab, "eni-web1", DropReason::FragmentationNeeded, 0);
    // The kernel learned the path MTU from it: the next try fails locally.
    assert!(
        route_get(web1, HOST).contains("mtu 1500"),
        "PMTU not cached: {}",
        route_get(web1, HOST)
    );
    let out = ping_text(
        web1,
        &["-M", "do", "-s", "3000", "-c", "1", "-W", "2", HOST],
    );
    assert!(
        out.contains("message too long, mtu=1500"),
        "second ping -M do -s 3000: {out}"
    );
    // Nothing oversized reached the internet.
    assert_eq!(
        uplink(&lab, IGW).drop_map().get("frag_needed"),
        None,
        "frag_needed is charged to the sender"
    );
}

/// TCP through the gateway: a download from the internet host arrives intact, and an upload
/// towards a host that advertises a jumbo MSS completes intact because the sender learns
/// MTU 1500 from the router's ICMP (path-MTU discovery).
#[test]
fn tcp_through_the_gateway_is_intact_with_path_mtu_discovery() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        "{}{}{}",
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let web1 = lab.ns("eni-web1");

    // Download: 4 MiB from the internet host's HTTP server, checked by digest.
    let mut host = http_server(inet, HOST, "the internet");
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(host.dir().join("big.bin"), &data).unwrap();
    let url = format!("http://{HOST}/big.bin");
    let out = web1
        .exec(
            &[
                "sh",
                "-c",
                &format!("curl -sS --max-time 30 {url} | sha256sum"),
            ],
            Duration::from_secs(40),
        )
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    let want = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&data);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(
        got.starts_with(&want),
        "download digest {got:?} (stderr {}), want {want}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        host.next_client("/big.bin").ip().to_string(),
        "198.51.100.40"
    );

    // Upload: the host's side of the link takes jumbo frames, so it advertises MSS 8961 and
    // web1 sends 9001-byte segments with DF set until the router's ICMP teaches it 1500.
    inet.ip(&["link", "set", "dev", "eth0", "mtu", "9001"])
        .unwrap();
    assert!(
        !route_get(web1, HOST).contains("mtu"),
        "no PMTU cached yet: {}",
        route_get(web1, HOST)
    );
    let before = drops(&lab, "eni-web1", DropReason::FragmentationNeeded);
    let t = testbeds::tcp_transfer(inet, ip(HOST), 9300, web1, 4 << 20).unwrap();
    assert!(t.intact(), "upload through the gateway: {t:?}");
    assert!(
        drops(&lab, "eni-web1", DropReason::FragmentationNeeded) > before,
        "the oversized segments met the router's frag-needed"
    );
    assert!(
        route_get(web1, HOST).contains("mtu 1500"),
        "web1 learned the path MTU: {}",
        route_get(web1, HOST)
    );
}

// --- 6. a NAT instance -------------------------------------------------------------------------

/// A private subnet reaches the internet through a NAT instance (masquerade in nftables, its
/// own EIP, source/destination check off); the internet sees the instance's EIP. With the
/// check back on, the forwarded packets are refused on their way to it (`dst_not_owned`,
/// charged to the sender).
#[test]
fn nat_instance_masquerades_the_private_subnet_only_with_src_dst_check_off() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = |check: bool| {
        format!(
            r#"{}
[[route_table]]
id = "rtb-priv"
vpc = "vpc-t"
routes = [{{ destination = "0.0.0.0/0", target = "eni-natinst" }}]

[[security_group]]
id = "sg-nat"
vpc = "vpc-t"
inbound = [{{ protocol = "-1", source = "10.0.0.0/16" }}]
{}{}{}"#,
            base(Some("rtb-priv")),
            eni(
                "eni-natinst",
                "subnet-pub",
                "10.0.1.20",
                &["sg-nat"],
                &format!("source_dest_check = {check}\n"),
            ),
            eni("eni-app1", "subnet-priv", "10.0.2.20", &[], ""),
            eip("eipalloc-nat", "198.51.100.50", "eni-natinst"),
        )
    };
    let mut lab = start(&topo(false));
    let inet = lab.internet(IGW);
    let nat = lab.ns("eni-natinst");
    sysctl(nat, "net.ipv4.ip_forward=1");
    sysctl(nat, "net.ipv4.conf.all.send_redirects=0");
    sysctl(nat, "net.ipv4.conf.eth0.send_redirects=0");
    for cmd in [
        "add table ip nat",
        "add chain ip nat post { type nat hook postrouting priority 100 ; }",
        "add rule ip nat post oifname eth0 ip saddr 10.0.2.0/24 masquerade",
    ] {
        let mut argv = vec!["nft"];
        argv.extend(cmd.split(' '));
        nat.exec_ok(&argv, CMD).unwrap();
    }
    let mut host = http_server(inet, HOST, "the internet");
    let app1 = lab.ns("eni-app1").clone();
    let app1 = &app1;

    curl_ok(app1, HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.50",
        "host's access log"
    );
    // The NAT instance itself goes out with the same EIP.
    curl_ok(nat, HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.50",
        "host's access log"
    );

    // Path-MTU discovery across the NAT: towards a host advertising a jumbo MSS, the
    // instance forwards app1's 9001-byte segments, the router answers it "fragmentation
    // needed", and its conntrack translates that back to app1, which learns 1500.
    inet.ip(&["link", "set", "dev", "eth0", "mtu", "9001"])
        .unwrap();
    let before = drops(&lab, "eni-natinst", DropReason::FragmentationNeeded);
    let t = testbeds::tcp_transfer(inet, ip(HOST), 9300, app1, 1 << 20).unwrap();
    assert!(t.intact(), "upload through the NAT instance: {t:?}");
    assert!(
        drops(&lab, "eni-natinst", DropReason::FragmentationNeeded) > before,
        "the forwarded oversized segments met the router's frag-needed"
    );
    assert!(
        route_get(app1, HOST).contains("mtu 1500"),
        "app1 learned the path MTU through the NAT instance: {}",
        route_get(app1, HOST)
    );

    // Check on: app1's packets are not the instance's to receive.
    lab.apply(&topo(true)).unwrap();
    let before = drops(&lab, "eni-app1", DropReason::DestinationNotOwned);
    let sent = lab.counters("eni-natinst").unwrap().tx_packets;
    curl_blocked(app1, HOST);
    expect_drops(&lab, "eni-app1", DropReason::DestinationNotOwned, before);
    assert_eq!(
        drops(&lab, "eni-natinst", DropReason::SourceIpSpoofed),
        0,
        "nothing reached the instance to be forwarded"
    );
    assert!(
        lab.counters("eni-natinst").unwrap().tx_packets == sent,
        "a forwarded packet was delivered to the instance"
    );

    // Off again: works at once.
    lab.apply(&topo(false)).unwrap();
    curl_ok(app1, HOST, "the internet");
    assert_eq!(
        host.next_client("/").ip().to_string(),
        "198.51.100.50",
        "host's access log"
    );
}

// --- 7. a network ACL in front of an EIP ------------------------------------------------------

/// Inbound internet traffic passes the subnet's ACL on its private address: a deny of HTTP
/// from the internet blocks it (counted on the uplink, where the frame came from, and on the
/// rule), while ICMP (allowed by a later rule) still gets through.
#[test]
fn inbound_nacl_deny_blocks_internet_traffic_to_the_eip() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let topo = format!(
        r#"{}{}{}
[[network_acl]]
id = "acl-pub"
vpc = "vpc-t"
subnets = ["subnet-pub"]
inbound = [
  {{ rule = 90, protocol = "tcp", ports = "80", cidr = "203.0.113.0/24", action = "deny" }},
  {{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }},
]
outbound = [{{ rule = 100, protocol = "-1", cidr = "0.0.0.0/0", action = "allow" }}]
"#,
        base(None),
        eni("eni-web1", "subnet-pub", "10.0.1.10", &["sg-web"], ""),
        eip("eipalloc-web1", "198.51.100.40", "eni-web1"),
    );
    let lab = start(&topo);
    let inet = lab.internet(IGW);
    let srv = http_server(lab.ns("eni-web1"), "10.0.1.10", "web1");

    let before = uplink(&lab, IGW).drops[DropReason::NaclDeny.index()];
    curl_blocked(inet, "198.51.100.40");
    expect_uplink_drops(&lab, IGW, DropReason::NaclDeny, before);
    assert!(nacl_denied(&lab, "acl-pub", "inbound", "90") > 0);
    assert_eq!(drops(&lab, "eni-web1", DropReason::NaclDeny), 0);
    assert!(!srv.log().contains("GET"), "{}", srv.log());

    ping_ok(inet, "198.51.100.40");
    // Egress from the instance is unaffected (its replies come back on ephemeral ports,
    // allowed by rule 100).
    let _host = http_server(inet, HOST, "the internet");
    curl_ok(lab.ns("eni-web1"), HOST, "the internet");
}

// --- 8. UDP and ICMP errors across the NAT ----------------------------------------------------

/// A UDP exchange from an instance with the default group (no inbound rules): one datagram
/// out, one back. Args: host, port, reply size (the server) / host, port (the client).
const UDP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    print("from", peer[0], flush=True)
    s.sendto(b"r" * int(sys.argv[3]), peer)
"#;

const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"q")
try:
    print("got", len(s.recv(65535)))
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"#;

fn udp_server(ns: &Netns, port: u16, reply: usize) -> NsChild {
    let (p, r) = (port.to_string(), reply.to_string());
    python_ready(ns, UDP_SERVER, &[HOST, &p, &r])
}

fn udp_ask(ns: &Netns, port: u16) -> String {
    let p = port.to_string();
    ns.exec_ok(&["python3", "-c", UDP_CLIENT, HOST, &p], CMD)
        .unwrap()
        .trim()
        .to_string()
}

fn udp_topology() -> String {
    format!(
        "{}{}{}",
        base(None),
        eni("eni-a1", "subnet-pub", "10.0.1.30", &[], ""),
        eip("eipalloc-a1", "198.51.100.41", "eni-a1"),
    )
}

/// UDP out and back through the gateway on tracking alone; the host sees the EIP; an ICMP
/// "port unreachable" from the internet (quoting the EIP) is translated back and reaches the
/// sender as related traffic.
#[test]
fn udp_replies_and_icmp_errors_come_back_through_the_nat() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&udp_topology());
    let a1 = lab.ns("eni-a1");
    let mut srv = udp_server(lab.internet(IGW), 5353, 100);
    assert_eq!(udp_ask(a1, 5353), "got 100");
    srv.wait_for_line(|_, l| l == "from 198.51.100.41", CMD)
        .unwrap();
    assert_eq!(udp_ask(a1, 5354), "refused", "ICMP port unreachable");
    let m = uplink(&lab, IGW).drop_map();
    assert!(
        m.keys()
            .all(|k| k == "ipv6_not_forwarded" || k == "multicast"),
        "uplink: {m:?}"
    );
}

/// A reply bigger than the 1500-byte hop comes back from the internet in fragments (the host
/// fragments it); the instance's group admits it as part of the tracked flow in AWS (a large
/// DNS answer, for example). vpcd drops the non-first fragments: they carry no ports, so the
/// connection lookup misses and the rules (which admit nothing inbound) refuse them.
#[test]
fn fragmented_reply_of_a_tracked_udp_flow_is_admitted() {
    if !testbeds::require_root_or_skip() {
        return;
    }
    let lab = start(&udp_topology());
    let _srv = udp_server(lab.internet(IGW), 5353, 3000);
    let got = udp_ask(lab.ns("eni-a1"), 5353);
    assert_eq!(
        got,
        "got 3000",
        "uplink drops: {:?}",
        uplink(&lab, IGW).drop_map()
    );
}
