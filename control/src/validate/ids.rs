//! Ids: every resource's id carries its kind's AWS prefix (`vpc-`, `subnet-`, …) followed
//! by letters, digits, `-` or `_`, at most [`ID_MAX_LEN`] characters in all (AWS's ids are
//! 21 or fewer), and no two resources share an id, across kinds.

use std::collections::{HashMap, HashSet};

use super::context::Report;
use crate::model::Topology;

/// The longest id, in characters (ids are ASCII): every id, and every id a route targets.
pub const ID_MAX_LEN: usize = 64;

/// Id prefixes, per resource kind.
pub const VPC_PREFIX: &str = "vpc-";
/// Id prefix of subnets.
pub const SUBNET_PREFIX: &str = "subnet-";
/// Id prefix of route tables.
pub const RTB_PREFIX: &str = "rtb-";
/// Id prefix of ENIs.
pub const ENI_PREFIX: &str = "eni-";
/// Id prefix of network ACLs.
pub const NACL_PREFIX: &str = "acl-";
/// Id prefix of security groups.
pub const SG_PREFIX: &str = "sg-";
/// Id prefix of prefix lists.
pub const PL_PREFIX: &str = "pl-";
/// Id prefix of internet gateways.
pub const IGW_PREFIX: &str = "igw-";
/// Id prefix of Elastic IPs (allocation ids).
pub const EIP_PREFIX: &str = "eipalloc-";
/// Id prefix of NAT gateways.
pub const NAT_PREFIX: &str = "nat-";
/// Id prefix of VPC peering connections.
pub const PCX_PREFIX: &str = "pcx-";
/// Id prefix of flow logs.
pub const FL_PREFIX: &str = "fl-";
/// Id prefix of packet captures.
pub const CAP_PREFIX: &str = "cap-";
/// Id prefix of traffic mirror targets.
pub const TMT_PREFIX: &str = "tmt-";
/// Id prefix of traffic mirror filters.
pub const TMF_PREFIX: &str = "tmf-";
/// Id prefix of traffic mirror sessions.
pub const TMS_PREFIX: &str = "tms-";
/// Id prefix of DHCP option sets.
pub const DOPT_PREFIX: &str = "dopt-";

/// Checks the ids of every resource: present, prefixed by kind, unique across the file.
pub(super) fn ids(r: &mut Report, t: &Topology) {
    // (kind, id prefix, ids) of every resource kind, in declaration order.
    macro_rules! ids_by_kind {
        ($($field:ident: $kind:literal, $prefix:expr;)*) => {
            [$((
                $kind,
                $prefix,
                t.$field.iter().map(|x| x.id.as_str()).collect::<Vec<&str>>(),
            )),*]
        };
    }
    let kinds = ids_by_kind! {
        vpcs: "vpc", VPC_PREFIX;
        subnets: "subnet", SUBNET_PREFIX;
        route_tables: "route_table", RTB_PREFIX;
        enis: "eni", ENI_PREFIX;
        dhcp_options: "dhcp_options", DOPT_PREFIX;
        prefix_lists: "prefix_list", PL_PREFIX;
        network_acls: "network_acl", NACL_PREFIX;
        security_groups: "security_group", SG_PREFIX;
        internet_gateways: "internet_gateway", IGW_PREFIX;
        internet_hosts: "internet_host", "";
        elastic_ips: "elastic_ip", EIP_PREFIX;
        nat_gateways: "nat_gateway", NAT_PREFIX;
        peering_connections: "peering_connection", PCX_PREFIX;
        flow_logs: "flow_log", FL_PREFIX;
        packet_captures: "packet_capture", CAP_PREFIX;
        traffic_mirror_targets: "traffic_mirror_target", TMT_PREFIX;
        traffic_mirror_filters: "traffic_mirror_filter", TMF_PREFIX;
        traffic_mirror_sessions: "traffic_mirror_session", TMS_PREFIX;
    };
    for (kind, prefix, ids) in &kinds {
        for (i, id) in ids.iter().enumerate() {
            r.id(id, prefix, kind, i);
        }
    }
    let all = kinds.iter().flat_map(|(kind, _, ids)| {
        let r = &r;
        ids.iter()
            .enumerate()
            .map(move |(i, id)| (*id, format!("{kind}[{}]", r.origins.at(kind, i))))
    });
    let mut seen: HashMap<&str, String> = HashMap::new();
    let mut dups = Vec::new();
    for (id, slot) in all {
        // An id over the limit is reported already, and not repeated in more messages.
        if id.is_empty() || id.len() > ID_MAX_LEN {
            continue;
        }
        if let Some(first) = seen.get(id) {
            dups.push((
                id.to_string(),
                format!("duplicate id: {slot} reuses the id of {first}"),
            ));
        } else {
            seen.insert(id, slot);
        }
    }
    for (id, msg) in dups {
        r.err(&id, "id", msg);
    }
}

/// The non-empty ids of the resource kinds up to flow logs (what an implicit default
/// network ACL or security group id must not collide with).
pub(super) fn declared_ids(t: &Topology) -> HashSet<String> {
    t.vpcs
        .iter()
        .map(|x| &x.id)
        .chain(t.subnets.iter().map(|x| &x.id))
        .chain(t.route_tables.iter().map(|x| &x.id))
        .chain(t.enis.iter().map(|x| &x.id))
        .chain(t.prefix_lists.iter().map(|x| &x.id))
        .chain(t.network_acls.iter().map(|x| &x.id))
        .chain(t.security_groups.iter().map(|x| &x.id))
        .chain(t.internet_gateways.iter().map(|x| &x.id))
        .chain(t.elastic_ips.iter().map(|x| &x.id))
        .chain(t.nat_gateways.iter().map(|x| &x.id))
        .chain(t.peering_connections.iter().map(|x| &x.id))
        .chain(t.flow_logs.iter().map(|x| &x.id))
        .filter(|id| !id.is_empty())
        .cloned()
        .collect()
}
