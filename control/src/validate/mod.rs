//! Whole-file validation: every problem of a topology file, each naming its resource and
//! field, reported together.
//!
//! Two passes:
//! 1. [`parse`] reads the TOML. A syntax error is one [`ValidationError`] for resource
//!    `file`. Otherwise every resource is deserialised on its own, so a bad value or an
//!    unknown field in one resource does not hide the problems of the others.
//! 2. [`validate`] checks the typed model as a whole (ids, references, CIDRs, addresses,
//!    routes, MACs, interfaces) and normalises it in place.
//!
//! **Normalisation.** Like the AWS API (which stores `100.68.0.18/18` as
//! `100.68.0.0/18`), a CIDR with host bits set — VPC, subnet or route destination — is
//! not an error: its host bits are cleared and a warning names the resource and field.
//!
//! **IPv6 routes in an IPv4-only VPC** are accepted without comment: they never match
//! (no ENI of such a VPC can hold an IPv6 address), exactly like an IPv6 route whose
//! target never sees IPv6 traffic.
//!
//! **Firewall rules** follow the AWS APIs: ports belong to TCP/UDP and ICMP type/code to
//! ICMP/ICMPv6 (the wrong one is an error); for `-1` and other protocol numbers AWS ignores
//! both, so they are accepted with a warning (scenario 17's `proto 47 ports 80-80` allows
//! all GRE); ICMPv6 with an IPv4 CIDR matches every ICMP type in AWS, so a type/code there
//! is ignored with a warning. Quotas: NACL rules per direction over 20 warn, over 40 are an
//! error; security-group rules per direction over 60 are an error, a prefix-list rule
//! counting as the list's `max_entries`; at most 5 groups per ENI.
//!
//! **NAT gateways** follow `CreateNatGateway`: a public gateway needs an internet gateway
//! in its VPC (else AWS's "Network vpc-… has no internet gateway attached") and an
//! existing Elastic IP per address (`allocation_id`, then one `secondary_allocation_ids`
//! entry per `secondary_private_ips` entry); a private one takes none. An Elastic IP is
//! used once: by one NAT gateway address or by its own `eni` association. Addresses are
//! assignable addresses of the gateway's subnet (the subnet always has an IPv4 CIDR in this
//! model), at most 8, and unique in the VPC together with the ENIs' (a clash is reported
//! on the NAT gateway). A `nat-…` route target is a NAT gateway of the table's VPC, for
//! IPv4 destinations (NAT64 is not supported), and like an ENI it may take a subnet's
//! CIDR or replace a local route. Warnings: a public gateway whose subnet has no route to
//! the internet gateway, more than 2 Elastic IPs (AWS's default quota), and a route of the
//! gateway's own subnet to the gateway itself. The gateway's network interface id
//! (`network_interface_id`, else `eni-<nat id>`) is an `eni-…` id no ENI and no other
//! gateway's interface has; the lab knob `idle_timeout` is a number of seconds > 0.
//!
//! **VPC peering** follows `CreateVpcPeeringConnection` and the peering guide: both VPCs
//! exist and differ; their CIDRs do not overlap (every IPv4 block, primary or secondary,
//! and the IPv6 block; the error names both CIDRs); at most one peering joins two VPCs, in
//! either direction. VPCs that are not peered may overlap freely. A `pcx-…` route target
//! is a peering of the table's own VPC, and not for a destination equal to or inside one of
//! that VPC's CIDRs (routes more specific than local take NAT gateways and ENIs only).
//! Warnings, not errors: a route to a `pending-acceptance` peering (a blackhole until it is
//! accepted; no warning when the route says `state = "blackhole"`) and a route whose
//! destination holds none of the peer VPC's addresses.
//!
//! **Deleted route targets** (AWS's route state `blackhole`), one rule for every kind of
//! target (ENI, internet gateway, NAT gateway, peering): a target id that the file does
//! not declare is an error, unless the route says `state = "blackhole"`, in which case it
//! is accepted and compiled as a blackhole that remembers the target's id (for `vpcctl
//! show` and `vpcctl trace`). `state = "blackhole"` on a route whose target exists and is
//! available is an error: AWS derives a route's state from its target, so that route
//! would be active (the message names both fixes: drop the marker, or write `target =
//! "blackhole"`). On a route to a pending peering it is accepted (that is AWS's state too).
//!
//! **Unattached ENIs**: an ENI without `netns` has no port; it is valid (its addresses
//! are still owned, ARP still answers for them) but traffic to it is dropped as
//! `eni_not_attached`, so it is a warning that says how to attach it.
//! A security-group rule may name a group of another VPC when an active peering joins the
//! two; otherwise it is accepted with a warning and matches nothing (AWS's "stale" rules).
//! An ENI's own groups still belong to its VPC.
//!
//! **Flow logs** follow `CreateFlowLogs`: `resource` is an existing ENI (a NAT gateway's
//! network interface included), subnet or VPC;
//! `traffic_type` is ALL, ACCEPT or REJECT (any case); `max_aggregation_interval` is 60 or
//! 600. `log_destination` is a file on vpcd's host: an absolute path, not a directory,
//! whose directory exists (checked where `vpcctl` runs). `log_format` is `${field}` tokens
//! separated by spaces, each a known field (`dataplane::observe::flowlog::FIELDS`) at most once.
//! Warnings: two flow logs writing the same file, and a subnet or VPC without ENIs.
//! `[lab] flow_log_interval` (seconds, > 0) replaces every interval, and a flow log's own
//! `lab_interval` (seconds, > 0) replaces its own.
//!
//! **The internet segment and its hosts**: `[internet] netns` is a usable namespace of its
//! own and `mtu` is 576..=1500; an internet host has at least one unicast address (any
//! range, private space included: the gateways refuse what AWS refuses), not another
//! host's and not a public address of the VPCs; `internet_gateways` name gateways on the
//! segment (without an `internet` table of their own); its namespace (default: its id)
//! is its own; its services use distinct ports, HTTP over TCP only. Hosts with no gateway
//! on the segment are a warning.
//!
//! **Packet captures** name an existing ENI and write `file`: an absolute path, not a
//! directory, whose directory exists (checked where `vpcctl` runs), used by one capture
//! only; `snaplen` is 1..=262144; a filter's `port` is 0..=65535 and only goes with tcp,
//! udp or no protocol; a `host` CIDR with host bits set is normalised with a warning.
//! **Traffic mirroring** follows the EC2 API: a target names an existing ENI; a filter
//! has at most 10 rules, numbered 1..=32766 and unique per direction, whose source and
//! destination CIDRs are of one family and whose ports go with tcp/udp only; a session
//! names an existing source ENI, target and filter, has a session number 1..=32766
//! unique per source ENI (at most 3 sessions per source), a VNI below 2^24 and a
//! `packet_length` of 1..=8500; its target ENI is not the source and is in the source's
//! VPC or one joined to it by an active peering connection. A session whose filter has
//! no rules is accepted with a warning (it mirrors nothing).
//!
//! **Limits** (`limits.rs`, ids in `ids.rs`): ids have at most 64 characters (route
//! targets too, a deleted target's included); names and descriptions at most 255
//! characters and no control characters; file paths at most 4095 bytes; at most 1,000
//! routes per table and entries per prefix list, 10,000 records per hosted zone. So no
//! file that validates can make `apply` or a renderer pathological.
//!
//! **Layout.** The TOML pass behind [`parse`] and [`check`] is in `parse.rs`. [`validate`]
//! runs one check per resource kind, in this order (errors are reported in it): ids
//! (`ids.rs`), lengths and counts (`limits.rs`), VPCs (`vpc.rs`), peering connections (`peering.rs`), route tables' VPCs and
//! main tables (`route_table.rs`), subnets (`subnet.rs`), ENIs and their instances
//! (`eni.rs`), routes
//! (`route_table.rs`), internet gateways (`internet_gateway.rs`), Elastic IPs and public
//! IPs (`elastic_ip.rs`), NAT gateways (`nat_gateway.rs`), `[lab]` (`lab.rs`), prefix lists
//! (`prefix_list.rs`), network ACLs (`network_acl.rs`), security groups
//! (`security_group.rs`), the ENIs' groups and conntrack settings (`eni.rs`), flow logs
//! (`flow_log.rs`), packet captures and traffic mirroring (`taps.rs`), `[lab] region` and
//! private hosted zones (`private_hosted_zone.rs`). They share the error
//! collector, id lookups and small helpers of `context.rs`, and firewall rules share the
//! protocol/port/ICMP checks of `traffic.rs`. The tests are in `tests/`, one file per
//! resource kind.

use std::collections::{HashMap, HashSet};

mod context;
mod dhcp_options;
mod elastic_ip;
mod eni;
mod flow_log;
mod ids;
mod internet_gateway;
mod internet_host;
mod lab;
mod limits;
mod nat_gateway;
mod network_acl;
mod parse;
mod peering;
mod prefix_list;
mod private_hosted_zone;
mod route_table;
mod security_group;
mod subnet;
mod taps;
#[cfg(test)]
mod tests;
mod traffic;
mod vpc;

pub use context::{
    assignable_ipv4, is_valid_ifname, is_valid_netns_name, MAX_V4_PREFIX, MIN_V4_PREFIX,
};
pub use dhcp_options::{MAX_DHCP_SERVERS, MIN_DHCP_LEASE_TIME};
pub use elastic_ip::non_public_ipv4_reason;
pub use eni::{
    is_image_id, is_instance_id, CONNTRACK_ENTRIES, METADATA_HOP_LIMIT, SGS_PER_ENI_MAX,
    TCP_ESTABLISHED_TIMEOUT, UDP_STREAM_TIMEOUT, UDP_TIMEOUT,
};
pub use ids::{
    CAP_PREFIX, DOPT_PREFIX, EIP_PREFIX, ENI_PREFIX, FL_PREFIX, ID_MAX_LEN, IGW_PREFIX,
    NACL_PREFIX, NAT_PREFIX, PCX_PREFIX, PL_PREFIX, RTB_PREFIX, SG_PREFIX, SUBNET_PREFIX,
    TMF_PREFIX, TMS_PREFIX, TMT_PREFIX, VPC_PREFIX,
};
pub use internet_gateway::{MAX_INTERNET_PREFIX, MIN_INTERNET_PREFIX};
pub use lab::{NAT_GATEWAY_MAX_PORT, NAT_GATEWAY_MIN_PORT};
pub use limits::{
    bad_text, LOG_FORMAT_MAX_LEN, PATH_MAX_LEN, PREFIX_LIST_ENTRIES_MAX, ROUTES_MAX, TEXT_MAX_LEN,
    ZONE_RECORDS_MAX,
};
pub use nat_gateway::{NAT_GATEWAY_EIPS_QUOTA, NAT_GATEWAY_MAX_ADDRESSES};
pub use network_acl::{NACL_RULES_MAX, NACL_RULES_QUOTA, NACL_RULE_MAX, NACL_RULE_MIN};
pub use parse::TOP_LEVEL_KEYS;
pub use private_hosted_zone::{bad_dns_name, RECORD_TYPES};
pub use security_group::SG_RULES_MAX;
pub use subnet::{is_zone_of, SUBNET_V6_PREFIX};
pub use taps::{
    MAX_SNAPLEN, MIRROR_FILTER_RULES_MAX, MIRROR_RULE_NUMBERS, PACKET_LENGTHS,
    SESSIONS_PER_SOURCE_MAX, SESSION_NUMBERS, VNIS,
};
pub use vpc::VPC_V6_PREFIX;

use crate::model::Topology;
use crate::names::first_index;
pub use crate::names::{reserved_ipv4_reason, reserved_ipv6_reason};
pub use crate::report::{ValidationError, ValidationErrors};
use context::{Lookups, Origins, Report};
use elastic_ip::PublicSpace;

/// Parses a topology file. A TOML syntax error is one error for resource `file`; otherwise
/// every resource is deserialised separately and all their problems are returned together.
pub fn parse(src: &str) -> Result<Topology, ValidationErrors> {
    let p = parse::parse_partial(src)?;
    if p.errors.is_empty() {
        Ok(p.topology)
    } else {
        Err(ValidationErrors(p.errors))
    }
}

/// Parses and validates a topology file, reporting the problems of both passes together
/// (resources that fail to parse are left out of the second pass, and references to them
/// are not reported as dangling). Returns the normalised model and the warnings.
pub fn check(src: &str) -> Result<(Topology, Vec<String>), ValidationErrors> {
    let mut p = parse::parse_partial(src)?;
    let result = validate_inner(&mut p.topology, &p.broken_ids, p.origins.clone());
    match result {
        Ok(warnings) if p.errors.is_empty() => Ok((p.topology, warnings)),
        Ok(_) => Err(ValidationErrors(p.errors)),
        Err(more) => {
            p.errors.extend(more.0);
            Err(ValidationErrors(p.errors))
        }
    }
}

/// Checks a parsed topology as a whole and normalises it in place (CIDR host bits).
/// Returns the warnings, or every error found.
pub fn validate(t: &mut Topology) -> Result<Vec<String>, ValidationErrors> {
    validate_inner(t, &HashSet::new(), Origins::default())
}

/// [`validate`], not reporting references to `broken` ids (resources that failed to parse).
fn validate_inner(
    t: &mut Topology,
    broken: &HashSet<String>,
    origins: Origins,
) -> Result<Vec<String>, ValidationErrors> {
    let mut r = Report {
        origins,
        ..Report::default()
    };
    ids::ids(&mut r, t);
    limits::limits(&mut r, t);

    // Lookup maps (first occurrence wins; duplicates are already reported).
    let vpc_idx: HashMap<String, usize> = first_index(&t.vpcs, |x| x.id.as_str());
    let subnet_idx: HashMap<String, usize> = first_index(&t.subnets, |x| x.id.as_str());
    let rtb_idx: HashMap<String, usize> = first_index(&t.route_tables, |x| x.id.as_str());
    let eni_idx: HashMap<String, usize> = first_index(&t.enis, |x| x.id.as_str());
    let igw_idx: HashMap<String, usize> = first_index(&t.internet_gateways, |x| x.id.as_str());
    let nat_idx: HashMap<String, usize> = first_index(&t.nat_gateways, |x| x.id.as_str());
    // The VPC of each ENI and NAT gateway (by index), for route targets and more.
    let eni_vpc: Vec<Option<usize>> = t
        .enis
        .iter()
        .map(|e| {
            subnet_idx
                .get(&e.subnet)
                .and_then(|&si| vpc_idx.get(&t.subnets[si].vpc).copied())
        })
        .collect();
    let nat_vpc: Vec<Option<usize>> = t
        .nat_gateways
        .iter()
        .map(|n| {
            subnet_idx
                .get(&n.subnet)
                .and_then(|&si| vpc_idx.get(&t.subnets[si].vpc).copied())
        })
        .collect();

    vpc::vpcs(&mut r, t);
    let peerings = peering::peering_connections(&mut r, t, broken, &vpc_idx);
    let l = Lookups {
        vpc: &vpc_idx,
        subnet: &subnet_idx,
        rtb: &rtb_idx,
        eni: &eni_idx,
        igw: &igw_idx,
        nat: &nat_idx,
        eni_vpc: &eni_vpc,
        nat_vpc: &nat_vpc,
        peerings: &peerings,
    };
    route_table::main_tables(&mut r, t, broken, &l);
    subnet::subnets(&mut r, t, broken, &l);
    let mut ips = eni::enis(&mut r, t, broken, &l);
    eni::instances(&mut r, t);
    route_table::routes(&mut r, t, broken, &l);

    // Internet gateways, then the public addresses (outside their segments).
    let mut space = PublicSpace::new(t);
    let igw_of_vpc = internet_gateway::internet_gateways(&mut r, t, broken, &l, &mut space);
    elastic_ip::elastic_ips(&mut r, t, broken, &l, &mut space, &igw_of_vpc);
    internet_host::internet_hosts(&mut r, t, broken, &l, &space);

    // NAT gateways claim their addresses after the ENIs.
    nat_gateway::nat_gateways(&mut r, t, broken, &l, &mut ips);

    // Firewalls: [lab], prefix lists, network ACLs, security groups, the ENIs' groups.
    let all_ids = ids::declared_ids(t);
    lab::lab(&mut r, t);
    dhcp_options::dhcp_options(&mut r, t);
    let pl_weight = prefix_list::prefix_lists(&mut r, t);
    network_acl::network_acls(&mut r, t, broken, &l, &all_ids);
    let sg_vpc = security_group::security_groups(&mut r, t, broken, &l, &all_ids, &pl_weight);
    eni::groups_and_conntrack(&mut r, t, broken, &l, &sg_vpc);

    flow_log::flow_logs(&mut r, t, broken, &l);
    taps::captures_and_mirrors(&mut r, t, broken, &l);
    private_hosted_zone::region(&mut r, t);
    private_hosted_zone::private_hosted_zones(&mut r, t, broken, &l);

    if r.errors.is_empty() {
        Ok(r.warnings)
    } else {
        Err(ValidationErrors(r.errors))
    }
}
