//! What the instance metadata service knows about one ENI's instance: the paths under
//! `latest/` (`meta-data/…`, `dynamic/instance-identity/document`) and their contents,
//! read from the running tables at request time (so an apply shows at once, as in AWS).
//!
//! A path is a leaf (its text) or a directory (its children, one per line, a
//! subdirectory with a trailing `/`), as the EC2 metadata service lists them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::vpc::config::{EniIdx, DEFAULT_IMAGE_ID};
use crate::vpc::pipeline::dns::instance_name;
use crate::vpc::tables::Tables;

/// The account id the lab's resources belong to (AWS's documentation example).
pub const LAB_ACCOUNT_ID: &str = "123456789012";

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A value.
    Leaf(String),
    /// A directory: its listing.
    Dir(String),
}

/// The metadata of one instance, as seen from one of its ENIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Leaf paths under `latest/` (no leading or trailing slash) and their values.
    leaves: BTreeMap<String, String>,
}

impl Catalog {
    /// The catalog of the instance behind ENI `eni` (`None`: no such ENI).
    pub fn of(t: &Tables, eni: EniIdx) -> Option<Catalog> {
        let cfg = t.config.enis.get(eni.idx())?;
        let instance_id = instance_id(t, eni);
        let region = t.config.region().to_string();
        let domain = t.config.dns.instance_domain.clone();
        let subnet_cfg = t.config.subnets.get(cfg.subnet.idx())?;
        let az = availability_zone(&subnet_cfg.availability_zone, &region);
        let primary = cfg.ipv4.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mut c = Catalog::default();
        let mut put = |k: &str, v: String| {
            c.leaves.insert(k.to_string(), v);
        };
        let image = if cfg.instance.image_id.is_empty() {
            DEFAULT_IMAGE_ID.to_string()
        } else {
            cfg.instance.image_id.clone()
        };
        let itype = cfg.instance.instance_type.clone();
        let hostname = instance_name(primary, &domain);
        let md = "meta-data";
        put(&format!("{md}/ami-id"), image.clone());
        put(&format!("{md}/ami-launch-index"), "0".into());
        put(&format!("{md}/hostname"), hostname.clone());
        put(&format!("{md}/instance-id"), instance_id.clone());
        put(&format!("{md}/instance-type"), itype.clone());
        put(&format!("{md}/local-hostname"), hostname.clone());
        put(&format!("{md}/local-ipv4"), primary.to_string());
        put(&format!("{md}/mac"), cfg.mac.to_string());
        put(&format!("{md}/placement/availability-zone"), az.clone());
        put(&format!("{md}/placement/region"), region.clone());
        put(&format!("{md}/services/domain"), "amazonaws.com".into());
        put(&format!("{md}/services/partition"), "aws".into());
        put(
            &format!("{md}/security-groups"),
            group_ids(t, eni).join("\n"),
        );
        if let Some(public) = public_ipv4(t, eni, primary) {
            put(&format!("{md}/public-ipv4"), public.to_string());
            put(
                &format!("{md}/public-hostname"),
                public_name(public, &region),
            );
        }
        // Every ENI of the instance, by MAC.
        for (i, other) in t.config.enis.iter().enumerate() {
            let o = EniIdx(i as u32);
            if self::instance_id(t, o) != instance_id {
                continue;
            }
            let Some(sub) = t.config.subnets.get(other.subnet.idx()) else {
                continue;
            };
            let Some(vpc) = t.config.vpcs.get(sub.vpc.idx()) else {
                continue;
            };
            let base = format!("{md}/network/interfaces/macs/{}", other.mac);
            let first = other.ipv4.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED);
            let vpc4: Vec<String> = vpc
                .cidrs
                .iter()
                .filter(|n| matches!(n, ipnet::IpNet::V4(_)))
                .map(ToString::to_string)
                .collect();
            put(
                &format!("{base}/device-number"),
                other.instance.device_index.to_string(),
            );
            put(&format!("{base}/interface-id"), other.id.clone());
            put(
                &format!("{base}/local-hostname"),
                instance_name(first, &domain),
            );
            put(
                &format!("{base}/local-ipv4s"),
                other
                    .ipv4
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            put(&format!("{base}/mac"), other.mac.to_string());
            put(&format!("{base}/owner-id"), LAB_ACCOUNT_ID.into());
            put(
                &format!("{base}/security-group-ids"),
                group_ids(t, o).join("\n"),
            );
            put(
                &format!("{base}/security-groups"),
                group_ids(t, o).join("\n"),
            );
            put(&format!("{base}/subnet-id"), sub.id.clone());
            if let Some(cidr) = sub.ipv4_cidr {
                put(&format!("{base}/subnet-ipv4-cidr-block"), cidr.to_string());
            }
            put(&format!("{base}/vpc-id"), vpc.id.clone());
            if let Some(first4) = vpc4.first() {
                put(&format!("{base}/vpc-ipv4-cidr-block"), first4.clone());
            }
            put(&format!("{base}/vpc-ipv4-cidr-blocks"), vpc4.join("\n"));
            let publics: Vec<(Ipv4Addr, Ipv4Addr)> = other
                .ipv4
                .iter()
                .filter_map(|&p| public_ipv4(t, o, p).map(|pub4| (pub4, p)))
                .collect();
            if !publics.is_empty() {
                put(
                    &format!("{base}/public-ipv4s"),
                    publics
                        .iter()
                        .map(|(p, _)| p.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                for (p, private) in &publics {
                    put(
                        &format!("{base}/ipv4-associations/{p}"),
                        private.to_string(),
                    );
                }
            }
        }
        let document = serde_json::json!({
            "accountId": LAB_ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": az,
            "imageId": image,
            "instanceId": instance_id,
            "instanceType": itype,
            "pendingTime": "2026-01-01T00:00:00Z",
            "privateIp": primary.to_string(),
            "region": region,
            "version": "2017-09-30",
        });
        put(
            "dynamic/instance-identity/document",
            serde_json::to_string_pretty(&document).unwrap_or_default(),
        );
        Some(c)
    }

    /// What `path` (relative to `latest/`, slashes at either end ignored) names.
    pub fn get(&self, path: &str) -> Option<Entry> {
        let path = path.trim_matches('/');
        if let Some(v) = self.leaves.get(path) {
            return Some(Entry::Leaf(v.clone()));
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut children: Vec<String> = Vec::new();
        for k in self.leaves.range(prefix.clone()..) {
            let Some(rest) = k.0.strip_prefix(&prefix) else {
                break;
            };
            let child = match rest.split_once('/') {
                Some((dir, _)) => format!("{dir}/"),
                None => rest.to_string(),
            };
            if children.last() != Some(&child) {
                children.push(child);
            }
        }
        (!children.is_empty()).then(|| Entry::Dir(children.join("\n")))
    }
}

/// The instance id of ENI `eni`'s instance: the configured one, or one derived from the
/// ENI id (`i-` and 17 hex digits) when none is set.
pub fn instance_id(t: &Tables, eni: EniIdx) -> String {
    let Some(cfg) = t.config.enis.get(eni.idx()) else {
        return String::new();
    };
    if !cfg.instance.id.is_empty() {
        return cfg.instance.id.clone();
    }
    // FNV-1a: stable across runs and builds (a std hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cfg.id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("i-0{:016x}", h)
}

/// The zone of a subnet: its own, or the region's first.
fn availability_zone(az: &str, region: &str) -> String {
    if az.is_empty() {
        format!("{region}a")
    } else {
        az.to_string()
    }
}

/// The ENI's security groups, by id.
fn group_ids(t: &Tables, eni: EniIdx) -> Vec<String> {
    let Some(cfg) = t.config.enis.get(eni.idx()) else {
        return Vec::new();
    };
    cfg.security_groups
        .iter()
        .flatten()
        .filter_map(|g| t.config.security_groups.get(g.idx()).map(|s| s.id.clone()))
        .collect()
}

/// The public address the VPC's internet gateway maps `private` (of `eni`) to.
fn public_ipv4(t: &Tables, eni: EniIdx, private: Ipv4Addr) -> Option<Ipv4Addr> {
    let vpc = t.enis.get(eni.idx())?.vpc;
    t.igws
        .iter()
        .filter(|g| g.vpc == vpc)
        .find_map(|g| g.outbound.get(&private).copied())
}

/// The public DNS name of `ip` in `region`, as EC2 names it.
fn public_name(ip: Ipv4Addr, region: &str) -> String {
    let o = ip.octets();
    if region == "us-east-1" {
        format!(
            "ec2-{}-{}-{}-{}.compute-1.amazonaws.com",
            o[0], o[1], o[2], o[3]
        )
    } else {
        format!(
            "ec2-{}-{}-{}-{}.{region}.compute.amazonaws.com",
            o[0], o[1], o[2], o[3]
        )
    }
}
