//! VPCs: in file order, each with all its CIDRs (primary, secondary ones, IPv6).

use dataplane::vpc::config::VpcConfig;

use crate::model::Topology;

/// The VPCs of `t` in file order (their index is their model index).
pub(super) fn vpcs(t: &Topology) -> Vec<VpcConfig> {
    t.vpcs
        .iter()
        .map(|v| VpcConfig {
            id: v.id.clone(),
            cidrs: v.all_cidrs(),
            dhcp: Default::default(),
        })
        .collect()
}
