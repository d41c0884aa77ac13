//! The JSON that `aws ec2 describe-* --output json` prints, as serde types with the AWS
//! field names (PascalCase), one struct per AWS shape (the EC2 API reference's names).
//!
//! Every struct declares the fields the importer reads; everything else lands in its
//! `other` map. [`Fields::notes`] walks a record and sorts those leftovers: a field the
//! EC2 API documents for that shape but that has no meaning for the data plane (owner
//! ids, availability zones, DNS names, timestamps, …) is listed in the struct's `IGNORED`
//! and summarised once per file; any other field is unknown to the importer (a newer CLI,
//! or a hand-edited file) and reported where it occurs. Neither is an error.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

/// What [`Fields::notes`] found besides the declared fields.
#[derive(Debug, Default)]
pub(super) struct Notes {
    /// Unknown fields: their JSON paths (`Subnets[3].Foo`).
    pub(super) unknown: Vec<String>,
    /// Documented fields left out, by path pattern without indices (`Vpcs[].OwnerId`).
    pub(super) ignored: BTreeSet<String>,
}

impl Notes {
    /// Sorts the leftovers `other` of the object at `path` (documented: `ignored`).
    fn other(&mut self, path: &str, other: &Map<String, Value>, ignored: &[&str]) {
        for (k, v) in other {
            if ignored.contains(&k.as_str()) {
                if !v.is_null() {
                    self.ignored.insert(format!("{}.{k}", pattern(path)));
                }
            } else {
                self.unknown.push(format!("{path}.{k}"));
            }
        }
    }
}

/// `path` without its indices: `Reservations[0].Instances[2]` → `Reservations[].Instances[]`.
pub(super) fn pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

/// A value whose leftover fields can be listed.
pub(super) trait Fields {
    /// Records the leftovers of this value, found at JSON path `path`, in `n`.
    fn notes(&self, path: &str, n: &mut Notes);
}

/// Scalars have no fields.
macro_rules! leaf_fields {
    ($($t:ty),*) => {
        $(impl Fields for $t {
            fn notes(&self, _: &str, _: &mut Notes) {}
        })*
    };
}
leaf_fields!(String, bool, i64, Value);

impl<T: Fields> Fields for Option<T> {
    fn notes(&self, path: &str, n: &mut Notes) {
        if let Some(x) = self {
            x.notes(path, n);
        }
    }
}

impl<T: Fields> Fields for Vec<T> {
    fn notes(&self, path: &str, n: &mut Notes) {
        for (i, x) in self.iter().enumerate() {
            x.notes(&format!("{path}[{i}]"), n);
        }
    }
}

/// `snake_case` (a Rust field, `r#` stripped) → `PascalCase` (its AWS name), as serde's
/// `rename_all = "PascalCase"` does.
fn pascal(field: &str) -> String {
    field
        .trim_start_matches("r#")
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Declares one AWS shape: the fields read (all optional: the AWS CLI leaves out what is
/// unset), an `other` catch-all, the documented fields that are not read, and its
/// [`Fields`] walk.
macro_rules! shape {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty, )*
        }
        ignored: [$($ign:literal),* $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub(super) struct $name {
            $( $(#[$fmeta])* #[serde(default)] pub(super) $field: $ty, )*
            /// Every other field (see [`Fields::notes`]).
            #[serde(flatten)]
            pub(super) other: Map<String, Value>,
        }

        impl $name {
            /// Fields the EC2 API documents for this shape that the importer does not read.
            pub(super) const IGNORED: &'static [&'static str] = &[$($ign),*];
        }

        impl Fields for $name {
            fn notes(&self, path: &str, n: &mut Notes) {
                n.other(path, &self.other, Self::IGNORED);
                $( self.$field.notes(&format!("{path}.{}", pascal(stringify!($field))), n); )*
            }
        }
    };
}

// --- shared -------------------------------------------------------------------------

shape! {
    /// `Tag`: a key and a value; only `Name` is read (as the resource's name).
    Tag {
        /// `Key`.
        key: Option<String>,
        /// `Value`.
        value: Option<String>,
    }
    ignored: []
}

/// The value of the `Name` tag, if any.
pub(super) fn tag_name(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key.as_deref() == Some("Name"))
        .and_then(|t| t.value.clone())
        .filter(|v| !v.is_empty())
}

shape! {
    /// `VpcCidrBlockState` / `SubnetCidrBlockState` / `RouteTableAssociationState` /
    /// `InternetGatewayAttachment`'s state: a `State` word.
    StateOnly {
        /// `State`.
        state: Option<String>,
    }
    ignored: ["StatusMessage"]
}

// --- describe-vpcs --------------------------------------------------------------------

shape! {
    /// `Vpc` (`aws ec2 describe-vpcs`: `Vpcs[]`).
    Vpc {
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `CidrBlock`: the primary IPv4 CIDR.
        cidr_block: Option<String>,
        /// `CidrBlockAssociationSet`: every IPv4 CIDR, the primary included.
        cidr_block_association_set: Vec<VpcCidrBlockAssociation>,
        /// `Ipv6CidrBlockAssociationSet`.
        ipv6_cidr_block_association_set: Vec<Ipv6CidrBlockAssociation>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["OwnerId", "InstanceTenancy", "IsDefault", "EncryptionControl",
        "BlockPublicAccessStates", "State", "DhcpOptionsId"]
}

shape! {
    /// `VpcCidrBlockAssociation`.
    VpcCidrBlockAssociation {
        /// `CidrBlock`.
        cidr_block: Option<String>,
        /// `CidrBlockState`.
        cidr_block_state: Option<StateOnly>,
    }
    ignored: ["AssociationId"]
}

shape! {
    /// `VpcIpv6CidrBlockAssociation` / `SubnetIpv6CidrBlockAssociation`.
    Ipv6CidrBlockAssociation {
        /// `Ipv6CidrBlock`.
        ipv6_cidr_block: Option<String>,
        /// `Ipv6CidrBlockState`.
        ipv6_cidr_block_state: Option<StateOnly>,
    }
    ignored: ["AssociationId", "NetworkBorderGroup", "Ipv6Pool", "Ipv6AddressAttribute",
        "IpSource"]
}

// --- describe-subnets -----------------------------------------------------------------

shape! {
    /// `Subnet` (`aws ec2 describe-subnets`: `Subnets[]`).
    Subnet {
        /// `SubnetId`.
        subnet_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `CidrBlock`: absent on an IPv6-only subnet.
        cidr_block: Option<String>,
        /// `Ipv6CidrBlockAssociationSet`.
        ipv6_cidr_block_association_set: Vec<Ipv6CidrBlockAssociation>,
        /// `Tags`.
        tags: Vec<Tag>,
        /// `AvailabilityZone`.
        availability_zone: Option<String>,
    }
    ignored: ["AvailabilityZoneId", "EnableLniAtDeviceIndex", "MapCustomerOwnedIpOnLaunch",
        "CustomerOwnedIpv4Pool", "OwnerId", "AssignIpv6AddressOnCreation", "SubnetArn",
        "OutpostArn", "EnableDns64", "Ipv6Native", "PrivateDnsNameOptionsOnLaunch",
        "BlockPublicAccessStates", "Type", "State", "AvailableIpAddressCount",
        "DefaultForAz", "MapPublicIpOnLaunch"]
}

// --- describe-route-tables ------------------------------------------------------------

shape! {
    /// `RouteTable` (`aws ec2 describe-route-tables`: `RouteTables[]`).
    RouteTable {
        /// `RouteTableId`.
        route_table_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `Associations`.
        associations: Vec<RouteTableAssociation>,
        /// `PropagatingVgws`.
        propagating_vgws: Vec<PropagatingVgw>,
        /// `Routes`.
        routes: Vec<Route>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["OwnerId"]
}

shape! {
    /// `RouteTableAssociation`.
    RouteTableAssociation {
        /// `Main`.
        main: Option<bool>,
        /// `SubnetId`.
        subnet_id: Option<String>,
        /// `GatewayId` (an edge association).
        gateway_id: Option<String>,
        /// `AssociationState`.
        association_state: Option<StateOnly>,
    }
    ignored: ["RouteTableAssociationId", "RouteTableId", "PublicIpv4Pool"]
}

shape! {
    /// `PropagatingVgw`.
    PropagatingVgw {
        /// `GatewayId`.
        gateway_id: Option<String>,
    }
    ignored: []
}

shape! {
    /// `Route`: one destination (CIDR or prefix list) and one target.
    Route {
        /// `DestinationCidrBlock`.
        destination_cidr_block: Option<String>,
        /// `DestinationIpv6CidrBlock`.
        destination_ipv6_cidr_block: Option<String>,
        /// `DestinationPrefixListId`.
        destination_prefix_list_id: Option<String>,
        /// `GatewayId`: `local`, `igw-…`, `vgw-…`, `vpce-…`.
        gateway_id: Option<String>,
        /// `NatGatewayId`.
        nat_gateway_id: Option<String>,
        /// `VpcPeeringConnectionId`.
        vpc_peering_connection_id: Option<String>,
        /// `NetworkInterfaceId`.
        network_interface_id: Option<String>,
        /// `InstanceId`.
        instance_id: Option<String>,
        /// `EgressOnlyInternetGatewayId`.
        egress_only_internet_gateway_id: Option<String>,
        /// `TransitGatewayId`.
        transit_gateway_id: Option<String>,
        /// `LocalGatewayId`.
        local_gateway_id: Option<String>,
        /// `CarrierGatewayId`.
        carrier_gateway_id: Option<String>,
        /// `CoreNetworkArn`.
        core_network_arn: Option<String>,
        /// `OdbNetworkArn`.
        odb_network_arn: Option<String>,
        /// `IpAddress` (VPC Route Server next hop).
        ip_address: Option<String>,
        /// `VpcEndpointId` (not in the API reference's `Route`, but some tools print it).
        vpc_endpoint_id: Option<String>,
        /// `State`: `active`, `blackhole` or `filtered`.
        state: Option<String>,
    }
    ignored: ["InstanceOwnerId", "Origin"]
}

// --- describe-network-acls ------------------------------------------------------------

shape! {
    /// `NetworkAcl` (`aws ec2 describe-network-acls`: `NetworkAcls[]`).
    NetworkAcl {
        /// `NetworkAclId`.
        network_acl_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `IsDefault`.
        is_default: Option<bool>,
        /// `Associations`.
        associations: Vec<NetworkAclAssociation>,
        /// `Entries`.
        entries: Vec<NetworkAclEntry>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["OwnerId"]
}

shape! {
    /// `NetworkAclAssociation`.
    NetworkAclAssociation {
        /// `SubnetId`.
        subnet_id: Option<String>,
    }
    ignored: ["NetworkAclAssociationId", "NetworkAclId"]
}

shape! {
    /// `NetworkAclEntry`: one numbered rule.
    NetworkAclEntry {
        /// `CidrBlock`.
        cidr_block: Option<String>,
        /// `Ipv6CidrBlock`.
        ipv6_cidr_block: Option<String>,
        /// `Egress`.
        egress: Option<bool>,
        /// `IcmpTypeCode`.
        icmp_type_code: Option<IcmpTypeCode>,
        /// `PortRange`.
        port_range: Option<PortRange>,
        /// `Protocol`: `"-1"` or an IANA number as a string.
        protocol: Option<String>,
        /// `RuleAction`: `allow` or `deny`.
        rule_action: Option<String>,
        /// `RuleNumber`.
        rule_number: Option<i64>,
    }
    ignored: []
}

shape! {
    /// `IcmpTypeCode`: `-1` is any.
    IcmpTypeCode {
        /// `Code`.
        code: Option<i64>,
        /// `Type`.
        r#type: Option<i64>,
    }
    ignored: []
}

shape! {
    /// `PortRange` (inclusive).
    PortRange {
        /// `From`.
        from: Option<i64>,
        /// `To`.
        to: Option<i64>,
    }
    ignored: []
}

// --- describe-security-groups / describe-security-group-rules ---------------------------

shape! {
    /// `SecurityGroup` (`aws ec2 describe-security-groups`: `SecurityGroups[]`).
    SecurityGroup {
        /// `GroupId`.
        group_id: Option<String>,
        /// `GroupName`.
        group_name: Option<String>,
        /// `Description`.
        description: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `OwnerId`.
        owner_id: Option<String>,
        /// `IpPermissions`: inbound.
        ip_permissions: Vec<IpPermission>,
        /// `IpPermissionsEgress`: outbound.
        ip_permissions_egress: Vec<IpPermission>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["SecurityGroupArn"]
}

shape! {
    /// `IpPermission`: a protocol and port range for several peers.
    IpPermission {
        /// `IpProtocol`: `-1`, `tcp`, `udp`, `icmp`, `icmpv6` or a number.
        ip_protocol: Option<String>,
        /// `FromPort` (ICMP: the type; `-1` any).
        from_port: Option<i64>,
        /// `ToPort` (ICMP: the code; `-1` any).
        to_port: Option<i64>,
        /// `UserIdGroupPairs`.
        user_id_group_pairs: Vec<UserIdGroupPair>,
        /// `IpRanges`.
        ip_ranges: Vec<IpRange>,
        /// `Ipv6Ranges`.
        ipv6_ranges: Vec<Ipv6Range>,
        /// `PrefixListIds`.
        prefix_list_ids: Vec<PrefixListIdRef>,
    }
    ignored: []
}

shape! {
    /// `UserIdGroupPair`: a referenced security group.
    UserIdGroupPair {
        /// `Description`.
        description: Option<String>,
        /// `UserId`: the group's account.
        user_id: Option<String>,
        /// `GroupId`.
        group_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `PeeringStatus`.
        peering_status: Option<String>,
    }
    ignored: ["GroupName", "VpcPeeringConnectionId"]
}

shape! {
    /// `IpRange`.
    IpRange {
        /// `Description`.
        description: Option<String>,
        /// `CidrIp`.
        cidr_ip: Option<String>,
    }
    ignored: []
}

shape! {
    /// `Ipv6Range`.
    Ipv6Range {
        /// `Description`.
        description: Option<String>,
        /// `CidrIpv6`.
        cidr_ipv6: Option<String>,
    }
    ignored: []
}

shape! {
    /// `PrefixListId`: a referenced prefix list.
    PrefixListIdRef {
        /// `Description`.
        description: Option<String>,
        /// `PrefixListId`.
        prefix_list_id: Option<String>,
    }
    ignored: []
}

shape! {
    /// `SecurityGroupRule` (`aws ec2 describe-security-group-rules`:
    /// `SecurityGroupRules[]`): one rule with one peer.
    SecurityGroupRule {
        /// `SecurityGroupRuleId`.
        security_group_rule_id: Option<String>,
        /// `GroupId`.
        group_id: Option<String>,
        /// `GroupOwnerId`.
        group_owner_id: Option<String>,
        /// `IsEgress`.
        is_egress: Option<bool>,
        /// `IpProtocol`.
        ip_protocol: Option<String>,
        /// `FromPort`.
        from_port: Option<i64>,
        /// `ToPort`.
        to_port: Option<i64>,
        /// `CidrIpv4`.
        cidr_ipv4: Option<String>,
        /// `CidrIpv6`.
        cidr_ipv6: Option<String>,
        /// `PrefixListId`.
        prefix_list_id: Option<String>,
        /// `ReferencedGroupInfo`.
        referenced_group_info: Option<ReferencedSecurityGroup>,
        /// `Description`.
        description: Option<String>,
    }
    ignored: ["Tags", "SecurityGroupRuleArn"]
}

shape! {
    /// `ReferencedSecurityGroup`.
    ReferencedSecurityGroup {
        /// `GroupId`.
        group_id: Option<String>,
        /// `UserId`.
        user_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `PeeringStatus`.
        peering_status: Option<String>,
    }
    ignored: ["VpcPeeringConnectionId"]
}

// --- describe-network-interfaces / describe-instances -------------------------------------

shape! {
    /// `NetworkInterface` (`aws ec2 describe-network-interfaces`: `NetworkInterfaces[]`),
    /// also read for `InstanceNetworkInterface` (an instance's `NetworkInterfaces[]`).
    NetworkInterface {
        /// `NetworkInterfaceId`.
        network_interface_id: Option<String>,
        /// `SubnetId`.
        subnet_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `Description`.
        description: Option<String>,
        /// `InterfaceType`: `interface` (absent on older outputs), `nat_gateway`, …
        interface_type: Option<String>,
        /// `RequesterManaged`.
        requester_managed: Option<bool>,
        /// `Association`: the primary private IP's public address.
        association: Option<IpAssociation>,
        /// `Attachment`.
        attachment: Option<Attachment>,
        /// `ConnectionTrackingConfiguration`.
        connection_tracking_configuration: Option<ConnectionTracking>,
        /// `Groups`.
        groups: Vec<GroupIdentifier>,
        /// `Ipv6Addresses`.
        ipv6_addresses: Vec<Ipv6AddressItem>,
        /// `MacAddress`.
        mac_address: Option<String>,
        /// `PrivateIpAddress`: the primary private IPv4.
        private_ip_address: Option<String>,
        /// `PrivateIpAddresses`.
        private_ip_addresses: Vec<PrivateIpAddress>,
        /// `Ipv4Prefixes` (prefix delegation).
        ipv4_prefixes: Vec<Value>,
        /// `Ipv6Prefixes` (prefix delegation).
        ipv6_prefixes: Vec<Value>,
        /// `SourceDestCheck`.
        source_dest_check: Option<bool>,
        /// `TagSet` (describe-network-interfaces).
        tag_set: Vec<Tag>,
    }
    ignored: ["AvailabilityZone", "OutpostArn", "OwnerId", "PrivateDnsName", "PublicDnsName",
        "PublicIpDnsNameOptions", "RequesterId", "Status", "DenyAllIgwTraffic", "Ipv6Native",
        "Ipv6Address", "Operator", "AssociatedSubnets", "AvailabilityZoneId"]
}

shape! {
    /// `NetworkInterfaceAssociation` / `InstanceNetworkInterfaceAssociation`: a public
    /// address on a private one.
    IpAssociation {
        /// `AllocationId` (an Elastic IP; not printed by describe-instances).
        allocation_id: Option<String>,
        /// `PublicIp`.
        public_ip: Option<String>,
        /// `IpOwnerId`: `amazon` for an auto-assigned public IP.
        ip_owner_id: Option<String>,
        /// `CustomerOwnedIp`.
        customer_owned_ip: Option<String>,
        /// `CarrierIp`.
        carrier_ip: Option<String>,
    }
    ignored: ["AssociationId", "PublicDnsName"]
}

shape! {
    /// `NetworkInterfaceAttachment` / `InstanceNetworkInterfaceAttachment`.
    Attachment {
        /// `InstanceId` (describe-network-interfaces only).
        instance_id: Option<String>,
        /// `DeviceIndex`: 0 for an instance's primary interface.
        device_index: Option<i64>,
    }
    ignored: ["AttachTime", "AttachmentId", "DeleteOnTermination", "NetworkCardIndex",
        "InstanceOwnerId", "Status", "EnaSrdSpecification", "EnaQueueCount"]
}

shape! {
    /// `ConnectionTrackingConfiguration`: idle timeouts in seconds.
    ConnectionTracking {
        /// `TcpEstablishedTimeout`.
        tcp_established_timeout: Option<i64>,
        /// `UdpStreamTimeout`.
        udp_stream_timeout: Option<i64>,
        /// `UdpTimeout`.
        udp_timeout: Option<i64>,
    }
    ignored: []
}

shape! {
    /// `GroupIdentifier`.
    GroupIdentifier {
        /// `GroupId`.
        group_id: Option<String>,
        /// `GroupName`.
        group_name: Option<String>,
    }
    ignored: []
}

shape! {
    /// `NetworkInterfaceIpv6Address` / `InstanceIpv6Address`.
    Ipv6AddressItem {
        /// `Ipv6Address`.
        ipv6_address: Option<String>,
    }
    ignored: ["PublicIpv6DnsName", "IsPrimaryIpv6"]
}

shape! {
    /// `NetworkInterfacePrivateIpAddress` / `InstancePrivateIpAddress`.
    PrivateIpAddress {
        /// `Association`.
        association: Option<IpAssociation>,
        /// `Primary`.
        primary: Option<bool>,
        /// `PrivateIpAddress`.
        private_ip_address: Option<String>,
    }
    ignored: ["PrivateDnsName"]
}

shape! {
    /// `Reservation` (`aws ec2 describe-instances`: `Reservations[]`).
    Reservation {
        /// `ReservationId`.
        reservation_id: Option<String>,
        /// `Instances`.
        instances: Vec<Instance>,
    }
    ignored: ["OwnerId", "RequesterId", "Groups"]
}

shape! {
    /// `Instance`: read for its name, state and network interfaces.
    Instance {
        /// `InstanceId`.
        instance_id: Option<String>,
        /// `State`.
        state: Option<InstanceState>,
        /// `NetworkInterfaces`.
        network_interfaces: Vec<NetworkInterface>,
        /// `Tags`.
        tags: Vec<Tag>,
        /// `InstanceType`.
        instance_type: Option<String>,
        /// `ImageId`.
        image_id: Option<String>,
        /// `MetadataOptions`.
        metadata_options: Option<InstanceMetadataOptions>,
    }
    ignored: ["Architecture", "BlockDeviceMappings", "ClientToken", "EbsOptimized",
        "EnaSupport", "Hypervisor", "IamInstanceProfile", "InstanceLifecycle",
        "ElasticGpuAssociations", "ElasticInferenceAcceleratorAssociations", "OutpostArn",
        "RootDeviceName", "RootDeviceType", "SecurityGroups", "SourceDestCheck",
        "SpotInstanceRequestId", "SriovNetSupport", "StateReason", "VirtualizationType",
        "CpuOptions", "CapacityBlockId", "CapacityReservationId",
        "CapacityReservationSpecification", "HibernationOptions", "Licenses",
        "EnclaveOptions", "BootMode", "PlatformDetails", "UsageOperation",
        "UsageOperationUpdateTime", "PrivateDnsNameOptions", "Ipv6Address", "TpmSupport",
        "MaintenanceOptions", "CurrentInstanceBootMode", "NetworkPerformanceOptions",
        "Operator", "SecondaryInterfaces", "PrivateDnsName", "PublicDnsName",
        "StateTransitionReason", "KeyName", "AmiLaunchIndex", "ProductCodes",
        "LaunchTime", "Placement", "KernelId", "RamdiskId", "Platform", "Monitoring",
        "SubnetId", "VpcId", "PrivateIpAddress", "PublicIpAddress"]
}

shape! {
    /// `InstanceMetadataOptionsResponse`: the instance's metadata service settings.
    InstanceMetadataOptions {
        /// `HttpTokens`: `optional` or `required`.
        http_tokens: Option<String>,
        /// `HttpPutResponseHopLimit`: 1 to 64.
        http_put_response_hop_limit: Option<i64>,
        /// `HttpEndpoint`: `enabled` or `disabled`.
        http_endpoint: Option<String>,
    }
    ignored: ["State", "HttpProtocolIpv6", "InstanceMetadataTags"]
}

shape! {
    /// `InstanceState`.
    InstanceState {
        /// `Name`: `pending`, `running`, `stopped`, `terminated`, …
        name: Option<String>,
    }
    ignored: ["Code"]
}

// --- describe-addresses ---------------------------------------------------------------

shape! {
    /// `Address` (`aws ec2 describe-addresses`: `Addresses[]`): an Elastic IP.
    Address {
        /// `AllocationId`.
        allocation_id: Option<String>,
        /// `PublicIp`.
        public_ip: Option<String>,
        /// `Domain`: `vpc` or `standard` (EC2-Classic).
        domain: Option<String>,
        /// `NetworkInterfaceId`.
        network_interface_id: Option<String>,
        /// `PrivateIpAddress`.
        private_ip_address: Option<String>,
        /// `CustomerOwnedIp`.
        customer_owned_ip: Option<String>,
        /// `CarrierIp`.
        carrier_ip: Option<String>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["AssociationId", "NetworkInterfaceOwnerId", "PublicIpv4Pool",
        "NetworkBorderGroup", "CustomerOwnedIpv4Pool", "SubnetId", "ServiceManaged",
        "InstanceId"]
}

// --- describe-nat-gateways ------------------------------------------------------------

shape! {
    /// `NatGateway` (`aws ec2 describe-nat-gateways`: `NatGateways[]`).
    NatGateway {
        /// `NatGatewayId`.
        nat_gateway_id: Option<String>,
        /// `SubnetId`.
        subnet_id: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
        /// `State`.
        state: Option<String>,
        /// `ConnectivityType`: `public` or `private`.
        connectivity_type: Option<String>,
        /// `AvailabilityMode`: `zonal` or `regional`.
        availability_mode: Option<String>,
        /// `NatGatewayAddresses`.
        nat_gateway_addresses: Vec<NatGatewayAddress>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["CreateTime", "DeleteTime", "FailureCode", "FailureMessage",
        "ProvisionedBandwidth", "AutoScalingIps", "AutoProvisionZones", "AttachedAppliances",
        "RouteTableId"]
}

shape! {
    /// `NatGatewayAddress`.
    NatGatewayAddress {
        /// `AllocationId`.
        allocation_id: Option<String>,
        /// `NetworkInterfaceId`.
        network_interface_id: Option<String>,
        /// `PrivateIp`.
        private_ip: Option<String>,
        /// `PublicIp`.
        public_ip: Option<String>,
        /// `IsPrimary`.
        is_primary: Option<bool>,
        /// `Status`.
        status: Option<String>,
    }
    ignored: ["AssociationId", "FailureMessage", "AvailabilityZone", "AvailabilityZoneId"]
}

// --- describe-internet-gateways -------------------------------------------------------

shape! {
    /// `InternetGateway` (`aws ec2 describe-internet-gateways`: `InternetGateways[]`).
    InternetGateway {
        /// `InternetGatewayId`.
        internet_gateway_id: Option<String>,
        /// `Attachments`.
        attachments: Vec<InternetGatewayAttachment>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["OwnerId"]
}

shape! {
    /// `InternetGatewayAttachment`.
    InternetGatewayAttachment {
        /// `State`.
        state: Option<String>,
        /// `VpcId`.
        vpc_id: Option<String>,
    }
    ignored: []
}

// --- describe-vpc-peering-connections -------------------------------------------------

shape! {
    /// `VpcPeeringConnection` (`aws ec2 describe-vpc-peering-connections`:
    /// `VpcPeeringConnections[]`).
    VpcPeeringConnection {
        /// `VpcPeeringConnectionId`.
        vpc_peering_connection_id: Option<String>,
        /// `RequesterVpcInfo`.
        requester_vpc_info: Option<PeeringVpcInfo>,
        /// `AccepterVpcInfo`.
        accepter_vpc_info: Option<PeeringVpcInfo>,
        /// `Status`.
        status: Option<PeeringStatus>,
        /// `Tags`.
        tags: Vec<Tag>,
    }
    ignored: ["ExpirationTime"]
}

shape! {
    /// `VpcPeeringConnectionVpcInfo`.
    PeeringVpcInfo {
        /// `VpcId`.
        vpc_id: Option<String>,
    }
    ignored: ["CidrBlock", "Ipv6CidrBlockSet", "CidrBlockSet", "OwnerId", "PeeringOptions",
        "Region"]
}

shape! {
    /// `VpcPeeringConnectionStateReason`.
    PeeringStatus {
        /// `Code`.
        code: Option<String>,
    }
    ignored: ["Message"]
}

// --- describe-managed-prefix-lists / get-managed-prefix-list-entries -------------------

shape! {
    /// `ManagedPrefixList` (`aws ec2 describe-managed-prefix-lists`: `PrefixLists[]`).
    ManagedPrefixList {
        /// `PrefixListId`.
        prefix_list_id: Option<String>,
        /// `PrefixListName`.
        prefix_list_name: Option<String>,
        /// `MaxEntries`.
        max_entries: Option<i64>,
        /// `State`.
        state: Option<String>,
    }
    ignored: ["AddressFamily", "StateMessage", "PrefixListArn", "Version", "Tags",
        "OwnerId", "IpamPrefixListResolverTargetId", "IpamPrefixListResolverSyncEnabled"]
}

shape! {
    /// `PrefixListEntry` (`aws ec2 get-managed-prefix-list-entries`: `Entries[]`).
    PrefixListEntry {
        /// `Cidr`.
        cidr: Option<String>,
    }
    ignored: ["Description"]
}
