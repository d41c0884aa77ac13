//! The Linux kernel as the data plane: veth pairs and a router namespace with forwarding
//! on, every routed link at [`MTU`].
//!
//! - [`routed`] (c): client `{prefix}-ka` (10.0.1.10) ⇄ router `{prefix}-kr` ⇄ server
//!   `{prefix}-kb` (10.0.2.20), with the nftables equivalent of vpcd's realistic rule set
//!   in the router: per subnet boundary and direction the same 20 stateless entries, per
//!   instance and direction 300 stateful rules after `ct state established,related`.
//! - [`masquerade`] (c′): client ⇄ router ⇄ internet `{prefix}-ki` (203.0.113.5, MTU
//!   1500 like an internet gateway's outside), the router doing source NAT with nftables
//!   masquerade.
//!
//! Everything lives in namespaces named with the run prefix; nothing is created in the
//! host namespace, and dropping the plane deletes the namespaces (and with them the veths).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use testbeds::{veth_pair, Netns, Scratch};

use super::{Plane, MTU};

/// The MTU of the internet side of the NAT planes (an internet gateway forwards at most
/// 1500 bytes).
pub const INTERNET_MTU: u32 = 1500;

const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// Keeps the namespaces; dropping it deletes them.
struct KernelGuard {
    _namespaces: Vec<Netns>,
}

fn set_link(ns: &Netns, ifname: &str, addr: &str, mtu: u32) -> testbeds::Result<()> {
    let mtu = mtu.to_string();
    ns.ip(&["link", "set", ifname, "mtu", &mtu, "up"])?;
    ns.ip(&["addr", "add", addr, "dev", ifname])?;
    Ok(())
}

fn nft(ns: &Netns, rules: &str) -> testbeds::Result<()> {
    let dir = Scratch::new("suite-nft")?;
    let path = dir.join("rules.nft");
    std::fs::write(&path, rules).map_err(|e| testbeds::Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })?;
    let p = path.to_string_lossy();
    ns.exec_ok(&["nft", "-f", &p], CMD_TIMEOUT)?;
    Ok(())
}

/// Client ⇄ router ⇄ server namespaces; returns (client, router, server) and the router's
/// interface names towards the client and the server.
fn three_namespaces(
    prefix: &str,
    server: &str,
    server_addr: &str,
    router_addr: &str,
    server_mtu: u32,
) -> testbeds::Result<(Netns, Netns, Netns, String, String)> {
    let client = Netns::create(&format!("{prefix}-ka"))?;
    let router = Netns::create(&format!("{prefix}-kr"))?;
    let srv = Netns::create(&format!("{prefix}-{server}"))?;
    let (a0, a1) = (format!("{prefix}a0"), format!("{prefix}a1"));
    let (s0, s1) = (format!("{prefix}s0"), format!("{prefix}s1"));
    veth_pair(&client, &a0, &router, &a1)?;
    veth_pair(&srv, &s0, &router, &s1)?;
    set_link(&client, &a0, "10.0.1.10/24", MTU)?;
    set_link(&router, &a1, "10.0.1.1/24", MTU)?;
    set_link(&router, &s1, router_addr, server_mtu)?;
    set_link(&srv, &s0, server_addr, server_mtu)?;
    let gw_srv = router_addr.split('/').next().unwrap_or_default();
    client.ip(&["route", "add", "default", "via", "10.0.1.1"])?;
    srv.ip(&["route", "add", "default", "via", gw_srv])?;
    router.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"], CMD_TIMEOUT)?;
    Ok((client, router, srv, a1, s1))
}

/// The nftables rule set equivalent to vpcd's realistic one, for a router whose interface
/// towards the client is `a_if` and towards the server `b_if`.
pub fn routed_rules(a_if: &str, b_if: &str) -> String {
    let mut t = String::from("table inet vpcbench {\n");
    for chain in ["acl_a_out", "acl_a_in", "acl_b_out", "acl_b_in"] {
        let _ = writeln!(t, "  chain {chain} {{");
        for i in 0..19u32 {
            let act = if i % 2 == 1 { "drop" } else { "accept" };
            let _ = writeln!(
                t,
                "    ip daddr 192.168.{i}.0/24 tcp dport {} {act}",
                20000 + i
            );
        }
        t.push_str("    ip saddr 10.0.0.0/16 return\n    drop\n  }\n");
    }
    for chain in ["sg_a_out", "sg_a_in", "sg_b_out", "sg_b_in"] {
        let _ = writeln!(t, "  chain {chain} {{");
        t.push_str("    ct state established,related return\n");
        for _group in 0..5 {
            for i in 0..59u32 {
                let _ = writeln!(
                    t,
                    "    ip saddr 172.16.{i}.0/24 tcp dport {} return",
                    10000 + i
                );
            }
            t.push_str("    ip saddr 10.0.0.0/16 return\n");
        }
        t.push_str("    drop\n  }\n");
    }
    t.push_str("  chain forward {\n    type filter hook forward priority 0; policy drop;\n");
    for (iif, chains) in [
        (a_if, ["sg_a_out", "acl_a_out", "acl_b_in", "sg_b_in"]),
        (b_if, ["sg_b_out", "acl_b_out", "acl_a_in", "sg_a_in"]),
    ] {
        for c in chains {
            let _ = writeln!(t, "    iifname \"{iif}\" jump {c}");
        }
    }
    t.push_str("    accept\n  }\n}\n");
    t
}

/// The masquerade rule set for a router whose internet-side interface is `out_if`.
pub fn masquerade_rules(out_if: &str) -> String {
    format!(
        "table ip natbench {{\n  chain post {{\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"{out_if}\" masquerade\n  }}\n}}\n"
    )
}

/// (c) The kernel routing the two-subnet topology behind the equivalent nftables rule set.
pub fn routed(prefix: &str) -> testbeds::Result<Plane> {
    let (client, router, server, a1, b1) =
        three_namespaces(prefix, "kb", "10.0.2.20/24", "10.0.2.1/24", MTU)?;
    nft(&router, &routed_rules(&a1, &b1))?;
    Ok(Plane {
        label: "kernel".into(),
        client_ns: client.name().to_owned(),
        server_ns: server.name().to_owned(),
        server_ip: Ipv4Addr::new(10, 0, 2, 20),
        dataplane_pids: Vec::new(),
        guard: Box::new(KernelGuard {
            _namespaces: vec![client, router, server],
        }),
    })
}

/// (c′) The kernel forwarding to an internet namespace with nftables masquerade.
pub fn masquerade(prefix: &str) -> testbeds::Result<Plane> {
    let (client, router, inet, _a1, i1) = three_namespaces(
        prefix,
        "ki",
        "203.0.113.5/24",
        "203.0.113.1/24",
        INTERNET_MTU,
    )?;
    nft(&router, &masquerade_rules(&i1))?;
    Ok(Plane {
        label: "kernel-masq".into(),
        client_ns: client.name().to_owned(),
        server_ns: inet.name().to_owned(),
        server_ip: Ipv4Addr::new(203, 0, 113, 5),
        dataplane_pids: Vec::new(),
        guard: Box::new(KernelGuard {
            _namespaces: vec![client, router, inet],
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_set_shape() {
        let r = routed_rules("x1", "y1");
        assert_eq!(r.matches("tcp dport 200").count(), 4 * 19);
        assert_eq!(r.matches("ip saddr 172.16.").count(), 4 * 5 * 59);
        assert_eq!(r.matches("jump").count(), 8);
        assert!(r.contains("iifname \"y1\" jump sg_a_in"));
        assert!(masquerade_rules("i1").contains("oifname \"i1\" masquerade"));
    }
}
