//! The generated probe matrix of `vpcctl test --generate` and `vpcctl diff`: every ENI
//! with a namespace and every internet host, to every ENI (by its private address, and
//! from the internet hosts by its public addresses too), on every TCP/UDP port any
//! security-group or network-ACL rule names (the first port of a range), plus a few
//! representative others ([`REPRESENTATIVE`]), and ICMP echo.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::report::{TestReport, Verdict};
use super::spec::CheckProtocol;
use crate::model::{RuleProtocol, Topology, PROTO_TCP, PROTO_UDP};

/// Ports probed whatever the rules say: SSH, HTTP, HTTPS (TCP) and DNS (UDP).
pub const REPRESENTATIVE: [(CheckProtocol, u16); 4] = [
    (CheckProtocol::Tcp, 22),
    (CheckProtocol::Tcp, 80),
    (CheckProtocol::Tcp, 443),
    (CheckProtocol::Udp, 53),
];

/// One probe of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MatrixProbe {
    /// The sender (ENI or internet host id).
    pub from: String,
    /// The destination: an ENI id, or a public address.
    pub to: String,
    /// The protocol.
    pub protocol: CheckProtocol,
    /// The port (TCP, UDP).
    pub port: Option<u16>,
}

impl MatrixProbe {
    /// `tcp/22 from client to eni-db1`.
    pub fn describe(&self) -> String {
        match self.port {
            Some(p) => format!(
                "{}/{p} from {} to {}",
                self.protocol.as_str(),
                self.from,
                self.to
            ),
            None => format!(
                "{} from {} to {}",
                self.protocol.as_str(),
                self.from,
                self.to
            ),
        }
    }
}

/// The (protocol, port) pairs of `t`: every TCP/UDP port its rules name (the first of a
/// range that is not the whole space), plus [`REPRESENTATIVE`].
pub fn ports(t: &Topology) -> BTreeSet<(CheckProtocol, u16)> {
    let mut out: BTreeSet<(CheckProtocol, u16)> = REPRESENTATIVE.into_iter().collect();
    let mut add = |p: &RuleProtocol, ports: Option<&crate::model::PortSpec>| {
        let proto = match p {
            RuleProtocol::Number(PROTO_TCP) => CheckProtocol::Tcp,
            RuleProtocol::Number(PROTO_UDP) => CheckProtocol::Udp,
            _ => return,
        };
        if let Some(r) = ports {
            if r.from > 0 && r.from <= 65_535 && !(r.from <= 1024 && r.to >= 65_535) {
                out.insert((proto, r.from as u16));
            }
        }
    };
    for g in &t.security_groups {
        for r in g.inbound.iter().chain(g.outbound.iter().flatten()) {
            add(&r.protocol, r.ports.as_ref());
        }
    }
    for n in &t.network_acls {
        for r in n.inbound.iter().chain(&n.outbound) {
            add(&r.protocol, r.ports.as_ref());
        }
    }
    out
}

/// The probe matrix of `t`.
pub fn matrix(t: &Topology) -> Vec<MatrixProbe> {
    let senders: Vec<&str> = t
        .enis
        .iter()
        .filter(|e| e.netns.is_some())
        .map(|e| e.id.as_str())
        .chain(t.internet_hosts.iter().map(|h| h.id.as_str()))
        .collect();
    let hosts: BTreeSet<&str> = t.internet_hosts.iter().map(|h| h.id.as_str()).collect();
    let mut targets: Vec<(String, bool)> = t
        .enis
        .iter()
        .filter(|e| e.netns.is_some())
        .map(|e| (e.id.clone(), false))
        .collect();
    for a in public_addresses(t) {
        targets.push((a.to_string(), true));
    }
    let ports = ports(t);
    let mut out = Vec::new();
    for from in &senders {
        for (to, public) in &targets {
            // Public addresses are probed from the internet; private ones from inside.
            if *public != hosts.contains(from) || from == to {
                continue;
            }
            for &(protocol, port) in &ports {
                out.push(MatrixProbe {
                    from: from.to_string(),
                    to: to.clone(),
                    protocol,
                    port: Some(port),
                });
            }
            out.push(MatrixProbe {
                from: from.to_string(),
                to: to.clone(),
                protocol: CheckProtocol::Icmp,
                port: None,
            });
        }
    }
    out
}

/// The public addresses of ENIs with a namespace: Elastic IPs and `public_ip`s.
fn public_addresses(t: &Topology) -> Vec<Ipv4Addr> {
    let attached: BTreeSet<&str> = t
        .enis
        .iter()
        .filter(|e| e.netns.is_some())
        .map(|e| e.id.as_str())
        .collect();
    let mut out: Vec<Ipv4Addr> = t
        .elastic_ips
        .iter()
        .filter(|x| x.eni.as_deref().is_some_and(|e| attached.contains(e)))
        .map(|x| x.public_ip)
        .collect();
    out.extend(
        t.enis
            .iter()
            .filter(|e| e.netns.is_some())
            .filter_map(|e| e.public_ip),
    );
    out
}

/// A test file for `topology_path` with one check per probe, expecting what `report`
/// (a run of the matrix) saw the traffic do.
pub fn test_file(topology_path: &str, probes: &[MatrixProbe], report: &TestReport) -> String {
    let mut out = format!(
        "# Generated by `vpcctl test --generate`: the reachability {topology_path} has now.\n# Save it next to {topology_path}, review it, keep what must hold, and commit it.\ntopology = \"{topology_path}\"\n"
    );
    for (p, c) in probes.iter().zip(&report.checks) {
        let expect = match c.traffic {
            Some(Verdict::Reach) => "reach",
            _ => "blocked",
        };
        let _ = write!(
            out,
            "\n[[check]]\nfrom = \"{}\"\nto = \"{}\"\nprotocol = \"{}\"\n",
            p.from,
            p.to,
            p.protocol.as_str()
        );
        if let Some(port) = p.port {
            let _ = writeln!(out, "port = {port}");
        }
        let _ = writeln!(out, "expect = \"{expect}\"");
        if let (Some(code), "blocked") = (&c.explanation, expect) {
            let _ = writeln!(out, "explanation = \"{code}\"");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_covers_rule_ports_and_public_addresses() {
        let t = crate::validate::check(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/tests/three-tier.toml"
            ))
            .unwrap(),
        )
        .unwrap()
        .0;
        let p = ports(&t);
        for want in [
            (CheckProtocol::Tcp, 80),
            (CheckProtocol::Tcp, 8080),
            (CheckProtocol::Tcp, 5432),
            (CheckProtocol::Tcp, 22),
            (CheckProtocol::Udp, 53),
        ] {
            assert!(p.contains(&want), "{want:?} in {p:?}");
        }
        // 1024-65535 (ephemeral replies) is not a service port.
        assert!(!p.contains(&(CheckProtocol::Tcp, 1024)));
        let m = matrix(&t);
        assert!(m
            .iter()
            .any(|x| x.from == "client" && x.to == "198.51.100.10" && x.port == Some(80)));
        assert!(m
            .iter()
            .any(|x| x.from == "eni-app1" && x.to == "eni-db1" && x.port == Some(5432)));
        assert!(
            !m.iter().any(|x| x.from == "client" && x.to == "eni-db1"),
            "the internet probes public addresses"
        );
        assert!(!m.iter().any(|x| x.from == x.to));
        // 3 ENIs × 2 others + client × 1 public address, each on every port and ICMP.
        assert_eq!(m.len(), (3 * 2 + 1) * (p.len() + 1));
    }
}
