//! The compiler: a validated [`Topology`] to the data plane's [`DataplaneConfig`].
//!
//! Every cross-reference becomes an index: VPCs in file order; subnets in file order;
//! route tables in file order followed by one implicit main table (id
//! `rtb-main-<vpc suffix>`, local routes only) per VPC that declares none; ENIs in file
//! order. Each route table starts with the VPC's local routes (one per CIDR, IPv4 then
//! IPv6) unless the user replaced one (a route with the same destination), in which case
//! the user's route takes that place. MACs that the file does not set are derived from
//! ids with FNV-1a (plus a finaliser), so they are stable across runs and machines.

use std::collections::HashMap;

use dataplane::config::{
    Attachment, DataplaneConfig, EniConfig, RouteConfig, RouteTableConfig, RouteTarget,
    SubnetConfig, VpcConfig,
};
use dataplane::wire::MacAddr;

use crate::model::{RouteTargetRef, Topology};
use crate::validate::{ValidationError, ValidationErrors};

/// First octet of generated ENI MACs (locally administered, unicast).
pub const ENI_MAC_OUI: u8 = 0x02;
/// First octet of generated router MACs (locally administered, unicast; never equal to
/// a generated ENI MAC because the first octet differs).
pub const ROUTER_MAC_OUI: u8 = 0x06;

/// 64-bit FNV-1a over `bytes` (stable, unlike `std`'s randomised hasher).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The 64-bit finaliser of MurmurHash3: spreads FNV-1a's weak avalanche on the last
/// bytes, so ids that differ in one character get MACs that differ everywhere.
pub fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The five MAC bytes after the first octet for an id: `mix64(fnv1a64(id))`, big-endian.
fn mac_from(first: u8, id: &str) -> MacAddr {
    let h = mix64(fnv1a64(id.as_bytes())).to_be_bytes();
    MacAddr([first, h[0], h[1], h[2], h[3], h[4]])
}

/// The MAC an ENI gets when its `mac` is not set: `02:` + 5 bytes of the id's hash
/// (FNV-1a, then [`mix64`]).
pub fn eni_mac(id: &str) -> MacAddr {
    mac_from(ENI_MAC_OUI, id)
}

/// The MAC of the VPC router's interface in a subnet: `06:` + 5 bytes of the subnet id's
/// hash (FNV-1a, then [`mix64`]).
pub fn router_mac(subnet_id: &str) -> MacAddr {
    mac_from(ROUTER_MAC_OUI, subnet_id)
}

/// The id of the implicit main route table of a VPC that declares none:
/// `rtb-main-<vpc id without "vpc-">`.
pub fn implicit_main_id(vpc_id: &str) -> String {
    format!("rtb-main-{}", vpc_id.strip_prefix("vpc-").unwrap_or(vpc_id))
}

fn idx(i: usize) -> u32 {
    // Validation bounds nothing here, but a file with 4 billion resources is not a file.
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Compiles a validated topology (see [`crate::validate::validate`]). A dangling
/// reference, which validation already reports, is returned as an error rather than
/// panicking, so calling this on an unvalidated model is safe.
pub fn compile(t: &Topology) -> Result<DataplaneConfig, ValidationErrors> {
    let mut errors = Vec::new();
    let vpc_idx: HashMap<&str, usize> = t
        .vpcs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .rev()
        .collect();
    let subnet_idx: HashMap<&str, usize> = t
        .subnets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .rev()
        .collect();
    let eni_idx: HashMap<&str, usize> = t
        .enis
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .rev()
        .collect();

    let vpcs: Vec<VpcConfig> = t
        .vpcs
        .iter()
        .map(|v| VpcConfig {
            id: v.id.clone(),
            cidrs: v.all_cidrs(),
        })
        .collect();

    // Route tables: explicit ones, then the implicit mains.
    let mut route_tables = Vec::new();
    let mut rtb_idx: HashMap<&str, usize> = HashMap::new();
    let mut main_of: HashMap<usize, usize> = HashMap::new();
    for rt in &t.route_tables {
        let Some(&vi) = vpc_idx.get(rt.vpc.as_str()) else {
            errors.push(ValidationError::new(
                &rt.id,
                "vpc",
                format!("no VPC with id `{}`", rt.vpc),
            ));
            continue;
        };
        rtb_idx.entry(rt.id.as_str()).or_insert(route_tables.len());
        if rt.main {
            main_of.entry(vi).or_insert(route_tables.len());
        }
        let vpc = &t.vpcs[vi];
        let mut routes: Vec<RouteConfig> = Vec::new();
        let mut used = vec![false; rt.routes.len()];
        let user_route = |j: usize, errors: &mut Vec<ValidationError>| -> Option<RouteConfig> {
            let route = &rt.routes[j];
            let target = match route.target_ref() {
                RouteTargetRef::Local => RouteTarget::Local,
                RouteTargetRef::Blackhole => RouteTarget::Blackhole,
                RouteTargetRef::Eni(id) => match eni_idx.get(id) {
                    Some(&ei) => RouteTarget::Eni(idx(ei)),
                    None => {
                        errors.push(ValidationError::new(
                            &rt.id,
                            format!("routes[{j}].target"),
                            format!("no ENI with id `{id}`"),
                        ));
                        return None;
                    }
                },
                RouteTargetRef::Unsupported(s) | RouteTargetRef::Invalid(s) => {
                    errors.push(ValidationError::new(
                        &rt.id,
                        format!("routes[{j}].target"),
                        format!("unsupported target `{s}`"),
                    ));
                    return None;
                }
            };
            Some(RouteConfig {
                destination: route.destination,
                target,
            })
        };
        for cidr in vpc.all_cidrs() {
            match rt.routes.iter().position(|r| r.destination == cidr) {
                Some(j) => {
                    used[j] = true;
                    if let Some(rc) = user_route(j, &mut errors) {
                        routes.push(rc);
                    }
                }
                None => routes.push(RouteConfig {
                    destination: cidr,
                    target: RouteTarget::Local,
                }),
            }
        }
        for (j, done) in used.iter().enumerate() {
            if !done {
                if let Some(rc) = user_route(j, &mut errors) {
                    routes.push(rc);
                }
            }
        }
        route_tables.push(RouteTableConfig {
            id: rt.id.clone(),
            vpc: idx(vi),
            routes,
        });
    }
    for (vi, v) in t.vpcs.iter().enumerate() {
        if main_of.contains_key(&vi) {
            continue;
        }
        main_of.insert(vi, route_tables.len());
        route_tables.push(RouteTableConfig {
            id: implicit_main_id(&v.id),
            vpc: idx(vi),
            routes: v
                .all_cidrs()
                .into_iter()
                .map(|destination| RouteConfig {
                    destination,
                    target: RouteTarget::Local,
                })
                .collect(),
        });
    }

    let mut subnets = Vec::new();
    for s in &t.subnets {
        let Some(&vi) = vpc_idx.get(s.vpc.as_str()) else {
            errors.push(ValidationError::new(
                &s.id,
                "vpc",
                format!("no VPC with id `{}`", s.vpc),
            ));
            continue;
        };
        let rt = match &s.route_table {
            Some(id) => rtb_idx.get(id.as_str()).copied(),
            None => main_of.get(&vi).copied(),
        };
        let Some(rt) = rt else {
            errors.push(ValidationError::new(
                &s.id,
                "route_table",
                "no such route table",
            ));
            continue;
        };
        subnets.push(SubnetConfig {
            id: s.id.clone(),
            vpc: idx(vi),
            ipv4_cidr: Some(s.cidr),
            ipv6_cidr: s.ipv6_cidr,
            route_table: idx(rt),
            router_mac: router_mac(&s.id),
            network_acl: None,
        });
    }

    let mut enis = Vec::new();
    for e in &t.enis {
        let Some(&si) = subnet_idx.get(e.subnet.as_str()) else {
            errors.push(ValidationError::new(
                &e.id,
                "subnet",
                format!("no subnet with id `{}`", e.subnet),
            ));
            continue;
        };
        enis.push(EniConfig {
            id: e.id.clone(),
            subnet: idx(si),
            mac: e.mac.unwrap_or_else(|| eni_mac(&e.id)),
            ipv4: e.ipv4_addrs().collect(),
            ipv6: e.ipv6_ips.clone(),
            source_dest_check: e.source_dest_check,
            mtu: e.mtu,
            attachment: e.netns.as_ref().map(|ns| Attachment {
                netns: ns.clone(),
                ifname: e.ifname.clone(),
            }),
            security_groups: None,
            conntrack: Default::default(),
        });
    }

    if errors.is_empty() {
        Ok(DataplaneConfig {
            vpcs,
            subnets,
            route_tables,
            enis,
            network_acls: Vec::new(),
            security_groups: Vec::new(),
        })
    } else {
        Err(ValidationErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_str;
    use dataplane::config::Attachment;

    /// The example of the schema: three subnets, a middlebox route, an implicit main.
    const DEMO: &str = r#"
        [[vpc]]
        id = "vpc-demo"
        cidr = "10.0.0.0/16"
        secondary_cidrs = ["10.1.0.0/16"]
        ipv6_cidr = "2600:1f18:aa00:100::/56"

        [[vpc]]
        id = "vpc-other"
        cidr = "10.0.0.0/16"

        [[route_table]]
        id = "rtb-fw"
        vpc = "vpc-demo"
        routes = [
          { destination = "0.0.0.0/0", target = "blackhole" },
          { destination = "10.0.0.0/16", target = "eni-fw" },
          { destination = "10.0.2.0/24", target = "eni-fw" },
        ]

        [[subnet]]
        id = "subnet-a"
        vpc = "vpc-demo"
        cidr = "10.0.1.0/24"
        route_table = "rtb-fw"

        [[subnet]]
        id = "subnet-b"
        vpc = "vpc-demo"
        cidr = "10.0.2.0/24"
        ipv6_cidr = "2600:1f18:aa00:102::/64"

        [[subnet]]
        id = "subnet-fw"
        vpc = "vpc-demo"
        cidr = "10.1.3.0/24"

        [[subnet]]
        id = "subnet-o"
        vpc = "vpc-other"
        cidr = "10.0.1.0/24"

        [[eni]]
        id = "eni-a1"
        subnet = "subnet-a"
        private_ip = "10.0.1.10"
        secondary_ips = ["10.0.1.11", "10.0.1.12"]
        netns = "ns-a1"

        [[eni]]
        id = "eni-fw"
        subnet = "subnet-fw"
        private_ip = "10.1.3.10"
        source_dest_check = false
        mtu = 1500
        mac = "02:aa:bb:cc:dd:ee"
        netns = "ns-fw"
        ifname = "fw0"

        [[eni]]
        id = "eni-b1"
        subnet = "subnet-b"
        private_ip = "10.0.2.10"
        ipv6_ips = ["2600:1f18:aa00:102::10"]
    "#;

    fn demo() -> DataplaneConfig {
        compile_str(DEMO).unwrap().config
    }

    fn rtb<'a>(c: &'a DataplaneConfig, id: &str) -> &'a RouteTableConfig {
        c.route_tables.iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn fnv1a_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn generated_macs_are_stable_local_unicast_and_distinct() {
        let e = eni_mac("eni-a1");
        let r = router_mac("subnet-a");
        assert_eq!(e, eni_mac("eni-a1"));
        assert!(e.is_local_unicast() && r.is_local_unicast());
        assert_eq!(e.0[0], 0x02);
        assert_eq!(r.0[0], 0x06);
        assert_ne!(eni_mac("eni-a1"), eni_mac("eni-a2"));
        // Pinned so that a change of the derivation is a deliberate one.
        let h = mix64(fnv1a64(b"eni-a1")).to_be_bytes();
        assert_eq!(e.0[1..], h[..5]);
    }

    #[test]
    fn indices_follow_file_order_with_implicit_mains_last() {
        let c = demo();
        let vpcs: Vec<&str> = c.vpcs.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(vpcs, ["vpc-demo", "vpc-other"]);
        let rts: Vec<&str> = c.route_tables.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(rts, ["rtb-fw", "rtb-main-demo", "rtb-main-other"]);
        let subnets: Vec<&str> = c.subnets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(subnets, ["subnet-a", "subnet-b", "subnet-fw", "subnet-o"]);
        let enis: Vec<&str> = c.enis.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(enis, ["eni-a1", "eni-fw", "eni-b1"]);
        assert_eq!(c.subnets[3].vpc, 1);
        assert_eq!(c.enis[1].subnet, 2);
        assert_eq!(c.route_tables[2].vpc, 1);
    }

    #[test]
    fn vpc_cidrs_primary_secondary_ipv6() {
        let c = demo();
        let cidrs: Vec<String> = c.vpcs[0].cidrs.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            cidrs,
            ["10.0.0.0/16", "10.1.0.0/16", "2600:1f18:aa00:100::/56"]
        );
    }

    #[test]
    fn local_routes_first_unless_replaced() {
        let c = demo();
        let fw = rtb(&c, "rtb-fw");
        let routes: Vec<(String, RouteTarget)> = fw
            .routes
            .iter()
            .map(|r| (r.destination.to_string(), r.target))
            .collect();
        assert_eq!(
            routes,
            [
                ("10.0.0.0/16".to_string(), RouteTarget::Eni(1)),
                ("10.1.0.0/16".to_string(), RouteTarget::Local),
                ("2600:1f18:aa00:100::/56".to_string(), RouteTarget::Local),
                ("0.0.0.0/0".to_string(), RouteTarget::Blackhole),
                ("10.0.2.0/24".to_string(), RouteTarget::Eni(1)),
            ]
        );
        let main = rtb(&c, "rtb-main-demo");
        assert_eq!(main.routes.len(), 3);
        assert!(main.routes.iter().all(|r| r.target == RouteTarget::Local));
    }

    #[test]
    fn explicit_local_route_is_not_duplicated() {
        let c = compile_str(
            "[[vpc]]\nid = \"vpc-x\"\ncidr = \"10.0.0.0/16\"\n[[route_table]]\nid = \"rtb-x\"\nvpc = \"vpc-x\"\nmain = true\nroutes = [{ destination = \"10.0.0.0/16\", target = \"local\" }]\n",
        )
        .unwrap()
        .config;
        assert_eq!(c.route_tables.len(), 1);
        assert_eq!(c.route_tables[0].routes.len(), 1);
        assert_eq!(c.route_tables[0].routes[0].target, RouteTarget::Local);
    }

    #[test]
    fn scenario_12_main_vs_explicit_association() {
        let c = demo();
        // subnet-a is explicitly on rtb-fw; subnet-b and subnet-fw follow the main.
        assert_eq!(c.subnets[0].route_table, 0);
        assert_eq!(c.subnets[1].route_table, 1);
        assert_eq!(c.subnets[2].route_table, 1);
        assert_eq!(c.subnets[3].route_table, 2);
        // Making rtb-fw the main: implicit subnets follow it, no implicit main is made.
        let c = compile_str(&DEMO.replace(
            "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"",
            "id = \"rtb-fw\"\n        vpc = \"vpc-demo\"\n        main = true",
        ))
        .unwrap()
        .config;
        assert!(!c.route_tables.iter().any(|r| r.id == "rtb-main-demo"));
        assert_eq!(c.subnets[1].route_table, 0);
    }

    #[test]
    fn scenario_9_blackhole_compiles() {
        let c = demo();
        assert!(rtb(&c, "rtb-fw")
            .routes
            .iter()
            .any(|r| r.target == RouteTarget::Blackhole));
    }

    #[test]
    fn subnets_carry_cidrs_and_router_macs() {
        let c = demo();
        assert_eq!(c.subnets[0].ipv4_cidr.unwrap().to_string(), "10.0.1.0/24");
        assert_eq!(c.subnets[0].ipv6_cidr, None);
        assert_eq!(
            c.subnets[1].ipv6_cidr.unwrap().to_string(),
            "2600:1f18:aa00:102::/64"
        );
        assert_eq!(c.subnets[0].router_mac, router_mac("subnet-a"));
        let macs: std::collections::HashSet<_> = c
            .subnets
            .iter()
            .map(|s| s.router_mac)
            .chain(c.enis.iter().map(|e| e.mac))
            .collect();
        assert_eq!(macs.len(), c.subnets.len() + c.enis.len());
    }

    #[test]
    fn enis_carry_addresses_mac_and_attachment() {
        let c = demo();
        let a = &c.enis[0];
        let ips: Vec<String> = a.ipv4.iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["10.0.1.10", "10.0.1.11", "10.0.1.12"]);
        assert_eq!(a.mac, eni_mac("eni-a1"));
        assert!(a.source_dest_check);
        assert_eq!(a.mtu, 9001);
        assert_eq!(
            a.attachment,
            Some(Attachment {
                netns: "ns-a1".into(),
                ifname: "eth0".into()
            })
        );
        let fw = &c.enis[1];
        assert_eq!(fw.mac.to_string(), "02:aa:bb:cc:dd:ee");
        assert!(!fw.source_dest_check);
        assert_eq!(fw.mtu, 1500);
        assert_eq!(fw.attachment.as_ref().unwrap().ifname, "fw0");
        let b = &c.enis[2];
        assert_eq!(b.attachment, None);
        assert_eq!(b.ipv6.len(), 1);
    }

    #[test]
    fn config_survives_the_wire() {
        let c = demo();
        let json = serde_json::to_string(&c).unwrap();
        let back: DataplaneConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn compile_of_unvalidated_model_reports_instead_of_panicking() {
        let mut t = crate::validate::parse(
            "[[eni]]\nid = \"eni-a\"\nsubnet = \"subnet-x\"\nprivate_ip = \"10.0.0.10\"\n",
        )
        .unwrap();
        t.vpcs.clear();
        let e = compile(&t).unwrap_err();
        assert_eq!(e.0[0].resource, "eni-a");
    }
}
