//! NAT gateways: schema, subnet, Elastic IPs, addresses, route targets, warnings.

use super::*;

#[test]
fn nat_gateways_accept_the_documented_schema() {
    let (t, w) = ok(&format!(
        "{}{}{}{}",
        public_nat(
            "name = \"demo\"\nprivate_ip = \"10.0.1.220\"\nsecondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n2\"]\n"
        ),
        eip("eipalloc-n2", "198.51.100.51", ""),
        nat(
            "nat-p",
            "connectivity = \"private\"\nsecondary_private_ips = [\"10.0.1.230\"]\n"
        ),
        rtb(r#"{ destination = "0.0.0.0/0", target = "nat-a" }"#),
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(t.nat_gateways.len(), 2);
    assert_eq!(t.nat_gateways[1].connectivity, NatConnectivity::Private);
    assert_eq!(
        t.route_tables[1].routes[0].target_ref(),
        RouteTargetRef::NatGateway("nat-a")
    );
}

#[test]
fn nat_gateway_ids_carry_their_prefix_and_are_unique() {
    expect(
        &nat("ngw-a", "connectivity = \"private\"\n"),
        "ngw-a.id:",
        "must start with `nat-`",
    );
    expect(
        &format!(
            "{}{}",
            nat("nat-a", "connectivity = \"private\"\n"),
            nat("nat-a", "connectivity = \"private\"\n")
        ),
        "nat-a.id:",
        "nat_gateway[1] reuses the id of nat_gateway[0]",
    );
    let e = errors("[[nat_gateway]]\nsubnet = \"subnet-a\"\nconnectivity = \"private\"\n");
    assert!(
        e.iter().any(|e| e.starts_with("nat_gateway[0].id:")),
        "{e:?}"
    );
}

#[test]
fn nat_gateway_fields_are_typed() {
    expect(
        &nat("nat-a", "connectivity = \"public-ish\"\n"),
        "nat-a.connectivity:",
        "unknown variant `public-ish`",
    );
    expect(
        &nat("nat-a", "eip = \"eipalloc-n\"\n"),
        "nat-a.eip:",
        "unknown field",
    );
    expect(
        &nat("nat-a", "private_ip = \"10.0.1.300\"\n"),
        "nat-a.private_ip:",
        "line ",
    );
}

#[test]
fn nat_gateway_subnet_must_exist() {
    expect(
        "[[nat_gateway]]\nid = \"nat-a\"\nconnectivity = \"private\"\n",
        "nat-a.subnet:",
        "missing subnet",
    );
    expect(
        "[[nat_gateway]]\nid = \"nat-a\"\nsubnet = \"subnet-nope\"\nconnectivity = \"private\"\n",
        "nat-a.subnet:",
        "no subnet with id `subnet-nope`",
    );
}

#[test]
fn public_nat_gateway_needs_an_internet_gateway() {
    expect(
        &format!(
            "{}{}",
            eip("eipalloc-n", "198.51.100.50", ""),
            nat("nat-a", "allocation_id = \"eipalloc-n\"\n")
        ),
        "nat-a.subnet:",
        "Network vpc-demo has no internet gateway attached",
    );
    // A private one does not.
    ok(&nat("nat-a", "connectivity = \"private\"\n"));
}

#[test]
fn public_nat_gateway_needs_an_allocation_id_and_a_private_one_has_none() {
    expect(
        &format!("{}{}", public_subnet(), nat("nat-a", "")),
        "nat-a.allocation_id:",
        "a public NAT gateway needs an Elastic IP",
    );
    expect(
        &format!(
            "{}{}",
            eip("eipalloc-n", "198.51.100.50", ""),
            nat(
                "nat-a",
                "connectivity = \"private\"\nallocation_id = \"eipalloc-n\"\n"
            )
        ),
        "nat-a.allocation_id:",
        "a private NAT gateway has no Elastic IP",
    );
}

#[test]
fn nat_gateway_allocation_ids_must_exist() {
    expect(
        &format!(
            "{}{}",
            public_subnet(),
            nat("nat-a", "allocation_id = \"eipalloc-nope\"\n")
        ),
        "nat-a.allocation_id:",
        "no Elastic IP with id `eipalloc-nope`",
    );
    expect(
        &public_nat(
            "secondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-nope\"]\n"
        ),
        "nat-a.secondary_allocation_ids[0]:",
        "no Elastic IP with id `eipalloc-nope`",
    );
}

#[test]
fn an_elastic_ip_is_used_once() {
    // By two NAT gateways.
    expect(
        &format!(
            "{}{}",
            public_nat(""),
            nat("nat-b", "allocation_id = \"eipalloc-n\"\n")
        ),
        "nat-b.allocation_id:",
        "eipalloc-n is already associated with nat-a.allocation_id",
    );
    // By an ENI association and a NAT gateway.
    expect(
        &format!(
            "{}{}{}{}",
            public_subnet(),
            eni("eni-a", "10.0.1.10"),
            eip("eipalloc-e", "198.51.100.52", "eni = \"eni-a\"\n"),
            nat("nat-a", "allocation_id = \"eipalloc-e\"\n")
        ),
        "nat-a.allocation_id:",
        "eipalloc-e is already associated with eni-a (eipalloc-e.eni)",
    );
    // Twice within one NAT gateway.
    expect(
        &public_nat(
            "secondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n\"]\n"
        ),
        "nat-a.secondary_allocation_ids[0]:",
        "eipalloc-n is already associated with nat-a.allocation_id",
    );
}

#[test]
fn nat_gateway_addresses_are_assignable_addresses_of_its_subnet() {
    for (ip, needle) in [
        ("10.0.2.10", "is outside subnet-a (10.0.1.0/24)"),
        ("10.0.1.0", "the subnet's network address"),
        ("10.0.1.1", "reserved for the VPC router"),
        ("10.0.1.2", "reserved for the Amazon DNS server"),
        ("10.0.1.3", "reserved by AWS for future use"),
        ("10.0.1.255", "broadcast"),
    ] {
        expect(
            &public_nat(&format!("private_ip = \"{ip}\"\n")),
            "nat-a.private_ip:",
            needle,
        );
        expect(
            &nat(
                "nat-p",
                &format!("connectivity = \"private\"\nsecondary_private_ips = [\"{ip}\"]\n"),
            ),
            "nat-p.secondary_private_ips[0]:",
            needle,
        );
    }
}

#[test]
fn nat_gateway_addresses_are_not_used_twice() {
    // An ENI's primary or secondary address.
    let src = format!(
        "{}secondary_ips = [\"10.0.1.11\"]\n{}{}",
        eni("eni-a", "10.0.1.10"),
        nat("nat-p", "connectivity = \"private\"\nprivate_ip = \"10.0.1.10\"\n"),
        nat(
            "nat-q",
            "connectivity = \"private\"\nprivate_ip = \"10.0.1.12\"\nsecondary_private_ips = [\"10.0.1.11\", \"10.0.1.12\"]\n"
        ),
    );
    expect(
        &src,
        "nat-p.private_ip:",
        "10.0.1.10 is already assigned to eni-a.private_ip",
    );
    expect(
        &src,
        "nat-q.secondary_private_ips[0]:",
        "10.0.1.11 is already assigned to eni-a.secondary_ips[0]",
    );
    // Twice within one gateway.
    expect(
        &src,
        "nat-q.secondary_private_ips[1]:",
        "10.0.1.12 is already assigned to nat-q.private_ip",
    );
    // Another NAT gateway's.
    expect(
        &format!(
            "{}{}",
            nat(
                "nat-p",
                "connectivity = \"private\"\nprivate_ip = \"10.0.1.20\"\n"
            ),
            nat(
                "nat-q",
                "connectivity = \"private\"\nprivate_ip = \"10.0.1.20\"\n"
            ),
        ),
        "nat-q.private_ip:",
        "10.0.1.20 is already assigned to nat-p.private_ip",
    );
}

#[test]
fn nat_gateway_has_at_most_8_addresses() {
    let ips = |n: usize| {
        (0..n)
            .map(|k| format!("\"10.0.1.{}\"", 100 + k))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ok(&nat(
        "nat-p",
        &format!(
            "connectivity = \"private\"\nsecondary_private_ips = [{}]\n",
            ips(7)
        ),
    ));
    expect(
        &nat(
            "nat-p",
            &format!(
                "connectivity = \"private\"\nsecondary_private_ips = [{}]\n",
                ips(8)
            ),
        ),
        "nat-p.secondary_private_ips:",
        "8 secondary addresses; a NAT gateway has at most 7",
    );
}

#[test]
fn public_nat_gateway_has_one_allocation_id_per_secondary_address() {
    expect(
        &public_nat("secondary_private_ips = [\"10.0.1.221\", \"10.0.1.222\"]\n"),
        "nat-a.secondary_allocation_ids:",
        "0 allocation ids for 2 secondary_private_ips",
    );
    expect(
        &nat(
            "nat-p",
            "connectivity = \"private\"\nsecondary_private_ips = [\"10.0.1.221\"]\nsecondary_allocation_ids = [\"eipalloc-n\"]\n",
        ),
        "nat-p.secondary_allocation_ids:",
        "a private NAT gateway has no Elastic IPs",
    );
}

#[test]
fn public_nat_gateway_eips_beyond_the_default_quota_warn() {
    warns(
        &format!(
            "{}{}{}",
            public_nat(
                "secondary_private_ips = [\"10.0.1.221\", \"10.0.1.222\"]\nsecondary_allocation_ids = [\"eipalloc-n2\", \"eipalloc-n3\"]\n"
            ),
            eip("eipalloc-n2", "198.51.100.51", ""),
            eip("eipalloc-n3", "198.51.100.52", ""),
        ),
        "nat-a.secondary_allocation_ids:",
        "3 Elastic IPs is more than AWS's default quota of 2",
    );
}

#[test]
fn nat_gateway_private_ip_defaults_to_the_highest_free_address() {
    // .254 is an ENI's, .253 another gateway's explicit address: nat-a gets .252 and
    // nat-b, later in the file, .251.
    let src = format!(
        "{}{}{}{}",
        eni("eni-a", "10.0.1.254"),
        nat("nat-a", "connectivity = \"private\"\n"),
        nat("nat-b", "connectivity = \"private\"\n"),
        nat(
            "nat-c",
            "connectivity = \"private\"\nprivate_ip = \"10.0.1.253\"\n"
        ),
    );
    let (t, _) = ok(&src);
    let addrs = crate::names::nat_gateway_addresses(&t);
    let primary = |i: usize| addrs[i].as_ref().map(|a| a[0].to_string());
    assert_eq!(primary(0).as_deref(), Some("10.0.1.252"));
    assert_eq!(primary(1).as_deref(), Some("10.0.1.251"));
    assert_eq!(primary(2).as_deref(), Some("10.0.1.253"));
    // ENIs' addresses count wherever the ENI is in the file: one written after the
    // gateway still keeps .254, and the gateway takes the next one down.
    let (t, _) = ok(&format!(
        "{}{}",
        nat("nat-a", "connectivity = \"private\"\n"),
        eni("eni-z", "10.0.1.254")
    ));
    let addrs = crate::names::nat_gateway_addresses(&t);
    assert_eq!(
        addrs[0].as_ref().map(|a| a[0].to_string()).as_deref(),
        Some("10.0.1.253")
    );
}

#[test]
fn nat_gateway_without_a_free_address_is_an_error() {
    // A /28 has 11 assignable addresses (.4 to .14): three ENIs and an 8-address
    // gateway take them all.
    let src = "[[subnet]]\nid = \"subnet-s\"\nvpc = \"vpc-demo\"\ncidr = \"10.0.9.0/28\"\n\
            [[eni]]\nid = \"eni-1\"\nsubnet = \"subnet-s\"\nprivate_ip = \"10.0.9.4\"\nsecondary_ips = [\"10.0.9.5\", \"10.0.9.6\"]\n\
            [[nat_gateway]]\nid = \"nat-full\"\nsubnet = \"subnet-s\"\nconnectivity = \"private\"\nprivate_ip = \"10.0.9.7\"\n\
            secondary_private_ips = [\"10.0.9.8\", \"10.0.9.9\", \"10.0.9.10\", \"10.0.9.11\", \"10.0.9.12\", \"10.0.9.13\", \"10.0.9.14\"]\n\
            [[nat_gateway]]\nid = \"nat-late\"\nsubnet = \"subnet-s\"\nconnectivity = \"private\"\n";
    expect(
        src,
        "nat-late.private_ip:",
        "subnet-s (10.0.9.0/28) has no free address left to assign",
    );
}

#[test]
fn nat_route_target_must_exist_and_be_of_the_same_vpc() {
    expect(
        &rtb(r#"{ destination = "0.0.0.0/0", target = "nat-nope" }"#),
        "rtb-x.routes[0].target:",
        "no NAT gateway with id `nat-nope`",
    );
    expect(
        &format!(
            "{OTHER_VPC}[[nat_gateway]]\nid = \"nat-b\"\nsubnet = \"subnet-b\"\nconnectivity = \"private\"\n{}",
            rtb(r#"{ destination = "0.0.0.0/0", target = "nat-b" }"#)
        ),
        "rtb-x.routes[0].target:",
        "nat-b is in vpc-b, but this route table belongs to vpc-demo",
    );
}

#[test]
fn nat_gateway_may_replace_the_local_route_or_take_a_subnet_cidr() {
    let p = nat("nat-p", "connectivity = \"private\"\n");
    for dest in ["10.0.0.0/16", "10.0.2.0/24"] {
        ok(&format!(
            "{p}{}",
            rtb(&format!(
                "{{ destination = \"{dest}\", target = \"nat-p\" }}"
            ))
        ));
    }
    expect(
        &format!(
            "{p}{}",
            rtb(r#"{ destination = "10.0.2.0/25", target = "nat-p" }"#)
        ),
        "rtb-x.routes[0].destination:",
        "must equal the entire CIDR of a subnet",
    );
}

#[test]
fn ipv6_routes_to_a_nat_gateway_are_not_supported_yet() {
    expect(
        &format!(
            "{}{}",
            nat("nat-p", "connectivity = \"private\"\n"),
            rtb(r#"{ destination = "64:ff9b::/96", target = "nat-p" }"#)
        ),
        "rtb-x.routes[0].destination:",
        "NAT64",
    );
}

#[test]
fn public_nat_gateway_outside_a_public_subnet_warns() {
    let src = format!(
        "{}{}{}",
        igw("igw-a", INET),
        eip("eipalloc-n", "198.51.100.50", ""),
        nat("nat-a", "allocation_id = \"eipalloc-n\"\n")
    );
    warns(
        &src,
        "nat-a.subnet:",
        "subnet-a's route table rtb-main-demo has no route to igw-a",
    );
    let (_, w) = ok(&public_nat(""));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn a_route_of_the_gateways_own_subnet_to_it_warns() {
    warns(
        &public_nat("").replace(
            "target = \"igw-a\" }]",
            "target = \"igw-a\" }, { destination = \"198.51.100.0/24\", target = \"nat-a\" }]",
        ),
        "rtb-pub.routes[1].target:",
        "nat-a lives in subnet-a, which uses this route table",
    );
}

#[test]
fn nat_gateway_errors_are_reported_together() {
    let src = format!(
        "{}{}{}",
        nat(
            "nat-a",
            "allocation_id = \"eipalloc-nope\"\nprivate_ip = \"10.0.1.1\"\n"
        ),
        nat(
            "nat-b",
            "connectivity = \"private\"\nsecondary_allocation_ids = [\"eipalloc-x\"]\n"
        ),
        rtb(r#"{ destination = "0.0.0.0/0", target = "nat-c" }"#),
    );
    let e = errors(&src);
    for prefix in [
        "nat-a.allocation_id:",
        "nat-a.subnet:",
        "nat-a.private_ip:",
        "nat-b.secondary_allocation_ids:",
        "rtb-x.routes[0].target:",
    ] {
        assert!(e.iter().any(|e| e.starts_with(prefix)), "{prefix}: {e:?}");
    }
}

#[test]
fn nat_gateway_network_interface_ids_are_eni_ids_no_one_else_has() {
    let private = "connectivity = \"private\"\n";
    let given = |id: &str| format!("{private}network_interface_id = \"{id}\"\n");
    let (t, _) = ok(&format!(
        "{}{}",
        nat("nat-a", private),
        nat("nat-b", &given("eni-0b"))
    ));
    let ids: Vec<String> = t
        .nat_gateways
        .iter()
        .map(crate::names::nat_gateway_interface_id)
        .collect();
    assert_eq!(ids, ["eni-nat-a", "eni-0b"]);
    for bad in ["nat-0b", "eni-", "eni-a.b", ""] {
        expect(
            &nat("nat-a", &given(bad)),
            "nat-a.network_interface_id:",
            "must be `eni-` followed by letters, digits",
        );
    }
    // Taken by an ENI (given or derived), or by another NAT gateway's interface.
    expect(
        &format!(
            "{}{}",
            eni("eni-x", "10.0.1.10"),
            nat("nat-a", &given("eni-x"))
        ),
        "nat-a.network_interface_id:",
        "`eni-x` is already the id of ENI eni-x",
    );
    expect(
        &format!("{}{}", eni("eni-nat-a", "10.0.1.10"), nat("nat-a", private)),
        "nat-a.network_interface_id:",
        "`eni-nat-a` (derived from the gateway's id) is already the id of ENI eni-nat-a",
    );
    expect(
        &format!(
            "{}{}",
            nat("nat-a", private),
            nat("nat-b", &given("eni-nat-a"))
        ),
        "nat-b.network_interface_id:",
        "already the id of NAT gateway nat-a's network interface",
    );
}

#[test]
fn nat_gateway_idle_timeout_is_positive_seconds() {
    let private = "connectivity = \"private\"\n";
    for (secs, good) in [
        ("0.25", true),
        ("2", true),
        ("350", true),
        ("0", false),
        ("-3", false),
        ("nan", false),
        ("inf", false),
    ] {
        let src = nat("nat-a", &format!("{private}idle_timeout = {secs}\n"));
        if good {
            ok(&src);
        } else {
            expect(&src, "nat-a.idle_timeout:", "greater than 0");
        }
    }
    expect(
        &nat("nat-a", &format!("{private}idle_timeout = \"2s\"\n")),
        "nat-a.idle_timeout:",
        "",
    );
}
