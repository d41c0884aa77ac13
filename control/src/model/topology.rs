//! The whole topology file: one list per resource kind, and the `[lab]` table.

use serde::{Deserialize, Serialize};

use super::{
    DhcpOptions, ElasticIp, Eni, FlowLog, InternetGateway, InternetHost, InternetSegment,
    LabSettings, NatGateway, NetworkAcl, PacketCapture, PeeringConnection, PrefixList,
    PrivateHostedZone, RouteTable, SecurityGroup, Subnet, TrafficMirrorFilter,
    TrafficMirrorSession, TrafficMirrorTarget, Vpc,
};

/// A whole topology file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// `[[vpc]]` tables.
    #[serde(default, rename = "vpc")]
    pub vpcs: Vec<Vpc>,
    /// `[[subnet]]` tables.
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<Subnet>,
    /// `[[route_table]]` tables.
    #[serde(default, rename = "route_table")]
    pub route_tables: Vec<RouteTable>,
    /// `[[eni]]` tables.
    #[serde(default, rename = "eni")]
    pub enis: Vec<Eni>,
    /// `[[dhcp_options]]` tables.
    #[serde(
        default,
        rename = "dhcp_options",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dhcp_options: Vec<DhcpOptions>,
    /// `[[prefix_list]]` tables.
    #[serde(default, rename = "prefix_list", skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<PrefixList>,
    /// `[[network_acl]]` tables.
    #[serde(default, rename = "network_acl", skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Vec<NetworkAcl>,
    /// `[[security_group]]` tables.
    #[serde(
        default,
        rename = "security_group",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub security_groups: Vec<SecurityGroup>,
    /// `[[internet_gateway]]` tables.
    #[serde(
        default,
        rename = "internet_gateway",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub internet_gateways: Vec<InternetGateway>,
    /// `[[internet_host]]` tables.
    #[serde(
        default,
        rename = "internet_host",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub internet_hosts: Vec<InternetHost>,
    /// The optional `[internet]` table: the shared internet segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet: Option<InternetSegment>,
    /// `[[elastic_ip]]` tables.
    #[serde(default, rename = "elastic_ip", skip_serializing_if = "Vec::is_empty")]
    pub elastic_ips: Vec<ElasticIp>,
    /// `[[nat_gateway]]` tables.
    #[serde(default, rename = "nat_gateway", skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<NatGateway>,
    /// `[[peering_connection]]` tables.
    #[serde(
        default,
        rename = "peering_connection",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peering_connections: Vec<PeeringConnection>,
    /// `[[flow_log]]` tables.
    #[serde(default, rename = "flow_log", skip_serializing_if = "Vec::is_empty")]
    pub flow_logs: Vec<FlowLog>,
    /// `[[packet_capture]]` tables.
    #[serde(
        default,
        rename = "packet_capture",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub packet_captures: Vec<PacketCapture>,
    /// `[[traffic_mirror_target]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_target",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_targets: Vec<TrafficMirrorTarget>,
    /// `[[traffic_mirror_filter]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_filter",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_filters: Vec<TrafficMirrorFilter>,
    /// `[[traffic_mirror_session]]` tables.
    #[serde(
        default,
        rename = "traffic_mirror_session",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub traffic_mirror_sessions: Vec<TrafficMirrorSession>,
    /// `[[private_hosted_zone]]` tables.
    #[serde(
        default,
        rename = "private_hosted_zone",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub private_hosted_zones: Vec<PrivateHostedZone>,
    /// The optional `[lab]` table: knobs for test labs, not AWS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<LabSettings>,
    // New resource kinds: add them here, to `TOP_LEVEL_KEYS` in `crate::validate`, and,
    // when they are route targets, to the target kinds of `RouteTargetRef`.
}

impl Topology {
    /// The region the lab stands for: `[lab] region`, else [`super::DEFAULT_REGION`].
    pub fn region(&self) -> &str {
        self.lab
            .as_ref()
            .and_then(|l| l.region.as_deref())
            .unwrap_or(super::DEFAULT_REGION)
    }

    /// Whether the topology uses the shared internet segment: an `[internet]` table,
    /// internet hosts, or an internet gateway without an `internet` namespace of its own.
    pub fn uses_internet_segment(&self) -> bool {
        self.internet.is_some()
            || !self.internet_hosts.is_empty()
            || self.internet_gateways.iter().any(|g| g.internet.is_none())
    }

    /// Renames every namespace with `ns`: the ENIs', the gateways' own internet
    /// namespaces, the internet segment's (made explicit when it is used) and the hosts'.
    /// Test runs use it to give every namespace a per-run prefix.
    pub fn rename_namespaces(&mut self, ns: &dyn Fn(&str) -> String) {
        for e in &mut self.enis {
            if let Some(n) = &e.netns {
                e.netns = Some(ns(n));
            }
        }
        for g in &mut self.internet_gateways {
            if let Some(inet) = &mut g.internet {
                inet.netns = ns(&inet.netns);
            }
        }
        if self.uses_internet_segment() {
            let mut seg = self.internet.clone().unwrap_or_default();
            seg.netns = ns(&seg.netns);
            self.internet = Some(seg);
        }
        for h in &mut self.internet_hosts {
            h.netns = Some(ns(h.netns()));
        }
    }
}
