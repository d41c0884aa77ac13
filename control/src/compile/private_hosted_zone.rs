//! The VPC resolver's configuration: the instances' domain from `[lab] region`, the
//! private hosted zones with their VPCs as indices and their records fully qualified,
//! and the optional upstream (`[lab] dns_upstream`, asked from `[internet]
//! resolver_address` in the segment's namespace).

use dataplane::vpc::config::{
    DnsConfig, DnsRecordConfig, DnsRecordKind, DnsUpstream, HostedZoneConfig, VpcIdx,
};

use super::index::Index;
use crate::model::{instance_domain, Topology, DEFAULT_RECORD_TTL, DEFAULT_REGION};
use crate::report::ValidationError;

/// The resolver's configuration for `t` (validated); a dangling VPC or an unknown record
/// type is recorded in `errors`.
pub(super) fn dns(t: &Topology, ix: &Index<'_>, errors: &mut Vec<ValidationError>) -> DnsConfig {
    let region = t
        .lab
        .as_ref()
        .and_then(|l| l.region.as_deref())
        .unwrap_or(DEFAULT_REGION);
    let mut zones = Vec::with_capacity(t.private_hosted_zones.len());
    for z in &t.private_hosted_zones {
        let vpcs = z
            .vpcs
            .iter()
            .filter_map(|v| ix.vpc_of(&z.id, v, errors))
            .map(|i| VpcIdx(i as u32))
            .collect();
        let apex = z.name.trim_end_matches('.').to_string();
        let mut records = Vec::with_capacity(z.records.len());
        for (k, r) in z.records.iter().enumerate() {
            let kind = match r.kind.to_ascii_uppercase().as_str() {
                "A" => DnsRecordKind::A,
                "CNAME" => DnsRecordKind::Cname,
                "TXT" => DnsRecordKind::Txt,
                other => {
                    errors.push(ValidationError::new(
                        &z.id,
                        format!("records[{k}].type"),
                        format!("`{other}` is not supported"),
                    ));
                    continue;
                }
            };
            let values = match kind {
                DnsRecordKind::Cname => r
                    .values
                    .iter()
                    .map(|v| v.trim_end_matches('.').to_string())
                    .collect(),
                _ => r.values.clone(),
            };
            records.push(DnsRecordConfig {
                name: r.fqdn(&apex),
                kind,
                values,
                ttl: u32::try_from(r.ttl.unwrap_or(DEFAULT_RECORD_TTL)).unwrap_or(u32::MAX),
            });
        }
        zones.push(HostedZoneConfig {
            id: z.id.clone(),
            name: apex,
            vpcs,
            records,
        });
    }
    // The upstream is reached from the resolver's address on the internet segment.
    let upstream = t.lab.as_ref().and_then(|l| l.dns_upstream).map(|server| {
        let seg = t.internet.clone().unwrap_or_default();
        DnsUpstream {
            server,
            netns: seg.netns,
            source: seg.resolver_address,
        }
    });
    DnsConfig {
        instance_domain: instance_domain(region),
        zones,
        upstream,
        ..DnsConfig::default()
    }
}
