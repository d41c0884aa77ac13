//! `vpc-demo`: the README's first command. Brings up the embedded demo topology
//! (`examples/demo.toml`: one VPC, four subnets, five instance namespaces and three named
//! internet hosts on the internet segment) on a private `vpcd`, where every instance
//! configures itself with a real DHCP client (busybox udhcpc) from the VPC router, proves
//! the leases, a name lookup through the VPC resolver, instance metadata (IMDSv2), ARP, ping and a TCP transfer across
//! subnets, the firewalls, the internet gateway and the NAT gateway, plus the drops a VPC
//! makes, prints a short report, and removes everything it made.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use dataplane::vpc::verdict::DropReason;
use testbeds::Lab;

const TOPOLOGY: &str = include_str!("../../../examples/demo.toml");
const TRANSFER_BYTES: u64 = 50 << 20;

struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl AsRef<str>) {
        if ok {
            self.passed += 1;
            println!("  [ok]   {}", what.as_ref());
        } else {
            self.failed += 1;
            println!("  [FAIL] {}", what.as_ref());
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn main() -> ExitCode {
    match run() {
        Ok(r) if r.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vpc-demo: {e:#}");
            ExitCode::from(2)
        }
    }
}

// Longer than the usual ~150 lines on purpose: the demo is a script read top to bottom,
// one printed section after the other, and the servers and namespaces it starts early
// stay up (held in locals here) for every later section.
fn run() -> anyhow::Result<Report> {
    if let Err(why) = testbeds::privileges::check_privileges() {
        anyhow::bail!("{why}\nThe demo creates network namespaces and TAP devices: run it as root (sudo scripts/demo).");
    }
    let lab = Lab::start(TOPOLOGY).context("bringing up the demo topology")?;
    let show = lab.show()?;
    let cfg = &show.config;
    let mac_of = |id: &str| cfg.enis.iter().find(|e| e.id == id).map(|e| e.mac);
    let router_mac = |id: &str| {
        cfg.subnets
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.router_mac)
    };

    println!(
        "vpcd demo — run prefix {}, vpcd pid {}",
        lab.prefix().as_str(),
        lab.vpcd().pid()
    );
    println!("  VPC vpc-demo 10.0.0.0/16");
    println!(
        "    subnet-web 10.0.1.0/24 (router 10.0.1.1 {})",
        fmt_mac(router_mac("subnet-web"))
    );
    for (e, ns) in [("eni-web1", "web1"), ("eni-web2", "web2")] {
        println!(
            "      {e} {} {} in namespace {}",
            lab.ip(e),
            fmt_mac(mac_of(e)),
            lab.prefix().ns_name(ns)
        );
    }
    println!(
        "    subnet-app 10.0.2.0/24 (router 10.0.2.1 {})",
        fmt_mac(router_mac("subnet-app"))
    );
    println!(
        "      eni-app1 {} {} in namespace {}",
        lab.ip("eni-app1"),
        fmt_mac(mac_of("eni-app1")),
        lab.prefix().ns_name("app1")
    );
    println!(
        "    subnet-public 10.0.0.0/24 (router 10.0.0.1 {}), route 0.0.0.0/0 → igw-demo",
        fmt_mac(router_mac("subnet-public"))
    );
    println!(
        "      eni-pub1 {} {} in namespace {}, Elastic IP 198.51.100.40",
        lab.ip("eni-pub1"),
        fmt_mac(mac_of("eni-pub1")),
        lab.prefix().ns_name("pub1")
    );
    println!(
        "  igw-demo on the internet segment (namespace {}), internet hosts: client 203.0.113.5 in {}, far 198.51.100.200 in {}, bogon 192.168.50.5 in {}",
        lab.segment().name(),
        lab.host("client").name(),
        lab.host("far").name(),
        lab.host("bogon").name()
    );
    println!();

    let mut r = Report {
        passed: 0,
        failed: 0,
    };
    let web1 = lab.ns("eni-web1");

    println!("DHCP (every instance runs udhcpc; the VPC router's DHCP server configures it)");
    for (eni, name) in [
        ("eni-web1", "web1"),
        ("eni-web2", "web2"),
        ("eni-app1", "app1"),
        ("eni-pub1", "pub1"),
        ("eni-priv1", "priv1"),
    ] {
        let Some(l) = lab.lease(eni) else {
            r.check(false, format!("{name} has a DHCP lease"));
            continue;
        };
        let link = lab.ns(eni).ip(&["-o", "link", "show", "dev", "eth0"])?;
        let addrs = lab
            .ns(eni)
            .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])?;
        let router = l.routers.first().map(|r| r.to_string()).unwrap_or_default();
        let ok = lab.ip(eni) == IpAddr::V4(l.ip)
            && addrs.contains(&format!("inet {}/{}", l.ip, l.prefix_len))
            && l.mtu == Some(9001)
            && link.contains("mtu 9001 ")
            && l.dns.first().map(|d| d.to_string()).as_deref() == Some("10.0.0.2");
        r.check(
            ok,
            format!(
                "{name} got {}/{}, router {router}, MTU {}, resolver {} from the VPC router's DHCP in {} ms",
                l.ip,
                l.prefix_len,
                l.mtu.map_or("-".into(), |m| m.to_string()),
                l.dns.first().map_or("-".into(), |d| d.to_string()),
                l.elapsed.map_or("?".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3)),
            ),
        );
    }
    // Secondary addresses are not in DHCP; they are added after the lease.
    let web2_addrs = lab
        .ns("eni-web2")
        .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])?;
    r.check(
        web2_addrs.contains("inet 10.0.1.12/24"),
        "web2's secondary 10.0.1.12 is configured after the lease (DHCP hands out the primary only)",
    );
    let name = "ip-10-0-2-20.ec2.internal";
    let out = web1.exec(&["getent", "hosts", name], Duration::from_secs(5))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    r.check(
        out.status.success() && text.starts_with("10.0.2.20 "),
        format!(
            "web1 looks up app1's private DNS name {name} through the resolver 10.0.0.2 from its lease: {}",
            text.split_whitespace().next().unwrap_or("no answer")
        ),
    );
    // The instance metadata service: IMDSv2 (a session token, then a request with it).
    let curl = |args: &[&str]| -> anyhow::Result<String> {
        let mut argv = vec!["curl", "-s", "-m", "5"];
        argv.extend_from_slice(args);
        let out = web1.exec(&argv, Duration::from_secs(10))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let token = curl(&[
        "-X",
        "PUT",
        "-H",
        "X-aws-ec2-metadata-token-ttl-seconds: 60",
        "http://169.254.169.254/latest/api/token",
    ])?;
    let header = format!("X-aws-ec2-metadata-token: {token}");
    let local = curl(&[
        "-H",
        &header,
        "http://169.254.169.254/latest/meta-data/local-ipv4",
    ])?;
    let id = curl(&[
        "-H",
        &header,
        "http://169.254.169.254/latest/meta-data/instance-id",
    ])?;
    r.check(
        !token.is_empty() && local == "10.0.1.10" && id.starts_with("i-"),
        format!(
            "web1 reads its metadata at 169.254.169.254 with an IMDSv2 token: local-ipv4 {local}, instance-id {id}"
        ),
    );
    println!();

    println!("ARP (answered by the VPC router, never by the instances)");
    let (_, rx) = lab.ping("eni-web1", ip("10.0.1.1"), 3)?;
    r.check(
        rx == 3,
        format!("web1 pings its subnet router 10.0.1.1: {rx}/3 replies"),
    );
    let (_, rx) = lab.ping("eni-web1", ip("10.0.1.11"), 3)?;
    r.check(
        rx == 3,
        format!("web1 pings neighbour web2 10.0.1.11 (layer 2 inside the subnet): {rx}/3"),
    );
    let neigh = web1.neigh("eth0")?;
    let learned = |a: &str| neigh.iter().find(|n| n.ip == ip(a)).and_then(|n| n.mac);
    r.check(
        learned("10.0.1.1") == router_mac("subnet-web"),
        format!(
            "10.0.1.1 resolved to the router MAC {}",
            fmt_mac(router_mac("subnet-web"))
        ),
    );
    r.check(
        learned("10.0.1.11") == mac_of("eni-web2"),
        format!(
            "10.0.1.11 resolved to eni-web2's MAC {}",
            fmt_mac(mac_of("eni-web2"))
        ),
    );
    let unassigned = web1.exec(
        &[
            "busybox",
            "arping",
            "-c",
            "2",
            "-w",
            "2",
            "-I",
            "eth0",
            "10.0.1.99",
        ],
        Duration::from_secs(6),
    )?;
    r.check(
        !unassigned.status.success(),
        "ARP for unassigned 10.0.1.99 gets no answer",
    );
    println!();

    println!("Routing across subnets (longest prefix match, TTL kept inside the VPC)");
    let (rx, out) = quick_ping(web1, &["10.0.2.20"])?;
    r.check(
        rx == 2,
        format!("web1 10.0.1.10 → app1 10.0.2.20: {rx}/2 replies"),
    );
    let ttls: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with("ttl="))
        .collect();
    r.check(
        !ttls.is_empty() && ttls.iter().all(|t| *t == "ttl=64"),
        format!(
            "replies arrive with {} (the VPC router does not decrement TTL)",
            ttls.first().unwrap_or(&"no ttl")
        ),
    );
    let t = testbeds::tcp_transfer(
        lab.ns("eni-app1"),
        lab.ip("eni-app1"),
        5001,
        web1,
        TRANSFER_BYTES,
    )?;
    r.check(
        t.intact(),
        format!(
            "TCP {} MB web1 → app1: sha256 {} ({:.2} Gbit/s incl. hashing)",
            TRANSFER_BYTES >> 20,
            if t.intact() { "matches" } else { "DIFFERS" },
            t.gbps()
        ),
    );
    println!();

    println!("Firewalls (security groups with connection tracking, network ACLs)");
    // Listeners, so that a refused connection is the firewall's doing, not a closed port.
    let mut listeners = Vec::new();
    for (eni, port) in [("eni-web1", "5001"), ("eni-app1", "23")] {
        let mut l = lab.ns(eni).spawn(&[
            "socat",
            "-d",
            "-d",
            &format!("TCP-LISTEN:{port},fork,reuseaddr"),
            "/dev/null",
        ])?;
        l.wait_for_line(
            |_, line| line.contains("listening on"),
            Duration::from_secs(5),
        )?;
        listeners.push(l);
    }
    let connects = |from: &str, to: &str, port: &str| -> anyhow::Result<bool> {
        let target = format!("TCP:{}:{port},connect-timeout=1", lab.ip(to));
        let out = lab.ns(from).exec(
            &["socat", "-u", "/dev/null", &target],
            Duration::from_secs(5),
        )?;
        Ok(out.status.success())
    };
    r.check(
        t.intact(),
        "app1's replies reached web1 on web1's tracked connection (sg-web has no rule for them)",
    );
    let ok = connects("eni-web2", "eni-web1", "5001")?;
    r.check(
        ok,
        "web2 → web1:5001 connects (sg-web allows its own members)",
    );
    let before = lab.counters("eni-app1")?;
    let ok = connects("eni-app1", "eni-web1", "5001")?;
    let after = lab.counters("eni-app1")?;
    let sg =
        after.drops[DropReason::SgNoMatch.index()] - before.drops[DropReason::SgNoMatch.index()];
    r.check(
        !ok && sg > 0,
        format!("app1 → web1:5001 refused: no sg-web rule allows app1 (sg_no_match +{sg})"),
    );
    let ok = connects("eni-web1", "eni-app1", "23")?;
    let denies = lab.show()?.nacl_denies;
    let rule90 = denies
        .iter()
        .find(|d| d.nacl == "acl-app" && d.direction == "inbound" && d.rule == "90")
        .map_or(0, |d| d.packets);
    r.check(
        !ok && rule90 > 0,
        format!("web1 → app1:23 denied by acl-app inbound rule 90, numbered before the wider allow ({rule90} SYN(s) counted)"),
    );
    drop(listeners);
    println!();

    println!(
        "Internet gateway (1:1 NAT with an Elastic IP, named internet hosts, the 1500-byte hop)"
    );
    let internet = lab.host("client");
    let http = |port: &str, body: &str| {
        format!("TCP-LISTEN:{port},fork,reuseaddr SYSTEM:'echo HTTP/1.0 200 OK; echo; echo {body}'")
    };
    let serve =
        |ns: &testbeds::Netns, port: &str, body: &str| -> anyhow::Result<testbeds::NsChild> {
            let mut argv = vec!["sh", "-c"];
            let cmd = format!("exec socat -d -d {}", http(port, body));
            argv.push(&cmd);
            let mut l = ns.spawn(&argv)?;
            l.wait_for_line(
                |_, line| line.contains("listening on"),
                Duration::from_secs(5),
            )?;
            Ok(l)
        };
    let curl = |ns: &testbeds::Netns, url: &str| -> anyhow::Result<String> {
        let out = ns.exec(&["curl", "-s", "-m", "3", url], Duration::from_secs(6))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let _pub_server = serve(lab.ns("eni-pub1"), "80", "hello-from-pub1")?;
    let got = curl(internet, "http://198.51.100.40/")?;
    r.check(
        got == "hello-from-pub1",
        format!("the internet host 203.0.113.5 fetches http://198.51.100.40/ (pub1's Elastic IP → 10.0.0.40): {got:?}"),
    );
    let got = curl(lab.ns("eni-pub1"), "http://203.0.113.5/")?;
    r.check(
        got.starts_with("client saw 198.51.100.40:"),
        format!("pub1 fetches from the internet host client's HTTP service, which names the Elastic IP: {got:?}"),
    );
    let (rx, _) = quick_ping(lab.ns("eni-pub1"), &["198.51.100.200"])?;
    r.check(
        rx == 2,
        format!("pub1 pings the internet host far at 198.51.100.200, in the Elastic IPs' own /24: {rx}/2 replies"),
    );
    let up = |c: &dataplane::observe::stats::StatsReport| {
        c.uplinks
            .iter()
            .find(|u| u.igw == "igw-demo")
            .map_or(0, |u| {
                u.counters.drops[DropReason::IgwPrivateSource.index()]
            })
    };
    let before = up(&lab.show()?);
    let (rx, _) = quick_ping(lab.host("bogon"), &["198.51.100.40"])?;
    let refused = up(&lab.show()?) - before;
    r.check(
        rx == 0 && refused >= 1,
        format!("the internet host bogon, claiming private 192.168.50.5, is refused at the gateway: {rx}/2 replies, igw_private_source +{refused}"),
    );
    let mut inet_server = serve(internet, "8080", "hello-from-the-internet")?;
    let got = curl(lab.ns("eni-pub1"), "http://203.0.113.5:8080/")?;
    let peer = inet_server
        .wait_for_line(
            |_, line| line.contains("accepting connection from"),
            Duration::from_secs(3),
        )
        .unwrap_or_default();
    r.check(
        got == "hello-from-the-internet" && peer.contains("198.51.100.40"),
        "pub1 reaches the internet host, which sees the Elastic IP 198.51.100.40 as the client",
    );
    let before = lab.counters("eni-pub1")?;
    // Twice: the first answer teaches the kernel the path MTU, the second is refused
    // by the kernel itself with that MTU; either way the text names 1500.
    let mut text = String::new();
    for _ in 0..2 {
        let out = lab.ns("eni-pub1").exec(
            &[
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "-M",
                "do",
                "-s",
                "3000",
                "203.0.113.5",
            ],
            Duration::from_secs(5),
        )?;
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let after = lab.counters("eni-pub1")?;
    let fn_count = after.drops[DropReason::FragmentationNeeded.index()]
        - before.drops[DropReason::FragmentationNeeded.index()];
    r.check(
        fn_count >= 1 && text.contains("1500"),
        format!("a 3028-byte DF ping to the internet gets \"fragmentation needed, MTU 1500\" from the router (frag_needed +{fn_count})"),
    );
    println!();

    println!("NAT gateway (private subnet out through nat-demo, nothing in)");
    let got = curl(lab.ns("eni-priv1"), "http://203.0.113.5:8080/")?;
    let peer = inet_server
        .wait_for_line(
            |_, line| line.contains("accepting connection from"),
            Duration::from_secs(3),
        )
        .unwrap_or_default();
    // socat: "accepting connection from AF=2 198.51.100.7:PORT on AF=2 203.0.113.5:8080".
    let port = peer
        .split("198.51.100.7:")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse::<u32>().ok())
        })
        .unwrap_or(0);
    r.check(
        got == "hello-from-the-internet"
            && peer.contains("198.51.100.7:")
            && (1024..=65535).contains(&port),
        format!("priv1 (10.0.4.10, no public IP) fetches from the internet host, which sees the NAT gateway's Elastic IP 198.51.100.7 and source port {port}"),
    );
    let (rx, _) = quick_ping(lab.ns("eni-priv1"), &["203.0.113.5"])?;
    r.check(
        rx == 2,
        format!("priv1 pings the internet host through the NAT gateway: {rx}/2 replies"),
    );
    let got = curl(internet, "http://198.51.100.7:8080/")?;
    let (rx_eip, _) = quick_ping(internet, &["198.51.100.7"])?;
    let nat = lab
        .show()?
        .nat_gateways
        .into_iter()
        .find(|n| n.id == "nat-demo")
        .map(|n| n.metrics)
        .unwrap_or_default();
    r.check(
        got.is_empty() && rx_eip == 0 && nat.packets_drop_count >= 2,
        format!(
            "the internet can neither connect to nor ping the NAT gateway's 198.51.100.7 (PacketsDropCount {})",
            nat.packets_drop_count
        ),
    );
    println!(
        "  nat-demo: ActiveConnectionCount {}, ConnectionAttemptCount {}, PacketsInFromSource {}, PacketsOutToSource {}",
        nat.active_connection_count,
        nat.connection_attempt_count,
        nat.packets_in_from_source,
        nat.packets_out_to_source
    );
    println!();

    println!("VPC peering (vpc-demo ⇄ vpc-shared over pcx-demo, a group referenced across it)");
    let _shared_server = serve(lab.ns("eni-shared1"), "80", "hello-from-vpc-shared")?;
    let got = curl(lab.ns("eni-web1"), "http://10.1.1.10/")?;
    let (rx, _) = quick_ping(lab.ns("eni-web1"), &["10.1.1.10"])?;
    r.check(
        got == "hello-from-vpc-shared" && rx == 2,
        format!(
            "web1 (sg-web) reaches shared1 10.1.1.10 in the peered VPC: HTTP {got:?}, ping {rx}/2"
        ),
    );
    let before = lab.drops("eni-app1", DropReason::SgNoMatch)?;
    let got = curl(lab.ns("eni-app1"), "http://10.1.1.10/")?;
    let refused = lab.drops("eni-app1", DropReason::SgNoMatch)? - before;
    r.check(
        got.is_empty() && refused >= 1,
        format!("app1 (not in sg-web) is refused by sg-shared's cross-VPC rule (sg_no_match +{refused})"),
    );
    let before = lab.drops("eni-shared1", DropReason::PcxAddressNotInVpcCidr)?;
    let (rx, _) = quick_ping(lab.ns("eni-shared1"), &["203.0.113.5"])?;
    let edge = lab.drops("eni-shared1", DropReason::PcxAddressNotInVpcCidr)? - before;
    r.check(
        rx == 0 && edge >= 2,
        format!("shared1's default route over the peering cannot use vpc-demo's internet gateway: 0/2 replies, pcx_address_not_in_vpc_cidr +{edge}"),
    );
    println!();

    println!("Drops, each counted by reason");
    let before = lab.counters("eni-web1")?;
    for dst in ["198.51.100.7", "203.0.113.9", "10.0.2.99"] {
        quick_ping(web1, &[dst])?;
    }
    web1.ip(&["addr", "add", "10.0.1.77/32", "dev", "eth0"])?;
    quick_ping(web1, &["-I", "10.0.1.77", "10.0.2.20"])?;
    let after = lab.counters("eni-web1")?;
    let grew = |reason: DropReason| after.drops[reason.index()] - before.drops[reason.index()];
    r.check(
        grew(DropReason::NoRoute) >= 2,
        format!(
            "198.51.100.7 has no route: no_route +{}",
            grew(DropReason::NoRoute)
        ),
    );
    r.check(
        grew(DropReason::Blackhole) >= 2,
        format!(
            "203.0.113.0/24 → blackhole: blackhole +{}",
            grew(DropReason::Blackhole)
        ),
    );
    r.check(
        grew(DropReason::NoEniForAddress) >= 2,
        format!(
            "10.0.2.99 is local but unassigned: no_eni_for_address +{}",
            grew(DropReason::NoEniForAddress)
        ),
    );
    r.check(
        grew(DropReason::SourceIpSpoofed) >= 2,
        format!(
            "web1 sending as 10.0.1.77 (not its address): src_ip_spoofed +{}",
            grew(DropReason::SourceIpSpoofed)
        ),
    );
    let (rx, _) = quick_ping(lab.ns("eni-web2"), &["-I", "10.0.1.12", "10.0.2.20"])?;
    r.check(
        rx == 2,
        format!("web2 sending from its secondary 10.0.1.12 is allowed: {rx}/2 replies"),
    );
    println!();

    println!("Counters (vpcctl show prints the same)");
    let show = lab.show()?;
    println!(
        "  {:<10} {:>9} {:>12} {:>9} {:>12}  drops",
        "ENI", "rx pkts", "rx bytes", "tx pkts", "tx bytes"
    );
    for e in &show.enis {
        let c = &e.counters;
        let drops: Vec<String> = c
            .drop_map()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "  {:<10} {:>9} {:>12} {:>9} {:>12}  {}",
            e.id,
            c.rx_packets,
            c.rx_bytes,
            c.tx_packets,
            c.tx_bytes,
            drops.join(" ")
        );
    }
    let eng = &show.engine;
    println!(
        "  flow cache: {} hits, {} misses, {} flows",
        eng.flow_hits, eng.flow_misses, eng.flows
    );
    println!();
    println!("demo: {} passed, {} failed", r.passed, r.failed);
    drop(lab);
    println!("cleaned up: vpcd stopped, TAPs and namespaces removed");
    Ok(r)
}

/// `ping -c 2 -W 1 ARGS…` in `ns`: replies received and ping's output.
fn quick_ping(ns: &testbeds::Netns, args: &[&str]) -> anyhow::Result<(u32, String)> {
    let mut argv = vec!["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1"];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv, Duration::from_secs(6))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let p = testbeds::netns::parse_ping_summary(&text)?;
    Ok((p.received, text))
}

fn fmt_mac(m: Option<dataplane::wire::MacAddr>) -> String {
    m.map(|m| m.to_string()).unwrap_or_else(|| "?".into())
}
